"""Skull-stripped copies of the real validation volumes, for validation only (never trained on).

``python strip_volumes.py DATA OUT normal`` and ``python strip_volumes.py DATA OUT lgg PART PARTS`` (PART of
PARTS, to run two at once), in a separate environment with ``pip install brainextractor`` (an MIT-licensed
Python port of FSL's BET; it is not a dependency of the project):
- normal-heads: BET on each T1 volume (2 mm isotropic) after cutting it to the top 170 mm of the head, as
  FSL's robustfov does, so the neck does not pull BET's starting sphere down; the mask is carried into the
  FLAIR grid through the two affines (BET fails on FLAIR).  Four T1 volumes came out far too small with
  BET's default fractional threshold 0.5 and were redone with 0.3 (``LOOSER``).  Subject 20 is left out: its
  T1 and FLAIR grids do not line up, so the carried mask missed the FLAIR brain.
- lgg-tcga: BET on the T1-Gd stack resampled to about 1 mm (the slices assumed 3 mm apart; the FLAIR
  stacks left the skull at the vertex), the mask applied to FLAIR and T1-Gd alike, written as JPEG
  (quality 95) beside a copy of the tumor masks.
Checked by eye on montages: the middle of each stack is cleanly stripped; many vertex slices keep part of
the skull and many skull-base slices keep bone, orbit or fat, as automatic stripping often does.
"""

import shutil
import sys
import warnings
from pathlib import Path

import nibabel as nib
import numpy as np
from brainextractor import BrainExtractor
from PIL import Image
from scipy import ndimage

LOOSER = {"Subj11", "Subj15", "Subj17", "Subj22"}
LEFT_OUT = {"Subj20"}
SEQUENCES = ("flair", "t1gd")


def bet(data: np.ndarray, zoom: tuple[float, float, float], bt: float, keep_mm: float = 170.0) -> np.ndarray:
    """BET's brain mask of the top ``keep_mm`` of the head (robustfov-like cut)."""
    low, high = np.percentile(data, [2, 98])
    rows = np.nonzero((data > low + 0.1 * (high - low)).mean(axis=(0, 1)) > 0.01)[0]
    top = int(rows.max()) + 1
    bottom = max(0, top - round(keep_mm / zoom[2]))
    extractor = BrainExtractor(nib.Nifti1Image(data[:, :, bottom:top].astype(np.float32), np.diag([*zoom, 1.0])), bt=bt)
    extractor.run()
    mask = np.zeros(data.shape, bool)
    mask[:, :, bottom:top] = extractor.compute_mask() > 0
    return mask


def normal(src: Path, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for t1_file in sorted(src.glob("*_T1.nii.gz")):
        subject = t1_file.name.split("_")[0]
        if subject in LEFT_OUT:
            continue
        fl_file = t1_file.with_name(t1_file.name.replace("_T1", "_FL"))
        t1 = nib.load(t1_file)
        t1_data = np.asarray(t1.dataobj, dtype=np.float32)
        t1_mask = ndimage.binary_fill_holes(bet(t1_data, (2.0, 2.0, 2.0), 0.3 if subject in LOOSER else 0.5))
        fl = nib.load(fl_file)
        fl_data = np.asarray(fl.dataobj, dtype=np.float32)
        to_t1 = np.linalg.inv(t1.affine) @ fl.affine
        voxels = np.indices(fl.shape).reshape(3, -1)
        where = (to_t1 @ np.vstack([voxels, np.ones(voxels.shape[1])]))[:3]
        fl_mask = ndimage.map_coordinates(t1_mask.astype(np.float32), where, order=1).reshape(fl.shape) > 0.5
        for image, data, mask, file in ((t1, t1_data, t1_mask, t1_file), (fl, fl_data, fl_mask, fl_file)):
            nib.Nifti1Image(np.where(mask, data, 0).astype(np.float32), image.affine).to_filename(out / file.name)
        print(subject, "brain share", round(float(t1_mask.mean()), 3), flush=True)


def read(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("L"), np.float32)


def lgg(src: Path, out: Path, part: int, parts: int) -> None:
    for patient in sorted(p for p in src.iterdir() if p.is_dir())[part::parts]:
        dst = out / patient.name
        dst.mkdir(parents=True, exist_ok=True)
        numbers = sorted(int(p.name.split("_")[0]) for p in patient.glob("*_flair.jpg"))
        stacks = {s: np.stack([read(patient / f"{n:03d}_{s}.jpg") for n in numbers], -1) for s in SEQUENCES}
        fine = bet(ndimage.zoom(stacks["t1gd"], (1, 1, 3), order=1), (1.0, 1.0, 1.0), 0.5)
        mask = fine[:, :, 1::3][:, :, : len(numbers)]
        mask = np.stack([ndimage.binary_fill_holes(mask[:, :, k]) for k in range(mask.shape[2])], -1)
        for k, n in enumerate(numbers):
            for sequence, stack in stacks.items():
                kept = np.where(mask[:, :, k], stack[:, :, k], 0).astype(np.uint8)
                Image.fromarray(kept).save(dst / f"{n:03d}_{sequence}.jpg", quality=95)
            shutil.copy(patient / f"{n:03d}_mask.png", dst / f"{n:03d}_mask.png")
        print(patient.name, "brain share", round(float(mask.mean()), 3), flush=True)


if __name__ == "__main__":
    warnings.filterwarnings("ignore")  # BET warns about the LGG stacks' assumed spacing
    data, target = Path(sys.argv[1]), Path(sys.argv[2])
    if sys.argv[3] == "normal":
        normal(data / "normal-heads", target / "normal-heads")
    else:
        lgg(data / "lgg-tcga", target / "lgg-tcga", int(sys.argv[4]), int(sys.argv[5]))

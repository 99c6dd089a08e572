"""Real validation volumes and masked slices, read into the application's model rendering.

Three kinds of data judge a model beyond its class-folder split (see each folder's README):

* ``lgg``: one folder per patient with ``NNN_flair.jpg``, ``NNN_t1gd.jpg`` and ``NNN_mask.png`` (tumor
  drawn on FLAIR, 255 = tumor); every patient gives a FLAIR and a T1-Gd stack of glioma slices.
* ``normal``: NIfTI whole heads (``*.nii``/``*.nii.gz``) without a tumor; every file is one stack of
  axial slices (canonical RAS orientation, anterior up).
* ``figshare``: one folder per tumor class with ``<index>.jpg`` and ``masks/<index>.png``; single slices,
  not volumes.

Every slice goes through :func:`core.imaging.render.render_for_model`, as the application renders a slice.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from core.imaging.render import render_for_model

LGG_SEQUENCES = ("flair", "t1gd")
NO_TUMOR = "notumor"
_LGG_SLICE = re.compile(r"^(\d+)_flair\.jpg$")


@dataclass
class Stack:
    """Slices of one series (or, for single-slice data, one group of slices) with what is true of them.

    ``masks[i]`` is the tumor mask of slice ``i`` (all False where the slice shows no tumor);
    ``truth`` is the true class of the series' tumor, or ``notumor``.
    """

    set_name: str
    name: str
    truth: str
    rendered: list[NDArray[np.uint8]]
    masks: list[NDArray[np.bool_]]
    is_volume: bool = True
    sources: list[str] = field(default_factory=list)

    @property
    def tumor_slices(self) -> NDArray[np.bool_]:
        return np.asarray([bool(m.any()) for m in self.masks], dtype=bool)


def _gray(path: Path) -> NDArray[np.uint8]:
    with Image.open(path) as img:
        return np.asarray(img.convert("L"), dtype=np.uint8)


def _mask(path: Path) -> NDArray[np.bool_]:
    return _gray(path) >= 128


def load_lgg(root: Path, sequences: Sequence[str] = LGG_SEQUENCES, limit: int | None = None) -> list[Stack]:
    """One stack per patient and sequence, slices in acquisition order (bottom of the head first)."""
    unknown = set(sequences) - set(LGG_SEQUENCES)
    if unknown:
        raise ValueError(f"unknown LGG sequence(s) {sorted(unknown)}; choose from {LGG_SEQUENCES}")
    patients = sorted(p for p in Path(root).iterdir() if p.is_dir())
    if not patients:
        raise ValueError(f"{root} has no patient folders")
    stacks = []
    for patient in patients[:limit]:
        numbers = sorted(int(m.group(1)) for f in patient.iterdir() if (m := _LGG_SLICE.match(f.name)))
        masks = [_mask(patient / f"{n:03d}_mask.png") for n in numbers]
        for sequence in sequences:
            files = [patient / f"{n:03d}_{sequence}.jpg" for n in numbers]
            stacks.append(
                Stack(
                    set_name=f"lgg-{sequence}",
                    name=patient.name,
                    truth="glioma",
                    rendered=[render_for_model(_gray(f)) for f in files],
                    masks=masks,
                    sources=[str(f) for f in files],
                )
            )
    return stacks


def nifti_axial_slices(path: Path) -> list[NDArray[np.float32]]:
    """Axial slices of a NIfTI volume (first volume of a 4-D file), bottom to top, anterior up."""
    import nibabel as nib

    image = nib.as_closest_canonical(nib.load(str(path)))
    volume = np.asarray(image.dataobj, dtype=np.float32)
    if volume.ndim == 4:
        volume = volume[..., 0]
    if volume.ndim != 3:
        raise ValueError(f"{path.name}: expected a 3-D volume, got shape {volume.shape}")
    return [np.ascontiguousarray(np.rot90(volume[:, :, z])) for z in range(volume.shape[2])]


def sequence_of_normal(path: Path) -> str:
    """``t1`` or ``flair`` from a normal-heads file name (``Subj1_T1.nii.gz``, ``Subj1_FL.nii.gz``)."""
    stem = path.name.split(".")[0].lower()
    return "flair" if stem.endswith(("_fl", "_flair")) else "t1"


def load_normal_heads(root: Path, limit: int | None = None) -> list[Stack]:
    """One stack per NIfTI file, every slice labelled no tumor."""
    files = sorted([*Path(root).glob("*.nii"), *Path(root).glob("*.nii.gz")])
    if not files:
        raise ValueError(f"{root} has no NIfTI files")
    stacks = []
    for path in files[:limit]:
        slices = nifti_axial_slices(path)
        stacks.append(
            Stack(
                set_name=f"normal-{sequence_of_normal(path)}",
                name=path.name.split(".")[0],
                truth=NO_TUMOR,
                rendered=[render_for_model(s) for s in slices],
                masks=[np.zeros(s.shape, dtype=bool) for s in slices],
                sources=[f"{path}#{z}" for z in range(len(slices))],
            )
        )
    return stacks


def figshare_entries(root: Path, classes: Iterable[str] = ("glioma", "meningioma", "pituitary")) -> list[Path]:
    """Image files of a figshare-style folder (class folders with ``<index>.jpg``, masks in ``masks/``)."""
    files = []
    for name in classes:
        folder = Path(root) / name
        if folder.is_dir():
            files.extend(sorted(folder.glob("*.jpg"), key=lambda p: int(p.stem) if p.stem.isdigit() else -1))
    if not files:
        raise ValueError(f"{root} has no class folders with .jpg images")
    return files


def load_figshare(root: Path, keep: Iterable[str] | None = None) -> list[Stack]:
    """Masked tumor slices, one pseudo-stack per class; ``keep`` restricts them to those relative paths."""
    wanted = set(keep) if keep is not None else None
    by_class: dict[str, Stack] = {}
    for path in figshare_entries(root):
        rel = f"{path.parent.name}/{path.name}"
        if wanted is not None and rel not in wanted:
            continue
        mask_file = Path(root) / "masks" / f"{path.stem}.png"
        if not mask_file.is_file():
            continue
        truth = path.parent.name
        stack = by_class.setdefault(truth, Stack("figshare", truth, truth, [], [], is_volume=False))
        stack.rendered.append(render_for_model(_gray(path)))
        stack.masks.append(_mask(mask_file))
        stack.sources.append(rel)
    return list(by_class.values())

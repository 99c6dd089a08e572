"""Assemble the guard's out-of-distribution evaluation set (`neuroreview-train fit-guard --ood NAME=DIR`).

Usage: python scripts/build_ood_sets.py OUT_FOLDER (default ./ood; keep it outside the repository).

Sources: pydicom's bundled test files (CT, NM, US, RT dose, SEG, secondary captures, an abdominal MR),
matplotlib's sample photographs, and synthetic images (noise, gradients, text, shapes, blank).
Every DICOM slice is also saved as a grayscale PNG of its model rendering (the pixel score alone decides).

With the MIT-licensed ``pydicom-data`` package installed (``pip install pydicom-data``), a second set of
images no rule or threshold was designed on: chest and leg radiographs, neck and pancreas CT, a shoulder
MR, CT maps, ultrasound and test patterns (``pydicom-data-dicom``, and ``pydicom-data-as-png``; every
tenth frame of the 120-frame echo clip).

``ct-windowed-as-png``: the CT slices (a head CT twice, a spine CT; with pydicom-data also a neck and a
pancreas CT) saved as a viewer exports them, through a brain (40/80 HU), subdural (75/215), soft-tissue
(40/400) and bone (600/2800) window.
"""

import shutil
import sys
from pathlib import Path

import matplotlib
import numpy as np
import pydicom
from PIL import Image, ImageDraw
from pydicom.pixels import apply_rescale

from core.imaging import PixelStore, open_paths

root = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("ood")
shutil.rmtree(root, ignore_errors=True)
tests = Path(pydicom.__file__).parent / "data" / "test_files"
dicom_names = [
    "693_J2KI.dcm",
    "CT_small.dcm",
    "J2K_pixelrep_mismatch.dcm",
    "ExplVR_BigEnd.dcm",
    "JPEG2000.dcm",
    "examples_overlay.dcm",
    "examples_palette.dcm",
    "examples_rgb_color.dcm",
    "examples_ybr_color.dcm",
    "examples_jpeg2k.dcm",
    "image_dfl.dcm",
    "liver_1frame.dcm",
    "rtdose.dcm",
    "SC_rgb_jpeg.dcm",
    "SC_rgb_rle_2frame.dcm",
    "GDCMJ2K_TextGBR.dcm",
    "SC_jpeg_no_color_transform.dcm",
]
(root / "dicom").mkdir(parents=True)
for n in dicom_names:
    shutil.copy(tests / n, root / "dicom" / n)
store = PixelStore()


def save_renderings(source: Path, out: Path, every: dict[str, int] | None = None) -> None:
    """Every slice of the DICOM files in ``source`` as a grayscale PNG of its model rendering in ``out``;
    ``every``: keep only every n-th frame of the files named (stem -> n)."""
    out.mkdir()
    for ref in open_paths([source]).all_slices():
        if ref.frame % (every or {}).get(ref.path.stem, 1):
            continue
        try:
            Image.fromarray(store.model_rendering(ref)).save(out / f"{ref.path.stem}_f{ref.frame}.png")
        except Exception as e:
            print("skip", ref.path.name, e)


save_renderings(root / "dicom", root / "png-from-dicom")
photos = root / "photos"
photos.mkdir()
sample = Path(matplotlib.__file__).parent / "mpl-data" / "sample_data"
for n in ["grace_hopper.jpg", "Minduka_Present_Blue_Pack.png", "logo2.png"]:
    shutil.copy(sample / n, photos / n)
syn = root / "synthetic"
syn.mkdir()
for seed in range(5):
    rng = np.random.default_rng(seed)
    s = 128 + 32 * seed
    Image.fromarray(rng.integers(0, 256, (s, s), dtype=np.uint8)).save(syn / f"noise_uniform_{seed}.png")
    Image.fromarray(np.clip(rng.normal(128, 40, (s, s)), 0, 255).astype(np.uint8)).save(syn / f"noise_gauss_{seed}.png")
    yy, xx = np.mgrid[0:s, 0:s] / s
    angle = rng.uniform(0, np.pi)
    Image.fromarray((255 * (np.cos(angle) * xx + np.sin(angle) * yy) / 1.5).clip(0, 255).astype(np.uint8)).save(
        syn / f"gradient_{seed}.png"
    )
    r = np.hypot(yy - 0.5, xx - 0.5)
    Image.fromarray((255 * (1 - r / r.max())).astype(np.uint8)).save(syn / f"radial_{seed}.png")
    img = Image.new("L", (s * 2, s), 255 if seed % 2 else 0)
    d = ImageDraw.Draw(img)
    for line in range(8):
        d.text((5, 5 + line * 14), f"Report line {line} seed {seed}: lorem ipsum 12.5 mm", fill=0 if seed % 2 else 255)
    img.save(syn / f"text_{seed}.png")
    img = Image.new("L", (s, s), 0)
    d = ImageDraw.Draw(img)
    for _ in range(6):
        x0, y0 = rng.integers(0, s, 2)
        w, h = rng.integers(10, s // 2, 2)
        d.rectangle([int(x0), int(y0), int(x0 + w), int(y0 + h)], fill=int(rng.integers(60, 256)))
    img.save(syn / f"shapes_{seed}.png")
    cb = ((np.indices((s, s)) // (8 + 4 * seed)).sum(axis=0) % 2 * 255).astype(np.uint8)
    Image.fromarray(cb).save(syn / f"checker_{seed}.png")
Image.new("L", (128, 128), 0).save(syn / "blank_black.png")
Image.new("L", (128, 128), 255).save(syn / "blank_white.png")
try:
    import data_store  # the pydicom-data package
except ImportError:
    print("pydicom-data is not installed: the held-out set is skipped (pip install pydicom-data)")
else:
    held_out_names = [
        "bad_sequence.dcm",
        "explicit_VR-UN.dcm",
        "eCT_Supplemental.dcm",
        "MR2_UNCI.dcm",
        "RG1_UNCI.dcm",
        "RG3_UNCI.dcm",
        "JPGLosslessP14SV1_1s_1f_8b.dcm",
        "OBXXXX1A.dcm",
        "US1_UNCI.dcm",
        "color-pl.dcm",
        "gdcm-US-ALOKA-16.dcm",
        "mlut_18.dcm",
        "vlut_04.dcm",
        "color3d_jpeg_baseline.dcm",
    ]
    held_out = root / "pydicom-data-dicom"
    held_out.mkdir()
    for n in held_out_names:
        shutil.copy(Path(data_store.__file__).parent / "data" / n, held_out / n)
    save_renderings(held_out, root / "pydicom-data-as-png", every={"color3d_jpeg_baseline": 10})
windows = {"brain": (40, 80), "subdural": (75, 215), "soft": (40, 400), "bone": (600, 2800)}
ct_files = [root / "dicom" / n for n in ("693_J2KI.dcm", "J2K_pixelrep_mismatch.dcm", "CT_small.dcm")]
ct_files += [root / "pydicom-data-dicom" / n for n in ("bad_sequence.dcm", "explicit_VR-UN.dcm")]
windowed = root / "ct-windowed-as-png"
windowed.mkdir()
for path in ct_files:
    if not path.exists():
        continue
    ds = pydicom.dcmread(path)
    hounsfield = apply_rescale(ds.pixel_array.astype(np.float32), ds)
    for name, (centre, width) in windows.items():
        shown = np.clip((hounsfield - (centre - width / 2)) / width * 255, 0, 255).astype(np.uint8)
        Image.fromarray(shown).save(windowed / f"{path.stem}_{name}.png")
for p in sorted(root.iterdir()):
    print(p.name, len(list(p.iterdir())))

"""Build the bundled demo study ``resources/sample_study/`` from a few shared training images.

The result is a short, de-identified MR series (MR Image Storage, explicit VR little endian,
12 bits stored) whose slices lie along one line (ImagePositionPatient steps along z), labelled
everywhere as a demo: PatientName ``DEMO^NeuroReview`` and a SeriesDescription containing
``DEMO - not a real patient``.  The source images come from different people; the "series" is a
teaching montage, not anatomy.  UIDs are derived deterministically from the source file names so
re-running the script reproduces the same files.  The images are training images of the shipped
model, so its answers on the demo say nothing about its accuracy.

Usage: ``python scripts/make_sample_study.py [--data DIR] [--out DIR]``
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import PYDICOM_IMPLEMENTATION_UID, UID, ExplicitVRLittleEndian, MRImageStorage, generate_uid

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = Path("/work/shared/data/brain-tumor-mri/Training")
DEFAULT_OUT = ROOT / "resources" / "sample_study"
# Axial T1-weighted slices ordered roughly from skull base to vertex: glioma slices in the middle,
# no-tumour slices around them, so a series run shows both ends of the P(tumor) strip.
SOURCES = (
    "notumor/Tr-no_0040.jpg",
    "glioma/Tr-gl_0230.jpg",
    "glioma/Tr-gl_0180.jpg",
    "glioma/Tr-gl_0170.jpg",
    "glioma/Tr-gl_0160.jpg",
    "notumor/Tr-no_0020.jpg",
    "notumor/Tr-no_0460.jpg",
    "glioma/Tr-gl_0220.jpg",
)
PIXEL_SPACING_MM = 0.9
SLICE_STEP_MM = 6.0
DEMO_DESCRIPTION = "DEMO - not a real patient"


def _uid(*parts: str) -> UID:
    """Deterministic UID under pydicom's root, so the demo is reproducible."""
    return generate_uid(entropy_srcs=["neuroreview-sample-study", *parts])


def _pixels(path: Path) -> np.ndarray:
    """8-bit grayscale JPEG -> 12-bit unsigned values (0..4080), as an MR scanner would store them."""
    gray = np.asarray(Image.open(path).convert("L"), dtype=np.uint16)
    return gray * np.uint16(16)


def _slice_dataset(
    index: int, source: str, pixels: np.ndarray, study_uid: UID, series_uid: UID, frame_uid: UID
) -> Dataset:
    rows, cols = pixels.shape
    sop_uid = _uid("instance", source)
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = MRImageStorage
    meta.MediaStorageSOPInstanceUID = sop_uid
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID

    ds = Dataset()
    ds.file_meta = meta
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.SOPClassUID = MRImageStorage
    ds.SOPInstanceUID = sop_uid
    ds.StudyInstanceUID = study_uid
    ds.SeriesInstanceUID = series_uid
    ds.FrameOfReferenceUID = frame_uid
    ds.PatientName = "DEMO^NeuroReview"
    ds.PatientID = "DEMO-0001"
    ds.PatientBirthDate = ""
    ds.PatientSex = "O"
    ds.PatientIdentityRemoved = "YES"
    ds.DeidentificationMethod = "Demo montage of public training images"
    ds.StudyDate = "20240101"
    ds.StudyTime = "120000"
    ds.StudyID = "DEMO"
    ds.AccessionNumber = ""
    ds.ReferringPhysicianName = ""
    ds.StudyDescription = "DEMO brain MRI - not a real patient"
    ds.SeriesDescription = f"T1C axial montage - {DEMO_DESCRIPTION}"
    ds.SeriesNumber = 1
    ds.InstanceNumber = index + 1
    ds.Modality = "MR"
    ds.Manufacturer = "NeuroReview demo"
    ds.BodyPartExamined = "BRAIN"
    ds.ScanningSequence = "SE"
    ds.SequenceVariant = "NONE"
    ds.ScanOptions = ""
    ds.MRAcquisitionType = "2D"
    ds.SliceThickness = f"{SLICE_STEP_MM:.1f}"
    ds.SpacingBetweenSlices = f"{SLICE_STEP_MM:.1f}"
    ds.EchoTime = "10"
    ds.RepetitionTime = "500"
    ds.ImageType = ["DERIVED", "SECONDARY", "OTHER"]
    ds.PatientPosition = "HFS"
    ds.PositionReferenceIndicator = ""
    ds.EchoTrainLength = "1"
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    z = (index - (len(SOURCES) - 1) / 2) * SLICE_STEP_MM
    ds.ImagePositionPatient = [-cols * PIXEL_SPACING_MM / 2, -rows * PIXEL_SPACING_MM / 2, round(z, 2)]
    ds.SliceLocation = f"{z:.2f}"
    ds.PixelSpacing = [PIXEL_SPACING_MM, PIXEL_SPACING_MM]
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows = rows
    ds.Columns = cols
    ds.BitsAllocated = 16
    ds.BitsStored = 12
    ds.HighBit = 11
    ds.PixelRepresentation = 0
    lo, hi = np.percentile(pixels, [1, 99.5])
    ds.WindowCenter = f"{(lo + hi) / 2:.0f}"
    ds.WindowWidth = f"{max(hi - lo, 1):.0f}"
    ds.WindowCenterWidthExplanation = "DEMO"
    ds.PixelData = pixels.astype("<u2").tobytes()
    return ds


def build(data: Path, out: Path) -> list[Path]:
    """Write one DICOM file per source image into ``out``; returns the written paths."""
    missing = [s for s in SOURCES if not (data / s).is_file()]
    if missing:
        raise FileNotFoundError(f"source images not found under {data}: {', '.join(missing)}")
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.dcm"):
        old.unlink()
    study_uid, series_uid, frame_uid = _uid("study"), _uid("series"), _uid("frame")
    written = []
    for index, source in enumerate(SOURCES):
        ds = _slice_dataset(index, source, _pixels(data / source), study_uid, series_uid, frame_uid)
        path = out / f"IM{index + 1:04d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="brain-tumor-mri Training folder")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder")
    args = parser.parse_args(argv)
    try:
        paths = build(args.data, args.out)
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    total = sum(p.stat().st_size for p in paths)
    print(f"wrote {len(paths)} files, {total / 1024:.0f} KiB, into {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

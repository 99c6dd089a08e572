"""Builders and checkers for the export tests: an identifiable MR series, predictions, validators."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydicom
import pytest
from dicom_factory import make_dataset
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import MRImageStorage, generate_uid

from core.export.records import AlgorithmInfo, SliceResult
from core.model.prediction import Prediction

CLASS_NAMES = ("glioma", "meningioma", "notumor", "pituitary")
PATIENT_NAME = "Doe^Jane"
PATIENT_ID = "PID-778899"
BIRTH_DATE = "19610203"
INSTITUTION = "Saint Example Hospital"
PRIVATE_CREATOR = "ACME RESEARCH"
PRIVATE_VALUE = "secret-private-payload"
ALGORITHM = AlgorithmInfo(name="NeuroReview VGG19-BN", version="9.8.7", weights_sha256="ab" * 32)


@dataclass(frozen=True)
class Series:
    folder: Path
    paths: list[Path]
    headers: list[Dataset]

    @property
    def source_uids(self) -> set[str]:
        first = self.headers[0]
        uids = {str(first.StudyInstanceUID), str(first.SeriesInstanceUID), str(first.FrameOfReferenceUID)}
        return uids | {str(h.SOPInstanceUID) for h in self.headers}


def write_series(folder: Path, count: int = 3) -> Series:
    """``count`` single-frame MR files with identifying attributes in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    study, series, frame_of_ref = generate_uid(), generate_uid(), generate_uid()
    paths, headers = [], []
    for index in range(count):
        ds = slice_dataset(index, study, series, frame_of_ref)
        path = folder / f"IM{index:04d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
        headers.append(pydicom.dcmread(path, stop_before_pixels=True))
    return Series(folder, paths, headers)


PROBABILITIES = [(0.05, 0.05, 0.85, 0.05), (0.71, 0.09, 0.12, 0.08), (0.55, 0.25, 0.15, 0.05)]


def results_for(series: Series) -> list[SliceResult]:
    """Slice results for ``series`` (key slice: index 1, glioma)."""
    return [
        SliceResult(source=str(path), frame=0, prediction=make_prediction(p), header=header)
        for path, header, p in zip(series.paths, series.headers, PROBABILITIES, strict=False)
    ]


def slice_dataset(index: int, study: str, series: str, frame_of_ref: str) -> Dataset:
    """One 32x32 MR slice carrying every kind of identifier the de-identification must remove."""
    rng = np.random.default_rng(index)
    ds = make_dataset(
        rng.integers(0, 4000, size=(32, 32), dtype=np.uint16),
        bits_allocated=16,
        bits_stored=12,
        patient_name=PATIENT_NAME,
        patient_id=PATIENT_ID,
        study_uid=study,
        series_uid=series,
        series_number=3,
        series_description="AX T1 POST",
        instance=index + 1,
        position=(0.0, 0.0, float(index) * 5),
        extra={
            "SpecificCharacterSet": "ISO_IR 100",
            "FrameOfReferenceUID": frame_of_ref,
            "PatientBirthDate": BIRTH_DATE,
            "InstitutionName": INSTITUTION,
            "InstitutionAddress": "1 Example Road, Exampletown",
            "ReferringPhysicianName": "House^Gregory",
            "OperatorsName": "Tech^Tom",
            "AccessionNumber": "ACC123456",
            "StudyID": "STUDY42",
            "StudyDate": "20240105",
            "StudyTime": "101500",
            "SeriesDate": "20240105",
            "StudyDescription": "MRI brain for Jane",
            "ScanningSequence": "SE",
            "SequenceVariant": "NONE",
            "ScanOptions": "",
            "MRAcquisitionType": "2D",
            "ImageType": ["ORIGINAL", "PRIMARY", "M", "NONE"],
        },
    )
    block = ds.private_block(0x0029, PRIVATE_CREATOR, create=True)
    block.add_new(0x10, "LO", PRIVATE_VALUE)
    ref = Dataset()
    ref.ReferencedSOPClassUID, ref.ReferencedSOPInstanceUID = MRImageStorage, generate_uid()
    ds.ReferencedImageSequence = DicomSequence([ref])
    return ds


def make_prediction(probabilities: tuple[float, ...], heatmap: bool = True) -> Prediction:
    p = np.asarray(probabilities, dtype=np.float64)
    p = p / p.sum()
    label = CLASS_NAMES[int(np.argmax(p))]
    heat = None
    if heatmap:
        yy, xx = np.mgrid[0:32, 0:32]
        heat = np.exp(-((yy - 12.0) ** 2 + (xx - 20.0) ** 2) / 40.0).astype(np.float32)
    return Prediction(
        class_names=CLASS_NAMES,
        probabilities=tuple(float(v) for v in p),
        label=label,
        p_tumor=float(1.0 - p[CLASS_NAMES.index("notumor")]),
        model_sha256=ALGORITHM.weights_sha256,
        device="CPU",
        precision="float32",
        milliseconds=12.5,
        heatmap=heat,
        heatmap_class=label,
        heatmap_method="gradcam",
    )


def identifying_strings(series: Series) -> list[str]:
    """Values that must not survive de-identification (patient, institution, people, UIDs, private data)."""
    return [
        PATIENT_NAME,
        PATIENT_ID,
        BIRTH_DATE,
        INSTITUTION,
        "Exampletown",
        "House^Gregory",
        "Tech^Tom",
        "ACC123456",
        "STUDY42",
        "MRI brain for Jane",
        PRIVATE_CREATOR,
        PRIVATE_VALUE,
        *sorted(series.source_uids),
        str(series.headers[0].ReferencedImageSequence[0].ReferencedSOPInstanceUID),
    ]


def leaked_identifiers(path: Path, series: Series) -> list[str]:
    """Identifying values found anywhere in the written file's bytes, plus any private tag."""
    raw = path.read_bytes()
    found = [text for text in identifying_strings(series) if text.encode("latin-1") in raw]
    ds = pydicom.dcmread(path)
    private: list[str] = []
    ds.walk(lambda _ds, elem: private.append(str(elem.tag)) if elem.tag.is_private else None)
    return found + [f"private tag {tag}" for tag in private]


def require_tool(name: str) -> str:
    """Path of a validator program, or skip with the install hint."""
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed (apt-get install dcmtk dicom3tools poppler-utils; `make test` does it)")
    return path


def run_tool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), capture_output=True, text=True, timeout=60, check=False)


def dciodvfy_errors(path: Path) -> list[str]:
    """The 'Error' lines dicom3tools' IOD validator prints for ``path``."""
    result = run_tool(require_tool("dciodvfy"), str(path))
    output = result.stdout + result.stderr
    return [line for line in output.splitlines() if line.startswith("Error") or " E: " in line]


def dicom_pair(folder: Path) -> tuple[Path, Path]:
    """The one Secondary Capture and the one Structured Report written into ``folder``."""
    sc, sr = sorted(folder.glob("*_SC_*.dcm")), sorted(folder.glob("*_SR_*.dcm"))
    assert len(sc) == 1 and len(sr) == 1, sorted(p.name for p in folder.iterdir())
    return sc[0], sr[0]

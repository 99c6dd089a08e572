"""GUI fixtures: isolated settings, one shared tiny classifier, tiny DICOM series written in tmp_path."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, MRImageStorage, generate_uid

pytest.importorskip("pytestqt")

from desktop_app.settings import AppSettings


def write_series(folder: Path, count: int, size: int = 16, seed: int = 0) -> list[Path]:
    """``count`` tiny MR slices of one series (positions along z), random but seeded pixels."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    study, series = generate_uid(), generate_uid()
    paths = []
    for i in range(count):
        ds = Dataset()
        ds.file_meta = FileMetaDataset()
        ds.file_meta.MediaStorageSOPClassUID = MRImageStorage
        ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.SOPClassUID = MRImageStorage
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
        ds.StudyInstanceUID, ds.SeriesInstanceUID = study, series
        ds.PatientName, ds.PatientID, ds.Modality = "Test^Tiny", "T1", "MR"
        ds.SeriesNumber, ds.InstanceNumber = 1, i + 1
        ds.SeriesDescription = "tiny"
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.ImagePositionPatient = [0, 0, float(i)]
        ds.PixelSpacing = [1, 1]
        ds.Rows = ds.Columns = size
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
        ds.PixelData = rng.integers(0, 4000, (size, size), dtype=np.uint16).tobytes()
        path = folder / f"{i:03d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths


@pytest.fixture
def app_settings(tmp_path: Path) -> AppSettings:
    """Settings in a private INI file, never the user's."""
    return AppSettings.in_folder(tmp_path)


@pytest.fixture(scope="session")
def tiny_classifier(tiny_weights_dir: Path):
    """One tiny Classifier for the whole session (TensorFlow is imported once)."""
    from core.classifier import Classifier

    return Classifier.from_folder(tiny_weights_dir)

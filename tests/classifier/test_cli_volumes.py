"""``neuroreview-classify`` on a NIfTI volume and a Siemens mosaic: one row per slice, frame = slice index;
the PDF says the source was NIfTI and the DICOM outputs carry new UIDs and no patient data."""

from __future__ import annotations

import json
from pathlib import Path

import nibabel
import numpy as np
import pydicom
import pytest
from dicom_factory import mosaic_dataset, write
from export.helpers import require_tool, run_tool

from core.cli.classify import main


@pytest.fixture(autouse=True)
def _float32(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEUROREVIEW_PRECISION", "float32")


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_nifti_and_mosaic_give_one_row_per_slice(tiny_weights_dir: Path, tmp_path: Path) -> None:
    inputs = tmp_path / "in"
    inputs.mkdir()
    data = np.random.default_rng(0).integers(0, 500, (12, 10, 5)).astype(np.int16)
    nibabel.save(nibabel.Nifti1Image(data, np.eye(4)), inputs / "vol.nii.gz")
    write(mosaic_dataset(7)[0], inputs / "mosaic.dcm")
    out = tmp_path / "rows.jsonl"
    assert main([str(inputs), "--weights", str(tiny_weights_dir), "--out", str(out), "--quiet"]) == 0
    frames: dict[str, list[int]] = {}
    for row in _rows(out):
        frames.setdefault(Path(row["source"]).name, []).append(row["frame"])
    assert sorted(frames["vol.nii.gz"]) == list(range(5))
    assert sorted(frames["mosaic.dcm"]) == list(range(7))


def test_nifti_exports_say_nifti_and_invent_no_patient(tiny_weights_dir: Path, tmp_path: Path) -> None:
    volume = tmp_path / "in" / "subject_07.nii.gz"
    volume.parent.mkdir()
    data = np.random.default_rng(1).integers(0, 500, (12, 10, 3)).astype(np.int16)
    nibabel.save(nibabel.Nifti1Image(data, np.eye(4)), volume)
    out = tmp_path / "out"
    args = [str(volume), "--weights", str(tiny_weights_dir), "--quiet", "--out", str(out / "rows.jsonl")]
    assert main([*args, "--pdf", str(out / "report.pdf"), "--dicom-out", str(out / "dicom"), "--pdf-identifiers"]) == 0
    text = run_tool(require_tool("pdftotext"), str(out / "report.pdf"), "-").stdout
    assert "NIfTI volume (not DICOM)" in text and "subject_07.nii.gz" in text
    (sr_path,) = (out / "dicom").glob("*_SR_*.dcm")
    (sc_path,) = (out / "dicom").glob("*_SC_*.dcm")
    assert "NIfTI" in sr_path.name and "subject_07" in sr_path.name
    sr, sc = pydicom.dcmread(sr_path), pydicom.dcmread(sc_path)
    for ds in (sr, sc):
        assert str(ds.get("PatientName", "") or "") == "" and str(ds.get("PatientID", "") or "") == ""
        assert str(ds.StudyInstanceUID).startswith("2.25.")
    assert sr.StudyInstanceUID == sc.StudyInstanceUID
    reference = sc.SourceImageSequence[0]
    assert "ReferencedFrameNumber" not in reference and str(reference.ReferencedSOPInstanceUID).startswith("2.25.")

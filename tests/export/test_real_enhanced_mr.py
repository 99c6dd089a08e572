"""Optional: exports referencing frames of real enhanced multi-frame MR files (skips without shared data)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest

from core.export.dicom_common import save_dicom
from core.export.overlay import burn_in_overlay
from core.export.records import SliceResult, read_header
from core.export.secondary_capture import build_secondary_capture
from core.export.structured_report import build_structured_report
from core.export.uid_map import UidMap
from export.helpers import ALGORITHM, CLASS_NAMES, dciodvfy_errors, make_prediction
from export.sr_reader import read_findings

REAL = Path(__file__).resolve().parents[3] / "shared" / "data" / "real-dicom" / "enhanced-multiframe"
FILES = sorted(REAL.glob("*/**/*.dcm")) if REAL.is_dir() else []


@pytest.mark.skipif(not FILES, reason=f"real enhanced MR files not found under {REAL}")
@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_frames_of_real_enhanced_mr(tmp_path: Path, path: Path) -> None:
    header = read_header(path)
    frames = int(header.get("NumberOfFrames", 1))
    results = [
        SliceResult(str(path), frame, make_prediction((0.7, 0.1, 0.1, 0.1) if frame else (0.1, 0.1, 0.7, 0.1)), header)
        for frame in (0, frames - 1)
    ]
    uid_map = UidMap()
    sr_path, sc_path = tmp_path / "sr.dcm", tmp_path / "sc.dcm"
    save_dicom(build_structured_report(results, ALGORITHM, deidentify=True, uid_map=uid_map), sr_path)
    picture = burn_in_overlay(np.zeros((64, 64), np.uint8), results[1].prediction.heatmap)
    capture = build_secondary_capture(header, picture, frame=frames - 1, deidentify=True, uid_map=uid_map)
    save_dicom(capture, sc_path)
    assert dciodvfy_errors(sr_path) == [] and dciodvfy_errors(sc_path) == []
    findings = read_findings(sr_path, CLASS_NAMES)
    expected_frames = [1, frames] if frames > 1 else [None, None]
    assert [f.referenced_frame for f in findings[:2]] == expected_frames
    sc = pydicom.dcmread(sc_path)
    assert sc.SourceImageSequence[0].ReferencedSOPInstanceUID == findings[1].referenced_sop_instance_uid
    raw = sc_path.read_bytes() + sr_path.read_bytes()
    for keyword in ("PatientName", "PatientID", "InstitutionName", "StudyInstanceUID", "SOPInstanceUID"):
        value = str(header.get(keyword) or "")
        if len(value) > 3:
            assert value.encode() not in raw, keyword

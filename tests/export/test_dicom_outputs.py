"""The SR + SC pair for one series: thin pictures, impossible sizes, both files or neither."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest

from core.export import dicom_outputs
from core.export.dicom_outputs import write_series_dicom
from core.export.errors import ExportError
from core.export.overlay import burn_in_overlay
from core.export.records import SliceResult
from export.helpers import ALGORITHM, dciodvfy_errors


def test_thin_slice_exports_both_files(tmp_path: Path, slice_results: list[SliceResult]) -> None:
    picture = burn_in_overlay(np.zeros((3000, 10), dtype=np.uint8), None)
    written = write_series_dicom(tmp_path / "out", slice_results, ALGORITHM, key_picture=picture)
    assert sorted(p.name for p in written) == ["neuroreview_SC.dcm", "neuroreview_SR.dcm"]
    sc = pydicom.dcmread(written[1])
    assert (sc.Rows, sc.Columns) == (3000, 10)
    assert dciodvfy_errors(written[1]) == []


def test_impossible_picture_size_writes_nothing(tmp_path: Path, slice_results: list[SliceResult]) -> None:
    picture = np.zeros((70000, 1, 3), dtype=np.uint8)
    with pytest.raises(ExportError, match="1x70000 pixels; a DICOM Secondary Capture holds 1 to 65535"):
        write_series_dicom(tmp_path / "out", slice_results, ALGORITHM, key_picture=picture)
    assert list((tmp_path / "out").iterdir()) == []


def test_failed_sc_write_removes_the_sr(
    tmp_path: Path, slice_results: list[SliceResult], monkeypatch: pytest.MonkeyPatch
) -> None:
    save = dicom_outputs.save_dicom

    def save_but_not_sc(dataset: pydicom.Dataset, target: Path) -> None:
        if target.name.endswith("_SC.dcm"):
            raise ExportError(f"could not write {target}: disk full")
        save(dataset, target)

    monkeypatch.setattr(dicom_outputs, "save_dicom", save_but_not_sc)
    picture = burn_in_overlay(np.zeros((32, 32), dtype=np.uint8), None)
    with pytest.raises(ExportError, match="disk full"):
        write_series_dicom(tmp_path / "out", slice_results, ALGORITHM, key_picture=picture)
    assert list((tmp_path / "out").iterdir()) == []

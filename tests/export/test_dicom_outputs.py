"""The SR + SC pair for one series: thin pictures, impossible sizes, both files or neither, names that never collide."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest

from core.export import dicom_outputs
from core.export.dicom_outputs import write_series_dicom
from core.export.errors import DestinationError, ExportError
from core.export.naming import ExportName
from core.export.overlay import burn_in_overlay
from core.export.records import SliceResult
from core.export.uid_map import UidMap
from export.helpers import ALGORITHM, dciodvfy_errors, dicom_pair, results_for, write_series


def test_thin_slice_exports_both_files(tmp_path: Path, slice_results: list[SliceResult]) -> None:
    picture = burn_in_overlay(np.zeros((3000, 10), dtype=np.uint8), None)
    written = write_series_dicom(tmp_path / "out", slice_results, ALGORITHM, key_picture=picture)
    assert written == list(reversed(dicom_pair(tmp_path / "out")))
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
        if "_SC_" in target.name:
            raise ExportError(f"could not write {target}: disk full")
        save(dataset, target)

    monkeypatch.setattr(dicom_outputs, "save_dicom", save_but_not_sc)
    picture = burn_in_overlay(np.zeros((32, 32), dtype=np.uint8), None)
    with pytest.raises(ExportError, match="disk full"):
        write_series_dicom(tmp_path / "out", slice_results, ALGORITHM, key_picture=picture)
    assert list((tmp_path / "out").iterdir()) == []


def _picture() -> np.ndarray:
    return burn_in_overlay(np.zeros((32, 32), dtype=np.uint8), None)


def test_two_patients_into_one_folder_keep_all_files(tmp_path: Path, slice_results: list[SliceResult]) -> None:
    other = write_series(tmp_path / "patient_roe" / "series7")
    for header in other.headers:
        header.PatientID, header.SeriesNumber, header.SeriesDescription = "PID-112233", 7, "COR T2 / FLAIR"
    out = tmp_path / "out"
    first = write_series_dicom(out, slice_results, ALGORITHM, key_picture=_picture())
    second = write_series_dicom(out, results_for(other), ALGORITHM, key_picture=_picture())
    assert sorted(out.iterdir()) == sorted(first + second)
    assert [p.name.split("_SR_")[0] for p in (first[0], second[0])] == [
        "PID-778899_S3-AX_T1_POST",
        "PID-112233_S7-COR_T2_FLAIR",
    ]
    assert {pydicom.dcmread(p).PatientID for p in first} == {"PID-778899"}
    assert {pydicom.dcmread(p).PatientID for p in second} == {"PID-112233"}


def test_a_second_export_of_the_same_series_keeps_the_first(tmp_path: Path, slice_results: list[SliceResult]) -> None:
    out = tmp_path / "out"
    first = write_series_dicom(out, slice_results, ALGORITHM, key_picture=_picture())
    before = [p.read_bytes() for p in first]
    second = write_series_dicom(out, slice_results, ALGORITHM, key_picture=_picture())
    assert set(first).isdisjoint(second) and len(list(out.iterdir())) == 4
    assert [p.read_bytes() for p in first] == before
    sr_suffix = first[0].name.rsplit("_", 1)[1]
    assert first[1].name.endswith(sr_suffix)  # an SR and its SC pair up by their suffix


def test_a_name_collision_is_refused_not_overwritten(tmp_path: Path, slice_results: list[SliceResult]) -> None:
    out, name = tmp_path / "out", ExportName("PID-778899_S3", "abc123")
    first = write_series_dicom(out, slice_results, ALGORITHM, key_picture=_picture(), name=name)
    before = [p.read_bytes() for p in first]
    with pytest.raises(DestinationError, match="already exists; exports never replace a file"):
        write_series_dicom(out, slice_results, ALGORITHM, key_picture=_picture(), name=name)
    assert sorted(out.iterdir()) == sorted(first) and [p.read_bytes() for p in first] == before


def test_deidentified_names_carry_the_pseudonym_written_in_the_files(
    tmp_path: Path, slice_results: list[SliceResult]
) -> None:
    uid_map = UidMap()
    written = write_series_dicom(
        tmp_path, slice_results, ALGORITHM, key_picture=_picture(), deidentify=True, uid_map=uid_map
    )
    pseudonym = uid_map.pseudonym("PID-778899")
    assert all(p.name.startswith(f"{pseudonym}_S3_") for p in written)  # no Series Description either
    assert {pydicom.dcmread(p).PatientID for p in written} == {pseudonym}

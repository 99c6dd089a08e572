"""Every file looked at ends up in exactly one place: a series' slices, ``errors`` or ``ignored``."""

from __future__ import annotations

import shutil
from pathlib import Path

from dicom_factory import BASIC_TEXT_SR, MR_STORAGE, bundled, make_dataset, phantom, write

from core.imaging import open_paths


def _places(result) -> dict[Path, str]:  # type: ignore[no-untyped-def]
    places: dict[Path, list[str]] = {}
    for ref in result.all_slices():
        places.setdefault(ref.path, []).append("slices")
    for error in result.errors:
        places.setdefault(error.path, []).append("errors")
    for skipped in result.ignored:
        places.setdefault(skipped.path, []).append("ignored")
    assert all(len(set(kinds)) == 1 for kinds in places.values()), places
    return {path: kinds[0] for path, kinds in places.items()}


def test_each_file_in_a_folder_is_accounted_for_once(tmp_path: Path) -> None:
    good = write(make_dataset(phantom(8, 8)), tmp_path / "good.dcm")
    report = write(make_dataset(None, sop_class=BASIC_TEXT_SR, modality="SR"), tmp_path / "report.dcm")
    cut = tmp_path / "cut.dcm"
    cut.write_bytes(good.read_bytes()[:150])
    index = tmp_path / "sub" / "DICOMDIR"  # a DICOMDIR below the opened folder: not an image either
    index.parent.mkdir()
    index.write_bytes(b"")
    places = _places(open_paths([tmp_path]))
    assert places == {good: "slices", report: "ignored", cut: "errors", index: "ignored"}


def test_a_dicomdir_itself_is_listed_as_skipped(tmp_path: Path) -> None:
    root = tmp_path / "media"
    shutil.copytree(bundled("dicomdirtests"), root)
    result = open_paths([root])
    (entry,) = [e for e in result.ignored if e.path.name == "DICOMDIR"]
    assert entry.error_type == "DICOMDIR"
    assert "no image" in entry.message and "31 files it lists were read" in entry.message
    assert len(result.all_slices()) == 31


def test_image_object_without_pixel_data_or_rows_is_an_error_not_skipped(tmp_path: Path) -> None:
    path = write(make_dataset(None, sop_class=MR_STORAGE), tmp_path / "empty_mr.dcm")
    result = open_paths([path])
    assert [(e.path, e.error_type) for e in result.errors] == [(path, "NoPixelDataError")]
    assert result.ignored == []


def test_truncated_header_is_an_error_not_an_object_without_image(tmp_path: Path) -> None:
    data = write(make_dataset(phantom(8, 8)), tmp_path / "whole.dcm").read_bytes()
    for cut in (60, 132, 140, 200, 400):
        (tmp_path / f"cut{cut}.dcm").write_bytes(data[:cut])
    result = open_paths([tmp_path])
    assert result.ignored == []
    assert sorted(e.path.name for e in result.errors if e.error_type == "TruncatedFileError") == [
        f"cut{cut}.dcm" for cut in sorted((60, 132, 140, 200, 400), key=str)
    ]

"""Exports are never written over or beside the sources unless asked, and never left half-written."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.export.destination import atomic_output, check_destination, check_output_folder
from core.export.errors import DestinationError


def test_refuses_the_source_file_and_its_folder(tmp_path: Path) -> None:
    source = tmp_path / "study" / "IM1.dcm"
    source.parent.mkdir()
    source.write_bytes(b"x")
    with pytest.raises(DestinationError, match="over the source"):
        check_destination(source, [source], allow_beside_source=True)
    with pytest.raises(DestinationError, match="source folder"):
        check_destination(source.parent / "report.pdf", [source])
    with pytest.raises(DestinationError, match="source folder"):
        check_destination(source.parent / "sub" / "report.pdf", [source])
    with pytest.raises(DestinationError, match="source folder"):
        check_output_folder(source.parent / "dicom_out", [source])
    assert check_destination(source.parent / "r.pdf", [source], allow_beside_source=True).name == "r.pdf"
    assert check_destination(tmp_path / "elsewhere" / "r.pdf", [source]).parent.name == "elsewhere"


def test_refuses_a_folder_as_file(tmp_path: Path) -> None:
    with pytest.raises(DestinationError, match="is a folder"):
        check_destination(tmp_path)


def test_failed_write_leaves_nothing(tmp_path: Path) -> None:
    target = tmp_path / "out" / "report.pdf"
    with pytest.raises(RuntimeError), atomic_output(target) as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("renderer crashed")
    assert list((tmp_path / "out").iterdir()) == []


def test_successful_write_replaces_atomically(tmp_path: Path) -> None:
    target = tmp_path / "a.txt"
    target.write_text("old")
    with atomic_output(target) as tmp:
        tmp.write_text("new")
    assert target.read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]

"""Exports are never written over or beside the sources unless asked, and never left half-written."""

from __future__ import annotations

import os
import stat
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


def test_replace_is_only_on_request(tmp_path: Path) -> None:
    target = tmp_path / "a.txt"
    target.write_text("old")
    with pytest.raises(DestinationError, match="already exists; exports never replace"), atomic_output(target) as tmp:
        tmp.write_text("new")
    assert target.read_text() == "old"
    with atomic_output(target, replace=True) as tmp:
        tmp.write_text("new")
    assert target.read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_a_file_that_appears_while_writing_is_not_replaced(tmp_path: Path) -> None:
    """The name is claimed by an atomic create-exclusive step, not by the check done before writing."""
    target = tmp_path / "report.pdf"
    with pytest.raises(DestinationError, match="already exists"), atomic_output(target) as tmp:
        tmp.write_text("ours")
        target.write_text("someone else's")  # another program (or export) got there first
    assert target.read_text() == "someone else's"
    assert [p.name for p in tmp_path.iterdir()] == ["report.pdf"]


def test_without_hard_links_the_name_is_still_claimed_exclusively(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_links(src: object, dst: object) -> None:
        raise PermissionError(1, "Operation not permitted")  # FAT and some network shares

    monkeypatch.setattr(os, "link", no_links)
    target = tmp_path / "new.txt"
    with atomic_output(target) as tmp:
        tmp.write_text("first")
    assert target.read_text() == "first"
    later = tmp_path / "later.txt"
    with pytest.raises(DestinationError, match="already exists"), atomic_output(later) as tmp:
        later.write_text("someone else's")  # appears after the early check
        tmp.write_text("second")
    assert later.read_text() == "someone else's"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["later.txt", "new.txt"]


@pytest.mark.parametrize("umask", [0o022, 0o027, 0o002])
def test_files_follow_the_umask(tmp_path: Path, umask: int) -> None:
    """Not mkstemp's 0600: colleagues in a shared reading room can open the exports (0644 with umask 022)."""
    previous = os.umask(umask)
    try:
        with atomic_output(tmp_path / f"r{umask:o}.pdf") as tmp:
            tmp.write_bytes(b"%PDF")
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / f"r{umask:o}.pdf").stat().st_mode) == 0o666 & ~umask

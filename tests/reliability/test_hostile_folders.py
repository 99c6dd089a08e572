"""Hostile folders: link loops, links out of the opened folder, 50,000 files, non-UTF-8 names, DICOMDIRs
pointing at ``../../etc/passwd`` or an absolute path.  Opening never hangs, never reads outside the
opened folder (proved with a Python audit hook on every ``open``) and still opens the good files."""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.fileset import FileSet
from reliability_kit import mr_dataset, pixels, write_dicom

from core.imaging import PixelStore, ScanLimits, open_paths

GROUP = "Hostile folders"
_OPENED: list[str] | None = None


def _audit(event: str, args: tuple[object, ...]) -> None:
    if _OPENED is not None and event == "open" and args and isinstance(args[0], (str, bytes, os.PathLike)):
        _OPENED.append(os.fsdecode(args[0]))


sys.addaudithook(_audit)  # audit hooks cannot be removed; it records only inside ``opened_files``


@contextlib.contextmanager
def opened_files() -> Iterator[list[str]]:
    """Every path passed to ``open``/``os.open`` in this process while the block runs."""
    global _OPENED
    _OPENED = []
    try:
        yield _OPENED
    finally:
        _OPENED = None


def _outside(paths: list[str], root: Path) -> list[str]:
    real_root = root.resolve()
    return [
        p
        for p in paths
        if os.path.isabs(p)
        and not Path(p).resolve().is_relative_to(real_root)
        and not p.startswith(sys.prefix)
        and "site-packages" not in p
    ]


def test_symlink_loops_end_and_each_file_is_opened_once(tmp_path: Path, tally) -> None:
    root = tmp_path / "root"
    a, b = root / "a", root / "b"
    write_dicom(a / "one.dcm", mr_dataset(instance=1))
    write_dicom(b / "two.dcm", mr_dataset(instance=2))
    (a / "to_b").symlink_to(b, target_is_directory=True)
    (b / "to_a").symlink_to(a, target_is_directory=True)  # a <-> b
    (a / "self").symlink_to(a, target_is_directory=True)  # a -> a
    (b / "up").symlink_to(root, target_is_directory=True)  # b -> root
    start = time.perf_counter()
    result = open_paths([root])
    seconds = time.perf_counter() - start
    names = sorted(r.path.name for r in result.all_slices())
    assert tally.case(GROUP, names == ["one.dcm", "two.dcm"] and seconds < 10), (names, seconds)


def test_links_out_of_the_folder_are_not_followed(tmp_path: Path, tally) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    write_dicom(root / "good.dcm")
    secret = write_dicom(outside / "secret.dcm")
    (root / "dir_link").symlink_to(outside, target_is_directory=True)
    (root / "file_link.dcm").symlink_to(secret)
    (root / "passwd.dcm").symlink_to("/etc/passwd")
    (root / "dangling.dcm").symlink_to(tmp_path / "nowhere.dcm")
    with opened_files() as opened:
        result = open_paths([root])
    refused = {e.path.name: e.error_type for e in result.errors}
    ok = [r.path.name for r in result.all_slices()] == ["good.dcm"]
    ok = ok and {"dir_link", "file_link.dcm", "passwd.dcm", "dangling.dcm"} <= set(refused)
    ok = ok and set(refused.values()) <= {"FileAccessError", "NotAnImageError"}
    leaked = _outside(opened, root)
    assert any(p.endswith("good.dcm") for p in opened), "the audit hook must see the files that are opened"
    assert tally.case(GROUP, ok and not leaked), (refused, leaked)


def test_fifty_thousand_files(tmp_path: Path, tally) -> None:
    """50,000 tiny non-image files plus 3 DICOMs: all listed, the images open, time and limits bounded."""
    folder = tmp_path / "flat"
    folder.mkdir()
    for i in range(50_000):
        with open(folder / f"f{i:05d}.txt", "wb") as handle:
            handle.write(b"x")
    for i in range(3):
        write_dicom(folder / f"zz{i}.dcm", mr_dataset(instance=i + 1, series_uid="1.2.3.4"))
    start = time.perf_counter()
    result = open_paths([folder])
    full_seconds = time.perf_counter() - start
    start = time.perf_counter()
    limited = open_paths([folder], limits=ScanLimits(max_files=1000))
    limited_seconds = time.perf_counter() - start
    polls = {"n": 0}

    def cancel_soon() -> bool:
        polls["n"] += 1
        return polls["n"] > 2000

    cancelled = open_paths([folder], cancel=cancel_soon)
    ok = len(result.all_slices()) == 3 and len(result.errors) == 50_000 and full_seconds < 120
    ok = ok and len(limited.all_slices()) == 0 and any(e.error_type == "ScanLimit" for e in limited.errors)
    ok = ok and limited_seconds < full_seconds and cancelled.cancelled
    print(f"50,000 files: full scan {full_seconds:.1f} s, limited to 1000 files {limited_seconds:.2f} s")
    assert tally.case(GROUP, ok), (len(result.all_slices()), len(result.errors), full_seconds, limited_seconds)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX byte file names")
def test_non_utf8_file_names(tmp_path: Path, tally) -> None:
    folder = os.fsencode(tmp_path / "names")
    os.mkdir(folder)
    values = pixels(seed=4)
    for raw in (b"IM\xff\xfe.dcm", b"caf\xe9_latin1.dcm", b"\x80\x81"):
        data_path = tmp_path / "src.dcm"
        write_dicom(data_path, mr_dataset(values))
        with open(os.path.join(folder, raw), "wb") as handle:
            handle.write(data_path.read_bytes())
        data_path.unlink()
    with open(os.path.join(folder, b"bad\xff.dcm"), "wb") as handle:
        handle.write(b"not an image")
    result = open_paths([Path(os.fsdecode(folder))])
    store = PixelStore()
    opened = [store.modality(r) for r in result.all_slices()]
    messages = [str(e.message) + str(e.path) for e in result.errors]
    ok = len(opened) == 3 and all(np.array_equal(v, values) for v in opened) and len(result.errors) == 1
    ok = ok and all(isinstance(m, str) for m in messages)
    from core.platform.audit import pseudonym

    ok = ok and all(len(pseudonym(r.path)) == 16 for r in result.all_slices())
    assert tally.case(GROUP, ok), (len(opened), messages)


def _dicomdir(root: Path) -> Path:
    """A valid DICOMDIR in ``root`` referencing two images inside it."""
    for i in range(2):
        ds = mr_dataset(instance=i + 1, series_uid="1.2.826.0.1.3680043.9.7.1")
        ds.StudyTime, ds.StudyID, ds.StudyDate = "120000", "1", "20240101"
        write_dicom(root / f"IMG{i}", ds)
    fs = FileSet()
    for i in range(2):
        fs.add(str(root / f"IMG{i}"))
    fs.write(str(root))
    return root / "DICOMDIR"


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize(
    "reference",
    [["..", "..", "etc", "passwd"], ["..", "outside", "secret.dcm"], ["/etc/passwd"], "/etc/passwd"],
    ids=["dotdot-etc-passwd", "dotdot-sibling-dicom", "absolute-component", "absolute-string"],
)
def test_dicomdir_references_outside_are_refused(tmp_path: Path, tally, reference: list[str] | str) -> None:
    media = tmp_path / "media" / "cd"
    dicomdir = _dicomdir(media)
    write_dicom(tmp_path / "media" / "outside" / "secret.dcm")
    ds = pydicom.dcmread(dicomdir)
    records = [r for r in ds.DirectoryRecordSequence if "ReferencedFileID" in r]
    records[-1].ReferencedFileID = reference
    ds.save_as(dicomdir)
    with opened_files() as opened:
        by_file = open_paths([dicomdir])
        by_folder = open_paths([media])
    ok = True
    for result in (by_file, by_folder):
        inside = all(r.path.resolve().is_relative_to(media.resolve()) for r in result.all_slices())
        reported = any("outside" in e.message or "DICOMDIR" in e.message for e in result.errors)
        ok = ok and inside and reported and len(result.all_slices()) >= 1
    leaked = [p for p in _outside(opened, media) if "passwd" in p or "secret" in p]
    assert tally.case(GROUP, ok and not leaked), ([e.message for e in by_file.errors], leaked)

"""The local store: UID layout, identical files skipped, different content never overwritten, limits."""

from __future__ import annotations

import errno
import os
import time
from pathlib import Path

import pytest

from core.network import LocalStore, StoreRefused, default_store_root
from core.network.local_store import STATUS_DUPLICATE, STATUS_OUT_OF_RESOURCES

from .helpers import leftovers, mr_slice, part10


def _put(store: LocalStore, ds) -> object:
    return store.put(part10(ds), ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID)


def test_files_are_named_by_study_series_and_instance_uid(tmp_path: Path) -> None:
    store = LocalStore(tmp_path, min_free_bytes=0)
    ds = mr_slice()
    stored = _put(store, ds)
    assert stored.path == tmp_path / ds.StudyInstanceUID / ds.SeriesInstanceUID / f"{ds.SOPInstanceUID}.dcm"
    assert stored.path.read_bytes() == part10(ds) and not stored.duplicate
    assert store.used_bytes() == stored.size


def test_identical_object_is_skipped_and_different_content_is_refused(tmp_path: Path) -> None:
    store = LocalStore(tmp_path, min_free_bytes=0)
    ds = mr_slice()
    first = _put(store, ds)
    again = _put(store, ds)
    assert again.duplicate and again.path == first.path
    ds.PatientName = "Someone^Else"  # same SOP Instance UID, other bytes
    with pytest.raises(StoreRefused) as refused:
        _put(store, ds)
    assert refused.value.status == STATUS_DUPLICATE
    assert first.path.read_bytes() != part10(ds)  # the stored file was not overwritten
    assert store.used_bytes() == first.size


def test_uids_that_are_not_uids_never_become_paths(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "store", min_free_bytes=0)
    ds = mr_slice()
    for study in ("../../etc", "1.2/../3", "", "1.2.3" + "4" * 70):
        with pytest.raises(StoreRefused) as refused:
            store.put(part10(ds), study, ds.SeriesInstanceUID, ds.SOPInstanceUID)
        assert refused.value.status == 0xC000
    assert not (tmp_path / "store").exists()


def test_size_limit_and_disk_space_are_checked_before_writing(tmp_path: Path) -> None:
    first, second = mr_slice(seed=1), mr_slice(seed=2)
    store = LocalStore(tmp_path, max_bytes=len(part10(first)) + len(part10(second)), min_free_bytes=0)
    _put(store, first)
    _put(store, second)  # exactly at the limit
    with pytest.raises(StoreRefused, match="local store full") as full:
        _put(store, mr_slice(seed=3))
    assert full.value.status == STATUS_OUT_OF_RESOURCES
    fourth = mr_slice(seed=4)
    size = len(part10(fourth))  # UIDs differ in length: measure this very object
    tight = LocalStore(tmp_path / "tight", min_free_bytes=10_000, free_space=lambda _p: 10_000 + size - 1)
    with pytest.raises(StoreRefused, match="not enough disk space"):
        _put(tight, fourth)
    roomy = LocalStore(tmp_path / "roomy", min_free_bytes=10_000, free_space=lambda _p: 10_000 + size)
    assert not _put(roomy, fourth).duplicate  # exactly enough room is enough
    assert not (tmp_path / "tight").exists()


def test_a_failed_write_leaves_no_partial_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = LocalStore(tmp_path, min_free_bytes=0)
    first = mr_slice(seed=1)
    kept = _put(store, first)
    monkeypatch.setattr("builtins.open", _disk_fills_while_writing())
    with pytest.raises(StoreRefused, match="disk full") as refused:
        _put(store, mr_slice(seed=2))
    monkeypatch.undo()
    assert refused.value.status == STATUS_OUT_OF_RESOURCES
    assert leftovers(tmp_path) == []
    assert list(store.files()) == [kept.path] and kept.path.read_bytes() == part10(first)
    assert store.used_bytes() == kept.size


def _disk_fills_while_writing():
    """An open() whose writes to the store's partial files stop half-way with ENOSPC."""
    import builtins

    real_open = builtins.open

    class Handle:
        def __init__(self, path: str) -> None:
            self.handle = real_open(path, "xb")

        def __enter__(self):
            return self

        def __exit__(self, *exc: object) -> None:
            self.handle.close()

        def write(self, data: bytes) -> int:
            self.handle.write(data[: len(data) // 2])
            raise OSError(errno.ENOSPC, "No space left on device")

    def fake_open(path, mode="r", *args, **kwargs):
        if str(path).endswith(".partial") and "x" in mode:
            return Handle(path)
        return real_open(path, mode, *args, **kwargs)

    return fake_open


def test_remove_partials_cleans_what_a_killed_process_left(tmp_path: Path) -> None:
    store = LocalStore(tmp_path, min_free_bytes=0)
    kept = _put(store, mr_slice())
    stale = kept.path.with_name("1.2.3.dcm.abcd.partial")
    stale.write_bytes(b"half")
    fresh = kept.path.with_name("1.2.4.dcm.beef.partial")  # another writer's file, being written now
    fresh.write_bytes(b"in progress")
    os.utime(stale, (time.time() - 3600, time.time() - 3600))
    assert store.remove_partials() == 1
    assert leftovers(tmp_path) == [fresh] and kept.path.exists()


def test_default_store_is_under_the_user_data_folder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("NEUROREVIEW_HOME", str(tmp_path))
    assert default_store_root() == tmp_path / "data" / "dicom-store"

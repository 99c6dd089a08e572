"""The local store of retrieved and received DICOM objects: ``ROOT/<study UID>/<series UID>/<SOP UID>.dcm``.

Files are named by their UIDs only (checked to be UIDs, so a peer cannot choose a path), written to
a temporary name and renamed when complete, so an aborted transfer never leaves a partial file.  An
object already stored with the same bytes is skipped; one with different bytes under the same SOP
Instance UID is refused, never overwritten.  Before each write the store checks its size limit and
the free space of its disk.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import re
import secrets
import shutil
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from core.network.nodes import NetworkError
from core.platform.user_paths import data_dir

STORE_FOLDER = "dicom-store"
PARTIAL_SUFFIX = ".partial"
_UID = re.compile(r"^[0-9]+(\.[0-9]+)*$")
# PS3.4 GG.4 / B.2.3 status codes a C-STORE SCP answers with
STATUS_OUT_OF_RESOURCES = 0xA700
STATUS_DUPLICATE = 0x0111
_log = logging.getLogger("neuroreview.network")
Buffer = bytes | bytearray | memoryview
Chunks = Buffer | Sequence[Buffer]


def default_store_root() -> Path:
    """``<user data folder>/dicom-store`` (platformdirs, or ``$NEUROREVIEW_HOME/data``)."""
    return data_dir() / STORE_FOLDER


class StoreRefused(NetworkError):
    """The store did not take an object; ``status`` is the DIMSE status to answer the sender with."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def is_uid(value: object) -> bool:
    """True for a syntactically valid UID (PS3.5 9.1: digits and dots, at most 64 characters)."""
    text = str(value)
    return 0 < len(text) <= 64 and bool(_UID.match(text))


@dataclass(frozen=True)
class StoredInstance:
    """One object in the store; ``duplicate`` when identical bytes were already there."""

    path: Path
    study_uid: str
    series_uid: str
    sop_instance_uid: str
    size: int
    duplicate: bool = False


class LocalStore:
    """A folder of DICOM files organised by study and series, with a size limit.

    ``max_bytes`` bounds the total size of ``*.dcm`` files (None: no limit); ``min_free_bytes`` is
    the free space the disk must keep after a write.  Thread-safe: listener associations write
    concurrently.
    """

    def __init__(
        self,
        root: Path | None = None,
        *,
        max_bytes: int | None = None,
        min_free_bytes: int = 512 * 1024 * 1024,
        free_space: Callable[[Path], int] | None = None,
    ) -> None:
        self.root = Path(root) if root is not None else default_store_root()
        self.max_bytes = max_bytes
        self.min_free_bytes = min_free_bytes
        self._free_space = free_space or (lambda path: shutil.disk_usage(path).free)
        self._lock = threading.Lock()
        self._used: int | None = None
        self._writing: set[Path] = set()  # targets being written by another association

    def study_folder(self, study_uid: str) -> Path:
        if not is_uid(study_uid):
            raise ValueError(f"not a UID: {study_uid!r}")
        return self.root / study_uid

    def path_for(self, study_uid: str, series_uid: str, sop_instance_uid: str) -> Path:
        for name, value in (("Study", study_uid), ("Series", series_uid), ("SOP Instance", sop_instance_uid)):
            if not is_uid(value):
                raise StoreRefused(f"{name} Instance UID is missing or not a UID", 0xC000)
        return self.root / study_uid / series_uid / f"{sop_instance_uid}.dcm"

    def files(self) -> Iterator[Path]:
        """Every complete object in the store."""
        if self.root.is_dir():
            yield from self.root.glob("*/*/*.dcm")

    def used_bytes(self) -> int:
        """Total size of the stored objects (counted once, then kept up to date)."""
        with self._lock:
            return self._used_locked()

    def _used_locked(self) -> int:
        if self._used is None:
            self._used = sum(p.stat().st_size for p in self.files())
        return self._used

    def remove_partials(self, older_than_s: float = 600.0) -> int:
        """Delete temporary files a killed process left behind; returns how many.

        Only those untouched for ``older_than_s``: another association or process may be writing
        into the same store right now (a partial file is written in one go from memory).
        """
        removed = 0
        if self.root.is_dir():
            cutoff = time.time() - older_than_s
            for path in self.root.glob(f"*/*/*{PARTIAL_SUFFIX}"):
                with contextlib.suppress(FileNotFoundError):
                    if path.stat().st_mtime < cutoff:
                        path.unlink()
                        removed += 1
        return removed

    def put(self, encoded: Chunks, study_uid: str, series_uid: str, sop_instance_uid: str) -> StoredInstance:
        """Store one Part 10 file's bytes (given whole or in consecutive chunks, which saves copying a
        received object); StoreRefused (with its DIMSE status) when not stored."""
        target = self.path_for(study_uid, series_uid, sop_instance_uid)
        chunks = [encoded] if isinstance(encoded, bytes | bytearray | memoryview) else list(encoded)
        size = sum(memoryview(c).nbytes for c in chunks)
        with self._lock:
            if target in self._writing:
                raise StoreRefused("the same object is being received on another association", STATUS_OUT_OF_RESOURCES)
            if target.exists():
                if target.stat().st_size == size and target.read_bytes() == b"".join(chunks):
                    return StoredInstance(target, study_uid, series_uid, sop_instance_uid, size, duplicate=True)
                raise StoreRefused("a different object with this SOP Instance UID is already stored", STATUS_DUPLICATE)
            self._check_room(size)
            self._used = self._used_locked() + size  # reserved now, so concurrent writers see it
            self._writing.add(target)
        try:
            self._write(target, chunks)
        except BaseException:
            with self._lock:
                self._used = (self._used or size) - size
            raise
        finally:
            with self._lock:
                self._writing.discard(target)
        return StoredInstance(target, study_uid, series_uid, sop_instance_uid, size)

    def _check_room(self, size: int) -> None:
        if self.max_bytes is not None and self._used_locked() + size > self.max_bytes:
            raise StoreRefused(
                f"local store full ({self._used_locked() / 1e6:.0f} of {self.max_bytes / 1e6:.0f} MB used)",
                STATUS_OUT_OF_RESOURCES,
            )
        probe = self.root
        while not probe.exists() and probe != probe.parent:
            probe = probe.parent
        free = self._free_space(probe)
        if free - size < self.min_free_bytes:
            raise StoreRefused(
                f"not enough disk space ({free / 1e6:.0f} MB free, {self.min_free_bytes / 1e6:.0f} MB kept free)",
                STATUS_OUT_OF_RESOURCES,
            )

    def _write(self, target: Path, chunks: list[Buffer]) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f"{target.name}.{secrets.token_hex(4)}{PARTIAL_SUFFIX}")
        try:
            with open(partial, "xb") as handle:
                for chunk in chunks:
                    handle.write(chunk)
            partial.replace(target)
        except OSError as exc:
            partial.unlink(missing_ok=True)
            reason = "disk full" if exc.errno == errno.ENOSPC else (exc.strerror or str(exc))
            _log.warning("store write failed: %s", reason)
            raise StoreRefused(f"could not write to the local store: {reason}", STATUS_OUT_OF_RESOURCES) from exc
        except BaseException:
            partial.unlink(missing_ok=True)
            raise

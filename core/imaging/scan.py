"""Open files, folders and DICOMDIRs: a bounded, cancellable, headers-only scan.

Folders are walked depth-first in natural name order; hidden entries are skipped, a symbolic link
is followed only when its target stays inside the opened folder, and each real folder is visited
once (no loops).  Every file is indexed from its header only; pixels are decoded later by
:class:`core.imaging.PixelStore`.  Nothing is ever written.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from core.imaging.dicomdir import dicomdir_files, is_dicomdir
from core.imaging.errors import FileAccessError, ImagingError, InvalidImageError, NonImageObjectError
from core.imaging.indexer import index_file
from core.imaging.organize import Organizer, SeriesInfo, natural_key
from core.imaging.study import FileError, ScanLimits, ScanResult, Series

ProgressCallback = Callable[[int, int | None], None]
CancelCallback = Callable[[], bool]
SeriesCallback = Callable[[Series], None]

EMIT_EVERY_FILES = 500  # a flat folder still shows its first series early


def _file_error(path: Path, error: ImagingError) -> FileError:
    return FileError(path=path, message=error.reason, error_type=type(error).__name__)


@dataclass
class _Collector:
    """Files to index, in order, with the errors met while listing them."""

    limits: ScanLimits
    files: list[Path] = field(default_factory=list)
    errors: list[FileError] = field(default_factory=list)
    skipped: list[FileError] = field(default_factory=list)
    seen: set[Path] = field(default_factory=set)
    full: bool = False

    def add(self, path: Path) -> None:
        if self.full:
            return
        key = path.resolve()
        if key in self.seen:
            return
        if len(self.files) >= self.limits.max_files:
            self.full = True
            message = f"stopped after {self.limits.max_files} files (file limit); the rest was not opened"
            self.errors.append(FileError(path, message, "ScanLimit"))
            return
        self.seen.add(key)
        self.files.append(path)

    def error(self, path: Path, error: ImagingError) -> None:
        self.errors.append(_file_error(path, error))

    def skip_dicomdir(self, path: Path, what_was_read: str) -> None:
        """Account for a DICOMDIR file itself: an index, no image (listed once)."""
        key = path.resolve()
        if key not in self.seen:
            self.seen.add(key)
            reason = f"DICOMDIR: the index of a DICOM file set, no image; {what_was_read}"
            self.skipped.append(FileError(path, reason, "DICOMDIR"))


def _walk(root: Path, limits: ScanLimits, out: _Collector, cancel: CancelCallback | None) -> None:
    """Depth-first, bounded walk of ``root`` collecting regular files."""
    real_root = root.resolve()
    visited: set[tuple[int, int]] = set()
    stack: list[tuple[Path, int]] = [(root, 0)]
    depth_reported = False
    while stack and not out.full:
        if cancel is not None and cancel():
            return
        folder, depth = stack.pop()
        try:
            st = folder.stat()
            if (st.st_dev, st.st_ino) in visited:
                continue  # a link loop or a second link to the same folder
            visited.add((st.st_dev, st.st_ino))
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: natural_key(e.name))
        except OSError as exc:
            out.error(folder, FileAccessError(f"folder cannot be read ({exc.strerror or exc})", folder))
            continue
        subfolders: list[Path] = []
        for entry in entries:
            if entry.name.startswith("."):
                continue
            path = Path(entry.path)
            try:
                if entry.is_symlink() and not path.resolve().is_relative_to(real_root):
                    out.error(path, FileAccessError("link points outside the opened folder; not followed", path))
                    continue
                if entry.is_dir():
                    if depth + 1 > limits.max_depth:
                        if not depth_reported:
                            message = f"folders nested deeper than {limits.max_depth} levels were not opened"
                            out.error(path, FileAccessError(message, path))
                            depth_reported = True
                        continue
                    subfolders.append(path)
                elif entry.is_file() and is_dicomdir(path):
                    out.skip_dicomdir(path, "the files of its folder were read directly")
                elif entry.is_file():
                    out.add(path)
            except OSError as exc:
                out.error(path, FileAccessError(f"cannot be read ({exc.strerror or exc})", path))
        stack.extend((sub, depth + 1) for sub in reversed(subfolders))


def _add_dicomdir(dicomdir: Path, limits: ScanLimits, out: _Collector, cancel: CancelCallback | None) -> None:
    """Files of a DICOMDIR; when the DICOMDIR is unusable or none of its references can be used,
    report it and walk its folder instead."""
    try:
        files, refused = dicomdir_files(dicomdir)
    except ImagingError as exc:
        out.error(dicomdir, exc)
        out.seen.add(dicomdir.resolve())
        _walk(dicomdir.parent, limits, out, cancel)
        return
    if refused and not files:  # a stale or foreign DICOMDIR: the images may still be in the folder
        message = f"none of the {len(refused)} files the DICOMDIR refers to could be used; the folder was read instead"
        out.error(dicomdir, InvalidImageError(message, dicomdir))
        out.seen.add(dicomdir.resolve())
        _walk(dicomdir.parent, limits, out, cancel)
        return
    out.skip_dicomdir(dicomdir, f"the {len(files)} files it lists were read")
    for path, error in refused:
        out.error(path, error)
    for path in files:
        out.add(path)


def _collect(paths: Sequence[Path], limits: ScanLimits, cancel: CancelCallback | None) -> _Collector:
    out = _Collector(limits)
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            if (path / "DICOMDIR").is_file():
                _add_dicomdir(path / "DICOMDIR", limits, out, cancel)
            else:
                _walk(path, limits, out, cancel)
        elif path.is_file() and is_dicomdir(path):
            _add_dicomdir(path, limits, out, cancel)
        elif path.is_file():
            out.add(path)
        elif path.exists() or path.is_symlink():
            out.error(path, FileAccessError("not a regular file or folder", path))
        else:
            out.error(path, FileAccessError("file or folder does not exist", path))
    return out


def open_paths(
    paths: Sequence[Path],
    *,
    limits: ScanLimits = ScanLimits(),  # noqa: B008 - frozen, immutable default
    progress: ProgressCallback | None = None,
    cancel: CancelCallback | None = None,
    on_series: SeriesCallback | None = None,
) -> ScanResult:
    """Open files, folders (recursively) and DICOMDIRs into a Patient/Study/Series tree.

    ``progress(done, total)`` is called while working (``total`` is None while folders are being
    listed); ``cancel()`` returning True stops the scan and returns what was read with
    ``cancelled=True``; ``on_series(series)`` receives a series snapshot as soon as the folder
    holding it has been read (and again, with more slices, if later files add to it; the returned
    ScanResult is final).  Files that fail are listed in ``errors``, one entry each, and never stop
    the rest.
    """
    if progress is not None:
        progress(0, None)
    collected = _collect(paths, limits, cancel)
    result = ScanResult(errors=list(collected.errors), ignored=list(collected.skipped))
    organizer = Organizer()
    total = len(collected.files)
    if cancel is not None and cancel():
        result.cancelled = True
        return result
    known_series: dict[str, SeriesInfo] = {}
    last_folder: Path | None = None
    since_emit = 0
    for done, path in enumerate(collected.files):
        if cancel is not None and cancel():
            result.cancelled = True
            break
        if on_series is not None and (path.parent != last_folder or since_emit >= EMIT_EVERY_FILES):
            for series in organizer.take_changed():
                on_series(series)
            since_emit = 0
        last_folder = path.parent
        since_emit += 1
        if progress is not None and done % 25 == 0:
            progress(done, total)
        try:
            indexed = index_file(path, known_series)
        except NonImageObjectError as exc:
            result.ignored.append(_file_error(path, exc))
            continue
        except ImagingError as exc:
            result.errors.append(_file_error(path, exc))
            continue
        organizer.add(indexed.info, indexed.slices)
        if indexed.note:
            result.notes.append(FileError(path, indexed.note, "Note"))
    if on_series is not None:
        for series in organizer.take_changed():
            on_series(series)
    if progress is not None and not result.cancelled:
        progress(total, total)
    result.patients = organizer.build()
    return result

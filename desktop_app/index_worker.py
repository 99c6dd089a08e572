"""Indexing worker: runs ``core.imaging.open_paths`` in its own QThread and reports progressively.

Each series is announced as soon as the scanner hands it over (``series_found`` with a small
thumbnail rendered here, off the GUI thread), so the first series can be shown while the rest of
a large folder is still being indexed.  A newer ``start()`` cancels the scan in progress.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray
from PIL import Image
from PySide6.QtCore import QObject, Signal, Slot

from core.imaging.study import ScanResult, Series

if TYPE_CHECKING:  # pragma: no cover
    from core.imaging import PixelStore

THUMBNAIL_SIZE = 64


def thumbnail(store: object, series: Series, size: int = THUMBNAIL_SIZE) -> NDArray[np.uint8] | None:
    """Display rendering of the series' middle slice shrunk to ``size`` px; None when unreadable."""
    if not series.slices:
        return None
    ref = series.slices[len(series.slices) // 2]
    try:
        pixels = store.display(ref, None)  # type: ignore[attr-defined]
    except Exception:  # a thumbnail is decoration: the real error shows when the slice is opened
        return None
    return fit_thumbnail(np.asarray(pixels, dtype=np.uint8), size)


def fit_thumbnail(pixels: NDArray[np.uint8], size: int = THUMBNAIL_SIZE) -> NDArray[np.uint8]:
    """``pixels`` scaled into a ``size`` x ``size`` square, centred on black; a very thin image (10 x 2000)
    keeps at least an eighth of the square in its thin direction, so it is still seen."""
    rows, columns = pixels.shape[:2]
    scale = size / max(rows, columns, 1)
    least = max(size // 8, 1)
    height, width = max(round(rows * scale), least), max(round(columns * scale), least)
    image = Image.fromarray(np.ascontiguousarray(pixels))
    resized = np.asarray(image.resize((width, height), Image.Resampling.BILINEAR, reducing_gap=2.0), dtype=np.uint8)
    canvas = np.zeros((size, size, *pixels.shape[2:]), dtype=np.uint8)
    top, left = (size - height) // 2, (size - width) // 2
    canvas[top : top + height, left : left + width] = resized
    return canvas


class IndexWorker(QObject):
    """Scans paths one job at a time; lives in its own thread."""

    started = Signal(int)  # job id
    progress = Signal(int, int, int)  # job id, files done, total (-1 while unknown)
    series_found = Signal(int, object, object)  # job id, Series, thumbnail array or None
    finished = Signal(int, object)  # job id, ScanResult
    failed = Signal(int, str)  # job id, message
    _run = Signal(int, object)

    def __init__(self, store: PixelStore | None = None) -> None:
        """``store``: where thumbnails are decoded, normally the window's PixelStore (None: one of its own)."""
        super().__init__()
        self._job = 0
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._store = store
        self._run.connect(self._scan)

    def start(self, paths: Sequence[Path]) -> int:
        """Queue a scan of ``paths`` (cancelling the current one); returns its job id."""
        with self._lock:
            self._job += 1
            job = self._job
        self._run.emit(job, [Path(p) for p in paths])
        return job

    def stop(self) -> None:
        """Cancel everything; the running scan stops at its next file."""
        self._stopping.set()
        with self._lock:
            self._job += 1

    def _current(self, job: int) -> bool:
        with self._lock:
            return job == self._job and not self._stopping.is_set()

    @Slot(int, object)
    def _scan(self, job: int, paths: list[Path]) -> None:
        if not self._current(job):
            return
        from core.imaging import PixelStore, open_paths

        if self._store is None:
            self._store = PixelStore(max_megabytes=64)  # a worker made without a store
        store = self._store
        self.started.emit(job)

        def on_series(series: Series) -> None:
            if self._current(job):
                self.series_found.emit(job, series, thumbnail(store, series))

        def on_progress(done: int, total: int | None) -> None:
            self.progress.emit(job, done, -1 if total is None else total)

        try:
            result: ScanResult = open_paths(
                paths, progress=on_progress, cancel=lambda: not self._current(job), on_series=on_series
            )
        except Exception as exc:  # open_paths reports per-file errors itself; this is a last resort
            self.failed.emit(job, f"could not open {', '.join(p.name for p in paths)}: {exc}")
            return
        if self._current(job):
            self.finished.emit(job, result)

"""Viewer figures: building a 3-plane MPR, and the worst event-loop stall while four viewports scroll in sync.

* ``mpr_3plane_s``: :func:`core.imaging.mpr.three_planes` of a 256 x 256 x 176 float32 volume (isotropic,
  so no interpolation), median of several runs; the peer is plain numpy doing the same three axis
  re-orderings as contiguous copies (``mpr_peer_s``); ``mpr_ratio`` = ours / peer.
  ``mpr_thick_s``: the same volume with 3 mm slices, so sagittal and coronal are interpolated.
* ``sync_max_stall_ms``: a 2x2 layout of four 256 x 256 series of one study, synchronised scrolling on,
  the active viewport stepped slice by slice every 20 ms (as a wheel does) while a 10 ms watchdog
  timer records the longest gap between its ticks (as in ``gui_bench``; target <= 100 ms);
  ``sync_step_ms`` is the median time of one synchronised step (four slices decoded and drawn).

Run alone with ``python -m bench.viewer_bench``.
"""

from __future__ import annotations

import dataclasses
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from bench.imaging_bench import _write_series

SHAPE = (176, 256, 256)
REPEATS = 5
SYNC_SLICES = 40
STEP_MS = 20
STALL_TARGET_MS = 100.0


def _median(measure: Callable[[], object], repeats: int = REPEATS) -> float:
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        measure()
        runs.append(time.perf_counter() - start)
    return round(statistics.median(runs), 4)


def _volume(step: float) -> Any:
    from core.imaging.mpr import Volume

    rng = np.random.default_rng(0)
    data = rng.normal(500.0, 100.0, SHAPE).astype(np.float32)
    axes = (np.array([0.0, 0.0, step]), np.array([0.0, 1.0, 0.0]), np.array([1.0, 0.0, 0.0]))
    return Volume(data, (0.0, 0.0, 0.0), axes)


def _peer(data: np.ndarray) -> list[np.ndarray]:
    """Plain numpy: the three orientations as contiguous copies (axial as is, sagittal and coronal head up)."""
    return [
        np.ascontiguousarray(data),
        np.ascontiguousarray(np.transpose(data[::-1], (2, 0, 1))),
        np.ascontiguousarray(np.transpose(data[::-1], (1, 0, 2))),
    ]


def mpr_figures() -> dict[str, Any]:
    from core.imaging.mpr import three_planes

    iso, thick = _volume(1.0), _volume(3.0)
    ours = _median(lambda: three_planes(iso))
    peer = _median(lambda: _peer(iso.data))
    return {
        "mpr_volume": "x".join(str(n) for n in SHAPE[::-1]),
        "mpr_3plane_s": ours,
        "mpr_peer_s": peer,
        "mpr_ratio": round(ours / peer, 2) if peer else None,
        "mpr_thick_s": _median(lambda: three_planes(dataclasses.replace(thick)), 3),  # fresh: no cached resampling
    }


def sync_figures() -> dict[str, Any]:
    """Four viewports scrolling in sync in an offscreen main window (no model loaded: the viewer alone)."""
    from pydicom.uid import generate_uid
    from PySide6.QtCore import QEventLoop, QTimer

    from desktop_app.main import create_application
    from desktop_app.main_window import MainWindow
    from desktop_app.settings import AppSettings
    from desktop_app.watchdog import StallWatchdog

    app = create_application(["viewer_bench"])
    with tempfile.TemporaryDirectory(prefix="nr-viewer-bench-") as tmp:
        folders = [Path(tmp) / f"s{n}" for n in range(4)]
        study = generate_uid()
        for n, folder in enumerate(folders):
            _write_series(folder, SYNC_SLICES, 256, seed=n)
            _same_study(folder, study, n + 1)
        window = MainWindow(settings=AppSettings.in_folder(Path(tmp) / "settings"), load_model=False)
        window.resize(1600, 1000)
        window.show()
        loop = QEventLoop()
        window.indexing_finished.connect(lambda _r: loop.quit())
        window.open_paths(folders, remember=False)
        QTimer.singleShot(120_000, loop.quit)
        loop.exec()
        features = window.viewports
        features.set_layout(2, 2)
        window.set_index(0)
        features.sync.set_enabled(True)
        watchdog = StallWatchdog()
        steps: list[float] = []

        def step() -> None:
            if window.index >= SYNC_SLICES - 1:
                loop.quit()
                return
            start = time.perf_counter()
            window.set_index(window.index + 1)
            app.processEvents()  # the four viewports paint
            steps.append((time.perf_counter() - start) * 1000.0)

        timer = QTimer()
        timer.setInterval(STEP_MS)
        timer.timeout.connect(step)
        watchdog.start()
        timer.start()
        loop.exec()
        timer.stop()
        watchdog.stop()
        followed = all(features.index_at(c) == SYNC_SLICES - 1 for c in range(4))
        window.close()
    return {
        "sync_viewports": 4,
        "sync_slices": SYNC_SLICES,
        "sync_followed": followed,
        "sync_step_ms": round(statistics.median(steps), 1) if steps else None,
        "sync_max_stall_ms": round(watchdog.max_gap_ms, 1),
        "sync_target_met": watchdog.max_gap_ms <= STALL_TARGET_MS,
    }


def _same_study(folder: Path, study: str, number: int) -> None:
    """Put the bench series into one study with distinct series numbers (same positions: sync by place)."""
    import pydicom

    for path in folder.iterdir():
        ds = pydicom.dcmread(path)
        ds.StudyInstanceUID = study
        ds.SeriesNumber = number
        ds.SeriesDescription = f"bench {number}"
        ds.save_as(path, enforce_file_format=True)


def run() -> dict[str, Any]:
    """Every viewer figure as a flat dict for the harness."""
    return {**mpr_figures(), **sync_figures()}


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))

"""``neuroreview PATH... --layout RxC --screenshot FILE [--size WxH] [--mpr]``: one screenshot, then exit.

The paths open into the layout in order, one series per viewport (the first series found under each
path); with ``--mpr`` the first series and its three reformats fill a 2x2 layout.  The window is saved
once every viewport shows its image and the AI panel its prediction for the active viewport (or the
model has failed, which is printed).  Settings live in a temporary folder: the user's are not touched.
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QObject, QSettings, QTimer, Signal

from core.imaging import ScanResult, Series
from desktop_app.inference_worker import ClassifierFactory
from desktop_app.main_window import MainWindow
from desktop_app.settings import AppSettings

SETTLE_MS = 300  # let the last paint events through before grabbing


def parse_grid(text: str) -> tuple[int, int]:
    """ "RxC" -> (rows, columns), each 1 or 2; raises ValueError with the accepted forms."""
    try:
        rows, columns = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise ValueError(f"layout {text!r} is not RxC (1x1, 1x2, 2x1 or 2x2)") from None
    if rows not in (1, 2) or columns not in (1, 2):
        raise ValueError(f"layout {text!r} is not one of 1x1, 1x2, 2x1, 2x2")
    return rows, columns


def parse_size(text: str) -> tuple[int, int]:
    """ "WxH" in pixels -> (width, height); raises ValueError."""
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise ValueError(f"size {text!r} is not WxH, e.g. 1600x1000") from None
    if not (200 <= width <= 10000 and 200 <= height <= 10000):
        raise ValueError(f"size {text!r} is out of range (200 to 10000 pixels each way)")
    return width, height


def series_per_path(result: ScanResult, paths: Sequence[Path]) -> list[Series]:
    """The first series found under each path, in the order of the paths (paths without one are skipped)."""
    chosen: list[Series] = []
    for path in paths:
        root = Path(path).resolve()
        for series in result.all_series():
            first = series.slices[0].path.resolve() if series.slices else None
            if first is not None and (first == root or root in first.parents) and series not in chosen:
                chosen.append(series)
                break
    return chosen


class ScreenshotJob(QObject):
    """Drives one window to the requested view and saves it; ``finished(exit code)`` at the end."""

    finished = Signal(int)

    def __init__(
        self,
        paths: Sequence[Path],
        out: Path,
        *,
        grid: tuple[int, int] = (1, 1),
        size: tuple[int, int] = (1600, 1000),
        mpr: bool = False,
        weights: Path | None = None,
        classifier_factory: ClassifierFactory | None = None,
        timeout_s: float = 300.0,
    ) -> None:
        super().__init__()
        self.paths, self.out, self.grid, self.mpr = [Path(p) for p in paths], Path(out), grid, mpr
        folder = Path(tempfile.mkdtemp(prefix="nr-screenshot-"))
        settings = AppSettings(QSettings(str(folder / "settings.ini"), QSettings.Format.IniFormat))
        settings.auto_classify = False
        self.window = MainWindow(weights_folder=weights, settings=settings, classifier_factory=classifier_factory)
        self.window.resize(*size)
        self.window.move(0, 0)
        self._views_ready = False
        self._asked = False
        self._done = False
        self.window.indexing_finished.connect(self._on_indexed)
        self.window.model_state_changed.connect(lambda _state: self._maybe_classify())
        self.window.prediction_shown.connect(lambda _p: self._save_soon())
        self.window.viewports.mpr.shown.connect(self._on_views_ready)
        self.window.viewports.mpr.refused.connect(lambda reason: self._fail(f"MPR refused: {reason}"))
        QTimer.singleShot(round(timeout_s * 1000), lambda: self._fail("timed out"))

    def start(self) -> None:
        self.window.show()
        self.window.open_paths(self.paths, remember=False)

    def _on_indexed(self, result: ScanResult) -> None:
        chosen = series_per_path(result, self.paths)
        if not chosen:
            self._fail("no images found in " + ", ".join(str(p) for p in self.paths))
            return
        features = self.window.viewports
        self.window.show_series(chosen[0])
        if self.mpr:
            features.mpr.start()
            return
        features.set_layout(*self.grid, fill=False)
        for cell, series in enumerate(chosen[1 : features.grid.visible_cells], start=1):
            features.show_in(cell, features.series_source(series))
        self._on_views_ready()

    def _on_views_ready(self) -> None:
        self._views_ready = True
        self._maybe_classify()

    def _maybe_classify(self) -> None:
        window = self.window
        if not self._views_ready or self._asked:
            return
        if window.model_state == "failed":
            print(f"AI unavailable, screenshot without a prediction: {window.model_error}", file=sys.stderr)
            self._asked = True
            self._save_soon()
        elif window.model_state == "ready":
            self._asked = True
            window.classify_current(force=True)

    def _save_soon(self) -> None:
        if self._asked and not self._done:
            QTimer.singleShot(SETTLE_MS, self._save)

    def _save(self) -> None:
        if self._done:
            return
        self.window.repaint()
        self.out.parent.mkdir(parents=True, exist_ok=True)
        ok = self.window.grab().save(str(self.out))
        print(f"saved {self.out} ({self.window.width()}x{self.window.height()})" if ok else f"cannot write {self.out}")
        self._end(0 if ok else 1)

    def _fail(self, reason: str) -> None:
        if not self._done:
            print(f"no screenshot: {reason}", file=sys.stderr)
            self._end(1)

    def _end(self, code: int) -> None:
        self._done = True
        self.window.close()
        self.finished.emit(code)


def run(paths: Sequence[Path], out: Path, layout: str, size: str, mpr: bool, weights: Path | None) -> int:
    """The command line's screenshot mode: exit code 0 when the file was written."""
    from desktop_app.main import create_application

    try:
        grid, pixels = parse_grid(layout), parse_size(size)
    except ValueError as exc:
        print(f"neuroreview: {exc}", file=sys.stderr)
        return 2
    if not paths:
        print("neuroreview: --screenshot needs at least one PATH", file=sys.stderr)
        return 2
    app = create_application([sys.argv[0]])
    job = ScreenshotJob(paths, out, grid=grid, size=pixels, mpr=mpr, weights=weights)
    code = {"value": 1}
    job.finished.connect(lambda value: (code.update(value=value), app.quit()))
    QTimer.singleShot(0, job.start)
    app.exec()
    return code["value"]

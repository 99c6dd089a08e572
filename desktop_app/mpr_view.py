"""View > MPR: axial, sagittal and coronal reformats of the active series in a 2x2 layout.

The volume is read and reformatted in a pool thread (:class:`MprTask`); the acquired series stays in the
main viewer (the AI keeps answering for acquired slices), the three reformats fill the other cells.
A series that is not a volume is refused with the reason in the status bar.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal
from PySide6.QtGui import QAction, QKeySequence

from core.imaging import ImagingError, PixelStore, Series
from core.imaging.mpr import PLANES, Volume, three_planes
from desktop_app.view_source import ReformatSource

if TYPE_CHECKING:  # pragma: no cover
    from desktop_app.viewports import ViewportFeatures


class _Signals(QObject):
    finished = Signal(object)  # dict[plane, Reformat]
    failed = Signal(str)


class MprTask(QRunnable):
    """Reads the volume of one series' stack and time point and builds its three reformats."""

    def __init__(self, store: PixelStore, series: Series, index: int) -> None:
        super().__init__()
        self.store, self.series, self.index = store, series, index
        self.signals = _Signals()

    def run(self) -> None:
        try:
            planes = three_planes(Volume.from_series(self.store, self.series, self.index))
        except ImagingError as exc:
            self.signals.failed.emit(f"{self.series.description or 'series'}: {exc}")
            return
        except MemoryError:
            self.signals.failed.emit("not enough memory to reformat this series")
            return
        self.signals.finished.emit(planes)


class MprView(QObject):
    """The View > MPR action (Ctrl+M) and what it shows."""

    shown = Signal()
    refused = Signal(str)

    def __init__(self, features: ViewportFeatures) -> None:
        super().__init__(features)
        self.features = features
        main = features.main
        self.action = QAction("MPR: axial, sagittal, coronal of this series", main)
        self.action.setShortcut(QKeySequence("Ctrl+M"))
        self.action.triggered.connect(self.start)
        features.find_menu("View").addAction(self.action)
        main.addAction(self.action)
        self._task: MprTask | None = None
        self._series: Series | None = None

    def start(self) -> None:
        main = self.features.main
        if main.series is None:
            self._refuse("open a series first")
            return
        self._series = main.series
        self._task = MprTask(main.store, main.series, max(main.index, 0))
        self._task.signals.finished.connect(self._on_finished)
        self._task.signals.failed.connect(self._refuse)
        main.statusBar().showMessage("Building the reformats...")
        QThreadPool.globalInstance().start(self._task)

    def _refuse(self, reason: str) -> None:
        self.features.main.statusBar().showMessage(f"MPR not possible: {reason}", 15000)
        self.refused.emit(reason)

    def _on_finished(self, planes: dict) -> None:  # type: ignore[type-arg]
        features, series = self.features, self._series
        if series is None or features.main.series is not series:
            return  # the user moved on to another series meanwhile
        features.set_layout(2, 2, fill=False)
        others = [cell for cell in range(4) if cell != features.main_cell]
        for cell, plane in zip(others, PLANES, strict=True):
            features.show_in(cell, ReformatSource(planes[plane], series))
        features.main.statusBar().showMessage("Reformats ready (the AI runs on acquired slices only)", 10000)
        self.shown.emit()

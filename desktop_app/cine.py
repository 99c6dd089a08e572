"""Cine: the active viewport steps through its images at a chosen frame rate, looping.

The main window's series loops within the time point on screen; a reformat or another viewport loops
over all its images.  A QTimer on the GUI thread drives it: each tick is one ordinary slice change.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QLabel, QSpinBox

from core.imaging.timepoints import edge_of_time, step_within_time

if TYPE_CHECKING:  # pragma: no cover
    from desktop_app.viewports import ViewportFeatures

DEFAULT_FPS = 10
MAX_FPS = 60


class Cine(QObject):
    """Play / pause (key C) and a frame-rate box in the Window toolbar."""

    running_changed = Signal(bool)

    def __init__(self, features: ViewportFeatures) -> None:
        super().__init__(features)
        self.features = features
        main = features.main
        self.timer = QTimer(self)
        self.timer.timeout.connect(self.step)
        self.fps = QSpinBox()
        self.fps.setRange(1, MAX_FPS)
        self.fps.setValue(DEFAULT_FPS)
        self.fps.setSuffix(" fps")
        self.fps.setToolTip("Cine frame rate (C plays / pauses)")
        self.fps.valueChanged.connect(self._apply_rate)
        bar = main.addToolBar("Cine")
        bar.setObjectName("cine_toolbar")
        bar.addWidget(QLabel(" Cine: "))
        bar.addWidget(self.fps)
        self.action = QAction("Cine play / pause", main)
        self.action.setCheckable(True)
        self.action.setShortcut(QKeySequence("C"))
        self.action.toggled.connect(self.set_running)
        bar.addAction(self.action)
        features.find_menu("View").addAction(self.action)
        main.addAction(self.action)
        self._apply_rate()

    @property
    def running(self) -> bool:
        return self.timer.isActive()

    def _apply_rate(self) -> None:
        self.timer.setInterval(max(1, round(1000 / self.fps.value())))

    def set_running(self, running: bool) -> None:
        if running and not self.running:
            self.timer.start()
        elif not running and self.running:
            self.timer.stop()
        if self.action.isChecked() != running:
            self.action.setChecked(running)
        self.running_changed.emit(running)

    def step(self) -> None:
        """One frame forward in the active viewport, back to the first after the last."""
        features = self.features
        if features.main._closing:  # the window is going: no more slice changes
            self.set_running(False)
            return
        cell = features.active
        viewport = features.cells[cell]
        if viewport is None:
            main = features.main
            if main.series is None or not main.series.slices:
                return
            following = step_within_time(main.series, main.index, 1)
            main.set_index(following if following != main.index else edge_of_time(main.series, main.index, False))
        elif viewport.source is not None and len(viewport.source):
            viewport.set_index((viewport.index + 1) % len(viewport.source))

"""The time-point control under the slice slider: shown only for a stack with several time points
(perfusion, fMRI, diffusion volumes).  ``[`` and ``]`` step through time; the wheel and the slice
keys stay within the time point on screen (see :mod:`core.imaging.timepoints`)."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSpinBox, QWidget

from core.imaging.study import Series
from core.imaging.timepoints import time_points

PREVIOUS_KEY, NEXT_KEY = "[", "]"


class TimePointBar(QWidget):
    """Shows "Time point n / N" for the slice on screen; emits the 0-based time point the user picks."""

    time_point_chosen = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(QLabel("Time point"))
        self.spin = QSpinBox()
        self.spin.setToolTip(f"Time point of this stack ({PREVIOUS_KEY} / {NEXT_KEY})")
        self.spin.valueChanged.connect(lambda value: self.time_point_chosen.emit(value - 1))
        layout.addWidget(self.spin)
        self.count_label = QLabel("/ 1")
        layout.addWidget(self.count_label)
        for key, step in ((PREVIOUS_KEY, -1), (NEXT_KEY, 1)):
            shortcut = QShortcut(QKeySequence(key), self)
            shortcut.activated.connect(lambda step=step: self.step(step))
        self.hide()

    def show_for(self, series: Series, index: int) -> None:
        """Follow slice ``index`` of ``series``: hidden when its stack has a single time point."""
        blocks = time_points(series, index)
        current = next(n for n, block in enumerate(blocks) if index in block)
        self.spin.blockSignals(True)
        self.spin.setRange(1, len(blocks))
        self.spin.setValue(current + 1)
        self.spin.blockSignals(False)
        self.count_label.setText(f"/ {len(blocks)}")
        self.setVisible(len(blocks) > 1)

    def step(self, steps: int) -> None:
        """Move ``steps`` time points (clamped)."""
        if self.isVisible():
            self.spin.setValue(min(max(self.spin.value() + steps, 1), self.spin.maximum()))

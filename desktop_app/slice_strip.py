"""Per-slice strip under the slice slider, one cell per slice coloured by P(tumor)."""

from __future__ import annotations

from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QMouseEvent, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from core.imaging.heatmap import lut

UNCLASSIFIED = QColor(60, 60, 60)
OUTSIDE = QColor(70, 130, 200)  # hatched: outside the intended use, no P(tumor) shown


def p_tumor_color(p: float) -> QColor:
    """Colour of a P(tumor) value on the inferno ramp (dark = low, bright yellow = high)."""
    r, g, b = (int(c) for c in lut("inferno")[round(min(max(p, 0.0), 1.0) * 255)])
    return QColor(r, g, b)


class SliceStrip(QWidget):
    """Shows where in the series the model found something; click a cell to go there."""

    slice_clicked = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setFixedHeight(14)
        self._values: list[float | None] = []
        self._outside: set[int] = set()
        self._current = -1
        self.setToolTip(
            "P(tumor) per slice after a series run (dark = low, yellow = high; blue hatched = outside the "
            "intended use, not counted); click to jump"
        )

    def reset(self, count: int) -> None:
        self._values = [None] * count
        self._outside = set()
        self.update()

    def set_value(self, index: int, p_tumor: float, outside: bool = False) -> None:
        """Colour slice ``index`` by ``p_tumor``, or mark it as outside the intended use."""
        if 0 <= index < len(self._values):
            self._values[index] = p_tumor
            (self._outside.add if outside else self._outside.discard)(index)
            self.update()

    def outside(self) -> set[int]:
        """Indices of the slices marked as outside the intended use."""
        return set(self._outside)

    def values(self) -> list[float | None]:
        return list(self._values)

    def set_current(self, index: int) -> None:
        self._current = index
        self.update()

    def _cell(self, index: int) -> QRectF:
        width = self.width() / max(len(self._values), 1)
        return QRectF(index * width, 0, width, self.height())

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(30, 30, 30))
        for i, value in enumerate(self._values):
            cell = self._cell(i).adjusted(0, 2, -1, -2)
            if i in self._outside:
                painter.fillRect(cell, UNCLASSIFIED)
                painter.fillRect(cell, QBrush(OUTSIDE, Qt.BrushStyle.BDiagPattern))
                continue
            painter.fillRect(cell, UNCLASSIFIED if value is None else p_tumor_color(value))
        if 0 <= self._current < len(self._values):
            painter.setPen(QPen(QColor(80, 200, 255), 2))
            painter.drawRect(self._cell(self._current).adjusted(1, 1, -1, -1))
        painter.end()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if self._values and event.button() == Qt.MouseButton.LeftButton:
            index = int(event.position().x() / max(self.width(), 1) * len(self._values))
            self.slice_clicked.emit(min(max(index, 0), len(self._values) - 1))

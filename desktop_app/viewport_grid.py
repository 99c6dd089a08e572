"""The layout grid: up to four framed cells (1x1, 1x2, 2x1, 2x2), the active one outlined.

Each cell holds one viewer widget; the controller (:mod:`desktop_app.viewports`) decides which.
Dragging a series from the study browser onto a cell is reported as ``series_dropped``.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Signal
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QFrame, QGridLayout, QVBoxLayout, QWidget

SERIES_MIME = "application/x-neuroreview-series-uid"
LAYOUTS: tuple[tuple[int, int], ...] = ((1, 1), (1, 2), (2, 1), (2, 2))
MAX_CELLS = 4
_ACTIVE = "QFrame#cell { border: 2px solid #e0b000; }"
_IDLE = "QFrame#cell { border: 2px solid #303030; }"


class ViewportGrid(QWidget):
    """Cells in a grid; ``series_dropped(cell, series uid)`` when a series is dropped onto one."""

    series_dropped = Signal(int, str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._grid = QGridLayout(self)
        self._grid.setContentsMargins(0, 0, 0, 0)
        self._grid.setSpacing(2)
        self.frames: list[QFrame] = []
        self._boxes: list[QVBoxLayout] = []
        for _ in range(MAX_CELLS):
            frame = QFrame()
            frame.setObjectName("cell")
            frame.setStyleSheet(_IDLE)
            box = QVBoxLayout(frame)
            box.setContentsMargins(2, 2, 2, 2)
            self.frames.append(frame)
            self._boxes.append(box)
        self.shape = (1, 1)
        self.active = 0
        self.set_shape(1, 1)

    @property
    def visible_cells(self) -> int:
        return self.shape[0] * self.shape[1]

    def set_shape(self, rows: int, columns: int) -> None:
        """Show ``rows`` x ``columns`` cells, filled row by row; the others are hidden, not emptied."""
        for frame in self.frames:
            self._grid.removeWidget(frame)
            frame.hide()
        self.shape = (rows, columns)
        for cell in range(rows * columns):
            self._grid.addWidget(self.frames[cell], cell // columns, cell % columns)
            self.frames[cell].show()
        for r in range(2):
            self._grid.setRowStretch(r, 1 if r < rows else 0)
        for c in range(2):
            self._grid.setColumnStretch(c, 1 if c < columns else 0)

    def put(self, cell: int, widget: QWidget) -> None:
        """Make ``widget`` the content of ``cell`` (it leaves the cell it was in)."""
        box = self._boxes[cell]
        while box.count():
            item = box.takeAt(0)
            old = item.widget() if item is not None else None
            if old is not None and old is not widget:
                old.setParent(None)
        box.addWidget(widget)
        widget.show()
        self.watch(widget)

    def cell_of(self, widget: QWidget) -> int:
        """The cell whose frame holds ``widget``; -1 when none."""
        for cell, frame in enumerate(self.frames):
            if widget.parent() is frame:
                return cell
        return -1

    def set_active(self, cell: int) -> None:
        self.active = cell
        for n, frame in enumerate(self.frames):
            frame.setStyleSheet(_ACTIVE if n == cell and self.visible_cells > 1 else _IDLE)

    def watch(self, widget: QWidget) -> None:
        """Accept series dragged from the browser onto ``widget`` (idempotent)."""
        if not widget.property("nr_drop_watch"):
            widget.setAcceptDrops(True)
            widget.installEventFilter(self)
            widget.setProperty("nr_drop_watch", True)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        kind = event.type()
        if kind in (QEvent.Type.DragEnter, QEvent.Type.DragMove) and isinstance(event, QDragEnterEvent | QDropEvent):
            if event.mimeData().hasFormat(SERIES_MIME):
                event.acceptProposedAction()
                return True
        elif kind == QEvent.Type.Drop and isinstance(event, QDropEvent) and event.mimeData().hasFormat(SERIES_MIME):
            uid = bytes(event.mimeData().data(SERIES_MIME).data()).decode("utf-8")
            event.acceptProposedAction()
            if isinstance(watched, QWidget):
                self.series_dropped.emit(self.cell_of(watched), uid)
            return True
        return False

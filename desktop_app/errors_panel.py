"""Non-modal list of files that could not be opened, files skipped (no image) and notes
(file, what is wrong, error type); long texts are elided in the middle, in full in the tooltip."""

from __future__ import annotations

from collections.abc import Iterable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem, QWidget

from core.imaging.study import FileError


class ErrorsPanel(QTableWidget):
    """One row per failed file; never a dialog, never blocks."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(0, 3, parent)
        self.setHorizontalHeaderLabels(["File", "Problem", "Type"])
        self.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.verticalHeader().setVisible(False)
        self.setWordWrap(False)
        self.setTextElideMode(Qt.TextElideMode.ElideMiddle)  # long names keep their start and end

    def add_errors(self, errors: Iterable[FileError]) -> int:
        """Append errors; returns the new total."""
        for error in errors:
            row = self.rowCount()
            self.insertRow(row)
            name = QTableWidgetItem(error.path.name)
            name.setToolTip(str(error.path))
            self.setItem(row, 0, name)
            self.setItem(row, 1, _cell(error.message))
            self.setItem(row, 2, _cell(error.error_type))
        return self.rowCount()

    def add_message(self, source: str, message: str, kind: str = "Error") -> int:
        """Append a row that is not tied to one file (e.g. a failed scan or classification)."""
        row = self.rowCount()
        self.insertRow(row)
        for col, text in enumerate((source, message, kind)):
            self.setItem(row, col, _cell(text))
        return self.rowCount()


def _cell(text: str) -> QTableWidgetItem:
    """A cell whose full text is its tooltip (the cell itself may be elided)."""
    item = QTableWidgetItem(text)
    item.setToolTip(text)
    return item

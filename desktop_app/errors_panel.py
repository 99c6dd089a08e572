"""Non-modal list of files that could not be opened (file, what is wrong, error type)."""

from __future__ import annotations

from collections.abc import Iterable

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

    def add_errors(self, errors: Iterable[FileError]) -> int:
        """Append errors; returns the new total."""
        for error in errors:
            row = self.rowCount()
            self.insertRow(row)
            name = QTableWidgetItem(error.path.name)
            name.setToolTip(str(error.path))
            self.setItem(row, 0, name)
            self.setItem(row, 1, QTableWidgetItem(error.message))
            self.setItem(row, 2, QTableWidgetItem(error.error_type))
        return self.rowCount()

    def add_message(self, source: str, message: str, kind: str = "Error") -> int:
        """Append a row that is not tied to one file (e.g. a failed scan or classification)."""
        row = self.rowCount()
        self.insertRow(row)
        for col, text in enumerate((source, message, kind)):
            self.setItem(row, col, QTableWidgetItem(text))
        return self.rowCount()

"""View > DICOM tags (Ctrl+T): the header of the image in the active viewport, with a search box.

For a reformat it shows the header of the acquired slice the reformat was built from (its first slice)
and says so.  The table follows the active image while the window is open.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDialog, QLabel, QLineEdit, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget

from core.imaging import ImagingError
from core.imaging.dicom_tags import TagRow, read_tags
from desktop_app.view_source import SeriesSource

if TYPE_CHECKING:  # pragma: no cover
    from desktop_app.viewports import ViewportFeatures


class TagDialog(QDialog):
    """A searchable table of tags."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("DICOM tags")
        self.resize(760, 640)
        self.caption = QLabel("")
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search tag, name or value")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self._filter)
        self.table = QTableWidget(0, 4)
        self.table.setHorizontalHeaderLabels(["Tag", "Name", "VR", "Value"])
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        layout = QVBoxLayout(self)
        layout.addWidget(self.caption)
        layout.addWidget(self.search)
        layout.addWidget(self.table)
        self.rows: list[TagRow] = []

    def show_rows(self, caption: str, rows: list[TagRow]) -> None:
        self.caption.setText(caption)
        self.rows = rows
        self.table.setRowCount(len(rows))
        for n, row in enumerate(rows):
            for column, text in enumerate((row.tag, row.name, row.vr, row.value)):
                self.table.setItem(n, column, QTableWidgetItem(text))
        self._filter(self.search.text())

    def _filter(self, query: str) -> None:
        for n, row in enumerate(self.rows):
            self.table.setRowHidden(n, not row.matches(query))

    def visible_rows(self) -> list[TagRow]:
        return [row for n, row in enumerate(self.rows) if not self.table.isRowHidden(n)]


class TagViewer(QObject):
    """The action and the (one) dialog, refreshed when the active image changes."""

    def __init__(self, features: ViewportFeatures) -> None:
        super().__init__(features)
        self.features = features
        main = features.main
        self.dialog = TagDialog(main)
        self.action = QAction("DICOM tags of this image...", main)
        self.action.setShortcut(QKeySequence("Ctrl+T"))
        self.action.triggered.connect(self.open)
        features.find_menu("View").addAction(self.action)
        main.addAction(self.action)
        main.slice_shown.connect(lambda _index: self.refresh())
        for viewport in features.others:
            viewport.index_changed.connect(lambda _index: self.refresh())

    def open(self) -> None:
        self.refresh(force=True)
        self.dialog.show()
        self.dialog.raise_()

    def refresh(self, force: bool = False) -> None:
        if not (force or self.dialog.isVisible()):
            return
        features = self.features
        source = features.source_at(features.active)
        index = features.index_at(features.active)
        if source is None or not 0 <= index < len(source):
            self.dialog.show_rows("No image in the active viewport", [])
            return
        if isinstance(source, SeriesSource):
            ref, note = source.series.slices[index], ""
        else:
            ref, note = source.series.slices[0], " (a reformat: tags of the first acquired slice it was built from)"
        if ref.kind != "dicom":
            self.dialog.show_rows(f"{ref.path.name}: not a DICOM file, no tags", [])
            return
        try:
            rows = read_tags(ref.path)
        except ImagingError as exc:
            self.dialog.show_rows(str(exc), [])
            return
        frame = f", frame {ref.frame + 1}" if ref.number_of_frames > 1 else ""
        self.dialog.show_rows(f"{ref.path.name}{frame}{note}", rows)

"""Study browser: Patient -> Study -> Series tree with thumbnails, slice counts and modality."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon, QPixmap
from PySide6.QtWidgets import QAbstractItemView, QTreeWidget, QTreeWidgetItem, QWidget

from core.imaging.study import ScanResult, Series
from desktop_app.qimage import to_qimage

SERIES_ROLE = Qt.ItemDataRole.UserRole


class StudyBrowser(QTreeWidget):
    """Shows what was opened; emits ``series_activated`` when the user picks a series."""

    series_activated = Signal(object)  # Series

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setColumnCount(3)
        self.setHeaderLabels(["Patient / study / series", "Slices", "Modality"])
        self.setIconSize(QSize(48, 48))
        self.setUniformRowHeights(False)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setColumnWidth(0, 230)
        self.setColumnWidth(1, 50)
        self.setTextElideMode(Qt.TextElideMode.ElideMiddle)  # long names keep their start and end
        self._patients: dict[tuple[str, str], QTreeWidgetItem] = {}
        self._studies: dict[str, QTreeWidgetItem] = {}
        self._series_items: dict[str, QTreeWidgetItem] = {}
        self._series: dict[str, Series] = {}
        self._thumbs: dict[str, QIcon] = {}
        self.itemActivated.connect(self._activated)
        self.itemClicked.connect(self._activated)

    def clear_all(self) -> None:
        self.clear()
        self._patients.clear()
        self._studies.clear()
        self._series_items.clear()
        self._series.clear()

    def series_count(self) -> int:
        return len(self._series)

    def series(self) -> list[Series]:
        """All series in tree order."""
        order = {id(item): n for n, item in enumerate(self._series_items.values())}
        items = sorted(self._series_items.items(), key=lambda kv: (self.indexFromItem(kv[1]).row(), order[id(kv[1])]))
        return [self._series[uid] for uid, _ in items]

    def add_series(self, series: Series, thumb: NDArray[np.uint8] | None = None) -> None:
        """Insert or update one series (the scanner may announce a series again when it grows)."""
        if thumb is not None:
            self._thumbs[series.uid] = QIcon(QPixmap.fromImage(to_qimage(thumb)))
        patient_key = (series.patient_id, series.patient_name)
        patient = self._patients.get(patient_key)
        if patient is None:
            label = " ".join(
                p for p in (series.patient_name, f"({series.patient_id})" if series.patient_id else "") if p
            )
            patient = QTreeWidgetItem([label or "Unknown patient", "", ""])
            patient.setToolTip(0, label or "Unknown patient")
            self.addTopLevelItem(patient)
            self._patients[patient_key] = patient
            patient.setExpanded(True)
        study = self._studies.get(series.study_uid)
        if study is None:
            label = " ".join(p for p in (series.study_date, series.study_description) if p) or "(undated study)"
            study = QTreeWidgetItem([label, "", ""])
            study.setToolTip(0, label)
            patient.addChild(study)
            self._studies[series.study_uid] = study
            study.setExpanded(True)
        item = self._series_items.get(series.uid)
        if item is None:
            item = QTreeWidgetItem()
            study.addChild(item)
            self._series_items[series.uid] = item
        head = f"{series.number}: " if series.number is not None else ""
        item.setText(0, f"{head}{series.description or '(no description)'}")
        item.setToolTip(0, series.label)
        item.setText(1, str(len(series.slices)))
        item.setText(2, series.modality or "?")
        item.setData(0, SERIES_ROLE, series.uid)
        if series.uid in self._thumbs:
            item.setIcon(0, self._thumbs[series.uid])
        self._series[series.uid] = series

    def set_result(self, result: ScanResult) -> None:
        """Replace the tree by the scanner's final, ordered result (thumbnails are kept)."""
        current = self.current_series_uid()
        self.clear_all()
        for series in result.all_series():
            self.add_series(series)
        if current is not None:
            self.select_series(current)

    def current_series_uid(self) -> str | None:
        item = self.currentItem()
        uid = item.data(0, SERIES_ROLE) if item is not None else None
        return str(uid) if uid else None

    def select_series(self, uid: str) -> None:
        item = self._series_items.get(uid)
        if item is not None:
            self.setCurrentItem(item)

    def _activated(self, item: QTreeWidgetItem, _column: int = 0) -> None:
        uid = item.data(0, SERIES_ROLE)
        if uid and uid in self._series:
            self.series_activated.emit(self._series[uid])

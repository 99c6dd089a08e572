"""Study browser: Patient -> Study -> Series tree with thumbnails, slice counts and modality.

Several studies can be open at once: opening adds (a study opened again replaces its own rows),
and :meth:`remove_study` takes one out again.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray
from PySide6.QtCore import QMimeData, QPoint, QSize, Qt, Signal
from PySide6.QtGui import QIcon, QPixmap
from PySide6.QtWidgets import QAbstractItemView, QTreeWidget, QTreeWidgetItem, QWidget

from core.imaging.study import ScanResult, Series
from desktop_app.qimage import to_qimage
from desktop_app.viewport_grid import SERIES_MIME

SERIES_ROLE = Qt.ItemDataRole.UserRole


class StudyBrowser(QTreeWidget):
    """Shows what was opened; emits ``series_activated`` when the user picks a series."""

    series_activated = Signal(object)  # Series

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setColumnCount(5)
        self.setHeaderLabels(["Patient / study / series", "Slices", "Modality", "Date", "Accession"])
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
        self._keep: Callable[[Series], bool] = lambda _series: True
        self.setDragEnabled(True)  # a series can be dragged into a viewport of the layout
        self.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
        self.itemActivated.connect(self._activated)
        self.itemClicked.connect(self._activated)

    def study_uids(self) -> list[str]:
        """Study Instance UIDs of the open studies, in tree order."""
        return [uid for uid, item in self._studies.items() if item.parent() is not None]

    def study_of(self, series_uid: str) -> str | None:
        """The Study Instance UID of an open series, or None."""
        series = self._series.get(series_uid)
        return series.study_uid if series is not None else None

    def study_at(self, pos: QPoint) -> str | None:
        """Study Instance UID of the study or series row at ``pos`` (viewport coordinates), else None."""
        item = self.itemAt(pos)
        uid = item.data(0, SERIES_ROLE) if item is not None else None
        if uid:
            return self.study_of(str(uid))
        return next((study for study, row in self._studies.items() if row is item), None)

    def remove_study(self, study_uid: str) -> list[Series]:
        """Take one study (and its patient, when it was the last of theirs) out; returns its series."""
        item = self._studies.pop(study_uid, None)
        if item is None:
            return []
        removed = [s for s in self._series.values() if s.study_uid == study_uid]
        for series in removed:
            self._series.pop(series.uid, None)
            self._series_items.pop(series.uid, None)
            self._thumbs.pop(series.uid, None)
        patient = item.parent()
        if patient is not None:
            patient.removeChild(item)
            if patient.childCount() == 0:
                self.takeTopLevelItem(self.indexOfTopLevelItem(patient))
                self._patients = {k: v for k, v in self._patients.items() if v is not patient}
        return removed

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
        self._describe_study(study, series.study_uid)
        self._show_matching(patient, study, item, series)

    def _describe_study(self, study: QTreeWidgetItem, study_uid: str) -> None:
        """A study row's columns: series count, modalities, date, accession number."""
        members = [s for s in self._series.values() if s.study_uid == study_uid]
        study.setText(1, f"{len(members)} series")
        study.setText(2, " ".join(sorted({s.modality for s in members if s.modality})))
        date = members[0].study_date if members else ""
        study.setText(3, f"{date[:4]}-{date[4:6]}-{date[6:]}" if len(date) == 8 and date.isdigit() else date)
        study.setText(4, next((s.accession_number for s in members if s.accession_number), ""))

    def _show_matching(
        self, patient: QTreeWidgetItem, study: QTreeWidgetItem, item: QTreeWidgetItem, series: Series
    ) -> None:
        item.setHidden(not self._keep(series))
        for parent in (study, patient):
            children = [parent.child(n) for n in range(parent.childCount())]
            parent.setHidden(all(child is None or child.isHidden() for child in children))

    def set_filter(self, keep: Callable[[Series], bool]) -> None:
        """Show only the series for which ``keep`` is true (and their studies and patients)."""
        self._keep = keep
        for uid, item in self._series_items.items():
            study = item.parent()
            patient = study.parent() if study is not None else None
            if study is not None and patient is not None:
                self._show_matching(patient, study, item, self._series[uid])

    def visible_series(self) -> list[Series]:
        """The series the filter keeps, in tree order."""
        return [s for s in self.series() if not self._series_items[s.uid].isHidden()]

    def set_result(self, result: ScanResult) -> None:
        """Put the scanner's final, ordered result in place of its studies' rows; other studies stay
        (thumbnails are kept)."""
        current = self.current_series_uid()
        final = result.all_series()
        for study_uid in {s.study_uid for s in final}:
            thumbs = dict(self._thumbs)
            self.remove_study(study_uid)
            self._thumbs = thumbs
        for series in final:
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

    def mimeTypes(self) -> list[str]:
        return [SERIES_MIME]

    def mimeData(self, items: list[QTreeWidgetItem]) -> QMimeData:  # type: ignore[override]
        """A dragged series carries its UID (patients and studies carry nothing)."""
        data = QMimeData()
        uids = [str(i.data(0, SERIES_ROLE)) for i in items if i.data(0, SERIES_ROLE)]
        if uids:
            data.setData(SERIES_MIME, uids[0].encode("utf-8"))
        return data

    def _activated(self, item: QTreeWidgetItem, _column: int = 0) -> None:
        uid = item.data(0, SERIES_ROLE)
        if uid and uid in self._series:
            self.series_activated.emit(self._series[uid])

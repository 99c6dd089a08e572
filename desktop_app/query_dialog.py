"""File > Query/Retrieve: search a configured node for studies and retrieve one into the local store.

Searches and retrievals run as :class:`NetworkTask` s; the dialog only reads its fields, starts a
task and shows the outcome.  A retrieved study is announced with ``study_retrieved(folder)``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core.network import DicomNode, LocalStore, StorageListener, StudyQuery, find_studies, move_study, retrieve_study
from desktop_app.network_settings import NetworkSettings
from desktop_app.network_task import NetworkRunner, NetworkTask

COLUMNS = (
    ("PatientName", "Patient"),
    ("PatientID", "Patient ID"),
    ("StudyDate", "Date"),
    ("ModalitiesInStudy", "Modalities"),
    ("StudyDescription", "Description"),
    ("AccessionNumber", "Accession"),
    ("NumberOfStudyRelatedInstances", "Images"),
)
GB = 1_000_000_000


class QueryRetrieveDialog(QDialog):
    """Search fields, a results table, Retrieve with progress and Cancel."""

    search_finished = Signal(list)  # the studies found (dicts keyed by STUDY_FIELDS)
    study_retrieved = Signal(object)  # Path of the study folder in the local store
    retrieve_finished = Signal(object)  # RetrieveResult
    failed = Signal(str)

    def __init__(
        self,
        settings: NetworkSettings,
        runner: NetworkRunner,
        *,
        store: LocalStore | None = None,
        listener: StorageListener | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Query / Retrieve")
        self.settings = settings
        self.runner = runner
        self.store = store or LocalStore(max_bytes=int(settings.store_limit_gb * GB))
        self.listener = listener
        self.studies: list[dict[str, Any]] = []
        self.task: NetworkTask | None = None
        self._running = False
        self._build()

    def _build(self) -> None:
        self.node_combo = QComboBox()
        for node in self.settings.nodes:
            self.node_combo.addItem(str(node), node)
        self.patient_id = QLineEdit()
        self.patient_name = QLineEdit()
        self.patient_name.setPlaceholderText("wildcards * and ?, e.g. DOE^*")
        self.study_date = QLineEdit()
        self.study_date.setPlaceholderText("YYYYMMDD or YYYYMMDD-YYYYMMDD")
        self.modality = QLineEdit()
        self.modality.setPlaceholderText("e.g. MR")
        self.accession = QLineEdit()
        form = QFormLayout()
        form.addRow("Node", self.node_combo)
        for label, field in (
            ("Patient ID", self.patient_id),
            ("Patient name", self.patient_name),
            ("Study date", self.study_date),
            ("Modality", self.modality),
            ("Accession number", self.accession),
        ):
            form.addRow(label, field)
        self.search_button = QPushButton("Search")
        self.search_button.setDefault(True)
        self.search_button.clicked.connect(self.search)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels([title for _, title in COLUMNS])
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.itemSelectionChanged.connect(self._update_buttons)
        self.table.itemDoubleClicked.connect(lambda _item: self.retrieve())
        self.move_check = QCheckBox("Retrieve with C-MOVE to our listener (for nodes without C-GET)")
        self.retrieve_button = QPushButton("Retrieve")
        self.retrieve_button.clicked.connect(self.retrieve)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel)
        self.progress = QProgressBar()
        self.status = QLabel("" if self.settings.nodes else "No node configured: add one in DICOM network settings.")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        buttons = QHBoxLayout()
        buttons.addWidget(self.search_button)
        buttons.addStretch(1)
        buttons.addWidget(self.retrieve_button)
        buttons.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.move_check)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        self.resize(900, 560)
        self._update_buttons()

    # ------------------------------------------------------------------ state
    def _busy(self) -> bool:
        return self._running

    def _update_buttons(self) -> None:
        busy = self._busy()
        has_node = self.node_combo.count() > 0
        self.search_button.setEnabled(has_node and not busy)
        self.retrieve_button.setEnabled(has_node and not busy and self.selected_study() is not None)
        self.cancel_button.setEnabled(busy)

    def node(self) -> DicomNode | None:
        data = self.node_combo.currentData()
        return data if isinstance(data, DicomNode) else None

    def query(self) -> StudyQuery:
        return StudyQuery(
            self.patient_id.text(), self.patient_name.text(), self.study_date.text(), self.modality.text(),
            self.accession.text(),
        )  # fmt: skip

    def selected_study(self) -> dict[str, Any] | None:
        rows = self.table.selectionModel().selectedRows()
        return self.studies[rows[0].row()] if rows else None

    def _start(self, work: Any, on_finished: Any) -> None:
        self._running = True
        self.task = self.runner.start(work)
        self.task.signals.progress.connect(self._on_progress)
        self.task.signals.finished.connect(on_finished)
        self.task.signals.failed.connect(self._on_failed)
        self._update_buttons()

    # ------------------------------------------------------------------ search
    def search(self) -> None:
        node = self.node()
        if node is None or self._busy():
            return
        query = self.query()
        try:
            query.identifier()  # a malformed field is reported before anything is sent
        except ValueError as exc:
            self._on_failed(str(exc))
            return
        our_ae = self.settings.our_ae
        self.status.setText(f"Searching {node}...")
        self.progress.setRange(0, 0)
        self._start(
            lambda _progress, cancel: find_studies(node, our_ae, query, cancel=cancel, via="gui"), self._on_found
        )

    def _on_found(self, studies: list[dict[str, Any]]) -> None:
        self.studies = studies
        self.table.setRowCount(len(studies))
        for row, study in enumerate(studies):
            for column, (key, _) in enumerate(COLUMNS):
                value = study.get(key)
                text = "/".join(value) if isinstance(value, list) else "" if value is None else str(value)
                self.table.setItem(row, column, QTableWidgetItem(text))
        self.table.resizeColumnsToContents()
        self._idle(True, f"{len(studies)} stud{'y' if len(studies) == 1 else 'ies'} found")
        self.search_finished.emit(studies)

    # ------------------------------------------------------------------ retrieve
    def retrieve(self) -> None:
        node, study = self.node(), self.selected_study()
        if node is None or study is None or self._busy():
            return
        uid, our_ae, store = study["StudyInstanceUID"], self.settings.our_ae, self.store
        use_move = self.move_check.isChecked()
        listener = self.listener

        def work(progress: Any, cancel: Any) -> Any:
            if not use_move:
                return retrieve_study(node, our_ae, uid, store, progress=progress, cancel=cancel, via="gui")
            target = listener or StorageListener(
                store, our_ae=our_ae, port=self.settings.port, bind=self.settings.bind, allowed=[node.ae_title],
                via="gui",
            )  # fmt: skip
            return move_study(node, our_ae, uid, target, progress=progress, cancel=cancel, via="gui")

        self.progress.setRange(0, 0)
        self.status.setText(f"Retrieving from {node}...")
        self._start(work, self._on_retrieved)

    def cancel(self) -> None:
        if self.task is not None:
            self.task.cancel()
            self.status.setText("Cancelling... (what arrived complete is kept)")

    def _on_progress(self, done: int, total: int) -> None:
        if total > 0:
            self.progress.setRange(0, total)
            self.progress.setValue(done)
        self.status.setText(f"Received {done}" + (f" of {total}" if total > 0 else "") + " objects")

    def _idle(self, done: bool, message: str) -> None:
        """The task ended: full (done) or empty progress bar, ``message``, buttons enabled again."""
        self._running = False
        self.progress.setRange(0, 1)
        self.progress.setValue(1 if done else 0)
        self.status.setText(message)
        self._update_buttons()

    def _on_retrieved(self, result: Any) -> None:
        self._idle(True, f"Retrieved: {result.summary()}")
        self.retrieve_finished.emit(result)
        if result.files:
            self.study_retrieved.emit(Path(result.folder))

    def _on_failed(self, message: str) -> None:
        self._idle(False, f"Failed: {message}")
        self.failed.emit(message)

"""DICOM network settings (our AE title and port, the listener, the known nodes, Test connection)
and Send to PACS.  Echo and send run as :class:`NetworkTask` s, never on the GUI thread."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core.network import DicomNode, NetworkError, ae_title, echo, send_files
from desktop_app.ai_panel import RESEARCH_ONLY
from desktop_app.network_settings import NetworkSettings
from desktop_app.network_task import NetworkRunner

NODE_COLUMNS = ("AE title", "Host", "Port")


class NetworkSettingsDialog(QDialog):
    """Edits :class:`NetworkSettings`; ``applied`` after a successful save."""

    applied = Signal()
    echo_finished = Signal(str)  # the message shown after Test connection

    def __init__(self, settings: NetworkSettings, runner: NetworkRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("DICOM network settings")
        self.settings = settings
        self.runner = runner
        self.ae_edit = QLineEdit(settings.our_ae)
        self.port_spin = QSpinBox()
        self.port_spin.setRange(1, 65535)
        self.port_spin.setValue(settings.port)
        self.bind_edit = QLineEdit(settings.bind)
        self.bind_edit.setToolTip("127.0.0.1 accepts only this computer; 0.0.0.0 every network interface")
        self.listener_check = QCheckBox("Receive studies (listener), from the nodes below only")
        self.listener_check.setChecked(settings.listener_enabled)
        self.limit_spin = QDoubleSpinBox()
        self.limit_spin.setRange(0.1, 10000)
        self.limit_spin.setSuffix(" GB")
        self.limit_spin.setValue(settings.store_limit_gb)
        form = QFormLayout()
        form.addRow("Our AE title", self.ae_edit)
        form.addRow("Our port", self.port_spin)
        form.addRow("Listen on address", self.bind_edit)
        form.addRow("", self.listener_check)
        form.addRow("Local store limit", self.limit_spin)
        self.table = QTableWidget(0, len(NODE_COLUMNS))
        self.table.setHorizontalHeaderLabels(list(NODE_COLUMNS))
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        for node in settings.nodes:
            self.add_node(node)
        add, remove, self.test_button = QPushButton("Add node"), QPushButton("Remove"), QPushButton("Test connection")
        add.clicked.connect(lambda: self.add_node(None))
        remove.clicked.connect(lambda: self.table.removeRow(self.table.currentRow()))
        self.test_button.clicked.connect(self.test_connection)
        row = QHBoxLayout()
        for button in (add, remove, self.test_button):
            row.addWidget(button)
        row.addStretch(1)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.save)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(QLabel("Known nodes (PACS, scanners): the only ones NeuroReview connects to or accepts"))
        layout.addWidget(self.table, 1)
        layout.addLayout(row)
        layout.addWidget(self.status)
        layout.addWidget(buttons)
        self.resize(620, 480)

    def add_node(self, node: DicomNode | None) -> None:
        row = self.table.rowCount()
        self.table.insertRow(row)
        values = (node.ae_title, node.host, str(node.port)) if node else ("", "127.0.0.1", "104")
        for column, value in enumerate(values):
            self.table.setItem(row, column, QTableWidgetItem(value))
        self.table.setCurrentCell(row, 0)

    def nodes(self) -> list[DicomNode]:
        """The table's nodes; NetworkError naming the first row that is not a valid node."""
        nodes = []
        for row in range(self.table.rowCount()):
            items = [self.table.item(row, column) for column in range(3)]
            cells = [item.text() if item is not None else "" for item in items]
            try:
                nodes.append(DicomNode(cells[0], cells[1], int(cells[2]) if cells[2].strip().isdigit() else -1))
            except NetworkError as exc:
                raise NetworkError(f"node {row + 1}: {exc}") from None
        return nodes

    def save(self) -> None:
        try:
            our_ae = ae_title(self.ae_edit.text())
            nodes = self.nodes()
        except NetworkError as exc:
            self.status.setText(str(exc))
            return
        self.settings.our_ae = our_ae
        self.settings.port = self.port_spin.value()
        self.settings.bind = self.bind_edit.text()
        self.settings.listener_enabled = self.listener_check.isChecked()
        self.settings.store_limit_gb = self.limit_spin.value()
        self.settings.nodes = nodes
        self.settings.store.sync()
        self.applied.emit()
        self.accept()

    def test_connection(self) -> None:
        """C-ECHO the selected node, in a pool thread."""
        try:
            nodes, our_ae = self.nodes(), ae_title(self.ae_edit.text())
        except NetworkError as exc:
            self.status.setText(str(exc))
            return
        row = self.table.currentRow()
        if not 0 <= row < len(nodes):
            self.status.setText("Select a node first")
            return
        node = nodes[row]
        self.status.setText(f"Testing {node}...")
        self.test_button.setEnabled(False)
        task = self.runner.start(lambda _progress, _cancel: echo(node, our_ae))
        task.signals.finished.connect(lambda seconds: self._echoed(f"{node}: success ({seconds * 1000:.0f} ms)"))
        task.signals.failed.connect(lambda message: self._echoed(f"Failed: {message}"))

    def _echoed(self, message: str) -> None:
        self.test_button.setEnabled(True)
        self.status.setText(message)
        self.echo_finished.emit(message)


class SendDialog(QDialog):
    """Send files (by default the last DICOM export: SR and SC) to a configured node."""

    send_finished = Signal(object)  # SendResult
    failed = Signal(str)

    def __init__(
        self, settings: NetworkSettings, runner: NetworkRunner, files: list[Path], parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Send to PACS")
        self.settings = settings
        self.runner = runner
        self.files = list(files)
        self.node_combo = QComboBox()
        for node in settings.nodes:
            self.node_combo.addItem(str(node), node)
        self.list = QListWidget()
        self.list.addItems([str(f) for f in self.files])
        self.send_button = QPushButton("Send")
        self.send_button.clicked.connect(self.send)
        self.send_button.setEnabled(bool(self.files) and self.node_combo.count() > 0)
        self.progress = QProgressBar()
        self.status = QLabel("" if settings.nodes else "No node configured: add one in DICOM network settings.")
        self.status.setWordWrap(True)
        layout = QVBoxLayout(self)
        form = QFormLayout()
        form.addRow("To", self.node_combo)
        layout.addLayout(form)
        layout.addWidget(self.list, 1)
        layout.addWidget(QLabel(f"NeuroReview results: {RESEARCH_ONLY}"))
        layout.addWidget(self.send_button)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        self.resize(560, 360)

    def send(self) -> None:
        node = self.node_combo.currentData()
        if not isinstance(node, DicomNode) or not self.files:
            return
        files, our_ae = self.files, self.settings.our_ae
        self.send_button.setEnabled(False)
        self.status.setText(f"Sending {len(files)} file(s) to {node}...")

        def work(progress: Any, cancel: Any) -> Any:
            return send_files(node, our_ae, files, progress=progress, cancel=cancel, via="gui")

        task = self.runner.start(work)
        task.signals.progress.connect(self._progress)
        task.signals.finished.connect(self._sent)
        task.signals.failed.connect(self._failed)

    def _progress(self, done: int, total: int) -> None:
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(done)

    def _sent(self, result: Any) -> None:
        failed = "; ".join(f"{p.name}: {reason}" for p, reason in result.failed)
        self.status.setText(f"Sent {len(result.sent)} file(s)" + (f"; not sent: {failed}" if failed else ""))
        self.send_button.setEnabled(True)
        self.send_finished.emit(result)

    def _failed(self, message: str) -> None:
        self.status.setText(f"Failed: {message}")
        self.send_button.setEnabled(True)
        self.failed.emit(message)

"""The Network menu of the main window and its wiring: Query/Retrieve, Send to PACS, settings, listener.

Kept out of the main window: it adds its menu, owns the network task pool, the listener and the
indexing of incoming studies, and is told to :meth:`shutdown` when the window closes.  pynetdicom
is imported only when a network feature is first used (or the listener starts, after the window
is shown), so it costs the window's start-up nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from PySide6.QtCore import QObject, QTimer
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QDialog, QFileDialog, QMenu

if TYPE_CHECKING:  # pragma: no cover
    from core.network import LocalStore
    from desktop_app.incoming import IncomingStudies
    from desktop_app.listener_worker import ListenerController
    from desktop_app.network_dialogs import NetworkSettingsDialog, SendDialog
    from desktop_app.network_settings import NetworkSettings
    from desktop_app.network_task import NetworkRunner
    from desktop_app.query_dialog import QueryRetrieveDialog

DialogT = TypeVar("DialogT", bound=QDialog)
GB = 1_000_000_000


class NetworkFeatures(QObject):
    """Everything DICOM-network the workstation offers, attached to ``window`` (a MainWindow)."""

    def __init__(self, window: Any) -> None:
        super().__init__(window)
        self.window = window
        self.exported_dicom: list[Path] = []
        self.dialog: Any = None  # the dialog open now (non-modal), kept alive here
        self._settings: NetworkSettings | None = None
        self._runner: NetworkRunner | None = None
        self._listener: ListenerController | None = None
        self._incoming: IncomingStudies | None = None
        window.export_finished.connect(self._remember_export)
        self._build_menu()
        wanted = window.settings.store.value("network/listener", False)
        if str(wanted).lower() in ("1", "true", "yes"):
            QTimer.singleShot(0, self.apply_listener_setting)

    def _build_menu(self) -> None:
        bar = self.window.menuBar()
        menu = QMenu("&Network", bar)
        help_action = next((a for a in bar.actions() if a.text() == "&Help"), None)
        if help_action is not None:
            bar.insertMenu(help_action, menu)
        else:
            bar.addMenu(menu)
        for text, slot in (
            ("Query / Retrieve from PACS...", self.open_query),
            ("Send results to PACS...", self.open_send),
            ("DICOM network settings...", self.open_settings),
        ):
            action = QAction(text, self.window)
            action.triggered.connect(lambda _checked=False, s=slot: s())
            menu.addAction(action)

    # ------------------------------------------------------------------ parts, made on first use
    @property
    def settings(self) -> NetworkSettings:
        if self._settings is None:
            from desktop_app.network_settings import NetworkSettings

            self._settings = NetworkSettings(self.window.settings.store)
        return self._settings

    @property
    def runner(self) -> NetworkRunner:
        if self._runner is None:
            from desktop_app.network_task import NetworkRunner

            self._runner = NetworkRunner()
        return self._runner

    @property
    def listener(self) -> ListenerController:
        if self._listener is None:
            from desktop_app.incoming import IncomingStudies
            from desktop_app.listener_worker import ListenerController

            self._incoming = IncomingStudies(self.window.browser, self.window.store)
            self._listener = ListenerController(self.settings)
            self._listener.studies_arrived.connect(self._incoming.add)
            self._listener.state_changed.connect(lambda text: self.window.statusBar().showMessage(text, 10000))
            self._listener.failed.connect(self._listener_failed)
        return self._listener

    def store(self) -> LocalStore:
        """The listener's store while it runs (same folder and limit), else one with the settings' limit."""
        from core.network import LocalStore

        running = self._listener.listener if self._listener is not None else None
        return running.store if running is not None else LocalStore(max_bytes=int(self.settings.store_limit_gb * GB))

    # ------------------------------------------------------------------ menu entries
    def open_query(self) -> QueryRetrieveDialog:
        from desktop_app.query_dialog import QueryRetrieveDialog

        running = self._listener.listener if self._listener is not None else None
        dialog = QueryRetrieveDialog(
            self.settings, self.runner, store=self.store(), listener=running, parent=self.window
        )
        dialog.study_retrieved.connect(lambda folder: self.window.open_paths([folder]))
        return self._show(dialog)

    def open_send(self, files: list[Path] | None = None) -> SendDialog:
        from desktop_app.network_dialogs import SendDialog

        chosen = files or self.exported_dicom
        if not chosen:
            names, _ = QFileDialog.getOpenFileNames(
                self.window, "Send to PACS", self.window.settings.export_folder, "DICOM (*.dcm);;All files (*)"
            )
            chosen = [Path(n) for n in names]
        return self._show(SendDialog(self.settings, self.runner, chosen, parent=self.window))

    def open_settings(self) -> NetworkSettingsDialog:
        from desktop_app.network_dialogs import NetworkSettingsDialog

        dialog = NetworkSettingsDialog(self.settings, self.runner, parent=self.window)
        dialog.applied.connect(self.apply_listener_setting)
        return self._show(dialog)

    def _show(self, dialog: DialogT) -> DialogT:
        self.dialog = dialog
        dialog.show()
        return dialog

    def apply_listener_setting(self) -> None:
        """Start (or restart, with new settings) or stop the listener as the settings say."""
        if self.settings.listener_enabled:
            self.listener.start()
        elif self._listener is not None:
            self._listener.stop()

    def _listener_failed(self, message: str) -> None:
        self.window.errors.add_message("listener", message)
        self.window.statusBar().showMessage(f"Listener not started: {message}", 15000)

    def _remember_export(self, written: list[Path]) -> None:
        dicom = [Path(p) for p in written if Path(p).suffix.lower() == ".dcm"]
        if dicom:
            self.exported_dicom = dicom

    def shutdown(self) -> None:
        """Cancel network tasks, stop the listener and the incoming indexer (idempotent)."""
        if self._runner is not None:
            self._runner.shutdown()
        if self._listener is not None:
            self._listener.stop()
        if self._incoming is not None:
            self._incoming.stop()

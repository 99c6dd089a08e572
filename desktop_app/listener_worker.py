"""The workstation's optional listener (Storage SCP), started from the network settings.

pynetdicom serves associations on its own threads; this controller turns what they deliver into
Qt signals (received on the GUI thread): ``instance_stored(path)`` for every object and
``studies_arrived(list of study folders)`` when an association that delivered something ends.
It accepts only the AE titles of the configured nodes.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, Signal

from core.network import LocalStore, NetworkError, NetworkLimits, StorageListener, StoredInstance
from desktop_app.network_settings import NetworkSettings

GB = 1_000_000_000


class ListenerController(QObject):
    """Start/stop the listener; ``state_changed(text)`` says what it does, ``failed(message)`` why not."""

    instance_stored = Signal(str)  # path of the stored file
    studies_arrived = Signal(list)  # study folders that received objects in one association
    state_changed = Signal(str)
    failed = Signal(str)

    def __init__(self, settings: NetworkSettings, store: LocalStore | None = None) -> None:
        super().__init__()
        self.settings = settings
        self.store = store
        self.listener: StorageListener | None = None

    @property
    def running(self) -> bool:
        return self.listener is not None and self.listener.running

    def start(self) -> bool:
        """Start with the current settings (restarting when running); False and ``failed`` when refused."""
        self.stop()
        allowed = self.settings.allowed_callers()
        if not allowed:
            self.failed.emit("the listener accepts only configured nodes: add the scanner or PACS as a node first")
            return False
        store = self.store or LocalStore(max_bytes=int(self.settings.store_limit_gb * GB))
        listener = StorageListener(
            store,
            our_ae=self.settings.our_ae,
            port=self.settings.port,
            bind=self.settings.bind,
            allowed=allowed,
            limits=NetworkLimits(),
            on_stored=self._stored,
            on_association=self._association_ended,
            via="gui",
        )
        try:
            listener.start()
        except NetworkError as exc:
            self.failed.emit(str(exc))
            return False
        self.listener = listener
        host, port = listener.address
        self.state_changed.emit(f"Listening as {listener.our_ae} on {host}:{port}")
        return True

    def stop(self) -> None:
        if self.listener is not None:
            self.listener.stop()
            self.listener = None
            self.state_changed.emit("Listener stopped")

    def _stored(self, instance: StoredInstance, _peer: str) -> None:  # a network thread
        self.instance_stored.emit(str(instance.path))

    def _association_ended(self, summary: dict[str, Any]) -> None:  # a network thread
        if self.listener is None or not summary["studies"]:
            return
        store = self.listener.store
        self.studies_arrived.emit([str(store.study_folder(uid)) for uid in summary["studies"]])

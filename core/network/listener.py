"""Our Storage SCP: receives images from scanners and PACS into the local store (PS3.4 B, C-STORE).

It binds 127.0.0.1 unless told otherwise, answers only when called by our own AE title, accepts
only the calling AE titles allowed (when a list is given), at most ``max_associations`` at once,
and only the image storage classes the viewer opens.  Every association ends in one audit entry.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from pynetdicom import evt
from pynetdicom.transport import ThreadedAssociationServer

from core.network.client import make_ae
from core.network.local_store import LocalStore, StoredInstance
from core.network.nodes import NetworkError, NetworkLimits, ae_title, port_number
from core.network.receiver import InstanceReceiver
from core.network.sop_classes import IMAGE_STORAGE, TRANSFER_SYNTAXES, VERIFICATION
from core.platform.audit_events import record_transfer

LOOPBACK = "127.0.0.1"
_log = logging.getLogger("neuroreview.network")


class StorageListener:
    """A Storage SCP (with C-ECHO) on ``bind:port`` titled ``our_ae``; ``start()`` / ``stop()``.

    ``on_stored(instance, peer_ae)`` runs on a network thread for every object stored;
    ``on_association(summary)`` after every association, with a dict of what it delivered.
    """

    def __init__(
        self,
        store: LocalStore,
        *,
        our_ae: str,
        port: int,
        bind: str = LOOPBACK,
        allowed: Iterable[str] = (),
        limits: NetworkLimits | None = None,
        on_stored: Callable[[StoredInstance, str], None] | None = None,
        on_association: Callable[[dict[str, Any]], None] | None = None,
        via: str = "cli",
    ) -> None:
        self.store = store
        self.our_ae = ae_title(our_ae)
        self.port = port_number(port) if port else 0
        self.bind = bind
        self.allowed = [ae_title(a) for a in allowed]
        self.limits = limits or NetworkLimits()
        self.on_association = on_association
        self.via = via
        self.receiver = InstanceReceiver(store, limits=self.limits, on_stored=on_stored)
        self._server: ThreadedAssociationServer | None = None
        self._lock = threading.Lock()

    @property
    def address(self) -> tuple[str, int]:
        """(host, port) actually bound (the port chosen by the system when 0 was asked)."""
        if self._server is None:
            return self.bind, self.port
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    @property
    def running(self) -> bool:
        return self._server is not None

    def start(self) -> None:
        """Start listening (returns at once); NetworkError when the address cannot be bound."""
        with self._lock:
            if self._server is not None:
                return
            self.store.remove_partials()
            ae = make_ae(self.our_ae, self.limits)
            ae.require_called_aet = True
            ae.require_calling_aet = self.allowed
            ae.add_supported_context(VERIFICATION)
            for sop_class in IMAGE_STORAGE:
                ae.add_supported_context(sop_class, list(TRANSFER_SYNTAXES))
            handlers: list[Any] = [
                *self.receiver.handlers(),
                (evt.EVT_RELEASED, self._on_end),
                (evt.EVT_ABORTED, self._on_end),
                (evt.EVT_REJECTED, self._on_rejected),
            ]
            try:
                self._server = ae.start_server((self.bind, self.port), block=False, evt_handlers=handlers)
            except OSError as exc:
                raise NetworkError(f"cannot listen on {self.bind}:{self.port}: {exc.strerror or exc}") from exc
        host, port = self.address
        allowed = ", ".join(self.allowed) or "any calling AE title"
        _log.info("listening as %s on %s:%d (accepting %s)", self.our_ae, host, port, allowed)

    def stop(self, grace_s: float = 5.0) -> None:
        """Stop listening; associations still running get ``grace_s`` to finish, then are aborted."""
        with self._lock:
            server, self._server = self._server, None
        if server is None:
            return
        deadline = time.monotonic() + grace_s
        while server.active_associations and time.monotonic() < deadline:
            time.sleep(0.05)
        for assoc in server.active_associations:
            assoc.abort()
        server.shutdown()
        server.ae.shutdown()
        _log.info("listener %s stopped", self.our_ae)

    def _peer(self, event: Any) -> str:
        remote = event.assoc.remote
        return f"{remote.get('ae_title', '?')}@{remote.get('address', '?')}:{remote.get('port', '?')}"

    def _on_rejected(self, event: Any) -> None:
        _log.warning("rejected an association from %s (not allowed, or too many at once)", self._peer(event))
        record_transfer("received", peer=self._peer(event), via=self.via, instances=0, outcome="rejected")

    def _on_end(self, event: Any) -> None:
        tally = self.receiver.tally(event.assoc, remove=True)
        outcome = "aborted" if event.event is evt.EVT_ABORTED else "released"
        summary = {
            "peer": self._peer(event),
            "outcome": outcome,
            "stored": tally.stored,
            "duplicates": tally.duplicates,
            "refused": tally.refused,
            "bytes": tally.bytes,
            "studies": sorted(tally.studies),
        }
        if tally.stored or tally.duplicates or tally.refused or outcome == "aborted":
            record_transfer(
                "received",
                peer=str(summary["peer"]),
                via=self.via,
                instances=tally.stored,
                outcome=outcome,
                studies=tally.studies,
                duplicates=tally.duplicates,
                refused=tally.refused,
                bytes=tally.bytes,
            )
        if self.on_association is not None:
            self.on_association(summary)

"""The C-STORE handler shared by our listener (Storage SCP) and our C-GET: check, store, count.

Each incoming object is decoded and checked (its UIDs agree with the request and are UIDs, it
has pixel data, its SOP class is one we accept) before it goes to the :class:`LocalStore`.
A refused object gets a DIMSE failure status with a short error comment and one log line;
nothing is raised into pynetdicom.  An association that sends more than
``NetworkLimits.max_dataset_bytes`` for one message is aborted while it sends.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from pydicom.dataset import Dataset
from pynetdicom import evt
from pynetdicom.dsutils import encode_file_meta

from core.network.local_store import STATUS_OUT_OF_RESOURCES, LocalStore, StoredInstance, StoreRefused
from core.network.nodes import NetworkLimits
from core.network.sop_classes import IMAGE_STORAGE, sop_class_name
from core.platform.audit import pseudonym

# PS3.4 B.2.3 (Storage) and PS3.7 C (general) status codes
STATUS_SUCCESS = 0x0000
STATUS_SOP_CLASS_NOT_SUPPORTED = 0x0122
STATUS_DOES_NOT_MATCH_SOP_CLASS = 0xA900
STATUS_CANNOT_UNDERSTAND = 0xC000
_PIXEL_KEYWORDS = ("PixelData", "FloatPixelData", "DoubleFloatPixelData")
_P_DATA_TF = 0x04
_log = logging.getLogger("neuroreview.network")


@dataclass
class Tally:
    """What one association delivered."""

    stored: int = 0
    duplicates: int = 0
    refused: int = 0
    bytes: int = 0
    studies: set[str] = field(default_factory=set)
    reasons: list[str] = field(default_factory=list)


def _status(code: int, comment: str) -> Dataset:
    status = Dataset()
    status.Status = code
    status.ErrorComment = comment[:64]  # LO
    return status


class InstanceReceiver:
    """Bind :meth:`handlers` to an AE or association to receive objects into ``store``.

    ``on_stored(instance, peer_ae)`` runs on pynetdicom's thread after each stored object.
    """

    def __init__(
        self,
        store: LocalStore,
        *,
        limits: NetworkLimits | None = None,
        accepted: Iterable[str] = IMAGE_STORAGE,
        on_stored: Callable[[StoredInstance, str], None] | None = None,
    ) -> None:
        self.store = store
        self.limits = limits or NetworkLimits()
        self.accepted = frozenset(str(u) for u in accepted)
        self.on_stored = on_stored
        self._lock = threading.Lock()
        # keyed by the association object itself (weakly): an id() could be reused by a later one
        self._tallies: weakref.WeakKeyDictionary[Any, Tally] = weakref.WeakKeyDictionary()
        self._pending: weakref.WeakKeyDictionary[Any, int] = weakref.WeakKeyDictionary()  # bytes of this message
        self._oversize: weakref.WeakSet[Any] = weakref.WeakSet()  # sent an object over the limit

    def handlers(self) -> list[tuple[Any, Callable[..., Any]]]:
        return [
            (evt.EVT_C_STORE, self._on_c_store),
            (evt.EVT_DATA_RECV, self._on_data),
            (evt.EVT_DIMSE_RECV, self._on_message),
        ]

    def tally(self, assoc: object, *, remove: bool = False) -> Tally:
        """What ``assoc`` delivered so far (``remove``: and forget it)."""
        with self._lock:
            if remove:
                self._pending.pop(assoc, None)
                return self._tallies.pop(assoc, Tally())
            return self._tallies.setdefault(assoc, Tally())

    def _on_data(self, event: Any) -> None:
        data: bytes = event.data
        if not data or data[0] != _P_DATA_TF:
            return
        key = event.assoc
        with self._lock:
            pending = self._pending.get(key, 0) + len(data)
            self._pending[key] = pending
            first = pending > self.limits.max_dataset_bytes and key not in self._oversize
            if first:
                self._oversize.add(key)
        if first:
            _log.warning(
                "aborting the association with %s: one object exceeds the limit of %s bytes",
                event.assoc.remote.get("ae_title", "?"),
                f"{self.limits.max_dataset_bytes:,}",
            )
            event.assoc.abort()

    def _on_message(self, event: Any) -> None:
        with self._lock:
            self._pending[event.assoc] = 0

    def _refuse(self, event: Any, code: int, reason: str) -> Dataset:
        sop_class = sop_class_name(str(getattr(event.request, "AffectedSOPClassUID", "") or "?"))
        peer = event.assoc.remote.get("ae_title", "?")
        _log.warning("refused %s from %s: %s (status 0x%04X)", sop_class, peer, reason, code)
        with self._lock:
            tally = self._tallies.setdefault(event.assoc, Tally())
            tally.refused += 1
            tally.reasons.append(reason)
        return _status(code, reason)

    def _on_c_store(self, event: Any) -> int | Dataset:
        request = event.request
        sop_class = str(request.AffectedSOPClassUID or "")
        sop_uid = str(request.AffectedSOPInstanceUID or "")
        with self._lock:
            oversize = event.assoc in self._oversize
        if oversize:  # the abort is on its way; the object may have arrived complete before it
            return self._refuse(event, STATUS_OUT_OF_RESOURCES, "object larger than the dataset size limit")
        if sop_class not in self.accepted:
            return self._refuse(event, STATUS_SOP_CLASS_NOT_SUPPORTED, "SOP class not accepted here")
        try:
            ds = event.dataset  # parses every element's tag and length: a broken structure raises here
            study, series = str(ds.StudyInstanceUID), str(ds.SeriesInstanceUID)
            own_class, own_uid = str(ds.SOPClassUID), str(ds.SOPInstanceUID)
        except Exception as exc:  # any decoding failure of a peer's bytes is a refusal, not a crash
            return self._refuse(event, STATUS_CANNOT_UNDERSTAND, f"dataset cannot be decoded ({type(exc).__name__})")
        if own_class != sop_class or own_uid != sop_uid:
            return self._refuse(event, STATUS_DOES_NOT_MATCH_SOP_CLASS, "dataset UIDs differ from the request")
        if not any(k in ds for k in _PIXEL_KEYWORDS):
            return self._refuse(event, STATUS_DOES_NOT_MATCH_SOP_CLASS, "image object without pixel data")
        try:
            with event.request.DataSet.getbuffer() as body:  # the received bytes, not a copy
                header = b"\x00" * 128 + b"DICM" + encode_file_meta(event.file_meta)
                stored = self.store.put([header, body], study, series, sop_uid)
        except StoreRefused as exc:
            return self._refuse(event, exc.status, str(exc))
        peer = str(event.assoc.remote.get("ae_title", ""))
        with self._lock:
            tally = self._tallies.setdefault(event.assoc, Tally())
            tally.studies.add(study)
            if stored.duplicate:
                tally.duplicates += 1
            else:
                tally.stored += 1
                tally.bytes += stored.size
        _log.info("received %s %s from %s", sop_class_name(sop_class), pseudonym(sop_uid), peer)
        if self.on_stored is not None:
            try:
                self.on_stored(stored, peer)
            except Exception:  # the object is stored; a failing observer must not turn that into a refusal
                _log.exception("after receiving %s", pseudonym(sop_uid))
        return STATUS_SUCCESS

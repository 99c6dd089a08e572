"""Retrieving one study into the local store: C-GET, or C-MOVE to our own listener (PS3.4 C.4.2-C.4.3).

C-GET brings the objects back on the same association (the node must support it); C-MOVE asks the
node to send them to our AE title, which the node must know with our host and port, while a
:class:`StorageListener` receives them.  Objects arrive through the same checks as the listener's
(:class:`InstanceReceiver`); what arrived complete is kept when the transfer is cancelled or
aborted, and nothing partial is left.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from pydicom.dataset import Dataset
from pynetdicom import build_role
from pynetdicom.association import Association

from core.network.client import association, make_ae, require_context
from core.network.listener import StorageListener
from core.network.local_store import LocalStore, StoredInstance, is_uid
from core.network.nodes import DicomNode, NetworkError, NetworkLimits
from core.network.query import QueryError
from core.network.receiver import InstanceReceiver
from core.network.sop_classes import IMAGE_STORAGE, STUDY_ROOT_GET, STUDY_ROOT_MOVE, TRANSFER_SYNTAXES
from core.platform.audit_events import record_transfer

Progress = Callable[[int, int | None], None]  # objects received, total announced by the node (None: unknown)
_PENDING = (0xFF00, 0xFF01)
_CANCELLED = 0xFE00


@dataclass
class RetrieveResult:
    """What a retrieval brought: new files, identical files already there, and what failed."""

    study_uid: str
    folder: Path
    stored: list[Path] = field(default_factory=list)
    duplicates: int = 0
    refused: int = 0
    failed_on_node: int = 0
    cancelled: bool = False
    status: int | None = None
    bytes: int = 0

    @property
    def files(self) -> int:
        return len(self.stored) + self.duplicates

    def summary(self) -> str:
        parts = [f"{len(self.stored)} new", f"{self.duplicates} already there"]
        if self.refused or self.failed_on_node:
            parts.append(f"{self.refused + self.failed_on_node} failed")
        return ", ".join(parts) + (" (cancelled)" if self.cancelled else "")


class _Collector:
    """Counts arrivals, reports progress and honours cancel, on the network thread."""

    def __init__(self, result: RetrieveResult, progress: Progress | None, cancel: Callable[[], bool] | None) -> None:
        self.result = result
        self.progress = progress
        self.cancel = cancel
        self.total: int | None = None
        self.lock = threading.Lock()

    def stored(self, instance: StoredInstance, _peer: str) -> None:
        with self.lock:
            if instance.duplicate:
                self.result.duplicates += 1
            else:
                self.result.stored.append(instance.path)
                self.result.bytes += instance.size
            done = self.result.files
        if self.progress is not None:
            self.progress(done, self.total)

    def on_status(self, status: Dataset) -> None:
        counts = [int(status.get(k) or 0) for k in (
            "NumberOfRemainingSuboperations", "NumberOfCompletedSuboperations",
            "NumberOfFailedSuboperations", "NumberOfWarningSuboperations",
        )]  # fmt: skip
        if "NumberOfRemainingSuboperations" in status and self.total is None:
            self.total = sum(counts)
            if self.progress is not None:
                self.progress(self.result.files, self.total)

    def cancelled(self) -> bool:
        return self.cancel is not None and self.cancel()


def fast_polling(assoc: Association) -> None:
    """Let the association's network thread poll without pausing while a retrieval runs.

    pynetdicom's network loop sleeps 1 ms whenever it finds nothing to do (its ``_run_loop_delay``,
    which its own comments name as the knob between idle CPU and latency); a retrieval meets that
    pause at every object and between TCP segments (the measured gain is in docs/dicom-network.md).
    The association ends with the retrieval, so the busier loop lasts only as long.
    """
    if hasattr(assoc.dul, "_run_loop_delay"):
        assoc.dul._run_loop_delay = 0.0


def _identifier(study_uid: str) -> Dataset:
    if not is_uid(study_uid):
        raise QueryError(f"not a UID: {study_uid!r} (a Study Instance UID is digits and dots)")
    ds = Dataset()
    ds.QueryRetrieveLevel = "STUDY"
    ds.StudyInstanceUID = study_uid
    return ds


def _finish(result: RetrieveResult, code: int | None, final: Dataset | None, node: DicomNode, via: str) -> None:
    result.status = code
    if final is not None:
        result.failed_on_node = int(final.get("NumberOfFailedSuboperations") or 0)
    outcome = "cancelled" if result.cancelled else ("completed" if code in (0x0000, 0xB000) else "failed")
    record_transfer(
        "retrieved", peer=str(node), via=via, instances=len(result.stored), outcome=outcome,
        studies=[result.study_uid], duplicates=result.duplicates, refused=result.refused, bytes=result.bytes,
    )  # fmt: skip


def _responses(
    result: RetrieveResult, collector: _Collector, responses: Iterable[tuple[Dataset, object]], assoc: Association
) -> tuple[int | None, Dataset | None]:
    """Walk the C-GET/C-MOVE responses; abort on cancel.  Returns (final status, final response)."""
    code: int | None = None
    final: Dataset | None = None
    for status, _ in responses:
        if result.cancelled or collector.cancelled():
            result.cancelled = True
            assoc.abort()  # blocking here (not in a handler): the association is closed when it returns
            break
        if "Status" not in status:
            raise NetworkError("the node stopped answering during the retrieval")
        code = int(status.Status)
        collector.on_status(status)
        if code not in _PENDING:
            final = status
    if code == _CANCELLED:
        result.cancelled = True
    return code, final


def retrieve_study(
    node: DicomNode,
    our_ae: str,
    study_uid: str,
    store: LocalStore,
    *,
    limits: NetworkLimits | None = None,
    progress: Progress | None = None,
    cancel: Callable[[], bool] | None = None,
    via: str = "cli",
) -> RetrieveResult:
    """C-GET study ``study_uid`` from ``node`` into ``store``."""
    limits = limits or NetworkLimits()
    identifier = _identifier(study_uid)
    result = RetrieveResult(study_uid, store.study_folder(study_uid))
    collector = _Collector(result, progress, cancel)

    # Cancel takes effect at the node's next pending response (sent after each object by Orthanc, DCMTK
    # and pynetdicom), never inside the C-STORE handler: pynetdicom's state machine stops for good when
    # an abort overtakes the handler's response, and the retrieval would then hang until the DIMSE timeout.
    receiver = InstanceReceiver(store, limits=limits, on_stored=collector.stored)
    ae = make_ae(our_ae, limits)
    ae.add_requested_context(STUDY_ROOT_GET)
    for sop_class in IMAGE_STORAGE:
        ae.add_requested_context(sop_class, list(TRANSFER_SYNTAXES))
    roles = [build_role(sop_class, scp_role=True) for sop_class in IMAGE_STORAGE]
    store.remove_partials()
    code: int | None = None
    final: Dataset | None = None
    try:
        with association(ae, node, ext_neg=roles, evt_handlers=receiver.handlers()) as assoc:
            require_context(assoc, STUDY_ROOT_GET, "C-GET (try --move)", node)
            fast_polling(assoc)
            responses = assoc.send_c_get(identifier, STUDY_ROOT_GET)
            code, final = _responses(result, collector, responses, assoc)
            result.refused = receiver.tally(assoc).refused
    finally:
        _finish(result, code, final, node, via)
    _raise_unless_done(result, code, final, node)
    return result


def move_study(
    node: DicomNode,
    our_ae: str,
    study_uid: str,
    listener: StorageListener,
    *,
    limits: NetworkLimits | None = None,
    progress: Progress | None = None,
    cancel: Callable[[], bool] | None = None,
    via: str = "cli",
    settle_s: float = 10.0,
) -> RetrieveResult:
    """C-MOVE study ``study_uid`` from ``node`` to ``listener`` (started here when not running)."""
    limits = limits or NetworkLimits()
    identifier = _identifier(study_uid)
    result = RetrieveResult(study_uid, listener.store.study_folder(study_uid))
    collector = _Collector(result, progress, cancel)
    previous = listener.receiver.on_stored
    started_here = not listener.running

    def stored(instance: StoredInstance, peer: str) -> None:
        if instance.study_uid == study_uid and peer == node.ae_title:
            collector.stored(instance, peer)
        if previous is not None:
            previous(instance, peer)

    listener.receiver.on_stored = stored
    code: int | None = None
    final: Dataset | None = None
    try:
        listener.start()
        ae = make_ae(our_ae, limits)
        ae.add_requested_context(STUDY_ROOT_MOVE)
        with association(ae, node) as assoc:
            require_context(assoc, STUDY_ROOT_MOVE, "C-MOVE", node)
            responses = assoc.send_c_move(identifier, listener.our_ae, STUDY_ROOT_MOVE)
            code, final = _responses(result, collector, responses, assoc)
        completed = int(final.get("NumberOfCompletedSuboperations") or 0) if final is not None else 0
        deadline = time.monotonic() + settle_s  # the node's storage association may still be closing
        while result.files < completed and time.monotonic() < deadline and not collector.cancelled():
            time.sleep(0.02)
    finally:
        listener.receiver.on_stored = previous
        if started_here:
            listener.stop()
        _finish(result, code, final, node, via)
    _raise_unless_done(result, code, final, node)
    return result


def _raise_unless_done(result: RetrieveResult, code: int | None, final: Dataset | None, node: DicomNode) -> None:
    if result.cancelled or code in (0x0000, 0xB000):
        return
    if code is None:
        raise NetworkError(f"{node} sent no answer to the retrieval")
    comment = final.get("ErrorComment", "") if final is not None else ""
    raise NetworkError(
        f"{node} ended the retrieval with status 0x{code:04X} {comment} ({result.summary()})".replace("  ", " ")
    )

"""Opening associations with a configured node, with readable errors (PS3.8 7.1, A-ASSOCIATE).

Every association NeuroReview requests goes through :func:`associate`: to the node the user
named, with the limits of :class:`NetworkLimits`.  A refused connection, a timeout or a rejection
becomes a :class:`NetworkError` saying which, and why when the peer said why.
"""

from __future__ import annotations

import contextlib
import logging
import socket
from collections.abc import Iterator, Sequence
from typing import Any

from pynetdicom import AE
from pynetdicom.association import Association

from core.network.nodes import DicomNode, NetworkError, NetworkLimits, ae_title

logging.getLogger("pynetdicom").addHandler(logging.NullHandler())  # our own log lines say what happened

# PS3.8 Table 9-21: (source, reason) of an A-ASSOCIATE-RJ
_REJECT_REASONS = {
    (1, 1): "no reason given",
    (1, 2): "application context not supported",
    (1, 3): "our AE title is not known to it (add it to the node's configuration)",
    (1, 7): "it does not answer to the AE title we called (check the node's AE title)",
    (2, 1): "no reason given",
    (2, 2): "protocol version not supported",
    (3, 1): "temporarily congested",
    (3, 2): "too many associations at once (local limit exceeded)",
}


def make_ae(our_ae: str, limits: NetworkLimits) -> AE:
    """An application entity titled ``our_ae`` with the timeouts and PDU size of ``limits``."""
    ae = AE(ae_title=ae_title(our_ae))
    ae.acse_timeout = limits.acse_timeout_s
    ae.dimse_timeout = limits.dimse_timeout_s
    ae.network_timeout = limits.network_timeout_s
    ae.connection_timeout = limits.connect_timeout_s
    ae.maximum_pdu_size = limits.max_pdu
    ae.maximum_associations = limits.max_associations
    return ae


def rejection_reason(assoc: Association) -> str:
    primitive = assoc.acceptor.primitive
    source = getattr(primitive, "result_source", None)
    reason = getattr(primitive, "diagnostic", None)
    return _REJECT_REASONS.get((int(source or 0), int(reason or 0)), f"source {source}, reason {reason}")


def associate(
    ae: AE,
    node: DicomNode,
    *,
    ext_neg: Sequence[Any] | None = None,
    evt_handlers: Sequence[tuple[Any, Any]] | None = None,
) -> Association:
    """An established association with ``node``; NetworkError when none could be made."""
    assoc = ae.associate(
        node.host,
        node.port,
        ae_title=node.ae_title,
        ext_neg=list(ext_neg) if ext_neg else None,
        evt_handlers=list(evt_handlers) if evt_handlers else None,
    )
    if assoc.is_established:
        return assoc
    if assoc.is_rejected:
        raise NetworkError(f"{node} rejected the association: {rejection_reason(assoc)}")
    reachable = _reachable(node, ae.connection_timeout or 10.0)
    if reachable is not None:
        raise NetworkError(f"no connection to {node}: {reachable} (is the node running, and are host and port right?)")
    raise NetworkError(
        f"{node} did not complete the association (aborted, or no answer within {ae.acse_timeout:.0f} s)"
    )


def _reachable(node: DicomNode, timeout: float) -> str | None:
    """Why a TCP connection to ``node`` fails, or None when it opens (then DICOM itself failed)."""
    try:
        with socket.create_connection((node.host, node.port), timeout=timeout):
            return None
    except ConnectionRefusedError:
        return "connection refused"
    except TimeoutError:
        return f"no answer within {timeout:.0f} s"
    except OSError as exc:
        return exc.strerror or str(exc)


@contextlib.contextmanager
def association(
    ae: AE,
    node: DicomNode,
    *,
    ext_neg: Sequence[Any] | None = None,
    evt_handlers: Sequence[tuple[Any, Any]] | None = None,
) -> Iterator[Association]:
    """:func:`associate`, released at the end (aborted when the block raised)."""
    assoc = associate(ae, node, ext_neg=ext_neg, evt_handlers=evt_handlers)
    try:
        yield assoc
    except BaseException:
        assoc.abort()
        raise
    else:
        if assoc.is_established and not assoc.is_aborted:
            assoc.release()
    finally:
        ae.shutdown()


def require_context(assoc: Association, abstract_syntax: str, what: str, node: DicomNode) -> None:
    """NetworkError unless ``node`` accepted ``abstract_syntax`` (e.g. it does not support C-GET)."""
    if not any(cx.abstract_syntax == abstract_syntax for cx in assoc.accepted_contexts):
        raise NetworkError(f"{node} does not accept {what}")

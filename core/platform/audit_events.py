"""One-line audit calls for the CLI and the GUI: what was opened, classified and exported.

Each function appends one entry to the hash-chained audit log (:class:`core.platform.audit.AuditLog`) and
writes one line to the application log.  Files are named only by :func:`core.platform.audit.pseudonym`
(salted hashes), never by path or patient identifiers.  An audit log that cannot be written is
reported in the application log and never stops the user's work.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from typing import Any

from core.platform.audit import AuditLog, pseudonym

_log = logging.getLogger("neuroreview.audit")


def _files(paths: Iterable[str | os.PathLike[str]]) -> list[str]:
    return sorted({pseudonym(os.fspath(p)) for p in paths})


def _record(event: str, **details: Any) -> None:
    try:
        AuditLog().record(event, **details)
    except OSError as exc:  # a full disk or a read-only profile must not stop the review
        _log.warning("audit log not written (%s): %s", event, exc.strerror or exc)
        return
    summary = ", ".join(f"{k}={v}" for k, v in details.items() if not isinstance(v, list))
    _log.info("%s: %s", event, summary)


def record_opened(files: Iterable[str | os.PathLike[str]], *, slices: int, errors: int, via: str) -> None:
    """Files indexed (``via``: "cli" or "gui"), with the number of slices and of unreadable files."""
    names = _files(files)
    _record("opened", via=via, file_count=len(names), files=names, slices=slices, errors=errors)


def record_classified(
    files: Iterable[str | os.PathLike[str]], *, slices: int, weights_sha256: str, device: str, precision: str, via: str
) -> None:
    """Slices classified by the weights with ``weights_sha256`` on ``device``."""
    names = _files(files)
    _record(
        "classified",
        via=via,
        file_count=len(names),
        files=names,
        slices=slices,
        weights_sha256=weights_sha256,
        device=device,
        precision=precision,
    )


def record_exported(kind: str, targets: Iterable[str | os.PathLike[str]], *, via: str, **details: Any) -> None:
    """Results written (``kind``: "rows", "heatmaps", "pdf", "dicom", ...) to ``targets``."""
    names = _files(targets)
    _record("exported", via=via, kind=kind, target_count=len(names), targets=names, **details)


def record_transfer(
    direction: str,
    *,
    peer: str,
    via: str,
    instances: int,
    outcome: str,
    studies: Iterable[str] = (),
    **details: Any,
) -> None:
    """A DICOM network transfer (``direction``: "received", "retrieved", "sent") with ``peer`` (AE@host:port).

    Study UIDs are recorded as pseudonyms; ``outcome`` says how the association ended.
    """
    names = sorted({pseudonym(s) for s in studies})
    _record(
        "transfer",
        via=via,
        direction=direction,
        peer=peer,
        instances=instances,
        outcome=outcome,
        studies=names,
        **details,
    )

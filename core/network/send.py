"""Sending DICOM files to a configured node (C-STORE SCU, PS3.4 B.2): our SR and SC results, or any image.

Files and folders are walked (hidden entries skipped); each file's header names its SOP class and
transfer syntax, and one association proposes exactly those.  A file that is not DICOM, or whose
class the node does not accept, is reported and the others are still sent.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from pydicom import dcmread
from pydicom.errors import InvalidDicomError

from core.network.client import association, make_ae
from core.network.nodes import DicomNode, NetworkError, NetworkLimits
from core.platform.audit_events import record_transfer

MAX_CONTEXTS = 128  # PS3.8 9.3.2.2: presentation context IDs are odd numbers 1-255


@dataclass
class SendResult:
    sent: list[Path] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)
    cancelled: bool = False
    bytes: int = 0


def walk(paths: Iterable[Path]) -> Iterator[Path]:
    """Files given, and the files inside folders given (sorted, hidden entries skipped)."""
    for path in paths:
        if path.is_dir():
            for folder, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                yield from (Path(folder) / f for f in sorted(files) if not f.startswith("."))
        else:
            yield path


def _header(path: Path) -> tuple[str, str]:
    """(SOP Class UID, transfer syntax UID) of a Part 10 file; ValueError when it is none."""
    try:
        ds = dcmread(path, stop_before_pixels=True, specific_tags=["SOPClassUID", "SOPInstanceUID"])
        sop_class, ts = str(ds.file_meta.MediaStorageSOPClassUID), str(ds.file_meta.TransferSyntaxUID)
    except (InvalidDicomError, AttributeError, OSError, EOFError, KeyError) as exc:
        raise ValueError(f"not a DICOM Part 10 file ({type(exc).__name__})") from exc
    return sop_class, ts


def send_files(
    node: DicomNode,
    our_ae: str,
    paths: Iterable[Path],
    *,
    limits: NetworkLimits | None = None,
    progress: Callable[[int, int], None] | None = None,
    cancel: Callable[[], bool] | None = None,
    via: str = "cli",
) -> SendResult:
    """C-STORE every DICOM file under ``paths`` to ``node``; NetworkError when none could be sent."""
    limits = limits or NetworkLimits()
    result = SendResult()
    contexts: dict[str, set[str]] = {}
    todo: list[Path] = []
    for path in walk(Path(p) for p in paths):
        try:
            sop_class, ts = _header(path)
        except ValueError as exc:
            result.failed.append((path, str(exc)))
            continue
        contexts.setdefault(sop_class, set()).add(ts)
        todo.append(path)
    if not todo:
        raise NetworkError("nothing to send: no DICOM file among the paths given")
    if len(contexts) > MAX_CONTEXTS:
        raise NetworkError(f"too many different SOP classes for one association ({len(contexts)})")
    ae = make_ae(our_ae, limits)
    for sop_class, syntaxes in contexts.items():
        ae.add_requested_context(sop_class, sorted(syntaxes))
    outcome = "failed"
    try:
        with association(ae, node) as assoc:
            accepted = {str(cx.abstract_syntax) for cx in assoc.accepted_contexts}
            for done, path in enumerate(todo, start=1):
                if cancel is not None and cancel():
                    result.cancelled = True
                    break
                _send_one(assoc, path, accepted, result)
                if progress is not None:
                    progress(done, len(todo))
        outcome = "cancelled" if result.cancelled else ("completed" if not result.failed else "partial")
    finally:
        record_transfer(
            "sent", peer=str(node), via=via, instances=len(result.sent), outcome=outcome,
            failed=len(result.failed), bytes=result.bytes,
        )  # fmt: skip
    return result


def _send_one(assoc: object, path: Path, accepted: set[str], result: SendResult) -> None:
    sop_class, _ts = _header(path)
    if sop_class not in accepted:
        result.failed.append((path, "the node does not accept this SOP class"))
        return
    try:
        status = assoc.send_c_store(path)  # type: ignore[attr-defined]
    except (ValueError, OSError, InvalidDicomError) as exc:
        result.failed.append((path, str(exc)))
        return
    if "Status" not in status:
        raise NetworkError("the node stopped answering while files were being sent")
    code = int(status.Status)
    if code in (0x0000, 0xB000, 0xB006, 0xB007):
        result.sent.append(path)
        result.bytes += path.stat().st_size
    else:
        comment = status.get("ErrorComment", "")
        result.failed.append((path, f"refused with status 0x{code:04X} {comment}".rstrip()))

"""Decode pixel data in a helper process, for decoders that can kill the process they run in.

GDCM (the only installed decoder for JPEG Lossless, Process 14) throws a C++ exception that nobody
catches on some damaged streams, and the C++ runtime then aborts the whole process: the workstation
or a batch run would vanish without a message.  Frames that need GDCM are therefore decoded in one
long-lived helper process (``spawn``, safe beside Qt's threads, ending with the application).  If the
helper dies, the frame gets a clear :class:`DecoderCrashedError`, the next request starts a fresh
helper, and the application goes on.
"""

from __future__ import annotations

import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

from numpy.typing import NDArray

from core.platform.helper_process import one_worker_executor

_lock = threading.Lock()
_executor: ProcessPoolExecutor | None = None


class DecoderCrashedError(RuntimeError):
    """The helper process died while decoding (the decoder aborted on damaged data)."""


def decode_stored_values(path: Path, frame: int, tsyntax: str, full_read: bool, plugin: str) -> NDArray[Any]:
    """Stored values of one frame, decoded by pydicom with ``plugin`` in this process."""
    import pydicom
    from pydicom.pixels.utils import pixel_array
    from pydicom.uid import UID

    if full_read:
        ds = pydicom.dcmread(path, force=True)
        ds.file_meta.TransferSyntaxUID = UID(tsyntax)
        return pixel_array(ds, index=frame, decoding_plugin=plugin)
    return pixel_array(path, index=frame, transfer_syntax_uid=tsyntax, decoding_plugin=plugin)


def _decode_in_helper(path: str, frame: int, tsyntax: str, full_read: bool, plugin: str) -> NDArray[Any]:
    """Runs in the helper; decoder errors come back as built-in exceptions that always unpickle."""
    try:
        return decode_stored_values(Path(path), frame, tsyntax, full_read, plugin)
    except (FileNotFoundError, PermissionError):
        raise
    except Exception as exc:
        raise RuntimeError(f"{type(exc).__name__}: {exc}") from None


def _helper() -> ProcessPoolExecutor:
    global _executor
    with _lock:
        if _executor is None:
            _executor = one_worker_executor()
        return _executor


def _discard(broken: ProcessPoolExecutor) -> None:
    global _executor
    with _lock:
        if _executor is broken:
            _executor = None
    broken.shutdown(wait=False, cancel_futures=True)


def decode_stored_values_isolated(path: Path, frame: int, tsyntax: str, full_read: bool, plugin: str) -> NDArray[Any]:
    """:func:`decode_stored_values` in the helper process; raises DecoderCrashedError if the helper dies."""
    executor = _helper()
    try:
        return executor.submit(_decode_in_helper, str(path), frame, str(tsyntax), full_read, plugin).result()
    except BrokenProcessPool as exc:
        _discard(executor)
        raise DecoderCrashedError(f"the {plugin} decoder crashed on this file") from exc


def shutdown_helper() -> None:
    """Stop the helper process (a later decode starts a new one)."""
    global _executor
    with _lock:
        executor, _executor = _executor, None
    if executor is not None:
        executor.shutdown(wait=True, cancel_futures=True)

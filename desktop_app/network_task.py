"""Network work off the GUI thread: one :class:`NetworkTask` per echo, search, retrieval or send.

The task runs a plain function from ``core.network`` in a thread pool and reports through its
``signals``: ``progress(done, total)`` (total -1 while unknown), ``finished(result)``,
``failed(message)`` or ``cancelled()``.  ``cancel()`` asks the function to stop at its next
step; what arrived complete stays.  Slots connected to the signals run on the GUI thread.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

# work(progress, cancelled) -> result; progress(done, total or None)
Work = Callable[[Callable[[int, int | None], None], Callable[[], bool]], Any]


class NetworkSignals(QObject):
    progress = Signal(int, int)
    finished = Signal(object)
    failed = Signal(str)
    cancelled = Signal()


class NetworkTask(QRunnable):
    """Runs ``work`` once; never raises into the pool (every error becomes ``failed``)."""

    def __init__(self, work: Work) -> None:
        super().__init__()
        self.setAutoDelete(False)  # the owner keeps it to cancel it and to read its signals
        self.work = work
        self.signals = NetworkSignals()
        self._cancel = threading.Event()
        self.done = threading.Event()

    def cancel(self) -> None:
        self._cancel.set()

    def _progress(self, done: int, total: int | None) -> None:
        self.signals.progress.emit(done, -1 if total is None else total)

    def run(self) -> None:
        try:
            result = self.work(self._progress, self._cancel.is_set)
        except Exception as exc:  # NetworkError and anything unexpected alike: a message, never a crash
            self.signals.failed.emit(str(exc) or type(exc).__name__)
        else:
            if self._cancel.is_set() and getattr(result, "cancelled", True):
                self.signals.cancelled.emit()
            self.signals.finished.emit(result)
        finally:
            self.done.set()


class NetworkRunner:
    """A small private pool for network tasks, so a slow node never holds up the global pool."""

    def __init__(self, threads: int = 2) -> None:
        self.pool = QThreadPool()
        self.pool.setMaxThreadCount(threads)
        self._tasks: list[NetworkTask] = []

    def start(self, work: Work) -> NetworkTask:
        task = NetworkTask(work)
        self._tasks = [t for t in self._tasks if not t.done.is_set()] + [task]
        self.pool.start(task)
        return task

    def shutdown(self, timeout_ms: int = 10000) -> None:
        """Cancel every task and wait for them (each stops at its next step)."""
        for task in self._tasks:
            task.cancel()
        self.pool.waitForDone(timeout_ms)

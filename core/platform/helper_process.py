"""Helper processes that never outlive the process that started them.

A ``spawn`` worker of :class:`~concurrent.futures.ProcessPoolExecutor` waits on its task queue, and it
holds both ends of that queue's pipe, so it never sees the parent go: if the application is killed or
crashes, the worker (with a decoder, or TensorFlow and the model) stays behind.  Workers made here watch
the parent's sentinel (:func:`multiprocessing.parent_process`) and end as soon as it has gone.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from concurrent.futures import ProcessPoolExecutor


def _exit_with_parent() -> None:
    """Executor initializer, run in the worker: end this process once its parent has ended."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        parent.join()
        os._exit(0)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def one_worker_executor() -> ProcessPoolExecutor:
    """A one-worker ``spawn`` executor (safe beside Qt's threads) whose worker ends with this process."""
    return ProcessPoolExecutor(
        max_workers=1, mp_context=multiprocessing.get_context("spawn"), initializer=_exit_with_parent
    )

"""The classifier in a helper process, so that loading TensorFlow never freezes the window.

Importing TensorFlow runs long stretches of native code that hold the interpreter lock (ml_dtypes
registering its numpy loops, for one); from a worker thread of the GUI process that froze the event
loop visibly.  :class:`ClassifierProcess` loads
:class:`core.model.classifier.Classifier` in one long-lived ``spawn`` process instead and forwards
``predict`` to it, so the GUI process never imports TensorFlow.  Slices and predictions cross the
boundary pickled (kilobytes per slice, a heatmap up to a few megabytes).  If the helper dies, that
call raises :class:`ClassifierProcessError` and the next call starts and loads a fresh helper; if the
application is killed, the helper ends too (:mod:`core.platform.helper_process`).
No Qt here.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from core.model.model_config import ModelConfig
from core.model.prediction import Prediction
from core.platform.helper_process import one_worker_executor

if TYPE_CHECKING:  # pragma: no cover
    from core.model.classifier import Classifier

_loaded: Classifier | None = None  # the helper process's classifier


class ClassifierProcessError(RuntimeError):
    """The helper process holding the model stopped (crashed or was killed)."""


@dataclass(frozen=True)
class _Description:
    config: ModelConfig
    sha256: str
    device_name: str
    precision: str
    precision_reason: str


@contextmanager
def _plain_errors() -> Iterator[None]:
    """Runs in the helper: any error leaves as RuntimeError with its message, because the library's
    own error types need not unpickle in the parent."""
    try:
        yield
    except Exception as exc:
        raise RuntimeError(str(exc).strip() or type(exc).__name__) from None


def _load(folder: str | None) -> _Description:
    """Runs in the helper: load the classifier; errors come back as RuntimeError with their message."""
    global _loaded
    from core.model.classifier import Classifier

    with _plain_errors():
        _loaded = Classifier.from_folder(Path(folder) if folder is not None else None)
    return _Description(
        _loaded.config, _loaded.sha256, _loaded.device_name, _loaded.precision, _loaded.precision_reason
    )


def _predict(rendered: list[NDArray[np.uint8]], heatmap: bool | str, method: str | None) -> list[Prediction]:
    """Runs in the helper."""
    if _loaded is None:
        raise RuntimeError("the model is not loaded in the helper process")
    with _plain_errors():
        return _loaded.predict(rendered, heatmap=heatmap, method=method)


class ClassifierProcess:
    """The part of :class:`core.model.classifier.Classifier` the workstation uses, served by a helper process.

    Creating one starts the helper and loads the model there (seconds); it raises the loading error's
    message as RuntimeError, or ClassifierProcessError if the helper dies.  Thread-safe; ``close()``
    stops the helper.
    """

    def __init__(self, folder: Path | None = None) -> None:
        self._folder = str(folder) if folder is not None else None
        self._lock = threading.Lock()
        self._executor: ProcessPoolExecutor | None = None
        self._description = self._start()

    def _start(self) -> _Description:
        executor = one_worker_executor()
        try:
            description = executor.submit(_load, self._folder).result()
        except BrokenProcessPool as exc:
            executor.shutdown(wait=False, cancel_futures=True)
            raise ClassifierProcessError("the AI model's helper process stopped while loading the model") from exc
        except BaseException:
            executor.shutdown(wait=False, cancel_futures=True)
            raise
        self._executor = executor
        return description

    @property
    def config(self) -> ModelConfig:
        return self._description.config

    @property
    def sha256(self) -> str:
        return self._description.sha256

    @property
    def device_name(self) -> str:
        return self._description.device_name

    @property
    def precision(self) -> str:
        return self._description.precision

    @property
    def precision_reason(self) -> str:
        return self._description.precision_reason

    def predict(
        self, rendered: Sequence[NDArray[np.uint8]], *, heatmap: bool | str = False, method: str | None = None
    ) -> list[Prediction]:
        """:meth:`core.model.classifier.Classifier.predict` in the helper (restarted first if it had died)."""
        with self._lock:
            if self._executor is None:
                self._description = self._start()
            executor = self._executor
            assert executor is not None
            try:
                return executor.submit(_predict, list(rendered), heatmap, method).result()
            except BrokenProcessPool as exc:
                executor.shutdown(wait=False, cancel_futures=True)
                self._executor = None
                raise ClassifierProcessError(
                    "the AI model's helper process stopped unexpectedly; the next request restarts it"
                ) from exc

    def close(self) -> None:
        """Stop the helper process (idempotent)."""
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)

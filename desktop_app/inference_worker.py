"""The inference worker: owns the one Classifier, lives in its own QThread, never touches widgets.

By default the classifier itself runs in a helper process (:mod:`core.model.classifier_process`), so
TensorFlow is never imported by the GUI process.  What happens to a slice (rendering, prediction,
header rules, cache) is :class:`core.model.inference_path.InferencePath`, the same path the CLI
takes; this class only adds the thread, the signals and "latest request wins".  It reads slices
through the window's own :class:`~core.imaging.PixelStore` (one store per process).

Protocol (all signals are delivered to the GUI thread by Qt's queued connections):

* ``load_model()`` (connect it to ``QThread.started``) emits ``model_loading`` then
  ``model_ready(ModelInfo)`` or ``model_failed(message)``;
* ``submit_slice(SliceRequest)`` keeps only the latest pending slice request (rapid scrolling
  never queues stale work) and answers with ``slice_result(SliceOutcome)`` or ``error``;
* ``submit_series(SeriesRequest)`` runs a series in batches with ``series_progress`` (done,
  total, ETA seconds), ``series_slice`` per slice and ``series_finished`` or ``cancelled``;
  pending slice requests are served between batches so the viewer stays live;
* ``stop()`` from any thread ends the current job at the next batch; then quit and wait the thread.

Every answer carries the request id so the GUI can drop results for a slice it no longer shows.
An exception in a job becomes ``error(request_id, message)`` and the worker returns to idle.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from PySide6.QtCore import QObject, Signal, Slot

from core.imaging import SliceRef
from core.model.inference_path import ClassifierLike, InferencePath, SliceFailure, SliceSource
from core.model.model_config import ModelConfig
from core.model.prediction import Prediction
from core.model.result_cache import ResultCache

ClassifierFactory = Callable[[], ClassifierLike]
SERIES_BATCH = 4


@dataclass(frozen=True)
class ModelInfo:
    """What the status bar and the About box show once the model is loaded."""

    config: ModelConfig
    sha256: str
    device: str
    precision: str
    load_seconds: float


@dataclass(frozen=True)
class SliceRequest:
    request_id: int
    ref: SliceRef
    heatmap: bool | str = True
    method: str = "gradcam"


@dataclass(frozen=True)
class SeriesRequest:
    request_id: int
    refs: tuple[SliceRef, ...]


@dataclass(frozen=True)
class SliceOutcome:
    """One classified slice; ``model_input`` is the exact uint8 picture fed to the network."""

    request_id: int
    slice_key: str
    prediction: Prediction
    model_input: NDArray[np.uint8]
    from_cache: bool


def _message(exc: BaseException) -> str:
    text = str(exc).strip() or exc.__class__.__name__
    return text if len(text) < 400 else text[:400] + "..."


class InferenceWorker(QObject):
    """Runs classification jobs one at a time in the thread it was moved to."""

    model_loading = Signal()
    model_ready = Signal(object)  # ModelInfo
    model_failed = Signal(str)
    slice_result = Signal(object)  # SliceOutcome
    series_progress = Signal(int, int, int, float)  # request id, done, total, eta seconds
    series_slice = Signal(int, int, object)  # request id, slice index, Prediction
    series_finished = Signal(int, object)  # request id, {index: Prediction}
    cancelled = Signal(int)
    error = Signal(int, str)  # request id (-1: model), message
    busy_changed = Signal(bool)
    _wake = Signal()

    def __init__(
        self,
        weights_folder: Path | None = None,
        *,
        factory: ClassifierFactory | None = None,
        store: SliceSource | None = None,
        cache_size: int = 512,
    ) -> None:
        """``store``: where slices are read, normally the window's PixelStore (None: a store of its own)."""
        super().__init__()
        self._folder = weights_folder
        self._factory = factory
        self._store = store
        self._path: InferencePath | None = None
        self._load_error: str | None = None
        self._loaded = threading.Event()
        self._lock = threading.Lock()
        self._pending_slice: SliceRequest | None = None
        self._pending_series: SeriesRequest | None = None
        self._cancel = threading.Event()
        self._stopping = threading.Event()
        self.cache: ResultCache[Prediction] = ResultCache(cache_size)
        self._wake.connect(self._process)

    # ----- called from the GUI thread ------------------------------------------------------
    def submit_slice(self, request: SliceRequest) -> None:
        """Queue a slice; an older pending slice request is dropped."""
        with self._lock:
            self._pending_slice = request
        self._wake.emit()

    def submit_series(self, request: SeriesRequest) -> None:
        """Queue a series run (replacing a pending, not yet started one)."""
        with self._lock:
            self._pending_series = request
            self._cancel.clear()
        self._wake.emit()

    def cancel_series(self) -> None:
        """Stop the running series at its next batch, or drop a queued one; either way ``cancelled`` follows."""
        with self._lock:
            queued, self._pending_series = self._pending_series, None
            self._cancel.set()
        if queued is not None:
            self.cancelled.emit(queued.request_id)

    def stop(self) -> None:
        """Ask the worker to finish: the running job ends at its next batch, nothing new starts."""
        self._stopping.set()
        self._cancel.set()

    @property
    def is_loaded(self) -> bool:
        return self._path is not None

    @property
    def classifier(self) -> ClassifierLike | None:
        """The loaded classifier (None before loading, after a failed load and after :meth:`close`)."""
        return self._path.classifier if self._path is not None else None

    # ----- run in the worker thread --------------------------------------------------------
    @Slot()
    def load_model(self) -> None:
        """Create the classifier (starts its helper process); emits model_ready or model_failed."""
        if self._stopping.is_set():
            self._loaded.set()
            return
        self.model_loading.emit()
        start = time.perf_counter()
        try:
            classifier = self._factory() if self._factory is not None else self._default_factory()
        except Exception as exc:  # config, integrity, load or TensorFlow errors: the app stays a viewer
            self._load_error = _message(exc)
            self._loaded.set()
            self.model_failed.emit(self._load_error)
            self._process()
            return
        if self._store is None:  # a worker on its own (tests, tools); the window passes its store
            from core.imaging import PixelStore

            self._store = PixelStore(max_megabytes=128)
        self._path = InferencePath(classifier, self._store, cache=self.cache)
        self._loaded.set()
        self.model_ready.emit(
            ModelInfo(
                config=classifier.config,
                sha256=classifier.sha256,
                device=classifier.device_name,
                precision=classifier.precision,
                load_seconds=time.perf_counter() - start,
            )
        )
        self._process()

    def _default_factory(self) -> ClassifierLike:
        from core.model.classifier_process import ClassifierProcess  # TensorFlow loads in the helper

        return ClassifierProcess(self._folder)

    def close(self) -> None:
        """Release the classifier (stops its helper process); call after the worker's thread ended."""
        path, self._path = self._path, None
        close = getattr(path.classifier, "close", None) if path is not None else None
        if callable(close):
            close()

    def _take(self) -> SliceRequest | SeriesRequest | None:
        with self._lock:
            if self._pending_slice is not None:
                job: SliceRequest | SeriesRequest | None = self._pending_slice
                self._pending_slice = None
            else:
                job, self._pending_series = self._pending_series, None
            return job

    @Slot()
    def _process(self) -> None:
        """Drain the pending requests (slices first); returns to the event loop when idle."""
        if not self._loaded.is_set():
            return  # load_model drains the queue once the model is there
        busy = False
        while not self._stopping.is_set():
            job = self._take()
            if job is None:
                break
            if not busy:
                busy = True
                self.busy_changed.emit(True)
            if isinstance(job, SliceRequest):
                self._run_slice(job)
            else:
                self._run_series(job)
        if busy:
            self.busy_changed.emit(False)

    def _unavailable(self, request_id: int) -> bool:
        if self._path is None:
            self.error.emit(request_id, f"the AI model is not available: {self._load_error or 'not loaded'}")
            return True
        return False

    def _run_slice(self, request: SliceRequest) -> None:
        if self._unavailable(request.request_id):
            return
        assert self._path is not None
        try:
            result = self._path.classify(request.ref, heatmap=request.heatmap, method=request.method)
        except Exception as exc:  # any failure is reported and the worker stays usable
            self.error.emit(request.request_id, f"classification failed: {_message(exc)}")
            return
        assert result.model_input is not None
        outcome = SliceOutcome(
            request.request_id, request.ref.key, result.prediction, result.model_input, result.from_cache
        )
        self.slice_result.emit(outcome)

    def _run_series(self, request: SeriesRequest) -> None:
        if self._unavailable(request.request_id):
            return
        total = len(request.refs)
        results: dict[int, Prediction] = {}
        start = time.perf_counter()
        self.series_progress.emit(request.request_id, 0, total, float("nan"))
        try:
            for first in range(0, total, SERIES_BATCH):
                if self._cancel.is_set():
                    self.cancelled.emit(request.request_id)
                    return
                self._series_batch(request, first, results)
                done = min(first + SERIES_BATCH, total)
                elapsed = time.perf_counter() - start
                self.series_progress.emit(request.request_id, done, total, elapsed / done * (total - done))
                self._serve_pending_slice()
        except Exception as exc:
            self.error.emit(request.request_id, f"series classification failed: {_message(exc)}")
            return
        self.series_finished.emit(request.request_id, results)

    def _series_batch(self, request: SeriesRequest, first: int, results: dict[int, Prediction]) -> None:
        assert self._path is not None
        refs = request.refs[first : first + SERIES_BATCH]
        for index, outcome in enumerate(self._path.classify_many(refs, heatmap=False), start=first):
            if isinstance(outcome, SliceFailure):
                raise outcome.error  # an unreadable slice ends the series run with its message
            results[index] = outcome.prediction
            self.series_slice.emit(request.request_id, index, outcome.prediction)

    def _serve_pending_slice(self) -> None:
        with self._lock:
            job, self._pending_slice = self._pending_slice, None
        if job is not None:
            self._run_slice(job)

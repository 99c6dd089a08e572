"""Faults and concurrency in the review window (offscreen, tiny weights).

A probe wraps the real tiny Classifier: it counts concurrent ``predict`` calls (there must never be
two), notes the calling thread (never the GUI thread) and remembers which picture each Prediction
came from, so every result on screen can be checked against the slice actually shown.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from reliability_kit import mr_dataset, pixels, write_dicom

pytest.importorskip("pytestqt")

from PySide6.QtCore import QSettings

from desktop_app.main_window import MainWindow
from desktop_app.settings import AppSettings

pytestmark = pytest.mark.gui
GROUP = "Faults and concurrency"
GROUP_RESULTS = "Results checked against the slice shown"
WAIT_MS = 15_000
QT_THREAD_WARNING = "Destroyed while thread"


def _digest(image: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(image).tobytes()).hexdigest()


class ProbeClassifier:
    """Delegates to a real Classifier; records concurrency, threads and the input of every Prediction."""

    def __init__(self, inner: Any, delay: float = 0.0) -> None:
        self._inner = inner
        self.delay = delay
        self.active = 0
        self.max_active = 0
        self.calls = 0
        self.gui_thread_calls = 0
        self.fail_next = False
        self._lock = threading.Lock()
        self._made: dict[int, tuple[object, str]] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def predict(self, rendered: list[np.ndarray], **kwargs: Any) -> list[Any]:
        with self._lock:
            self.active += 1
            self.max_active = max(self.max_active, self.active)
            self.calls += 1
            self.gui_thread_calls += threading.current_thread() is threading.main_thread()
            fail, self.fail_next = self.fail_next, False
        try:
            time.sleep(self.delay)
            if fail:
                raise RuntimeError("simulated failure inside the worker")
            predictions = self._inner.predict(rendered, **kwargs)
            with self._lock:
                for image, prediction in zip(rendered, predictions, strict=True):
                    self._made[id(prediction)] = (prediction, _digest(image))
            return predictions
        finally:
            with self._lock:
                self.active -= 1

    def source_of(self, prediction: object) -> str | None:
        """Digest of the picture ``prediction`` was computed from (None: not made by this probe)."""
        with self._lock:
            entry = self._made.get(id(prediction))
        return entry[1] if entry is not None and entry[0] is prediction else None


@pytest.fixture(scope="module")
def tiny_classifier(tiny_weights_dir: Path) -> Any:
    from core.model.classifier import Classifier

    return Classifier.from_folder(tiny_weights_dir)


@pytest.fixture
def series_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "series"
    for i in range(12):
        write_dicom(
            folder / f"IM{i:03d}.dcm", mr_dataset(pixels(24, 24, seed=100 + i), series_uid="1.2.3.9", instance=i)
        )
    return folder


def make_window(qtbot: Any, tmp_path: Path, weights: Path, factory: Callable[[], Any]) -> MainWindow:
    settings = AppSettings(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    window = MainWindow(weights_folder=weights, settings=settings, classifier_factory=factory)
    qtbot.addWidget(window)
    window.show()
    return window


def ready_window(qtbot: Any, tmp_path: Path, weights: Path, probe: ProbeClassifier, folder: Path) -> MainWindow:
    window = make_window(qtbot, tmp_path, weights, lambda: probe)
    qtbot.waitUntil(lambda: window.model_state == "ready", timeout=WAIT_MS)
    with qtbot.waitSignal(window.indexing_finished, timeout=WAIT_MS):
        window.open_paths([folder])
    return window


def _closed_cleanly(window: MainWindow) -> bool:
    return window.inference_thread.isFinished() and window.index_thread.isFinished()


def _no_thread_warning(qtlog: Any) -> bool:
    return not any(QT_THREAD_WARNING in record.message for record in qtlog.records)


def _no_partial_files(root: Path) -> bool:
    return not [p for p in root.rglob("*") if p.name.endswith((".partial", ".tmp")) or ".tmp-" in p.name]


def test_close_during_model_loading(
    qtbot, qtlog, tmp_path: Path, tiny_weights_dir: Path, tiny_classifier, tally
) -> None:
    started = threading.Event()

    def slow_factory() -> Any:
        started.set()
        time.sleep(1.5)  # the model is still loading when the window closes
        return tiny_classifier

    window = make_window(qtbot, tmp_path, tiny_weights_dir, slow_factory)
    qtbot.waitUntil(started.is_set, timeout=WAIT_MS)
    start = time.perf_counter()
    window.close()
    seconds = time.perf_counter() - start
    ok = _closed_cleanly(window) and seconds < 5 and _no_thread_warning(qtlog) and _no_partial_files(tmp_path)
    assert tally.case(GROUP, ok), (seconds, [r.message for r in qtlog.records])


def test_close_during_series_run(
    qtbot, qtlog, tmp_path: Path, tiny_weights_dir: Path, tiny_classifier, series_folder: Path, tally
) -> None:
    """Close while a series runs and a PDF export is being written: whole file or none, no leftovers."""
    probe = ProbeClassifier(tiny_classifier, delay=0.2)
    window = ready_window(qtbot, tmp_path, tiny_weights_dir, probe, series_folder)
    with qtbot.waitSignal(window.prediction_shown, timeout=WAIT_MS):
        window.classify_current(force=True)
    with qtbot.waitSignal(
        window.inference_worker.series_progress,
        timeout=WAIT_MS,
        check_params_cb=lambda rid, done, total, eta: done >= 4,
    ):
        window.classify_series()
    report = tmp_path / "exports" / "report.pdf"
    window.export("pdf", report)
    start = time.perf_counter()
    window.close()
    seconds = time.perf_counter() - start
    finished = window.summary is not None
    whole = not report.exists() or (report.read_bytes().startswith(b"%PDF") and b"%%EOF" in report.read_bytes()[-64:])
    # the close waits for the batch in flight and lets the PDF finish its file (seconds on a busy machine)
    ok = _closed_cleanly(window) and seconds < 10 and _no_thread_warning(qtlog) and not finished
    ok = ok and whole and _no_partial_files(tmp_path) and probe.max_active == 1
    assert tally.case(GROUP, ok), (seconds, finished, whole, [r.message for r in qtlog.records])


def test_storm_of_requests_never_overlaps_or_mislabels(
    qtbot, tmp_path: Path, tiny_weights_dir: Path, tiny_classifier, series_folder: Path, tally
) -> None:
    """Rapid slice switching, series runs started while one is in flight, cancel, re-run."""
    probe = ProbeClassifier(tiny_classifier, delay=0.01)
    window = ready_window(qtbot, tmp_path, tiny_weights_dir, probe, series_folder)
    window.ai_panel.auto_check.setChecked(True)
    shown: list[bool] = []

    def check_shown(prediction: object) -> None:
        assert window.ref is not None
        expected = _digest(window.store.model_rendering(window.ref))
        shown.append(tally.case(GROUP_RESULTS, probe.source_of(prediction) == expected))

    window.prediction_shown.connect(check_shown)
    series_tags: list[bool] = []

    def check_series_slice(request_id: int, index: int, prediction: object) -> None:
        assert window.series is not None
        expected = _digest(window.store.model_rendering(window.series.slices[index]))
        series_tags.append(tally.case(GROUP_RESULTS, probe.source_of(prediction) == expected))

    window.inference_worker.series_slice.connect(check_series_slice)
    rng = np.random.default_rng(5)
    count = len(window.series.slices) if window.series is not None else 0
    for step in range(60):
        window.set_index(int(rng.integers(0, count)))
        if step in (5, 6, 20, 40):  # a run started while one is in flight, then again
            window.classify_series()
        if step in (10, 30):
            window.cancel_series()
        qtbot.wait(int(rng.integers(0, 15)))
    with qtbot.waitSignal(window.series_run_finished, timeout=WAIT_MS):
        window.classify_series()
    window.set_index(3)
    with qtbot.waitSignal(window.prediction_shown, timeout=WAIT_MS):
        window.classify_current(force=True)
    uid = window.series.uid if window.series is not None else ""
    final = window.results.of(uid)
    tagged = all(
        probe.source_of(p) == _digest(window.store.model_rendering(window.series.slices[i]))  # type: ignore[union-attr]
        for i, p in final.items()
    )
    ok = probe.max_active == 1 and probe.gui_thread_calls == 0 and len(final) == count and tagged
    ok = ok and shown and all(shown) and series_tags and all(series_tags)
    window.close()
    assert tally.case(GROUP, bool(ok)), (probe.max_active, probe.gui_thread_calls, len(final), shown.count(False))


def test_exception_in_worker_becomes_a_message_and_worker_idles(
    qtbot, tmp_path: Path, tiny_weights_dir: Path, tiny_classifier, series_folder: Path, tally
) -> None:
    probe = ProbeClassifier(tiny_classifier)
    window = ready_window(qtbot, tmp_path, tiny_weights_dir, probe, series_folder)
    worker = window.inference_worker
    window.ai_panel.auto_check.setChecked(False)
    window.set_index(0)  # a slice nobody classified yet, so the request reaches the model (no cache hit)
    outcomes = []
    busy: list[bool] = []
    worker.busy_changed.connect(busy.append)
    for start_job in (lambda: window.classify_current(force=True), window.classify_series):
        probe.fail_next = True
        with qtbot.waitSignal(worker.error, timeout=WAIT_MS, check_params_cb=lambda rid, msg: "simulated" in msg):
            start_job()
        qtbot.waitUntil(lambda: bool(busy) and busy[-1] is False, timeout=WAIT_MS)  # back to idle
        qtbot.waitUntil(lambda: window.errors.rowCount() > 0, timeout=WAIT_MS)  # the message is shown
        problems = "simulated failure" in (window.errors.item(window.errors.rowCount() - 1, 1).text())
        with qtbot.waitSignal(window.prediction_shown, timeout=WAIT_MS):  # the worker is usable again
            window.classify_current(force=True)
        outcomes.append(tally.case(GROUP, problems and window.model_state == "ready"))
    window.close()
    assert all(outcomes)


def test_gpu_out_of_memory_falls_back_to_smaller_batch_then_cpu(tiny_weights_dir: Path, tally) -> None:
    """Simulated OOM through the classifier's chunk runner: halve the batch, then the CPU, and say so."""
    import tensorflow as tf

    from core.model import device as dev
    from core.model.classifier import Classifier
    from core.model.model_config import load_model_config, verified_weights_path
    from core.model.network import build_vgg19

    config = load_model_config(tiny_weights_dir)
    model = build_vgg19(config.architecture)
    model.load_weights(verified_weights_path(tiny_weights_dir, config))
    slices = [pixels(16, 16, seed=i, high=255).astype(np.uint8) for i in range(8)]
    reference = Classifier(model, config, device=dev.CPU, precision=dev.FLOAT32).predict(slices)
    results = []
    for limit, expect_cpu in ((2, False), (0, True)):  # GPU fits 2 slices / GPU fits nothing
        gpu = Classifier(model, config, device=dev.GPU, precision=dev.FLOAT32)
        real_chunk = gpu._run_chunk
        seen: list[tuple[str, int]] = []

        def chunk(items, device, *args, real=real_chunk, limit=limit, seen=seen):  # type: ignore[no-untyped-def]
            seen.append((device, len(items)))
            if device == dev.GPU and len(items) > limit:
                raise tf.errors.ResourceExhaustedError(None, None, "simulated GPU out of memory")
            return real(items, dev.CPU if device == dev.CPU else device, *args)

        gpu._run_chunk = chunk  # type: ignore[method-assign]
        predictions = gpu.predict(slices, batch_size=8)
        notes = predictions[0].extra.get("device_notes", [])
        same = all(
            np.allclose(a.probabilities, b.probabilities, atol=1e-5)
            for a, b in zip(predictions, reference, strict=True)
        )
        said = any("out of memory" in n for n in notes) and (
            any("fell back to the CPU" in n for n in notes) == expect_cpu
        )
        devices = {p.device for p in predictions}
        ok = same and said and devices == ({dev.CPU} if expect_cpu else {dev.GPU}) and len(predictions) == 8
        results.append(tally.case(GROUP, ok))
    assert all(results), results

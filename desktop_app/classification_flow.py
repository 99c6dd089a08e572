"""The main window's AI flow: slice and series requests to the inference worker, their answers, the heatmap.

Kept out of the main window: it numbers the requests (only the latest slice request and the series
run going on are listened to), shows each answer in the AI panel and the slice strip, puts the slice's
heatmap over the viewer, writes the audit entries, and follows the model's loading state.  The worker
and its thread belong to the window; their signals are connected here.  The answer on screen, the kept
results and the heatmap settings are the review session's (``window.review``): this flow puts answers
into it and follows its ``prediction_changed`` and ``heatmap_changed`` events.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject

from core.imaging.heatmap import colorize
from core.model.heatmap_policy import withhold_no_tumor_heatmap
from core.model.model_config import ModelConfig, ModelConfigError, load_model_config
from core.model.prediction import Prediction
from core.model.result_cache import cache_key
from core.platform.audit_events import record_classified  # audit log
from core.review import HeatmapSettings, summarize
from desktop_app.ai_panel import heatmap_caption
from desktop_app.inference_worker import ModelInfo, SeriesRequest, SliceOutcome, SliceRequest

if TYPE_CHECKING:  # pragma: no cover
    from desktop_app.main_window import MainWindow


class ClassificationFlow(QObject):
    """Slice and series classification for ``window`` (a MainWindow) and the model's state."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self._next_request = 0
        self._slice_request = -1
        self._requested_key = ""
        self._series_request = -1
        self._series_request_uid = ""
        self._series_started = 0.0
        self._heatmap = window.review.heatmap  # the settings the screen was last drawn with
        window.review.events.prediction_changed.connect(lambda _prediction: self._apply_heatmap())
        window.review.events.heatmap_changed.connect(self._on_heatmap_changed)

    # ================================================================ model config and state
    def _read_config(self) -> None:
        win = self.window
        try:
            win.config = load_model_config(win.weights_folder)
        except ModelConfigError:
            win.config = None
        if win.config is not None:
            self._set_classes(win.config.class_names)
            self._show_saliency_figures(win.config)

    def _set_classes(self, names: tuple[str, ...]) -> None:
        """The model's classes in the panel; the heatmap class chosen stays when the model has it."""
        win = self.window
        win.ai_panel.set_classes(names)
        win.review.set_class_names(names)
        win.ai_panel.show_heatmap_settings(win.review.heatmap)

    def _show_saliency_figures(self, config: ModelConfig) -> None:
        win = self.window
        localisation = config.saliency.get("localisation", {})
        chosen = win.settings.heatmap_method  # the reader's own choice outlives the weights' default
        win.ai_panel.set_saliency(
            config.default_saliency_method, localisation if isinstance(localisation, dict) else {}
        )
        win.ai_panel.set_method(chosen)

    def _on_model_loading(self) -> None:
        win = self.window
        win.model_state = "loading"
        win.model_label.setText("AI: loading model...")
        win.busy.show()
        win.ai_panel.set_status("Loading the AI model in the background; the viewer is ready.")
        win.model_state_changed.emit("loading")

    def _on_model_ready(self, info: ModelInfo) -> None:
        win = self.window
        win.model_info = info
        win.model_state = "ready"
        win.config = info.config
        win.busy.hide()
        win.model_label.setText(f"AI: {info.config.model_name} {info.config.model_version}")
        win.device_label.setText(f"Device: {info.device}")
        win.precision_label.setText(f"Precision: {info.precision}")
        self._set_classes(info.config.class_names)
        self._show_saliency_figures(info.config)
        win.ai_panel.set_model_available(True)
        win.ai_panel.set_status(
            f"{info.config.model_name} {info.config.model_version} loaded in {info.load_seconds:.1f} s "
            f"(weights {info.sha256[:12]}...)"
        )
        win.model_state_changed.emit("ready")
        ref = win.ref
        if ref is not None and win.review.prediction is None and self._requested_key != ref.key:
            self.classify_current()

    def _on_model_failed(self, message: str) -> None:
        win = self.window
        win.model_state = "failed"
        win.model_error = message
        win.busy.hide()
        win.model_label.setText("AI: unavailable (viewer only)")
        win.ai_panel.set_model_available(False)
        win.ai_panel.set_status(f"AI model unavailable - the viewer works without it.\nReason: {message}")
        win.ai_panel.clear_prediction("AI unavailable")
        win.review.show_prediction(None)
        win.errors.add_message("AI model", message, "model")
        win.model_state_changed.emit("failed")

    # ================================================================ one slice
    def _new_request(self) -> int:
        self._next_request += 1
        return self._next_request

    def _heat_spec(self) -> tuple[bool | str, str]:
        settings = self.window.review.heatmap
        return settings.target, settings.method

    def _show_cached_prediction(self) -> bool:
        """Show an already computed result for this slice at once; True when there was one."""
        win = self.window
        ref = win.ref
        if ref is None or win.model_info is None:
            return False
        heatmap, method = self._heat_spec()
        hit = win.inference_worker.cache.get(cache_key(ref.key, win.model_info.sha256, heatmap, method))
        if hit is None:
            return False
        self.classify_current(force=True)  # the worker answers from its cache within milliseconds
        return True

    def classify_current(self, force: bool = False) -> None:
        """Queue the current slice (only the latest request is kept by the worker)."""
        win = self.window
        ref = win.ref
        if ref is None or win.model_state == "failed":
            return
        if not force and not win.ai_panel.auto_check.isChecked():
            return
        heatmap, method = self._heat_spec()
        self._slice_request = self._new_request()
        self._requested_key = ref.key
        win.ai_panel.label_text.setText("Classifying..." if win.model_state == "ready" else "Waiting for the model...")
        win.inference_worker.submit_slice(SliceRequest(self._slice_request, ref, heatmap, method))

    def _on_slice_result(self, outcome: SliceOutcome) -> None:
        win = self.window
        ref = win.ref
        if ref is None or outcome.request_id != self._slice_request or outcome.slice_key != ref.key:
            return  # an answer for a slice no longer on screen
        prediction = withhold_no_tumor_heatmap(outcome.prediction)  # a "notumor" map reads as "look here"
        self._requested_key = ""
        if not outcome.from_cache:
            self._audit_classified([ref.path], [prediction])
        win.ai_panel.show_prediction(prediction, outcome.model_input, outcome.from_cache)
        if outcome.from_cache:
            win.timing_label.setText(f"Last inference: cached ({prediction.milliseconds:.0f} ms when computed)")
        else:
            win.timing_label.setText(f"Last inference: {prediction.milliseconds:.0f} ms")
        win.review.show_prediction(prediction)  # its prediction_changed draws the heatmap
        win.prediction_shown.emit(outcome.prediction)

    def clear_heatmap(self) -> None:
        """The slice changed: its predecessor's heatmap goes from the viewer."""
        self.window.viewer.set_heatmap(None)

    def _apply_heatmap(self) -> None:
        """The answer on screen's map over the viewer, drawn with the session's heatmap style."""
        win = self.window
        review = win.review
        prediction = review.prediction
        heat = prediction.heatmap if prediction is not None else None
        if heat is None or prediction is None or not review.heatmap_allowed():  # none over an outside slice
            win.viewer.set_heatmap(None)
            return
        style = review.heatmap.style
        rgba = colorize(heat, style.colormap, style.opacity, style.threshold)
        win.viewer.set_heatmap(rgba, heatmap_caption(prediction))

    def _on_heatmap_changed(self, settings: HeatmapSettings) -> None:
        """Another class or method needs a new map; another style, or "show anyway", only redraws it."""
        before, self._heatmap = self._heatmap, settings
        if settings.shown != before.shown:
            self.window.viewer.set_heatmap_visible(settings.shown)
        if (settings.method, settings.target) != (before.method, before.target):
            self.classify_current(force=True)
        elif (settings.style, settings.outside_shown) != (before.style, before.outside_shown):
            self._apply_heatmap()

    def _on_auto_toggled(self, enabled: bool) -> None:
        win = self.window
        for widget in (win.ai_panel.auto_check, getattr(win, "auto_action", None)):
            if widget is not None and widget.isChecked() != enabled:
                widget.setChecked(enabled)
        win.settings.auto_classify = enabled
        if enabled:
            self.classify_current()

    # ================================================================ the series
    def classify_series(self) -> None:
        win = self.window
        if win.series is None or not win.series.slices or win.model_state == "failed":
            return
        self._series_request = self._new_request()
        self._series_request_uid = win.series.uid
        win.review.start_run(win.series.uid)
        self._series_started = time.perf_counter()
        win.strip.reset(len(win.series.slices))
        win.ai_panel.series_started(len(win.series.slices))
        win.inference_worker.submit_series(SeriesRequest(self._series_request, tuple(win.series.slices)))

    def cancel_series(self) -> None:
        if self._series_request >= 0:
            self.window.inference_worker.cancel_series()

    def forget_series_run(self) -> None:
        """Listen to no more answers of the series run going on (its study was closed)."""
        self._series_request = -1

    def series_run_uid(self) -> str:
        """Series Instance UID of the series run going on, "" when none."""
        return self._series_request_uid if self._series_request >= 0 else ""

    def _on_series_progress(self, request_id: int, done: int, total: int, eta: float) -> None:
        if request_id == self._series_request:
            self.window.ai_panel.series_progress(done, total, eta)

    def _on_series_slice(self, request_id: int, index: int, prediction: Prediction) -> None:
        if request_id != self._series_request:
            return
        self.window.review.add_result(self._series_request_uid, index, prediction)  # the strip follows

    def _on_series_finished(self, request_id: int, results: dict[int, Prediction]) -> None:
        if request_id != self._series_request:
            return
        win = self.window
        self._series_request = -1
        uid = self._series_request_uid
        win.review.finish_run(uid, results)  # the strip and the series result follow
        if win.series is not None and win.series.uid == uid:
            self._audit_classified([win.series.slices[i].path for i in results], list(results.values()))
        seconds = time.perf_counter() - self._series_started
        win.ai_panel.series_ended(f"{len(results)} slices in {seconds:.1f} s")
        outcome = summarize(results, uid)
        win.series_run_finished.emit(outcome[0] if outcome else None)

    def _on_series_cancelled(self, request_id: int) -> None:
        if request_id != self._series_request:
            return
        win = self.window
        self._series_request = -1
        partial = win.review.results.of(self._series_request_uid)
        win.ai_panel.series_ended(f"Cancelled after {len(partial)} slices")
        if win.series is not None and win.series.uid == self._series_request_uid:
            win.session.show_series_results(with_progress=False)  # "partial (k of n slices)", never a verdict
        win.series_run_cancelled.emit()

    def jump_to_most_suspicious(self) -> None:
        win = self.window
        if win.review.key_slice >= 0:
            win.set_index(win.review.key_slice)

    def _on_inference_error(self, request_id: int, message: str) -> None:
        win = self.window
        if request_id == self._series_request:
            self._series_request = -1
            win.ai_panel.series_ended("Failed - see Problems")
        if request_id == self._slice_request:
            win.ai_panel.clear_prediction("Classification failed")
            win.review.show_prediction(None)
        win.errors.add_message("AI", message)
        win.statusBar().showMessage(message, 10000)

    def _audit_classified(self, files: list[Path], predictions: list[Prediction]) -> None:
        """Audit log entry for classified slices; a GPU fallback is also shown in the status bar."""
        if not predictions:
            return
        first = predictions[0]
        record_classified(
            files,
            slices=len(predictions),
            weights_sha256=first.model_sha256,
            device=first.device,
            precision=first.precision,
            via="gui",
        )
        notes = [n for p in predictions for n in p.extra.get("device_notes", [])]
        if notes:
            self.window.statusBar().showMessage(notes[-1], 15000)

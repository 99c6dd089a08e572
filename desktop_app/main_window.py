"""The review workstation's main window: wires the browser, viewer, AI panel and the two workers.

Slots stay thin: they read widget state, call one core function or hand a request to a worker,
and show the outcome.  Nothing here imports TensorFlow; the inference worker does, in its thread.
The window owns the widgets, the workers and what is on screen; its collaborators do the rest:
:mod:`window_actions` (menus, shortcuts, Help), :mod:`window_state` (settings kept between sessions),
:mod:`study_opening` (opening and indexing), :mod:`classification_flow` (the AI requests, answers and
heatmap), :mod:`export_flow` (File > Export), :mod:`review_session`, :mod:`network_menu` and
:mod:`viewports`.  What is under review (series, slice, window, answers, heatmap settings) is not the
window's: it is the Qt-free :class:`core.review.ReviewSession` in ``self.review``, whose events the
window and its widgets follow; ``series``, ``index``, ``voi`` and the like below only delegate to it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, QThread, QThreadPool, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (
    QComboBox,
    QDockWidget,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMenu,
    QProgressBar,
    QScrollArea,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from core.export.identity import ExportIdentity
from core.imaging import ImagingError, PixelStore, Series, SliceMetadata, SliceRef, Window
from core.imaging.timepoints import edge_of_time, move_to_time, step_within_time, time_points
from core.model.model_config import ModelConfig
from core.model.series_summary import SeriesSummary
from core.platform.locator import resource_path, weights_dir
from core.review import ReviewSession, SeriesResults, ViewWindow
from desktop_app import window_actions, window_state
from desktop_app.ai_panel import RESEARCH_ONLY, AIPanel
from desktop_app.classification_flow import ClassificationFlow
from desktop_app.errors_panel import ErrorsPanel
from desktop_app.export_flow import ExportFlow
from desktop_app.export_task import ExportKind, ExportRequest
from desktop_app.index_worker import IndexWorker
from desktop_app.inference_worker import ClassifierFactory, InferenceWorker, ModelInfo, SliceOutcome
from desktop_app.metadata_cache import MetadataCache
from desktop_app.network_menu import NetworkFeatures
from desktop_app.overlays import corner_text
from desktop_app.preset_box import preset_label, show_in_box
from desktop_app.settings import AppSettings
from desktop_app.slice_strip import SliceStrip
from desktop_app.study_browser import StudyBrowser
from desktop_app.study_opening import StudyOpening
from desktop_app.time_point_bar import TimePointBar
from desktop_app.viewer import SliceViewer
from desktop_app.viewports import ViewportFeatures

if TYPE_CHECKING:  # pragma: no cover
    from core.export.naming import ExportName
    from desktop_app.review_session import QtReviewSession

WINDOW_DRAG_GAIN = 1.0 / 300.0  # fraction of the current width per dragged pixel


def _middle_of_stack(series: Series, stack_key: str) -> int:
    """Index of the middle slice of one stack (frame type), in its first time point."""
    first = time_points(series, next(i for i, r in enumerate(series.slices) if r.stack_key == stack_key))[0]
    return first[len(first) // 2]


def _pixel_aspect(meta: SliceMetadata | None) -> float:
    """A pixel's height over its width from Pixel Spacing (row, column); 1 when unknown."""
    if meta is None or meta.pixel_spacing is None:
        return 1.0
    row, column = meta.pixel_spacing
    return row / column if row > 0 and column > 0 else 1.0


def sample_study_path() -> Path:
    """The bundled demo study (resources/sample_study)."""
    return resource_path("sample_study")


class MainWindow(QMainWindow):
    """One window: study browser (left), viewer (centre), AI panel (right), errors (bottom)."""

    series_shown = Signal(object)  # Series now in the viewer
    slice_shown = Signal(int)  # index of the slice now rendered
    prediction_shown = Signal(object)  # the answer now shown for the current slice (its map may be left out)
    indexing_finished = Signal(object)  # ScanResult
    series_run_finished = Signal(object)  # SeriesSummary
    series_run_cancelled = Signal()
    model_state_changed = Signal(str)  # "loading", "ready", "failed"
    export_finished = Signal(object)  # list of written paths
    export_failed = Signal(str)

    # made by window_actions.build_actions
    session: QtReviewSession  # Close study / Close all, per-series view state
    recent_menu: QMenu
    deid_action: QAction
    heat_action: QAction
    auto_action: QAction
    preset_combo: QComboBox

    def __init__(
        self,
        *,
        weights_folder: Path | None = None,
        settings: AppSettings | None = None,
        classifier_factory: ClassifierFactory | None = None,
        load_model: bool = True,
    ) -> None:
        super().__init__()
        self.settings = settings if settings is not None else AppSettings()
        self.weights_folder = Path(weights_folder) if weights_folder is not None else weights_dir()
        self.store = PixelStore(max_megabytes=512)
        self.review = ReviewSession()  # what is under review; the widgets follow its events
        self.model_info: ModelInfo | None = None
        self.model_state = "not loaded"
        self.model_error = ""
        self.config: ModelConfig | None = None
        self.presets: list[Window] = []
        self._presets_stack: str | None = None  # stack_key of the slices the presets were computed for
        self._meta_cache = MetadataCache(self.store, 512)
        self._closing = False
        self.classification = ClassificationFlow(self)  # slice and series requests, answers, heatmap
        self.exports = ExportFlow(self)  # File > Export
        self.opening = StudyOpening(self)  # File > Open, dropped files, indexing

        self.setWindowTitle(f"NeuroReview - {RESEARCH_ONLY}")
        self.setAcceptDrops(True)
        self._build_central()
        self._build_docks()
        self._build_status_bar()
        self._follow_review()
        window_actions.build_actions(self)
        window_state.restore_settings(self)
        self.classification._read_config()
        self._start_index_worker()
        self._start_inference_worker(classifier_factory, load_model)
        self.network = NetworkFeatures(self)  # Network menu: query/retrieve, send, listener
        self.viewports = ViewportFeatures(self)  # layouts, measurements, cine, MPR, reference lines

    # ================================================================ construction
    def _build_central(self) -> None:
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        self.viewer = SliceViewer()
        self.viewer.set_message("Open a study: File > Open, drop files here, or Help > Open sample study")
        self.viewer.window_drag.connect(self._on_window_drag)
        self.viewer.scroll_requested.connect(self._scroll)
        self.viewer.jump_requested.connect(self._jump)
        self.viewer.view_changed.connect(self._update_overlays)
        layout.addWidget(self.viewer, 1)
        row = QHBoxLayout()
        row.setContentsMargins(6, 0, 6, 4)
        self.slider = QSlider()
        self.slider.setOrientation(self.slider.orientation().Horizontal)
        self.slider.setRange(0, 0)
        self.slider.valueChanged.connect(self.set_index)
        self.slice_label = QLabel("-")
        self.slice_label.setMinimumWidth(70)
        strip_column = QVBoxLayout()
        strip_column.setSpacing(0)
        strip_column.addWidget(self.slider)
        self.strip = SliceStrip()
        self.strip.slice_clicked.connect(self.set_index)
        strip_column.addWidget(self.strip)
        row.addLayout(strip_column, 1)
        row.addWidget(self.slice_label)
        self.time_bar = TimePointBar()
        self.time_bar.time_point_chosen.connect(self._go_to_time_point)
        row.addWidget(self.time_bar)
        layout.addLayout(row)
        self.setCentralWidget(central)

    def _dock(self, title: str, name: str, widget: QWidget, area: object) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(name)
        dock.setWidget(widget)
        self.addDockWidget(area, dock)  # type: ignore[call-overload]
        return dock

    def _build_docks(self) -> None:
        self.browser = StudyBrowser()
        self.browser.series_activated.connect(self.show_series)
        self.browser_dock = self._dock("Studies", "studies", self.browser, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.ai_panel = AIPanel()
        scroll = QScrollArea()
        scroll.setWidget(self.ai_panel)
        scroll.setWidgetResizable(True)
        scroll.setMinimumWidth(330)
        self.ai_dock = self._dock("AI second look", "ai", scroll, Qt.DockWidgetArea.RightDockWidgetArea)
        self.errors = ErrorsPanel()
        self.errors_dock = self._dock("Problems", "errors", self.errors, Qt.DockWidgetArea.BottomDockWidgetArea)
        self.errors_dock.hide()
        self.setCorner(Qt.Corner.BottomRightCorner, Qt.DockWidgetArea.RightDockWidgetArea)
        self.setCorner(Qt.Corner.BottomLeftCorner, Qt.DockWidgetArea.LeftDockWidgetArea)
        panel = self.ai_panel
        panel.classify_slice_clicked.connect(lambda: self.classify_current(force=True))
        panel.classify_series_clicked.connect(self.classify_series)
        panel.cancel_clicked.connect(self.cancel_series)
        panel.jump_clicked.connect(self.jump_to_most_suspicious)
        panel.auto_toggled.connect(self.classification._on_auto_toggled)
        panel.uncertain_changed.connect(lambda value: setattr(self.settings, "uncertain_below", value))
        for edited in (panel.heatmap_request_changed, panel.overlay_style_changed, panel.heatmap_toggled):
            edited.connect(lambda *_args: self.review.set_heatmap(panel.heatmap_settings()))  # the panel collects
        panel.side_by_side_toggled.connect(self.viewer.set_side_by_side)

    def _follow_review(self) -> None:
        """The widgets follow the review session (the AI flow and ``session`` follow the rest themselves)."""
        events = self.review.events
        events.series_changed.connect(self._on_series_opened)
        events.index_changed.connect(self._on_index_changed)
        events.window_changed.connect(lambda _window: self.render_slice())
        events.deidentify_changed.connect(lambda _on: self._update_overlays())
        events.heatmap_changed.connect(self.ai_panel.show_heatmap_settings)
        self.review.set_heatmap(self.ai_panel.heatmap_settings())

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.model_label = QLabel("AI: not loaded")
        self.busy = QProgressBar()
        self.busy.setRange(0, 0)
        self.busy.setMaximumWidth(80)
        self.busy.hide()
        self.device_label = QLabel("Device: -")
        self.precision_label = QLabel("Precision: -")
        self.timing_label = QLabel("Last inference: -")
        self.research_label = QLabel(RESEARCH_ONLY)
        self.research_label.setStyleSheet("color: #c08000; font-weight: bold; padding: 0 6px;")
        for widget in (self.model_label, self.busy, self.device_label, self.precision_label, self.timing_label):
            bar.addPermanentWidget(widget)
        bar.addPermanentWidget(self.research_label)

    def shortcut_list(self) -> list[tuple[str, str]]:
        """(keys, what) for every action with a shortcut, for the Help dialog."""
        return window_actions.shortcut_list(self)

    # ================================================================ workers
    def _start_index_worker(self) -> None:
        self.index_thread = QThread(self)
        self.index_thread.setObjectName("neuroreview-index")
        self.index_worker = IndexWorker(self.store)  # thumbnails land in the cache the viewer reads
        self.index_worker.moveToThread(self.index_thread)
        opening = self.opening
        self.index_worker.series_found.connect(opening._on_series_found)
        self.index_worker.progress.connect(opening._on_index_progress)
        self.index_worker.finished.connect(opening._on_index_finished)
        self.index_worker.failed.connect(opening._on_index_failed)
        self.index_thread.start()

    def _start_inference_worker(self, factory: ClassifierFactory | None, load_model: bool) -> None:
        self.inference_thread = QThread(self)
        self.inference_thread.setObjectName("neuroreview-inference")
        self.inference_worker = InferenceWorker(self.weights_folder, factory=factory, store=self.store)  # one store
        self.inference_worker.moveToThread(self.inference_thread)
        worker, flow = self.inference_worker, self.classification
        worker.model_loading.connect(flow._on_model_loading)
        worker.model_ready.connect(flow._on_model_ready)
        worker.model_failed.connect(flow._on_model_failed)
        worker.slice_result.connect(flow._on_slice_result)
        worker.series_progress.connect(flow._on_series_progress)
        worker.series_slice.connect(flow._on_series_slice)
        worker.series_finished.connect(flow._on_series_finished)
        worker.cancelled.connect(flow._on_series_cancelled)
        worker.error.connect(flow._on_inference_error)
        if load_model:
            self.inference_thread.started.connect(worker.load_model)
        self.inference_thread.start()

    def shutdown(self) -> None:
        """Stop both workers and wait for their threads (idempotent)."""
        if self._closing:
            return
        self._closing = True
        self.network.shutdown()
        self.index_worker.stop()
        self.inference_worker.stop()
        for thread in (self.index_thread, self.inference_thread):
            thread.quit()
        for thread in (self.index_thread, self.inference_thread):
            thread.wait()
        self.inference_worker.close()  # stops the model's helper process
        QThreadPool.globalInstance().waitForDone()  # an export in progress finishes its file

    def closeEvent(self, event: QCloseEvent) -> None:
        self.session.leave_series()
        window_state.save_settings(self)
        self.hide()  # the window goes at once; the workers finish their current step behind it
        self.shutdown()
        event.accept()

    # ================================================================ opening
    def open_paths(self, paths: Sequence[Path], remember: bool = True) -> None:
        """Index files/folders/DICOMDIRs off the GUI thread and add them to the open studies; the first
        series appears when found.

        ``remember`` adds the paths to File > Open recent (not done for the bundled sample study).
        """
        self.opening.open_paths(paths, remember)

    def open_sample_study(self) -> None:
        self.open_paths([sample_study_path()], remember=False)

    def open_files_dialog(self) -> None:
        self.opening._ask_paths("files")

    def open_folder_dialog(self) -> None:
        self.opening._ask_paths("folder")

    def open_dicomdir_dialog(self) -> None:
        self.opening._ask_paths("dicomdir")

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls() and any(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = [Path(u.toLocalFile()) for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.open_paths(paths)

    # ================================================================ the review session's state
    @property
    def series(self) -> Series | None:
        return self.review.series

    @property
    def index(self) -> int:
        return self.review.index

    @property
    def ref(self) -> SliceRef | None:
        return self.review.ref

    @property
    def voi(self) -> Window | None:
        return self.review.voi

    @voi.setter
    def voi(self, voi: Window | None) -> None:
        self.review.voi = voi

    @property
    def invert(self) -> bool:
        return self.review.invert

    @invert.setter
    def invert(self, invert: bool) -> None:
        self.review.invert = invert

    @property
    def deidentify(self) -> bool:
        return self.review.deidentify

    @property
    def results(self) -> SeriesResults:
        return self.review.results

    @property
    def summary(self) -> SeriesSummary | None:
        return self.review.summary

    @property
    def summary_slice(self) -> int:
        return self.review.key_slice

    # ================================================================ viewing
    def show_series(self, series: Series) -> None:
        """Put ``series`` in the viewer as it was left (else at its middle slice, fitted, default window)."""
        self.session.leave_series()
        self.review.open_series(series)
        if not self.session.restore(series):
            self.set_index(_middle_of_stack(series, series.slices[0].stack_key) if series.slices else 0)
        self.viewer.setFocus()

    def _on_series_opened(self, series: Series | None) -> None:
        if series is None:
            return  # the viewer goes empty through session.show_nothing
        self.viewer.fit()
        self.viewer.set_heatmap(None)
        self.session.show_series_results(with_progress=True)
        self._set_slider(len(series.slices), None)
        self._presets_stack = None
        self.series_shown.emit(series)

    def _set_slider(self, count: int, index: int | None) -> None:
        self.slider.blockSignals(True)
        self.slider.setRange(0, max(count - 1, 0))
        if index is not None:
            self.slider.setValue(index)
        self.slider.blockSignals(False)

    def _replace_series(self, series: Series) -> None:
        """The scanner grew or re-ordered the current series: keep the same slice in view."""
        index = self.review.replace_series(series)
        self._set_slider(len(series.slices), index)
        self.session.show_series_results(with_progress=True)
        self.strip.set_current(index)
        self._update_overlays()

    def set_index(self, index: int) -> None:
        """Show slice ``index`` (clamped) and, with auto-classify on, ask the model about it."""
        self.review.set_index(index)

    def _on_index_changed(self, index: int) -> None:
        series = self.review.series
        assert series is not None
        self._set_slider(len(series.slices), index)
        self.strip.set_current(index)
        self.slice_label.setText(f"{index + 1} / {len(series.slices)}")
        self.time_bar.show_for(series, index)
        if series.slices[index].stack_key != self._presets_stack:
            self._fill_presets()  # the session put the window back when the stack changed (e.g. to a field map)
        self.render_slice()
        self.classification.clear_heatmap()
        self.ai_panel.clear_prediction()
        if not self._show_cached_prediction():
            self.classify_current(force=False)
        self.slice_shown.emit(index)

    def _scroll(self, steps: int) -> None:
        """Wheel and slice keys move through space within the time point on screen."""
        if self.series is not None and self.series.slices:
            self.set_index(step_within_time(self.series, self.index, steps))

    def _jump(self, where: str) -> None:
        if self.series is not None and self.series.slices:
            self.set_index(edge_of_time(self.series, self.index, last=where != "first"))

    def _go_to_time_point(self, time_point: int) -> None:
        if self.series is not None and self.series.slices:
            self.set_index(move_to_time(self.series, self.index, time_point))

    def render_slice(self) -> None:
        """Re-render the current slice with the current window/invert."""
        ref = self.ref
        if ref is None:
            return
        try:
            image = self.store.display(ref, self.voi, self.invert)
        except ImagingError as exc:
            self.viewer.set_image(None)
            self.viewer.set_message(str(exc))
            self.errors.add_message(ref.path.name, str(exc), type(exc).__name__)
            return
        self.viewer.set_image(image)
        self.viewer.set_pixel_aspect(_pixel_aspect(self._meta_cache.get(ref)))
        self._update_overlays()

    def _update_overlays(self) -> None:
        ref = self.ref
        if ref is None or self.series is None:
            return
        window = self.voi
        if window is None:
            try:
                window = self.store.default_window(ref)
            except ImagingError:
                window = None
        show_in_box(self.preset_combo, self.presets, window)
        self.viewer.set_corner_text(
            corner_text(
                self._meta_cache.get(ref),
                self.index,
                len(self.series.slices),
                window,
                self.viewer.zoom,
                invert=self.invert,
                deidentify=self.deidentify,
                orientation=ref.orientation,
            )
        )

    def _fill_presets(self) -> None:
        """Window presets of the current slice's stack, from that stack's middle slice."""
        self.presets = []
        current = self.ref
        self._presets_stack = current.stack_key if current is not None else None
        if current is not None and self.series is not None:
            ref = self.series.slices[_middle_of_stack(self.series, current.stack_key)]
            try:
                self.presets = self.store.window_presets(ref)
            except ImagingError:
                self.presets = []
        self.preset_combo.clear()
        for n, window in enumerate(self.presets, start=1):
            self.preset_combo.addItem(preset_label(n, window))

    def apply_preset(self, index: int) -> None:
        if 0 <= index < len(self.presets):
            self.review.voi = self.presets[index]  # the session's window_changed re-renders

    def _on_window_drag(self, dx: int, dy: int) -> None:
        ref = self.ref
        if ref is None:
            return
        voi = self.review.voi
        if voi is None:
            try:
                voi = self.store.default_window(ref)
            except ImagingError:
                return
        step = max(voi.width, 1.0) * WINDOW_DRAG_GAIN
        width = max(1.0, voi.width + dx * step)
        self.review.voi = Window(center=voi.center + dy * step, width=width, name="")  # the box selects nothing

    def toggle_invert(self) -> None:
        self.review.invert = not self.review.invert

    def reset_view(self) -> None:
        self.viewer.fit()
        self.review.set_window(ViewWindow())

    def set_deidentify(self, enabled: bool) -> None:
        self.review.deidentify = enabled

    # ================================================================ AI (see classification_flow)
    @property
    def _slice_request(self) -> int:
        return self.classification._slice_request

    @property
    def _requested_key(self) -> str:
        return self.classification._requested_key

    def _show_cached_prediction(self) -> bool:
        return self.classification._show_cached_prediction()

    def classify_current(self, force: bool = False) -> None:
        """Queue the current slice (only the latest request is kept by the worker)."""
        self.classification.classify_current(force)

    def _on_slice_result(self, outcome: SliceOutcome) -> None:
        self.classification._on_slice_result(outcome)

    def classify_series(self) -> None:
        self.classification.classify_series()

    def cancel_series(self) -> None:
        self.classification.cancel_series()

    def series_run_uid(self) -> str:
        """Series Instance UID of the series run going on, "" when none."""
        return self.classification.series_run_uid()

    def jump_to_most_suspicious(self) -> None:
        self.classification.jump_to_most_suspicious()

    # ================================================================ export (see export_flow)
    def export_request(self, kind: ExportKind, target: Path, identity: ExportIdentity) -> ExportRequest:
        """What File > Export writes: the series results (the slice on screen with its heatmap) and
        the key slice as displayed; raises ExportError when there is nothing to export."""
        return self.exports.export_request(kind, target, identity)

    def export_dialog(self, kind: ExportKind) -> None:
        """File > Export: ask folder, name and identity (remembered), then export."""
        self.exports.export_dialog(kind)

    def export(
        self, kind: ExportKind, target: Path, *, identity: ExportIdentity | None = None, name: ExportName | None = None
    ) -> None:
        """Write one export in a pool thread; ``export_finished`` / ``export_failed`` report back.

        ``target`` is the file (PDF, PNG, CSV, JSON) or the folder (DICOM, whose file names come from
        ``name`` or the content); an existing file is never replaced.  ``identity`` defaults to the
        user's last choice in the export dialog.
        """
        self.exports.export(kind, target, identity=identity, name=name)

    # ================================================================ help
    def show_shortcuts(self) -> None:
        window_actions.show_shortcuts(self)

    def about_html(self) -> str:
        return window_actions.about_html(self)

    def show_about(self) -> None:
        window_actions.show_about(self)

    def defer(self, callback: Callable[[], object]) -> None:
        """Run ``callback`` once the event loop is running (used at start-up)."""
        QTimer.singleShot(0, callback)

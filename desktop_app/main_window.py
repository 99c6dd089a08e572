"""The review workstation's main window: wires the browser, viewer, AI panel and the two workers.

Slots stay thin: they read widget state, call one core function or hand a request to a worker,
and show the outcome.  Nothing here imports TensorFlow; the inference worker does, in its thread.
"""

from __future__ import annotations

import dataclasses
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray
from PySide6.QtCore import Qt, QThread, QThreadPool, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent, QImage, QKeySequence
from PySide6.QtWidgets import (
    QComboBox,
    QDockWidget,
    QFileDialog,
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

from core.export.identity import ExportIdentity, IdentityMode
from core.imaging import ImagingError, PixelStore, ScanResult, Series, SliceMetadata, SliceRef, Window
from core.imaging.heatmap import colorize
from core.imaging.timepoints import edge_of_time, move_to_time, step_within_time, time_points
from core.model.heatmap_policy import withhold_no_tumor_heatmap
from core.model.model_config import ModelConfig, ModelConfigError, load_model_config
from core.model.prediction import Prediction
from core.model.series_summary import SeriesSummary
from core.platform.audit_events import record_classified, record_exported, record_opened  # audit log
from core.platform.locator import resource_path, weights_dir
from desktop_app.ai_panel import RESEARCH_ONLY, AIPanel, heatmap_caption
from desktop_app.dialogs import TextDialog, model_card_html, shortcuts_html
from desktop_app.errors_panel import ErrorsPanel
from desktop_app.export_dialog import ask_export
from desktop_app.export_task import ExportKind, ExportRequest, ExportTask, series_header, with_heatmap_from
from desktop_app.index_worker import IndexWorker
from desktop_app.inference_worker import (
    ClassifierFactory,
    InferenceWorker,
    ModelInfo,
    SeriesRequest,
    SliceOutcome,
    SliceRequest,
)
from desktop_app.network_menu import NetworkFeatures
from desktop_app.overlays import corner_text
from desktop_app.preset_box import preset_label, show_in_box
from desktop_app.result_cache import cache_key
from desktop_app.review_session import ReviewSession
from desktop_app.series_results import SeriesResults, summarize
from desktop_app.settings import AppSettings
from desktop_app.slice_strip import SliceStrip
from desktop_app.study_browser import StudyBrowser
from desktop_app.time_point_bar import TimePointBar
from desktop_app.viewer import SliceViewer
from desktop_app.viewports import ViewportFeatures
from desktop_app.window_size import fitting_size

if TYPE_CHECKING:  # pragma: no cover
    from core.export.naming import ExportName

GESTURES = (
    ("Wheel", "previous / next slice"),
    ("Left drag", "window (horizontal) / level (vertical)"),
    ("Ctrl + wheel", "zoom about the cursor"),
    ("Right or middle drag", "pan"),
    ("Double click", "fit to window"),
    ("Drop files or folders", "open them"),
    ("Click or wheel on another viewport", "make it the active one (layouts)"),
    ("Shift + click", "crosshair: every viewport goes to that point"),
    ("Drag a series from the study browser", "show it in the viewport it is dropped on"),
)
Shortcut = str | QKeySequence | QKeySequence.StandardKey
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
        self.series: Series | None = None
        self.index = 0
        self.voi: Window | None = None
        self.invert = False
        self.deidentify = False
        self.model_info: ModelInfo | None = None
        self.model_state = "not loaded"
        self.model_error = ""
        self.config: ModelConfig | None = None
        self.summary: SeriesSummary | None = None
        self.summary_slice = -1
        self.presets: list[Window] = []
        self._presets_stack: str | None = None  # stack_key of the slices the presets were computed for
        self.results = SeriesResults()
        self._meta_cache: OrderedDict[str, SliceMetadata | None] = OrderedDict()
        self._next_request = 0
        self._slice_request = -1
        self._requested_key = ""
        self._series_request = -1
        self._series_request_uid = ""
        self._series_started = 0.0
        self._index_job = -1
        self._heat: NDArray[np.float32] | None = None
        self._closing = False

        self.setWindowTitle(f"NeuroReview - {RESEARCH_ONLY}")
        self.setAcceptDrops(True)
        self._build_central()
        self._build_docks()
        self._build_status_bar()
        self._build_actions()
        self._restore_settings()
        self._read_config()
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
        panel.auto_toggled.connect(self._on_auto_toggled)
        panel.uncertain_changed.connect(lambda value: setattr(self.settings, "uncertain_below", value))
        panel.heatmap_request_changed.connect(lambda: self.classify_current(force=True))
        panel.overlay_style_changed.connect(self._on_overlay_style)
        panel.heatmap_toggled.connect(self.viewer.set_heatmap_visible)
        panel.side_by_side_toggled.connect(self.viewer.set_side_by_side)

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

    def _action(
        self,
        menu: QMenu,
        text: str,
        slot: Callable[..., object],
        shortcut: Shortcut | None = None,
        checkable: bool = False,
    ) -> QAction:
        action = QAction(text, self)
        if shortcut:
            action.setShortcut(QKeySequence(shortcut))
        action.setCheckable(checkable)
        (action.toggled if checkable else action.triggered).connect(slot)
        menu.addAction(action)
        self.addAction(action)
        return action

    def _build_actions(self) -> None:
        menus = self.menuBar()
        file = menus.addMenu("&File")
        self._action(file, "Open files...", self.open_files_dialog, QKeySequence.StandardKey.Open)
        self._action(file, "Open folder...", self.open_folder_dialog, "Ctrl+Shift+O")
        self._action(file, "Open DICOMDIR...", self.open_dicomdir_dialog, "Ctrl+Alt+O")
        self.recent_menu = file.addMenu("Open recent")
        self._fill_recent()
        export = file.addMenu("Export")
        self._action(export, "Export PDF report...", lambda: self.export_dialog("pdf"), "Ctrl+E")
        self._action(export, "Export PNG of the view...", lambda: self.export_dialog("png"))
        self._action(export, "Export DICOM SR + Secondary Capture...", lambda: self.export_dialog("dicom"))
        self._action(export, "Export results as CSV...", lambda: self.export_dialog("csv"))
        self._action(export, "Export results as JSON...", lambda: self.export_dialog("json"))
        file.addSeparator()
        self._action(file, "Quit", self.close, QKeySequence.StandardKey.Quit)
        self.session = ReviewSession(self, file)  # Close study / Close all, per-series view state

        view = menus.addMenu("&View")
        self._action(view, "Fit to window", self.viewer.fit, "F")
        self._action(view, "Actual pixels (1:1)", self.viewer.one_to_one, "Z")
        zoom_in = self._action(view, "Zoom in", lambda: self.viewer.zoom_by(1.25), QKeySequence.StandardKey.ZoomIn)
        zoom_in.setShortcuts([*zoom_in.shortcuts(), QKeySequence("Ctrl+=")])  # "+" needs Shift on most layouts
        self._action(view, "Zoom out", lambda: self.viewer.zoom_by(0.8), QKeySequence.StandardKey.ZoomOut)
        self._action(view, "Invert", self.toggle_invert, "I")
        self._action(view, "Reset view and window", self.reset_view, "R")
        self.deid_action = self._action(view, "De-identified overlays", self.set_deidentify, "D", checkable=True)
        view.addSeparator()
        self.heat_action = self._action(view, "Show heatmap", self.ai_panel.heat_check.setChecked, "H", checkable=True)
        self.heat_action.setChecked(True)
        self.ai_panel.heat_check.toggled.connect(self.heat_action.setChecked)
        side = self._action(view, "Side by side", self.ai_panel.side_check.setChecked, "S", checkable=True)
        self.ai_panel.side_check.toggled.connect(side.setChecked)
        view.addSeparator()
        for dock in (self.browser_dock, self.ai_dock, self.errors_dock):
            view.addAction(dock.toggleViewAction())

        ai = menus.addMenu("&AI")
        self._action(ai, "Classify current slice", lambda: self.classify_current(force=True), "Space")
        self._action(ai, "Classify series", self.classify_series, "Ctrl+R")
        self._action(ai, "Cancel series run", self.cancel_series, "Esc")
        self._action(ai, "Jump to most suspicious slice", self.jump_to_most_suspicious, "J")
        self.auto_action = self._action(ai, "Classify automatically on slice change", self._on_auto_toggled,
                                        "Ctrl+Shift+A", checkable=True)  # fmt: skip

        help_menu = menus.addMenu("&Help")
        self._action(help_menu, "Keyboard shortcuts", self.show_shortcuts, QKeySequence.StandardKey.HelpContents)
        self._action(help_menu, "Open sample study", self.open_sample_study)
        self._action(help_menu, "About NeuroReview / model card", self.show_about)

        tools = self.addToolBar("Window")
        tools.setObjectName("window_toolbar")
        tools.addWidget(QLabel(" Window: "))
        self.preset_combo = QComboBox()
        self.preset_combo.setMinimumWidth(260)
        self.preset_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.preset_combo.setToolTip("Window presets: from the file, Auto, Brain, Full range (keys 1-9)")
        self.preset_combo.activated.connect(self.apply_preset)
        tools.addWidget(self.preset_combo)
        for n in range(1, 10):
            action = QAction(f"Window preset {n}", self)
            action.setShortcut(QKeySequence(str(n)))
            action.triggered.connect(lambda _checked=False, i=n - 1: self.apply_preset(i))
            self.addAction(action)

    def shortcut_list(self) -> list[tuple[str, str]]:
        """(keys, what) for every action with a shortcut, for the Help dialog."""
        items = [
            ("Up/Left, Down/Right", "previous / next slice"),
            ("PageUp / PageDown", "5 slices back / forward"),
            ("Home / End", "first / last slice (of the time point on screen)"),
            ("[ / ]", "previous / next time point (series with several)"),
            ("1 - 9", "window preset"),
            ("B (hold)", "blink the heatmap"),
        ]
        for action in self.actions():
            keys = " or ".join(k.toString() for k in action.shortcuts())
            if keys and not action.text().startswith("Window preset"):
                items.append((keys, action.text()))
        return items

    # ================================================================ settings
    def _restore_settings(self) -> None:
        geometry, state = self.settings.window_state()
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            screen = self.screen()
            self.resize(fitting_size(screen.availableGeometry().size() if screen is not None else None))
        if state is not None:
            self.restoreState(state)
        else:
            self.resizeDocks([self.browser_dock, self.ai_dock], [320, 380], Qt.Orientation.Horizontal)
        self.errors_dock.hide()  # shown again only when something could not be opened
        self.ai_panel.set_uncertain_below(self.settings.uncertain_below)
        self.ai_panel.set_overlay_style(
            self.settings.colormap, self.settings.overlay_opacity, self.settings.overlay_threshold
        )
        auto = self.settings.auto_classify
        self.ai_panel.auto_check.setChecked(auto)
        self.ai_panel.set_method(self.settings.heatmap_method)
        self.ai_panel.method_combo.currentIndexChanged.connect(
            lambda _i: setattr(self.settings, "heatmap_method", self.ai_panel.method())
        )

    def _save_settings(self) -> None:
        self.settings.save_window_state(self.saveGeometry(), self.saveState())
        self.settings.colormap = self.ai_panel.colormap()
        self.settings.overlay_opacity = self.ai_panel.opacity()
        self.settings.overlay_threshold = self.ai_panel.threshold()
        self.settings.auto_classify = self.ai_panel.auto_check.isChecked()
        self.settings.store.sync()

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        for item in self.settings.recent:
            action = self.recent_menu.addAction(item)
            action.triggered.connect(lambda _checked=False, p=item: self.open_paths([Path(p)]))
        self.recent_menu.setEnabled(bool(self.settings.recent))

    # ================================================================ workers
    def _read_config(self) -> None:
        try:
            self.config = load_model_config(self.weights_folder)
        except ModelConfigError:
            self.config = None
        if self.config is not None:
            self.ai_panel.set_classes(self.config.class_names)
            self._show_saliency_figures(self.config)

    def _show_saliency_figures(self, config: ModelConfig) -> None:
        localisation = config.saliency.get("localisation", {})
        chosen = self.settings.heatmap_method  # the reader's own choice outlives the weights' default
        self.ai_panel.set_saliency(
            config.default_saliency_method, localisation if isinstance(localisation, dict) else {}
        )
        self.ai_panel.set_method(chosen)

    def _start_index_worker(self) -> None:
        self.index_thread = QThread(self)
        self.index_thread.setObjectName("neuroreview-index")
        self.index_worker = IndexWorker()
        self.index_worker.moveToThread(self.index_thread)
        self.index_worker.series_found.connect(self._on_series_found)
        self.index_worker.progress.connect(self._on_index_progress)
        self.index_worker.finished.connect(self._on_index_finished)
        self.index_worker.failed.connect(self._on_index_failed)
        self.index_thread.start()

    def _start_inference_worker(self, factory: ClassifierFactory | None, load_model: bool) -> None:
        self.inference_thread = QThread(self)
        self.inference_thread.setObjectName("neuroreview-inference")
        self.inference_worker = InferenceWorker(self.weights_folder, factory=factory)
        self.inference_worker.moveToThread(self.inference_thread)
        worker = self.inference_worker
        worker.model_loading.connect(self._on_model_loading)
        worker.model_ready.connect(self._on_model_ready)
        worker.model_failed.connect(self._on_model_failed)
        worker.slice_result.connect(self._on_slice_result)
        worker.series_progress.connect(self._on_series_progress)
        worker.series_slice.connect(self._on_series_slice)
        worker.series_finished.connect(self._on_series_finished)
        worker.cancelled.connect(self._on_series_cancelled)
        worker.error.connect(self._on_inference_error)
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
        self._save_settings()
        self.hide()  # the window goes at once; the workers finish their current step behind it
        self.shutdown()
        event.accept()

    # ================================================================ opening
    def open_paths(self, paths: Sequence[Path], remember: bool = True) -> None:
        """Index files/folders/DICOMDIRs off the GUI thread and add them to the open studies; the first
        series appears when found.

        ``remember`` adds the paths to File > Open recent (not done for the bundled sample study).
        """
        paths = [Path(p) for p in paths]
        if not paths:
            return
        if remember:
            for path in paths:
                self.settings.add_recent(str(path))
            self.settings.last_study = [str(p) for p in paths]
            self._fill_recent()
        self.cancel_series()
        self.errors.setRowCount(0)
        self.errors_dock.hide()  # shown again if something of the new paths cannot be opened
        self.session.leave_series()  # the studies already open stay in the browser
        self.session.show_nothing("Indexing...")
        self._index_job = self.index_worker.start(paths)
        self.statusBar().showMessage(f"Opening {', '.join(p.name or str(p) for p in paths)}...")

    def open_sample_study(self) -> None:
        self.open_paths([sample_study_path()], remember=False)

    def _ask_paths(self, mode: str) -> None:
        start = self.settings.last_folder or str(Path.home())
        if mode == "files":
            files, _ = QFileDialog.getOpenFileNames(
                self, "Open images", start, "Images (*.dcm *.png *.jpg *.jpeg);;All files (*)"
            )
            chosen = [Path(f) for f in files]
        elif mode == "folder":
            folder = QFileDialog.getExistingDirectory(self, "Open folder", start)
            chosen = [Path(folder)] if folder else []
        else:
            file, _ = QFileDialog.getOpenFileName(self, "Open DICOMDIR", start, "DICOMDIR (DICOMDIR);;All files (*)")
            chosen = [Path(file)] if file else []
        if chosen:
            self.settings.last_folder = str(chosen[0] if chosen[0].is_dir() else chosen[0].parent)
            self.open_paths(chosen)

    def open_files_dialog(self) -> None:
        self._ask_paths("files")

    def open_folder_dialog(self) -> None:
        self._ask_paths("folder")

    def open_dicomdir_dialog(self) -> None:
        self._ask_paths("dicomdir")

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls() and any(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = [Path(u.toLocalFile()) for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.open_paths(paths)

    def _on_index_progress(self, job: int, done: int, total: int) -> None:
        if job == self._index_job:
            text = f"Indexing: {done} / {total} files" if total >= 0 else "Indexing: listing files..."
            self.statusBar().showMessage(text)

    def _on_series_found(self, job: int, series: Series, thumb: object) -> None:
        if job != self._index_job:
            return
        self.browser.add_series(series, thumb)  # type: ignore[arg-type]
        if self.series is None:
            self.show_series(series)
            self.browser.select_series(series.uid)
        elif self.series.uid == series.uid and len(series.slices) != len(self.series.slices):
            self._replace_series(series)

    def _on_index_finished(self, job: int, result: ScanResult) -> None:
        if job != self._index_job:
            return
        self.browser.set_result(result)
        self.errors.add_errors(result.errors)
        slices = result.all_slices()
        record_opened({r.path for r in slices}, slices=len(slices), errors=len(result.errors), via="gui")
        self.errors.add_errors(result.ignored)  # readable DICOM without an image (SR, presentation states)
        self.errors.add_errors(result.notes)  # e.g. a 4-D NIfTI shows its first volume
        count = len(result.errors)
        if count or result.notes:
            self.errors_dock.show()
        final = {s.uid: s for s in result.all_series()}
        if self.series is not None and self.series.uid in final:
            self._replace_series(final[self.series.uid])
        elif self.series is None and final:
            self.show_series(next(iter(final.values())))
        elif not final:
            self.viewer.set_message("No images found in what was opened" + (" - see Problems" if count else ""))
        problems = f"; {count} file(s) could not be opened (see Problems)" if count else ""
        self.statusBar().showMessage(f"Opened {len(final)} series{problems}", 10000)
        self.indexing_finished.emit(result)

    def _on_index_failed(self, job: int, message: str) -> None:
        if job == self._index_job:
            self.errors.add_message("open", message)
            self.errors_dock.show()
            self.viewer.set_message(message)

    # ================================================================ viewing
    @property
    def ref(self) -> SliceRef | None:
        if self.series is None or not 0 <= self.index < len(self.series.slices):
            return None  # also while show_series switches to a shorter series
        return self.series.slices[self.index]

    def show_series(self, series: Series) -> None:
        """Put ``series`` in the viewer as it was left (else at its middle slice, fitted, default window)."""
        self.session.leave_series()
        self.series = series
        self.voi = None
        self.invert = False
        self.viewer.fit()
        self.viewer.set_heatmap(None)
        count = len(series.slices)
        self.session.show_series_results(with_progress=True)
        self.slider.blockSignals(True)
        self.slider.setRange(0, max(count - 1, 0))
        self.slider.blockSignals(False)
        self.index = -1
        self._presets_stack = None
        self.series_shown.emit(series)
        if not self.session.restore(series):
            self.set_index(_middle_of_stack(series, series.slices[0].stack_key) if series.slices else 0)
        self.viewer.setFocus()

    def _replace_series(self, series: Series) -> None:
        """The scanner grew or re-ordered the current series: keep the same slice in view."""
        key = self.ref.key if self.ref is not None else ""
        self.series = series
        keys = [r.key for r in series.slices]
        self.slider.blockSignals(True)
        self.slider.setRange(0, max(len(keys) - 1, 0))
        self.slider.blockSignals(False)
        self.session.show_series_results(with_progress=True)
        self.index = keys.index(key) if key in keys else min(self.index, len(keys) - 1)
        self.slider.blockSignals(True)
        self.slider.setValue(self.index)
        self.slider.blockSignals(False)
        self.strip.set_current(self.index)
        self._update_overlays()

    def set_index(self, index: int) -> None:
        """Show slice ``index`` (clamped) and, with auto-classify on, ask the model about it."""
        if self.series is None or not self.series.slices:
            return
        index = min(max(int(index), 0), len(self.series.slices) - 1)
        if index == self.index:
            return
        self.index = index
        self.slider.blockSignals(True)
        self.slider.setValue(index)
        self.slider.blockSignals(False)
        self.strip.set_current(index)
        self.slice_label.setText(f"{index + 1} / {len(self.series.slices)}")
        self.time_bar.show_for(self.series, index)
        if self.series.slices[index].stack_key != self._presets_stack:
            self.voi = None  # e.g. magnitude and field-map frames: one's window does not fit the other
            self._fill_presets()
        self.render_slice()
        self._heat = None
        self.viewer.set_heatmap(None)
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
        self.viewer.set_pixel_aspect(_pixel_aspect(self._metadata(ref)))
        self._update_overlays()

    def _metadata(self, ref: SliceRef) -> SliceMetadata | None:
        if ref.key not in self._meta_cache:
            try:
                self._meta_cache[ref.key] = self.store.metadata(ref)
            except ImagingError:
                self._meta_cache[ref.key] = None
            while len(self._meta_cache) > 512:
                self._meta_cache.popitem(last=False)
        return self._meta_cache[ref.key]

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
                self._metadata(ref),
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
            self.voi = self.presets[index]
            self.render_slice()

    def _on_window_drag(self, dx: int, dy: int) -> None:
        ref = self.ref
        if ref is None:
            return
        if self.voi is None:
            try:
                self.voi = self.store.default_window(ref)
            except ImagingError:
                return
        step = max(self.voi.width, 1.0) * WINDOW_DRAG_GAIN
        width = max(1.0, self.voi.width + dx * step)
        center = self.voi.center + dy * step
        self.voi = Window(center=center, width=width, name="")
        self.render_slice()  # a window of the user's own: the preset box selects nothing

    def toggle_invert(self) -> None:
        self.invert = not self.invert
        self.render_slice()

    def reset_view(self) -> None:
        self.voi = None
        self.invert = False
        self.viewer.fit()
        self.render_slice()

    def set_deidentify(self, enabled: bool) -> None:
        self.deidentify = enabled
        self._update_overlays()

    # ================================================================ AI
    def _new_request(self) -> int:
        self._next_request += 1
        return self._next_request

    def _heat_spec(self) -> tuple[bool | str, str]:
        return self.ai_panel.heatmap_target(), self.ai_panel.method()

    def _show_cached_prediction(self) -> bool:
        """Show an already computed result for this slice at once; True when there was one."""
        ref = self.ref
        if ref is None or self.model_info is None:
            return False
        heatmap, method = self._heat_spec()
        hit = self.inference_worker.cache.get(cache_key(ref.key, self.model_info.sha256, heatmap, method))
        if hit is None:
            return False
        self.classify_current(force=True)  # the worker answers from its cache within milliseconds
        return True

    def classify_current(self, force: bool = False) -> None:
        """Queue the current slice (only the latest request is kept by the worker)."""
        ref = self.ref
        if ref is None or self.model_state == "failed":
            return
        if not force and not self.ai_panel.auto_check.isChecked():
            return
        heatmap, method = self._heat_spec()
        self._slice_request = self._new_request()
        self._requested_key = ref.key
        self.ai_panel.label_text.setText(
            "Classifying..." if self.model_state == "ready" else "Waiting for the model..."
        )
        self.inference_worker.submit_slice(SliceRequest(self._slice_request, ref, heatmap, method))

    def _on_slice_result(self, outcome: SliceOutcome) -> None:
        ref = self.ref
        if ref is None or outcome.request_id != self._slice_request or outcome.slice_key != ref.key:
            return  # an answer for a slice no longer on screen
        prediction = withhold_no_tumor_heatmap(outcome.prediction)  # a "notumor" map reads as "look here"
        self._requested_key = ""
        if not outcome.from_cache:
            self._audit_classified([ref.path], [prediction])
        self.ai_panel.show_prediction(prediction, outcome.model_input, outcome.from_cache)
        if outcome.from_cache:
            self.timing_label.setText(f"Last inference: cached ({prediction.milliseconds:.0f} ms when computed)")
        else:
            self.timing_label.setText(f"Last inference: {prediction.milliseconds:.0f} ms")
        self._heat = prediction.heatmap
        self._apply_heatmap()
        self.prediction_shown.emit(outcome.prediction)

    def _apply_heatmap(self) -> None:
        if self._heat is None:
            self.viewer.set_heatmap(None)
            return
        panel = self.ai_panel
        caption = heatmap_caption(panel.prediction) if panel.prediction is not None else ""
        style = panel.heatmap_style()
        self.viewer.set_heatmap(colorize(self._heat, style.colormap, style.opacity, style.threshold), caption)

    def _on_overlay_style(self) -> None:
        self._apply_heatmap()

    def _on_auto_toggled(self, enabled: bool) -> None:
        for widget in (self.ai_panel.auto_check, getattr(self, "auto_action", None)):
            if widget is not None and widget.isChecked() != enabled:
                widget.setChecked(enabled)
        self.settings.auto_classify = enabled
        if enabled:
            self.classify_current()

    def classify_series(self) -> None:
        if self.series is None or not self.series.slices or self.model_state == "failed":
            return
        self._series_request = self._new_request()
        self._series_request_uid = self.series.uid
        self.results.start(self.series.uid)
        self._series_started = time.perf_counter()
        self.strip.reset(len(self.series.slices))
        self.ai_panel.series_started(len(self.series.slices))
        self.inference_worker.submit_series(SeriesRequest(self._series_request, tuple(self.series.slices)))

    def cancel_series(self) -> None:
        if self._series_request >= 0:
            self.inference_worker.cancel_series()

    def series_run_uid(self) -> str:
        """Series Instance UID of the series run going on, "" when none."""
        return self._series_request_uid if self._series_request >= 0 else ""

    def _on_series_progress(self, request_id: int, done: int, total: int, eta: float) -> None:
        if request_id == self._series_request:
            self.ai_panel.series_progress(done, total, eta)

    def _on_series_slice(self, request_id: int, index: int, prediction: Prediction) -> None:
        if request_id != self._series_request:
            return
        self.results.add(self._series_request_uid, index, prediction)
        if self.series is not None and self.series.uid == self._series_request_uid:
            self.strip.set_value(index, prediction.p_tumor)

    def _on_series_finished(self, request_id: int, results: dict[int, Prediction]) -> None:
        if request_id != self._series_request:
            return
        self._series_request = -1
        uid = self._series_request_uid
        self.results.finish(uid, results)
        if self.series is not None and self.series.uid == uid:
            self._audit_classified([self.series.slices[i].path for i in results], list(results.values()))
        seconds = time.perf_counter() - self._series_started
        self.ai_panel.series_ended(f"{len(results)} slices in {seconds:.1f} s")
        if self.series is not None and self.series.uid == uid:
            self.session.show_series_results(with_progress=False)
        outcome = summarize(results, uid)
        self.series_run_finished.emit(outcome[0] if outcome else None)

    def _on_series_cancelled(self, request_id: int) -> None:
        if request_id != self._series_request:
            return
        self._series_request = -1
        partial = self.results.of(self._series_request_uid)
        self.ai_panel.series_ended(f"Cancelled after {len(partial)} slices")
        if self.series is not None and self.series.uid == self._series_request_uid:
            self.session.show_series_results(with_progress=False)  # "partial (k of n slices)", never a verdict
        self.series_run_cancelled.emit()

    def jump_to_most_suspicious(self) -> None:
        if self.summary is not None and self.summary_slice >= 0:
            self.set_index(self.summary_slice)

    def _on_inference_error(self, request_id: int, message: str) -> None:
        if request_id == self._series_request:
            self._series_request = -1
            self.ai_panel.series_ended("Failed - see Problems")
        if request_id == self._slice_request:
            self.ai_panel.clear_prediction("Classification failed")
        self.errors.add_message("AI", message)
        self.statusBar().showMessage(message, 10000)

    def _on_model_loading(self) -> None:
        self.model_state = "loading"
        self.model_label.setText("AI: loading model...")
        self.busy.show()
        self.ai_panel.set_status("Loading the AI model in the background; the viewer is ready.")
        self.model_state_changed.emit("loading")

    def _on_model_ready(self, info: ModelInfo) -> None:
        self.model_info = info
        self.model_state = "ready"
        self.config = info.config
        self.busy.hide()
        self.model_label.setText(f"AI: {info.config.model_name} {info.config.model_version}")
        self.device_label.setText(f"Device: {info.device}")
        self.precision_label.setText(f"Precision: {info.precision}")
        self.ai_panel.set_classes(info.config.class_names)
        self._show_saliency_figures(info.config)
        self.ai_panel.set_model_available(True)
        self.ai_panel.set_status(
            f"{info.config.model_name} {info.config.model_version} loaded in {info.load_seconds:.1f} s "
            f"(weights {info.sha256[:12]}...)"
        )
        self.model_state_changed.emit("ready")
        ref = self.ref
        if ref is not None and self.ai_panel.prediction is None and self._requested_key != ref.key:
            self.classify_current()

    def _on_model_failed(self, message: str) -> None:
        self.model_state = "failed"
        self.model_error = message
        self.busy.hide()
        self.model_label.setText("AI: unavailable (viewer only)")
        self.ai_panel.set_model_available(False)
        self.ai_panel.set_status(f"AI model unavailable - the viewer works without it.\nReason: {message}")
        self.ai_panel.clear_prediction("AI unavailable")
        self.errors.add_message("AI model", message, "model")
        self.model_state_changed.emit("failed")

    # ================================================================ export
    def _view_pixels(self, deidentify: bool) -> NDArray[np.uint8]:
        """The viewer as shown; for a de-identified export its corner texts are de-identified too."""
        masked = deidentify and not self.deidentify
        if masked:
            self.set_deidentify(True)
        image = self.viewer.grab().toImage().convertToFormat(QImage.Format.Format_RGBA8888)
        if masked:
            self.set_deidentify(False)
        width, height = image.width(), image.height()
        raw = np.frombuffer(image.constBits(), dtype=np.uint8).reshape(height, image.bytesPerLine())
        return raw[:, : width * 4].reshape(height, width, 4).copy()

    def export_request(self, kind: ExportKind, target: Path, identity: ExportIdentity) -> ExportRequest:
        """What File > Export writes: the series results (the slice on screen with its heatmap) and
        the key slice as displayed; raises ExportError when there is nothing to export."""
        from core.export import ExportError, blend_heatmap

        if self.series is None or self.ref is None:
            raise ExportError("open a study first")
        config = self.model_info.config if self.model_info is not None else self.config
        results = self.results.of(self.series.uid)
        shown = self.ai_panel.prediction
        if shown is not None:
            results[self.index] = with_heatmap_from(results.get(self.index, shown), shown)
        results = {i: withhold_no_tumor_heatmap(p) for i, p in results.items()}  # as on screen
        if kind != "png" and (config is None or not results):
            raise ExportError("nothing classified yet: classify the slice (Space) or the series (Ctrl+R) first")
        order = sorted(results)
        style = self.ai_panel.heatmap_style()
        key = self.index if (kind == "pdf" and self.index in results) else -1
        if key < 0 and results:
            outcome = summarize(results, self.series.uid)
            key = outcome[1] if outcome is not None else order[0]
        display = overlay = None
        if results:
            display = self.store.display(self.series.slices[key], self.voi, self.invert)
            heat = results[key].heatmap
            overlay = blend_heatmap(display, heat, style) if heat is not None else None
        voi = self.voi or (self.store.default_window(self.ref) if self.ref is not None else None)
        return ExportRequest(
            kind=kind,
            target=target,
            refs=tuple(self.series.slices[i] for i in order),
            predictions=tuple(results[i] for i in order),
            config=config,  # type: ignore[arg-type]
            key_index=order.index(key) if key in order else 0,
            key_display=display,
            key_overlay=overlay,
            view=self._view_pixels(identity.deidentify) if kind == "png" else None,
            window=(voi.center, voi.width) if voi is not None else None,
            style=style,
            identity=identity,
            partial_of=0 if self.results.finished(self.series.uid) else len(self.series.slices),
            measurements=self.viewports.tools.report_rows(self.series.uid, identity.deidentify),
        )

    def export_dialog(self, kind: ExportKind) -> None:
        """File > Export: ask folder, name and identity (remembered), then export."""
        if self.series is None:
            self._on_export_failed("open a study first")
            return
        choice = ask_export(self, kind, self.settings, series_header(self.series.slices))
        if choice is not None:
            self.export(kind, choice.target, identity=choice.identity, name=choice.name)

    def export(
        self, kind: ExportKind, target: Path, *, identity: ExportIdentity | None = None, name: ExportName | None = None
    ) -> None:
        """Write one export in a pool thread; ``export_finished`` / ``export_failed`` report back.

        ``target`` is the file (PDF, PNG, CSV, JSON) or the folder (DICOM, whose file names come from
        ``name`` or the content); an existing file is never replaced.  ``identity`` defaults to the
        user's last choice in the export dialog.
        """
        from core.export import ExportError

        identity = identity or ExportIdentity(IdentityMode(self.settings.export_identity))
        try:
            request = self.export_request(kind, target, identity)
        except (ExportError, ImagingError) as exc:
            self._on_export_failed(str(exc))
            return
        task = ExportTask(dataclasses.replace(request, name=name))
        task.signals.finished.connect(self._on_export_finished)
        task.signals.failed.connect(self._on_export_failed)
        self.statusBar().showMessage(f"Exporting {kind.upper()} ({identity.mode.label.lower()})...")
        QThreadPool.globalInstance().start(task)

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
            self.statusBar().showMessage(notes[-1], 15000)

    def _on_export_finished(self, written: list[Path]) -> None:
        record_exported(",".join(sorted({p.suffix.lstrip(".") or "folder" for p in written})), written, via="gui")
        self.statusBar().showMessage("Exported " + ", ".join(str(p) for p in written), 15000)
        self.export_finished.emit(written)

    def _on_export_failed(self, message: str) -> None:
        self.errors.add_message("export", message)
        self.statusBar().showMessage(f"Export failed: {message}", 15000)
        self.export_failed.emit(message)

    # ================================================================ help
    def show_shortcuts(self) -> None:
        dialog = TextDialog("Keyboard shortcuts", shortcuts_html(self.shortcut_list(), GESTURES), self)
        dialog.show()

    def about_html(self) -> str:
        info = self.model_info
        status = {"ready": "loaded", "failed": f"unavailable ({self.model_error})"}.get(
            self.model_state, self.model_state
        )
        return model_card_html(
            self.config,
            status,
            info.device if info else "",
            info.precision if info else "",
            self.settings.location(),
        )

    def show_about(self) -> None:
        TextDialog("About NeuroReview", self.about_html(), self).show()

    def defer(self, callback: Callable[[], object]) -> None:
        """Run ``callback`` once the event loop is running (used at start-up)."""
        QTimer.singleShot(0, callback)

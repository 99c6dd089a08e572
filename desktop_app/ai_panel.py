"""The AI panel: calibrated probabilities, uncertainty, the model's input, series run and heatmap controls.

The panel only displays and collects choices: the heatmap settings the reader edits here go into the
review session (:class:`core.review.ReviewSession`, the main window connects the panel's signals to it),
and the panel shows the session's settings back (:meth:`AIPanel.show_heatmap_settings`); the screen and
every export draw with the session's copy, never with these widgets.  Research use only - not for
diagnostic use.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from core.imaging.heatmap import COLORMAPS, HeatmapStyle, legend_strip
from core.model.heatmap_policy import heatmap_note
from core.model.prediction import Prediction, outside_text
from core.model.saliency import GRADIENT_METHODS, METHOD_TITLES, localisation_summary
from core.model.series_summary import SeriesSummary
from core.review import HeatmapSettings
from desktop_app.qimage import to_qimage

RESEARCH_ONLY = "Research use only - not for diagnostic use"
METHODS = tuple((METHOD_TITLES[m], m) for m in GRADIENT_METHODS)
PREDICTED = "Predicted class"
INSET_SIZE = 112


def heatmap_caption(prediction: Prediction) -> str:
    """What the prediction's map shows, e.g. "Grad-CAM for class 'glioma'" ("" without a map)."""
    if prediction.heatmap is None:
        return ""
    method = dict((v, t) for t, v in METHODS).get(prediction.heatmap_method or "", prediction.heatmap_method)
    return f"{method} for class '{prediction.heatmap_class}'"


def _row(*widgets: QWidget) -> QWidget:
    """Widgets side by side in one form row (the panel fits the window without scrolling)."""
    holder = QWidget()
    layout = QHBoxLayout(holder)
    layout.setContentsMargins(0, 0, 0, 0)
    for widget in widgets:
        layout.addWidget(widget)
    return holder


def _eta_text(seconds: float) -> str:
    if math.isnan(seconds):
        return "estimating..."
    return f"about {seconds:.0f} s left" if seconds >= 1 else "finishing..."


class AIPanel(QWidget):
    """Right-hand panel; see the module docstring."""

    classify_slice_clicked = Signal()
    classify_series_clicked = Signal()
    cancel_clicked = Signal()
    jump_clicked = Signal()
    auto_toggled = Signal(bool)
    uncertain_changed = Signal(float)
    heatmap_request_changed = Signal()  # class or method changed: needs a new saliency map
    overlay_style_changed = Signal()  # colormap, opacity or threshold changed: recolour only
    heatmap_toggled = Signal(bool)
    side_by_side_toggled = Signal(bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.uncertain_below = 0.6
        self.prediction: Prediction | None = None
        self._default_method = ""
        self._localisation: dict[str, object] = {}
        self._model_input: NDArray[np.uint8] | None = None
        self._cached = False
        layout = QVBoxLayout(self)
        marker = QLabel(RESEARCH_ONLY)
        marker.setStyleSheet("color: #c08000; font-weight: bold;")
        marker.setWordWrap(True)
        layout.addWidget(marker)
        self.model_status = QLabel("AI model: not loaded")
        self.model_status.setWordWrap(True)
        layout.addWidget(self.model_status)
        layout.addWidget(self._build_result_box())
        layout.addWidget(self._build_heatmap_box())  # the slice's map next to its result, reached without scrolling
        layout.addWidget(self._build_series_box())
        layout.addStretch(1)
        self.set_classes(())
        self.set_model_available(False)

    # ----- construction --------------------------------------------------------------------
    def _build_result_box(self) -> QGroupBox:
        box = QGroupBox("Current slice")
        layout = QVBoxLayout(box)
        self.bars_layout = QGridLayout()
        layout.addLayout(self.bars_layout)
        self.label_text = QLabel("-")
        self.label_text.setStyleSheet("font-size: 15px; font-weight: bold;")
        self.p_tumor_text = QLabel("P(tumor): -")
        self.confidence_text = QLabel("Calibrated confidence: -")
        self.uncertain_flag = QLabel("")
        self.uncertain_flag.setStyleSheet("color: black; background: #ffb000; padding: 2px; font-weight: bold;")
        self.uncertain_flag.hide()
        self.timing_text = QLabel("")
        self.timing_text.setStyleSheet("color: gray;")
        self.label_text.setWordWrap(True)
        layout.addWidget(self.label_text)
        self.show_anyway_check = QCheckBox("Show the model's output anyway (research only, not an answer)")
        self.show_anyway_check.setToolTip(
            "The slice is outside the intended use: its probabilities and heatmap mean nothing clinically"
        )
        self.show_anyway_check.setStyleSheet("color: #c05000;")
        self.show_anyway_check.hide()
        self.show_anyway_check.toggled.connect(self._show_anyway_toggled)
        layout.addWidget(self.show_anyway_check)
        row = QHBoxLayout()
        self.inset = QLabel()
        self.inset.setFixedSize(INSET_SIZE, INSET_SIZE)
        self.inset.setStyleSheet("background: black;")
        self.inset.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.inset.setToolTip("What the model saw: the exact picture fed to the network (model rendering, resized)")
        inset_column = QVBoxLayout()
        inset_column.setSpacing(1)
        inset_column.addWidget(self.inset)
        caption = QLabel("What the model saw")
        caption.setStyleSheet("color: gray; font-size: 11px;")
        inset_column.addWidget(caption)
        row.addLayout(inset_column)
        facts = QVBoxLayout()
        for widget in (self.p_tumor_text, self.confidence_text, self.uncertain_flag, self.timing_text):
            widget.setWordWrap(True)
            facts.addWidget(widget)
        facts.addStretch(1)
        facts.addLayout(self._build_uncertain_row())
        row.addLayout(facts, 1)
        layout.addLayout(row)
        buttons = QHBoxLayout()
        self.classify_button = QPushButton("Classify slice")
        self.classify_button.setToolTip("Classify the current slice (Space)")
        self.classify_button.clicked.connect(self.classify_slice_clicked)
        buttons.addWidget(self.classify_button)
        self.auto_check = QCheckBox("Auto on slice change")
        self.auto_check.toggled.connect(self.auto_toggled)
        buttons.addWidget(self.auto_check)
        layout.addLayout(buttons)
        return box

    def _build_uncertain_row(self) -> QHBoxLayout:
        row = QHBoxLayout()
        label = QLabel("Uncertain below")
        label.setToolTip("Flag a result as uncertain when its calibrated confidence is below this value")
        row.addWidget(label)
        self.uncertain_spin = QDoubleSpinBox()
        self.uncertain_spin.setRange(0.0, 1.0)
        self.uncertain_spin.setSingleStep(0.05)
        self.uncertain_spin.setDecimals(2)
        self.uncertain_spin.setValue(self.uncertain_below)
        self.uncertain_spin.valueChanged.connect(self._uncertain_changed)
        row.addWidget(self.uncertain_spin)
        row.addStretch(1)
        return row

    def _build_series_box(self) -> QGroupBox:
        box = QGroupBox("Series")
        layout = QVBoxLayout(box)
        buttons = QHBoxLayout()
        self.series_button = QPushButton("Classify series")
        self.series_button.setToolTip("Classify every slice of the series (Ctrl+R)")
        self.series_button.clicked.connect(self.classify_series_clicked)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop the series run (Esc)")
        self.cancel_button.clicked.connect(self.cancel_clicked)
        self.cancel_button.setEnabled(False)
        buttons.addWidget(self.series_button)
        buttons.addWidget(self.cancel_button)
        layout.addLayout(buttons)  # the jump button joins this row below
        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.eta_text = QLabel("")
        layout.addWidget(self.progress)
        layout.addWidget(self.eta_text)
        self.summary_text = QLabel("No series run yet.")
        self.summary_text.setWordWrap(True)
        self.rule_text = QLabel("")
        self.rule_text.setWordWrap(True)
        self.rule_text.setStyleSheet("color: gray; font-size: 11px;")
        self.jump_button = QPushButton("Jump to key slice")
        self.jump_button.setToolTip("Go to the series' key slice, the one with the highest P(tumor) (J)")
        self.jump_button.clicked.connect(self.jump_clicked)
        self.jump_button.setEnabled(False)
        buttons.addWidget(self.jump_button)
        for widget in (self.summary_text, self.rule_text):
            layout.addWidget(widget)
        return box

    def _build_heatmap_box(self) -> QGroupBox:
        box = QGroupBox("Heatmap overlay")
        form = QFormLayout(box)
        self.heat_check = QCheckBox("Show (H; hold B to blink)")
        self.heat_check.setChecked(True)
        self.heat_check.toggled.connect(self.heatmap_toggled)
        self.side_check = QCheckBox("Side by side (S)")
        self.side_check.toggled.connect(self.side_by_side_toggled)
        form.addRow(_row(self.heat_check, self.side_check))
        self.class_combo = QComboBox()
        self.class_combo.setToolTip("The class the map is for; 'Predicted class' shows no map of a 'notumor' answer")
        self.class_combo.currentIndexChanged.connect(lambda _i: self.heatmap_request_changed.emit())
        self.method_combo = QComboBox()
        for text, value in METHODS:
            self.method_combo.addItem(text, value)
        self.method_combo.setToolTip("Saliency method")
        self.method_combo.currentIndexChanged.connect(self._method_changed)
        form.addRow("Class", _row(self.class_combo, self.method_combo))
        self.method_figure = QLabel("")
        self.method_figure.setWordWrap(True)
        self.method_figure.setStyleSheet("color: gray; font-size: 11px;")
        self.method_figure.setToolTip(
            "Pointing game from the model card: how often the map's maximum lies on the tumor mask "
            "(validation slices; neuroreview-train saliency-bench)"
        )
        form.addRow(self.method_figure)
        self.colormap_combo = QComboBox()
        self.colormap_combo.addItems(list(COLORMAPS))
        self.colormap_combo.currentIndexChanged.connect(self._colormap_changed)
        self.opacity_slider, self.opacity_value = self._percent_slider(form, "Opacity", 100)
        self.threshold_slider, self.threshold_value = self._percent_slider(form, "Threshold", 95)
        self.threshold_slider.setToolTip("Hide saliency below this fraction of the map's maximum")
        self.legend_image = QLabel()
        self.legend_image.setToolTip("Saliency: low (left) to high (right)")
        form.addRow("Colormap", _row(self.colormap_combo, QLabel("low"), self.legend_image, QLabel("high")))
        self.heat_caption = QLabel("")
        self.heat_caption.setWordWrap(True)
        self.heat_caption.setStyleSheet("color: gray; font-size: 11px;")
        form.addRow(self.heat_caption)
        self._colormap_changed()
        return box

    def _percent_slider(self, form: QFormLayout, title: str, maximum: int) -> tuple[QSlider, QLabel]:
        """A 0..``maximum`` % slider with its value written beside it."""
        slider = QSlider(Qt.Orientation.Horizontal)
        slider.setRange(0, maximum)
        value = QLabel("0 %")
        value.setMinimumWidth(40)
        value.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        slider.valueChanged.connect(lambda v: value.setText(f"{v} %"))
        slider.valueChanged.connect(lambda _v: self.overlay_style_changed.emit())
        row = QHBoxLayout()
        row.addWidget(slider, 1)
        row.addWidget(value)
        form.addRow(title, row)
        return slider, value

    def _method_changed(self, _index: int = 0) -> None:
        self._show_method_figure()
        self.heatmap_request_changed.emit()

    def _show_method_figure(self) -> None:
        figures = self._localisation.get(self.method())
        text = localisation_summary(figures if isinstance(figures, dict) else None)
        if self.method() == self._default_method:
            text += " Default for these weights."
        self.method_figure.setText(text)

    def set_saliency(self, default_method: str, localisation: dict[str, object]) -> None:
        """The weights config's heatmap default and its measured localisation figures, per method."""
        self._default_method = default_method
        self._localisation = dict(localisation)
        index = self.method_combo.findData(default_method)
        if index >= 0 and index != self.method_combo.currentIndex():
            self.method_combo.setCurrentIndex(index)  # emits: the figure and the map follow
        else:
            self._show_method_figure()

    def _uncertain_changed(self, value: float) -> None:
        self.uncertain_below = float(value)
        self.uncertain_changed.emit(self.uncertain_below)
        if self.prediction is not None:
            self._show_uncertainty(self.prediction)

    def set_uncertain_below(self, value: float) -> None:
        self.uncertain_spin.setValue(value)

    def _show_uncertainty(self, prediction: Prediction) -> None:
        self.uncertain_flag.setText(f"UNCERTAIN: confidence {prediction.confidence:.2f} < {self.uncertain_below:.2f}")
        self.uncertain_flag.setVisible(prediction.confidence < self.uncertain_below)

    def _show_anyway_toggled(self, _checked: bool) -> None:
        if self.prediction is not None and self._model_input is not None:
            self.show_prediction(self.prediction, self._model_input, self._cached)
        self.overlay_style_changed.emit()  # the main window shows or hides the heatmap

    def heatmap_allowed(self) -> bool:
        """False for a slice outside the intended use, unless the user chose to see the output anyway."""
        return self.prediction is None or self.prediction.inside_intended_use or self.show_anyway_check.isChecked()

    def _colormap_changed(self, _index: int = 0) -> None:
        self.legend_image.setPixmap(QPixmap.fromImage(to_qimage(legend_strip(self.colormap(), 90, 12))))
        self.overlay_style_changed.emit()

    # ----- state read by the main window ---------------------------------------------------
    def heatmap_target(self) -> bool | str:
        """``True`` for the predicted class, else the chosen class name."""
        text = self.class_combo.currentText()
        return True if text in ("", PREDICTED) else text

    def method(self) -> str:
        return str(self.method_combo.currentData() or GRADIENT_METHODS[0])

    def set_method(self, method: str) -> None:
        """Choose the saliency method by its value (``gradcam``, ``gradcam++``); unknown values are ignored."""
        index = self.method_combo.findData(method)
        if index >= 0:
            self.method_combo.setCurrentIndex(index)

    def colormap(self) -> str:
        return self.colormap_combo.currentText() or COLORMAPS[0]

    def opacity(self) -> float:
        return self.opacity_slider.value() / 100.0

    def threshold(self) -> float:
        return self.threshold_slider.value() / 100.0

    def heatmap_style(self) -> HeatmapStyle:
        """Colormap, opacity and threshold as set here: the screen and every export draw with them."""
        return HeatmapStyle(self.colormap(), self.opacity(), self.threshold())

    def set_overlay_style(self, colormap: str, opacity: float, threshold: float) -> None:
        if colormap in COLORMAPS:
            self.colormap_combo.setCurrentText(colormap)
        self.opacity_slider.setValue(round(opacity * 100))
        self.threshold_slider.setValue(round(threshold * 100))

    def heatmap_settings(self) -> HeatmapSettings:
        """The heatmap choices as edited here, for the review session."""
        return HeatmapSettings(
            shown=self.heat_check.isChecked(),
            method=self.method(),
            target=self.heatmap_target(),
            style=self.heatmap_style(),
            outside_shown=self.show_anyway_check.isChecked(),
        )

    def show_heatmap_settings(self, settings: HeatmapSettings) -> None:
        """Show the session's heatmap settings; the panel says nothing back (its own signals are blocked)."""
        blocked = self.blockSignals(True)
        try:
            self.heat_check.setChecked(settings.shown)
            self.set_method(settings.method)
            target = PREDICTED if settings.target is True else str(settings.target)
            if self.class_combo.findText(target) >= 0:
                self.class_combo.setCurrentText(target)
            style = settings.style
            self.set_overlay_style(style.colormap, style.opacity, style.threshold)
            self.show_anyway_check.setChecked(settings.outside_shown)
        finally:
            self.blockSignals(blocked)

    # ----- updates -------------------------------------------------------------------------
    def set_classes(self, names: tuple[str, ...]) -> None:
        """Build one probability bar per class and fill the heatmap class selector."""
        while self.bars_layout.count():
            item = self.bars_layout.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.deleteLater()
        self.bars: dict[str, QProgressBar] = {}
        for row, name in enumerate(names):
            bar = QProgressBar()
            bar.setRange(0, 1000)
            bar.setValue(0)
            bar.setFormat("-")
            bar.setTextVisible(True)
            self.bars_layout.addWidget(QLabel(name), row, 0)
            self.bars_layout.addWidget(bar, row, 1)
            self.bars[name] = bar
        self.class_combo.blockSignals(True)
        self.class_combo.clear()
        self.class_combo.addItems([PREDICTED, *names])
        self.class_combo.blockSignals(False)

    def set_model_available(self, available: bool) -> None:
        for widget in (self.classify_button, self.series_button):
            widget.setEnabled(available)

    def set_status(self, text: str) -> None:
        self.model_status.setText(text)

    def clear_prediction(self, note: str = "-") -> None:
        self.prediction = None
        self._model_input = None
        self.show_anyway_check.hide()
        for bar in self.bars.values():
            bar.setValue(0)
            bar.setFormat("-")
        self.label_text.setText(note)
        self.p_tumor_text.setText("P(tumor): -")
        self.confidence_text.setText("Calibrated confidence: -")
        self.uncertain_flag.hide()
        self.inset.clear()
        self.timing_text.setText("")
        self.heat_caption.setText("")

    def show_prediction(self, prediction: Prediction, model_input: NDArray[np.uint8], cached: bool = False) -> None:
        """Display one slice's result (probabilities are calibrated, in config order).

        A slice outside the intended use shows the reason instead of the class bars, unless the
        research-only "show anyway" box is ticked (then clearly marked).
        """
        self.prediction = prediction
        self._model_input, self._cached = model_input, cached
        outside = not prediction.inside_intended_use
        self.show_anyway_check.setVisible(outside)
        shown = not outside or self.show_anyway_check.isChecked()
        for name, p in zip(prediction.class_names, prediction.probabilities, strict=True):
            bar = self.bars.get(name)
            if bar is not None:
                bar.setValue(round(p * 1000) if shown else 0)
                bar.setFormat(f"{p * 100:.1f} %" if shown else "-")
        if outside:
            self.label_text.setText(outside_text(prediction.outside_reason))
            self.label_text.setStyleSheet("font-size: 14px; font-weight: bold; color: #c05000;")
        else:
            self.label_text.setText(f"Predicted: {prediction.label}")
            self.label_text.setStyleSheet("font-size: 15px; font-weight: bold;")
        if outside and shown:
            self.p_tumor_text.setText(
                f"RESEARCH ONLY, not an answer: {prediction.label}, P(tumor) {prediction.p_tumor:.3f}"
            )
        else:
            self.p_tumor_text.setText("P(tumor): not given" if outside else f"P(tumor): {prediction.p_tumor:.3f}")
        self.confidence_text.setText("" if outside else f"Calibrated confidence: {prediction.confidence:.3f}")
        if outside:
            self.uncertain_flag.hide()
        else:
            self._show_uncertainty(prediction)
        pixmap = QPixmap.fromImage(to_qimage(model_input))
        self.inset.setPixmap(
            pixmap.scaled(
                INSET_SIZE, INSET_SIZE, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.FastTransformation
            )
        )
        source = "cached" if cached else f"{prediction.milliseconds:.0f} ms"
        self.timing_text.setText(f"{prediction.device}, {prediction.precision}, {source}")
        self.heat_caption.setText(heatmap_caption(prediction) or heatmap_note(prediction))

    def series_started(self, total: int) -> None:
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(0)
        self.eta_text.setText("starting...")
        self.cancel_button.setEnabled(True)
        self.series_button.setEnabled(False)
        self.jump_button.setEnabled(False)
        self.summary_text.setText("Running...")
        self.rule_text.setText("")

    def series_progress(self, done: int, total: int, eta_seconds: float) -> None:
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(done)
        self.eta_text.setText(f"{done} / {total} slices, {_eta_text(eta_seconds)}")

    def show_kept_progress(self, done: int, total: int, finished: bool) -> None:
        """The progress bar of a series shown again: its kept results, not the last run of another series."""
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(done)
        if not done:
            self.eta_text.setText("")
        elif finished:
            self.eta_text.setText(f"{done} of {total} slices classified")
        else:
            self.eta_text.setText(f"Cancelled after {done} of {total} slices")

    def series_ended(self, message: str) -> None:
        self.cancel_button.setEnabled(False)
        self.series_button.setEnabled(True)
        self.eta_text.setText(message)

    def show_partial(self, done: int, total: int) -> None:
        """A run that stopped early: how far it got, and no series verdict."""
        self.summary_text.setText(
            f"Series: <b>partial ({done} of {total} slices)</b>, no verdict. Classify the series (Ctrl+R) for one."
        )
        self.rule_text.setText("A series result needs every slice classified.")
        self.jump_button.setEnabled(False)

    def show_summary(self, summary: SeriesSummary | None, key_slice: int = -1, total: int = 0) -> None:
        """Show the series result; ``key_slice`` is the slice index of the maximum P(tumor)."""
        if summary is None:
            self.summary_text.setText("No series run yet.")
            self.rule_text.setText("")
            self.jump_button.setEnabled(False)
            return
        excluded = f"<br>{summary.excluded_text()}" if summary.n_excluded else ""
        if not summary.has_verdict:
            self.summary_text.setText(f"Series: <b>{summary.label}</b>, no verdict.{excluded}")
            self.rule_text.setText(f"Rule: {summary.rule}")
            self.jump_button.setEnabled(False)
            return
        self.summary_text.setText(
            f"Series: <b>{summary.label}</b>, max P(tumor) {summary.p_tumor:.2f} on slice {key_slice + 1}; "
            f"{summary.n_suspicious} of {summary.n_slices} classified slices (of {total}) "
            f"have P(tumor) >= {summary.threshold:g}{excluded}"
        )
        self.rule_text.setText(f"Rule: {summary.rule}")
        self.jump_button.setEnabled(True)

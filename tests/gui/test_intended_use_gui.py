"""The AI panel, the slice strip and the worker with a slice outside the intended use."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from core.model.prediction import Prediction
from core.model.series_summary import summarize_series
from desktop_app.ai_panel import AIPanel
from desktop_app.slice_strip import SliceStrip

pytestmark = pytest.mark.gui
NAMES = ("glioma", "meningioma", "notumor", "pituitary")
CT = "modality CT (CT), not MR"


def _prediction(reason: str = "") -> Prediction:
    heat = np.ones((8, 8), dtype=np.float32)
    base = Prediction(NAMES, (0.9, 0.05, 0.03, 0.02), "glioma", 0.97, "sha", "CPU", "float32", 1.0, heat, "glioma")
    return replace(base, outside_reason=reason)


def test_the_panel_shows_the_reason_instead_of_the_class_bars(qtbot) -> None:
    panel = AIPanel()
    qtbot.addWidget(panel)
    panel.set_classes(NAMES)
    image = np.zeros((8, 8), dtype=np.uint8)
    panel.show_prediction(_prediction(CT), image)
    assert panel.label_text.text() == f"Outside intended use: {CT}"
    assert all(bar.value() == 0 and bar.format() == "-" for bar in panel.bars.values())
    assert panel.p_tumor_text.text() == "P(tumor): not given" and not panel.heatmap_allowed()
    assert not panel.show_anyway_check.isHidden()
    panel.show_anyway_check.setChecked(True)  # the deliberate research-only view
    assert panel.bars["glioma"].value() == 900 and panel.heatmap_allowed()
    assert panel.p_tumor_text.text().startswith("RESEARCH ONLY, not an answer")
    panel.show_prediction(_prediction(), image)
    assert panel.label_text.text() == "Predicted: glioma" and panel.show_anyway_check.isHidden()


def test_the_series_text_counts_the_excluded_slices(qtbot) -> None:
    panel = AIPanel()
    qtbot.addWidget(panel)
    summary = summarize_series([_prediction(), _prediction(CT)])
    panel.show_summary(summary, 0, 2)
    assert "1 slice(s) excluded, outside intended use: " + CT in panel.summary_text.text()
    panel.show_summary(summarize_series([_prediction(CT)]), 0, 1)
    assert "outside intended use</b>, no verdict" in panel.summary_text.text()
    assert not panel.jump_button.isEnabled()


def test_the_strip_marks_outside_slices(qtbot) -> None:
    strip = SliceStrip()
    qtbot.addWidget(strip)
    strip.reset(3)
    strip.set_value(0, 0.2)
    strip.set_value(1, 0.9, outside=True)
    assert strip.outside() == {1}
    strip.set_value(1, 0.9)
    assert strip.outside() == set()


def test_the_worker_applies_the_header_rules(qtbot, tmp_path: Path) -> None:
    from dicom_factory import make_dataset, phantom, write

    from core.imaging import PixelStore, open_paths
    from core.model.model_config import ModelConfig
    from core.model.network import Architecture
    from desktop_app.inference_worker import InferenceWorker, SliceOutcome, SliceRequest

    class Fake:  # the model calls every slice a glioma; only the header rules can say "outside"
        config = ModelConfig(architecture=Architecture(input_size=16))
        sha256, device_name, precision = "f" * 64, "CPU", "float32"

        def predict(self, rendered, heatmap=False, method="gradcam"):
            return [_prediction() for _ in rendered]

    path = write(make_dataset(phantom(16, 16), modality="CT"), tmp_path / "ct.dcm")
    ref = open_paths([path]).all_slices()[0]
    worker = InferenceWorker(factory=Fake, store=PixelStore())  # stays in this thread
    outcomes: list[SliceOutcome] = []
    worker.slice_result.connect(outcomes.append)
    worker.load_model()
    worker.submit_slice(SliceRequest(1, ref))
    assert [o.prediction.outside_reason for o in outcomes] == [CT]

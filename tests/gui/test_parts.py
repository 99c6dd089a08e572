"""The workstation's small parts: colormaps, series summary, cache, overlays, settings, worker queueing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.imaging import SliceMetadata, SliceRef, Window
from core.imaging.heatmap import COLORMAPS, colorize, legend_strip, lut
from core.model.prediction import Prediction
from core.model.result_cache import ResultCache, cache_key
from desktop_app.inference_worker import InferenceWorker, SliceOutcome, SliceRequest
from desktop_app.overlays import corner_text
from desktop_app.settings import AppSettings

NAMES = ("glioma", "meningioma", "notumor", "pituitary")


def pred(probs: tuple[float, ...]) -> Prediction:
    label = NAMES[int(np.argmax(probs))]
    return Prediction(NAMES, probs, label, 1.0 - probs[2], "sha", "CPU", "float32", 1.0)


@pytest.mark.parametrize("name", COLORMAPS)
def test_colormaps_are_perceptually_ordered(name: str) -> None:
    table = lut(name).astype(float)
    assert table.shape == (256, 3)
    luminance = table @ np.array([0.2126, 0.7152, 0.0722])
    assert np.all(np.diff(luminance) > -1.0), "lightness must rise monotonically"
    assert legend_strip(name, 100, 5).shape == (5, 100, 3)


def test_colorize_threshold_and_opacity() -> None:
    heat = np.array([[0.0, 0.1], [0.5, 1.0]], dtype=np.float32)
    rgba = colorize(heat, "viridis", opacity=0.5, threshold=0.3)
    assert rgba.shape == (2, 2, 4)
    assert rgba[0, 0, 3] == 0 and rgba[0, 1, 3] == 0 and rgba[1, 0, 3] == 64 and rgba[1, 1, 3] == 128
    assert tuple(rgba[1, 1, :3]) == tuple(lut("viridis")[255])
    with pytest.raises(ValueError, match="unknown colormap"):
        lut("jet")


def test_screen_and_export_draw_the_heatmap_alike(qtbot) -> None:
    """The viewer paints the colorized layer over the slice with QPainter; exports call composite()."""
    from PySide6.QtGui import QImage, QPainter

    from core.imaging.heatmap import HeatmapStyle, composite
    from desktop_app.qimage import to_qimage

    rng = np.random.default_rng(3)
    display = rng.integers(0, 256, (24, 32), dtype=np.uint8)
    heat = rng.random((24, 32)).astype(np.float32)
    style = HeatmapStyle("inferno", opacity=0.6, threshold=0.3)
    base = to_qimage(display).convertToFormat(QImage.Format.Format_RGB32)
    painter = QPainter(base)
    painter.drawImage(0, 0, to_qimage(colorize(heat, style.colormap, style.opacity, style.threshold)))
    painter.end()
    rgb = base.convertToFormat(QImage.Format.Format_RGB888)
    raw = np.frombuffer(rgb.constBits(), dtype=np.uint8).reshape(24, rgb.bytesPerLine())[:, : 32 * 3]
    on_screen = raw.reshape(24, 32, 3).astype(int)
    exported = composite(display, heat, style).astype(int)
    assert np.abs(on_screen - exported).max() <= 2


def test_result_cache_is_keyed_by_weights_and_heatmap() -> None:
    cache: ResultCache[int] = ResultCache(capacity=2)
    a = cache_key("f#0", "sha1", True, "gradcam")
    cache.put(a, 1)
    assert cache.get(cache_key("f#0", "sha2", True, "gradcam")) is None
    assert cache.get(cache_key("f#0", "sha1", "glioma", "gradcam")) is None
    cache.put(cache_key("f#1", "sha1", False, ""), 2)
    cache.get(a)
    cache.put(cache_key("f#2", "sha1", False, ""), 3)  # evicts the least recently used (f#1)
    assert cache.get(a) == 1 and cache.get(cache_key("f#1", "sha1", False, "")) is None and len(cache) == 2


def test_corner_text_deidentifies() -> None:
    meta = SliceMetadata("a.dcm", 0, 1, 16, 16, modality="MR", patient_name="Doe, Jane", patient_id="123",
                         study_date="20240101", series_description="T1", instance_number=3)  # fmt: skip
    shown = corner_text(meta, 2, 10, Window(40, 80, "Brain"), 1.5)
    assert "Doe, Jane" in shown["top_left"] and "20240101" in shown["top_right"]
    assert "Slice 3 / 10" in shown["bottom_left"] and "W 80  L 40 (Brain)" in shown["bottom_right"]
    assert "W 2640  L 1320" in corner_text(meta, 0, 1, Window(1320.4, 2640.4), 1.0)["bottom_right"]
    assert "W 2.5  L -0.2" in corner_text(meta, 0, 1, Window(-0.2, 2.5), 1.0)["bottom_right"]  # not "W 2 L -0"
    hidden = corner_text(meta, 2, 10, None, 1.0, deidentify=True)
    text = " ".join(hidden.values())
    assert "Doe" not in text and "123" not in text and "20240101" not in text and "T1" in text


@pytest.mark.parametrize(
    ("orientation", "expected"),
    [
        ((1, 0, 0, 0, 1, 0), {"left": "R", "right": "L", "top": "A", "bottom": "P"}),  # axial
        ((0, 1, 0, 0, 0, -1), {"left": "A", "right": "P", "top": "H", "bottom": "F"}),  # sagittal
        ((1, 0, 0, 0, 0, -1), {"left": "R", "right": "L", "top": "H", "bottom": "F"}),  # coronal
        ((0.866, 0.5, 0, 0, 0, -1), {"left": "RA", "right": "LP", "top": "H", "bottom": "F"}),  # oblique, 30 deg
        ((0.985, 0.174, 0, 0, 0, -1), {"left": "R", "right": "L", "top": "H", "bottom": "F"}),  # 10 deg: no letter
    ],
)
def test_edge_labels_name_the_patient_directions(orientation: tuple[float, ...], expected: dict[str, str]) -> None:
    shown = corner_text(None, 0, 1, None, 1.0, orientation=orientation)
    assert {key: shown[key] for key in expected} == expected
    assert "left" not in corner_text(None, 0, 1, None, 1.0)  # no orientation (PNG, secondary capture): no letters


def test_settings_round_trip(app_settings: AppSettings) -> None:
    assert app_settings.auto_classify is True
    app_settings.auto_classify = False
    app_settings.overlay_opacity = 3.0  # clamped
    app_settings.colormap = "nonsense"  # falls back
    for n in range(15):
        app_settings.add_recent(f"/data/{n}")
    assert app_settings.auto_classify is False and app_settings.overlay_opacity == 1.0
    assert app_settings.colormap in COLORMAPS
    assert app_settings.recent[0] == "/data/14" and len(app_settings.recent) == 10


class _FakeStore:
    """Stands in for the window's PixelStore: every slice renders to ``rendered``; no header to read."""

    def __init__(self, rendered: np.ndarray) -> None:
        self.rendered = rendered

    def model_rendering(self, ref: SliceRef) -> np.ndarray:
        return self.rendered

    def metadata(self, ref: SliceRef) -> SliceMetadata:
        raise FileNotFoundError(ref.path)


class _FakeClassifier:
    """Stands in for core.model.classifier.Classifier to observe which requests reach the model."""

    def __init__(self, config) -> None:
        self.config = config
        self.sha256 = "f" * 64
        self.device_name, self.precision = "CPU", "float32"
        self.calls = 0

    def predict(self, rendered, heatmap=False, method="gradcam"):
        self.calls += len(rendered)
        return [pred((0.1, 0.2, 0.3, 0.4)) for _ in rendered]


def test_worker_keeps_only_the_latest_slice_request(qtbot, tmp_path: Path) -> None:
    from core.model.model_config import ModelConfig
    from core.model.network import Architecture

    fake = _FakeClassifier(ModelConfig(architecture=Architecture(input_size=16)))
    rendered = np.zeros((20, 24), dtype=np.uint8)
    worker = InferenceWorker(factory=lambda: fake, store=_FakeStore(rendered))  # stays in this thread
    refs = [SliceRef(tmp_path / f"{i}.dcm", 0, "dicom", 20, 24) for i in range(5)]
    for i, ref in enumerate(refs):  # queued while the model is still loading
        worker.submit_slice(SliceRequest(i, ref))
    results: list[SliceOutcome] = []
    worker.slice_result.connect(results.append)
    worker.load_model()
    assert [r.request_id for r in results] == [4] and fake.calls == 1
    assert results[0].model_input.shape == (16, 16)
    worker.submit_slice(SliceRequest(9, refs[4]))  # same slice again: served from the cache
    assert results[-1].from_cache and fake.calls == 1


def test_worker_reports_failures_and_stays_idle(qtbot, tmp_path: Path) -> None:
    def broken():
        raise RuntimeError("weights do not fit")

    worker = InferenceWorker(factory=broken, store=_FakeStore(np.zeros((4, 4), np.uint8)))
    failures: list[str] = []
    errors: list[tuple[int, str]] = []
    worker.model_failed.connect(failures.append)
    worker.error.connect(lambda rid, msg: errors.append((rid, msg)))
    worker.load_model()
    worker.submit_slice(SliceRequest(1, SliceRef(tmp_path / "a.dcm", 0, "dicom", 4, 4)))
    assert failures == ["weights do not fit"]
    assert errors and errors[0][0] == 1 and "not available" in errors[0][1]


def test_viewer_pixmaps_follow_the_device_pixel_ratio(qtbot) -> None:
    from PySide6.QtCore import QSize

    from desktop_app.viewer import SliceViewer

    viewer = SliceViewer()
    qtbot.addWidget(viewer)
    viewer.set_image(np.arange(64, dtype=np.uint8).reshape(8, 8))
    viewer.set_heatmap(colorize(np.ones((8, 8), np.float32), "inferno"))
    dpr = viewer.devicePixelRatioF()
    pixmap = viewer._scaled_pixmap(QSize(100, 50), with_heat=True)
    assert pixmap.devicePixelRatio() == dpr
    assert (pixmap.width(), pixmap.height()) == (round(100 * dpr), round(50 * dpr))


def test_worker_turns_an_exception_into_an_error_and_stays_usable(qtbot, tmp_path: Path) -> None:
    from core.model.model_config import ModelConfig
    from core.model.network import Architecture
    from desktop_app.inference_worker import SeriesRequest

    fake = _FakeClassifier(ModelConfig(architecture=Architecture(input_size=16)))
    real_predict = fake.predict
    failures = iter([True])

    def flaky(rendered, **kwargs):
        if next(failures, False):
            raise RuntimeError("simulated")
        return real_predict(rendered, **kwargs)

    fake.predict = flaky  # type: ignore[method-assign]
    worker = InferenceWorker(factory=lambda: fake, store=_FakeStore(np.zeros((8, 8), np.uint8)))
    errors: list[tuple[int, str]] = []
    finished: list[int] = []
    worker.error.connect(lambda rid, msg: errors.append((rid, msg)))
    worker.series_finished.connect(lambda rid, results: finished.append(len(results)))
    worker.load_model()
    refs = tuple(SliceRef(tmp_path / f"{i}.dcm", 0, "dicom", 8, 8) for i in range(6))
    worker.submit_series(SeriesRequest(1, refs))
    assert errors == [(1, "series classification failed: simulated")] and finished == []
    worker.submit_series(SeriesRequest(2, refs))
    assert finished == [6]


def test_the_window_module_imports_neither_tensorflow_nor_the_dicom_writers() -> None:
    """The window shows before the model and the export stack load: TensorFlow in the worker, highdicom,
    dicom-anonymizer and fpdf2 on the first export."""
    import subprocess
    import sys

    code = (
        "import sys, desktop_app.main, desktop_app.main_window; "
        "heavy = [m for m in ('tensorflow', 'keras', 'highdicom', 'dicomanonymizer', 'fpdf') if m in sys.modules]; "
        "print(' '.join(heavy)); sys.exit(1 if heavy else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], timeout=120, capture_output=True, text=True)
    assert done.returncode == 0, f"imported at window start: {done.stdout.strip()} {done.stderr[-500:]}"


def test_viewer_is_crisp_at_device_pixel_ratio_two(tmp_path: Path) -> None:
    """A 2x screen (QT_SCALE_FACTOR=2): the drawn pixmap has twice the logical size in pixels."""
    import os
    import subprocess
    import sys

    code = (
        "import numpy as np\n"
        "from PySide6.QtCore import QSize\n"
        "from PySide6.QtWidgets import QApplication\n"
        "from desktop_app.viewer import SliceViewer\n"
        "app = QApplication([])\n"
        "v = SliceViewer(); v.resize(300, 300); v.show(); app.processEvents()\n"
        "v.set_image(np.zeros((8, 8), np.uint8))\n"
        "p = v._scaled_pixmap(QSize(100, 50), with_heat=False)\n"
        "print(v.devicePixelRatioF(), p.width(), p.height(), p.devicePixelRatio())\n"
    )
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "QT_SCALE_FACTOR": "2"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    dpr, width, height, pixmap_dpr = out.stdout.split()
    assert (float(dpr), int(width), int(height), float(pixmap_dpr)) == (2.0, 200, 100, 2.0)


def test_about_box_says_whether_test_time_views_and_the_prior_shift_are_on() -> None:
    from core.model.model_config import ModelConfig
    from core.model.network import Architecture
    from desktop_app.dialogs import model_card_html

    arch = Architecture(input_size=16, channels=1, widths=(2, 2, 4, 4, 4))
    on = model_card_html(ModelConfig(architecture=arch, test_time_flip=True), "ready")
    off = model_card_html(ModelConfig(architecture=arch), "ready")
    assert "averaged with its mirror image" in on and "averaged with its mirror image" not in off
    stripped = model_card_html(ModelConfig(architecture=arch, test_time_strip=0.09), "ready")
    assert "stripped to a brain outline" not in off and "stripped to a brain outline (9% of" in stripped
    shifted = model_card_html(ModelConfig(architecture=arch, tumor_prior_shift=0.6), "ready")
    assert "+0.60 log-odds for the tumor classes" in shifted and "log-odds for the tumor" not in off


def test_ai_panel_shows_the_method_figure_and_selects_the_default(qtbot) -> None:
    from desktop_app.ai_panel import AIPanel

    panel = AIPanel()
    qtbot.addWidget(panel)
    figures = {
        "gradcam++": {
            "figshare-val": {"n": 80, "pointing_game": 0.3875},
            "lgg-flair": {"n": 80, "pointing_game": 0.4625},
        },
        "layercam": {"figshare-val": {"n": 80, "pointing_game": 0.325}},
    }
    with qtbot.waitSignal(panel.heatmap_request_changed):
        panel.set_saliency("gradcam++", figures)
    assert panel.method() == "gradcam++"
    text = panel.method_figure.text()
    assert "Points at the tumor in 39 % of figshare T1-CE validation slices (n=80)" in text
    assert "46 % of LGG FLAIR tumor slices" in text and "Default" in text
    panel.method_combo.setCurrentIndex(panel.method_combo.findData("layercam"))
    assert "32 %" in panel.method_figure.text() and "Default" not in panel.method_figure.text()
    panel.method_combo.setCurrentIndex(panel.method_combo.findData("gradcam"))
    assert panel.method_figure.text().startswith("Not measured")

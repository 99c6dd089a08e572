"""A reading session: several studies, each series shown as it was left, honest partial runs, settings, quirks."""

from __future__ import annotations

from dataclasses import replace as dataclasses_replace
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QImage

from core.imaging import Window
from desktop_app.main_window import MainWindow
from desktop_app.series_memory import SeriesMemory, ViewState
from desktop_app.settings import AppSettings
from desktop_app.viewer import SliceViewer

from .conftest import WAIT_MS, open_and_wait, write_series

pytestmark = pytest.mark.gui


def _two_series(window: MainWindow, tmp_path: Path, qtbot) -> tuple[str, str]:
    """Open one folder holding two studies of one series each; (first uid, second uid) in browser order."""
    write_series(tmp_path / "two" / "a", 6, seed=1)
    write_series(tmp_path / "two" / "b", 5, seed=2)
    open_and_wait(qtbot, window, [tmp_path / "two"])
    first, second = window.browser.series()
    return first.uid, second.uid


def _show(window: MainWindow, uid: str) -> None:
    window.show_series(next(s for s in window.browser.series() if s.uid == uid))


def _leave_a_view(window: MainWindow, qtbot) -> None:
    """Slice 2, a dragged window, 2x zoom, a pan and inversion."""
    window.set_index(2)
    centre = window.viewer.rect().center()
    qtbot.mousePress(window.viewer, Qt.MouseButton.LeftButton, pos=centre)
    qtbot.mouseMove(window.viewer, centre + QPoint(40, 20))
    qtbot.mouseRelease(window.viewer, Qt.MouseButton.LeftButton, pos=centre + QPoint(40, 20))
    window.viewer.zoom_by(2.0)
    window.viewer.pan_by(15, -10)
    window.toggle_invert()


def test_each_series_is_shown_again_as_it_was_left(qtbot, window: MainWindow, tmp_path: Path) -> None:
    window.ai_panel.auto_check.setChecked(False)
    first, second = _two_series(window, tmp_path, qtbot)
    _show(window, first)
    _leave_a_view(window, qtbot)
    left = (window.index, window.voi, window.viewer.zoom, window.viewer.pan, window.invert)
    assert left[1] is not None
    _show(window, second)
    assert window.index == 2 and window.voi is None and window.viewer.is_fit() and not window.invert  # untouched
    _show(window, first)
    assert (window.index, window.voi, window.viewer.zoom, window.viewer.pan, window.invert) == left
    assert "inverted" in window.viewer._corners["bottom_right"]


def test_the_view_comes_back_after_the_study_is_closed_and_reopened(qtbot, window: MainWindow, tmp_path: Path) -> None:
    window.ai_panel.auto_check.setChecked(False)
    write_series(tmp_path / "one", 6)
    open_and_wait(qtbot, window, [tmp_path / "one"])
    _leave_a_view(window, qtbot)
    left = (window.index, window.voi, window.viewer.zoom, window.invert)
    qtbot.keyClick(window, Qt.Key.Key_W, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert window.series is None and window.browser.series_count() == 0
    open_and_wait(qtbot, window, [tmp_path / "one"])
    assert (window.index, window.voi, window.viewer.zoom, window.invert) == left  # from the settings store


def test_series_memory_survives_a_new_session_and_rejects_damage(app_settings: AppSettings) -> None:
    state = ViewState(3, Window(40.0, 80.0, "Brain"), 2.5, 10.0, -4.0, True)
    SeriesMemory(app_settings.store).remember("1.2.3", state)
    assert SeriesMemory(app_settings.store).recall("1.2.3") == state
    assert ViewState.from_json('{"index": -1}') is None and ViewState.from_json("not json") is None
    memory = SeriesMemory(app_settings.store, limit=2)
    for uid in ("a", "b", "c"):
        memory.remember(uid, state)
    assert SeriesMemory(app_settings.store).recall("a") is None  # oldest dropped from the store
    assert SeriesMemory(app_settings.store).recall("c") == state


def test_a_classified_series_shows_its_strip_and_progress_again(qtbot, window: MainWindow, tmp_path: Path) -> None:
    window.ai_panel.auto_check.setChecked(False)
    first, second = _two_series(window, tmp_path, qtbot)
    _show(window, first)
    with qtbot.waitSignal(window.series_run_finished, timeout=WAIT_MS):
        window.classify_series()
    _show(window, second)
    assert window.ai_panel.progress.value() == 0 and window.summary is None
    open_and_wait(qtbot, window, [tmp_path / "two"])  # the same studies opened again
    _show(window, first)
    assert all(v is not None for v in window.strip.values())
    assert window.ai_panel.progress.value() == window.ai_panel.progress.maximum() == 6
    assert window.summary is not None and "Series: <b>" in window.ai_panel.summary_text.text()


def test_several_studies_stay_open_until_closed(qtbot, window: MainWindow, tmp_path: Path) -> None:
    window.ai_panel.auto_check.setChecked(False)
    write_series(tmp_path / "a", 4, seed=1)
    write_series(tmp_path / "b", 3, seed=2)
    open_and_wait(qtbot, window, [tmp_path / "a"])
    first = window.series
    open_and_wait(qtbot, window, [tmp_path / "b"])  # adds, and shows what was just opened
    assert window.browser.series_count() == 2 and len(window.browser.study_uids()) == 2
    item = window.browser._series_items[first.uid]
    assert item.toolTip(0) == first.label  # a name cut off in the tree is read whole in its tooltip
    assert window.series is not None and len(window.series.slices) == 3
    second_refs = list(window.series.slices)
    with qtbot.waitSignal(window.series_run_finished, timeout=WAIT_MS):
        window.classify_series()
    assert window.store.cached_bytes > 0
    qtbot.keyClick(window, Qt.Key.Key_W, Qt.KeyboardModifier.ControlModifier)  # closes the study on screen
    assert window.browser.series_count() == 1 and window.series is not None and window.series.uid == first.uid
    assert not {r.key for r in second_refs} & set(window.store._frames)  # its decoded pixels are freed
    assert not {r.key for r in second_refs} & set(window._meta_cache)
    assert window.results.uids() <= {first.uid}
    window.session.close_all()
    assert window.browser.series_count() == 0 and window.series is None and not window.viewer.has_image()
    keys = dict((text, key) for key, text in window.shortcut_list())
    assert keys["Close study"] == "Ctrl+W" and keys["Close all studies"] == "Ctrl+Shift+W"


def test_the_heatmap_method_and_last_study_are_remembered(
    qtbot, window: MainWindow, app_settings: AppSettings, tmp_path: Path, tiny_weights_dir: Path
) -> None:
    from desktop_app.main import build_parser, last_study_paths, start_with

    window.ai_panel.method_combo.setCurrentIndex(window.ai_panel.method_combo.findData("gradcam++"))
    write_series(tmp_path / "study", 2)
    open_and_wait(qtbot, window, [tmp_path / "study"])
    again = MainWindow(weights_folder=tiny_weights_dir, settings=AppSettings(app_settings.store), load_model=False)
    qtbot.addWidget(again)
    assert again.ai_panel.method() == "gradcam++"
    again.close()
    assert last_study_paths(app_settings) == [tmp_path / "study"]
    assert start_with(build_parser().parse_args([]), app_settings) == [tmp_path / "study"]
    assert start_with(build_parser().parse_args(["x.dcm"]), app_settings) == [Path("x.dcm")]
    assert start_with(build_parser().parse_args(["--no-sample"]), app_settings) == []
    (tmp_path / "study" / "000.dcm").unlink()
    (tmp_path / "study" / "001.dcm").unlink()
    (tmp_path / "study").rmdir()
    assert last_study_paths(app_settings) == []
    assert start_with(build_parser().parse_args([]), app_settings) is None  # gone: the demo opens instead


def test_ctrl_equals_zooms_and_one_to_one_recentres(qtbot, window: MainWindow, tmp_path: Path) -> None:
    write_series(tmp_path / "s", 2, size=64)
    open_and_wait(qtbot, window, [tmp_path / "s"])
    fit = window.viewer.zoom
    qtbot.keyClick(window, Qt.Key.Key_Equal, Qt.KeyboardModifier.ControlModifier)
    assert window.viewer.zoom == pytest.approx(1.25 * fit)
    window.viewer.pan_by(40, 25)
    qtbot.keyClick(window, Qt.Key.Key_Z)
    assert window.viewer.pan == QPointF(0, 0)
    assert "Ctrl+=" in dict((text, key) for key, text in window.shortcut_list())["Zoom in"]  # Help lists both


def test_overlay_sliders_show_their_values(qtbot, window: MainWindow) -> None:
    window.ai_panel.set_overlay_style("inferno", 0.45, 0.2)
    assert window.ai_panel.opacity_value.text() == "45 %"
    assert window.ai_panel.threshold_value.text() == "20 %"


def test_corner_text_is_outlined_on_a_white_image(qtbot) -> None:
    viewer = SliceViewer()
    qtbot.addWidget(viewer)
    viewer.resize(300, 300)
    viewer.set_image(np.full((300, 300), 255, dtype=np.uint8))
    viewer.fit()
    viewer.set_corner_text({"top_left": "MMMMMMMM"})
    image = viewer.grab().toImage().convertToFormat(QImage.Format.Format_Grayscale8)
    text = np.array([[image.pixelColor(x, y).value() for x in range(0, 120)] for y in range(0, 30)])
    assert text.min() < 20  # a black outline, not a faint grey shadow


def _answer_on_screen(window: MainWindow, prediction) -> None:
    """Show ``prediction`` as the worker's answer for the slice on screen."""
    from desktop_app.inference_worker import SliceOutcome

    assert window.ref is not None
    rendered = np.zeros((8, 8), dtype=np.uint8)
    window._on_slice_result(SliceOutcome(window._slice_request, window.ref.key, prediction, rendered, False))


def test_no_heatmap_on_a_notumor_answer_unless_a_tumour_class_is_chosen(
    qtbot, window: MainWindow, tmp_path: Path
) -> None:
    import dataclasses

    from export.helpers import require_tool, run_tool

    window.ai_panel.auto_check.setChecked(False)
    write_series(tmp_path / "s", 3, size=32)
    open_and_wait(qtbot, window, [tmp_path / "s"])
    with qtbot.waitSignal(window.prediction_shown, timeout=WAIT_MS) as blocker:
        window.classify_current(force=True)
    heat = np.ones((8, 8), dtype=np.float32)
    notumor = dataclasses.replace(blocker.args[0], label="notumor", heatmap=heat, heatmap_class="notumor")
    _answer_on_screen(window, notumor)
    assert not window.viewer.heatmap_shown() and "left out" in window.ai_panel.heat_caption.text()
    with qtbot.waitSignal(window.export_finished, timeout=WAIT_MS):
        window.export("pdf", tmp_path / "r.pdf")
    text = run_tool(require_tool("pdftotext"), str(tmp_path / "r.pdf"), "-").stdout
    assert "Heatmap left out" in " ".join(text.split())  # the PDF says the map was left out, and why
    with qtbot.waitSignal(window.prediction_shown, timeout=WAIT_MS) as blocker:
        window.ai_panel.class_combo.setCurrentText("glioma")  # a tumour class, chosen by the reader
    assert blocker.args[0].heatmap_class == "glioma"
    _answer_on_screen(window, dataclasses.replace(blocker.args[0], label="notumor"))
    assert window.viewer.heatmap_shown() and "glioma" in window.viewer.heat_caption


def test_the_heatmap_policy_keeps_a_chosen_tumour_map() -> None:
    from core.model.heatmap_policy import heatmap_note, withhold_no_tumor_heatmap
    from core.model.prediction import Prediction

    heat = np.ones((4, 4), dtype=np.float32)
    base = Prediction(("glioma", "notumor"), (0.2, 0.8), "notumor", 0.2, "x", "cpu", "fp32", 1.0, heat, "notumor")
    withheld = withhold_no_tumor_heatmap(base)
    assert withheld.heatmap is None and "left out" in heatmap_note(withheld)
    chosen = dataclasses_replace(base, heatmap_class="glioma")
    assert withhold_no_tumor_heatmap(chosen) is chosen
    assert heatmap_note(withhold_no_tumor_heatmap(dataclasses_replace(base, heatmap=None, heatmap_class=None)))


def test_the_preset_box_names_the_window_on_screen(qtbot, window: MainWindow, tmp_path: Path) -> None:
    from dicom_factory import make_dataset, write
    from pydicom.uid import generate_uid

    window.ai_panel.auto_check.setChecked(False)
    study, series = generate_uid(), generate_uid()
    for i in range(5):  # each slice has its own file window, as scanners write them
        extra = {"WindowCenter": 1000 + 50 * i, "WindowWidth": 600 + 20 * i, "WindowCenterWidthExplanation": "SOFT"}
        pixels = np.random.default_rng(i).integers(0, 4000, (16, 16), dtype=np.uint16)
        ds = make_dataset(pixels, bits_allocated=16, bits_stored=12, study_uid=study, series_uid=series,
                          instance=i + 1, position=(0.0, 0.0, float(i)), extra=extra)  # fmt: skip
        write(ds, tmp_path / "w" / f"{i}.dcm")
    open_and_wait(qtbot, window, [tmp_path / "w"])
    window.set_index(0)
    assert window.viewer._corners["bottom_right"].startswith("W 600  L 1000 (SOFT)")
    assert window.preset_combo.currentText() == "1: SOFT (W 600 L 1000)"  # not the middle slice's W 640 L 1100
    qtbot.keyClick(window, Qt.Key.Key_3)  # another preset, then R: back to the file's window, named in the box
    assert window.preset_combo.currentIndex() == 2
    qtbot.keyClick(window, Qt.Key.Key_R)
    assert window.preset_combo.currentText() == "1: SOFT (W 600 L 1000)"


@pytest.mark.parametrize("screen", [(1600, 1050), (1366, 768)])
def test_the_overlay_controls_are_reached_without_scrolling(qtbot, window: MainWindow, screen) -> None:
    from PySide6.QtCore import QSize
    from PySide6.QtWidgets import QApplication

    from desktop_app.window_size import fitting_size

    window.resize(fitting_size(QSize(*screen)))  # the first size on that screen
    QApplication.processEvents()
    viewport = window.ai_dock.widget().viewport()  # type: ignore[union-attr]
    panel = window.ai_panel
    for widget in (panel.opacity_slider, panel.threshold_slider, panel.class_combo):
        assert widget.mapTo(viewport, QPoint(0, widget.height())).y() <= viewport.height(), widget
    if screen == (1600, 1050):  # the preferred size: the whole panel fits
        assert panel.jump_button.mapTo(viewport, QPoint(0, panel.jump_button.height())).y() <= viewport.height()


def test_exports_of_a_partly_classified_series_give_no_verdict(qtbot, window: MainWindow, tmp_path: Path) -> None:
    import json

    from export.helpers import require_tool, run_tool

    window.ai_panel.auto_check.setChecked(False)
    write_series(tmp_path / "s", 3)
    open_and_wait(qtbot, window, [tmp_path / "s"])
    with qtbot.waitSignal(window.prediction_shown, timeout=WAIT_MS):
        window.classify_current(force=True)  # one slice of three
    for kind in ("pdf", "json"):
        with qtbot.waitSignal(window.export_finished, timeout=WAIT_MS):
            window.export(kind, tmp_path / f"r.{kind}")
    text = " ".join(run_tool(require_tool("pdftotext"), str(tmp_path / "r.pdf"), "-").stdout.split())
    assert "partial (1 of 3 slices), no verdict" in text
    assert json.loads((tmp_path / "r.json").read_text())["series_summary"] is None


def test_closing_a_study_during_its_series_run_stops_the_run(qtbot, window: MainWindow, tmp_path: Path) -> None:
    window.ai_panel.auto_check.setChecked(False)
    write_series(tmp_path / "long", 48)
    open_and_wait(qtbot, window, [tmp_path / "long"])
    with qtbot.waitSignal(window.ai_panel.progress.valueChanged, timeout=WAIT_MS):
        window.classify_series()
    with qtbot.waitSignal(window.inference_worker.cancelled, timeout=WAIT_MS):
        window.session.close_current_study()
        assert window.series_run_uid() == "" and window.ai_panel.series_button.isEnabled()
        assert "closed" in window.ai_panel.eta_text.text()
    assert window.results.uids() == set()  # answers that were on their way are dropped


def test_the_browser_menu_closes_the_study_under_the_pointer(qtbot, window: MainWindow, tmp_path: Path) -> None:
    window.ai_panel.auto_check.setChecked(False)
    first, second = _two_series(window, tmp_path, qtbot)
    _show(window, first)
    browser = window.browser
    pos = browser.visualItemRect(browser._series_items[second]).center()
    menu = window.session.browser_menu(pos)
    assert menu is not None
    next(a for a in menu.actions() if a.text() == "Close this study").trigger()
    assert [s.uid for s in browser.series()] == [first] and window.series is not None
    assert window.series.uid == first  # the series on screen stays


def test_the_weights_default_method_applies_until_the_reader_chooses_one(
    qtbot, app_settings: AppSettings, tiny_weights_dir: Path, tmp_path: Path
) -> None:
    import json
    import shutil

    weights = tmp_path / "weights"
    shutil.copytree(tiny_weights_dir, weights)
    config_file = weights / "model_config.json"
    config = json.loads(config_file.read_text(encoding="utf-8"))
    config["saliency"] = {"default_method": "layercam"}
    config_file.write_text(json.dumps(config), encoding="utf-8")
    first = MainWindow(weights_folder=weights, settings=app_settings, load_model=False)
    qtbot.addWidget(first)
    assert first.ai_panel.method() == "layercam"
    first.ai_panel.set_method("gradcam")
    first.close()
    again = MainWindow(weights_folder=weights, settings=AppSettings(app_settings.store), load_model=False)
    qtbot.addWidget(again)
    assert again.ai_panel.method() == "gradcam"
    again.close()


def test_the_heatmap_caption_stays_clear_of_tall_bottom_corners(qtbot) -> None:
    """In a narrow viewport the caption must sit above the five-line bottom corner blocks, not on them."""
    viewer = SliceViewer()
    qtbot.addWidget(viewer)
    viewer.resize(330, 400)
    viewer.set_image(np.zeros((64, 64), dtype=np.uint8))
    viewer.fit()
    corner = "\n".join(["Slice 5 / 8", "Im 5", "Loc 3.0 mm", "Thk 6.0 mm", "224 x 224"])
    viewer.set_corner_text({"bottom_left": corner})
    viewer.set_heatmap(np.zeros((8, 8, 4), dtype=np.uint8), "Grad-CAM++ for class 'glioma'")
    image = viewer.grab().toImage().convertToFormat(QImage.Format.Format_RGB32)
    orange_rows = [
        y
        for y in range(image.height())
        if any(
            (c := image.pixelColor(x, y)).red() > 200 and 140 < c.green() < 220 and c.blue() < 140
            for x in range(0, image.width(), 2)
        )
    ]
    line = viewer.fontMetrics().height()
    assert orange_rows and max(orange_rows) < image.height() - 8 - 5 * line


def test_the_window_follows_the_review_session(qtbot, window: MainWindow, tmp_path: Path) -> None:
    """The review session (core/review) owns slice and window; the window's widgets follow its events."""
    window.ai_panel.auto_check.setChecked(False)
    write_series(tmp_path / "s", 4)
    open_and_wait(qtbot, window, [tmp_path / "s"])
    with qtbot.waitSignal(window.slice_shown, timeout=WAIT_MS):
        window.review.set_index(0)
    assert window.index == 0 and window.slider.value() == 0 and window.slice_label.text() == "1 / 4"
    window.review.invert = True
    assert window.invert and "inverted" in window.viewer._corners["bottom_right"]


def test_heatmap_settings_are_the_sessions_and_the_panel_only_shows_them(
    qtbot, window: MainWindow, tmp_path: Path
) -> None:
    from core.export.identity import ExportIdentity, IdentityMode
    from core.imaging.heatmap import HeatmapStyle

    window.ai_panel.auto_check.setChecked(False)
    write_series(tmp_path / "s", 3)
    open_and_wait(qtbot, window, [tmp_path / "s"])
    with qtbot.waitSignal(window.prediction_shown, timeout=WAIT_MS):
        window.classify_current(force=True)
    style = HeatmapStyle("viridis", 0.3, 0.4)
    window.review.set_heatmap(dataclasses_replace(window.review.heatmap, style=style, shown=False))
    panel = window.ai_panel
    assert panel.heatmap_style() == style and panel.opacity_value.text() == "30 %"  # shown in the panel
    assert not panel.heat_check.isChecked() and not window.heat_action.isChecked() and not window.viewer.heatmap_visible
    request = window.export_request("pdf", tmp_path / "r.pdf", ExportIdentity(IdentityMode.DEIDENTIFY))
    assert request.style == style
    panel.threshold_slider.setValue(70)  # an edit in the panel goes into the session
    assert window.review.heatmap.style == HeatmapStyle("viridis", 0.3, 0.7)

"""The review workstation end to end, offscreen: open, scroll, window/level, classify, heatmap, series, close."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt

from core.platform.locator import resource_path
from desktop_app.main_window import MainWindow
from desktop_app.watchdog import StallWatchdog

from .conftest import WAIT_MS, open_and_wait, write_series

pytestmark = pytest.mark.gui
SAMPLE = resource_path("sample_study")


def test_sample_study_opens_and_scrolls(qtbot, window: MainWindow) -> None:
    open_and_wait(qtbot, window, [SAMPLE])
    assert window.series is not None and len(window.series.slices) == 8
    assert "DEMO" in window.series.description and window.viewer.has_image()
    start = window.index
    with qtbot.waitSignal(window.slice_shown, timeout=5000):
        qtbot.keyClick(window.viewer, Qt.Key.Key_Down)
    assert window.index == start + 1
    with qtbot.waitSignal(window.slice_shown, timeout=5000):
        window.slider.setValue(0)
    assert window.index == 0 and window.strip._current == 0
    assert window.viewer._corners["left"] == "R" and window.viewer._corners["top"] == "A"  # axial demo
    with qtbot.waitSignal(window.slice_shown, timeout=5000):
        qtbot.keyClick(window.viewer, Qt.Key.Key_End)
    assert window.index == 7


def test_left_drag_changes_window_level(qtbot, window: MainWindow) -> None:
    open_and_wait(qtbot, window, [SAMPLE])
    ref = window.ref
    assert ref is not None
    before = window.store.default_window(ref)
    image_before = window.store.display(ref, window.voi)
    centre = window.viewer.rect().center()
    qtbot.mousePress(window.viewer, Qt.MouseButton.LeftButton, pos=centre)
    qtbot.mouseMove(window.viewer, centre + QPoint(60, 30))
    qtbot.mouseRelease(window.viewer, Qt.MouseButton.LeftButton, pos=centre + QPoint(60, 30))
    assert window.voi is not None
    assert window.voi.width > before.width and window.voi.center > before.center
    assert not np.array_equal(window.store.display(ref, window.voi), image_before)
    assert "W " in window.viewer._corners["bottom_right"]
    assert window.preset_combo.currentIndex() == -1  # the box no longer names a preset not on screen
    window.reset_view()
    assert window.voi is None and window.viewer.is_fit()


def test_zoom_pan_and_deidentified_overlay(qtbot, window: MainWindow) -> None:
    open_and_wait(qtbot, window, [SAMPLE])
    fit = window.viewer.zoom
    window.viewer.zoom_by(2.0, window.viewer.rect().center().toPointF())
    assert window.viewer.zoom == pytest.approx(2 * fit)
    pan = window.viewer.pan
    qtbot.mousePress(window.viewer, Qt.MouseButton.RightButton, pos=QPoint(50, 50))
    qtbot.mouseMove(window.viewer, QPoint(80, 70))
    qtbot.mouseRelease(window.viewer, Qt.MouseButton.RightButton, pos=QPoint(80, 70))
    assert (window.viewer.pan - pan).x() == pytest.approx(30) and (window.viewer.pan - pan).y() == pytest.approx(20)
    assert "DEMO" in window.viewer._corners["top_left"]
    qtbot.keyClick(window, Qt.Key.Key_D)
    assert "DEMO" not in window.viewer._corners["top_left"]
    assert "DE-IDENTIFIED" in window.viewer._corners["top_left"]


def test_classify_heatmap_toggle_and_blink(qtbot, window: MainWindow) -> None:
    window.ai_panel.auto_check.setChecked(False)
    window.ai_panel.class_combo.setCurrentText("glioma")  # the tiny model says "notumor": no map of that
    open_and_wait(qtbot, window, [SAMPLE])
    with qtbot.waitSignal(window.prediction_shown, timeout=WAIT_MS) as blocker:
        qtbot.mouseClick(window.ai_panel.classify_button, Qt.MouseButton.LeftButton)
    prediction = blocker.args[0]
    assert prediction.class_names == tiny_class_names(window)
    assert sum(prediction.probabilities) == pytest.approx(1.0, abs=1e-5)
    assert window.ai_panel.label_text.text() == f"Predicted: {prediction.label}"
    assert window.ai_panel.inset.pixmap() is not None and not window.ai_panel.inset.pixmap().isNull()
    assert prediction.heatmap is not None and window.viewer.heatmap_shown()
    window.ai_panel.uncertain_spin.setValue(1.0)  # every calibrated confidence is below 1
    assert window.ai_panel.uncertain_flag.isVisibleTo(window.ai_panel)
    window.ai_panel.uncertain_spin.setValue(0.0)
    assert not window.ai_panel.uncertain_flag.isVisibleTo(window.ai_panel)
    assert window.settings.uncertain_below == 0.0
    qtbot.keyClick(window, Qt.Key.Key_H)  # toggle off
    assert not window.viewer.heatmap_shown() and not window.ai_panel.heat_check.isChecked()
    qtbot.keyPress(window.viewer, Qt.Key.Key_B)  # blink: held key shows it
    assert window.viewer.heatmap_shown()
    qtbot.keyRelease(window.viewer, Qt.Key.Key_B)
    assert not window.viewer.heatmap_shown()
    window.ai_panel.heat_check.setChecked(True)
    assert window.viewer.heatmap_shown()
    # A different heatmap class is a new request; its map is for that class.
    with qtbot.waitSignal(window.prediction_shown, timeout=WAIT_MS) as blocker:
        window.ai_panel.class_combo.setCurrentText("pituitary")
    assert blocker.args[0].heatmap_class == "pituitary"


def test_the_export_draws_the_heatmap_with_the_screen_style(qtbot, window: MainWindow, tmp_path: Path) -> None:
    """The threshold slider hides weak saliency in the exported key picture as it does on screen."""
    from core.export.identity import ExportIdentity, IdentityMode
    from core.imaging.heatmap import as_rgb, composite
    from desktop_app.export_task import export_plan

    window.ai_panel.auto_check.setChecked(False)
    open_and_wait(qtbot, window, [SAMPLE])
    with qtbot.waitSignal(window.prediction_shown, timeout=WAIT_MS):
        window.classify_current(force=True)
    with qtbot.waitSignal(window.prediction_shown, timeout=WAIT_MS):
        window.ai_panel.class_combo.setCurrentText("glioma")  # the tiny model says "notumor": no map of that
    window.ai_panel.set_overlay_style("viridis", 0.8, 0.6)
    request = window.export_request("pdf", tmp_path / "r.pdf", ExportIdentity(IdentityMode.DEIDENTIFY))
    assert request.style == window.ai_panel.heatmap_style()
    assert (request.style.colormap, request.style.threshold) == ("viridis", 0.6)
    heat = request.predictions[request.key_index].heatmap
    assert heat is not None and request.key_display is not None
    overlay = composite(request.key_display, heat, export_plan(request).style)  # what every picture shows
    cold = heat < 0.6
    assert cold.any() and (overlay[cold] == as_rgb(request.key_display)[cold]).all()


def tiny_class_names(window: MainWindow) -> tuple[str, ...]:
    assert window.config is not None
    return window.config.class_names


def test_auto_classify_answers_for_the_slice_on_screen(qtbot, window: MainWindow) -> None:
    window.ai_panel.auto_check.setChecked(True)
    open_and_wait(qtbot, window, [SAMPLE])
    with qtbot.waitSignal(window.prediction_shown, timeout=WAIT_MS):
        for _ in range(3):  # rapid scrolling: only the slice finally on screen gets an answer shown
            qtbot.keyClick(window.viewer, Qt.Key.Key_Up)
    assert window.ref is not None and window._requested_key == ""


def test_the_window_and_the_classifier_read_a_slice_once(qtbot, window: MainWindow, monkeypatch) -> None:
    """One PixelStore per process: the browser's thumbnails, the viewer and the inference worker share it."""
    import core.imaging.pixel_store as pixel_store

    real_decode = pixel_store.decode_frame
    decoded: list[tuple[Path, int]] = []

    def counted(source, frame):
        decoded.append((source.path, frame))
        return real_decode(source, frame)

    monkeypatch.setattr(pixel_store, "decode_frame", counted)
    window.ai_panel.auto_check.setChecked(True)
    with qtbot.waitSignal(window.prediction_shown, timeout=WAIT_MS):
        open_and_wait(qtbot, window, [SAMPLE])
    ref = window.ref
    assert ref is not None and decoded.count((ref.path, ref.frame)) == 1, decoded  # thumbnail, shown, classified


def test_series_run_strip_summary_and_jump(qtbot, window: MainWindow) -> None:
    window.ai_panel.auto_check.setChecked(False)
    open_and_wait(qtbot, window, [SAMPLE])
    watchdog = StallWatchdog()
    watchdog.start()
    with qtbot.waitSignal(window.series_run_finished, timeout=WAIT_MS) as blocker:
        qtbot.keyClick(window, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier)
    watchdog.stop()
    summary = blocker.args[0]
    values = window.strip.values()
    assert len(values) == 8 and all(v is not None for v in values)
    assert summary.p_tumor == pytest.approx(max(values))
    assert summary.rule in window.ai_panel.rule_text.text()
    assert watchdog.ticks > 0 and watchdog.max_gap_ms < 1000, f"GUI stalled {watchdog.max_gap_ms:.0f} ms"
    with qtbot.waitSignal(window.slice_shown, timeout=5000, raising=False):
        window.set_index(0 if window.summary_slice else 1)
    window.jump_to_most_suspicious()
    assert window.index == window.summary_slice and values[window.index] == max(values)


def test_series_cancel(qtbot, window: MainWindow, tmp_path: Path) -> None:
    window.ai_panel.auto_check.setChecked(False)
    write_series(tmp_path / "long", 48)
    open_and_wait(qtbot, window, [tmp_path / "long"])
    with qtbot.waitSignal(window.series_run_cancelled, timeout=WAIT_MS):
        window.classify_series()
        qtbot.keyClick(window, Qt.Key.Key_Escape)
    assert "Cancelled" in window.ai_panel.eta_text.text()
    assert any(v is None for v in window.strip.values())
    assert window.ai_panel.series_button.isEnabled()
    summary = window.ai_panel.summary_text.text()
    assert "Running" not in summary  # the slices classified before Cancel, said as such, or none
    done = sum(v is not None for v in window.strip.values())
    assert (f"partial ({done} of 48 slices)</b>, no verdict" in summary) if done else summary == "No series run yet."
    assert window.summary is None and not window.ai_panel.jump_button.isEnabled()  # never a verdict


def test_switching_to_a_shorter_series_resets_the_view(qtbot, window: MainWindow, tmp_path: Path) -> None:
    window.ai_panel.auto_check.setChecked(False)
    write_series(tmp_path / "long", 20)
    open_and_wait(qtbot, window, [tmp_path / "long"])
    with qtbot.waitSignal(window.series_run_finished, timeout=WAIT_MS):
        window.classify_series()
    assert "20 slices" in window.ai_panel.eta_text.text()
    window.set_index(17)
    with qtbot.captureExceptions() as raised:
        open_and_wait(qtbot, window, [SAMPLE])
    errors = [exc for _, exc, _ in raised]
    assert errors == []  # showing the 8-slice series never indexed slice 17 of it
    assert window.series is not None and len(window.series.slices) == 8 and window.index == 4
    assert window.ai_panel.eta_text.text() == "" and window.ai_panel.progress.value() == 0


def test_close_during_series_run_exits_cleanly(
    qtbot, app_settings, tiny_weights_dir, tiny_classifier, tmp_path
) -> None:
    write_series(tmp_path / "long", 48)
    win = MainWindow(weights_folder=tiny_weights_dir, settings=app_settings, classifier_factory=lambda: tiny_classifier)
    win.show()
    with qtbot.waitSignal(win.indexing_finished, timeout=WAIT_MS):
        win.open_paths([tmp_path / "long"])
    with qtbot.waitSignal(win.ai_panel.progress.valueChanged, timeout=WAIT_MS):
        win.classify_series()
    win.close()
    assert win.inference_thread.isFinished() and win.index_thread.isFinished()
    assert app_settings.store.value("window/geometry") is not None


def test_missing_weights_leave_a_working_viewer(qtbot, app_settings, tmp_path) -> None:
    win = MainWindow(weights_folder=tmp_path / "no-weights", settings=app_settings)
    qtbot.addWidget(win)
    with qtbot.waitSignal(win.model_state_changed, timeout=WAIT_MS, check_params_cb=lambda s: s == "failed"):
        win.show()
    assert "model config not found" in win.model_error
    assert not win.ai_panel.classify_button.isEnabled()
    assert "viewer" in win.model_label.text()
    with qtbot.waitSignal(win.indexing_finished, timeout=WAIT_MS):
        win.open_paths([SAMPLE])
    assert win.viewer.has_image()
    assert "unavailable" in win.about_html()
    win.close()


def test_bad_files_are_listed_not_fatal(qtbot, window: MainWindow, tmp_path: Path) -> None:
    write_series(tmp_path / "mixed", 2)
    (tmp_path / "mixed" / "broken.dcm").write_bytes(b"this is not an image" * 10)
    open_and_wait(qtbot, window, [tmp_path / "mixed"])
    assert window.errors.rowCount() == 1 and window.errors_dock.isVisible()
    assert window.errors.item(0, 0).text() == "broken.dcm"
    assert window.series is not None and len(window.series.slices) == 2
    open_and_wait(qtbot, window, [SAMPLE])  # a clean study: the empty Problems panel goes away
    assert window.errors.rowCount() == 0 and not window.errors_dock.isVisible()


def test_about_box_shows_model_card(qtbot, window: MainWindow) -> None:
    text = window.about_html()
    assert "Research use only" in text and "Intended use" in text
    assert window.model_info is not None and window.model_info.sha256 in text


def test_first_series_shows_while_indexing_continues(qtbot, window: MainWindow, tmp_path: Path) -> None:
    write_series(tmp_path / "big" / "a", 3, seed=1)
    write_series(tmp_path / "big" / "b", 30, seed=2)
    known_when_shown: list[int] = []
    window.series_shown.connect(lambda s: known_when_shown.append(window.browser.series_count()))
    open_and_wait(qtbot, window, [tmp_path / "big"])
    assert known_when_shown[0] == 1, "the first series must be on screen before the second is indexed"
    assert window.browser.series_count() == 2
    assert window.settings.recent[0] == str(tmp_path / "big")


def test_drop_opens_files(qtbot, window: MainWindow, tmp_path: Path) -> None:
    from PySide6.QtCore import QMimeData, QPointF, QUrl
    from PySide6.QtGui import QDropEvent

    paths = write_series(tmp_path / "dropped", 2)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    event = QDropEvent(
        QPointF(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier
    )
    with qtbot.waitSignal(window.indexing_finished, timeout=WAIT_MS):
        window.dropEvent(event)
    assert window.series is not None and len(window.series.slices) == 2


def test_help_lists_the_shortcuts(qtbot, window: MainWindow) -> None:
    keys = dict((text, key) for key, text in window.shortcut_list())
    assert keys["Classify series"] == "Ctrl+R" and keys["De-identified overlays"] == "D"
    assert keys["Fit to window"] == "F" and "blink the heatmap" in keys


def test_command_line_paths() -> None:
    from desktop_app.main import build_parser

    args = build_parser().parse_args(["a.dcm", "folder", "--no-sample"])
    assert [str(p) for p in args.paths] == ["a.dcm", "folder"] and args.no_sample


def _say_not_for_diagnostic_use(paths: list[Path]) -> None:
    """Every exported file states it, in the form its format allows."""
    import pydicom
    from export.helpers import require_tool, run_tool
    from PIL import Image

    for path in paths:
        if path.suffix == ".pdf":
            text = run_tool(require_tool("pdftotext"), str(path), "-").stdout
        elif path.suffix == ".png":
            with Image.open(path) as image:
                text = " ".join(image.text.values())
        elif path.suffix == ".dcm":
            ds = pydicom.dcmread(path)
            text = str(ds.get("ImageComments", "")) + " ".join(
                str(item.get("TextValue", "")) for item in ds.get("ContentSequence", [])
            )
        else:
            text = path.read_text(encoding="utf-8")
        assert "not for diagnostic use" in text, path


def test_exports_from_the_gui(qtbot, window: MainWindow, tmp_path: Path) -> None:
    import pydicom

    window.ai_panel.auto_check.setChecked(False)
    open_and_wait(qtbot, window, [SAMPLE])
    with qtbot.waitSignal(window.export_failed, timeout=5000) as refused:
        window.export("pdf", tmp_path / "too-early.pdf")
    assert "classify" in refused.args[0]
    with qtbot.waitSignal(window.series_run_finished, timeout=WAIT_MS):
        window.classify_series()
    with qtbot.waitSignal(window.prediction_shown, timeout=WAIT_MS):
        window.classify_current(force=True)
    for kind, name in (("pdf", "r.pdf"), ("csv", "r.csv"), ("json", "r.json"), ("png", "view.png")):
        with qtbot.waitSignal(window.export_finished, timeout=WAIT_MS) as done:
            window.export(kind, tmp_path / name)
        assert done.args[0] == [tmp_path / name] and (tmp_path / name).stat().st_size > 0
    assert (tmp_path / "r.pdf").read_bytes().startswith(b"%PDF")
    assert len((tmp_path / "r.csv").read_text().splitlines()) == 1 + 8
    exported: list[Path] = []
    for _ in range(2):  # a second export into the same folder adds files, it never replaces the first
        with qtbot.waitSignal(window.export_finished, timeout=WAIT_MS) as done:
            window.export("dicom", tmp_path / "dicom")
        exported += done.args[0]
    assert sorted((tmp_path / "dicom").iterdir()) == sorted(exported) and len(exported) == 4
    sc = pydicom.dcmread(next(p for p in exported if "_SC_" in p.name))
    assert "DEMO" not in str(sc.get("PatientName", ""))  # de-identified by default
    assert all(p.name.startswith(f"{sc.PatientID}_S") for p in exported[:2])  # named by the pseudonym
    _say_not_for_diagnostic_use([tmp_path / n for n in ("r.pdf", "r.csv", "r.json", "view.png")] + exported)
    with qtbot.waitSignal(window.export_failed, timeout=WAIT_MS) as refused:
        window.export("csv", tmp_path / "r.csv")  # the file exists: refused, not replaced
    assert "already exists" in refused.args[0] and len((tmp_path / "r.csv").read_text().splitlines()) == 1 + 8
    with qtbot.waitSignal(window.export_failed, timeout=WAIT_MS) as refused:
        window.export("csv", SAMPLE / "beside-the-source.csv")
    assert not (SAMPLE / "beside-the-source.csv").exists()


def _classify_sample_slice(qtbot, window: MainWindow) -> None:
    window.ai_panel.auto_check.setChecked(False)
    open_and_wait(qtbot, window, [SAMPLE])
    with qtbot.waitSignal(window.prediction_shown, timeout=WAIT_MS):
        window.classify_current(force=True)


def _accept_export_dialogs(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Make the export dialog accept what it proposes (the user's remembered choice); returns its targets."""
    from PySide6.QtWidgets import QDialog

    from desktop_app.export_dialog import ExportDialog

    targets: list[Path] = []

    def accept_as_proposed(dialog: ExportDialog) -> QDialog.DialogCode:
        targets.append(dialog.choice().target)
        dialog.accept()
        return QDialog.DialogCode.Accepted

    monkeypatch.setattr(ExportDialog, "exec", accept_as_proposed)
    return targets


def test_the_pdf_is_proposed_under_a_content_name_outside_home(
    qtbot, window: MainWindow, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _classify_sample_slice(qtbot, window)
    assert Path(window.settings.export_folder).name == "NeuroReview exports"  # not the home folder itself
    window.settings.export_folder = str(tmp_path / "exports")
    proposed = _accept_export_dialogs(monkeypatch)
    for _ in range(2):
        with qtbot.waitSignal(window.export_finished, timeout=WAIT_MS):
            window.export_dialog("pdf")
    first, second = proposed
    assert first.parent == tmp_path / "exports" and first != second
    assert first.name.startswith("ANON-") and "_report_" in first.name and first.suffix == ".pdf"
    assert first.exists() and second.exists()


def test_the_export_dialog_attaches_to_the_original_study(
    qtbot, window: MainWindow, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pydicom

    _classify_sample_slice(qtbot, window)
    window.settings.export_identity, window.settings.export_folder = "attach", str(tmp_path / "exports")
    _accept_export_dialogs(monkeypatch)
    with qtbot.waitSignal(window.export_finished, timeout=WAIT_MS) as done:
        window.export_dialog("dicom")
    assert window.series is not None
    source = pydicom.dcmread(window.series.slices[0].path, stop_before_pixels=True)
    for path in done.args[0]:
        exported = pydicom.dcmread(path)
        assert path.parent == tmp_path / "exports" and path.name.startswith(f"{source.PatientID}_S")
        assert exported.StudyInstanceUID == source.StudyInstanceUID and exported.PatientName == source.PatientName
        assert exported.get("PatientIdentityRemoved") == source.get("PatientIdentityRemoved")  # as the source says


def test_non_square_pixels_are_drawn_at_their_true_aspect(qtbot, window: MainWindow, tmp_path: Path) -> None:
    from dicom_factory import make_dataset, phantom, write

    window.ai_panel.auto_check.setChecked(False)
    tall = make_dataset(phantom(16, 16, high=1000), bits_allocated=16, extra={"PixelSpacing": [1.8, 0.9]})
    open_and_wait(qtbot, window, [write(tall, tmp_path / "tall.dcm")])
    rect = window.viewer.image_rect()
    assert rect.height() / rect.width() == pytest.approx(2.0, rel=1e-3)  # rows 1.8 mm apart, columns 0.9 mm
    assert rect.height() <= window.viewer.height() + 1  # still fits the pane
    open_and_wait(qtbot, window, [SAMPLE])  # square pixels again
    rect = window.viewer.image_rect()
    assert rect.height() / rect.width() == pytest.approx(1.0, rel=1e-3)


def test_each_stack_of_a_multi_frame_file_gets_its_own_presets(qtbot, window: MainWindow, tmp_path: Path) -> None:
    from dicom_factory import make_enhanced, phantom, write

    window.ai_panel.auto_check.setChecked(False)
    frames = np.stack([phantom(8, 8, seed=i, high=1000) for i in range(6)])
    ds = make_enhanced(
        frames,
        positions=[(0, 0, z) for z in (0, 0, 5, 5, 10, 10)],
        slopes=[1] * 6,
        intercepts=[0] * 6,
        windows=[(100, 50), (900, 400)] * 3,  # (centre, width): magnitude, field map
        frame_types=["M", "FIELD_MAP"] * 3,
    )
    open_and_wait(qtbot, window, [write(ds, tmp_path / "mixed.dcm")])
    kinds = [r.stack_key.split("\\")[0] for r in window.series.slices]
    assert kinds == ["M"] * 3 + ["FIELD_MAP"] * 3
    assert window.index == 1  # the middle of the first stack, not the first field-map frame
    assert "L 100" in window.preset_combo.itemText(0)
    window.apply_preset(0)
    window.set_index(4)  # into the field-map stack: its own presets, and no magnitude window carried over
    assert "L 900" in window.preset_combo.itemText(0) and window.voi is None

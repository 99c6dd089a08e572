"""Measurements on screen checked against the known geometry and values of synthetic series."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from PySide6.QtCore import QEvent, Qt

from core.export.records import RESEARCH_USE_STATEMENT
from desktop_app.main_window import MainWindow

from .viewer_helpers import drag, mouse, open_and_wait, write_volume

pytestmark = pytest.mark.gui
SPACING = (0.5, 2.0)  # rows 0.5 mm apart, columns 2 mm apart


@pytest.fixture
def window(window: MainWindow) -> MainWindow:
    """conftest's window, with classification on slice change off."""
    window.ai_panel.auto_check.setChecked(False)
    return window


def at(window: MainWindow, column: float, row: float):
    return window.viewer.image_to_widget(column, row)


def test_probe_shows_value_and_patient_position(qtbot, window: MainWindow, tmp_path: Path) -> None:
    write_volume(tmp_path, spacing=SPACING, step=3.0, z0=-6.0, modality="CT")
    open_and_wait(qtbot, window, [tmp_path])
    k = window.index
    mouse(window.viewer, QEvent.Type.MouseMove, at(window, 3, 4), Qt.MouseButton.NoButton)
    text = window.viewports.tools.probe_label.text()
    assert "Pixel (3, 4)" in text
    assert f"value {100 * k + 43:.1f} HU" in text  # modality units of a CT
    assert f"x {3 * 2.0:.1f}  y {4 * 0.5:.1f}  z {-6.0 + 3.0 * k:.1f} mm" in text


def test_length_angle_and_ellipse_in_mm_and_values(qtbot, window: MainWindow, tmp_path: Path) -> None:
    write_volume(tmp_path, spacing=SPACING, rows=20, columns=16)
    open_and_wait(qtbot, window, [tmp_path])
    tools = window.viewports.tools
    k = window.index
    qtbot.keyClick(window, Qt.Key.Key_L)
    drag(window.viewer, [at(window, 1, 1), at(window, 3, 3), at(window, 4, 5)])
    (length,) = tools.tool.measurements
    assert length.result == f"{math.hypot(3 * 2.0, 4 * 0.5):.1f} mm"
    qtbot.keyClick(window, Qt.Key.Key_A)
    for point in ((5, 2), (2, 2), (2, 10)):  # 6 mm to the right, 4 mm down: a right angle in mm
        drag(window.viewer, [at(window, *point)])
    assert tools.tool.measurements[-1].result == "90.0 deg"
    qtbot.keyClick(window, Qt.Key.Key_E)
    drag(window.viewer, [at(window, 4, 6), at(window, 10, 14)])
    ellipse = tools.tool.measurements[-1]
    # Values are linear in row and column, the ellipse symmetric: the mean is the value at its centre.
    assert f"mean {100 * k + 10 * 10 + 7:.1f}," in ellipse.result
    assert f"area {math.pi * 3 * 2.0 * 4 * 0.5:.1f} mm2" in ellipse.result
    assert tools.panel.table.rowCount() == 3 and tools.dock.isVisibleTo(window)
    key = window.ref.key
    assert len(tools.tool.on_image(key)) == 3
    window.set_index(k + 1)
    assert tools.tool.on_image(window.ref.key) == []  # measurements belong to their image
    window.set_index(k)
    qtbot.keyClick(window, Qt.Key.Key_Delete)
    assert len(tools.tool.on_image(key)) == 2
    out = tmp_path.parent / "out" / "measurements.csv"
    tools.export(out)
    text = out.read_text(encoding="utf-8")
    assert "length" in text and RESEARCH_USE_STATEMENT in text
    qtbot.keyClick(window, Qt.Key.Key_W)  # back to window/level: the left button no longer measures
    drag(window.viewer, [at(window, 1, 1), at(window, 6, 6)])
    assert len(tools.tool.measurements) == 2 and window.voi is not None


def test_freehand_roi(qtbot, window: MainWindow, tmp_path: Path) -> None:
    write_volume(tmp_path, spacing=(1.0, 1.0), rows=20, columns=16)
    open_and_wait(qtbot, window, [tmp_path])
    qtbot.keyClick(window, Qt.Key.Key_P)
    square = [(4.5, 4.5), (9.5, 4.5), (9.5, 14.5), (4.5, 14.5)]  # pixel centres 5..9 x 5..14
    drag(window.viewer, [at(window, *p) for p in square])
    result = window.viewports.tools.tool.measurements[-1].result
    assert "area 50.0 mm2" in result and "(50 px)" in result


def test_distances_are_refused_without_pixel_spacing(qtbot, window: MainWindow, tmp_path: Path) -> None:
    write_volume(tmp_path, spacing=None)
    open_and_wait(qtbot, window, [tmp_path])
    qtbot.keyClick(window, Qt.Key.Key_L)
    drag(window.viewer, [at(window, 1, 1), at(window, 4, 5)])
    assert window.viewports.tools.tool.measurements == []
    assert "pixel spacing is unknown" in window.statusBar().currentMessage()


def test_the_pdf_report_lists_the_series_measurements(qtbot, window: MainWindow, tmp_path: Path) -> None:
    from export.helpers import require_tool, run_tool

    write_volume(tmp_path / "in", spacing=SPACING, description="T1 SECRET")
    open_and_wait(qtbot, window, [tmp_path / "in"])
    qtbot.keyClick(window, Qt.Key.Key_L)
    drag(window.viewer, [at(window, 1, 1), at(window, 4, 5)])
    with qtbot.waitSignal(window.prediction_shown, timeout=60_000):
        window.classify_current(force=True)
    target = tmp_path / "out" / "report.pdf"
    with qtbot.waitSignal(window.export_finished, timeout=60_000):
        window.export("pdf", target)  # de-identified by default
    text = run_tool(require_tool("pdftotext"), "-layout", str(target), "-").stdout
    assert "Measurements" in text and f"{math.hypot(3 * 2.0, 4 * 0.5):.1f} mm" in text
    assert f"image {window.index + 1}" in text and "SECRET" not in text  # images named by number only


def test_measurements_as_a_presentation_state(qtbot, window: MainWindow, tmp_path: Path) -> None:
    import pydicom

    write_volume(tmp_path / "in", spacing=SPACING)
    open_and_wait(qtbot, window, [tmp_path / "in"])
    qtbot.keyClick(window, Qt.Key.Key_L)
    drag(window.viewer, [at(window, 1, 1), at(window, 4, 5)])
    tools = window.viewports.tools
    target = tmp_path / "out" / "pr.dcm"
    tools.export_dicom("pr", target)
    pr = pydicom.dcmread(target)
    (group,) = pr.GraphicAnnotationSequence
    source = pydicom.dcmread(window.ref.path, stop_before_pixels=True)
    assert group.ReferencedImageSequence[0].ReferencedSOPInstanceUID == source.SOPInstanceUID
    assert [round(v, 3) for v in group.GraphicObjectSequence[0].GraphicData] == [1.5, 1.5, 4.5, 5.5]
    assert group.TextObjectSequence[0].UnformattedTextValue == tools.tool.measurements[0].result
    tools.export_dicom("pr", target)  # an existing file is never replaced
    assert "not written" in window.statusBar().currentMessage()
    qtbot.keyClick(window, Qt.Key.Key_E)
    drag(window.viewer, [at(window, 4, 6), at(window, 10, 14)])
    qtbot.keyClick(window, Qt.Key.Key_A)
    for point in ((5, 2), (2, 2), (2, 10)):
        drag(window.viewer, [at(window, *point)])
    report = tmp_path / "out" / "sr.dcm"
    tools.export_dicom("sr", report)
    assert "1 measurement(s) left out" in window.statusBar().currentMessage()  # the angle
    sr = pydicom.dcmread(report)
    assert sr.Modality == "SR" and sr.StudyInstanceUID == source.StudyInstanceUID
    assert b"Length" in report.read_bytes() and b"Standard Deviation" in report.read_bytes()

"""Cine (frame rate, looping), MPR reformats in the layout, reference lines between them."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, Qt

from desktop_app.main_window import MainWindow
from desktop_app.view_source import REFORMAT_CORNER, REFORMAT_NOTE, ReformatSource

from .viewer_helpers import WAIT_MS, open_and_wait, write_volume

pytestmark = pytest.mark.gui


@pytest.fixture
def window(window: MainWindow) -> MainWindow:
    """conftest's window, with classification on slice change off."""
    window.ai_panel.auto_check.setChecked(False)
    return window


def test_cine_loops_at_the_chosen_rate(qtbot, window: MainWindow, tmp_path: Path) -> None:
    write_volume(tmp_path, slices=4)
    open_and_wait(qtbot, window, [tmp_path])
    cine = window.viewports.cine
    cine.fps.setValue(25)
    assert cine.timer.interval() == 40
    window.set_index(3)
    cine.step()
    assert window.index == 0  # after the last slice comes the first
    qtbot.keyClick(window, Qt.Key.Key_C)
    assert cine.running
    seen = []
    for _ in range(3):
        with qtbot.waitSignal(window.slice_shown, timeout=5000) as blocker:
            pass
        seen.append(blocker.args[0])
    assert seen == [1, 2, 3]
    qtbot.keyClick(window, Qt.Key.Key_C)
    assert not cine.running


def test_mpr_fills_the_layout_with_three_reformats(qtbot, window: MainWindow, tmp_path: Path) -> None:
    write_volume(tmp_path, slices=6, rows=12, columns=10, step=2.0)
    open_and_wait(qtbot, window, [tmp_path])
    features = window.viewports
    with qtbot.waitSignal(features.mpr.shown, timeout=WAIT_MS):
        qtbot.keyClick(window, Qt.Key.Key_M, Qt.KeyboardModifier.ControlModifier)
    assert features.grid.shape == (2, 2) and window.series is not None  # the acquired series stays in the main viewer
    reformats = {features.source_at(c).reformat.plane: c for c in range(4) if c != features.main_cell}
    assert set(reformats) == {"axial", "sagittal", "coronal"}
    sagittal_cell = reformats["sagittal"]
    sagittal = features.source_at(sagittal_cell)
    assert isinstance(sagittal, ReformatSource)
    assert len(sagittal) == 10 and sagittal.values(0).shape == (11, 12)  # 10 mm of slices every 1 mm, 12 rows
    index = features.index_at(sagittal_cell)
    plane = sagittal.geometry(index)
    x, y, z = plane.to_patient(3, 4)  # row 4 from the top: z = 6 mm, an acquired slice
    assert sagittal.values(index)[4, 3] == pytest.approx(100 * z / 2.0 + 10 * y + x)
    assert features.viewer_at(sagittal_cell)._corners["top_left"] == REFORMAT_CORNER
    assert features.viewer_at(sagittal_cell)._corners["top"] == "H"  # head up
    lines = dict(features.reference_lines.lines_on(features.main_cell))
    assert set(lines) == {sagittal_cell, reformats["coronal"]}  # the axial reformat is parallel: no line
    (c0, _), (c1, _) = lines[sagittal_cell]
    assert c0 == pytest.approx(plane.origin[0]) and c1 == pytest.approx(plane.origin[0])  # at the sagittal's x
    qtbot.mouseClick(features.viewer_at(sagittal_cell), Qt.MouseButton.LeftButton, pos=QPoint(20, 20))
    assert features.active == sagittal_cell and window.ai_panel.label_text.text() == REFORMAT_NOTE
    before = features.index_at(sagittal_cell)
    window.viewports.cine.step()  # cine runs in the active viewport, a reformat too
    assert features.index_at(sagittal_cell) == (before + 1) % 10


def test_mpr_of_too_few_slices_is_refused(qtbot, window: MainWindow, tmp_path: Path) -> None:
    write_volume(tmp_path, slices=2)
    open_and_wait(qtbot, window, [tmp_path])
    with qtbot.waitSignal(window.viewports.mpr.refused, timeout=WAIT_MS) as blocker:
        window.viewports.mpr.start()
    assert "at least 3 slices" in blocker.args[0]
    assert window.viewports.grid.shape == (1, 1)


def test_crosshair_takes_every_plane_to_the_point(qtbot, window: MainWindow, tmp_path: Path) -> None:
    write_volume(tmp_path, slices=6, rows=12, columns=10, step=2.0)
    open_and_wait(qtbot, window, [tmp_path])
    features = window.viewports
    with qtbot.waitSignal(features.mpr.shown, timeout=WAIT_MS):
        features.mpr.start()
    window.set_index(2)  # z = 4 mm
    features.crosshair.locate_at(window.viewer, window.viewer.image_to_widget(3, 7))
    assert features.crosshair.point == pytest.approx([3.0, 7.0, 4.0])  # 1 mm pixels from the origin
    for cell in range(4):
        if cell == features.main_cell:
            continue
        plane = features.source_at(cell).geometry(features.index_at(cell))
        assert abs(plane.to_pixel(features.crosshair.point)[2]) < 0.5  # each reformat now passes through it
    qtbot.mouseClick(window.viewer, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ShiftModifier, QPoint(1, 1))
    assert features.crosshair.point is None  # Shift+click outside the image removes it
    qtbot.mouseClick(
        window.viewer, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ShiftModifier, window.viewer.rect().center()
    )
    assert features.crosshair.point is not None and window.voi is None  # the Shift+click did not window

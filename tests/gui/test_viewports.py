"""Layouts: 1x2 and 2x2 grids, the active viewport feeding the AI panel, series dragged into a viewport."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QApplication

from core.imaging import Window
from desktop_app.main_window import MainWindow
from desktop_app.viewport_grid import SERIES_MIME

from .viewer_helpers import WAIT_MS, open_and_wait, write_volume

pytestmark = pytest.mark.gui


@pytest.fixture
def two_series(tmp_path: Path) -> list[Path]:
    study = "1.2.826.0.1.3680043.8.498.1"
    write_volume(tmp_path / "a", description="T1", number=1, study_uid=study)
    write_volume(tmp_path / "b", description="FLAIR", number=2, slices=8, study_uid=study)
    return [tmp_path / "a", tmp_path / "b"]


def test_layout_keys_fill_the_new_viewports(qtbot, window: MainWindow, two_series) -> None:
    open_and_wait(qtbot, window, two_series)
    features = window.viewports
    assert features.grid.visible_cells == 1 and window.series is not None
    first = window.series.description
    qtbot.keyClick(window, Qt.Key.Key_2, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier)
    assert features.grid.shape == (1, 2)
    other = features.source_at(1)
    assert other is not None and other.series.description != first  # the next series, not the same one
    assert features.viewer_at(1).has_image() and features.viewer_at(1).isVisible()
    qtbot.keyClick(window, Qt.Key.Key_4, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier)
    assert features.grid.shape == (2, 2) and features.grid.visible_cells == 4
    qtbot.keyClick(window, Qt.Key.Key_1, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier)
    assert features.grid.shape == (1, 1) and not features.viewer_at(1).isVisible()


def test_clicking_a_viewport_moves_the_ai_to_it_and_keeps_each_window(qtbot, window: MainWindow, two_series) -> None:
    window.ai_panel.auto_check.setChecked(False)
    open_and_wait(qtbot, window, two_series)
    features = window.viewports
    features.set_layout(1, 2)
    left = window.series
    right = features.source_at(1)
    assert left is not None and right is not None
    window.voi = Window(500.0, 300.0, "mine")
    window.render_slice()
    right_viewer = features.viewer_at(1)
    right_viewer.zoom_by(2.0)
    right_zoom = right_viewer.zoom
    qtbot.mouseClick(right_viewer, Qt.MouseButton.LeftButton, pos=QPoint(20, 20))
    assert features.active == 1 and features.main_cell == 1
    assert window.series is right.series and features.viewer_at(1) is window.viewer
    assert window.viewer.zoom == pytest.approx(right_zoom)  # the cell kept its zoom
    assert features.source_at(0).series is left  # the left cell still shows the first series ...
    assert features.cells[0].voi == Window(500.0, 300.0, "mine")  # ... with its own window
    with qtbot.waitSignal(window.prediction_shown, timeout=WAIT_MS):
        window.classify_current(force=True)
    assert window.ai_panel.prediction is not None
    assert window.ref is not None and window.ref.series_uid == right.series.uid  # the AI answers for the active one
    qtbot.mouseClick(features.viewer_at(0), Qt.MouseButton.LeftButton, pos=QPoint(20, 20))
    assert features.active == 0 and window.series is left and window.voi == Window(500.0, 300.0, "mine")


def drop(widget, uid: str) -> None:
    data = QMimeData()
    data.setData(SERIES_MIME, uid.encode())
    pos = QPointF(10, 10)
    for event_type in (QDropEvent.Type.DragEnter, QDropEvent.Type.Drop):
        if event_type == QDropEvent.Type.DragEnter:
            from PySide6.QtGui import QDragEnterEvent

            event = QDragEnterEvent(pos.toPoint(), Qt.DropAction.CopyAction, data, Qt.MouseButton.LeftButton,
                                    Qt.KeyboardModifier.NoModifier)  # fmt: skip
        else:
            event = QDropEvent(pos, Qt.DropAction.CopyAction, data, Qt.MouseButton.LeftButton,
                               Qt.KeyboardModifier.NoModifier)  # fmt: skip
        QApplication.sendEvent(widget, event)
        assert event.isAccepted()


def test_a_series_dragged_from_the_browser_opens_in_that_viewport(qtbot, window: MainWindow, two_series) -> None:
    open_and_wait(qtbot, window, two_series)
    features = window.viewports
    features.set_layout(1, 2)
    first = window.series
    assert first is not None
    mime = window.browser.mimeData([window.browser._series_items[first.uid]])
    assert bytes(mime.data(SERIES_MIME).data()).decode() == first.uid  # the browser drags the series UID
    drop(features.viewer_at(1), first.uid)
    assert features.active == 1 and window.series is first and features.viewer_at(1) is window.viewer


def test_synchronised_scrolling_by_patient_position_and_by_relative_place(
    qtbot, window: MainWindow, tmp_path: Path
) -> None:
    window.ai_panel.auto_check.setChecked(False)
    study = "1.2.826.0.1.3680043.8.498.2"
    write_volume(tmp_path / "a", number=1, study_uid=study, slices=6, step=2.0)  # z = 0, 2, ... 10
    write_volume(tmp_path / "b", number=2, study_uid=study, slices=12, step=1.0, z0=3.0)  # z = 3 ... 14
    write_volume(tmp_path / "prior", number=1, slices=12, step=1.0, z0=-40.0)  # another study: no shared positions
    open_and_wait(qtbot, window, [tmp_path / "a", tmp_path / "b", tmp_path / "prior"])
    features = window.viewports
    by_name = {s.uid: s for s in window.browser.series()}
    a, b = (next(s for s in by_name.values() if s.study_uid == study and s.number == n) for n in (1, 2))
    prior = next(s for s in by_name.values() if s.study_uid != study)
    window.show_series(a)
    features.set_layout(1, 2, fill=False)
    features.show_in(1, features.series_source(b))
    qtbot.keyClick(window, Qt.Key.Key_Y)
    assert features.sync.enabled

    def z(cell: int) -> float:
        return features.source_at(cell).series.slices[features.index_at(cell)].position[2]

    for index, expected in ((3, 6.0), (0, 3.0), (5, 10.0)):
        window.set_index(index)
        assert z(0) == 2.0 * index and z(1) == expected  # the nearest slice to the same patient position
    qtbot.mouseClick(features.viewer_at(1), Qt.MouseButton.LeftButton, pos=QPoint(20, 20))  # b leads now
    assert features.active == 1 and window.series is b
    window.set_index(8)  # z = 11
    assert z(0) == 10.0
    qtbot.mouseClick(features.viewer_at(0), Qt.MouseButton.LeftButton, pos=QPoint(20, 20))
    features.sync.set_enabled(False)
    window.set_index(0)
    features.show_in(1, features.series_source(prior), index=2)  # aligned by hand: two slices further on
    features.sync.set_enabled(True)
    assert features.index_at(1) == 2
    window.set_index(1)  # a fifth of the way through: 2.2 of 11 slices, plus the offset
    assert features.index_at(1) == 4
    window.set_index(5)
    assert features.index_at(1) == 11  # clamped to the last slice


def test_synchronised_zoom_pan_and_window(qtbot, window: MainWindow, two_series) -> None:
    window.ai_panel.auto_check.setChecked(False)
    open_and_wait(qtbot, window, two_series)
    features = window.viewports
    features.set_layout(1, 2)
    other = features.viewer_at(1)
    window.viewer.zoom_by(2.0)
    assert other.zoom != pytest.approx(window.viewer.zoom)  # independent until synchronised
    qtbot.keyClick(window, Qt.Key.Key_Y, Qt.KeyboardModifier.ShiftModifier)
    assert features.view_sync.enabled and other.zoom == pytest.approx(window.viewer.zoom)
    window.viewer.pan_by(15, -5)
    assert other.pan == window.viewer.pan
    centre = window.viewer.rect().center()
    qtbot.mousePress(window.viewer, Qt.MouseButton.LeftButton, pos=centre)
    qtbot.mouseMove(window.viewer, centre + QPoint(40, 10))
    qtbot.mouseRelease(window.viewer, Qt.MouseButton.LeftButton, pos=centre + QPoint(40, 10))
    assert window.voi is not None and features.cells[1].voi == window.voi
    other.zoom_by(0.5)  # a viewport that is not active does not lead
    assert window.viewer.zoom != pytest.approx(other.zoom)


def test_closing_a_study_empties_its_viewports(qtbot, window: MainWindow, two_series, tmp_path: Path) -> None:
    write_volume(tmp_path / "other", description="OTHER")  # a study of its own
    open_and_wait(qtbot, window, [*two_series, tmp_path / "other"])
    features = window.viewports
    other = next(s for s in window.browser.series() if s.description == "OTHER")
    window.show_series(other)
    features.set_layout(1, 2, fill=False)
    first = next(s for s in window.browser.series() if s.description == "T1")
    features.show_in(1, features.series_source(first))
    window.session.close_study(first.study_uid)
    qtbot.waitUntil(lambda: features.source_at(1) is None, timeout=5000)
    assert not features.viewer_at(1).has_image() and window.series is other  # the other study stays
    reopened = tmp_path / "again"
    write_volume(reopened, description="AGAIN")
    open_and_wait(qtbot, window, [reopened])  # opening adds a study: nothing else is emptied
    assert window.series is not None and features.viewer_at(0).has_image()

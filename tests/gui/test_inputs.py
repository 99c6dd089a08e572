"""The workstation with the new inputs: NIfTI volumes, truncated files in Problems, time points, thin
thumbnails, elided names and a first window size that fits the screen."""

from __future__ import annotations

from pathlib import Path

import nibabel
import numpy as np
import pytest
from dicom_factory import make_dataset, write
from pydicom.uid import generate_uid
from PySide6.QtCore import QSize, Qt

from desktop_app.index_worker import fit_thumbnail
from desktop_app.main_window import MainWindow
from desktop_app.settings import AppSettings
from desktop_app.window_size import fitting_size

from .conftest import write_series

pytestmark = pytest.mark.gui
WAIT_MS = 60_000


@pytest.fixture
def viewer_window(qtbot, app_settings: AppSettings, tmp_path: Path) -> MainWindow:
    """A window without a model: these tests are about opening and viewing."""
    win = MainWindow(weights_folder=tmp_path / "no-weights", settings=app_settings, load_model=False)
    qtbot.addWidget(win)
    win.show()
    yield win
    win.close()


def _open(qtbot, win: MainWindow, paths: list[Path]):  # type: ignore[no-untyped-def]
    with qtbot.waitSignal(win.indexing_finished, timeout=WAIT_MS) as blocker:
        win.open_paths(paths)
    return blocker.args[0]


def test_a_nifti_volume_opens_as_its_own_series(qtbot, viewer_window: MainWindow, tmp_path: Path) -> None:
    data = np.zeros((20, 24, 6), dtype=np.int16)
    data[5:15, 6:18, :] = 800  # a bright block: the window must spread it, not show a flat picture
    data[8:12, 9:15, :] = 400
    nibabel.save(nibabel.Nifti1Image(data, np.diag([2.0, 2.0, 3.0, 1.0])), tmp_path / "brain_t1.nii.gz")
    _open(qtbot, viewer_window, [tmp_path / "brain_t1.nii.gz"])
    series = viewer_window.series
    assert series is not None and series.description == "brain_t1.nii.gz" and len(series.slices) == 6
    assert viewer_window.browser.topLevelItem(0).text(0) == "brain_t1.nii.gz"
    shown = viewer_window.store.display(viewer_window.ref)
    assert len(np.unique(shown)) >= 3  # background, block and inner block told apart
    assert viewer_window.ref.orientation == pytest.approx((1, 0, 0, 0, 1, 0))  # letters: R/L, A/P


def test_a_4d_nifti_note_and_a_truncated_file_show_in_problems(
    qtbot, viewer_window: MainWindow, tmp_path: Path
) -> None:
    nibabel.save(nibabel.Nifti1Image(np.ones((4, 4, 3, 2), dtype=np.int16), np.eye(4)), tmp_path / "bold.nii")
    whole = write_series(tmp_path, 1)[0]
    (tmp_path / "cut.dcm").write_bytes(whole.read_bytes()[:150])
    _open(qtbot, viewer_window, [tmp_path])
    rows = {
        viewer_window.errors.item(r, 0).text(): viewer_window.errors.item(r, 1).text()
        for r in range(viewer_window.errors.rowCount())
    }
    assert "file meta header" in rows["cut.dcm"] and "first volume" in rows["bold.nii"]
    assert viewer_window.errors_dock.isVisible()


def test_time_points_scroll_through_space_with_a_control(qtbot, viewer_window: MainWindow, tmp_path: Path) -> None:
    uid = generate_uid()
    for n in range(12):  # 3 time points x 4 positions
        t, z = divmod(n, 4)
        ds = make_dataset(
            np.full((8, 8), 100 * t + z), series_uid=uid, instance=n + 1, position=(0, 0, z),
            extra={"TemporalPositionIdentifier": t + 1},
        )  # fmt: skip
        write(ds, tmp_path / f"im{n:02d}.dcm")
    _open(qtbot, viewer_window, [tmp_path])
    win = viewer_window
    store = win.store
    assert win.time_bar.isVisible() and win.time_bar.count_label.text() == "/ 3"
    for _ in range(10):
        win.viewer.scroll_requested.emit(1)
    assert int(store.modality(win.ref)[0, 0]) == 3  # the last position of time point 1, not time point 2
    win.viewer.jump_requested.emit("first")
    assert int(store.modality(win.ref)[0, 0]) == 0
    win.viewer.scroll_requested.emit(1)
    qtbot.keyClick(win.viewer, Qt.Key.Key_BracketRight)  # "]" : same position, next time point
    assert int(store.modality(win.ref)[0, 0]) == 101 and win.time_bar.spin.value() == 2
    win.time_bar.spin.setValue(3)
    assert int(store.modality(win.ref)[0, 0]) == 201
    write_series(tmp_path / "plain", 3)
    _open(qtbot, win, [tmp_path / "plain"])
    assert not win.time_bar.isVisible()


def test_thin_images_get_a_visible_thumbnail() -> None:
    thumb = fit_thumbnail(np.full((10, 2000), 255, dtype=np.uint8), 64)
    assert thumb.shape == (64, 64)
    assert (thumb.max(axis=1) > 0).sum() >= 8  # several rows drawn, centred
    assert fit_thumbnail(np.full((2000, 10, 3), 200, dtype=np.uint8), 64).shape == (64, 64, 3)


def test_long_names_are_elided_with_their_full_text_in_a_tooltip(
    qtbot, viewer_window: MainWindow, tmp_path: Path
) -> None:
    name = "a_very_long_file_name_" * 8 + ".dcm"
    (tmp_path / name).write_bytes(b"not an image at all" * 10)
    _open(qtbot, viewer_window, [tmp_path])
    errors = viewer_window.errors
    assert errors.textElideMode() == Qt.TextElideMode.ElideMiddle and not errors.wordWrap()
    assert errors.item(0, 0).toolTip() == str(tmp_path / name)
    assert errors.item(0, 1).toolTip() == errors.item(0, 1).text()
    assert viewer_window.browser.textElideMode() == Qt.TextElideMode.ElideMiddle


def test_first_window_size_fits_the_screen(viewer_window: MainWindow) -> None:
    assert fitting_size(QSize(1280, 720)) == QSize(1177, 662)
    assert fitting_size(QSize(3840, 2160)) == QSize(1500, 950)
    assert fitting_size(None) == QSize(1500, 950)
    screen = viewer_window.screen().availableGeometry().size()
    assert viewer_window.width() <= max(screen.width(), 640) and viewer_window.height() <= max(screen.height(), 480)

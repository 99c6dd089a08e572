"""GUI fixtures: isolated settings, one shared tiny classifier, tiny DICOM series written in tmp_path."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from dicom_factory import make_dataset, write
from pydicom.uid import generate_uid

pytest.importorskip("pytestqt")

from desktop_app.settings import AppSettings

WAIT_MS = 60_000


def write_series(folder: Path, count: int, size: int = 16, seed: int = 0) -> list[Path]:
    """``count`` tiny MR slices of one series (positions along z), random but seeded pixels."""
    rng = np.random.default_rng(seed)
    study, series = generate_uid(), generate_uid()
    paths = []
    for i in range(count):
        ds = make_dataset(
            rng.integers(0, 4000, (size, size), dtype=np.uint16),
            bits_allocated=16,
            bits_stored=12,
            study_uid=study,
            series_uid=series,
            instance=i + 1,
            position=(0.0, 0.0, float(i)),
            patient_name="Test^Tiny",
            patient_id="T1",
            series_description="tiny",
        )
        paths.append(write(ds, folder / f"{i:03d}.dcm"))
    return paths


@pytest.fixture
def app_settings(tmp_path: Path) -> AppSettings:
    """Settings in a private INI file, never the user's."""
    return AppSettings.in_folder(tmp_path)


@pytest.fixture(scope="session")
def tiny_classifier(tiny_weights_dir: Path):
    """One tiny Classifier for the whole session (TensorFlow is imported once)."""
    from core.model.classifier import Classifier

    return Classifier.from_folder(tiny_weights_dir)


@pytest.fixture
def window(qtbot, app_settings: AppSettings, tiny_weights_dir: Path, tiny_classifier):
    """A main window whose worker 'loads' the shared tiny classifier."""
    from desktop_app.main_window import MainWindow

    win = MainWindow(weights_folder=tiny_weights_dir, settings=app_settings, classifier_factory=lambda: tiny_classifier)
    qtbot.addWidget(win)
    with qtbot.waitSignal(win.model_state_changed, timeout=WAIT_MS, check_params_cb=lambda s: s == "ready"):
        win.show()
    yield win
    win.close()
    assert win.inference_thread.isFinished() and win.index_thread.isFinished()


def open_and_wait(qtbot, win, paths: list[Path]) -> None:
    """Open ``paths`` in ``win`` and wait until they are indexed."""
    with qtbot.waitSignal(win.indexing_finished, timeout=WAIT_MS):
        win.open_paths(paths)

"""Study list columns and search; the DICOM tag viewer of the active image."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from desktop_app.main_window import MainWindow

from .viewer_helpers import open_and_wait, write_volume

pytestmark = pytest.mark.gui


@pytest.fixture
def window(window: MainWindow) -> MainWindow:
    """conftest's window, with classification on slice change off."""
    window.ai_panel.auto_check.setChecked(False)
    return window


@pytest.fixture
def two_patients(tmp_path: Path) -> list[Path]:
    write_volume(tmp_path / "jane", description="FLAIR AX", patient_name="Doe^Jane", patient_id="P1",
                 extra={"AccessionNumber": "ACC1"})  # fmt: skip
    write_volume(tmp_path / "rick", description="HEAD", modality="CT", patient_name="Roe^Rick", patient_id="P2",
                 extra={"StudyDate": "20230505", "AccessionNumber": "ACC9"})  # fmt: skip
    return [tmp_path / "jane", tmp_path / "rick"]


def visible_descriptions(window: MainWindow) -> set[str]:
    return {s.description for s in window.browser.visible_series()}


def test_study_rows_have_date_accession_modality_and_series_count(qtbot, window: MainWindow, two_patients) -> None:
    open_and_wait(qtbot, window, two_patients)
    rows = []
    for p in range(window.browser.topLevelItemCount()):
        study = window.browser.topLevelItem(p).child(0)
        rows.append(tuple(study.text(c) for c in range(1, 5)))
    assert sorted(rows) == [("1 series", "CT", "2023-05-05", "ACC9"), ("1 series", "MR", "2024-01-01", "ACC1")]


@pytest.mark.parametrize(
    ("query", "expected"),
    [("", {"FLAIR AX", "HEAD"}), ("roe", {"HEAD"}), ("2023-05", {"HEAD"}), ("mr flair", {"FLAIR AX"}),
     ("acc1", {"FLAIR AX"}), ("p2 ct", {"HEAD"}), ("nothing", set())],
)  # fmt: skip
def test_search_filters_the_study_list(qtbot, window: MainWindow, two_patients, query: str, expected) -> None:
    open_and_wait(qtbot, window, two_patients)
    window.viewports.search.box.setText(query)
    assert visible_descriptions(window) == expected
    hidden_patients = [window.browser.topLevelItem(p).isHidden() for p in range(window.browser.topLevelItemCount())]
    assert hidden_patients.count(False) == len(expected)  # a patient without a matching series is hidden too


def test_tag_viewer_shows_and_searches_the_active_image(qtbot, window: MainWindow, two_patients) -> None:
    open_and_wait(qtbot, window, two_patients[:1])
    qtbot.keyClick(window, Qt.Key.Key_T, Qt.KeyboardModifier.ControlModifier)
    dialog = window.viewports.tags.dialog
    assert dialog.isVisible() and window.ref is not None and window.ref.path.name in dialog.caption.text()
    values = {row.name: row.value for row in dialog.rows}
    assert values["PatientName"] == "Doe^Jane" and values["InstanceNumber"] == str(window.index + 1)
    dialog.search.setText("instancenumber")
    assert [row.name for row in dialog.visible_rows()] == ["InstanceNumber"]
    window.set_index(0)  # the table follows the image on screen
    assert {row.value for row in dialog.visible_rows()} == {"1"}

"""The export dialog: the identity choice explained at the moment of export and remembered per user."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydicom.dataset import Dataset
from PySide6.QtWidgets import QDialog, QDialogButtonBox

from core.export.identity import IdentityMode
from desktop_app.export_dialog import ExportDialog
from desktop_app.settings import AppSettings

pytestmark = pytest.mark.gui


def _header() -> Dataset:
    ds = Dataset()
    ds.PatientID, ds.SeriesNumber, ds.SeriesDescription = "T1", 5, "tiny"
    return ds


def _ok(dialog: ExportDialog) -> None:
    dialog.findChild(QDialogButtonBox).button(QDialogButtonBox.StandardButton.Ok).click()


def test_the_choice_is_explained_and_remembered(qtbot, app_settings: AppSettings, tmp_path: Path) -> None:
    dialog = ExportDialog("pdf", app_settings, _header())
    qtbot.addWidget(dialog)
    assert dialog.mode is IdentityMode.DEIDENTIFY  # the first default
    assert dialog.explanation.text() == IdentityMode.DEIDENTIFY.explanation
    assert dialog.name_edit.text().startswith("ANON-") and "_report_" in dialog.name_edit.text()
    dialog.radios[IdentityMode.ATTACH].click()
    assert "Study Instance UID" in dialog.explanation.text() and "PACS" in dialog.explanation.text()
    assert dialog.name_edit.text().startswith("T1_S5-tiny_report_") and dialog.name_edit.text().endswith(".pdf")
    dialog.folder_edit.setText(str(tmp_path / "out"))
    _ok(dialog)
    assert dialog.result() == QDialog.DialogCode.Accepted
    choice = dialog.choice()
    assert choice.identity.mode is IdentityMode.ATTACH and choice.target.parent == tmp_path / "out"
    assert app_settings.export_identity == "attach" and app_settings.export_folder == str(tmp_path / "out")

    again = ExportDialog("dicom", AppSettings(app_settings.store), _header())  # the next export, same user
    qtbot.addWidget(again)
    assert again.radios[IdentityMode.ATTACH].isChecked() and again.folder_edit.text() == str(tmp_path / "out")
    assert again.name_edit.isReadOnly() and "_SR_" in again.name_edit.text() and "_SC_" in again.name_edit.text()


def test_the_earlier_on_off_setting_decides_until_the_first_choice(qtbot, app_settings: AppSettings) -> None:
    app_settings.store.setValue("export/deidentify", False)
    dialog = ExportDialog("csv", app_settings, _header())
    qtbot.addWidget(dialog)
    assert dialog.mode is IdentityMode.ATTACH


def test_own_folder_and_a_typed_name(qtbot, app_settings: AppSettings, tmp_path: Path) -> None:
    dialog = ExportDialog("dicom", app_settings, None)
    qtbot.addWidget(dialog)
    dialog.folder_edit.setText(str(tmp_path))
    dialog.own_folder.setChecked(True)
    choice = dialog.choice()
    assert choice.target == tmp_path / f"images_{choice.name.suffix}"
    typed = ExportDialog("png", app_settings, _header())
    qtbot.addWidget(typed)
    typed.name_edit.setText("mine.png")
    typed.radios[IdentityMode.ATTACH].click()
    assert typed.name_edit.text() == "mine.png"  # a name the user typed is kept when the identity changes


def test_an_existing_file_is_refused_in_the_dialog(qtbot, app_settings: AppSettings, tmp_path: Path) -> None:
    (tmp_path / "taken.pdf").write_bytes(b"%PDF")
    dialog = ExportDialog("pdf", app_settings, _header())
    qtbot.addWidget(dialog)
    dialog.folder_edit.setText(str(tmp_path))
    dialog.name_edit.setText("taken.pdf")
    dialog.radios[IdentityMode.ATTACH].click()
    _ok(dialog)
    assert dialog.result() != QDialog.DialogCode.Accepted and "already exists" in dialog.error_label.text()
    assert app_settings.export_identity == "deidentify"  # nothing remembered from a refused dialog
    dialog.name_edit.setText("../elsewhere.pdf")
    _ok(dialog)
    assert "without a folder" in dialog.error_label.text()

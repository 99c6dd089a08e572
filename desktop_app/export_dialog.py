"""File > Export dialog: the folder, the file name, and "Attach to the original study" or "De-identified copy".

The choice is explained where it is made and remembered per user (QSettings through
:class:`AppSettings`), together with the folder.  Names follow :mod:`core.export.naming`; the dialog
only proposes them.  Nothing is written here: :meth:`MainWindow.export` does that with the returned
:class:`ExportChoice`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from core.export.identity import ExportIdentity, IdentityMode
from core.export.naming import ExportName, short_suffix
from desktop_app.dialogs import RESEARCH_ONLY
from desktop_app.export_task import ExportKind
from desktop_app.settings import AppSettings

if TYPE_CHECKING:  # pragma: no cover
    from pydicom.dataset import Dataset

TITLES = {
    "pdf": "Export PDF report",
    "png": "Export PNG of the view",
    "dicom": "Export DICOM SR + Secondary Capture",
    "csv": "Export results as CSV",
    "json": "Export results as JSON",
}


@dataclass(frozen=True)
class ExportChoice:
    """What the user chose: the file (or, for DICOM, the folder), the identity and the file names."""

    target: Path
    identity: ExportIdentity
    name: ExportName


class ExportDialog(QDialog):
    """Asks where an export goes and whether it is attached to the study or a de-identified copy."""

    def __init__(
        self, kind: ExportKind, settings: AppSettings, header: Dataset | None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.kind, self.settings, self.header = kind, settings, header
        self.setWindowTitle(TITLES[kind])
        suffix = short_suffix()  # one per dialog: switching the identity does not change it
        self.identities = {mode: ExportIdentity(mode) for mode in IdentityMode}
        self.names = {mode: identity.name(header, suffix) for mode, identity in self.identities.items()}
        self._proposed = ""
        layout = QVBoxLayout(self)
        warning = QLabel(RESEARCH_ONLY)
        warning.setStyleSheet("color: #c08000; font-weight: bold")
        layout.addWidget(warning)
        layout.addWidget(self._identity_box())
        layout.addLayout(self._where_form())
        self.error_label = QLabel()
        self.error_label.setStyleSheet("color: #c00000")
        self.error_label.setWordWrap(True)
        layout.addWidget(self.error_label)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Export")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        saved = self.settings.export_identity
        self.radios[
            IdentityMode(saved) if saved in {m.value for m in IdentityMode} else IdentityMode.DEIDENTIFY
        ].click()
        self.resize(560, self.sizeHint().height())

    # ------------------------------------------------------------------ widgets
    def _identity_box(self) -> QGroupBox:
        box = QGroupBox("Patient identity in the exported files")
        column = QVBoxLayout(box)
        self.group = QButtonGroup(self)
        self.radios: dict[IdentityMode, QRadioButton] = {}
        for mode in (IdentityMode.ATTACH, IdentityMode.DEIDENTIFY):
            radio = QRadioButton(mode.label)
            radio.toggled.connect(lambda on, m=mode: self._on_mode(m) if on else None)
            self.group.addButton(radio)
            self.radios[mode] = radio
            column.addWidget(radio)
        self.explanation = QLabel()
        self.explanation.setWordWrap(True)
        column.addWidget(self.explanation)
        return box

    def _where_form(self) -> QFormLayout:
        form = QFormLayout()
        self.folder_edit = QLineEdit(self.settings.export_folder)
        browse = QPushButton("Browse...")
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.folder_edit, 1)
        row.addWidget(browse)
        form.addRow("Folder:", row)
        self.own_folder = QCheckBox("Put this export in a new folder of its own, named like its files")
        self.own_folder.setChecked(self.settings.export_own_folder)
        form.addRow("", self.own_folder)
        self.name_edit = QLineEdit()
        self.name_edit.setReadOnly(self.kind == "dicom")
        form.addRow("Files:" if self.kind == "dicom" else "File name:", self.name_edit)
        return form

    # ------------------------------------------------------------------ behaviour
    @property
    def mode(self) -> IdentityMode:
        return next((m for m, r in self.radios.items() if r.isChecked()), IdentityMode.DEIDENTIFY)

    def _proposal(self, mode: IdentityMode) -> str:
        name = self.names[mode]
        if self.kind == "dicom":
            return f"{name.file('SR', 'dcm')}  +  {name.file('SC', 'dcm')}"
        return name.file_for(self.kind)

    def _on_mode(self, mode: IdentityMode) -> None:
        self.explanation.setText(mode.explanation)
        if self.kind == "dicom" or self.name_edit.text() in ("", self._proposed):  # keep a name the user typed
            self._proposed = self._proposal(mode)
            self.name_edit.setText(self._proposed)

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Export into", self.folder_edit.text())
        if folder:
            self.folder_edit.setText(folder)

    def choice(self) -> ExportChoice:
        """The chosen target (a file, or the folder of the DICOM pair), identity and names."""
        mode = self.mode
        name = self.names[mode]
        folder = Path(self.folder_edit.text().strip()).expanduser()
        if self.own_folder.isChecked():
            folder = folder / f"{name.stem}_{name.suffix}"
        target = folder if self.kind == "dicom" else folder / self.name_edit.text().strip()
        return ExportChoice(target, self.identities[mode], name)

    def _problem(self) -> str:
        if not self.folder_edit.text().strip():
            return "Choose a folder."
        if self.kind != "dicom":
            name = self.name_edit.text().strip()
            if not name or Path(name).name != name:
                return "Enter a file name (without a folder)."
            if self.choice().target.exists():
                return f"{name} already exists there; exports never replace a file. Choose another name."
        return ""

    def accept(self) -> None:
        """Remember the choice (identity, folder, own folder) and close, unless the input is unusable."""
        problem = self._problem()
        if problem:
            self.error_label.setText(problem)
            return
        self.settings.export_identity = self.mode.value
        self.settings.export_folder = self.folder_edit.text().strip()
        self.settings.export_own_folder = self.own_folder.isChecked()
        super().accept()


def ask_export(parent: QWidget, kind: ExportKind, settings: AppSettings, header: Dataset | None) -> ExportChoice | None:
    """Show the export dialog; the choice, or None when cancelled."""
    dialog = ExportDialog(kind, settings, header, parent)
    if dialog.exec() != QDialog.DialogCode.Accepted:
        return None
    return dialog.choice()

"""Who an export belongs to: attached to the original study, or a de-identified copy.

The one choice every export makes, in the GUI's export dialog and with ``neuroreview-classify
--attach-to-study`` / ``--deidentify``:

* **Attach to the original study**: the DICOM results keep the source's Study Instance UID and copy
  its Patient and Study modules, so a PACS files them with the images they came from.
* **De-identified copy**: PS3.15 Basic Profile (:mod:`core.export.deidentify`), every UID replaced by
  a new one that is consistent within this export (the SR and SC reference each other) and unrelated
  to any other export; a PACS files the results as a separate study.

An :class:`ExportIdentity` is made once per export and handed to every writer of that export, so all
its files share one :class:`UidMap` (and one pseudonym) and one naming rule.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from core.export.errors import ExportError
from core.export.naming import ExportName, export_name
from core.export.uid_map import UidMap

if TYPE_CHECKING:  # pragma: no cover
    from pydicom.dataset import Dataset


class ExportOptionError(ExportError):
    """Export options that contradict each other."""


class IdentityMode(enum.Enum):
    ATTACH = "attach"
    DEIDENTIFY = "deidentify"

    @property
    def label(self) -> str:
        return _LABELS[self]

    @property
    def explanation(self) -> str:
        """What the choice does, in words for the moment of export."""
        return _EXPLANATIONS[self]


_LABELS = {IdentityMode.ATTACH: "Attach to the original study", IdentityMode.DEIDENTIFY: "De-identified copy"}
_EXPLANATIONS = {
    IdentityMode.ATTACH: (
        "The results keep the patient's name and ID and the original Study Instance UID, with the patient "
        "and study details copied from the images, so a PACS files them with the study they came from. "
        "Choose this to send results back to the PACS. The files identify the patient."
    ),
    IdentityMode.DEIDENTIFY: (
        "Patient identifiers are removed (DICOM PS3.15 Basic Profile) and every UID is replaced by a new one, "
        "consistent within this export only; the patient ID becomes a pseudonym (ANON-...). A PACS files the "
        "results as a separate study. Choose this for sharing, teaching or research."
    ),
}


@dataclass(frozen=True)
class ExportIdentity:
    """The identity choice of one export and the UID map all its files share."""

    mode: IdentityMode
    uid_map: UidMap = field(default_factory=UidMap)

    @property
    def deidentify(self) -> bool:
        return self.mode is IdentityMode.DEIDENTIFY

    def name(self, header: Dataset | None, suffix: str | None = None) -> ExportName:
        """The export's file names (:func:`core.export.naming.export_name`), with this export's pseudonym."""
        return export_name(header, deidentify=self.deidentify, uid_map=self.uid_map, suffix=suffix)

    def summary(self) -> str:
        """One line saying what was done, for the command's summary and the status bar."""
        if self.deidentify:
            return "de-identified copy (new UIDs, consistent within this export; patient identifiers removed)"
        return "attached to the original study (same Study Instance UID, patient and study details copied)"


def identity_for_cli(*, attach_to_study: bool | None, deidentify: bool) -> ExportIdentity:
    """The CLI rule: attached unless ``--deidentify``; both together contradict each other."""
    if attach_to_study and deidentify:
        raise ExportOptionError(
            "--attach-to-study keeps the patient's identity and study; it cannot be combined with --deidentify"
        )
    return ExportIdentity(IdentityMode.DEIDENTIFY if deidentify else IdentityMode.ATTACH)

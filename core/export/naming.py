"""Export file names built from their content, so exports of different patients and series never collide.

One rule for every export, GUI and ``neuroreview-classify`` alike::

    <patient>_S<series number>[-<series description>]_<kind>_<suffix>.<extension>
    PID-778899_S3-AX_T1_POST_SR_4f9c2a.dcm          (attached to the original study)
    ANON-1B2C3D4E_S3_SR_4f9c2a.dcm                  (de-identified copy)

``<patient>`` is the Patient ID, or in a de-identified export the pseudonym the de-identified files
carry (:meth:`UidMap.pseudonym`); a de-identified name leaves out the Series Description, which the
PS3.15 Basic Profile removes.  ``<suffix>`` is a short random token shared by the files of one
export (an SR and its SC pair up).  The name only makes collisions unlikely; the writers create
files exclusively (:func:`core.export.destination.atomic_output`), so nothing is ever replaced.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from pydicom.dataset import Dataset

    from core.export.uid_map import UidMap

#: The kind and extension in the names of the single-file exports (the DICOM pair uses "SR" and "SC").
FILE_KINDS = {"pdf": ("report", "pdf"), "png": ("view", "png"), "csv": ("results", "csv"), "json": ("results", "json")}
NO_PATIENT = "no-patient-id"
NOT_DICOM = "images"
_UNSAFE = re.compile(r"[^A-Za-z0-9.-]+")


def short_suffix() -> str:
    """Six random hex digits: unique enough to tell exports apart, short enough to read."""
    return secrets.token_hex(3)


def safe_part(text: object, limit: int = 40) -> str:
    """``text`` as a portable file-name part: ASCII letters, digits, ``.`` and ``-``; other runs become ``_``."""
    cleaned = _UNSAFE.sub("_", str(text or "").strip()).strip("._")
    return cleaned[:limit].rstrip("._")


@dataclass(frozen=True)
class ExportName:
    """The content part (patient, series) and the unique suffix of one export's file names."""

    stem: str
    suffix: str = field(default_factory=short_suffix)

    def file(self, kind: str, extension: str) -> str:
        """The file name for one output of this export, e.g. ``file("SR", "dcm")``."""
        return f"{self.stem}_{kind}_{self.suffix}.{extension.lstrip('.')}"

    def file_for(self, export_kind: str) -> str:
        """The file name of a single-file export: ``pdf``, ``png``, ``csv`` or ``json``."""
        return self.file(*FILE_KINDS[export_kind])


def export_name(header: Dataset | None, *, deidentify: bool, uid_map: UidMap, suffix: str | None = None) -> ExportName:
    """The name for an export of the series ``header`` belongs to (None: a series of PNG/JPEG images).

    ``deidentify`` and ``uid_map`` must be the export's own, so the pseudonym in the name is the one
    written into the de-identified files.
    """
    if header is None:
        stem = NOT_DICOM
    else:
        patient_id = str(header.get("PatientID", "") or "").strip()
        if deidentify:
            patient = uid_map.pseudonym(patient_id) if patient_id else NO_PATIENT
        else:
            patient = safe_part(patient_id, 32) or NO_PATIENT
        series = f"S{safe_part(header.get('SeriesNumber', ''), 8) or 'x'}"
        description = "" if deidentify else safe_part(header.get("SeriesDescription", ""), 32)
        stem = f"{patient}_{series}-{description}" if description else f"{patient}_{series}"
    return ExportName(stem) if suffix is None else ExportName(stem, suffix)

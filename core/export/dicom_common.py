"""Pieces shared by the Secondary Capture and the Structured Report writers."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
from pydicom import dcmwrite
from pydicom.dataset import Dataset
from pydicom.uid import generate_uid

from core.export.deidentify import Deidentifier
from core.export.destination import atomic_output
from core.export.errors import ExportError
from core.export.uid_map import UidMap

MANUFACTURER = "NeuroReview"
# Attributes highdicom reads from the evidence / reference dataset; Type 2, so present but maybe empty.
_PATIENT_STUDY_KEYWORDS = (
    "PatientName",
    "PatientID",
    "PatientBirthDate",
    "PatientSex",
    "AccessionNumber",
    "StudyID",
    "StudyDate",
    "StudyTime",
    "ReferringPhysicianName",
)
_REQUIRED_UIDS = ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "SOPClassUID")


def new_uid() -> str:
    """A fresh UUID-derived UID (PS3.5 B.2, root 2.25)."""
    return str(generate_uid(prefix=None))


def prepared_header(header: Dataset, *, deidentify: bool, uid_map: UidMap) -> Dataset:
    """The source header as the outputs will reference it and copy their patient and study from.

    Attached to the original study: a copy of ``header``; de-identified: its PS3.15 Basic Profile
    version with this export's UIDs.  Type 2 patient/study keys are present either way.
    """
    missing = [k for k in _REQUIRED_UIDS if not str(header.get(k, "")).strip()]
    if missing:
        raise ExportError(f"the source image lacks {', '.join(missing)}; it cannot be referenced from DICOM outputs")
    # attached: a copy, since the outputs take its elements as they are (highdicom adds, not copies, them)
    result = Deidentifier(uid_map).apply(header) if deidentify else copy.deepcopy(header)
    for keyword in _PATIENT_STUDY_KEYWORDS:
        if keyword not in result:
            setattr(result, keyword, None)
    return result


def frame_reference(header: Dataset, frame: int) -> int | None:
    """Referenced Frame Number (1-based) for 0-based ``frame`` of a multi-frame source; None if single-frame."""
    if int(header.get("NumberOfFrames", 1) or 1) <= 1:
        return None
    return int(frame) + 1


def text_or_none(dataset: Dataset, keyword: str) -> Any:
    """An attribute's value, or None when absent or empty (highdicom wants None for 'unknown')."""
    value = dataset.get(keyword)
    return value if value not in (None, "") else None


def _orientation_cosines(header: Dataset) -> list[float] | None:
    if "ImageOrientationPatient" in header:
        return [float(v) for v in header.ImageOrientationPatient]
    for group_keyword in ("SharedFunctionalGroupsSequence", "PerFrameFunctionalGroupsSequence"):
        for group in header.get(group_keyword) or ():
            for plane in group.get("PlaneOrientationSequence") or ():
                if "ImageOrientationPatient" in plane:
                    return [float(v) for v in plane.ImageOrientationPatient]
    return None


def _direction_letter(vector: np.ndarray) -> str:
    axis = int(np.argmax(np.abs(vector)))
    positive = ("L", "P", "H")[axis]  # DICOM patient coordinates: +x left, +y posterior, +z head
    negative = ("R", "A", "F")[axis]
    return positive if vector[axis] > 0 else negative


def patient_orientation(header: Dataset) -> tuple[str, str] | None:
    """Patient Orientation (0020,0020) letters (dominant axis) from Image Orientation (Patient)."""
    cosines = _orientation_cosines(header)
    if cosines is None or len(cosines) != 6:
        return None
    row, column = np.asarray(cosines[:3]), np.asarray(cosines[3:])
    return _direction_letter(row), _direction_letter(column)


def save_dicom(dataset: Dataset, target: Path) -> None:
    """Write ``dataset`` as a DICOM file (preamble + File Meta) without leaving partial files."""
    with atomic_output(target) as tmp:
        dcmwrite(tmp, dataset, enforce_file_format=True)

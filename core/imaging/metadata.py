"""Per-slice metadata for overlays and reports, with a de-identified view.

Values come from the header only (``stop_before_pixels``); for enhanced multi-frame objects the
frame's functional groups (Pixel Measures, Plane Position/Orientation) win over top-level values.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pydicom
from pydicom.dataset import Dataset

from core.imaging.errors import FileAccessError, ImagingError, InvalidImageError
from core.imaging.frames import functional_item
from core.imaging.intended_use import header_outside_reason
from core.imaging.organize import person_name
from core.imaging.study import SliceRef

# Fields that identify a person or an encounter (PS3.15 E.1 basic profile: names, IDs, dates, places).
IDENTIFYING_FIELDS = (
    "patient_name",
    "patient_id",
    "patient_birth_date",
    "study_date",
    "accession_number",
    "institution_name",
    "referring_physician",
)


@dataclass(frozen=True)
class SliceMetadata:
    """What an overlay or a report shows about one slice.  Empty string / None = not in the file."""

    file_name: str
    frame: int
    number_of_frames: int
    rows: int
    columns: int
    modality: str = ""
    patient_name: str = ""
    patient_id: str = ""
    patient_sex: str = ""
    patient_age: str = ""
    patient_birth_date: str = ""
    study_date: str = ""
    study_description: str = ""
    accession_number: str = ""
    institution_name: str = ""
    referring_physician: str = ""
    series_description: str = ""
    series_number: int | None = None
    instance_number: int | None = None
    slice_location: float | None = None  # mm along the slice normal, or SliceLocation
    slice_thickness: float | None = None  # mm
    pixel_spacing: tuple[float, float] | None = None  # (row spacing, column spacing) in mm
    manufacturer: str = ""
    deidentified_view: bool = False
    # why the header puts this slice outside the intended use (core.imaging.intended_use); "" = no rule fired
    outside_use_reason: str = ""

    def deidentified(self) -> SliceMetadata:
        """Copy with names, IDs, dates, accession number and institution removed (file name kept generic)."""
        return dataclasses.replace(
            self,
            file_name="",
            patient_name="",
            patient_id="",
            patient_birth_date="",
            study_date="",
            accession_number="",
            institution_name="",
            referring_physician="",
            deidentified_view=True,
        )


def _text(ds: Dataset, keyword: str) -> str:
    try:
        value = ds.get(keyword)
    except Exception:  # one damaged value must not hide the others
        return ""
    return "" if value is None else str(value).strip()


def _float(value: object) -> float | None:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if np.isfinite(number) else None


def _int(value: object) -> int | None:
    try:
        return int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return None


def _spacing(value: object) -> tuple[float, float] | None:
    try:
        row, column = (float(v) for v in value)  # type: ignore[attr-defined]
    except (TypeError, ValueError):
        return None
    return (row, column)


def _location(ref: SliceRef, ds: Dataset) -> float | None:
    if ref.position is not None and ref.orientation is not None:
        normal = np.cross(np.asarray(ref.orientation[:3]), np.asarray(ref.orientation[3:]))
        if np.linalg.norm(normal) > 1e-6:
            return round(float(np.dot(np.asarray(ref.position), normal)), 3)
    return _float(ds.get("SliceLocation"))


def _dicom_metadata(ref: SliceRef, ds: Dataset) -> SliceMetadata:
    measures = functional_item(ds, ref.frame, "PixelMeasuresSequence")
    thickness = _float(measures.get("SliceThickness")) if measures is not None else None
    spacing = _spacing(measures.get("PixelSpacing")) if measures is not None else None
    return SliceMetadata(
        file_name=ref.path.name,
        frame=ref.frame,
        number_of_frames=ref.number_of_frames,
        rows=ref.rows,
        columns=ref.columns,
        modality=_text(ds, "Modality"),
        patient_name=person_name(ds),
        patient_id=_text(ds, "PatientID"),
        patient_sex=_text(ds, "PatientSex"),
        patient_age=_text(ds, "PatientAge"),
        patient_birth_date=_text(ds, "PatientBirthDate"),
        study_date=_text(ds, "StudyDate"),
        study_description=_text(ds, "StudyDescription"),
        accession_number=_text(ds, "AccessionNumber"),
        institution_name=_text(ds, "InstitutionName"),
        referring_physician=person_name(ds, "ReferringPhysicianName"),
        series_description=_text(ds, "SeriesDescription"),
        series_number=_int(ds.get("SeriesNumber")),
        instance_number=ref.instance_number,
        slice_location=_location(ref, ds),
        slice_thickness=thickness if thickness is not None else _float(ds.get("SliceThickness")),
        pixel_spacing=spacing if spacing is not None else _spacing(ds.get("PixelSpacing")),
        manufacturer=_text(ds, "Manufacturer"),
        outside_use_reason=header_outside_reason(ds, ref.frame),
    )


def _nifti_metadata(ref: SliceRef) -> SliceMetadata:
    """What a NIfTI header tells: the file, spacing and slice position; no patient or study data."""
    from core.imaging.nifti import read_geometry

    _, _, spacing, thickness = read_geometry(ref.path).placement(ref.frame)
    location = _location(ref, Dataset())
    head = (ref.path.name, ref.frame, ref.number_of_frames, ref.rows, ref.columns)
    return SliceMetadata(*head, series_description=ref.path.name, slice_location=location,
                         slice_thickness=thickness, pixel_spacing=spacing)  # fmt: skip


def read_metadata(ref: SliceRef, header: Dataset | None = None) -> SliceMetadata:
    """Metadata of one slice; PNG/JPEG give only file name and size, NIfTI its geometry.  ``header`` is the file's
    already parsed header (e.g. :meth:`PixelStore.metadata`'s), else it is read.  Raises a typed
    ImagingError."""
    if ref.kind == "raster":
        return SliceMetadata(ref.path.name, ref.frame, 1, ref.rows, ref.columns, modality="OT")
    if ref.kind == "nifti":
        return _nifti_metadata(ref)
    try:
        ds = header if header is not None else pydicom.dcmread(ref.path, stop_before_pixels=True, force=True)
        return _dicom_metadata(ref, ds)
    except ImagingError:
        raise
    except FileNotFoundError as exc:
        raise FileAccessError("file no longer exists (moved or deleted after opening)", ref.path) from exc
    except PermissionError as exc:
        raise FileAccessError("no permission to read the file", ref.path) from exc
    except Exception as exc:  # damaged header
        raise InvalidImageError(f"DICOM header cannot be read ({exc})", ref.path) from exc

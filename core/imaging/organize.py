"""Sort opened slices into Patient -> Study -> Series and order each series.

Grouping is by UIDs (PatientID + PatientName, StudyInstanceUID, SeriesInstanceUID).  Within a
series, slices are ordered by their distance along the slice normal (the cross product of the
ImageOrientationPatient direction cosines, PS3.3 C.7.6.2.1.1), ties by InstanceNumber and frame;
without complete geometry by InstanceNumber, then file name, then frame.  Frames of different
frame types (e.g. magnitude and field map in one enhanced object) form consecutive stacks, and within a
stack the slices of each time point (several temporal positions at one location: perfusion, fMRI,
diffusion volumes) follow one another, each time point ordered through space.
"""

from __future__ import annotations

import dataclasses
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset

from core.imaging.study import RASTER_SERIES_PREFIX, Patient, Series, SliceRef, Study


@dataclass(frozen=True)
class SeriesInfo:
    """Patient/study/series identity and labels of one file."""

    patient_id: str
    patient_name: str
    study_uid: str
    study_date: str
    study_description: str
    series_uid: str
    series_number: int | None
    series_description: str
    modality: str
    accession_number: str = ""
    frame_of_reference_uid: str = ""


def _text(ds: Dataset, keyword: str) -> str:
    try:
        value = ds.get(keyword)
    except Exception:  # a damaged value only costs that value
        return ""
    return "" if value is None else str(value).strip()


def person_name(ds: Dataset, keyword: str = "PatientName") -> str:
    """PN value as "Family, Given" (PS3.5 6.2.1), empty when absent."""
    try:
        value = ds.get(keyword)
    except Exception:
        return ""
    if not value:
        return ""
    family, given = getattr(value, "family_name", ""), getattr(value, "given_name", "")
    if family or given:
        return ", ".join(p for p in (family, given) if p)
    return str(value).replace("^", " ").strip()


def dicom_series_info(ds: Dataset, path: Path) -> SeriesInfo:
    """SeriesInfo from a DICOM header; missing UIDs fall back to the folder so files still group."""
    try:
        number: int | None = int(ds.get("SeriesNumber")) if ds.get("SeriesNumber") not in (None, "") else None
    except (TypeError, ValueError):
        number = None
    return SeriesInfo(
        patient_id=_text(ds, "PatientID"),
        patient_name=person_name(ds),
        study_uid=_text(ds, "StudyInstanceUID") or f"no-study-uid:{path.parent}",
        study_date=_text(ds, "StudyDate"),
        study_description=_text(ds, "StudyDescription"),
        series_uid=_text(ds, "SeriesInstanceUID") or f"no-series-uid:{path.parent}",
        series_number=number,
        series_description=_text(ds, "SeriesDescription"),
        modality=_text(ds, "Modality"),
        accession_number=_text(ds, "AccessionNumber"),
        frame_of_reference_uid=_text(ds, "FrameOfReferenceUID"),
    )


def raster_series_info(path: Path) -> SeriesInfo:
    """PNG/JPEG files of one folder form one series (modality OT) under an unidentified patient."""
    folder = path.parent
    uid = f"{RASTER_SERIES_PREFIX}{folder}"
    return SeriesInfo("", "", f"raster-study:{folder}", "", "Images", uid, None, folder.name, "OT")


def nifti_series_info(path: Path) -> SeriesInfo:
    """A NIfTI volume is its own patient, study and series, named after the file (no patient data)."""
    name = path.name
    return SeriesInfo("", name, f"nifti-study:{path}", "", "NIfTI volume", f"nifti:{path}", None, name, "")


def natural_key(text: str) -> tuple[object, ...]:
    """Sort key where "img2" < "img10"."""
    return tuple(int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", text))


def _fallback_key(ref: SliceRef) -> tuple[object, ...]:
    instance = ref.instance_number
    return (instance is None, instance or 0, natural_key(ref.path.name), ref.frame)


def _with_time_points(refs: list[SliceRef]) -> list[SliceRef]:
    """Number the time points of one stack: by Temporal Position Index/Identifier where the header gives
    them, else the n-th slice (by InstanceNumber, name, frame) at a position is of time point n."""
    if any(r.temporal_index is not None for r in refs):
        values = sorted({r.temporal_index if r.temporal_index is not None else -1 for r in refs})
        rank = {value: n for n, value in enumerate(values)}
        return [
            dataclasses.replace(r, time_point=rank[r.temporal_index if r.temporal_index is not None else -1])
            for r in refs
        ]
    if not all(r.position is not None for r in refs):
        return refs
    seen: Counter[tuple[float, ...]] = Counter()
    numbered = []
    for ref in sorted(refs, key=_fallback_key):
        where = tuple(round(v, 3) for v in ref.position or ())
        time_point = seen[where]
        numbered.append(ref if time_point == ref.time_point else dataclasses.replace(ref, time_point=time_point))
        seen[where] += 1
    return numbered


def _ordered_stack(refs: list[SliceRef]) -> list[SliceRef]:
    """Order one stack by time point, then along its normal when every slice has geometry, else by the
    fallback key: scrolling a time point goes through space, not through repeats of one position."""
    refs = _with_time_points(refs)
    if not all(r.position is not None and r.orientation is not None for r in refs):
        return sorted(refs, key=lambda r: (r.time_point, *_fallback_key(r)))
    orientation = Counter(r.orientation for r in refs).most_common(1)[0][0]
    assert orientation is not None
    normal = np.cross(np.asarray(orientation[:3]), np.asarray(orientation[3:]))
    if not np.linalg.norm(normal) > 1e-6:
        return sorted(refs, key=lambda r: (r.time_point, *_fallback_key(r)))

    def key(ref: SliceRef) -> tuple[object, ...]:
        distance = float(np.dot(np.asarray(ref.position), normal))
        return (ref.time_point, round(distance, 3), *_fallback_key(ref))

    return sorted(refs, key=key)


def order_slices(refs: Iterable[SliceRef], shared_window: bool = True) -> list[SliceRef]:
    """De-duplicate (same SOP instance and frame) and order a series' slices; set ``representative``.

    With ``shared_window`` each stack's middle slice becomes the representative that picks the
    automatic window for all its slices; otherwise each slice represents itself.
    """
    unique: dict[tuple[str, int], SliceRef] = {}
    for ref in refs:
        unique.setdefault((ref.sop_instance_uid or str(ref.path), ref.frame), ref)
    stacks: dict[str, list[SliceRef]] = {}
    for ref in unique.values():
        stacks.setdefault(ref.stack_key, []).append(ref)
    ordered_stacks = sorted((_ordered_stack(s) for s in stacks.values()), key=lambda s: min(map(_fallback_key, s)))
    result: list[SliceRef] = []
    for stack in ordered_stacks:
        first_time = [r for r in stack if r.time_point == stack[0].time_point]
        middle = dataclasses.replace(first_time[len(first_time) // 2], representative=None) if shared_window else None
        result.extend(dataclasses.replace(r, representative=middle) for r in stack)
    return result


class Organizer:
    """Collects (SeriesInfo, slices) per file and builds the Patient/Study/Series tree."""

    def __init__(self) -> None:
        self._infos: dict[str, SeriesInfo] = {}
        self._slices: dict[str, list[SliceRef]] = {}
        self._dirty: set[str] = set()

    def add(self, info: SeriesInfo, refs: list[SliceRef]) -> None:
        """Add one file's slices to its series."""
        self._infos.setdefault(info.series_uid, info)
        self._slices.setdefault(info.series_uid, []).extend(refs)
        self._dirty.add(info.series_uid)

    def take_changed(self) -> list[Series]:
        """Series that received slices since the last call, built as they stand now."""
        changed = [self._series(uid) for uid in sorted(self._dirty)]
        self._dirty.clear()
        return changed

    def _series(self, uid: str) -> Series:
        info = self._infos[uid]
        return Series(
            uid=uid,
            modality=info.modality,
            description=info.series_description,
            number=info.series_number,
            slices=order_slices(self._slices[uid], shared_window=not uid.startswith(RASTER_SERIES_PREFIX)),
            patient_id=info.patient_id,
            patient_name=info.patient_name,
            study_uid=info.study_uid,
            study_date=info.study_date,
            study_description=info.study_description,
            accession_number=info.accession_number,
            frame_of_reference_uid=info.frame_of_reference_uid,
        )

    def build(self) -> list[Patient]:
        """The whole tree: patients by name/ID, studies by date, series by number then description."""
        patients: dict[tuple[str, str], Patient] = {}
        studies: dict[tuple[str, str, str], Study] = {}
        for uid in self._infos:
            series = self._series(uid)
            pkey = (series.patient_id, series.patient_name)
            patient = patients.setdefault(pkey, Patient(series.patient_id, series.patient_name))
            skey = (*pkey, series.study_uid)
            if skey not in studies:
                studies[skey] = Study(series.study_uid, series.study_date, series.study_description)
                patient.studies.append(studies[skey])
            studies[skey].series.append(series)
        for study in studies.values():
            study.series.sort(key=lambda s: (s.number is None, s.number or 0, natural_key(s.description)))
        for patient in patients.values():
            patient.studies.sort(key=lambda st: (st.date == "", st.date, st.description))
        return sorted(patients.values(), key=lambda p: (p.patient_id == "" and p.name == "", p.name, p.patient_id))

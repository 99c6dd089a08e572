"""The viewer's measurements as a DICOM Comprehensive SR Measurement Report (PS3.16 TID 1500).

Built with highdicom, one group per measurement, each with its tracking identifier:

* a length: a Measurement and Qualitative Evaluation Group (TID 1501) holding Length (SCT 410668003) in
  mm, inferred from the drawn line (an SCOORD POLYLINE on the measured image);
* an ellipse or freehand ROI: a Planar ROI group (TID 1410) whose region is the SCOORD ELLIPSE or closed
  POLYLINE, with Area (mm2) and the Mean, Standard Deviation, Minimum and Maximum of the pixel values
  (UCUM "[hnsf'U]" for CT, "1" otherwise).

Angles and text arrows have no measurement concept here and are left out.  SCOORD pixel coordinates put
(0, 0) at the top left corner of the top left pixel, so a pixel centre is at (column + 0.5, row + 0.5).
The report is attached to the study (it points at the original images); the observer is the reader
(a person), and the root container ends with the research-use comment.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import highdicom as hd
import numpy as np
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes

from core.export import sr_codes
from core.export.destination import check_destination
from core.export.dicom_common import MANUFACTURER, frame_reference, new_uid, prepared_header, save_dicom
from core.export.errors import ExportError
from core.export.records import RESEARCH_USE_STATEMENT, SOFTWARE_NAME, software_version
from core.export.uid_map import UidMap

MEASUREMENT_SR_SERIES_NUMBER = 9904
SR_KINDS = ("length", "ellipse", "freehand")
_STATISTICS = (
    ("mean", codes.SCT.Mean),
    ("sd", codes.SCT.StandardDeviation),
    ("minimum", codes.SCT.Minimum),
    ("maximum", codes.SCT.Maximum),
)


@dataclass(frozen=True)
class ReportedMeasurement:
    """One length or ROI on one frame of one image, with its numbers (see module doc)."""

    kind: str  # "length", "ellipse" or "freehand"
    points: tuple[tuple[float, float], ...]  # (column, row), (0, 0) the first pixel's centre
    values: dict[str, float]  # length_mm, or area_mm2, mean, sd, minimum, maximum
    header: Dataset
    frame: int = 0
    unit: str = ""  # of the pixel statistics: "HU" or ""


def _source(item: ReportedMeasurement) -> hd.sr.SourceImageForRegion:
    frame = frame_reference(item.header, item.frame)
    return hd.sr.SourceImageForRegion(
        referenced_sop_class_uid=str(item.header.SOPClassUID),
        referenced_sop_instance_uid=str(item.header.SOPInstanceUID),
        referenced_frame_numbers=[frame] if frame is not None else None,
    )


def _scoord(item: ReportedMeasurement) -> tuple[hd.sr.GraphicTypeValues, np.ndarray]:
    data = np.array([[c + 0.5, r + 0.5] for c, r in item.points], dtype=np.float64)
    if item.kind == "ellipse":
        (c0, r0), (c1, r1) = data[0], data[-1]
        cx, cy = (c0 + c1) / 2.0, (r0 + r1) / 2.0
        ends = np.array([[c0, cy], [c1, cy], [cx, r0], [cx, r1]])
        major_first = ends[[2, 3, 0, 1]] if abs(r1 - r0) > abs(c1 - c0) else ends
        return hd.sr.GraphicTypeValues.ELLIPSE, major_first
    if item.kind == "freehand":
        return hd.sr.GraphicTypeValues.POLYLINE, np.vstack([data, data[:1]])
    return hd.sr.GraphicTypeValues.POLYLINE, data[[0, -1]]


def _group(number: int, item: ReportedMeasurement) -> hd.sr.MeasurementsAndQualitativeEvaluations:
    tracking = hd.sr.TrackingIdentifier(uid=new_uid(), identifier=f"Measurement {number}")
    graphic_type, data = _scoord(item)
    if item.kind == "length":
        coordinates = hd.sr.CoordinatesForMeasurement(graphic_type, data, _source(item))
        length = hd.sr.Measurement(name=codes.SCT.Length, value=item.values["length_mm"],
                                   unit=codes.UCUM.Millimeter, referenced_coordinates=[coordinates])  # fmt: skip
        return hd.sr.MeasurementsAndQualitativeEvaluations(tracking_identifier=tracking, measurements=[length])
    unit = codes.UCUM.HounsfieldUnit if item.unit == "HU" else codes.UCUM.NoUnits
    numbers = [hd.sr.Measurement(name=codes.SCT.Area, value=item.values["area_mm2"], unit=codes.UCUM.SquareMillimeter)]
    numbers += [hd.sr.Measurement(name=code, value=item.values[key], unit=unit) for key, code in _STATISTICS]
    region = hd.sr.ImageRegion(graphic_type, data, _source(item))
    return hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations(  # type: ignore[return-value]
        tracking_identifier=tracking, referenced_region=region, measurements=numbers
    )


def build_measurement_report(items: Sequence[ReportedMeasurement]) -> hd.sr.ComprehensiveSR:
    """Build (not write) the report; raises ExportError when there is nothing to report or several studies."""
    items = [i for i in items if i.kind in SR_KINDS]
    if not items:
        raise ExportError("there are no lengths or ROIs on acquired DICOM images to report")
    evidence: dict[str, Dataset] = {}
    for item in items:
        uid = str(item.header.SOPInstanceUID)
        if uid not in evidence:
            evidence[uid] = prepared_header(item.header, deidentify=False, uid_map=UidMap())
    if len({str(h.StudyInstanceUID) for h in evidence.values()}) != 1:
        raise ExportError("the measurements come from different studies; write one report per study")
    reader = hd.sr.ObserverContext(
        observer_type=codes.cid270.Person,
        observer_identifying_attributes=hd.sr.PersonObserverIdentifyingAttributes(name="Reader^"),
    )
    try:
        report = hd.sr.MeasurementReport(
            observation_context=hd.sr.ObservationContext(observer_person_context=reader),
            procedure_reported=sr_codes.PROCEDURE,
            imaging_measurements=[_group(n, item) for n, item in enumerate(items, start=1)],
        )
        report[0].ContentSequence.append(
            hd.sr.TextContentItem(
                name=sr_codes.COMMENT,
                value=RESEARCH_USE_STATEMENT,
                relationship_type=hd.sr.RelationshipTypeValues.CONTAINS,
            )
        )
        sr = hd.sr.ComprehensiveSR(
            evidence=list(evidence.values()),
            content=report[0],
            series_instance_uid=new_uid(),
            series_number=MEASUREMENT_SR_SERIES_NUMBER,
            sop_instance_uid=new_uid(),
            instance_number=1,
            manufacturer=MANUFACTURER,
            is_complete=True,
            is_final=False,
            is_verified=False,
        )
    except (ValueError, TypeError, AttributeError) as exc:
        raise ExportError(f"the measurement report cannot be built ({exc})") from exc
    sr.SeriesDescription = "NeuroReview measurements - RESEARCH USE ONLY"
    sr.ManufacturerModelName = SOFTWARE_NAME
    sr.SoftwareVersions = software_version()
    return sr


def write_measurement_report(path: Path, items: Sequence[ReportedMeasurement], sources: Sequence[Path] = ()) -> Path:
    """Write the report to ``path`` (never replacing a file, never beside ``sources``)."""
    target = check_destination(path, sources)
    save_dicom(build_measurement_report(items), target)
    return target

"""The viewer's measurements as a Grayscale Softcopy Presentation State (PS3.3 A.33.1), attached to the study.

Each measurement becomes graphic objects on the image it was made on (PS3.3 C.10.5 Graphic Annotation):
a length or an angle an open POLYLINE, an ellipse ROI an ELLIPSE (major axis end points, then minor
axis), a freehand ROI a closed POLYLINE, a text arrow a POLYLINE; each with a text object carrying the
result.  Coordinates are in PIXEL units: (0, 0) is the top left corner of the top left pixel, so a pixel
centre is at (column + 0.5, row + 0.5).  Built with highdicom's
:class:`highdicom.pr.GrayscaleSoftcopyPresentationState`; a presentation state points at the original
images, so it is written attached to the study only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import highdicom as hd
import numpy as np
from pydicom.dataset import Dataset

from core.export.destination import check_destination
from core.export.dicom_common import MANUFACTURER, frame_reference, new_uid, prepared_header, save_dicom
from core.export.errors import ExportError
from core.export.records import RESEARCH_USE_STATEMENT, SOFTWARE_NAME, software_version
from core.export.uid_map import UidMap

PR_SERIES_NUMBER = 9903
LAYER = "MEASUREMENTS"


@dataclass(frozen=True)
class Annotation:
    """One measurement on one frame of one image; ``points`` are (column, row), (0, 0) the first pixel's centre."""

    kind: str  # "length", "angle", "ellipse", "freehand" or "arrow"
    points: tuple[tuple[float, float], ...]
    text: str
    header: Dataset  # the image's header (stop_before_pixels is enough)
    frame: int = 0


def _pixel_units(points: Sequence[tuple[float, float]]) -> np.ndarray:
    return np.array([[c + 0.5, r + 0.5] for c, r in points], dtype=np.float64)


def graphic_objects(annotation: Annotation) -> list[hd.pr.GraphicObject]:
    """The graphic objects of one measurement (PIXEL units)."""
    data = _pixel_units(annotation.points)
    units = hd.pr.AnnotationUnitsValues.PIXEL
    polyline = hd.pr.GraphicTypeValues.POLYLINE
    if annotation.kind == "ellipse":
        (c0, r0), (c1, r1) = data[0], data[-1]
        cx, cy = (c0 + c1) / 2.0, (r0 + r1) / 2.0
        ends = [[c0, cy], [c1, cy], [cx, r0], [cx, r1]]
        if abs(r1 - r0) > abs(c1 - c0):  # the major axis first
            ends = ends[2:] + ends[:2]
        return [hd.pr.GraphicObject(hd.pr.GraphicTypeValues.ELLIPSE, np.array(ends), units)]
    if annotation.kind == "freehand":
        closed = np.vstack([data, data[:1]])
        return [hd.pr.GraphicObject(polyline, closed, units)]
    if len(data) < 2:
        raise ExportError(f"a {annotation.kind} needs at least two points")
    return [hd.pr.GraphicObject(polyline, data, units)]


def _text_object(annotation: Annotation, columns: int, rows: int) -> hd.pr.TextObject:
    column, row = _pixel_units(annotation.points)[-1]
    anchor = (float(np.clip(column, 0, columns)), float(np.clip(row, 0, rows)))
    return hd.pr.TextObject(annotation.text, hd.pr.AnnotationUnitsValues.PIXEL, anchor_point=anchor)


def build_presentation_state(annotations: Sequence[Annotation]) -> hd.pr.GrayscaleSoftcopyPresentationState:
    """One presentation state for measurements on images of one study; raises ExportError."""
    if not annotations:
        raise ExportError("there are no measurements on acquired images to write")
    studies = {str(a.header.get("StudyInstanceUID", "")) for a in annotations}
    if len(studies) != 1 or not next(iter(studies)):
        raise ExportError("a presentation state holds measurements of one study")
    layer = hd.pr.GraphicLayer(LAYER, order=1, description="NeuroReview measurements")
    by_image: dict[tuple[str, int], list[Annotation]] = {}
    for annotation in annotations:
        by_image.setdefault((str(annotation.header.SOPInstanceUID), annotation.frame), []).append(annotation)
    groups, references = [], {}
    for (uid, frame), items in by_image.items():
        if uid not in references:  # Type 2 patient and study keys present, as highdicom reads them
            references[uid] = prepared_header(items[0].header, deidentify=False, uid_map=UidMap())
        header = references[uid]
        columns, rows = int(header.get("Columns", 0)), int(header.get("Rows", 0))
        groups.append(
            hd.pr.GraphicAnnotation(
                referenced_images=[header],
                graphic_layer=layer,
                referenced_frame_number=frame_reference(header, frame),
                graphic_objects=[g for a in items for g in graphic_objects(a)],
                text_objects=[_text_object(a, columns, rows) for a in items],
            )
        )
    try:
        state = hd.pr.GrayscaleSoftcopyPresentationState(
            referenced_images=list(references.values()),
            series_instance_uid=new_uid(),
            series_number=PR_SERIES_NUMBER,
            sop_instance_uid=new_uid(),
            instance_number=1,
            manufacturer=MANUFACTURER,
            manufacturer_model_name=SOFTWARE_NAME,
            software_versions=software_version(),
            device_serial_number="0",
            content_label="MEASUREMENTS",
            content_description=RESEARCH_USE_STATEMENT[:64],
            graphic_layers=[layer],
            graphic_annotations=groups,
        )
    except (ValueError, TypeError, AttributeError) as exc:
        raise ExportError(f"the presentation state cannot be built ({exc})") from exc
    # General Series Laterality is Type 2C (paired body parts): the source's value, else present and empty.
    state.Laterality = next(iter(references.values())).get("Laterality", None)
    return state


def write_presentation_state(path: Path, annotations: Sequence[Annotation], sources: Sequence[Path] = ()) -> Path:
    """Write the presentation state to ``path`` (never replacing a file, never beside ``sources``)."""
    target = check_destination(path, sources)
    save_dicom(build_presentation_state(annotations), target)
    return target

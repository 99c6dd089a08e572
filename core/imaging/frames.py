"""One :class:`SliceRef` per frame, with the geometry used to order slices.

Classic images: Image Plane module (PS3.3 C.7.6.2).  Enhanced multi-frame objects: the Plane
Position / Plane Orientation functional groups, per frame or shared (PS3.3 C.7.6.16.2.3-4).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from pydicom.dataset import Dataset

from core.imaging.dicom_header import Geometry
from core.imaging.errors import InvalidImageError
from core.imaging.mosaic import MosaicLayout, mosaic_layout, tile_positions
from core.imaging.raw_values import get_floats, get_int, get_string, get_strings
from core.imaging.study import SliceRef


def _group_item(groups: Dataset | None, sequence: str) -> Dataset | None:
    """First item of ``sequence`` inside a functional-groups item, if any."""
    if groups is None:
        return None
    seq = groups.get(sequence)
    return seq[0] if seq else None


def _frame_groups(ds: Dataset, index: int) -> tuple[Dataset | None, Dataset | None]:
    """(per-frame item, shared item) of the functional groups; None where absent."""
    per_frame = ds.get("PerFrameFunctionalGroupsSequence")
    shared = ds.get("SharedFunctionalGroupsSequence")
    frame_item = per_frame[index] if per_frame is not None and index < len(per_frame) else None
    return frame_item, (shared[0] if shared else None)


def functional_item(ds: Dataset, index: int, sequence: str) -> Dataset | None:
    """The ``sequence`` macro item for frame ``index``: per-frame first, then shared (PS3.3 C.7.6.16)."""
    frame_item, shared = _frame_groups(ds, index)
    return _group_item(frame_item, sequence) or _group_item(shared, sequence)


def _frame_type(ds: Dataset, index: int) -> str:
    """Values 3+ of the frame's FrameType (enhanced) or ImageType (classic): separates e.g. magnitude/phase."""
    frame_item, _ = _frame_groups(ds, index)
    if frame_item is not None:
        for element in frame_item:
            if element.keyword.endswith("FrameTypeSequence") and element.value:
                return "\\".join(get_strings(element.value[0], "FrameType")[2:])
    return "\\".join(get_strings(ds, "ImageType")[2:])


def _mosaic_slices(base: SliceRef, ds: Dataset, layout: MosaicLayout) -> list[SliceRef]:
    """One SliceRef per slice of a Siemens mosaic, with its own position."""
    positions = tile_positions(ds, layout)
    orientation = get_floats(ds, "ImageOrientationPatient", 6)
    return [
        dataclasses.replace(
            base,
            frame=index,
            rows=layout.tile_rows,
            columns=layout.tile_columns,
            number_of_frames=layout.images,
            position=positions[index] if positions is not None else None,
            orientation=orientation if positions is not None else None,  # type: ignore[arg-type]
            stack_key=_frame_type(ds, 0),
            mosaic=layout,
        )
        for index in range(layout.images)
    ]


def slices_for_file(path: Path, ds: Dataset, geometry: Geometry, file_size: int, mtime_ns: int) -> list[SliceRef]:
    """Every frame of the file as a SliceRef (never "frame 0 only"); every slice of a Siemens mosaic."""
    enhanced = "PerFrameFunctionalGroupsSequence" in ds or "SharedFunctionalGroupsSequence" in ds
    per_frame = ds.get("PerFrameFunctionalGroupsSequence")
    # PS3.3 C.7.6.16 asks for one item per frame.  Extra items (seen in derived objects) are ignored;
    # frames without an item would show without their own rescale, window and position, so refuse.
    if per_frame is not None and len(per_frame) < geometry.frames:
        raise InvalidImageError(
            f"Per-frame Functional Groups Sequence has {len(per_frame)} items for {geometry.frames} frames; "
            "positions, rescale and windows of the frames cannot be matched",
            path,
        )
    base = SliceRef(
        path=path,
        frame=0,
        kind="dicom",
        rows=geometry.rows,
        columns=geometry.columns,
        number_of_frames=geometry.frames,
        samples_per_pixel=geometry.samples,
        instance_number=get_int(ds, "InstanceNumber"),
        sop_instance_uid=get_string(ds, "SOPInstanceUID"),
        series_uid=get_string(ds, "SeriesInstanceUID"),
        file_size=file_size,
        file_mtime_ns=mtime_ns,
    )
    layout = mosaic_layout(ds, geometry.rows, geometry.columns) if geometry.frames == 1 else None
    if layout is not None:
        return _mosaic_slices(base, ds, layout)
    classic_pos = get_floats(ds, "ImagePositionPatient", 3)
    classic_ori = get_floats(ds, "ImageOrientationPatient", 6)
    refs = []
    for index in range(geometry.frames):
        position, orientation = classic_pos, classic_ori
        if enhanced:
            pos_item = functional_item(ds, index, "PlanePositionSequence")
            ori_item = functional_item(ds, index, "PlaneOrientationSequence")
            position = get_floats(pos_item, "ImagePositionPatient", 3) if pos_item is not None else None
            orientation = get_floats(ori_item, "ImageOrientationPatient", 6) if ori_item is not None else None
        elif geometry.frames > 1:
            position = None  # classic multi-frame: one position for all frames, order by frame
        temporal = _temporal_index(ds, index) if enhanced else get_int(ds, "TemporalPositionIdentifier")
        refs.append(
            dataclasses.replace(
                base,
                frame=index,
                position=position,  # type: ignore[arg-type]
                orientation=orientation,  # type: ignore[arg-type]
                stack_key=_frame_type(ds, index),
                temporal_index=temporal,
            )
        )
    return refs


def _temporal_index(ds: Dataset, index: int) -> int | None:
    """Temporal Position Index of an enhanced object's frame (Frame Content macro, PS3.3 C.7.6.16.2.2)."""
    item = functional_item(ds, index, "FrameContentSequence")
    return get_int(item, "TemporalPositionIndex") if item is not None else None

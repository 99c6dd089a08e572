"""Corner annotations of the viewer, built from a slice's metadata (de-identified on request)."""

from __future__ import annotations

from collections.abc import Sequence

from core.imaging import SliceMetadata, Window

OBLIQUE_MIN = 0.25  # a direction cosine below this adds no letter (cos 75 degrees)


def _level(value: float) -> str:
    """A window value as a person reads it: whole numbers from 100, else three significant digits
    (float images such as parametric maps have windows like W 2.5 L -0.2)."""
    return f"{value:.0f}" if abs(value) >= 100 else f"{value:.3g}"


def _join(*parts: str) -> str:
    return "  ".join(p for p in parts if p)


_AXIS_LETTERS = (("R", "L"), ("A", "P"), ("F", "H"))  # patient x, y, z: negative, positive (PS3.3 C.7.6.2.1.1)


def direction_label(vector: Sequence[float]) -> str:
    """Patient directions a screen direction points to, strongest first: "L", "A", "HP", ... ("" if none)."""
    parts = [(abs(v), _AXIS_LETTERS[axis][v > 0]) for axis, v in enumerate(vector[:3]) if abs(v) > OBLIQUE_MIN]
    return "".join(letter for _, letter in sorted(parts, reverse=True))


def edge_labels(orientation: Sequence[float] | None) -> dict[str, str]:
    """Orientation letters for the image edges from Image Orientation (Patient): its first three values
    point along a row (to the right on screen), the last three down a column."""
    if orientation is None or len(orientation) != 6:
        return {}
    row, column = list(orientation[:3]), list(orientation[3:])
    return {
        "right": direction_label(row),
        "left": direction_label([-v for v in row]),
        "bottom": direction_label(column),
        "top": direction_label([-v for v in column]),
    }


def corner_text(
    meta: SliceMetadata | None,
    index: int,
    total: int,
    window: Window | None,
    zoom: float,
    *,
    invert: bool = False,
    deidentify: bool = False,
    orientation: Sequence[float] | None = None,
) -> dict[str, str]:
    """Texts for the four corners: patient (top left), study/series (top right), slice (bottom left),
    window and zoom (bottom right); with ``orientation`` (Image Orientation (Patient)) also the
    patient direction at the middle of each edge ("left", "right", "top", "bottom").
    ``deidentify`` drops names, IDs, dates and institution."""
    if meta is not None and deidentify:
        meta = meta.deidentified()
    top_left: list[str] = []
    top_right: list[str] = []
    bottom_left = [f"Slice {index + 1} / {total}"]
    if meta is not None:
        if deidentify:
            top_left.append("DE-IDENTIFIED VIEW (D)")
        top_left += [
            meta.patient_name,
            _join(f"ID {meta.patient_id}" if meta.patient_id else "", meta.patient_sex, meta.patient_age),
            meta.institution_name,
        ]
        top_right += [
            _join(meta.study_date, meta.modality),
            meta.study_description,
            _join(f"Se {meta.series_number}" if meta.series_number is not None else "", meta.series_description),
        ]
        if meta.instance_number is not None:
            bottom_left.append(f"Im {meta.instance_number}")
        if meta.slice_location is not None:
            bottom_left.append(f"Loc {meta.slice_location:.1f} mm")
        if meta.slice_thickness is not None:
            bottom_left.append(f"Thk {meta.slice_thickness:.1f} mm")
        bottom_left.append(f"{meta.columns} x {meta.rows}")
    bottom_right = [
        f"W {_level(window.width)}  L {_level(window.center)}" + (f" ({window.name})" if window.name else "")
        if window is not None
        else "W/L: default",
        f"Zoom {zoom * 100:.0f} %" + ("  inverted" if invert else ""),
    ]
    return {
        "top_left": "\n".join(t for t in top_left if t),
        "top_right": "\n".join(t for t in top_right if t),
        "bottom_left": "\n".join(bottom_left),
        "bottom_right": "\n".join(bottom_right),
        **edge_labels(orientation),
    }

"""Measurements on one image in pixel coordinates: value under a point, length, angle, ROI statistics.

Points are ``(column, row)`` floats with ``(0, 0)`` the centre of the first pixel.  Lengths and areas
use Pixel Spacing (row spacing, column spacing in mm, PS3.3 10.7.1.3); without it they are refused
with :class:`MeasurementError` rather than given in pixels that could be mistaken for millimetres.
Values are the modality values :meth:`core.imaging.PixelStore.modality` returns (rescale applied).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

Point = tuple[float, float]
Spacing = tuple[float, float] | None


class MeasurementError(ValueError):
    """The measurement cannot be given (e.g. pixel spacing unknown, an ROI without pixels)."""


def _checked(spacing: Spacing) -> tuple[float, float]:
    if spacing is None or not all(math.isfinite(s) and s > 0 for s in spacing):
        raise MeasurementError("pixel spacing is unknown: distances and areas in mm cannot be measured")
    return float(spacing[0]), float(spacing[1])


def value_unit(modality: str) -> str:
    """The unit of modality values: "HU" for CT, "" (arbitrary scanner units) otherwise."""
    return "HU" if modality.upper() == "CT" else ""


def pixel_value(values: NDArray[np.generic], point: Point) -> float | tuple[int, ...] | None:
    """The value of the pixel containing ``point``; an RGB tuple for colour; None outside the image."""
    column, row = round(point[0]), round(point[1])
    if not (0 <= row < values.shape[0] and 0 <= column < values.shape[1]):
        return None
    value = values[row, column]
    if np.ndim(value):
        return tuple(int(v) for v in np.ravel(value))
    return float(value)


def length_mm(start: Point, end: Point, spacing: Spacing) -> float:
    """Distance between two pixel points in mm."""
    row_mm, column_mm = _checked(spacing)
    return math.hypot((end[0] - start[0]) * column_mm, (end[1] - start[1]) * row_mm)


def angle_degrees(first: Point, vertex: Point, second: Point, spacing: Spacing) -> float:
    """The angle at ``vertex`` between the rays to ``first`` and ``second``, in degrees (in mm space)."""
    row_mm, column_mm = _checked(spacing)
    a = ((first[0] - vertex[0]) * column_mm, (first[1] - vertex[1]) * row_mm)
    b = ((second[0] - vertex[0]) * column_mm, (second[1] - vertex[1]) * row_mm)
    if math.hypot(*a) == 0 or math.hypot(*b) == 0:
        raise MeasurementError("an angle needs two arms of non-zero length")
    return math.degrees(abs(math.atan2(a[0] * b[1] - a[1] * b[0], a[0] * b[0] + a[1] * b[1])))


@dataclass(frozen=True)
class RoiStats:
    """Statistics of the pixels whose centres lie inside an ROI; ``area_mm2`` is the drawn shape's area."""

    area_mm2: float
    pixels: int
    mean: float
    sd: float
    minimum: float
    maximum: float


def _stats(values: NDArray[np.generic], mask: NDArray[np.bool_], area: float) -> RoiStats:
    if np.ndim(values) != 2:
        raise MeasurementError("ROI statistics need a grayscale image")
    inside = np.asarray(values, dtype=np.float64)[mask]
    if inside.size == 0:
        raise MeasurementError("the ROI holds no pixel centre: draw it larger")
    return RoiStats(area, int(inside.size), float(inside.mean()), float(inside.std()), float(inside.min()),
                    float(inside.max()))  # fmt: skip


def ellipse_stats(values: NDArray[np.generic], corner: Point, opposite: Point, spacing: Spacing) -> RoiStats:
    """Statistics inside the axis-aligned ellipse inscribed in the box with corners ``corner`` and
    ``opposite`` (pixel points); the area is pi * a * b in mm^2."""
    row_mm, column_mm = _checked(spacing)
    cx, cy = (corner[0] + opposite[0]) / 2.0, (corner[1] + opposite[1]) / 2.0
    a, b = abs(opposite[0] - corner[0]) / 2.0, abs(opposite[1] - corner[1]) / 2.0
    if a <= 0 or b <= 0:
        raise MeasurementError("the ellipse has no area")
    rows, columns = np.ogrid[0 : values.shape[0], 0 : values.shape[1]]
    mask = ((columns - cx) / a) ** 2 + ((rows - cy) / b) ** 2 <= 1.0
    return _stats(values, mask, math.pi * a * column_mm * b * row_mm)


def polygon_area_mm2(points: Sequence[Point], spacing: Spacing) -> float:
    """Area of a closed polygon (shoelace formula) in mm^2."""
    row_mm, column_mm = _checked(spacing)
    if len(points) < 3:
        return 0.0
    x = np.array([p[0] for p in points]) * column_mm
    y = np.array([p[1] for p in points]) * row_mm
    return float(abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))) / 2.0)


def polygon_mask(shape: tuple[int, int], points: Sequence[Point]) -> NDArray[np.bool_]:
    """Pixels whose centres lie inside the closed polygon ``points`` (even-odd rule)."""
    rows, columns = np.mgrid[0 : shape[0], 0 : shape[1]]
    inside = np.zeros(shape, dtype=bool)
    count = len(points)
    for k in range(count):
        (x0, y0), (x1, y1) = points[k], points[(k + 1) % count]
        if y0 == y1:
            continue
        crosses = (rows < max(y0, y1)) & (rows >= min(y0, y1))
        x_at = x0 + (rows - y0) * (x1 - x0) / (y1 - y0)
        inside ^= crosses & (columns < x_at)
    return inside


def freehand_stats(values: NDArray[np.generic], points: Sequence[Point], spacing: Spacing) -> RoiStats:
    """Statistics inside a freehand (closed polygon) ROI."""
    area = polygon_area_mm2(points, spacing)
    if len(points) < 3 or area <= 0:
        raise MeasurementError("a freehand ROI needs at least three points around an area")
    return _stats(values, polygon_mask((values.shape[0], values.shape[1]), points), area)

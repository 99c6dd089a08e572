"""Patient-coordinate geometry of one image plane (PS3.3 C.7.6.2.1.1 Image Position and Orientation).

A pixel at column ``i`` and row ``j`` lies at ``S + X * dc * i + Y * dr * j`` (mm, patient LPS axes),
where ``S`` is Image Position (Patient), ``X`` the first three values of Image Orientation (Patient)
(direction along a row, i.e. of increasing column), ``Y`` the last three (down a column), ``dc`` the
column spacing (Pixel Spacing[1]) and ``dr`` the row spacing (Pixel Spacing[0]).  Pixel coordinates here
are floats: ``(0, 0)`` is the centre of the first pixel.  Everything is plain numpy, no Qt.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from core.imaging.errors import ImagingError
from core.imaging.study import SliceRef

Vector = NDArray[np.float64]
PARALLEL_SINE = 1e-3  # planes whose normals differ by less than this (radians, about) do not intersect usefully


class GeometryError(ImagingError):
    """The slice has no usable position, orientation or pixel spacing."""


def _unit(values: Sequence[float], what: str) -> Vector:
    vector = np.asarray(values, dtype=np.float64)
    norm = float(np.linalg.norm(vector))
    if vector.shape != (3,) or not np.isfinite(norm) or norm < 1e-6:
        raise GeometryError(f"{what} is not a direction")
    return vector / norm


@dataclass(frozen=True)
class PlaneGeometry:
    """Where an image of ``rows`` x ``columns`` pixels lies in patient space (mm, LPS)."""

    origin: tuple[float, float, float]  # centre of the first pixel (Image Position (Patient))
    row_direction: tuple[float, float, float]  # unit vector of increasing column
    column_direction: tuple[float, float, float]  # unit vector of increasing row
    spacing: tuple[float, float]  # (row spacing, column spacing) in mm, as Pixel Spacing
    rows: int
    columns: int

    @classmethod
    def create(
        cls,
        origin: Sequence[float],
        orientation: Sequence[float],
        spacing: Sequence[float] | None,
        rows: int,
        columns: int,
    ) -> PlaneGeometry:
        """Checked constructor: six orientation values, two positive spacings; raises GeometryError."""
        if spacing is None or len(spacing) != 2 or not all(np.isfinite(s) and s > 0 for s in spacing):
            raise GeometryError("pixel spacing is unknown")
        if len(orientation) != 6:
            raise GeometryError("image orientation is unknown")
        row = _unit(orientation[:3], "the row direction")
        column = _unit(orientation[3:], "the column direction")
        if abs(float(np.dot(row, column))) > 0.01:
            raise GeometryError("the row and column directions are not perpendicular")
        point = np.asarray(origin, dtype=np.float64)
        if point.shape != (3,) or not np.all(np.isfinite(point)):
            raise GeometryError("image position is unknown")
        return cls(
            tuple(point.tolist()),
            tuple(row.tolist()),
            tuple(column.tolist()),
            (float(spacing[0]), float(spacing[1])),
            int(rows),
            int(columns),
        )

    @classmethod
    def of_slice(cls, ref: SliceRef, spacing: Sequence[float] | None) -> PlaneGeometry:
        """The geometry of one slice from its header values; raises GeometryError when one is missing."""
        if ref.position is None:
            raise GeometryError("image position is unknown")
        if ref.orientation is None:
            raise GeometryError("image orientation is unknown")
        return cls.create(ref.position, ref.orientation, spacing, ref.rows, ref.columns)

    # ------------------------------------------------------------------ vectors
    @property
    def normal(self) -> Vector:
        """Unit normal (row direction x column direction)."""
        return np.cross(np.asarray(self.row_direction), np.asarray(self.column_direction))

    @property
    def location(self) -> float:
        """Position of the plane along its own normal (mm); equal for parallel planes at the same place."""
        return float(np.dot(np.asarray(self.origin), self.normal))

    @property
    def orientation(self) -> tuple[float, ...]:
        """The six Image Orientation (Patient) values."""
        return (*self.row_direction, *self.column_direction)

    # ------------------------------------------------------------------ points
    def to_patient(self, column: float, row: float) -> Vector:
        """Patient coordinates (mm) of the pixel point ``(column, row)``."""
        return (
            np.asarray(self.origin)
            + np.asarray(self.row_direction) * self.spacing[1] * column
            + np.asarray(self.column_direction) * self.spacing[0] * row
        )

    def to_pixel(self, point: Sequence[float] | Vector) -> tuple[float, float, float]:
        """``(column, row, distance)``: the point projected on the plane, in pixels, and its signed
        distance from the plane along the normal (mm)."""
        offset = np.asarray(point, dtype=np.float64) - np.asarray(self.origin)
        column = float(np.dot(offset, self.row_direction)) / self.spacing[1]
        row = float(np.dot(offset, self.column_direction)) / self.spacing[0]
        return column, row, float(np.dot(offset, self.normal))

    def center(self) -> Vector:
        """Patient coordinates of the image centre."""
        return self.to_patient((self.columns - 1) / 2.0, (self.rows - 1) / 2.0)

    def is_parallel(self, other: PlaneGeometry) -> bool:
        """True when both planes have (nearly) the same normal, in either sense."""
        return float(np.linalg.norm(np.cross(self.normal, other.normal))) < PARALLEL_SINE

    def intersection(self, other: PlaneGeometry) -> tuple[tuple[float, float], tuple[float, float]] | None:
        """The line where ``other``'s plane cuts this image, as two pixel points on this image's border
        (its reference line); None when the planes are parallel or the line misses the image."""
        if self.is_parallel(other):
            return None
        n1, n2 = self.normal, other.normal
        direction = np.cross(n1, n2)
        # A point on both planes: solve n1.x = d1, n2.x = d2, direction.x = 0.
        system = np.stack([n1, n2, direction])
        point = np.linalg.solve(system, np.array([self.location, other.location, 0.0]))
        c0, r0, _ = self.to_pixel(point)
        c1, r1, _ = self.to_pixel(point + direction)
        return _clip_line((c0, r0), (c1 - c0, r1 - r0), self.columns, self.rows)


def _clip_line(
    start: tuple[float, float], step: tuple[float, float], columns: int, rows: int
) -> tuple[tuple[float, float], tuple[float, float]] | None:
    """The part of the infinite line ``start + t * step`` inside the image rectangle (pixel edges)."""
    low, high = -np.inf, np.inf
    for origin, delta, lo, hi in ((start[0], step[0], -0.5, columns - 0.5), (start[1], step[1], -0.5, rows - 0.5)):
        if abs(delta) < 1e-12:
            if not lo <= origin <= hi:
                return None
            continue
        t0, t1 = (lo - origin) / delta, (hi - origin) / delta
        low, high = max(low, min(t0, t1)), min(high, max(t0, t1))
    if not low < high:
        return None
    return (
        (start[0] + low * step[0], start[1] + low * step[1]),
        (start[0] + high * step[0], start[1] + high * step[1]),
    )


def nearest_index(locations: Sequence[float | None], target: float) -> int | None:
    """Index of the location closest to ``target`` (None entries skipped); None when there is none."""
    best, best_distance = None, np.inf
    for index, location in enumerate(locations):
        if location is None:
            continue
        distance = abs(location - target)
        if distance < best_distance:
            best, best_distance = index, distance
    return best

"""Multiplanar reformats: axial, sagittal and coronal images of a volume series, with their geometry.

A volume is the slices of one stack and time point, evenly spaced along their normal.  A reformat
re-orders the volume's axes (and flips them) so that the screen shows the standard view of each plane
(axial: patient left on the screen's right, anterior up; coronal: left on the right, head up;
sagittal: posterior on the right, head up), and interpolates linearly along the acquired slice normal
when that axis lies in the reformatted plane.  Each reformatted image has a :class:`PlaneGeometry`, so
measurements, reference lines and orientation letters work as on acquired slices.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from core.imaging.geometry import GeometryError, PlaneGeometry
from core.imaging.pixel_store import PixelStore
from core.imaging.study import Series
from core.imaging.timepoints import time_block

Plane = Literal["axial", "sagittal", "coronal"]
PLANES: tuple[Plane, ...] = ("axial", "sagittal", "coronal")
MIN_SLICES = 3
SPACING_TOLERANCE = 0.1  # a slice may sit this fraction of the spacing away from the even grid
MAX_RESAMPLED = 1024  # at most this many samples along the interpolated slice axis
# Screen right and screen down, as patient (LPS) directions, per plane.
_SCREEN: dict[Plane, tuple[tuple[float, float, float], tuple[float, float, float]]] = {
    "axial": ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0)),
    "coronal": ((1.0, 0.0, 0.0), (0.0, 0.0, -1.0)),
    "sagittal": ((0.0, 1.0, 0.0), (0.0, 0.0, -1.0)),
}


class ReformatError(GeometryError):
    """The series cannot be reformatted (too few slices, uneven spacing, colour, mixed sizes, ...)."""


@dataclass(frozen=True)
class Volume:
    """Modality values ``data`` (slices, rows, columns) and the patient vector of one step along each axis."""

    data: NDArray[np.float32]
    origin: tuple[float, float, float]  # centre of the first pixel of the first slice (mm)
    axes: tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]  # mm per index: slice, row, column
    series_uid: str = ""

    @classmethod
    def from_planes(
        cls, images: Sequence[NDArray[np.float32]], planes: Sequence[PlaneGeometry], series_uid: str = ""
    ) -> Volume:
        """Stack ``images`` (each with its plane) into a volume; raises ReformatError when they do not
        form one: fewer than three, different sizes or orientations, uneven or sheared spacing."""
        if len(images) < MIN_SLICES:
            raise ReformatError(f"a reformat needs at least {MIN_SLICES} slices of one stack")
        first = planes[0]
        if any(np.ndim(image) != 2 for image in images):
            raise ReformatError("colour images cannot be reformatted")
        if any(p.rows != first.rows or p.columns != first.columns or p.spacing != first.spacing for p in planes):
            raise ReformatError("the slices differ in size or pixel spacing")
        if any(not np.allclose(p.orientation, first.orientation, atol=1e-3) for p in planes):
            raise ReformatError("the slices differ in orientation")
        origins = np.array([p.origin for p in planes], dtype=np.float64)
        step = (origins[-1] - origins[0]) / (len(planes) - 1)
        length = float(np.linalg.norm(step))
        if length < 1e-3:
            raise ReformatError("the slices are all at the same position")
        expected = origins[0] + np.outer(np.arange(len(planes)), step)
        if float(np.abs(origins - expected).max()) > SPACING_TOLERANCE * length:
            raise ReformatError("the slices are not evenly spaced (gaps or overlaps)")
        if abs(abs(float(np.dot(step / length, first.normal))) - 1.0) > 1e-3:
            raise ReformatError("the slices are sheared (tilted gantry): not reformatted")
        data = np.stack([np.asarray(image, dtype=np.float32) for image in images])
        row = np.asarray(first.column_direction) * first.spacing[0]
        column = np.asarray(first.row_direction) * first.spacing[1]
        return cls(data, first.origin, (step, row, column), series_uid)

    @property
    def needs_resampling(self) -> bool:
        """True when the slices are further apart than the pixels (a reformat across them interpolates)."""
        in_plane = min(float(np.linalg.norm(self.axes[1])), float(np.linalg.norm(self.axes[2])))
        return float(np.linalg.norm(self.axes[0])) > 1.01 * in_plane

    @functools.cached_property
    def resampled(self) -> tuple[NDArray[np.float32], NDArray[np.float64]]:
        """The data interpolated along the slice axis to the in-plane spacing, and the new slice step
        (computed once, shared by the sagittal and coronal reformats)."""
        in_plane = min(float(np.linalg.norm(self.axes[1])), float(np.linalg.norm(self.axes[2])))
        return _resample_slices(self.data, self.axes[0], in_plane)

    @classmethod
    def from_series(cls, store: PixelStore, series: Series, index: int = 0) -> Volume:
        """The volume of slice ``index``'s stack and time point (modality values through ``store``)."""
        if not series.slices:
            raise ReformatError("the series has no slices")
        refs = [series.slices[i] for i in time_block(series, index)]
        planes = []
        for ref in refs:
            spacing = store.metadata(ref).pixel_spacing
            planes.append(PlaneGeometry.of_slice(ref, spacing))
        images = [store.modality(ref) for ref in refs]
        return cls.from_planes(images, planes, series.uid)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Reformat:
    """The images of one plane: ``images[i]`` is shown at ``geometry(i)``."""

    plane: Plane
    images: NDArray[np.float32]  # (count, rows, columns), contiguous
    origin: NDArray[np.float64]  # centre of the first pixel of image 0
    step: NDArray[np.float64]  # mm from one image to the next
    row_direction: NDArray[np.float64]  # unit, increasing column
    column_direction: NDArray[np.float64]  # unit, increasing row
    spacing: tuple[float, float]  # (row spacing, column spacing) mm
    series_uid: str = ""
    interpolated: bool = False  # True when rows or columns were interpolated between acquired slices

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def geometry(self, index: int) -> PlaneGeometry:
        """Where image ``index`` lies in patient space."""
        origin = self.origin + self.step * index
        orientation = (*self.row_direction.tolist(), *self.column_direction.tolist())
        return PlaneGeometry.create(
            origin.tolist(), orientation, self.spacing, self.images.shape[1], self.images.shape[2]
        )


def _resample_slices(data: NDArray[np.float32], step: NDArray[np.float64], target: float) -> tuple[
    NDArray[np.float32], NDArray[np.float64]
]:  # fmt: skip
    """Linear interpolation along axis 0 to about ``target`` mm between samples."""
    length = float(np.linalg.norm(step))
    extent = length * (data.shape[0] - 1)
    target = max(target, extent / (MAX_RESAMPLED - 1))
    count = int(np.floor(extent / target + 1e-6)) + 1
    where = np.arange(count) * (target / length)
    low = np.minimum(np.floor(where).astype(np.int64), data.shape[0] - 2)
    frac = (where - low).astype(np.float32)
    out = np.empty((count, *data.shape[1:]), dtype=np.float32)
    for n in range(count):  # one output slice at a time: no volume-sized temporaries
        np.multiply(data[low[n]], 1.0 - frac[n], out=out[n])
        out[n] += data[low[n] + 1] * frac[n]
    return out, step * (target / length)


def reformat(volume: Volume, plane: Plane) -> Reformat:
    """The volume seen in ``plane``; the acquired slice axis is interpolated to the in-plane spacing when
    it lies in the reformatted plane (slices thicker than the pixels are)."""
    if plane not in _SCREEN:
        raise ReformatError(f"unknown plane {plane!r}")
    right, down = (np.asarray(v) for v in _SCREEN[plane])
    axes = list(volume.axes)
    units = [a / np.linalg.norm(a) for a in axes]
    column_axis = int(np.argmax([abs(float(np.dot(u, right))) for u in units]))
    rest = [m for m in range(3) if m != column_axis]
    row_axis = max(rest, key=lambda m: abs(float(np.dot(units[m], down))))
    slice_axis = next(m for m in rest if m != row_axis)
    data = volume.data
    interpolated = False
    if slice_axis != 0 and volume.needs_resampling:
        data, axes[0] = volume.resampled
        interpolated = True
    normal = np.cross(right, down)
    signs = {
        column_axis: np.sign(np.dot(axes[column_axis], right)) or 1.0,
        row_axis: np.sign(np.dot(axes[row_axis], down)) or 1.0,
        slice_axis: np.sign(np.dot(axes[slice_axis], normal)) or 1.0,
    }
    origin = np.asarray(volume.origin, dtype=np.float64).copy()
    index: list[slice] = []
    for m in range(3):
        if signs[m] < 0:
            origin += axes[m] * (data.shape[m] - 1)
            index.append(slice(None, None, -1))
        else:
            index.append(slice(None))
    view = np.transpose(data[tuple(index)], (slice_axis, row_axis, column_axis))
    row_vector, column_vector = axes[row_axis] * signs[row_axis], axes[column_axis] * signs[column_axis]
    return Reformat(
        plane=plane,
        images=np.ascontiguousarray(view),
        origin=origin,
        step=axes[slice_axis] * signs[slice_axis],
        row_direction=column_vector / np.linalg.norm(column_vector),
        column_direction=row_vector / np.linalg.norm(row_vector),
        spacing=(float(np.linalg.norm(row_vector)), float(np.linalg.norm(column_vector))),
        series_uid=volume.series_uid,
        interpolated=interpolated,
    )


def three_planes(volume: Volume) -> dict[Plane, Reformat]:
    """Axial, sagittal and coronal reformats of ``volume``."""
    return {plane: reformat(volume, plane) for plane in PLANES}

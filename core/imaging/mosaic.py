"""Siemens mosaics: one DICOM image holding a grid of the slices of a volume (EPI, diffusion, fMRI).

A mosaic says so in Image Type ("MOSAIC").  The number of slices comes from the private element
(0019,100A) "NumberOfImagesInMosaic" of the "SIEMENS MR HEADER" block, else from the CSA image
header (nibabel's ``csareader``).  The tiles form a square grid of ceil(sqrt(N)) x ceil(sqrt(N)),
row by row; unused tiles at the end are blank.

Image Position (Patient) of a mosaic is that of the top-left pixel of the whole grid, not of the first
slice; as dcm2niix and nibabel do, it is moved by half the difference between grid and tile size
along the row and column directions.  Further slices follow along the CSA SliceNormalVector (whose
sign gives the order Siemens stored them in; the normal of Image Orientation (Patient) otherwise),
one Spacing Between Slices (else Slice Thickness) apart.
"""

from __future__ import annotations

import math
import struct
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from pydicom.dataset import Dataset

from core.imaging.errors import InvalidImageError
from core.imaging.raw_values import get_floats, get_strings

SIEMENS_MR_HEADER = "SIEMENS MR HEADER"
_IMAGES_IN_MOSAIC = 0x0A  # (0019,xx0A)

Position = tuple[float, float, float]


@dataclass(frozen=True)
class MosaicLayout:
    """``images`` slices of ``tile_rows`` x ``tile_columns`` in a grid ``tiles_per_side`` wide."""

    images: int
    tiles_per_side: int
    tile_rows: int
    tile_columns: int

    def tile(self, values: NDArray[Any], index: int) -> NDArray[Any]:
        """Slice ``index`` (0-based) cut out of the decoded mosaic ``values``."""
        row, column = divmod(index, self.tiles_per_side)
        r0, c0 = row * self.tile_rows, column * self.tile_columns
        return values[r0 : r0 + self.tile_rows, c0 : c0 + self.tile_columns]


def is_mosaic(ds: Dataset) -> bool:
    """True when Image Type contains MOSAIC (Siemens)."""
    return "MOSAIC" in (value.upper() for value in get_strings(ds, "ImageType"))


def _csareader() -> Any:
    """nibabel's CSA header reader (its package warns on import that its DICOM *readers* are
    experimental; only the CSA parser is used here)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        from nibabel.nicom import csareader
    return csareader


def _csa_image_header(ds: Dataset) -> dict[str, Any] | None:
    try:
        return _csareader().get_csa_header(ds, "image")
    except Exception:  # a damaged CSA header only costs what it would have told
        return None


def _private_count(ds: Dataset) -> int | None:
    try:
        value = ds.get_private_item(0x0019, _IMAGES_IN_MOSAIC, SIEMENS_MR_HEADER).value
    except (KeyError, ValueError):
        return None
    if isinstance(value, bytes):  # implicit VR without a private dictionary entry: US, little endian
        value = struct.unpack("<H", value[:2])[0] if len(value) >= 2 else None
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _csa_count(csa: dict[str, Any] | None) -> int | None:
    if csa is None:
        return None
    try:
        return int(_csareader().get_n_mosaic(csa))
    except (KeyError, TypeError, ValueError, IndexError):
        return None


def mosaic_layout(ds: Dataset, rows: int, columns: int) -> MosaicLayout | None:
    """The layout of a mosaic image (None for other images); InvalidImageError when it cannot be known."""
    if not is_mosaic(ds):
        return None
    images = _private_count(ds) or _csa_count(_csa_image_header(ds))
    if not images or images < 1:
        raise InvalidImageError(
            "Siemens mosaic without its number of images ((0019,100A) and the CSA header are missing or empty)"
        )
    side = math.ceil(math.sqrt(images))
    if rows % side or columns % side:
        raise InvalidImageError(f"Siemens mosaic of {images} images cannot be a grid of {rows} x {columns} pixels")
    return MosaicLayout(images, side, rows // side, columns // side)


def tile_positions(ds: Dataset, layout: MosaicLayout) -> list[Position] | None:
    """Image Position (Patient) of each slice, or None without the geometry to compute them."""
    position = get_floats(ds, "ImagePositionPatient", 3)
    orientation = get_floats(ds, "ImageOrientationPatient", 6)
    spacing = get_floats(ds, "PixelSpacing", 2)
    if position is None or orientation is None or spacing is None:
        return None
    row_dir, column_dir = np.asarray(orientation[:3]), np.asarray(orientation[3:])
    grid_rows, grid_columns = layout.tiles_per_side * layout.tile_rows, layout.tiles_per_side * layout.tile_columns
    first = (
        np.asarray(position)
        + row_dir * spacing[1] * (grid_columns - layout.tile_columns) / 2.0
        + column_dir * spacing[0] * (grid_rows - layout.tile_rows) / 2.0
    )
    normal = _csa_normal(ds)
    if normal is None:
        normal = np.cross(row_dir, column_dir)
    step = get_floats(ds, "SpacingBetweenSlices", 1) or get_floats(ds, "SliceThickness", 1)
    gap = float(step[0]) if step else 1.0
    points = (first + k * gap * normal for k in range(layout.images))
    return [(float(p[0]), float(p[1]), float(p[2])) for p in points]


def _csa_normal(ds: Dataset) -> NDArray[np.float64] | None:
    csa = _csa_image_header(ds)
    if csa is None:
        return None
    try:
        normal = _csareader().get_slice_normal(csa)
    except (KeyError, TypeError, ValueError, IndexError):
        return None
    if normal is None:
        return None
    vector = np.asarray(normal, dtype=np.float64)
    length = float(np.linalg.norm(vector))
    return vector / length if vector.shape == (3,) and length > 1e-6 else None

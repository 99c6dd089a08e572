"""The one model rendering: any slice's modality values -> the 8-bit grayscale the classifier expects.

The training images are windowed 8-bit renderings.  To bring DICOM (any bit depth, rescale,
MONOCHROME1 already inverted by the loader) and PNG/JPEG to the same kind of picture, the model
rendering stretches the slice's robust intensity range linearly onto 0..255:

    lo, hi = percentiles (0.5, 99.5) of the slice's values
    out    = round(clip((v - lo) / (hi - lo), 0, 1) * 255)

Percentiles are equivariant under positive affine maps, so a PNG and the same image stored as
DICOM with any rescale slope/intercept give the same result (within rounding).  It never depends
on the window the user is dragging.  Colour input is reduced to luminance first (ITU-R 601-2).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

LOW_PERCENTILE = 0.5
HIGH_PERCENTILE = 99.5


def to_grayscale(values: NDArray[np.generic]) -> NDArray[np.float64]:
    """Collapse an (H, W), (H, W, 1), (H, W, 3) or (H, W, 4) array to float64 (H, W)."""
    arr = np.asarray(values)
    if arr.ndim == 3 and arr.shape[2] in (1, 2):  # gray or gray+alpha
        arr = arr[..., 0]
    elif arr.ndim == 3 and arr.shape[2] in (3, 4):
        rgb = arr[..., :3].astype(np.float64)
        return rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114
    if arr.ndim != 2:
        raise ValueError(f"expected a 2-D slice, got shape {arr.shape}")
    return arr.astype(np.float64)


def render_for_model(values: NDArray[np.generic]) -> NDArray[np.uint8]:
    """Model rendering of one slice (modality values or 8-bit pixels) as uint8 (H, W)."""
    gray = to_grayscale(values)
    finite = gray[np.isfinite(gray)]
    if finite.size == 0:
        return np.zeros(gray.shape, dtype=np.uint8)
    lo, hi = np.percentile(finite, [LOW_PERCENTILE, HIGH_PERCENTILE])
    if not hi > lo:
        lo, hi = float(finite.min()), float(finite.max())
    if not hi > lo:
        return np.zeros(gray.shape, dtype=np.uint8)
    scaled = np.clip((np.nan_to_num(gray, nan=lo) - lo) / (hi - lo), 0.0, 1.0)
    return np.rint(scaled * 255.0).astype(np.uint8)

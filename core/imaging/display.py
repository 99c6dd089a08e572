"""Screen rendering of modality values: VOI windowing (PS3.3 C.11.2) to 8 bits, and window presets.

Linear/sigmoid windows go through pydicom's ``apply_voi_lut`` on an 8-bit MONOCHROME2 description,
so the output range is exactly 0..255; VOI LUT Sequence items go through ``apply_voi``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray
from pydicom.dataset import Dataset
from pydicom.pixels.processing import apply_voi, apply_voi_lut

from core.imaging.window import BRAIN_CT, Window

AUTO_PERCENTILES = (0.5, 99.5)  # same robust range as the model rendering (core.imaging.render)
BRAIN_PERCENTILES = (2.0, 99.0)  # of the foreground (tissue) of an MR slice


def _to_uint8(arr: NDArray[Any]) -> NDArray[np.uint8]:
    return np.clip(np.rint(arr), 0, 255).astype(np.uint8)


def apply_window(values: NDArray[Any], window: Window) -> NDArray[np.uint8]:
    """Window modality values to uint8 with pydicom's VOI function (LINEAR, LINEAR_EXACT or SIGMOID)."""
    function = window.function if window.function in ("LINEAR", "LINEAR_EXACT", "SIGMOID") else "LINEAR"
    width = max(float(window.width), 1.0 + 1e-6) if function == "LINEAR" else max(float(window.width), 1e-6)
    ds = Dataset()
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsStored = 8
    ds.PixelRepresentation = 0
    ds.WindowCenter = float(window.center)
    ds.WindowWidth = width
    ds.VOILUTFunction = function
    return _to_uint8(apply_voi_lut(np.asarray(values, dtype=np.float64), ds, prefer_lut=False))


def apply_file_lut(values: NDArray[Any], frame_ds: Dataset, index: int, reflect: float | None) -> NDArray[np.uint8]:
    """Apply item ``index`` of the file's VOI LUT Sequence (values un-reflected for MONOCHROME1)."""
    original = values if reflect is None else np.float32(reflect) - values
    out = apply_voi(np.rint(original).astype(np.int64), frame_ds, index)
    depth = int(frame_ds.VOILUTSequence[index].LUTDescriptor[2])
    scaled = out.astype(np.float64) * (255.0 / float(2**depth - 1))
    return _to_uint8(255.0 - scaled if reflect is not None else scaled)


def _finite(values: NDArray[Any]) -> NDArray[Any]:
    flat = np.asarray(values, dtype=np.float64).ravel()
    return flat[np.isfinite(flat)]


def auto_window(values: NDArray[Any]) -> Window:
    """ "Auto": the robust (0.5-99.5 percentile) range of ``values``."""
    finite = _finite(values)
    if finite.size == 0:
        return Window(0.5, 1.0, "Auto")
    lo, hi = np.percentile(finite, AUTO_PERCENTILES)
    if not hi > lo:
        lo, hi = float(finite.min()), float(finite.max())
    return Window.from_range(float(lo), float(hi), "Auto")


def full_range_window(values: NDArray[Any]) -> Window:
    """ "Full range": minimum to maximum of ``values``."""
    finite = _finite(values)
    if finite.size == 0:
        return Window(0.5, 1.0, "Full range")
    return Window.from_range(float(finite.min()), float(finite.max()), "Full range")


def brain_window(values: NDArray[Any], modality: str) -> Window:
    """ "Brain": W80/L40 HU for CT; for MR and others the 2-98 percentile range of the tissue.

    Tissue = values above 10 % of the robust range (drops the air background that dominates MR).
    """
    if modality.upper() == "CT":
        return BRAIN_CT
    finite = _finite(values)
    if finite.size == 0:
        return Window(0.5, 1.0, "Brain")
    lo, hi = np.percentile(finite, AUTO_PERCENTILES)
    tissue = finite[finite > lo + 0.1 * (hi - lo)]
    if tissue.size < 16:
        tissue = finite
    t_lo, t_hi = np.percentile(tissue, BRAIN_PERCENTILES)
    if not t_hi > t_lo:
        t_lo, t_hi = lo, hi
    return Window.from_range(float(t_lo), float(t_hi), "Brain")

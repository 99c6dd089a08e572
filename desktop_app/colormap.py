"""Perceptually uniform colormaps as small numpy lookup tables (no matplotlib at run time).

``viridis`` and ``inferno`` (van der Walt & Smith, CC0) are stored as their ten reference stops
(sRGB, at 0, 1/9, ..., 1) and linearly interpolated to 256 entries.  A heatmap value ``v`` in
0..1 maps to ``LUT[round(v * 255)]``; values below the threshold become fully transparent.
"""

from __future__ import annotations

from functools import cache

import numpy as np
from numpy.typing import NDArray

_STOPS: dict[str, tuple[str, ...]] = {
    "viridis": ("440154", "482878", "3e4989", "31688e", "26828e", "1f9e89", "35b779", "6ece58", "b5de2b", "fde725"),
    "inferno": ("000004", "1b0c41", "4a0c6b", "781c6d", "a52c60", "cf4446", "ed6925", "fb9b06", "f7d13d", "fcffa4"),
}
COLORMAPS: tuple[str, ...] = tuple(_STOPS)
DEFAULT_COLORMAP = "inferno"


@cache
def lut(name: str) -> NDArray[np.uint8]:
    """256 x 3 uint8 RGB table of colormap ``name``."""
    try:
        stops = _STOPS[name]
    except KeyError as exc:
        raise ValueError(f"unknown colormap {name!r}; choose one of {', '.join(COLORMAPS)}") from exc
    rgb = np.array([[int(h[i : i + 2], 16) for i in (0, 2, 4)] for h in stops], dtype=np.float64)
    where = np.linspace(0.0, 1.0, len(stops))
    x = np.linspace(0.0, 1.0, 256)
    table = np.stack([np.interp(x, where, rgb[:, c]) for c in range(3)], axis=1)
    out: NDArray[np.uint8] = np.rint(table).astype(np.uint8)
    out.setflags(write=False)
    return out


def colorize(heat: NDArray[np.floating], name: str, opacity: float = 0.5, threshold: float = 0.0) -> NDArray[np.uint8]:
    """Heatmap (H, W) in 0..1 -> straight-alpha RGBA uint8 (H, W, 4).

    Alpha is ``opacity * heat``, so cold regions keep the image as displayed and hot ones are
    coloured most; pixels with ``heat < threshold`` are fully transparent.
    """
    values = np.clip(np.nan_to_num(np.asarray(heat, dtype=np.float32)), 0.0, 1.0)
    index = np.rint(values * 255.0).astype(np.intp)
    rgba = np.empty((*values.shape, 4), dtype=np.uint8)
    rgba[..., :3] = lut(name)[index]
    alpha = np.rint(values * (np.clip(opacity, 0.0, 1.0) * 255.0)).astype(np.uint8)
    rgba[..., 3] = np.where(values >= threshold, alpha, np.uint8(0))
    return rgba


def legend_strip(name: str, width: int = 256, height: int = 12) -> NDArray[np.uint8]:
    """Horizontal RGB ramp (height, width, 3) from 0 (left) to 1 (right), for the legend."""
    index = np.rint(np.linspace(0, 255, width)).astype(np.intp)
    row = lut(name)[index]
    return np.ascontiguousarray(np.broadcast_to(row, (height, width, 3)))

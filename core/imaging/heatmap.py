"""The one heatmap compositor: colormap, opacity and threshold, for the screen and for every export.

A heatmap value ``v`` in 0..1 gets the colour ``LUT[round(v * 255)]`` and the straight alpha
``opacity * v``; values below ``threshold`` are fully transparent.  :func:`colorize` gives that RGBA
layer (the viewer draws it over the slice); :func:`composite` blends it into the displayed 8-bit
picture for exports, with the same arithmetic Qt's source-over uses on screen, so a slice looks the
same in the window, in a PNG and in a PDF.

The colormaps are perceptually uniform (``viridis`` and ``inferno``, van der Walt & Smith, CC0),
stored as their ten reference stops and interpolated to 256 entries (no matplotlib at run time);
``inferno`` is the default.  There is no ``jet``: its lightness is not monotonic, so it invents
edges where the map has none.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
from numpy.typing import NDArray
from PIL import Image

_STOPS: dict[str, tuple[str, ...]] = {
    "viridis": ("440154", "482878", "3e4989", "31688e", "26828e", "1f9e89", "35b779", "6ece58", "b5de2b", "fde725"),
    "inferno": ("000004", "1b0c41", "4a0c6b", "781c6d", "a52c60", "cf4446", "ed6925", "fb9b06", "f7d13d", "fcffa4"),
}
COLORMAPS: tuple[str, ...] = tuple(_STOPS)
DEFAULT_COLORMAP = "inferno"
DEFAULT_OPACITY = 0.5
DEFAULT_THRESHOLD = 0.0


@dataclass(frozen=True)
class HeatmapStyle:
    """How a heatmap is drawn: colormap name, opacity (0..1) and threshold (fraction of the maximum)."""

    colormap: str = DEFAULT_COLORMAP
    opacity: float = DEFAULT_OPACITY
    threshold: float = DEFAULT_THRESHOLD


@cache
def lut(name: str) -> NDArray[np.uint8]:
    """256 x 3 uint8 RGB table of colormap ``name`` (read-only)."""
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


def _values(heat: NDArray[np.generic]) -> NDArray[np.float32]:
    values = np.asarray(heat, dtype=np.float32)
    if values.ndim != 2:
        raise ValueError(f"the heatmap must be 2-D, got shape {values.shape}")
    return np.clip(np.nan_to_num(values, nan=0.0), 0.0, 1.0)


def colorize(
    heat: NDArray[np.generic],
    name: str = DEFAULT_COLORMAP,
    opacity: float = DEFAULT_OPACITY,
    threshold: float = DEFAULT_THRESHOLD,
) -> NDArray[np.uint8]:
    """Heatmap (H, W) in 0..1 -> straight-alpha RGBA uint8 (H, W, 4) (see the module doc)."""
    values = _values(heat)
    index = np.rint(values * 255.0).astype(np.intp)
    rgba = np.empty((*values.shape, 4), dtype=np.uint8)
    rgba[..., :3] = lut(name)[index]
    alpha = np.rint(values * (float(np.clip(opacity, 0.0, 1.0)) * 255.0)).astype(np.uint8)
    rgba[..., 3] = np.where(values >= threshold, alpha, np.uint8(0))
    return rgba


def resize_heat(heat: NDArray[np.generic], height: int, width: int) -> NDArray[np.float32]:
    """The heatmap resized bilinearly to (height, width), clipped to 0..1."""
    values = _values(heat)
    if values.shape != (height, width):
        image = Image.fromarray(values, mode="F").resize((width, height), Image.Resampling.BILINEAR)
        values = np.clip(np.asarray(image, dtype=np.float32), 0.0, 1.0)
    return values


def as_rgb(display: NDArray[np.generic]) -> NDArray[np.uint8]:
    """A displayed 8-bit picture, grey (H, W) or RGB(A) (H, W, 3|4), as RGB (H, W, 3)."""
    arr = np.asarray(display)
    if arr.dtype != np.uint8:
        raise ValueError(f"the displayed slice must be uint8, got {arr.dtype}")
    if arr.ndim == 2:
        return np.repeat(arr[..., None], 3, axis=2)
    if arr.ndim == 3 and arr.shape[2] in (3, 4):
        return np.ascontiguousarray(arr[..., :3])
    raise ValueError(f"the displayed slice must be (H, W) or (H, W, 3), got shape {arr.shape}")


def composite(
    display: NDArray[np.generic], heat: NDArray[np.generic] | None, style: HeatmapStyle | None = None
) -> NDArray[np.uint8]:
    """RGB uint8 (H, W, 3): ``display`` with the heatmap (any size, resized to it) drawn over it."""
    style = style or HeatmapStyle()
    rgb = as_rgb(display)
    if heat is None or style.opacity <= 0:
        return rgb.copy()
    layer = colorize(resize_heat(heat, rgb.shape[0], rgb.shape[1]), style.colormap, style.opacity, style.threshold)
    alpha = layer[..., 3:4].astype(np.float32) / 255.0
    out = rgb.astype(np.float32) * (1.0 - alpha) + layer[..., :3].astype(np.float32) * alpha
    return np.rint(out).astype(np.uint8)


def legend_strip(name: str = DEFAULT_COLORMAP, width: int = 256, height: int = 12) -> NDArray[np.uint8]:
    """Horizontal RGB ramp (height, width, 3) from 0 (left) to 1 (right), for the legend."""
    index = np.rint(np.linspace(0, 255, width)).astype(np.intp)
    row = lut(name)[index]
    return np.ascontiguousarray(np.broadcast_to(row, (height, width, 3)))

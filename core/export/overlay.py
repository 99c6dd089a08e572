"""Burned-in pictures for exports: the displayed slice, the saliency heatmap and a warning banner.

The slice comes in as the 8-bit picture at the displayed window/level (grey or RGB); the
heatmap (float 0..1, any size, resized bilinearly to the slice) is colour-mapped and blended
with per-pixel alpha ``opacity * heat``, so cold regions stay as displayed.  The banner text
("NOT FOR DIAGNOSTIC USE" by default) is drawn into the pixels with Pillow's bundled font.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageDraw, ImageFont

NOT_FOR_DIAGNOSTIC_USE = "NOT FOR DIAGNOSTIC USE"
MIN_BURN_IN_SIZE = 256
MAX_BURN_IN_SIZE = 4096


def jet_lut() -> NDArray[np.uint8]:
    """The classic 'jet' colour map as a (256, 3) uint8 lookup table (blue -> red)."""
    x = np.linspace(0.0, 1.0, 256)
    r = np.clip(1.5 - np.abs(4.0 * x - 3.0), 0.0, 1.0)
    g = np.clip(1.5 - np.abs(4.0 * x - 2.0), 0.0, 1.0)
    b = np.clip(1.5 - np.abs(4.0 * x - 1.0), 0.0, 1.0)
    return np.rint(np.stack([r, g, b], axis=1) * 255.0).astype(np.uint8)


def _as_rgb(display: NDArray[np.generic]) -> NDArray[np.uint8]:
    arr = np.asarray(display)
    if arr.dtype != np.uint8:
        raise ValueError(f"the displayed slice must be uint8, got {arr.dtype}")
    if arr.ndim == 2:
        return np.repeat(arr[..., None], 3, axis=2)
    if arr.ndim == 3 and arr.shape[2] in (3, 4):
        return np.ascontiguousarray(arr[..., :3])
    raise ValueError(f"the displayed slice must be (H, W) or (H, W, 3), got shape {arr.shape}")


def _resized_heat(heatmap: NDArray[np.generic], height: int, width: int) -> NDArray[np.float32]:
    heat = np.nan_to_num(np.asarray(heatmap, dtype=np.float32), nan=0.0)
    if heat.ndim != 2:
        raise ValueError(f"the heatmap must be 2-D, got shape {heat.shape}")
    heat = np.clip(heat, 0.0, 1.0)
    if heat.shape != (height, width):
        image = Image.fromarray(heat, mode="F").resize((width, height), Image.Resampling.BILINEAR)
        heat = np.clip(np.asarray(image, dtype=np.float32), 0.0, 1.0)
    return heat


def blend_heatmap(
    display: NDArray[np.generic],
    heatmap: NDArray[np.generic] | None,
    opacity: float = 0.5,
    colormap: NDArray[np.uint8] | None = None,
) -> NDArray[np.uint8]:
    """RGB uint8 (H, W, 3) of ``display`` with ``heatmap`` blended in (no text)."""
    rgb = _as_rgb(display)
    if heatmap is None or opacity <= 0:
        return rgb.copy()
    lut = jet_lut() if colormap is None else np.asarray(colormap, dtype=np.uint8)
    if lut.shape != (256, 3):
        raise ValueError(f"the colour map must be a (256, 3) uint8 table, got shape {lut.shape}")
    heat = _resized_heat(heatmap, rgb.shape[0], rgb.shape[1])
    colours = lut[np.rint(heat * 255.0).astype(np.intp)].astype(np.float32)
    alpha = (min(float(opacity), 1.0) * heat)[..., None]
    out = rgb.astype(np.float32) * (1.0 - alpha) + colours * alpha
    return np.rint(out).astype(np.uint8)


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def burn_in_text(rgb: NDArray[np.uint8], text: str = NOT_FOR_DIAGNOSTIC_USE) -> NDArray[np.uint8]:
    """Return ``rgb`` with a banner burned in, upscaled by an integer factor for legibility.

    The factor brings the short side to at least 256 px, but never takes the long side past
    4096 px (a 3000x10 slice stays 3000x10).  The banner is white text on a black strip along
    the bottom edge, sized to fit the width.
    """
    image = Image.fromarray(_as_rgb(rgb))
    factor = -(-MIN_BURN_IN_SIZE // max(1, min(image.size)))
    factor = max(1, min(factor, MAX_BURN_IN_SIZE // max(image.size)))
    if factor > 1:
        image = image.resize((image.width * factor, image.height * factor), Image.Resampling.NEAREST)
    draw = ImageDraw.Draw(image)
    size = max(8, image.width // 18)
    while True:
        font = _font(size)
        left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
        if right - left <= image.width * 0.94 or size <= 8:
            break
        size -= 1
    pad = max(2, size // 4)
    strip_top = image.height - (bottom - top) - 2 * pad
    draw.rectangle((0, strip_top, image.width, image.height), fill=(0, 0, 0))
    x = (image.width - (right - left)) // 2 - left
    draw.text((x, strip_top + pad - top), text, fill=(255, 255, 255), font=font)
    return np.asarray(image, dtype=np.uint8).copy()


def burn_in_overlay(
    display: NDArray[np.generic],
    heatmap: NDArray[np.generic] | None,
    opacity: float = 0.5,
    colormap: NDArray[np.uint8] | None = None,
    text: str = NOT_FOR_DIAGNOSTIC_USE,
) -> NDArray[np.uint8]:
    """Displayed slice + heatmap + burned-in ``text`` banner, as RGB uint8 (see module doc)."""
    return burn_in_text(blend_heatmap(display, heatmap, opacity, colormap), text)

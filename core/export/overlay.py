"""Burned-in pictures for exports: the displayed slice, the saliency heatmap and a warning banner.

The slice comes in as the 8-bit picture at the displayed window/level (grey or RGB); the
heatmap (float 0..1, any size) is drawn by :func:`core.imaging.heatmap.composite`, the compositor
the screen uses, with the same colormap, opacity and threshold (:class:`HeatmapStyle`).  The banner text
("NOT FOR DIAGNOSTIC USE" by default) is drawn into the pixels with Pillow's bundled font.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageDraw, ImageFont

from core.imaging.heatmap import HeatmapStyle, as_rgb, composite

NOT_FOR_DIAGNOSTIC_USE = "NOT FOR DIAGNOSTIC USE"
MIN_BURN_IN_SIZE = 256
MAX_BURN_IN_SIZE = 4096


def blend_heatmap(
    display: NDArray[np.generic], heatmap: NDArray[np.generic] | None, style: HeatmapStyle | None = None
) -> NDArray[np.uint8]:
    """RGB uint8 (H, W, 3) of ``display`` with ``heatmap`` drawn as on screen (no text)."""
    return composite(display, heatmap, style)


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def burn_in_text(rgb: NDArray[np.uint8], text: str = NOT_FOR_DIAGNOSTIC_USE) -> NDArray[np.uint8]:
    """Return ``rgb`` with a banner burned in, upscaled by an integer factor for legibility.

    The factor brings the short side to at least 256 px, but never takes the long side past
    4096 px (a 3000x10 slice stays 3000x10).  The banner is white text on a black strip along
    the bottom edge, sized to fit the width.
    """
    image = Image.fromarray(as_rgb(rgb))
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
    style: HeatmapStyle | None = None,
    text: str = NOT_FOR_DIAGNOSTIC_USE,
) -> NDArray[np.uint8]:
    """Displayed slice + heatmap + burned-in ``text`` banner, as RGB uint8 (see module doc)."""
    return burn_in_text(composite(display, heatmap, style), text)

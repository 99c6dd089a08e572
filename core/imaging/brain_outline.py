"""A rough 2-D brain outline: the head shrunk by about the depth of scalp and skull.

Training shows some slices stripped to this outline (``training.realism.strip_skull``), and the classifier can
average each slice with its stripped view (:func:`stripped_view`): scalp, skull, orbits and neck carry much of
a model's false "tumor" answers on real volumes, and a second look without them ranks tumor slices better
(docs/model.md).  It is not a brain segmentation: at the skull base it keeps some bone and fat.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from core.imaging.intended_use import filled_outline
from core.imaging.render import render_for_model

FloatImage = NDArray[np.float32]

# A blurred mask stays above 0.05 out to about this many sigmas beyond its edge, and above 0.95 only this
# many sigmas inside it: the sigma that grows or shrinks a mask by a given distance.
BLUR_REACH = 1.645
# The outline is blurred on the head mask averaged down to at most this many pixels a side (a full-size
# blur of a 512-pixel slice costs tens of milliseconds); pictures of this size or smaller are blurred as they are.
OUTLINE_SIDE = 128


def gaussian_blur(image: FloatImage, sigma: float) -> FloatImage:
    """Separable Gaussian blur of a float image (edges repeated); PIL blurs only 8-bit images."""
    radius = max(1, int(3 * sigma + 0.5))
    taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    taps /= taps.sum()
    padded = np.pad(image, radius, mode="edge")
    rows = np.apply_along_axis(np.convolve, 1, padded, taps, mode="valid")
    return np.apply_along_axis(np.convolve, 0, rows, taps, mode="valid").astype(np.float32)


def head_mask(image: FloatImage) -> NDArray[np.bool_]:
    """Pixels of the head: brighter than a tenth of the 99th percentile."""
    return np.asarray(image > 0.1 * float(np.percentile(image, 99)), dtype=bool)


def smaller_head_side(head: NDArray[np.bool_]) -> int | None:
    """The smaller side of the head's bounding box in pixels; None for a head under 16 pixels a side."""
    rows = np.flatnonzero(head.any(axis=1))
    cols = np.flatnonzero(head.any(axis=0))
    if len(rows) < 16 or len(cols) < 16:
        return None
    return int(min(rows[-1] - rows[0], cols[-1] - cols[0]))


def head_outline(image: FloatImage) -> tuple[NDArray[np.bool_], int] | None:
    """The head filled along rows and columns, and its smaller side; None without a head."""
    head = filled_outline(head_mask(image))
    side = smaller_head_side(head)
    return None if side is None else (head, side)


def shrunk_outline(
    head: NDArray[np.bool_], side: int, depth: float, max_side: int | None = OUTLINE_SIDE
) -> NDArray[np.bool_] | None:
    """``head`` (see :func:`head_outline`) shrunk by ``depth`` x ``side``; None when nothing is left.

    Pictures larger than ``max_side`` are blurred at that size and the blurred mask is enlarged back, which
    moves the outline by well under a pixel of the reduced picture (None: always at full size).
    """
    sigma = depth * side / BLUR_REACH
    height, width = head.shape
    factor = 1.0 if max_side is None else max(height, width) / max_side
    if factor <= 1.0:
        blurred = gaussian_blur(head.astype(np.float32), sigma)
    else:
        small_size = (max(2, round(width / factor)), max(2, round(height / factor)))
        small = np.asarray(Image.fromarray(head.astype(np.float32)).resize(small_size, Image.Resampling.BOX))
        small_blur = gaussian_blur(small.astype(np.float32), sigma / factor)
        blurred = np.asarray(Image.fromarray(small_blur).resize((width, height), Image.Resampling.BILINEAR))
    brain = np.asarray(blurred >= 0.95, dtype=bool)
    return brain if brain.any() else None


def brain_outline(image: FloatImage, depth: float, max_side: int | None = OUTLINE_SIDE) -> NDArray[np.bool_] | None:
    """The head shrunk by ``depth`` x its smaller side (:func:`shrunk_outline`); None without a head."""
    found = head_outline(image)
    return None if found is None else shrunk_outline(*found, depth, max_side)


def stripped(image: FloatImage, depth: float, max_side: int | None = OUTLINE_SIDE) -> FloatImage:
    """``image`` with everything outside :func:`brain_outline` set to 0 (as it is without a head)."""
    return masked_to(image, brain_outline(image, depth, max_side))


def masked_to(image: FloatImage, brain: NDArray[np.bool_] | None) -> FloatImage:
    """``image`` with everything outside ``brain`` set to 0; ``image`` itself when there is no outline."""
    return image if brain is None else np.where(brain, image, np.float32(0.0))


def stripped_view(rendered: NDArray[np.uint8], depth: float) -> NDArray[np.uint8]:
    """A model-rendered slice stripped to its brain outline and rendered again, as a stripped series would be
    (the grey range then spans the brain, not the scalp)."""
    return render_for_model(stripped(rendered.astype(np.float32) / 255.0, depth))

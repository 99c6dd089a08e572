"""Model-rendered uint8 slices -> network input tensors, driven by the weights' config."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from core.imaging.brain_outline import stripped_view
from core.model.model_config import ModelConfig, Preprocessing

_RESAMPLE = {
    "bilinear": Image.Resampling.BILINEAR,
    "bicubic": Image.Resampling.BICUBIC,
    "nearest": Image.Resampling.NEAREST,
    "area": Image.Resampling.BOX,
}


def square_pad_box(height: int, width: int) -> tuple[int, int, int]:
    """Side of the square canvas and the (top, left) offsets where the slice sits on it."""
    side = max(height, width)
    return side, (side - height) // 2, (side - width) // 2


_Pixel = TypeVar("_Pixel", bound=np.generic)

HEAD_LEVEL = 0.1  # a pixel belongs to the head above this share of the slice's brightest value
HEAD_MARGIN = 0.04  # share of the head's height/width kept around its box


def head_box(rendered: NDArray[np.uint8]) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) of the head in a model-rendered slice, with a small margin.

    Class-folder training images differ in how much dark background frames the head, and that framing
    tells the class; cropping every slice to its head (training and application alike) takes the cue
    away.  A slice with nothing above the level keeps its whole extent.
    """
    height, width = rendered.shape
    mask = rendered > HEAD_LEVEL * max(1, int(rendered.max(initial=0)))
    if not mask.any():
        return 0, height, 0, width
    rows, cols = np.nonzero(mask.any(axis=1))[0], np.nonzero(mask.any(axis=0))[0]
    dy = round(HEAD_MARGIN * (int(rows[-1]) + 1 - int(rows[0])))  # relative to the head, not the frame
    dx = round(HEAD_MARGIN * (int(cols[-1]) + 1 - int(cols[0])))
    return (
        max(0, int(rows[0]) - dy),
        min(height, int(rows[-1]) + 1 + dy),
        max(0, int(cols[0]) - dx),
        min(width, int(cols[-1]) + 1 + dx),
    )


def crop_box(image: NDArray[_Pixel], box: tuple[int, int, int, int]) -> NDArray[_Pixel]:
    """``image`` cut to ``box`` (top, bottom, left, right), as a contiguous array."""
    top, bottom, left, right = box
    return np.ascontiguousarray(image[top:bottom, left:right])


def resize_slice(
    rendered: NDArray[np.uint8],
    size: int,
    resize: str = "bilinear",
    pad_to_square: bool = True,
    crop_to_head: bool = False,
) -> NDArray[np.uint8]:
    """Optionally crop a model-rendered slice to its head, pad it to a centred square (zeros) and resize
    it to ``size`` x ``size``."""
    if rendered.ndim != 2 or rendered.dtype != np.uint8:
        raise ValueError("expected a model-rendered uint8 (H, W) slice")
    if crop_to_head:
        rendered = crop_box(rendered, head_box(rendered))
    img = rendered
    if pad_to_square and rendered.shape[0] != rendered.shape[1]:
        side, top, left = square_pad_box(*rendered.shape)
        img = np.zeros((side, side), dtype=np.uint8)
        img[top : top + rendered.shape[0], left : left + rendered.shape[1]] = rendered
    if img.shape == (size, size):
        return img
    try:
        method = _RESAMPLE[resize]
    except KeyError as exc:
        raise ValueError(f"unknown resize method {resize!r}") from exc
    return np.asarray(Image.fromarray(img).resize((size, size), method), dtype=np.uint8)


def model_picture(rendered: NDArray[np.uint8], config: ModelConfig, size: int | None = None) -> NDArray[np.uint8]:
    """The uint8 square the network sees for one model-rendered slice, before scaling: cropped, padded
    and resized as the config prescribes (the AI panel's inset shows exactly this)."""
    prep = config.preprocessing
    return resize_slice(rendered, size or config.input_size, prep.resize, prep.pad_to_square, prep.crop_to_head)


def to_model_input(
    rendered: Sequence[NDArray[np.uint8]], config: ModelConfig, size: int | None = None
) -> NDArray[np.float32]:
    """Stack model-rendered slices into a float32 batch (N, S, S, C) as the config prescribes."""
    pictures = np.stack([model_picture(r, config, size) for r in rendered])
    return scaled_for_network(pictures, config.preprocessing, config.architecture.channels)


def stripped_model_input(rendered: Sequence[NDArray[np.uint8]], config: ModelConfig) -> NDArray[np.float32] | None:
    """The network input of each slice's view stripped to its brain outline when the config asks for test-time
    stripping (:func:`core.imaging.brain_outline.stripped_view`), else None."""
    if not config.test_time_strip:
        return None
    return to_model_input([stripped_view(r, config.test_time_strip) for r in rendered], config)


def scaled_for_network(pictures: NDArray[np.uint8], prep: Preprocessing, channels: int) -> NDArray[np.float32]:
    """Pictures the network sees (uint8, already cropped and resized) scaled and offset as ``prep`` says, with a
    trailing channel axis of ``channels`` copies: the one scaling of the application and of training."""
    scaled = pictures.astype(np.float32) * np.float32(prep.scale) + np.float32(prep.offset)
    scaled = scaled[..., np.newaxis]
    return np.repeat(scaled, channels, axis=-1) if channels != 1 else scaled


def with_mirror_images(batch: NDArray[np.float32]) -> NDArray[np.float32]:
    """``batch`` (N, S, S, C) followed by its left-right mirror images: (2N, S, S, C)."""
    return np.concatenate([batch, batch[:, :, ::-1, :]])


def mean_over_mirror(values: NDArray[np.float32]) -> NDArray[np.float32]:
    """Average the rows for the N images and for their N mirror images (see :func:`with_mirror_images`)."""
    half = len(values) // 2
    return np.asarray((values[:half] + values[half:]) / 2, dtype=np.float32)


def flip_averaged_logits(
    logits_of: Callable[[NDArray[np.float32]], NDArray[np.float32]], batch: NDArray[np.float32]
) -> NDArray[np.float32]:
    """Test-time flip: the mean of the logits of each image and of its left-right mirror image."""
    return mean_over_mirror(np.asarray(logits_of(with_mirror_images(batch)), dtype=np.float32))

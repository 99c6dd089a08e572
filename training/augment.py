"""MRI-appropriate, class-preserving augmentation as stateless TensorFlow ops.

Left-right flips, small rotations, shifts and zooms (one affine warp), contrast, brightness and
gamma jitter.  Every random draw is seeded from (run seed, epoch, image index), so an epoch
looks the same after a resume.  No vertical flips: they move anatomy to implausible places.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class AugmentConfig:
    flip: bool = True
    rotate_degrees: float = 10.0
    shift_fraction: float = 0.08
    zoom_fraction: float = 0.10
    contrast: float = 0.20
    brightness: float = 0.08
    gamma: float = 0.20

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def augment_image(image: Any, seed: Any, cfg: AugmentConfig) -> Any:
    """Augment one float32 (S, S, 1) image with values in 0..255; ``seed`` is an int32 [2] tensor."""
    import tensorflow as tf

    seeds = tf.random.experimental.stateless_split(seed, num=8)
    size = tf.cast(tf.shape(image)[0], tf.float32)
    if cfg.flip:
        image = tf.image.stateless_random_flip_left_right(image, seeds[0])
    angle = tf.random.stateless_uniform([], seeds[1], -1.0, 1.0) * cfg.rotate_degrees * math.pi / 180.0
    zoom = 1.0 + tf.random.stateless_uniform([], seeds[2], -1.0, 1.0) * cfg.zoom_fraction
    shift = tf.random.stateless_uniform([2], seeds[3], -1.0, 1.0) * cfg.shift_fraction * size
    # Output pixel p maps to input pixel A p + b; rotation and zoom about the image centre.
    cos, sin = tf.cos(angle) / zoom, tf.sin(angle) / zoom
    centre = (size - 1.0) / 2.0
    b0 = centre - cos * centre + sin * centre + shift[0]
    b1 = centre - sin * centre - cos * centre + shift[1]
    transform = tf.stack([cos, -sin, b0, sin, cos, b1, 0.0, 0.0])[tf.newaxis]
    image = tf.raw_ops.ImageProjectiveTransformV3(
        images=image[tf.newaxis],
        transforms=transform,
        output_shape=tf.shape(image)[:2],
        interpolation="BILINEAR",
        fill_mode="CONSTANT",
        fill_value=0.0,
    )[0]
    x = image / 255.0
    gamma = tf.exp(tf.random.stateless_uniform([], seeds[4], -1.0, 1.0) * cfg.gamma)
    x = tf.pow(tf.clip_by_value(x, 0.0, 1.0), gamma)
    contrast = 1.0 + tf.random.stateless_uniform([], seeds[5], -1.0, 1.0) * cfg.contrast
    mean = tf.reduce_mean(x)
    x = (x - mean) * contrast + mean
    x = x + tf.random.stateless_uniform([], seeds[6], -1.0, 1.0) * cfg.brightness
    return tf.clip_by_value(x, 0.0, 1.0) * 255.0

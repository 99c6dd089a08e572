"""Hand-made tiny networks with known weights, for checking saliency maps by hand."""

from __future__ import annotations

from typing import Any

import numpy as np

from core.model.model_config import ModelConfig, Preprocessing
from core.model.network import LAST_CONV_LAYER, LOGITS_LAYER, Architecture

SIZE = 32
POOL = 4
CONV_KERNEL = np.array([[1.0, -1.0, 0.5]], dtype=np.float32)  # 1 input channel -> 3 feature channels
CONV_BIAS = np.array([0.0, 0.6, -0.1], dtype=np.float32)
DENSE_KERNEL = np.array(
    [[1.0, -0.5, 0.2, 0.0], [-1.0, 2.0, 0.3, 0.1], [0.5, 0.5, -2.0, 1.0]], dtype=np.float32
)  # 3 feature channels -> 4 classes
DENSE_BIAS = np.array([0.1, -0.2, 0.0, 0.05], dtype=np.float32)


def handmade_config(temperature: float = 1.0) -> ModelConfig:
    """Config for the hand-made model: input = uint8 / 255 (so features are easy to predict)."""
    return ModelConfig(
        architecture=Architecture(input_size=SIZE, channels=1, widths=(3,), depths=(1,), num_classes=4),
        preprocessing=Preprocessing(scale=1.0 / 255.0, offset=0.0),
        temperature=temperature,
        weights_sha256="0" * 64,
    )


def handmade_model() -> Any:
    """image (32, 32, 1) -> 4x4 average pooling -> 1x1 conv (3) -> ReLU = features -> GAP -> dense."""
    import keras
    from keras import layers

    inputs = keras.Input((SIZE, SIZE, 1))
    x = layers.AveragePooling2D(POOL)(inputs)
    conv = layers.Conv2D(3, 1, name="conv")
    x = conv(x)
    x = layers.Activation("relu", name=LAST_CONV_LAYER)(x)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dropout(0.0)(x)
    dense = layers.Dense(4, name=LOGITS_LAYER)
    logits = dense(x)
    model = keras.Model(inputs, logits)
    conv.set_weights([CONV_KERNEL.reshape(1, 1, 1, 3), CONV_BIAS])
    dense.set_weights([DENSE_KERNEL, DENSE_BIAS])
    return model


def hand_features(square: np.ndarray, scale: float = 1.0 / 255.0, offset: float = 0.0) -> np.ndarray:
    """Feature maps (h, w, 3) of the hand-made model for a (32, 32) uint8 slice, in numpy."""
    x = square.astype(np.float64) * scale + offset
    h = SIZE // POOL
    pooled = x.reshape(h, POOL, h, POOL).mean(axis=(1, 3))
    return np.maximum(pooled[..., None] * CONV_KERNEL[0].astype(np.float64) + CONV_BIAS, 0.0)


def hand_logits(square: np.ndarray, scale: float = 1.0 / 255.0, offset: float = 0.0) -> np.ndarray:
    """Logits of the hand-made model, in numpy."""
    return hand_features(square, scale, offset).mean(axis=(0, 1)) @ DENSE_KERNEL.astype(np.float64) + DENSE_BIAS


def write_decisive_tiny_weights(folder: Any, seed: int = 1, gain: float = 3000.0) -> ModelConfig:
    """Tiny VGG19 weights whose logits are spread out (random init gives near-equal probabilities).

    Same as ``tests/tiny_models.write_tiny_weights`` but with the dense kernel multiplied by ``gain``
    so that different images get clearly different labels.
    """
    import keras

    from core.model.model_config import sha256_file
    from core.model.network import build_vgg19

    arch = Architecture(input_size=16, channels=1, widths=(2, 2, 4, 4, 4), dropout=0.0)
    keras.utils.set_random_seed(seed)
    folder.mkdir(parents=True, exist_ok=True)
    model = build_vgg19(arch)
    dense = model.get_layer(LOGITS_LAYER)
    kernel, bias = dense.get_weights()
    dense.set_weights([kernel * gain, bias])
    weights = folder / "decisive.weights.h5"
    model.save_weights(weights)
    config = ModelConfig(architecture=arch, weights_file=weights.name, weights_sha256=sha256_file(weights))
    config.save(folder)
    return config


TINY_VGG = Architecture(input_size=64, channels=1, widths=(4, 4, 8, 8, 8), dropout=0.3)
TINY_TEMPERATURE = 1e-3  # an untrained tiny VGG's logits are about 1e-3: make their differences visible


def seeded_tiny_vgg(seed: int = 5) -> Any:
    """An untrained full-depth VGG19 of :data:`TINY_VGG`, the same for a given seed."""
    import keras

    from core.model.network import build_vgg19

    keras.utils.set_random_seed(seed)
    return build_vgg19(TINY_VGG)


def tiny_vgg_classifier(network: Any, **settings: Any) -> Any:
    """A float32 classifier of ``network`` (see :func:`seeded_tiny_vgg`) with config ``settings``
    (test_time_flip, test_time_strip...)."""
    from core.model import device as dev
    from core.model.classifier import Classifier

    config = ModelConfig(architecture=TINY_VGG, temperature=TINY_TEMPERATURE, **settings)
    return Classifier(network, config, sha256="0" * 64, precision=dev.FLOAT32)


def synthetic_head(side: int, seed: int = 3) -> np.ndarray:
    """A bright scalp ring around a darker, textured brain with an off-centre bright spot, on black."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:side, :side] / side
    radius = np.hypot((yy - 0.5) / 0.42, (xx - 0.5) / 0.36)
    img = np.zeros((side, side), dtype=np.float32)
    img[radius < 1.0] = 230.0  # scalp
    img[radius < 0.88] = 90.0 + 40.0 * rng.random(int((radius < 0.88).sum()))  # brain
    img[(np.abs(yy - 0.4) < 0.06) & (np.abs(xx - 0.6) < 0.05)] = 200.0
    return img.astype(np.uint8)

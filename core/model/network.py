"""The VGG19 classifier topology, defined once for the application and for training.

Five blocks of 3x3 convolutions (2, 2, 4, 4, 4 of them; 64, 128, 256, 512, 512 filters by
default), optional batch normalisation after each convolution (VGG19-BN), 2x2 max pooling
between blocks, then a global-average-pooling head with dropout and a softmax.  Width and
input size are parameters so tests can build tiny versions of the same topology.

Keras is imported inside the functions so that importing this module stays cheap.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import keras

VGG19_DEPTHS: tuple[int, ...] = (2, 2, 4, 4, 4)
VGG19_WIDTHS: tuple[int, ...] = (64, 128, 256, 512, 512)
LAST_CONV_LAYER = "last_conv_features"
LOGITS_LAYER = "logits"


@dataclass(frozen=True)
class Architecture:
    """Parameters that fully determine the network's variables."""

    input_size: int = 128
    channels: int = 1
    widths: tuple[int, ...] = VGG19_WIDTHS
    depths: tuple[int, ...] = VGG19_DEPTHS
    batchnorm: bool = True
    dropout: float = 0.3
    num_classes: int = 4
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["widths"] = list(self.widths)
        data["depths"] = list(self.depths)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Architecture:
        known = {k: data[k] for k in ("input_size", "channels", "batchnorm", "dropout", "num_classes") if k in data}
        return cls(
            widths=tuple(int(w) for w in data.get("widths", VGG19_WIDTHS)),
            depths=tuple(int(d) for d in data.get("depths", VGG19_DEPTHS)),
            extra=dict(data.get("extra", {})),
            **known,
        )


def build_vgg19(arch: Architecture, input_size: int | None = None, *, any_size: bool = False) -> keras.Model:
    """Build the VGG19(-BN) classifier; returns a model mapping images to logits.

    The model's output is the raw logits (float32) so that temperature scaling and softmax
    happen outside the graph; ``input_size`` overrides ``arch.input_size`` (the network is
    fully convolutional up to global pooling, so weights are shared across sizes) and
    ``any_size=True`` leaves height and width open (progressive-resizing training).
    """
    from core.platform.user_paths import keep_keras_home_private

    keep_keras_home_private()
    import keras
    from keras import layers

    if len(arch.widths) != len(arch.depths):
        raise ValueError("widths and depths must have the same length")
    size = input_size or arch.input_size
    side = None if any_size else size
    inputs = keras.Input(shape=(side, side, arch.channels), name="image")
    x = inputs
    for block, (width, depth) in enumerate(zip(arch.widths, arch.depths, strict=True), start=1):
        for conv in range(1, depth + 1):
            last = block == len(arch.widths) and conv == depth
            x = layers.Conv2D(width, 3, padding="same", use_bias=not arch.batchnorm, name=f"block{block}_conv{conv}")(x)
            if arch.batchnorm:
                x = layers.BatchNormalization(name=f"block{block}_bn{conv}")(x)
            x = layers.Activation("relu", name=LAST_CONV_LAYER if last else f"block{block}_relu{conv}")(x)
        if block < len(arch.widths):
            x = layers.MaxPooling2D(2, name=f"block{block}_pool")(x)
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    x = layers.Dropout(arch.dropout, name="head_dropout")(x)
    logits = layers.Dense(arch.num_classes, name=LOGITS_LAYER, dtype="float32")(x)
    return keras.Model(inputs, logits, name="neuroreview_vgg19")


def conv_layer_names(model: keras.Model) -> Sequence[str]:
    """Names of the convolution layers in topological order (used to map ImageNet weights)."""
    return [layer.name for layer in model.layers if layer.name.startswith("block") and "_conv" in layer.name]

"""Start the convolutions from a local Keras VGG19 ImageNet "notop" weights file.

The file is read with h5py as plain arrays (nothing in it is executed): the 16 convolution
kernels are taken in layer order and copied onto the model's 16 convolutions.  With a
one-channel model the first kernel is summed over its RGB inputs.  Biases are dropped because
batch normalisation follows each convolution.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from core.model.network import conv_layer_names
from training.errors import TrainingError

_CONV_NAME = re.compile(r"block(\d+)_conv(\d+)")


def _kernels_in_order(path: Path) -> list[np.ndarray]:
    kernels: list[tuple[str, np.ndarray]] = []
    with h5py.File(path, "r") as handle:

        def visit(name: str, obj: Any) -> None:
            if isinstance(obj, h5py.Dataset) and obj.ndim == 4 and obj.shape[0] == obj.shape[1] == 3:
                kernels.append((name, np.asarray(obj[()], dtype=np.float32)))

        handle.visititems(visit)

    def order(item: tuple[str, np.ndarray]) -> tuple[int, int]:
        match = _CONV_NAME.search(item[0])
        if match is None:
            raise TrainingError(f"--init file: cannot tell which convolution {item[0]!r} is")
        return int(match.group(1)), int(match.group(2))

    return [k for _, k in sorted(kernels, key=order)]


def load_imagenet_convolutions(model: Any, path: Path) -> int:
    """Copy ImageNet VGG19 kernels into ``model``; returns the number of convolutions set."""
    try:
        kernels = _kernels_in_order(Path(path))
    except OSError as exc:
        raise TrainingError(f"cannot read --init weights {path}: {exc}") from exc
    names = conv_layer_names(model)
    if len(kernels) != len(names):
        raise TrainingError(f"--init file has {len(kernels)} 3x3 convolutions, the model has {len(names)}")
    for name, kernel in zip(names, kernels, strict=True):
        layer = model.get_layer(name)
        target = layer.kernel.shape
        if kernel.shape[2] != target[2] and target[2] == 1:
            kernel = kernel.sum(axis=2, keepdims=True)
        if tuple(kernel.shape) != tuple(target):
            raise TrainingError(f"--init kernel for {name} has shape {kernel.shape}, expected {tuple(target)}")
        layer.kernel.assign(kernel)
    return len(names)

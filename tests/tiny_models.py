"""Tiny seeded VGG19-shaped models for tests (importable from any test folder)."""

from __future__ import annotations

from pathlib import Path

from core.model.model_config import ModelConfig, sha256_file
from core.model.network import Architecture

TINY_ARCH = Architecture(input_size=16, channels=1, widths=(2, 2, 4, 4, 4), dropout=0.0)


def write_tiny_weights(folder: Path, seed: int = 0, arch: Architecture = TINY_ARCH) -> ModelConfig:
    """Build a width-reduced VGG19 with seeded random weights and write weights + config into ``folder``."""
    import keras

    from core.model.network import build_vgg19

    keras.utils.set_random_seed(seed)
    folder.mkdir(parents=True, exist_ok=True)
    model = build_vgg19(arch)
    config = ModelConfig(architecture=arch, weights_file="tiny.weights.h5", model_version="test")
    weights = folder / config.weights_file
    model.save_weights(weights)
    config = ModelConfig(
        architecture=arch, weights_file=config.weights_file, weights_sha256=sha256_file(weights), model_version="test"
    )
    config.save(folder)
    return config

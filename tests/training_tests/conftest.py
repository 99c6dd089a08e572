from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

CLASSES = ("glioma", "meningioma", "notumor", "pituitary")


def make_dataset(root: Path, per_class: int = 10, size: int = 32, seed: int = 0) -> Path:
    """Tiny folder-per-class dataset: each class is a bright bar at its own height on noise."""
    rng = np.random.default_rng(seed)
    for c, name in enumerate(CLASSES):
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            img = rng.integers(0, 60, (size, size)).astype(np.uint8)
            top = 3 + c * (size // 5)
            img[top : top + size // 8, size // 4 : 3 * size // 4] = 200 + rng.integers(0, 50)
            Image.fromarray(img).save(root / name / f"{name}_{i:03d}.png")
    return root


@pytest.fixture
def tiny_dataset(tmp_path: Path) -> Path:
    return make_dataset(tmp_path / "data")

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.imaging.render import render_for_model
from core.model.model_config import ModelConfigError, WeightsIntegrityError, load_model_config, verified_weights_path


def test_config_round_trip(tiny_weights_dir: Path) -> None:
    config = load_model_config(tiny_weights_dir)
    assert config.class_names == ("glioma", "meningioma", "notumor", "pituitary")
    assert config.no_tumor_index == 2
    assert verified_weights_path(tiny_weights_dir, config).name == config.weights_file


def test_flipped_byte_is_refused(tiny_weights_dir: Path, tmp_path: Path) -> None:
    config = load_model_config(tiny_weights_dir)
    copy = tmp_path / config.weights_file
    data = bytearray((tiny_weights_dir / config.weights_file).read_bytes())
    data[len(data) // 2] ^= 0x01
    copy.write_bytes(bytes(data))
    with pytest.raises(WeightsIntegrityError, match="integrity"):
        verified_weights_path(tmp_path, config)


def test_missing_config_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ModelConfigError, match="not found"):
        load_model_config(tmp_path)


def test_model_rendering_is_invariant_to_rescale_and_offset() -> None:
    rng = np.random.default_rng(1)
    png = rng.integers(0, 256, size=(32, 40)).astype(np.uint8)
    as_dicom = png.astype(np.float64) * 3.5 - 1024.0  # 16-bit stored values after the modality LUT
    assert np.abs(render_for_model(png).astype(int) - render_for_model(as_dicom).astype(int)).max() <= 1

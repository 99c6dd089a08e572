"""The one heatmap compositor: threshold, opacity and colormap, the same for the screen and the exports."""

from __future__ import annotations

import numpy as np
import pytest

from core.export.overlay import burn_in_overlay
from core.imaging.heatmap import DEFAULT_COLORMAP, HeatmapStyle, colorize, composite, lut


def test_composite_is_the_colorized_layer_blended_over_the_slice() -> None:
    display = np.tile(np.arange(0, 240, 30, dtype=np.uint8), (8, 1))
    heat = np.linspace(0.0, 1.0, 64, dtype=np.float32).reshape(8, 8)
    style = HeatmapStyle("viridis", opacity=0.7, threshold=0.4)
    out = composite(display, heat, style)
    layer = colorize(heat, "viridis", 0.7, 0.4).astype(np.float64)
    alpha = layer[..., 3:] / 255.0
    expected = display[..., None].astype(np.float64) * (1 - alpha) + layer[..., :3] * alpha
    np.testing.assert_allclose(out, np.rint(expected), atol=0)
    below = heat < 0.4
    assert (out[below] == display[below][:, None]).all()  # the threshold hides the cold part entirely
    assert not (out[~below] == display[~below][:, None]).all()


def test_threshold_reaches_the_burned_in_export_too() -> None:
    display = np.full((16, 16), 90, dtype=np.uint8)
    heat = np.zeros((16, 16), dtype=np.float32)
    heat[:, 8:] = 0.3  # a weak half
    heat[:8, 12:] = 1.0
    shown = burn_in_overlay(display, heat, HeatmapStyle(threshold=0.5))
    factor = shown.shape[1] // 16  # the banner upscales by an integer factor
    weak = shown[4 * factor, 9 * factor]
    assert tuple(weak) == (90, 90, 90)  # below the threshold: as displayed
    assert tuple(burn_in_overlay(display, heat, HeatmapStyle(threshold=0.0))[4 * factor, 9 * factor]) != (90, 90, 90)


def test_default_colormap_is_perceptual_and_jet_is_gone() -> None:
    assert DEFAULT_COLORMAP == "inferno" and HeatmapStyle().colormap == "inferno"
    table = lut("inferno").astype(float) @ np.array([0.2126, 0.7152, 0.0722])
    assert np.all(np.diff(table) > -1.0)
    with pytest.raises(ValueError, match="unknown colormap"):
        composite(np.zeros((2, 2), np.uint8), np.ones((2, 2)), HeatmapStyle(colormap="jet"))

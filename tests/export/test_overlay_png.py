"""Burned-in pictures and the as-displayed PNG."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.export.errors import DestinationError, ExportError
from core.export.overlay import blend_heatmap, burn_in_overlay, burn_in_text
from core.export.png import write_view_png
from core.imaging.heatmap import HeatmapStyle, lut


def test_blend_keeps_cold_pixels_and_colours_hot_ones() -> None:
    display = np.full((20, 30), 100, dtype=np.uint8)
    heat = np.zeros((10, 15), dtype=np.float32)  # smaller than the slice: resized
    heat[:, 10:] = 1.0
    out = blend_heatmap(display, heat, HeatmapStyle(opacity=0.6))
    assert out.shape == (20, 30, 3)
    assert (out[:, :5] == 100).all()
    top = lut("inferno")[255].astype(float)  # the default colormap is perceptual, not jet
    assert np.allclose(out[10, 28], 0.4 * 100 + 0.6 * top, atol=1)
    assert (blend_heatmap(display, None) == 100).all()


def test_banner_is_burned_into_the_pixels() -> None:
    display = np.full((64, 64), 128, dtype=np.uint8)
    out = burn_in_overlay(display, None)
    assert out.shape[0] >= 256 and out.shape[0] % 64 == 0  # upscaled by an integer factor for legibility
    bottom = out[-12:]
    assert (bottom == 0).any() and (bottom == 255).any()  # black strip with white text
    assert (out[: out.shape[0] // 2] == 128).all()  # the image itself is untouched above the strip
    assert not np.array_equal(burn_in_text(out, "A"), burn_in_text(out, "NOT FOR DIAGNOSTIC USE"))


@pytest.mark.parametrize(
    ("shape", "expected"),
    [((3000, 10), (3000, 10)), ((10, 300), (130, 3900)), ((5000, 5000), (5000, 5000)), ((10, 100), (260, 2600))],
)
def test_banner_upscaling_never_passes_4096_px(shape: tuple[int, int], expected: tuple[int, int]) -> None:
    out = burn_in_text(np.zeros((*shape, 3), dtype=np.uint8))
    assert out.shape == (*expected, 3)


def test_bad_inputs_raise_clear_errors() -> None:
    with pytest.raises(ValueError, match="uint8"):
        blend_heatmap(np.zeros((4, 4), dtype=np.float32), None)
    with pytest.raises(ValueError, match="unknown colormap"):
        blend_heatmap(np.zeros((4, 4), np.uint8), np.zeros((4, 4)), HeatmapStyle(colormap="jet"))


def test_view_png_is_exactly_the_pixels(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    view = rng.integers(0, 256, size=(17, 23, 3), dtype=np.uint8)
    target = tmp_path / "out" / "view.png"
    write_view_png(target, view, description="slice 3, window C 40 W 80")
    with Image.open(target) as image:
        assert np.array_equal(np.asarray(image), view)
        assert image.text["Disclaimer"] == "Research use only - not for diagnostic use"
        assert "slice 3" in image.text["Description"]


def test_view_png_refuses_source_folder_and_bad_arrays(tmp_path: Path) -> None:
    source = tmp_path / "src" / "a.dcm"
    source.parent.mkdir()
    source.write_bytes(b"x")
    view = np.zeros((4, 4), np.uint8)
    with pytest.raises(DestinationError):
        write_view_png(source.parent / "v.png", view, sources=[source])
    write_view_png(source.parent / "v.png", view, sources=[source], allow_beside_source=True)
    with pytest.raises(ExportError, match="uint8"):
        write_view_png(tmp_path / "v.png", np.zeros((4, 4), np.float64))
    assert not (tmp_path / "v.png").exists()

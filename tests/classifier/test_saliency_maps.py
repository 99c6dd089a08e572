"""Grad-CAM / Grad-CAM++ arithmetic and the mapping back onto the slice (pure numpy)."""

from __future__ import annotations

import numpy as np
import pytest

from core.model.saliency import (
    GRADCAM_PLUS_PLUS,
    check_method,
    gradcam,
    gradcam_plus_plus,
    normalise,
    occlusion_edges,
    occlusion_inputs,
    occlusion_map,
    saliency_maps,
    to_slice_geometry,
)


def test_gradcam_matches_hand_computation() -> None:
    features = np.zeros((1, 2, 2, 2), dtype=np.float32)
    features[0, 0, 0, 0] = 1.0  # channel 0: top-left
    features[0, 1, 1, 1] = 2.0  # channel 1: bottom-right
    grads = np.zeros_like(features)
    grads[..., 0] = 0.5
    grads[0, :, :, 1] = [[-0.5, 0.0], [0.0, 0.5]]
    grads[0, 0, 1, 1] = -1.0  # channel-1 mean = (-0.5 + 0 - 1 + 0.5) / 4 = -0.25
    # alpha = (0.5, -0.25): cam = 0.5 * A0 - 0.25 * A1 = [[0.5, 0], [0, -0.5]] -> ReLU
    expected = np.array([[[0.5, 0.0], [0.0, 0.0]]], dtype=np.float32)
    np.testing.assert_allclose(gradcam(features, grads), expected, atol=1e-7)


def test_gradcam_plus_plus_matches_hand_computation() -> None:
    features = np.array([[[[1.0, 0.0], [3.0, 0.0]], [[0.0, 2.0], [0.0, 2.0]]]], dtype=np.float32)  # (1, 2, 2, 2)
    grads = np.full_like(features, 0.0)
    grads[..., 0] = 0.5
    grads[..., 1] = -0.25
    # channel 0: g = .5, sum A = 4 -> alpha = .25 / (2*.25 + 4*.125) = .25, w0 = 4 cells * .25 * .5 = .5
    # channel 1: relu(g) = 0 -> w1 = 0.  cam = .5 * A0
    expected = 0.5 * features[..., 0]
    np.testing.assert_allclose(gradcam_plus_plus(features, grads), expected, atol=1e-7)


def test_saliency_maps_dispatch_and_names() -> None:
    rng = np.random.default_rng(0)
    features = rng.random((2, 3, 3, 4)).astype(np.float32)
    grads = rng.normal(size=(2, 3, 3, 4)).astype(np.float32)
    np.testing.assert_array_equal(saliency_maps(features, grads, "gradcam"), gradcam(features, grads))
    np.testing.assert_array_equal(saliency_maps(features, grads, "Grad-CAM++"), gradcam_plus_plus(features, grads))
    assert check_method("gradcampp") == GRADCAM_PLUS_PLUS
    with pytest.raises(ValueError, match="unknown saliency method"):
        check_method("lime")
    with pytest.raises(ValueError, match="same shape"):
        gradcam(features, grads[:, :2])


def test_normalise_keeps_zero_maps_zero() -> None:
    assert normalise(np.zeros((3, 3))).max() == 0.0
    out = normalise(np.array([[0.0, 2.0], [1.0, 4.0]]))
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, [[0.0, 0.5], [0.25, 1.0]])


def test_mapping_undoes_square_padding_on_a_wide_slice() -> None:
    # A 40 x 80 slice is padded to an 80 x 80 square with 20 empty rows above it. On a 4 x 4 map,
    # cell (1, 3) covers square rows 20..40 and columns 60..80, i.e. slice rows 0..20.
    cam = np.zeros((4, 4), dtype=np.float32)
    cam[1, 3] = 1.0
    out = to_slice_geometry(cam, (40, 80))
    assert out.shape == (40, 80)
    row, col = np.unravel_index(np.argmax(out), out.shape)
    assert 0 <= row < 20 and 60 <= col < 80
    assert out[35, 10] == 0.0


def test_mapping_of_a_uniform_map_is_uniform_and_tall_slices_work() -> None:
    out = to_slice_geometry(np.ones((2, 2), dtype=np.float32), (50, 20))
    assert out.shape == (50, 20)
    np.testing.assert_allclose(out, 1.0)
    stretched = to_slice_geometry(np.array([[0.0, 1.0]], dtype=np.float32), (10, 30), pad_to_square=False)
    assert stretched.shape == (10, 30)
    assert stretched[:, -1].min() == 1.0 and stretched[:, 0].max() < 0.5


def test_occlusion_inputs_and_map() -> None:
    image = np.arange(16, dtype=np.float32).reshape(4, 4, 1)
    variants = occlusion_inputs(image, fill=-1.0, grid=2)
    assert variants.shape == (4, 4, 4, 1)
    for k, (rows, cols) in enumerate([(slice(0, 2), slice(0, 2)), (slice(0, 2), slice(2, 4)),
                                      (slice(2, 4), slice(0, 2)), (slice(2, 4), slice(2, 4))]):  # fmt: skip
        expected = image.copy()
        expected[rows, cols] = -1.0
        np.testing.assert_array_equal(variants[k], expected)
    edges = occlusion_edges(10, 8)
    assert edges[0] == 0 and edges[-1] == 10 and len(edges) == 9 and np.all(np.diff(edges) >= 1)
    assert len(occlusion_edges(4, 8)) == 5  # never more cells than pixels
    out = occlusion_map(0.8, np.array([0.8, 0.5, 0.9, 0.0]))
    np.testing.assert_allclose(out, [[0.0, 0.3], [0.0, 0.8]], atol=1e-7)
    with pytest.raises(ValueError, match="not computed from gradients"):
        saliency_maps(np.zeros((1, 2, 2, 1)), np.zeros((1, 2, 2, 1)), "occlusion")

"""The finer saliency methods: Layer-CAM arithmetic, block taps of the network and the config's default."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from handmade_models import SIZE, hand_features, handmade_config, handmade_model

from core.model import device as dev
from core.model.classifier import Classifier
from core.model.inference_graph import block_output_names
from core.model.model_config import ModelConfig, ModelConfigError
from core.model.network import LAST_CONV_LAYER, Architecture, build_vgg19
from core.model.saliency import (
    GRADCAM_BLOCK4,
    GRADCAM_VIEWS,
    LAYERCAM,
    METHOD_VIEWS,
    View,
    check_method,
    layercam,
    merge_views,
    shift_image,
    tap_maps,
    to_slice_geometry,
    view_shift_pixels,
)

ARCH = Architecture(input_size=32, channels=1, widths=(2, 2, 4, 4, 4), dropout=0.0)


def test_layercam_matches_hand_computation() -> None:
    features = np.array([[[[1.0, 2.0], [3.0, 0.0]], [[0.0, 1.0], [2.0, 2.0]]]], dtype=np.float32)  # (1, 2, 2, 2)
    grads = np.array([[[[0.5, -1.0], [0.5, 1.0]], [[-2.0, 0.25], [0.0, 1.0]]]], dtype=np.float32)
    # position-wise: sum_k relu(g) * a -> [[0.5, 1.5], [0.25, 2.0]]
    np.testing.assert_allclose(layercam(features, grads), [[[0.5, 1.5], [0.25, 2.0]]], atol=1e-7)


def test_tap_maps_fuse_normalised_maps_on_the_finer_grid() -> None:
    fine_a = np.zeros((1, 4, 4, 1), dtype=np.float32)
    fine_a[0, 0, 0, 0] = 2.0
    fine_g = np.ones_like(fine_a)
    coarse_a = np.ones((1, 2, 2, 1), dtype=np.float32)
    coarse_g = np.ones_like(coarse_a)
    fused = tap_maps([(fine_a, fine_g), (coarse_a, coarse_g)], LAYERCAM)
    assert fused.shape == (1, 4, 4)
    # fine map: 1 at (0, 0), else 0; coarse: 1 everywhere; the mean of both
    assert fused[0, 0, 0] == pytest.approx(1.0)
    np.testing.assert_allclose(fused[0].ravel()[1:], 0.5, atol=1e-6)
    single = tap_maps([(fine_a, fine_g)], LAYERCAM)
    np.testing.assert_allclose(single, layercam(fine_a, fine_g))


def test_method_names() -> None:
    assert check_method("Layer-CAM") == LAYERCAM
    assert check_method("gradcam_block4") == GRADCAM_BLOCK4
    assert check_method("Grad-CAM views") == GRADCAM_VIEWS


def test_block_outputs_of_the_vgg_topology() -> None:
    model = build_vgg19(ARCH)
    names = block_output_names([layer.name for layer in model.layers])
    assert names == ["block1_relu2", "block2_relu2", "block3_relu4", "block4_relu4", LAST_CONV_LAYER]
    assert block_output_names(["x", LAST_CONV_LAYER, "logits"]) == [LAST_CONV_LAYER]


def test_block4_taps_are_the_network_activations_and_their_gradients() -> None:
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(3)
    model = build_vgg19(ARCH)
    clf = Classifier(model, ModelConfig(architecture=ARCH), sha256="0" * 64, precision=dev.FLOAT32)
    rng = np.random.default_rng(0)
    batch = clf.model_input([rng.integers(0, 255, (32, 32), dtype=np.uint8) for _ in range(2)])
    graph = clf._graph
    taps = graph.taps_for((-2, -1))
    assert taps == ("block4_relu4", LAST_CONV_LAYER)
    logits, pairs, chosen = graph.tapped_gradients(batch, np.array([1, 2], dtype=np.int32), taps)
    np.testing.assert_array_equal(chosen, [1, 2])
    sub = keras.Model(model.inputs[0], model.get_layer("block4_relu4").output)
    x = tf.constant(batch)
    with tf.GradientTape() as tape:
        tape.watch(x)
        a4 = sub(x, training=False)
        tape.watch(a4)
        out = model(x, training=False)
    # the same activations and d logit / d A4 as keras computes through the whole model
    inner = keras.Model(model.get_layer("block4_relu4").output, model.outputs[0])
    with tf.GradientTape() as tape2:
        a4v = tf.constant(a4.numpy())
        tape2.watch(a4v)
        score = tf.gather(inner(a4v, training=False), [1, 2], batch_dims=1)
    expected = tape2.gradient(score, a4v).numpy()
    np.testing.assert_allclose(pairs[0][0], a4.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(pairs[0][1], expected, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(logits, out.numpy(), rtol=1e-5, atol=1e-5)
    assert pairs[0][0].shape[1] == 2 * pairs[1][0].shape[1]  # block 4 has twice the last block's resolution


@pytest.mark.parametrize("method", [GRADCAM_BLOCK4, LAYERCAM, GRADCAM_VIEWS])
def test_finer_methods_give_slice_sized_maps_with_and_without_flip(method: str) -> None:
    import keras

    keras.utils.set_random_seed(5)
    for flip in (False, True):
        config = ModelConfig(architecture=ARCH, test_time_flip=flip)
        clf = Classifier(build_vgg19(ARCH), config, sha256="0" * 64, precision=dev.FLOAT32)
        img = np.random.default_rng(1).integers(0, 255, (24, 40), dtype=np.uint8)
        (pred,) = clf.predict([img], heatmap=True, method=method)
        assert pred.heatmap is not None and pred.heatmap.shape == (24, 40)
        assert pred.heatmap_method == method
        assert pred.heatmap.min() >= 0.0 and pred.heatmap.max() <= 1.0


def test_one_block_network_refuses_block4_and_layercam_uses_its_only_block() -> None:
    clf = Classifier(handmade_model(), handmade_config(), sha256="ab" * 32, precision=dev.FLOAT32)
    square = np.zeros((SIZE, SIZE), dtype=np.uint8)
    square[4:12, 20:28] = 250
    with pytest.raises(ValueError, match="convolution block"):
        clf.predict([square], heatmap="glioma", method=GRADCAM_BLOCK4)
    (pred,) = clf.predict([square], heatmap="glioma", method=LAYERCAM)
    from handmade_models import DENSE_KERNEL

    feats = hand_features(square)
    grads = np.broadcast_to(DENSE_KERNEL[:, 0] / feats[..., 0].size, feats.shape)
    hand = np.maximum((feats * np.maximum(grads, 0.0)).sum(axis=-1), 0.0)
    np.testing.assert_allclose(pred.heatmap, to_slice_geometry(hand, (SIZE, SIZE)), atol=1e-5)


def test_the_config_names_the_default_method() -> None:
    clf = Classifier(handmade_model(), handmade_config(), sha256="ab" * 32, precision=dev.FLOAT32)
    square = np.zeros((SIZE, SIZE), dtype=np.uint8)
    square[4:12, 20:28] = 250
    assert clf.predict([square], heatmap=True)[0].heatmap_method == "gradcam"
    chosen = replace(handmade_config(), saliency={"default_method": LAYERCAM, "localisation": {}})
    clf2 = Classifier(handmade_model(), chosen, sha256="ab" * 32, precision=dev.FLOAT32)
    assert clf2.predict([square], heatmap=True)[0].heatmap_method == LAYERCAM
    data = chosen.to_json()
    assert ModelConfig.from_json(data).default_saliency_method == LAYERCAM
    with pytest.raises(ModelConfigError, match="saliency"):
        ModelConfig.from_json({**data, "saliency": {"default_method": 3}})


def _as_seen_by(view: View, image: np.ndarray, step: int) -> np.ndarray:
    moved = shift_image(image, view.down * step, view.right * step, 0.0)
    return moved[:, ::-1] if view.mirrored else moved


def test_merge_views_lines_every_view_up_with_the_image() -> None:
    side = 32
    step = view_shift_pixels(side)
    assert step == 2
    blob = np.zeros((side, side), dtype=np.float32)
    blob[6:10, 20:25] = 1.0
    views = METHOD_VIEWS[GRADCAM_VIEWS]
    seen = np.stack([_as_seen_by(view, blob, step) for view in views])  # view-major, one image
    merged = merge_views(seen, views, side)
    assert merged.shape == (1, side, side)
    np.testing.assert_allclose(merged[0], blob, atol=1e-6)
    # a map that did not move with its view would be smeared: the merge is not a plain mean
    assert not np.allclose(seen.mean(axis=0), blob)
    with pytest.raises(ValueError, match="views"):
        merge_views(np.concatenate([seen, seen[:1]]), views, side)


def test_shift_image_fills_what_it_uncovers() -> None:
    image = np.arange(16, dtype=np.float32).reshape(4, 4)
    moved = shift_image(image, 1, -2, -1.0)
    np.testing.assert_array_equal(moved[0], -1.0)
    np.testing.assert_array_equal(moved[1:, 2:], -1.0)
    np.testing.assert_array_equal(moved[1:, :2], image[:3, 2:])


def test_views_go_through_the_network_shifted_and_mirrored() -> None:
    import keras

    keras.utils.set_random_seed(4)
    model = build_vgg19(ARCH)
    config = ModelConfig(architecture=ARCH)
    clf = Classifier(model, config, sha256="0" * 64, precision=dev.FLOAT32)
    rng = np.random.default_rng(2)
    batch = clf.model_input([rng.integers(0, 255, (32, 32), dtype=np.uint8) for _ in range(2)])
    graph = clf._graph
    taps = graph.taps_for((-1,))
    views = METHOD_VIEWS[GRADCAM_VIEWS]
    logits, ((features, grads),), chosen = graph.tapped_gradients(
        batch, np.array([-1, 3], dtype=np.int32), taps, views=views
    )
    plain_logits, ((plain_features, _),), _ = graph.tapped_gradients(batch, np.array([-1, 3], dtype=np.int32), taps)
    assert features.shape[0] == grads.shape[0] == len(views) * 2
    np.testing.assert_allclose(logits, plain_logits, rtol=1e-5, atol=1e-5)  # the prediction is the image's
    np.testing.assert_allclose(features[:2], plain_features, rtol=1e-5, atol=1e-6)
    assert chosen[1] == 3
    step = view_shift_pixels(32)
    black = float(config.preprocessing.offset)
    for v, view in enumerate(views[1:], start=1):
        seen = shift_image(batch[..., 0], view.down * step, view.right * step, black)
        seen = seen[:, :, ::-1] if view.mirrored else seen
        _, ((expected, _),), _ = graph.tapped_gradients(np.ascontiguousarray(seen[..., None]), chosen, taps)
        np.testing.assert_allclose(features[2 * v : 2 * v + 2], expected, rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="first view"):
        graph.tapped_gradients(batch, chosen, taps, views=views[1:])
    with pytest.raises(ValueError, match="mirror view"):
        graph.tapped_gradients(batch, chosen, taps, mirrored=True, views=(View(0, 0, False), View(1, 1, False)))


def test_views_map_points_at_the_evidence_of_the_handmade_network() -> None:
    clf = Classifier(handmade_model(), handmade_config(), sha256="ab" * 32, precision=dev.FLOAT32)
    square = np.zeros((SIZE, SIZE), dtype=np.uint8)
    square[4:12, 20:28] = 250
    (plain,) = clf.predict([square], heatmap="glioma")
    (viewed,) = clf.predict([square], heatmap="glioma", method=GRADCAM_VIEWS)
    np.testing.assert_allclose(viewed.probabilities, plain.probabilities, rtol=1e-6)
    assert viewed.heatmap is not None and viewed.heatmap.shape == (SIZE, SIZE)
    peak = np.unravel_index(int(np.argmax(viewed.heatmap)), viewed.heatmap.shape)
    assert 4 <= peak[0] < 12 and 20 <= peak[1] < 28

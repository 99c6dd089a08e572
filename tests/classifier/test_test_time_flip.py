"""Test-time flip (``test_time_flip`` in the weights' config): each slice is classified together with its
left-right mirror image and the logits are averaged; heatmaps explain that averaged score."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from handmade_models import TINY_TEMPERATURE, TINY_VGG, seeded_tiny_vgg, tiny_vgg_classifier

from core.model.classifier import Classifier, softmax
from core.model.model_config import ModelConfig, ModelConfigError, load_model_config

ARCH, TEMPERATURE = TINY_VGG, TINY_TEMPERATURE


@pytest.fixture(scope="module")
def network():  # type: ignore[no-untyped-def]
    return seeded_tiny_vgg()


def _classifier(network, flip: bool) -> Classifier:  # type: ignore[no-untyped-def]
    return tiny_vgg_classifier(network, test_time_flip=flip)


def _slices(count: int = 3) -> list[np.ndarray]:
    rng = np.random.default_rng(3)
    out = []
    for _ in range(count):
        img = rng.integers(0, 60, (64, 64), dtype=np.uint8)
        top, left = rng.integers(4, 40, size=2)
        img[top : top + 18, left : left + 12] = 230  # an off-centre bright block: not mirror-symmetric
        out.append(img)
    return out


def test_probabilities_are_the_softmax_of_the_mean_of_both_views(network) -> None:  # type: ignore[no-untyped-def]
    clf = _classifier(network, flip=True)
    slices = _slices()
    batch = clf.model_input(slices)
    plain = np.asarray(network(batch, training=False), dtype=np.float64)
    mirrored = np.asarray(network(batch[:, :, ::-1, :].copy(), training=False), dtype=np.float64)
    expected = softmax((plain + mirrored) / 2, TEMPERATURE)
    assert np.abs(softmax(plain, TEMPERATURE) - expected).max() > 1e-3  # the two views really differ
    for pred, row in zip(clf.predict(slices), expected, strict=True):
        np.testing.assert_allclose(pred.probabilities, row, atol=1e-5)
    for pred, row in zip(_classifier(network, flip=False).predict(slices), plain, strict=True):
        np.testing.assert_allclose(pred.probabilities, softmax(row[None], TEMPERATURE)[0], atol=1e-5)


@pytest.mark.parametrize("method", ["gradcam", "gradcam++", "occlusion"])
def test_a_mirrored_slice_gets_the_mirrored_result(network, method: str) -> None:  # type: ignore[no-untyped-def]
    """With flip averaging a slice and its mirror image are the same two views, so the prediction is the
    same and the heatmap is the mirror image; without it they differ (the test would notice a no-op)."""
    slices = _slices(2)
    mirrors = [s[:, ::-1].copy() for s in slices]
    clf = _classifier(network, flip=True)
    for pred, twin in zip(
        clf.predict(slices, heatmap=True, method=method), clf.predict(mirrors, heatmap=True, method=method), strict=True
    ):
        np.testing.assert_allclose(pred.probabilities, twin.probabilities, atol=1e-5)
        assert pred.heatmap is not None and twin.heatmap is not None and pred.heatmap_class == twin.heatmap_class
        assert pred.heatmap.max() > 0
        np.testing.assert_allclose(pred.heatmap, twin.heatmap[:, ::-1], atol=1e-4)
    plain = _classifier(network, flip=False)
    one, other = plain.predict([slices[0], mirrors[0]], heatmap="glioma", method=method)
    assert np.abs(np.subtract(one.probabilities, other.probabilities)).max() > 1e-4
    assert one.heatmap is not None and other.heatmap is not None
    assert np.abs(one.heatmap - other.heatmap[:, ::-1]).max() > 1e-3


def test_gradcam_explains_the_averaged_score(network) -> None:  # type: ignore[no-untyped-def]
    """Grad-CAM of the mean logit = the image's map plus the mirror image's map, mirrored back."""
    from core.model.saliency import to_slice_geometry

    flip, plain = _classifier(network, flip=True), _classifier(network, flip=False)
    (img,) = _slices(1)
    target = np.array([1], dtype=np.int32)
    _, f1, g1, _ = plain._graph.logits_and_gradients(plain.model_input([img]), target)
    _, f2, g2, _ = plain._graph.logits_and_gradients(plain.model_input([img[:, ::-1].copy()]), target)
    from core.model.saliency import gradcam

    hand = gradcam(f1, g1)[0] + gradcam(f2, g2)[0][:, ::-1]
    (pred,) = flip.predict([img], heatmap="meningioma")
    np.testing.assert_allclose(pred.heatmap, to_slice_geometry(hand, img.shape), atol=1e-4)


def test_config_flag_round_trip_and_default(tmp_path: Path) -> None:
    config = ModelConfig(architecture=ARCH, test_time_flip=True)
    config.save(tmp_path)
    assert load_model_config(tmp_path).test_time_flip is True
    data = json.loads((tmp_path / "model_config.json").read_text(encoding="utf-8"))
    del data["test_time_flip"]  # configs written before the flag existed classify one view
    assert ModelConfig.from_json(data).test_time_flip is False
    with pytest.raises(ModelConfigError, match="test_time_flip must be true or false"):
        ModelConfig.from_json({**data, "test_time_flip": "yes"})
    assert replace(config, test_time_flip=False).to_json()["test_time_flip"] is False

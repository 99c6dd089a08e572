"""Test-time strip (``test_time_strip`` in the weights' config): each slice is classified together with its
view stripped to a rough brain outline, and the logits are averaged; heatmaps explain that averaged score
but are drawn from the slice as it is."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from handmade_models import TINY_TEMPERATURE, TINY_VGG, seeded_tiny_vgg, synthetic_head, tiny_vgg_classifier

from core.imaging.brain_outline import brain_outline, stripped_view
from core.model.classifier import Classifier, softmax
from core.model.model_config import ModelConfig, ModelConfigError, load_model_config

ARCH, TEMPERATURE = TINY_VGG, TINY_TEMPERATURE
DEPTH = 0.09
ARCH_CLASSES = ModelConfig(architecture=ARCH).class_names


@pytest.fixture(scope="module")
def network():  # type: ignore[no-untyped-def]
    return seeded_tiny_vgg()


def _classifier(network, depth: float) -> Classifier:  # type: ignore[no-untyped-def]
    return tiny_vgg_classifier(network, test_time_strip=depth)


def test_the_stripped_view_blanks_the_scalp_and_keeps_the_brain() -> None:
    img = synthetic_head(160)
    view = stripped_view(img, DEPTH)
    assert view.shape == img.shape and view.dtype == np.uint8
    ring = (img == 230) & (np.abs(np.arange(160) - 80)[None, :] > 40)  # scalp at the left and right edges
    assert (view[ring] == 0).all()
    centre = view[70:90, 70:90]
    assert (centre > 0).all()
    assert view.max() == 255  # rendered again: the grey range now spans the brain, not the scalp


def test_pictures_without_a_head_come_back_as_they_are() -> None:
    blank = np.zeros((96, 96), dtype=np.uint8)
    assert brain_outline(blank.astype(np.float32), DEPTH) is None
    assert (stripped_view(blank, DEPTH) == 0).all()


def test_the_reduced_outline_of_a_large_slice_matches_the_full_size_one() -> None:
    """The product blurs the outline of a large slice at 128 pixels a side; training blurs at full size."""
    img = synthetic_head(512).astype(np.float32) / 255.0
    reduced, full = brain_outline(img, DEPTH), brain_outline(img, DEPTH, max_side=None)
    assert reduced is not None and full is not None
    assert 0.3 < full.mean() < 0.6
    assert np.mean(reduced != full) < 0.01


def test_probabilities_are_the_softmax_of_the_mean_of_both_views(network) -> None:  # type: ignore[no-untyped-def]
    clf, plain_clf = _classifier(network, DEPTH), _classifier(network, 0.0)
    slices = [synthetic_head(64, seed) for seed in (1, 2, 3)]
    plain = np.asarray(network(clf.model_input(slices), training=False), dtype=np.float64)
    views = clf.model_input([stripped_view(s, DEPTH) for s in slices])
    stripped = np.asarray(network(views, training=False), dtype=np.float64)
    expected = softmax((plain + stripped) / 2, TEMPERATURE)
    assert np.abs(softmax(plain, TEMPERATURE) - expected).max() > 1e-3  # the two views really differ
    for method in (None, "gradcam"):
        heatmap = method is not None
        for pred, row in zip(clf.predict(slices, heatmap=heatmap, method=method), expected, strict=True):
            np.testing.assert_allclose(pred.probabilities, row, atol=1e-5)
            if heatmap:  # the map explains the class the averaged score predicts
                assert pred.heatmap is not None and pred.heatmap_class == ARCH_CLASSES[int(row.argmax())]
    # occlusion compares the slice as it is with its occluded copies: the map does not depend on the stripped view
    (strip_map,) = clf.predict(slices[:1], heatmap="glioma", method="occlusion")
    (plain_map,) = plain_clf.predict(slices[:1], heatmap="glioma", method="occlusion")
    assert strip_map.heatmap is not None and plain_map.heatmap is not None
    np.testing.assert_allclose(strip_map.heatmap, plain_map.heatmap, atol=1e-5)
    for pred, row in zip(plain_clf.predict(slices), plain, strict=True):
        np.testing.assert_allclose(pred.probabilities, softmax(row[None], TEMPERATURE)[0], atol=1e-5)


def test_config_setting_round_trip_default_and_limits(tmp_path: Path) -> None:
    ModelConfig(architecture=ARCH, test_time_strip=DEPTH).save(tmp_path)
    assert load_model_config(tmp_path).test_time_strip == DEPTH
    data = json.loads((tmp_path / "model_config.json").read_text(encoding="utf-8"))
    del data["test_time_strip"]  # configs written before the setting existed classify the slice alone
    assert ModelConfig.from_json(data).test_time_strip == 0.0
    assert "test_time_strip" not in ModelConfig.from_json(data).to_json()
    for bad in (-0.1, 0.3, True, "0.09"):
        with pytest.raises(ModelConfigError, match="test_time_strip must be"):
            ModelConfig.from_json({**data, "test_time_strip": bad})

"""Tumor prior shift (``tumor_prior_shift`` in the weights' config): after calibration the tumor classes gain
that many log-odds against notumor, and the label, P(tumor), the heatmap's class and the series verdict all
read the shifted probabilities."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from handmade_models import (
    SIZE,
    TINY_TEMPERATURE,
    TINY_VGG,
    hand_logits,
    handmade_config,
    handmade_model,
    seeded_tiny_vgg,
    synthetic_head,
    tiny_vgg_classifier,
)

from core.imaging.brain_outline import stripped_view
from core.model import device as dev
from core.model.classifier import Classifier, decision_logits, softmax
from core.model.model_config import ModelConfig, ModelConfigError, load_model_config
from core.model.series_summary import summarize_series

TEMPERATURE = 2.0
NOTUMOR = 2


def _dark_square() -> np.ndarray:
    """The hand-made model calls a dark square meningioma, with notumor second (logits 1.0 and 0.18)."""
    return np.full((SIZE, SIZE), 5, dtype=np.uint8)


def _handmade(shift: float) -> Classifier:
    config = replace(handmade_config(temperature=TEMPERATURE), tumor_prior_shift=shift)
    return Classifier(handmade_model(), config, sha256="ab" * 32, precision=dev.FLOAT32)


def test_the_shift_moves_notumor_log_odds_by_exactly_the_shift() -> None:
    logits = np.array([[0.3, -1.2, 0.9, 0.1], [2.0, 0.0, -0.5, 0.4]], dtype=np.float32)
    config = replace(handmade_config(temperature=TEMPERATURE), tumor_prior_shift=0.7)
    before, after = softmax(logits, TEMPERATURE), softmax(decision_logits(logits, config), TEMPERATURE)
    for tumor_class in (0, 1, 3):
        change = np.log(after[:, NOTUMOR] / after[:, tumor_class]) - np.log(before[:, NOTUMOR] / before[:, tumor_class])
        np.testing.assert_allclose(change, -0.7, atol=1e-5)
    np.testing.assert_array_equal(decision_logits(logits, replace(config, tumor_prior_shift=0.0)), logits)


def test_label_p_tumor_heatmap_class_and_series_verdict_follow_the_shift() -> None:
    square = _dark_square()
    expected_plain = softmax(hand_logits(square)[None], TEMPERATURE)[0]
    assert int(expected_plain.argmax()) == 1  # meningioma without the shift
    for shift, label in ((0.0, "meningioma"), (-2.0, "notumor")):  # 0.82 / 2 log-odds apart: -2 flips it
        clf = _handmade(shift)
        expected = softmax(hand_logits(square)[None] - np.eye(4)[NOTUMOR] * TEMPERATURE * shift, TEMPERATURE)[0]
        (pred,) = clf.predict([square], heatmap=True, method="gradcam")
        np.testing.assert_allclose(pred.probabilities, expected, atol=1e-5)
        assert pred.label == label and pred.heatmap_class == label
        assert pred.p_tumor == pytest.approx(1.0 - expected[NOTUMOR], abs=1e-5)
        verdict = summarize_series([pred] * 3)
        assert verdict.label == ("meningioma" if shift == 0.0 else "notumor")


def test_the_shift_applies_after_the_stripped_view_is_averaged() -> None:
    network = seeded_tiny_vgg()
    clf = tiny_vgg_classifier(network, test_time_strip=0.09, tumor_prior_shift=1.5)
    slices = [synthetic_head(64, seed) for seed in (1, 2, 3)]
    plain = np.asarray(network(clf.model_input(slices), training=False), dtype=np.float64)
    stripped = np.asarray(network(clf.model_input([stripped_view(s, 0.09) for s in slices]), training=False))
    assert np.abs(stripped - plain).max() > 1e-6  # the stripped view is another input
    mean = (plain + stripped) / 2
    expected = softmax(mean - np.eye(4)[NOTUMOR] * TINY_TEMPERATURE * 1.5, TINY_TEMPERATURE)
    assert np.abs(expected - softmax(mean, TINY_TEMPERATURE)).max() > 1e-2  # the shift really moves them
    for pred, row in zip(clf.predict(slices, heatmap=True, method="gradcam"), expected, strict=True):
        np.testing.assert_allclose(pred.probabilities, row, atol=1e-4)
        assert pred.heatmap_class == clf.class_names[int(row.argmax())]


def test_config_setting_round_trip_default_and_limits(tmp_path: Path) -> None:
    ModelConfig(architecture=TINY_VGG, tumor_prior_shift=0.6).save(tmp_path)
    assert load_model_config(tmp_path).tumor_prior_shift == 0.6
    data = json.loads((tmp_path / "model_config.json").read_text(encoding="utf-8"))
    del data["tumor_prior_shift"]  # configs written before the setting existed read the model as it is
    assert ModelConfig.from_json(data).tumor_prior_shift == 0.0
    assert "tumor_prior_shift" not in ModelConfig.from_json(data).to_json()
    for bad in (3.5, -4.0, True, "0.6", float("nan")):
        with pytest.raises(ModelConfigError, match="tumor_prior_shift must be"):
            ModelConfig.from_json({**data, "tumor_prior_shift": bad})


def test_the_model_card_states_the_shift() -> None:
    from training.model_card import render_model_card

    assert "Tumor prior shift" in render_model_card(ModelConfig(architecture=TINY_VGG, tumor_prior_shift=0.6))
    assert "Tumor prior shift" not in render_model_card(ModelConfig(architecture=TINY_VGG))

"""Metrics against hand-computed values, and ImageNet initialisation from a synthetic file."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from core.model.classifier import softmax
from core.model.network import Architecture, build_vgg19
from training.errors import TrainingError
from training.imagenet_init import load_imagenet_convolutions
from training.metrics import (
    classification_metrics,
    cross_fitted_ece,
    expected_calibration_error,
    fit_temperature,
    roc_auc,
)


def test_roc_auc_matches_pair_counting() -> None:
    rng = np.random.default_rng(0)
    scores = rng.normal(size=200).round(1)  # with ties
    positives = rng.random(200) < 0.4
    pos, neg = scores[positives], scores[~positives]
    brute = ((pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()) / (len(pos) * len(neg))
    assert roc_auc(scores, positives) == pytest.approx(brute)


def test_temperature_is_recovered() -> None:
    rng = np.random.default_rng(1)
    logits = rng.normal(scale=3.0, size=(4000, 4))
    labels = np.array([rng.choice(4, p=p) for p in softmax(logits, 2.0)])  # true temperature 2
    assert fit_temperature(logits, labels) == pytest.approx(2.0, rel=0.1)


def test_cross_fitted_ece_never_judges_a_fold_by_its_own_temperature() -> None:
    rng = np.random.default_rng(2)
    logits = rng.normal(scale=3.0, size=(3000, 4))
    labels = np.array([rng.choice(4, p=p) for p in softmax(logits, 2.0)])
    ece, temperatures = cross_fitted_ece(logits, labels, folds=5)
    assert len(temperatures) == 5 and all(t == pytest.approx(2.0, rel=0.15) for t in temperatures)
    assert ece < 0.03  # well calibrated once each fold gets the temperature of the others
    assert cross_fitted_ece(logits, labels, folds=5) == (ece, temperatures)  # seeded folds
    # labels the temperature can only fit in-sample: pure noise.  Fitting and judging on the same
    # images looks better calibrated than the held-out folds do.
    noise = rng.integers(0, 4, size=60)
    small = rng.normal(scale=3.0, size=(60, 4))
    in_sample = expected_calibration_error(softmax(small, fit_temperature(small, noise)), noise)
    assert cross_fitted_ece(small, noise, folds=5)[0] > in_sample


def test_ece_and_confusion() -> None:
    probs = np.array([[0.9, 0.1], [0.9, 0.1], [0.6, 0.4], [0.2, 0.8]])
    labels = np.array([0, 1, 0, 1])
    # bins: 0.9 -> acc 0.5 (2 items), 0.6 -> acc 1, 0.8 -> acc 1
    expected = 0.5 * abs(0.5 - 0.9) + 0.25 * abs(1 - 0.6) + 0.25 * abs(1 - 0.8)
    assert expected_calibration_error(probs, labels) == pytest.approx(expected)
    m = classification_metrics(np.log(probs), labels, ["notumor", "glioma"])
    assert m["confusion_matrix"] == [[2, 0], [1, 1]]
    assert m["tumor_sensitivity"] == pytest.approx(0.5) and m["tumor_specificity"] == pytest.approx(1.0)


def _keras2_style_file(path: Path, widths: tuple[int, ...], depths: tuple[int, ...], rng: np.random.Generator) -> list:
    kernels, cin = [], 3
    with h5py.File(path, "w") as f:
        for b, (w, d) in enumerate(zip(widths, depths, strict=True), start=1):
            for c in range(1, d + 1):
                name = f"block{b}_conv{c}"
                k = rng.normal(size=(3, 3, cin, w)).astype(np.float32)
                g = f.create_group(name)
                g.create_dataset(f"{name}_W_1:0", data=k)
                g.create_dataset(f"{name}_b_1:0", data=np.zeros(w, np.float32))
                kernels.append(k)
                cin = w
    return kernels


def test_imagenet_init_maps_by_layer_order(tmp_path: Path) -> None:
    arch = Architecture(input_size=16, channels=1, widths=(2, 2, 4, 4, 4))
    kernels = _keras2_style_file(tmp_path / "vgg19_notop.h5", arch.widths, arch.depths, np.random.default_rng(0))
    model = build_vgg19(arch)
    assert load_imagenet_convolutions(model, tmp_path / "vgg19_notop.h5") == 16
    np.testing.assert_allclose(model.get_layer("block1_conv1").kernel.numpy(), kernels[0].sum(axis=2, keepdims=True))
    np.testing.assert_allclose(model.get_layer("block5_conv4").kernel.numpy(), kernels[-1])
    wrong = Architecture(input_size=16, channels=1, widths=(2, 2, 4, 4, 8))
    with pytest.raises(TrainingError, match="shape"):
        load_imagenet_convolutions(build_vgg19(wrong), tmp_path / "vgg19_notop.h5")

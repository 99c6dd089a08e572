"""The learned intended-use score: fit and calibration on synthetic features, statistics beside the weights."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from core.model.classifier import Classifier
from core.model.model_config import GUARD_FILENAME, WeightsIntegrityError, load_model_config
from core.model.ood_guard import GuardStatsError, calibrate, fit_guard_stats, load_guard_stats
from core.model.prediction import Prediction, outside_text
from training.guard_fit import Features, extract, feature_function, fit_from_features, install_guard


@pytest.fixture(autouse=True)
def _float32(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEUROREVIEW_PRECISION", "float32")


def _clusters(n: int, seed: int, shift: float = 0.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Three Gaussian classes in 6-D features, with logits that are confident about the right class."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, n)
    centres = np.eye(3, 6) * 4.0
    pooled = centres[labels] + rng.normal(0, 1, (n, 6)) + shift
    logits = np.eye(3)[labels] * 6.0 + rng.normal(0, 0.5, (n, 3))
    return pooled, logits, labels


def test_calibration_flags_about_the_requested_share_and_far_images() -> None:
    pooled, logits, labels = _clusters(3000, 0)
    stats = fit_guard_stats(pooled, logits, labels, num_classes=3)
    val_pooled, val_logits, _ = _clusters(2000, 1)
    stats = calibrate(stats, val_pooled, val_logits, 0.01)
    assert np.mean(stats.scores(val_pooled, val_logits) > stats.threshold) == pytest.approx(0.01, abs=0.002)
    fresh_pooled, fresh_logits, _ = _clusters(2000, 2)
    assert np.mean(stats.scores(fresh_pooled, fresh_logits) > stats.threshold) < 0.03
    far_pooled, _, _ = _clusters(200, 3, shift=8.0)
    flat_logits = np.zeros((200, 3))  # no class stands out: high energy
    assert np.all(stats.scores(far_pooled, flat_logits) > stats.threshold)


def test_the_feature_score_alone_catches_confident_outliers() -> None:
    pooled, logits, labels = _clusters(2000, 0)
    stats = calibrate(fit_guard_stats(pooled, logits, labels, num_classes=3), *_clusters(1000, 1)[:2])
    far_pooled, confident, _ = _clusters(100, 4, shift=10.0)
    assert np.mean(stats.scores(far_pooled, confident) > stats.threshold) > 0.95


def test_statistics_round_trip_as_float32_without_pickle(tmp_path: Path) -> None:
    pooled, logits, labels = _clusters(500, 0)
    stats = calibrate(fit_guard_stats(pooled, logits, labels, num_classes=3), pooled, logits)
    loaded = load_guard_stats(stats.save(tmp_path / "g.npz"))
    assert loaded.whitening.dtype == np.float32 and loaded.threshold == pytest.approx(stats.threshold)
    np.testing.assert_allclose(loaded.scores(pooled, logits), stats.scores(pooled, logits), rtol=1e-5)
    (tmp_path / "bad.npz").write_bytes(b"not an npz")
    with pytest.raises(GuardStatsError):
        load_guard_stats(tmp_path / "bad.npz")


@pytest.fixture(scope="module")
def guarded_weights(tmp_path_factory: pytest.TempPathFactory, tiny_weights_dir: Path) -> Path:
    """The tiny weights with guard statistics fitted on its features of seeded random images."""
    folder = tmp_path_factory.mktemp("guarded")
    for item in tiny_weights_dir.iterdir():
        shutil.copy(item, folder / item.name)
    fn, config = feature_function(folder)
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (16, 16), dtype=np.uint8) for _ in range(80)]
    logits, pooled = extract(fn, images, config)
    labels = rng.integers(0, 4, 80)
    train, val = Features(logits[:60], pooled[:60], labels[:60]), Features(logits[60:], pooled[60:], labels[60:])
    install_guard(folder, fit_from_features(train, val, num_classes=4, flagged_fraction=0.05))
    return folder


def test_the_classifier_loads_the_statistics_named_by_the_config(guarded_weights: Path) -> None:
    config = load_model_config(guarded_weights)
    assert config.guard_file == GUARD_FILENAME and len(config.guard_sha256) == 64
    classifier = Classifier.from_folder(guarded_weights, warm_up=False)
    assert classifier.guard is not None and "learned pixel score" in classifier.guard_note
    image = np.random.default_rng(5).integers(0, 256, (16, 16), dtype=np.uint8)
    plain, with_map = classifier.predict([image])[0], classifier.predict([image], heatmap=True)[0]
    assert plain.guard_score is not None
    assert with_map.guard_score == pytest.approx(plain.guard_score, rel=1e-4)  # one score, either pass


def test_a_slice_above_the_threshold_is_outside_with_a_reason(guarded_weights: Path) -> None:
    from dataclasses import replace

    classifier = Classifier.from_folder(guarded_weights, warm_up=False)
    image = np.random.default_rng(6).integers(0, 256, (16, 16), dtype=np.uint8)
    score = classifier.predict([image])[0].guard_score
    assert score is not None and classifier.guard is not None
    classifier._guard = replace(classifier.guard, threshold=score - 0.01)
    outside = classifier.predict([image], heatmap=True)[0]
    assert not outside.inside_intended_use and "unlike the brain MR slices" in outside.outside_reason
    assert outside.as_record()["intended_use"] == "outside"
    classifier._guard = replace(classifier.guard, threshold=score + 0.01)
    assert classifier.predict([image])[0].inside_intended_use


def test_altered_statistics_refuse_to_load(guarded_weights: Path, tmp_path: Path) -> None:
    folder = tmp_path / "altered"
    shutil.copytree(guarded_weights, folder)
    data = (folder / GUARD_FILENAME).read_bytes()
    (folder / GUARD_FILENAME).write_bytes(data[:-1] + bytes([data[-1] ^ 1]))
    with pytest.raises(WeightsIntegrityError, match="intended-use guard"):
        Classifier.from_folder(folder, warm_up=False)
    (folder / GUARD_FILENAME).unlink()
    with pytest.raises(WeightsIntegrityError, match="not found"):
        Classifier.from_folder(folder, warm_up=False)


def test_weights_without_statistics_keep_working_with_rules_only(tiny_weights_dir: Path) -> None:
    assert "guard" not in json.loads((tiny_weights_dir / "model_config.json").read_text())
    classifier = Classifier.from_folder(tiny_weights_dir, warm_up=False)
    assert classifier.guard is None and "header rules only" in classifier.guard_note
    prediction = classifier.predict([np.zeros((16, 16), dtype=np.uint8)])[0]
    assert prediction.guard_score is None and prediction.inside_intended_use


def test_header_reason_wins_and_is_in_the_record() -> None:
    base = Prediction(("a", "notumor"), (0.9, 0.1), "a", 0.9, "x" * 64, "CPU", "float32", 1.0)
    assert base.as_record()["intended_use"] == "inside" and "intended_use_reason" not in base.as_record()
    outside = base.with_outside_reason("modality CT (CT), not MR")
    record = outside.as_record()
    assert record["intended_use"] == "outside" and record["intended_use_reason"] == "modality CT (CT), not MR"
    assert record["probabilities"] == base.as_record()["probabilities"]  # kept for research use
    assert outside_text(outside.outside_reason) == "Outside intended use: modality CT (CT), not MR"

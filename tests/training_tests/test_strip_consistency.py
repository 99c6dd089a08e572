"""The strip-consistency loss: every realistic sample shown with a stripped twin, and the same answer asked
for both."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from training import realism
from training.config import TrainConfig
from training.errors import RunFolderError
from training.mask_training import MaskedTraining, epoch_samples, with_strip_consistency
from training.masked_data import MaskedDataset, MaskedSplit
from training.realism import RealismConfig
from training.trainer import start_run

from .test_realistic_training import STILL, head_with_scalp, tiny_realistic_run

CLASSES = ["glioma", "meningioma", "notumor", "pituitary"]


def _scalp_heads() -> tuple[MaskedTraining, np.ndarray, np.ndarray]:
    """Three masked slices of a head with a bright scalp band, and the band and brain masks."""
    image, band, brain = head_with_scalp(64)
    mask = np.zeros(image.shape, bool)
    mask[28:36, 28:36] = True
    masked = MaskedDataset(np.stack([image] * 3), np.stack([mask] * 3), np.asarray([0, 1, 3]), ["a", "b", "c"], "t")
    split = MaskedSplit(train=(0, 1, 2), val=(), replaced=(), min_similarity=0.99)
    return MaskedTraining(masked, split, np.zeros(0, dtype=np.int64), [], glioma=0), band, brain


def _samples(weight: float) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    data, _, _ = _scalp_heads()
    settings = RealismConfig(**{**STILL.to_json(), "remove_tumor": 0.0})
    cfg = TrainConfig(data="x", out="y", widths=[2, 2, 2, 2, 2], realism=settings, class_names=CLASSES,
                      strip_consistency_weight=weight)  # fmt: skip
    none = np.zeros((0, 64, 64), np.uint8), np.zeros(0, np.int64)
    return list(epoch_samples(cfg, data, *none, epoch=1, size=64))


def test_each_sample_is_followed_by_its_stripped_twin() -> None:
    alone, paired = _samples(0.0), _samples(0.5)
    _, band, brain = _scalp_heads()
    deep = realism.gaussian_blur(brain.astype(np.float32), 2.0) > 0.99  # the brain away from its edge
    assert len(alone) == 3 and len(paired) == 6
    for sample, (shown, twin) in zip(alone, zip(paired[::2], paired[1::2], strict=True), strict=True):
        assert all(np.array_equal(a, b) for a, b in zip(sample, shown, strict=True))  # the first is unchanged
        assert np.array_equal(twin[1], shown[1]) and np.array_equal(twin[2], shown[2])  # same label and target
        background = shown[0].min()
        assert np.mean(twin[0][band] == background) > 0.9 > np.mean(shown[0][band] == background)  # scalp gone
        assert np.array_equal(twin[0][deep], shown[0][deep])  # the brain is kept as it was


def test_the_consistency_term_is_the_twins_symmetric_divergence() -> None:
    import keras

    classification = keras.losses.CategoricalCrossentropy(from_logits=True)
    loss = with_strip_consistency(classification, 2.0)
    y = np.eye(4, dtype=np.float32)[[0, 0, 2, 2]]
    same = np.asarray([[2, 0, 0, 0], [2, 0, 0, 0], [0, 1, 3, 0], [0, 1, 3, 0]], np.float32)
    assert float(loss(y, same)) == pytest.approx(float(classification(y, same)), abs=1e-6)
    differ = np.asarray([[2, 0, 0, 0], [0, 0, 2, 0], [0, 1, 3, 0], [0, 1, 3, 0]], np.float32)
    p = np.exp(differ) / np.exp(differ).sum(axis=1, keepdims=True)
    divergence = 0.5 * np.sum((p[0] - p[1]) * (np.log(p[0]) - np.log(p[1])))
    expected = float(classification(y, differ)) + 2.0 * divergence / 2  # mean over the two pairs
    assert float(loss(y, differ)) == pytest.approx(expected, rel=1e-5)
    assert divergence > 0.5


def test_strip_consistency_is_refused_without_realism_or_with_an_odd_batch(tiny_dataset: Path, tmp_path: Path) -> None:
    plain = TrainConfig(data=str(tiny_dataset), out=str(tmp_path / "a"), strip_consistency_weight=1.0)
    with pytest.raises(RunFolderError, match="--strip-consistency"):
        start_run(plain)
    odd = TrainConfig(data=str(tiny_dataset), out=str(tmp_path / "b"), realism=RealismConfig(), batch_size=7,
                      strip_consistency_weight=1.0)  # fmt: skip
    with pytest.raises(RunFolderError, match="even batch size"):
        start_run(odd)
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_the_command_line_sets_the_weight(tmp_path: Path) -> None:
    from training.cli import build_parser, train_config_from_args

    args = build_parser().parse_args(
        ["train", "--data", str(tmp_path), "--out", str(tmp_path / "r"), "--realism", "--strip-consistency", "0.5"]
    )
    assert train_config_from_args(args).strip_consistency_weight == 0.5


@pytest.mark.slow
def test_a_realistic_run_trains_with_stripped_twins(tiny_dataset: Path, tmp_path: Path) -> None:
    cfg = tiny_realistic_run(tiny_dataset, tmp_path, epochs=1, strip_consistency_weight=1.0)
    run = start_run(cfg, tmp_path / "cache")
    with open(run / "log.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 1 and np.isfinite(float(rows[0]["train_loss"]))
    assert TrainConfig.load(run).strip_consistency_weight == 1.0

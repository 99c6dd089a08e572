"""Manifest, decoding cache and the duplicate-aware split."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from training.errors import DatasetLayoutError
from training.images import load_dataset
from training.manifest import build_manifest
from training.split import difference_hash, group_duplicates, near_duplicate_pairs, stratified_group_split


def test_sha256sums_are_verified(tiny_dataset: Path) -> None:
    first = sorted((tiny_dataset / "glioma").iterdir())[0]
    digest = hashlib.sha256(first.read_bytes()).hexdigest()
    (tiny_dataset / "SHA256SUMS").write_text(f"{digest}  glioma/{first.name}\n")
    assert len(build_manifest(tiny_dataset).entries) == 40
    (tiny_dataset / "SHA256SUMS").write_text(f"{'0' * 64}  glioma/{first.name}\n")
    with pytest.raises(DatasetLayoutError, match="SHA256SUMS"):
        build_manifest(tiny_dataset)


def test_missing_class_folder(tiny_dataset: Path) -> None:
    with pytest.raises(DatasetLayoutError, match="missing"):
        build_manifest(tiny_dataset, ["glioma", "meningioma", "notumor", "pituitary", "metastasis"])


def test_unreadable_images_are_skipped_and_listed(tiny_dataset: Path, tmp_path: Path) -> None:
    (tiny_dataset / "glioma" / "broken.png").write_bytes(b"not a png at all")
    Image.new("L", (8, 8)).save(tiny_dataset / "glioma" / "tiff_renamed.png", format="TIFF")
    data = load_dataset(build_manifest(tiny_dataset), 32, tmp_path / "cache")
    assert {p for p, _ in data.skipped} == {"glioma/broken.png", "glioma/tiff_renamed.png"}
    assert data.images.shape == (40, 32, 32) and data.images.dtype == np.uint8
    cached = load_dataset(build_manifest(tiny_dataset), 32, tmp_path / "cache")  # second read: from cache
    np.testing.assert_array_equal(cached.images, data.images)
    assert cached.skipped == data.skipped


def test_near_duplicates_never_cross_the_split() -> None:
    rng = np.random.default_rng(3)
    originals = [rng.integers(0, 256, (64, 64)).astype(np.uint8) for _ in range(60)]
    images, digests, labels = [], [], []
    for i, img in enumerate(originals):
        images.append(img)
        digests.append(f"sha-{i}")
        labels.append(i % 4)
    twins = {}
    for i in range(0, 60, 3):  # planted near-duplicates (slight noise) and exact duplicates
        noisy = np.clip(originals[i].astype(int) + rng.integers(-2, 3, (64, 64)), 0, 255).astype(np.uint8)
        twins[len(images)] = i
        images.append(noisy)
        digests.append(f"sha-noisy-{i}")
        labels.append(i % 4)
        twins[len(images)] = i
        images.append(originals[i].copy())
        digests.append(f"sha-{i}")
        labels.append(i % 4)
    groups, pairs = group_duplicates(np.stack(images), digests, max_bits=10)
    assert pairs >= 20
    split = stratified_group_split(labels, groups, 0.25, seed=1)
    val = set(split.val)
    for twin, original in twins.items():
        assert (twin in val) == (original in val)
    assert set(split.train) | val == set(range(len(images))) and not set(split.train) & val
    per_class_val = np.bincount([labels[i] for i in split.val], minlength=4)
    assert per_class_val.min() >= 3  # every class is represented in validation


def test_difference_hash_distance() -> None:
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (50, 50)).astype(np.uint8)
    b = rng.integers(0, 256, (50, 50)).astype(np.uint8)
    hashes = np.stack([difference_hash(a), difference_hash(a), difference_hash(b)])
    assert near_duplicate_pairs(hashes, 5) == [(0, 1)]


def test_class_weights_become_per_sample_loss_weights(tiny_dataset: Path, tmp_path: Path) -> None:
    from training import trainer
    from training.cli import build_parser, train_config_from_args
    from training.config import TrainConfig

    argv = ["train", "--data", str(tiny_dataset), "--out", str(tmp_path / "run"), "--class-weight", "meningioma=2.5"]
    cfg = train_config_from_args(build_parser().parse_args(argv))
    assert cfg.class_weights == {"meningioma": 2.5}
    assert cfg.loss_weights() == [1.0, 2.5, 1.0, 1.0]
    cfg = TrainConfig.from_json({**cfg.to_json(), "stages": [[16, 1]], "batch_size": 4, "widths": [2, 2, 4, 4, 4]})
    run = tmp_path / "run"
    run.mkdir()
    prepared = trainer.prepare_data(cfg, run, tmp_path / "cache")
    seen = 0
    for _, y, w in trainer.make_train_dataset(cfg, prepared, 0):
        expected = np.where(np.argmax(y.numpy(), axis=1) == 1, 2.5, 1.0)
        np.testing.assert_allclose(w.numpy(), expected)
        seen += int((expected == 2.5).sum())
    assert seen > 0  # the tiny data set has meningioma images in training
    plain = TrainConfig.from_json({**cfg.to_json(), "class_weights": {}})
    assert all(len(batch) == 2 for batch in trainer.make_train_dataset(plain, prepared, 0))


def test_bad_class_weights_are_refused_before_the_run_folder_exists(tiny_dataset: Path, tmp_path: Path) -> None:
    from training.cli import main

    out = tmp_path / "run"
    assert main(["train", "--data", str(tiny_dataset), "--out", str(out), "--class-weight", "cat=2"]) == 1
    assert not out.exists()
    with pytest.raises(SystemExit):
        main(["train", "--data", str(tiny_dataset), "--out", str(out), "--class-weight", "meningioma=-1"])


def test_a_run_trains_with_class_weights(tiny_dataset: Path, tmp_path: Path) -> None:
    from training import trainer
    from training.config import TrainConfig

    cfg = TrainConfig(
        data=str(tiny_dataset),
        out=str(tmp_path / "run"),
        stages=[[16, 1]],
        batch_size=4,
        widths=[2, 2, 4, 4, 4],
        max_steps_per_epoch=2,
        class_weights={"meningioma": 2.0},
    )
    run = trainer.start_run(cfg, tmp_path / "cache")
    assert TrainConfig.load(run).class_weights == {"meningioma": 2.0}
    assert len((run / trainer.LOG_FILE).read_text().splitlines()) == 2  # header + one epoch


def test_a_run_from_exported_weights_keeps_their_validation_split(tiny_dataset: Path, tmp_path: Path) -> None:
    """Continuing from weights on a fresh split would validate on images those weights trained on."""
    import json

    from training import trainer
    from training.config import TrainConfig
    from training.errors import RunFolderError
    from training.export import export_run

    tiny = {"stages": [[16, 1]], "batch_size": 4, "widths": [2, 2, 4, 4, 4], "max_steps_per_epoch": 1}
    first = trainer.start_run(TrainConfig(data=str(tiny_dataset), out=str(tmp_path / "a"), **tiny), tmp_path / "c")
    weights = export_run(first, tmp_path / "w", version="test")
    recorded = json.loads((weights / "training_run" / "split.json").read_text())
    # a different seed would draw a different split; the inherited one wins
    second = TrainConfig(data=str(tiny_dataset), out=str(tmp_path / "b"), init_weights=str(weights), seed=7, **tiny)
    run = trainer.start_run(second, tmp_path / "c")
    assert json.loads((run / "split.json").read_text()) == recorded
    assert TrainConfig.load(run).split == str(weights / "training_run" / "split.json")
    card = (export_run(run, tmp_path / "w2", version="test") / "MODEL_CARD.md").read_text()
    assert f"reused unchanged from `{weights / 'training_run' / 'split.json'}`" in card
    unrelated = tmp_path / "d"
    unrelated.mkdir()
    other_seed = TrainConfig(data=str(tiny_dataset), out=str(unrelated), seed=7, **tiny)
    trainer.prepare_data(other_seed, unrelated, tmp_path / "c")
    assert json.loads((unrelated / "split.json").read_text())["val"] != recorded["val"]

    missing = TrainConfig(data=str(tiny_dataset), out=str(tmp_path / "e"), split=str(tmp_path / "nope.json"), **tiny)
    with pytest.raises(RunFolderError, match="does not exist"):
        trainer.start_run(missing, tmp_path / "c")
    assert not (tmp_path / "e").exists()

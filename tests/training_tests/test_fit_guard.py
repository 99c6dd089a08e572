"""``neuroreview-train fit-guard`` on tiny weights and a tiny synthetic dataset: statistics, config, rates."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.model.classifier import Classifier
from core.model.model_config import GUARD_FILENAME, load_model_config, sha256_file
from training.cli import main
from training.guard_eval import GUARD_BEGIN, GUARD_END

CLASSES = ("glioma", "meningioma", "notumor", "pituitary")


@pytest.fixture(autouse=True)
def _float32(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEUROREVIEW_PRECISION", "float32")


def _dataset(root: Path) -> tuple[Path, Path]:
    rng = np.random.default_rng(0)
    train, val = [], []
    for name in CLASSES:
        (root / "data" / name).mkdir(parents=True)
        for i in range(6):
            rel = f"{name}/{i}.png"
            Image.fromarray(rng.integers(0, 256, (20, 20), dtype=np.uint8)).save(root / "data" / rel)
            (val if i >= 4 else train).append(rel)
    split = root / "split.json"
    split.write_text(json.dumps({"train": train, "val": val}), encoding="utf-8")
    return root / "data", split


def test_fit_guard_installs_statistics_the_classifier_loads(tmp_path: Path, tiny_weights_dir: Path) -> None:
    weights = tmp_path / "weights"
    shutil.copytree(tiny_weights_dir, weights)
    data, split = _dataset(tmp_path)
    ood = tmp_path / "ood"
    ood.mkdir()
    Image.fromarray(np.full((20, 20), 255, dtype=np.uint8)).save(ood / "white.png")
    card = tmp_path / "MODEL_CARD.md"
    card.write_text("# Card\n", encoding="utf-8")
    argv = ["fit-guard", str(weights), "--data", str(data), "--split", str(split), "--cache-dir", str(tmp_path / "c")]
    argv += ["--flagged", "0.2", "--ood", f"white={ood}", "--card", str(card), "--out", str(tmp_path / "out")]
    assert main(argv) == 0
    config = load_model_config(weights)
    assert config.guard_file == GUARD_FILENAME
    assert config.guard_sha256 == sha256_file(weights / GUARD_FILENAME)
    assert Classifier.from_folder(weights, warm_up=False).guard is not None
    text = card.read_text(encoding="utf-8")
    assert GUARD_BEGIN in text and GUARD_END in text and "| in-distribution validation | inside | 8 |" in text
    metrics = json.loads((tmp_path / "out" / "guard_metrics.json").read_text(encoding="utf-8"))
    assert metrics["sets"]["not brain MR: white"]["slices"] == 1


def test_fit_guard_crops_the_training_images_as_the_weights_prescribe(tmp_path: Path, tiny_weights_dir: Path) -> None:
    """Weights trained on slices cut to the head are fitted on slices cut the same way."""
    weights = tmp_path / "weights"
    shutil.copytree(tiny_weights_dir, weights)
    config_file = weights / "model_config.json"
    config = json.loads(config_file.read_text(encoding="utf-8"))
    config.setdefault("preprocessing", {})["crop_to_head"] = True
    config_file.write_text(json.dumps(config), encoding="utf-8")
    assert load_model_config(weights).preprocessing.crop_to_head
    data, split = _dataset(tmp_path)
    cache = tmp_path / "c"
    assert main(["fit-guard", str(weights), "--data", str(data), "--split", str(split), "--cache-dir", str(cache)]) == 0
    assert [p.name.endswith("-head") for p in cache.iterdir()] == [True]


def test_fit_guard_refuses_a_bad_ood_folder(tmp_path: Path, tiny_weights_dir: Path) -> None:
    data, split = _dataset(tmp_path)
    argv = ["fit-guard", str(tiny_weights_dir), "--data", str(data), "--split", str(split)]
    assert main([*argv, "--ood", "nothing-here"]) == 1
    assert "guard" not in json.loads((tiny_weights_dir / "model_config.json").read_text(encoding="utf-8"))


def test_blank_and_noise_slices_are_flagged_by_rule_before_the_score() -> None:
    """The pixel rule flags them without the network; only the other slices reach the learned score."""
    from core.model.ood_guard import fit_guard_stats
    from training.guard_eval import rendered_rate

    rng = np.random.default_rng(0)
    stats = fit_guard_stats(rng.random((64, 8)), rng.normal(size=(64, 4)), rng.integers(0, 4, 64), num_classes=4)
    head = np.zeros((96, 96), np.uint8)
    head[16:80, 20:76] = np.add.outer(np.arange(64), np.arange(56)).astype(np.uint8) + 60
    noise = rng.integers(0, 256, (96, 96), dtype=np.uint8)
    seen: list[int] = []

    def extract(pictures: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        seen.append(len(pictures))
        return np.zeros((len(pictures), 4), np.float32), np.full((len(pictures), 8), 0.5, np.float32)

    rate = rendered_rate("mixed", stats, extract, [head, noise, np.zeros((96, 96), np.uint8)])
    assert seen == [1] and rate.slices == 3 and rate.by_rule == 2
    assert rate.reasons["noise only"] == 1 and rate.reasons["a blank slice"] == 1


def test_augmented_copies_are_seeded_realism_draws_of_every_image() -> None:
    from training.guard_fit import augmented_copies
    from training.realism import RealismConfig

    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, (3, 32, 32), dtype=np.uint8)
    copies = augmented_copies(images, 2, RealismConfig())
    assert len(copies) == 6 and all(c.shape == (32, 32) and c.dtype == np.uint8 for c in copies)
    again = augmented_copies(images, 2, RealismConfig())
    assert all(np.array_equal(a, b) for a, b in zip(copies, again, strict=True))
    assert not np.array_equal(copies[0], copies[3])  # the second copy of an image is another draw


def test_fit_guard_on_augmented_copies_records_them_and_weighs_the_scores(
    tmp_path: Path, tiny_weights_dir: Path
) -> None:
    weights = tmp_path / "weights"
    shutil.copytree(tiny_weights_dir, weights)
    data, split = _dataset(tmp_path)
    run_config = tmp_path / "run_config.json"
    run_config.write_text(json.dumps({"realism": {"noise": 1.0, "sham_fill": 0.5}}), encoding="utf-8")
    features = tmp_path / "features.npz"
    argv = ["fit-guard", str(weights), "--data", str(data), "--split", str(split), "--cache-dir", str(tmp_path / "c")]
    argv += ["--flagged", "0.2", "--features", str(features)]
    assert main(argv) == 0
    with np.load(features) as plain:
        assert int(plain["n_train"]) == 16 and int(plain["copies"]) == 0
    extra = ["--augmented-copies", "3", "--realism-config", str(run_config), "--energy-weight", "0"]
    assert main([*argv, *extra]) == 0
    with np.load(features) as saved:  # made again: the plain file does not stand for augmented copies
        assert int(saved["n_train"]) == 48 and int(saved["copies"]) == 3 and len(saved["labels"]) == 48 + 8
    from core.model.ood_guard import load_guard_stats

    stats = load_guard_stats(weights / GUARD_FILENAME)
    assert stats.weights.tolist() == [1.0, 0.0]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--energy-weight", "1"], "--energy-weight"),
        (["--augmented-copies", "-1"], "--augmented-copies"),
        (["--augmented-copies", "1", "--realism-config", "missing.json"], "missing.json"),
    ],
)
def test_fit_guard_refuses_bad_augmentation_options(
    tmp_path: Path, tiny_weights_dir: Path, extra: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    data, split = _dataset(tmp_path)
    argv = ["fit-guard", str(tiny_weights_dir), "--data", str(data), "--split", str(split)]
    assert main([*argv, *extra]) == 1
    assert message in capsys.readouterr().err
    assert "guard" not in json.loads((tiny_weights_dir / "model_config.json").read_text(encoding="utf-8"))

"""Weight averaging: the mean of the weights, batch-norm re-estimation, the split check and the export."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from core.model.model_config import load_model_config, verified_weights_path
from core.model.network import build_vgg19
from training import checkpoint as ckpt
from training import trainer
from training.average import averaged_weights, batch_norm_sample, mix_shares, reestimate_batch_norm
from training.cli import main
from training.config import TrainConfig
from training.errors import RunFolderError

TINY = {"widths": [2, 2, 4, 4, 4], "stages": [[32, 2]], "batch_size": 8, "dropout": 0.0}


def _run(data: Path, out: Path, cache: Path, **overrides: object) -> Path:
    values = {**TINY, **overrides}
    return trainer.start_run(TrainConfig(data=str(data), out=str(out), **values), cache)  # type: ignore[arg-type]


def test_batch_norm_statistics_become_the_mean_of_the_batch_statistics() -> None:
    import keras

    model = keras.Sequential([keras.Input((3,)), keras.layers.BatchNormalization(momentum=0.9)])
    inputs = np.random.default_rng(1).normal(5.0, 2.0, (40, 3)).astype(np.float32)
    assert reestimate_batch_norm(model, inputs, batch_size=10) == 4
    batches = inputs.reshape(4, 10, 3)
    layer = model.layers[0]
    np.testing.assert_allclose(layer.moving_mean.numpy(), batches.mean(axis=1).mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(layer.moving_variance.numpy(), batches.var(axis=1).mean(axis=0), rtol=1e-4)
    assert layer.momentum == pytest.approx(0.9)  # restored for any later training


def test_averaged_weights_are_the_element_wise_mean(tmp_path: Path) -> None:
    cfg = TrainConfig(data="", out="", **TINY)  # type: ignore[arg-type]
    files = []
    for seed in (1, 2, 3):
        import keras

        keras.utils.set_random_seed(seed)
        model = build_vgg19(cfg.architecture())
        files.append(tmp_path / f"m{seed}.weights.h5")
        model.save_weights(files[-1])
    expected = []
    for path in files:
        model.load_weights(path)
        expected.append(model.get_weights())
    mean = averaged_weights(build_vgg19(cfg.architecture()), files)
    for got, *parts in zip(mean, *expected, strict=True):
        np.testing.assert_allclose(got, np.mean(parts, axis=0), rtol=1e-6, atol=1e-7)
    shares = mix_shares([5, 3, 2], 3)
    assert shares == pytest.approx([0.5, 0.3, 0.2])
    mixed = averaged_weights(build_vgg19(cfg.architecture()), files, shares)
    for got, a, b, c in zip(mixed, *expected, strict=True):
        np.testing.assert_allclose(got, 0.5 * a + 0.3 * b + 0.2 * c, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("mix", [[1.0], [1.0, -1.0, 1.0], [0.0, 0.0, 0.0], [float("nan"), 1.0, 1.0]])
def test_mix_shares_are_one_non_negative_number_per_ingredient(mix: list[float]) -> None:
    with pytest.raises(RunFolderError, match="--mix"):
        mix_shares(mix, 3)


def test_a_mix_of_a_cropping_and_an_uncropping_run_needs_a_choice(
    tiny_dataset: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Ingredients that prepare slices differently are refused until the averaged model's preparation is
    chosen; the choice travels into the exported config."""
    cache = tmp_path / "cache"
    plain = _run(tiny_dataset, tmp_path / "plain", cache, stages=[[32, 1]])
    cropped = _run(
        tiny_dataset, tmp_path / "crop", cache, stages=[[32, 1]], crop_to_head=True, split=str(plain / "split.json")
    )
    base = ["average", str(plain), str(cropped), "--data", str(tiny_dataset), "--cache-dir", str(cache)]
    assert main([*base, "--out", str(tmp_path / "s1")]) == 1
    assert "--crop-to-head or --no-crop-to-head" in capsys.readouterr().err
    assert (
        main([*base, "--mix", "0.3", "0.7", "--crop-to-head", "--bn-images", "8", "--out", str(tmp_path / "s2")]) == 0
    )
    cfg = TrainConfig.load(tmp_path / "s2")
    environment = json.loads((tmp_path / "s2" / "environment.json").read_text())
    assert environment["batch_norm_reestimation"]["images"] == 8
    assert cfg.crop_to_head and [item["share"] for item in cfg.averaged_from] == pytest.approx([0.3, 0.7])
    assert main(["export", str(tmp_path / "s2"), "--to", str(tmp_path / "w"), "--version", "mix"]) == 0
    assert load_model_config(tmp_path / "w").preprocessing.crop_to_head
    assert "cut to the head's bounding box" in (tmp_path / "w" / "MODEL_CARD.md").read_text()


def test_average_of_two_runs_on_one_split_exports_with_its_ingredients(tiny_dataset: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first = _run(tiny_dataset, tmp_path / "a", cache)
    second = _run(tiny_dataset, tmp_path / "b", cache, seed=7, split=str(first / "split.json"))
    checkpoint = second / ckpt.CHECKPOINT_DIR / "epoch0002.weights.h5"
    soup = tmp_path / "soup"
    args = ["average", str(first), str(checkpoint), "--data", str(tiny_dataset), "--out", str(soup)]
    assert main([*args, "--cache-dir", str(cache)]) == 0
    assert json.loads((soup / "split.json").read_text()) == json.loads((first / "split.json").read_text())
    assert sorted(p.name for p in (soup / "ingredients").iterdir()) == ["1_a", "2_b"]
    assert main(["export", str(soup), "--to", str(tmp_path / "w"), "--version", "soup"]) == 0

    config = load_model_config(tmp_path / "w")
    training = config.provenance["training"]
    assert [item["kind"] for item in training["averaged_from"]] == ["training run checkpoint"] * 2
    assert training["averaged_from"][1]["source"] == str(checkpoint.resolve())
    assert "re-estimated on" in training["batch_norm_statistics"]
    card = (tmp_path / "w" / "MODEL_CARD.md").read_text()
    assert "No training of its own" in card and "b/checkpoint/epoch0002.weights.h5" in card
    assert (tmp_path / "w" / "training_run" / "ingredients" / "2_b" / "run_config.json").is_file()
    # the exported (float16) weights reproduce the validation logits the figures were computed from
    prepared = trainer.prepare_data(TrainConfig.load(soup), soup, cache)
    model = build_vgg19(config.architecture)
    model.load_weights(verified_weights_path(tmp_path / "w", config))
    inputs = trainer.model_inputs(TrainConfig.load(soup), prepared.data.images[prepared.val_idx], 32)
    with np.load(soup / trainer.BEST_LOGITS) as saved:
        np.testing.assert_allclose(model.predict(inputs, verbose=0), saved["logits"], atol=0.05)


def test_average_refuses_ingredients_trained_on_different_splits(
    tiny_dataset: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cache = tmp_path / "cache"
    first = _run(tiny_dataset, tmp_path / "a", cache, stages=[[32, 1]])
    other = tmp_path / "other"
    shutil.copytree(first, other)
    split = json.loads((other / "split.json").read_text())
    split["train"][0], split["val"][0] = split["val"][0], split["train"][0]  # one image changes sides
    (other / "split.json").write_text(json.dumps(split))
    base = ["--data", str(tiny_dataset), "--cache-dir", str(cache)]
    assert main(["average", str(first), str(other), *base, "--out", str(tmp_path / "s1")]) == 1
    assert "different split" in capsys.readouterr().err
    assert not (tmp_path / "s1").exists()  # refused before anything is written
    assert main(["average", str(first), *base, "--out", str(tmp_path / "s2")]) == 1
    assert "at least two" in capsys.readouterr().err
    assert main(["average", str(first), str(tmp_path / "nothing"), *base, "--out", str(tmp_path / "s3")]) == 1
    assert "neither an exported weights folder" in capsys.readouterr().err
    assert main(["average", str(first), str(first), *base, "--size", "8", "--out", str(tmp_path / "s4")]) == 1
    assert "--size 8 is too small" in capsys.readouterr().err
    assert not (tmp_path / "s4").exists()


def test_batch_norm_sample_is_every_position_or_a_seeded_subset() -> None:
    positions = np.arange(10, 30)
    np.testing.assert_array_equal(batch_norm_sample(positions, None), positions)
    np.testing.assert_array_equal(batch_norm_sample(positions, 50), positions)
    sample = batch_norm_sample(positions, 5)
    assert len(set(sample.tolist())) == 5 and set(sample.tolist()) <= set(positions.tolist())
    np.testing.assert_array_equal(sample, batch_norm_sample(positions, 5))
    with pytest.raises(RunFolderError, match="--bn-images"):
        batch_norm_sample(positions, 0)

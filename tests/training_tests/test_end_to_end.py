"""Train, interrupt, resume, evaluate, export and load - on a generated dataset with a tiny VGG."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from core.model.classifier import decision_logits
from core.model.model_config import load_model_config, verified_weights_path
from core.model.network import build_vgg19
from training import checkpoint as ckpt
from training import trainer
from training.cli import main
from training.config import TrainConfig
from training.errors import RunFolderError
from training.evaluate import evaluate_source
from training.export import export_run

TINY = {"widths": [2, 2, 4, 4, 4], "stages": [[16, 1], [32, 1]], "batch_size": 8, "dropout": 0.0}


def _config(data: Path, out: Path) -> TrainConfig:
    return TrainConfig(data=str(data), out=str(out), **TINY)  # type: ignore[arg-type]


def test_interrupted_run_resumes_to_the_same_weights(tiny_dataset: Path, tmp_path: Path, monkeypatch) -> None:
    cache = tmp_path / "cache"
    straight = trainer.start_run(_config(tiny_dataset, tmp_path / "straight"), cache)

    calls = {"n": 0}
    real_predict = trainer.predict_logits

    def interrupt_in_second_epoch(model, inputs, batch_size=64):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real_predict(model, inputs, batch_size)

    monkeypatch.setattr(trainer, "predict_logits", interrupt_in_second_epoch)
    interrupted_dir = tmp_path / "interrupted"
    with pytest.raises(KeyboardInterrupt):
        trainer.start_run(_config(tiny_dataset, interrupted_dir), cache)
    state = ckpt.load_state(interrupted_dir)
    assert state is not None and state["epoch"] == 0  # epoch 1 finished and checkpointed
    monkeypatch.setattr(trainer, "predict_logits", real_predict)
    trainer.run_training(interrupted_dir, cache)

    log = (interrupted_dir / trainer.LOG_FILE).read_text().splitlines()
    assert len(log) == 3  # header + 2 epochs, the interrupted epoch logged once
    cfg = TrainConfig.load(straight)
    a, b = build_vgg19(cfg.architecture()), build_vgg19(cfg.architecture())
    a.load_weights(ckpt.last_weights_path(straight))
    b.load_weights(ckpt.last_weights_path(interrupted_dir))
    assert sorted(p.name for p in (straight / "checkpoint").glob("epoch*")) == [
        "epoch0002.optimizer.npz",
        "epoch0002.weights.h5",
    ]  # older epochs are dropped once state.json names the new pair
    for wa, wb in zip(a.get_weights(), b.get_weights(), strict=True):
        np.testing.assert_allclose(wa, wb, rtol=1e-4, atol=1e-5)
    assert json.loads((straight / "split.json").read_text()) == json.loads((interrupted_dir / "split.json").read_text())


def test_export_evaluate_and_load(tiny_dataset: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    run = trainer.start_run(_config(tiny_dataset, tmp_path / "run"), cache)
    out = export_run(run, tmp_path / "weights", version="test")
    config = load_model_config(out)
    assert config.class_names == ("glioma", "meningioma", "notumor", "pituitary")
    assert config.input_size == 32 and config.temperature > 0
    assert "duplicate-aware" in config.metrics["split"]
    assert config.provenance["training"]["initialisation"].startswith("from scratch")
    card = (out / "MODEL_CARD.md").read_text()
    assert card.count("Not for diagnostic use") == 1
    cross = config.metrics["ece_cross_fitted"]
    assert cross["folds"] == 5 and len(cross["temperatures"]) == 5 and 0 <= cross["ece"] <= 1
    assert f"cross-fitted (5 folds) | {cross['ece']:.4f} |" in card
    model = build_vgg19(config.architecture)
    model.load_weights(verified_weights_path(out, config))
    from core.model.preprocess import to_model_input

    logits = model.predict(to_model_input([np.zeros((40, 30), np.uint8)], config), verbose=0)
    assert logits.shape == (1, 4) and np.isfinite(logits).all()
    report = evaluate_source(out, tiny_dataset, tmp_path / "eval", cache)
    assert "accuracy" in report and (tmp_path / "eval" / "metrics.json").is_file()
    assert main(["export", str(run), "--to", str(out)]) == 1  # refuses to overwrite
    assert main(["export", str(run), "--to", str(out), "--force"]) == 0

    # a new run may continue from the exported weights; a different architecture is refused
    model = build_vgg19(TrainConfig.load(run).architecture(), any_size=True)
    identity = trainer.load_exported_weights(model, TrainConfig.load(run), out)
    assert identity["weights_sha256"] == load_model_config(out).weights_sha256  # recorded in environment.json
    reference = build_vgg19(config.architecture)
    reference.load_weights(verified_weights_path(out, config))
    np.testing.assert_allclose(model.get_weights()[0], reference.get_weights()[0])
    wider = TrainConfig(data=str(tiny_dataset), out=str(tmp_path / "other"), widths=[4, 4, 4, 4, 4])
    with pytest.raises(RunFolderError, match="different architecture"):
        trainer.load_exported_weights(build_vgg19(wider.architecture()), wider, out)


def test_export_with_test_time_flip_measures_the_averaged_prediction(tiny_dataset: Path, tmp_path: Path) -> None:
    from core.model.classifier import Classifier
    from core.model.preprocess import to_model_input
    from training.metrics import classification_metrics

    cache = tmp_path / "cache"
    run = trainer.start_run(_config(tiny_dataset, tmp_path / "run"), cache)
    args = ["export", str(run), "--to", str(tmp_path / "w"), "--test-time-flip", "--cache-dir", str(cache)]
    assert main(args) == 0
    config = load_model_config(tmp_path / "w")
    assert config.test_time_flip
    # recompute the validation figures by hand from the exported weights, both views averaged
    prepared = trainer.prepare_data(TrainConfig.load(run), run, cache)
    images = prepared.data.images[prepared.val_idx]
    labels = prepared.data.labels[prepared.val_idx]
    model = build_vgg19(config.architecture)
    model.load_weights(verified_weights_path(tmp_path / "w", config))
    x = to_model_input(list(images), config)
    mirrored = to_model_input([img[:, ::-1].copy() for img in images], config)
    averaged = (model.predict(x, verbose=0) + model.predict(mirrored, verbose=0)) / 2
    expected = classification_metrics(averaged, labels, config.class_names, config.temperature)
    assert config.metrics["calibrated"]["accuracy"] == pytest.approx(expected["accuracy"])
    assert config.metrics["calibrated"]["ece"] == pytest.approx(expected["ece"], abs=1e-6)
    single = config.metrics["without_test_time_views"]
    plain = classification_metrics(model.predict(x, verbose=0), labels, config.class_names, 1.0)
    assert single["accuracy"] == pytest.approx(plain["accuracy"])
    card = (tmp_path / "w" / "MODEL_CARD.md").read_text()
    assert "Test-time flip" in card and "| metric (one view) | value |" in card
    # the application classifies the same way: its probabilities are the averaged ones
    clf = Classifier.from_folder(tmp_path / "w", warm_up=False)
    first = clf.predict([images[0]])[0]
    from core.model.classifier import softmax

    np.testing.assert_allclose(first.probabilities, softmax(averaged[:1], config.temperature)[0], atol=1e-4)
    # with test-time strip: each image averaged with its view stripped to a brain outline
    from core.imaging.brain_outline import stripped_view

    args = ["export", str(run), "--to", str(tmp_path / "s"), "--test-time-strip", "0.09", "--cache-dir", str(cache)]
    assert main(args) == 0
    stripped_config = load_model_config(tmp_path / "s")
    assert stripped_config.test_time_strip == 0.09 and not stripped_config.test_time_flip
    views = to_model_input([stripped_view(img, 0.09) for img in images], config)
    averaged = (model.predict(x, verbose=0) + model.predict(views, verbose=0)) / 2
    expected = classification_metrics(averaged, labels, config.class_names, stripped_config.temperature)
    assert stripped_config.metrics["calibrated"]["ece"] == pytest.approx(expected["ece"], abs=1e-6)
    assert "Test-time strip" in (tmp_path / "s" / "MODEL_CARD.md").read_text()
    with pytest.raises(SystemExit):  # argparse refuses a depth that would cut into the brain
        main([*args[:3], str(tmp_path / "bad"), "--test-time-strip", "0.5"])
    # with a tumor prior shift: the calibrated figures read the shifted probabilities, the raw ones do not
    assert main([*args[:3], str(tmp_path / "p"), "--test-time-strip", "0.09", "--tumor-prior-shift", "0.8"]) == 0
    shifted_config = load_model_config(tmp_path / "p")
    assert shifted_config.tumor_prior_shift == 0.8 and shifted_config.temperature == stripped_config.temperature
    decision = decision_logits(averaged, shifted_config)
    expected = classification_metrics(decision, labels, config.class_names, shifted_config.temperature)
    assert shifted_config.metrics["calibrated"]["nll"] == pytest.approx(expected["nll"], rel=1e-4)
    assert shifted_config.metrics["uncalibrated"] == pytest.approx(stripped_config.metrics["uncalibrated"])
    assert "Tumor prior shift" in (tmp_path / "p" / "MODEL_CARD.md").read_text()
    with pytest.raises(SystemExit):  # argparse refuses a shift beyond the limit
        main([*args[:3], str(tmp_path / "bad"), "--tumor-prior-shift", "5"])


def test_evaluate_on_a_runs_validation_split_with_and_without_flip(tiny_dataset: Path, tmp_path: Path) -> None:
    from core.imaging.brain_outline import stripped_view
    from core.model.model_config import CONFIG_FILENAME
    from core.model.preprocess import to_model_input
    from training.metrics import classification_metrics

    cache = tmp_path / "cache"
    run = trainer.start_run(_config(tiny_dataset, tmp_path / "run"), cache)
    weights = export_run(run, tmp_path / "w", version="test")
    config = load_model_config(weights)
    split = run / "split.json"
    args = ["evaluate", str(weights), "--data", str(tiny_dataset), "--split", str(split), "--cache-dir", str(cache)]
    assert main([*args, "--out", str(tmp_path / "off"), "--test-time-flip", "off"]) == 0
    assert main([*args, "--out", str(tmp_path / "on"), "--test-time-flip", "on"]) == 0
    prepared = trainer.prepare_data(TrainConfig.load(run), run, cache)
    images, labels = prepared.data.images[prepared.val_idx], prepared.data.labels[prepared.val_idx]
    model = build_vgg19(config.architecture)
    model.load_weights(verified_weights_path(weights, config))
    one = model.predict(to_model_input(list(images), config), verbose=0)
    mirrored = model.predict(to_model_input([i[:, ::-1].copy() for i in images], config), verbose=0)
    for name, logits in (("off", one), ("on", (one + mirrored) / 2)):
        saved = json.loads((tmp_path / name / "metrics.json").read_text())
        expected = classification_metrics(logits, labels, config.class_names, config.temperature)
        assert saved["n"] == len(prepared.val_idx) < len(prepared.data.labels)
        assert saved["nll"] == pytest.approx(expected["nll"], rel=1e-4)
        assert saved["test_time_flip"] is (name == "on")
    # a config that sets test-time strip: each image is averaged with its stripped view
    data = json.loads((weights / CONFIG_FILENAME).read_text())
    (weights / CONFIG_FILENAME).write_text(json.dumps({**data, "test_time_strip": 0.09}))
    assert main([*args, "--out", str(tmp_path / "strip"), "--test-time-flip", "off"]) == 0
    stripped = model.predict(to_model_input([stripped_view(i, 0.09) for i in images], config), verbose=0)
    saved = json.loads((tmp_path / "strip" / "metrics.json").read_text())
    expected = classification_metrics((one + stripped) / 2, labels, config.class_names, config.temperature)
    assert saved["test_time_strip"] == 0.09 and saved["nll"] == pytest.approx(expected["nll"], rel=1e-4)
    assert np.abs(stripped - one).max() > 1e-6  # the stripped view really is another input
    # with a tumor prior shift the figures read the shifted probabilities, as the application does
    (weights / CONFIG_FILENAME).write_text(json.dumps({**data, "test_time_strip": 0.09, "tumor_prior_shift": 0.8}))
    assert main([*args, "--out", str(tmp_path / "shift"), "--test-time-flip", "off"]) == 0
    shifted = decision_logits((one + stripped) / 2, replace(config, tumor_prior_shift=0.8))
    saved = json.loads((tmp_path / "shift" / "metrics.json").read_text())
    expected = classification_metrics(shifted, labels, config.class_names, config.temperature)
    assert saved["tumor_prior_shift"] == 0.8 and saved["nll"] == pytest.approx(expected["nll"], rel=1e-4)
    bad = tmp_path / "bad_split.json"
    bad.write_text(json.dumps({"val": ["glioma/not-there.png"]}))
    assert main(["evaluate", str(weights), "--data", str(tiny_dataset), "--split", str(bad)]) == 1


def test_cli_reports_layout_errors(tmp_path: Path, capsys) -> None:
    (tmp_path / "data" / "glioma").mkdir(parents=True)
    (tmp_path / "data" / "cats").mkdir()
    assert main(["train", "--data", str(tmp_path / "data"), "--out", str(tmp_path / "run")]) == 1
    assert "unknown class folders" in capsys.readouterr().err
    assert main(["resume", str(tmp_path / "nowhere")]) == 1


def test_run_folder_is_never_overwritten(tiny_dataset: Path, tmp_path: Path, capsys) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "something").write_text("x")
    assert main(["train", "--data", str(tiny_dataset), "--out", str(run)]) == 1
    assert "not empty" in capsys.readouterr().err


def test_command_line_options_reach_the_run_config(tmp_path: Path) -> None:
    from training.cli import build_parser, train_config_from_args

    args = build_parser().parse_args(
        [
            "train",
            "--data",
            str(tmp_path / "d"),
            "--out",
            str(tmp_path / "r"),
            "--stages",
            "96:2,128:1",
            "--lr",
            "0.0003",
            "--init-weights",
            str(tmp_path / "w"),
            "--init",
            str(tmp_path / "vgg.h5"),
            "--widths",
            "2,2,4,4,4",
            "--patience",
            "3",
            "--dedup-bits",
            "8",
            "--optimizer",
            "sgd",
        ]
    )
    cfg = train_config_from_args(args)
    assert cfg.stages == [[96, 2], [128, 1]] and cfg.deploy_size == 128 and cfg.epochs == 3
    assert cfg.learning_rate == 0.0003 and cfg.optimizer == "sgd" and cfg.patience == 3
    assert cfg.init_weights == str((tmp_path / "w").resolve()) and cfg.init == str((tmp_path / "vgg.h5").resolve())
    assert cfg.widths == [2, 2, 4, 4, 4] and cfg.dedup_max_bits == 8


def test_model_card_names_how_the_run_was_initialised(tmp_path: Path, tiny_weights_dir: Path) -> None:
    from training.export import _initialisation

    base = {"data": str(tmp_path), "out": str(tmp_path / "r")}
    assert _initialisation(TrainConfig(**base), {}).startswith("from scratch")
    recorded = {"initial_weights": {"model_version": "0.1.0", "weights_sha256": "ab" * 32}}
    text = _initialisation(TrainConfig(**base, init_weights="/w"), recorded)
    assert text == f"continued from exported weights /w (version 0.1.0, SHA-256 {'ab' * 32})"
    # runs started before environment.json recorded them: no guess from what the folder holds now
    text = _initialisation(TrainConfig(**base, init_weights=str(tiny_weights_dir)), {})
    assert text.endswith("(which version was not recorded by the run)")
    assert _initialisation(TrainConfig(**base, init="/vgg.h5"), {}) == "convolutions from /vgg.h5"

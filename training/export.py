"""Export a run: float16 weights, ``model_config.json`` (preprocessing, classes, temperature, SHA-256,
metrics, provenance) and ``MODEL_CARD.md``, plus the run's configuration, log and plots.

The temperature is fitted on the validation split and the metrics are reported on that same
duplicate-aware validation split (named as such); nothing is measured on training images.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np

from core.model.classifier import prior_shifted, softmax
from core.model.model_config import CONFIG_FILENAME, NO_TUMOR_CLASS, ModelConfig, class_position, sha256_file
from core.model.network import build_vgg19
from training import checkpoint as ckpt
from training.average import INGREDIENTS_DIR
from training.config import RUN_CONFIG, RUN_RECORD_DIR, TrainConfig
from training.errors import RunFolderError
from training.masked_data import SPLIT_FILE as MASKED_SPLIT_FILE
from training.metrics import classification_metrics, cross_fitted_ece, fit_temperature
from training.model_card import render_model_card
from training.trainer import BEST_LOGITS, LOG_FILE

WEIGHTS_FILE = "neuroreview_vgg19.weights.h5"
SINGLE_VIEW = "without_test_time_views"  # metrics of the image alone when the config averages it with other views
# the masked split names the figshare slices a run never trained on: the real-volume evaluation needs it
COPIED_RUN_FILES = (
    RUN_CONFIG,
    LOG_FILE,
    "environment.json",
    "split.json",
    MASKED_SPLIT_FILE,
    "learning_curves.png",
    "skipped.json",
)


def save_float16_weights(cfg: TrainConfig, best: Path, target: Path) -> float:
    """Write the best weights as float16; returns the max |logit| change this causes on random inputs."""
    import keras

    keras.mixed_precision.set_global_policy("float32")
    model32 = build_vgg19(cfg.architecture())
    model32.load_weights(best)
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("float16")
    try:
        model16 = build_vgg19(cfg.architecture())
        model16.set_weights([np.asarray(w, dtype=np.float16) for w in model32.get_weights()])
        tmp = target.with_name(f".{target.name}.tmp.weights.h5")
        model16.save_weights(tmp)
        tmp.replace(target)
    finally:
        keras.mixed_precision.set_global_policy(previous)
    reloaded = build_vgg19(cfg.architecture())
    reloaded.load_weights(target)
    probe = np.random.default_rng(0).uniform(-1, 1, (4, cfg.deploy_size, cfg.deploy_size, cfg.channels))
    probe = probe.astype(np.float32)
    diff = np.abs(model32.predict(probe, verbose=0) - reloaded.predict(probe, verbose=0))
    return float(diff.max())


def export_run(
    run_dir: Path,
    to: Path,
    *,
    force: bool = False,
    version: str | None = None,
    data_description: str = "",
    test_time_flip: bool = False,
    cache_dir: Path | None = None,
    test_time_strip: float = 0.0,
    tumor_prior_shift: float = 0.0,
) -> Path:
    """Export the run's best checkpoint into ``to``.

    With ``test_time_flip`` (or ``test_time_strip``, a depth share) the exported weights are re-evaluated on
    the validation split, each image together with its mirror image (or its view stripped to a brain outline;
    float32, as the application classifies when the config sets them); the temperature and the metrics then
    describe that averaged prediction, and the figures of the image alone, recomputed from the same exported
    weights, are kept beside them.  ``tumor_prior_shift`` is applied after the temperature is fitted; the
    calibrated metrics include it.
    """
    run_dir, to = Path(run_dir), Path(to)
    best, state = _check_run_and_target(run_dir, to, force=force)
    to.mkdir(parents=True, exist_ok=True)
    cfg = TrainConfig.load(run_dir)
    environment = _read_json(run_dir / "environment.json")
    initialisation = _initialisation(cfg, environment)
    with np.load(run_dir / BEST_LOGITS, allow_pickle=False) as saved:
        logits, labels = saved["logits"], saved["labels"]
    fp16_change = save_float16_weights(cfg, best, to / WEIGHTS_FILE)
    single_view: dict[str, Any] | None = None
    if test_time_flip or test_time_strip:
        plain, logits = _test_time_validation(
            run_dir, cfg, to / WEIGHTS_FILE, labels, cache_dir, test_time_flip, test_time_strip
        )
        single_view = _headline(classification_metrics(plain, labels, cfg.class_names, fit_temperature(plain, labels)))
    temperature = fit_temperature(logits, labels)
    split = _read_json(run_dir / "split.json")
    manifest = _read_json(run_dir / "manifest.json")
    metrics = _validation_metrics(logits, labels, temperature, cfg, split, single_view, tumor_prior_shift)
    provenance = _provenance(cfg, environment, state, split, manifest, data_description, initialisation, fp16_change)
    config = ModelConfig(
        architecture=cfg.architecture(),
        preprocessing=cfg.preprocessing(),
        class_names=tuple(cfg.class_names),
        temperature=temperature,
        test_time_flip=test_time_flip,
        test_time_strip=test_time_strip,
        tumor_prior_shift=tumor_prior_shift,
        weights_file=WEIGHTS_FILE,
        weights_sha256=sha256_file(to / WEIGHTS_FILE),
        model_version=version or time.strftime("%Y.%m.%d"),
        metrics=metrics,
        provenance=provenance,
    )
    config.save(to)
    (to / "MODEL_CARD.md").write_text(render_model_card(config), encoding="utf-8")
    record = _copy_run_record(run_dir, to)
    _plots(metrics["calibrated"], softmax(logits, temperature), labels, cfg, record)
    return to


def _check_run_and_target(run_dir: Path, to: Path, *, force: bool) -> tuple[Path, dict[str, Any]]:
    """The run's best weights and training state; refuses a run with nothing to export, and an export
    folder that already holds an export unless ``force``."""
    if not (run_dir / RUN_CONFIG).is_file():
        raise RunFolderError(f"{run_dir} is not a training run folder (no {RUN_CONFIG})")
    best = run_dir / ckpt.CHECKPOINT_DIR / ckpt.BEST_WEIGHTS
    state = ckpt.load_state(run_dir)
    if not best.is_file() or state is None or not (run_dir / BEST_LOGITS).is_file():
        raise RunFolderError(f"{run_dir} has no finished epoch to export yet")
    targets = [to / WEIGHTS_FILE, to / CONFIG_FILENAME, to / "MODEL_CARD.md"]
    existing = [t.name for t in targets if t.exists()]
    if existing and not force:
        raise RunFolderError(f"{to} already holds {', '.join(existing)}; pass --force to overwrite")
    return best, state


def _read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _validation_metrics(
    logits: np.ndarray,
    labels: np.ndarray,
    temperature: float,
    cfg: TrainConfig,
    split: dict[str, Any],
    single_view: dict[str, Any] | None,
    tumor_prior_shift: float = 0.0,
) -> dict[str, Any]:
    """The ``metrics`` of model_config.json: calibrated (and prior-shifted) and raw figures on the validation split."""
    raw = classification_metrics(logits, labels, cfg.class_names, 1.0)
    no_tumor = class_position(cfg.class_names, NO_TUMOR_CLASS)
    decision = prior_shifted(logits, no_tumor, temperature, tumor_prior_shift)  # as the application reads its answer
    calibrated = classification_metrics(decision, labels, cfg.class_names, temperature)
    metrics: dict[str, Any] = {
        "split": (
            f"validation: duplicate-aware stratified group split ({len(split['val'])} images, "
            f"no exact or near-duplicate (<= {split['max_bits']} of 256 dHash bits) twin in training)"
        ),
        "calibrated": calibrated,
        "uncalibrated": {k: raw[k] for k in ("accuracy", "macro_f1", "ece", "nll")},
        "temperature_fitted_on": "the same validation split",
        "ece_cross_fitted": _cross_fitted(logits, labels),
    }
    if single_view is not None:
        metrics[SINGLE_VIEW] = single_view
    return metrics


def _provenance(
    cfg: TrainConfig,
    environment: dict[str, Any],
    state: dict[str, Any],
    split: dict[str, Any],
    manifest: dict[str, Any],
    data_description: str,
    initialisation: str,
    fp16_change: float,
) -> dict[str, Any]:
    """The ``provenance`` of model_config.json: the data, how the weights were trained, the environment."""
    counts: dict[str, int] = {}
    for _, _, label in manifest["entries"]:
        counts[label] = counts.get(label, 0) + 1
    return {
        "dataset": {
            "folder": manifest["root"],
            "description": data_description,
            "fingerprint": manifest["fingerprint"],
            "counts": counts,
            "train_images": len(split["train"]),
            "val_images": len(split["val"]),
            "near_duplicate_pairs": split["near_duplicate_pairs"],
            "groups": split["groups"],
            "split_reused_from": cfg.split,
        },
        "training": _averaging(cfg, environment, state)
        if cfg.averaged_from
        else {
            "epochs_completed": state["epoch"] + 1,
            "epochs_planned": cfg.epochs,
            "best_epoch": state["best_epoch"],
            "train_seconds": round(state["train_seconds"]),
            "stages": cfg.stages,
            "optimizer": cfg.optimizer,
            "learning_rate": cfg.learning_rate,
            "weight_decay": cfg.weight_decay,
            "label_smoothing": cfg.label_smoothing,
            "class_weights": cfg.class_weights,
            "batch_size": cfg.batch_size,
            "distribution": {
                "strategy": cfg.strategy,
                "replicas": cfg.replicas,
                "workers": cfg.workers,
                "global_batch_size": cfg.global_batch_size,
                "peak_learning_rate": cfg.peak_learning_rate,
            },
            "seed": cfg.seed,
            "augment": cfg.augment.to_json(),
            "initialisation": initialisation,
        },
        "environment": environment,
        "weights_storage": "float16 (cast to float32 at load)",
        "float16_max_logit_change": fp16_change,
        "exported": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def _copy_run_record(run_dir: Path, to: Path) -> Path:
    """Copy the run's configuration, log, split, curves (and averaged ingredients) into the export."""
    record = to / RUN_RECORD_DIR
    record.mkdir(exist_ok=True)
    for name in COPIED_RUN_FILES:
        if (run_dir / name).is_file():
            shutil.copy2(run_dir / name, record / name)
    if (run_dir / INGREDIENTS_DIR).is_dir():
        shutil.copytree(run_dir / INGREDIENTS_DIR, record / INGREDIENTS_DIR, dirs_exist_ok=True)
    return record


def _initialisation(cfg: TrainConfig, environment: dict[str, Any]) -> str:
    """One sentence on where the run's weights started."""
    if cfg.init_weights:
        initial = environment.get("initial_weights")
        if not initial:  # runs started before environment.json recorded them; the folder may have changed since
            return f"continued from exported weights {cfg.init_weights} (which version was not recorded by the run)"
        version, digest = initial["model_version"], initial["weights_sha256"]
        return f"continued from exported weights {cfg.init_weights} (version {version}, SHA-256 {digest})"
    return f"convolutions from {cfg.init}" if cfg.init else "from scratch (no ImageNet weights)"


def _averaging(cfg: TrainConfig, environment: dict[str, Any], state: dict[str, Any]) -> dict[str, Any]:
    """Provenance of a weight average: its ingredients and how its batch-norm statistics were set."""
    bn = environment.get("batch_norm_reestimation", {})
    return {
        "averaged_from": cfg.averaged_from,
        "batch_norm_statistics": (
            f"re-estimated on {bn.get('images', '?')} training images of the split at {bn.get('size', '?')} px, "
            "without augmentation"
        ),
        "initialisation": (
            f"uniform average of the weights of {len(cfg.averaged_from)} models trained on the same split"
        ),
        "train_seconds": round(state["train_seconds"]),
        "seed": cfg.seed,
    }


def _plots(metrics: dict[str, Any], probs: np.ndarray, labels: np.ndarray, cfg: TrainConfig, folder: Path) -> None:
    from training.plots import confusion_matrix, reliability_diagram

    confusion_matrix(metrics["confusion_matrix"], cfg.class_names, folder / "confusion_matrix.png", "validation")
    reliability_diagram(probs, labels, folder / "reliability.png", "validation, after temperature scaling")


def _cross_fitted(logits: Any, labels: Any) -> dict[str, Any]:
    """The calibrated ECE without the optimism of fitting and judging on the same images."""
    ece, temperatures = cross_fitted_ece(logits, labels)
    return {"ece": ece, "folds": len(temperatures), "temperatures": temperatures}


def _test_time_validation(
    run_dir: Path,
    cfg: TrainConfig,
    weights: Path,
    labels: np.ndarray,
    cache_dir: Path | None,
    flip: bool,
    strip: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Validation logits of the exported weights: the image alone, and averaged as the config will ask (with
    the mirror image and / or with the view stripped to a brain outline)."""
    from core.imaging.brain_outline import stripped_view
    from core.model.preprocess import mean_over_mirror, with_mirror_images
    from training.trainer import model_inputs, predict_logits, prepare_data

    prepared = prepare_data(cfg, run_dir, cache_dir)
    if not np.array_equal(prepared.data.labels[prepared.val_idx], labels):
        raise RunFolderError(f"{run_dir}: the validation split no longer matches the saved validation logits")
    model = build_vgg19(cfg.architecture())
    model.load_weights(weights)
    images = prepared.data.images[prepared.val_idx]

    def logits_of(inputs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if not flip:
            alone = predict_logits(model, inputs)
            return alone, alone
        both = predict_logits(model, with_mirror_images(inputs))  # one pass: the images, then their mirror images
        return both[: len(inputs)], mean_over_mirror(both)

    plain, averaged = logits_of(model_inputs(cfg, images, cfg.deploy_size))
    if strip:
        views = np.stack([stripped_view(image, strip) for image in images])
        averaged = 0.5 * (averaged + logits_of(model_inputs(cfg, views, cfg.deploy_size))[1])
    return plain, averaged


def _headline(metrics: dict[str, Any]) -> dict[str, Any]:
    """The figures the model card compares with and without the test-time views."""
    keys = ("accuracy", "macro_f1", "tumor_sensitivity", "tumor_specificity", "ece")
    recalls = {name: pc["recall"] for name, pc in metrics["per_class"].items()}
    return {**{k: metrics.get(k) for k in keys}, "recall": recalls, "temperature": metrics["temperature"]}

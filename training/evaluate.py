"""Metrics of a run's best checkpoint or of exported weights on any labelled folder."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import numpy as np

from core.model.classifier import decision_logits, softmax
from core.model.model_config import CONFIG_FILENAME, ModelConfig, load_model_config, verified_weights_path
from core.model.network import build_vgg19
from training import checkpoint as ckpt
from training.config import RUN_CONFIG, TrainConfig
from training.errors import RunFolderError
from training.images import load_for_weights
from training.manifest import build_manifest
from training.metrics import classification_metrics
from training.split import positions_of
from training.trainer import predict_logits


def model_for(source: Path) -> tuple[Any, ModelConfig]:
    """Build the model for a run folder (best checkpoint), an exported weights folder, or one weights file
    ``RUN/<folder>/<name>.weights.h5`` of a run (for example an epoch's checkpoint)."""
    if source.is_file() and source.name.endswith(".weights.h5") and (source.parent.parent / RUN_CONFIG).is_file():
        cfg = TrainConfig.load(source.parent.parent)
        model = build_vgg19(cfg.architecture())
        model.load_weights(source)
        return model, ModelConfig(
            architecture=cfg.architecture(), preprocessing=cfg.preprocessing(), class_names=tuple(cfg.class_names)
        )
    if (source / CONFIG_FILENAME).is_file():
        config = load_model_config(source)
        model = build_vgg19(config.architecture)
        model.load_weights(verified_weights_path(source, config))
        return model, config
    if (source / RUN_CONFIG).is_file():
        cfg = TrainConfig.load(source)
        best = source / ckpt.CHECKPOINT_DIR / ckpt.BEST_WEIGHTS
        if not best.is_file():
            raise RunFolderError(f"{source} has no best checkpoint yet")
        model = build_vgg19(cfg.architecture())
        model.load_weights(best)
        return model, ModelConfig(
            architecture=cfg.architecture(), preprocessing=cfg.preprocessing(), class_names=tuple(cfg.class_names)
        )
    raise RunFolderError(f"{source} is neither a run folder nor an exported weights folder")


def evaluate_source(
    source: Path,
    data_dir: Path,
    out: Path | None = None,
    cache_dir: Path | None = None,
    *,
    split_file: Path | None = None,
    test_time_flip: bool | None = None,
) -> str:
    """Evaluate and return a readable summary; with ``out`` also write metrics.json and plots.

    ``split_file`` (a run's ``split.json``) restricts the images to that split's validation part;
    ``test_time_flip`` overrides the config's choice of averaging each image with its mirror image.
    """
    from core.model.preprocess import flip_averaged_logits, stripped_model_input, to_model_input

    model, config = model_for(Path(source))
    manifest = build_manifest(Path(data_dir), config.class_names)
    data = load_for_weights(manifest, config, cache_dir)
    images, labels = list(data.images), data.labels
    if split_file is not None:
        chosen = _validation_positions(split_file, data.relpaths)
        images, labels = [images[i] for i in chosen], labels[chosen]
    inputs = to_model_input(images, config)
    flip = config.test_time_flip if test_time_flip is None else test_time_flip
    predict = functools.partial(predict_logits, model)

    def view_logits(batch: np.ndarray) -> np.ndarray:  # as the application does when the config sets test_time_flip
        return flip_averaged_logits(predict, batch) if flip else predict(batch)

    logits = view_logits(inputs)
    stripped = stripped_model_input(images, config)  # as the application does when the config sets test_time_strip
    if stripped is not None:
        logits = 0.5 * (logits + view_logits(stripped))
    logits = decision_logits(logits, config)  # as the application reads its answer (tumor_prior_shift)
    metrics = classification_metrics(logits, labels, config.class_names, config.temperature)
    metrics["data"] = {"folder": str(data_dir), "fingerprint": manifest.fingerprint, "skipped": data.skipped}
    metrics["test_time_flip"] = flip
    metrics["test_time_strip"] = config.test_time_strip
    metrics["tumor_prior_shift"] = config.tumor_prior_shift
    if split_file is not None:
        metrics["data"]["validation_part_of"] = str(split_file)
    if out is not None:
        from training.plots import confusion_matrix, reliability_diagram

        out.mkdir(parents=True, exist_ok=True)
        (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
        confusion_matrix(metrics["confusion_matrix"], config.class_names, out / "confusion_matrix.png", "evaluation")
        reliability_diagram(softmax(logits, config.temperature), labels, out / "reliability.png", "evaluation")
    return format_metrics(metrics, config.class_names)


def _validation_positions(split_file: Path, relpaths: list[str]) -> np.ndarray:
    """Positions in ``relpaths`` of the validation images named by a run's ``split.json``."""
    try:
        wanted = json.loads(Path(split_file).read_text(encoding="utf-8"))["val"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise RunFolderError(f"{split_file} is not a readable split.json with a 'val' list: {exc}") from exc
    return np.asarray(positions_of(wanted, relpaths, split_file), dtype=np.int64)


def format_metrics(metrics: dict[str, Any], class_names: tuple[str, ...] | list[str]) -> str:
    lines = [
        f"images: {metrics['n']}",
        f"accuracy: {metrics['accuracy']:.4f}   macro-F1: {metrics['macro_f1']:.4f}   ECE: {metrics['ece']:.4f}",
    ]
    if "tumor_sensitivity" in metrics:
        lines.append(
            f"tumor sensitivity: {metrics['tumor_sensitivity']:.4f}   specificity: {metrics['tumor_specificity']:.4f}"
        )
    for name in class_names:
        pc = metrics["per_class"][name]
        auc = "n/a" if pc["roc_auc"] is None else f"{pc['roc_auc']:.4f}"
        lines.append(
            f"  {name:<11} precision {pc['precision']:.4f}  recall {pc['recall']:.4f}  "
            f"F1 {pc['f1']:.4f}  AUC {auc}  n={pc['support']}"
        )
    return "\n".join(lines)

"""Weight averaging ("model soup"): one model from several fine-tuned from the same starting weights.

A weighted mix of a fine-tuned model and the weights it started from (WiSE-FT, Wortsman et al. 2022)
often keeps the start's accuracy on its own data and much of the fine-tuning's robustness; ``mix`` gives
each ingredient its share.

Every ingredient must have been trained on the same duplicate-aware split (checked), so the averaged
model's validation images are images none of the ingredients trained on. Batch-norm statistics are
not averaged but re-estimated on the training part of the split at the deployment size, without
augmentation. The result is a run folder that ``neuroreview-train export`` takes like any other.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from core.model.model_config import CONFIG_FILENAME, load_model_config, sha256_file, verified_weights_path
from core.model.network import Architecture, build_vgg19
from core.platform.progress import ProgressBar
from training import checkpoint as ckpt
from training.config import RUN_CONFIG, RUN_RECORD_DIR, TrainConfig
from training.environment import describe_environment
from training.errors import RunFolderError
from training.metrics import classification_metrics
from training.split import seeded_subset
from training.trainer import BEST_LOGITS, LOG_FILE, model_inputs, predict_logits, prepare_data

INGREDIENTS_DIR = "ingredients"  # each ingredient's own training record, kept in the averaged run folder


@dataclass(frozen=True)
class Ingredient:
    """One set of weights to average, with the split it was trained on and what identifies it."""

    source: Path
    weights: Path
    split_file: Path
    record: dict[str, Any]
    record_files: tuple[Path, ...]
    architecture: Architecture
    class_names: tuple[str, ...]
    crop_to_head: bool


def find_ingredient(source: Path) -> Ingredient:
    """An exported weights folder, a run folder (its best checkpoint) or a checkpoint file in a run folder."""
    source = Path(source)
    if source.is_file() and source.name.endswith(".weights.h5") and source.parent.name == ckpt.CHECKPOINT_DIR:
        return _run_ingredient(source.parent.parent, source)
    if (source / CONFIG_FILENAME).is_file():
        config = load_model_config(source)
        record_dir = source / RUN_RECORD_DIR
        weights = verified_weights_path(source, config)
        return Ingredient(
            source=source,
            weights=weights,
            split_file=record_dir / "split.json",
            record={
                "source": str(source.resolve()),
                "kind": "exported weights",
                "model_version": config.model_version,
                "weights_sha256": config.weights_sha256,
            },
            record_files=(source / CONFIG_FILENAME, source / "MODEL_CARD.md"),
            architecture=config.architecture,
            class_names=config.class_names,
            crop_to_head=config.preprocessing.crop_to_head,
        )
    if (source / RUN_CONFIG).is_file():
        return _run_ingredient(source, source / ckpt.CHECKPOINT_DIR / ckpt.BEST_WEIGHTS)
    raise RunFolderError(f"{source} is neither an exported weights folder, a run folder nor a run's checkpoint file")


def _run_ingredient(run_dir: Path, weights: Path) -> Ingredient:
    if not (run_dir / RUN_CONFIG).is_file():
        raise RunFolderError(f"{weights} is not inside a training run folder (no {run_dir / RUN_CONFIG})")
    if not weights.is_file():
        raise RunFolderError(f"{run_dir} has no checkpoint {weights.name} yet")
    cfg = TrainConfig.load(run_dir)
    state = ckpt.load_state(run_dir) or {}
    files = tuple(run_dir / name for name in (RUN_CONFIG, LOG_FILE, "environment.json") if (run_dir / name).is_file())
    return Ingredient(
        source=run_dir,
        weights=weights,
        split_file=run_dir / "split.json",
        record={
            "source": str(weights.resolve()),
            "kind": "training run checkpoint",
            "epochs_completed": int(state.get("epoch", -1)) + 1,
            "best_epoch": state.get("best_epoch"),
            "weights_sha256": sha256_file(weights),
        },
        record_files=files,
        architecture=cfg.architecture(),
        class_names=tuple(cfg.class_names),
        crop_to_head=cfg.crop_to_head,
    )


def common_split(ingredients: list[Ingredient]) -> Path:
    """The split file all ingredients share; averaging models trained on different splits is refused."""
    parts: list[tuple[list[str], list[str]]] = []
    for ing in ingredients:
        if not ing.split_file.is_file():
            raise RunFolderError(f"{ing.source} does not record the split it was trained on ({ing.split_file})")
        saved = json.loads(ing.split_file.read_text(encoding="utf-8"))
        parts.append((sorted(saved["train"]), sorted(saved["val"])))
    for ing, part in zip(ingredients[1:], parts[1:], strict=True):
        if part != parts[0]:
            raise RunFolderError(
                f"{ing.source} was trained on a different split than {ingredients[0].source}; "
                "averaging them would validate on images some of them trained on"
            )
    return ingredients[0].split_file


def mix_shares(mix: list[float] | None, n: int) -> list[float]:
    """Each ingredient's share of the average (equal when ``mix`` is None), normalised to sum to 1."""
    if mix is None:
        return [1.0 / n] * n
    if len(mix) != n:
        raise RunFolderError(f"--mix gives {len(mix)} shares for {n} sets of weights")
    if any(not np.isfinite(m) or m < 0 for m in mix) or sum(mix) <= 0:
        raise RunFolderError("--mix shares must be non-negative numbers, not all zero")
    return [float(m) / float(sum(mix)) for m in mix]


def averaged_weights(
    model: Any, weight_files: list[Path], shares: list[float] | None = None
) -> list[NDArray[np.float32]]:
    """The element-wise weighted mean of the weights in ``weight_files`` (loaded into ``model`` one after
    another); equal shares unless ``shares`` (summing to 1) are given."""
    shares = shares or mix_shares(None, len(weight_files))
    total: list[NDArray[np.float64]] | None = None
    for path, share in zip(weight_files, shares, strict=True):
        model.load_weights(path)
        values = [share * np.asarray(w, dtype=np.float64) for w in model.get_weights()]
        total = values if total is None else [t + v for t, v in zip(total, values, strict=True)]
    assert total is not None
    return [np.asarray(t, dtype=np.float32) for t in total]


def deployment_crop(ingredients: list[Ingredient], crop_to_head: bool | None) -> bool:
    """Whether the averaged model cuts slices to the head: as asked, or as every ingredient does."""
    if crop_to_head is not None:
        return crop_to_head
    crops = {ing.crop_to_head for ing in ingredients}
    if len(crops) > 1:
        raise RunFolderError(
            "the ingredients prepare slices differently (some cut them to the head); "
            "choose the averaged model's preparation with --crop-to-head or --no-crop-to-head"
        )
    return crops.pop()


def batch_norm_sample(train_positions: NDArray[np.int64], limit: int | None) -> NDArray[np.int64]:
    """The training positions whose batches re-estimate batch-norm statistics: all of them, or a seeded
    sample of ``limit`` (the statistics settle after a few dozen batches; a quick comparison of mixes
    need not pass every training image)."""
    if limit is not None and limit < 1:
        raise RunFolderError(f"--bn-images must be at least 1, not {limit}")
    return train_positions[seeded_subset(len(train_positions), limit)]


def reestimate_batch_norm(
    model: Any, inputs: NDArray[np.float32], batch_size: int, *, show_progress: bool = False
) -> int:
    """Replace every batch-norm layer's moving statistics by their average over ``inputs``' batches.

    The momentum of batch k (0-based) is k / (k + 1), so after the last batch the moving mean and
    variance are the plain mean of the per-batch statistics. Returns the number of batches used.
    """
    import keras

    layers = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    momenta = [layer.momentum for layer in layers]
    batches = max(len(inputs) // batch_size, 1)
    progress = ProgressBar(sys.stderr, batches, "batch-norm statistics", unit="batches", enabled=show_progress)
    try:
        for k in range(batches):
            for layer in layers:
                layer.momentum = k / (k + 1)
            model(inputs[k * batch_size : (k + 1) * batch_size], training=True)
            progress.update(k + 1)
    finally:
        progress.close()
        for layer, momentum in zip(layers, momenta, strict=True):
            layer.momentum = momentum
    return batches


def average_runs(
    sources: list[Path],
    data_dir: Path,
    out: Path,
    *,
    size: int | None = None,
    cache_dir: Path | None = None,
    mix: list[float] | None = None,
    crop_to_head: bool | None = None,
    bn_images: int | None = None,
) -> Path:
    """Average the ingredients' weights (in the shares ``mix``, equal by default) into the new run folder
    ``out`` and validate the result there, on slices prepared as the averaged model will see them.
    ``bn_images`` re-estimates batch-norm statistics on a seeded sample of that many training images."""
    import keras

    if len(sources) < 2:
        raise RunFolderError("averaging needs at least two sets of weights")
    ingredients = [find_ingredient(Path(s)) for s in sources]
    _check_same_network(ingredients)
    split_file = common_split(ingredients)
    shares = mix_shares(mix, len(ingredients))
    crop = deployment_crop(ingredients, crop_to_head)
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise RunFolderError(f"output folder {out} is not empty")
    first = ingredients[0]
    arch = first.architecture
    size = int(size or arch.input_size)
    smallest = 2 ** (len(arch.widths) - 1)  # one 2x pooling between blocks
    if size < smallest:
        raise RunFolderError(f"--size {size} is too small: this network needs at least {smallest} pixels")
    cfg = TrainConfig(
        data=str(Path(data_dir).resolve()),
        out=str(out.resolve()),
        class_names=list(first.class_names),
        stages=[[size, 0]],
        channels=arch.channels,
        widths=list(arch.widths),
        depths=list(arch.depths),
        dropout=arch.dropout,
        split=str(split_file.resolve()),
        crop_to_head=crop,
        averaged_from=[{**ing.record, "share": share} for ing, share in zip(ingredients, shares, strict=True)],
    )
    _create_run_folder(out, cfg, split_file, ingredients)
    started = time.monotonic()
    prepared = prepare_data(cfg, out, cache_dir)
    keras.mixed_precision.set_global_policy("float32")
    model = build_vgg19(cfg.architecture(), any_size=True)
    model.set_weights(averaged_weights(model, [ing.weights for ing in ingredients], shares))
    chosen = batch_norm_sample(np.asarray(prepared.train_idx), bn_images)
    print(f"re-estimating batch-norm statistics on {len(chosen)} training images", file=sys.stderr)
    train_inputs = model_inputs(cfg, prepared.data.images[chosen], size)
    batches = reestimate_batch_norm(model, train_inputs, cfg.batch_size, show_progress=True)
    del train_inputs
    logits = predict_logits(model, model_inputs(cfg, prepared.data.images[prepared.val_idx], size))
    labels = prepared.data.labels[prepared.val_idx]
    metrics = classification_metrics(logits, labels, cfg.class_names)
    seconds = time.monotonic() - started
    used = min(len(chosen), batches * cfg.batch_size)
    _record_result(out, model, (batches, used, size), (logits, labels), metrics, seconds)
    print(
        f"averaged {len(ingredients)} models: val accuracy {metrics['accuracy']:.4f}, "
        f"macro-F1 {metrics['macro_f1']:.4f} ({seconds / 60:.1f} min)",
        file=sys.stderr,
    )
    return out


def _check_same_network(ingredients: list[Ingredient]) -> None:
    """Refuse ingredients whose architecture or class order differ from the first one's."""
    first = ingredients[0]
    for ing in ingredients[1:]:
        if (ing.architecture.widths, ing.architecture.depths, ing.architecture.channels, ing.class_names) != (
            first.architecture.widths,
            first.architecture.depths,
            first.architecture.channels,
            first.class_names,
        ):
            raise RunFolderError(f"{ing.source} has a different architecture or class order than {first.source}")


def _create_run_folder(out: Path, cfg: TrainConfig, split_file: Path, ingredients: list[Ingredient]) -> None:
    """The averaged run's folder: its config, the shared split and a copy of each ingredient's records."""
    out.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(split_file, out / "split.json")
    cfg.save(out)
    for number, ing in enumerate(ingredients, start=1):
        folder = out / INGREDIENTS_DIR / f"{number}_{ing.source.name}"
        folder.mkdir(parents=True)
        for path in ing.record_files:
            if path.is_file():
                shutil.copy2(path, folder / path.name)


def _record_result(
    out: Path,
    model: Any,
    reestimation: tuple[int, int, int],
    validation: tuple[Any, Any],
    metrics: dict[str, Any],
    seconds: float,
) -> None:
    """Write what a trained run holds (environment, best weights, validation logits, state) for export."""
    batches, images, size = reestimation
    logits, labels = validation
    env = describe_environment()
    env.update(
        precision_policy="float32",
        started=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        batch_norm_reestimation={"images": images, "batches": batches, "size": size},
    )
    (out / "environment.json").write_text(json.dumps(env, indent=2) + "\n", encoding="utf-8")
    (out / ckpt.CHECKPOINT_DIR).mkdir()
    ckpt.save_weights_atomic(model, out / ckpt.CHECKPOINT_DIR / ckpt.BEST_WEIGHTS)
    np.savez(out / BEST_LOGITS, logits=logits, labels=labels)
    state = {"epoch": -1, "best_metric": metrics["macro_f1"], "best_epoch": 0, "train_seconds": seconds}
    (out / ckpt.CHECKPOINT_DIR / ckpt.STATE_FILE).write_text(json.dumps(state, indent=2) + "\n", encoding="utf-8")

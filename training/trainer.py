"""The training loop: data preparation, per-epoch fit, validation, checkpoints, resume.

Long work reports progress through Keras' progress bar (with ETA) and a CSV log; every epoch
ends with an atomic checkpoint, so ``resume`` continues from the last finished epoch with the
same data order, augmentation draws and learning-rate schedule.
"""

from __future__ import annotations

import csv
import json
import shutil
import sys
import tempfile
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from core.model.network import build_vgg19
from training import checkpoint as ckpt
from training.config import RUN_RECORD_DIR, TrainConfig
from training.distribute import (
    Distribution,
    DistributionError,
    check_workers_agree,
    chief_decides,
    distributed_epoch,
    make_distribution,
)
from training.environment import choose_precision, describe_environment
from training.errors import RunFolderError
from training.images import DecodedDataset, load_dataset
from training.manifest import build_manifest, save_manifest
from training.metrics import classification_metrics
from training.split import Split, group_duplicates, positions_of, stratified_group_split

if TYPE_CHECKING:  # pragma: no cover
    from training.mask_training import MaskedTraining

LOG_FILE = "log.csv"
LOG_FIELDS = [
    "epoch",
    "size",
    "learning_rate",
    "train_loss",
    "train_accuracy",
    "val_loss",
    "val_accuracy",
    "val_macro_f1",
    "seconds",
    "train_mask_loss",
]
BEST_LOGITS = "best_val_logits.npz"


@dataclass
class PreparedData:
    data: DecodedDataset
    split: Split
    train_idx: NDArray[np.int64]
    val_idx: NDArray[np.int64]


def prepare_data(cfg: TrainConfig, run_dir: Path, cache_dir: Path | None = None) -> PreparedData:
    """Manifest, decoded cache and duplicate-aware split (computed once, then read from the run folder)."""
    manifest = build_manifest(Path(cfg.data), cfg.class_names)
    manifest_file = run_dir / "manifest.json"
    if not manifest_file.exists():
        save_manifest(manifest, manifest_file)
    elif json.loads(manifest_file.read_text(encoding="utf-8"))["fingerprint"] != manifest.fingerprint:
        raise RunFolderError(f"the data in {cfg.data} changed since this run started (manifest fingerprint differs)")
    data = load_dataset(manifest, cfg.cache_size, cache_dir, show_progress=True, crop_to_head=cfg.crop_to_head)
    if data.skipped:
        print(f"skipped {len(data.skipped)} unreadable image(s), listed in {run_dir / 'skipped.json'}", file=sys.stderr)
        (run_dir / "skipped.json").write_text(json.dumps(data.skipped, indent=1), encoding="utf-8")
    split_file = run_dir / "split.json"
    digests = {e.relpath: e.sha256 for e in manifest.entries}
    if split_file.exists():
        saved = json.loads(split_file.read_text(encoding="utf-8"))
        train = tuple(positions_of(saved["train"], data.relpaths, split_file))
        val = tuple(positions_of(saved["val"], data.relpaths, split_file))
        split = Split(train, val, (), saved["max_bits"], saved["near_duplicate_pairs"])
    else:
        groups, pairs = group_duplicates(data.images, [digests[p] for p in data.relpaths], cfg.dedup_max_bits)
        split = stratified_group_split(
            data.labels.tolist(), groups, cfg.val_fraction, cfg.seed, cfg.dedup_max_bits, pairs
        )
        split.save(split_file, data.relpaths)
    return PreparedData(data, split, np.asarray(split.train, dtype=np.int64), np.asarray(split.val, dtype=np.int64))


def make_train_dataset(
    cfg: TrainConfig,
    prepared: PreparedData,
    epoch: int,
    shards: int = 1,
    shard: int = 0,
    batch: int | None = None,
    batches: int | None = None,
) -> Any:
    """tf.data pipeline of one epoch: seeded order, stateless augmentation, resize, normalise, batch.

    With several input pipelines (workers), ``shard`` of ``shards`` takes every ``shards``-th sample of the
    epoch's order, in batches of ``batch`` (default ``cfg.batch_size``), ``batches`` of them at most.
    """
    import tensorflow as tf

    from training.augment import augment_image

    rng = np.random.default_rng([cfg.seed, epoch])
    order = rng.permutation(prepared.train_idx)
    size = cfg.size_for_epoch(epoch)
    prep = cfg.preprocessing()
    n_classes = len(cfg.class_names)
    seeds = np.stack([np.full(len(order), epoch, dtype=np.int64), order.astype(np.int64)], axis=1)
    seeds[:, 0] += cfg.seed * 1000
    order, seeds = order[shard::shards], seeds[shard::shards]

    def load(image: Any, label: Any, seed: Any) -> tuple[Any, Any]:
        x = tf.cast(image, tf.float32)[..., tf.newaxis]
        x = augment_image(x, seed, cfg.augment)
        if size != cfg.cache_size:
            x = tf.image.resize(x, (size, size), method="bilinear", antialias=True)
        x = x * prep.scale + prep.offset
        if cfg.channels != 1:
            x = tf.repeat(x, cfg.channels, axis=-1)
        return x, tf.one_hot(label, n_classes)

    ds = tf.data.Dataset.from_tensor_slices((prepared.data.images[order], prepared.data.labels[order], seeds))
    ds = ds.map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    if cfg.class_weights:  # per-sample loss weights: (x, y) -> (x, y, weight of y's class)
        table = tf.constant(cfg.loss_weights(), dtype=tf.float32)
        ds = ds.map(lambda x, y: (x, y, tf.gather(table, tf.argmax(y, output_type=tf.int32))), deterministic=True)
    return batched(ds, cfg, batch, batches)


def batched(ds: Any, cfg: TrainConfig, batch: int | None = None, batches: int | None = None) -> Any:
    """Full batches of ``batch`` samples (default ``cfg.batch_size``), ``batches`` of them (default: all, or
    ``cfg.max_steps_per_epoch``), prefetched."""
    ds = ds.batch(batch or cfg.batch_size, drop_remainder=True)
    limit = batches or cfg.max_steps_per_epoch
    if limit:
        ds = ds.take(limit)
    return ds.prefetch(2)


def model_inputs(cfg: TrainConfig, images: NDArray[np.uint8], size: int) -> NDArray[np.float32]:
    """Normalised network input for evaluation (same preprocessing as the application)."""
    from core.model.model_config import ModelConfig
    from core.model.preprocess import to_model_input

    config = ModelConfig(architecture=cfg.architecture(), preprocessing=cfg.preprocessing())
    return to_model_input(list(images), config, size)


def predict_logits(model: Any, inputs: NDArray[np.float32], batch_size: int = 64) -> NDArray[np.float32]:
    return np.asarray(model.predict(inputs, batch_size=batch_size, verbose=0), dtype=np.float32)


def steps_per_epoch(cfg: TrainConfig, n_train: int) -> int:
    """Optimizer steps of one epoch: global batches (over all replicas) of the training set."""
    steps = n_train // cfg.global_batch_size
    return min(steps, cfg.max_steps_per_epoch) if cfg.max_steps_per_epoch else steps


def build_training_model(cfg: TrainConfig, n_train: int) -> tuple[Any, Any, Any, str]:
    """Model (any input size), the model ``fit`` trains (the same one, or with the mask loss's second
    output for realistic runs), optimizer with the warm-up/cosine schedule, and the dtype policy used."""
    import keras
    import tensorflow as tf

    from training.schedule import WarmupCosine

    policy = choose_precision(cfg.precision, bool(tf.config.list_physical_devices("GPU")))
    keras.mixed_precision.set_global_policy(policy)
    keras.utils.set_random_seed(cfg.seed)
    model = build_vgg19(cfg.architecture(), any_size=True)
    steps = steps_per_epoch(cfg, n_train)
    schedule = WarmupCosine(cfg.peak_learning_rate, int(cfg.warmup_epochs * steps), steps * cfg.epochs)
    if cfg.optimizer == "sgd":
        optimizer = keras.optimizers.SGD(schedule, momentum=0.9, nesterov=True, weight_decay=cfg.weight_decay)
    else:
        optimizer = keras.optimizers.AdamW(schedule, weight_decay=cfg.weight_decay)
    classification = keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=cfg.label_smoothing)
    if not cfg.realistic:
        model.compile(optimizer=optimizer, loss=classification, metrics=["accuracy"])
        return model, model, optimizer, policy
    from core.model.network import LOGITS_LAYER
    from training.mask_training import FEATURES_OUTPUT, mask_mass_loss, mask_training_model, with_strip_consistency

    if cfg.strip_consistency_weight > 0:
        classification = with_strip_consistency(classification, cfg.strip_consistency_weight)
    fit_model = mask_training_model(model)
    fit_model.compile(
        optimizer=optimizer,
        loss={LOGITS_LAYER: classification, FEATURES_OUTPUT: mask_mass_loss(model.get_layer(LOGITS_LAYER).kernel)},
        loss_weights={LOGITS_LAYER: 1.0, FEATURES_OUTPUT: cfg.mask_loss_weight},
        metrics={LOGITS_LAYER: ["accuracy"]},
    )
    return model, fit_model, optimizer, policy


def load_exported_weights(model: Any, cfg: TrainConfig, folder: Path) -> dict[str, str]:
    """Start from previously exported weights (after their SHA-256 check); the architecture must match.

    Returns what identifies them (folder, model version, SHA-256) for the run's environment record.
    """
    from core.model.model_config import load_model_config, verified_weights_path

    exported = load_model_config(folder)
    theirs, ours = exported.architecture, cfg.architecture()
    if (theirs.widths, theirs.depths, theirs.channels, theirs.num_classes) != (
        ours.widths,
        ours.depths,
        ours.channels,
        ours.num_classes,
    ) or exported.class_names != tuple(cfg.class_names):
        raise RunFolderError(f"--init-weights {folder} has a different architecture or class order")
    model.load_weights(verified_weights_path(folder, exported))
    return {"folder": str(folder), "model_version": exported.model_version, "weights_sha256": exported.weights_sha256}


def _append_log(run_dir: Path, row: dict[str, Any]) -> None:
    path = run_dir / LOG_FILE
    new = not path.exists()
    with open(path, "a", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=LOG_FIELDS)
        if new:
            writer.writeheader()
        writer.writerow(row)


def start_run(cfg: TrainConfig, cache_dir: Path | None = None, strategy: str | Distribution = "one") -> Path:
    """Create the run folder (refusing a non-empty one) and train from epoch 0.

    Under a multi-worker strategy every worker runs this with the same configuration; only the chief
    creates ``cfg.out``, the others train in a temporary folder they delete at the end.
    """
    run_dir = Path(cfg.out)
    cfg.loss_weights()  # unknown class names or non-positive weights: refused before anything is written
    if cfg.realistic and cfg.class_weights:
        raise RunFolderError("--class-weight is not supported with --realism or --masked-data")
    if cfg.strip_consistency_weight < 0 or (cfg.strip_consistency_weight > 0 and not cfg.realistic):
        raise RunFolderError("--strip-consistency must not be negative and goes with --realism or --masked-data")
    if cfg.copies_per_sample == 2 and cfg.batch_size % 2:
        raise RunFolderError(f"--strip-consistency needs an even batch size (sample and twin), got {cfg.batch_size}")
    split_source = inherited_split(cfg)
    if split_source is not None and not split_source.is_file():
        raise RunFolderError(f"split file {split_source} does not exist")
    dist = strategy if isinstance(strategy, Distribution) else make_distribution(strategy)
    cfg.strategy, cfg.replicas, cfg.workers = dist.name, dist.replicas, dist.workers
    if not dist.is_chief:
        with worker_scratch() as scratch:
            _create_run_folder(cfg, scratch, split_source)
            _train(scratch, cache_dir, dist)
        return run_dir
    if run_dir.exists() and any(run_dir.iterdir()):
        raise RunFolderError(f"run folder {run_dir} is not empty; use `neuroreview-train resume {run_dir}`")
    _create_run_folder(cfg, run_dir, split_source)
    return _train(run_dir, cache_dir, dist)


def _create_run_folder(cfg: TrainConfig, run_dir: Path, split_source: Path | None) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    if split_source is not None:
        cfg.split = str(split_source)
        shutil.copyfile(split_source, run_dir / "split.json")
        print(f"validation split reused from {split_source}", file=sys.stderr)
    cfg.save(run_dir)


@contextmanager
def worker_scratch() -> Iterator[Path]:
    """Where a non-chief worker keeps its copy of the run (config, split, checkpoints); deleted afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="neuroreview-worker-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def inherited_split(cfg: TrainConfig) -> Path | None:
    """The split a new run reuses: ``cfg.split``, else the one its initial weights were trained on, if recorded.

    Continuing from exported weights on a different split would put images those weights trained on into the
    new validation set; the split is not recomputed because it depends on the decoded cache size.
    """
    if cfg.split:
        return Path(cfg.split)
    if cfg.init_weights:
        recorded = Path(cfg.init_weights) / RUN_RECORD_DIR / "split.json"
        if recorded.is_file():
            return recorded
    return None


def run_training(run_dir: Path, cache_dir: Path | None = None, strategy: str | Distribution = "one") -> Path:
    """Train (or continue training) the run in ``run_dir`` until its last epoch or early stop.

    A run continues with the replicas it started with (the global batch and learning-rate schedule depend
    on them). A non-chief worker reads its copy of the chief's run folder and trains in a temporary copy.
    """
    from training.config import TrainConfig

    if not (run_dir / "run_config.json").is_file():
        raise RunFolderError(f"{run_dir} is not a training run folder (no run_config.json)")
    cfg = TrainConfig.load(run_dir)
    dist = strategy if isinstance(strategy, Distribution) else make_distribution(strategy)
    if (cfg.replicas, cfg.workers) != (dist.replicas, dist.workers):
        raise DistributionError(
            f"{run_dir} was trained by {cfg.replicas} replica(s) on {cfg.workers} worker(s) ({cfg.strategy}), this "
            f"process has {dist.replicas} on {dist.workers} ({dist.name}); resume it the same way, or start a new "
            "run with --init-weights from its export"
        )
    if dist.is_chief:
        return _train(run_dir, cache_dir, dist)
    with worker_scratch() as scratch:
        shutil.copytree(run_dir, scratch, dirs_exist_ok=True)
        _train(scratch, cache_dir, dist)
    return run_dir


def _fingerprint(items: Any) -> int:
    return zlib.crc32("\n".join(map(str, items)).encode("utf-8"))


def _pipeline_of_epoch(
    cfg: TrainConfig, prepared: PreparedData, realistic: MaskedTraining | None, epoch: int
) -> Callable[[int, int, int, int], Any]:
    """``make(shards, shard, batch, batches)``: one worker's input pipeline of ``epoch``."""

    def make(shards: int, shard: int, batch: int, batches: int) -> Any:
        if realistic is None:
            return make_train_dataset(cfg, prepared, epoch, shards, shard, batch, batches)
        from training.mask_training import make_epoch_dataset

        images, labels = prepared.data.images, prepared.data.labels
        return make_epoch_dataset(cfg, realistic, images, labels, epoch, shards, shard, batch, batches)

    return make


def _train(run_dir: Path, cache_dir: Path | None, dist: Distribution) -> Path:
    """The epochs of the run in ``run_dir`` (the chief's run folder or a worker's scratch copy)."""
    import keras

    from training.config import TrainConfig

    cfg = TrainConfig.load(run_dir)
    prepared = prepare_data(cfg, run_dir, cache_dir)
    realistic = None
    if cfg.realistic:
        from training.mask_training import prepare_masked

        realistic = prepare_masked(cfg, run_dir, prepared, cache_dir)
    n_train = len(prepared.train_idx) if realistic is None else realistic.epoch_length(cfg)
    steps = steps_per_epoch(cfg, n_train)
    if dist.strategy is not None and steps < 1:
        raise DistributionError(f"{n_train} training samples make no global batch of {cfg.global_batch_size}")
    with dist.scope():
        model, fit_model, optimizer, policy = build_training_model(cfg, n_train)
    state = ckpt.load_state(run_dir)
    check_workers_agree(
        dist,
        {
            "data": _fingerprint(prepared.data.relpaths),
            "split": _fingerprint(prepared.train_idx.tolist()),
            "training samples": n_train,
            "resume epoch": -1 if state is None else int(state["epoch"]),
        },
    )
    if state is None:
        state = _start(run_dir, cfg, model, policy, dist)
    else:
        with dist.scope():
            ckpt.restore_checkpoint(run_dir, model, optimizer)
        print(f"resuming {run_dir} after epoch {state['epoch'] + 1}", file=sys.stderr)
    val_inputs = model_inputs(cfg, prepared.data.images[prepared.val_idx], cfg.deploy_size)
    val_labels = prepared.data.labels[prepared.val_idx]
    # validation on one device, whatever the strategy: every worker computes the same figures
    val_model = model if dist.strategy is None else build_vgg19(cfg.architecture(), any_size=True)
    replicated = None
    if dist.strategy is not None:
        from training.replica_loop import ReplicaTrainer

        replicated = ReplicaTrainer(fit_model, dist)
    for epoch in range(state["epoch"] + 1, cfg.epochs):
        keras.utils.set_random_seed(cfg.seed + epoch)
        started = time.monotonic()
        size = cfg.size_for_epoch(epoch)
        print(f"epoch {epoch + 1}/{cfg.epochs} at {size} px", file=sys.stderr)
        if replicated is None:
            dataset = _local_epoch_dataset(cfg, prepared, realistic, epoch)
            history = fit_model.fit(dataset, epochs=1, verbose=1, shuffle=False).history
            figures = {name: values[-1] for name, values in history.items()}
        else:
            make = _pipeline_of_epoch(cfg, prepared, realistic, epoch)
            dataset, spec = distributed_epoch(dist, make, cfg.global_batch_size, steps)
            figures = replicated.train_epoch(dataset, spec, steps)
        if val_model is not model:
            val_model.set_weights(model.get_weights())
        logits = predict_logits(val_model, val_inputs)
        metrics = classification_metrics(logits, val_labels, cfg.class_names)
        seconds = time.monotonic() - started
        _log_epoch(run_dir, epoch, size, float(np.asarray(optimizer.learning_rate)), figures, metrics, seconds)
        _keep_epoch(run_dir, state, epoch, seconds, metrics["macro_f1"], model, optimizer, (logits, val_labels))
        stop = bool(cfg.patience and state["epochs_without_improvement"] >= cfg.patience)
        if chief_decides(dist, stop):
            print(f"early stop: no improvement for {cfg.patience} epochs", file=sys.stderr)
            break
    from training.plots import learning_curves

    learning_curves(run_dir / LOG_FILE, run_dir / "learning_curves.png")
    return run_dir


def _start(run_dir: Path, cfg: TrainConfig, model: Any, policy: str, dist: Distribution) -> dict[str, Any]:
    """A new run's first steps: initial weights, ``environment.json``; returns the state before epoch 1."""
    with dist.scope():
        if cfg.init:
            from training.imagenet_init import load_imagenet_convolutions

            load_imagenet_convolutions(model, Path(cfg.init))
        env = describe_environment()
        if cfg.init_weights:
            env["initial_weights"] = load_exported_weights(model, cfg, Path(cfg.init_weights))
    env["precision_policy"] = policy
    env["distribution"] = {
        **dist.describe(),
        "global_batch_size": cfg.global_batch_size,
        "peak_learning_rate": cfg.peak_learning_rate,
        "learning_rate_scaling": "linear" if cfg.optimizer == "sgd" else "square root",
    }
    env["started"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    (run_dir / "environment.json").write_text(json.dumps(env, indent=2) + "\n", encoding="utf-8")
    return {"epoch": -1, "best_metric": -1.0, "best_epoch": -1, "epochs_without_improvement": 0, "train_seconds": 0.0}


def _local_epoch_dataset(cfg: TrainConfig, prepared: PreparedData, realistic: MaskedTraining | None, epoch: int) -> Any:
    """One process's training data of ``epoch`` (no distribution strategy)."""
    if realistic is None:
        return make_train_dataset(cfg, prepared, epoch)
    from training.mask_training import make_epoch_dataset

    return make_epoch_dataset(cfg, realistic, prepared.data.images, prepared.data.labels, epoch)


def _log_epoch(
    run_dir: Path,
    epoch: int,
    size: int,
    lr: float,
    figures: dict[str, Any],
    metrics: dict[str, Any],
    seconds: float,
) -> None:
    """One row of ``log.csv`` and one line on stderr for a finished epoch."""
    _append_log(
        run_dir,
        {
            "epoch": epoch + 1,
            "size": size,
            "learning_rate": f"{lr:.6g}",
            "train_loss": f"{figures['loss']:.5f}",
            "train_accuracy": f"{figures.get('accuracy', figures.get('logits_accuracy', np.nan)):.5f}",
            "train_mask_loss": f"{figures['features_loss']:.5f}" if "features_loss" in figures else "",
            "val_loss": f"{metrics['nll']:.5f}",
            "val_accuracy": f"{metrics['accuracy']:.5f}",
            "val_macro_f1": f"{metrics['macro_f1']:.5f}",
            "seconds": f"{seconds:.1f}",
        },
    )
    print(
        f"epoch {epoch + 1}: val accuracy {metrics['accuracy']:.4f}, macro-F1 {metrics['macro_f1']:.4f}, "
        f"{seconds / 60:.1f} min",
        file=sys.stderr,
    )


def _keep_epoch(
    run_dir: Path,
    state: dict[str, Any],
    epoch: int,
    seconds: float,
    macro_f1: float,
    model: Any,
    optimizer: Any,
    validation: tuple[NDArray[np.float32], NDArray[Any]],
) -> None:
    """Update ``state`` after an epoch, keep the best weights and their validation logits, checkpoint."""
    state["epoch"] = epoch
    state["train_seconds"] = float(state["train_seconds"]) + seconds
    if macro_f1 > state["best_metric"]:
        state.update(best_metric=macro_f1, best_epoch=epoch + 1, epochs_without_improvement=0)
        (run_dir / ckpt.CHECKPOINT_DIR).mkdir(exist_ok=True)
        ckpt.save_weights_atomic(model, run_dir / ckpt.CHECKPOINT_DIR / ckpt.BEST_WEIGHTS)
        logits, labels = validation
        np.savez(run_dir / BEST_LOGITS, logits=logits, labels=labels)
    else:
        state["epochs_without_improvement"] += 1
    ckpt.save_checkpoint(run_dir, model, optimizer, state)

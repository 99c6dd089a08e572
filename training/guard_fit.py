"""``neuroreview-train fit-guard``: fit and calibrate the intended-use guard for a weights folder.

Pooled features and logits of every training-split image come from the same compiled forward pass the
application uses (:meth:`core.model.inference_graph.InferenceGraph.logits_and_pooled`); the class means and
shared covariance are fitted on the training part of the run's split, the threshold on its validation part
(about 1 % of those slices flagged).  The statistics file is written beside the weights and its SHA-256
recorded in ``model_config.json``, so the classifier loads it only when it is the file the config names.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from core.model.model_config import GUARD_FILENAME, ModelConfig, load_model_config, sha256_file
from core.model.ood_guard import DEFAULT_FLAGGED_FRACTION, GuardStats, calibrate, fit_guard_stats
from core.platform.progress import ProgressBar
from training.errors import RunFolderError

FeatureFn = Callable[[NDArray[np.float32]], tuple[NDArray[np.float32], NDArray[np.float32]]]


@dataclass
class Features:
    """Logits (N, C) and pooled features (N, D) of a set of images, with their labels (or -1)."""

    logits: NDArray[np.float32]
    pooled: NDArray[np.float32]
    labels: NDArray[np.int64]

    def take(self, positions: NDArray[np.int64] | list[int]) -> Features:
        index = np.asarray(positions, dtype=np.int64)
        return Features(self.logits[index], self.pooled[index], self.labels[index])


def feature_function(weights: Path) -> tuple[FeatureFn, ModelConfig]:
    """The application's forward pass (logits + pooled features) for a weights folder, and its config."""
    from core.model.inference_graph import InferenceGraph
    from core.model.model_config import verified_weights_path
    from core.model.network import build_vgg19

    config = load_model_config(weights)
    model = build_vgg19(config.architecture)
    model.load_weights(verified_weights_path(weights, config))
    return InferenceGraph(model).logits_and_pooled, config


def extract(
    fn: FeatureFn, rendered: list[NDArray[np.uint8]] | NDArray[np.uint8], config: ModelConfig, batch: int = 32
) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """Logits and pooled features of model-rendered slices, in batches, with a progress bar on stderr."""
    from core.model.preprocess import to_model_input

    logits, pooled = [], []
    progress = ProgressBar(sys.stderr, len(rendered), "guard features", unit="images")
    for start in range(0, len(rendered), batch):
        chunk = list(rendered[start : start + batch])
        out = fn(to_model_input(chunk, config))
        logits.append(out[0])
        pooled.append(out[1])
        progress.update(start + len(chunk))
    progress.close()
    return np.concatenate(logits), np.concatenate(pooled)


def split_features(
    weights: Path,
    data_dir: Path,
    split_file: Path,
    cache_dir: Path | None,
    features_file: Path | None,
    train_limit: int | None = None,
) -> tuple[Features, Features]:
    """Training-part and validation-part features; read from / saved to ``features_file`` when given.

    ``train_limit`` fits on a seeded random sample of that many training images (means and covariance of
    512 features settle long before the whole training part; the validation part is always used whole).
    """
    from training.images import load_for_weights
    from training.manifest import build_manifest
    from training.split import positions_of, seeded_subset

    split = json.loads(Path(split_file).read_text(encoding="utf-8"))
    if features_file is not None and features_file.is_file():
        with np.load(features_file, allow_pickle=False) as data:
            every = Features(data["logits"], data["pooled"], data["labels"])
            n_train = int(data["n_train"])
    else:
        fn, config = feature_function(weights)
        manifest = build_manifest(Path(data_dir), config.class_names)
        data = load_for_weights(manifest, config, cache_dir)
        try:
            train = positions_of(split["train"], data.relpaths, split_file)
            val = positions_of(split["val"], data.relpaths, split_file)
            train = [train[i] for i in seeded_subset(len(train), train_limit)]
        except KeyError as exc:
            raise RunFolderError(f"{split_file} has no {exc} list") from exc
        order = np.asarray(train + val, dtype=np.int64)
        logits, pooled = extract(fn, data.images[order], config)
        every = Features(logits, pooled, data.labels[order])
        n_train = len(train)
        if features_file is not None:
            features_file.parent.mkdir(parents=True, exist_ok=True)
            np.savez_compressed(features_file, logits=logits, pooled=pooled, labels=every.labels, n_train=n_train)
    positions = np.arange(len(every.labels))
    return every.take(positions[:n_train]), every.take(positions[n_train:])


def fit_from_features(
    train: Features, val: Features, num_classes: int, flagged_fraction: float = DEFAULT_FLAGGED_FRACTION
) -> GuardStats:
    """Fit on the training part, calibrate the threshold on the validation part."""
    stats = fit_guard_stats(train.pooled, train.logits, train.labels, num_classes=num_classes)
    return calibrate(stats, val.pooled, val.logits, flagged_fraction)


def install_guard(weights: Path, stats: GuardStats) -> Path:
    """Write the statistics beside the weights and record the file and its SHA-256 in the config."""
    config = load_model_config(weights)
    path = stats.save(Path(weights) / GUARD_FILENAME)
    updated = replace(config, guard_file=GUARD_FILENAME, guard_sha256=sha256_file(path))
    updated.save(Path(weights))
    return path

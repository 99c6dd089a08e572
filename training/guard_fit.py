"""``neuroreview-train fit-guard``: fit and calibrate the intended-use guard for a weights folder.

Pooled features and logits of every training-split image come from the same compiled forward pass the
application uses (:meth:`core.model.inference_graph.InferenceGraph.logits_and_pooled`); the class means and
shared covariance are fitted on the training part of the run's split, the threshold on its validation part
(about 1 % of those slices flagged).  The statistics file is written beside the weights and its SHA-256
recorded in ``model_config.json``, so the classifier loads it only when it is the file the config names.

Weights trained with realistic augmentation learned from far more varied pictures than the plain class-folder
images; fitted on those alone, the statistics call a real scanner slice unusual for the very variation the
network was taught to ignore.  ``augmented_copies`` therefore fits on copies of the training images drawn
with the run's realism settings (contrast, bias field, resolution, noise, geometry), while the threshold is
still calibrated on the plain validation images.
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
from training.realism import RealismConfig

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


def augmented_copies(
    images: NDArray[np.uint8], copies: int, realism: RealismConfig, seed: int = 0
) -> list[NDArray[np.uint8]]:
    """``copies`` realism-augmented versions of every image (no tumor pasted or removed), seeded per image."""
    from training.realism import augment

    return [
        augment(image, None, np.random.default_rng([seed, copy, i]), realism)[0]
        for copy in range(copies)
        for i, image in enumerate(images)
    ]


def realism_of_run(run_config: Path | None) -> RealismConfig:
    """The realism draws a run trained with (its ``run_config.json``), or the defaults without one."""
    if run_config is None:
        return RealismConfig()
    try:
        section = json.loads(Path(run_config).read_text(encoding="utf-8")).get("realism")
        return RealismConfig(**section) if section else RealismConfig()
    except (OSError, ValueError, TypeError, AttributeError) as exc:
        raise RunFolderError(f"{run_config}: not a run_config.json with a realism section ({exc})") from exc


def split_features(
    weights: Path,
    data_dir: Path,
    split_file: Path,
    cache_dir: Path | None,
    features_file: Path | None,
    train_limit: int | None = None,
    copies: int = 0,
    realism: RealismConfig | None = None,
) -> tuple[Features, Features]:
    """Training-part and validation-part features; read from / saved to ``features_file`` when given.

    ``train_limit`` fits on a seeded random sample of that many training images (means and covariance of
    512 features settle long before the whole training part; the validation part is always used whole).
    With ``copies`` > 0 the training part is that many augmented copies of each sampled image (see the
    module's docstring); a features file made with another number of copies is not reused.
    """
    from training.images import load_for_weights
    from training.manifest import build_manifest
    from training.split import positions_of, seeded_subset

    split = json.loads(Path(split_file).read_text(encoding="utf-8"))
    cached = None
    if features_file is not None and features_file.is_file():
        with np.load(features_file, allow_pickle=False) as saved:
            made_with = int(saved["copies"]) if "copies" in saved else 0
            if made_with == copies:
                cached = Features(saved["logits"], saved["pooled"], saved["labels"]), int(saved["n_train"])
    if cached is not None:
        every, n_train = cached
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
        sampled = data.images[train]
        fit_images = augmented_copies(sampled, copies, realism or RealismConfig()) if copies > 0 else list(sampled)
        fit_labels = np.tile(data.labels[train], max(copies, 1))
        logits, pooled = extract(fn, [*fit_images, *data.images[val]], config)
        every = Features(logits, pooled, np.concatenate([fit_labels, data.labels[val]]))
        n_train = len(fit_labels)
        if features_file is not None:
            features_file.parent.mkdir(parents=True, exist_ok=True)
            np.savez_compressed(
                features_file, logits=logits, pooled=pooled, labels=every.labels, n_train=n_train, copies=copies
            )
    positions = np.arange(len(every.labels))
    return every.take(positions[:n_train]), every.take(positions[n_train:])


def fit_from_features(
    train: Features,
    val: Features,
    num_classes: int,
    flagged_fraction: float = DEFAULT_FLAGGED_FRACTION,
    energy_weight: float = 0.5,
) -> GuardStats:
    """Fit on the training part, calibrate the threshold on the validation part; the combined score weighs
    the energy by ``energy_weight`` and the feature distance by the rest."""
    if not 0.0 <= energy_weight < 1.0:
        raise ValueError("the energy weight must lie in [0, 1)")
    weights = (1.0 - energy_weight, energy_weight)
    stats = fit_guard_stats(train.pooled, train.logits, train.labels, num_classes=num_classes, weights=weights)
    return calibrate(stats, val.pooled, val.logits, flagged_fraction)


def install_guard(weights: Path, stats: GuardStats) -> Path:
    """Write the statistics beside the weights and record the file and its SHA-256 in the config."""
    config = load_model_config(weights)
    path = stats.save(Path(weights) / GUARD_FILENAME)
    updated = replace(config, guard_file=GUARD_FILENAME, guard_sha256=sha256_file(path))
    updated.save(Path(weights))
    return path

"""Training with tumor masks and realistic augmentation: the class evidence must sit on the tumor.

The network ends in global average pooling and a dense layer, so its logit for class ``c`` is the mean
over the last feature grid of the class activation map ``CAM_c = A . w_c`` (plus a bias), and its
Grad-CAM map is ``ReLU(CAM_c)`` up to a constant.  For every training slice with a tumor mask, the
*mask loss* asks the spatial softmax of ``CAM_c`` (true class) to put its mass inside the mask:

    mask loss = -log( sum over grid cells inside the mask of softmax(CAM_c) )

so the heatmap the application shows is what the model was taught to point with.  Slices without a
mask contribute nothing to it.  The deployed network is unchanged (same layers and weights); only the
training model has the feature grid as a second output.

Samples are drawn by a seeded NumPy generator (:mod:`training.realism`), so an epoch is the same after
a resume.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from core.model.model_config import class_position
from core.model.network import LAST_CONV_LAYER, LOGITS_LAYER
from core.model.preprocess import scaled_for_network
from training.masked_data import (
    SPLIT_FILE,
    MaskedDataset,
    MaskedSplit,
    load_masked,
    read_split,
    save_split,
    split_masked,
)
from training.realism import RealismConfig, TumorPatch, augment, cut_tumor, healthy_mirror, strip_skull

if TYPE_CHECKING:  # pragma: no cover
    import keras

    from training.config import TrainConfig
    from training.trainer import PreparedData

FEATURES_OUTPUT = "features"
MASK_FLOOR = 0.1  # a grid cell belongs to the tumor when at least this share of it is tumor
PASTE_CLASS = "glioma"
NO_TUMOR_CLASS = "notumor"


@dataclass
class MaskedTraining:
    """Everything an epoch draws from: class-folder images, masked slices and the tumors to paste."""

    masked: MaskedDataset | None
    split: MaskedSplit | None
    primary_train: NDArray[np.int64]  # class-folder training positions (replaced twins removed)
    patches: list[TumorPatch]
    glioma: int = -1  # the glioma class's index (-1: none)
    # tumor-free copies (healthy half mirrored) of the masked training slices that allow one, by index
    mirrored: dict[int, NDArray[np.uint8]] = field(default_factory=dict)

    @property
    def masked_train(self) -> NDArray[np.int64]:
        return np.asarray(self.split.train if self.split else (), dtype=np.int64)

    def removable(self, realism: RealismConfig) -> list[int]:
        """Masked training slices whose tumor may be removed: every non-glioma, and the share
        ``realism.remove_glioma`` of the gliomas (the same ones every epoch, so an epoch's length is fixed)."""
        if self.masked is None:
            return []
        labels = self.masked.labels

        def chosen(i: int) -> bool:
            return int(labels[i]) != self.glioma or np.random.default_rng([i, 3]).random() < realism.remove_glioma

        return [int(i) for i in self.masked_train if chosen(int(i))]

    def n_train(self, realism: RealismConfig | None) -> int:
        """Samples per epoch (the pool's length is the same every epoch, so epoch 0's is every epoch's)."""
        return len(self.epoch_pool(realism or RealismConfig(), seed=0, epoch=0))

    def epoch_length(self, cfg: TrainConfig, shards: int = 1, shard: int = 0) -> int:
        """Network inputs per epoch for one worker's shard: its samples, times two with stripped twins."""
        return len(range(shard, self.n_train(cfg.realism), shards)) * cfg.copies_per_sample

    def epoch_pool(self, realism: RealismConfig, seed: int, epoch: int) -> list[tuple[int, int]]:
        """(source, index) of one epoch's samples: 0 a class-folder image, 1 a masked slice, 2 a masked slice
        whose tumor is removed (``realism.extra_removed`` of the removable ones, drawn per epoch), 3 a masked
        slice's healthy-half mirror (``realism.extra_mirrored`` of the mirrorable ones, drawn per epoch)."""
        masked = [int(i) for i in self.masked_train]
        extra = _draw_share(self.removable(realism), realism.extra_removed, np.random.default_rng([seed, epoch, 2]))
        mirrored = _draw_share(sorted(self.mirrored), realism.extra_mirrored, np.random.default_rng([seed, epoch, 3]))
        return (
            [(0, int(i)) for i in self.primary_train]
            + [(1, i) for i in masked]
            + [(2, int(i)) for i in extra]
            + [(3, int(i)) for i in mirrored]
        )


def _draw_share(pool: Sequence[int], share: float, rng: np.random.Generator) -> NDArray[np.int64]:
    """``share`` x len(pool) members of ``pool`` in random order; a share over 1 repeats the pool (2.0: each
    member twice), so the extra samples grow with the share instead of stopping at the pool's size."""
    copies = np.tile(np.asarray(pool, dtype=np.int64), max(1, int(np.ceil(share))))
    return rng.permutation(copies)[: round(share * len(pool))]


def prepare_masked(cfg: TrainConfig, run_dir: Path, prepared: PreparedData, cache_dir: Path | None) -> MaskedTraining:
    """Load the masked slices, split them against the class-folder split (once; then read from the run
    folder) and cut the glioma patches that may be pasted into tumor-free slices."""
    if not cfg.masked_data:
        return MaskedTraining(None, None, prepared.train_idx, [])
    masked = load_masked(Path(cfg.masked_data), cfg.class_names, cfg.cache_size, cache_dir, cfg.crop_to_head)
    split_file = run_dir / SPLIT_FILE
    if split_file.is_file():
        split = read_split(split_file, masked)
    else:
        print("matching masked slices with their class-folder twins", file=sys.stderr)
        split = split_masked(
            masked, prepared.data.images, prepared.data.relpaths, prepared.val_idx.tolist(), cfg.masked_min_similarity
        )
        save_split(split, masked, split_file)
    replaced = set(split.replaced)
    primary = np.asarray([i for i in prepared.train_idx if prepared.data.relpaths[i] not in replaced], dtype=np.int64)
    glioma = class_position(cfg.class_names, PASTE_CLASS)
    patches = [
        patch
        for i in split.train
        if masked.labels[i] == glioma and (patch := cut_tumor(masked.images[i], masked.masks[i])) is not None
    ]
    wants_mirrors = cfg.realism is not None and cfg.realism.extra_mirrored > 0 and NO_TUMOR_CLASS in cfg.class_names
    mirrored = mirrored_copies(masked, split.train) if wants_mirrors else {}
    print(
        f"masked slices: {len(split.train)} train, {len(split.val)} validation; "
        f"{len(replaced)} class-folder twins replaced; {len(patches)} glioma patches; "
        f"{len(mirrored)} healthy-half mirrors",
        file=sys.stderr,
    )
    return MaskedTraining(masked, split, primary, patches, glioma, mirrored)


def mirrored_copies(masked: MaskedDataset, indices: Sequence[int]) -> dict[int, NDArray[np.uint8]]:
    """Tumor-free copies (healthy half mirrored over the tumor's half) of the slices that allow one."""
    copies = {}
    for i in indices:
        image = masked.images[i].astype(np.float32) / 255.0
        mirrored = healthy_mirror(image, masked.masks[i])
        if mirrored is not None:
            copies[int(i)] = np.clip(np.rint(mirrored * 255.0), 0, 255).astype(np.uint8)
    return copies


def grid_side(size: int, blocks: int) -> int:
    """Side of the last feature grid for an input of ``size`` pixels (``blocks - 1`` poolings)."""
    return int(size) // 2 ** (blocks - 1)


def mask_target(mask: NDArray[np.float32] | None, label: int, grid: int, n_classes: int) -> NDArray[np.float32]:
    """The mask loss's target: the mask's share of each grid cell in the true class's channel (all zero
    without a mask, which switches the loss off for that sample)."""
    target = np.zeros((grid, grid, n_classes), dtype=np.float32)
    if mask is not None and mask.max() > 0.5:
        cells = np.asarray(Image.fromarray(mask.astype(np.float32)).resize((grid, grid), Image.Resampling.BOX))
        target[:, :, label] = np.clip(cells, 1e-3, 1.0)  # a non-zero floor marks "this sample has a mask"
    return target


def epoch_samples(
    cfg: TrainConfig,
    data: MaskedTraining,
    images: NDArray[np.uint8],
    labels: NDArray[np.int64],
    epoch: int,
    size: int,
    shards: int = 1,
    shard: int = 0,
) -> Iterator[tuple[NDArray[np.float32], NDArray[np.float32], NDArray[np.float32]]]:
    """(network input, one-hot label, mask target) of every training sample of one epoch, in a seeded order
    (every ``shards``-th of them from ``shard`` on, for one worker of several; each sample's draws are seeded
    by the sample, so the split over workers changes no image)."""
    realism = cfg.realism or RealismConfig()
    prep = cfg.preprocessing()
    n_classes = len(cfg.class_names)
    grid = grid_side(size, len(cfg.widths))
    no_tumor = class_position(cfg.class_names, NO_TUMOR_CLASS)
    paste_label = class_position(cfg.class_names, PASTE_CLASS)
    pool = data.epoch_pool(realism, cfg.seed, epoch)
    order = np.random.default_rng([cfg.seed, epoch]).permutation(len(pool))
    for position in order[shard::shards]:
        source, index = pool[position]
        rng = np.random.default_rng([cfg.seed, epoch, source, index])
        if source == 0:
            image, mask, label = images[index], None, int(labels[index])
        elif source == 3:  # a masked slice's tumor-free mirror copy
            image, mask, label = data.mirrored[index], None, no_tumor
        else:
            assert data.masked is not None
            image, mask, label = data.masked.images[index], data.masked.masks[index], int(data.masked.labels[index])
        patch = None
        if label == no_tumor and data.patches and paste_label >= 0 and rng.random() < realism.paste_tumor:
            patch = data.patches[int(rng.integers(len(data.patches)))]
        chance = realism.remove_tumor
        if label == data.glioma:
            chance *= realism.remove_glioma
        if source == 2:  # drawn from the removable slices to be seen with their tumor removed
            chance = 1.0
        remove = mask is not None and bool(mask.any()) and no_tumor >= 0 and rng.random() < chance
        out, out_mask = augment(image, mask, rng, realism, patch, remove)
        if patch is not None and out_mask is not None:
            label = paste_label
        if remove:
            label = no_tumor
        if out.shape[0] != size:
            out = np.asarray(Image.fromarray(out).resize((size, size), Image.Resampling.BILINEAR))
            if out_mask is not None:
                out_mask = np.asarray(Image.fromarray(out_mask).resize((size, size), Image.Resampling.BILINEAR))
        y = np.zeros(n_classes, dtype=np.float32)
        y[label] = 1.0
        target = mask_target(out_mask, label, grid, n_classes)
        yield scaled_for_network(out, prep, cfg.channels), y, target
        if cfg.copies_per_sample == 2:  # its stripped twin, drawn from its own generator so the first is unchanged
            twin = strip_skull(out.astype(np.float32), np.random.default_rng([cfg.seed, epoch, source, index, 1]))
            yield scaled_for_network(twin.astype(np.uint8), prep, cfg.channels), y, target


def make_epoch_dataset(
    cfg: TrainConfig,
    data: MaskedTraining,
    images: NDArray[np.uint8],
    labels: NDArray[np.int64],
    epoch: int,
    shards: int = 1,
    shard: int = 0,
    batch: int | None = None,
    batches: int | None = None,
) -> Any:
    """tf.data pipeline of one epoch: {"logits": one-hot, "features": mask target} per batch (one worker's
    shard of it with ``shards`` > 1, see :func:`training.trainer.make_train_dataset`)."""
    import tensorflow as tf

    from training.trainer import batched

    size = cfg.size_for_epoch(epoch)
    grid = grid_side(size, len(cfg.widths))
    n_classes = len(cfg.class_names)
    signature = (
        tf.TensorSpec((size, size, cfg.channels), tf.float32),
        tf.TensorSpec((n_classes,), tf.float32),
        tf.TensorSpec((grid, grid, n_classes), tf.float32),
    )
    ds = tf.data.Dataset.from_generator(
        lambda: epoch_samples(cfg, data, images, labels, epoch, size, shards, shard), output_signature=signature
    )
    # a length for the progress bar
    ds = ds.apply(tf.data.experimental.assert_cardinality(data.epoch_length(cfg, shards, shard)))
    ds = ds.map(lambda x, y, m: (x, {LOGITS_LAYER: y, FEATURES_OUTPUT: m}))
    return batched(ds, cfg, batch, batches)


def mask_mass_loss(kernel: Any) -> Any:
    """Loss on the feature grid: -log of the true class's CAM softmax mass inside the mask (0 without a mask)."""
    import tensorflow as tf

    def loss(target: Any, features: Any) -> Any:
        cam = tf.einsum("nhwk,kc->nhwc", tf.cast(features, tf.float32), tf.cast(kernel, tf.float32))
        present = tf.reduce_max(target, axis=[1, 2])  # (N, C): > 0 in the true class's channel
        has_mask = tf.cast(tf.reduce_max(present, axis=-1) > 0.0, tf.float32)
        chosen = tf.one_hot(tf.argmax(present, axis=-1), tf.shape(target)[-1])[:, tf.newaxis, tf.newaxis, :]
        n = tf.shape(cam)[0]
        scores = tf.reshape(tf.reduce_sum(cam * chosen, axis=-1), [n, -1])
        inside = tf.reshape(tf.cast(tf.reduce_sum(target * chosen, axis=-1) >= MASK_FLOOR, tf.float32), [n, -1])
        mass = tf.reduce_sum(tf.nn.softmax(scores, axis=-1) * inside, axis=-1)
        return -tf.math.log(mass + 1e-6) * has_mask

    return loss


def with_strip_consistency(classification: Any, weight: float) -> Any:
    """``classification`` plus ``weight`` x the symmetric KL divergence between the class probabilities of each
    sample and its stripped twin (the batch holds them as neighbours, see :func:`epoch_samples`): the
    network is asked for the same answer with and without scalp and skull."""
    import tensorflow as tf

    def loss(y_true: Any, logits: Any) -> Any:
        pairs = tf.reshape(tf.nn.log_softmax(tf.cast(logits, tf.float32)), [-1, 2, tf.shape(logits)[-1]])
        shown, stripped = pairs[:, 0], pairs[:, 1]
        divergence = 0.5 * tf.reduce_sum((tf.exp(shown) - tf.exp(stripped)) * (shown - stripped), axis=-1)
        return classification(y_true, logits) + weight * tf.reduce_mean(divergence)

    return loss


def mask_training_model(base: keras.Model) -> keras.Model:
    """The deployed network with its last feature grid as a second output (same layers, same weights)."""
    import keras

    features = base.get_layer(LAST_CONV_LAYER).output
    return keras.Model(base.inputs, {LOGITS_LAYER: base.outputs[0], FEATURES_OUTPUT: features}, name="mask_training")

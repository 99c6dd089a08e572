"""Tumor slices with tumor masks (figshare layout) as extra training data, split without leaks.

The folder holds one sub-folder per tumor class with ``<index>.jpg`` and ``masks/<index>.png`` (255 =
tumor).  Many of these slices are also in the class-folder dataset, cropped, resized, rotated or
flipped differently, so a plain difference hash does not find the twins.  :func:`head_twins` compares
every masked slice, under the 8 rotations and flips, with every class-folder image after cropping both
to the head; a slice whose best match is at least ``min_similarity`` is that image's twin.

:func:`split_masked` then keeps the class-folder split intact: a masked slice whose twin is a
validation image goes to the masked validation set (used for saliency checks), the others train, and
a class-folder training image whose twin trains as a masked slice is replaced by it (one copy of each
slice per epoch, with its mask).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from core.imaging.render import render_for_model
from core.model.preprocess import crop_box, head_box, resize_slice

MASKS_FOLDER = "masks"
SPLIT_FILE = "masked_split.json"
THUMB_SIDE = 24
DEFAULT_MIN_SIMILARITY = 0.95


@dataclass
class MaskedDataset:
    images: NDArray[np.uint8]  # (N, S, S) model renderings
    masks: NDArray[np.bool_]  # (N, S, S)
    labels: NDArray[np.int64]  # (N,) index into the run's class names
    relpaths: list[str]
    fingerprint: str


def masked_files(root: Path, class_names: Sequence[str]) -> list[tuple[Path, Path, str]]:
    """(image, mask, class) of every slice of ``root`` that has a mask, in a stable order."""
    found = []
    for name in class_names:
        folder = Path(root) / name
        if not folder.is_dir():
            continue
        for image in sorted(folder.glob("*.jpg")) + sorted(folder.glob("*.png")):
            mask = Path(root) / MASKS_FOLDER / f"{image.stem}.png"
            if mask.is_file():
                found.append((image, mask, name))
    if not found:
        raise ValueError(f"{root} has no class folders with masked images ({MASKS_FOLDER}/<name>.png)")
    return found


def _gray(path: Path) -> NDArray[np.uint8]:
    with Image.open(path) as img:
        return np.asarray(img.convert("L"), dtype=np.uint8)


def _decoded_pair(
    image: Path, mask: Path, size: int, crop_to_head: bool
) -> tuple[NDArray[np.uint8], NDArray[np.bool_]]:
    """One masked slice and its mask at ``size`` x ``size``; both cut to the slice's head box when asked."""
    rendered = render_for_model(_gray(image))
    binary = (_gray(mask) >= 128).astype(np.uint8) * 255
    if crop_to_head:
        box = head_box(rendered)
        rendered, binary = crop_box(rendered, box), crop_box(binary, box)
    return resize_slice(rendered, size), resize_slice(binary, size) >= 128


def load_masked(
    root: Path, class_names: Sequence[str], size: int, cache_dir: Path | None = None, crop_to_head: bool = False
) -> MaskedDataset:
    """Decode (or read from the cache) every masked slice at ``size`` x ``size``, as the application renders
    it (cut to the head first when asked; the mask is cut to the same box)."""
    from training.images import default_cache_dir

    files = masked_files(root, class_names)
    digest = hashlib.sha256()
    for image, mask, name in files:
        digest.update(f"{image.name}\0{name}\0".encode())
        digest.update(hashlib.sha256(image.read_bytes() + mask.read_bytes()).digest())
    fingerprint = digest.hexdigest()
    suffix = "-head" if crop_to_head else ""
    cache = (cache_dir or default_cache_dir()) / f"masked-{fingerprint[:24]}-{size}{suffix}.npz"
    relpaths = [f"{name}/{image.name}" for image, _, name in files]
    labels = np.asarray([list(class_names).index(name) for _, _, name in files], dtype=np.int64)
    if cache.is_file():
        with np.load(cache, allow_pickle=False) as data:
            return MaskedDataset(data["images"], data["masks"], labels, relpaths, fingerprint)
    pairs = [_decoded_pair(image, mask, size, crop_to_head) for image, mask, _ in files]
    images = np.stack([image for image, _ in pairs])
    masks = np.stack([mask for _, mask in pairs])
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_name(cache.name + ".tmp.npz")
    np.savez(tmp, images=images, masks=masks)
    tmp.replace(cache)
    return MaskedDataset(images, masks, labels, relpaths, fingerprint)


def head_thumbnail(image: NDArray[np.uint8], side: int = THUMB_SIDE) -> NDArray[np.float32]:
    """The image cropped to its head (pixels above 15 % of the maximum), resized, zero-mean, unit norm."""
    arr = image.astype(np.float32)
    ys, xs = np.nonzero(arr > 0.15 * float(arr.max()))
    if len(ys):
        arr = arr[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    thumb = np.array(Image.fromarray(arr).resize((side, side), Image.Resampling.BILINEAR), dtype=np.float32)
    thumb -= thumb.mean()
    norm = float(np.linalg.norm(thumb))
    return thumb / norm if norm > 0 else thumb


def head_twins(
    queries: NDArray[np.uint8], references: NDArray[np.uint8]
) -> tuple[NDArray[np.int64], NDArray[np.float32]]:
    """For each query image, the most similar reference image under the 8 rotations/flips, and the similarity
    (correlation of head thumbnails, 1 = identical)."""
    refs = np.stack([head_thumbnail(r).ravel() for r in references])
    thumbs = np.stack([head_thumbnail(q) for q in queries])
    best = np.full(len(queries), -np.inf, dtype=np.float32)
    index = np.zeros(len(queries), dtype=np.int64)
    for turn in range(8):
        view = np.rot90(thumbs, turn % 4, axes=(1, 2))
        if turn >= 4:
            view = view[:, :, ::-1]
        scores = view.reshape(len(queries), -1) @ refs.T
        better = scores.max(axis=1) > best
        best = np.where(better, scores.max(axis=1), best).astype(np.float32)
        index = np.where(better, scores.argmax(axis=1), index)
    return index, best


@dataclass(frozen=True)
class MaskedSplit:
    train: tuple[int, ...]  # positions in the masked dataset
    val: tuple[int, ...]
    replaced: tuple[str, ...]  # class-folder training images replaced by their masked twin
    min_similarity: float

    def to_json(self, masked: MaskedDataset) -> dict[str, object]:
        return {
            "min_similarity": self.min_similarity,
            "fingerprint": masked.fingerprint,
            "train": [masked.relpaths[i] for i in self.train],
            "val": [masked.relpaths[i] for i in self.val],
            "replaced": list(self.replaced),
        }


def split_masked(
    masked: MaskedDataset,
    primary_images: NDArray[np.uint8],
    primary_relpaths: Sequence[str],
    primary_val: Sequence[int],
    min_similarity: float = DEFAULT_MIN_SIMILARITY,
) -> MaskedSplit:
    """Masked validation = twins of class-folder validation images; the rest train (see the module doc)."""
    index, similarity = head_twins(masked.images, primary_images)
    val_set = set(int(i) for i in primary_val)
    train, val, replaced = [], [], set()
    for i, (twin, score) in enumerate(zip(index, similarity, strict=True)):
        is_twin = float(score) >= min_similarity
        if is_twin and int(twin) in val_set:
            val.append(i)
        else:
            train.append(i)
            if is_twin:
                replaced.add(primary_relpaths[int(twin)])
    return MaskedSplit(tuple(train), tuple(val), tuple(sorted(replaced)), min_similarity)


def save_split(split: MaskedSplit, masked: MaskedDataset, path: Path) -> None:
    path.write_text(json.dumps(split.to_json(masked), indent=1) + "\n", encoding="utf-8")


def read_split(path: Path, masked: MaskedDataset) -> MaskedSplit:
    """The split saved by :func:`save_split`; the masked data must be the same (fingerprint)."""
    from training.errors import RunFolderError
    from training.split import positions_of

    saved = json.loads(path.read_text(encoding="utf-8"))
    if saved["fingerprint"] != masked.fingerprint:
        raise RunFolderError(f"the masked data changed since {path} was written (fingerprint differs)")
    return MaskedSplit(
        tuple(positions_of(saved["train"], masked.relpaths, path)),
        tuple(positions_of(saved["val"], masked.relpaths, path)),
        tuple(saved["replaced"]),
        float(saved["min_similarity"]),
    )

"""Duplicate-aware, stratified train/validation split.

Exact duplicates (same SHA-256) and near-duplicates (256-bit difference hashes within
``max_bits`` of each other) are joined into groups with union-find; whole groups go to one
side, so no image has a twin across the split.  Groups are assigned per class (by the group's
majority label) until each class reaches its validation share.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from training.errors import RunFolderError

HASH_SIDE = 16  # 16 x 16 = 256-bit difference hash
DEFAULT_MAX_BITS = 10


def difference_hash(image: NDArray[np.uint8], side: int = HASH_SIDE) -> NDArray[np.uint8]:
    """256-bit dHash of a uint8 (H, W) image, packed into 32 bytes."""
    small = np.asarray(Image.fromarray(image).resize((side + 1, side), Image.Resampling.BOX), dtype=np.int16)
    bits = (small[:, 1:] > small[:, :-1]).reshape(-1)
    return np.packbits(bits)


def near_duplicate_pairs(hashes: NDArray[np.uint8], max_bits: int) -> list[tuple[int, int]]:
    """All index pairs (i < j) whose packed hashes differ in at most ``max_bits`` bits."""
    words = np.ascontiguousarray(hashes).view(np.uint64)  # (N, 4)
    pairs: list[tuple[int, int]] = []
    for i in range(len(words) - 1):
        dist = np.bitwise_count(words[i + 1 :] ^ words[i]).sum(axis=1)
        for j in np.nonzero(dist <= max_bits)[0]:
            pairs.append((i, i + 1 + int(j)))
    return pairs


class _UnionFind:
    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


@dataclass(frozen=True)
class Split:
    train: tuple[int, ...]
    val: tuple[int, ...]
    groups: tuple[int, ...]  # group id per image
    max_bits: int
    pairs_found: int

    def to_json(self, relpaths: Sequence[str]) -> dict[str, object]:
        return {
            "max_bits": self.max_bits,
            "near_duplicate_pairs": self.pairs_found,
            "groups": len(set(self.groups)),
            "train": [relpaths[i] for i in self.train],
            "val": [relpaths[i] for i in self.val],
        }

    def save(self, path: Path, relpaths: Sequence[str]) -> None:
        path.write_text(json.dumps(self.to_json(relpaths), indent=1) + "\n", encoding="utf-8")


def seeded_subset(count: int, limit: int | None) -> NDArray[np.int64]:
    """Sorted positions of a seeded random sample of ``limit`` of ``count`` items (all of them when
    ``limit`` is None or not smaller): the same sample on every run."""
    if limit is None or limit >= count:
        return np.arange(count, dtype=np.int64)
    return np.sort(np.random.default_rng(0).choice(count, size=limit, replace=False)).astype(np.int64)


def positions_of(names: Sequence[str], relpaths: Sequence[str], source: Path | str) -> list[int]:
    """Positions in ``relpaths`` of ``names`` (image paths read from ``source``); one not in the data is an error."""
    position = {p: i for i, p in enumerate(relpaths)}
    missing = [p for p in names if p not in position]
    if missing:
        raise RunFolderError(f"{len(missing)} image(s) named in {source} are not in the data, e.g. {missing[0]}")
    return [position[p] for p in names]


def group_duplicates(
    images: NDArray[np.uint8], digests: Sequence[str], max_bits: int = DEFAULT_MAX_BITS
) -> tuple[list[int], int]:
    """Group ids per image (exact SHA-256 twins and dHash near-duplicates share a group)."""
    n = len(images)
    uf = _UnionFind(n)
    first_of: dict[str, int] = {}
    for i, digest in enumerate(digests):
        if digest in first_of:
            uf.union(first_of[digest], i)
        else:
            first_of[digest] = i
    hashes = np.stack([difference_hash(img) for img in images])
    pairs = near_duplicate_pairs(hashes, max_bits)
    for a, b in pairs:
        uf.union(a, b)
    return [uf.find(i) for i in range(n)], len(pairs)


def stratified_group_split(
    labels: Sequence[int],
    groups: Sequence[int],
    val_fraction: float,
    seed: int,
    max_bits: int = DEFAULT_MAX_BITS,
    pairs_found: int = 0,
) -> Split:
    """Assign whole groups to validation until each class has ~``val_fraction`` of its images there."""
    members: dict[int, list[int]] = defaultdict(list)
    for i, g in enumerate(groups):
        members[g].append(i)
    rng = np.random.default_rng(seed)
    order = list(members)
    rng.shuffle(order)
    class_totals = Counter(labels)
    target = {c: val_fraction * t for c, t in class_totals.items()}
    in_val: Counter[int] = Counter()
    val: list[int] = []
    for g in order:
        idx = members[g]
        majority = Counter(labels[i] for i in idx).most_common(1)[0][0]
        if in_val[majority] + len(idx) / 2 <= target[majority]:
            val.extend(idx)
            for i in idx:
                in_val[labels[i]] += 1
    val_set = set(val)
    train = [i for i in range(len(labels)) if i not in val_set]
    return Split(tuple(train), tuple(sorted(val)), tuple(groups), max_bits, pairs_found)

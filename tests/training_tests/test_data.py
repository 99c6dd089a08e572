"""Manifest, decoding cache and the duplicate-aware split."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from training.errors import DatasetLayoutError
from training.images import load_dataset
from training.manifest import build_manifest
from training.split import difference_hash, group_duplicates, near_duplicate_pairs, stratified_group_split


def test_sha256sums_are_verified(tiny_dataset: Path) -> None:
    first = sorted((tiny_dataset / "glioma").iterdir())[0]
    digest = hashlib.sha256(first.read_bytes()).hexdigest()
    (tiny_dataset / "SHA256SUMS").write_text(f"{digest}  glioma/{first.name}\n")
    assert len(build_manifest(tiny_dataset).entries) == 40
    (tiny_dataset / "SHA256SUMS").write_text(f"{'0' * 64}  glioma/{first.name}\n")
    with pytest.raises(DatasetLayoutError, match="SHA256SUMS"):
        build_manifest(tiny_dataset)


def test_missing_class_folder(tiny_dataset: Path) -> None:
    with pytest.raises(DatasetLayoutError, match="missing"):
        build_manifest(tiny_dataset, ["glioma", "meningioma", "notumor", "pituitary", "metastasis"])


def test_unreadable_images_are_skipped_and_listed(tiny_dataset: Path, tmp_path: Path) -> None:
    (tiny_dataset / "glioma" / "broken.png").write_bytes(b"not a png at all")
    Image.new("L", (8, 8)).save(tiny_dataset / "glioma" / "tiff_renamed.png", format="TIFF")
    data = load_dataset(build_manifest(tiny_dataset), 32, tmp_path / "cache")
    assert {p for p, _ in data.skipped} == {"glioma/broken.png", "glioma/tiff_renamed.png"}
    assert data.images.shape == (40, 32, 32) and data.images.dtype == np.uint8
    cached = load_dataset(build_manifest(tiny_dataset), 32, tmp_path / "cache")  # second read: from cache
    np.testing.assert_array_equal(cached.images, data.images)
    assert cached.skipped == data.skipped


def test_near_duplicates_never_cross_the_split() -> None:
    rng = np.random.default_rng(3)
    originals = [rng.integers(0, 256, (64, 64)).astype(np.uint8) for _ in range(60)]
    images, digests, labels = [], [], []
    for i, img in enumerate(originals):
        images.append(img)
        digests.append(f"sha-{i}")
        labels.append(i % 4)
    twins = {}
    for i in range(0, 60, 3):  # planted near-duplicates (slight noise) and exact duplicates
        noisy = np.clip(originals[i].astype(int) + rng.integers(-2, 3, (64, 64)), 0, 255).astype(np.uint8)
        twins[len(images)] = i
        images.append(noisy)
        digests.append(f"sha-noisy-{i}")
        labels.append(i % 4)
        twins[len(images)] = i
        images.append(originals[i].copy())
        digests.append(f"sha-{i}")
        labels.append(i % 4)
    groups, pairs = group_duplicates(np.stack(images), digests, max_bits=10)
    assert pairs >= 20
    split = stratified_group_split(labels, groups, 0.25, seed=1)
    val = set(split.val)
    for twin, original in twins.items():
        assert (twin in val) == (original in val)
    assert set(split.train) | val == set(range(len(images))) and not set(split.train) & val
    per_class_val = np.bincount([labels[i] for i in split.val], minlength=4)
    assert per_class_val.min() >= 3  # every class is represented in validation


def test_difference_hash_distance() -> None:
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (50, 50)).astype(np.uint8)
    b = rng.integers(0, 256, (50, 50)).astype(np.uint8)
    hashes = np.stack([difference_hash(a), difference_hash(a), difference_hash(b)])
    assert near_duplicate_pairs(hashes, 5) == [(0, 1)]

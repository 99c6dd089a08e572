"""Decode training images into the application's model rendering, cached as uint8 arrays.

Every image goes through ``core.imaging.render.render_for_model`` (DICOM through the core imaging
layer), then is padded to a square and resized to the cache size.  The cache is two ``.npy``
files (no pickle) keyed by the manifest fingerprint and the cache size.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from PIL import Image, UnidentifiedImageError

from core.imaging.render import render_for_model
from core.model.model_config import ModelConfig
from core.model.preprocess import resize_slice
from core.platform.progress import ProgressBar
from training.manifest import Manifest

RASTER_SUFFIXES = {".png", ".jpg", ".jpeg"}


@dataclass
class DecodedDataset:
    images: NDArray[np.uint8]  # (N, S, S)
    labels: NDArray[np.int64]  # (N,)
    relpaths: list[str]
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (relpath, reason)


def render_file(path: Path) -> NDArray[np.uint8]:
    """Model rendering of the first slice of one training file (PNG, JPEG or DICOM)."""
    if path.suffix.lower() in RASTER_SUFFIXES:
        with Image.open(path) as img:
            if img.format not in {"PNG", "JPEG"}:
                raise ValueError(f"not a PNG or JPEG image (found {img.format})")
            img.load()
            arr = np.asarray(img.convert("I;16") if img.mode in {"I", "I;16"} else img.convert("L"))
        return render_for_model(arr)
    from core.imaging import PixelStore, open_paths

    result = open_paths([path])
    series = result.all_series()
    if result.errors or not series or not series[0].slices:
        reason = result.errors[0].message if result.errors else "no image slices"
        raise ValueError(reason)
    return PixelStore(max_megabytes=64).model_rendering(series[0].slices[0])


def default_cache_dir() -> Path:
    from platformdirs import user_cache_dir

    return Path(os.environ.get("NEUROREVIEW_CACHE_DIR", user_cache_dir("neuroreview"))) / "datasets"


def load_dataset(
    manifest: Manifest,
    size: int,
    cache_dir: Path | None = None,
    *,
    show_progress: bool = False,
    crop_to_head: bool = False,
) -> DecodedDataset:
    """Decode (or read from cache) every manifest entry at ``size`` x ``size`` (cut to the head first
    when asked); progress goes to stderr."""
    folder = (cache_dir or default_cache_dir()) / f"{manifest.fingerprint[:24]}-{size}{'-head' if crop_to_head else ''}"
    images_file, labels_file, meta_file = folder / "images.npy", folder / "labels.npy", folder / "meta.json"
    if images_file.is_file() and labels_file.is_file() and meta_file.is_file():
        meta = json.loads(meta_file.read_text(encoding="utf-8"))
        return DecodedDataset(
            np.load(images_file, allow_pickle=False),
            np.load(labels_file, allow_pickle=False),
            list(meta["relpaths"]),
            [tuple(s) for s in meta["skipped"]],
        )
    images: list[NDArray[np.uint8]] = []
    labels: list[int] = []
    relpaths: list[str] = []
    skipped: list[tuple[str, str]] = []
    progress = ProgressBar(sys.stderr, len(manifest.entries), "decoding images", unit="images", enabled=show_progress)
    for i, entry in enumerate(manifest.entries):
        try:
            rendered = render_file(manifest.root / entry.relpath)
            images.append(resize_slice(rendered, size, crop_to_head=crop_to_head))
            labels.append(manifest.class_names.index(entry.label))
            relpaths.append(entry.relpath)
        except (OSError, ValueError, UnidentifiedImageError, Image.DecompressionBombError) as exc:
            skipped.append((entry.relpath, str(exc) or type(exc).__name__))
        except Exception as exc:
            skipped.append((entry.relpath, f"{type(exc).__name__}: {exc}"))
        progress.update(i + 1)
    progress.close()
    if not images:
        raise ValueError("no readable images in the dataset")
    data = DecodedDataset(np.stack(images), np.asarray(labels, dtype=np.int64), relpaths, skipped)
    folder.mkdir(parents=True, exist_ok=True)
    for target, array in ((images_file, data.images), (labels_file, data.labels)):
        tmp = target.with_suffix(".tmp.npy")
        np.save(tmp, array, allow_pickle=False)
        tmp.replace(target)
    meta_file.write_text(json.dumps({"relpaths": relpaths, "skipped": skipped}), encoding="utf-8")
    return data


def load_for_weights(manifest: Manifest, config: ModelConfig, cache_dir: Path | None = None) -> DecodedDataset:
    """Every manifest entry decoded as the weights' config prescribes (input size, cut to the head when
    they crop), with progress on stderr: what evaluation and the guard's fit see."""
    return load_dataset(
        manifest,
        max(config.input_size, 32),
        cache_dir,
        show_progress=True,
        crop_to_head=config.preprocessing.crop_to_head,
    )

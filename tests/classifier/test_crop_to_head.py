"""Cropping every slice to its head: the framing of a slice must not reach the network."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image

from core.model.model_config import Preprocessing
from core.model.preprocess import head_box, resize_slice
from core.model.saliency import to_slice_geometry
from training.cli import build_parser, train_config_from_args
from training.masked_data import load_masked


def _head(side: int) -> np.ndarray:
    """A bright ellipse with a darker 'lesion', filling a ``side`` x ``side`` square."""
    yy, xx = np.mgrid[:side, :side] / (side - 1) * 2 - 1
    head = np.where(xx**2 / 0.9 + yy**2 < 0.95, 180, 0).astype(np.uint8)
    head[(xx - 0.3) ** 2 + (yy + 0.2) ** 2 < 0.04] = 90
    return head


def _framed(head: np.ndarray, frame: int) -> np.ndarray:
    out = np.zeros((head.shape[0] + 2 * frame, head.shape[1] + 2 * frame), np.uint8)
    out[frame:-frame, frame:-frame] = head
    return out


def test_head_box_keeps_a_margin_and_a_blank_slice_whole() -> None:
    slice_ = _framed(_head(100), 50)
    top, bottom, left, right = head_box(slice_)
    rows = np.nonzero(slice_.any(axis=1))[0]
    assert top < rows[0] and bottom > rows[-1] + 1 and top >= rows[0] - 0.05 * 200
    assert 0 < left < right < 200
    assert head_box(np.zeros((30, 40), np.uint8)) == (0, 30, 0, 40)


def test_framing_does_not_reach_the_network_input_when_cropping() -> None:
    head = _head(120)
    tight, loose = _framed(head, 4), _framed(head, 100)
    cropped = [resize_slice(s, 64, crop_to_head=True).astype(float) for s in (tight, loose)]
    assert np.abs(cropped[0] - cropped[1]).mean() < 3.0
    plain = [resize_slice(s, 64).astype(float) for s in (tight, loose)]
    assert np.abs(plain[0] - plain[1]).mean() > 20.0


def test_heatmap_of_a_cropped_slice_lies_inside_the_head_box() -> None:
    cam = np.zeros((4, 4), np.float32)
    cam[0, 0] = 1.0
    out = to_slice_geometry(cam, (100, 80), box=(20, 60, 10, 50))
    assert out.shape == (100, 80)
    assert out[:20].max() == 0 and out[:, :10].max() == 0 and out[60:].max() == 0
    peak = np.unravel_index(np.argmax(out), out.shape)
    assert 20 <= peak[0] < 30 and 10 <= peak[1] < 20


def test_crop_setting_travels_in_the_weights_config_and_older_configs_never_crop() -> None:
    assert Preprocessing.from_json({}).crop_to_head is False
    assert "crop_to_head" not in Preprocessing().to_json()
    assert Preprocessing.from_json(Preprocessing(crop_to_head=True).to_json()).crop_to_head is True


def test_train_flag_sets_the_run_and_its_exported_preprocessing(tmp_path: Path) -> None:
    args: argparse.Namespace = build_parser().parse_args(
        ["train", "--data", str(tmp_path), "--out", str(tmp_path / "run"), "--crop-to-head"]
    )
    cfg = train_config_from_args(args)
    assert cfg.crop_to_head and cfg.preprocessing().crop_to_head


def test_masked_slices_and_their_masks_are_cut_to_the_same_box(tmp_path: Path) -> None:
    root = tmp_path / "figshare"
    (root / "glioma").mkdir(parents=True)
    (root / "masks").mkdir()
    image = _framed(_head(60), 70)
    mask = np.zeros_like(image)
    mask[image == 90] = 255  # the lesion
    Image.fromarray(image).save(root / "glioma" / "s1.png")
    Image.fromarray(mask).save(root / "masks" / "s1.png")
    data = load_masked(root, ["glioma", "notumor"], 32, tmp_path / "cache", crop_to_head=True)
    lesion, rest = data.images[0][data.masks[0]], data.images[0][~data.masks[0]]
    assert data.masks[0].sum() > 4 and np.median(lesion) < 160 < np.percentile(rest, 90)  # rendered: lesion ~128
    uncropped = load_masked(root, ["glioma", "notumor"], 32, tmp_path / "cache")
    assert data.masks[0].sum() > 2 * uncropped.masks[0].sum()

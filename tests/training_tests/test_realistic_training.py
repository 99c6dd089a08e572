"""Realistic augmentation, masked slices split against their class-folder twins, and the mask loss."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from training import realism
from training.config import TrainConfig
from training.mask_training import MaskedTraining, mask_target
from training.masked_data import SPLIT_FILE, MaskedDataset, head_twins, load_masked, split_masked
from training.realism import RealismConfig, augment, cut_tumor, paste_tumor
from training.trainer import start_run

from .conftest import make_dataset

STILL = RealismConfig(
    flip=0.0, rotate_degrees=0.0, zoom=0.0, shift_fraction=0.0, contrast_curve=0.0, bias_field=0.0, gamma=0.0,
    low_resolution=0.0, blur=0.0, noise=0.0, paste_tumor=0.0,
)  # fmt: skip


def head_with_blob(size: int = 64, centre: tuple[int, int] = (24, 38), radius: int = 6, seed: int = 0):
    """A grey ellipse (the head) with a bright disc (the tumor), and the disc's mask."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[:size, :size]
    head = ((y - size / 2) / (0.42 * size)) ** 2 + ((x - size / 2) / (0.36 * size)) ** 2 <= 1
    mask = (y - centre[0]) ** 2 + (x - centre[1]) ** 2 <= radius**2
    image = np.where(head, 90, 0) + np.where(mask, 120, 0) + rng.integers(0, 10, (size, size))
    return image.astype(np.uint8), mask


def test_geometry_moves_the_mask_with_the_image() -> None:
    image, mask = head_with_blob()
    moved = RealismConfig(**{**STILL.to_json(), "rotate_degrees": 30.0, "zoom": 0.3, "shift_fraction": 0.15})
    for seed in range(5):
        out, out_mask = augment(image, mask, np.random.default_rng(seed), moved)
        assert out_mask is not None
        bright = out > 200  # the tumor is the brightest thing; the rendering saturates it
        blob_y, blob_x = np.argwhere(bright).mean(axis=0)
        mask_y, mask_x = np.argwhere(out_mask > 0.5).mean(axis=0)
        assert abs(blob_y - mask_y) < 1.0 and abs(blob_x - mask_x) < 1.0


def test_augmentation_is_seeded_and_changes_contrast() -> None:
    image, mask = head_with_blob()
    a, _ = augment(image, mask, np.random.default_rng([1, 2, 3]), RealismConfig())
    b, _ = augment(image, mask, np.random.default_rng([1, 2, 3]), RealismConfig())
    c, _ = augment(image, mask, np.random.default_rng([1, 2, 4]), RealismConfig())
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    inverted = realism.contrast_curve(np.linspace(0, 1, 11, dtype=np.float32), np.random.default_rng(0))
    assert inverted[0] == 0.0  # the background stays dark whatever the curve


def test_a_pasted_tumor_lies_inside_the_head_and_changes_it() -> None:
    source, source_mask = head_with_blob(seed=1)
    patch = cut_tumor(source, source_mask)
    assert patch is not None
    target, _ = head_with_blob(centre=(0, 0), radius=0, seed=2)  # a tumor-free head
    target = target.astype(np.float32) / 255
    pasted = None
    for seed in range(10):
        pasted = paste_tumor(target, patch, np.random.default_rng(seed))
        if pasted is not None:
            break
    assert pasted is not None
    out, mask = pasted
    inside = mask > 0.5
    assert inside.any() and realism.head_mask(target)[inside].all()
    assert np.abs(out[inside] - target[inside]).mean() > 0.05  # visibly brighter or darker
    assert np.allclose(out[mask == 0], target[mask == 0])


def test_a_faint_pasted_tumor_is_a_subtle_homogeneous_change() -> None:
    """The non-enhancing look: inside the tumor the image differs from the tissue it replaced by at most
    about half, less than a full-contrast paste does, and the pasted region is nearly uniform."""
    source, source_mask = head_with_blob(seed=1)
    patch = cut_tumor(source, source_mask)
    assert patch is not None
    target = head_with_blob(centre=(0, 0), radius=0, seed=2)[0].astype(np.float32) / 255
    changes = {}
    for faint in (False, True):
        found = [p for seed in range(40) if (p := paste_tumor(target, patch, np.random.default_rng(seed), faint))]
        cores = [mask >= 0.8 * mask.max() for _, mask in found]
        relative = [np.abs(o - target)[c].mean() / target[c].mean() for (o, _), c in zip(found, cores, strict=True)]
        changes[faint] = float(np.median(relative))
        if faint:
            assert max(relative) < 0.5
    assert 0.05 < changes[True] < changes[False]


def test_the_faint_pastes_contrast_has_a_configurable_ceiling() -> None:
    """A higher ``faint_contrast`` lets faint pastes reach the clear brightness of a glioma on FLAIR, while
    staying homogeneous; the default keeps them under half."""
    source, source_mask = head_with_blob(seed=1)
    patch = cut_tumor(source, source_mask)
    assert patch is not None
    target = head_with_blob(centre=(0, 0), radius=0, seed=2)[0].astype(np.float32) / 255
    ceilings = {}
    for ceiling in (0.45, 0.9):
        rngs = (np.random.default_rng(seed) for seed in range(60))
        found = [p for rng in rngs if (p := paste_tumor(target, patch, rng, True, ceiling))]
        cores = [mask >= 0.8 * mask.max() for _, mask in found]
        relative = [np.abs(o - target)[c].mean() / target[c].mean() for (o, _), c in zip(found, cores, strict=True)]
        ceilings[ceiling] = max(relative)
    assert ceilings[0.45] < 0.5 < ceilings[0.9] < 1.0


def test_a_deep_paste_keeps_clear_of_the_heads_edge() -> None:
    """With ``depth`` the pasted glioma's centre stays that share of the head's side inside the head, where
    without it some pastes land near the skull."""
    source, source_mask = head_with_blob(seed=1)
    patch = cut_tumor(source, source_mask)
    assert patch is not None
    target = head_with_blob(centre=(0, 0), radius=0, seed=2)[0].astype(np.float32) / 255
    head = realism.head_mask(target)
    side = realism.smaller_head_side(head)
    assert side is not None
    outside = np.argwhere(~head)
    nearest = {}
    for depth in (0.0, 0.25):
        rngs = (np.random.default_rng(seed) for seed in range(60))
        found = [p for rng in rngs if (p := paste_tumor(target, patch, rng, False, 0.45, depth))]
        assert len(found) > 20
        distances = []
        for _, mask in found:
            cy, cx = np.argwhere(mask >= 0.5 * mask.max()).mean(axis=0)
            distances.append(float(np.sqrt(((outside - (cy, cx)) ** 2).sum(axis=1)).min()))
        nearest[depth] = min(distances) / side
    assert nearest[0.0] < 0.2 < nearest[0.25]


def test_a_removed_tumor_leaves_the_surrounding_tissue_and_no_mask() -> None:
    image, mask = head_with_blob(radius=5)
    x = image.astype(np.float32) / 255
    removed = realism.remove_tumor(x, mask, np.random.default_rng(0))
    tissue = x[realism.head_mask(x) & ~mask].mean()
    assert abs(removed[mask].mean() - tissue) < 0.03  # the bright disc is now head-grey
    far = np.ones_like(mask)
    far[10:40, 24:54] = False  # well away from the disc
    assert np.array_equal(removed[far], x[far])
    out, out_mask = augment(image, mask, np.random.default_rng(0), STILL, remove=True)
    head_tissue = out[realism.head_mask(x) & far].astype(float).mean()
    assert out_mask is None and abs(out[mask].astype(float).mean() - head_tissue) < 15  # no disc left


def test_a_removal_margin_also_removes_a_rim_the_mask_left_out() -> None:
    image, mask = head_with_blob(radius=5)
    y, x_ = np.mgrid[: image.shape[0], : image.shape[1]]
    distance = np.hypot(y - 24, x_ - 38)
    rim = (distance > 7) & (distance <= 9)  # enhancement just outside the drawn outline
    x = image.astype(np.float32) / 255
    x[rim] = 0.9
    tissue = x[realism.head_mask(x) & ~mask & ~rim].mean()
    kept = realism.remove_tumor(x, mask, np.random.default_rng(0))
    grown = realism.remove_tumor(x, mask, np.random.default_rng(0), margin=0.12)
    assert kept[rim].mean() > 0.8  # the default fill stops near the outline
    assert abs(grown[rim].mean() - tissue) < 0.05  # the margin takes the rim too
    as_set = RealismConfig(**{**STILL.to_json(), "removal_margin": 0.12})
    out, _ = augment(np.rint(x * 255).astype(np.uint8), mask, np.random.default_rng(0), as_set, remove=True)
    plain, _ = augment(np.rint(x * 255).astype(np.uint8), mask, np.random.default_rng(0), STILL, remove=True)
    far = realism.head_mask(x) & (distance > 16)
    assert plain[rim].mean() > plain[far].mean() + 40  # the rim stays without the setting
    assert abs(float(out[rim].mean()) - float(out[far].mean())) < 15  # and goes with it


def test_a_sham_fill_smooths_tissue_away_from_the_tumor_and_keeps_it() -> None:
    """The removal fill also lands on tumor slices (away from the tumor, which stays with its mask), so its
    look does not tell "no tumor"; with sham_fill 0 the augmentation draws exactly as before."""
    image, mask = head_with_blob(radius=5)
    head = realism.head_mask(image.astype(np.float32) / 255)
    grain = np.random.default_rng(9).integers(0, 50, image.shape)
    image = np.clip(image + grain * (head & ~mask), 0, 255).astype(np.uint8)  # textured tissue to smooth over
    x = image.astype(np.float32) / 255
    blobs = [b for seed in range(20) if (b := realism.sham_blob(x, mask, np.random.default_rng(seed))) is not None]
    assert len(blobs) >= 15
    near_tumor = realism.gaussian_blur(mask.astype(np.float32), 3.0) > 0.02
    for blob in blobs:
        assert blob.any() and not (blob & near_tumor).any() and head[blob].all()
    sham = RealismConfig(**{**STILL.to_json(), "sham_fill": 1.0})
    base = augment(image, mask, np.random.default_rng(0), STILL)[0].astype(float)
    tissue = head & ~near_tumor
    changed = 0
    for seed in range(10):
        out, out_mask = augment(image, mask, np.random.default_rng(seed), sham)
        assert out_mask is not None and np.array_equal(out_mask > 0.5, mask)
        contrast = out[mask].astype(float).mean() - out[tissue].astype(float).mean()
        assert contrast > 0.8 * (base[mask].mean() - base[tissue].mean())  # the tumor stays
        changed += int(np.abs(out.astype(float) - base)[tissue].max() > 20)
    assert changed >= 8
    plain = augment(image, mask, np.random.default_rng(3), RealismConfig())
    again = augment(image, mask, np.random.default_rng(3), RealismConfig(sham_fill=0.0))
    assert np.array_equal(plain[0], again[0])


def test_mask_target_marks_the_true_class_cells() -> None:
    mask = np.zeros((32, 32), dtype=np.float32)
    mask[:8, :8] = 1.0
    target = mask_target(mask, 2, grid=4, n_classes=4)
    assert target.shape == (4, 4, 4)
    assert target[0, 0, 2] == 1.0 and 0 < target[3, 3, 2] < 0.1
    assert not target[..., [0, 1, 3]].any()
    assert not mask_target(None, 2, grid=4, n_classes=4).any()


def test_twins_are_found_across_crops_rotations_and_flips() -> None:
    refs = np.stack([head_with_blob(centre=(20 + 3 * i, 20 + 2 * i), seed=i)[0] for i in range(6)])
    twin = np.rot90(np.pad(refs[4], 10)[::-1], 1)  # more background, flipped, rotated
    index, similarity = head_twins(twin[np.newaxis], refs)
    assert index[0] == 4 and similarity[0] > 0.95


def test_masked_validation_holds_the_twins_of_validation_images() -> None:
    refs = np.stack([head_with_blob(centre=(20 + 3 * i, 20 + 2 * i), seed=i)[0] for i in range(6)])
    masked = MaskedDataset(
        images=refs[[1, 4]][:, ::-1].copy(),
        masks=np.zeros((2, 64, 64), dtype=bool),
        labels=np.zeros(2, dtype=np.int64),
        relpaths=["glioma/1.jpg", "glioma/4.jpg"],
        fingerprint="x",
    )
    split = split_masked(masked, refs, [f"glioma/ref{i}.jpg" for i in range(6)], primary_val=[4])
    assert split.val == (1,) and split.train == (0,)
    assert split.replaced == ("glioma/ref1.jpg",)  # trains once, as the masked copy


def make_masked_folder(root: Path, per_class: int = 4) -> Path:
    for c, name in enumerate(("glioma", "meningioma", "pituitary")):
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            image, mask = head_with_blob(size=32, centre=(10 + 3 * c, 12 + 2 * i), radius=4, seed=10 * c + i)
            stem = f"{100 * c + i}"
            Image.fromarray(image).save(root / name / f"{stem}.jpg")
            (root / "masks").mkdir(exist_ok=True)
            Image.fromarray(mask.astype(np.uint8) * 255).save(root / "masks" / f"{stem}.png")
    return root


def test_load_masked_reads_images_masks_and_classes(tmp_path: Path) -> None:
    folder = make_masked_folder(tmp_path / "masked")
    (folder / "glioma" / "999.jpg").write_bytes((folder / "glioma" / "0.jpg").read_bytes())  # no mask: left out
    data = load_masked(folder, ["glioma", "meningioma", "notumor", "pituitary"], 16, tmp_path / "cache")
    assert data.images.shape == (12, 16, 16) and data.masks.shape == (12, 16, 16)
    assert sorted(set(data.labels.tolist())) == [0, 1, 3]
    assert data.masks.any(axis=(1, 2)).all()
    again = load_masked(folder, ["glioma", "meningioma", "notumor", "pituitary"], 16, tmp_path / "cache")
    assert np.array_equal(again.images, data.images)  # from the cache


def tiny_realistic_run(data: Path, folder: Path, epochs: int, **settings: float) -> TrainConfig:
    """A realistic run of a tiny network at 32 px with masked slices and the mask loss, in ``folder``."""
    return TrainConfig(
        data=str(data),
        out=str(folder / "run"),
        widths=[2, 2, 4, 4, 4],
        stages=[[32, epochs]],
        batch_size=8,
        dropout=0.0,
        realism=RealismConfig(),
        masked_data=str(make_masked_folder(folder / "masked")),
        mask_loss_weight=0.5,
        **settings,
    )


@pytest.mark.slow
def test_a_realistic_run_trains_with_the_mask_loss(tiny_dataset: Path, tmp_path: Path) -> None:
    run = start_run(tiny_realistic_run(tiny_dataset, tmp_path, epochs=2), tmp_path / "cache")
    saved = json.loads((run / SPLIT_FILE).read_text())
    assert len(saved["train"]) + len(saved["val"]) == 12
    with open(run / "log.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 2 and all(float(r["train_mask_loss"]) > 0 for r in rows)
    assert TrainConfig.load(run).realism == RealismConfig()
    # the export keeps the masked split: it names the masked slices the weights never trained on
    from training.export import export_run

    exported = export_run(run, tmp_path / "weights", version="test")
    assert (exported / "training_run" / SPLIT_FILE).read_bytes() == (run / SPLIT_FILE).read_bytes()


def test_class_weights_are_refused_with_realism(tiny_dataset: Path, tmp_path: Path) -> None:
    from training.errors import RunFolderError

    cfg = TrainConfig(data=str(tiny_dataset), out=str(tmp_path / "run"), realism=RealismConfig(),
                      class_weights={"glioma": 2.0})  # fmt: skip
    with pytest.raises(RunFolderError, match="class-weight"):
        start_run(cfg)
    assert not (tmp_path / "run").exists()


def test_epochs_shorthand(tmp_path: Path) -> None:
    from training.cli import build_parser, train_config_from_args
    from training.errors import TrainingError

    data = make_dataset(tmp_path / "data", per_class=1)
    args = build_parser().parse_args(["train", "--data", str(data), "--out", str(tmp_path / "r"), "--epochs", "3"])
    assert train_config_from_args(args).stages == [[128, 3]]
    args = build_parser().parse_args(
        ["train", "--data", str(data), "--out", str(tmp_path / "r"), "--epochs", "2", "--size", "96", "--realism"]
    )
    cfg = train_config_from_args(args)
    assert cfg.stages == [[96, 2]] and cfg.realism == RealismConfig()
    args = build_parser().parse_args(
        ["train", "--data", str(data), "--out", str(tmp_path / "r"), "--epochs", "2", "--stages", "96:2"]
    )
    with pytest.raises(TrainingError, match="either"):
        train_config_from_args(args)


def test_realism_settings_from_the_command_line(tmp_path: Path) -> None:
    from training.cli import build_parser, train_config_from_args
    from training.errors import TrainingError

    data = make_dataset(tmp_path / "data", per_class=1)
    base = ["train", "--data", str(data), "--out", str(tmp_path / "r"), "--epochs", "1"]
    args = build_parser().parse_args([*base, "--realism", "--realism-set", "extra_removed=0.6"])
    cfg = train_config_from_args(args)
    assert cfg.realism == RealismConfig(extra_removed=0.6)
    for bad, message in (("nonsense=1", "unknown setting"), ("noise=lots", "not a number")):
        with pytest.raises(TrainingError, match=message):
            train_config_from_args(build_parser().parse_args([*base, "--realism", "--realism-set", bad]))
    with pytest.raises(TrainingError, match="goes with --realism"):
        train_config_from_args(build_parser().parse_args([*base, "--realism-set", "noise=0.1"]))


def test_extra_removed_copies_add_tumor_free_samples(tmp_path: Path) -> None:
    from training.mask_training import MaskedTraining, epoch_samples
    from training.masked_data import MaskedSplit

    folder = make_masked_folder(tmp_path / "masked", per_class=2)
    classes = ["glioma", "meningioma", "notumor", "pituitary"]
    masked = load_masked(folder, classes, 32, tmp_path / "cache")
    split = MaskedSplit(train=tuple(range(6)), val=(), replaced=(), min_similarity=0.99)
    data = MaskedTraining(masked, split, np.zeros(0, dtype=np.int64), [])
    none = np.zeros((0, 32, 32), np.uint8), np.zeros(0, np.int64)
    plain = RealismConfig(**{**STILL.to_json(), "remove_tumor": 0.0})
    extra = RealismConfig(**{**plain.to_json(), "extra_removed": 0.5})
    twice = RealismConfig(**{**plain.to_json(), "extra_removed": 2.0})  # a share over 1 repeats the slices
    for settings, expected_notumor in ((plain, 0), (extra, 3), (twice, 12)):
        cfg = TrainConfig(data="x", out="y", widths=[2, 2, 2, 2, 2], realism=settings, class_names=classes)
        samples = list(epoch_samples(cfg, data, *none, epoch=1, size=32))
        assert len(samples) == data.n_train(settings) == 6 + expected_notumor
        notumor = [s for s in samples if s[1][2] == 1.0]
        assert len(notumor) == expected_notumor and all(not s[2].any() for s in notumor)  # no mask target


def symmetric_head(size: int = 64, tumor_x: int = 44, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """An axial-like head, left-right symmetric (ventricles, a bright rim), with a disc tumor at ``tumor_x``."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[:size, :size].astype(np.float32)
    c = (size - 1) / 2
    head = ((y - c) / (0.42 * size)) ** 2 + ((x - c) / (0.36 * size)) ** 2 <= 1
    rim = head & ~(((y - c) / (0.38 * size)) ** 2 + ((x - c) / (0.32 * size)) ** 2 <= 1)
    ventricles = ((y - c) / 8) ** 2 + ((np.abs(x - c) - 6) / 3) ** 2 <= 1
    mask = (y - 26) ** 2 + (x - tumor_x) ** 2 <= 25
    image = np.where(head, 0.4, 0.0) + np.where(rim, 0.4, 0.0) - np.where(ventricles, 0.3, 0.0)
    image = image + np.where(mask, 0.5, 0.0) + rng.normal(0, 0.01, image.shape) * head
    return np.clip(image, 0, 1).astype(np.float32), mask


def test_a_healthy_mirror_replaces_the_tumor_half_with_the_other_half() -> None:
    image, mask = symmetric_head()
    out = realism.healthy_mirror(image, mask)
    assert out is not None
    assert out[mask].mean() < 0.45 < image[mask].mean()  # the tumor is gone, brain tissue in its place
    assert np.abs(out[:, 32:] - out[:, :32][:, ::-1]).max() < 0.02  # both halves now match
    assert np.array_equal(out[:, :30], image[:, :30])  # the healthy half is untouched


def test_no_mirror_across_the_midline_or_of_an_asymmetric_slice() -> None:
    image, mask = symmetric_head(tumor_x=33)  # the tumor reaches the midline
    assert realism.healthy_mirror(image, mask) is None
    image, mask = symmetric_head()
    lopsided = image.copy()
    lopsided[:, :24] = 0.0  # a head whose two halves differ (as a sagittal slice's front and back)
    lopsided[10:50, 5:20] = np.linspace(0, 1, 15, dtype=np.float32)
    assert realism.healthy_mirror(lopsided, mask) is None


def test_extra_mirrored_copies_add_tumor_free_samples(tmp_path: Path) -> None:
    from training.mask_training import epoch_samples, mirrored_copies
    from training.masked_data import MaskedSplit

    classes = ["glioma", "meningioma", "notumor", "pituitary"]
    images, masks = zip(*(symmetric_head(tumor_x=x, seed=x) for x in (44, 46, 33, 20)), strict=True)
    masked = MaskedDataset(
        np.stack([np.rint(i * 255).astype(np.uint8) for i in images]), np.stack(masks),
        np.asarray([0, 1, 0, 1]), ["a", "b", "c", "d"], "test",
    )  # fmt: skip
    mirrors = mirrored_copies(masked, range(4))
    assert sorted(mirrors) == [0, 1, 3]  # the tumor at the midline has no healthy half
    split = MaskedSplit(train=(0, 1, 2, 3), val=(), replaced=(), min_similarity=0.99)
    data = MaskedTraining(masked, split, np.zeros(0, dtype=np.int64), [], glioma=0, mirrored=mirrors)
    none = np.zeros((0, 64, 64), np.uint8), np.zeros(0, np.int64)
    settings = RealismConfig(**{**STILL.to_json(), "remove_tumor": 0.0, "extra_mirrored": 2 / 3})
    cfg = TrainConfig(data="x", out="y", widths=[2, 2, 2, 2, 2], realism=settings, class_names=classes)
    samples = list(epoch_samples(cfg, data, *none, epoch=1, size=64))
    assert len(samples) == data.n_train(settings) == 4 + 2
    notumor = [s for s in samples if s[1][2] == 1.0]
    assert len(notumor) == 2 and all(not s[2].any() for s in notumor)  # labelled no tumor, no mask target
    twice = RealismConfig(**{**settings.to_json(), "extra_mirrored": 2.0})
    cfg = TrainConfig(data="x", out="y", widths=[2, 2, 2, 2, 2], realism=twice, class_names=classes)
    assert len(list(epoch_samples(cfg, data, *none, epoch=1, size=64))) == data.n_train(twice) == 4 + 6


def _masked_only(tmp_path: Path, per_class: int) -> tuple[MaskedTraining, list[str]]:
    """Masked training data of ``per_class`` slices per tumor class (glioma first) and no class-folder images."""
    from training.masked_data import MaskedSplit

    classes = ["glioma", "meningioma", "notumor", "pituitary"]
    masked = load_masked(make_masked_folder(tmp_path / "masked", per_class=per_class), classes, 32, tmp_path / "cache")
    split = MaskedSplit(train=tuple(range(3 * per_class)), val=(), replaced=(), min_similarity=0.99)
    return MaskedTraining(masked, split, np.zeros(0, dtype=np.int64), [], glioma=0), classes


def test_gliomas_keep_their_tumor_unless_asked(tmp_path: Path) -> None:
    """A glioma's mask leaves out its oedema: by default no glioma becomes a "no tumor" sample."""
    from training.mask_training import epoch_samples

    data, classes = _masked_only(tmp_path, per_class=2)
    none = np.zeros((0, 32, 32), np.uint8), np.zeros(0, np.int64)
    always = RealismConfig(**{**STILL.to_json(), "remove_tumor": 1.0, "extra_removed": 1.0})
    for remove_glioma, gliomas_left in ((0.0, 2), (1.0, 0)):
        settings = RealismConfig(**{**always.to_json(), "remove_glioma": remove_glioma})
        cfg = TrainConfig(data="x", out="y", widths=[2, 2, 2, 2, 2], realism=settings, class_names=classes)
        samples = list(epoch_samples(cfg, data, *none, epoch=1, size=32))
        removable = 4 if remove_glioma == 0.0 else 6
        assert len(samples) == data.n_train(settings) == 6 + removable
        labels = [int(np.argmax(s[1])) for s in samples]
        assert labels.count(0) == gliomas_left and labels.count(2) == len(samples) - gliomas_left


def test_a_share_of_gliomas_enters_the_removed_copies_and_loses_its_tumor(tmp_path: Path) -> None:
    """With 0 < remove_glioma < 1, the gliomas chosen for the extra copies are all seen tumor-free."""
    from training.mask_training import epoch_samples

    data, classes = _masked_only(tmp_path, per_class=10)
    assert data.masked is not None
    masked = data.masked
    none = np.zeros((0, 32, 32), np.uint8), np.zeros(0, np.int64)
    settings = RealismConfig(**{**STILL.to_json(), "remove_tumor": 0.0, "extra_removed": 1.0, "remove_glioma": 0.5})
    removable = data.removable(settings)
    chosen_gliomas = sum(int(masked.labels[i]) == 0 for i in removable)
    assert 0 < chosen_gliomas < 10 and len(removable) == 20 + chosen_gliomas
    assert data.removable(settings) == removable
    cfg = TrainConfig(data="x", out="y", widths=[2, 2, 2, 2, 2], realism=settings, class_names=classes)
    labels = [int(np.argmax(s[1])) for s in epoch_samples(cfg, data, *none, epoch=1, size=32)]
    assert len(labels) == 30 + len(removable)
    assert labels.count(0) == 10 and labels.count(2) == len(removable)


def head_with_scalp(size: int = 96) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A head whose outer band (scalp and skull) is bright and whose inside (brain) is mid-grey: the image,
    the band and the brain."""
    y, x = np.mgrid[:size, :size]
    r = np.hypot((y - size / 2) / (0.42 * size), (x - size / 2) / (0.36 * size))
    head, brain = r <= 1.0, r <= 0.9  # a band of 5 % of the smaller side, as thick as scalp and skull
    grain = np.random.default_rng(5).integers(0, 12, (size, size))
    image = np.where(brain, 100, np.where(head, 230, 0)) + grain * head
    return image.astype(np.uint8), head & ~brain, brain


def test_skull_stripping_blanks_the_scalp_and_keeps_the_brain() -> None:
    image, band, brain = head_with_scalp()
    x = image.astype(np.float32) / 255
    deep = realism.gaussian_blur(brain.astype(np.float32), 2.0) > 0.99  # the brain away from its edge
    for seed in range(10):
        out = realism.strip_skull(x, np.random.default_rng(seed))
        assert np.count_nonzero(out[band]) < 0.1 * band.sum()  # the bright band is gone
        assert np.array_equal(out[deep], x[deep])  # the brain is untouched
        assert out[~band & ~brain].max() == 0.0  # the background stays black
    blank = np.zeros((96, 96), np.float32)
    assert np.array_equal(realism.strip_skull(blank, np.random.default_rng(0)), blank)  # no head: as is


def test_a_stripped_slice_has_a_black_background_up_to_the_brain() -> None:
    image, band, brain = head_with_scalp()
    stripped = RealismConfig(**{**STILL.to_json(), "skull_strip": 1.0})
    out, _ = augment(image, None, np.random.default_rng(1), stripped)
    kept, _ = augment(image, None, np.random.default_rng(1), STILL)
    assert out[band].mean() < 0.2 * kept[band].mean() and out[brain].mean() > 0.8 * kept[brain].mean()
    plain = augment(image, None, np.random.default_rng(3), RealismConfig())
    again = augment(image, None, np.random.default_rng(3), RealismConfig(skull_strip=0.0))
    assert np.array_equal(plain[0], again[0])  # off by default, with the draws of earlier runs

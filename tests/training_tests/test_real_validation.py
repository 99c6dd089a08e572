"""``neuroreview-train validate-real``: localisation measures, set metrics, the command on tiny synthetic
volumes, and the model card's real-volume table."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.model.prediction import Prediction
from training.localisation import box_mass, localise, pointing_hit, top_area_iou
from training.real_data import Stack
from training.real_eval import (
    CARD_BEGIN,
    CARD_END,
    StackResult,
    format_real_metrics,
    real_metrics_markdown,
    replace_card_section,
    set_metrics,
    tumor_against_normal,
)

CLASSES = ("glioma", "meningioma", "notumor", "pituitary")


def _disc(size: int, centre: tuple[int, int], radius: int) -> np.ndarray:
    y, x = np.mgrid[:size, :size]
    return (y - centre[0]) ** 2 + (x - centre[1]) ** 2 <= radius**2


def test_pointing_game_box_mass_and_iou() -> None:
    mask = _disc(100, (30, 30), 6)
    on_tumor = _disc(100, (30, 30), 6).astype(np.float32)
    beside = np.zeros((100, 100), np.float32)
    beside[30, 40] = 1.0  # 4 pixels from the disc's edge: inside the 6 % tolerance
    far = np.zeros((100, 100), np.float32)
    far[80, 80] = 1.0
    assert pointing_hit(on_tumor, mask) and pointing_hit(beside, mask) and not pointing_hit(far, mask)
    assert box_mass(on_tumor, mask) == pytest.approx(1.0) and box_mass(far, mask) == 0.0
    assert top_area_iou(on_tumor, mask) > 0.5 and top_area_iou(far, mask) < 0.05
    assert localise(on_tumor, mask).hit and not localise(far, mask).hit


def _prediction(p_tumor: float, label: str) -> Prediction:
    """A prediction with the given P(tumor) and label (probabilities only roughly consistent: not used)."""
    probabilities = tuple((1 - p_tumor) if c == "notumor" else p_tumor / 3 for c in CLASSES)
    return Prediction(CLASSES, probabilities, label, p_tumor, "x" * 64, "CPU", "float32", 0.0)


def test_set_metrics_on_known_scores() -> None:
    masks = [np.zeros((8, 8), bool) for _ in range(6)]
    for i in (2, 3):
        masks[i][3:5, 3:5] = True
    stack = Stack("lgg-flair", "p1", "glioma", [np.zeros((8, 8), np.uint8)] * 6, masks)
    scores = [(0.1, "notumor"), (0.6, "meningioma"), (0.9, "glioma"), (0.8, "meningioma"), (0.2, "notumor"),
              (0.3, "notumor")]  # fmt: skip
    result = StackResult(stack, [_prediction(p, label) for p, label in scores], {}, {})
    metrics = set_metrics([result], 0.5)
    assert metrics["slice_auroc"] == pytest.approx(1.0)  # both tumor slices score above every other slice
    assert metrics["sensitivity"] == 1.0 and metrics["specificity"] == pytest.approx(3 / 4)
    assert metrics["tumor_slices_called_true_class"] == pytest.approx(0.5)
    assert metrics["series_called_tumor"] == 1  # slices 1-3 average 0.77 >= 0.5
    normal = Stack("normal-t1", "n1", "notumor", [np.zeros((8, 8), np.uint8)] * 6, [np.zeros((8, 8), bool)] * 6)
    stray = [(0.1, "notumor")] * 2 + [(0.9, "glioma")] + [(0.1, "notumor")] * 3
    normal_metrics = set_metrics([StackResult(normal, [_prediction(p, c) for p, c in stray], {}, {})], 0.5)
    assert normal_metrics["specificity"] == pytest.approx(5 / 6) and normal_metrics["series_called_tumor"] == 0


def test_middle_of_stack_figures_leave_out_the_ends_of_the_head() -> None:
    """A stray high score at the end of a stack lowers the whole-stack figures, not the middle ones."""
    n = 11
    masks = [np.zeros((8, 8), bool) for _ in range(n)]
    for i in (4, 5):
        masks[i][3:5, 3:5] = True
    stack = Stack("lgg-flair", "p1", "glioma", [np.zeros((8, 8), np.uint8)] * n, masks)
    scores = [0.95, 0.1, 0.1, 0.2, 0.9, 0.8, 0.3, 0.1, 0.1, 0.1, 0.97]  # the two ends score highest
    metrics = set_metrics([StackResult(stack, [_prediction(p, "glioma") for p in scores], {}, {})], 0.5)
    assert metrics["slice_auroc"] == pytest.approx(1 - 2 * 2 / (2 * 9))  # both ends outrank both tumor slices
    assert metrics["slice_auroc_middle"] == pytest.approx(1.0)  # positions 0.3-0.7: slices 3-7
    assert metrics["specificity"] == pytest.approx(7 / 9) and metrics["specificity_middle"] == pytest.approx(1.0)
    assert metrics["mean_p_tumor_before_tumor"] == pytest.approx((0.95 + 0.1 + 0.1 + 0.2) / 4)
    assert metrics["mean_p_tumor_tumor"] == pytest.approx(0.85)
    assert metrics["mean_p_tumor_after_tumor"] == pytest.approx((0.3 + 0.1 * 3 + 0.97) / 5)
    assert "tumor-free slices before the tumor 0.34, tumor slices 0.85, after it 0.31" in format_real_metrics(
        {
            "method": "gradcam",
            "threshold": 0.5,
            "sets": {
                "lgg-flair": {**metrics, "localisation_true_class": {"n": 0}, "localisation_predicted_class": {"n": 0}}
            },
        }
    )


def test_slices_outside_the_intended_use_get_no_answer() -> None:
    """A noise-only slice above the head: left out of AUROC and specificity as the application leaves it
    unanswered; an outside tumor slice counts as missed; the figures without the rule stay reported."""
    n = 6
    masks = [np.zeros((8, 8), bool) for _ in range(n)]
    masks[2][3:5, 3:5] = True
    stack = Stack("lgg-flair", "p1", "glioma", [np.zeros((8, 8), np.uint8)] * n, masks)
    noise = "noise only, no anatomy to classify (neighbouring pixels correlate 0.05, anatomy 0.3 or more)"
    scores = [0.9, 0.1, 0.8, 0.7, 0.2, 0.1]
    predictions = [_prediction(p, "glioma" if p >= 0.5 else "notumor") for p in scores]
    predictions[0] = predictions[0].with_outside_reason(noise)  # a stray high score on noise
    predictions[3] = predictions[3].with_outside_reason(noise)  # and one more (a tumor-free slice)
    metrics = set_metrics([StackResult(stack, predictions, {}, {})], 0.5)
    assert metrics["slices_outside"] == 2 and metrics["tumor_slices_outside"] == 0
    assert metrics["outside_reasons"] == {"noise only": 2}
    assert metrics["slice_auroc"] == pytest.approx(1.0) and metrics["specificity"] == pytest.approx(1.0)
    assert metrics["slice_auroc_all_slices"] == pytest.approx(0.8) and metrics["specificity_all_slices"] == 0.6
    predictions[2] = predictions[2].with_outside_reason(noise)  # the tumor slice itself: missed
    missed = set_metrics([StackResult(stack, predictions, {}, {})], 0.5)
    assert missed["sensitivity"] == 0.0 and missed["tumor_slices_called_true_class"] == 0.0
    assert missed["slice_auroc"] is None  # no tumor slice inside is left to rank


def test_tumor_slices_against_normal_heads_whatever_the_threshold() -> None:
    """AUROC of tumor slices against every normal slice, and the sensitivity where the normal heads keep
    95 % / 99 % specificity; an outside tumor slice is left out of the AUROC and counts as missed; halving
    every score changes the false alarms at 0.5 but none of these figures."""
    masks = [np.zeros((8, 8), bool) for _ in range(6)]
    for i in (0, 1, 2, 3):
        masks[i][3:5, 3:5] = True
    tumor_stack = Stack("lgg-flair", "p1", "glioma", [np.zeros((8, 8), np.uint8)] * 6, masks)
    normal_stack = Stack(
        "normal-flair", "n1", "notumor", [np.zeros((8, 8), np.uint8)] * 100, [np.zeros((8, 8), bool)] * 100
    )

    def figures(scale: float) -> dict:
        tumor = [_prediction(scale * p, "glioma") for p in (0.995, 0.975, 0.305, 0.98, 0.99, 0.99)]
        tumor[3] = tumor[3].with_outside_reason("noise only")
        normal = [_prediction(scale * k / 100, "notumor") for k in range(100)]  # 0.00 ... 0.99
        return tumor_against_normal(
            [StackResult(tumor_stack, tumor, {}, {})], [StackResult(normal_stack, normal, {}, {})]
        )

    m = figures(1.0)
    assert m["tumor_slices"] == 4 and m["normal_slices"] == 100
    assert m["auroc"] == pytest.approx((1.0 + 0.98 + 0.31) / 3)  # the two tumor-free slices play no part
    at95, at99 = m["at_normal_specificity"]["0.95"], m["at_normal_specificity"]["0.99"]
    assert at95["normal_specificity"] >= 0.95 and at99["normal_specificity"] >= 0.99
    assert at95["sensitivity"] == pytest.approx(2 / 4) and at99["sensitivity"] == pytest.approx(1 / 4)
    halved = figures(0.5)
    assert halved["auroc"] == pytest.approx(m["auroc"])
    assert halved["at_normal_specificity"]["0.95"]["sensitivity"] == pytest.approx(2 / 4)


def _make_real_sets(root: Path) -> tuple[Path, Path, Path]:
    """Two LGG patients, one normal NIfTI head and a figshare folder, all tiny."""
    import nibabel as nib

    rng = np.random.default_rng(0)
    lgg = root / "lgg"
    for patient in ("TCGA_A", "TCGA_B"):
        folder = lgg / patient
        folder.mkdir(parents=True)
        for n in range(1, 6):
            mask = _disc(32, (12, 14), 4) if n in (2, 3) else np.zeros((32, 32), bool)
            for sequence in ("flair", "t1gd"):
                image = rng.integers(20, 80, (32, 32)).astype(np.uint8) + mask.astype(np.uint8) * 120
                Image.fromarray(image).save(folder / f"{n:03d}_{sequence}.jpg")
            Image.fromarray(mask.astype(np.uint8) * 255).save(folder / f"{n:03d}_mask.png")
    normal = root / "normal"
    normal.mkdir()
    volume = rng.normal(100, 20, (24, 24, 7)).astype(np.float32)
    nib.save(nib.Nifti1Image(volume, np.eye(4)), str(normal / "Subj1_T1.nii.gz"))
    figshare = root / "figshare"
    (figshare / "masks").mkdir(parents=True)
    for c, name in enumerate(("glioma", "meningioma", "pituitary")):
        (figshare / name).mkdir()
        for i in range(2):
            stem = str(10 * c + i)
            mask = _disc(32, (10 + 4 * c, 12 + 6 * i), 4)
            image = rng.integers(20, 80, (32, 32)).astype(np.uint8) + mask.astype(np.uint8) * 120
            Image.fromarray(image).save(figshare / name / f"{stem}.jpg")
            Image.fromarray(mask.astype(np.uint8) * 255).save(figshare / "masks" / f"{stem}.png")
    return lgg, normal, figshare


@pytest.mark.slow
def test_validate_real_command_writes_metrics_plots_and_the_card(tmp_path: Path) -> None:
    from tiny_models import write_tiny_weights

    from training.cli import main

    weights = tmp_path / "weights"
    write_tiny_weights(weights)
    lgg, normal, figshare = _make_real_sets(tmp_path)
    card = tmp_path / "MODEL_CARD.md"
    card.write_text("# Model card\n\n## Limitations\n- few\n", encoding="utf-8")
    out = tmp_path / "real"
    argv = ["validate-real", str(weights), "--lgg", str(lgg), "--normal", str(normal), "--figshare", str(figshare)]
    assert main([*argv, "--out", str(out), "--card", str(card)]) == 0
    metrics = json.loads((out / "real_metrics.json").read_text())
    sets = metrics["sets"]
    assert set(sets) == {"lgg-flair", "lgg-t1gd", "normal-t1", "figshare"}
    assert sets["lgg-flair"]["series"] == 2 and sets["lgg-flair"]["slices"] == 10
    assert sets["lgg-flair"]["tumor_slices"] == 4 and sets["normal-t1"]["slices"] == 7
    assert sets["figshare"]["slices"] == 6 and sets["figshare"]["localisation_true_class"]["n"] == 6
    assert "neighbouring slices" in metrics["series_rule"]
    assert set(metrics["tumor_against_normal"]) == {"lgg-t1gd vs normal-t1"}  # no normal FLAIR head here
    assert metrics["tumor_against_normal"]["lgg-t1gd vs normal-t1"]["tumor_slices"] == 4
    assert {"roc.png", "real_traces.json", "real_metrics.md"} <= {p.name for p in out.iterdir()}
    text = card.read_text()
    assert text.count(CARD_BEGIN) == 1 and text.count(CARD_END) == 1 and "## Limitations" in text
    assert real_metrics_markdown(metrics).strip() in text
    assert main([*argv, "--limit", "1", "--card", str(card)]) == 1  # a partial evaluation never goes in the card


def test_card_section_is_replaced_not_repeated(tmp_path: Path) -> None:
    card = tmp_path / "card.md"
    card.write_text("# Card\n\nintro\n", encoding="utf-8")
    replace_card_section(card, "first table\n")
    replace_card_section(card, "second table\n")
    text = card.read_text()
    assert "second table" in text and "first table" not in text and text.startswith("# Card\n\nintro")


@pytest.mark.slow
def test_validate_real_applies_the_learned_guard_the_weights_carry(tmp_path: Path) -> None:
    """As in the application: a slice above the weights' guard threshold gets no answer."""
    from dataclasses import replace

    from tiny_models import write_tiny_weights

    from core.model.model_config import load_model_config
    from core.model.ood_guard import fit_guard_stats
    from training.cli import main
    from training.guard_fit import install_guard
    from training.real_eval import guard_of

    weights = tmp_path / "weights"
    write_tiny_weights(weights)
    assert guard_of(weights, load_model_config(weights)) is None
    rng = np.random.default_rng(0)
    width = load_model_config(weights).architecture.widths[-1]
    stats = fit_guard_stats(rng.random((40, width)), rng.normal(size=(40, 4)), rng.integers(0, 4, 40), num_classes=4)
    install_guard(weights, replace(stats, threshold=-1e9))  # every slice lies above it
    assert guard_of(weights, load_model_config(weights)) is not None
    lgg, _, _ = _make_real_sets(tmp_path)
    out = tmp_path / "real"
    assert main(["validate-real", str(weights), "--lgg", str(lgg), "--out", str(out)]) == 0
    flair = json.loads((out / "real_metrics.json").read_text())["sets"]["lgg-flair"]
    assert flair["slices_outside"] == flair["slices"] == 10
    assert sum(flair["outside_reasons"].values()) == 10 and flair["sensitivity"] == 0.0

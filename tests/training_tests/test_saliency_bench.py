"""``neuroreview-train saliency-bench``: a map that must find a blob, the default's choice, the command."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.model import device as dev
from training.saliency_bench import (
    CARD_BEGIN,
    CARD_END,
    choose_default,
    load_sets,
    run_bench,
    spread,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "classifier"))


def _disc(size: int, centre: tuple[int, int], radius: int) -> np.ndarray:
    y, x = np.mgrid[:size, :size]
    return (y - centre[0]) ** 2 + (x - centre[1]) ** 2 <= radius**2


def _make_sets(root: Path, decoy: bool = False) -> tuple[Path, Path, Path]:
    """A figshare folder (+ split) and an LGG folder of 32 x 32 slices, a bright blob in each.

    The masks lie on the blob, or (``decoy``) on the opposite side of the slice."""
    rng = np.random.default_rng(0)

    def pair(centre: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
        blob = _disc(32, centre, 4)
        image = rng.integers(20, 40, (32, 32)).astype(np.uint8) + blob.astype(np.uint8) * 200
        mask = _disc(32, ((centre[0] + 16) % 32, (centre[1] + 16) % 32), 4) if decoy else blob
        return image, mask

    figshare = root / "figshare"
    (figshare / "masks").mkdir(parents=True)
    val = []
    for c, name in enumerate(("glioma", "meningioma", "pituitary")):
        (figshare / name).mkdir()
        for i in range(3):
            stem = str(10 * c + i)
            image, mask = pair((6 + 5 * c, 6 + 8 * i))
            Image.fromarray(image).save(figshare / name / f"{stem}.png")
            Image.fromarray(image).save(figshare / name / f"{stem}.jpg", quality=100)
            Image.fromarray(mask.astype(np.uint8) * 255).save(figshare / "masks" / f"{stem}.png")
            if i < 2:
                val.append(f"{name}/{stem}.jpg")
    split = root / "masked_split.json"
    split.write_text(json.dumps({"val": val, "train": []}), encoding="utf-8")
    lgg = root / "lgg"
    for p, patient in enumerate(("TCGA_A", "TCGA_B")):
        folder = lgg / patient
        folder.mkdir(parents=True)
        for n in range(1, 5):
            image, mask = pair((8 + 4 * n, 20 - 6 * p))
            if n == 4:
                mask[:] = False  # a slice without tumor: not benchmarked
            for sequence in ("flair", "t1gd"):
                Image.fromarray(image).save(folder / f"{n:03d}_{sequence}.jpg", quality=100)
            Image.fromarray(mask.astype(np.uint8) * 255).save(folder / f"{n:03d}_mask.png")
    return figshare, split, lgg


@pytest.fixture(scope="module")
def handmade() -> object:
    from handmade_models import handmade_config, handmade_model

    from core.model.classifier import Classifier

    return Classifier(handmade_model(), handmade_config(), sha256="ab" * 32, precision=dev.FLOAT32)


def test_spread_takes_evenly_spaced_slices() -> None:
    assert spread(10, None) == list(range(10))
    assert spread(10, 3) == [0, 4, 9]  # 0, 4.5 -> 4 (round half to even), 9
    assert spread(3, 10) == [0, 1, 2]


def test_sets_hold_tumor_slices_of_the_validation_split_only(tmp_path: Path) -> None:
    figshare, split, lgg = _make_sets(tmp_path)
    sets = load_sets(figshare, split, lgg, None)
    assert {k: len(v) for k, v in sets.items()} == {"figshare-val": 6, "lgg-flair": 6, "lgg-t1gd": 6}
    assert all(s.mask.any() for group in sets.values() for s in group)
    assert {s.truth for s in sets["lgg-flair"]} == {"glioma"}
    assert len(load_sets(figshare, split, None, 2)["figshare-val"]) == 2
    with pytest.raises(ValueError, match="figshare-split"):
        load_sets(figshare, None, None, None)


def test_a_map_on_the_blob_wins_the_pointing_game_and_a_decoy_mask_loses_it(handmade: object, tmp_path: Path) -> None:
    """The hand-made model's glioma map rises with brightness, so its maximum is the blob."""
    methods = ["gradcam", "gradcam++", "layercam"]
    for decoy, expected in ((False, 1.0), (True, 0.0)):
        figshare, split, lgg = _make_sets(tmp_path / str(decoy), decoy=decoy)
        sets = load_sets(figshare, split, lgg, None)
        sets = {"lgg-flair": sets["lgg-flair"]}  # all glioma: the class whose map follows the blob
        out = tmp_path / f"out{decoy}"
        results = run_bench(handmade, sets, methods, out)
        for method in methods:
            true = results["summaries"][method]["lgg-flair"]["true_class"]
            assert true["n"] == 6 and true["pointing_game"] == expected, (method, decoy)
            if not decoy:
                assert true["top_iou"] > 0.3 and true["box_mass"] > 0.2
    assert set(results["batch1_ms"]) == {"classify", *methods}
    assert (out / "lgg-flair" / "gradcam_best.png").is_file()
    assert {"saliency_metrics.json", "saliency_metrics.md", "saliency_slices.json"} <= {p.name for p in out.iterdir()}


def test_default_is_the_best_pointing_method_within_the_cost_budget() -> None:
    def summary(figshare: float, flair: float) -> dict[str, dict[str, dict[str, float]]]:
        return {
            "figshare-val": {"true_class": {"pointing_game": figshare}},
            "lgg-flair": {"true_class": {"pointing_game": flair}},
        }

    summaries = {"gradcam": summary(0.4, 0.3), "gradcam++": summary(0.45, 0.35), "layercam": summary(0.9, 0.9)}
    costs = {"classify": 10.0, "gradcam": 12.0, "gradcam++": 12.0, "layercam": 30.0}
    method, why = choose_default(summaries, costs)
    assert method == "gradcam++" and "figshare-val and lgg-flair" in why
    assert choose_default(summaries, costs, max_cost=3.0)[0] == "layercam"
    tied = {"gradcam": summary(0.5, 0.5), "layercam": summary(0.5, 0.5)}
    assert choose_default(tied, {"gradcam": 12.0, "layercam": 11.0})[0] == "layercam"  # tie: the cheaper


@pytest.mark.slow
def test_command_records_the_figures_in_the_card_and_the_default_in_the_config(tmp_path: Path) -> None:
    from tiny_models import write_tiny_weights

    from core.model.model_config import load_model_config
    from training.cli import main

    weights = tmp_path / "weights"
    config = write_tiny_weights(weights)
    (weights / "MODEL_CARD.md").write_text("# Model card\n\n## Limitations\n- few\n", encoding="utf-8")
    figshare, split, lgg = _make_sets(tmp_path)
    argv = ["saliency-bench", str(weights), "--figshare", str(figshare), "--figshare-split", str(split)]
    argv += ["--lgg", str(lgg), "--methods", "gradcam,layercam", "--limit", "3"]
    assert main([*argv, "--out", str(tmp_path / "out"), "--record"]) == 0
    assert main([*argv, "--record"]) == 0  # recorded twice: the section is replaced, not repeated
    recorded = load_model_config(weights)
    assert recorded.weights_sha256 == config.weights_sha256
    assert recorded.default_saliency_method in ("gradcam", "layercam")
    figures = recorded.localisation_of("gradcam")
    assert figures is not None and figures["figshare-val"]["n"] == 3 and figures["lgg-t1gd"]["n"] == 3
    card = (weights / "MODEL_CARD.md").read_text()
    assert card.count(CARD_BEGIN) == 1 and card.count(CARD_END) == 1 and "## Limitations" in card
    assert "saliency-bench" in card and "Layer-CAM" in card
    assert main([*argv, "--methods", "lime"]) == 1
    assert main(["saliency-bench", str(tmp_path), "--lgg", str(lgg), "--record"]) == 1

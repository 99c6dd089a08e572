"""``neuroreview-train saliency-bench``: every heatmap method judged against tumor masks.

Sets (tumor slices only, each with its mask): ``figshare-val`` (the figshare T1-CE masked slices whose
class-folder twins are validation images, named by ``masked_split.json``), ``lgg-flair`` and
``lgg-t1gd`` (TCGA lower-grade glioma volumes, validation only).  For every method and slice the
true class's map and the predicted class's map (the same map where the prediction is right) are
scored by :mod:`training.localisation`: pointing game, map mass in the tumor's box, top-5 %-area IoU.
Slices go through the application's classifier, so the maps are the ones the workstation shows.

The run also times each method at batch 1 (median of a few calls, against classify-only in the
same run), and picks the default method: the best mean pointing game (true class) over
``figshare-val`` and ``lgg-flair`` among the gradient methods that cost at most ``max_cost`` times
Grad-CAM's time; ties go to the cheaper method.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from core.model.saliency import GRADCAM, GRADIENT_METHODS, METHOD_TITLES
from training.localisation import Localisation, localise, summarise
from training.real_eval import pct

SETS = ("figshare-val", "lgg-flair", "lgg-t1gd")
CHOICE_SETS = ("figshare-val", "lgg-flair")
BATCH = 16
COST_REPEATS = 7
DEFAULT_MAX_COST = 1.25
CARD_BEGIN, CARD_END = "<!-- saliency:begin -->", "<!-- saliency:end -->"
SET_TITLES = {
    "figshare-val": "figshare T1-CE validation slices",
    "lgg-flair": "LGG FLAIR tumor slices",
    "lgg-t1gd": "LGG T1-Gd tumor slices",
}


@dataclass(frozen=True)
class MaskedSlice:
    """One tumor slice as the application renders it, with its mask and true class."""

    set_name: str
    source: str
    truth: str
    rendered: NDArray[np.uint8]
    mask: NDArray[np.bool_]


def spread(count: int, limit: int | None) -> list[int]:
    """``limit`` indices spread evenly over ``range(count)`` (all of them without a limit)."""
    if limit is None or limit >= count:
        return list(range(count))
    if limit <= 0:
        return []
    return sorted(set(np.rint(np.linspace(0, count - 1, limit)).astype(int).tolist()))


def load_sets(
    figshare: Path | None, figshare_split: Path | None, lgg: Path | None, limit: int | None
) -> dict[str, list[MaskedSlice]]:
    """The benchmark's slices per set; ``limit``: at most that many per set, spread over the set."""
    from training.real_data import load_figshare, load_lgg

    sets: dict[str, list[MaskedSlice]] = {}
    if figshare is not None:
        if figshare_split is None:
            raise ValueError("--figshare needs --figshare-split (the validation images only)")
        keep = json.loads(Path(figshare_split).read_text(encoding="utf-8"))["val"]
        found = [
            MaskedSlice("figshare-val", src, stack.truth, img, mask)
            for stack in load_figshare(figshare, keep)
            for img, mask, src in zip(stack.rendered, stack.masks, stack.sources, strict=True)
            if mask.any()
        ]
        found.sort(key=lambda s: s.source)
        sets["figshare-val"] = [found[i] for i in spread(len(found), limit)]
    if lgg is not None:
        for stack in load_lgg(lgg):
            name = stack.set_name
            sets.setdefault(name, []).extend(
                MaskedSlice(name, src, stack.truth, img, mask)
                for img, mask, src in zip(stack.rendered, stack.masks, stack.sources, strict=True)
                if mask.any()
            )
        for name in ("lgg-flair", "lgg-t1gd"):
            if name in sets:
                sets[name] = [sets[name][i] for i in spread(len(sets[name]), limit)]
    if not sets:
        raise ValueError("name at least one of --figshare (with --figshare-split) and --lgg")
    return sets


def score_method(classifier: Any, slices: Sequence[MaskedSlice], method: str) -> list[dict[str, Any]]:
    """One record per slice: predicted label, and the localisation of the true and predicted class's maps."""
    true_maps: list[Localisation | None] = [None] * len(slices)
    labels: list[str] = [""] * len(slices)
    for truth in sorted({s.truth for s in slices}):
        group = [i for i, s in enumerate(slices) if s.truth == truth]
        for start in range(0, len(group), BATCH):
            chunk = group[start : start + BATCH]
            preds = classifier.predict(
                [slices[i].rendered for i in chunk], heatmap=truth, method=method, batch_size=BATCH
            )
            for i, pred in zip(chunk, preds, strict=True):
                true_maps[i] = localise(pred.heatmap, slices[i].mask)
                labels[i] = pred.label
    predicted: list[Localisation | None] = [
        true_maps[i] if labels[i] == s.truth else None for i, s in enumerate(slices)
    ]
    wrong = [i for i, p in enumerate(predicted) if p is None]
    for start in range(0, len(wrong), BATCH):
        chunk = wrong[start : start + BATCH]
        preds = classifier.predict([slices[i].rendered for i in chunk], heatmap=True, method=method, batch_size=BATCH)
        for i, pred in zip(chunk, preds, strict=True):
            predicted[i] = localise(pred.heatmap, slices[i].mask)
    records = []
    for s, label, true_loc, pred_loc in zip(slices, labels, true_maps, predicted, strict=True):
        assert true_loc is not None and pred_loc is not None
        records.append(
            {
                "source": s.source,
                "truth": s.truth,
                "label": label,
                "true_class": true_loc.as_record(),
                "predicted_class": pred_loc.as_record(),
            }
        )
    return records


def _as_localisations(records: Sequence[dict[str, Any]], kind: str) -> list[Localisation]:
    return [Localisation(bool(r[kind]["hit"]), float(r[kind]["box_mass"]), float(r[kind]["top_iou"])) for r in records]


def set_summary(records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Mean figures of one method on one set, for the true and the predicted class."""
    return {
        "true_class": summarise(_as_localisations(records, "true_class")),
        "predicted_class": summarise(_as_localisations(records, "predicted_class")),
        "called_true_class": float(np.mean([r["label"] == r["truth"] for r in records])) if records else None,
    }


def method_costs(classifier: Any, one: NDArray[np.uint8], methods: Sequence[str]) -> dict[str, float]:
    """Median batch-1 milliseconds of classify-only (``"classify"``) and of classify + each method's map.

    The calls take turns (one of each per round), so load that comes and goes hits every method alike.
    """
    calls: dict[str, Callable[[], object]] = {"classify": lambda: classifier.predict([one])}
    for method in methods:
        calls[method] = lambda m=method: classifier.predict([one], heatmap=True, method=m)  # type: ignore[misc]
    times: dict[str, list[float]] = {name: [] for name in calls}
    for round_ in range(COST_REPEATS + 1):
        for name, call in calls.items():
            start = time.perf_counter()
            call()
            if round_:  # the first round warms up (tracing)
                times[name].append((time.perf_counter() - start) * 1000.0)
    return {name: float(np.median(values)) for name, values in times.items()}


def choose_default(
    summaries: dict[str, dict[str, dict[str, Any]]], costs: dict[str, float], max_cost: float = DEFAULT_MAX_COST
) -> tuple[str, str]:
    """(method, why): best mean true-class pointing game over :data:`CHOICE_SETS` within the cost budget."""
    sets = [s for s in CHOICE_SETS if any(s in per_set for per_set in summaries.values())]
    budget = max_cost * costs.get(GRADCAM, min(costs.values()))
    candidates = []
    for method, per_set in summaries.items():
        if method not in GRADIENT_METHODS or costs.get(method, float("inf")) > budget:
            continue
        scores = [per_set[s]["true_class"]["pointing_game"] for s in sets if s in per_set]
        if scores and all(v is not None for v in scores):
            candidates.append((float(np.mean(scores)), -costs.get(method, 0.0), method))
    if not candidates:
        return GRADCAM, "no method was measured within the cost budget; Grad-CAM kept"
    score, _, method = max(candidates)
    why = (
        f"best mean pointing game (true class) over {' and '.join(sets)}: {100 * score:.1f} %, among the gradient "
        f"methods costing at most {max_cost:g} x Grad-CAM's batch-1 time"
    )
    return method, why


def _ranked(records: Sequence[dict[str, Any]]) -> list[int]:
    """Slice positions from worst to best map (true class): pointing hit, then box mass, then IoU."""
    key = [(r["true_class"]["hit"], r["true_class"]["box_mass"], r["true_class"]["top_iou"]) for r in records]
    return sorted(range(len(records)), key=lambda i: key[i])


def example_overlays(
    classifier: Any, slices: Sequence[MaskedSlice], records: Sequence[dict[str, Any]], method: str, folder: Path
) -> dict[str, str]:
    """Best, median and worst slice of one method and set as PNGs (map over the slice, mask outline in green)."""
    from PIL import Image

    from core.imaging.heatmap import HeatmapStyle, composite

    if not records:
        return {}
    order = _ranked(records)
    picks = {"worst": order[0], "median": order[len(order) // 2], "best": order[-1]}
    folder.mkdir(parents=True, exist_ok=True)
    written = {}
    for kind, i in picks.items():
        s = slices[i]
        (pred,) = classifier.predict([s.rendered], heatmap=s.truth, method=method)
        rgb = composite(s.rendered, pred.heatmap, HeatmapStyle(opacity=0.6))
        rgb[_outline(s.mask)] = (0, 255, 0)
        path = folder / f"{method}_{kind}.png"
        Image.fromarray(rgb).save(path)
        written[kind] = f"{path.parent.name}/{path.name}: {s.source}"
    return written


def _outline(mask: NDArray[np.bool_]) -> NDArray[np.bool_]:
    inner = mask.copy()
    inner[1:, :] &= mask[:-1, :]
    inner[:-1, :] &= mask[1:, :]
    inner[:, 1:] &= mask[:, :-1]
    inner[:, :-1] &= mask[:, 1:]
    return mask & ~inner


def run_bench(
    classifier: Any,
    sets: dict[str, list[MaskedSlice]],
    methods: Sequence[str],
    out: Path | None,
    *,
    max_cost: float = DEFAULT_MAX_COST,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Figures per method and set, costs, the chosen default; with ``out`` also per-slice records and overlays."""
    summaries: dict[str, dict[str, dict[str, Any]]] = {}
    per_slice: dict[str, dict[str, list[dict[str, Any]]]] = {}
    total, done = len(methods) * len(sets), 0
    for method in methods:
        for name, slices in sets.items():
            records = score_method(classifier, slices, method)
            per_slice.setdefault(method, {})[name] = records
            summaries.setdefault(method, {})[name] = set_summary(records)
            done += 1
            if progress is not None:
                progress(done, total)
    one = next(iter(sets.values()))[0].rendered
    costs = method_costs(classifier, one, methods)
    default, why = choose_default(summaries, costs, max_cost)
    results: dict[str, Any] = {
        "methods": list(methods),
        "sets": {name: len(slices) for name, slices in sets.items()},
        "summaries": summaries,
        "batch1_ms": {k: round(v, 1) for k, v in costs.items()},
        "cost_vs_classify": {m: round(costs[m] / costs["classify"], 3) for m in methods},
        "default_method": default,
        "chosen_by": why,
    }
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        results["examples"] = {
            name: {m: example_overlays(classifier, sets[name], per_slice[m][name], m, out / name) for m in methods}
            for name in sets
        }
        (out / "saliency_metrics.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
        (out / "saliency_slices.json").write_text(json.dumps(per_slice) + "\n", encoding="utf-8")
        (out / "saliency_metrics.md").write_text(saliency_markdown(results), encoding="utf-8")
    return results


def saliency_markdown(results: dict[str, Any]) -> str:
    """The model card's localisation table: one row per method and set, every figure from ``results``."""

    rows = [
        "| method | set (slices) | pointing game, true class | pointing game, predicted class | "
        "map mass in tumor box | top-5 % IoU | batch-1 time vs classify-only |",
        "|---|---|---|---|---|---|---|",
    ]
    for method, per_set in results["summaries"].items():
        for name, summary in per_set.items():
            true, predicted = summary["true_class"], summary["predicted_class"]
            iou = "-" if true["top_iou"] is None else f"{true['top_iou']:.3f}"
            cost = results["cost_vs_classify"].get(method)
            rows.append(
                f"| {METHOD_TITLES.get(method, method)} | {SET_TITLES.get(name, name)} ({true['n']}) | "
                f"{pct(true['pointing_game'])} | {pct(predicted['pointing_game'])} | {pct(true['box_mass'])} | "
                f"{iou} | {'-' if cost is None else f'{cost:.2f} x'} |"
            )
    rows += [
        "",
        f"Default method: **{METHOD_TITLES.get(results['default_method'], results['default_method'])}** "
        f"({results['chosen_by']}).",
        "Pointing game: the map's maximum lies inside the tumor mask or within 6 % of the image's larger side "
        "of it; map mass: share of the map inside the tumor's bounding box; top-5 % IoU: the map's top 5 % of "
        "pixels against the mask.  Times: medians of batch-1 calls, every method's calls taking turns, on the "
        "machine that ran the benchmark (noisy on a loaded CPU; `make bench` judges the latency target against "
        "its peer).",
    ]
    if results.get("limit") is not None:
        rows.append(f"Slices: at most {results['limit']} per set (`--limit`), spread evenly over the set.")
    return "\n".join(rows) + "\n"


def config_section(results: dict[str, Any]) -> dict[str, Any]:
    """The weights config's ``saliency`` section: the default method and each method's figures per set."""
    localisation = {
        method: {
            name: {
                "n": s["true_class"]["n"],
                "pointing_game": s["true_class"]["pointing_game"],
                "pointing_game_predicted_class": s["predicted_class"]["pointing_game"],
                "box_mass": s["true_class"]["box_mass"],
                "top_iou": s["true_class"]["top_iou"],
            }
            for name, s in per_set.items()
        }
        for method, per_set in results["summaries"].items()
    }
    return {
        "default_method": results["default_method"],
        "chosen_by": results["chosen_by"],
        "measured_with": "neuroreview-train saliency-bench (true-class maps on tumor slices with masks)",
        "localisation": localisation,
    }


def record(folder: Path, results: dict[str, Any], command: str) -> None:
    """Write the figures into ``folder``'s MODEL_CARD.md and the default + figures into its model_config.json."""
    from dataclasses import replace

    from core.model.model_config import load_model_config
    from training.real_eval import replace_card_section

    config = load_model_config(folder)
    replace(config, saliency=config_section(results)).save(folder)
    card = folder / "MODEL_CARD.md"
    if card.is_file():
        section = saliency_markdown(results) + f"\nReproduce:\n\n```\n{command}\n```\n"
        replace_card_section(card, section, begin=CARD_BEGIN, end=CARD_END, title="Heatmap localisation")


def bench_source(
    source: Path,
    *,
    figshare: Path | None,
    figshare_split: Path | None,
    lgg: Path | None,
    methods: Sequence[str],
    limit: int | None,
    out: Path | None,
    max_cost: float = DEFAULT_MAX_COST,
) -> dict[str, Any]:
    """Load the model of ``source`` (run or weights folder) as the application does and benchmark its maps."""
    import sys

    from core.model.classifier import Classifier
    from core.platform.progress import ProgressBar
    from training.evaluate import model_for

    sets = load_sets(figshare, figshare_split, lgg, limit)
    model, config = model_for(Path(source))
    classifier = Classifier(model, config, precision="float32")
    bar = ProgressBar(sys.stderr, len(methods) * len(sets), "saliency benchmark", unit="method-sets")
    results = run_bench(
        classifier, sets, methods, out, max_cost=max_cost, progress=lambda done, _total: bar.update(done)
    )
    bar.close()
    results["source"] = str(source)
    results["limit"] = limit
    if out is not None:
        (out / "saliency_metrics.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return results


def format_results(results: dict[str, Any]) -> str:
    """One line per method and set."""
    lines = []
    for method, per_set in results["summaries"].items():
        for name, s in per_set.items():
            t, p = s["true_class"], s["predicted_class"]
            lines.append(
                f"{method:15s} {name:13s} n={t['n']:4d} pointing {t['pointing_game']:.3f} "
                f"(predicted class {p['pointing_game']:.3f}) box mass {t['box_mass']:.3f} top-5% IoU {t['top_iou']:.3f}"
            )
    lines.append("batch-1 ms: " + ", ".join(f"{k} {v:.1f}" for k, v in results["batch1_ms"].items()))
    lines.append(f"default: {results['default_method']} ({results['chosen_by']})")
    return "\n".join(lines)

"""``neuroreview-train validate-real``: a model judged on real volumes and masked slices.

For every set (LGG FLAIR, LGG T1-Gd, normal T1, normal FLAIR, figshare) it reports slice-level tumor
detection (AUROC of P(tumor), sensitivity and specificity at the series rule's threshold), the share
of tumor slices called by their true class, series verdicts by the application's own series rule,
and heatmap localisation against the masks for the true and the predicted class
(:mod:`training.localisation`).  Slices go through the application's classifier
(:class:`core.model.classifier.Classifier`), exactly as the workstation classifies them.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from core.imaging.intended_use import content_reason, reason_key
from core.model.model_config import ModelConfig
from core.model.ood_guard import GuardStats
from core.model.prediction import Prediction
from core.model.series_summary import DEFAULT_THRESHOLD, aggregation_rule, summarize_series
from training.localisation import Localisation, localise, summarise
from training.metrics import roc_auc, roc_auc_between
from training.real_data import NO_TUMOR, Stack

BATCH = 32
# LGG tumor slices against the normal heads of the nearest sequence (the heads have no post-contrast T1)
TUMOR_AGAINST_NORMAL = (("lgg-flair", "normal-flair"), ("lgg-t1gd", "normal-t1"))
NORMAL_SPECIFICITIES = (0.95, 0.99)


@dataclass
class StackResult:
    stack: Stack
    predictions: list[Prediction]
    true_class_maps: dict[int, Localisation]  # slice index -> localisation of the true class's map
    predicted_class_maps: dict[int, Localisation]  # slice index -> localisation of the predicted class's map

    @property
    def p_tumor(self) -> NDArray[np.float64]:
        return np.asarray([p.p_tumor for p in self.predictions], dtype=np.float64)


def classify_stack(classifier: Any, stack: Stack, method: str) -> StackResult:
    """Predictions for every slice; heatmaps (true and predicted class) for slices with a tumor mask."""
    predictions: list[Prediction] = classifier.predict(stack.rendered, batch_size=BATCH)
    # the application's pixel rule (no header here): a blank or noise-only slice gets no answer
    predictions = [p.with_outside_reason(content_reason(r)) for p, r in zip(predictions, stack.rendered, strict=True)]
    tumor = [i for i, m in enumerate(stack.masks) if m.any()]
    true_maps: dict[int, Localisation] = {}
    predicted_maps: dict[int, Localisation] = {}
    if tumor and stack.truth != NO_TUMOR:
        mapped = classifier.predict(
            [stack.rendered[i] for i in tumor], heatmap=stack.truth, method=method, batch_size=BATCH
        )
        for i, prediction in zip(tumor, mapped, strict=True):
            true_maps[i] = localise(prediction.heatmap, stack.masks[i])
        others = [i for i in tumor if predictions[i].label != stack.truth]
        predicted_maps.update((i, true_maps[i]) for i in tumor if predictions[i].label == stack.truth)
        explained = classifier.predict(
            [stack.rendered[i] for i in others], heatmap=True, method=method, batch_size=BATCH
        )
        for i, prediction in zip(others, explained, strict=True):
            predicted_maps[i] = localise(prediction.heatmap, stack.masks[i])
    return StackResult(stack, predictions, true_maps, predicted_maps)


MIDDLE = (0.3, 0.7)  # the middle 40 % of a stack: brain levels the class folders cover well


def middle_of_stacks(results: Sequence[StackResult]) -> NDArray[np.bool_]:
    """Per slice of the concatenated stacks: is it in the :data:`MIDDLE` of its volume?  Detection there,
    against detection over the whole stack, shows how much of the errors come from the head's ends (skull
    base and vertex), where a model trained on the class folders has seen few normal slices."""
    parts = []
    for r in results:
        n = len(r.predictions)
        position = np.arange(n) / max(n - 1, 1)
        parts.append((position >= MIDDLE[0]) & (position <= MIDDLE[1]))
    return np.concatenate(parts)


def around_the_tumor(results: Sequence[StackResult]) -> dict[str, float | None]:
    """Mean P(tumor) of the slices inside the intended use of the stacks with a tumor: tumor-free slices
    before the tumor's first slice (in the stack's order), tumor slices, tumor-free slices after its last.
    A model that learned the level of the head rather than the tumor scores one end above the tumor."""
    parts: dict[str, list[float]] = {"before_tumor": [], "tumor": [], "after_tumor": []}
    for r in results:
        tumor = r.stack.tumor_slices
        if not tumor.any():
            continue
        first, last = np.flatnonzero(tumor)[[0, -1]]
        for i, (p, score) in enumerate(zip(r.predictions, r.p_tumor, strict=True)):
            if not p.inside_intended_use or (first < i < last and not tumor[i]):
                continue  # outside, or a tumor-free gap within the tumor's extent
            parts["tumor" if tumor[i] else ("before_tumor" if i < first else "after_tumor")].append(float(score))
    return {f"mean_p_tumor_{k}": (float(np.mean(v)) if v else None) for k, v in parts.items()}


def _auroc(scores: NDArray[np.float64], positive: NDArray[np.bool_]) -> float | None:
    return roc_auc(scores, positive) if positive.any() and not positive.all() else None


def _specificity(called: NDArray[np.bool_], negatives: NDArray[np.bool_]) -> float | None:
    return float(1.0 - called[negatives].mean()) if negatives.any() else None


def inside_intended_use(results: Sequence[StackResult]) -> NDArray[np.bool_]:
    """Per slice, in stack order: whether the slice got an answer (inside the intended use)."""
    return np.asarray([p.inside_intended_use for r in results for p in r.predictions], dtype=bool)


def set_metrics(results: Sequence[StackResult], threshold: float) -> dict[str, Any]:
    """Slice detection, class agreement, series verdicts and localisation of one set.

    As in the application, a slice outside the intended use (blank or noise only) gets no answer: AUROC
    and specificity are over the slices inside, while sensitivity and class agreement count an outside
    tumor slice as missed.  ``*_all_slices`` give AUROC and specificity without the rule, for comparison
    with evaluations made before it."""
    scores = np.concatenate([r.p_tumor for r in results])
    positive = np.concatenate([r.stack.tumor_slices for r in results])
    if results[0].stack.truth == NO_TUMOR:
        positive = np.zeros_like(positive)
    inside = inside_intended_use(results)
    called = (scores >= threshold) & inside
    labels = [p.label for r in results for p in r.predictions]
    truths = [r.stack.truth for r in results for _ in r.predictions]
    tumor_idx = np.flatnonzero(positive)
    reasons = Counter(reason_key(p.outside_reason) for r in results for p in r.predictions if p.outside_reason)
    out: dict[str, Any] = {
        "series": len(results),
        "slices": len(scores),
        "tumor_slices": int(positive.sum()),
        "slices_outside": int((~inside).sum()),
        "tumor_slices_outside": int((~inside & positive).sum()),
        "outside_reasons": dict(reasons),
        "slice_auroc": _auroc(scores[inside], positive[inside]),
        "sensitivity": float(called[positive].mean()) if positive.any() else None,
        "specificity": _specificity(called, ~positive & inside),
        "tumor_slices_called_true_class": (
            float(np.mean([inside[i] and labels[i] == truths[i] for i in tumor_idx])) if len(tumor_idx) else None
        ),
        "slice_auroc_all_slices": _auroc(scores, positive),
        "specificity_all_slices": _specificity(scores >= threshold, ~positive),
        "threshold": threshold,
    }
    if results[0].stack.is_volume:
        middle = middle_of_stacks(results) & inside
        out["slice_auroc_middle"] = _auroc(scores[middle], positive[middle])
        out["specificity_middle"] = _specificity(called, middle & ~positive)
        if positive.any():
            out.update(around_the_tumor(results))
        verdicts = [summarize_series(r.predictions, threshold) for r in results]
        out["series_called_tumor"] = sum(v.label != NO_TUMOR for v in verdicts)
        out["series_verdicts"] = {
            r.stack.name: {"label": v.label, "p_tumor": round(v.p_tumor, 4), "n_suspicious": v.n_suspicious}
            for r, v in zip(results, verdicts, strict=True)
        }
    out["localisation_true_class"] = summarise([loc for r in results for loc in r.true_class_maps.values()])
    out["localisation_predicted_class"] = summarise([loc for r in results for loc in r.predicted_class_maps.values()])
    return out


def tumor_against_normal(tumor_set: Sequence[StackResult], normal_set: Sequence[StackResult]) -> dict[str, Any]:
    """How well P(tumor) tells tumor slices of one set from the slices of normal heads, whatever the threshold.

    A model that lowers every score has fewer false alarms at a fixed threshold but separates no better;
    the AUROC of tumor slices against normal slices, and the sensitivity at a threshold that keeps the
    normal heads' specificity at each of ``NORMAL_SPECIFICITIES``, show that.  Slices outside the intended
    use get no answer: they are left out of the AUROC, and an outside tumor slice counts as missed."""
    tumor_scores = np.concatenate([r.p_tumor for r in tumor_set])
    tumor_mask = np.concatenate([r.stack.tumor_slices for r in tumor_set]).astype(bool)
    tumor_inside = inside_intended_use(tumor_set)
    normal = np.concatenate([r.p_tumor for r in normal_set])[inside_intended_use(normal_set)]
    tumor = tumor_scores[tumor_mask & tumor_inside]
    if not len(tumor) or not len(normal):
        return {"auroc": None, "tumor_slices": int(tumor_mask.sum()), "normal_slices": len(normal)}
    at_specificity = {}
    for specificity in NORMAL_SPECIFICITIES:
        # a slice is called above this score: at most 1 - specificity of the normal slices are
        cut = float(np.quantile(normal, specificity, method="higher"))
        at_specificity[f"{specificity:g}"] = {
            "threshold": cut,
            "normal_specificity": float((normal <= cut).mean()),
            "sensitivity": float(((tumor_scores > cut) & tumor_inside & tumor_mask).sum() / tumor_mask.sum()),
        }
    return {
        "auroc": roc_auc_between(tumor, normal),
        "tumor_slices": int(tumor_mask.sum()),
        "normal_slices": len(normal),
        "at_normal_specificity": at_specificity,
    }


def traces(results: Sequence[StackResult]) -> dict[str, Any]:
    """P(tumor) along each stack with its tumor extent and labels, for plots and series-rule studies."""
    return {
        f"{r.stack.set_name}/{r.stack.name}": {
            "p_tumor": [round(float(p), 5) for p in r.p_tumor],
            "tumor": [bool(t) for t in r.stack.tumor_slices],
            "labels": [p.label for p in r.predictions],
            "truth": r.stack.truth,
            "volume": r.stack.is_volume,
        }
        for r in results
    }


def validate_real(
    classifier: Any,
    stacks: Sequence[Stack],
    out: Path | None,
    *,
    method: str | None = None,
    threshold: float = DEFAULT_THRESHOLD,
    progress: Any = None,
) -> dict[str, Any]:
    """Metrics per set (and traces, plots with ``out``); ``progress(done, total)`` after each stack.

    ``method`` None: the heatmap method the weights config names (the application's default)."""
    method = method or classifier.config.default_saliency_method
    results = []
    for n, stack in enumerate(stacks, start=1):
        results.append(classify_stack(classifier, stack, method))
        if progress is not None:
            progress(n, len(stacks))
    by_set: dict[str, list[StackResult]] = {}
    for result in results:
        by_set.setdefault(result.stack.set_name, []).append(result)
    metrics = {
        "method": method,
        "threshold": threshold,
        "series_rule": aggregation_rule(threshold),
        "sets": {name: set_metrics(group, threshold) for name, group in by_set.items()},
        "tumor_against_normal": {
            f"{tumor} vs {normal}": tumor_against_normal(by_set[tumor], by_set[normal])
            for tumor, normal in TUMOR_AGAINST_NORMAL
            if tumor in by_set and normal in by_set
        },
    }
    if out is not None:
        from training.plots import real_volume_plots

        out.mkdir(parents=True, exist_ok=True)
        (out / "real_metrics.json").write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
        (out / "real_traces.json").write_text(json.dumps(traces(results)) + "\n", encoding="utf-8")
        (out / "real_metrics.md").write_text(real_metrics_markdown(metrics), encoding="utf-8")
        real_volume_plots(traces(results), threshold, out)
    return metrics


def format_real_metrics(metrics: dict[str, Any]) -> str:
    """One readable block per set."""

    def pct(value: float | None) -> str:
        return "n/a" if value is None else f"{100 * value:.1f} %"

    lines = [f"heatmap method {metrics['method']}, threshold {metrics['threshold']:g}"]
    for name, m in metrics["sets"].items():
        auc = "n/a" if m["slice_auroc"] is None else f"{m['slice_auroc']:.3f}"
        lines.append(
            f"{name}: {m['series']} series, {m['slices']} slices ({m['tumor_slices']} tumor, "
            f"{m.get('slices_outside', 0)} outside the intended use); AUROC {auc}, "
            f"sensitivity {pct(m['sensitivity'])}, specificity {pct(m['specificity'])}, "
            f"true class on tumor slices {pct(m['tumor_slices_called_true_class'])}"
        )
        if "series_called_tumor" in m:
            lines.append(f"  series called tumor: {m['series_called_tumor']} of {m['series']}")
            middle_auc = m.get("slice_auroc_middle")
            auc_text = "n/a" if middle_auc is None else f"{middle_auc:.3f}"
            lines.append(
                f"  middle {int(100 * (MIDDLE[1] - MIDDLE[0]))} % of each stack: AUROC {auc_text}, "
                f"specificity {pct(m.get('specificity_middle'))}"
            )
            if m.get("mean_p_tumor_tumor") is not None:
                lines.append(
                    "  mean P(tumor) in stack order: tumor-free slices before the tumor "
                    f"{_mean_text(m.get('mean_p_tumor_before_tumor'))}, tumor slices "
                    f"{_mean_text(m['mean_p_tumor_tumor'])}, after it {_mean_text(m.get('mean_p_tumor_after_tumor'))}"
                )
        for kind in ("true_class", "predicted_class"):
            loc = m[f"localisation_{kind}"]
            if loc["n"]:
                lines.append(
                    f"  heatmap ({kind.replace('_', ' ')}): pointing game {pct(loc['pointing_game'])}, "
                    f"box mass {pct(loc['box_mass'])}, top-5 % IoU {loc['top_iou']:.3f} (n={loc['n']})"
                )
    for pair, m in metrics.get("tumor_against_normal", {}).items():
        if m["auroc"] is None:
            continue
        read = ", ".join(
            f"sensitivity {pct(v['sensitivity'])} where the normal heads' specificity is {pct(v['normal_specificity'])}"
            for v in m["at_normal_specificity"].values()
        )
        lines.append(f"{pair}: tumor slices against normal slices AUROC {m['auroc']:.3f}; {read}")
    return "\n".join(lines)


SET_TITLES = {
    "lgg-flair": "LGG FLAIR (TCGA lower-grade glioma)",
    "lgg-t1gd": "LGG T1-Gd (TCGA lower-grade glioma)",
    "normal-flair": "normal heads, FLAIR",
    "normal-t1": "normal heads, T1",
    "figshare": "figshare T1-CE masked slices",
}
CARD_BEGIN, CARD_END = "<!-- real-volumes:begin -->", "<!-- real-volumes:end -->"


def pct(value: float | None) -> str:
    """A share as a table cell: "12.3 %", or "-" when there is no figure."""
    return "-" if value is None else f"{100 * value:.1f} %"


def real_metrics_markdown(metrics: dict[str, Any]) -> str:
    """The model card's real-volume table: one row per set, every figure from ``metrics``."""

    rows = [
        "| set | series | slices (tumor) | outside intended use | slice AUROC | sensitivity | specificity | "
        "tumor slices called their class | series called tumor | pointing game (true class) | map mass in tumor box |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, m in metrics["sets"].items():
        loc = m["localisation_true_class"]
        auc = "-" if m["slice_auroc"] is None else f"{m['slice_auroc']:.3f}"
        series = f"{m['series_called_tumor']} of {m['series']}" if "series_called_tumor" in m else "-"
        rows.append(
            f"| {SET_TITLES.get(name, name)} | {m['series'] if 'series_called_tumor' in m else '-'} | "
            f"{m['slices']} ({m['tumor_slices']}) | {m.get('slices_outside', 0)} | {auc} | "
            f"{pct(m['sensitivity'])} | {pct(m['specificity'])} | {pct(m['tumor_slices_called_true_class'])} | "
            f"{series} | {pct(loc['pointing_game']) if loc['n'] else '-'} | "
            f"{pct(loc['box_mass']) if loc['n'] else '-'} |"
        )
    pairs = {k: v for k, v in metrics.get("tumor_against_normal", {}).items() if v["auroc"] is not None}
    if pairs:
        rows += [
            "",
            "| tumor slices against normal heads | AUROC | "
            + " | ".join(f"sensitivity at {100 * s:g} % normal specificity" for s in NORMAL_SPECIFICITIES)
            + " |",
            "|---|---|" + "---|" * len(NORMAL_SPECIFICITIES),
        ]
        for pair, m in pairs.items():
            tumor, normal = pair.split(" vs ")
            cells = " | ".join(pct(m["at_normal_specificity"][f"{s:g}"]["sensitivity"]) for s in NORMAL_SPECIFICITIES)
            title = f"{SET_TITLES.get(tumor, tumor)} against {SET_TITLES.get(normal, normal)}"
            rows.append(f"| {title} | {m['auroc']:.3f} | {cells} |")
    rows.append("")
    rows.append(
        f"Threshold {metrics['threshold']:g} on P(tumor); heatmaps: {metrics['method']}; series rule: "
        f"{metrics.get('series_rule', 'not recorded')}. Slices outside the intended use (blank or noise "
        "only, or above the learned guard's threshold when the weights carry one) get no answer, as in the "
        "application: AUROC and specificity are over the others; sensitivity and class "
        "agreement count an outside tumor slice as missed."
    )
    return "\n".join(rows) + "\n"


def replace_card_section(
    card: Path, section: str, *, begin: str = CARD_BEGIN, end: str = CARD_END, title: str = "Real volumes"
) -> None:
    """Put ``section`` between a model card's ``begin``/``end`` markers (appended under ``title`` if absent)."""
    text = card.read_text(encoding="utf-8")
    block = f"{begin}\n{section.rstrip()}\n{end}"
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        text = head + block + rest.split(end, 1)[1]
    else:
        text = text.rstrip() + f"\n\n## {title}\n" + block + "\n"
    card.write_text(text, encoding="utf-8")


def load_stacks(
    lgg: Path | None, normal: Path | None, figshare: Path | None, figshare_split: Path | None, limit: int | None
) -> list[Stack]:
    """Every stack of the sets named (at least one); ``figshare_split`` keeps its validation images only."""
    from training.real_data import load_figshare, load_lgg, load_normal_heads

    stacks: list[Stack] = []
    if lgg is not None:
        stacks.extend(load_lgg(lgg, limit=limit))
    if normal is not None:
        stacks.extend(load_normal_heads(normal, limit=limit))
    if figshare is not None:
        keep = None
        if figshare_split is not None:
            keep = json.loads(Path(figshare_split).read_text(encoding="utf-8"))["val"]
        stacks.extend(load_figshare(figshare, keep))
    if not stacks:
        raise ValueError("name at least one of --lgg, --normal, --figshare")
    return stacks


def validate_sources(
    source: Path,
    *,
    lgg: Path | None = None,
    normal: Path | None = None,
    figshare: Path | None = None,
    figshare_split: Path | None = None,
    method: str | None = None,
    limit: int | None = None,
    out: Path | None = None,
) -> dict[str, Any]:
    """Load the model of ``source`` (run folder or weights folder) as the application does and validate it."""
    import sys

    from core.model.classifier import Classifier
    from core.platform.progress import ProgressBar
    from training.evaluate import model_for

    stacks = load_stacks(lgg, normal, figshare, figshare_split, limit)
    model, config = model_for(Path(source))
    classifier = Classifier(model, config, precision="float32", guard=guard_of(Path(source), config))
    bar = ProgressBar(sys.stderr, len(stacks), "validating on real volumes", unit="stacks")
    metrics = validate_real(classifier, stacks, out, method=method, progress=lambda done, _total: bar.update(done))
    bar.close()
    metrics["source"] = str(source)
    if out is not None:
        (out / "real_metrics.json").write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    return metrics


def guard_of(source: Path, config: ModelConfig) -> GuardStats | None:
    """The learned guard statistics an exported weights folder names (verified like the application does),
    or None for a run folder, a checkpoint or weights without them."""
    from core.model.model_config import CONFIG_FILENAME
    from core.model.ood_guard import load_named_guard

    if not (source.is_dir() and (source / CONFIG_FILENAME).is_file()):
        return None
    return load_named_guard(source, config)


def _mean_text(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"

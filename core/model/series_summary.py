"""One answer for a series of classified slices, with the rule that produced it spelled out."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from core.model.model_config import NO_TUMOR_CLASS
from core.model.prediction import Prediction

DEFAULT_THRESHOLD = 0.5
DEFAULT_RUN = 3  # neighbouring slices that must agree: one stray slice of a stack does not make a verdict
OUTSIDE_LABEL = "outside intended use"  # the series label when no slice is inside the intended use


def aggregation_rule(threshold: float = DEFAULT_THRESHOLD, run: int = DEFAULT_RUN) -> str:
    """Human-readable statement of :func:`summarize_series`'s rule (printed in every export)."""
    return (
        f"P(tumor) of the series = the highest mean P(tumor) of {run} neighbouring slices (all slices when the "
        f"series has fewer); key slice = the slice with the highest P(tumor) among them; series label = the "
        f"tumor class ranked highest most often among slices with P(tumor) >= {threshold:g} (ties: larger "
        f"summed probability) when the series' P(tumor) reaches {threshold:g}, otherwise {NO_TUMOR_CLASS}; "
        f"slices outside the intended use are left out"
    )


def run_scores(p_tumor: Sequence[float], run: int = DEFAULT_RUN) -> list[float]:
    """Mean P(tumor) of every window of ``run`` neighbouring slices (one window when there are fewer)."""
    width = max(1, min(run, len(p_tumor)))
    return [sum(p_tumor[i : i + width]) / width for i in range(len(p_tumor) - width + 1)]


@dataclass(frozen=True)
class SeriesSummary:
    """Series-level result. ``key_index`` indexes the predictions passed to :func:`summarize_series`."""

    label: str
    p_tumor: float
    key_index: int
    n_slices: int
    n_suspicious: int
    votes: dict[str, int]
    threshold: float
    rule: str
    n_excluded: int = 0  # slices left out because they are outside the intended use
    excluded_reasons: dict[str, int] = field(default_factory=dict)  # reason -> slices

    @property
    def has_verdict(self) -> bool:
        """False when every slice was outside the intended use (no P(tumor), label OUTSIDE_LABEL)."""
        return self.n_slices > 0

    def excluded_text(self) -> str:
        """E.g. "2 slice(s) excluded, outside intended use: modality CT (CT), not MR (2)"; "" when none."""
        if not self.n_excluded:
            return ""
        reasons = "; ".join(f"{reason} ({n})" for reason, n in self.excluded_reasons.items())
        return f"{self.n_excluded} slice(s) excluded, outside intended use: {reasons}"

    def as_record(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "label": self.label,
            "p_tumor": round(self.p_tumor, 6),
            "key_index": self.key_index,
            "n_slices": self.n_slices,
            "n_suspicious": self.n_suspicious,
            "votes": dict(self.votes),
            "threshold": self.threshold,
            "rule": self.rule,
            "n_excluded": self.n_excluded,
            "excluded_reasons": dict(self.excluded_reasons),
        }


def _top_tumor_class(prediction: Prediction) -> tuple[str, float]:
    ranked = [
        (p, name)
        for name, p in zip(prediction.class_names, prediction.probabilities, strict=True)
        if name != NO_TUMOR_CLASS
    ]
    p, name = max(ranked)
    return name, p


def summarize_series(
    predictions: Sequence[Prediction], threshold: float = DEFAULT_THRESHOLD, stacked: bool = True
) -> SeriesSummary:
    """Aggregate per-slice predictions, given in slice order, following :func:`aggregation_rule`.

    ``stacked`` is False for images that are not neighbouring slices (a folder of PNG/JPEG files): each
    image then counts alone.  Slices outside the intended use (:attr:`Prediction.outside_reason`) are left
    out and counted in ``n_excluded``; when none is left the label is :data:`OUTSIDE_LABEL` and P(tumor) NaN.

    Raises ValueError for an empty series or predictions from models with different classes.
    """
    if not predictions:
        raise ValueError("cannot summarise a series without classified slices")
    names = predictions[0].class_names
    if any(p.class_names != names for p in predictions):
        raise ValueError("the slices were classified with different class lists")
    run = DEFAULT_RUN if stacked else 1
    inside = [i for i, p in enumerate(predictions) if p.inside_intended_use]
    reasons = Counter(p.outside_reason for p in predictions if not p.inside_intended_use)
    n_excluded = len(predictions) - len(inside)
    if not inside:
        rule = aggregation_rule(threshold, run)
        return SeriesSummary(OUTSIDE_LABEL, float("nan"), 0, 0, 0, {}, threshold, rule, n_excluded, dict(reasons))
    kept = [predictions[i] for i in inside]
    p_tumor = [p.p_tumor for p in kept]
    windows = run_scores(p_tumor, run)
    start = max(range(len(windows)), key=windows.__getitem__)
    width = len(kept) - len(windows) + 1
    key_index = inside[max(range(start, start + width), key=p_tumor.__getitem__)]
    votes: Counter[str] = Counter()
    mass: dict[str, float] = {}
    for prediction in kept:
        if prediction.p_tumor >= threshold:
            name, p = _top_tumor_class(prediction)
            votes[name] += 1
            mass[name] = mass.get(name, 0.0) + p
    series_p = float(windows[start])
    label = max(votes, key=lambda n: (votes[n], mass[n])) if votes and series_p >= threshold else NO_TUMOR_CLASS
    return SeriesSummary(
        label=label,
        p_tumor=series_p,
        key_index=key_index,
        n_slices=len(kept),
        n_suspicious=sum(votes.values()),
        votes=dict(votes),
        threshold=threshold,
        rule=aggregation_rule(threshold, run),
        n_excluded=n_excluded,
        excluded_reasons=dict(reasons),
    )

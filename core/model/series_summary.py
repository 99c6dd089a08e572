"""One answer for a series of classified slices, with the rule that produced it spelled out."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from core.model.model_config import NO_TUMOR_CLASS
from core.model.prediction import Prediction

DEFAULT_THRESHOLD = 0.5


def aggregation_rule(threshold: float = DEFAULT_THRESHOLD) -> str:
    """Human-readable statement of :func:`summarize_series`'s rule (printed in every export)."""
    return (
        f"P(tumor) of the series = max P(tumor) over its slices; key slice = the slice with that maximum; "
        f"series label = the tumor class ranked highest most often among slices with P(tumor) >= {threshold:g} "
        f"(ties: larger summed probability), or {NO_TUMOR_CLASS} when no slice reaches {threshold:g}"
    )


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
        }


def _top_tumor_class(prediction: Prediction) -> tuple[str, float]:
    ranked = [
        (p, name)
        for name, p in zip(prediction.class_names, prediction.probabilities, strict=True)
        if name != NO_TUMOR_CLASS
    ]
    p, name = max(ranked)
    return name, p


def summarize_series(predictions: Sequence[Prediction], threshold: float = DEFAULT_THRESHOLD) -> SeriesSummary:
    """Aggregate per-slice predictions following :func:`aggregation_rule`.

    Raises ValueError for an empty series or predictions from models with different classes.
    """
    if not predictions:
        raise ValueError("cannot summarise a series without classified slices")
    names = predictions[0].class_names
    if any(p.class_names != names for p in predictions):
        raise ValueError("the slices were classified with different class lists")
    key_index = max(range(len(predictions)), key=lambda i: predictions[i].p_tumor)
    votes: Counter[str] = Counter()
    mass: dict[str, float] = {}
    for prediction in predictions:
        if prediction.p_tumor >= threshold:
            name, p = _top_tumor_class(prediction)
            votes[name] += 1
            mass[name] = mass.get(name, 0.0) + p
    label = max(votes, key=lambda n: (votes[n], mass[n])) if votes else NO_TUMOR_CLASS
    return SeriesSummary(
        label=label,
        p_tumor=float(predictions[key_index].p_tumor),
        key_index=key_index,
        n_slices=len(predictions),
        n_suspicious=sum(votes.values()),
        votes=dict(votes),
        threshold=threshold,
        rule=aggregation_rule(threshold),
    )

"""Result types shared by the classifier, the GUI, the CLI and the exports."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray


@dataclass(frozen=True)
class Prediction:
    """The classifier's answer for one model-rendered slice.

    ``probabilities`` are temperature-calibrated and ordered like ``class_names``;
    ``heatmap`` (float32 in 0..1, same height and width as the model-rendered slice that was
    classified) is present only when a saliency map was requested.
    """

    class_names: tuple[str, ...]
    probabilities: tuple[float, ...]
    label: str
    p_tumor: float
    model_sha256: str
    device: str
    precision: str
    milliseconds: float
    heatmap: NDArray[np.float32] | None = None
    heatmap_class: str | None = None
    heatmap_method: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    # intended-use guard: "" = inside; else why the slice is outside (header rule or learned pixel score)
    outside_reason: str = ""
    guard_score: float | None = None  # the learned score (core.model.ood_guard); None without guard statistics

    @property
    def inside_intended_use(self) -> bool:
        """False when the guard found the slice outside the intended use (its probabilities mean nothing)."""
        return not self.outside_reason

    def with_outside_reason(self, reason: str) -> Prediction:
        """This prediction with a rule's reason (it wins over the learned pixel score's); unchanged for ""."""
        return replace(self, outside_reason=reason) if reason else self

    @property
    def confidence(self) -> float:
        """Calibrated probability of the predicted class."""
        return max(self.probabilities)

    def probability_of(self, name: str) -> float:
        return self.probabilities[self.class_names.index(name)]

    def as_record(self) -> dict[str, Any]:
        """JSON-ready summary (no heatmap pixels)."""
        return {
            "label": self.label,
            "probabilities": {n: round(float(p), 6) for n, p in zip(self.class_names, self.probabilities, strict=True)},
            "p_tumor": round(float(self.p_tumor), 6),
            "model_sha256": self.model_sha256,
            "device": self.device,
            "precision": self.precision,
            "ms": round(float(self.milliseconds), 1),
            **intended_use_record(self),
        }


OUTSIDE_PREFIX = "Outside intended use"


def outside_text(reason: str) -> str:
    """The one sentence every view and export shows for an outside slice."""
    return f"{OUTSIDE_PREFIX}: {reason}"


def intended_use_record(prediction: Prediction) -> dict[str, Any]:
    """``intended_use`` ("inside"/"outside"), the reason when outside, and the guard score when known."""
    record: dict[str, Any] = {"intended_use": "inside" if prediction.inside_intended_use else "outside"}
    if not prediction.inside_intended_use:
        record["intended_use_reason"] = prediction.outside_reason
    if prediction.guard_score is not None:
        record["guard_score"] = round(float(prediction.guard_score), 3)
    return record

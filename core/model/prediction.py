"""Result types shared by the classifier, the GUI, the CLI and the exports."""

from __future__ import annotations

from dataclasses import dataclass, field
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
        }

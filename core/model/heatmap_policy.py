"""When a saliency map is shown: never for the "no tumour" class, on screen and in every export; in exports
never for a slice outside the intended use (on screen only through the research-only "show anyway").

A Grad-CAM map of the answer "notumor" marks what the model looked at to say "nothing here", drawn in
the same hot colours as a tumour map: a reader takes it for "look here".  So such a map is left out
(with a note saying why); a map for a tumour class the reader chose is kept, named by its class.
"""

from __future__ import annotations

import dataclasses

from core.model.model_config import NO_TUMOR_CLASS
from core.model.prediction import Prediction, outside_text

NOTE_KEY = "heatmap_note"
NO_TUMOR_NOTE = (
    f"Heatmap left out: the answer is '{NO_TUMOR_CLASS}', and a map of where the model saw no tumour is not a "
    "finding. Choose a tumour class for the heatmap to see where the model would look for it."
)


def _no_tumor_map(prediction: Prediction) -> bool:
    target = prediction.heatmap_class if prediction.heatmap is not None else prediction.label
    return target == NO_TUMOR_CLASS


def heatmap_withheld(prediction: Prediction) -> bool:
    """True when an export leaves the map out: one of the no-tumour class, or a slice outside the intended use."""
    return _no_tumor_map(prediction) or not prediction.inside_intended_use


def _without_map(prediction: Prediction, note: str) -> Prediction:
    extra = {**prediction.extra, NOTE_KEY: note}
    return dataclasses.replace(prediction, heatmap=None, heatmap_class=None, heatmap_method=None, extra=extra)


def withhold_no_tumor_heatmap(prediction: Prediction) -> Prediction:
    """``prediction`` without a no-tumour map, carrying :data:`NO_TUMOR_NOTE` under ``extra["heatmap_note"]``;
    any other prediction unchanged."""
    return _without_map(prediction, NO_TUMOR_NOTE) if _no_tumor_map(prediction) else prediction


def withhold_heatmap(prediction: Prediction) -> Prediction:
    """What every export shows: no no-tumour map, and no map over a slice outside the intended use."""
    if not prediction.inside_intended_use:
        return _without_map(prediction, f"Heatmap left out: {outside_text(prediction.outside_reason)}")
    return withhold_no_tumor_heatmap(prediction)


def heatmap_note(prediction: Prediction) -> str:
    """Why the prediction has no map ("" when nothing was left out)."""
    return str(prediction.extra.get(NOTE_KEY, ""))

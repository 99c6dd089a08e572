"""When a saliency map is shown: never for the "no tumour" class, on screen and in every export.

A Grad-CAM map of the answer "notumor" marks what the model looked at to say "nothing here", drawn in
the same hot colours as a tumour map: a reader takes it for "look here".  So such a map is left out
(with a note saying why); a map for a tumour class the reader chose is kept, named by its class.
"""

from __future__ import annotations

import dataclasses

from core.model.model_config import NO_TUMOR_CLASS
from core.model.prediction import Prediction

NOTE_KEY = "heatmap_note"
NO_TUMOR_NOTE = (
    f"Heatmap left out: the answer is '{NO_TUMOR_CLASS}', and a map of where the model saw no tumour is not a "
    "finding. Choose a tumour class for the heatmap to see where the model would look for it."
)


def heatmap_withheld(prediction: Prediction) -> bool:
    """True when the prediction's map is (or by default would be) one of the no-tumour class."""
    target = prediction.heatmap_class if prediction.heatmap is not None else prediction.label
    return target == NO_TUMOR_CLASS


def withhold_no_tumor_heatmap(prediction: Prediction) -> Prediction:
    """``prediction`` without a no-tumour map, carrying :data:`NO_TUMOR_NOTE` under ``extra["heatmap_note"]``;
    any other prediction unchanged."""
    if not heatmap_withheld(prediction):
        return prediction
    extra = {**prediction.extra, NOTE_KEY: NO_TUMOR_NOTE}
    return dataclasses.replace(prediction, heatmap=None, heatmap_class=None, heatmap_method=None, extra=extra)


def heatmap_note(prediction: Prediction) -> str:
    """Why the prediction has no map ("" when nothing was left out)."""
    return str(prediction.extra.get(NOTE_KEY, ""))

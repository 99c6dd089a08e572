"""The one way a slice reaches the model: slice -> model rendering -> prediction (+ header rules) -> cache.

The window's inference worker and ``neuroreview-classify`` both classify a
:class:`~core.imaging.SliceRef` through :class:`InferencePath`, so they render, preprocess, apply the
intended-use header rules and cache in exactly the same way.  It reads pixels and headers through the
store it is given (the process's one :class:`~core.imaging.PixelStore`), so a slice that is already
on screen is not decoded again, and its header is parsed once for the pixels and the rules alike.

Plain Python, no threads of its own: the GUI runs it on its worker thread, the CLI in its main loop.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from core.imaging import ImagingError, SliceMetadata, SliceRef
from core.imaging.intended_use import content_reason
from core.model.model_config import ModelConfig
from core.model.prediction import Prediction
from core.model.preprocess import model_picture
from core.model.result_cache import ResultCache, cache_key

READ_ERRORS = (ImagingError, ValueError, OSError, MemoryError)  # a slice that cannot be read or rendered


class ClassifierLike(Protocol):
    """What the path needs of a classifier: :class:`core.model.classifier.Classifier` or the
    :class:`core.model.classifier_process.ClassifierProcess` that serves one from a helper process."""

    @property
    def config(self) -> ModelConfig: ...
    @property
    def sha256(self) -> str: ...
    @property
    def device_name(self) -> str: ...
    @property
    def precision(self) -> str: ...
    def predict(
        self, rendered: Sequence[NDArray[np.uint8]], *, heatmap: bool | str = ..., method: str = ...
    ) -> list[Prediction]: ...


class SliceSource(Protocol):
    """Where the path reads slices: :class:`core.imaging.PixelStore`."""

    def model_rendering(self, ref: SliceRef) -> NDArray[np.uint8]: ...
    def metadata(self, ref: SliceRef) -> SliceMetadata: ...


@dataclass(frozen=True)
class ClassifiedSlice:
    """One classified slice.

    ``rendered`` is the model rendering that was classified (None for a result answered from the cache
    by :meth:`InferencePath.classify_many`, which then does not read the slice at all);
    ``model_input`` is the exact uint8 picture the network saw (given by :meth:`InferencePath.classify`).
    """

    ref: SliceRef
    prediction: Prediction
    from_cache: bool
    rendered: NDArray[np.uint8] | None = None
    model_input: NDArray[np.uint8] | None = None


@dataclass(frozen=True)
class SliceFailure:
    """A slice that could not be read or rendered; the rest of the batch goes on."""

    ref: SliceRef
    error: Exception


def header_reason(store: SliceSource, ref: SliceRef) -> str:
    """The intended-use header rules' reason for ``ref``: "" inside, for NIfTI (no header rules) and for a
    header that cannot be read again (the slice itself was readable)."""
    if ref.kind == "nifti":
        return ""
    try:
        return str(store.metadata(ref).outside_use_reason)
    except (ImagingError, OSError, ValueError):
        return ""


def rule_reason(store: SliceSource, ref: SliceRef, rendered: NDArray[np.uint8]) -> str:
    """Why the intended-use rules put a slice outside ("" inside): its header's reason first, then its
    pixels' (a blank or noise-only slice holds nothing to classify)."""
    return header_reason(store, ref) or content_reason(rendered)


class InferencePath:
    """Classifies slices read from one store with one classifier, remembering recent results.

    ``cache`` (shared with whoever wants to peek at it; ``None`` or capacity 0: no caching) holds the
    predictions keyed by :func:`core.model.result_cache.cache_key`: the slice, the exact weights and the
    saliency map asked for.  ``batch_size`` is handed to the classifier's own batching when given.
    """

    def __init__(
        self,
        classifier: ClassifierLike,
        store: SliceSource,
        *,
        cache: ResultCache[Prediction] | None = None,
        batch_size: int | None = None,
    ) -> None:
        self.classifier = classifier
        self.store = store
        self.cache: ResultCache[Prediction] = cache if cache is not None else ResultCache(0)
        self._predict_options: dict[str, Any] = {} if batch_size is None else {"batch_size": batch_size}

    def model_input(self, rendered: NDArray[np.uint8]) -> NDArray[np.uint8]:
        """The exact uint8 picture the network sees for a model rendering (crop, pad, resize of the config)."""
        return model_picture(rendered, self.classifier.config)

    def key(self, ref: SliceRef, heatmap: bool | str, method: str | None) -> tuple[str, str, str, str]:
        """This slice's cache key for these weights and this saliency request."""
        return cache_key(ref.key, self.classifier.sha256, heatmap, method or "")

    def cached(self, ref: SliceRef, heatmap: bool | str, method: str | None) -> Prediction | None:
        """The remembered prediction, if any (reading nothing)."""
        return self.cache.get(self.key(ref, heatmap, method))

    def classify(self, ref: SliceRef, *, heatmap: bool | str = True, method: str | None = None) -> ClassifiedSlice:
        """One slice with its model input (for the AI panel); read errors are raised as they come."""
        rendered = self.store.model_rendering(ref)
        prediction = self.cached(ref, heatmap, method)
        from_cache = prediction is not None
        if prediction is None:
            prediction = self._predict([(ref, rendered)], heatmap, method)[0]
        return ClassifiedSlice(ref, prediction, from_cache, rendered, self.model_input(rendered))

    def classify_many(
        self, refs: Sequence[SliceRef], *, heatmap: bool | str = False, method: str | None = None
    ) -> list[ClassifiedSlice | SliceFailure]:
        """Several slices in one classifier call, answers in the order of ``refs``.

        A slice answered from the cache is not read.  A slice that cannot be read becomes a
        :class:`SliceFailure`, and so do the later slices of its file in this call (with the same error,
        without reading the file again).
        """
        outcomes: list[ClassifiedSlice | SliceFailure | None] = [None] * len(refs)
        failed: dict[Path, Exception] = {}
        todo: list[tuple[int, SliceRef, NDArray[np.uint8]]] = []
        for index, ref in enumerate(refs):
            hit = self.cached(ref, heatmap, method)
            if hit is not None:
                outcomes[index] = ClassifiedSlice(ref, hit, True)
            elif ref.path in failed:
                outcomes[index] = SliceFailure(ref, failed[ref.path])
            else:
                try:
                    todo.append((index, ref, self.store.model_rendering(ref)))
                except READ_ERRORS as exc:
                    failed[ref.path] = exc
                    outcomes[index] = SliceFailure(ref, exc)
        if todo:
            predictions = self._predict([(ref, rendered) for _, ref, rendered in todo], heatmap, method)
            for (index, ref, rendered), prediction in zip(todo, predictions, strict=True):
                outcomes[index] = ClassifiedSlice(ref, prediction, False, rendered)
        return [outcome for outcome in outcomes if outcome is not None]

    def _predict(
        self, ready: Sequence[tuple[SliceRef, NDArray[np.uint8]]], heatmap: bool | str, method: str | None
    ) -> list[Prediction]:
        """The classifier's answers with the intended-use rules applied, remembered in the cache."""
        options = dict(self._predict_options)
        if method is not None:
            options["method"] = method
        guessed = self.classifier.predict([rendered for _, rendered in ready], heatmap=heatmap, **options)
        predictions = []
        for (ref, rendered), prediction in zip(ready, guessed, strict=True):
            prediction = prediction.with_outside_reason(rule_reason(self.store, ref, rendered))
            self.cache.put(self.key(ref, heatmap, method), prediction)
            predictions.append(prediction)
        return predictions

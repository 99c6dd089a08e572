"""The VGG19 classifier: calibrated probabilities and, in the same pass, a saliency heatmap.

``Classifier.from_folder()`` reads ``model_config.json``, checks the weights file's SHA-256 before
anything is loaded, builds the network in code and loads the weights with ``load_weights`` (never
``load_model``).  TensorFlow is imported only here, when a classifier is created: importing this
module is cheap.  One instance serves one thread at a time (a lock serialises calls); on the CPU
the same input gives the same output.

Research use only - not for diagnostic use.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from core.model import device as dev
from core.model import precision_cache
from core.model.model_config import ModelConfig, load_model_config, verified_weights_path
from core.model.ood_guard import GuardStats, GuardStatsError, load_named_guard
from core.model.prediction import Prediction
from core.model.preprocess import flip_averaged_logits, head_box, stripped_model_input, to_model_input
from core.model.saliency import (
    METHOD_TAPS,
    METHOD_VIEWS,
    MIRROR_VIEW,
    OCCLUSION,
    check_method,
    merge_views,
    occlusion_inputs,
    occlusion_map,
    tap_maps,
    to_slice_geometry,
)
from core.model.weights_file import check_weights_file

if TYPE_CHECKING:  # pragma: no cover
    import keras

    from core.model.inference_graph import InferenceGraph

SPEED_MARGIN = 0.95  # bfloat16 must take at most 95% of the float32 time to be chosen
MIN_LABEL_AGREEMENT = 0.995  # bfloat16 vs float32 on validation images, when the config records it
AGREEMENT_METRIC = "bfloat16_label_agreement"


class ClassifierLoadError(RuntimeError):
    """The weights passed their integrity check but could not be loaded into the network."""


def softmax(logits: NDArray[np.floating], temperature: float = 1.0) -> NDArray[np.float64]:
    """Row-wise softmax of ``logits / temperature`` (float64, numerically stable)."""
    z = np.asarray(logits, dtype=np.float64) / float(temperature)
    z -= z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def decision_logits(logits: NDArray[np.floating], config: ModelConfig) -> NDArray[np.float32]:
    """The logits the answer is read from: with ``tumor_prior_shift``, notumor's logit lowered by the shift
    in calibrated log-odds (temperature times shift), so that every class, P(tumor) and label move together."""
    return prior_shifted(logits, config.no_tumor_index, config.temperature, config.tumor_prior_shift)


def prior_shifted(logits: NDArray[np.floating], no_tumor: int, temperature: float, shift: float) -> NDArray[np.float32]:
    """``logits`` (a copy) with column ``no_tumor`` lowered by ``temperature * shift``; unchanged without one."""
    shifted = np.array(logits, dtype=np.float32, copy=True)
    if shift and no_tumor >= 0:
        shifted[..., no_tumor] -= np.float32(temperature * shift)
    return shifted


def _check_slices(rendered: Sequence[NDArray[np.uint8]]) -> list[NDArray[np.uint8]]:
    slices = []
    for i, item in enumerate(rendered):
        arr = np.asarray(item)
        if arr.ndim != 2 or arr.dtype != np.uint8 or 0 in arr.shape:
            raise ValueError(
                f"slice {i} is not a model-rendered uint8 (H, W) image (got {arr.dtype} {arr.shape}); "
                "use core.imaging.render.render_for_model first"
            )
        slices.append(arr)
    return slices


class Classifier:
    """Calibrated 4-class predictions with optional Grad-CAM / Grad-CAM++ / occlusion heatmaps."""

    def __init__(
        self,
        model: keras.Model,
        config: ModelConfig,
        *,
        sha256: str | None = None,
        device: str | None = None,
        precision: str | None = None,
        remember_precision: bool = False,
        guard: GuardStats | None = None,
    ) -> None:
        """Wrap a built and loaded network; use :meth:`from_folder` for the bundled weights.

        ``guard``: the learned intended-use guard's statistics (None: header rules only).

        ``device`` ("CPU"/"GPU") and ``precision`` ("float32"/"bfloat16") override the automatic
        choices (``$NEUROREVIEW_PRECISION`` also forces the precision); ``remember_precision``
        stores the bfloat16 self-check's outcome in the user cache and reuses it next time
        (:mod:`core.model.precision_cache`).
        """
        from core.model.inference_graph import InferenceGraph

        try:
            forced = precision or dev.precision_override()
        except ValueError as exc:
            raise ClassifierLoadError(str(exc)) from exc
        self._config = config
        self._guard = guard
        self._sha256 = sha256 if sha256 is not None else config.weights_sha256
        self._lock = threading.Lock()
        self._device = device or (dev.GPU if dev.configure_gpus() else dev.CPU)
        self._oom_errors = dev.oom_errors()
        self._remember_precision = remember_precision
        self._float32_graph: InferenceGraph = InferenceGraph(model, black=config.preprocessing.offset)
        self._graph = self._float32_graph
        decision = self._decide_precision(model, forced)
        self._precision = decision.precision
        self._precision_reason = decision.reason
        if self._precision == dev.BFLOAT16 and self._device == dev.CPU:
            self._float32_graph = self._graph  # the float32 copy is no longer needed on a CPU-only run

    @classmethod
    def from_folder(cls, folder: Path | None = None, *, warm_up: bool = True) -> Classifier:
        """Load the classifier from a weights folder (default: :func:`core.platform.locator.weights_dir`).

        Raises ModelConfigError (bad config), WeightsIntegrityError (missing file or SHA-256
        mismatch, checked before any weight is read; also for intended-use guard statistics that the
        config names but that are missing or altered) or ClassifierLoadError.  Weights whose config names
        no guard statistics load with the header rules only (:attr:`guard_note` says so).
        """
        from core.platform.locator import weights_dir
        from core.platform.user_paths import keep_keras_home_private

        keep_keras_home_private()
        dev.keep_numpy_blas_on_one_thread()
        folder = Path(folder) if folder is not None else weights_dir()
        config = load_model_config(folder)
        path = verified_weights_path(folder, config)
        check_weights_file(path)  # plain HDF5 weights only (no .keras/whole model/external links)
        try:
            guard = load_named_guard(folder, config)
        except GuardStatsError as exc:
            raise ClassifierLoadError(str(exc)) from exc
        from core.model.network import build_vgg19

        model = build_vgg19(config.architecture)
        try:
            model.load_weights(path)
        except Exception as exc:  # h5py/keras raise many types for a well-hashed but wrong file
            raise ClassifierLoadError(
                f"the weights in {path.name} do not fit the architecture in the model config: {exc}"
            ) from exc
        width = config.architecture.widths[-1]
        if guard is not None and guard.feature_dim != width:
            raise ClassifierLoadError(f"the guard statistics hold {guard.feature_dim} features, the network {width}")
        classifier = cls(model, config, sha256=config.weights_sha256, remember_precision=True, guard=guard)
        if warm_up:
            classifier.warm_up()
        return classifier

    # -- properties ---------------------------------------------------------------------------
    @property
    def config(self) -> ModelConfig:
        return self._config

    @property
    def sha256(self) -> str:
        """SHA-256 of the loaded weights file (as verified against the config)."""
        return self._sha256

    @property
    def device_name(self) -> str:
        """``"CPU"`` or ``"GPU"``."""
        return self._device

    @property
    def precision(self) -> str:
        """``"float32"`` or ``"bfloat16"`` (the compute precision of the network)."""
        return self._precision

    @property
    def precision_reason(self) -> str:
        """Why that precision was chosen (for the about box and logs)."""
        return self._precision_reason

    @property
    def class_names(self) -> tuple[str, ...]:
        return self._config.class_names

    @property
    def guard(self) -> GuardStats | None:
        """The learned intended-use guard's statistics, or None (header rules only)."""
        return self._guard

    @property
    def guard_note(self) -> str:
        """One line on how this classifier decides the intended use (about box, logs, CLI)."""
        if self._guard is None:
            return "intended-use guard: DICOM header rules only (these weights carry no learned guard statistics)"
        return (
            f"intended-use guard: DICOM header rules and a learned pixel score (threshold {self._guard.threshold:.2f})"
        )

    # -- public API -----------------------------------------------------------------------------
    def model_input(self, rendered: Sequence[NDArray[np.uint8]]) -> NDArray[np.float32]:
        """The network input for model-rendered slices, exactly as the config prescribes."""
        return to_model_input(_check_slices(rendered), self._config)

    def warm_up(self) -> None:
        """Run both compiled functions once so that the first real call is not slowed by tracing."""
        probe = [np.zeros((self._config.input_size, self._config.input_size), dtype=np.uint8)]
        self.predict(probe)
        self.predict(probe, heatmap=True)

    def predict(
        self,
        rendered: Sequence[NDArray[np.uint8]],
        *,
        heatmap: bool | str = False,
        method: str | None = None,
        batch_size: int = 8,
    ) -> list[Prediction]:
        """Classify model-rendered slices; one :class:`Prediction` per slice, in order.

        ``heatmap=True`` adds a saliency map for the predicted class, ``heatmap="meningioma"``
        one for that class; ``method`` is one of :data:`core.model.saliency.METHODS` (the gradient
        methods come from the same pass; ``"occlusion"`` costs 64 extra forward passes per slice),
        None: the weights config's default.  Maps have the slice's own height and width.
        ``Prediction.milliseconds`` is the batch time shared out per slice.
        """
        slices = _check_slices(rendered)
        target = self._target_index(heatmap)
        chosen_method = check_method(method or self._config.default_saliency_method) if target is not None else None
        if not slices:
            return []

        def run(chunk: Sequence[NDArray[np.uint8]], device: str) -> list[Prediction]:
            return self._run_chunk(chunk, device, target, chosen_method)

        with self._lock:
            predictions, report = dev.run_with_oom_backoff(
                slices, run, device=self._device, batch_size=batch_size, errors=self._oom_errors
            )
        notes = report.as_extra()
        if notes:
            predictions = [replace(p, extra={**p.extra, **notes}) for p in predictions]
        return predictions

    # -- internals ------------------------------------------------------------------------------
    def _target_index(self, heatmap: bool | str) -> int | None:
        if heatmap is False:
            return None
        if heatmap is True:
            return -1
        if heatmap not in self._config.class_names:
            raise ValueError(f"unknown class {heatmap!r} for the heatmap; choose one of {self._config.class_names}")
        return self._config.class_names.index(heatmap)

    def _graph_for(self, device: str) -> InferenceGraph:
        return self._graph if device == self._device else self._float32_graph

    def _run_chunk(
        self, chunk: Sequence[NDArray[np.uint8]], device: str, target: int | None, method: str | None
    ) -> list[Prediction]:
        import tensorflow as tf

        start = time.perf_counter()
        batch = to_model_input(chunk, self._config)
        stripped_batch = stripped_model_input(chunk, self._config)
        graph = self._graph_for(device)
        precision = self._precision if graph is self._graph else dev.FLOAT32
        maps: list[NDArray[np.float32] | None] = [None] * len(chunk)
        chosen: NDArray[np.int32] | None = None
        cams: Sequence[NDArray[np.float32]] = []
        scores: NDArray[np.float64] | None = None
        with tf.device(dev.tf_device(device)):
            if target is None or method == OCCLUSION:
                if self._guard is not None:  # the guard's features come from the same forward pass
                    logits, pooled = graph.logits_and_pooled(batch)
                    scores = self._guard.scores(pooled, logits)
                    if self._config.test_time_flip:
                        logits = self._logits(graph, batch)
                else:
                    logits = self._logits(graph, batch)
                plain_probs = probs = self._probabilities(logits)
                if stripped_batch is not None:
                    logits = np.float32(0.5) * (logits + self._logits(graph, stripped_batch))
                    probs = self._probabilities(logits)
                if target is not None:  # occlusion measures the slice as it is, for the class of the answer
                    chosen = np.where(target < 0, probs.argmax(axis=-1), target).astype(np.int32)
                    cams = self._occlusion(graph, batch, plain_probs, chosen)
            else:
                flip = self._config.test_time_flip
                targets = np.full(len(chunk), target, dtype=np.int32)
                stripped_logits = None
                if stripped_batch is not None:
                    stripped_logits = self._logits(graph, stripped_batch)
                if target < 0 and (stripped_logits is not None or self._config.tumor_prior_shift):
                    answer = self._logits(graph, batch)  # the map explains the class of the answer
                    if stripped_logits is not None:
                        answer = np.float32(0.5) * (answer + stripped_logits)
                    targets = decision_logits(answer, self._config).argmax(axis=-1).astype(np.int32)
                taps = graph.taps_for(METHOD_TAPS[str(method)])
                views = METHOD_VIEWS.get(str(method), ())
                if views and flip and MIRROR_VIEW not in views:  # test-time flip needs the plain mirror image
                    views = (*views, MIRROR_VIEW)
                logits, pairs, chosen = graph.tapped_gradients(batch, targets, taps, mirrored=flip, views=views)
                if self._guard is not None:  # pooled last-convolution features of this pass when it has them
                    if taps[-1] == graph.block_outputs[-1]:
                        pooled = pairs[-1][0][: len(chunk)].mean(axis=(1, 2))
                        scores = self._guard.scores(pooled, logits)
                    else:
                        scores = self._guard.scores(*reversed(graph.logits_and_pooled(batch)))
                if stripped_logits is not None:
                    logits = np.float32(0.5) * (logits + stripped_logits)
                probs = self._probabilities(logits)
                raw = tap_maps(pairs, str(method))
                if views:
                    raw = merge_views(raw, views, batch.shape[1])
                elif flip:  # the images' maps, then the mirror images' maps: mirror those back and add them
                    raw = raw[: len(chunk)] + raw[len(chunk) :, :, ::-1]
                cams = list(raw)
        if chosen is not None:
            prep = self._config.preprocessing
            maps = [
                to_slice_geometry(cam, s.shape, prep.pad_to_square, head_box(s) if prep.crop_to_head else None)
                for cam, s in zip(cams, chunk, strict=True)
            ]
        per_slice_ms = (time.perf_counter() - start) * 1000.0 / len(chunk)
        predictions = [
            self._prediction(probs[i], device, precision, per_slice_ms, maps[i], chosen, i, method, len(chunk))
            for i in range(len(chunk))
        ]
        if scores is None:
            return predictions
        return [self._guarded(p, float(score)) for p, score in zip(predictions, scores, strict=True)]

    def _guarded(self, prediction: Prediction, score: float) -> Prediction:
        """The prediction with its guard score, and a reason when the score lies above the threshold."""
        assert self._guard is not None
        reason = ""
        if not score <= self._guard.threshold:  # NaN counts as outside
            reason = (
                f"image unlike the brain MR slices the model was trained on "
                f"(guard score {score:.1f} above {self._guard.threshold:.1f})"
            )
        return replace(prediction, guard_score=score, outside_reason=reason)

    def _probabilities(self, logits: NDArray[np.floating]) -> NDArray[np.float64]:
        """Calibrated probabilities of the answer (temperature, then the config's tumor prior shift)."""
        return softmax(decision_logits(logits, self._config), self._config.temperature)

    def _logits(self, graph: InferenceGraph, batch: NDArray[np.float32]) -> NDArray[np.float32]:
        """Logits, averaged with those of the mirror images when the config asks for test-time flip."""
        if self._config.test_time_flip:
            return flip_averaged_logits(graph.logits, batch)
        return graph.logits(batch)

    def _occlusion(
        self, graph: InferenceGraph, batch: NDArray[np.float32], probs: NDArray[np.float64], chosen: NDArray[np.int32]
    ) -> list[NDArray[np.float32]]:
        """Occlusion-sensitivity grid maps: one forward pass per grid cell and image."""
        fill = float(self._config.preprocessing.offset)  # the network input of a black (0) pixel
        maps = []
        for image, p, c in zip(batch, probs, chosen, strict=True):
            variants = occlusion_inputs(image, fill)
            logits = np.concatenate([self._logits(graph, variants[k : k + 16]) for k in range(0, len(variants), 16)])
            occluded = self._probabilities(logits)[:, int(c)]
            maps.append(occlusion_map(float(p[int(c)]), occluded))
        return maps

    def _prediction(
        self,
        probs: NDArray[np.float64],
        device: str,
        precision: str,
        ms: float,
        heat: NDArray[np.float32] | None,
        chosen: NDArray[np.int32] | None,
        i: int,
        method: str | None,
        batch: int,
    ) -> Prediction:
        names = self._config.class_names
        no_tumor = self._config.no_tumor_index
        return Prediction(
            class_names=names,
            probabilities=tuple(float(p) for p in probs),
            label=names[int(np.argmax(probs))],
            p_tumor=float(1.0 - probs[no_tumor]) if no_tumor >= 0 else float("nan"),
            model_sha256=self._sha256,
            device=device,
            precision=precision,
            milliseconds=ms,
            heatmap=heat,
            heatmap_class=names[int(chosen[i])] if chosen is not None and heat is not None else None,
            heatmap_method=method if heat is not None else None,
            extra={"batch_size": batch},
        )

    def _precision_key(self) -> str:
        return precision_cache.decision_key(
            self._sha256, self._config.to_json(), f"{_library_versions()}, device {self._device}"
        )

    def _decide_precision(self, model: keras.Model, forced: str | None) -> dev.PrecisionDecision:
        """float32 or bfloat16 (see :func:`core.model.device.choose_precision`).

        Agreement means: the config's ``metrics["bfloat16_label_agreement"]`` (share of validation
        images with the same label in both precisions), when recorded, is at least 99.5%, and on the
        deterministic probe slices the labels match and probabilities differ by at most 0.02.
        """
        from core.model.inference_graph import InferenceGraph, bfloat16_copy

        candidate: list[InferenceGraph] = []

        def bf16() -> InferenceGraph:
            if not candidate:
                candidate.append(InferenceGraph(bfloat16_copy(model), black=self._config.preprocessing.offset))
            return candidate[0]

        probes = to_model_input(dev.probe_slices(), self._config)

        def agrees() -> bool:
            recorded = self._config.metrics.get(AGREEMENT_METRIC)
            if isinstance(recorded, int | float) and recorded < MIN_LABEL_AGREEMENT:
                return False  # training measured too many label changes on the validation images
            reference = softmax(self._float32_graph.logits(probes), self._config.temperature)
            return dev.probabilities_agree(reference, softmax(bf16().logits(probes), self._config.temperature))

        def faster() -> bool:
            one = probes[:1]
            return _best_time(bf16().logits, one) <= SPEED_MARGIN * _best_time(self._float32_graph.logits, one)

        key = self._precision_key() if self._remember_precision and forced is None else None
        remembered = precision_cache.load_decision(key) if key is not None else None
        decision = remembered or dev.choose_precision(
            device=self._device,
            override=forced,
            cpu_bf16=dev.cpu_supports_bfloat16(),
            agrees=agrees,
            faster=faster,
        )
        if key is not None and remembered is None and self._device == dev.CPU:
            precision_cache.save_decision(key, decision)
        if decision.precision == dev.BFLOAT16:
            self._graph = bf16()
        return decision


def _library_versions() -> str:
    import keras
    import tensorflow as tf

    return f"tensorflow {tf.__version__}, keras {keras.__version__}"


def _best_time(fn: Any, batch: NDArray[np.float32], repeats: int = 3) -> float:
    """Best of ``repeats`` wall times of ``fn(batch)`` after one warm-up call (seconds)."""
    fn(batch)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn(batch)
        best = min(best, time.perf_counter() - start)
    return best

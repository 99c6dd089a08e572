"""Classifier figures: batch-1 latency (classify, classify + heatmap) and 24-slice series throughput.

Uses the real weights in ``weights/`` when they load; otherwise a full-width, untrained VGG19-BN
at the config's input size (same cost per slice), and says so.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from bench.peer_env import PeerProcess
from bench.stats import best_rate, summarise_ms, timed
from core.model.classifier import Classifier, ClassifierLoadError
from core.model.model_config import ModelConfig, ModelConfigError, WeightsIntegrityError, load_model_config
from core.model.network import VGG19_DEPTHS, VGG19_WIDTHS, Architecture
from core.platform.locator import resource_path, weights_dir

SERIES_LENGTH = 24
LATENCY_BLOCKS = 3
SETTLE_S = 0.2  # pause when switching between our process and the peer's


def load_subject(folder: Path | None) -> tuple[Classifier, str, float]:
    """The classifier to measure, a sentence saying which model it is, and its load time (s)."""
    folder = folder or weights_dir()
    start = time.perf_counter()
    try:
        clf = Classifier.from_folder(folder)
        what = f"trained weights: {clf.config.model_name} {clf.config.model_version} (sha256 {clf.sha256[:12]})"
        return clf, what, time.perf_counter() - start
    except (ModelConfigError, WeightsIntegrityError, ClassifierLoadError) as exc:
        reason = str(exc)
    import keras

    from core.model.network import build_vgg19

    try:
        config = load_model_config(folder)
    except ModelConfigError:
        config = ModelConfig(architecture=Architecture())
    arch = replace(config.architecture, widths=VGG19_WIDTHS, depths=VGG19_DEPTHS)
    config = replace(config, architecture=arch)
    start = time.perf_counter()
    keras.utils.set_random_seed(0)
    clf = Classifier(build_vgg19(arch), config, sha256="untrained")
    clf.warm_up()
    what = f"untrained full-width VGG19-BN at {arch.input_size} px (no usable weights: {reason})"
    return clf, what, time.perf_counter() - start


def bench_slices(count: int = SERIES_LENGTH) -> tuple[list[NDArray[np.uint8]], str]:
    """Model-rendered slices of the bundled sample study, cycled to ``count`` (synthetic if absent)."""
    images: list[NDArray[np.uint8]] = []
    try:
        from core.imaging import ImagingError, PixelStore, open_paths

        scan = open_paths([resource_path("sample_study")])
        store = PixelStore()
        for ref in scan.all_slices():
            try:
                images.append(store.model_rendering(ref))
            except ImagingError:
                continue
        source = "bundled sample study (resources/sample_study)"
    except (ImportError, OSError):
        images = []
    if not images:
        from core.model.device import probe_slices

        images = probe_slices(size=256, count=8)
        source = "synthetic head-like slices"
    return [images[i % len(images)] for i in range(count)], source


def method_latencies(clf: Classifier, one: NDArray[np.uint8], repeats: int) -> dict[str, list[float]]:
    """Batch-1 classify + heatmap times (s) of every gradient method, the methods taking turns."""
    from core.model.saliency import GRADIENT_METHODS

    times: dict[str, list[float]] = {m: [] for m in GRADIENT_METHODS}
    for method in GRADIENT_METHODS:
        clf.predict([one], heatmap=True, method=method)  # compiles the method's taps once
    for _ in range(repeats):
        for method in GRADIENT_METHODS:
            times[method].append(timed(lambda m=method: clf.predict([one], heatmap=True, method=m)))  # type: ignore[misc]
    return times


def measure(
    clf: Classifier, series: list[NDArray[np.uint8]], repeats: int, batch: int, peer: PeerProcess | None = None
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Batch-1 latencies on the series' middle slice and series throughputs, ours and the peer's.

    Our calls and the peer's alternate in blocks (``LATENCY_BLOCKS`` per figure, with a short pause
    at each switch so that the other process's thread pools have stopped spinning), so background
    load that comes and goes during the run hits both alike.  Throughput is the best of three runs
    over the whole series, ours and the peer's alternating.
    """
    one = series[len(series) // 2]
    for _ in range(3):
        clf.predict([one])
        clf.predict([one], heatmap=True)
        if peer is not None:
            peer.time_one()
    classify: list[float] = []
    heat: list[float] = []
    peer_one: list[float] = []
    per_block = -(-repeats // LATENCY_BLOCKS)
    for block in range(LATENCY_BLOCKS):
        count = max(0, min(per_block, repeats - block * per_block))
        for _ in range(count):
            classify.append(timed(lambda: clf.predict([one])))
            heat.append(timed(lambda: clf.predict([one], heatmap=True)))
        if peer is not None and count:
            time.sleep(SETTLE_S)
            peer_one.extend(peer.time_one() for _ in range(count))
            time.sleep(SETTLE_S)
    by_method = {m: summarise_ms(ms) for m, ms in method_latencies(clf, one, max(1, repeats // 3)).items()}
    clf.predict(series, batch_size=batch)
    clf.predict(series, heatmap=True, batch_size=batch)
    if peer is not None:
        peer.time_series()
    runs: dict[str, list[float]] = {"ours": [], "ours_heatmap": [], "peer": []}
    for _ in range(3):
        runs["ours"].append(timed(lambda: clf.predict(series, batch_size=batch)))
        runs["ours_heatmap"].append(timed(lambda: clf.predict(series, heatmap=True, batch_size=batch)))
        if peer is not None:
            time.sleep(SETTLE_S)
            runs["peer"].append(peer.time_series())
            time.sleep(SETTLE_S)
    ours = {
        "slice_shape": list(one.shape),
        "classify_ms": summarise_ms(classify),
        "classify_heatmap_ms": summarise_ms(heat),
        "heatmap_method": clf.config.default_saliency_method,
        "classify_heatmap_ms_by_method": by_method,
        "series_slices_per_s": best_rate(runs["ours"], len(series)),
        "series_heatmap_slices_per_s": best_rate(runs["ours_heatmap"], len(series)),
        "series_batch": batch,
    }
    if peer is None:
        return ours, None
    theirs = {
        **peer.info(),
        "classify_ms": summarise_ms(peer_one),
        "series_slices_per_s": best_rate(runs["peer"], len(series)),
    }
    return ours, theirs

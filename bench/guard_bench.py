"""The intended-use guard's cost: classify + heatmap of a series with and without the guard, as a ratio.

The same loaded classifier runs with its guard statistics and with them switched off, alternating, so
background load hits both alike; the guarded time also includes the rules of every slice (headers read
from the pixel store's cache, blank or noise-only pixels), as the CLI and the workstation run them.
Target: ratio <= 1.10.  Run alone with ``python -m bench.guard_bench``.
"""

from __future__ import annotations

import json
import statistics
import time
from typing import Any

ROUNDS = 15  # alternating rounds; with fewer, the machine's noise outweighs the guard's cost


def _stand_in_guard(width: int, classes: int) -> Any:
    """Statistics of the right shape fitted on seeded random features: the guard's cost does not depend on them
    (used when the weights carry no statistics of their own)."""
    import numpy as np

    from core.model.ood_guard import fit_guard_stats

    rng = np.random.default_rng(0)
    pooled, logits = rng.random((4 * width, width)), rng.normal(size=(4 * width, classes))
    return fit_guard_stats(pooled, logits, rng.integers(0, classes, 4 * width), num_classes=classes)


def run() -> dict[str, Any]:
    from bench.classifier_bench import SERIES_LENGTH, load_subject
    from core.imaging import PixelStore, open_paths
    from core.model.inference_path import rule_reason
    from core.platform.locator import resource_path

    clf, what, _ = load_subject(None)
    own = clf.guard
    guard = own or _stand_in_guard(clf.config.architecture.widths[-1], clf.config.architecture.num_classes)
    store = PixelStore()
    refs = open_paths([resource_path("sample_study")]).all_slices()
    refs = [refs[i % len(refs)] for i in range(SERIES_LENGTH)]
    series = [store.model_rendering(ref) for ref in refs]

    def guarded() -> float:
        clf._guard = guard
        start = time.perf_counter()
        predictions = clf.predict(series, heatmap=True)
        reasons = [rule_reason(store, ref, rendered) for ref, rendered in zip(refs, series, strict=True)]
        _ = [p.with_outside_reason(r) for p, r in zip(predictions, reasons, strict=True)]
        return time.perf_counter() - start

    def unguarded() -> float:
        clf._guard = None
        start = time.perf_counter()
        clf.predict(series, heatmap=True)
        return time.perf_counter() - start

    guarded(), unguarded()  # warm both paths
    with_guard, without = [], []
    for round_index in range(ROUNDS):  # ABBA order: neither path always runs right after the other
        if round_index % 2:
            without.append(unguarded())
            with_guard.append(guarded())
        else:
            with_guard.append(guarded())
            without.append(unguarded())
    clf._guard = own
    ratio = statistics.median(with_guard) / statistics.median(without)
    return {
        "guard_model": what + ("" if own is not None else "; stand-in guard statistics (the weights carry none)"),
        "guard_series_slices": SERIES_LENGTH,
        "guard_classify_heatmap_s": round(statistics.median(without), 4),
        "guard_classify_heatmap_with_guard_s": round(statistics.median(with_guard), 4),
        "guard_time_ratio": round(ratio, 3),
        "guard_target_ratio": 1.10,
    }


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))

"""Is one model's gain on the real volumes more than the choice of patients?  A paired bootstrap.

Usage: python scripts/compare_real_traces.py BEFORE/real_traces.json AFTER/real_traces.json [RESAMPLES]

Both files are written by ``neuroreview-train validate-real`` for two models on the same data.  Whole
patients (LGG) or heads (normal) are resampled with replacement, the same draw for both models, and the
difference is recomputed: the slice AUROC on the LGG stacks, the false-positive rate (P(tumor) >= 0.5, every
slice) on the normal heads, and the AUROC of the LGG tumor slices against the normal heads' slices (patients
and heads resampled separately).  The last one does not depend on the threshold: a model that only lowers
every score has fewer false alarms at 0.5 but the same cross-set AUROC.  Prints the difference on all of the
data and its 95 % bootstrap interval.
"""

import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from core.model.series_summary import DEFAULT_THRESHOLD
from training.metrics import roc_auc, roc_auc_between
from training.real_eval import TUMOR_AGAINST_NORMAL

Traces = dict[str, dict[str, list[float] | list[bool]]]


def paired_bootstrap(
    statistic: Callable[[Sequence[int]], float], groups: int, resamples: int, seed: int = 0
) -> tuple[float, float, float]:
    """The statistic on every group and the 2.5 / 97.5 percentiles over resampled groups."""
    return stratified_bootstrap(lambda chosen: statistic(chosen[0]), (groups,), resamples, seed)


def stratified_bootstrap(
    statistic: Callable[[Sequence[Sequence[int]]], float], strata: Sequence[int], resamples: int, seed: int = 0
) -> tuple[float, float, float]:
    """As :func:`paired_bootstrap`, with the groups of each stratum (patients, heads) resampled on their own."""
    rng = np.random.default_rng(seed)
    draws = [statistic([rng.integers(0, n, n).tolist() for n in strata]) for _ in range(resamples)]
    every = [range(n) for n in strata]
    return statistic(every), float(np.nanpercentile(draws, 2.5)), float(np.nanpercentile(draws, 97.5))


def stacked(traces: Traces, keys: Sequence[str], field: str, chosen: Sequence[int]) -> NDArray[np.float64]:
    return np.concatenate([np.asarray(traces[keys[i]][field], dtype=np.float64) for i in chosen])


def main(before_file: Path, after_file: Path, resamples: int) -> None:
    before: Traces = json.loads(before_file.read_text(encoding="utf-8"))
    after: Traces = json.loads(after_file.read_text(encoding="utf-8"))
    for set_name in ("lgg-flair", "lgg-t1gd"):
        keys = sorted(k for k in before if k.startswith(set_name + "/"))

        def auroc_gain(chosen: Sequence[int], keys: Sequence[str] = keys) -> float:
            truth = stacked(before, keys, "tumor", chosen).astype(bool)
            new, old = (roc_auc(stacked(t, keys, "p_tumor", chosen), truth) for t in (after, before))
            return float("nan") if new is None or old is None else new - old

        value, low, high = paired_bootstrap(auroc_gain, len(keys), resamples)
        print(f"{set_name}: slice AUROC {value:+.4f} (95 % interval {low:+.4f} to {high:+.4f}), {len(keys)} patients")
    for set_name in ("normal-flair", "normal-t1"):
        keys = sorted(k for k in before if k.startswith(set_name + "/"))

        def false_positive_change(chosen: Sequence[int], keys: Sequence[str] = keys) -> float:
            rate_after = (stacked(after, keys, "p_tumor", chosen) >= DEFAULT_THRESHOLD).mean()
            return float(rate_after - (stacked(before, keys, "p_tumor", chosen) >= DEFAULT_THRESHOLD).mean())

        value, low, high = paired_bootstrap(false_positive_change, len(keys), resamples)
        print(f"{set_name}: false-positive rate {100 * value:+.1f} points "
              f"(95 % interval {100 * low:+.1f} to {100 * high:+.1f}), {len(keys)} heads")  # fmt: skip
    for lgg_set, normal_set in TUMOR_AGAINST_NORMAL:
        patients = sorted(k for k in before if k.startswith(lgg_set + "/"))
        heads = sorted(k for k in before if k.startswith(normal_set + "/"))

        def cross_gain(chosen: Sequence[Sequence[int]], patients: Sequence[str] = patients,
                       heads: Sequence[str] = heads) -> float:  # fmt: skip
            areas = []
            in_tumor = stacked(before, patients, "tumor", chosen[0]) > 0
            for traces in (after, before):
                tumor = stacked(traces, patients, "p_tumor", chosen[0])[in_tumor]
                areas.append(roc_auc_between(tumor, stacked(traces, heads, "p_tumor", chosen[1])))
            new, old = areas
            return float("nan") if new is None or old is None else new - old

        value, low, high = stratified_bootstrap(cross_gain, (len(patients), len(heads)), resamples)
        print(f"{lgg_set} tumor slices against {normal_set}: AUROC {value:+.4f} "
              f"(95 % interval {low:+.4f} to {high:+.4f}), {len(patients)} patients, {len(heads)} heads")  # fmt: skip


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]) if len(sys.argv) > 3 else 1000)

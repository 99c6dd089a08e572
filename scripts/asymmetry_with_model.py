"""Does left-right asymmetry add to the model's P(tumor)?  An upper-bound check before building it in.

Usage: python scripts/asymmetry_with_model.py DATA TRACES ASYMMETRY.json

TRACES: ``real_traces.json`` of ``neuroreview-train validate-real`` (every slice of every LGG and normal stack).
ASYMMETRY.json: each slice's score of :func:`asymmetry_probe.asymmetry` under the same keys (computed and
written when the file does not exist; about 10 minutes on two cores).  Prints, for the model, the asymmetry
and their sum ``logit(P) / 4 + w * asymmetry`` at a few weights, the slice AUROC inside the LGG stacks and the
AUROC of the LGG tumor slices against the normal heads' slices of the same contrast.  The weights are tried
on the very slices they are judged on, so the best sum flatters what a model trained with the asymmetry
as an input could reach; a sum no better than the model would say that building it in is not worth it.
"""

import json
import sys
from pathlib import Path

import numpy as np
from asymmetry_probe import asymmetry
from numpy.typing import NDArray

from training.metrics import roc_auc, roc_auc_between
from training.real_data import load_lgg, load_normal_heads
from training.real_eval import TUMOR_AGAINST_NORMAL

WEIGHTS = (0.5, 1.0, 2.0, 4.0, 8.0)


def asymmetry_scores(data: Path, out: Path) -> dict[str, list[float | None]]:
    """Every stack's asymmetry scores (None where a slice has too little head), cached in ``out``."""
    if out.exists():
        cached: dict[str, list[float | None]] = json.loads(out.read_text(encoding="utf-8"))
        return cached
    scores = {
        f"{stack.set_name}/{stack.name}": [asymmetry(rendered) for rendered in stack.rendered]
        for stack in load_lgg(data / "lgg-tcga") + load_normal_heads(data / "normal-heads")
    }
    out.write_text(json.dumps(scores), encoding="utf-8")
    return scores


def stacked(
    traces: dict[str, dict[str, list[float]]], scores: dict[str, list[float | None]], set_name: str
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.bool_]]:
    """(logit of P(tumor), asymmetry, tumor) of every slice of a set that has an asymmetry score."""
    logits, values, tumor = [], [], []
    for key in sorted(k for k in traces if k.startswith(set_name + "/")):
        if len(scores[key]) != len(traces[key]["p_tumor"]):
            raise ValueError(f"{key}: {len(scores[key])} asymmetry scores for {len(traces[key]['p_tumor'])} slices")
        for p, value, truth in zip(traces[key]["p_tumor"], scores[key], traces[key]["tumor"], strict=True):
            if value is not None:
                clipped = min(max(p, 1e-6), 1 - 1e-6)
                logits.append(np.log(clipped / (1 - clipped)))
                values.append(value)
                tumor.append(bool(truth))
    return np.asarray(logits), np.asarray(values), np.asarray(tumor)


def main(data: Path, traces_file: Path, scores_file: Path) -> None:
    traces = json.loads(traces_file.read_text(encoding="utf-8"))
    scores = asymmetry_scores(data, scores_file)
    for lgg_set, normal_set in TUMOR_AGAINST_NORMAL:
        logits, values, tumor = stacked(traces, scores, lgg_set)
        normal_logits, normal_values, _ = stacked(traces, scores, normal_set)
        print(f"{lgg_set} ({len(tumor)} slices, {tumor.sum()} tumor) against {normal_set} ({len(normal_values)}):")
        candidates = {"model": (logits, normal_logits), "asymmetry": (values, normal_values)}
        for weight in WEIGHTS:
            candidates[f"logit/4 + {weight:g} x asymmetry"] = (
                logits / 4 + weight * values,
                normal_logits / 4 + weight * normal_values,
            )
        for name, (lgg_scores, normal_scores) in candidates.items():
            within = roc_auc(lgg_scores, tumor)
            against = roc_auc_between(lgg_scores[tumor], normal_scores)
            print(f"  {name}: AUROC in the LGG stacks {within:.3f}, tumor slices against normal heads {against:.3f}")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]))

"""How much of the stripped view, and how much tumor prior shift: every real validation slice and every
class-folder validation image scored once, then each setting measured offline from the saved logits.

``python strip_weight_and_shift.py real WEIGHTS OUT.npz`` (repository root) keeps, for every slice of
``validate-real``'s stacks, the logits of the slice as it is and of its view stripped at 0.09 (the
application's ``stripped_model_input``) and whether the application leaves it out (content rules and the
learned guard on the slice as it is); ``folders WEIGHTS OUT.npz`` does the same for the class-folder
validation split; ``sweep REAL.npz FOLDERS.npz`` prints, for each share of the stripped view in the logit
average and each shift, the figures of ``validate-real``'s table (same definitions: outside slices count
as missed tumor slices, AUROC and specificity are over the slices inside) and the class-folder accuracy.
Every setting is chosen on these same validation sets: the figures are not an independent test.
"""

import functools
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from core.model.model_config import NO_TUMOR_CLASS, class_position
from core.model.prediction import Prediction
from core.model.series_summary import summarize_series
from training.metrics import roc_auc

DATA = Path("../shared/data")
DEPTH = 0.09
SETS = ("lgg-flair", "lgg-t1gd", "normal-flair", "normal-t1", "figshare")


def real(weights: Path, out: Path) -> None:
    from core.imaging.intended_use import content_reason
    from core.model.classifier import Classifier
    from core.model.preprocess import stripped_model_input
    from training.evaluate import model_for
    from training.real_eval import load_stacks
    from training.trainer import predict_logits

    split = Path("weights/training_run/masked_split.json")
    stacks = load_stacks(DATA / "lgg-tcga", DATA / "normal-heads", DATA / "figshare-t1ce", split, None)
    model, config = model_for(weights)
    guarded = Classifier.from_folder(weights, warm_up=False)  # plain answers and the guard, as shipped
    strip_config = replace(config, test_time_strip=DEPTH)
    cols: dict[str, list[Any]] = {k: [] for k in ("set", "stack", "tumor", "truth", "plain", "stripped", "outside")}
    for stack in stacks:
        answers = guarded.predict(stack.rendered, batch_size=32)
        probabilities = np.clip(np.array([a.probabilities for a in answers]), 1e-30, 1.0)
        cols["plain"].append(config.temperature * np.log(probabilities))  # logits up to a constant per row
        cols["stripped"].append(predict_logits(model, stripped_model_input(stack.rendered, strip_config)))
        cols["outside"] += [
            bool(content_reason(r)) or not a.inside_intended_use for r, a in zip(stack.rendered, answers, strict=True)
        ]
        cols["set"] += [stack.set_name] * len(answers)
        cols["stack"] += [f"{stack.set_name}/{stack.name}"] * len(answers)
        cols["tumor"] += [bool(m.any()) for m in stack.masks]
        cols["truth"] += [stack.truth] * len(answers)
    arrays = {k: np.concatenate(v) if k in ("plain", "stripped") else np.asarray(v) for k, v in cols.items()}
    np.savez(out, temperature=config.temperature, class_names=np.asarray(config.class_names), **arrays)


def folders(weights: Path, out: Path) -> None:
    from core.model.preprocess import stripped_model_input, to_model_input
    from training.evaluate import _validation_positions, model_for
    from training.images import load_for_weights
    from training.manifest import build_manifest
    from training.trainer import predict_logits

    model, config = model_for(weights)
    manifest = build_manifest(DATA / "brain-tumor-mri" / "Training", config.class_names)
    data = load_for_weights(manifest, config, None)
    chosen = _validation_positions(Path("weights/training_run/split.json"), data.relpaths)
    images = [data.images[i] for i in chosen]
    predict = functools.partial(predict_logits, model)
    np.savez(
        out,
        plain=predict(to_model_input(images, config)),
        stripped=predict(stripped_model_input(images, replace(config, test_time_strip=DEPTH))),
        labels=data.labels[chosen],
        temperature=config.temperature,
        class_names=np.asarray(config.class_names),
    )


def probabilities(table: Any, weight: float, shift: float) -> NDArray[np.float64]:
    """The application's probabilities: (1 - weight) x plain + weight x stripped logits, tempered, shifted."""
    from core.model.classifier import prior_shifted, softmax

    notumor = class_position([str(n) for n in table["class_names"]], NO_TUMOR_CLASS)
    temperature = float(table["temperature"])
    mean = (1.0 - weight) * table["plain"] + weight * table["stripped"]
    return softmax(prior_shifted(mean, notumor, temperature, shift), temperature)


def real_figures(table: Any, weight: float, shift: float) -> dict[str, dict[str, float]]:
    names = tuple(str(n) for n in table["class_names"])
    notumor = names.index(NO_TUMOR_CLASS)
    p = probabilities(table, weight, shift)
    p_tumor = 1.0 - p[:, notumor]
    labels = np.asarray(names)[p.argmax(axis=1)]
    inside = ~table["outside"]
    figures: dict[str, dict[str, float]] = {}
    for set_name in SETS:
        rows = table["set"] == set_name
        tumor = table["tumor"][rows] & (table["truth"][rows] != NO_TUMOR_CLASS)
        ins, score, called = inside[rows], p_tumor[rows], (p_tumor[rows] >= 0.5) & inside[rows]
        row: dict[str, float] = {
            "specificity": float(1 - called[~tumor & ins].mean()) if (~tumor & ins).any() else np.nan
        }
        if tumor.any():
            row["sensitivity"] = float(called[tumor].mean())
            row["true_class"] = float((ins & (labels[rows] == table["truth"][rows]))[tumor].mean())
            if (~tumor & ins).any():
                row["auroc"] = roc_auc(score[ins], tumor[ins])
        if set_name != "figshare":
            row["series_called"] = float(
                sum(
                    _series_label(p[table["stack"] == stack], inside[table["stack"] == stack], names) != NO_TUMOR_CLASS
                    for stack in np.unique(table["stack"][rows])
                )
            )
        figures[set_name] = row
    return figures


def _series_label(p: NDArray[np.float64], inside: NDArray[np.bool_], names: tuple[str, ...]) -> str:
    notumor = names.index(NO_TUMOR_CLASS)
    answers = [
        Prediction(names, tuple(map(float, row)), names[int(row.argmax())], float(1 - row[notumor]), "", "", "", 0.0)
        if ok
        else Prediction(names, tuple(map(float, row)), "", 0.0, "", "", "", 0.0, outside_reason="outside")
        for row, ok in zip(p, inside, strict=True)
    ]
    return summarize_series(answers).label


def folder_accuracy(table: Any, weight: float, shift: float) -> float:
    return float((probabilities(table, weight, shift).argmax(axis=1) == table["labels"]).mean())


def sweep(real_table: Path, folder_table: Path) -> None:
    with np.load(real_table) as r, np.load(folder_table) as f:
        real_data, folder_data = dict(r), dict(f)
    alone = _flat(real_figures(real_data, 0.0, 0.0), folder_accuracy(folder_data, 0.0, 0.0))
    for weight in (0.0, 0.1, 0.2, 0.25, 0.33, 0.4, 0.5):
        for shift in (0.0, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 1.0):
            if weight == 0.0 and shift:
                continue
            figures = real_figures(real_data, weight, shift)
            accuracy = folder_accuracy(folder_data, weight, shift)
            lower = [k for k, v in _flat(figures, accuracy).items() if v < alone[k] - 1e-9]
            parts = [f"stripped share {weight:.2f} shift {shift:.1f}: folders {100 * accuracy:.2f} %"]
            for set_name, row in figures.items():
                parts.append(set_name + " " + " ".join(f"{k} {v:.3f}" for k, v in row.items()))
            parts.append("lower than the slice alone: " + (", ".join(lower) or "none"))
            print("\n  ".join(parts))


def _flat(figures: dict[str, dict[str, float]], folder_accuracy: float) -> dict[str, float]:
    """Every figure as "higher is better" (series called tumor count against on normal heads)."""
    flat = {"folders": folder_accuracy}
    for set_name, row in figures.items():
        for name, value in row.items():
            if name == "series_called" and set_name.startswith("normal"):
                value = -value
            if not np.isnan(value):
                flat[f"{set_name} {name}"] = float(value)
    return flat


if __name__ == "__main__":
    command = sys.argv[1]
    if command == "real":
        real(Path(sys.argv[2]), Path(sys.argv[3]))
    elif command == "folders":
        folders(Path(sys.argv[2]), Path(sys.argv[3]))
    else:
        sweep(Path(sys.argv[2]), Path(sys.argv[3]))

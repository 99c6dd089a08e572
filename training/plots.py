"""PNG plots for a run: learning curves, confusion matrix, reliability diagram (matplotlib, Agg)."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from itertools import pairwise
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from training.metrics import ECE_BINS


def _pyplot():  # type: ignore[no-untyped-def]
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def learning_curves(log_csv: Path, out: Path) -> None:
    with open(log_csv, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    if not rows:
        return
    plt = _pyplot()
    epochs = [int(r["epoch"]) for r in rows]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    ax1.plot(epochs, [float(r["train_loss"]) for r in rows], label="train loss")
    ax1.plot(epochs, [float(r["val_loss"]) for r in rows], label="val loss")
    ax2.plot(epochs, [float(r["train_accuracy"]) for r in rows], label="train accuracy (augmented)")
    ax2.plot(epochs, [float(r["val_accuracy"]) for r in rows], label="val accuracy")
    ax2.plot(epochs, [float(r["val_macro_f1"]) for r in rows], label="val macro-F1")
    for ax in (ax1, ax2):
        ax.set_xlabel("epoch")
        ax.legend()
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)


def confusion_matrix(matrix: Sequence[Sequence[int]], class_names: Sequence[str], out: Path, title: str) -> None:
    plt = _pyplot()
    m = np.asarray(matrix)
    fig, ax = plt.subplots(figsize=(5, 4.5))
    ax.imshow(m, cmap="Blues")
    ax.set_xticks(range(len(class_names)), class_names, rotation=30)
    ax.set_yticks(range(len(class_names)), class_names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    for i in range(m.shape[0]):
        for j in range(m.shape[1]):
            ax.text(j, i, str(m[i, j]), ha="center", va="center", color="white" if m[i, j] > m.max() / 2 else "black")
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)


def reliability_diagram(probs: NDArray[np.floating], labels: NDArray[np.integer], out: Path, title: str) -> None:
    plt = _pyplot()
    conf, correct = probs.max(axis=1), probs.argmax(axis=1) == labels
    edges = np.linspace(0, 1, ECE_BINS + 1)
    centres, accs = [], []
    for lo, hi in pairwise(edges):
        mask = (conf > lo) & (conf <= hi)
        if mask.any():
            centres.append((lo + hi) / 2)
            accs.append(correct[mask].mean())
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    ax.plot([0, 1], [0, 1], "--", color="grey")
    ax.bar(centres, accs, width=1 / ECE_BINS, edgecolor="black", alpha=0.7)
    ax.set_xlabel("confidence")
    ax.set_ylabel("accuracy")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)


def _roc_points(scores: NDArray[np.floating], positives: NDArray[np.bool_]) -> tuple[list[float], list[float]]:
    """False- and true-positive rates at every threshold (highest first)."""
    order = np.argsort(-scores, kind="mergesort")
    hits = positives[order]
    tpr = np.concatenate([[0.0], np.cumsum(hits) / max(1, hits.sum())])
    fpr = np.concatenate([[0.0], np.cumsum(~hits) / max(1, (~hits).sum())])
    return fpr.tolist(), tpr.tolist()


def real_volume_plots(traces: dict[str, dict], threshold: float, out: Path) -> None:
    """``roc.png`` (slice-level ROC of each set with tumor and tumor-free slices) and one
    ``traces_<set>.png`` per set of volumes: P(tumor) along each stack, tumor extent shaded."""
    plt = _pyplot()
    by_set: dict[str, list[tuple[str, dict]]] = {}
    for key, trace in traces.items():
        set_name, _, series = key.partition("/")
        by_set.setdefault(set_name, []).append((series, trace))
    fig, ax = plt.subplots(figsize=(5, 5))
    for set_name, items in by_set.items():
        scores = np.concatenate([np.asarray(t["p_tumor"], dtype=np.float64) for _, t in items])
        positive = np.concatenate([np.asarray(t["tumor"], dtype=bool) for _, t in items])
        if positive.any() and not positive.all():
            ax.plot(*_roc_points(scores, positive), label=set_name)
    ax.plot([0, 1], [0, 1], color="grey", linewidth=0.5)
    ax.set_xlabel("false-positive rate (tumor-free slices)")
    ax.set_ylabel("true-positive rate (tumor slices)")
    ax.legend(loc="lower right")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out / "roc.png", dpi=100)
    plt.close(fig)
    for set_name, items in by_set.items():
        if not items[0][1]["volume"]:
            continue
        cols = 6
        rows = (len(items) + cols - 1) // cols
        fig, axes = plt.subplots(rows, cols, figsize=(cols * 2.2, rows * 1.4), squeeze=False, sharey=True)
        for ax, (series, trace) in zip(axes.flat, items, strict=False):
            p = np.asarray(trace["p_tumor"])
            tumor = np.asarray(trace["tumor"], dtype=bool)
            x = np.arange(len(p))
            ax.fill_between(x, 0, 1, where=tumor, color="tab:orange", alpha=0.3, step="mid", linewidth=0)
            ax.plot(x, p, linewidth=0.8)
            ax.axhline(threshold, color="red", linewidth=0.5)
            ax.set_title(series[-12:], fontsize=6)
            ax.tick_params(labelsize=5)
            ax.set_ylim(0, 1)
        for ax in list(axes.flat)[len(items) :]:
            ax.axis("off")
        fig.suptitle(f"{set_name}: P(tumor) along each stack (shaded: slices with tumor)", fontsize=8)
        fig.tight_layout()
        fig.savefig(out / f"traces_{set_name}.png", dpi=100)
        plt.close(fig)

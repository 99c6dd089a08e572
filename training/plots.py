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

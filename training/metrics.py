"""Evaluation metrics: accuracy, per-class P/R/F1, confusion, ROC AUC, tumour sensitivity, ECE, temperature."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise
from typing import Any

import numpy as np
from numpy.typing import NDArray

from core.model.classifier import softmax

ECE_BINS = 15


def expected_calibration_error(probs: NDArray[np.floating], labels: NDArray[np.integer], bins: int = ECE_BINS) -> float:
    """ECE over ``bins`` equal-width confidence bins (top-label)."""
    conf = probs.max(axis=1)
    correct = probs.argmax(axis=1) == labels
    edges = np.linspace(0.0, 1.0, bins + 1)
    ece = 0.0
    for lo, hi in pairwise(edges):
        mask = (conf > lo) & (conf <= hi)
        if mask.any():
            ece += mask.mean() * abs(correct[mask].mean() - conf[mask].mean())
    return float(ece)


def nll(logits: NDArray[np.floating], labels: NDArray[np.integer], temperature: float) -> float:
    p = softmax(logits, temperature)
    return float(-np.mean(np.log(np.clip(p[np.arange(len(labels)), labels], 1e-12, None))))


def fit_temperature(logits: NDArray[np.floating], labels: NDArray[np.integer]) -> float:
    """Temperature minimising the negative log-likelihood (golden-section search on log T)."""
    lo, hi = np.log(0.05), np.log(20.0)
    ratio = (np.sqrt(5) - 1) / 2
    a, b = hi - ratio * (hi - lo), lo + ratio * (hi - lo)
    for _ in range(80):
        if nll(logits, labels, float(np.exp(a))) < nll(logits, labels, float(np.exp(b))):
            hi = b
        else:
            lo = a
        a, b = hi - ratio * (hi - lo), lo + ratio * (hi - lo)
    return float(np.exp((lo + hi) / 2))


def cross_fitted_ece(
    logits: NDArray[np.floating], labels: NDArray[np.integer], folds: int = 5, seed: int = 0
) -> tuple[float, list[float]]:
    """ECE after temperature scaling with the temperature never fitted on the images it is judged on.

    The images are dealt into ``folds`` class-stratified folds; each fold is calibrated with the
    temperature fitted on the other folds, and the ECE is taken over all folds' calibrated
    probabilities pooled.  Returns (that ECE, the per-fold temperatures).
    """
    rng = np.random.default_rng(seed)
    fold_of = np.empty(len(labels), dtype=np.int64)
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        fold_of[members] = np.arange(len(members)) % folds
    probs = np.empty((len(labels), logits.shape[1]), dtype=np.float64)
    temperatures = []
    for fold in range(folds):
        held_out = fold_of == fold
        temperature = fit_temperature(logits[~held_out], labels[~held_out])
        probs[held_out] = softmax(logits[held_out], temperature)
        temperatures.append(temperature)
    return expected_calibration_error(probs, labels), temperatures


def roc_auc(scores: NDArray[np.floating], positives: NDArray[np.bool_]) -> float | None:
    """Area under the ROC curve by the rank-sum (Mann-Whitney) formula; None without both classes."""
    n_pos, n_neg = int(positives.sum()), int((~positives).sum())
    if n_pos == 0 or n_neg == 0:
        return None
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores), dtype=np.float64)
    sorted_scores = scores[order]
    i = 0
    while i < len(scores):  # average ranks of ties
        j = i
        while j + 1 < len(scores) and sorted_scores[j + 1] == sorted_scores[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2.0 + 1.0
        i = j + 1
    return float((ranks[positives].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def roc_auc_between(positives: NDArray[np.floating], negatives: NDArray[np.floating]) -> float | None:
    """AUROC of two separate score sets (for example tumor slices of one set against normal heads)."""
    scores = np.concatenate([positives, negatives])
    return roc_auc(scores, np.arange(len(scores)) < len(positives))


def classification_metrics(
    logits: NDArray[np.floating],
    labels: NDArray[np.integer],
    class_names: Sequence[str],
    temperature: float = 1.0,
    no_tumor: str = "notumor",
) -> dict[str, Any]:
    """All reported metrics for one labelled set of logits."""
    labels = np.asarray(labels)
    probs = softmax(logits, temperature)
    pred = probs.argmax(axis=1)
    k = len(class_names)
    confusion = np.zeros((k, k), dtype=int)
    for t, p in zip(labels, pred, strict=True):
        confusion[t, p] += 1
    per_class: dict[str, dict[str, float | None]] = {}
    f1s = []
    for c, name in enumerate(class_names):
        tp = confusion[c, c]
        precision = tp / confusion[:, c].sum() if confusion[:, c].sum() else 0.0
        recall = tp / confusion[c].sum() if confusion[c].sum() else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        f1s.append(f1)
        per_class[name] = {
            "precision": float(precision),
            "recall": float(recall),
            "f1": float(f1),
            "support": int(confusion[c].sum()),
            "roc_auc": roc_auc(probs[:, c], labels == c),
        }
    result: dict[str, Any] = {
        "n": len(labels),
        "accuracy": float((pred == labels).mean()),
        "macro_f1": float(np.mean(f1s)),
        "per_class": per_class,
        "confusion_matrix": confusion.tolist(),
        "ece": expected_calibration_error(probs, labels),
        "nll": nll(logits, labels, temperature),
        "temperature": temperature,
    }
    if no_tumor in class_names:
        nt = list(class_names).index(no_tumor)
        tumor_true, tumor_pred = labels != nt, pred != nt
        result["tumor_sensitivity"] = float((tumor_pred & tumor_true).sum() / max(tumor_true.sum(), 1))
        result["tumor_specificity"] = float((~tumor_pred & ~tumor_true).sum() / max((~tumor_true).sum(), 1))
        result["tumor_roc_auc"] = roc_auc(1.0 - probs[:, nt], tumor_true)
    return result

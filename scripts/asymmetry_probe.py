"""How much a tumor shows as left-right asymmetry on the real validation volumes, with no learning at all.

Usage: python scripts/asymmetry_probe.py DATA [LIMIT] (DATA default ../shared/data; LIMIT patients and
heads per sequence, as ``validate-real --limit``)

Each slice, rendered as the application renders it, is compared with its mirror image about the midline
that matches it best (small rotations and shifts searched); the score is the 98th percentile of the
smoothed absolute difference inside the head, relative to the head's mean.  Its slice AUROC on the LGG
stacks says how visible the tumors are as asymmetry: a model cannot be expected to find, slice by slice,
what is not there.  Normal heads give the score's spread without a tumor.
"""

import sys
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from training.metrics import roc_auc
from training.real_data import Stack, load_lgg, load_normal_heads
from training.realism import gaussian_blur, head_mask, mirror_about

ANGLES = (-8.0, -4.0, 0.0, 4.0, 8.0)  # degrees of head tilt searched for the midline


def rotated(image: NDArray[np.float32], degrees: float) -> NDArray[np.float32]:
    return np.asarray(Image.fromarray(image).rotate(degrees, resample=Image.Resampling.BILINEAR), np.float32)


def asymmetry(rendered: NDArray[np.uint8]) -> float | None:
    """The slice's asymmetry score; None for a slice with too little head to judge."""
    image = rendered.astype(np.float32) / 255.0
    head = head_mask(image)
    cols = np.flatnonzero(head.any(axis=0))
    if head.sum() < 400 or len(cols) < 16:
        return None
    half_width = (cols[-1] - cols[0]) / 2.0
    inner = (gaussian_blur(head.astype(np.float32), max(1.0, 0.04 * half_width)) > 0.97).astype(np.float32)
    smooth = gaussian_blur(image, 1.5)
    centre, reach = int(cols[0] + cols[-1]), int(0.1 * half_width)
    best: tuple[float, NDArray[np.float32], NDArray[np.float32], NDArray[np.bool_]] | None = None
    for angle in ANGLES:
        turned, turned_inner = rotated(smooth, angle), rotated(inner, angle) > 0.5
        for twice_axis in range(centre - reach, centre + reach + 1):
            both = turned_inner & mirror_about(turned_inner, twice_axis)
            if both.sum() < 200:
                continue
            mirror = mirror_about(turned, twice_axis)
            match = float(np.corrcoef(turned[both], mirror[both])[0, 1])
            if best is None or match > best[0]:
                best = (match, turned, mirror, both)
    if best is None:
        return None
    _, turned, mirror, both = best
    difference = np.abs(turned - mirror)[both] / (float(turned[both].mean()) + 1e-6)
    return float(np.percentile(difference, 98))


def report(stacks: list[Stack]) -> None:
    by_set: dict[str, tuple[list[float], list[bool]]] = {}
    for stack in stacks:
        scores, truth = by_set.setdefault(stack.set_name, ([], []))
        for rendered, tumor in zip(stack.rendered, stack.tumor_slices, strict=True):
            score = asymmetry(rendered)
            if score is not None:
                scores.append(score)
                truth.append(bool(tumor))
    for name, (scores, truth) in by_set.items():
        values, labels = np.asarray(scores), np.asarray(truth)
        auc = roc_auc(values, labels)
        auroc = "-" if auc is None else f"{auc:.3f}"
        tumor = f"{np.median(values[labels]):.3f}" if labels.any() else "-"
        print(f"| {name} | {len(values)} | {auroc} | {tumor} | {np.median(values[~labels]):.3f} |")


def main() -> None:
    data = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("../shared/data")
    limit = int(sys.argv[2]) if len(sys.argv) > 2 else None
    print("| set | slices | slice AUROC of the asymmetry | median, tumor slices | median, tumor-free slices |")
    print("|---|---:|---:|---:|---:|")
    report(load_lgg(data / "lgg-tcga", limit=limit))
    report(load_normal_heads(data / "normal-heads", limit=limit))


if __name__ == "__main__":
    main()

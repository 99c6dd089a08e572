"""A question, not a choice: does a Gaussian score on simple picture statistics catch what the feature score misses?

Usage (repository root, data in ../shared/data, OOD pictures from scripts/build_ood_sets.py):
    python picture_stats.py extract OOD_DIR OUT_DIR      # statistics of every picture, as JSON
    python picture_stats.py score OUT_DIR ROWS.jsonl [PERCENTILE] [MIN_HEAD] [all|trimmed]

ROWS.jsonl: `neuroreview-classify` rows for the OOD PNG folders (which of them the installed guard flags).
Each slice the content rules pass gets 22 statistics of the picture the application judges (head outline size,
fill and place, share of the frame's edge that is foreground, grey quantiles inside the head, background level,
left-right symmetry, neighbour correlation, flat share, mean gradient).  One Gaussian (standardised, covariance
shrunk 10 % towards the identity) is fitted on the class-folder training images and two realism copies of
1,600 of them; the threshold flags PERCENTILE of the validation images.  `trimmed` leaves out the section's size
and height and the noise statistics (neighbour correlation, background share), which vary along every real
stack (chosen after seeing which statistics the flagged real slices departed on); slices whose head covers less
than MIN_HEAD of the picture are not judged.
"""

import json
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from core.imaging import intended_use as rules

DATA = Path("../shared/data")
NAMES = [
    *("head", "bh", "bw", "fill", "frame", "rim_med", "in_med", "q10", "q25", "q50", "q75", "q90"),
    *("bg_med", "bg_share", "sym", "msym", "ncorr", "flat", "edge", "rows_mean", "cy", "cx"),
]
SIZE = {"head", "bh", "bw", "rows_mean", "cy", "bg_share", "ncorr"}


def statistics(picture: NDArray[np.uint8]) -> list[float] | None:
    """The picture's statistics; None when a content rule already takes it or it has no head to measure."""
    if min(picture.shape) < rules.MIN_JUDGED_SIDE or rules.content_reason(picture):
        return None
    reduced = rules._reduced(picture)
    scaled = rules._scaled(reduced)
    if scaled is None:
        return None
    height, width = scaled.shape
    foreground = scaled > 25.5
    head = rules._head_mask(scaled)
    if head.mean() < 0.05:
        return None
    rows, cols = np.flatnonzero(head.any(1)), np.flatnonzero(head.any(0))
    box_h, box_w = rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1
    edge = np.concatenate([foreground[:2].ravel(), foreground[-2:].ravel(), foreground[:, :2].ravel(),
                           foreground[:, -2:].ravel()])  # fmt: skip
    inside = rules._eroded(head, 6)
    rim = head & ~inside
    grey = scaled[head] / 255
    background = scaled[~head] / 255 if (~head).any() else np.zeros(1)
    centre = round((cols[0] + cols[-1]) / 2)
    half = min(centre, width - 1 - centre)
    symmetry, shape_symmetry = 0.0, 0.0
    if half >= 8:
        left = scaled[rows[0] : rows[-1] + 1, centre - half : centre][:, ::-1]
        right = scaled[rows[0] : rows[-1] + 1, centre + 1 : centre + 1 + half]
        if left.std() > 0 and right.std() > 0:
            symmetry = float(np.corrcoef(left.ravel(), right.ravel())[0, 1])
        shape_symmetry = float(
            (head[:, centre - half : centre][:, ::-1] == head[:, centre + 1 : centre + 1 + half]).mean()
        )
    gy, gx = np.gradient(scaled / 255)
    ys, xs = np.nonzero(head)
    return [
        float(head.mean()), box_h / height, box_w / width, float(head.sum() / (box_h * box_w)), float(edge.mean()),
        float(np.median(scaled[rim])) / 255 if rim.any() else 0.0,
        float(np.median(scaled[inside])) / 255 if inside.any() else 0.0,
        *np.percentile(grey, [10, 25, 50, 75, 90]).tolist(), float(np.median(background)),
        float((background > 0.1).mean()), symmetry, shape_symmetry, rules.neighbour_correlation(reduced) or 0.0,
        rules._flat_share(scaled)[0], float(np.hypot(gx, gy)[head].mean()), float(rows.mean() / height),
        float(ys.mean() / height - 0.5), float(xs.mean() / width - 0.5),
    ]  # fmt: skip


def grey(path: Path) -> NDArray[np.uint8]:
    return np.asarray(Image.open(path).convert("L"))


def extract(ood: Path, out: Path) -> None:
    from training.real_data import load_lgg, load_normal_heads
    from training.realism import RealismConfig, augment

    out.mkdir(parents=True, exist_ok=True)
    folders = DATA / "brain-tumor-mri" / "Training"
    split = json.loads(Path("weights/training_run/split.json").read_text(encoding="utf-8"))
    tables: dict[str, dict[str, list[float] | None]] = {"folders": {}, "augmented": {}, "real": {}, "ood": {}}
    for name in split["train"] + split["val"]:
        tables["folders"][name] = statistics(grey(folders / name))
    chosen = np.random.default_rng(5).choice(len(split["train"]), 1600, replace=False)
    for j, i in enumerate(chosen):
        image = grey(folders / split["train"][i])
        for copy in range(2):
            shown = augment(image, None, np.random.default_rng([7, copy, j]), RealismConfig())[0]
            tables["augmented"][f"{split['train'][i]}#{copy}"] = statistics(shown)
    for stack in load_lgg(DATA / "lgg-tcga") + load_normal_heads(DATA / "normal-heads"):
        for i, rendered in enumerate(stack.rendered):
            tables["real"][f"{stack.set_name}/{stack.name}/{i}"] = statistics(rendered)
    for path in sorted(p for p in ood.rglob("*") if p.suffix.lower() in (".png", ".jpg")):
        tables["ood"][f"{path.parent.name}/{path.name}"] = statistics(grey(path))
    for name, table in tables.items():
        (out / f"{name}.json").write_text(json.dumps(table), encoding="utf-8")


def score(folder: Path, rows_file: Path, percentile: float, min_head: float, columns: Sequence[int]) -> None:
    tables = {
        n: json.loads((folder / f"{n}.json").read_text(encoding="utf-8"))
        for n in ("folders", "augmented", "real", "ood")
    }
    split = json.loads(Path("weights/training_run/split.json").read_text(encoding="utf-8"))

    def rows_of(table: dict[str, list[float] | None], keys: Sequence[str]) -> NDArray[np.float64]:
        return np.asarray([table[k] for k in keys if table.get(k) is not None], dtype=np.float64).reshape(
            -1, len(NAMES)
        )

    fit = np.concatenate(
        [rows_of(tables["folders"], split["train"]), rows_of(tables["augmented"], list(tables["augmented"]))]
    )
    mean, spread = fit[:, columns].mean(0), fit[:, columns].std(0) + 1e-6
    covariance = np.cov(((fit[:, columns] - mean) / spread).T)
    precision = np.linalg.inv(0.9 * covariance + 0.1 * np.eye(len(columns)))

    def distance(values: NDArray[np.float64]) -> NDArray[np.float64]:
        z = (values[:, columns] - mean) / spread
        return np.where(values[:, 0] < min_head, -np.inf, np.einsum("ij,jk,ik->i", z, precision, z))

    validation = distance(rows_of(tables["folders"], split["val"]))
    threshold = float(np.percentile(validation, percentile))
    print(f"fit {len(fit)}, threshold {threshold:.1f}: validation {np.mean(validation > threshold):.2%} flagged")
    for set_name in ("lgg-flair", "lgg-t1gd", "normal-flair", "normal-t1"):
        values = rows_of(tables["real"], [k for k in tables["real"] if k.startswith(set_name + "/")])
        print(f"{set_name}: {np.mean(distance(values) > threshold):.2%} of {len(values)} slices flagged")
    flagged_now = set()
    for line in rows_file.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if row.get("intended_use") == "outside":
            flagged_now.add("/".join(Path(row["source"]).parts[-2:]))
    for group in sorted({k.split("/")[0] for k in tables["ood"]}):
        keys = [k for k in tables["ood"] if k.startswith(group + "/")]
        judged = [k for k in keys if tables["ood"][k] is not None]
        caught = {k for k, d in zip(judged, distance(rows_of(tables["ood"], judged)), strict=True) if d > threshold}
        by_rule = {k for k in keys if tables["ood"][k] is None}
        print(f"{group}: {len(keys)} pictures, {len(by_rule)} taken by a content rule, the score catches "
              f"{len(caught)} of the rest; installed guard {len(flagged_now & set(keys))}, "
              f"together {len(caught | by_rule | (flagged_now & set(keys)))}")  # fmt: skip


if __name__ == "__main__":
    if sys.argv[1] == "extract":
        extract(Path(sys.argv[2]), Path(sys.argv[3]))
    else:
        variant = sys.argv[6] if len(sys.argv) > 6 else "all"
        chosen = [i for i, n in enumerate(NAMES) if variant != "trimmed" or n not in SIZE]
        percentile = float(sys.argv[4]) if len(sys.argv) > 4 else 99.0
        score(
            Path(sys.argv[2]), Path(sys.argv[3]), percentile, float(sys.argv[5]) if len(sys.argv) > 5 else 0.0, chosen
        )

"""The same real validation slices with and without the skull: P(tumor) of one model on both copies.

``python compare_stripped.py ORIGINAL_TRACES STRIPPED_TRACES STRIPPED_ROOT``, from the repository root:
the traces are ``real_traces.json`` of ``validate-real`` on ``../shared/data`` and on the stripped copy
(``strip_volumes.py``).  Only slices that keep brain after stripping (at least 8 % of the slice non-zero)
and that no content rule takes in the stripped copy are compared, so the stripped copy's blank neck and vertex
slices do not count; the learned guard is left out (the traces hold every slice).
"""

import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from core.imaging.intended_use import content_reason
from core.imaging.render import render_for_model
from training.metrics import roc_auc
from training.real_data import nifti_axial_slices

MIN_BRAIN = 0.08


def stripped_slices(root: Path, key: str) -> list[np.ndarray]:
    """The stripped copy's slices of one trace key (``lgg-flair/PATIENT``, ``normal-t1/SubjN_T1``)."""
    group, name = key.split("/")
    if group.startswith("lgg"):
        sequence = "flair" if group.endswith("flair") else "t1gd"
        files = sorted((root / "lgg-tcga" / name).glob(f"*_{sequence}.jpg"), key=lambda p: int(p.name.split("_")[0]))
        return [np.asarray(Image.open(f).convert("L"), np.float32) for f in files]
    return nifti_axial_slices(root / "normal-heads" / f"{name}.nii.gz")


def main(original: Path, stripped: Path, root: Path) -> None:
    before = json.loads(original.read_text(encoding="utf-8"))
    after = json.loads(stripped.read_text(encoding="utf-8"))
    rows: dict[str, list[tuple[float, float, bool]]] = {}
    for key, trace in after.items():
        if key not in before or key.startswith("figshare"):
            continue
        slices = stripped_slices(root, key)
        assert len(slices) == len(trace["p_tumor"]) == len(before[key]["p_tumor"]), key
        for z, pixels in enumerate(slices):
            if np.count_nonzero(pixels > 8) < MIN_BRAIN * pixels.size or content_reason(render_for_model(pixels)):
                continue
            rows.setdefault(key.split("/")[0], []).append(
                (before[key]["p_tumor"][z], trace["p_tumor"][z], bool(trace["tumor"][z]))
            )
    print("set | slices (tumor) | with skull | stripped  (AUROC, called tumor on tumor-free / tumor slices)")
    for group, values in sorted(rows.items()):
        p0, p1, tumor = (np.array(v) for v in zip(*values, strict=True))
        tumor = tumor.astype(bool)
        cells = [f"{group} | {len(tumor)} ({tumor.sum()})"]
        for p in (p0, p1):
            auc = roc_auc(p, tumor)
            auroc = "-" if auc is None else f"{auc:.3f}"
            free = f"{100 * np.mean(p[~tumor] >= 0.5):.1f} %"
            found = f"{100 * np.mean(p[tumor] >= 0.5):.1f} %" if tumor.any() else "-"
            cells.append(f"{auroc}, {free} / {found}")
        print(" | ".join(cells))


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]))

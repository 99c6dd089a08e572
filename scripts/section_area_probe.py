"""Where along the head do a model's false "tumor" calls lie?  By the area of the head's cross-section.

Usage: python scripts/section_area_probe.py DATA TRACES (DATA: ../shared/data; TRACES: the
``real_traces.json`` that ``neuroreview-train validate-real`` wrote for the model)

Each slice's head section is measured on the model rendering (lightly blurred, above 15 % of its
99.5th percentile; each row and each column filled between its first and last head pixel, the smaller
of the two areas), in cm2: the NIfTI voxel size for the normal heads, about 0.9 mm in plane for the LGG
stacks (their README).  Small sections are the top of the head and the lowest slices; the table says how
many slices, tumor slices and false positives (P(tumor) >= 0.5 on a tumor-free slice) each band holds,
and what leaving the small sections out would do to the specificity and the series verdicts.
"""

import itertools
import json
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageFilter

from core.model.series_summary import DEFAULT_RUN, DEFAULT_THRESHOLD, run_scores
from training.real_data import load_lgg, load_normal_heads

LGG_PIXEL_MM2 = 0.9 * 0.9
BANDS_CM2 = (0, 25, 50, 75, 100, 150, 10_000)
CUTS_CM2 = (0, 50, 75, 100)


def section_area_px(rendered: NDArray[np.uint8]) -> int:
    """Pixels of the head's cross-section (0 for an empty slice)."""
    values = np.asarray(Image.fromarray(rendered).filter(ImageFilter.BoxBlur(2)), dtype=np.float32)
    top = float(np.percentile(values, 99.5))
    if top <= 0:
        return 0
    head = values > 0.15 * top

    def filled(mask: NDArray[np.bool_]) -> int:
        spans = [np.flatnonzero(line) for line in mask]
        return sum(int(s[-1] - s[0] + 1) for s in spans if s.size)

    return min(filled(head), filled(head.T))


def section_areas(data: Path) -> dict[str, list[float]]:
    """cm2 per slice, keyed like ``real_traces.json`` (``set/name``)."""
    areas = {}
    for stack in load_lgg(data / "lgg-tcga"):
        areas[f"{stack.set_name}/{stack.name}"] = [section_area_px(r) * LGG_PIXEL_MM2 / 100 for r in stack.rendered]
    for stack in load_normal_heads(data / "normal-heads"):
        path = stack.sources[0].rsplit("#", 1)[0]  # each source is "FILE#SLICE"
        dx, dy = nib.as_closest_canonical(nib.load(path)).header.get_zooms()[:2]
        areas[f"{stack.set_name}/{stack.name}"] = [section_area_px(r) * float(dx * dy) / 100 for r in stack.rendered]
    return areas


def series_p_tumor(p_tumor: list[float], areas: list[float], cut: float) -> float:
    """The series rule's P(tumor) over the slices whose head section is at least ``cut`` cm2."""
    kept = [p for p, area in zip(p_tumor, areas, strict=True) if area >= cut]
    return max(run_scores(kept, DEFAULT_RUN), default=0.0)


def main(data: Path, traces_file: Path) -> None:
    traces = json.loads(traces_file.read_text(encoding="utf-8"))
    areas = section_areas(data)
    for set_name in ("normal-flair", "normal-t1", "lgg-flair", "lgg-t1gd"):
        keys = [k for k in traces if k.startswith(set_name + "/")]
        area = np.concatenate([areas[k] for k in keys])
        p = np.concatenate([traces[k]["p_tumor"] for k in keys]).astype(float)
        tumor = np.concatenate([traces[k]["tumor"] for k in keys]).astype(bool)
        false_call = ~tumor & (p >= DEFAULT_THRESHOLD)
        print(f"\n{set_name}: {len(keys)} stacks, {len(p)} slices\n")
        print("| head section (cm2) | slices | tumor slices | false positives |\n|---|---:|---:|---:|")
        for low, high in itertools.pairwise(BANDS_CM2):
            band = (area >= low) & (area < high)
            upper = high if high < BANDS_CM2[-1] else ""
            print(f"| {low}-{upper} | {band.sum()} | {(band & tumor).sum()} | {(band & false_call).sum()} |")
        for cut in CUTS_CM2:
            kept = area >= cut
            specificity = 1 - (kept & false_call).sum() / max(1, (kept & ~tumor).sum())
            called = sum(series_p_tumor(traces[k]["p_tumor"], areas[k], cut) >= DEFAULT_THRESHOLD for k in keys)
            print(f"sections >= {cut} cm2 only: specificity {specificity:.3f}, tumor slices left out "
                  f"{(~kept & tumor).sum()}, series called tumor {called} of {len(keys)}")  # fmt: skip


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))

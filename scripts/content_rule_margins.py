"""How far the "nothing to classify" rules' thresholds lie from every brain slice of the data sets.

Usage: python scripts/content_rule_margins.py DATA (default ../shared/data)

For each set it renders every slice as the application does and reports the lowest neighbour correlation
(``core.imaging.intended_use.neighbour_correlation``), the highest flat share of the slices the rules keep
(``flat_share``, slices with at least ``MIN_FOREGROUND`` of foreground), the highest saturated share of the
head's rim of the slices the rules keep (``bone_ring``), the highest clipped ends of the slices the rules keep
(``clipped_ends``: saturated foreground where the inside is black enough, black inside where the foreground is
saturated enough), and how many slices the rules flag as blank, noise only, flat areas of single grey levels,
a head CT, or a CT through a display window.  A second table re-exports every kept slice through a narrower
display window, one that clips 5, 10 or 15 % of the head's pixels at each end (as a viewer export with a
tight window would), and counts the slices either CT rule then takes.  The tables in
docs/intended_use.md come from this script.
"""

import sys
from pathlib import Path

import numpy as np
from PIL import Image

from core.imaging.intended_use import (
    FOREGROUND_LEVEL,
    MAX_FLAT_SHARE,
    MIN_BLACK_INSIDE,
    MIN_FOREGROUND,
    MIN_NEIGHBOUR_CORRELATION,
    MIN_SATURATED_FOREGROUND,
    MIN_SATURATED_RIM,
    bone_ring,
    clipped_ends,
    content_reason,
    flat_share,
    neighbour_correlation,
)
from core.imaging.render import render_for_model
from training.real_data import load_lgg, load_normal_heads


def grey(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("L"))


def row(name: str, rendered: list[np.ndarray], reasons: list[str]) -> str:
    correlations = [c for c in (neighbour_correlation(r) for r in rendered) if c is not None]
    blank = sum(r.startswith("a blank slice") for r in reasons)
    noise = sum(r.startswith("noise only") for r in reasons)
    flat = sum(r.startswith("flat areas") for r in reasons)
    ct = sum(r.startswith("looks like a head CT") for r in reasons)
    windowed = sum(r.startswith("looks like a CT through") for r in reasons)
    lowest = f"{min(correlations):.2f}" if correlations else "-"
    kept = [r for r, reason in zip(rendered, reasons, strict=True) if not reason]
    shares = [share for share, foreground in map(flat_share, kept) if foreground >= MIN_FOREGROUND]
    highest = f"{max(shares):.2f}" if shares else "-"
    rims = [ring[0] for ring in map(bone_ring, kept) if ring is not None]
    rim = f"{max(rims):.2f}" if rims else "-"
    ends = [clipped_ends(r) for r in kept]
    white = max([w for w, b in ends if b >= MIN_BLACK_INSIDE], default=0.0)
    black = max([b for w, b in ends if w >= MIN_SATURATED_FOREGROUND], default=0.0)
    return (
        f"| {name} | {len(rendered):,} | {lowest} | {highest} | {rim} | {white:.3f} / {black:.3f} "
        f"| {blank} + {noise} + {flat} + {ct} + {windowed} |"
    )


CLIPPED_SHARES = (5, 10, 15)  # % of the head's pixels a narrower window clips at each end


def narrow_window(rendered: np.ndarray, clipped: int) -> np.ndarray:
    """The slice through a window from the ``clipped``-th to the (100 - ``clipped``)-th percentile of its head."""
    values = rendered.astype(np.float32)
    head = values[values > FOREGROUND_LEVEL * values.max()]
    low, high = np.percentile(head, [clipped, 100 - clipped])
    return (255 * np.clip((values - low) / max(high - low, 1e-6), 0, 1)).astype(np.uint8)


def narrow_row(name: str, kept: list[np.ndarray]) -> str:
    cells = []
    for clipped in CLIPPED_SHARES:
        taken = sum(content_reason(narrow_window(r, clipped)).startswith("looks like a") for r in kept)
        cells.append(f"{taken} ({100 * taken / max(len(kept), 1):.1f} %)")
    return f"| {name} | {len(kept):,} | " + " | ".join(cells) + " |"


def main() -> None:
    data = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("../shared/data")
    folders = sorted((data / "brain-tumor-mri").glob("*/*/*.jpg"))
    figshare = sorted(p for p in (data / "figshare-t1ce").glob("*/*") if p.parent.name != "masks")
    print(
        f"thresholds: correlation {MIN_NEIGHBOUR_CORRELATION}, flat share {MAX_FLAT_SHARE}, "
        f"saturated rim {MIN_SATURATED_RIM} (with a uniform brain), clipped ends {MIN_SATURATED_FOREGROUND} white "
        f"with {MIN_BLACK_INSIDE} black"
    )
    print(
        "| set | slices | lowest correlation (not blank) | highest flat share kept | highest saturated rim kept "
        "| highest clipped ends kept (white / black) | flagged (blank + noise + flat + head CT + windowed CT) |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    sets = {
        "class folders (Training + Testing)": [render_for_model(grey(p)) for p in folders],
        "figshare T1-CE": [render_for_model(grey(p)) for p in figshare],
        "LGG FLAIR + T1-Gd stacks": [r for s in load_lgg(data / "lgg-tcga") for r in s.rendered],
        "normal heads, every axial slice": [r for s in load_normal_heads(data / "normal-heads") for r in s.rendered],
    }
    reasons = {name: [content_reason(r) for r in rendered] for name, rendered in sets.items()}
    for name, rendered in sets.items():
        print(row(name, rendered, reasons[name]))
    print()
    print(
        "| set | slices kept | taken as CT (either rule) through a window clipping "
        + " | ".join(f"{c} %" for c in CLIPPED_SHARES)
        + " of the head at each end |"
    )
    print("|---|---:|" + "---:|" * len(CLIPPED_SHARES))
    for name, rendered in sets.items():
        print(narrow_row(name, [r for r, reason in zip(rendered, reasons[name], strict=True) if not reason]))


if __name__ == "__main__":
    main()

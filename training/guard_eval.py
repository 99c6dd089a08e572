"""The intended-use guard's flagged rates: in-distribution validation, real brain MR, out-of-distribution images.

Brain MR must stay inside (validation slices of the split, the real LGG and normal-head volumes); images that
are not brain MR must be flagged (an out-of-distribution folder of DICOM/PNG/JPEG files assembled from public
sources, see docs/intended_use.md).  A slice counts as flagged by a rule (a DICOM header rule, or pixels
that are blank or noise only) or by the learned pixel score, as the application decides.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from core.imaging.intended_use import content_reason, reason_key
from core.model.ood_guard import GuardStats
from training.guard_fit import Features

GUARD_BEGIN = "<!-- guard:begin -->"
GUARD_END = "<!-- guard:end -->"
Extract = Callable[[list[NDArray[np.uint8]]], tuple[NDArray[np.float32], NDArray[np.float32]]]


@dataclass
class SetRate:
    """Flagged slices of one evaluation set (``by_rule`` of them by a rule: DICOM header, blank or noise only)."""

    name: str
    slices: int
    flagged: int
    by_rule: int = 0
    should_flag: bool = False
    reasons: dict[str, int] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.flagged / self.slices if self.slices else float("nan")

    def to_json(self) -> dict[str, Any]:
        return {
            "slices": self.slices,
            "flagged": self.flagged,
            "flagged_rate": round(self.rate, 4),
            "by_rule": self.by_rule,
            "should_be_flagged": self.should_flag,
            "reasons": self.reasons,
        }


def features_rate(name: str, stats: GuardStats, features: Features, should_flag: bool = False) -> SetRate:
    flagged = int(np.sum(stats.scores(features.pooled, features.logits) > stats.threshold))
    return SetRate(name, len(features.labels), flagged, should_flag=should_flag)


def rendered_rate(
    name: str, stats: GuardStats, extract: Extract, rendered: list[NDArray[np.uint8]], should_flag: bool = False
) -> SetRate:
    """Flagged share of model-rendered slices: the pixel rule (blank or noise only) first, then the score."""
    reasons: Counter[str] = Counter()
    scored: list[NDArray[np.uint8]] = []
    for picture in rendered:
        reason = content_reason(picture)
        if reason:
            reasons[reason_key(reason)] += 1
        else:
            scored.append(picture)
    by_rule = sum(reasons.values())
    flagged = 0
    if scored:
        logits, pooled = extract(scored)
        flagged = int(np.sum(stats.scores(pooled, logits) > stats.threshold))
    reasons["learned pixel score"] = flagged
    return SetRate(name, len(rendered), by_rule + flagged, by_rule, should_flag=should_flag, reasons=dict(reasons))


def folder_rate(name: str, stats: GuardStats, extract: Extract, folder: Path, should_flag: bool = True) -> SetRate:
    """Every slice of the DICOM/PNG/JPEG files under ``folder``: header rules first, then the pixels."""
    from core.imaging import PixelStore, open_paths

    scan = open_paths([folder])
    store = PixelStore(max_megabytes=256)
    reasons: Counter[str] = Counter()
    unruled: list[NDArray[np.uint8]] = []
    by_rule = 0
    for ref in scan.all_slices():
        try:
            reason = store.metadata(ref).outside_use_reason
            rendered = None if reason else store.model_rendering(ref)
        except Exception:  # an unreadable slice is not counted; the application refuses it with an error
            continue
        if reason:
            by_rule += 1
            reasons[reason_key(reason)] += 1
        elif rendered is not None:
            unruled.append(rendered)
    pixels = rendered_rate(name, stats, extract, unruled)
    reasons.update(pixels.reasons)
    return SetRate(
        name,
        by_rule + pixels.slices,
        by_rule + pixels.flagged,
        by_rule + pixels.by_rule,
        should_flag=should_flag,
        reasons=dict(reasons),
    )


def rates_markdown(rates: list[SetRate], stats: GuardStats, command: str) -> str:
    """The table the model card and docs carry between the guard markers."""
    lines = [
        f"Intended-use guard: threshold {stats.threshold:.3f} on the combined score, calibrated so that "
        f"{stats.flagged_fraction:.0%} of the in-distribution validation slices are flagged.",
        "",
        "| set | should be | slices | flagged | rate | by a rule (header, blank or noise only) |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for r in rates:
        lines.append(
            f"| {r.name} | {'flagged' if r.should_flag else 'inside'} | {r.slices} | {r.flagged} | "
            f"{r.rate:.1%} | {r.by_rule} |"
        )
    lines += ["", f"Reproduce: `{command}`"]
    return "\n".join(lines)


def replace_guard_section(path: Path, section: str, heading: str = "## Intended-use guard") -> None:
    """Put ``section`` between the guard markers of a Markdown file (appended with a heading if absent)."""
    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    block = f"{GUARD_BEGIN}\n{section.rstrip()}\n{GUARD_END}"
    if GUARD_BEGIN in text and GUARD_END in text:
        head, rest = text.split(GUARD_BEGIN, 1)
        text = head + block + rest.split(GUARD_END, 1)[1]
    else:
        text = text.rstrip() + f"\n\n{heading}\n{block}\n"
    path.write_text(text, encoding="utf-8")

"""Where a learned intended-use guard flags real brain-MR slices, and what that does to false "tumor" calls.

The guard's targets count every slice of the validation volumes as brain MR. This script asks a narrower
question: are the slices it flags the ones the classifier gets wrong (the skull base and neck of the
normal heads), and how many tumor slices would it hide?

    python scripts/guard_where.py WEIGHTS DATA [OUT.json]

WEIGHTS: a weights folder whose config names guard statistics (for example a copy of ``weights/`` with
``training_run/guard_v0.5.0/intended_use_guard.npz`` installed); DATA: the folder holding ``lgg-tcga`` and
``normal-heads``.  Slices that the blank/noise rule takes are left out, as the application leaves them out.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from core.imaging.intended_use import content_reason
from core.model.classifier import Classifier
from training.real_data import Stack, load_lgg, load_normal_heads

BATCH = 32
SETS = ("normal-flair", "normal-t1", "lgg-flair", "lgg-t1gd")


def stack_record(classifier: Classifier, stack: Stack) -> dict[str, list[Any]]:
    """Per slice: P(tumor), the guard's reason ("" inside), the rule's reason and whether it shows tumor."""
    predictions = classifier.predict(stack.rendered, batch_size=BATCH)
    return {
        "p": [p.p_tumor for p in predictions],
        "guard": [p.outside_reason or "" for p in predictions],
        "rule": [content_reason(r) or "" for r in stack.rendered],
        "tumor": [bool(m.any()) for m in stack.masks],
    }


def summary(records: dict[str, dict[str, list[Any]]], set_name: str) -> str:
    """One line: flagged share, where in the stack, and the false and true "tumor" calls it would hide."""
    flagged_at: list[float] = []
    counted = false_calls = false_flagged = tumor = tumor_flagged = 0
    for key, record in records.items():
        if not key.startswith(set_name + "/"):
            continue
        last = max(len(record["p"]) - 1, 1)
        for i, (p, guard, rule, is_tumor) in enumerate(
            zip(record["p"], record["guard"], record["rule"], record["tumor"], strict=True)
        ):
            if rule:
                continue
            counted += 1
            if guard:
                flagged_at.append(i / last)
            if is_tumor:
                tumor += 1
                tumor_flagged += bool(guard)
            elif p >= 0.5:
                false_calls += 1
                false_flagged += bool(guard)
    position = np.asarray(flagged_at)
    return (
        f"{set_name}: {len(position)} of {counted} slices flagged ({len(position) / max(counted, 1):.1%}), "
        f"{int((position < 0.5).sum())} in the lower half of the stack; false 'tumor' calls {false_calls}, "
        f"{false_flagged} of them flagged; tumor slices flagged {tumor_flagged} of {tumor}"
    )


def main(argv: list[str]) -> int:
    if len(argv) not in (2, 3):
        print(__doc__)
        return 2
    classifier = Classifier.from_folder(Path(argv[0]))
    if classifier.guard is None:
        print(f"{argv[0]} names no guard statistics", file=sys.stderr)
        return 1
    data = Path(argv[1])
    stacks = load_normal_heads(data / "normal-heads") + load_lgg(data / "lgg-tcga")
    records = {f"{s.set_name}/{s.name}": stack_record(classifier, s) for s in stacks}
    if len(argv) == 3:
        Path(argv[2]).write_text(json.dumps(records), encoding="utf-8")
    for set_name in SETS:
        print(summary(records, set_name))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""``neuroreview-classify --series-out FILE``: one JSON line per series with the series verdict.

The verdict comes from :func:`core.model.series_summary.summarize_series`, the rule the workstation, the
exports and the training package's real-volume evaluation use.  A series none of whose slices could be
classified still gets a line (with ``error``), so every series opened is accounted for.  Slices outside the
intended use do not count in the verdict; ``n_excluded`` and ``excluded`` say how many and why.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TextIO

from core.export.records import RESEARCH_USE_STATEMENT
from core.imaging import Series
from core.model.prediction import Prediction
from core.model.series_summary import summarize_series

SliceKey = tuple[Path, int]  # (file, frame)


def series_row(series: Series, predictions: Mapping[SliceKey, Prediction]) -> dict[str, Any]:
    """The JSON object for one series: its verdict over the slices that were classified, in slice order."""
    keys = [(ref, (ref.path, ref.frame)) for ref in series.slices]
    classified = [(ref, predictions[key]) for ref, key in keys if key in predictions]
    row: dict[str, Any] = {
        "series_uid": series.uid,
        "series_number": series.number,
        "description": series.description,
        "slices": len(classified),
        "slices_in_series": len(series.slices),
    }
    if not classified:
        row["error"] = "no slice of this series could be classified"
        return row
    summary = summarize_series([p for _, p in classified], stacked=series.is_stack)
    key_ref = classified[summary.key_index][0]
    row.update(
        label=summary.label,
        p_tumor=round(summary.p_tumor, 6),
        key_source=str(key_ref.path),
        key_frame=int(key_ref.frame),
        n_suspicious=summary.n_suspicious,
        votes=summary.votes,
        threshold=summary.threshold,
        rule=summary.rule,
        n_excluded=summary.n_excluded,
        use=RESEARCH_USE_STATEMENT,
    )
    if summary.n_excluded:
        row["excluded"] = summary.excluded_text()
    if not summary.has_verdict:  # every slice outside the intended use: no verdict, no P(tumor)
        row.update(p_tumor=None, key_source=None, key_frame=None)
    return row


def write_series_rows(stream: TextIO, series: list[Series], predictions: Mapping[SliceKey, Prediction]) -> int:
    """Write one JSON line per series; returns the number of lines."""
    for item in series:
        stream.write(json.dumps(series_row(item, predictions), ensure_ascii=False) + "\n")
    return len(series)

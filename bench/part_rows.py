"""The table rows of each benchmark part: which figures are shown, with their targets, met or not.

A row is a plain dict (it is stored in ``bench/results/<part>.json``): ``figure`` (label), ``value``,
optional ``target`` (text such as ``"<= 1.0 s"``) and ``met`` (True, False, or None when there is no
target or no value), and for the classifier ``peer`` and ``ratio``. Parts without a spec here get
one row per figure, without targets.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bench.report import classifier_rows, flatten

Row = dict[str, Any]

_OPS: dict[str, Callable[[float, float], bool]] = {"<=": operator.le, ">=": operator.ge, "<": operator.lt}


@dataclass(frozen=True)
class Figure:
    """One figure of a part's results: its key, label, unit and optional target (``("<=", 1.0)``)."""

    key: str
    label: str
    unit: str = ""
    target: tuple[str, float] | None = None


def target_row(label: str, value: Any, unit: str = "", target: tuple[str, float] | None = None) -> Row:
    """A row whose ``met`` says whether ``value`` meets ``target`` (None without a target or a number)."""
    row: Row = {"figure": label, "value": value}
    if target is not None:
        op, limit = target
        row["target"] = f"{op} {limit:g}{' ' + unit if unit else ''}"
        row["met"] = _OPS[op](value, limit) if isinstance(value, int | float) else None
    return row


SPECS: dict[str, tuple[Figure, ...]] = {
    "guard": (
        Figure("guard_classify_heatmap_s", "classify + heatmap of a 24-slice series, without the guard", "s"),
        Figure("guard_classify_heatmap_with_guard_s", "the same with the guard (and the header rules)", "s"),
        Figure("guard_time_ratio", "ratio with / without", target=("<=", 1.10)),
    ),
    "imaging": (
        Figure("imaging_index_1000_files_s", "index 1,000 DICOM files (headers only): wall", "s", ("<", 1.0)),
        Figure("imaging_index_1000_files_cpu_s", "the same: CPU time", "s"),
        Figure(
            "imaging_open_200_slice_series_and_show_first_s",
            "open a 200-slice 512 x 512 series and show its first slice",
            "s",
            ("<", 1.0),
        ),
        Figure("imaging_first_slice_display_s", "first display of a slice (decode + auto window + VOI to 8 bits)", "s"),
    ),
    "gui": (
        Figure("window_visible_s", "window visible after launch", "s", ("<=", 1.0)),
        Figure("first_prediction_s", "first prediction on screen after launch", "s", ("<=", 10.0)),
        Figure("model_load_s", "model load (in the helper process)", "s"),
        Figure("startup_launches", "launches measured (the three times above are their medians)"),
        Figure("max_stall_model_load_ms", "worst event-loop stall while the model loads", "ms", ("<=", 100.0)),
        Figure("max_stall_series_ms", "worst event-loop stall while a series runs", "ms", ("<=", 100.0)),
    ),
    "viewer": (
        Figure("mpr_3plane_s", "three MPR reformats of a 256 x 256 x 176 volume", "s"),
        Figure("mpr_peer_s", "plain numpy, the same three re-orderings (peer)", "s"),
        Figure("mpr_ratio", "MPR ratio (ours / numpy)"),
        Figure("mpr_thick_s", "the same volume with 3 mm slices", "s"),
        Figure("sync_step_ms", "one synchronised step of four viewports: median", "ms"),
        Figure("sync_max_stall_ms", "worst event-loop stall while four viewports scroll in sync", "ms", ("<=", 100.0)),
    ),
    "dicom": (
        Figure("dicom_retrieve_ours_s", "retrieve a 150-slice study, NeuroReview (C-GET)", "s"),
        Figure("dicom_retrieve_getscu_s", "the same, getscu as installed", "s"),
        Figure("dicom_retrieve_getscu_nodelay_s", "the same, getscu with TCP_NODELAY=1", "s"),
        Figure("dicom_retrieve_ratio_vs_getscu", "throughput ratio ours / getscu as installed", target=(">=", 0.8)),
        Figure(
            "dicom_retrieve_ratio_vs_getscu_nodelay", "throughput ratio ours / getscu TCP_NODELAY=1", target=(">=", 0.8)
        ),
        Figure("dicom_retrieve_ratio_of_fastest_runs_vs_getscu_nodelay", "the same, fastest run of each"),
    ),
    "package": (
        Figure("size_gb", "size of dist/NeuroReview", "GB", ("<=", 1.2)),
        Figure("window_visible_s", "window shown after launch, warm file cache (median)", "s", ("<=", 2.0)),
        Figure("window_visible_first_s", "window shown after launch, first launch", "s"),
        Figure("self_test_s", "--self-test", "s"),
    ),
}


def generic_rows(figures: dict[str, Any]) -> list[Row]:
    """One row per (flattened) figure, no targets: parts without a spec."""
    return [{"figure": name, "value": value} for name, value in flatten("", figures)]


def part_rows(part: str, figures: dict[str, Any]) -> list[Row]:
    """The rows of one part's figures (those of its spec that were measured, else every figure)."""
    spec = SPECS.get(part)
    if spec is None:
        return generic_rows(figures)
    return [
        target_row(f.label + (f" ({f.unit})" if f.unit else ""), figures[f.key], f.unit, f.target)
        for f in spec
        if figures.get(f.key) is not None
    ]


def classifier_part_rows(results: dict[str, Any]) -> list[Row]:
    """The classifier rows (ours, peer, ratio) with the two peer-ratio targets, from a run's results."""
    rows: list[Row] = []
    for figure, ours, peer, ratio, target in classifier_rows(results):
        row: Row = {"figure": figure, "value": ours, "peer": peer, "ratio": ratio}
        if target:
            op, limit = target.split()[:2]
            row["target"] = target
            row["met"] = _OPS[op](ratio, float(limit)) if isinstance(ratio, int | float) else None
        rows.append(row)
    return rows

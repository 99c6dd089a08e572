"""Per-slice results as CSV and JSON, for one series or a batch.

Columns: source, frame, sop_instance_uid, series_instance_uid, label, p_tumor, one ``p_<class>``
column per class, intended_use ("inside"/"outside"), intended_use_reason (text "Outside intended use:
<reason>", empty inside), model name/version/weights SHA-256, device, precision, ms and the
research-use statement.  With ``deidentify`` the source path is replaced by the slice's
position and the UIDs are remapped through the export's :class:`UidMap`.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterable, Sequence
from typing import Any

from core.export.destination import atomic_output, check_destination
from core.export.errors import ExportError
from core.export.records import RESEARCH_USE_STATEMENT, AlgorithmInfo, SliceResult, software_version
from core.export.uid_map import UidMap
from core.model.prediction import outside_text
from core.model.series_summary import SeriesSummary


def result_rows(
    results: Sequence[SliceResult],
    algorithm: AlgorithmInfo | None = None,
    *,
    deidentify: bool = False,
    uid_map: UidMap | None = None,
) -> list[dict[str, Any]]:
    """One flat dict per slice (see module doc for the columns)."""
    uid_map = uid_map if uid_map is not None else UidMap()
    rows: list[dict[str, Any]] = []
    for index, result in enumerate(results):
        pred = result.prediction
        header = result.header
        sop_uid = str(header.get("SOPInstanceUID", "")) if header is not None else ""
        series_uid = str(header.get("SeriesInstanceUID", "")) if header is not None else ""
        if deidentify:
            sop_uid, series_uid = uid_map(sop_uid), uid_map(series_uid)
        row: dict[str, Any] = {
            "source": f"slice {index + 1}" if deidentify else result.source,
            "frame": result.frame,
            "sop_instance_uid": sop_uid,
            "series_instance_uid": series_uid,
            "label": pred.label,
            "p_tumor": round(float(pred.p_tumor), 6),
        }
        for name, p in zip(pred.class_names, pred.probabilities, strict=True):
            row[f"p_{name}"] = round(float(p), 6)
        row["intended_use"] = "inside" if pred.inside_intended_use else "outside"
        row["intended_use_reason"] = "" if pred.inside_intended_use else outside_text(pred.outside_reason)
        row.update(
            {
                "model_name": algorithm.name if algorithm else "",
                "model_version": algorithm.version if algorithm else "",
                "weights_sha256": algorithm.weights_sha256 if algorithm else pred.model_sha256,
                "device": pred.device,
                "precision": pred.precision,
                "ms": round(float(pred.milliseconds), 1),
                "use": RESEARCH_USE_STATEMENT,
            }
        )
        rows.append(row)
    return rows


def _fieldnames(rows: Iterable[dict[str, Any]]) -> list[str]:
    names: dict[str, None] = {}
    for row in rows:
        names.update(dict.fromkeys(row))
    return list(names)


def write_results_csv(
    path: str | os.PathLike[str],
    rows: Sequence[dict[str, Any]],
    *,
    sources: Iterable[str | os.PathLike[str]] = (),
    allow_beside_source: bool = False,
) -> None:
    """Write ``rows`` (from :func:`result_rows`) as UTF-8 CSV with a header line."""
    if not rows:
        raise ExportError("there are no results to write")
    target = check_destination(path, sources, allow_beside_source=allow_beside_source)
    with atomic_output(target) as tmp, open(tmp, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=_fieldnames(rows), restval="")
        writer.writeheader()
        writer.writerows(rows)


def write_results_json(
    path: str | os.PathLike[str],
    rows: Sequence[dict[str, Any]],
    *,
    algorithm: AlgorithmInfo | None = None,
    summary: SeriesSummary | None = None,
    sources: Iterable[str | os.PathLike[str]] = (),
    allow_beside_source: bool = False,
) -> None:
    """Write ``rows`` as one JSON document with the software, algorithm and series summary."""
    if not rows:
        raise ExportError("there are no results to write")
    target = check_destination(path, sources, allow_beside_source=allow_beside_source)
    document: dict[str, Any] = {
        "statement": RESEARCH_USE_STATEMENT,
        "software": {"name": "NeuroReview", "version": software_version()},
        "algorithm": (
            {"name": algorithm.name, "version": algorithm.version, "weights_sha256": algorithm.weights_sha256}
            if algorithm
            else None
        ),
        "series_summary": summary.as_record() if summary else None,
        "results": list(rows),
    }
    with atomic_output(target) as tmp:
        tmp.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")

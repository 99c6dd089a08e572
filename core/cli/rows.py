"""Output rows of ``neuroreview-classify``: every input file gets at least one row - one per classified
slice, one per file that could not be read (error row) and one per file that holds no image (skipped
row: structured reports, presentation states, raw data, DICOMDIR).

JSON Lines (one object per line)::

    {"source": "<path>", "frame": 0, "label": "glioma", "probabilities": {"glioma": 0.97, ...},
     "p_tumor": 0.99, "model_sha256": "...", "device": "CPU", "precision": "float32", "ms": 91.2,
     "intended_use": "inside", "guard_score": -0.4, "use": "Research use only - not for diagnostic use"}
    {"source": "<ct.dcm>", "frame": 0, ..., "intended_use": "outside",
     "intended_use_reason": "modality CT (CT), not MR", ...}
    {"source": "<path>", "error": "<message>", "error_type": "<ExceptionName>"}
    {"source": "<path>", "skipped": "<why the file holds no image>"}

A slice outside the intended use (DICOM header rules, or the weights' learned pixel score) keeps its
probabilities for research use, but they are no answer: ``intended_use_reason`` says why.
``guard_score`` is absent when the weights carry no learned guard statistics.

CSV carries the same fields with one ``p_<class>`` column per class and empty cells where a
field does not apply (``error``/``error_type``/``skipped`` on slice rows, the rest on error and skipped rows).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, TextIO

from core.export.records import RESEARCH_USE_STATEMENT
from core.model.prediction import Prediction

FORMATS = ("jsonl", "csv")


def slice_row(source: Path, frame: int, prediction: Prediction, heatmap: Path | None = None) -> dict[str, Any]:
    """The JSON object for one classified slice."""
    row: dict[str, Any] = {"source": str(source), "frame": int(frame), **prediction.as_record()}
    if heatmap is not None:
        row["heatmap"] = str(heatmap)
    row["use"] = RESEARCH_USE_STATEMENT  # every exported result says it (as the GUI's CSV/JSON do)
    return row


def error_row(source: Path, message: str, error_type: str) -> dict[str, Any]:
    """The JSON object for one file (or frame) that could not be read."""
    return {"source": str(source), "error": message, "error_type": error_type}


def skipped_row(source: Path, reason: str) -> dict[str, Any]:
    """The JSON object for one file that holds no image (nothing to classify, nothing wrong)."""
    return {"source": str(source), "skipped": reason}


class RowWriter(Protocol):
    def write(self, row: dict[str, Any]) -> None: ...


class JsonlWriter:
    """One compact JSON object per line."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, row: dict[str, Any]) -> None:
        self._stream.write(json.dumps(row, ensure_ascii=False) + "\n")
        self._stream.flush()


class CsvWriter:
    """Flat CSV with a header; probabilities become ``p_<class>`` columns."""

    def __init__(self, stream: TextIO, class_names: Sequence[str]) -> None:
        self._classes = list(class_names)
        self.columns = [
            "source",
            "frame",
            "label",
            *[f"p_{name}" for name in self._classes],
            "p_tumor",
            "model_sha256",
            "device",
            "precision",
            "ms",
            "intended_use",
            "intended_use_reason",
            "guard_score",
            "heatmap",
            "saliency_map",
            "use",
            "error",
            "error_type",
            "skipped",
        ]
        self._stream = stream
        self._writer = csv.DictWriter(stream, fieldnames=self.columns, extrasaction="ignore", lineterminator="\n")
        self._writer.writeheader()

    def write(self, row: dict[str, Any]) -> None:
        flat = {k: v for k, v in row.items() if k != "probabilities"}
        for name, value in row.get("probabilities", {}).items():
            flat[f"p_{name}"] = value
        self._writer.writerow(flat)
        self._stream.flush()


def make_writer(fmt: str, stream: TextIO, class_names: Sequence[str]) -> RowWriter:
    """Writer for ``fmt`` ("jsonl" or "csv")."""
    if fmt == "csv":
        return CsvWriter(stream, class_names)
    return JsonlWriter(stream)

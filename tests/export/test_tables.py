"""CSV and JSON of per-slice results."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from core.export.errors import DestinationError, ExportError
from core.export.records import SliceResult
from core.export.tables import result_rows, write_results_csv, write_results_json
from core.export.uid_map import UidMap
from core.model.series_summary import summarize_series
from export.helpers import ALGORITHM, CLASS_NAMES, PATIENT_NAME, Series


def test_csv_round_trip(tmp_path: Path, slice_results: list[SliceResult]) -> None:
    target = tmp_path / "out" / "results.csv"
    write_results_csv(target, result_rows(slice_results, ALGORITHM))
    with open(target, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 3
    assert rows[1]["label"] == "glioma" and rows[1]["source"] == slice_results[1].source
    assert float(rows[1]["p_glioma"]) == pytest.approx(slice_results[1].prediction.probability_of("glioma"), abs=1e-6)
    assert {f"p_{n}" for n in CLASS_NAMES} <= set(rows[0])
    assert rows[0]["weights_sha256"] == ALGORITHM.weights_sha256
    assert rows[0]["use"] == "Research use only - not for diagnostic use"


def test_json_document(tmp_path: Path, slice_results: list[SliceResult]) -> None:
    target = tmp_path / "results.json"
    summary = summarize_series([r.prediction for r in slice_results])
    write_results_json(target, result_rows(slice_results, ALGORITHM), algorithm=ALGORITHM, summary=summary)
    document = json.loads(target.read_text(encoding="utf-8"))
    assert document["statement"] == "Research use only - not for diagnostic use"
    assert document["algorithm"]["weights_sha256"] == ALGORITHM.weights_sha256
    assert document["series_summary"]["label"] == "glioma"
    assert [r["label"] for r in document["results"]] == ["notumor", "glioma", "glioma"]


def test_deidentified_rows_hide_paths_and_remap_uids(
    tmp_path: Path, slice_results: list[SliceResult], mr_series: Series
) -> None:
    uid_map = UidMap()
    rows = result_rows(slice_results, ALGORITHM, deidentify=True, uid_map=uid_map)
    text = json.dumps(rows)
    assert "patient_doe" not in text and PATIENT_NAME not in text
    assert not any(uid in text for uid in mr_series.source_uids)
    assert (
        rows[0]["series_instance_uid"]
        == rows[1]["series_instance_uid"]
        == uid_map(str(mr_series.headers[0].SeriesInstanceUID))
    )


def test_refusals(tmp_path: Path, slice_results: list[SliceResult], mr_series: Series) -> None:
    with pytest.raises(ExportError, match="no results"):
        write_results_csv(tmp_path / "x.csv", [])
    with pytest.raises(DestinationError):
        write_results_csv(mr_series.folder / "x.csv", result_rows(slice_results), sources=mr_series.paths)
    assert not (mr_series.folder / "x.csv").exists()


def test_rows_say_outside_intended_use_and_why(slice_results) -> None:  # type: ignore[no-untyped-def]
    import dataclasses

    from core.export.tables import result_rows

    outside = dataclasses.replace(slice_results[0].prediction, outside_reason="body part PELVIS, not head or brain")
    rows = result_rows([dataclasses.replace(slice_results[0], prediction=outside), slice_results[1]])
    assert rows[0]["intended_use"] == "outside"
    assert rows[0]["intended_use_reason"] == "Outside intended use: body part PELVIS, not head or brain"
    assert rows[1]["intended_use"] == "inside" and rows[1]["intended_use_reason"] == ""

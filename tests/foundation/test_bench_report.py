"""The generated benchmark page: per-part records, targets met or not, and the committed page up to date."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import pytest

from bench import run as bench_run
from bench.part_rows import part_rows
from bench.record import DOCS_PAGE, RECORD_DIR, load_records, render_page, save_record, write_page


def _record(part: str, date: str, figures: dict) -> dict:
    return {
        "part": part,
        "date": date,
        "machine": "test CPU, 2 cores",
        "load_1min": 0.5,
        "weights": None,
        "command": f"python -m bench.{part}_bench",
        "note": "",
        "rows": part_rows(part, figures),
        "figures": figures,
    }


def test_targets_are_marked_met_and_not_met() -> None:
    rows = part_rows("gui", {"window_visible_s": 0.8, "max_stall_model_load_ms": 150.0, "unlisted": 3})
    assert [(r["figure"], r["met"]) for r in rows] == [
        ("window visible after launch (s)", True),
        ("worst event-loop stall while the model loads (ms)", False),
    ]
    page = render_page(
        {"gui": _record("gui", "2026-01-02 03:04 UTC", {"window_visible_s": 0.8, "max_stall_model_load_ms": 150.0})}
    )
    assert "| window visible after launch (s) | 0.8 | <= 1 s: met |" in page
    assert "| worst event-loop stall while the model loads (ms) | 150 | <= 100 ms: **not met** |" in page
    assert "- Run: 2026-01-02 03:04 UTC." in page and "1-minute load average 0.5" in page


def test_a_part_without_a_spec_lists_every_figure() -> None:
    assert part_rows("new", {"a_s": 1.5, "nested": {"b": 2}}) == [
        {"figure": "a_s", "value": 1.5},
        {"figure": "nested / b", "value": 2},
    ]


def test_a_partial_run_keeps_the_other_parts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    records, page = tmp_path / "results", tmp_path / "results.md"
    save_record(_record("imaging", "2020-01-01 00:00 UTC", {"imaging_index_1000_files_s": 0.5}), records)
    save_record(_record("good", "2020-01-01 00:00 UTC", {"figure_s": 9.0}), records)
    good = types.ModuleType("bench.good_bench")
    good.run = lambda: {"figure_s": 1.5}  # type: ignore[attr-defined]
    bad = types.ModuleType("bench.bad_bench")
    bad.run = lambda: {"error": "no display"}  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "bench.good_bench", good)
    monkeypatch.setitem(sys.modules, "bench.bad_bench", bad)
    monkeypatch.setattr(bench_run, "other_benches", lambda: ["bad_bench", "good_bench"])
    save_record(_record("bad", "2020-01-01 00:00 UTC", {"figure_s": 7.0}), records)
    args = ["--only", "good", "bad", "--out-dir", str(tmp_path), "--record-dir", str(records), "--docs-page", str(page)]
    assert bench_run.main(args) == 0

    kept = load_records(records)
    assert list(kept) == ["imaging", "bad", "good"]  # known parts first, the classifier did not run
    assert kept["good"]["figures"] == {"figure_s": 1.5} and kept["good"]["date"] != "2020-01-01 00:00 UTC"
    assert kept["good"]["command"] == "python -m bench.run " + " ".join(args)
    assert kept["bad"]["figures"] == {"figure_s": 7.0}  # a failed part keeps its previous record
    text = page.read_text(encoding="utf-8")
    assert "## Opening images" in text and "- Run: 2020-01-01 00:00 UTC." in text
    assert "| figure_s | 1.5 |  |" in text and "| figure_s | 7 |  |" in text
    assert "## Classifier" not in text and "classifier" not in json.loads((tmp_path / "results.json").read_text())


def test_the_committed_page_is_generated_from_the_committed_records(tmp_path: Path) -> None:
    """docs/benchmark_results.md must be what `python -m bench.record` writes from bench/results/*.json."""
    assert sorted(p.stem for p in RECORD_DIR.glob("*.json")) == sorted(load_records())
    regenerated = write_page(RECORD_DIR, tmp_path / "page.md")
    assert DOCS_PAGE.read_text(encoding="utf-8") == regenerated, "run `python -m bench.record` and commit the page"

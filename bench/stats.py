"""Timing helpers shared by every benchmark (wall-clock, ``time.perf_counter``)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any


def percentile(values: list[float], q: float) -> float:
    """Linear-interpolated percentile ``q`` (0..100) of ``values``."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    pos = (len(ordered) - 1) * q / 100.0
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def summarise_ms(seconds: list[float]) -> dict[str, Any]:
    """Median, p95, min and count of a list of durations, in milliseconds."""
    ms = [s * 1000.0 for s in seconds]
    return {
        "median": round(statistics.median(ms), 2),
        "p95": round(percentile(ms, 95), 2),
        "min": round(min(ms), 2),
        "n": len(ms),
    }


def time_calls(fn: Callable[[], object], repeats: int, warmup: int = 3) -> list[float]:
    """Durations (s) of ``repeats`` calls of ``fn`` after ``warmup`` untimed calls."""
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def throughput(fn: Callable[[], object], items: int, repeats: int = 3) -> float:
    """Items per second of the best of ``repeats`` timed calls (one warm-up call first)."""
    best = min(time_calls(fn, repeats, warmup=1))
    return round(items / best, 2)

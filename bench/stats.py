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


def timed(fn: Callable[[], object]) -> float:
    """Wall time (s) of one call of ``fn``."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def best_rate(seconds: list[float], items: int) -> float:
    """Items per second of the fastest of several timed runs over ``items`` items."""
    return round(items / min(seconds), 2)

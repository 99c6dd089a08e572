"""Where and in what precision the classifier runs: GPU when TensorFlow sees one, else the CPU.

Three small decisions, each testable without a GPU:

* :func:`configure_gpus` lists the GPUs TensorFlow sees and turns memory growth on;
* :func:`run_with_oom_backoff` runs batches and, on an out-of-memory error, retries with half the
  batch down to 1, then falls back to the CPU;
* :func:`choose_precision` picks ``bfloat16`` on the CPU only when the CPU supports it, a self-check
  shows it agrees with ``float32`` and it is faster (``NEUROREVIEW_PRECISION`` forces either).

TensorFlow is imported inside the functions, never at module import.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from numpy.typing import NDArray

CPU = "CPU"
GPU = "GPU"
FLOAT32 = "float32"
BFLOAT16 = "bfloat16"
PRECISION_ENV = "NEUROREVIEW_PRECISION"
AGREEMENT_TOLERANCE = 0.02

T = TypeVar("T")
R = TypeVar("R")


def configure_gpus() -> list[str]:
    """Names of the GPUs TensorFlow sees, with memory growth turned on for each."""
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    for gpu in gpus:
        # RuntimeError: already initialised by an earlier classifier; keep its setting
        with contextlib.suppress(RuntimeError, ValueError):
            tf.config.experimental.set_memory_growth(gpu, True)
    return [gpu.name for gpu in gpus]


def keep_numpy_blas_on_one_thread() -> None:
    """Run numpy's BLAS on one thread in this process, for good.

    OpenBLAS threads spin-wait after each call; in a process that runs the classifier they take the cores
    TensorFlow's own thread pool needs (after the guard's small matrix products, the next batch ran slower).
    numpy's work here is small, so one thread loses nothing.
    """
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")


def tf_device(device: str) -> str:
    """TensorFlow device string for ``"CPU"`` / ``"GPU"``."""
    return "/GPU:0" if device == GPU else "/CPU:0"


def oom_errors() -> tuple[type[BaseException], ...]:
    """Exception types that mean "the device ran out of memory"."""
    import tensorflow as tf

    return (tf.errors.ResourceExhaustedError,)


@dataclass
class BackoffReport:
    """What :func:`run_with_oom_backoff` had to do: retries, final batch size, CPU fallback."""

    device: str
    batch_size: int
    oom_retries: int = 0
    fell_back_to_cpu: bool = False
    notes: list[str] = field(default_factory=list)

    def as_extra(self) -> dict[str, Any]:
        """Keys for ``Prediction.extra`` (empty when nothing unusual happened)."""
        if not self.oom_retries and not self.fell_back_to_cpu:
            return {}
        return {
            "oom_retries": self.oom_retries,
            "final_batch_size": self.batch_size,
            "fell_back_to_cpu": self.fell_back_to_cpu,
            "device_notes": list(self.notes),
        }


def run_with_oom_backoff(
    items: Sequence[T],
    run: Callable[[Sequence[T], str], list[R]],
    *,
    device: str,
    batch_size: int,
    errors: tuple[type[BaseException], ...] | None = None,
) -> tuple[list[R], BackoffReport]:
    """Run ``run(chunk, device)`` over ``items`` in chunks of ``batch_size``, shrinking on OOM.

    On one of ``errors`` (default: TensorFlow's ResourceExhaustedError) the same chunk is retried
    with half the batch size, down to 1; if a single item still does not fit on the GPU the rest of
    the run goes to the CPU.  An OOM on the CPU at batch 1 is re-raised.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    catch = errors if errors is not None else oom_errors()
    report = BackoffReport(device=device, batch_size=batch_size)
    results: list[R] = []
    start = 0
    while start < len(items):
        chunk = items[start : start + report.batch_size]
        try:
            out = run(chunk, report.device)
        except catch as exc:
            if report.batch_size > 1:
                report.batch_size = max(1, report.batch_size // 2)
                report.oom_retries += 1
                report.notes.append(f"out of memory on {report.device}; retrying with batch {report.batch_size}")
                continue
            if report.device != CPU:
                report.notes.append(f"out of memory on {report.device} at batch 1; fell back to the CPU")
                report.device = CPU
                report.fell_back_to_cpu = True
                report.batch_size = batch_size
                continue
            raise exc
        results.extend(out)
        start += len(chunk)
    return results, report


def cpu_supports_bfloat16(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    """True when the CPU has native bfloat16 arithmetic (x86 AVX512_BF16 / AMX-BF16, Arm BF16)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        text = cpuinfo.read_text(encoding="ascii", errors="ignore")
    except OSError:
        return False
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            flags = set(value.split())
            return bool(flags & {"avx512_bf16", "amx_bf16", "bf16"})
    return False


def precision_override() -> str | None:
    """``float32`` / ``bfloat16`` from ``$NEUROREVIEW_PRECISION``, ``None`` when unset.

    Raises ValueError for any other value so that a typo does not silently change the precision.
    """
    value = os.environ.get(PRECISION_ENV, "").strip().lower()
    if not value:
        return None
    if value not in (FLOAT32, BFLOAT16):
        raise ValueError(f"{PRECISION_ENV} must be {FLOAT32!r} or {BFLOAT16!r}, not {value!r}")
    return value


def probabilities_agree(
    reference: NDArray[np.floating], candidate: NDArray[np.floating], tolerance: float = AGREEMENT_TOLERANCE
) -> bool:
    """Same predicted class for every row and every probability within ``tolerance``."""
    ref = np.asarray(reference, dtype=np.float64)
    cand = np.asarray(candidate, dtype=np.float64)
    if ref.shape != cand.shape:
        return False
    same_label = bool(np.all(ref.argmax(axis=-1) == cand.argmax(axis=-1)))
    return same_label and float(np.max(np.abs(ref - cand), initial=0.0)) <= tolerance


@dataclass(frozen=True)
class PrecisionDecision:
    """The precision chosen and why (shown in the about box and in ``Prediction.extra``)."""

    precision: str
    reason: str


def choose_precision(
    *,
    device: str,
    override: str | None,
    cpu_bf16: bool,
    agrees: Callable[[], bool],
    faster: Callable[[], bool],
) -> PrecisionDecision:
    """Pick ``float32`` or ``bfloat16``; the self-checks run lazily and only when they matter."""
    if override is not None:
        return PrecisionDecision(override, f"forced by {PRECISION_ENV}")
    if device != CPU:
        return PrecisionDecision(FLOAT32, "float32 on the GPU")
    if not cpu_bf16:
        return PrecisionDecision(FLOAT32, "the CPU has no native bfloat16")
    if not agrees():
        return PrecisionDecision(FLOAT32, "bfloat16 disagreed with float32 on the probe images")
    if not faster():
        return PrecisionDecision(FLOAT32, "bfloat16 was not faster than float32")
    return PrecisionDecision(BFLOAT16, "bfloat16 agrees with float32 and is faster on this CPU")


def probe_slices(size: int = 96, count: int = 4) -> list[NDArray[np.uint8]]:
    """Deterministic head-like uint8 test slices for the precision self-check.

    An ellipse of soft tissue with seeded texture and one bright blob at a different place in each
    slice; no patient data.
    """
    rng = np.random.default_rng(20240611)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64) / (size - 1) * 2 - 1
    slices = []
    for i in range(count):
        head = ((xx / 0.8) ** 2 + (yy / 0.9) ** 2) <= 1.0
        img = np.where(head, 90.0, 0.0) + rng.normal(0, 12, (size, size)) * head
        cx, cy = np.cos(i * 1.7) * 0.4, np.sin(i * 1.7) * 0.4
        img += 150.0 * np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * (0.08 + 0.04 * i) ** 2))
        slices.append(np.clip(img, 0, 255).astype(np.uint8))
    return slices

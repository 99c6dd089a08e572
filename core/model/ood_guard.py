"""The learned half of the intended-use guard: how unlike the training images a slice's pixels are.

Two scores that fail differently are combined (Lee et al. 2018, Mahalanobis distance on penultimate
features; Liu et al. 2020, energy of the logits):

* ``feature``: log of the smallest Mahalanobis distance between the slice's pooled last-convolution
  features and a training class mean (class-conditional means, one shared covariance);
* ``energy``: ``-logsumexp(logits)`` (low for a confident in-distribution answer).

Each is standardised with the training images' median and spread, the combined score is their weighted
sum, and the threshold is calibrated on validation images so that about 1 % of them lie above it.  The
statistics are a small float32 ``.npz`` beside the weights; apart from reading that file, this module only
does numpy arithmetic.

Research use only - not for diagnostic use.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:  # pragma: no cover
    from core.model.model_config import ModelConfig

GUARD_SCHEMA = "neuroreview.intended-use-guard/1"
DEFAULT_FLAGGED_FRACTION = 0.01
DEFAULT_SHRINKAGE = 0.05
_ARRAYS = ("whitening", "whitened_means", "center", "scale", "weights", "threshold")


class GuardStatsError(ValueError):
    """The guard statistics file is unreadable or does not fit the network."""


@dataclass(frozen=True)
class GuardStats:
    """Everything needed to score a slice from its pooled features and logits.

    ``whitening`` (D, D) maps features so that the shared covariance becomes the identity,
    ``whitened_means`` (C, D) are the class means in that space; ``center``/``scale`` standardise the
    (feature, energy) scores; ``weights`` combine them; ``threshold`` is the combined score above which a
    slice is outside the intended use.
    """

    whitening: NDArray[np.float32]
    whitened_means: NDArray[np.float32]
    center: NDArray[np.float32]
    scale: NDArray[np.float32]
    weights: NDArray[np.float32]
    threshold: float
    flagged_fraction: float = DEFAULT_FLAGGED_FRACTION

    @property
    def feature_dim(self) -> int:
        return int(self.whitening.shape[1])

    def parts(self, pooled: NDArray[np.floating], logits: NDArray[np.floating]) -> NDArray[np.float64]:
        """Standardised (feature, energy) scores, shape (N, 2); higher = less like the training images."""
        pooled = np.asarray(pooled, dtype=np.float64)
        if pooled.ndim != 2 or pooled.shape[1] != self.feature_dim:
            raise GuardStatsError(f"expected pooled features (N, {self.feature_dim}), got {pooled.shape}")
        raw = np.stack([log_mahalanobis(self, pooled), energy(logits)], axis=1)
        return (raw - self.center.astype(np.float64)) / self.scale.astype(np.float64)

    def scores(self, pooled: NDArray[np.floating], logits: NDArray[np.floating]) -> NDArray[np.float64]:
        """Combined score per slice (N,); above :attr:`threshold` = outside the intended use."""
        return self.parts(pooled, logits) @ self.weights.astype(np.float64)

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        arrays: dict[str, NDArray[np.generic]] = {
            name: np.asarray(getattr(self, name), dtype=np.float32) for name in _ARRAYS
        }
        arrays["schema"] = np.asarray(GUARD_SCHEMA)
        arrays["flagged_fraction"] = np.asarray(self.flagged_fraction, dtype=np.float32)
        np.savez_compressed(buffer, **arrays)  # type: ignore[arg-type]
        return buffer.getvalue()

    def save(self, path: Path) -> Path:
        Path(path).write_bytes(self.to_bytes())
        return Path(path)


def load_guard_stats(path: Path) -> GuardStats:
    """Read a statistics file written by :meth:`GuardStats.save` (no pickle); GuardStatsError if it is bad."""
    try:
        with np.load(Path(path), allow_pickle=False) as data:
            if str(data["schema"]) != GUARD_SCHEMA:
                raise GuardStatsError(f"{Path(path).name}: unknown guard schema {str(data['schema'])!r}")
            arrays = {name: np.asarray(data[name], dtype=np.float32) for name in _ARRAYS}
            fraction = float(data["flagged_fraction"])
    except GuardStatsError:
        raise
    except (OSError, KeyError, ValueError, TypeError) as exc:
        raise GuardStatsError(f"{Path(path).name} is not a readable guard statistics file ({exc})") from exc
    whitening, means = arrays["whitening"], arrays["whitened_means"]
    if whitening.ndim != 2 or means.ndim != 2 or means.shape[1] != whitening.shape[0]:
        raise GuardStatsError(f"{Path(path).name}: inconsistent shapes {whitening.shape} / {means.shape}")
    if arrays["center"].shape != (2,) or arrays["scale"].shape != (2,) or arrays["weights"].shape != (2,):
        raise GuardStatsError(f"{Path(path).name}: center, scale and weights must hold two values each")
    return GuardStats(
        whitening=whitening,
        whitened_means=means,
        center=arrays["center"],
        scale=arrays["scale"],
        weights=arrays["weights"],
        threshold=float(arrays["threshold"]),
        flagged_fraction=fraction,
    )


def load_named_guard(folder: Path, config: ModelConfig) -> GuardStats | None:
    """The statistics a weights folder's config names, read only after their SHA-256 check; None when it
    names none.  Raises WeightsIntegrityError (missing or altered file) or GuardStatsError (unreadable)."""
    from core.model.model_config import verified_guard_path

    path = verified_guard_path(folder, config)
    return load_guard_stats(path) if path is not None else None


def energy(logits: NDArray[np.floating]) -> NDArray[np.float64]:
    """``-logsumexp(logits)`` per row (the free energy at temperature 1)."""
    z = np.asarray(logits, dtype=np.float64)
    top = z.max(axis=1, keepdims=True)
    return -(top[:, 0] + np.log(np.exp(z - top).sum(axis=1)))


def log_mahalanobis(stats: GuardStats, pooled: NDArray[np.floating]) -> NDArray[np.float64]:
    """log(1 + the smallest squared Mahalanobis distance to a class mean) per row."""
    white = np.asarray(pooled, dtype=np.float64) @ stats.whitening.astype(np.float64)
    means = stats.whitened_means.astype(np.float64)
    d2 = (white**2).sum(axis=1)[:, None] - 2.0 * white @ means.T + (means**2).sum(axis=1)[None, :]
    return np.log1p(np.maximum(d2.min(axis=1), 0.0))


def fit_guard_stats(
    pooled: NDArray[np.floating],
    logits: NDArray[np.floating],
    labels: NDArray[np.integer],
    *,
    num_classes: int,
    shrinkage: float = DEFAULT_SHRINKAGE,
    weights: tuple[float, float] = (0.5, 0.5),
) -> GuardStats:
    """Class means, shared covariance and score standardisation from the training images' features.

    The covariance is shrunk towards a multiple of the identity (``shrinkage`` of the way) so that
    directions the training images never vary in do not make every new image infinitely far.  The
    threshold is left at +inf: :func:`calibrate` sets it on validation images.
    """
    x = np.asarray(pooled, dtype=np.float64)
    y = np.asarray(labels, dtype=np.int64)
    if x.ndim != 2 or len(x) != len(y) or len(x) < 2:
        raise ValueError(f"need (N, D) features with one label each and N >= 2, got {x.shape} and {y.shape}")
    present = [c for c in range(num_classes) if np.any(y == c)]
    means = np.stack([x[y == c].mean(axis=0) for c in present])
    centred = x - means[np.searchsorted(present, y)]
    cov = centred.T @ centred / max(len(x) - len(present), 1)
    ridge = float(np.trace(cov)) / cov.shape[0] or 1.0
    cov = (1.0 - shrinkage) * cov + shrinkage * ridge * np.eye(cov.shape[0])
    values, vectors = np.linalg.eigh(cov)
    whitening = vectors / np.sqrt(np.maximum(values, 1e-12 * ridge))[None, :]  # x @ W has identity covariance
    base = GuardStats(
        whitening=whitening.astype(np.float32),
        whitened_means=(means @ whitening).astype(np.float32),
        center=np.zeros(2, dtype=np.float32),
        scale=np.ones(2, dtype=np.float32),
        weights=np.asarray(weights, dtype=np.float32),
        threshold=float("inf"),
    )
    raw = base.parts(x, logits)
    center = np.median(raw, axis=0)
    spread = np.percentile(raw, 75, axis=0) - np.percentile(raw, 25, axis=0)
    return replace(base, center=center.astype(np.float32), scale=np.maximum(spread, 1e-6).astype(np.float32))


def calibrate(
    stats: GuardStats,
    pooled: NDArray[np.floating],
    logits: NDArray[np.floating],
    flagged_fraction: float = DEFAULT_FLAGGED_FRACTION,
) -> GuardStats:
    """Set the threshold so that ``flagged_fraction`` of these (in-distribution validation) slices lie above it."""
    if not 0.0 < flagged_fraction < 1.0:
        raise ValueError("flagged_fraction must lie between 0 and 1")
    scores = stats.scores(pooled, logits)
    threshold = float(np.quantile(scores, 1.0 - flagged_fraction, method="higher"))
    return replace(stats, threshold=threshold, flagged_fraction=flagged_fraction)

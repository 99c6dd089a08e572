"""How well a saliency map points at a tumor mask: pointing game, mass in the tumor's box, top-area IoU.

* Pointing game (Zhang et al., 2018): the map's maximum lies inside the mask or within ``tolerance``
  (a fraction of the image's larger side) of it.
* Box mass: the share of the map's total mass inside the mask's bounding box.
* Top-area IoU: the map thresholded at its top ``top_fraction`` of pixels, against the mask.

A map with no mass (all zeros) misses every measure.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

POINTING_TOLERANCE = 0.06
TOP_FRACTION = 0.05


@dataclass(frozen=True)
class Localisation:
    hit: bool
    box_mass: float
    top_iou: float

    def as_record(self) -> dict[str, float | bool]:
        return {"hit": self.hit, "box_mass": round(self.box_mass, 4), "top_iou": round(self.top_iou, 4)}


def pointing_hit(heatmap: NDArray[np.floating], mask: NDArray[np.bool_], tolerance: float = POINTING_TOLERANCE) -> bool:
    """Whether the map's maximum is inside ``mask`` or within ``tolerance`` x the larger side of it."""
    if heatmap.shape != mask.shape:
        raise ValueError(f"heatmap {heatmap.shape} and mask {mask.shape} differ in shape")
    if not mask.any() or not float(np.max(heatmap, initial=0.0)) > 0.0:
        return False
    y, x = np.unravel_index(int(np.argmax(heatmap)), heatmap.shape)
    ys, xs = np.nonzero(mask)
    radius = tolerance * max(mask.shape)
    return bool(np.min((ys - y) ** 2 + (xs - x) ** 2) <= radius * radius)


def box_mass(heatmap: NDArray[np.floating], mask: NDArray[np.bool_]) -> float:
    """Share of the map's mass inside the bounding box of ``mask``."""
    total = float(np.sum(heatmap, dtype=np.float64))
    if not mask.any() or not total > 0.0:
        return 0.0
    ys, xs = np.nonzero(mask)
    inside = float(np.sum(heatmap[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1], dtype=np.float64))
    return inside / total


def top_area_iou(heatmap: NDArray[np.floating], mask: NDArray[np.bool_], top_fraction: float = TOP_FRACTION) -> float:
    """IoU of the map's top ``top_fraction`` of pixels with ``mask``."""
    if not mask.any() or not float(np.max(heatmap, initial=0.0)) > 0.0:
        return 0.0
    count = max(1, round(top_fraction * heatmap.size))
    order = np.argsort(heatmap, axis=None)[::-1][:count]
    top = np.zeros(heatmap.size, dtype=bool)
    top[order] = True
    top = top.reshape(heatmap.shape) & (heatmap > 0)
    union = np.count_nonzero(top | mask)
    return float(np.count_nonzero(top & mask)) / union if union else 0.0


def localise(heatmap: NDArray[np.floating], mask: NDArray[np.bool_]) -> Localisation:
    return Localisation(pointing_hit(heatmap, mask), box_mass(heatmap, mask), top_area_iou(heatmap, mask))


def summarise(results: list[Localisation]) -> dict[str, float | int | None]:
    """Mean of each measure over ``results`` (None when there are none)."""
    if not results:
        return {"n": 0, "pointing_game": None, "box_mass": None, "top_iou": None}
    return {
        "n": len(results),
        "pointing_game": float(np.mean([r.hit for r in results])),
        "box_mass": float(np.mean([r.box_mass for r in results])),
        "top_iou": float(np.mean([r.top_iou for r in results])),
    }

"""A small thread-safe LRU of predictions keyed by (slice key, weights SHA-256, heatmap request)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Generic, TypeVar

V = TypeVar("V")
CacheKey = tuple[str, str, str, str]


def cache_key(slice_key: str, weights_sha256: str, heatmap: bool | str, method: str) -> CacheKey:
    """Identity of one result: the image, the exact weights, and which saliency map was asked for."""
    heat = "none" if heatmap is False else ("predicted" if heatmap is True else f"class:{heatmap}")
    return (slice_key, weights_sha256, heat, method if heatmap is not False else "")


class ResultCache(Generic[V]):
    """Least-recently-used mapping with a fixed number of entries."""

    def __init__(self, capacity: int = 512) -> None:
        self.capacity = capacity
        self._items: OrderedDict[CacheKey, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: CacheKey) -> V | None:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: CacheKey, value: V) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.capacity:
                self._items.popitem(last=False)

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

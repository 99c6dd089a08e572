"""Slice metadata read through the PixelStore, kept for the most recent slices (overlays ask on every repaint)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator

from core.imaging import ImagingError, PixelStore, SliceMetadata, SliceRef


class MetadataCache:
    """``store.metadata(ref)`` for the last ``limit`` slices asked for; None for a slice whose header fails."""

    def __init__(self, store: PixelStore, limit: int) -> None:
        self.store = store
        self.limit = limit
        self._entries: OrderedDict[str, SliceMetadata | None] = OrderedDict()

    def get(self, ref: SliceRef) -> SliceMetadata | None:
        if ref.key not in self._entries:
            try:
                self._entries[ref.key] = self.store.metadata(ref)
            except ImagingError:
                self._entries[ref.key] = None
            while len(self._entries) > self.limit:
                self._entries.popitem(last=False)
        return self._entries[ref.key]

    def forget(self, key: str) -> None:
        self._entries.pop(key, None)

    def __iter__(self) -> Iterator[str]:
        """The keys of the slices held."""
        return iter(self._entries)

"""A tiny callback event emitter, so views follow the review session without Qt.

napari's ``ViewerModel`` emits plain-Python events that its ``_qt`` widgets connect to; this is the
same idea at its smallest: ``session.events.index_changed.connect(fn)`` and ``fn(payload)`` is called,
in connection order, each time the index changes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Event(Generic[T]):
    """One kind of change; every connected callback gets its payload."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._callbacks: list[Callable[[T], object]] = []

    def connect(self, callback: Callable[[T], object]) -> Callable[[T], object]:
        """Call ``callback(payload)`` on every emission (once, however often it is connected); returns it."""
        if callback not in self._callbacks:
            self._callbacks.append(callback)
        return callback

    def disconnect(self, callback: Callable[[T], object]) -> None:
        """Stop calling ``callback``; unknown callbacks are ignored."""
        if callback in self._callbacks:
            self._callbacks.remove(callback)

    def emit(self, payload: T) -> None:
        """Call the callbacks connected now (one connected during the emission waits for the next)."""
        for callback in list(self._callbacks):
            callback(payload)

    def __len__(self) -> int:
        return len(self._callbacks)

    def __repr__(self) -> str:
        return f"Event({self.name!r}, {len(self)} callbacks)"

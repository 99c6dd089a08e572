"""Per-series view state: where the reader left each series (slice, window, zoom/pan, invert).

Kept in memory while the study is open and written to QSettings (group ``series_views``, keyed by a
hash of the Series Instance UID, at most ``MAX_REMEMBERED`` series, oldest dropped first), so going
back to a series, or reopening the study after a restart, shows it as it was left.  Nothing of the
patient is stored: only a one-way hash of the UID and the numbers below.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass

from PySide6.QtCore import QSettings

from core.imaging import Window

GROUP = "series_views"
MAX_REMEMBERED = 200


@dataclass(frozen=True)
class ViewState:
    """How one series was shown: slice index, window (None = each slice's default), zoom (None = fit),
    pan in logical pixels and inversion."""

    index: int
    window: Window | None = None
    zoom: float | None = None
    pan_x: float = 0.0
    pan_y: float = 0.0
    invert: bool = False

    def to_json(self) -> str:
        data = asdict(self)
        return json.dumps(data, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ViewState | None:
        """The state in ``text``, or None when it is not one (an older or damaged entry)."""
        try:
            data = json.loads(text)
            window = data.get("window")
            state = cls(
                index=int(data["index"]),
                window=Window(**window) if isinstance(window, dict) else None,
                zoom=None if data.get("zoom") is None else float(data["zoom"]),
                pan_x=float(data.get("pan_x", 0.0)),
                pan_y=float(data.get("pan_y", 0.0)),
                invert=bool(data.get("invert", False)),
            )
        except (TypeError, ValueError, KeyError, AttributeError):
            return None
        numbers = [state.pan_x, state.pan_y, *([state.zoom] if state.zoom is not None else [])]
        return state if state.index >= 0 and all(math.isfinite(n) for n in numbers) else None


def _key(series_uid: str) -> str:
    return hashlib.sha256(series_uid.encode()).hexdigest()[:32]


class SeriesMemory:
    """View states by Series Instance UID: in memory, and in ``store`` across sessions."""

    def __init__(self, store: QSettings, limit: int = MAX_REMEMBERED) -> None:
        self.store = store
        self.limit = limit
        self._states: dict[str, ViewState] = {}

    def remember(self, series_uid: str, state: ViewState) -> None:
        """Keep ``state`` for the series, now and for later sessions."""
        self._states[series_uid] = state
        key = _key(series_uid)
        order = [k for k in self._order() if k != key] + [key]
        for old in order[: -self.limit]:
            self.store.remove(f"{GROUP}/{old}")
        self.store.setValue(f"{GROUP}/{key}", state.to_json())
        self.store.setValue(f"{GROUP}_order", order[-self.limit :])

    def recall(self, series_uid: str) -> ViewState | None:
        """The last state of the series (this session's, else a saved one), or None."""
        if series_uid in self._states:
            return self._states[series_uid]
        value = self.store.value(f"{GROUP}/{_key(series_uid)}")
        return ViewState.from_json(value) if isinstance(value, str) else None

    def forget_session(self, series_uids: set[str]) -> None:
        """Drop this session's copies (a closed study); the saved states stay for its next opening."""
        for uid in series_uids:
            self._states.pop(uid, None)

    def _order(self) -> list[str]:
        value = self.store.value(f"{GROUP}_order", [])
        if isinstance(value, str):
            value = [value]
        return [str(v) for v in value] if isinstance(value, list) else []

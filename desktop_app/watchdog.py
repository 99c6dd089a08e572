"""Event-loop stall watchdog: a 10 ms QTimer that records the longest gap between its ticks."""

from __future__ import annotations

import time

from PySide6.QtCore import QObject, QTimer


class StallWatchdog(QObject):
    """Measures GUI responsiveness: ``max_gap_ms`` is the longest gap between ticks since :meth:`start`."""

    def __init__(self, interval_ms: int = 10, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.interval_ms = interval_ms
        self._timer = QTimer(self)
        self._timer.setTimerType(self._timer.timerType().PreciseTimer)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._tick)
        self._last = 0.0
        self.max_gap_ms = 0.0
        self.ticks = 0

    def start(self) -> None:
        self.max_gap_ms = 0.0
        self.ticks = 0
        self._last = time.perf_counter()
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()

    def _tick(self) -> None:
        now = time.perf_counter()
        self.max_gap_ms = max(self.max_gap_ms, (now - self._last) * 1000.0)
        self._last = now
        self.ticks += 1

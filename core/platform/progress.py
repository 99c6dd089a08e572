"""A plain-text progress bar for stderr (no dependency).

On a terminal the bar redraws in place with ``\\r``; when stderr is a file or a pipe it prints a
line at every tenth of the work instead, so logs stay readable.
"""

from __future__ import annotations

import time
from typing import TextIO

BAR_WIDTH = 30


class ProgressBar:
    """``label [#########.........] 12/48 slices 3.1 slices/s ETA 12 s``."""

    def __init__(
        self, stream: TextIO, total: int, label: str = "classifying", *, unit: str = "slices", enabled: bool = True
    ) -> None:
        self._stream = stream
        self._unit = unit
        self._total = max(total, 0)
        self._label = label
        self._enabled = enabled and total > 0
        self._tty = bool(getattr(stream, "isatty", lambda: False)())
        self._start = time.perf_counter()
        self._last_tenth = -1
        self._done = 0

    def update(self, done: int) -> None:
        """Report ``done`` units finished out of ``total``."""
        self._done = min(max(done, 0), self._total)
        if not self._enabled:
            return
        if self._tty:
            self._stream.write("\r" + self._line())
            self._stream.flush()
            return
        tenth = self._done * 10 // self._total
        if tenth != self._last_tenth:
            self._last_tenth = tenth
            self._stream.write(self._line() + "\n")
            self._stream.flush()

    def close(self) -> None:
        """End the bar's line on a terminal."""
        if self._enabled and self._tty:
            self._stream.write("\n")
            self._stream.flush()

    def _line(self) -> str:
        filled = self._done * BAR_WIDTH // self._total
        elapsed = max(time.perf_counter() - self._start, 1e-9)
        rate = self._done / elapsed
        bar = "#" * filled + "." * (BAR_WIDTH - filled)
        line = f"{self._label} [{bar}] {self._done}/{self._total} {self._unit} {rate:.1f} {self._unit}/s"
        if 0 < self._done < self._total:
            line += f" ETA {(self._total - self._done) / rate:.0f} s"
        return line

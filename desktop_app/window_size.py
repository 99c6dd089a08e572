"""The main window's first size: the preferred size, shrunk to fit the screen it opens on."""

from __future__ import annotations

from PySide6.QtCore import QSize

PREFERRED = QSize(1500, 950)
MINIMUM = QSize(640, 480)
SCREEN_SHARE = 0.92  # leave room for the title bar and the desktop's panels


def fitting_size(available: QSize | None, preferred: QSize = PREFERRED) -> QSize:
    """``preferred`` when it fits in ``available`` (the screen's available geometry), else the largest
    size that does (never below MINIMUM); ``preferred`` when the screen is unknown."""
    if available is None or available.isEmpty():
        return QSize(preferred)
    width = min(preferred.width(), int(available.width() * SCREEN_SHARE))
    height = min(preferred.height(), int(available.height() * SCREEN_SHARE))
    return QSize(max(width, MINIMUM.width()), max(height, MINIMUM.height()))

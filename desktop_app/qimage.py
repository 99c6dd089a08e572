"""numpy uint8 arrays <-> QImage, always copying so Qt never points into freed numpy memory."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from PySide6.QtGui import QImage


def to_qimage(array: NDArray[np.uint8]) -> QImage:
    """(H, W) gray, (H, W, 3) RGB or (H, W, 4) RGBA uint8 -> an independent QImage."""
    data = np.ascontiguousarray(array, dtype=np.uint8)
    if data.ndim == 2:
        fmt, channels = QImage.Format.Format_Grayscale8, 1
    elif data.ndim == 3 and data.shape[2] == 3:
        fmt, channels = QImage.Format.Format_RGB888, 3
    elif data.ndim == 3 and data.shape[2] == 4:
        fmt, channels = QImage.Format.Format_RGBA8888, 4
    else:
        raise ValueError(f"cannot show an array of shape {data.shape}")
    height, width = data.shape[:2]
    image = QImage(data.data, width, height, width * channels, fmt)
    return image.copy()

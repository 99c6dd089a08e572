"""Shared by the viewer tests: series of known geometry and mouse gestures (the window comes from conftest)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from dicom_factory import make_dataset, write
from pydicom.uid import generate_uid

from .conftest import WAIT_MS, open_and_wait  # noqa: F401 - the viewer tests import them from here


def write_volume(
    folder: Path,
    *,
    slices: int = 6,
    rows: int = 12,
    columns: int = 10,
    step: float = 2.0,
    z0: float = 0.0,
    spacing: tuple[float, float] | None = (1.0, 1.0),
    description: str = "T1",
    number: int = 1,
    study_uid: str | None = None,
    modality: str = "MR",
    **dataset: object,
) -> list[Path]:
    """Axial slices ``step`` mm apart from ``z0``; pixel value = 100 * slice + 10 * row + column."""
    series_uid = generate_uid()
    study_uid = study_uid or generate_uid()
    paths = []
    k_rows, k_columns = np.mgrid[0:rows, 0:columns]
    for k in range(slices):
        pixels = (100 * k + 10 * k_rows + k_columns).astype(np.uint16)
        ds = make_dataset(
            pixels,
            bits_allocated=16,
            study_uid=study_uid,
            series_uid=series_uid,
            series_number=number,
            series_description=description,
            instance=k + 1,
            position=(0.0, 0.0, z0 + step * k),
            modality=modality,
            **dataset,
        )
        if spacing is None:
            del ds.PixelSpacing
        else:
            ds.PixelSpacing = [float(spacing[0]), float(spacing[1])]
        paths.append(write(ds, folder / f"{k:03d}.dcm"))
    return paths


def mouse(widget, kind, pos, button=None) -> None:
    """Send one mouse event at a float position (press, move or release)."""
    from PySide6.QtCore import QEvent, QPointF, Qt
    from PySide6.QtGui import QMouseEvent
    from PySide6.QtWidgets import QApplication

    button = button or Qt.MouseButton.LeftButton
    held = Qt.MouseButton.NoButton if kind == QEvent.Type.MouseButtonRelease else button
    if kind == QEvent.Type.MouseMove and button == Qt.MouseButton.NoButton:
        held = Qt.MouseButton.NoButton
    event = QMouseEvent(kind, QPointF(pos), QPointF(widget.mapToGlobal(pos.toPoint())),
                        button if kind != QEvent.Type.MouseMove else Qt.MouseButton.NoButton,
                        held, Qt.KeyboardModifier.NoModifier)  # fmt: skip
    QApplication.sendEvent(widget, event)


def drag(widget, points) -> None:
    """Press at the first widget point, move through the others, release at the last."""
    from PySide6.QtCore import QEvent

    mouse(widget, QEvent.Type.MouseButtonPress, points[0])
    for point in points[1:]:
        mouse(widget, QEvent.Type.MouseMove, point)
    mouse(widget, QEvent.Type.MouseButtonRelease, points[-1])

"""Crosshair: Shift+click a point and every viewport of the same frame of reference goes to it.

Each such viewport moves to its image nearest the point and marks where the point falls (solid when the
image passes within ``ON_PLANE_MM`` of it, dashed otherwise).  Shift+click outside the image removes it.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray
from PySide6.QtCore import QEvent, QObject, QPointF, Qt
from PySide6.QtGui import QColor, QMouseEvent, QPainter, QPen

from core.imaging.geometry import nearest_index
from desktop_app.view_source import locations
from desktop_app.viewer import SliceViewer

if TYPE_CHECKING:  # pragma: no cover
    from desktop_app.viewports import ViewportFeatures

ON_PLANE_MM = 1.5
ARM = 12.0  # logical pixels


class Crosshair(QObject):
    """Holds the located point (patient mm, the frame of reference it belongs to) and draws it."""

    def __init__(self, features: ViewportFeatures) -> None:
        super().__init__(features)
        self.features = features
        self.point: NDArray[np.float64] | None = None
        self.frame = ""
        for cell in range(len(features.cells)):
            viewer = features.viewer_at(cell)
            viewer.installEventFilter(self)
            viewer.overlay_painters.append(functools.partial(self.paint, viewer))

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if (
            event.type() == QEvent.Type.MouseButtonPress
            and isinstance(event, QMouseEvent)
            and isinstance(watched, SliceViewer)
            and event.button() == Qt.MouseButton.LeftButton
            and event.modifiers() & Qt.KeyboardModifier.ShiftModifier
        ):
            self.locate_at(watched, event.position())
            return True
        return False

    def locate_at(self, viewer: SliceViewer, position: QPointF) -> None:
        """Place the crosshair at a widget position of ``viewer`` (outside its image: remove it)."""
        features = self.features
        cell = features.grid.cell_of(viewer)
        source = features.source_at(cell) if cell >= 0 else None
        pixel = viewer.widget_to_image(position)
        plane = source.geometry(features.index_at(cell)) if source is not None else None
        if source is None or plane is None or pixel is None or not _inside(pixel, plane.columns, plane.rows):
            self.point = None
        else:
            self.point = plane.to_patient(*pixel)
            self.frame = source.frame_of_reference()
            self._follow(cell)
        for each in features.viewers():
            each.update()

    def _follow(self, origin: int) -> None:
        features, point = self.features, self.point
        assert point is not None
        for cell in range(features.grid.visible_cells):
            source = features.source_at(cell)
            if cell == origin or source is None or source.frame_of_reference() != self.frame:
                continue
            placed = source.placement(features.index_at(cell))
            if placed is None:
                continue
            normal = placed[1]
            index = nearest_index(locations(source, normal), float(np.dot(point, normal)))
            if index is not None:
                features.set_index_at(cell, index)

    def paint(self, viewer: SliceViewer, painter: QPainter) -> None:
        features = self.features
        cell = features.grid.cell_of(viewer)
        if self.point is None or cell < 0:
            return
        source = features.source_at(cell)
        if source is None or source.frame_of_reference() != self.frame:
            return
        plane = source.geometry(features.index_at(cell))
        if plane is None:
            return
        column, row, distance = plane.to_pixel(self.point)
        style = Qt.PenStyle.SolidLine if abs(distance) <= ON_PLANE_MM else Qt.PenStyle.DashLine
        painter.setPen(QPen(QColor(255, 60, 60), 1.5, style))
        centre = viewer.image_to_widget(column, row)
        painter.drawLine(centre - QPointF(ARM, 0), centre + QPointF(ARM, 0))
        painter.drawLine(centre - QPointF(0, ARM), centre + QPointF(0, ARM))


def _inside(pixel: tuple[float, float], columns: int, rows: int) -> bool:
    return -0.5 <= pixel[0] <= columns - 0.5 and -0.5 <= pixel[1] <= rows - 0.5

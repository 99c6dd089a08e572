"""Reference lines: on each viewport, where the images of the other visible viewports cut it.

Drawn only between images of one frame of reference (the study when the header has none) whose planes
are not parallel, e.g. the sagittal and coronal reformats on the axial slice, or a sagittal series on an axial one.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QColor, QPainter, QPen

from desktop_app.viewer import SliceViewer

if TYPE_CHECKING:  # pragma: no cover
    from desktop_app.viewports import ViewportFeatures

COLORS = (QColor(80, 200, 255), QColor(255, 120, 200), QColor(120, 255, 120), QColor(255, 180, 60))


class ReferenceLines(QObject):
    """Paints the lines; the controller calls :meth:`refresh` when any viewport changes its image."""

    def __init__(self, features: ViewportFeatures) -> None:
        super().__init__(features)
        self.features = features
        self.enabled = True
        for cell in range(len(features.cells)):
            viewer = features.viewer_at(cell)
            viewer.overlay_painters.append(functools.partial(self.paint, viewer))

    def lines_on(self, cell: int) -> list[tuple[int, tuple[tuple[float, float], tuple[float, float]]]]:
        """(other cell, line in this cell's pixel points) for every visible viewport cutting this one."""
        features = self.features
        source = features.source_at(cell)
        if source is None or not self.enabled:
            return []
        plane = source.geometry(features.index_at(cell))
        if plane is None:
            return []
        lines = []
        for other in range(features.grid.visible_cells):
            theirs = features.source_at(other)
            if other == cell or theirs is None or theirs.frame_of_reference() != source.frame_of_reference():
                continue
            their_plane = theirs.geometry(features.index_at(other))
            line = plane.intersection(their_plane) if their_plane is not None else None
            if line is not None:
                lines.append((other, line))
        return lines

    def paint(self, viewer: SliceViewer, painter: QPainter) -> None:
        cell = self.features.grid.cell_of(viewer)
        if cell < 0 or self.features.grid.visible_cells < 2:
            return
        for other, (start, end) in self.lines_on(cell):
            pen = QPen(COLORS[other % len(COLORS)], 1.0, Qt.PenStyle.DashLine)
            painter.setPen(pen)
            painter.drawLine(viewer.image_to_widget(*start), viewer.image_to_widget(*end))

    def refresh(self) -> None:
        for viewer in self.features.viewers():
            viewer.update()

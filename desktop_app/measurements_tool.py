"""Measurements drawn on any viewport: length, angle, ellipse and freehand ROI, text arrow.

The tool watches every viewer's mouse (an event filter): with a measuring tool chosen, the left button
draws instead of windowing.  Results come from :mod:`core.imaging.measure` in mm and modality units
and are kept per image (a viewport shows the measurements of the image it shows).  Without pixel
spacing a distance or area is refused, with the reason in the status bar.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass, field

from PySide6.QtCore import QEvent, QObject, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QMouseEvent, QPainter, QPainterPath, QPen, QPolygonF

from core.imaging import SliceRef
from core.imaging.measure import (
    MeasurementError,
    Point,
    angle_degrees,
    ellipse_stats,
    freehand_stats,
    length_mm,
    value_unit,
)
from desktop_app.view_source import ReformatSource, ViewSource
from desktop_app.viewer import SliceViewer

KINDS = ("length", "angle", "ellipse", "freehand", "arrow")
Locator = Callable[[SliceViewer], tuple[ViewSource, int] | None]


@dataclass(frozen=True)
class Measurement:
    """One finished measurement on one image."""

    kind: str
    points: tuple[Point, ...]  # pixel points (column, row)
    key: str  # the image it belongs to (ViewSource.key)
    image: str  # "series label, image n" for the table and exports
    result: str  # what is shown, e.g. "23.4 mm" or "mean 512.0 SD 12.1 ..."
    series_uid: str = ""  # the acquired series (of a reformat: the one it was built from)
    index: int = 0  # image index in its source
    reformat: str = ""  # the plane, for a measurement on a reformat
    ref: SliceRef | None = field(default=None, compare=False)  # the acquired slice (None on a reformat)
    values: tuple[tuple[str, float], ...] = ()  # the numbers behind ``result`` (see describe)
    unit: str = ""  # of mean, SD, minimum and maximum: "HU" for CT, "" otherwise


def describe(
    kind: str, points: list[Point], source: ViewSource, index: int, text: str = ""
) -> tuple[str, dict[str, float]]:
    """The result of a shape in words and as numbers (``length_mm``, ``angle_deg``, ``area_mm2``,
    ``mean``, ``sd``, ``minimum``, ``maximum``); raises MeasurementError when it cannot be measured."""
    spacing = source.spacing(index)
    unit = value_unit(source.modality())
    unit = f" {unit}" if unit else ""
    if kind == "length":
        length = length_mm(points[0], points[-1], spacing)
        return f"{length:.1f} mm", {"length_mm": length}
    if kind == "angle":
        angle = angle_degrees(points[0], points[1], points[2], spacing)
        return f"{angle:.1f} deg", {"angle_deg": angle}
    if kind == "arrow":
        return text or "arrow", {}
    values = source.values(index)
    if kind == "ellipse":
        stats = ellipse_stats(values, points[0], points[-1], spacing)
    else:
        stats = freehand_stats(values, points, spacing)
    words = (
        f"area {stats.area_mm2:.1f} mm2, mean {stats.mean:.1f}{unit}, SD {stats.sd:.1f}, "
        f"min {stats.minimum:.1f}, max {stats.maximum:.1f} ({stats.pixels} px)"
    )
    numbers = {"area_mm2": stats.area_mm2, "mean": stats.mean, "sd": stats.sd, "minimum": stats.minimum,
               "maximum": stats.maximum}  # fmt: skip
    return words, numbers


class MeasurementTool(QObject):
    """Draws and keeps measurements; ``added`` / ``refused(reason)`` report each finished shape."""

    added = Signal(object)  # Measurement
    refused = Signal(str)
    changed = Signal()

    def __init__(self, locate: Locator, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.locate = locate
        self.kind = ""  # "" = no measuring tool: the left button windows
        self.measurements: list[Measurement] = []
        self.ask_text: Callable[[], str] = lambda: "arrow"
        self._viewer: SliceViewer | None = None
        self._points: list[Point] = []
        self._dragging = False

    def watch(self, viewer: SliceViewer) -> None:
        if viewer.property("nr_measure_watch"):
            return
        viewer.setProperty("nr_measure_watch", True)
        viewer.installEventFilter(self)
        viewer.overlay_painters.append(functools.partial(self.paint, viewer))

    def set_kind(self, kind: str) -> None:
        self.kind = kind if kind in KINDS else ""
        self._cancel()

    def on_image(self, key: str) -> list[Measurement]:
        return [m for m in self.measurements if m.key == key]

    def delete_last(self, key: str) -> None:
        """Remove the most recent measurement of image ``key``."""
        for n in range(len(self.measurements) - 1, -1, -1):
            if self.measurements[n].key == key:
                del self.measurements[n]
                self.changed.emit()
                return

    def clear(self) -> None:
        self.measurements.clear()
        self.changed.emit()

    # ------------------------------------------------------------------ mouse
    def _cancel(self) -> None:
        viewer, self._viewer, self._points, self._dragging = self._viewer, None, [], False
        if viewer is not None:
            viewer.update()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if not self.kind or not isinstance(watched, SliceViewer) or not isinstance(event, QMouseEvent):
            return False
        kind = event.type()
        if kind == QEvent.Type.MouseButtonDblClick and event.button() == Qt.MouseButton.LeftButton:
            return True  # a measuring click must not also fit the image
        point = watched.widget_to_image(event.position())
        if point is None:
            return False
        if kind == QEvent.Type.MouseButtonPress and event.button() == Qt.MouseButton.LeftButton:
            self._press(watched, point)
            return True
        if kind == QEvent.Type.MouseMove and self._viewer is watched and self._points:
            self._move(point)
            return self._dragging
        if kind == QEvent.Type.MouseButtonRelease and event.button() == Qt.MouseButton.LeftButton:
            if self._viewer is watched and self._dragging:
                self._dragging = False
                if self.kind != "angle":
                    self._finish()
            return True
        return False

    def _press(self, viewer: SliceViewer, point: Point) -> None:
        if self._viewer is not viewer:
            self._cancel()
            self._viewer = viewer
        self._dragging = True
        if self.kind == "angle":
            self._points.append(point)
            if len(self._points) == 3:
                self._dragging = False
                self._finish()
            return
        self._points = [point, point]

    def _move(self, point: Point) -> None:
        if self.kind == "freehand":
            self._points.append(point)
        elif self.kind != "angle":
            self._points[-1] = point
        if self._viewer is not None:
            self._viewer.update()

    def _finish(self) -> None:
        viewer, points = self._viewer, list(self._points)
        self._cancel()
        located = self.locate(viewer) if viewer is not None else None
        if located is None:
            return
        source, index = located
        try:
            text = self.ask_text() if self.kind == "arrow" else ""
            result, numbers = describe(self.kind, points, source, index, text)
        except MeasurementError as exc:
            self.refused.emit(f"{self.kind.capitalize()} not measured: {exc}")
            return
        image = f"{source.label}, image {index + 1}"
        plane = source.reformat.plane if isinstance(source, ReformatSource) else ""
        ref = None if isinstance(source, ReformatSource) else source.series.slices[index]
        measurement = Measurement(self.kind, tuple(points), source.key(index), image, result,
                                  source.series.uid, index, plane, ref, tuple(numbers.items()),
                                  value_unit(source.modality()))  # fmt: skip
        self.measurements.append(measurement)
        self.added.emit(measurement)
        self.changed.emit()
        if viewer is not None:
            viewer.update()

    # ------------------------------------------------------------------ drawing
    def paint(self, viewer: SliceViewer, painter: QPainter) -> None:
        located = self.locate(viewer)
        if located is None:
            return
        source, index = located
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        for m in self.on_image(source.key(index)):
            self._draw(viewer, painter, m.kind, list(m.points), m.result, QColor(255, 220, 0))
        if self._viewer is viewer and self._points:
            self._draw(viewer, painter, self.kind, self._points, "", QColor(0, 220, 255))

    @staticmethod
    def _draw(
        viewer: SliceViewer, painter: QPainter, kind: str, points: list[Point], label: str, color: QColor
    ) -> None:
        pen = QPen(color, 1.5)
        painter.setPen(pen)
        screen = [viewer.image_to_widget(*p) for p in points]
        if kind in ("length", "arrow", "angle"):
            painter.drawPolyline(QPolygonF(screen))
            if kind == "arrow" and len(screen) >= 2:
                _arrow_head(painter, screen[0], screen[-1])
        elif kind == "ellipse" and len(screen) >= 2:
            painter.drawEllipse(QRectF(screen[0], screen[-1]).normalized())
        elif kind == "freehand" and len(screen) >= 2:
            path = QPainterPath(screen[0])
            for p in screen[1:]:
                path.lineTo(p)
            path.closeSubpath()
            painter.drawPath(path)
        if label and screen:
            anchor = screen[-1] + QPointF(6, -6)
            painter.setPen(QColor(0, 0, 0))
            painter.drawText(anchor + QPointF(1, 1), label)
            painter.setPen(color)
            painter.drawText(anchor, label)


def _arrow_head(painter: QPainter, tip: QPointF, label_end: QPointF) -> None:
    """Two short strokes at ``tip`` (the point the arrow marks, where the drag started)."""
    angle = math.atan2(tip.y() - label_end.y(), tip.x() - label_end.x())
    for turn in (0.5, -0.5):
        painter.drawLine(tip, tip - QPointF(10 * math.cos(angle + turn), 10 * math.sin(angle + turn)))

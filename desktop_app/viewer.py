"""The image canvas: one slice, optional heatmap overlay, zoom/pan, corner annotations.

Mouse conventions follow Weasis/OHIF: left-drag = window/level (emitted as pixel deltas, the
controller owns the window), right- or middle-drag = pan, Ctrl+wheel = zoom about the cursor,
wheel = scroll slices, double-click = fit.  Keys: arrows/PageUp/PageDown/Home/End scroll, holding
B blinks the heatmap (shows the opposite of its current state while held).

Drawing is HiDPI-aware: the visible image is resampled once into a pixmap with the screen's
device-pixel ratio, so it stays crisp on 2x displays (smooth interpolation, as diagnostic viewers
do; nearest-neighbour from 8 device pixels per image pixel on, to inspect single pixels).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray
from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QImage,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPixmap,
    QResizeEvent,
    QWheelEvent,
)
from PySide6.QtWidgets import QSizePolicy, QWidget

from desktop_app.qimage import to_qimage

CORNERS = ("top_left", "top_right", "bottom_left", "bottom_right")
ZOOM_MIN, ZOOM_MAX = 0.05, 40.0
BLINK_KEY = Qt.Key.Key_B
PIXEL_PEEP_FACTOR = 8  # from this many device pixels per image pixel on, show pixels as squares
OUTLINE_OFFSETS = tuple((dx, dy) for dx in (-1, 0, 1) for dy in (-1, 0, 1) if dx or dy)


def _outlined_text(
    painter: QPainter, area: QRectF, flags: Qt.AlignmentFlag, text: str, color: QColor | None = None
) -> None:
    """Text with a full black outline: readable on bright or inverted images too."""
    painter.setPen(QColor(0, 0, 0))
    for dx, dy in OUTLINE_OFFSETS:
        painter.drawText(area.translated(dx, dy), int(flags), text)
    painter.setPen(color if color is not None else QColor(235, 235, 200))
    painter.drawText(area, int(flags), text)


class SliceViewer(QWidget):
    """Shows one rendered slice; it never reads files or talks to the model."""

    window_drag = Signal(int, int)  # dx, dy in logical pixels since the last move (left button)
    scroll_requested = Signal(int)  # +1 next slice, -1 previous; larger for PageUp/PageDown
    jump_requested = Signal(str)  # "first" or "last"
    view_changed = Signal()  # zoom or pan changed

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMouseTracking(False)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.setMinimumSize(200, 200)
        self._image: QImage | None = None
        self._heat: QImage | None = None
        self.heatmap_visible = True
        self.blinking = False
        self.side_by_side = False
        self._zoom: float | None = None  # None = fit to the pane
        self._pixel_aspect = 1.0  # a pixel's height / width (row spacing / column spacing)
        self._pan = QPointF(0.0, 0.0)
        self._drag_button: Qt.MouseButton | None = None
        self._last_pos = QPointF()
        self._corners: dict[str, str] = {}
        self._message = ""
        self.heat_caption = ""
        self._cache_key: tuple[object, ...] | None = None
        self._cache: QPixmap | None = None
        self.overlay_painters: list[Callable[[QPainter], None]] = []  # overlays drawn over the image (tools, lines)

    # ----- content -------------------------------------------------------------------------
    def set_image(self, array: NDArray[np.uint8] | None) -> None:
        """Show a display-rendered uint8 slice (gray or RGB); None clears the canvas."""
        self._image = to_qimage(array) if array is not None else None
        self.update()

    def set_pixel_aspect(self, aspect: float) -> None:
        """Draw each pixel ``aspect`` times as tall as wide (DICOM Pixel Spacing row / column);
        values outside 0.1-10, or not finite, count as square pixels."""
        aspect = float(aspect)
        aspect = aspect if math.isfinite(aspect) and 0.1 <= aspect <= 10.0 else 1.0
        if aspect != self._pixel_aspect:
            self._pixel_aspect = aspect
            self._view_changed()

    def set_heatmap(self, rgba: NDArray[np.uint8] | None, caption: str = "") -> None:
        """Overlay an RGBA heatmap (any size; stretched onto the image); None removes it.  ``caption``
        (e.g. the class the map is for) is written on the image while the map is shown."""
        self._heat = to_qimage(rgba) if rgba is not None else None
        self.heat_caption = caption if rgba is not None else ""
        self.update()

    def has_image(self) -> bool:
        return self._image is not None

    def heatmap_shown(self) -> bool:
        """True when the overlay is actually drawn now (visibility XOR a held blink key)."""
        return self._heat is not None and (self.heatmap_visible != self.blinking)

    def set_heatmap_visible(self, visible: bool) -> None:
        self.heatmap_visible = visible
        self.update()

    def set_side_by_side(self, enabled: bool) -> None:
        self.side_by_side = enabled
        self.update()

    def set_corner_text(self, corners: dict[str, str]) -> None:
        """Text per corner (keys from CORNERS), several lines each."""
        self._corners = dict(corners)
        self.update()

    def set_message(self, text: str) -> None:
        """Centered message shown when there is no image (e.g. "Drop files here")."""
        self._message = text
        self.update()

    # ----- view geometry -------------------------------------------------------------------
    @property
    def zoom(self) -> float:
        """Current magnification in image pixels -> logical pixels (across; down it is times the pixel aspect)."""
        return self._zoom if self._zoom is not None else self._fit_scale()

    def is_fit(self) -> bool:
        return self._zoom is None

    @property
    def pan(self) -> QPointF:
        return QPointF(self._pan)

    def fit(self) -> None:
        self._zoom = None
        self._pan = QPointF(0.0, 0.0)
        self._view_changed()

    def one_to_one(self) -> None:
        """One image pixel per physical screen pixel, centred in the pane (the old pan would leave it off-centre)."""
        self._zoom = 1.0 / self.devicePixelRatioF()
        self._pan = QPointF(0.0, 0.0)
        self._view_changed()

    def view_state(self) -> tuple[float | None, float, float]:
        """(zoom or None for fit, pan x, pan y): what :meth:`set_view_state` restores."""
        return self._zoom, self._pan.x(), self._pan.y()

    def set_view_state(self, zoom: float | None, pan_x: float, pan_y: float) -> None:
        """Restore a zoom (None = fit) and pan saved by :meth:`view_state`; bad values mean fit."""
        if zoom is not None and not (math.isfinite(zoom) and ZOOM_MIN <= zoom <= ZOOM_MAX):
            zoom = None
        finite = math.isfinite(pan_x) and math.isfinite(pan_y)
        self._zoom = zoom
        self._pan = QPointF(pan_x, pan_y) if finite and zoom is not None else QPointF(0.0, 0.0)
        self._view_changed()

    def zoom_by(self, factor: float, anchor: QPointF | None = None) -> None:
        """Multiply the zoom, keeping the image point under ``anchor`` (pane coordinates) fixed."""
        old = self.zoom
        new = min(max(old * factor, ZOOM_MIN), ZOOM_MAX)
        if anchor is not None:
            center = self._pane_rect().center()
            offset = anchor - center - self._pan
            self._pan = anchor - center - offset * (new / old)
        self._zoom = new
        self._view_changed()

    def widget_to_image(self, pos: QPointF) -> tuple[float, float] | None:
        """Pixel point ``(column, row)`` under a widget position ((0, 0) = centre of the first pixel)."""
        rect = self.image_rect()
        if self._image is None or rect.isEmpty():
            return None
        column = (pos.x() - rect.left()) * self._image.width() / rect.width() - 0.5
        row = (pos.y() - rect.top()) * self._image.height() / rect.height() - 0.5
        return column, row

    def image_to_widget(self, column: float, row: float) -> QPointF:
        """Widget position of the pixel point ``(column, row)`` (first pane)."""
        rect = self.image_rect()
        if self._image is None or rect.isEmpty():
            return QPointF()
        return QPointF(
            rect.left() + (column + 0.5) * rect.width() / self._image.width(),
            rect.top() + (row + 0.5) * rect.height() / self._image.height(),
        )

    def pan_by(self, dx: float, dy: float) -> None:
        self._pan += QPointF(dx, dy)
        self._view_changed()

    def _view_changed(self) -> None:
        self.update()
        self.view_changed.emit()

    def _pane_rect(self) -> QRectF:
        rect = QRectF(self.rect())
        if self.side_by_side and self._heat is not None:
            rect.setWidth(rect.width() / 2.0)
        return rect

    def _fit_scale(self) -> float:
        if self._image is None:
            return 1.0
        pane = self._pane_rect()
        height = self._image.height() * self._pixel_aspect
        return max(min(pane.width() / self._image.width(), pane.height() / height), 1e-3)

    def image_rect(self) -> QRectF:
        """Where the image lies in the (first) pane, in logical widget coordinates."""
        if self._image is None:
            return QRectF()
        scale = self.zoom
        w, h = self._image.width() * scale, self._image.height() * scale * self._pixel_aspect
        center = self._pane_rect().center() + self._pan
        return QRectF(center.x() - w / 2.0, center.y() - h / 2.0, w, h)

    # ----- painting ------------------------------------------------------------------------
    def _scaled_pixmap(self, size: QSize, with_heat: bool) -> QPixmap:
        """The image (and heatmap) resampled to ``size`` logical pixels at the screen's DPR."""
        assert self._image is not None
        dpr = self.devicePixelRatioF()
        device = QSize(max(1, round(size.width() * dpr)), max(1, round(size.height() * dpr)))
        key = (self._image.cacheKey(), self._heat.cacheKey() if with_heat and self._heat else 0, device.toTuple(), dpr)
        if key == self._cache_key and self._cache is not None:
            return self._cache
        magnified = device.width() >= PIXEL_PEEP_FACTOR * self._image.width()
        mode = Qt.TransformationMode.FastTransformation if magnified else Qt.TransformationMode.SmoothTransformation
        base = self._image.convertToFormat(QImage.Format.Format_RGB32).scaled(
            device, Qt.AspectRatioMode.IgnoreAspectRatio, mode
        )
        if with_heat and self._heat is not None:
            heat = self._heat.scaled(
                device, Qt.AspectRatioMode.IgnoreAspectRatio, Qt.TransformationMode.SmoothTransformation
            )
            painter = QPainter(base)
            painter.drawImage(0, 0, heat)
            painter.end()
        pixmap = QPixmap.fromImage(base)
        pixmap.setDevicePixelRatio(dpr)
        self._cache_key, self._cache = key, pixmap
        return pixmap

    def _draw_pane(self, painter: QPainter, dx: float, with_heat: bool) -> None:
        target = self.image_rect().translated(dx, 0.0)
        pane = self._pane_rect().translated(dx, 0.0)
        visible = target.intersected(pane)
        if visible.isEmpty():
            return
        # Resample only the whole image when it is small on screen; otherwise draw clipped.
        size = QSize(max(1, round(target.width())), max(1, round(target.height())))
        painter.save()
        painter.setClipRect(pane)
        if size.width() * size.height() <= 16_000_000:
            painter.drawPixmap(target.topLeft(), self._scaled_pixmap(size, with_heat))
        else:  # extreme zoom: let the painter sample directly
            painter.drawImage(target, self._image)  # type: ignore[arg-type]
        painter.restore()

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(0, 0, 0))
        if self._image is None:
            painter.setPen(QColor(170, 170, 170))
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, self._message)
            painter.end()
            return
        if self.side_by_side and self._heat is not None:
            width = self._pane_rect().width()
            self._draw_pane(painter, 0.0, with_heat=False)
            self._draw_pane(painter, width, with_heat=self.heatmap_shown())
            painter.setPen(QColor(80, 80, 80))
            painter.drawLine(QPointF(width, 0), QPointF(width, self.height()))
        else:
            self._draw_pane(painter, 0.0, with_heat=self.heatmap_shown())
        for paint in self.overlay_painters:
            painter.save()
            paint(painter)
            painter.restore()
        self._draw_corners(painter)
        painter.end()

    def _draw_corners(self, painter: QPainter) -> None:
        margin = 8
        area = QRectF(self.rect()).adjusted(margin, margin, -margin, -margin)
        flags = {
            "top_left": Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop,
            "top_right": Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop,
            "bottom_left": Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignBottom,
            "bottom_right": Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignBottom,
            "left": Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
            "right": Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
            "top": Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop,
            "bottom": Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignBottom,
        }
        for corner, text in self._corners.items():
            if text and corner in flags:
                _outlined_text(painter, area, flags[corner], text)
        if self.heat_caption and self.heatmap_shown():  # above the bottom corner blocks: clear of them in any width
            lines = max(1, *(len(self._corners.get(c, "").splitlines()) for c in ("bottom_left", "bottom_right")))
            bottom = Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignBottom
            _outlined_text(painter, area.adjusted(0, 0, 0, -(lines * painter.fontMetrics().height() + 4)), bottom,
                           self.heat_caption, QColor(255, 190, 90))  # fmt: skip

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self.view_changed.emit()

    # ----- input ---------------------------------------------------------------------------
    def mousePressEvent(self, event: QMouseEvent) -> None:
        self.setFocus(Qt.FocusReason.MouseFocusReason)
        self._drag_button = event.button()
        self._last_pos = event.position()
        event.accept()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._drag_button is None:
            return
        delta = event.position() - self._last_pos
        self._last_pos = event.position()
        if self._drag_button == Qt.MouseButton.LeftButton:
            self.window_drag.emit(round(delta.x()), round(delta.y()))
        elif self._drag_button in (Qt.MouseButton.RightButton, Qt.MouseButton.MiddleButton):
            self.pan_by(delta.x(), delta.y())
        event.accept()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        self._drag_button = None
        event.accept()

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        self.fit()

    def wheelEvent(self, event: QWheelEvent) -> None:
        steps = event.angleDelta().y() / 120.0
        if steps == 0:
            return
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            self.zoom_by(1.15**steps, event.position())
        else:
            self.scroll_requested.emit(-1 if steps > 0 else 1)
        event.accept()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = int(event.key())
        steps: dict[int, int] = {
            Qt.Key.Key_Up: -1,
            Qt.Key.Key_Left: -1,
            Qt.Key.Key_Down: 1,
            Qt.Key.Key_Right: 1,
            Qt.Key.Key_PageUp: -5,
            Qt.Key.Key_PageDown: 5,
        }
        if key in steps:
            self.scroll_requested.emit(steps[key])
        elif key == Qt.Key.Key_Home:
            self.jump_requested.emit("first")
        elif key == Qt.Key.Key_End:
            self.jump_requested.emit("last")
        elif key == BLINK_KEY and not event.isAutoRepeat():
            self.blinking = True
            self.update()
        else:
            super().keyPressEvent(event)
            return
        event.accept()

    def keyReleaseEvent(self, event: QKeyEvent) -> None:
        if event.key() == BLINK_KEY and not event.isAutoRepeat():
            self.blinking = False
            self.update()
            event.accept()
            return
        super().keyReleaseEvent(event)

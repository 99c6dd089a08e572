"""One viewport of the layout grid: a SliceViewer with its own source, slice, window, inversion and zoom.

The main window drives one viewer itself (the active one, which feeds the AI panel); every other viewport
is a :class:`Viewport`.  :class:`ViewState` is what moves between them when another viewport becomes
the active one, so each keeps its own window and zoom.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QObject, Signal

from core.imaging import ImagingError, Window
from desktop_app.view_source import ViewSource
from desktop_app.viewer import SliceViewer

WINDOW_DRAG_GAIN = 1.0 / 300.0  # fraction of the current width per dragged pixel, as in the main viewer


@dataclass
class ViewState:
    """Everything that makes a viewport look the way it does."""

    source: ViewSource | None = None
    index: int = 0
    voi: Window | None = None
    invert: bool = False
    zoom: float | None = None  # None = fit
    pan_x: float = 0.0
    pan_y: float = 0.0


def dragged_window(current: Window, dx: int, dy: int) -> Window:
    """The window after a left drag of ``dx``, ``dy`` pixels: width right, level down."""
    step = max(current.width, 1.0) * WINDOW_DRAG_GAIN
    return Window(center=current.center + dy * step, width=max(1.0, current.width + dx * step), name="")


class Viewport(QObject):
    """A viewport the main window does not drive: it renders its own source through its own viewer."""

    index_changed = Signal(int)

    def __init__(self, deidentify: Callable[[], bool], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.viewer = SliceViewer()
        self.viewer.set_message("Drag a series here from the study browser")
        self._deidentify = deidentify
        self.source: ViewSource | None = None
        self.index = 0
        self.voi: Window | None = None
        self.invert = False
        self.viewer.window_drag.connect(self._on_window_drag)
        self.viewer.scroll_requested.connect(lambda steps: self.set_index(self.index + steps))
        self.viewer.jump_requested.connect(lambda where: self.set_index(0 if where == "first" else 10**9))
        self.viewer.view_changed.connect(self._update_corners)

    def state(self) -> ViewState:
        return ViewState(self.source, self.index, self.voi, self.invert, *self.viewer.view_state())

    def restore(self, state: ViewState) -> None:
        self.source, self.voi, self.invert = state.source, state.voi, state.invert
        self.index = -1
        if self.source is None:
            self.viewer.set_image(None)
            self.viewer.set_corner_text({})
            return
        self.set_index(state.index)
        self.viewer.set_view_state(state.zoom, state.pan_x, state.pan_y)

    def show(self, source: ViewSource | None, index: int | None = None) -> None:
        """Show ``source`` at ``index`` (default: its middle image) with a fresh window and a fitted view."""
        count = len(source) if source is not None else 0
        self.restore(ViewState(source, count // 2 if index is None else index))
        self.viewer.fit()

    def set_index(self, index: int) -> None:
        if self.source is None or len(self.source) == 0:
            return
        index = min(max(int(index), 0), len(self.source) - 1)
        if index == self.index:
            return
        self.index = index
        self.render()
        self.index_changed.emit(index)

    def render(self) -> None:
        source = self.source
        if source is None or not 0 <= self.index < len(source):
            return
        try:
            image = source.display(self.index, self.voi, self.invert)
        except ImagingError as exc:
            self.viewer.set_image(None)
            self.viewer.set_message(str(exc))
            return
        self.viewer.set_image(image)
        spacing = source.spacing(self.index)
        self.viewer.set_pixel_aspect(spacing[0] / spacing[1] if spacing and spacing[1] > 0 else 1.0)
        self._update_corners()

    def _update_corners(self) -> None:
        source = self.source
        if source is None or not 0 <= self.index < len(source):
            return
        window = self.voi
        if window is None:
            try:
                window = source.default_window(self.index)
            except ImagingError:
                window = None
        texts = source.corners(self.index, window, self.viewer.zoom, self.invert, self._deidentify())
        self.viewer.set_corner_text(texts)

    def _on_window_drag(self, dx: int, dy: int) -> None:
        if self.source is None:
            return
        try:
            current = self.voi or self.source.default_window(self.index)
        except ImagingError:
            return
        self.voi = dragged_window(current, dx, dy)
        self.render()

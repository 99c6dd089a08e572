"""Synchronised zoom, pan and window (View, Shift+Y): the other viewports copy the active one's.

Zoom and pan follow every change of the active viewer; the window follows a left-drag window/level in
the active viewport (presets and resets stay per viewport).
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction, QKeySequence

from core.imaging import Window
from desktop_app.viewer import SliceViewer

if TYPE_CHECKING:  # pragma: no cover
    from desktop_app.viewports import ViewportFeatures


class ViewSync(QObject):
    """Copies zoom, pan and window from the active viewport to the other visible ones."""

    def __init__(self, features: ViewportFeatures) -> None:
        super().__init__(features)
        self.features = features
        self.enabled = False
        self._busy = False
        main = features.main
        self.action = QAction("Synchronised zoom, pan and window", main)
        self.action.setCheckable(True)
        self.action.setShortcut(QKeySequence("Shift+Y"))
        self.action.toggled.connect(self.set_enabled)
        features.find_menu("View").addAction(self.action)
        main.addAction(self.action)
        for cell in range(len(features.cells)):
            viewer = features.viewer_at(cell)
            viewer.view_changed.connect(functools.partial(self._view_changed, viewer))
            viewer.window_drag.connect(functools.partial(self._window_dragged, viewer))

    def set_enabled(self, enabled: bool) -> None:
        self.enabled = enabled
        if self.action.isChecked() != enabled:
            self.action.setChecked(enabled)
        if enabled:
            active = self.features.viewer_at(self.features.active)
            self._view_changed(active)

    def _leads(self, viewer: SliceViewer) -> bool:
        return self.enabled and not self._busy and viewer is self.features.viewer_at(self.features.active)

    def _view_changed(self, viewer: SliceViewer) -> None:
        if not self._leads(viewer):
            return
        state = viewer.view_state()
        self._busy = True
        try:
            for other in self.features.viewers():
                if other is not viewer:
                    other.set_view_state(*state)
        finally:
            self._busy = False

    def _window_dragged(self, viewer: SliceViewer, _dx: int = 0, _dy: int = 0) -> None:
        if not self._leads(viewer):
            return
        features = self.features
        window = self.window_at(features.active)
        if window is None:
            return
        self._busy = True
        try:
            for cell in range(features.grid.visible_cells):
                if cell != features.active:
                    self.set_window_at(cell, window)
        finally:
            self._busy = False

    def window_at(self, cell: int) -> Window | None:
        viewport = self.features.cells[cell]
        return self.features.main.voi if viewport is None else viewport.voi

    def set_window_at(self, cell: int, window: Window) -> None:
        viewport = self.features.cells[cell]
        if viewport is None:
            self.features.main.voi = window
            self.features.main.render_slice()
        elif viewport.source is not None:
            viewport.voi = window
            viewport.render()

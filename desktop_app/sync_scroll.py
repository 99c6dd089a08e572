"""Synchronised scrolling: the other viewports follow the active one.

Viewports of the same frame of reference (or study, when the header names none) whose planes are
parallel go to the image nearest the active image's position along its normal; others (a prior study,
a different plane) keep the same relative place in their stack plus the offset they had when
synchronisation was switched on, so a prior can be aligned by hand first and then followed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QObject
from PySide6.QtGui import QAction, QKeySequence

from core.imaging.geometry import nearest_index
from desktop_app.view_source import locations

if TYPE_CHECKING:  # pragma: no cover
    from desktop_app.viewports import ViewportFeatures


class SyncScroll(QObject):
    """View > Synchronised scrolling (key Y)."""

    def __init__(self, features: ViewportFeatures) -> None:
        super().__init__(features)
        self.features = features
        self.enabled = False
        self._offsets: dict[int, int] = {}
        self._busy = False
        self._locations: dict[tuple[int, tuple[float, ...]], list[float | None]] = {}
        main = features.main
        self.action = QAction("Synchronised scrolling", main)
        self.action.setCheckable(True)
        self.action.setShortcut(QKeySequence("Y"))
        self.action.toggled.connect(self.set_enabled)
        features.find_menu("View").addAction(self.action)
        main.addAction(self.action)
        main.slice_shown.connect(lambda _index: self.follow(self.features.main_cell))
        for viewport in features.others:
            viewport.index_changed.connect(lambda _index, v=viewport: self.follow(self.features.cells.index(v)))

    def set_enabled(self, enabled: bool) -> None:
        """Switching on keeps the present relative offsets of viewports that cannot follow by position."""
        self.enabled = enabled
        if self.action.isChecked() != enabled:
            self.action.setChecked(enabled)
        if not enabled:
            return
        active = self.features.active
        self._offsets = {}
        for cell in self._others(active):
            by_place = self._by_position(active, cell)
            if by_place is None:
                relative = self._relative(active, cell)
                if relative is not None:
                    self._offsets[cell] = self.features.index_at(cell) - relative
        self.follow(active)

    def _others(self, active: int) -> list[int]:
        return [c for c in range(self.features.grid.visible_cells) if c != active]

    def _by_position(self, leader: int, cell: int) -> int | None:
        features = self.features
        source, target = features.source_at(leader), features.source_at(cell)
        if source is None or target is None or source.frame_of_reference() != target.frame_of_reference():
            return None
        placed = source.placement(features.index_at(leader))
        if placed is None:
            return None
        position, normal = placed
        key = (id(target), tuple(np.round(normal, 4).tolist()))
        if key not in self._locations:  # a source's positions along one normal do not change
            if len(self._locations) > 64:
                self._locations.clear()
            self._locations[key] = locations(target, normal)
        return nearest_index(self._locations[key], float(np.dot(position, normal)))

    def _relative(self, leader: int, cell: int) -> int | None:
        features = self.features
        source, target = features.source_at(leader), features.source_at(cell)
        if source is None or target is None or len(source) < 1 or len(target) < 1:
            return None
        fraction = features.index_at(leader) / max(len(source) - 1, 1)
        return round(fraction * (len(target) - 1))

    def target_index(self, leader: int, cell: int) -> int | None:
        """Where viewport ``cell`` goes when ``leader`` shows its current image."""
        by_place = self._by_position(leader, cell)
        if by_place is not None:
            return by_place
        relative = self._relative(leader, cell)
        return None if relative is None else relative + self._offsets.get(cell, 0)

    def follow(self, cell: int) -> None:
        """Move the other viewports after viewport ``cell`` changed its image (only the active one leads)."""
        features = self.features
        if not self.enabled or self._busy or cell != features.active:
            return
        self._busy = True
        try:
            for other in self._others(cell):
                index = self.target_index(cell, other)
                if index is not None:
                    features.set_index_at(other, index)
        finally:
            self._busy = False

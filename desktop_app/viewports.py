"""Several viewports in the main window: layouts, the active viewport, series dragged into a viewport.

The main window keeps driving one viewer (its slider, strip, AI panel and exports belong to it).  That
viewer always sits in the active cell: when another cell with an acquired series becomes active, the
two cells exchange their :class:`ViewState` and their viewer widgets, so every cell keeps showing what it
showed, and the AI panel follows the active viewport.  A reformat (or an empty cell) can be active too;
the AI panel then says that the AI runs on acquired slices only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMenu, QWidget

from core.imaging import Series
from desktop_app.cine import Cine
from desktop_app.crosshair import Crosshair
from desktop_app.mpr_view import MprView
from desktop_app.reference_lines import ReferenceLines
from desktop_app.study_filter import StudySearch
from desktop_app.sync_scroll import SyncScroll
from desktop_app.tag_viewer import TagViewer
from desktop_app.view_source import REFORMAT_NOTE, SeriesSource, ViewSource
from desktop_app.view_sync import ViewSync
from desktop_app.viewer import SliceViewer
from desktop_app.viewer_tools import ViewerTools
from desktop_app.viewport import Viewport, ViewState
from desktop_app.viewport_grid import LAYOUTS, MAX_CELLS, ViewportGrid

if TYPE_CHECKING:  # pragma: no cover
    from desktop_app.main_window import MainWindow

LAYOUT_KEYS = ("Ctrl+Alt+1", "Ctrl+Alt+2", "Ctrl+Alt+3", "Ctrl+Alt+4")


def find_menu(main: MainWindow, title: str) -> QMenu:
    """The main window's top-level menu called ``title`` (ampersands ignored), created when missing."""
    for action in main.menuBar().actions():
        menu = action.menu()
        if isinstance(menu, QMenu) and action.text().replace("&", "") == title:
            return menu
    return main.menuBar().addMenu(title)


class ViewportFeatures(QObject):
    """Owns the grid, the other viewports and the Layout menu; hooks into the main window."""

    def __init__(self, main: MainWindow) -> None:
        super().__init__(main)
        self.main = main
        self.grid = ViewportGrid()
        holder = main.viewer.parentWidget()
        layout = holder.layout() if holder is not None else None
        if layout is not None:
            layout.replaceWidget(main.viewer, self.grid)
        self.others = [Viewport(lambda: main.deidentify, self) for _ in range(MAX_CELLS - 1)]
        self.cells: list[Viewport | None] = [None, *self.others]  # None: the main window's viewer
        self._sources: dict[str, SeriesSource] = {}
        for cell, viewport in enumerate(self.cells):
            viewer = main.viewer if viewport is None else viewport.viewer
            self.grid.put(cell, viewer)
        self.grid.series_dropped.connect(self.drop_series)
        self.grid.set_active(0)
        main.deid_action.toggled.connect(lambda _on: self.refresh())
        self._build_menu()
        self.tools = ViewerTools(self)
        self.reference_lines = ReferenceLines(self)
        self.cine = Cine(self)
        self.mpr = MprView(self)
        self.sync = SyncScroll(self)
        self.view_sync = ViewSync(self)
        self.search = StudySearch(main.browser)
        main.browser_dock.setWidget(self.search)
        self.tags = TagViewer(self)
        self.crosshair = Crosshair(self)
        # A study closed (rows leave the browser): after the browser is done, empty its viewports.
        main.browser.model().rowsRemoved.connect(lambda *_args: QTimer.singleShot(0, self.drop_closed))
        main.slice_shown.connect(lambda _index: self.reference_lines.refresh())
        for viewport in self.others:
            viewport.index_changed.connect(lambda _index: self.reference_lines.refresh())
        for cell in range(MAX_CELLS):  # installed last, so it sees a click before the tools do
            self.viewer_at(cell).installEventFilter(self)

    def find_menu(self, title: str) -> QMenu:
        return find_menu(self.main, title)

    # ------------------------------------------------------------------ state
    @property
    def main_cell(self) -> int:
        return self.cells.index(None)

    @property
    def active(self) -> int:
        return self.grid.active

    def viewers(self) -> list[SliceViewer]:
        """The viewer of each visible cell, in cell order."""
        return [self.viewer_at(cell) for cell in range(self.grid.visible_cells)]

    def viewer_at(self, cell: int) -> SliceViewer:
        viewport = self.cells[cell]
        return self.main.viewer if viewport is None else viewport.viewer

    def source_at(self, cell: int) -> ViewSource | None:
        viewport = self.cells[cell]
        if viewport is not None:
            return viewport.source
        return self.series_source(self.main.series) if self.main.series is not None else None

    def index_at(self, cell: int) -> int:
        viewport = self.cells[cell]
        return self.main.index if viewport is None else viewport.index

    def set_index_at(self, cell: int, index: int) -> None:
        viewport = self.cells[cell]
        if viewport is None:
            self.main.set_index(index)
        else:
            viewport.set_index(index)

    def series_source(self, series: Series) -> SeriesSource:
        """One SeriesSource per series object (its metadata cache is shared by every viewport)."""
        source = self._sources.get(series.uid)
        if source is None or source.series is not series:
            source = self._sources[series.uid] = SeriesSource(series, self.main.store)
        return source

    def _main_state(self) -> ViewState:
        main = self.main
        source = self.series_source(main.series) if main.series is not None else None
        return ViewState(source, main.index, main.voi, main.invert, *main.viewer.view_state())

    def _restore_main(self, state: ViewState) -> None:
        main = self.main
        assert isinstance(state.source, SeriesSource)
        main.show_series(state.source.series)
        main.set_index(state.index)
        main.voi, main.invert = state.voi, state.invert
        main.render_slice()
        main.viewer.set_view_state(state.zoom, state.pan_x, state.pan_y)
        main.browser.select_series(state.source.series.uid)

    # ------------------------------------------------------------------ layout
    def set_layout(self, rows: int, columns: int, fill: bool = True) -> None:
        """Show ``rows`` x ``columns`` viewports; with ``fill`` empty ones get the next series not shown yet."""
        self.grid.set_shape(rows, columns)
        visible = rows * columns
        if self.main_cell >= visible:
            self.activate(0)
        if self.active >= visible:
            self.activate(self.main_cell)
        shown = {s.uid for s in (self.source_at(c) for c in range(visible)) if s is not None}
        waiting = [s for s in self.main.browser.series() if s.uid not in shown] if fill else []
        for cell in range(visible):
            viewport = self.cells[cell]
            if viewport is not None and viewport.source is None and waiting:
                viewport.show(self.series_source(waiting.pop(0)))
        self.grid.set_active(self.active)
        self.reference_lines.refresh()

    def _build_menu(self) -> None:
        view = find_menu(self.main, "View")
        menu = view.addMenu("Layout")
        self.layout_actions: list[QAction] = []
        for (rows, columns), keys in zip(LAYOUTS, LAYOUT_KEYS, strict=True):
            action = QAction(f"{rows} x {columns}", self.main)
            action.setShortcut(QKeySequence(keys))
            action.triggered.connect(lambda _checked=False, r=rows, c=columns: self.set_layout(r, c))
            menu.addAction(action)
            self.main.addAction(action)
            self.layout_actions.append(action)
        self.menu = menu

    # ------------------------------------------------------------------ activation
    def activate(self, cell: int) -> None:
        """Make ``cell`` the active viewport; an acquired series moves into the main window's viewer."""
        if not 0 <= cell < MAX_CELLS or (cell == self.active and cell == self.main_cell):
            return
        main_cell = self.main_cell
        viewport = self.cells[cell]
        if viewport is not None and isinstance(viewport.source, SeriesSource):
            theirs, ours = viewport.state(), self._main_state()
            self._restore_main(theirs)
            viewport.restore(ours)
            self.cells[cell], self.cells[main_cell] = None, viewport
            self.grid.put(cell, self.main.viewer)
            self.grid.put(main_cell, viewport.viewer)
        elif viewport is not None:  # a reformat or an empty viewport: the AI panel says why it is idle
            self.main.ai_panel.clear_prediction(REFORMAT_NOTE if viewport.source is not None else "-")
        elif cell == main_cell and not self.main._show_cached_prediction():
            self.main.classify_current()
        self.grid.set_active(cell)

    def drop_series(self, cell: int, uid: str) -> None:
        """A series dragged from the browser onto ``cell``: it is shown there, and that cell is active."""
        series = next((s for s in self.main.browser.series() if s.uid == uid), None)
        if series is None or not 0 <= cell < MAX_CELLS:
            return
        viewport = self.cells[cell]
        if viewport is None:
            self.main.show_series(series)
            self.grid.set_active(cell)
            return
        viewport.show(self.series_source(series))
        self.activate(cell)

    def show_in(self, cell: int, source: ViewSource, index: int | None = None) -> None:
        """Put ``source`` into ``cell`` (a series into the main viewer when that is the cell)."""
        viewport = self.cells[cell]
        if viewport is None:
            if isinstance(source, SeriesSource):
                self.main.show_series(source.series)
            return
        viewport.show(source, index)

    def drop_closed(self) -> None:
        """Empty the viewports whose series is no longer in the study browser (its study was closed)."""
        listed = {s.uid for s in self.main.browser.series()}
        for viewport in self.others:
            source = viewport.source
            if source is not None and source.series.uid not in listed:
                viewport.show(None)
        self.reference_lines.refresh()

    def refresh(self) -> None:
        for viewport in self.others:
            viewport.render()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """A click or a wheel turn on another viewport activates it first (and does nothing else)."""
        if event.type() in (QEvent.Type.MouseButtonPress, QEvent.Type.Wheel) and isinstance(watched, QWidget):
            cell = self.grid.cell_of(watched)
            if cell >= 0 and cell != self.active:
                self.activate(cell)
                return True
        return False

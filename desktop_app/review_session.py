"""The open studies of one reading session, how each series was left, and what was found in it.

Kept out of the main window: it adds File > Close study (Ctrl+W) and Close all studies
(Ctrl+Shift+W), and both on the study browser's right-click menu; it remembers each series' view
(slice, window, zoom/pan, invert) through :class:`SeriesMemory` when the reader leaves it, puts it
back when the series is shown again, shows the series' kept results, and frees what a closed study
held (its results, headers and decoded pixels).
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, QPoint, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMenu

from core.imaging import Series
from desktop_app.series_memory import SeriesMemory, ViewState
from desktop_app.series_results import summarize

CLOSE_STUDY_KEYS = "Ctrl+W"
CLOSE_ALL_KEYS = "Ctrl+Shift+W"


class ReviewSession(QObject):
    """Studies open in ``window`` (a MainWindow) and their series' view states."""

    def __init__(self, window: Any, file_menu: QMenu) -> None:
        super().__init__(window)
        self.window = window
        self.memory = SeriesMemory(window.settings.store)
        actions = []
        for text, slot, keys in (
            ("Close study", self.close_current_study, CLOSE_STUDY_KEYS),
            ("Close all studies", self.close_all, CLOSE_ALL_KEYS),
        ):
            action = QAction(text, window)
            action.setShortcut(QKeySequence(keys))
            action.triggered.connect(slot)
            window.addAction(action)
            actions.append(action)
        window.browser.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        window.browser.customContextMenuRequested.connect(self.browser_menu)
        quit_action = next((a for a in file_menu.actions() if a.text() == "Quit"), None)
        if quit_action is None:
            file_menu.addActions(actions)
        else:  # above Quit, after the export entries
            file_menu.insertActions(quit_action, actions)
            file_menu.insertSeparator(quit_action)

    # ----- view state ------------------------------------------------------------------------
    def leave_series(self) -> None:
        """Remember how the series on screen is shown (called before another one replaces it)."""
        win = self.window
        if win.series is None or win.ref is None:
            return
        zoom, pan_x, pan_y = win.viewer.view_state()
        self.memory.remember(win.series.uid, ViewState(win.index, win.voi, zoom, pan_x, pan_y, win.invert))

    def restore(self, series: Series) -> bool:
        """Show ``series`` as it was left (it is already the window's series); False when never seen."""
        state = self.memory.recall(series.uid)
        if state is None or not series.slices:
            return False
        win = self.window
        win.set_index(min(state.index, len(series.slices) - 1))
        win.voi = state.window
        win.invert = state.invert
        win.viewer.set_view_state(state.zoom, state.pan_x, state.pan_y)
        win.render_slice()
        return True

    def show_series_results(self, *, with_progress: bool) -> None:
        """Strip, series result and (``with_progress``, no run going on) progress bar of the series on
        screen from the results kept for it; a verdict only for a run that classified every slice."""
        win = self.window
        if win.series is None:
            return
        uid, total = win.series.uid, len(win.series.slices)
        results = win.results.of(uid)
        win.strip.reset(total)
        for index, prediction in results.items():
            win.strip.set_value(index, prediction.p_tumor, not prediction.inside_intended_use)
        finished = win.results.finished(uid)
        outcome = summarize(results, uid) if finished else None
        win.summary, win.summary_slice = outcome if outcome is not None else (None, -1)
        if win.series_run_uid() == uid:
            return  # the run on screen says "Running..." and fills the strip itself
        if finished or not results:
            win.ai_panel.show_summary(win.summary, win.summary_slice, total)
        else:
            win.ai_panel.show_partial(len(results), total)
        if with_progress and not win.series_run_uid():  # else the bar belongs to another series' run
            win.ai_panel.show_kept_progress(len(results), total, finished)

    # ----- closing -----------------------------------------------------------------------------
    def close_current_study(self) -> None:
        """Close the study of the series on screen (else the one selected in the browser)."""
        win = self.window
        uid = win.series.uid if win.series is not None else win.browser.current_series_uid()
        study = win.browser.study_of(uid) if uid else None
        if study is not None:
            self.close_study(study)

    def browser_menu(self, pos: QPoint) -> QMenu | None:
        """The browser's right-click menu: close the study under the pointer, or all of them."""
        browser = self.window.browser
        study = browser.study_at(pos)
        if study is None:
            return None
        menu = QMenu(browser)
        menu.addAction("Close this study", lambda: self.close_study(study))
        menu.addAction("Close all studies", self.close_all)
        menu.popup(browser.viewport().mapToGlobal(pos))
        return menu

    def close_all(self) -> None:
        for study in self.window.browser.study_uids():
            self.close_study(study)

    def close_study(self, study_uid: str) -> None:
        """Take the study out of the browser, free what it held; show another open series, if any."""
        win = self.window
        showing = win.series is not None and win.series.study_uid == study_uid
        if showing:
            self.leave_series()
        closing = {s.uid for s in win.browser.series() if s.study_uid == study_uid}
        if win.series_run_uid() in closing:  # its late answers are dropped, not kept for a closed series
            win.cancel_series()
            win.classification.forget_series_run()
            win.ai_panel.series_ended("Cancelled: its study was closed")
        removed = win.browser.remove_study(study_uid)
        self.memory.forget_session({s.uid for s in removed})
        self._free(removed)
        if showing:
            remaining = win.browser.series()
            if remaining:
                win.show_series(remaining[0])
                win.browser.select_series(remaining[0].uid)
            else:
                self.show_nothing("Open a study: File > Open, drop files here, or Help > Open sample study")
        win.statusBar().showMessage(f"Closed a study ({len(removed)} series)", 5000)

    def _free(self, removed: list[Series]) -> None:
        """What closed series held: their results, headers and decoded pixels."""
        win = self.window
        refs = [r for series in removed for r in series.slices]
        win.results.forget(s.uid for s in removed)
        for ref in refs:
            win._meta_cache.forget(ref.key)
        win.store.forget(refs)
        if win.series is not None and win.series.uid in {s.uid for s in removed}:
            win.series = None

    def show_nothing(self, message: str) -> None:
        """An empty viewer with ``message`` (while indexing, or when the last study was closed)."""
        win = self.window
        win.series = None
        win.strip.reset(0)
        win.slider.setRange(0, 0)
        win.slice_label.setText("-")
        win.preset_combo.clear()
        win.ai_panel.clear_prediction()
        win.ai_panel.show_summary(None)
        win.viewer.set_image(None)
        win.viewer.set_heatmap(None)
        win.viewer.set_message(message)

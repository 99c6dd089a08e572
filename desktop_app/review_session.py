"""The Qt side of the review session: closing studies, how each series was left, its kept results on screen.

The state under review is :class:`core.review.ReviewSession` (``window.review``, no Qt); this adds what
needs Qt: File > Close study (Ctrl+W) and Close all studies (Ctrl+Shift+W), and both on the study
browser's right-click menu; it remembers each series' view (slice, window, zoom/pan, invert) through
:class:`SeriesMemory` when the reader leaves it, puts it back when the series is shown again, shows the
series' kept results, and frees what a closed study held (its results, headers and decoded pixels).
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, QPoint, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMenu

from core.imaging import Series
from core.review import SliceAnswer, ViewWindow
from desktop_app.series_memory import SeriesMemory, ViewState

CLOSE_STUDY_KEYS = "Ctrl+W"
CLOSE_ALL_KEYS = "Ctrl+Shift+W"


class QtReviewSession(QObject):
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
        window.review.events.slice_classified.connect(self._show_slice_result)
        window.review.events.results_changed.connect(self._on_results_changed)
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
        review = win.review
        if review.series is None or review.ref is None:
            return
        zoom, pan_x, pan_y = win.viewer.view_state()
        state = ViewState(review.index, review.voi, zoom, pan_x, pan_y, review.invert)
        self.memory.remember(review.series.uid, state)

    def restore(self, series: Series) -> bool:
        """Show ``series`` as it was left (it is already the window's series); False when never seen."""
        state = self.memory.recall(series.uid)
        if state is None or not series.slices:
            return False
        win = self.window
        win.set_index(min(state.index, len(series.slices) - 1))
        win.review.set_window(ViewWindow(state.window, state.invert))  # re-renders when it differs
        win.viewer.set_view_state(state.zoom, state.pan_x, state.pan_y)
        return True

    def show_series_results(self, *, with_progress: bool) -> None:
        """Strip, series result and (``with_progress``, no run going on) progress bar of the series on
        screen from the results kept for it; a verdict only for a run that classified every slice."""
        win = self.window
        review = win.review
        if review.series is None:
            return
        uid, total = review.series.uid, len(review.series.slices)
        results = review.results.of(uid)
        win.strip.reset(total)
        for index, prediction in results.items():
            win.strip.set_value(index, prediction.p_tumor, not prediction.inside_intended_use)
        finished = review.results.finished(uid)
        if win.series_run_uid() == uid:
            return  # the run on screen says "Running..." and fills the strip itself
        if finished or not results:
            summary, key_slice = review.verdict or (None, -1)  # one series summary for both
            win.ai_panel.show_summary(summary, key_slice, total)
        else:
            win.ai_panel.show_partial(len(results), total)
        if with_progress and not win.series_run_uid():  # else the bar belongs to another series' run
            win.ai_panel.show_kept_progress(len(results), total, finished)

    def _show_slice_result(self, answer: SliceAnswer) -> None:
        """A series run's answer for one slice, in the strip when that series is on screen."""
        series, prediction = self.window.review.series, answer.prediction
        if series is not None and series.uid == answer.series_uid:
            self.window.strip.set_value(answer.index, prediction.p_tumor, not prediction.inside_intended_use)

    def _on_results_changed(self, uid: str) -> None:
        """A run of the series on screen started or finished: its strip and series result again."""
        series = self.window.review.series
        if series is not None and series.uid == uid:
            self.show_series_results(with_progress=False)

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
        """What closed series held: their results (the session closes the one on screen), headers and pixels."""
        win = self.window
        refs = [r for series in removed for r in series.slices]
        win.review.forget(s.uid for s in removed)
        for ref in refs:
            win._meta_cache.forget(ref.key)
        win.store.forget(refs)

    def show_nothing(self, message: str) -> None:
        """An empty viewer with ``message`` (while indexing, or when the last study was closed)."""
        win = self.window
        win.review.close_series()
        win.strip.reset(0)
        win.slider.setRange(0, 0)
        win.slice_label.setText("-")
        win.preset_combo.clear()
        win.ai_panel.clear_prediction()
        win.ai_panel.show_summary(None)
        win.viewer.set_image(None)
        win.viewer.set_heatmap(None)
        win.viewer.set_message(message)

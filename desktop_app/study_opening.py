"""Opening studies in the main window: File > Open dialogs, dropped files, and the index worker's answers.

Kept out of the main window: it hands files, folders and DICOMDIRs to the index worker (off the GUI
thread), listens to the latest indexing job only, adds the series found to the study browser, shows
the first one, and lists what could not be opened in the Problems panel.  The worker and its thread
belong to the window; their signals are connected here.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QFileDialog

from core.imaging import ScanResult, Series
from core.platform.audit_events import record_opened  # audit log
from desktop_app.window_actions import fill_recent

if TYPE_CHECKING:  # pragma: no cover
    from desktop_app.main_window import MainWindow


class StudyOpening(QObject):
    """Opens studies in ``window`` (a MainWindow) through its index worker."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self._index_job = -1

    def open_paths(self, paths: Sequence[Path], remember: bool = True) -> None:
        """See :meth:`MainWindow.open_paths`."""
        win = self.window
        paths = [Path(p) for p in paths]
        if not paths:
            return
        if remember:
            for path in paths:
                win.settings.add_recent(str(path))
            win.settings.last_study = [str(p) for p in paths]
            fill_recent(win)
        win.cancel_series()
        win.errors.setRowCount(0)
        win.errors_dock.hide()  # shown again if something of the new paths cannot be opened
        win.session.leave_series()  # the studies already open stay in the browser
        win.session.show_nothing("Indexing...")
        self._index_job = win.index_worker.start(paths)
        win.statusBar().showMessage(f"Opening {', '.join(p.name or str(p) for p in paths)}...")

    def _ask_paths(self, mode: str) -> None:
        win = self.window
        start = win.settings.last_folder or str(Path.home())
        if mode == "files":
            files, _ = QFileDialog.getOpenFileNames(
                win, "Open images", start, "Images (*.dcm *.png *.jpg *.jpeg);;All files (*)"
            )
            chosen = [Path(f) for f in files]
        elif mode == "folder":
            folder = QFileDialog.getExistingDirectory(win, "Open folder", start)
            chosen = [Path(folder)] if folder else []
        else:
            file, _ = QFileDialog.getOpenFileName(win, "Open DICOMDIR", start, "DICOMDIR (DICOMDIR);;All files (*)")
            chosen = [Path(file)] if file else []
        if chosen:
            win.settings.last_folder = str(chosen[0] if chosen[0].is_dir() else chosen[0].parent)
            self.open_paths(chosen)

    def _on_index_progress(self, job: int, done: int, total: int) -> None:
        if job == self._index_job:
            text = f"Indexing: {done} / {total} files" if total >= 0 else "Indexing: listing files..."
            self.window.statusBar().showMessage(text)

    def _on_series_found(self, job: int, series: Series, thumb: object) -> None:
        if job != self._index_job:
            return
        win = self.window
        win.browser.add_series(series, thumb)  # type: ignore[arg-type]
        if win.series is None:
            win.show_series(series)
            win.browser.select_series(series.uid)
        elif win.series.uid == series.uid and len(series.slices) != len(win.series.slices):
            win._replace_series(series)

    def _on_index_finished(self, job: int, result: ScanResult) -> None:
        if job != self._index_job:
            return
        win = self.window
        win.browser.set_result(result)
        win.errors.add_errors(result.errors)
        slices = result.all_slices()
        record_opened({r.path for r in slices}, slices=len(slices), errors=len(result.errors), via="gui")
        win.errors.add_errors(result.ignored)  # readable DICOM without an image (SR, presentation states)
        win.errors.add_errors(result.notes)  # e.g. a 4-D NIfTI shows its first volume
        count = len(result.errors)
        if count or result.notes:
            win.errors_dock.show()
        final = {s.uid: s for s in result.all_series()}
        if win.series is not None and win.series.uid in final:
            win._replace_series(final[win.series.uid])
        elif win.series is None and final:
            win.show_series(next(iter(final.values())))
        elif not final:
            win.viewer.set_message("No images found in what was opened" + (" - see Problems" if count else ""))
        problems = f"; {count} file(s) could not be opened (see Problems)" if count else ""
        win.statusBar().showMessage(f"Opened {len(final)} series{problems}", 10000)
        win.indexing_finished.emit(result)

    def _on_index_failed(self, job: int, message: str) -> None:
        if job == self._index_job:
            win = self.window
            win.errors.add_message("open", message)
            win.errors_dock.show()
            win.viewer.set_message(message)

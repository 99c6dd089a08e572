"""Studies arriving at the listener appear in the study browser as they arrive.

Each arrival re-indexes the study folders received so far (headers only, in its own thread with
an :class:`IndexWorker`) and adds or updates their series in the browser, beside what is open.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, QThread, Signal

from core.imaging import PixelStore, ScanResult, Series
from desktop_app.index_worker import IndexWorker
from desktop_app.study_browser import StudyBrowser


class IncomingStudies(QObject):
    """Feeds ``browser`` with the series of the study folders given to :meth:`add`."""

    series_added = Signal(object)  # Series

    def __init__(self, browser: StudyBrowser, store: PixelStore | None = None) -> None:
        super().__init__()
        self.browser = browser
        self._folders: set[Path] = set()
        self._job = -1
        self.index_thread = QThread(self)
        self.index_thread.setObjectName("neuroreview-incoming")
        self.worker = IndexWorker(store)
        self.worker.moveToThread(self.index_thread)
        self.worker.series_found.connect(self._on_series)
        self.worker.finished.connect(self._on_finished)
        self.index_thread.start()

    def add(self, folders: list[str]) -> None:
        """Index ``folders`` (with those still pending: a newer scan replaces the running one)."""
        self._folders |= {Path(f) for f in folders}
        self._job = self.worker.start(sorted(self._folders))

    def _on_series(self, job: int, series: Series, thumb: object) -> None:
        if job == self._job:
            self.browser.add_series(series, thumb)  # type: ignore[arg-type]
            self.series_added.emit(series)

    def _on_finished(self, job: int, _result: ScanResult) -> None:
        if job == self._job:
            self._folders.clear()

    def stop(self) -> None:
        self.worker.stop()
        self.index_thread.quit()
        self.index_thread.wait()

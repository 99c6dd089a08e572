"""The main window's File > Export flow: what an export holds, the export dialog, the export in a pool thread.

Kept out of the main window: what is exported (the series results as shown, the key slice, the heatmap
style and the window) is the review session's :meth:`~core.review.ReviewSession.export_content`, built
from its own state; this adds the pictures as displayed (the key slice, its overlay, the view), the
model's config and the measurements into one :class:`ExportRequest`, asks the reader for folder, name and
identity, runs the :class:`ExportTask` and reports back through the window's ``export_finished`` /
``export_failed`` signals (and the audit log).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray
from PySide6.QtCore import QObject, QThreadPool
from PySide6.QtGui import QImage

from core.export.identity import ExportIdentity, IdentityMode
from core.imaging import ImagingError
from core.platform.audit_events import record_exported  # audit log
from core.review.session import NOTHING_CLASSIFIED
from desktop_app.export_dialog import ask_export
from desktop_app.export_task import ExportKind, ExportRequest, ExportTask, series_header

if TYPE_CHECKING:  # pragma: no cover
    from core.export.naming import ExportName
    from desktop_app.main_window import MainWindow


class ExportFlow(QObject):
    """File > Export for ``window`` (a MainWindow)."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window

    def _view_pixels(self, deidentify: bool) -> NDArray[np.uint8]:
        """The viewer as shown; for a de-identified export its corner texts are de-identified too."""
        win = self.window
        masked = deidentify and not win.deidentify
        if masked:
            win.set_deidentify(True)
        image = win.viewer.grab().toImage().convertToFormat(QImage.Format.Format_RGBA8888)
        if masked:
            win.set_deidentify(False)
        width, height = image.width(), image.height()
        raw = np.frombuffer(image.constBits(), dtype=np.uint8).reshape(height, image.bytesPerLine())
        return raw[:, : width * 4].reshape(height, width, 4).copy()

    def export_request(self, kind: ExportKind, target: Path, identity: ExportIdentity) -> ExportRequest:
        """What File > Export writes: the series results (the slice on screen with its heatmap) and
        the key slice as displayed; raises ExportError when there is nothing to export."""
        from core.export import ExportError

        win = self.window
        content = win.review.export_content(kind)
        config = win.model_info.config if win.model_info is not None else win.config
        if kind != "png" and config is None:
            raise ExportError(NOTHING_CLASSIFIED)
        window = content.window
        display = None
        if content.refs:
            display = win.store.display(content.refs[content.key_index], window.voi, window.invert)
        voi = window.voi or (win.store.default_window(win.ref) if win.ref is not None else None)
        return ExportRequest(
            kind=kind,
            target=target,
            refs=content.refs,
            predictions=content.predictions,
            config=config,  # type: ignore[arg-type]
            key_index=content.key_index,
            key_display=display,
            view=self._view_pixels(identity.deidentify) if kind == "png" else None,
            window=(voi.center, voi.width) if voi is not None else None,
            style=content.style,
            identity=identity,
            partial_of=content.partial_of,
            measurements=win.viewports.tools.report_rows(content.series_uid, identity.deidentify),
        )

    def export_dialog(self, kind: ExportKind) -> None:
        """File > Export: ask folder, name and identity (remembered), then export."""
        win = self.window
        if win.series is None:
            self._on_export_failed("open a study first")
            return
        choice = ask_export(win, kind, win.settings, series_header(win.series.slices))
        if choice is not None:
            self.export(kind, choice.target, identity=choice.identity, name=choice.name)

    def export(
        self, kind: ExportKind, target: Path, *, identity: ExportIdentity | None = None, name: ExportName | None = None
    ) -> None:
        """Write one export in a pool thread (see :meth:`MainWindow.export`)."""
        from core.export import ExportError

        win = self.window
        identity = identity or ExportIdentity(IdentityMode(win.settings.export_identity))
        try:
            request = self.export_request(kind, target, identity)
        except (ExportError, ImagingError) as exc:
            self._on_export_failed(str(exc))
            return
        task = ExportTask(dataclasses.replace(request, name=name))
        task.signals.finished.connect(self._on_export_finished)
        task.signals.failed.connect(self._on_export_failed)
        win.statusBar().showMessage(f"Exporting {kind.upper()} ({identity.mode.label.lower()})...")
        QThreadPool.globalInstance().start(task)

    def _on_export_finished(self, written: list[Path]) -> None:
        record_exported(",".join(sorted({p.suffix.lstrip(".") or "folder" for p in written})), written, via="gui")
        self.window.statusBar().showMessage("Exported " + ", ".join(str(p) for p in written), 15000)
        self.window.export_finished.emit(written)

    def _on_export_failed(self, message: str) -> None:
        self.window.errors.add_message("export", message)
        self.window.statusBar().showMessage(f"Export failed: {message}", 15000)
        self.window.export_failed.emit(message)

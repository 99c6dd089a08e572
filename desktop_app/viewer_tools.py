"""The Measure menu, the pixel probe and the Measurements dock, for every viewport of the grid.

Pixel probe: moving the mouse over any viewport shows, in the status bar, the pixel, its patient
coordinates in mm and its value in modality units (HU for CT).  Measuring tools (keys W, L, A, E, P,
T) make the left button draw; Delete removes the last measurement of the active image.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QAction, QActionGroup, QKeySequence, QMouseEvent
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core.imaging.measure import pixel_value, value_unit
from desktop_app.ai_panel import RESEARCH_ONLY
from desktop_app.measurement_export import ask_and_export, export
from desktop_app.measurements_tool import Measurement, MeasurementTool
from desktop_app.view_source import ViewSource
from desktop_app.viewer import SliceViewer

if TYPE_CHECKING:  # pragma: no cover
    from desktop_app.viewports import ViewportFeatures

TOOLS = (
    ("", "Window / level (left drag)", "W"),
    ("length", "Length", "L"),
    ("angle", "Angle (three clicks)", "A"),
    ("ellipse", "Ellipse ROI", "E"),
    ("freehand", "Freehand ROI", "P"),
    ("arrow", "Text arrow", "T"),
)


def probe_text(source: ViewSource, index: int, point: tuple[float, float]) -> str:
    """ "Pixel (c, r)  x y z mm  value v unit" for the image point under the mouse; "" outside the image."""
    try:
        value = pixel_value(source.values(index), point)
    except Exception:  # an image that no longer decodes shows nothing here (the viewer says why)
        return ""
    if value is None:
        return ""
    parts = [f"Pixel ({round(point[0])}, {round(point[1])})"]
    plane = source.geometry(index)
    if plane is not None:
        x, y, z = plane.to_patient(round(point[0]), round(point[1]))
        parts.append(f"x {x:.1f}  y {y:.1f}  z {z:.1f} mm")
    if isinstance(value, tuple):
        parts.append("RGB " + ", ".join(str(v) for v in value))
    else:
        unit = value_unit(source.modality())
        parts.append(f"value {value:.1f}" + (f" {unit}" if unit else ""))
    return "   ".join(parts)


class MeasurementPanel(QWidget):
    """The side table of measurements (all images), with delete and CSV export."""

    def __init__(self, tool: MeasurementTool, export: Callable[[], None], export_dicom: Callable[[str], None]) -> None:
        super().__init__()
        self.tool = tool
        self.table = QTableWidget(0, 3)
        self.table.setHorizontalHeaderLabels(["Image", "Tool", "Result"])
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        clear = QPushButton("Clear all")
        clear.clicked.connect(tool.clear)
        save = QPushButton("Export CSV...")
        save.clicked.connect(export)
        buttons = QHBoxLayout()
        buttons.addWidget(clear)
        buttons.addWidget(save)
        state = QPushButton("Presentation state...")
        state.setToolTip("The measurements on acquired DICOM images as a DICOM Grayscale Softcopy "
                         "Presentation State attached to the study")  # fmt: skip
        state.clicked.connect(lambda: export_dicom("pr"))
        report = QPushButton("DICOM SR...")
        report.setToolTip("Lengths and ROIs on acquired DICOM images as a DICOM SR measurement report "
                          "(TID 1500) attached to the study")  # fmt: skip
        report.clicked.connect(lambda: export_dicom("sr"))
        buttons.addWidget(state)
        buttons.addWidget(report)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        layout.addLayout(buttons)
        note = QLabel(RESEARCH_ONLY)
        note.setStyleSheet("color: #c08000;")
        layout.addWidget(note)
        tool.changed.connect(self.refresh)

    def refresh(self) -> None:
        rows: list[Measurement] = self.tool.measurements
        self.table.setRowCount(len(rows))
        for n, m in enumerate(rows):
            for column, text in enumerate((m.image, m.kind, m.result)):
                self.table.setItem(n, column, QTableWidgetItem(text))


class ViewerTools(QObject):
    """Measuring tools, probe and Measurements dock over the viewports of ``features``."""

    def __init__(self, features: ViewportFeatures) -> None:
        super().__init__(features)
        self.features = features
        main = features.main
        self.tool = MeasurementTool(self.locate, self)
        self.tool.ask_text = self._ask_text
        self.tool.refused.connect(lambda reason: main.statusBar().showMessage(reason, 10000))
        self.probe_label = QLabel("")
        main.statusBar().addWidget(self.probe_label)
        for cell in range(len(features.cells)):
            self.watch(features.viewer_at(cell))
        self.panel = MeasurementPanel(self.tool, self.export_dialog, self.export_dicom)
        self.dock = main._dock("Measurements", "measurements", self.panel, Qt.DockWidgetArea.RightDockWidgetArea)
        self.dock.hide()
        self.tool.added.connect(lambda _m: self.dock.show())
        self._build_menu()

    def locate(self, viewer: SliceViewer) -> tuple[ViewSource, int] | None:
        """The source and image index a viewer shows now (None when it shows nothing)."""
        cell = self.features.grid.cell_of(viewer)
        if cell < 0:
            return None
        source = self.features.source_at(cell)
        index = self.features.index_at(cell)
        if source is None or not 0 <= index < len(source):
            return None
        return source, index

    def watch(self, viewer: SliceViewer) -> None:
        viewer.setMouseTracking(True)
        viewer.installEventFilter(self)
        self.tool.watch(viewer)

    def _build_menu(self) -> None:
        main = self.features.main
        menu = self.features.find_menu("Measure")
        group = QActionGroup(self)
        self.tool_actions: dict[str, QAction] = {}
        for kind, text, key in TOOLS:
            action = QAction(text, main)
            action.setCheckable(True)
            action.setShortcut(QKeySequence(key))
            action.triggered.connect(lambda _checked=False, k=kind: self.tool.set_kind(k))
            group.addAction(action)
            menu.addAction(action)
            main.addAction(action)
            self.tool_actions[kind] = action
        self.tool_actions[""].setChecked(True)
        menu.addSeparator()
        delete = QAction("Delete last measurement on this image", main)
        delete.setShortcut(QKeySequence(QKeySequence.StandardKey.Delete))
        delete.triggered.connect(self.delete_last)
        menu.addAction(delete)
        main.addAction(delete)
        menu.addAction(self.dock.toggleViewAction())

    def report_rows(self, series_uid: str, deidentify: bool) -> tuple[tuple[str, str, str], ...]:
        """(image, tool, result) of the measurements of one series for a report; a de-identified report
        names images by number only (the series label may carry a description)."""
        rows = []
        for m in self.tool.measurements:
            if m.series_uid != series_uid:
                continue
            where = f"{m.reformat} reformat, image {m.index + 1}" if m.reformat else f"image {m.index + 1}"
            rows.append((where if deidentify else m.image, m.kind, m.result))
        return tuple(rows)

    def delete_last(self) -> None:
        located = self.locate(self.features.viewer_at(self.features.active))
        if located is not None:
            self.tool.delete_last(located[0].key(located[1]))

    def _ask_text(self) -> str:
        text, ok = QInputDialog.getText(self.features.main, "Text arrow", "Label:")
        return text if ok and text else "arrow"

    def export_dialog(self) -> None:
        start = str(Path(self.features.main.settings.last_folder or Path.home()) / "measurements.csv")
        path, _ = QFileDialog.getSaveFileName(self.features.main, "Export measurements", start, "CSV (*.csv)")
        if path:
            self.export(Path(path))

    def export(self, path: Path) -> None:
        """Write every measurement as CSV (with the research-use statement); errors go to the status bar."""
        from core.export.errors import ExportError
        from core.export.records import RESEARCH_USE_STATEMENT
        from core.export.tables import write_results_csv

        rows = [{"image": m.image, "tool": m.kind, "result": m.result, "research_use": RESEARCH_USE_STATEMENT}
                for m in self.tool.measurements]  # fmt: skip
        try:
            write_results_csv(path, rows)
        except ExportError as exc:
            self.features.main.statusBar().showMessage(f"Measurements not exported: {exc}", 15000)
            return
        self.features.main.statusBar().showMessage(f"Exported {path}", 10000)

    def export_dicom(self, kind: str, path: Path | None = None) -> None:
        """ "pr" (presentation state) or "sr" (measurement report) of every measurement; asks for the file
        when ``path`` is None."""
        main = self.features.main
        if path is None:
            ask_and_export(main, kind, main.settings.last_folder, self.tool.measurements)
        else:
            export(main, kind, path, self.tool.measurements)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """The pixel probe: follows the mouse over any viewport."""
        if event.type() == QEvent.Type.MouseMove and isinstance(event, QMouseEvent):
            if isinstance(watched, SliceViewer):
                located = self.locate(watched)
                point = watched.widget_to_image(event.position())
                text = probe_text(*located, point) if located is not None and point is not None else ""
                self.probe_label.setText(text)
        elif event.type() == QEvent.Type.Leave:
            self.probe_label.setText("")
        return False

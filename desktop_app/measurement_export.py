"""Measurements that leave the workstation as DICOM: a presentation state or a TID 1500 measurement report.

Only measurements on acquired DICOM slices can be referenced; those on reformats or PNG/NIfTI images are
left out and counted.  Both objects point at the original images, so they are attached to the study.
Outcomes go to the status bar and the audit log.  The DICOM writers (highdicom) are imported when a
measurement is exported, not when the window starts.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QMainWindow

from core.export import ExportError, read_header
from core.platform.audit_events import record_exported
from desktop_app.measurements_tool import Measurement


def _on_dicom(measurements: Sequence[Measurement]) -> list[Measurement]:
    return [m for m in measurements if m.ref is not None and m.ref.kind == "dicom"]


def presentation_state(path: Path, measurements: Sequence[Measurement]) -> tuple[Path, int]:
    """Write the presentation state; returns the file and how many measurements were left out."""
    from core.export.presentation_state import Annotation, write_presentation_state  # highdicom: on demand

    usable = _on_dicom(measurements)
    headers = {str(m.ref.path): read_header(m.ref.path) for m in usable if m.ref is not None}
    annotations = [Annotation(m.kind, m.points, m.result, headers[str(m.ref.path)], m.ref.frame)
                   for m in usable if m.ref is not None]  # fmt: skip
    written = write_presentation_state(path, annotations, [m.ref.path for m in usable if m.ref is not None])
    return written, len(measurements) - len(usable)


def measurement_report(path: Path, measurements: Sequence[Measurement]) -> tuple[Path, int]:
    """Write the TID 1500 report of the lengths and ROIs; returns the file and how many were left out."""
    from core.export.measurement_sr import SR_KINDS, ReportedMeasurement, write_measurement_report

    usable = [m for m in _on_dicom(measurements) if m.kind in SR_KINDS]
    headers = {str(m.ref.path): read_header(m.ref.path) for m in usable if m.ref is not None}
    items = [ReportedMeasurement(m.kind, m.points, dict(m.values), headers[str(m.ref.path)], m.ref.frame, m.unit)
             for m in usable if m.ref is not None]  # fmt: skip
    written = write_measurement_report(path, items, [m.ref.path for m in usable if m.ref is not None])
    return written, len(measurements) - len(usable)


Writer = Callable[[Path, Sequence[Measurement]], tuple[Path, int]]
WRITERS: dict[str, tuple[str, str, Writer]] = {
    "pr": ("Presentation state", "measurements_PR.dcm", presentation_state),
    "sr": ("Measurement report (DICOM SR)", "measurements_SR.dcm", measurement_report),
}


def export(window: QMainWindow, kind: str, path: Path, measurements: Sequence[Measurement]) -> bool:
    """Write one DICOM export of ``measurements``; the outcome is shown in the status bar."""
    title, _, writer = WRITERS[kind]
    bar = window.statusBar()
    try:
        written, left_out = writer(path, measurements)
    except ExportError as exc:
        bar.showMessage(f"{title} not written: {exc}", 15000)
        return False
    record_exported(kind, [written], via="gui")
    note = f" ({left_out} measurement(s) left out: on reformats or non-DICOM images, or angles and arrows)"
    bar.showMessage(f"Wrote {written}" + (note if left_out else ""), 15000)
    return True


def ask_and_export(window: QMainWindow, kind: str, folder: str, measurements: Sequence[Measurement]) -> None:
    """Ask for the file name, then :func:`export`."""
    title, name, _ = WRITERS[kind]
    path, _ = QFileDialog.getSaveFileName(window, title, str(Path(folder or Path.home()) / name), "DICOM (*.dcm)")
    if path:
        export(window, kind, Path(path), measurements)

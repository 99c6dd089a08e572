"""File > Export: turn what the workstation shows into core.export outputs, off the GUI thread.

The GUI gathers an :class:`ExportRequest` (slices, their predictions, the pictures as displayed);
:func:`run_export` reads the DICOM headers and calls the matching ``core.export`` writer, which
refuses destinations beside the source images and writes atomically.  :class:`ExportTask` runs it
in the global QThreadPool and reports ``finished(list of paths)`` or ``failed(message)``.
Research use only - not for diagnostic use (every output says so).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
from numpy.typing import NDArray
from PySide6.QtCore import QObject, QRunnable, Signal

from core.imaging import SliceRef
from core.imaging.heatmap import HeatmapStyle
from core.model.model_config import ModelConfig
from core.model.prediction import Prediction

if TYPE_CHECKING:  # pragma: no cover
    from pydicom.dataset import Dataset

    from core.export import SliceResult
    from core.export.identity import ExportIdentity
    from core.export.naming import ExportName

ExportKind = Literal["pdf", "png", "dicom", "csv", "json"]


@dataclass(frozen=True)
class ExportRequest:
    """One export.  ``key_index`` indexes ``refs``/``predictions``; pictures are uint8 as displayed."""

    kind: ExportKind
    target: Path
    refs: tuple[SliceRef, ...]
    predictions: tuple[Prediction, ...]
    config: ModelConfig
    key_index: int = 0
    key_display: NDArray[np.uint8] | None = None
    key_overlay: NDArray[np.uint8] | None = None
    view: NDArray[np.uint8] | None = None  # the whole viewer as shown (PNG export)
    window: tuple[float, float] | None = None
    style: HeatmapStyle = field(default_factory=HeatmapStyle)  # as on screen: colormap, opacity, threshold
    identity: ExportIdentity | None = None  # attached or de-identified, with the export's UID map; None: de-identified
    name: ExportName | None = None  # DICOM file names; None: built from the content
    partial_of: int = 0  # slices in the series when not all were classified (no series verdict); 0: all were
    measurements: tuple[tuple[str, str, str], ...] = ()  # (image, tool, result) for the PDF

    @property
    def deidentify(self) -> bool:
        return self.identity is None or self.identity.deidentify


def series_header(refs: Sequence[SliceRef]) -> Dataset | None:
    """The DICOM header of a series' first slice (it names the export), or None for PNG/JPEG or unreadable files."""
    from core.export import ExportError, read_header

    if not refs or refs[0].kind != "dicom":
        return None
    try:
        return read_header(refs[0].path)
    except ExportError:
        return None


def _results(request: ExportRequest) -> list[SliceResult]:
    from core.export import SliceResult
    from core.export.records import SourceHeaders

    headers = SourceHeaders()
    return [
        SliceResult.from_ref(ref, prediction, headers.header(ref))
        for ref, prediction in zip(request.refs, request.predictions, strict=True)
    ]


def run_export(request: ExportRequest) -> list[Path]:
    """Write the requested output; returns the written paths or raises core.export.ExportError."""
    from core.export import (
        AlgorithmInfo,
        ExportError,
        ReportInput,
        UidMap,
        burn_in_overlay,
        result_rows,
        write_pdf_report,
        write_results_csv,
        write_results_json,
        write_series_dicom,
        write_view_png,
    )
    from core.model.series_summary import summarize_series

    sources = sorted({str(ref.path) for ref in request.refs})
    if request.kind == "png":
        if request.view is None:
            raise ExportError("there is no view to export")
        write_view_png(request.target, request.view, description="NeuroReview view", sources=sources)
        return [request.target]
    if not request.predictions:
        raise ExportError("there are no classified slices to export; classify the slice or the series first")
    algorithm = AlgorithmInfo.from_config(request.config)
    uid_map = request.identity.uid_map if request.identity is not None else UidMap()
    results = _results(request)
    summary = summarize_series([r.prediction for r in results], stacked=all(r.kind != "raster" for r in request.refs))
    if request.kind in ("csv", "json"):
        rows = result_rows(results, algorithm, deidentify=request.deidentify, uid_map=uid_map)
        if request.kind == "csv":
            write_results_csv(request.target, rows, sources=sources)
        else:
            verdict = None if request.partial_of else summary
            write_results_json(request.target, rows, algorithm=algorithm, summary=verdict, sources=sources)
        return [request.target]
    if request.key_display is None:
        raise ExportError("the key slice could not be rendered")
    if request.kind == "pdf":
        report = ReportInput(
            results=results,
            algorithm=algorithm,
            key_display=request.key_display,
            key_overlay=request.key_overlay,
            key_index=request.key_index,
            window=request.window,
            summary=summary,
            include_identifiers=not request.deidentify,
            heatmap_style=request.style,
            uid_map=uid_map,
            slices_in_series=request.partial_of,
            measurements=request.measurements,
        )
        write_pdf_report(request.target, report, sources=sources)
        return [request.target]
    # DICOM: the Secondary Capture shows the series' key slice (maximum P(tumor)); the GUI passes
    # that slice's display, and its heatmap travels with its prediction when it was on screen.
    if summary.key_index != request.key_index:
        raise ExportError("internal: the DICOM key picture is not the series' key slice")
    heat = results[summary.key_index].prediction.heatmap
    picture = burn_in_overlay(request.key_display, heat, request.style)
    return write_series_dicom(
        request.target,
        results,
        algorithm,
        key_picture=picture,
        name=request.name,
        summary=summary,
        deidentify=request.deidentify,
        uid_map=uid_map,
        sources=sources,
        series_verdict=not request.partial_of,
    )


def with_heatmap_from(prediction: Prediction, shown: Prediction | None) -> Prediction:
    """``prediction`` carrying the heatmap of ``shown`` (the same slice's on-screen result), if any."""
    if shown is None or shown.heatmap is None:
        return prediction
    return dataclasses.replace(
        prediction, heatmap=shown.heatmap, heatmap_class=shown.heatmap_class, heatmap_method=shown.heatmap_method
    )


class ExportSignals(QObject):
    finished = Signal(object)  # list[Path]
    failed = Signal(str)


class ExportTask(QRunnable):
    """Runs :func:`run_export` in a pool thread; any failure becomes ``failed(message)``."""

    def __init__(self, request: ExportRequest) -> None:
        super().__init__()
        self.request = request
        self.signals = ExportSignals()

    def run(self) -> None:
        try:
            written = run_export(self.request)
        except Exception as exc:  # ExportError and I/O errors alike become a message for the user
            self.signals.failed.emit(str(exc) or type(exc).__name__)
            return
        self.signals.finished.emit(written)

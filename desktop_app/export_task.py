"""File > Export: turn what the workstation shows into core.export outputs, off the GUI thread.

The GUI gathers an :class:`ExportRequest` (slices, their predictions, the pictures as displayed);
:func:`run_export` reads the DICOM headers, turns the request into the export plan the CLI uses too
(:func:`export_plan`) and writes it with :func:`core.export.plan.write_plan`, which refuses
destinations beside the source images before writing anything and writes atomically.
:class:`ExportTask` runs it in the global QThreadPool and reports ``finished(list of paths)`` or
``failed(message)``.
Research use only - not for diagnostic use (every output says so).
"""

from __future__ import annotations

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
    from core.export.plan import ExportPlan

ExportKind = Literal["pdf", "png", "dicom", "csv", "json"]


@dataclass(frozen=True)
class ExportRequest:
    """One export.  ``key_index`` indexes ``refs``/``predictions``: the slice ``key_display`` shows (uint8, as
    displayed), which every picture of the export shows (the plan composites the heatmap over it with
    ``style``, as the screen does)."""

    kind: ExportKind
    target: Path
    refs: tuple[SliceRef, ...]
    predictions: tuple[Prediction, ...]
    config: ModelConfig
    key_index: int = 0
    key_display: NDArray[np.uint8] | None = None
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


def export_plan(request: ExportRequest) -> ExportPlan:
    """The request as an :class:`~core.export.plan.ExportPlan`: its one output, the series as shown (the
    slice the GUI rendered is the one the pictures show), the screen's heatmap style and the identity."""
    from core.export import AlgorithmInfo, SliceResult
    from core.export.identity import ExportIdentity, IdentityMode
    from core.export.plan import ExportPlan, PlannedOutput, PlanSeries
    from core.export.records import SourceHeaders

    series: tuple[PlanSeries, ...] = ()
    if request.predictions and not (request.kind == "png" and request.view is not None):
        headers = SourceHeaders()
        results = tuple(
            SliceResult.from_ref(ref, prediction, headers.header(ref))
            for ref, prediction in zip(request.refs, request.predictions, strict=True)
        )
        series = (
            PlanSeries(
                results,
                shown=request.key_index,
                window=request.window,
                slices_in_series=request.partial_of,
                measurements=request.measurements,
                name=request.name,
            ),
        )
    return ExportPlan(
        outputs=(PlannedOutput(request.kind, request.target),),
        series=series,
        algorithm=AlgorithmInfo.from_config(request.config) if request.config is not None else None,
        style=request.style,
        identity=request.identity or ExportIdentity(IdentityMode.DEIDENTIFY),
        view=request.view,
        sources=tuple(str(ref.path) for ref in request.refs),
    )


def run_export(request: ExportRequest) -> list[Path]:
    """Write the requested output through :func:`core.export.plan.write_plan`; returns the written paths or
    raises core.export.ExportError."""
    from core.export import ExportError
    from core.export.plan import write_plan

    def render(_key: SliceResult) -> NDArray[np.uint8]:
        if request.key_display is None:
            raise ExportError("the key slice could not be rendered")
        return request.key_display  # the slice ``key_index``, which the plan shows

    return write_plan(export_plan(request), render=render)


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

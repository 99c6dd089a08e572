"""One export plan: what to write, from which classified series, and the one function that writes it.

File > Export (``desktop_app/export_task.py``) and ``neuroreview-classify --pdf/--dicom-out``
(:mod:`core.export.cli_outputs`) both describe their export as an :class:`ExportPlan` and hand it
to :func:`write_plan`, so the two cannot drift apart:

* every destination is checked before anything is written (:func:`check_outputs`);
* each series' key slice is chosen once, by :func:`choose_key_slice`, and every picture of the
  export (the PDF's, a key-slice PNG, the DICOM Secondary Capture) shows that slice;
* its heatmap is composited once, by :func:`core.imaging.heatmap.composite` with the plan's
  :class:`HeatmapStyle` (colormap, opacity, threshold, as on screen), and that one picture goes into
  the PDF, the PNG and, with "NOT FOR DIAGNOSTIC USE" burned in, the Secondary Capture;
* one identity (attached or de-identified, one UID map) for every file of the export.

Research use only - not for diagnostic use (every output says so).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from core.export.destination import check_new_file, check_output_folder
from core.export.errors import ExportError
from core.export.identity import ExportIdentity, IdentityMode
from core.export.naming import ExportName
from core.export.records import AlgorithmInfo, SliceResult
from core.imaging.heatmap import HeatmapStyle, composite
from core.model.heatmap_policy import heatmap_withheld, withhold_heatmap
from core.model.prediction import Prediction
from core.model.series_summary import SeriesSummary, summarize_series

OutputKind = Literal["pdf", "png", "dicom", "csv", "json"]
Renderer = Callable[[SliceResult], NDArray[np.uint8]]  # a slice as displayed, 8-bit grey or RGB
Explainer = Callable[[SliceResult], Prediction]  # the slice's prediction with a heatmap computed
NOTHING_CLASSIFIED = "there are no classified slices to export; classify the slice or the series first"


@dataclass(frozen=True)
class PlannedOutput:
    """One output of the plan: ``target`` is the file, or for ``"dicom"`` the folder of the SR/SC pairs."""

    kind: OutputKind
    target: Path


@dataclass(frozen=True)
class PlanSeries:
    """The classified slices of one series, in slice order, and how the reader saw them.

    ``shown``: the slice the pictures show when the reader chose it (the GUI's PDF: the slice on
    screen), None: the series' key slice; ``window``: the displayed (center, width), for the caption;
    ``slices_in_series``: the series' slice count when a run did not classify them all (no series
    verdict), 0 when it did; ``name``: the DICOM file names (None: built from the key slice).
    """

    results: tuple[SliceResult, ...]
    shown: int | None = None
    window: tuple[float, float] | None = None
    slices_in_series: int = 0
    measurements: tuple[tuple[str, str, str], ...] = ()  # (image, tool, result), listed in the PDF
    name: ExportName | None = None

    @property
    def stacked(self) -> bool:
        """False for a folder of PNG/JPEG images, whose neighbours are unrelated (see summarize_series)."""
        return all(r.source_format != "raster" for r in self.results)


@dataclass(frozen=True)
class ExportPlan:
    """Everything one export writes: its outputs, the series, the heatmap style, the identity.

    ``view``: the whole viewer as shown (the GUI's PNG); without it a PNG holds the key slice with its
    heatmap.  ``pdf_identifiers``: an attached (not de-identified) PDF prints patient and study
    identifiers.  ``sources``: further source files that no output may be written over or beside.
    """

    outputs: tuple[PlannedOutput, ...]
    series: tuple[PlanSeries, ...] = ()
    algorithm: AlgorithmInfo | None = None
    style: HeatmapStyle = field(default_factory=HeatmapStyle)
    identity: ExportIdentity = field(default_factory=lambda: ExportIdentity(IdentityMode.DEIDENTIFY))
    pdf_identifiers: bool = True
    view: NDArray[np.uint8] | None = None
    sources: tuple[str, ...] = ()
    allow_beside_source: bool = False

    @property
    def source_files(self) -> list[str]:
        """Every source file of the export (outputs never go over or, by default, beside them)."""
        return sorted({*self.sources, *(r.source for s in self.series for r in s.results)})

    @property
    def needs_pictures(self) -> bool:
        """Whether an output shows the key slices (the PDF, the SC, a PNG without a view)."""
        return any(o.kind in ("pdf", "dicom") or (o.kind == "png" and self.view is None) for o in self.outputs)


@dataclass
class PlanProblems:
    """Outputs left out (``skipped``) or failed (``failed``, with the reason), when the rest is written anyway."""

    skipped: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class KeyChoice:
    """A series' verdict and its key slice (``index`` into the series' results)."""

    summary: SeriesSummary
    index: int


def choose_key_slice(series: PlanSeries) -> KeyChoice:
    """The one choice of the slice an export's pictures show: ``series.shown`` when the reader chose
    one, else the series' key slice by :func:`~core.model.series_summary.summarize_series`'s rule."""
    if not series.results:
        raise ExportError(NOTHING_CLASSIFIED)
    summary = summarize_series([r.prediction for r in series.results], stacked=series.stacked)
    index = summary.key_index if series.shown is None else series.shown
    if not 0 <= index < len(series.results):
        raise ExportError(f"key slice index {index} is outside the {len(series.results)} classified slices")
    return KeyChoice(summary, index)


def check_outputs(
    outputs: Sequence[PlannedOutput], sources: Sequence[str], *, allow_beside_source: bool = False
) -> None:
    """Raise DestinationError if any output is refused: a file that exists or lies over or beside a source,
    a DICOM folder beside a source.  Files are checked first: checking a folder creates it."""
    for output in sorted(outputs, key=lambda o: o.kind == "dicom"):
        if output.kind == "dicom":
            check_output_folder(output.target, sources, allow_beside_source=allow_beside_source)
        else:
            check_new_file(output.target, sources, allow_beside_source=allow_beside_source)


@dataclass(frozen=True)
class _Series:
    """One series ready to write: the key slice's prediction as exports show it, its pictures."""

    plan: PlanSeries
    results: list[SliceResult]
    summary: SeriesSummary
    key_index: int
    display: NDArray[np.uint8] | None = None  # the key slice as displayed
    overlay: NDArray[np.uint8] | None = None  # the same with its heatmap, composited with the plan's style

    @property
    def key(self) -> SliceResult:
        return self.results[self.key_index]

    @property
    def pdf_overlay(self) -> NDArray[np.uint8] | None:
        """The overlay when there is a heatmap (None lets the PDF say why there is none)."""
        return self.overlay if self.key.prediction.heatmap is not None else None


def _prepare(plan: ExportPlan, series: PlanSeries, render: Renderer | None, explain: Explainer | None) -> _Series:
    choice = choose_key_slice(series)
    key = series.results[choice.index]
    unexplained = key.prediction.heatmap is None and not heatmap_withheld(key.prediction)
    if plan.needs_pictures and unexplained and explain is not None:
        key = dataclasses.replace(key, prediction=explain(key))
    key = dataclasses.replace(key, prediction=withhold_heatmap(key.prediction))  # no "notumor" or outside map
    results = [*series.results[: choice.index], key, *series.results[choice.index + 1 :]]
    prepared = _Series(series, results, choice.summary, choice.index)
    if not plan.needs_pictures:
        return prepared
    if render is None:
        raise ExportError("the key slice could not be rendered")
    display = render(key)
    overlay = composite(display, key.prediction.heatmap, plan.style)
    return dataclasses.replace(prepared, display=display, overlay=overlay)


def _validate(plan: ExportPlan) -> None:
    """Refuse a plan that cannot be written, before any destination is touched."""
    kinds = {o.kind for o in plan.outputs}
    if "png" in kinds and plan.view is None and len(plan.series) != 1:
        raise ExportError("there is no view to export" if not plan.series else "a PNG shows one series' key slice")
    if kinds - {"png"} or plan.view is None:
        if not plan.series or not all(s.results for s in plan.series):
            raise ExportError(NOTHING_CLASSIFIED)
        if plan.algorithm is None:
            raise ExportError("the exports need the model that classified the slices")


def write_plan(
    plan: ExportPlan,
    *,
    render: Renderer | None = None,
    explain: Explainer | None = None,
    problems: PlanProblems | None = None,
) -> list[Path]:
    """Write every output of ``plan``, in its order; returns the files written.

    ``render`` gives a key slice as displayed (needed by the PDF, the SC and a PNG without a view);
    ``explain`` (optional) computes the heatmap of a key slice that has none.  A refused destination
    raises DestinationError before anything is written.  After that, without ``problems`` the first
    failure raises ExportError; with it, a failed output (one series' SR/SC pair, the PDF) is recorded
    there, a series that is not DICOM is skipped for the DICOM outputs, and the rest is still written.
    """
    _validate(plan)
    check_outputs(plan.outputs, plan.source_files, allow_beside_source=plan.allow_beside_source)
    ready = [_prepare(plan, series, render, explain) for series in plan.series]
    written: list[Path] = []
    for output in plan.outputs:
        if output.kind != "dicom":
            label = f"{output.kind.upper()} {output.target}"
            written += _guarded(functools.partial(_write_file, plan, output, ready), label, problems)
            continue
        for number, series in enumerate(ready, start=1):
            if problems is not None and any(r.header is None for r in series.results):
                problems.skipped.append(f"series {number}: not DICOM, no SR/SC written")
                continue
            write = functools.partial(_write_dicom, plan, output.target, series)
            written += _guarded(write, f"series {number} SR/SC", problems)
    return written


def _guarded(write: Callable[[], list[Path]], label: str, problems: PlanProblems | None) -> list[Path]:
    """``write()``; with ``problems``, an ExportError is recorded as ``label: reason`` instead of raised."""
    if problems is None:
        return write()
    try:
        return write()
    except ExportError as exc:
        problems.failed.append(f"{label}: {exc}")
        return []


def _write_dicom(plan: ExportPlan, folder: Path, series: _Series) -> list[Path]:
    """The SR and the SC (the composited key picture with the banner burned in) of one series."""
    from core.export.dicom_outputs import write_series_dicom
    from core.export.overlay import burn_in_text

    assert plan.algorithm is not None and series.overlay is not None
    return write_series_dicom(
        folder,
        series.results,
        plan.algorithm,
        key_picture=burn_in_text(series.overlay),
        key_index=series.key_index,
        name=series.plan.name,
        summary=series.summary,
        deidentify=plan.identity.deidentify,
        uid_map=plan.identity.uid_map,
        sources=plan.source_files,
        allow_beside_source=plan.allow_beside_source,
        series_verdict=not series.plan.slices_in_series,
    )


def _write_file(plan: ExportPlan, output: PlannedOutput, ready: Sequence[_Series]) -> list[Path]:
    """One single-file output (PDF, PNG, CSV or JSON) of every series."""
    writer = {"pdf": _write_pdf, "png": _write_png}.get(output.kind, _write_table)
    writer(plan, output, ready)
    return [output.target]


def _write_pdf(plan: ExportPlan, output: PlannedOutput, ready: Sequence[_Series]) -> None:
    from core.export.pdf_report import ReportInput, write_pdf_report

    assert plan.algorithm is not None
    reports = []
    for series in ready:
        assert series.display is not None
        reports.append(
            ReportInput(
                results=series.results,
                algorithm=plan.algorithm,
                key_display=series.display,
                key_overlay=series.pdf_overlay,
                key_index=series.key_index,
                window=series.plan.window,
                summary=series.summary,
                include_identifiers=plan.pdf_identifiers and not plan.identity.deidentify,
                heatmap_style=plan.style,
                uid_map=plan.identity.uid_map,
                slices_in_series=series.plan.slices_in_series,
                measurements=series.plan.measurements,
            )
        )
    write_pdf_report(output.target, reports, sources=plan.source_files, allow_beside_source=plan.allow_beside_source)


def _write_png(plan: ExportPlan, output: PlannedOutput, ready: Sequence[_Series]) -> None:
    """The view as shown, or (no view) the one series' key slice with its heatmap."""
    from core.export.png import write_view_png

    if plan.view is not None:
        picture, description = plan.view, "NeuroReview view"
    else:
        assert ready[0].overlay is not None
        picture, description = ready[0].overlay, "NeuroReview key slice with saliency heatmap"
    write_view_png(
        output.target,
        picture,
        description=description,
        sources=plan.source_files,
        allow_beside_source=plan.allow_beside_source,
    )


def _write_table(plan: ExportPlan, output: PlannedOutput, ready: Sequence[_Series]) -> None:
    """Per-slice rows of every series; the JSON adds the series verdict of a single, fully classified series."""
    from core.export.tables import result_rows, write_results_csv, write_results_json

    identity = plan.identity
    results = [r for series in ready for r in series.results]
    rows = result_rows(results, plan.algorithm, deidentify=identity.deidentify, uid_map=identity.uid_map)
    allow = plan.allow_beside_source
    if output.kind == "csv":
        write_results_csv(output.target, rows, sources=plan.source_files, allow_beside_source=allow)
        return
    whole = len(ready) == 1 and not ready[0].plan.slices_in_series
    summary = ready[0].summary if whole else None
    write_results_json(
        output.target,
        rows,
        algorithm=plan.algorithm,
        summary=summary,
        sources=plan.source_files,
        allow_beside_source=allow,
    )

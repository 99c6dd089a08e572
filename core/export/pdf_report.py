"""One-file PDF report of a classified series (fpdf2).

Page 1: study/series identification (de-identified unless the user opts in), the key slice at the
displayed window/level without and with the heatmap, the key slice's probabilities.  Then the
series summary with its aggregation rule, the model (name, version, weights SHA-256), software
version, date, and the per-slice table.  Every page carries "Research use only - not for
diagnostic use" in its footer.  Text is set in the bundled DejaVu Sans (``resources/fonts``,
Unicode: 'Dvořák^Łukasz' prints as is); if those files are missing, in the PDF core font
Helvetica (Latin-1; other characters are replaced by "?").
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from fpdf import FPDF
from numpy.typing import NDArray
from PIL import Image
from pydicom.dataset import Dataset

from core.export.deidentify import Deidentifier
from core.export.destination import atomic_output, check_destination
from core.export.errors import ExportError
from core.export.nifti_source import NIFTI_FORMAT
from core.export.overlay import blend_heatmap
from core.export.records import RESEARCH_USE_STATEMENT, SOFTWARE_NAME, AlgorithmInfo, SliceResult, software_version
from core.export.uid_map import UidMap
from core.imaging.heatmap import HeatmapStyle
from core.model.heatmap_policy import heatmap_note
from core.model.prediction import Prediction, outside_text
from core.model.series_summary import SeriesSummary, summarize_series
from core.platform.locator import resource_path

_IDENTIFICATION = (
    ("Patient name", "PatientName"),
    ("Patient ID", "PatientID"),
    ("Birth date", "PatientBirthDate"),
    ("Sex", "PatientSex"),
    ("Study date", "StudyDate"),
    ("Accession number", "AccessionNumber"),
    ("Study description", "StudyDescription"),
    ("Institution", "InstitutionName"),
    ("Modality", "Modality"),
    ("Series number", "SeriesNumber"),
    ("Series description", "SeriesDescription"),
    ("Study Instance UID", "StudyInstanceUID"),
    ("Series Instance UID", "SeriesInstanceUID"),
)
UNICODE_FONT = "DejaVuSans"
IMAGE_BOX_MM = 85.0  # each key-slice picture fits in a square this size


@dataclass(frozen=True)
class ReportInput:
    """Everything the PDF shows.

    ``key_display``: the key slice as displayed (uint8, grey or RGB, at the displayed window/level);
    ``key_overlay``: the same with the heatmap as displayed (None: blended here from the key
    prediction's heatmap); ``key_index`` indexes ``results`` (None: the summary's key slice);
    ``window``: (center, width) of the displayed window or its name (a VOI LUT), for the caption; ``uid_map``: share the
    export's map so the report's de-identified UIDs match the DICOM outputs'; ``measurements``: the reader's
    measurements of the series as (image, tool, result), listed after the per-slice results.
    """

    results: Sequence[SliceResult]
    algorithm: AlgorithmInfo
    key_display: NDArray[np.uint8]
    key_overlay: NDArray[np.uint8] | None = None
    key_index: int | None = None
    window: tuple[float, float] | str | None = None
    summary: SeriesSummary | None = None
    include_identifiers: bool = False
    heatmap_style: HeatmapStyle = field(default_factory=HeatmapStyle)
    created: dt.datetime | None = None
    uid_map: UidMap | None = None
    slices_in_series: int = 0  # more than the classified slices: a partial run, so no series verdict
    measurements: Sequence[tuple[str, str, str]] = ()  # (image, tool, result) made in the viewer


def _latin1(text: object) -> str:
    return str(text).encode("latin-1", "replace").decode("latin-1")


class _ReportPDF(FPDF):
    """A4 report page with the research-use footer, set in DejaVu Sans when bundled, else Helvetica."""

    def __init__(self) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        regular, bold = resource_path("fonts", "DejaVuSans.ttf"), resource_path("fonts", "DejaVuSans-Bold.ttf")
        self.unicode_font = regular.is_file() and bold.is_file()
        if self.unicode_font:
            self.add_font(UNICODE_FONT, "", regular)
            self.add_font(UNICODE_FONT, "B", bold)

    def use_font(self, style: str, size: float) -> None:
        """Select the report's font: ``style`` "" or "B", ``size`` in points."""
        self.set_font(UNICODE_FONT if self.unicode_font else "Helvetica", style, size)

    def clean(self, text: object) -> str:
        """``text`` as the current font can print it (Latin-1 only with the core font)."""
        return str(text) if self.unicode_font else _latin1(text)

    def footer(self) -> None:
        self.set_y(-14)
        self.use_font("B", 8)
        self.set_text_color(150, 0, 0)
        self.cell(0, 5, RESEARCH_USE_STATEMENT, align="L")
        self.set_text_color(0, 0, 0)
        self.use_font("", 8)
        self.cell(0, 5, f"Page {self.page_no()}/{{nb}}", align="R")


def _identification_rows(report: ReportInput, key: SliceResult) -> list[tuple[str, str]]:
    header: Dataset | None = key.header
    if header is None:
        source = key.source if report.include_identifiers else "withheld (de-identified report)"
        return [("Source", source), ("Format", "non-DICOM image")]
    if not report.include_identifiers:
        header = Deidentifier(report.uid_map or UidMap()).apply(header)
    rows = [(label, str(header.get(keyword, "") or "-")) for label, keyword in _IDENTIFICATION]
    if key.source_format == NIFTI_FORMAT:  # a stand-in header: say so, and where the slice came from
        volume = Path(key.source).name if report.include_identifiers else "withheld (de-identified report)"
        rows.insert(0, ("Source format", f"NIfTI volume (not DICOM), slice {key.frame}; UIDs made for this export"))
        rows.insert(1, ("Volume", volume))
    if not report.include_identifiers:
        rows.append(("De-identification", "DICOM PS3.15 Basic Profile; UIDs remapped for this export"))
    return rows


def _image_cell(pdf: FPDF, picture: NDArray[np.uint8], x: float, y: float, box: float) -> float:
    """Draw ``picture`` inside a ``box`` x ``box`` mm square at (x, y), aspect kept, centred across.

    Returns the drawn height in mm.
    """
    image = Image.fromarray(np.ascontiguousarray(picture))
    scale = box / max(1, image.width, image.height)
    width, height = image.width * scale, image.height * scale
    pdf.image(image, x=x + (box - width) / 2, y=y, w=width, h=height)
    return height


def _two_column_table(pdf: _ReportPDF, rows: Iterable[tuple[str, str]], widths: tuple[int, int] = (45, 135)) -> None:
    pdf.use_font("", 9)
    with pdf.table(col_widths=widths, width=sum(widths), first_row_as_headings=False, align="LEFT") as table:
        for label, value in rows:
            row = table.row()
            row.cell(pdf.clean(label))
            row.cell(pdf.clean(value))


def _heading(pdf: _ReportPDF, text: str) -> None:
    pdf.ln(3)
    pdf.use_font("B", 12)
    pdf.cell(0, 7, pdf.clean(text), new_x="LMARGIN", new_y="NEXT")


def _probability_table(pdf: _ReportPDF, result: SliceResult) -> None:
    pred = result.prediction
    pdf.use_font("", 9)
    with pdf.table(col_widths=(60, 40), width=100, align="LEFT") as table:
        heading = table.row()
        heading.cell("Class")
        heading.cell("Probability")
        for name, p in zip(pred.class_names, pred.probabilities, strict=True):
            row = table.row()
            row.cell(pdf.clean(name + ("  (predicted)" if name == pred.label else "")))
            row.cell(f"{p:.4f}")
        row = table.row()
        row.cell("P(tumor)")
        row.cell(f"{pred.p_tumor:.4f}")


def _slice_table(pdf: _ReportPDF, results: Sequence[SliceResult], key_index: int, include_identifiers: bool) -> None:
    names = results[0].prediction.class_names
    widths = (40, 26, 18, *([96 // len(names)] * len(names)))
    pdf.use_font("", 8)
    with pdf.table(col_widths=widths, width=sum(widths), align="LEFT") as table:
        heading = table.row()
        for text in ("Slice", "Label", "P(tumor)", *(f"P({n})" for n in names)):
            heading.cell(pdf.clean(text))
        for index, result in enumerate(results):
            row = table.row()
            name = result.display_name if include_identifiers else f"slice {index + 1}"
            row.cell(pdf.clean(name + (" (key)" if index == key_index else "")))
            row.cell(pdf.clean(result.prediction.label if result.prediction.inside_intended_use else "excluded*"))
            row.cell(f"{result.prediction.p_tumor:.3f}")
            for p in result.prediction.probabilities:
                row.cell(f"{p:.3f}")


def _excluded_lines(pdf: _ReportPDF, results: Sequence[SliceResult], include_identifiers: bool) -> None:
    """One line per slice outside the intended use: which slice and why (its row says "excluded*")."""
    outside = [(i, r) for i, r in enumerate(results) if not r.prediction.inside_intended_use]
    if not outside:
        return
    pdf.use_font("", 8)
    for index, result in outside:
        name = result.display_name if include_identifiers else f"slice {index + 1}"
        text = f"* {name}: {outside_text(result.prediction.outside_reason)} (not counted in the series verdict)"
        pdf.multi_cell(0, 4, pdf.clean(text), new_x="LMARGIN", new_y="NEXT")


def _add_series(pdf: _ReportPDF, report: ReportInput) -> None:
    results = report.results
    if not results:
        raise ExportError("there are no classified slices to report")
    summary = report.summary or summarize_series([r.prediction for r in results])
    key_index = summary.key_index if report.key_index is None else report.key_index
    if not 0 <= key_index < len(results):
        raise ExportError(f"key slice index {key_index} is outside the {len(results)} classified slices")
    key = results[key_index]

    pdf.add_page()
    pdf.use_font("B", 16)
    pdf.cell(0, 9, "NeuroReview classification report", new_x="LMARGIN", new_y="NEXT")
    pdf.use_font("B", 10)
    pdf.set_text_color(150, 0, 0)
    pdf.cell(0, 6, RESEARCH_USE_STATEMENT, new_x="LMARGIN", new_y="NEXT")
    pdf.set_text_color(0, 0, 0)

    _heading(pdf, "Study and series")
    _two_column_table(pdf, _identification_rows(report, key))
    _key_slice_section(pdf, report, key_index)

    pdf.add_page()
    _heading(pdf, "Series summary")
    _two_column_table(pdf, _summary_rows(summary, report.slices_in_series))
    _heading(pdf, "Model and software")
    _two_column_table(pdf, _model_rows(report, key.prediction))
    _heading(pdf, "Per-slice results")
    _slice_table(pdf, results, key_index, report.include_identifiers)
    _excluded_lines(pdf, results, report.include_identifiers)
    if report.measurements:
        _measurement_table(pdf, report.measurements)


def _key_slice_section(pdf: _ReportPDF, report: ReportInput, key_index: int) -> None:
    """The key slice without and with its heatmap, what the map explains, and the slice's probabilities."""
    results = report.results
    key = results[key_index]
    overlay = report.key_overlay
    if overlay is None:
        overlay = blend_heatmap(report.key_display, key.prediction.heatmap, report.heatmap_style)
    _heading(pdf, "Key slice")
    if isinstance(report.window, tuple):
        window = f"window C {report.window[0]:g} / W {report.window[1]:g}"
    else:
        window = f"window {report.window}" if report.window else "default window"
    top = pdf.get_y() + 1
    height = max(
        _image_cell(pdf, report.key_display, pdf.l_margin, top, IMAGE_BOX_MM),
        _image_cell(pdf, overlay, pdf.l_margin + 95, top, IMAGE_BOX_MM),
    )
    pdf.set_y(top + height + 1)
    pdf.use_font("", 8)
    pred = key.prediction
    if pred.heatmap is None and report.key_overlay is None:
        with_heat = heatmap_note(pred) or "No heatmap was computed for this slice"
    else:
        with_heat = f"With {pred.heatmap_method or 'saliency'} heatmap for '{pred.heatmap_class or pred.label}'"
    pdf.cell(95, 5, pdf.clean(f"Without heatmap ({window})"))
    pdf.multi_cell(85, 4, pdf.clean(with_heat), new_x="LMARGIN", new_y="NEXT")  # a note may need lines
    pdf.ln(1)
    key_name = key.display_name if report.include_identifiers else f"slice {key_index + 1} of {len(results)}"
    pdf.use_font("B", 10)
    key_line = f"Key slice: {key_name} - predicted {pred.label}"
    if not pred.inside_intended_use:
        key_line = f"Key slice: {key_name} - {outside_text(pred.outside_reason)}"
    pdf.cell(0, 6, pdf.clean(key_line), new_x="LMARGIN", new_y="NEXT")
    _probability_table(pdf, key)


def _summary_rows(summary: SeriesSummary, slices_in_series: int) -> list[tuple[str, str]]:
    """The series verdict and how it was reached; a partial run gives no verdict."""
    votes = ", ".join(f"{name}: {count}" for name, count in sorted(summary.votes.items())) or "none"
    classified = summary.n_slices + summary.n_excluded  # slices outside the intended use were classified too
    partial = classified < slices_in_series
    label = f"partial ({classified} of {slices_in_series} slices), no verdict"
    return [
        ("Series label", label if partial else summary.label),
        ("P(tumor)", "-" if partial else (f"{summary.p_tumor:.4f}" if summary.has_verdict else "not given")),
        ("Slices classified", str(classified)),
        ("Slices excluded", summary.excluded_text() or "none (all inside the intended use)"),
        (f"Slices with P(tumor) >= {summary.threshold:g}", str(summary.n_suspicious)),
        ("Votes", votes),
        ("Aggregation rule", summary.rule),
    ]


def _model_rows(report: ReportInput, pred: Prediction) -> list[tuple[str, str]]:
    created = report.created or dt.datetime.now().astimezone()
    return [
        ("Model", report.algorithm.name),
        ("Model version", report.algorithm.version),
        ("Weights SHA-256", report.algorithm.weights_sha256 or "-"),
        ("Software", f"{SOFTWARE_NAME} {software_version()}"),
        ("Inference", f"{pred.device}, {pred.precision}"),
        ("Report date", created.strftime("%Y-%m-%d %H:%M %Z").strip()),
    ]


def _measurement_table(pdf: _ReportPDF, rows: Sequence[tuple[str, str, str]]) -> None:
    """The viewer's measurements (lengths and areas in mm from Pixel Spacing, values in modality units)."""
    _heading(pdf, "Measurements")
    pdf.use_font("", 8)
    widths = (55, 20, 105)
    with pdf.table(col_widths=widths, width=sum(widths), align="LEFT") as table:
        table.row(["Image", "Tool", "Result"])
        for image, tool, result in rows:
            table.row([pdf.clean(image), pdf.clean(tool), pdf.clean(result)])


def _build(reports: Sequence[ReportInput]) -> FPDF:
    if not reports:
        raise ExportError("there is nothing to report")
    pdf = _ReportPDF()
    pdf.set_auto_page_break(auto=True, margin=18)
    pdf.set_title("NeuroReview classification report")
    pdf.set_creator(f"{SOFTWARE_NAME} {software_version()}")
    for report in reports:
        _add_series(pdf, report)
    return pdf


def write_pdf_report(
    path: str | os.PathLike[str],
    report: ReportInput | Sequence[ReportInput],
    *,
    sources: Iterable[str | os.PathLike[str]] = (),
    allow_beside_source: bool = False,
) -> None:
    """Write the PDF report to ``path`` (never beside ``sources`` unless ``allow_beside_source``).

    Several ReportInputs (a batch of series) give one report with two or more pages per series.
    """
    target = check_destination(path, sources, allow_beside_source=allow_beside_source)
    pdf = _build([report] if isinstance(report, ReportInput) else list(report))
    with atomic_output(target) as tmp:
        pdf.output(str(tmp))

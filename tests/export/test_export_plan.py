"""The one export plan: GUI and CLI write the same files, one key slice, one heatmap style, checks first."""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pydicom
import pytest
from PIL import Image

import core.export.plan as plan_module
from core.export.cli_outputs import add_export_arguments, write_cli_exports
from core.export.errors import DestinationError
from core.export.identity import ExportIdentity, IdentityMode
from core.export.overlay import burn_in_overlay
from core.export.plan import ExportPlan, KeyChoice, PlannedOutput, PlanSeries, choose_key_slice, write_plan
from core.export.records import SliceResult
from core.imaging.heatmap import HeatmapStyle, composite
from export.helpers import ALGORITHM, CLASS_NAMES, Series, dicom_pair, require_tool, run_tool
from export.sr_reader import read_findings

if TYPE_CHECKING:  # pragma: no cover
    from desktop_app.export_task import ExportRequest

RULE_KEY = 1  # the series' key slice of export.helpers.results_for


def _display(result: SliceResult | None = None) -> np.ndarray:
    return (np.arange(32 * 32).reshape(32, 32) % 256).astype(np.uint8)


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_export_arguments(parser)
    return parser.parse_args(list(argv))


def _gui_request(kind: str, target: Path, mr_series: Series, slice_results: list[SliceResult]) -> ExportRequest:
    """What File > Export hands to its pool thread: the series, the key slice as displayed, attached."""
    from core.imaging import SliceRef
    from core.model.model_config import ModelConfig
    from core.model.network import Architecture
    from desktop_app.export_task import ExportRequest

    config = ModelConfig(
        architecture=Architecture(input_size=16),
        class_names=CLASS_NAMES,
        weights_sha256=ALGORITHM.weights_sha256,
        model_name=ALGORITHM.name,
        model_version=ALGORITHM.version,
    )
    return ExportRequest(
        kind=kind,  # type: ignore[arg-type]
        target=target,
        refs=tuple(SliceRef(path, 0, "dicom", 32, 32) for path in mr_series.paths),
        predictions=tuple(r.prediction for r in slice_results),
        config=config,
        key_index=RULE_KEY,  # the GUI renders the series' key slice
        key_display=_display(),
        identity=ExportIdentity(IdentityMode.ATTACH),
    )


def _pdf_text(path: Path) -> str:
    text = run_tool(require_tool("pdftotext"), str(path), "-").stdout
    return re.sub(r"\d{4}-\d\d-\d\d[ T][\d:.+-]+", "<date>", text)  # the report's creation time


def test_gui_and_cli_requests_write_the_same_outputs(
    tmp_path: Path, mr_series: Series, slice_results: list[SliceResult], monkeypatch: pytest.MonkeyPatch
) -> None:
    from desktop_app.export_task import run_export

    planned: list[PlanSeries] = []  # both go through the plan: its key choice sees every series
    choose = plan_module.choose_key_slice
    monkeypatch.setattr(plan_module, "choose_key_slice", lambda series: planned.append(series) or choose(series))
    written = run_export(_gui_request("dicom", tmp_path / "gui", mr_series, slice_results))
    gui_sc, gui_sr = dicom_pair(tmp_path / "gui")
    assert sorted(written) == sorted([gui_sc, gui_sr])
    gui_pdf = tmp_path / "gui.pdf"
    assert run_export(_gui_request("pdf", gui_pdf, mr_series, slice_results)) == [gui_pdf]
    cli_pdf = tmp_path / "cli.pdf"
    args = _parse("--dicom-out", str(tmp_path / "cli"), "--pdf", str(cli_pdf), "--pdf-identifiers")
    outcome = write_cli_exports(args, slice_results, ALGORITHM, _display)
    assert outcome.failed == [] and outcome.skipped == [] and len(outcome.written) == 3
    cli_sc, cli_sr = dicom_pair(tmp_path / "cli")

    gui, cli = pydicom.dcmread(gui_sc), pydicom.dcmread(cli_sc)
    np.testing.assert_array_equal(gui.pixel_array, cli.pixel_array)
    assert gui.SourceImageSequence[0].ReferencedSOPInstanceUID == cli.SourceImageSequence[0].ReferencedSOPInstanceUID
    assert gui.StudyInstanceUID == cli.StudyInstanceUID == mr_series.headers[0].StudyInstanceUID
    assert read_findings(gui_sr, CLASS_NAMES) == read_findings(cli_sr, CLASS_NAMES)
    assert _pdf_text(gui_pdf) == _pdf_text(cli_pdf)
    assert [len(series.results) for series in planned] == [3, 3, 3]  # GUI DICOM, GUI PDF, CLI


def test_the_key_slice_is_chosen_once_and_every_picture_shows_it(
    tmp_path: Path, mr_series: Series, slice_results: list[SliceResult], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A different choice (slice 3, not the rule's slice 2) reaches the PDF, the SC and the renderer."""
    calls: list[int] = []

    def third_slice(series: PlanSeries) -> KeyChoice:
        calls.append(len(series.results))
        return KeyChoice(choose_key_slice(series).summary, 2)

    monkeypatch.setattr(plan_module, "choose_key_slice", third_slice)
    rendered: list[str] = []

    def render(result: SliceResult) -> np.ndarray:
        rendered.append(result.source)
        return _display()

    pdf = tmp_path / "r.pdf"
    args = _parse("--dicom-out", str(tmp_path / "dicom"), "--pdf", str(pdf), "--pdf-identifiers")
    assert len(write_cli_exports(args, slice_results, ALGORITHM, render).written) == 3
    assert calls == [3] and rendered == [slice_results[2].source]
    sc = pydicom.dcmread(dicom_pair(tmp_path / "dicom")[0])
    assert sc.SourceImageSequence[0].ReferencedSOPInstanceUID == mr_series.headers[2].SOPInstanceUID
    text = " ".join(run_tool(require_tool("pdftotext"), str(pdf), "-").stdout.split())
    assert "Key slice: IM0002.dcm" in text and "IM0002.dcm (key)" in text and "IM0001.dcm (key)" not in text


def test_every_export_draws_the_heatmap_with_the_plan_style(
    tmp_path: Path, slice_results: list[SliceResult], monkeypatch: pytest.MonkeyPatch
) -> None:
    import core.export.pdf_report as pdf_report

    reports: list[pdf_report.ReportInput] = []
    monkeypatch.setattr(pdf_report, "write_pdf_report", lambda path, report, **kw: reports.extend(report))
    heat = slice_results[RULE_KEY].prediction.heatmap
    assert heat is not None
    pictures: dict[float, tuple[np.ndarray, np.ndarray]] = {}
    for threshold in (0.0, 0.6):
        style = HeatmapStyle("viridis", 0.8, threshold)
        out = tmp_path / f"t{threshold}"
        outputs = (
            PlannedOutput("png", out / "key.png"),
            PlannedOutput("dicom", out / "dicom"),
            PlannedOutput("pdf", out / "r.pdf"),
        )
        plan = ExportPlan(outputs, (PlanSeries(tuple(slice_results)),), ALGORITHM, style=style)
        write_plan(plan, render=_display)
        png = np.asarray(Image.open(out / "key.png").convert("RGB"))
        sc = pydicom.dcmread(dicom_pair(out / "dicom")[0]).pixel_array
        np.testing.assert_array_equal(png, composite(_display(), heat, style))
        np.testing.assert_array_equal(sc, burn_in_overlay(_display(), heat, style))
        assert reports[-1].key_overlay is not None
        np.testing.assert_array_equal(reports[-1].key_overlay, png)
        pictures[threshold] = png, sc
    cold = heat < 0.6
    assert cold.any() and (pictures[0.6][0][cold] == _display()[cold][:, None]).all()  # below it: the slice alone
    assert not np.array_equal(pictures[0.0][0], pictures[0.6][0])
    assert not np.array_equal(pictures[0.0][1], pictures[0.6][1])


def test_every_destination_is_checked_before_anything_is_written(
    tmp_path: Path, mr_series: Series, slice_results: list[SliceResult]
) -> None:
    outputs = (
        PlannedOutput("dicom", tmp_path / "dicom"),
        PlannedOutput("csv", tmp_path / "r.csv"),
        PlannedOutput("pdf", mr_series.folder / "r.pdf"),  # beside the source images: refused
    )
    rendered: list[SliceResult] = []

    def render(result: SliceResult) -> np.ndarray:
        rendered.append(result)
        return _display()

    plan = ExportPlan(outputs, (PlanSeries(tuple(slice_results)),), ALGORITHM)
    with pytest.raises(DestinationError, match="source folder"):
        write_plan(plan, render=render)
    assert rendered == [] and not (tmp_path / "dicom").exists() and not (tmp_path / "r.csv").exists()
    (tmp_path / "taken.json").write_text("{}")
    taken = ExportPlan((*outputs[:2], PlannedOutput("json", tmp_path / "taken.json")), plan.series, ALGORITHM)
    with pytest.raises(DestinationError, match="already exists"):
        write_plan(taken, render=render)
    assert rendered == [] and not (tmp_path / "dicom").exists() and not (tmp_path / "r.csv").exists()


def test_the_key_slice_is_the_rule_s_unless_the_reader_chose_one(slice_results: list[SliceResult]) -> None:
    assert choose_key_slice(PlanSeries(tuple(slice_results))).index == RULE_KEY
    assert choose_key_slice(PlanSeries(tuple(slice_results), shown=0)).index == 0

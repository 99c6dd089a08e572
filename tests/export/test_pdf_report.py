"""PDF report: pages, text on every page, identification only when opted in."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from core.export.errors import DestinationError, ExportError
from core.export.pdf_report import ReportInput, write_pdf_report
from core.export.records import RESEARCH_USE_STATEMENT, SliceResult, software_version
from export.helpers import ALGORITHM, PATIENT_ID, PATIENT_NAME, Series, require_tool, run_tool

DISPLAY = (np.arange(32 * 32).reshape(32, 32) % 256).astype(np.uint8)


def _pages(path: Path) -> list[str]:
    result = run_tool(require_tool("pdftotext"), "-layout", str(path), "-")
    assert result.returncode == 0, result.stderr
    return [page for page in result.stdout.split("\f") if page.strip()]


def test_report_pages_and_content(tmp_path: Path, slice_results: list[SliceResult]) -> None:
    target = tmp_path / "out" / "report.pdf"
    write_pdf_report(target, ReportInput(slice_results, ALGORITHM, DISPLAY, window=(40.0, 80.0)))
    assert target.read_bytes().startswith(b"%PDF")
    pages = _pages(target)
    assert len(pages) == 2
    for page in pages:
        assert RESEARCH_USE_STATEMENT in page
    text = "\n".join(pages)
    for expected in (
        ALGORITHM.weights_sha256,
        ALGORITHM.name,
        ALGORITHM.version,
        f"NeuroReview {software_version()}",
        "window C 40 / W 80",
        "Aggregation rule",
        "max P(tumor)",
        "glioma (predicted)",
        f"{slice_results[1].prediction.probability_of('glioma'):.4f}",
        f"{slice_results[1].prediction.p_tumor:.4f}",
    ):
        assert expected in text, expected
    assert PATIENT_NAME not in text and PATIENT_ID not in text and "Saint Example" not in text
    assert "slice 2 of 3" in text and "IM0001" not in text


def test_identifiers_only_when_opted_in(tmp_path: Path, slice_results: list[SliceResult]) -> None:
    target = tmp_path / "identified.pdf"
    write_pdf_report(target, ReportInput(slice_results, ALGORITHM, DISPLAY, include_identifiers=True))
    text = "\n".join(_pages(target))
    assert PATIENT_NAME in text and PATIENT_ID in text and "IM0001.dcm" in text


def test_batch_report_has_a_section_per_series(tmp_path: Path, slice_results: list[SliceResult]) -> None:
    target = tmp_path / "batch.pdf"
    reports = [ReportInput(slice_results, ALGORITHM, DISPLAY), ReportInput(slice_results[:1], ALGORITHM, DISPLAY)]
    write_pdf_report(target, reports)
    pages = _pages(target)
    assert len(pages) == 4 and all(RESEARCH_USE_STATEMENT in p for p in pages)
    assert "Page 4/4" in pages[-1]


def test_refusals_leave_nothing(
    tmp_path: Path, slice_results: list[SliceResult], mr_series: Series, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(DestinationError):
        report = ReportInput(slice_results, ALGORITHM, DISPLAY)
        write_pdf_report(mr_series.folder / "r.pdf", report, sources=mr_series.paths)
    with pytest.raises(ExportError, match="key slice index"):
        write_pdf_report(tmp_path / "r.pdf", ReportInput(slice_results, ALGORITHM, DISPLAY, key_index=7))

    def broken_output(self: object, name: str) -> None:
        Path(name).write_bytes(b"%PDF-1.4 partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("fpdf.FPDF.output", broken_output)
    with pytest.raises(ExportError, match="No space left"):
        write_pdf_report(tmp_path / "full" / "r.pdf", ReportInput(slice_results, ALGORITHM, DISPLAY))
    assert list((tmp_path / "full").iterdir()) == []
    assert not (tmp_path / "r.pdf").exists()


def test_pdf_renders_to_images(tmp_path: Path, slice_results: list[SliceResult]) -> None:
    target = tmp_path / "r.pdf"
    write_pdf_report(target, ReportInput(slice_results, ALGORITHM, DISPLAY))
    result = subprocess.run(
        [require_tool("pdftoppm"), "-png", "-r", "30", str(target), str(tmp_path / "page")],
        capture_output=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0
    assert len(list(tmp_path.glob("page*.png"))) == 2

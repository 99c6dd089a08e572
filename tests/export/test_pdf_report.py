"""PDF report: pages, text on every page, identification only when opted in."""

from __future__ import annotations

import dataclasses
import subprocess
from pathlib import Path

import numpy as np
import pytest

from core.export import pdf_report
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
        "mean P(tumor) of 3 neighbouring slices",
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


@pytest.mark.parametrize("shape", [(2000, 10), (10, 2000), (400, 400)])
def test_key_pictures_fit_their_box(tmp_path: Path, slice_results: list[SliceResult], shape: tuple[int, int]) -> None:
    target = tmp_path / "r.pdf"
    write_pdf_report(target, ReportInput(slice_results, ALGORITHM, np.zeros(shape, dtype=np.uint8)))
    assert len(_pages(target)) == 2
    listing = run_tool(require_tool("pdfimages"), "-list", str(target)).stdout.splitlines()[2:]
    drawn = [  # (page, width mm, height mm) from pixels and the resolution each picture is drawn at
        (int(f[0]), int(f[3]) / float(f[12]) * 25.4, int(f[4]) / float(f[13]) * 25.4) for f in map(str.split, listing)
    ]
    assert len(drawn) == 2 and all(page == 1 for page, _, _ in drawn)
    for _, width, height in drawn:
        assert max(width, height) == pytest.approx(85.0, rel=0.01)
        assert width == pytest.approx(85.0 * shape[1] / max(shape), rel=0.05)


def _with_patient_name(results: list[SliceResult], name: str) -> list[SliceResult]:
    headers = [r.header.copy() for r in results]  # type: ignore[union-attr]
    for header in headers:
        header.PatientName = name
    return [dataclasses.replace(r, header=h) for r, h in zip(results, headers, strict=True)]


def test_names_outside_latin1_print_with_the_bundled_font(tmp_path: Path, slice_results: list[SliceResult]) -> None:
    target = tmp_path / "r.pdf"
    results = _with_patient_name(slice_results, "Dvořák^Łukasz")
    write_pdf_report(target, ReportInput(results, ALGORITHM, DISPLAY, include_identifiers=True))
    text = "\n".join(_pages(target))
    assert "Dvořák^Łukasz" in text and RESEARCH_USE_STATEMENT in text
    assert "DejaVuSans" in run_tool(require_tool("pdffonts"), str(target)).stdout


def test_without_the_bundled_font_falls_back_to_helvetica(
    tmp_path: Path, slice_results: list[SliceResult], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pdf_report, "resource_path", lambda *parts: tmp_path / "no_fonts" / parts[-1])
    target = tmp_path / "r.pdf"
    results = _with_patient_name(slice_results, "Dvořák^Łukasz")
    write_pdf_report(target, ReportInput(results, ALGORITHM, DISPLAY, include_identifiers=True))
    pages = _pages(target)
    assert len(pages) == 2 and "Dvo?ák^?ukasz" in "\n".join(pages)


def test_measurements_are_listed_when_given(tmp_path: Path, slice_results: list[SliceResult]) -> None:
    target = tmp_path / "measured.pdf"
    rows = (("image 2", "length", "23.4 mm"), ("image 3", "ellipse", "area 12.0 mm2, mean 410.5"))
    write_pdf_report(target, ReportInput(slice_results, ALGORITHM, DISPLAY, measurements=rows))
    text = "\n".join(_pages(target))
    assert "Measurements" in text and "23.4 mm" in text and "area 12.0 mm2, mean 410.5" in text
    plain = tmp_path / "plain.pdf"
    write_pdf_report(plain, ReportInput(slice_results, ALGORITHM, DISPLAY))
    assert "Measurements" not in "\n".join(_pages(plain))


def test_excluded_slices_and_why(tmp_path: Path, slice_results: list[SliceResult]) -> None:
    reason = "modality CT (CT), not MR"
    outside = dataclasses.replace(slice_results[2].prediction, outside_reason=reason)
    results = [*slice_results[:2], dataclasses.replace(slice_results[2], prediction=outside)]
    target = tmp_path / "report.pdf"
    write_pdf_report(target, ReportInput(results, ALGORITHM, DISPLAY))
    text = " ".join(" ".join(_pages(target)).split())
    assert f"slice 3: Outside intended use: {reason} (not counted in the series verdict)" in text
    assert f"1 slice(s) excluded, outside intended use: {reason} (1)" in text
    assert "excluded*" in text

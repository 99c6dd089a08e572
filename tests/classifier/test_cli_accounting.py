"""``neuroreview-classify`` accounts for every input file: slice rows, error rows or skipped rows, and a
summary line whose counts add up to the number of files."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest
from dicom_factory import BASIC_TEXT_SR, make_dataset, phantom, write

from core.cli.classify import main


@pytest.fixture(autouse=True)
def _float32(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEUROREVIEW_PRECISION", "float32")


@pytest.fixture
def mixed(tmp_path: Path) -> Path:
    """Two images, a structured report, a file cut in its file meta, a text file and a DICOMDIR."""
    folder = tmp_path / "mixed"
    good = write(make_dataset(phantom(16, 16)), folder / "a.dcm")
    write(make_dataset(phantom(16, 16, seed=1)), folder / "b.dcm")
    write(make_dataset(None, sop_class=BASIC_TEXT_SR, modality="SR"), folder / "report.dcm")
    (folder / "cut.dcm").write_bytes(good.read_bytes()[:150])
    (folder / "notes.txt").write_text("not an image")
    (folder / "cd").mkdir()
    (folder / "cd" / "DICOMDIR").write_bytes(b"")  # an index below the opened folder: skipped, its folder read
    return folder


def _summary(err: str) -> tuple[int, int, int, int, int]:
    found = re.search(
        r"(\d+) input file\(s\): (\d+) slice\(s\) classified from (\d+) file\(s\), (\d+) skipped \(no image\), "
        r"(\d+) failed\.",
        err,
    )
    assert found, err
    total, slices, classified, skipped, failed = (int(g) for g in found.groups())
    return total, slices, classified, skipped, failed


def test_every_input_file_has_a_row_and_the_summary_adds_up(
    mixed: Path, tiny_weights_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "rows.jsonl"
    assert main([str(mixed), "--weights", str(tiny_weights_dir), "--out", str(out), "--quiet"]) == 0
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    files = {p for p in mixed.rglob("*") if p.is_file()}
    assert {Path(r["source"]) for r in rows} == files  # no file without a row
    kinds = {
        Path(r["source"]).name: ("skipped" if "skipped" in r else "error" if "error" in r else "slice") for r in rows
    }
    assert kinds["report.dcm"] == kinds["DICOMDIR"] == "skipped"
    assert kinds["cut.dcm"] == kinds["notes.txt"] == "error"
    assert kinds["a.dcm"] == kinds["b.dcm"] == "slice"
    cut = next(r for r in rows if r["source"].endswith("cut.dcm"))
    assert cut["error_type"] == "TruncatedFileError" and "file meta header" in cut["error"]
    report = next(r for r in rows if r["source"].endswith("report.dcm"))
    assert set(report) == {"source", "skipped"} and "without an image" in report["skipped"]
    total, slices, classified, skipped, failed = _summary(capsys.readouterr().err)
    assert total == len(files) == classified + skipped + failed
    assert (skipped, failed) == (2, 2)
    assert slices == sum(1 for r in rows if "label" in r)


def test_csv_has_skipped_rows(mixed: Path, tiny_weights_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main([str(mixed / "report.dcm"), str(mixed / "a.dcm"), "--weights", str(tiny_weights_dir), "--format", "csv"])
        == 0
    )
    captured = capsys.readouterr()
    table = list(csv.DictReader(captured.out.splitlines()))
    (skipped,) = [row for row in table if row["skipped"]]
    assert skipped["source"].endswith("report.dcm") and skipped["label"] == skipped["error"] == ""
    assert _summary(captured.err) == (2, 1, 1, 1, 0)

"""The classify command's export flags, end to end on an on-disk series (tiny model for one test)."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import numpy as np
import pydicom
import pytest

from core.export.cli_outputs import ResultCollector, add_export_arguments, exports_requested, write_cli_exports
from core.export.errors import DestinationError
from core.export.records import SliceResult
from export.helpers import (
    ALGORITHM,
    CLASS_NAMES,
    PATIENT_NAME,
    Series,
    dciodvfy_errors,
    dicom_pair,
    leaked_identifiers,
    require_tool,
    run_tool,
)
from export.sr_reader import read_findings


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_export_arguments(parser)
    return parser.parse_args(list(argv))


def _render(result: SliceResult) -> np.ndarray:
    return (np.arange(32 * 32).reshape(32, 32) % 256).astype(np.uint8)


def test_flags_parse() -> None:
    args = _parse("--pdf", "r.pdf", "--dicom-out", "out", "--deidentify")
    assert args.pdf == Path("r.pdf") and args.dicom_out == Path("out") and args.deidentify
    assert not args.pdf_identifiers and not args.allow_beside_source and not args.attach_to_study
    assert exports_requested(args) and not exports_requested(_parse())
    assert _parse("--attach-to-study").attach_to_study


def test_deidentified_exports_share_uids_and_leak_nothing(
    tmp_path: Path, slice_results: list[SliceResult], mr_series: Series
) -> None:
    out = tmp_path / "exports"
    args = _parse("--pdf", str(out / "report.pdf"), "--dicom-out", str(out / "dicom"), "--deidentify")
    outcome = write_cli_exports(args, slice_results, ALGORITHM, _render)
    sc_path, sr_path = dicom_pair(out / "dicom")
    assert sorted(outcome.written) == sorted([out / "report.pdf", sc_path, sr_path]) and outcome.skipped == []
    assert outcome.identity.startswith("de-identified copy (new UIDs")
    for path in (sc_path, sr_path):
        assert dciodvfy_errors(path) == []
        assert leaked_identifiers(path, mr_series) == []
    sc, sr = pydicom.dcmread(sc_path), pydicom.dcmread(sr_path)
    assert sc.StudyInstanceUID == sr.StudyInstanceUID != mr_series.headers[0].StudyInstanceUID
    key_finding = read_findings(sr_path, CLASS_NAMES)[1]
    assert sc.SourceImageSequence[0].ReferencedSOPInstanceUID == key_finding.referenced_sop_instance_uid
    text = run_tool(require_tool("pdftotext"), str(out / "report.pdf"), "-").stdout
    assert PATIENT_NAME not in text and str(sr.StudyInstanceUID) in text


def test_identified_pdf_needs_the_opt_in(tmp_path: Path, slice_results: list[SliceResult]) -> None:
    plain, opted = tmp_path / "plain.pdf", tmp_path / "opted.pdf"
    write_cli_exports(_parse("--pdf", str(plain)), slice_results, ALGORITHM, _render)
    write_cli_exports(_parse("--pdf", str(opted), "--pdf-identifiers"), slice_results, ALGORITHM, _render)
    pdftotext = require_tool("pdftotext")
    assert PATIENT_NAME not in run_tool(pdftotext, str(plain), "-").stdout
    assert PATIENT_NAME in run_tool(pdftotext, str(opted), "-").stdout


def test_non_dicom_series_is_skipped_for_dicom_out(tmp_path: Path, slice_results: list[SliceResult]) -> None:
    png = SliceResult(source=str(tmp_path / "pngs" / "a.png"), frame=0, prediction=slice_results[0].prediction)
    args = _parse("--dicom-out", str(tmp_path / "dicom"))
    outcome = write_cli_exports(args, [*slice_results, png], ALGORITHM, _render)
    assert len(outcome.written) == 2 and len(outcome.skipped) == 1 and "not DICOM" in outcome.skipped[0]


def test_a_failed_dicom_series_does_not_stop_the_pdf(tmp_path: Path, slice_results: list[SliceResult]) -> None:
    headers = [r.header.copy() for r in slice_results]  # type: ignore[union-attr]
    for header in headers:
        del header.StudyInstanceUID
    broken = [dataclasses.replace(r, header=h) for r, h in zip(slice_results, headers, strict=True)]
    args = _parse("--pdf", str(tmp_path / "r.pdf"), "--dicom-out", str(tmp_path / "dicom"))
    outcome = write_cli_exports(args, broken, ALGORITHM, _render)
    assert outcome.written == [tmp_path / "r.pdf"] and (tmp_path / "r.pdf").read_bytes().startswith(b"%PDF")
    assert len(outcome.failed) == 1 and "lacks StudyInstanceUID" in outcome.failed[0]
    assert list((tmp_path / "dicom").iterdir()) == []


def test_cli_writes_what_it_can_and_exits_5(
    tmp_path: Path,
    tiny_weights_dir: Path,
    mr_series: Series,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from core.cli.classify import main

    monkeypatch.setenv("NEUROREVIEW_PRECISION", "float32")  # skip the bfloat16 self-check
    for path in mr_series.paths:
        ds = pydicom.dcmread(path)
        del ds.StudyInstanceUID
        ds.save_as(path)
    pdf, dicom = tmp_path / "r.pdf", tmp_path / "dicom"
    argv = [str(mr_series.folder), "--weights", str(tiny_weights_dir), "--quiet", "--out", str(tmp_path / "r.csv")]
    assert main([*argv, "--format", "csv", "--pdf", str(pdf), "--dicom-out", str(dicom)]) == 5
    assert pdf.read_bytes().startswith(b"%PDF") and (tmp_path / "r.csv").exists()
    err = capsys.readouterr().err
    assert f"wrote {pdf}" in err and "export failed: series 1 SR/SC" in err and "StudyInstanceUID" in err
    assert "exports: attached to the original study (same Study Instance UID" in err  # the default without --deidentify


def test_contradicting_identity_flags_are_refused_before_any_work(
    tmp_path: Path, tiny_weights_dir: Path, mr_series: Series, capsys: pytest.CaptureFixture[str]
) -> None:
    from core.cli.classify import main

    pdf = tmp_path / "r.pdf"
    argv = [str(mr_series.folder), "--weights", str(tiny_weights_dir), "--quiet", "--pdf", str(pdf)]
    assert main([*argv, "--deidentify", "--attach-to-study"]) == 2
    assert "cannot be combined with --deidentify" in capsys.readouterr().err and not pdf.exists()


def test_refuses_the_source_folder_before_writing_anything(
    tmp_path: Path, slice_results: list[SliceResult], mr_series: Series
) -> None:
    args = _parse("--dicom-out", str(tmp_path / "ok"), "--pdf", str(mr_series.folder / "r.pdf"))
    with pytest.raises(DestinationError):
        write_cli_exports(args, slice_results, ALGORITHM, _render)
    assert not (tmp_path / "ok").exists() and not (mr_series.folder / "r.pdf").exists()


def test_a_second_run_into_the_same_folders_keeps_the_first(tmp_path: Path, slice_results: list[SliceResult]) -> None:
    dicom, pdf = tmp_path / "dicom", tmp_path / "r.pdf"
    first = write_cli_exports(_parse("--dicom-out", str(dicom), "--pdf", str(pdf)), slice_results, ALGORITHM, _render)
    before = {p: p.read_bytes() for p in first.written}
    with pytest.raises(DestinationError, match=r"r\.pdf already exists; exports never replace a file"):
        write_cli_exports(_parse("--dicom-out", str(dicom), "--pdf", str(pdf)), slice_results, ALGORITHM, _render)
    second = write_cli_exports(_parse("--dicom-out", str(dicom)), slice_results, ALGORITHM, _render)
    assert len(second.written) == 2 and set(second.written).isdisjoint(before)
    assert sorted(dicom.iterdir()) == sorted([*second.written, *(p for p in before if p.parent == dicom)])
    assert {p: p.read_bytes() for p in first.written} == before


def test_tiny_model_end_to_end(tmp_path: Path, tiny_weights_dir: Path, mr_series: Series) -> None:
    """Open the series with core.imaging, classify with a tiny model, export everything, validate."""
    from core.imaging import PixelStore, open_paths
    from core.model.classifier import Classifier
    from core.model.inference_path import InferencePath
    from core.model.model_config import load_model_config

    scan = open_paths([mr_series.folder])
    refs = list(scan.all_series()[0].slices)
    store = PixelStore()
    classifier = Classifier.from_folder(tiny_weights_dir, warm_up=False)
    predictions = classifier.predict([store.model_rendering(r) for r in refs])  # no heatmaps, like a plain run
    collector = ResultCollector()
    for ref, prediction in zip(refs, predictions, strict=True):
        collector.add(ref, prediction)
    assert collector.results[0].header is not None

    out = tmp_path / "exports"
    args = _parse("--pdf", str(out / "r.pdf"), "--dicom-out", str(out / "dicom"), "--deidentify")
    outcome = collector.export(args, InferencePath(classifier, store), store)
    assert len(outcome.written) == 3
    sc_path, sr_path = dicom_pair(out / "dicom")
    for path in (sc_path, sr_path):
        assert dciodvfy_errors(path) == []
        assert leaked_identifiers(path, mr_series) == []
    findings = read_findings(sr_path, classifier.class_names)
    assert [f.label for f in findings[:-1]] == [p.label for p in predictions]
    text = run_tool(require_tool("pdftotext"), str(out / "r.pdf"), "-").stdout
    assert load_model_config(tiny_weights_dir).weights_sha256 in text
    assert "Research use only - not for diagnostic use" in text
    assert "With gradcam heatmap for" in text  # the key slice was explained after the plain run


def test_a_notumor_key_slice_gets_no_heatmap_and_the_pdf_says_why(
    tmp_path: Path, slice_results: list[SliceResult]
) -> None:
    notumor = [
        dataclasses.replace(r, prediction=dataclasses.replace(r.prediction, label="notumor", heatmap=None))
        for r in slice_results
    ]
    asked: list[SliceResult] = []
    write_cli_exports(
        _parse("--pdf", str(tmp_path / "r.pdf")), notumor, ALGORITHM, _render, explain=lambda r: asked.append(r)
    )
    assert asked == []  # no map of "no tumour" is even computed
    text = " ".join(run_tool(require_tool("pdftotext"), str(tmp_path / "r.pdf"), "-").stdout.split())
    assert "Heatmap left out: the answer is 'notumor'" in text

"""DICOM Structured Report: validators, highdicom read-back, algorithm, references, de-identification.

The SR is built with :func:`build_structured_report` and written with :func:`save_dicom`, as
:func:`core.export.dicom_outputs.write_series_dicom` does."""

from __future__ import annotations

from pathlib import Path

import highdicom as hd
import pydicom
import pytest

from core.export.dicom_common import save_dicom
from core.export.errors import ExportError
from core.export.records import SliceResult
from core.export.structured_report import build_structured_report
from core.export.uid_map import UidMap
from export.helpers import (
    ALGORITHM,
    CLASS_NAMES,
    PATIENT_NAME,
    Series,
    dciodvfy_errors,
    leaked_identifiers,
    make_prediction,
    require_tool,
    run_tool,
)
from export.sr_reader import read_findings


def test_sr_validates_and_reads_back(tmp_path: Path, slice_results: list[SliceResult], mr_series: Series) -> None:
    target = tmp_path / "out" / "sr.dcm"
    save_dicom(build_structured_report(slice_results, ALGORITHM), target)
    assert dciodvfy_errors(target) == []
    dump = run_tool(require_tool("dcmdump"), str(target))
    assert dump.returncode == 0 and "ComprehensiveSRStorage" in dump.stdout
    findings = read_findings(target, CLASS_NAMES)
    assert [f.label for f in findings] == [r.prediction.label for r in slice_results] + ["glioma"]
    assert findings[-1].tracking_identifier == "series summary"
    for finding, result in zip(findings, slice_results, strict=False):
        assert finding.referenced_sop_instance_uid == str(result.header.SOPInstanceUID)  # type: ignore[union-attr]
        for name in CLASS_NAMES:
            assert finding.probabilities[name] == pytest.approx(result.prediction.probability_of(name))
        assert finding.probabilities["tumor"] == pytest.approx(result.prediction.p_tumor)
    sr = pydicom.dcmread(target)
    assert sr.PatientName == PATIENT_NAME and sr.StudyInstanceUID == mr_series.headers[0].StudyInstanceUID
    evidence = {
        str(i.ReferencedSOPInstanceUID)
        for s in sr.CurrentRequestedProcedureEvidenceSequence
        for r in s.ReferencedSeriesSequence
        for i in r.ReferencedSOPSequence
    }
    assert evidence == {str(h.SOPInstanceUID) for h in mr_series.headers}


def test_source_headers_are_not_modified(tmp_path: Path, mr_series: Series) -> None:
    header = mr_series.headers[0]
    del header.AccessionNumber, header.StudyID  # Type 2 keys the writers must add to their own copy only
    result = SliceResult(str(mr_series.paths[0]), 0, make_prediction((0.7, 0.1, 0.1, 0.1)), header)
    before = header.to_json_dict()
    save_dicom(build_structured_report([result], ALGORITHM), tmp_path / "sr.dcm")
    save_dicom(build_structured_report([result], ALGORITHM, deidentify=True), tmp_path / "sr_deid.dcm")
    assert header.to_json_dict() == before and "AccessionNumber" not in header


def test_sr_names_the_algorithm(tmp_path: Path, slice_results: list[SliceResult]) -> None:
    target = tmp_path / "sr.dcm"
    save_dicom(build_structured_report(slice_results[:1], ALGORITHM), target)
    sr = hd.sr.srread(target)
    names = hd.sr.utils.find_content_items(sr, name=pydicom.sr.codedict.codes.DCM.AlgorithmName, recursive=True)
    versions = hd.sr.utils.find_content_items(sr, name=pydicom.sr.codedict.codes.DCM.AlgorithmVersion, recursive=True)
    assert {n.TextValue for n in names} == {ALGORITHM.name}
    assert {v.TextValue for v in versions} == {ALGORITHM.version}
    assert ALGORITHM.weights_sha256.encode() in target.read_bytes()
    assert len(read_findings(target, CLASS_NAMES)) == 1  # one slice: no series group


def test_sr_deidentified(tmp_path: Path, slice_results: list[SliceResult], mr_series: Series) -> None:
    uid_map = UidMap()
    target = tmp_path / "sr_deid.dcm"
    save_dicom(build_structured_report(slice_results, ALGORITHM, deidentify=True, uid_map=uid_map), target)
    assert dciodvfy_errors(target) == []
    assert leaked_identifiers(target, mr_series) == []
    sr = pydicom.dcmread(target)
    assert sr.PatientIdentityRemoved == "YES"
    assert sr.StudyInstanceUID == uid_map(str(mr_series.headers[0].StudyInstanceUID))
    findings = read_findings(target, CLASS_NAMES)
    assert [f.referenced_sop_instance_uid for f in findings[:3]] == [
        uid_map(str(h.SOPInstanceUID)) for h in mr_series.headers
    ]
    assert findings[1].label == "glioma"


def test_sr_refusals(tmp_path: Path, slice_results: list[SliceResult]) -> None:
    with pytest.raises(ExportError, match="no classified"):
        build_structured_report([], ALGORITHM)
    png_result = SliceResult(source="/data/a.png", frame=0, prediction=slice_results[0].prediction)
    with pytest.raises(ExportError, match="DICOM sources"):
        build_structured_report([png_result], ALGORITHM)
    (tmp_path / "not_sr.dcm").write_bytes(b"nothing")
    with pytest.raises(ExportError, match="not a NeuroReview Structured Report"):
        read_findings(tmp_path / "not_sr.dcm", CLASS_NAMES)


def test_sr_says_not_for_diagnostic_use(tmp_path: Path, slice_results: list[SliceResult]) -> None:
    target = tmp_path / "sr.dcm"
    save_dicom(build_structured_report(slice_results, ALGORITHM), target)
    sr = hd.sr.srread(target)
    comments = hd.sr.utils.find_content_items(sr, name=pydicom.sr.codedict.codes.DCM.Comment)
    assert [c.TextValue for c in comments] == ["Research use only - not for diagnostic use"]
    dump = run_tool(require_tool("dsrdump"), "+Pl", str(target))
    assert "not for diagnostic use" in dump.stdout
    assert dciodvfy_errors(target) == []
    assert len(read_findings(target, CLASS_NAMES)) == len(slice_results) + 1


def _codes(sr: pydicom.Dataset) -> tuple[set[tuple[str, str]], set[tuple[str, str]]]:
    """(scheme, value) of every concept name and of every coded value in the SR content tree."""
    names: set[tuple[str, str]] = set()
    values: set[tuple[str, str]] = set()

    def visit(item: pydicom.Dataset) -> None:
        for code in item.get("ConceptNameCodeSequence", []):
            names.add((code.CodingSchemeDesignator, code.CodeValue))
        for code in item.get("ConceptCodeSequence", []):
            values.add((code.CodingSchemeDesignator, code.CodeValue))
        for child in item.get("ContentSequence", []):
            visit(child)

    visit(sr)
    return names, values


def test_findings_use_standard_codes_and_private_ones_only_where_none_exists(tmp_path: Path, mr_series: Series) -> None:
    probabilities = [(0.8, 0.1, 0.05, 0.05), (0.1, 0.8, 0.05, 0.05), (0.05, 0.05, 0.1, 0.8), (0.05, 0.05, 0.85, 0.05)]
    header = mr_series.headers[0]
    results = [SliceResult(str(mr_series.paths[0]), i, make_prediction(p), header) for i, p in enumerate(probabilities)]
    target = tmp_path / "sr.dcm"
    save_dicom(build_structured_report(results, ALGORITHM), target)
    assert dciodvfy_errors(target) == []
    sr = pydicom.dcmread(target)
    names, values = _codes(sr)
    glioma, meningioma, pituitary = ("SCT", "393564001"), ("SCT", "302820008"), ("SCT", "254956000")
    neoplasm, present, absent = ("SCT", "108369006"), ("SCT", "52101004"), ("SCT", "272519000")
    assert {glioma, meningioma, pituitary, neoplasm, present, absent} <= values  # the findings, all SNOMED CT
    assert {("DCM", "121071"), ("DCM", "122157"), ("DCM", "111001"), ("DCM", "111003"), ("DCM", "111002")} <= names
    assert ("LN", "24590-2") in values  # Brain MRI
    private = {value for scheme, value in names | values if scheme == "99NRVW"}
    assert private == {"P-GLIOMA", "P-MENINGIOMA", "P-NOTUMOR", "P-PITUITARY", "P-TUMOR", "SERIES-RUNMEAN"}
    assert not {v for s, v in values if s == "99NRVW"} - {"SERIES-RUNMEAN"}  # no finding is coded privately
    declared = {item.CodingSchemeDesignator for item in sr.CodingSchemeIdentificationSequence}
    assert "99NRVW" in declared
    findings = read_findings(target, CLASS_NAMES)
    assert [f.label for f in findings] == ["glioma", "meningioma", "pituitary", "notumor", "glioma"]
    assert findings[3].probabilities["notumor"] == pytest.approx(0.85)


def test_a_partial_run_has_no_series_verdict(tmp_path: Path, slice_results: list[SliceResult]) -> None:
    target = tmp_path / "partial.dcm"
    save_dicom(build_structured_report(slice_results, ALGORITHM, series_verdict=False), target)
    assert dciodvfy_errors(target) == []
    findings = read_findings(target, CLASS_NAMES)
    assert [f.label for f in findings] == [r.prediction.label for r in slice_results]  # the slices only
    assert all(f.tracking_identifier != "series summary" for f in findings)


def test_an_outside_slice_is_reported_as_excluded_with_its_reason(
    tmp_path: Path, slice_results: list[SliceResult]
) -> None:
    import dataclasses

    reason = "modality CT (CT), not MR"
    outside = dataclasses.replace(slice_results[1].prediction, outside_reason=reason)
    results = [slice_results[0], dataclasses.replace(slice_results[1], prediction=outside), slice_results[2]]
    target = tmp_path / "sr.dcm"
    save_dicom(build_structured_report(results, ALGORITHM), target)
    assert dciodvfy_errors(target) == []
    texts: list[str] = []
    pydicom.dcmread(target).walk(lambda _ds, el: texts.append(str(el.value)) if el.keyword == "TextValue" else None)
    text = "\n".join(texts)
    assert f"slice 2: excluded, Outside intended use: {reason}" in text
    assert f"series summary; 1 slice(s) excluded, outside intended use: {reason} (1)" in text

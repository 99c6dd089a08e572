"""Attach to the original study vs a de-identified copy: what each keeps, what each replaces."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset

from core.export.dicom_outputs import write_series_dicom
from core.export.identity import ExportIdentity, ExportOptionError, IdentityMode, identity_for_cli
from core.export.overlay import burn_in_overlay
from core.export.records import SliceResult
from export.helpers import ALGORITHM, CLASS_NAMES, Series, dciodvfy_errors, dicom_pair, leaked_identifiers
from export.sr_reader import read_findings

# Patient (C.7.1.1), Patient Study (C.7.2.2) and General Study (C.7.2.1) attributes beyond the few
# highdicom's constructors take: attaching must carry them over to both objects.
EXTRA = {"IssuerOfPatientID": "HOSP-A", "PatientAge": "062Y", "PatientWeight": "71.5", "StudyDescription": "MRI brain"}
COPIED = ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyInstanceUID", "StudyDate", *EXTRA)


def _with_extra_patient_details(results: list[SliceResult]) -> list[SliceResult]:
    for result in results:
        assert result.header is not None
        result.header.PatientSex = "F"
        for keyword, value in EXTRA.items():
            setattr(result.header, keyword, value)
    return results


def _export(folder: Path, results: list[SliceResult], identity: ExportIdentity) -> tuple[Dataset, Dataset]:
    picture = burn_in_overlay(np.zeros((32, 32), dtype=np.uint8), None)
    write_series_dicom(
        folder, results, ALGORITHM, key_picture=picture, deidentify=identity.deidentify, uid_map=identity.uid_map
    )
    sc_path, sr_path = dicom_pair(folder)
    assert dciodvfy_errors(sc_path) == [] and dciodvfy_errors(sr_path) == []
    return pydicom.dcmread(sc_path), pydicom.dcmread(sr_path)


def test_attach_keeps_the_study_and_copies_the_patient_module(
    tmp_path: Path, slice_results: list[SliceResult], mr_series: Series
) -> None:
    results = _with_extra_patient_details(slice_results)
    source = results[0].header
    assert source is not None
    sc, sr = _export(tmp_path, results, ExportIdentity(IdentityMode.ATTACH))
    for keyword in COPIED:
        assert sc.get(keyword) == source.get(keyword) == sr.get(keyword), keyword
    assert sc.SeriesInstanceUID not in {sr.SeriesInstanceUID, source.SeriesInstanceUID}  # new series, same study
    references = {f.referenced_sop_instance_uid for f in read_findings(dicom_pair(tmp_path)[1], CLASS_NAMES)}
    assert references - {None} == {str(h.SOPInstanceUID) for h in mr_series.headers}
    assert sc.SourceImageSequence[0].ReferencedSOPInstanceUID == mr_series.headers[1].SOPInstanceUID  # key slice
    assert "PatientIdentityRemoved" not in sc and "PatientIdentityRemoved" not in sr


def test_deidentified_copy_has_new_uids_consistent_within_the_export(
    tmp_path: Path, slice_results: list[SliceResult], mr_series: Series
) -> None:
    results = _with_extra_patient_details(slice_results)
    identity = ExportIdentity(IdentityMode.DEIDENTIFY)
    sc, sr = _export(tmp_path / "one", results, identity)
    source = mr_series.headers[0]
    assert sc.StudyInstanceUID == sr.StudyInstanceUID == identity.uid_map(str(source.StudyInstanceUID))
    assert sc.StudyInstanceUID != source.StudyInstanceUID
    key = read_findings(dicom_pair(tmp_path / "one")[1], CLASS_NAMES)[1]
    assert sc.SourceImageSequence[0].ReferencedSOPInstanceUID == key.referenced_sop_instance_uid
    assert key.referenced_sop_instance_uid == identity.uid_map(str(mr_series.headers[1].SOPInstanceUID))
    assert sc.PatientID == sr.PatientID == identity.uid_map.pseudonym("PID-778899")
    assert sc.PatientIdentityRemoved == sr.PatientIdentityRemoved == "YES"
    for path in dicom_pair(tmp_path / "one"):
        assert leaked_identifiers(path, mr_series) == []
        assert b"HOSP-A" not in path.read_bytes()
    again_sc, _ = _export(tmp_path / "two", results, ExportIdentity(IdentityMode.DEIDENTIFY))
    assert again_sc.StudyInstanceUID != sc.StudyInstanceUID  # another export: unrelated UIDs
    assert again_sc.PatientID != sc.PatientID


def test_the_cli_rule() -> None:
    assert identity_for_cli(attach_to_study=None, deidentify=False).mode is IdentityMode.ATTACH
    assert identity_for_cli(attach_to_study=True, deidentify=False).mode is IdentityMode.ATTACH
    assert identity_for_cli(attach_to_study=None, deidentify=True).mode is IdentityMode.DEIDENTIFY
    with pytest.raises(ExportOptionError, match="cannot be combined with --deidentify"):
        identity_for_cli(attach_to_study=True, deidentify=True)
    assert "Study Instance UID" in IdentityMode.ATTACH.explanation and "PACS" in IdentityMode.DEIDENTIFY.explanation

"""DICOM Secondary Capture: validators, references, burned-in flag, de-identification.

The SC is built with :func:`build_secondary_capture` and written with :func:`save_dicom`, as
:func:`write_series_dicom` does (beside its SR)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import EnhancedMRImageStorage, generate_uid

from core.export.dicom_common import save_dicom
from core.export.dicom_outputs import write_series_dicom
from core.export.errors import DestinationError, ExportError
from core.export.overlay import burn_in_overlay
from core.export.records import SliceResult
from core.export.secondary_capture import build_secondary_capture
from core.export.uid_map import UidMap
from export.helpers import (
    ALGORITHM,
    PATIENT_NAME,
    Series,
    dciodvfy_errors,
    leaked_identifiers,
    require_tool,
    run_tool,
)


def _picture(result: SliceResult) -> np.ndarray:
    display = (np.arange(32 * 32).reshape(32, 32) % 256).astype(np.uint8)
    return burn_in_overlay(display, result.prediction.heatmap)


def test_sc_same_patient_validates(tmp_path: Path, slice_results: list[SliceResult], mr_series: Series) -> None:
    key = slice_results[1]
    target = tmp_path / "out" / "sc.dcm"
    assert key.header is not None
    save_dicom(
        build_secondary_capture(key.header, _picture(key), prediction=key.prediction, algorithm=ALGORITHM), target
    )
    assert dciodvfy_errors(target) == []
    dump = run_tool(require_tool("dcmdump"), str(target))
    assert dump.returncode == 0 and "SecondaryCaptureImageStorage" in dump.stdout
    sc = pydicom.dcmread(target)
    source = mr_series.headers[1]
    assert sc.PatientName == PATIENT_NAME and sc.StudyInstanceUID == source.StudyInstanceUID
    assert sc.SeriesInstanceUID != source.SeriesInstanceUID and sc.SOPInstanceUID != source.SOPInstanceUID
    assert sc.SourceImageSequence[0].ReferencedSOPInstanceUID == source.SOPInstanceUID
    assert sc.BurnedInAnnotation == "YES" and sc.PhotometricInterpretation == "RGB"
    assert list(sc.PatientOrientation) == ["L", "P"]
    assert np.array_equal(sc.pixel_array, _picture(key))
    assert "glioma" in sc.DerivationDescription
    leaks = leaked_identifiers(target, mr_series)  # the checker used on de-identified files does find them here
    assert PATIENT_NAME in leaks and str(source.StudyInstanceUID) in leaks


def test_sc_deidentified_has_no_identifiers(
    tmp_path: Path, slice_results: list[SliceResult], mr_series: Series
) -> None:
    key = slice_results[1]
    assert key.header is not None
    uid_map = UidMap()
    target = tmp_path / "sc_deid.dcm"
    save_dicom(build_secondary_capture(key.header, _picture(key), deidentify=True, uid_map=uid_map), target)
    assert dciodvfy_errors(target) == []
    assert leaked_identifiers(target, mr_series) == []
    sc = pydicom.dcmread(target)
    assert sc.PatientIdentityRemoved == "YES" and sc.BurnedInAnnotation == "YES"
    assert sc.StudyInstanceUID == uid_map(str(mr_series.headers[1].StudyInstanceUID))
    assert sc.SourceImageSequence[0].ReferencedSOPInstanceUID == uid_map(str(mr_series.headers[1].SOPInstanceUID))


def test_sc_from_bundled_pydicom_file(tmp_path: Path) -> None:
    header = pydicom.dcmread(get_testdata_file("MR_small.dcm"), stop_before_pixels=True)
    picture = burn_in_overlay(np.zeros((64, 64), np.uint8), None)
    for deidentify in (False, True):
        target = tmp_path / f"sc_{deidentify}.dcm"
        save_dicom(build_secondary_capture(header, picture, deidentify=deidentify), target)
        assert dciodvfy_errors(target) == []
        if deidentify:
            assert str(header.PatientName).encode() not in target.read_bytes()


def test_sc_references_the_frame_of_a_multiframe_source(tmp_path: Path) -> None:
    header = Dataset()
    header.SOPClassUID, header.SOPInstanceUID = EnhancedMRImageStorage, generate_uid()
    header.StudyInstanceUID, header.SeriesInstanceUID = generate_uid(), generate_uid()
    header.PatientName, header.PatientID, header.NumberOfFrames = "Multi^Frame", "MF1", 4
    plane = Dataset()
    plane.ImageOrientationPatient = [0, 1, 0, 0, 0, -1]  # sagittal: rows go posterior, columns go feet
    shared = Dataset()
    shared.PlaneOrientationSequence = DicomSequence([plane])
    header.SharedFunctionalGroupsSequence = DicomSequence([shared])
    target = tmp_path / "sc_mf.dcm"
    save_dicom(build_secondary_capture(header, burn_in_overlay(np.zeros((8, 8), np.uint8), None), frame=2), target)
    sc = pydicom.dcmread(target)
    assert sc.SourceImageSequence[0].ReferencedFrameNumber == 3
    assert list(sc.PatientOrientation) == ["P", "F"]
    assert dciodvfy_errors(target) == []


def test_sc_refusals(tmp_path: Path, slice_results: list[SliceResult], mr_series: Series) -> None:
    key = slice_results[1]
    assert key.header is not None
    with pytest.raises(DestinationError):
        write_series_dicom(
            mr_series.folder, slice_results, ALGORITHM, key_picture=_picture(key), sources=mr_series.paths
        )
    with pytest.raises(ExportError, match="RGB uint8"):
        build_secondary_capture(key.header, np.zeros((8, 8), np.uint8))
    incomplete = Dataset()
    incomplete.PatientName = "X"
    with pytest.raises(ExportError, match="lacks"):
        build_secondary_capture(incomplete, _picture(key))
    assert sorted(p.name for p in mr_series.folder.iterdir()) == [
        "IM0000.dcm",
        "IM0001.dcm",
        "IM0002.dcm",
    ]

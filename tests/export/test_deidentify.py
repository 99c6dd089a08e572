"""PS3.15 Basic Profile on headers: removal, emptying, UID remapping, private tags, source untouched."""

from __future__ import annotations

import pydicom
from hypothesis import given, settings
from hypothesis import strategies as st
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset
from pydicom.uid import UID

from core.export.deidentify import DEIDENTIFICATION_METHOD, Deidentifier, UidMap, profile_action
from export.helpers import INSTITUTION, PATIENT_NAME, PRIVATE_VALUE, Series


def _all_values(ds: Dataset) -> list[str]:
    values: list[str] = []
    ds.walk(lambda _ds, elem: values.append(str(elem.value)) if elem.VR != "SQ" else None)
    return values


def test_profile_table_actions_match_ps3_15() -> None:
    assert profile_action(0x00100010) == "Z"  # Patient's Name
    assert profile_action(0x0020000D) == "U"  # Study Instance UID
    assert profile_action(0x00080080) == "X"  # Institution Name (X/Z/D -> X)
    assert profile_action(0x00081140) == "U*"  # Referenced Image Sequence
    assert profile_action(0x60004000) == "X" and profile_action(0x60023000) == "X"  # overlay comments/data
    assert profile_action(0x00080016) is None  # SOP Class UID is kept
    assert profile_action(0x00280010) is None  # Rows


def test_identifying_attributes_are_gone(mr_series: Series) -> None:
    source = mr_series.headers[0]
    clean = Deidentifier().apply(source)
    values = " ".join(_all_values(clean))
    for text in (PATIENT_NAME, "PID-778899", "19610203", INSTITUTION, "House^Gregory", "ACC123456", PRIVATE_VALUE):
        assert text not in values
    for uid in mr_series.source_uids:
        assert uid not in values
    assert str(source.ReferencedImageSequence[0].ReferencedSOPInstanceUID) not in values
    assert not any(elem.tag.is_private for elem in clean.iterall())
    assert "InstitutionName" not in clean and "StudyDescription" not in clean
    assert clean.PatientName in (None, "")
    assert clean.PatientID.startswith("ANON-") and len(clean.PatientID) == len("ANON-") + 8
    assert clean.PatientIdentityRemoved == "YES"
    assert list(clean.DeidentificationMethod) == list(DEIDENTIFICATION_METHOD)
    assert clean.DeidentificationMethodCodeSequence[0].CodeValue == "113100"
    assert clean.SOPClassUID == source.SOPClassUID and clean.Rows == source.Rows


def test_nested_free_text_and_private_items_do_not_survive() -> None:
    ds = Dataset()
    item = Dataset()
    item.ValueType, item.TextValue = "TEXT", "Jane Doe has a headache"
    ds.ContentSequence = [item]  # D: the sequence is emptied
    ref = Dataset()
    ref.ReferencedSOPInstanceUID = "1.2.3.4.5"
    ref.add_new(0x00291010, "LO", "private in a sequence")
    ds.SourceImageSequence = [ref]  # U*: items kept, UIDs remapped, private removed
    uid_map = UidMap()
    clean = Deidentifier(uid_map).apply(ds)
    assert len(clean.ContentSequence) == 0
    assert clean.SourceImageSequence[0].ReferencedSOPInstanceUID == uid_map("1.2.3.4.5")
    assert 0x00291010 not in clean.SourceImageSequence[0]


def test_source_dataset_is_not_modified(mr_series: Series) -> None:
    source = mr_series.headers[0]
    before = source.to_json_dict()
    Deidentifier().apply(source)
    assert source.to_json_dict() == before
    assert source.PatientName == PATIENT_NAME


def test_uids_are_remapped_consistently_within_one_export(mr_series: Series) -> None:
    deid = Deidentifier()
    first, second = (deid.apply(header) for header in mr_series.headers[:2])
    assert first.StudyInstanceUID == second.StudyInstanceUID != mr_series.headers[0].StudyInstanceUID
    assert first.SeriesInstanceUID == second.SeriesInstanceUID
    assert first.SOPInstanceUID != second.SOPInstanceUID
    assert first.file_meta.MediaStorageSOPInstanceUID == first.SOPInstanceUID
    assert first.StudyInstanceUID.startswith("2.25.") and len(first.StudyInstanceUID) <= 64
    other_export = Deidentifier().apply(mr_series.headers[0])
    assert other_export.StudyInstanceUID != first.StudyInstanceUID


def test_uid_map_is_a_function_within_one_map() -> None:
    uid_map = UidMap()
    assert uid_map("1.2.3") == uid_map("1.2.3") != uid_map("1.2.4")
    assert set(uid_map.mapping) == {"1.2.3", "1.2.4"}
    assert "1.2.3" in uid_map and uid_map("") == ""


def test_bundled_pydicom_file_is_deidentified() -> None:
    ds = pydicom.dcmread(get_testdata_file("MR_small.dcm"))
    clean = Deidentifier().apply(ds)
    assert str(ds.PatientName) not in " ".join(_all_values(clean))
    assert clean.StudyInstanceUID != ds.StudyInstanceUID
    assert clean.pixel_array.shape == ds.pixel_array.shape  # pixels untouched (no burned-in text in MR)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.from_regex(r"1\.[1-9][0-9]{0,8}(\.[1-9][0-9]{0,8}){1,6}", fullmatch=True), min_size=1, max_size=20))
def test_remapped_uids_are_valid_and_one_to_one(sources: list[str]) -> None:
    uid_map = UidMap()
    mapped = [uid_map(uid) for uid in sources]
    assert all(UID(new).is_valid for new in mapped)
    assert len(set(mapped)) == len(set(sources))
    assert [uid_map(uid) for uid in sources] == mapped


def test_patient_id_pseudonym_is_consistent_within_one_export_only(mr_series: Series) -> None:
    first, second = mr_series.headers[:2]
    export = Deidentifier()
    assert export.apply(first).PatientID == export.apply(second).PatientID == export.uid_map.pseudonym("PID-778899")
    assert Deidentifier().apply(first).PatientID != export.apply(first).PatientID
    assert export.uid_map.pseudonym("another patient") != export.apply(first).PatientID

"""Export names from the content: patient (or pseudonym), series number and description, kind, unique suffix."""

from __future__ import annotations

from pydicom.dataset import Dataset

from core.export.naming import ExportName, export_name, safe_part
from core.export.uid_map import UidMap


def _header(**values: object) -> Dataset:
    ds = Dataset()
    for keyword, value in values.items():
        setattr(ds, keyword, value)
    return ds


def test_attached_names_show_patient_and_series() -> None:
    name = export_name(
        _header(PatientID="12/34 ü", SeriesNumber=5, SeriesDescription="t1_mprage_sag (p2)"),
        deidentify=False,
        uid_map=UidMap(),
        suffix="a1b2c3",
    )
    assert name.file("SR", "dcm") == "12_34_S5-t1_mprage_sag_p2_SR_a1b2c3.dcm"
    assert name.file("report", ".pdf") == "12_34_S5-t1_mprage_sag_p2_report_a1b2c3.pdf"


def test_deidentified_names_use_the_pseudonym_and_drop_the_description() -> None:
    uid_map = UidMap()
    header = _header(PatientID="PID-1", SeriesNumber=3, SeriesDescription="Jane's scan")
    name = export_name(header, deidentify=True, uid_map=uid_map)
    assert name.stem == f"{uid_map.pseudonym('PID-1')}_S3" and "PID-1" not in name.stem


def test_missing_values_and_non_dicom_series() -> None:
    assert export_name(_header(), deidentify=False, uid_map=UidMap()).stem == "no-patient-id_Sx"
    assert export_name(_header(), deidentify=True, uid_map=UidMap()).stem == "no-patient-id_Sx"
    assert export_name(None, deidentify=False, uid_map=UidMap()).stem == "images"
    assert safe_part("../../etc/passwd") == "etc_passwd" and safe_part("a" * 99, 10) == "a" * 10


def test_suffixes_differ_between_exports() -> None:
    assert len({ExportName("x").suffix for _ in range(20)}) == 20

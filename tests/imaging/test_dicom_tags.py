"""Tag rows of a header (nested sequences, binary values), and accession / frame of reference per series."""

from __future__ import annotations

from pathlib import Path

from dicom_factory import make_dataset, write
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from core.imaging import open_paths
from core.imaging.dicom_tags import read_tags


def test_rows_nest_sequences_and_summarise_binary(tmp_path: Path) -> None:
    item = Dataset()
    item.CodeValue = "123"
    ds = make_dataset(None, extra={"ProcedureCodeSequence": Sequence([item]), "AccessionNumber": "A7"})
    ds.add_new(0x00091010, "OB", b"\x00" * 40)
    rows = read_tags(write(ds, tmp_path / "x.dcm"))
    names = [row.name for row in rows]
    assert "TransferSyntaxUID" in names  # the file meta comes first
    sequence = names.index("ProcedureCodeSequence")
    assert names[sequence + 1] == ">CodeValue" and rows[sequence].value == "1 item(s)"
    assert next(r for r in rows if r.tag == "(0009,1010)").value == "<40 bytes>"
    accession = next(r for r in rows if r.name == "AccessionNumber")
    assert accession.matches("a7 accession") and not accession.matches("a8")


def test_series_carry_accession_and_frame_of_reference(tmp_path: Path) -> None:
    ds = make_dataset(
        [[1, 2], [3, 4]], position=(0, 0, 0), extra={"AccessionNumber": "ACC5", "FrameOfReferenceUID": "1.2.3.4"}
    )
    write(ds, tmp_path / "a.dcm")
    (series,) = open_paths([tmp_path]).all_series()
    assert series.accession_number == "ACC5" and series.frame_of_reference_uid == "1.2.3.4"

"""Slice metadata for overlays and reports, and its de-identified view."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from dicom_factory import make_dataset, make_enhanced, phantom, write
from PIL import Image

from core.imaging import FileAccessError, open_paths, read_metadata
from core.imaging.metadata import IDENTIFYING_FIELDS


def test_classic_metadata(tmp_path: Path) -> None:
    ds = make_dataset(phantom(8, 8), position=(0, 0, 12.5), extra={"AccessionNumber": "ACC9"})
    (ref,) = open_paths([write(ds, tmp_path / "a.dcm")]).all_slices()
    meta = read_metadata(ref)
    assert (meta.patient_name, meta.patient_id, meta.patient_sex, meta.patient_age) == (
        "Doe, Jane",
        "PAT1",
        "F",
        "054Y",
    )
    assert (meta.study_date, meta.study_description, meta.series_description) == ("20240101", "BRAIN", "T1 AX")
    assert (meta.modality, meta.slice_location, meta.slice_thickness) == ("MR", 12.5, 5.0)
    assert meta.pixel_spacing == (0.9, 0.9) and meta.instance_number == 1 and meta.frame == 0
    assert meta.accession_number == "ACC9" and meta.institution_name == "General Hospital"


def test_deidentified_view_removes_identifying_fields_only(tmp_path: Path) -> None:
    ds = make_dataset(phantom(8, 8), position=(0, 0, 1), extra={"AccessionNumber": "ACC9"})
    (ref,) = open_paths([write(ds, tmp_path / "Doe_Jane.dcm")]).all_slices()
    meta = read_metadata(ref)
    clean = meta.deidentified()
    assert all(getattr(clean, name) == "" for name in IDENTIFYING_FIELDS)
    assert clean.file_name == "" and clean.deidentified_view
    kept = {f.name for f in dataclasses.fields(meta)} - set(IDENTIFYING_FIELDS) - {"file_name", "deidentified_view"}
    assert all(getattr(clean, name) == getattr(meta, name) for name in kept)
    assert "Doe" not in repr(clean)


def test_enhanced_frame_metadata_uses_functional_groups(tmp_path: Path) -> None:
    frames = np.stack([phantom(8, 8, seed=i) for i in range(3)])
    ds = make_enhanced(frames, positions=[(0, 0, 4), (0, 0, 0), (0, 0, 8)], slopes=[1] * 3, intercepts=[0] * 3)
    refs = open_paths([write(ds, tmp_path / "e.dcm")]).all_slices()
    metas = [read_metadata(r) for r in refs]
    assert [m.slice_location for m in metas] == [0.0, 4.0, 8.0]
    assert all(m.slice_thickness == 3.0 and m.pixel_spacing == (1.0, 1.0) for m in metas)
    assert [m.frame for m in metas] == [1, 0, 2] and all(m.number_of_frames == 3 for m in metas)


def test_raster_metadata(tmp_path: Path) -> None:
    Image.fromarray(phantom(6, 9).astype(np.uint8)).save(tmp_path / "shot.png")
    (ref,) = open_paths([tmp_path]).all_slices()
    meta = read_metadata(ref)
    assert (meta.file_name, meta.rows, meta.columns, meta.modality, meta.patient_name) == ("shot.png", 6, 9, "OT", "")


def test_metadata_of_deleted_file(tmp_path: Path) -> None:
    path = write(make_dataset(phantom(8, 8)), tmp_path / "gone.dcm")
    (ref,) = open_paths([path]).all_slices()
    path.unlink()
    with pytest.raises(FileAccessError):
        read_metadata(ref)


def test_store_metadata_reuses_the_decoding_header(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import pydicom

    from core.imaging import PixelStore

    frames = np.stack([phantom(8, 8, seed=i, high=1000) for i in range(4)])
    ds = make_enhanced(frames, positions=[(0, 0, z) for z in range(4)], slopes=[1] * 4, intercepts=[0] * 4)
    refs = open_paths([write(ds, tmp_path / "enh.dcm")]).all_slices()
    expected = [read_metadata(ref) for ref in refs]
    reads: list[object] = []
    real_dcmread = pydicom.dcmread

    def counting_dcmread(*args: object, **kwargs: object) -> object:
        reads.append(args[0])
        return real_dcmread(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(pydicom, "dcmread", counting_dcmread)
    store = PixelStore()
    for ref in refs:
        store.display(ref)
    assert [store.metadata(ref) for ref in refs] == expected
    assert len(reads) == 1  # one header parse for the file, not one per frame

"""The fast raw header reads agree with pydicom's own conversion on every bundled file."""

from __future__ import annotations

import warnings

import pydicom
import pytest
from dicom_factory import BUNDLED, make_dataset, phantom, write

from core.imaging.raw_values import get_floats, get_int, get_string, get_strings

FILES = sorted(p for p in BUNDLED.glob("*.dcm"))


def _pydicom(ds: pydicom.Dataset, keyword: str) -> object:
    try:
        return ds.get(keyword)
    except Exception:
        return None


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_raw_values_match_pydicom(path) -> None:  # type: ignore[no-untyped-def]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            fast = pydicom.dcmread(path, stop_before_pixels=True, force=True)
            slow = pydicom.dcmread(path, stop_before_pixels=True, force=True)
        except Exception:
            pytest.skip("pydicom cannot read this file at all")
        for keyword in ("Rows", "Columns", "BitsAllocated", "BitsStored", "SamplesPerPixel", "InstanceNumber"):
            value = _pydicom(slow, keyword)
            if isinstance(value, int):
                assert get_int(fast, keyword) == value, keyword
        for keyword, count in (("ImagePositionPatient", 3), ("ImageOrientationPatient", 6)):
            value = _pydicom(slow, keyword)
            if value is not None and len(value) == count:
                assert get_floats(fast, keyword, count) == pytest.approx([float(v) for v in value]), keyword
        for keyword in ("SOPInstanceUID", "SeriesInstanceUID", "PhotometricInterpretation"):
            value = _pydicom(slow, keyword)
            if value:
                assert get_string(fast, keyword) == str(value), keyword
        image_type = _pydicom(slow, "ImageType")
        if image_type:
            # CS padding spaces are not significant (PS3.5 6.2); pydicom keeps them inside multi-values
            expected = [str(v).strip() for v in image_type] if not isinstance(image_type, str) else [image_type]
            assert get_strings(fast, "ImageType") == expected


def test_malformed_and_absent_values(tmp_path) -> None:  # type: ignore[no-untyped-def]
    ds = make_dataset(phantom(4, 4), position=(1, 2, 3))
    ds.InstanceNumber = "7"
    path = write(ds, tmp_path / "a.dcm")
    raw = pydicom.dcmread(path, stop_before_pixels=True)
    assert get_int(raw, "InstanceNumber") == 7
    assert get_int(raw, "NumberOfFrames", 1) == 1
    assert get_floats(raw, "ImagePositionPatient", 2) is None  # wrong count
    assert get_string(raw, "AccessionNumber") == ""
    assert get_strings(raw, "ImageType") == []

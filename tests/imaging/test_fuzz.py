"""Damaged files never escape as untyped exceptions: scanning lists them, decoding raises ImagingError."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from dicom_factory import bundled, make_dataset, phantom, write
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from core.imaging import ImagingError, PixelStore, open_paths

SELFTEST = Path(__file__).resolve().parents[2] / "resources" / "selftest"
SOURCES = [
    *(bundled(name) for name in ("MR_small.dcm", "MR_small_RLE.dcm", "JPEG2000.dcm", "SC_rgb_jpeg_dcmtk.dcm")),
    bundled("MR_small_jpeg_ls_lossless.dcm"),
    *(SELFTEST / name for name in ("jpegxl_lossless.dcm", "jpegxl.dcm", "encapsulated_uncompressed.dcm")),
]


def _exercise(path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = open_paths([path])
        assert len(result.all_slices()) + len(result.errors) + len(result.ignored) >= 1
        store = PixelStore(max_megabytes=8)
        for ref in result.all_slices()[:2]:
            try:
                store.display(ref)
                store.model_rendering(ref)
                store.window_presets(ref)
            except ImagingError as exc:
                assert str(exc).startswith(path.name + ": ")


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    source=st.sampled_from(SOURCES),
    edits=st.lists(st.tuples(st.floats(0, 1), st.integers(0, 255)), min_size=1, max_size=8),
    cut=st.one_of(st.none(), st.floats(0.05, 1.0)),
)
def test_corrupted_dicom_is_contained(tmp_path_factory, source: Path, edits, cut) -> None:  # type: ignore[no-untyped-def]
    data = bytearray(source.read_bytes())
    for where, value in edits:
        data[min(int(where * len(data)), len(data) - 1)] = value
    if cut is not None:
        data = data[: max(1, int(cut * len(data)))]
    path = tmp_path_factory.mktemp("fuzz") / "damaged.dcm"
    path.write_bytes(bytes(data))
    _exercise(path)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    fmt=st.sampled_from(["PNG", "JPEG"]),
    edits=st.lists(st.tuples(st.floats(0, 1), st.integers(0, 255)), min_size=1, max_size=8),
)
def test_corrupted_raster_is_contained(tmp_path_factory, fmt: str, edits) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path_factory.mktemp("fuzzimg")
    path = folder / ("damaged.png" if fmt == "PNG" else "damaged.jpg")
    Image.fromarray(phantom(24, 24).astype(np.uint8)).save(path, format=fmt)
    data = bytearray(path.read_bytes())
    for where, value in edits:
        data[min(int(where * len(data)), len(data) - 1)] = value
    path.write_bytes(bytes(data))
    _exercise(path)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rows=st.integers(-2, 70000),
    columns=st.integers(-2, 70000),
    bits=st.sampled_from([0, 1, 7, 8, 12, 16, 17, 32, 33]),
    stored=st.integers(0, 40),
    frames=st.sampled_from(["1", "0", "-3", "2", "100000"]),
    photometric=st.sampled_from(["MONOCHROME1", "MONOCHROME2", "RGB", "PALETTE COLOR", "YBR_FULL", "", "FOO"]),
)
def test_contradictory_headers_are_contained(  # type: ignore[no-untyped-def]
    tmp_path_factory, rows, columns, bits, stored, frames, photometric
) -> None:
    ds = make_dataset(phantom(8, 8), bits_allocated=8)
    ds.Rows, ds.Columns, ds.BitsAllocated, ds.BitsStored = rows % 65536, columns % 65536, bits, stored
    ds.NumberOfFrames = frames
    ds.PhotometricInterpretation = photometric
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        path = write(ds, tmp_path_factory.mktemp("hdr") / "hdr.dcm")
    _exercise(path)

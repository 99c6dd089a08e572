"""Hostile and broken files: each gives one typed, file-specific ImagingError; the rest of the folder opens.

Every case is opened through the real entry points (``core.imaging.open_paths`` then ``PixelStore``),
beside a good DICOM file that must still open with exact pixels.  Any exception other than an
``ImagingError`` subclass counts as a lost case.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pydicom
import pytest
from dicom_factory import BUNDLED
from PIL import Image
from reliability_kit import IMAGING_ERRORS, mr_dataset, pixels, png_bomb, write_dicom

from core.imaging import ImagingError, InvalidImageError, PixelStore, open_paths

GROUP = "Hostile files"
ANY = frozenset(IMAGING_ERRORS)
OPENS = frozenset({"opens"})
TRUNCATED = frozenset({"TruncatedFileError"})  # never a silent "object without an image"
Builder = Callable[[Path], None]
GOOD = pixels(seed=1)


def _outcome(folder: Path, name: str) -> tuple[str, str, object]:
    """(error type or "opens", message, decoded values) for ``name``, after checking good.dcm still opens."""
    write_dicom(folder / "good.dcm", mr_dataset(GOOD))
    result = open_paths([folder])
    store = PixelStore(max_megabytes=16)
    (good,) = [r for r in result.all_slices() if r.path.name == "good.dcm"]
    np.testing.assert_array_equal(store.modality(good), GOOD)
    for error in result.errors + result.ignored:  # ignored: readable DICOM objects without an image
        if error.path.name == name:
            return error.error_type, error.message, None
    refs = [r for r in result.all_slices() if r.path.name == name]
    assert refs, f"{name} neither opened nor reported"
    try:
        values = [store.modality(r) for r in refs]
        for ref in refs:
            store.display(ref)
            store.model_rendering(ref)
    except ImagingError as exc:
        assert str(exc).startswith(f"{name}: "), str(exc)
        return type(exc).__name__, exc.reason, None
    return "opens", "", values[0]


def _save_pil(fmt: str) -> Builder:
    def build(path: Path) -> None:
        Image.fromarray((GOOD // 16).astype(np.uint8)).save(path, format=fmt)

    return build


def _bytes(data: bytes) -> Builder:
    return lambda path: path.write_bytes(data)


def _dicom_bytes(ds: pydicom.Dataset | None = None) -> bytes:
    buffer = io.BytesIO()
    (ds if ds is not None else mr_dataset()).save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def _patched(old: bytes, new: bytes) -> Builder:
    """A valid file with the first ``old`` byte string replaced by ``new`` (a wrong VR)."""

    def build(path: Path) -> None:
        data = _dicom_bytes()
        assert old in data
        path.write_bytes(data.replace(old, new, 1))

    return build


def _cut(where: Callable[[bytes], int]) -> Builder:
    def build(path: Path) -> None:
        data = _dicom_bytes()
        path.write_bytes(data[: where(data)])

    return build


def _changed(**values: object) -> Builder:
    def build(path: Path) -> None:
        ds = mr_dataset()
        for key, value in values.items():
            setattr(ds, key, value)
        write_dicom(path, ds)

    return build


def _no_pixels(path: Path) -> None:
    ds = mr_dataset()
    del ds.PixelData
    write_dicom(path, ds)


def _no_file_meta(path: Path) -> None:
    ds = mr_dataset()
    del ds.file_meta
    ds.save_as(path, enforce_file_format=False, implicit_vr=True, little_endian=True)


def _no_transfer_syntax(path: Path) -> None:
    ds = mr_dataset()
    del ds.file_meta.TransferSyntaxUID
    ds.save_as(path, enforce_file_format=False, implicit_vr=False, little_endian=True)


def _no_transfer_syntax_compressed(path: Path) -> None:
    ds = pydicom.dcmread(BUNDLED / "MR_small_RLE.dcm")
    del ds.file_meta.TransferSyntaxUID
    ds.save_as(path, enforce_file_format=False, implicit_vr=False, little_endian=True)


def _png(mode: str) -> Builder:
    def build(path: Path) -> None:
        if mode == "I;16":
            Image.fromarray(GOOD.astype(np.uint16)).save(path)
        else:
            image = Image.fromarray((GOOD // 16).astype(np.uint8)).convert("P")
            image.save(path)

    return build


def _truncated_raster(fmt: str) -> Builder:
    def build(path: Path) -> None:
        buffer = io.BytesIO()
        noisy = np.random.default_rng(3).integers(0, 255, (64, 64), dtype=np.uint8)
        Image.fromarray(noisy).save(buffer, format=fmt)
        data = buffer.getvalue()
        path.write_bytes(data[: len(data) // 2])

    return build


def _series_description_middle(data: bytes) -> int:
    return data.index(b"RELIABILITY") + 5


def _end_of_file_meta(data: bytes) -> int:
    """Just after the file meta header: File Meta Information Group Length (PS3.10 7.1) past its element."""
    return 144 + int.from_bytes(data[140:144], "little")


def _jpeg_lossless(damage_huffman_table: bool) -> Builder:
    """mr_dataset() as JPEG Lossless SV1 (dcmcjpeg).

    With the first DHT marker destroyed, GDCM throws a C++ exception that aborts the process it runs in
    (found by fuzzing); libjpeg-turbo (imagecodecs) reports it as an error.
    """

    def build(path: Path) -> None:
        if shutil.which("dcmcjpeg") is None:
            pytest.skip("dcmcjpeg (DCMTK) is not installed")
        native = write_dicom(path.with_suffix(".native"))
        subprocess.run(["dcmcjpeg", "+e1", str(native), str(path)], check=True, capture_output=True)
        native.unlink()
        if damage_huffman_table:
            data = path.read_bytes()
            marker = data.index(b"\xff\xc4", data.index(b"\xff\xd8"))
            path.write_bytes(data[:marker] + b"\x00" + data[marker + 1 :])

    return build


PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
TEXT = b"Clinical note: patient doing well.\n" * 20
RANDOM = np.random.default_rng(7).integers(0, 256, 4096, dtype=np.uint8).tobytes()
FAKE_PREAMBLE = RANDOM[:128] + b"DICM" + RANDOM[128:2048]
# Explicit VR little endian encodings of (0028,0010) Rows = 8 and (0010,0010) Patient Name.
ROWS_US = b"\x28\x00\x10\x00US\x02\x00"
NAME_PN = b"\x10\x00\x10\x00PN"

CASES: dict[str, tuple[str, Builder, frozenset[str]]] = {
    "zero-length": ("empty.dcm", _bytes(b""), frozenset({"NotAnImageError"})),
    "random bytes": ("random.dcm", _bytes(RANDOM), ANY),
    "random bytes behind a DICM preamble": ("fake.dcm", _bytes(FAKE_PREAMBLE), ANY),
    "text named .dcm": ("note.dcm", _bytes(TEXT), frozenset({"NotAnImageError"})),
    "text named .png": ("note.png", _bytes(TEXT), frozenset({"NotAnImageError"})),
    "PDF named .dcm": ("report.dcm", _bytes(PDF), frozenset({"NotAnImageError"})),
    "PDF named .png": ("report.png", _bytes(PDF), frozenset({"NotAnImageError"})),
    "TIFF named .dcm": ("scan.dcm", _save_pil("TIFF"), frozenset({"NotAnImageError"})),
    "TIFF named .png": ("scan.png", _save_pil("TIFF"), frozenset({"NotAnImageError"})),
    "EPS named .dcm": ("figure.dcm", _save_pil("EPS"), frozenset({"NotAnImageError"})),
    "EPS named .png": ("figure.png", _save_pil("EPS"), frozenset({"NotAnImageError"})),
    "DICOM without file meta (opens)": ("nometa.dcm", _no_file_meta, OPENS),
    "DICOM without transfer syntax, native (opens)": ("nots.dcm", _no_transfer_syntax, OPENS),
    "DICOM without transfer syntax, compressed": (
        "nots_rle.dcm",
        _no_transfer_syntax_compressed,
        frozenset({"InvalidImageError"}),
    ),
    "wrong VR: Rows as DA": ("vr_da.dcm", _patched(ROWS_US, b"\x28\x00\x10\x00DA\x02\x00"), ANY),
    "wrong VR: Rows as OB": ("vr_ob.dcm", _patched(ROWS_US, b"\x28\x00\x10\x00OB\x02\x00"), ANY),
    "wrong VR: unknown VR ZZ": ("vr_zz.dcm", _patched(ROWS_US, b"\x28\x00\x10\x00ZZ\x02\x00"), ANY),
    "wrong VR: Patient Name as US": ("vr_us.dcm", _patched(NAME_PN, b"\x10\x00\x10\x00US"), ANY | OPENS),
    "DICOM without pixel data": ("nopix.dcm", _no_pixels, frozenset({"NoPixelDataError"})),
    "truncated in the preamble": ("cut_pre.dcm", _cut(lambda d: 60), TRUNCATED),
    "truncated inside the DICM prefix": ("cut_dicm.dcm", _cut(lambda d: 130), TRUNCATED),
    "truncated right after the DICM prefix": ("cut_132.dcm", _cut(lambda d: 132), TRUNCATED),
    "truncated inside the file meta group length": ("cut_glen.dcm", _cut(lambda d: 140), TRUNCATED),
    "truncated after the file meta group length": ("cut_glen2.dcm", _cut(lambda d: 144), TRUNCATED),
    "truncated in the file meta": ("cut_meta.dcm", _cut(lambda d: 150), TRUNCATED),
    "truncated at the end of the file meta": ("cut_meta_end.dcm", _cut(_end_of_file_meta), TRUNCATED),
    "truncated in the header": ("cut_head.dcm", _cut(lambda d: 420), TRUNCATED),
    "truncated inside an element": ("cut_elem.dcm", _cut(_series_description_middle), TRUNCATED),
    "truncated inside an element header": ("cut_tag.dcm", _cut(lambda d: _series_description_middle(d) - 9), TRUNCATED),
    "truncated in the pixel data": ("cut_pix.dcm", _cut(lambda d: len(d) - 40), frozenset({"TruncatedFileError"})),
    "Rows larger than the data": (
        "rows.dcm",
        _changed(Rows=64),
        frozenset({"TruncatedFileError", "InvalidImageError"}),
    ),
    "Columns zero": ("cols.dcm", _changed(Columns=0), frozenset({"InvalidImageError"})),
    "Bits Allocated 8 for 16-bit data": (
        "ba8.dcm",
        _changed(BitsAllocated=8, BitsStored=8, HighBit=7),
        frozenset({"InvalidImageError"}),
    ),
    "Bits Stored above Bits Allocated": ("bs.dcm", _changed(BitsStored=20), frozenset({"InvalidImageError"})),
    "Samples per Pixel 3 on MONOCHROME2": ("spp.dcm", _changed(SamplesPerPixel=3), frozenset({"InvalidImageError"})),
    "Samples per Pixel 0": ("spp0.dcm", _changed(SamplesPerPixel=0), frozenset({"InvalidImageError"})),
    "header declaring 8 TB of frames": (
        "huge.dcm",
        _changed(Rows=65535, Columns=65535, NumberOfFrames=1000),
        frozenset({"ImageTooLargeError"}),
    ),
    "header declaring a 1.8 GB frame": (
        "big.dcm",
        _changed(Rows=30000, Columns=30000),
        frozenset({"ImageTooLargeError"}),
    ),
    "PNG decompression bomb": ("bomb.png", _bytes(png_bomb(100_000, 100_000)), frozenset({"ImageTooLargeError"})),
    "truncated PNG": ("cut.png", _truncated_raster("PNG"), frozenset({"TruncatedFileError", "InvalidImageError"})),
    "truncated JPEG": ("cut.jpg", _truncated_raster("JPEG"), frozenset({"TruncatedFileError", "InvalidImageError"})),
    "JPEG Lossless (opens)": ("lossless.dcm", _jpeg_lossless(damage_huffman_table=False), OPENS),
    "JPEG Lossless without its Huffman table": (
        "gdcm_abort.dcm",
        _jpeg_lossless(damage_huffman_table=True),
        frozenset({"InvalidImageError"}),
    ),
    "16-bit PNG (opens)": ("sixteen.png", _png("I;16"), OPENS),
    "palette PNG (opens)": ("palette.png", _png("P"), OPENS),
}


@pytest.mark.parametrize("case", list(CASES))
def test_hostile_file(tmp_path: Path, tally, case: str) -> None:
    name, build, expected = CASES[case]
    build(tmp_path / name)
    try:
        kind, message, values = _outcome(tmp_path, name)
    except Exception:
        tally.case(GROUP, False)
        raise
    ok = kind in expected and (kind == "opens" or bool(message))
    if kind == "opens" and "png" in name:
        ok = ok and np.array_equal(values, GOOD if "sixteen" in name else GOOD // 16)
    elif kind == "opens" and "vr_" not in name:
        ok = ok and np.array_equal(values, pixels())
    assert tally.case(GROUP, ok), f"{case}: got {kind} ({message}), expected one of {sorted(expected)}"


def test_unreadable_permissions(tmp_path: Path, tally) -> None:
    path = write_dicom(tmp_path / "locked.dcm")
    path.chmod(0)
    try:
        if os.access(path, os.R_OK):
            pytest.skip("running with privileges that make a mode-000 file readable")
        kind, message, _ = _outcome(tmp_path, "locked.dcm")
    finally:
        path.chmod(0o600)
    assert tally.case(GROUP, kind == "FileAccessError"), (kind, message)


@pytest.mark.parametrize("change", ["deleted", "rewritten", "truncated"])
def test_file_changed_between_indexing_and_display(tmp_path: Path, tally, change: str) -> None:
    path = write_dicom(tmp_path / "moving.dcm")
    write_dicom(tmp_path / "good.dcm", mr_dataset(GOOD))
    result = open_paths([tmp_path])
    (ref,) = [r for r in result.all_slices() if r.path == path]
    (good,) = [r for r in result.all_slices() if r.path.name == "good.dcm"]
    if change == "deleted":
        path.unlink()
    elif change == "rewritten":
        write_dicom(path, mr_dataset(pixels(seed=9)))
        os.utime(path, ns=(ref.file_mtime_ns + 10**9,) * 2)
    else:
        path.write_bytes(path.read_bytes()[:-64])
    store = PixelStore()
    with pytest.raises(Exception) as info:
        store.display(ref)
    handled = type(info.value).__name__ == "FileAccessError" and str(info.value).startswith("moving.dcm: ")
    handled = handled and np.array_equal(store.modality(good), GOOD)
    assert tally.case(GROUP, handled), repr(info.value)


def test_decoder_helper_starts_again_after_a_crash(tmp_path: Path, tally, monkeypatch: pytest.MonkeyPatch) -> None:
    # as on an installation without imagecodecs: GDCM decodes JPEG Lossless, in the helper process
    monkeypatch.setattr("core.imaging.dicom_pixels._PLUGIN_PREFERENCE", ("pylibjpeg", "pillow", "pydicom", "gdcm"))
    _jpeg_lossless(damage_huffman_table=True)(tmp_path / "bad.dcm")
    _jpeg_lossless(damage_huffman_table=False)(tmp_path / "ok.dcm")
    refs = {ref.path.name: ref for ref in open_paths([tmp_path]).all_slices()}
    store = PixelStore()
    with pytest.raises(InvalidImageError, match="decoder crashed") as info:
        store.modality(refs["bad.dcm"])
    recovered = np.array_equal(store.modality(refs["ok.dcm"]), pixels())  # decoded by a fresh helper
    assert tally.case(GROUP, recovered), repr(info.value)

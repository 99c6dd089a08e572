"""Each kind of bad input gives one typed, readable error for that file only; the rest still opens."""

from __future__ import annotations

import os
import re
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from dicom_factory import bundled, make_dataset, phantom, write
from PIL import Image

from core.imaging import (
    FileAccessError,
    ImageTooLargeError,
    InvalidImageError,
    NoPixelDataError,
    NotAnImageError,
    PixelStore,
    TruncatedFileError,
    UnsupportedCompressionError,
    open_paths,
)
from core.imaging.indexer import index_file


def only_error(path: Path) -> tuple[str, str]:
    """(error type, message) of opening ``path`` alone; asserts nothing else came out."""
    result = open_paths([path])
    assert result.all_slices() == []
    (error,) = result.errors
    return error.error_type, error.message


def png_bytes(width: int, height: int) -> bytes:
    """A minimal 8-bit grayscale PNG declaring ``width`` x ``height`` (PNG spec 5.3/11.2)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00")) + chunk(b"IEND", b"")


def test_zero_length_file(tmp_path: Path) -> None:
    (tmp_path / "empty.dcm").write_bytes(b"")
    assert only_error(tmp_path / "empty.dcm") == ("NotAnImageError", "file is empty (0 bytes)")


@pytest.mark.parametrize(
    ("name", "content"),
    [("notes.dcm", b"Patient notes, nothing else\n" * 10), ("report.dcm", b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n")],
)
def test_text_or_pdf_named_dcm(tmp_path: Path, name: str, content: bytes) -> None:
    (tmp_path / name).write_bytes(content)
    kind, message = only_error(tmp_path / name)
    assert kind == "NotAnImageError" and message.startswith("not a DICOM or image file")


def test_dicom_without_pixel_data(tmp_path: Path) -> None:
    ds = make_dataset(phantom(8, 8))
    del ds.PixelData
    path = write(ds, tmp_path / "nopix.dcm")
    assert only_error(path) == ("NoPixelDataError", "DICOM file has no pixel data")
    with pytest.raises(NoPixelDataError, match=re.escape("nopix.dcm: DICOM file has no pixel data")):
        index_file(path)


def test_truncated_pixel_data(tmp_path: Path) -> None:
    path = write(make_dataset(phantom(32, 32), bits_allocated=16), tmp_path / "cut.dcm")
    data = path.read_bytes()
    path.write_bytes(data[:-500])
    assert only_error(path) == ("TruncatedFileError", "file is truncated: 1548 of 2048 bytes of pixel data")


def test_bundled_truncated_file() -> None:
    assert only_error(bundled("MR_truncated.dcm")) == (
        "TruncatedFileError",
        "file is truncated: 8130 of 8192 bytes of pixel data",
    )


def test_truncated_compressed_pixel_data(tmp_path: Path) -> None:
    data = bundled("MR_small_RLE.dcm").read_bytes()
    (tmp_path / "cut_rle.dcm").write_bytes(data[: len(data) - 3000])
    kind, message = only_error(tmp_path / "cut_rle.dcm")
    assert kind == "TruncatedFileError" and message.startswith("file is truncated: compressed pixel data ends after")


def test_missing_transfer_syntax_native_still_opens(tmp_path: Path) -> None:
    ds = make_dataset(phantom(8, 8))
    path = write(ds, tmp_path / "nots.dcm")
    import pydicom

    raw = pydicom.dcmread(path)
    del raw.file_meta.TransferSyntaxUID
    raw.save_as(path, enforce_file_format=False, implicit_vr=False, little_endian=True)
    assert "TransferSyntaxUID" not in pydicom.dcmread(path).file_meta
    result = open_paths([path])
    assert result.errors == []
    np.testing.assert_array_equal(PixelStore().modality(result.all_slices()[0]), phantom(8, 8))


def test_missing_transfer_syntax_with_compressed_data(tmp_path: Path) -> None:
    import pydicom

    raw = pydicom.dcmread(bundled("MR_small_RLE.dcm"))
    del raw.file_meta.TransferSyntaxUID
    raw.save_as(tmp_path / "nots_rle.dcm", enforce_file_format=False, implicit_vr=False, little_endian=True)
    kind, message = only_error(tmp_path / "nots_rle.dcm")
    assert kind == "InvalidImageError" and "does not state its transfer syntax" in message


def test_unsupported_transfer_syntax(tmp_path: Path) -> None:
    import pydicom

    raw = pydicom.dcmread(bundled("MR_small_RLE.dcm"))
    raw.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2.4.100"  # MPEG2 video
    raw.save_as(tmp_path / "mpeg.dcm")
    assert only_error(tmp_path / "mpeg.dcm") == (
        "UnsupportedCompressionError",
        "compression 'MPEG2 Main Profile / Main Level' is not supported",
    )
    raw.file_meta.TransferSyntaxUID = "1.2.3.4.5"
    raw.save_as(tmp_path / "private.dcm")
    kind, message = only_error(tmp_path / "private.dcm")
    assert kind == "UnsupportedCompressionError" and "not a known DICOM transfer syntax" in message


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"Rows": 0}, "invalid image size in header: Rows 0, Columns 8"),
        ({"Columns": 0}, "invalid image size in header: Rows 8, Columns 0"),
        ({"BitsStored": 20}, "invalid Bits Stored in header: 20 (Bits Allocated is 8)"),
        ({"BitsAllocated": 12}, "invalid Bits Allocated in header: 12"),
        ({"SamplesPerPixel": 2}, "unsupported Samples per Pixel: 2"),
        ({"PhotometricInterpretation": "HSV"}, "unsupported Photometric Interpretation: HSV"),
        ({"NumberOfFrames": "0"}, "invalid Number of Frames in header: '0'"),
    ],
)
def test_invalid_header_values(tmp_path: Path, changes: dict[str, object], expected: str) -> None:
    ds = make_dataset(phantom(8, 8))
    for key, value in changes.items():
        setattr(ds, key, value)
    path = write(ds, tmp_path / "bad.dcm")
    assert only_error(path) == ("InvalidImageError", expected)


def test_huge_declared_image_refused_before_decoding(tmp_path: Path) -> None:
    ds = make_dataset(phantom(8, 8))
    ds.Rows, ds.Columns, ds.NumberOfFrames = 60000, 60000, 1000
    path = write(ds, tmp_path / "huge.dcm")
    assert only_error(path) == ("ImageTooLargeError", "image is too large: 60000 x 60000 x 1000")


def test_png_decompression_bomb(tmp_path: Path) -> None:
    # a PNG whose header declares 20000 x 20000 pixels in a file of a few dozen bytes
    (tmp_path / "bomb.png").write_bytes(png_bytes(20000, 20000))
    assert Image.MAX_IMAGE_PIXELS is not None  # the Pillow limit stays on
    kind, message = only_error(tmp_path / "bomb.png")
    assert kind == "ImageTooLargeError" and message == "image is too large: 20000 x 20000 x 1"


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_png_above_pillow_warning_limit_is_refused_too(tmp_path: Path) -> None:
    # between MAX_IMAGE_PIXELS and twice that Pillow only warns; the header check refuses it
    side = int((Image.MAX_IMAGE_PIXELS or 0) ** 0.5) + 10
    (tmp_path / "big.png").write_bytes(png_bytes(side, side))
    assert only_error(tmp_path / "big.png") == ("ImageTooLargeError", f"image is too large: {side} x {side} x 1")


@pytest.mark.parametrize(("fmt", "name"), [("TIFF", "scan.png"), ("EPS", "figure.png"), ("BMP", "photo.jpg")])
def test_other_formats_renamed_are_refused(tmp_path: Path, fmt: str, name: str) -> None:
    Image.fromarray(phantom(8, 8).astype(np.uint8)).save(tmp_path / name, format=fmt)
    kind, message = only_error(tmp_path / name)
    assert kind == "NotAnImageError" and message.startswith("not a DICOM or image file")


def test_truncated_png(tmp_path: Path) -> None:
    Image.fromarray(phantom(64, 64).astype(np.uint8)).save(tmp_path / "cut.png")
    data = (tmp_path / "cut.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    result = open_paths([tmp_path / "cut.png"])
    (ref,) = result.all_slices()  # the header is intact
    with pytest.raises(TruncatedFileError, match=re.escape("cut.png: file is truncated")):
        PixelStore().display(ref)


@pytest.mark.skipif(os.geteuid() == 0, reason="running as root: chmod cannot make a file unreadable")
def test_unreadable_file(tmp_path: Path) -> None:
    path = write(make_dataset(phantom(8, 8)), tmp_path / "locked.dcm")
    path.chmod(0)
    try:
        if os.access(path, os.R_OK):
            pytest.skip("file permissions are not enforced here")
        assert only_error(path) == ("FileAccessError", "no permission to read the file")
    finally:
        path.chmod(0o600)


def test_unreadable_file_reported_via_permission_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Same path as above, forced so it also runs as root: open() raising PermissionError."""
    path = write(make_dataset(phantom(8, 8)), tmp_path / "locked.dcm")
    real_open = open

    def guarded_open(file, *args, **kwargs):  # type: ignore[no-untyped-def]
        if Path(str(file)) == path:
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr("builtins.open", guarded_open)
    assert only_error(path) == ("FileAccessError", "no permission to read the file")


def test_file_deleted_between_scan_and_display(tmp_path: Path) -> None:
    path = write(make_dataset(phantom(8, 8)), tmp_path / "gone.dcm")
    (ref,) = open_paths([path]).all_slices()
    path.unlink()
    with pytest.raises(FileAccessError, match=re.escape("gone.dcm: file no longer exists")):
        PixelStore().display(ref)


def test_file_changed_between_scan_and_display(tmp_path: Path) -> None:
    path = write(make_dataset(phantom(8, 8)), tmp_path / "edited.dcm")
    (ref,) = open_paths([path]).all_slices()
    write(make_dataset(phantom(8, 8, seed=3)), path)
    os.utime(path, ns=(ref.file_mtime_ns + 10**9, ref.file_mtime_ns + 10**9))
    with pytest.raises(FileAccessError, match="changed since it was opened"):
        PixelStore().modality(ref)


def test_damaged_compressed_data_is_typed(tmp_path: Path) -> None:
    data = bytearray(bundled("JPEG2000.dcm").read_bytes())
    start = data.index(b"\xff\x4f\xff\x51")  # J2K codestream start
    data[start + 4 : start + 60] = b"\x00" * 56
    (tmp_path / "broken.dcm").write_bytes(bytes(data))
    (ref,) = open_paths([tmp_path / "broken.dcm"]).all_slices()
    with pytest.raises((InvalidImageError, UnsupportedCompressionError)) as info:
        PixelStore().display(ref)
    assert str(info.value).startswith("broken.dcm: ")


def test_mixed_folder_still_opens_the_good_files(tmp_path: Path) -> None:
    write(make_dataset(phantom(8, 8), series_description="GOOD"), tmp_path / "good1.dcm")
    Image.fromarray(phantom(8, 8).astype(np.uint8)).save(tmp_path / "good2.png")
    (tmp_path / "empty.dcm").write_bytes(b"")
    (tmp_path / "notes.dcm").write_text("hello")
    Image.fromarray(phantom(8, 8).astype(np.uint8)).save(tmp_path / "tiff.png", format="TIFF")
    cut = write(make_dataset(phantom(32, 32)), tmp_path / "cut.dcm")
    cut.write_bytes(cut.read_bytes()[:-100])
    huge = make_dataset(phantom(8, 8))
    huge.Rows = huge.Columns = 65535
    huge.NumberOfFrames = 500
    write(huge, tmp_path / "huge.dcm")
    nopix = make_dataset(phantom(8, 8))
    del nopix.PixelData
    write(nopix, tmp_path / "nopix.dcm")
    (tmp_path / "garbage.bin").write_bytes(struct.pack("<HH", 8, 5) + b"\xff" * 64)
    result = open_paths([tmp_path])
    assert sorted(r.path.name for r in result.all_slices()) == ["good1.dcm", "good2.png"]
    errors = {e.path.name: e.error_type for e in result.errors}
    assert errors == {
        "empty.dcm": "NotAnImageError",
        "notes.dcm": "NotAnImageError",
        "tiff.png": "NotAnImageError",
        "cut.dcm": "TruncatedFileError",
        "huge.dcm": "ImageTooLargeError",
        "nopix.dcm": "NoPixelDataError",
        "garbage.bin": errors["garbage.bin"],
    }
    assert errors["garbage.bin"] in {"NotAnImageError", "InvalidImageError", "TruncatedFileError"}
    store = PixelStore()
    assert all(store.display(r).dtype == np.uint8 for r in result.all_slices())


def test_errors_are_readable_with_the_file_name() -> None:
    error = ImageTooLargeError("image is too large: 1 x 2 x 3", Path("/x/y/big.dcm"))
    assert str(error) == "big.dcm: image is too large: 1 x 2 x 3"
    assert error.path == Path("/x/y/big.dcm") and error.reason == "image is too large: 1 x 2 x 3"
    assert str(NotAnImageError()) == "not a DICOM or image file"

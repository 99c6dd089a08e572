"""JPEG XL and Encapsulated Uncompressed: transfer syntaxes pydicom 3.0 has no decoder for."""

from __future__ import annotations

from pathlib import Path

import imagecodecs
import numpy as np
import pytest
from dicom_factory import make_dataset, phantom, write_encapsulated

from core.imaging import PixelStore, open_paths
from core.imaging.dicom_pixels import decode_frame, load_source
from core.imaging.newer_syntaxes import (
    ENCAPSULATED_UNCOMPRESSED,
    JPEGXL,
    JPEGXL_JPEG_RECOMPRESSION,
    JPEGXL_LOSSLESS,
)

pytestmark = pytest.mark.skipif(not imagecodecs.JPEGXL.available, reason="imagecodecs without libjxl")


def _values(path: Path) -> np.ndarray:
    result = open_paths([path])
    assert result.errors == [], result.errors
    return np.stack([PixelStore().modality(ref) for ref in result.all_slices()])


def _only_error(path: Path) -> tuple[str, str]:
    result = open_paths([path])
    assert result.all_slices() == []
    (error,) = result.errors
    return error.error_type, error.message


def test_jpegxl_lossless_12bit_with_rescale_is_exact(tmp_path: Path) -> None:
    img = phantom(40, 28, high=4095).astype(np.uint16)
    ds = make_dataset(img, bits_allocated=16, bits_stored=12, extra={"RescaleSlope": 2, "RescaleIntercept": -10})
    path = write_encapsulated(
        ds, tmp_path / "jxl.dcm", JPEGXL_LOSSLESS, [imagecodecs.jpegxl_encode(img, lossless=True, bitspersample=12)]
    )
    np.testing.assert_array_equal(_values(path)[0], img * 2.0 - 10)


def test_jpegxl_lossy_is_close(tmp_path: Path) -> None:
    img = phantom(48, 48, high=4095).astype(np.uint16)
    ds = make_dataset(img, bits_allocated=16, bits_stored=12)
    path = write_encapsulated(
        ds, tmp_path / "jxl.dcm", JPEGXL, [imagecodecs.jpegxl_encode(img, level=95, bitspersample=12)]
    )
    error = np.abs(_values(path)[0] - img)
    assert 0 < error.mean() < 0.02 * 4095


def test_jpegxl_jpeg_recompression_matches_the_original_jpeg(tmp_path: Path) -> None:
    img = phantom(32, 32).astype(np.uint8)
    jpeg = imagecodecs.jpeg8_encode(img, level=90)
    ds = make_dataset(img, bits_allocated=8)
    path = write_encapsulated(
        ds, tmp_path / "jxl.dcm", JPEGXL_JPEG_RECOMPRESSION, [imagecodecs.jpegxl_encode_jpeg(jpeg)]
    )
    # the transcoded JPEG decodes to the same picture as the JPEG itself, up to IDCT rounding
    assert np.abs(_values(path)[0] - imagecodecs.jpeg8_decode(jpeg)).max() <= 4


@pytest.mark.parametrize("extended", [False, True])
def test_jpegxl_multiframe_reads_each_frame(tmp_path: Path, extended: bool) -> None:
    frames = np.stack([phantom(24, 24, seed=i, high=1000) for i in range(3)]).astype(np.uint16)
    ds = make_dataset(frames, bits_allocated=16, bits_stored=16)
    encoded = [imagecodecs.jpegxl_encode(f, lossless=True) for f in frames]
    path = write_encapsulated(ds, tmp_path / "multi.dcm", JPEGXL_LOSSLESS, encoded, extended=extended)
    source = load_source(path)
    assert ("ExtendedOffsetTable" in source.header) == extended
    for i in (2, 0, 1):
        np.testing.assert_array_equal(decode_frame(source, i).values, frames[i])


def test_jpegxl_colour_is_rgb(tmp_path: Path) -> None:
    rgb = np.stack([phantom(20, 30, seed=s) for s in range(3)], axis=-1).astype(np.uint8)
    ds = make_dataset(rgb, photometric="RGB")
    path = write_encapsulated(
        ds, tmp_path / "rgb.dcm", JPEGXL_LOSSLESS, [imagecodecs.jpegxl_encode(rgb, lossless=True)]
    )
    frame = decode_frame(load_source(path), 0)
    assert frame.is_color
    np.testing.assert_array_equal(frame.values, rgb)


def test_damaged_jpegxl_is_a_clear_error_and_names_the_syntax(tmp_path: Path) -> None:
    img = phantom(24, 24, high=4095).astype(np.uint16)
    stream = bytearray(imagecodecs.jpegxl_encode(img, lossless=True, bitspersample=12))
    stream[len(stream) // 2 :] = b"\xff" * (len(stream) - len(stream) // 2)
    ds = make_dataset(img, bits_allocated=16, bits_stored=12)
    good = write_encapsulated(
        make_dataset(img, bits_allocated=16, bits_stored=12, instance=2),
        tmp_path / "a_good.dcm",
        JPEGXL_LOSSLESS,
        [imagecodecs.jpegxl_encode(img, lossless=True)],
    )
    bad = write_encapsulated(ds, tmp_path / "b_bad.dcm", JPEGXL_LOSSLESS, [bytes(stream)])
    store = PixelStore()
    result = open_paths([good, bad])  # headers are fine: both open, only the damaged one fails to decode
    refs = {ref.path.name: ref for ref in result.all_slices()}
    np.testing.assert_array_equal(store.modality(refs["a_good.dcm"]), img)
    with pytest.raises(Exception) as info:
        store.modality(refs["b_bad.dcm"])
    assert type(info.value).__name__ == "InvalidImageError"
    assert "compressed pixel data (JPEG XL Lossless) is damaged" in str(info.value)


def test_jpegxl_without_libjxl_is_refused_by_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    img = phantom(16, 16).astype(np.uint8)
    path = write_encapsulated(make_dataset(img), tmp_path / "jxl.dcm", JPEGXL, [imagecodecs.jpegxl_encode(img)])
    monkeypatch.setattr(imagecodecs.JPEGXL, "available", False)
    assert _only_error(path) == (
        "UnsupportedCompressionError",
        "compression 'JPEG XL' is not supported (no decoder installed)",
    )


@pytest.mark.parametrize("has_bot", [True, False])
def test_encapsulated_uncompressed_signed_multiframe(tmp_path: Path, has_bot: bool) -> None:
    frames = (np.stack([phantom(12, 10, seed=i, high=2000) for i in range(3)]) - 1000).astype(np.int16)
    ds = make_dataset(frames, bits_allocated=16, bits_stored=12, signed=True)
    raw = [f.astype("<i2").tobytes() for f in frames]
    source = load_source(write_encapsulated(ds, tmp_path / "eu.dcm", ENCAPSULATED_UNCOMPRESSED, raw, has_bot=has_bot))
    for i in range(3):
        np.testing.assert_array_equal(decode_frame(source, i).values, frames[i])


def test_encapsulated_uncompressed_honours_bits_stored(tmp_path: Path) -> None:
    img = phantom(8, 8, high=4095).astype(np.uint16)
    noisy_high_bits = img | np.uint16(0xF000)  # bits above Bits Stored carry no value (PS3.5 8.1.1)
    ds = make_dataset(img, bits_allocated=16, bits_stored=12)
    path = write_encapsulated(ds, tmp_path / "eu.dcm", ENCAPSULATED_UNCOMPRESSED, [noisy_high_bits.tobytes()])
    np.testing.assert_array_equal(_values(path)[0], img)


@pytest.mark.parametrize("planar", [0, 1])
def test_encapsulated_uncompressed_rgb_by_pixel_and_by_plane(tmp_path: Path, planar: int) -> None:
    rgb = np.stack([phantom(6, 9, seed=s) for s in range(3)], axis=-1).astype(np.uint8)
    ds = make_dataset(rgb, photometric="RGB", extra={"PlanarConfiguration": planar})
    data = rgb.transpose(2, 0, 1).tobytes() if planar else rgb.tobytes()
    frame = decode_frame(
        load_source(write_encapsulated(ds, tmp_path / "rgb.dcm", ENCAPSULATED_UNCOMPRESSED, [data])), 0
    )
    np.testing.assert_array_equal(frame.values, rgb)


def test_encapsulated_uncompressed_short_frame_is_a_clear_error(tmp_path: Path) -> None:
    img = phantom(8, 8, high=4095).astype(np.uint16)
    ds = make_dataset(img, bits_allocated=16, bits_stored=12)
    path = write_encapsulated(ds, tmp_path / "short.dcm", ENCAPSULATED_UNCOMPRESSED, [img.tobytes()[:50]])
    source = load_source(path)
    with pytest.raises(Exception) as info:
        decode_frame(source, 0)
    assert type(info.value).__name__ == "TruncatedFileError"

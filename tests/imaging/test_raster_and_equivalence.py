"""PNG/JPEG modes, and the model rendering of a PNG equals that of the same image stored as DICOM."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from dicom_factory import make_dataset, phantom, write
from PIL import Image
from pydicom.uid import JPEG2000Lossless, JPEGLSLossless, RLELossless

from core.imaging import PixelStore, SliceRef, open_paths
from core.imaging.render import render_for_model


def only_slice(path: Path) -> SliceRef:
    result = open_paths([path])
    assert result.errors == [], result.errors
    (ref,) = result.all_slices()
    return ref


IMG8 = phantom(40, 32, seed=7).astype(np.uint8)


@pytest.mark.parametrize("mode", ["L", "LA", "RGB", "RGBA", "P"])
def test_png_gray_content_in_any_mode_reads_as_the_same_gray_values(tmp_path: Path, mode: str) -> None:
    image = Image.fromarray(IMG8)
    if mode == "LA":
        image = Image.merge("LA", (image, Image.new("L", image.size, 128)))
    elif mode == "P":
        image = image.convert("P", palette=Image.Palette.ADAPTIVE, colors=256)
    else:
        image = image.convert(mode)
    image.save(tmp_path / "img.png")
    values = PixelStore().modality(only_slice(tmp_path / "img.png"))
    assert values.dtype == np.float32 and values.shape == IMG8.shape
    if mode != "P":  # an adaptive palette may merge a few grey levels
        np.testing.assert_array_equal(values, IMG8)


def test_png_16bit(tmp_path: Path) -> None:
    img16 = phantom(20, 30, high=60000).astype(np.uint16)
    Image.fromarray(img16).save(tmp_path / "deep.png")
    with Image.open(tmp_path / "deep.png") as check:
        assert check.mode.startswith("I")
    np.testing.assert_array_equal(PixelStore().modality(only_slice(tmp_path / "deep.png")), img16)


def test_colour_png_and_jpeg(tmp_path: Path) -> None:
    rgb = np.zeros((10, 10, 3), dtype=np.uint8)
    rgb[..., 0] = 200
    Image.fromarray(rgb).save(tmp_path / "red.png")
    Image.fromarray(rgb).save(tmp_path / "red.jpg", quality=95)
    store = PixelStore()
    for name in ("red.png", "red.jpg"):
        ref = only_slice(tmp_path / name)
        out = store.display(ref)
        assert out.shape == (10, 10, 3) and abs(int(out[5, 5, 0]) - 200) <= 2
        assert store.window_presets(ref) == []
        assert store.model_rendering(ref).shape == (10, 10)


def test_grayscale_jpeg(tmp_path: Path) -> None:
    Image.fromarray(IMG8).save(tmp_path / "g.jpg", quality=100)
    values = PixelStore().modality(only_slice(tmp_path / "g.jpg"))
    assert values.shape == IMG8.shape and np.abs(values - IMG8).max() <= 8


# --- PNG vs DICOM: the same image must give the same model rendering (within 1) ---------------


def _png_rendering(tmp_path: Path) -> np.ndarray:
    Image.fromarray(IMG8).save(tmp_path / "ref.png")
    return PixelStore().model_rendering(only_slice(tmp_path / "ref.png"))


def _dicom_rendering(ds, path: Path) -> np.ndarray:  # type: ignore[no-untyped-def]
    return PixelStore().model_rendering(only_slice(write(ds, path)))


def _assert_within_one(a: np.ndarray, b: np.ndarray) -> None:
    assert a.shape == b.shape
    assert np.abs(a.astype(int) - b.astype(int)).max() <= 1


def test_png_vs_dicom_8bit(tmp_path: Path) -> None:
    png = _png_rendering(tmp_path)
    np.testing.assert_array_equal(png, render_for_model(IMG8))
    _assert_within_one(png, _dicom_rendering(make_dataset(IMG8, bits_allocated=8), tmp_path / "a.dcm"))


def test_png_vs_dicom_16bit_with_rescale(tmp_path: Path) -> None:
    # stored = (v - intercept) / slope with slope 0.25, intercept -1024: a CT-like signed encoding
    stored = (IMG8.astype(np.int64) * 4 * 3) - 500
    ds = make_dataset(
        stored,
        bits_allocated=16,
        bits_stored=16,
        signed=True,
        extra={"RescaleSlope": 0.25, "RescaleIntercept": -1024, "WindowCenter": 40, "WindowWidth": 80},
    )
    _assert_within_one(_png_rendering(tmp_path), _dicom_rendering(ds, tmp_path / "b.dcm"))


def test_png_vs_dicom_monochrome1(tmp_path: Path) -> None:
    ds = make_dataset(255 - IMG8.astype(np.int64), bits_allocated=8, photometric="MONOCHROME1")
    _assert_within_one(_png_rendering(tmp_path), _dicom_rendering(ds, tmp_path / "c.dcm"))


def test_png_vs_dicom_monochrome1_12bit(tmp_path: Path) -> None:
    ds = make_dataset(4095 - IMG8.astype(np.int64) * 16, bits_allocated=16, bits_stored=12, photometric="MONOCHROME1")
    _assert_within_one(_png_rendering(tmp_path), _dicom_rendering(ds, tmp_path / "c12.dcm"))


@pytest.mark.parametrize("syntax", [RLELossless, JPEGLSLossless, JPEG2000Lossless])
def test_png_vs_dicom_compressed_lossless(tmp_path: Path, syntax: str) -> None:
    ds = make_dataset(IMG8.astype(np.int64) * 100, bits_allocated=16)
    ds.compress(syntax)
    _assert_within_one(_png_rendering(tmp_path), _dicom_rendering(ds, tmp_path / "d.dcm"))


def test_model_rendering_is_independent_of_file_window(tmp_path: Path) -> None:
    a = make_dataset(IMG8, extra={"WindowCenter": 10, "WindowWidth": 5})
    b = make_dataset(IMG8, extra={"WindowCenter": 200, "WindowWidth": 400})
    np.testing.assert_array_equal(_dicom_rendering(a, tmp_path / "a.dcm"), _dicom_rendering(b, tmp_path / "b.dcm"))

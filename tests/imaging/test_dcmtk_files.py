"""Files produced by DCMTK (img2dcm, dcmcjpeg, dcmcjpls, dcmcrle, dcmconv) decode correctly.

Skipped with a reason when DCMTK is not installed (``make test`` installs it).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest
from dicom_factory import have_dcmtk, make_dataset, phantom, run_tool, write
from PIL import Image
from pydicom.uid import (
    DeflatedExplicitVRLittleEndian,
    JPEGBaseline8Bit,
    JPEGExtended12Bit,
    JPEGLossless,
    JPEGLosslessSV1,
    JPEGLSLossless,
    JPEGLSNearLossless,
    RLELossless,
)

from core.imaging import PixelStore, SliceRef, open_paths

pytestmark = pytest.mark.skipif(
    not have_dcmtk("img2dcm", "dcmcjpeg", "dcmcjpls", "dcmcrle", "dcmconv"),
    reason="DCMTK command-line tools not installed (apt-get install dcmtk; `make test` does this)",
)

IMG = phantom(48, 40, seed=11, high=3000)


def only_slice(path: Path) -> SliceRef:
    result = open_paths([path])
    assert result.errors == [], result.errors
    (ref,) = result.all_slices()
    return ref


def source_16bit(tmp_path: Path) -> Path:
    ds = make_dataset(IMG, bits_allocated=16, bits_stored=12, extra={"RescaleSlope": 1, "RescaleIntercept": -1000})
    return write(ds, tmp_path / "source.dcm")


@pytest.mark.parametrize(
    ("tool", "options", "syntax"),
    [
        ("dcmcjpeg", ["+e1"], JPEGLosslessSV1),
        ("dcmcjpeg", ["+el"], JPEGLossless),
        ("dcmcjpls", ["+el"], JPEGLSLossless),
        ("dcmcrle", [], RLELossless),
        ("dcmconv", ["+td"], DeflatedExplicitVRLittleEndian),
    ],
)
def test_lossless_dcmtk_outputs_decode_exactly(tmp_path: Path, tool: str, options: list[str], syntax: str) -> None:
    out = tmp_path / "out.dcm"
    run_tool(tool, *options, source_16bit(tmp_path), out)
    assert pydicom.dcmread(out, stop_before_pixels=True).file_meta.TransferSyntaxUID == syntax
    np.testing.assert_array_equal(PixelStore().modality(only_slice(out)), IMG - 1000)


def test_jpeg_ls_near_lossless(tmp_path: Path) -> None:
    out = tmp_path / "near.dcm"
    run_tool("dcmcjpls", "+en", source_16bit(tmp_path), out)
    assert pydicom.dcmread(out, stop_before_pixels=True).file_meta.TransferSyntaxUID == JPEGLSNearLossless
    assert np.abs(PixelStore().modality(only_slice(out)) - (IMG - 1000)).max() <= 2


@pytest.mark.parametrize(("options", "syntax"), [(["+eb"], JPEGBaseline8Bit), (["+ee"], JPEGExtended12Bit)])
def test_lossy_jpeg_8bit(tmp_path: Path, options: list[str], syntax: str) -> None:
    src = write(make_dataset((IMG // 12).clip(0, 255), bits_allocated=8), tmp_path / "src8.dcm")
    out = tmp_path / "lossy.dcm"
    run_tool("dcmcjpeg", *options, "+q", "98", src, out)
    assert pydicom.dcmread(out, stop_before_pixels=True).file_meta.TransferSyntaxUID == syntax
    values = PixelStore().modality(only_slice(out))
    assert np.abs(values - (IMG // 12).clip(0, 255)).mean() < 2


def test_12bit_jpeg_extended_matches_dcmtk(tmp_path: Path) -> None:
    src = write(make_dataset(phantom(48, 40, high=4000), bits_allocated=16, bits_stored=12), tmp_path / "src12.dcm")
    lossy, reference = tmp_path / "lossy12.dcm", tmp_path / "dcmtk_decoded.dcm"
    run_tool("dcmcjpeg", "+ee", src, lossy)
    run_tool("dcmdjpeg", lossy, reference)  # DCMTK's own 12-bit IJG decoder
    assert pydicom.dcmread(lossy, stop_before_pixels=True).file_meta.TransferSyntaxUID == JPEGExtended12Bit
    values = PixelStore().modality(only_slice(lossy))
    np.testing.assert_array_equal(values, pydicom.dcmread(reference).pixel_array)


def test_img2dcm_jpeg_equals_the_jpeg_itself(tmp_path: Path) -> None:
    gray = (IMG // 12).clip(0, 255).astype(np.uint8)
    Image.fromarray(gray).save(tmp_path / "photo.jpg", quality=90)
    out = tmp_path / "photo.dcm"
    run_tool("img2dcm", tmp_path / "photo.jpg", out)
    store = PixelStore()
    jpeg_ref, dicom_ref = only_slice(tmp_path / "photo.jpg"), only_slice(out)
    assert np.abs(store.modality(jpeg_ref) - store.modality(dicom_ref)).max() <= 1
    diff = store.model_rendering(jpeg_ref).astype(int) - store.model_rendering(dicom_ref).astype(int)
    assert np.abs(diff).max() <= 1


def test_img2dcm_bmp_equals_the_png(tmp_path: Path) -> None:
    gray = (IMG // 12).clip(0, 255).astype(np.uint8)
    Image.fromarray(gray).convert("RGB").save(tmp_path / "shot.bmp")
    Image.fromarray(gray).save(tmp_path / "shot.png")
    out = tmp_path / "shot.dcm"
    run_tool("img2dcm", "-i", "BMP", tmp_path / "shot.bmp", out)
    store = PixelStore()
    png, dicom = store.model_rendering(only_slice(tmp_path / "shot.png")), store.model_rendering(only_slice(out))
    assert np.abs(png.astype(int) - dicom.astype(int)).max() <= 1

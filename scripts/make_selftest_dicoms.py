"""Write ``resources/selftest/``: one tiny DICOM per compressed transfer syntax NeuroReview decodes.

``neuroreview --self-test`` decodes every file listed in ``manifest.json`` and compares the values
with an uncompressed reference of the same synthetic phantom (32 x 32, not a patient).  Run once;
the outputs are committed::

    python scripts/make_selftest_dicoms.py [--out resources/selftest]

Encoders: DCMTK ``dcmcjpeg`` for the JPEG processes (PS3.5 A.4.1), OpenJPH ``ojph_compress`` for
HTJ2K (PS3.5 A.4.11), pydicom's own encoders for RLE, JPEG-LS (pyjpegls), JPEG 2000
(pylibjpeg-openjpeg) and Deflate, imagecodecs' libjxl for JPEG XL.  Encapsulated Uncompressed holds
the native frame.  pydicom 3.0 cannot write or decode the last two (it does not know JPEG XL), so
they are written by the tests' DICOM factory and checked with NeuroReview's own decoder.
``apt-get install dcmtk openjph-tools`` provides the tools.
The output is deterministic: fixed UIDs, dates and pixel values.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydicom
from numpy.typing import NDArray
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.uid import (
    HTJ2K,
    JPEG2000,
    UID,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRLittleEndian,
    HTJ2KLossless,
    HTJ2KLosslessRPCL,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    JPEGExtended12Bit,
    JPEGLossless,
    JPEGLosslessSV1,
    JPEGLSLossless,
    JPEGLSNearLossless,
    MRImageStorage,
    RLELossless,
    generate_uid,
)

SIZE = 32
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from dicom_factory import write_encapsulated  # noqa: E402  (tests/ is not a package)

from core.imaging import newer_syntaxes  # noqa: E402

DEFAULT_OUT = ROOT / "resources" / "selftest"
MANIFEST = "manifest.json"
# Lossy codecs: the decoded values may differ from the reference by at most these fractions of its range.
LOSSY_MEAN_LIMIT = 0.02
LOSSY_MAX_LIMIT = 0.25


def phantom(bits: int) -> NDArray[np.uint16]:
    """A 32 x 32 head-like phantom: bright rim, grey disc, one brighter blob, seeded noise."""
    top = (1 << bits) - 1
    y, x = np.mgrid[0:SIZE, 0:SIZE].astype(np.float64)
    r = np.hypot(x - 15.5, y - 15.5)
    image = np.where(r < 14, 0.35, 0.0) + np.where((r >= 12) & (r < 14), 0.45, 0.0)
    image += np.where(np.hypot(x - 20, y - 12) < 4, 0.4, 0.0) + 0.1 * (y / SIZE) * (r < 12)
    image += np.random.default_rng(0).normal(0.0, 0.02, image.shape)
    return np.clip(np.round(image * top), 0, top).astype(np.uint16)


def base_dataset(pixels: NDArray[np.uint16], bits: int, name: str) -> Dataset:
    """An uncompressed MR Image Storage dataset around ``pixels`` (8 or 12 bits stored)."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = MRImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid(entropy_srcs=["neuroreview-selftest", name])
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = MRImageStorage
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID = generate_uid(entropy_srcs=["neuroreview-selftest", "study"])
    ds.SeriesInstanceUID = generate_uid(entropy_srcs=["neuroreview-selftest", "series", name])
    ds.PatientName = "SELFTEST^PHANTOM"
    ds.PatientID = "NEUROREVIEW-SELFTEST"
    ds.StudyDate = ds.SeriesDate = "20260101"
    ds.StudyDescription = "NeuroReview self-test - synthetic phantom, not a patient"
    ds.SeriesDescription = f"self-test {name}"
    ds.Modality = "MR"
    ds.SeriesNumber = 1
    ds.InstanceNumber = 1
    ds.ImageType = ["DERIVED", "SECONDARY"]
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows = ds.Columns = SIZE
    ds.BitsAllocated = 8 if bits == 8 else 16
    ds.BitsStored = bits
    ds.HighBit = bits - 1
    ds.PixelRepresentation = 0
    ds.PixelSpacing = [1.0, 1.0]
    dtype = np.uint8 if bits == 8 else np.uint16
    ds.PixelData = pixels.astype(dtype).tobytes()
    ds["PixelData"].VR = "OB" if bits == 8 else "OW"
    return ds


@dataclass(frozen=True)
class Target:
    """One output file: its transfer syntax, the reference it matches, and how it is encoded."""

    stem: str
    syntax: UID
    bits: int
    lossless: bool
    encode: Callable[[Path, Path, Path], None]  # (uncompressed input, output, scratch folder)


def _dcmcjpeg(*options: str) -> Callable[[Path, Path, Path], None]:
    def encode(src: Path, dst: Path, _scratch: Path) -> None:
        subprocess.run(["dcmcjpeg", *options, str(src), str(dst)], check=True)

    return encode


def _pydicom(syntax: UID, **kwargs: object) -> Callable[[Path, Path, Path], None]:
    def encode(src: Path, dst: Path, _scratch: Path) -> None:
        ds = pydicom.dcmread(src)
        ds.compress(syntax, **kwargs)  # type: ignore[arg-type]
        ds.save_as(dst, enforce_file_format=True)

    return encode


def _deflate(src: Path, dst: Path, _scratch: Path) -> None:
    ds = pydicom.dcmread(src)
    ds.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    ds.save_as(dst, enforce_file_format=True)


def _ojph(syntax: UID, *options: str) -> Callable[[Path, Path, Path], None]:
    """HTJ2K codestream from OpenJPH, wrapped as encapsulated Pixel Data (PS3.5 A.4)."""

    def encode(src: Path, dst: Path, scratch: Path) -> None:
        ds = pydicom.dcmread(src)
        values = ds.pixel_array.astype(np.uint16)
        pgm = scratch / f"{dst.stem}.pgm"
        header = f"P5\n{SIZE} {SIZE}\n{(1 << int(ds.BitsStored)) - 1}\n".encode("ascii")
        pgm.write_bytes(header + values.astype(">u2").tobytes())
        j2c = scratch / f"{dst.stem}.j2c"
        subprocess.run(["ojph_compress", "-i", str(pgm), "-o", str(j2c), *options], check=True, capture_output=True)
        ds.PixelData = encapsulate([j2c.read_bytes()])
        ds["PixelData"].VR = "OB"
        ds.file_meta.TransferSyntaxUID = syntax
        if syntax == HTJ2K:
            ds.LossyImageCompression = "01"
        ds.save_as(dst, enforce_file_format=True)

    return encode


def _imagecodecs(
    syntax: UID, encode_frame: Callable[[NDArray[np.uint16], int], bytes]
) -> Callable[[Path, Path, Path], None]:
    """A syntax pydicom 3.0 cannot encode: ``encode_frame(values, bits_stored)`` makes the one frame."""

    def encode(src: Path, dst: Path, _scratch: Path) -> None:
        ds = pydicom.dcmread(src)
        frame = encode_frame(ds.pixel_array, int(ds.BitsStored))
        if syntax in (newer_syntaxes.JPEGXL, newer_syntaxes.JPEGXL_JPEG_RECOMPRESSION):
            ds.LossyImageCompression = "01"
        write_encapsulated(ds, dst, syntax, [frame])

    return encode


def _jpegxl(values: NDArray[np.uint16], bits: int, **options: object) -> bytes:
    import imagecodecs

    return bytes(imagecodecs.jpegxl_encode(values, bitspersample=bits, **options))


def _jpegxl_from_jpeg(values: NDArray[np.uint16], _bits: int) -> bytes:
    import imagecodecs

    jpeg = imagecodecs.jpeg8_encode(values.astype(np.uint8), level=95)
    return bytes(imagecodecs.jpegxl_encode_jpeg(jpeg))


TARGETS = (
    Target("jpeg_baseline", JPEGBaseline8Bit, 8, False, _dcmcjpeg("+eb", "+q", "95")),
    Target("jpeg_extended", JPEGExtended12Bit, 8, False, _dcmcjpeg("+ee", "+q", "95")),
    Target("jpeg_extended_12bit", JPEGExtended12Bit, 12, False, _dcmcjpeg("+ee", "+q", "95")),
    Target("jpeg_lossless", JPEGLossless, 12, True, _dcmcjpeg("+el", "+sv", "6")),
    Target("jpeg_lossless_sv1", JPEGLosslessSV1, 12, True, _dcmcjpeg("+e1")),
    Target("jpegls_lossless", JPEGLSLossless, 12, True, _pydicom(JPEGLSLossless)),
    Target("jpegls_near_lossless", JPEGLSNearLossless, 12, False, _pydicom(JPEGLSNearLossless, jls_error=2)),
    Target("j2k_lossless", JPEG2000Lossless, 12, True, _pydicom(JPEG2000Lossless)),
    Target("j2k", JPEG2000, 12, False, _pydicom(JPEG2000, j2k_psnr=[60])),
    Target(
        "htj2k_lossless", HTJ2KLossless, 12, True, _ojph(HTJ2KLossless, "-reversible", "true", "-prog_order", "LRCP")
    ),
    Target(
        "htj2k_lossless_rpcl",
        HTJ2KLosslessRPCL,
        12,
        True,
        _ojph(HTJ2KLosslessRPCL, "-reversible", "true", "-prog_order", "RPCL"),
    ),
    Target("htj2k", HTJ2K, 12, False, _ojph(HTJ2K, "-reversible", "false", "-qstep", "0.001", "-num_decomps", "3")),
    Target("rle_lossless", RLELossless, 12, True, _pydicom(RLELossless)),
    Target("deflated", DeflatedExplicitVRLittleEndian, 12, True, _deflate),
    Target(
        "jpegxl_lossless",
        newer_syntaxes.JPEGXL_LOSSLESS,
        12,
        True,
        _imagecodecs(newer_syntaxes.JPEGXL_LOSSLESS, lambda v, b: _jpegxl(v, b, lossless=True)),
    ),
    Target(
        "jpegxl",
        newer_syntaxes.JPEGXL,
        12,
        False,
        _imagecodecs(newer_syntaxes.JPEGXL, lambda v, b: _jpegxl(v, b, level=95)),
    ),
    Target(
        "jpegxl_jpeg_recompression",
        newer_syntaxes.JPEGXL_JPEG_RECOMPRESSION,
        8,
        False,
        _imagecodecs(newer_syntaxes.JPEGXL_JPEG_RECOMPRESSION, _jpegxl_from_jpeg),
    ),
    Target(
        "encapsulated_uncompressed",
        newer_syntaxes.ENCAPSULATED_UNCOMPRESSED,
        12,
        True,
        _imagecodecs(newer_syntaxes.ENCAPSULATED_UNCOMPRESSED, lambda v, _b: v.astype("<u2").tobytes()),
    ),
)


def decoded_values(path: Path) -> NDArray[np.float64]:
    """Stored values of a one-frame file: pydicom's decoders, NeuroReview's for the syntaxes pydicom lacks."""
    from core.imaging.dicom_pixels import decode_frame, load_source

    header = pydicom.dcmread(path, stop_before_pixels=True)
    if newer_syntaxes.handles(header.file_meta.TransferSyntaxUID):
        return np.asarray(decode_frame(load_source(path), 0).values, dtype=np.float64)
    return np.asarray(pydicom.dcmread(path).pixel_array, dtype=np.float64)


def _check(path: Path, target: Target, reference: NDArray[np.uint16]) -> dict[str, float]:
    """Decode with pydicom (and the 12-bit JPEG plugin); confirm the syntax and the self-test error bounds."""
    written = pydicom.dcmread(path, stop_before_pixels=True).file_meta.TransferSyntaxUID
    if written != target.syntax:
        raise SystemExit(f"{path.name}: wrote {written}, expected {target.syntax}")
    error = np.abs(decoded_values(path) - reference.astype(np.float64))
    span = float((1 << target.bits) - 1)
    mean, worst = float(error.mean()), float(error.max())
    if target.lossless and worst != 0:
        raise SystemExit(f"{path.name}: lossless syntax changed the values (max error {worst})")
    if mean > LOSSY_MEAN_LIMIT * span or worst > LOSSY_MAX_LIMIT * span:
        raise SystemExit(f"{path.name}: lossy error too large (mean {mean:.2f}, max {worst:.0f})")
    return {"mean_abs_error": round(mean, 3), "max_abs_error": worst}


def make(out: Path) -> list[dict[str, object]]:
    """Write the references, one file per target and ``manifest.json`` into ``out``."""
    from core.imaging.imagecodecs_plugin import register

    register()  # the 12-bit JPEG decoder pydicom has no plugin for
    for tool in ("dcmcjpeg", "ojph_compress"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} not found: apt-get install -y dcmtk openjph-tools")
    out.mkdir(parents=True, exist_ok=True)
    references = {}
    for bits in (8, 12):
        name = f"reference_{bits}bit.dcm"
        base_dataset(phantom(bits), bits, f"reference-{bits}").save_as(out / name, enforce_file_format=True)
        references[bits] = name
    entries: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        for target in TARGETS:
            src = scratch / f"{target.stem}_in.dcm"
            base_dataset(phantom(target.bits), target.bits, target.stem).save_as(src, enforce_file_format=True)
            dst = out / f"{target.stem}.dcm"
            target.encode(src, dst, scratch)
            measured = _check(dst, target, phantom(target.bits))
            entries.append(
                {
                    "file": dst.name,
                    "transfer_syntax": str(target.syntax),
                    "name": newer_syntaxes.syntax_name(target.syntax),
                    "reference": references[target.bits],
                    "lossless": target.lossless,
                    "mean_abs_error_limit": 0.0 if target.lossless else LOSSY_MEAN_LIMIT * ((1 << target.bits) - 1),
                    "max_abs_error_limit": 0.0 if target.lossless else LOSSY_MAX_LIMIT * ((1 << target.bits) - 1),
                    "generated_error": measured,
                }
            )
    manifest = {
        "description": "One 32x32 synthetic phantom per compressed transfer syntax (scripts/make_selftest_dicoms.py)",
        "files": entries,
    }
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return entries


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (default: resources/selftest)")
    args = parser.parse_args(argv)
    for entry in make(args.out):
        print(f"{entry['file']:<28} {entry['name']}  {entry['generated_error']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

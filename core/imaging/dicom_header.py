"""Read and check a DICOM header without decoding pixels (PS3.10 file, PS3.5 encoding).

``read_header`` parses everything before the pixel data (``stop_before_pixels``), then looks at the
pixel data element itself: present or not, declared length against the bytes really in the file
(truncation), and for encapsulated data (PS3.5 A.4) whether the fragment items run to the end.
``check_geometry`` rejects contradictory Image Pixel module values (PS3.3 C.7.6.3) and images
too large to decode safely, before anything is decoded.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import pydicom
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.uid import (
    UID,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEGBaseline8Bit,
    JPEGExtended12Bit,
)

from core.imaging import imagecodecs_plugin, newer_syntaxes
from core.imaging.completeness import MAGIC, PREAMBLE, check_data_set, check_file_meta
from core.imaging.errors import (
    ImageTooLargeError,
    InvalidImageError,
    NoPixelDataError,
    NotAnImageError,
    TruncatedFileError,
    UnsupportedCompressionError,
)
from core.imaging.raw_values import get_int, get_string
from core.imaging.sniff import FileFormat

# Safety limits, checked on the header before any decoding.
MAX_FRAME_PIXELS = 100_000_000  # one frame (rows x columns x samples); ~ a 10,000 x 10,000 image
MAX_TOTAL_BYTES = 8 * 1024**3  # all frames of one file, as declared

PIXEL_TAGS = {0x7FE00010: "PixelData", 0x7FE00008: "FloatPixelData", 0x7FE00009: "DoubleFloatPixelData"}
SUPPORTED_PHOTOMETRIC = {
    "MONOCHROME1",
    "MONOCHROME2",
    "RGB",
    "YBR_FULL",
    "YBR_FULL_422",
    "YBR_ICT",
    "YBR_RCT",
    "PALETTE COLOR",
}
_UNDEFINED = 0xFFFFFFFF
_PIXEL_VRS = (b"OB", b"OW", b"OF", b"OD", b"OL", b"OV", b"UN")


@dataclass(frozen=True)
class PixelElement:
    """Where the pixel data value sits: ``length`` None = encapsulated (undefined length)."""

    keyword: str
    offset: int
    length: int | None
    encoding_mismatch: bool = False  # VR mode differs from the transfer syntax (decode from a full read)


@dataclass(frozen=True)
class Geometry:
    """Checked Image Pixel module values of one file."""

    rows: int
    columns: int
    frames: int
    samples: int
    bits_allocated: int
    bits_stored: int
    signed: bool
    photometric: str

    @property
    def frame_bytes(self) -> int:
        """Decoded bytes of one frame."""
        return (self.rows * self.columns * self.samples * self.bits_allocated + 7) // 8


def read_header(path: Path, fmt: FileFormat) -> tuple[Dataset, PixelElement | None, UID, int]:
    """Header dataset, pixel element (None = none in the file), transfer syntax and file size.

    Raises NotAnImageError (not DICOM), InvalidImageError (damaged header), TruncatedFileError.
    """
    with open(path, "rb") as fp:
        try:
            ds = pydicom.dcmread(fp, stop_before_pixels=True, force=fmt == "dicom-no-preamble")
        except InvalidDicomError as exc:
            raise NotAnImageError("not a DICOM or image file", path) from exc
        except (EOFError, struct.error) as exc:
            raise TruncatedFileError("file is truncated inside the DICOM header", path) from exc
        except Exception as exc:  # pydicom raises many types on corrupt headers
            raise InvalidImageError(f"DICOM header is damaged and cannot be read ({exc})", path) from exc
        stop = fp.tell()  # pydicom leaves the file at the pixel data tag (or at the end)
        file_size = fp.seek(0, 2)
        fp.seek(stop)
        tsyntax = _declared_syntax(ds)
        if tsyntax == DeflatedExplicitVRLittleEndian:
            # The data set is one deflate stream: offsets are meaningless; pydicom checks on decoding.
            return ds, PixelElement("PixelData", -1, None), tsyntax, file_size
        is_little, is_implicit = _encoding(ds, tsyntax)
        pixel = _probe_pixel_element(fp, is_little, is_implicit)
        if pixel is None:  # pydicom ends quietly where a file ends: was the whole header there?
            try:
                start = check_file_meta(fp, file_size, PREAMBLE + len(MAGIC) if fmt == "dicom" else 0)
                check_data_set(fp, file_size, start, is_little, is_implicit, frozenset(PIXEL_TAGS))
            except TruncatedFileError as exc:
                raise exc.with_path(path) from None
    if tsyntax is None:
        tsyntax = _infer_syntax(ds, pixel, path)
    if pixel is not None:
        _check_extent(path, pixel, file_size, is_little)
    return ds, pixel, tsyntax, file_size


def _declared_syntax(ds: Dataset) -> UID | None:
    meta = getattr(ds, "file_meta", None)
    value = meta.get("TransferSyntaxUID") if meta is not None else None
    return UID(str(value)) if value else None


def _encoding(ds: Dataset, tsyntax: UID | None) -> tuple[bool, bool]:
    """(little endian, implicit VR) pydicom really used for the main data set (it detects files whose
    encoding contradicts their transfer syntax), else what the transfer syntax says."""
    implicit, little = ds.original_encoding
    if implicit is not None and little is not None:
        return bool(little), bool(implicit)
    if tsyntax is not None and tsyntax.is_transfer_syntax:
        return bool(tsyntax.is_little_endian), bool(tsyntax.is_implicit_VR)
    return True, implicit is not False


def _probe_pixel_element(fp: BinaryIO, is_little: bool, is_implicit: bool) -> PixelElement | None:
    """Parse the element header at the current offset; None when it is not a pixel data element."""
    endian = "<" if is_little else ">"
    head = fp.read(8)
    if len(head) < 8:
        return None
    group, element = struct.unpack(f"{endian}HH", head[:4])
    keyword = PIXEL_TAGS.get((group << 16) | element)
    if keyword is None:
        return None
    # Some writers encode the data set in another VR mode than the transfer syntax says; pydicom
    # switches while reading the header, so look at the pixel element itself.
    looks_explicit = head[4:6] in _PIXEL_VRS and head[6:8] == b"\x00\x00"
    if looks_explicit:
        extra = fp.read(4)
        (length,) = struct.unpack(f"{endian}L", extra) if len(extra) == 4 else (0,)
    else:
        (length,) = struct.unpack(f"{endian}L", head[4:8])
    return PixelElement(
        keyword, fp.tell(), None if length == _UNDEFINED else length, encoding_mismatch=looks_explicit == is_implicit
    )


def _infer_syntax(ds: Dataset, pixel: PixelElement | None, path: Path) -> UID:
    """A file without (0002,0010): native pixel data can still be read in the encoding pydicom detected."""
    if pixel is not None and pixel.length is None:
        raise InvalidImageError(
            "DICOM file does not state its transfer syntax, so its compressed pixel data cannot be decoded", path
        )
    implicit, little = ds.original_encoding
    if implicit:
        return ImplicitVRLittleEndian
    return ExplicitVRLittleEndian if little is not False else ExplicitVRBigEndian


def _check_extent(path: Path, pixel: PixelElement, file_size: int, is_little: bool) -> None:
    """Raise TruncatedFileError when the pixel data runs past the end of the file."""
    available = max(file_size - pixel.offset, 0)
    if pixel.length is not None:
        if available < pixel.length:
            raise TruncatedFileError(f"file is truncated: {available} of {pixel.length} bytes of pixel data", path)
        return
    with open(path, "rb") as fp:
        _walk_fragments(fp, pixel.offset, file_size, is_little, path)


def _walk_fragments(fp: BinaryIO, offset: int, file_size: int, is_little: bool, path: Path) -> None:
    """Follow the items of encapsulated pixel data (PS3.5 A.4) up to the sequence delimiter."""
    endian = "<" if is_little else ">"
    pos = offset
    while True:
        fp.seek(pos)
        head = fp.read(8)
        if len(head) < 8:
            raise TruncatedFileError(
                f"file is truncated: compressed pixel data ends after {max(file_size - offset, 0)} bytes", path
            )
        group, element, length = struct.unpack(f"{endian}HHL", head)
        if (group, element) == (0xFFFE, 0xE0DD):
            return
        if (group, element) != (0xFFFE, 0xE000) or length == _UNDEFINED:
            raise InvalidImageError("compressed pixel data is damaged (invalid fragment item)", path)
        pos += 8 + length
        if pos > file_size:
            raise TruncatedFileError(
                f"file is truncated: compressed pixel data ends after {max(file_size - offset, 0)} bytes", path
            )


def is_image_object(ds: Dataset, pixel: PixelElement | None) -> bool:
    """True when the object is meant to carry an image: Rows/Columns, a pixel data element, or an
    image storage SOP class (whose missing pixel data is then an error, not a skipped file)."""
    if pixel is not None or "Rows" in ds or "Columns" in ds:
        return True
    sop_class = UID(get_string(ds, "SOPClassUID"))
    return sop_class.is_valid and "Image Storage" in sop_class.name


def check_geometry(ds: Dataset, pixel: PixelElement | None, path: Path) -> Geometry:
    """Validate the Image Pixel module (PS3.3 C.7.6.3) and the safety limits; raise a typed error."""
    if pixel is None:
        raise NoPixelDataError("DICOM file has no pixel data", path)
    rows, columns = get_int(ds, "Rows"), get_int(ds, "Columns")
    if rows is None or columns is None or rows <= 0 or columns <= 0:
        size = f"Rows {ds.get('Rows')}, Columns {ds.get('Columns')}"
        raise InvalidImageError(f"invalid image size in header: {size}", path)
    frames = get_int(ds, "NumberOfFrames", 1)
    if frames is None or frames <= 0:
        raise InvalidImageError(f"invalid Number of Frames in header: {ds.get('NumberOfFrames')!r}", path)
    samples = get_int(ds, "SamplesPerPixel", 1)
    if samples not in (1, 3):
        raise InvalidImageError(f"unsupported Samples per Pixel: {ds.get('SamplesPerPixel')!r}", path)
    float_data = pixel.keyword != "PixelData"
    default_bits = {"FloatPixelData": 32, "DoubleFloatPixelData": 64}.get(pixel.keyword)
    allocated = get_int(ds, "BitsAllocated", default_bits)
    stored = get_int(ds, "BitsStored", allocated) if not float_data else allocated
    if allocated not in (1, 8, 16, 32, 64):
        raise InvalidImageError(f"invalid Bits Allocated in header: {ds.get('BitsAllocated')!r}", path)
    if stored is None or not 1 <= stored <= allocated:
        raise InvalidImageError(
            f"invalid Bits Stored in header: {ds.get('BitsStored')!r} (Bits Allocated is {allocated})", path
        )
    representation = get_int(ds, "PixelRepresentation", 0)
    if representation not in (0, 1):
        raise InvalidImageError(f"invalid Pixel Representation: {ds.get('PixelRepresentation')!r}", path)
    photometric = (get_string(ds, "PhotometricInterpretation") or ("MONOCHROME2" if samples == 1 else "RGB")).upper()
    if photometric not in SUPPORTED_PHOTOMETRIC:
        raise InvalidImageError(f"unsupported Photometric Interpretation: {photometric}", path)
    if (samples == 3) != (photometric not in {"MONOCHROME1", "MONOCHROME2", "PALETTE COLOR"}):
        raise InvalidImageError(
            f"Samples per Pixel {samples} contradicts Photometric Interpretation {photometric}", path
        )
    geometry = Geometry(rows, columns, frames, samples, allocated, stored, representation == 1, photometric)
    if rows * columns * samples > MAX_FRAME_PIXELS or geometry.frame_bytes * frames > MAX_TOTAL_BYTES:
        raise ImageTooLargeError(f"image is too large: {rows} x {columns} x {frames}", path)
    if pixel.keyword == "PixelData" and pixel.length is not None:
        _check_native_length(geometry, pixel.length, path)
    return geometry


def _expected_native_length(geometry: Geometry) -> int:
    """Bytes of native pixel data the header declares - the arithmetic of pydicom's
    ``get_expected_length`` without building a Dataset per file (this runs for every indexed file):
    bit-packed for Bits Allocated 1, two samples' worth per pixel for YBR_FULL_422 (PS3.3 C.7.6.3.1.2)."""
    samples = geometry.rows * geometry.columns * geometry.frames * geometry.samples
    length = (samples + 7) // 8 if geometry.bits_allocated == 1 else samples * (geometry.bits_allocated // 8)
    if geometry.photometric == "YBR_FULL_422":
        length = length // 3 * 2
    return length


def _check_native_length(geometry: Geometry, length: int, path: Path) -> None:
    """Native Pixel Data must hold exactly what Rows/Columns/Samples/Bits Allocated/Frames declare
    (PS3.5 8.1.1).  Tolerated: trailing padding shorter than one frame, as pydicom does (some scanners
    pad), and the one byte that pads odd-length data to even length even when it is as long as a frame
    (a 1x1 8-bit image, a small 1-bit mask).  Data shorter than declared, or a whole frame or more
    beyond it, means the header contradicts the data.  Added by the reliability suite:
    without it, Bits Allocated 8 on 16-bit data decoded silently to a wrong picture (pydicom only warns
    about excess data)."""
    expected = _expected_native_length(geometry)
    frame = max(expected // geometry.frames, 1)
    even_padding = expected % 2 == 1 and length == expected + 1  # PS3.5 7.1.1: values have even length
    if length < expected or (length - expected >= frame and not even_padding):
        raise InvalidImageError(
            f"pixel data holds {length} bytes but the header (Rows {geometry.rows}, Columns {geometry.columns}, "
            f"Bits Allocated {geometry.bits_allocated}, Samples {geometry.samples}, Frames {geometry.frames}) "
            f"needs {expected}",
            path,
        )


imagecodecs_plugin.register()
TWELVE_BIT_JPEG_PLUGINS = frozenset({imagecodecs_plugin.LABEL, "pylibjpeg"})


def check_syntax(tsyntax: UID, path: Path, geometry: Geometry | None = None) -> None:
    """Raise UnsupportedCompressionError unless an installed pydicom decoder handles ``tsyntax``.

    JPEG with more than 8 bits per sample (12-bit Extended, PS3.5 A.4.1) needs libjpeg-turbo through
    imagecodecs (or pylibjpeg-libjpeg, GPL and deliberately not shipped); without either, such files are
    refused up front.
    """
    from pydicom.pixels.decoders.base import get_decoder

    if newer_syntaxes.handles(tsyntax):
        if not newer_syntaxes.is_available(tsyntax):
            name = newer_syntaxes.syntax_name(tsyntax)
            raise UnsupportedCompressionError(f"compression {name!r} is not supported (no decoder installed)", path)
        return
    name = tsyntax.name if tsyntax.is_transfer_syntax else str(tsyntax)
    if not tsyntax.is_transfer_syntax:
        raise UnsupportedCompressionError(f"compression {name!r} is not a known DICOM transfer syntax", path)
    try:
        decoder = get_decoder(tsyntax)
    except NotImplementedError as exc:
        raise UnsupportedCompressionError(f"compression {name!r} is not supported", path) from exc
    if not decoder.is_available:
        raise UnsupportedCompressionError(f"compression {name!r} is not supported (no decoder installed)", path)
    lossy_jpeg = tsyntax in (JPEGBaseline8Bit, JPEGExtended12Bit)
    if (
        lossy_jpeg
        and geometry is not None
        and geometry.bits_stored > 8
        and not TWELVE_BIT_JPEG_PLUGINS & set(decoder.available_plugins)
    ):
        raise UnsupportedCompressionError(
            f"compression {name!r} with {geometry.bits_stored}-bit samples is not supported", path
        )

"""Transfer syntaxes newer than pydicom 3.0's decoders: JPEG XL and Encapsulated Uncompressed.

JPEG XL (PS3.5 A.4.12, 2024: Lossless, JPEG Recompression and lossy) is decoded by libjxl from the
``imagecodecs`` wheel; Encapsulated Uncompressed Explicit VR Little Endian (PS3.5 A.4.11) holds one
native little-endian frame per fragment.  pydicom 3.0 reads these files' headers but has no decoder
for them (it does not know the JPEG XL UIDs at all), so frames are taken from the encapsulated Pixel
Data with ``pydicom.encaps.get_frame`` - reading only that frame's fragments - and decoded here.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray
from pydicom.uid import UID

from core.imaging.errors import UnsupportedCompressionError

if TYPE_CHECKING:  # pragma: no cover
    from pydicom.dataset import Dataset

    from core.imaging.dicom_header import Geometry

JPEGXL_LOSSLESS = UID("1.2.840.10008.1.2.4.110")
JPEGXL_JPEG_RECOMPRESSION = UID("1.2.840.10008.1.2.4.111")
JPEGXL = UID("1.2.840.10008.1.2.4.112")
ENCAPSULATED_UNCOMPRESSED = UID("1.2.840.10008.1.2.1.98")

NAMES = {
    JPEGXL_LOSSLESS: "JPEG XL Lossless",
    JPEGXL_JPEG_RECOMPRESSION: "JPEG XL JPEG Recompression",
    JPEGXL: "JPEG XL",
    ENCAPSULATED_UNCOMPRESSED: "Encapsulated Uncompressed Explicit VR Little Endian",
}
_JPEGXL = frozenset({JPEGXL_LOSSLESS, JPEGXL_JPEG_RECOMPRESSION, JPEGXL})
# libjxl always returns RGB for colour; native frames are converted here only from these.
_NATIVE_PHOTOMETRIC = frozenset({"MONOCHROME1", "MONOCHROME2", "PALETTE COLOR", "RGB", "YBR_FULL"})


def handles(tsyntax: str) -> bool:
    """True for the transfer syntaxes this module decodes instead of pydicom."""
    return tsyntax in NAMES


def syntax_name(tsyntax: UID) -> str:
    """A readable name of ``tsyntax``, also for the UIDs pydicom 3.0 does not know."""
    return NAMES.get(tsyntax) or (tsyntax.name if tsyntax.is_transfer_syntax else str(tsyntax))


def is_available(tsyntax: str) -> bool:
    """True when the decoder for ``tsyntax`` is installed (JPEG XL needs imagecodecs built with libjxl)."""
    if tsyntax == ENCAPSULATED_UNCOMPRESSED:
        return True
    if tsyntax not in _JPEGXL:
        return False
    try:
        import imagecodecs
    except ImportError:
        return False
    return bool(imagecodecs.JPEGXL.available)


def _extended_offsets(header: Dataset) -> tuple[bytes, bytes] | None:
    """The Extended Offset Table (PS3.5 A.4) when the file has one."""
    if "ExtendedOffsetTable" in header and "ExtendedOffsetTableLengths" in header:
        return bytes(header.ExtendedOffsetTable), bytes(header.ExtendedOffsetTableLengths)
    return None


def read_fragment_frame(path: Path, header: Dataset, pixel_offset: int, frames: int, frame: int) -> bytes:
    """The encoded bytes of ``frame``: pydicom walks the items from ``pixel_offset`` (the Basic Offset
    Table item right after the Pixel Data element header) and reads only that frame's fragments."""
    from pydicom.encaps import get_frame

    with open(path, "rb") as fp:
        fp.seek(pixel_offset)
        return get_frame(fp, frame, extended_offsets=_extended_offsets(header), number_of_frames=frames)


def _native_frame(encoded: bytes, geometry: Geometry, header: Dataset) -> NDArray[Any]:
    """One Encapsulated Uncompressed frame: native little-endian samples, colour by pixel or by plane."""
    dtype = np.dtype(f"<{'i' if geometry.signed else 'u'}{geometry.bits_allocated // 8}")
    count = geometry.rows * geometry.columns * geometry.samples
    if len(encoded) < count * dtype.itemsize:
        raise ValueError(f"frame holds {len(encoded)} bytes, less than expected ({count * dtype.itemsize})")
    values = np.frombuffer(encoded, dtype=dtype, count=count)
    if geometry.samples == 1:
        return values.reshape(geometry.rows, geometry.columns)
    if int(header.get("PlanarConfiguration", 0) or 0) == 1:
        return values.reshape(3, geometry.rows, geometry.columns).transpose(1, 2, 0)
    return values.reshape(geometry.rows, geometry.columns, 3)


def _jpegxl_frame(encoded: bytes) -> NDArray[Any]:
    import imagecodecs

    values = np.asarray(imagecodecs.jpegxl_decode(encoded))
    if values.ndim == 3 and values.shape[2] == 1:
        values = values[:, :, 0]
    return values


def _stored_values(values: NDArray[Any], geometry: Geometry) -> NDArray[Any]:
    """Keep the Bits Stored low bits; signed samples are two's complement in those bits (PS3.5 8.1.1)."""
    if values.dtype.kind == "f" or geometry.bits_stored >= 8 * values.dtype.itemsize:
        return values
    unsigned = values.astype(np.int64) & ((1 << geometry.bits_stored) - 1)
    if geometry.signed:
        sign = 1 << (geometry.bits_stored - 1)
        unsigned = (unsigned ^ sign) - sign
    return unsigned.astype(values.dtype if not geometry.signed else f"<i{values.dtype.itemsize}")


def decode_stored_values(
    path: Path, header: Dataset, tsyntax: UID, pixel_offset: int, geometry: Geometry, frame: int
) -> NDArray[Any]:
    """Stored values of one frame, (rows, columns) or (rows, columns, 3) RGB."""
    native = tsyntax == ENCAPSULATED_UNCOMPRESSED
    if native and (geometry.bits_allocated not in (8, 16, 32) or geometry.photometric not in _NATIVE_PHOTOMETRIC):
        raise UnsupportedCompressionError(
            f"compression {syntax_name(tsyntax)!r} with Bits Allocated {geometry.bits_allocated} and "
            f"{geometry.photometric} is not supported",
            path,
        )
    encoded = read_fragment_frame(path, header, pixel_offset, geometry.frames, frame)
    if native:
        values = _native_frame(encoded, geometry, header)
        if geometry.photometric == "YBR_FULL":
            from pydicom.pixels.processing import convert_color_space

            return np.asarray(convert_color_space(values, "YBR_FULL", "RGB"))
        return _stored_values(values, geometry)
    return _stored_values(_jpegxl_frame(encoded), geometry)

"""Decode one DICOM frame to modality values and the file's windows for that frame.

Pixel data is decoded by pydicom's pixel-data plugins, one frame at a time
(``pydicom.pixels.pixel_array(path, index=frame)``).  The Modality LUT / rescale (PS3.3 C.11.1)
is applied with ``apply_modality_lut`` using the frame's Pixel Value Transformation functional
group where present.  MONOCHROME1 is reflected so that bright always means high; the file's
windows are reflected the same way.  Colour (RGB, YBR, palette, PS3.3 C.7.6.3.1.2) becomes
8-bit RGB.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
from numpy.typing import NDArray
from pydicom.dataset import Dataset
from pydicom.pixels.processing import apply_color_lut, apply_modality_lut
from pydicom.uid import UID, DeflatedExplicitVRLittleEndian

from core.imaging import newer_syntaxes
from core.imaging.dicom_header import Geometry, PixelElement, check_geometry, check_syntax, read_header
from core.imaging.errors import (
    FileAccessError,
    ImagingError,
    InvalidImageError,
    TruncatedFileError,
    UnsupportedCompressionError,
)
from core.imaging.frames import functional_item
from core.imaging.isolated_decoder import DecoderCrashedError, decode_stored_values, decode_stored_values_isolated
from core.imaging.sniff import sniff_format
from core.imaging.window import Window

_MODALITY_KEYS = ("RescaleSlope", "RescaleIntercept", "RescaleType", "ModalityLUTSequence")
_VOI_KEYS = ("WindowCenter", "WindowWidth", "VOILUTFunction", "WindowCenterWidthExplanation", "VOILUTSequence")
_PIXEL_KEYS = ("BitsStored", "BitsAllocated", "PixelRepresentation", "PhotometricInterpretation", "SamplesPerPixel")


@dataclass(frozen=True)
class DicomSource:
    """A checked DICOM header, kept so frames of one file decode without re-reading it."""

    path: Path
    header: Dataset
    pixel: PixelElement | None
    tsyntax: UID
    geometry: Geometry
    needs_full_read: bool  # deflated or without file meta: decode from a full dcmread

    @property
    def modality(self) -> str:
        return str(self.header.get("Modality", "") or "")


@dataclass(frozen=True)
class DecodedFrame:
    """One decoded frame: values for display/model plus what is needed to apply the file's VOI."""

    values: NDArray[np.float32] | NDArray[np.uint8]  # float32 (H, W) or uint8 (H, W, 3)
    windows: tuple[Window, ...]
    frame_ds: Dataset | None  # modality + VOI elements of this frame (grayscale only)
    reflect: float | None  # MONOCHROME1: values were mapped v -> reflect - v

    @property
    def is_color(self) -> bool:
        return self.values.ndim == 3

    @property
    def nbytes(self) -> int:
        return int(self.values.nbytes)


def load_source(path: Path) -> DicomSource:
    """Read and check the header of ``path`` (raises a typed ImagingError)."""
    fmt = sniff_format(path)
    if fmt in ("png", "jpeg"):
        raise InvalidImageError("expected a DICOM file", path)
    ds, pixel, tsyntax, _ = read_header(path, fmt)
    geometry = check_geometry(ds, pixel, path)
    check_syntax(tsyntax, path, geometry)
    meta = getattr(ds, "file_meta", None)
    has_syntax = meta is not None and bool(meta.get("TransferSyntaxUID"))
    full_read = tsyntax == DeflatedExplicitVRLittleEndian or not has_syntax or bool(pixel and pixel.encoding_mismatch)
    return DicomSource(path, ds, pixel, tsyntax, geometry, full_read)


def frame_dataset(source: DicomSource, frame: int) -> Dataset:
    """The Modality LUT and VOI LUT elements that apply to ``frame`` (enhanced: functional groups)."""
    header = source.header
    out = Dataset()
    out.file_meta = header.file_meta if hasattr(header, "file_meta") else pydicom.dataset.FileMetaDataset()
    out.set_original_encoding(*header.original_encoding)
    for key in (*_PIXEL_KEYS, *_MODALITY_KEYS, *_VOI_KEYS):
        if key in header:
            out[key] = header[key]
    for sequence, keys in (("PixelValueTransformationSequence", _MODALITY_KEYS), ("FrameVOILUTSequence", _VOI_KEYS)):
        item = functional_item(header, frame, sequence)
        if item is not None:
            for key in keys:
                if key in item:
                    out[key] = item[key]
    return out


# GDCM aborts the whole process (a C++ abort, not a Python exception) on some damaged JPEG streams -
# found by the reliability fuzzing - so it comes last: JPEG Lossless and 12-bit JPEG
# Extended go to libjpeg-turbo (core.imaging.imagecodecs_plugin) when imagecodecs is installed.  Where
# GDCM is still the only decoder it runs in a helper process (core.imaging.isolated_decoder), so an
# abort costs one file only.  pydicom would otherwise try GDCM first.
_PLUGIN_PREFERENCE = ("imagecodecs", "pylibjpeg", "pyjpegls", "pillow", "pydicom", "gdcm")
_ISOLATED_PLUGINS = frozenset({"gdcm"})


def _safe_plugin(tsyntax: UID) -> str:
    """The decoding plugin to use for ``tsyntax`` ("" = pydicom's default, e.g. native data)."""
    from pydicom.pixels.decoders.base import get_decoder

    try:
        available = get_decoder(tsyntax).available_plugins
    except NotImplementedError:
        return ""
    return next((name for name in _PLUGIN_PREFERENCE if name in available), "")


def _decode_raw(source: DicomSource, frame: int) -> NDArray[Any]:
    """Decoded stored values of one frame, (H, W) or (H, W, 3)."""
    path = source.path
    newer = newer_syntaxes.handles(source.tsyntax)
    plugin = _safe_plugin(source.tsyntax) if not newer and source.tsyntax.is_compressed else ""
    decode = decode_stored_values_isolated if plugin in _ISOLATED_PLUGINS else decode_stored_values
    try:
        if newer and source.pixel is not None:
            arr = newer_syntaxes.decode_stored_values(
                path, source.header, source.tsyntax, source.pixel.offset, source.geometry, frame
            )
        elif decode is decode_stored_values and source.pixel is not None and not source.needs_full_read:
            arr = _decode_from_header(source, source.pixel, frame, plugin)
        else:
            arr = decode(path, frame, source.tsyntax, source.needs_full_read, plugin)
    except DecoderCrashedError as exc:
        message = f"compressed pixel data ({source.tsyntax.name}) is damaged: the {plugin} decoder crashed on it"
        raise InvalidImageError(message, path) from exc
    except FileNotFoundError as exc:
        raise FileAccessError("file no longer exists (moved or deleted after opening)", path) from exc
    except PermissionError as exc:
        raise FileAccessError("no permission to read the file", path) from exc
    except ImagingError:
        raise
    except Exception as exc:  # decoder plugins raise many types for damaged data
        raise _decode_error(exc, source) from exc
    except BaseException as exc:
        # Found by the reliability fuzzing: the Rust RLE plugin (pylibjpeg-rle, pyo3) panics
        # on some damaged segments with pyo3_runtime.PanicException, which derives from BaseException.
        if isinstance(exc, (KeyboardInterrupt, SystemExit, GeneratorExit)):
            raise
        message = (
            f"compressed pixel data ({newer_syntaxes.syntax_name(source.tsyntax)}) is damaged and cannot be decoded"
        )
        raise InvalidImageError(message, path) from exc
    geometry = source.geometry
    expected = (geometry.rows, geometry.columns) + ((3,) if geometry.samples == 3 else ())
    if arr.shape != expected:
        raise InvalidImageError(f"decoded image has shape {arr.shape}, header says {expected}", path)
    return arr


def _decode_from_header(source: DicomSource, pixel: PixelElement, frame: int, plugin: str) -> NDArray[Any]:
    """Stored values of one frame, decoded by pydicom with the header parsed when the file was opened:
    the file is only seeked to the pixel data value.  (``pixel_array(path, index=...)`` parses the
    header again for every frame, which makes scrolling a large multi-frame file slow.)"""
    from pydicom.pixels.decoders.base import get_decoder
    from pydicom.pixels.utils import as_pixel_options

    opts = as_pixel_options(source.header, transfer_syntax_uid=source.tsyntax, pixel_keyword=pixel.keyword)
    with open(source.path, "rb") as fp:
        if not source.tsyntax.is_implicit_VR:  # explicit VR: tag, VR, 2 reserved bytes, 4-byte length
            fp.seek(pixel.offset - 8)
            opts["pixel_vr"] = fp.read(2).decode("ascii")
        fp.seek(pixel.offset)
        arr, _ = get_decoder(source.tsyntax).as_array(fp, index=frame, validate=True, decoding_plugin=plugin, **opts)
    return arr


def _decode_error(exc: Exception, source: DicomSource) -> ImagingError:
    """Translate a decoder failure into a short typed error (details stay in ``__cause__``)."""
    message = str(exc)
    lowered = message.lower()
    name = newer_syntaxes.syntax_name(source.tsyntax)
    if "insufficient pixel data to contain" in lowered or "enough offsets" in lowered:
        return InvalidImageError(  # pydicom: fewer fragments, or Basic Offset Table entries, than frames
            f"this frame's compressed data cannot be found: the file's fragments or offset table cover "
            f"fewer than its {source.geometry.frames} frames",
            source.path,
        )
    if "less than expected" in lowered or "truncat" in lowered:
        return TruncatedFileError("file is truncated: pixel data is incomplete", source.path)
    if "does not support" in lowered or "not supported" in lowered:
        precision = f" with {source.geometry.bits_stored}-bit samples" if source.geometry.bits_stored > 8 else ""
        return UnsupportedCompressionError(f"compression {name!r}{precision} is not supported", source.path)
    if not newer_syntaxes.handles(source.tsyntax) and not source.tsyntax.is_compressed:
        return InvalidImageError("pixel data cannot be decoded: it does not match the image header", source.path)
    return InvalidImageError(f"compressed pixel data ({name}) is damaged and cannot be decoded", source.path)


def _stored_range(frame_ds: Dataset, geometry: Geometry) -> tuple[float, float]:
    """Range of modality values the header allows (PS3.3 C.11.1.1.1 / C.7.6.3.1.4)."""
    if frame_ds.get("ModalityLUTSequence"):
        depth = int(frame_ds.ModalityLUTSequence[0].LUTDescriptor[2])
        return 0.0, float(2**depth - 1)
    bits = geometry.bits_stored
    lo, hi = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if geometry.signed else (0, 2**bits - 1)
    slope = float(frame_ds.get("RescaleSlope", 1) or 1)
    intercept = float(frame_ds.get("RescaleIntercept", 0) or 0)
    ends = sorted((lo * slope + intercept, hi * slope + intercept))
    return ends[0], ends[1]


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue":
        return list(value)
    return [value]


def file_windows(frame_ds: Dataset, reflect: float | None) -> tuple[Window, ...]:
    """Windows stored in the file for this frame (PS3.3 C.11.2): centre/width pairs and VOI LUTs."""
    windows: list[Window] = []
    centers, widths = _as_list(frame_ds.get("WindowCenter")), _as_list(frame_ds.get("WindowWidth"))
    names = _as_list(frame_ds.get("WindowCenterWidthExplanation"))
    function = str(frame_ds.get("VOILUTFunction", "LINEAR") or "LINEAR").upper()
    for i, (center, width) in enumerate(zip(centers, widths, strict=False)):
        try:
            c, w = float(center), float(width)
        except (TypeError, ValueError):
            continue
        if not np.isfinite(c) or not np.isfinite(w) or w <= 0:
            continue
        name = str(names[i]) if i < len(names) and names[i] else f"File {i + 1}"
        windows.append(Window(reflect - c if reflect is not None else c, w, name, function))
    for i, item in enumerate(frame_ds.get("VOILUTSequence") or []):
        try:
            entries, first, _ = (int(v) for v in item.LUTDescriptor)
        except (AttributeError, TypeError, ValueError):
            continue
        entries = entries or 65536
        center = first + entries / 2.0
        name = str(item.get("LUTExplanation", "") or f"VOI LUT {i + 1}")
        windows.append(Window(reflect - center if reflect is not None else center, float(entries), name, "LUT", i))
    return tuple(windows)


def _to_rgb8(arr: NDArray[Any], source: DicomSource) -> NDArray[np.uint8]:
    """Colour frame (RGB after pydicom's YBR conversion, or palette indices) as uint8 RGB."""
    if source.geometry.photometric == "PALETTE COLOR":
        rgb = apply_color_lut(arr, source.header)
        depth = int(source.header.get("RedPaletteColorLookupTableDescriptor", [0, 0, 16])[2])
    else:
        rgb, depth = arr, source.geometry.bits_stored
    if depth > 8:
        return np.clip(np.rint(rgb.astype(np.float64) / (2**depth - 1) * 255.0), 0, 255).astype(np.uint8)
    return np.clip(rgb, 0, 255).astype(np.uint8)


def decode_frame(source: DicomSource, frame: int) -> DecodedFrame:
    """Decode frame ``frame`` of ``source`` to modality values (or RGB) and its file windows."""
    if not 0 <= frame < source.geometry.frames:
        raise InvalidImageError(f"frame {frame + 1} does not exist (file has {source.geometry.frames})", source.path)
    raw = _decode_raw(source, frame)
    if source.geometry.samples == 3 or source.geometry.photometric == "PALETTE COLOR":
        return DecodedFrame(_to_rgb8(raw, source), (), None, None)
    frame_ds = frame_dataset(source, frame)
    if source.pixel is not None and source.pixel.keyword != "PixelData":
        values = raw.astype(np.float32)
    else:
        try:
            values = np.asarray(apply_modality_lut(raw, frame_ds), dtype=np.float32)
        except Exception as exc:  # malformed Modality LUT
            raise InvalidImageError(f"Modality LUT cannot be applied ({exc})", source.path) from exc
    reflect: float | None = None
    if source.geometry.photometric == "MONOCHROME1":
        lo, hi = _stored_range(frame_ds, source.geometry)
        reflect = lo + hi
        values = (np.float32(reflect) - values).astype(np.float32)
    return DecodedFrame(values, file_windows(frame_ds, reflect), frame_ds, reflect)

"""PNG and JPEG files (8/16-bit; L, LA, I;16, RGB, RGBA, P, CMYK) through Pillow, safely.

Only the PNG and JPEG decoders are allowed (``Image.open(formats=...)``), the decompression-bomb
limit (``Image.MAX_IMAGE_PIXELS``) stays on and is checked on the header before decoding, and a
truncated file is an error rather than a silently grey image.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageOps, UnidentifiedImageError

from core.imaging.errors import (
    FileAccessError,
    ImageTooLargeError,
    InvalidImageError,
    NotAnImageError,
    TruncatedFileError,
)

ALLOWED_FORMATS = ("PNG", "JPEG")
_GRAY_MODES = {"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "I;16N", "F", "La"}
FALLBACK_MAX_PIXELS = 100_000_000


def _pixel_limit() -> int:
    limit = Image.MAX_IMAGE_PIXELS
    return int(limit) if limit else FALLBACK_MAX_PIXELS


def _declared_size(path: Path) -> str:
    """ "R x C x 1" from a PNG IHDR chunk (PNG spec 11.2.2), for the decompression-bomb message."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(24)
        width, height = struct.unpack(">II", head[16:24])
    except (OSError, struct.error):
        return "beyond the decompression-bomb limit"
    return f"{height} x {width} x 1" if head[12:16] == b"IHDR" else "beyond the decompression-bomb limit"


def _open(path: Path) -> Image.Image:
    try:
        image = Image.open(path, formats=ALLOWED_FORMATS)
    except Image.DecompressionBombError as exc:
        raise ImageTooLargeError(f"image is too large: {_declared_size(path)}", path) from exc
    except UnidentifiedImageError as exc:
        raise NotAnImageError("not a PNG or JPEG image that can be read", path) from exc
    except FileNotFoundError as exc:
        raise FileAccessError("file no longer exists (moved or deleted after opening)", path) from exc
    except PermissionError as exc:
        raise FileAccessError("no permission to read the file", path) from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise InvalidImageError(f"image header is damaged ({exc})", path) from exc
    width, height = image.size
    if width <= 0 or height <= 0:
        image.close()
        raise InvalidImageError(f"invalid image size: {height} x {width}", path)
    if width * height > _pixel_limit():
        image.close()
        raise ImageTooLargeError(f"image is too large: {height} x {width} x 1", path)
    return image


def raster_header(path: Path) -> tuple[int, int, int]:
    """(rows, columns, samples per pixel) from the header only; raises a typed error."""
    with _open(path) as image:
        width, height = image.size
        return height, width, 1 if image.mode in _GRAY_MODES else 3


def _to_array(image: Image.Image) -> NDArray[np.float32] | NDArray[np.uint8]:
    """Grayscale -> float32 (H, W) in the file's units; colour -> uint8 (H, W, 3) RGB."""
    image = ImageOps.exif_transpose(image) or image
    mode = image.mode
    if mode in {"LA", "La"}:
        image = image.getchannel(0)
        mode = "L"
    if mode == "1":
        image = image.convert("L")
    if mode in _GRAY_MODES:
        return np.asarray(image).astype(np.float32)
    rgb = np.asarray(image.convert("RGB"), dtype=np.uint8)
    if np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(rgb[..., 1], rgb[..., 2]):
        return rgb[..., 0].astype(np.float32)  # grayscale stored as RGB or a gray palette
    return rgb


def load_raster(path: Path) -> NDArray[np.float32] | NDArray[np.uint8]:
    """Decode a PNG/JPEG: grayscale as float32 (H, W), colour as uint8 (H, W, 3)."""
    with _open(path) as image:
        try:
            image.load()
        except OSError as exc:
            if "truncated" in str(exc).lower():
                raise TruncatedFileError("file is truncated: the image data ends early", path) from exc
            raise InvalidImageError(f"image data cannot be decoded ({exc})", path) from exc
        except Image.DecompressionBombError as exc:
            raise ImageTooLargeError(f"image is too large: {_declared_size(path)}", path) from exc
        return _to_array(image)

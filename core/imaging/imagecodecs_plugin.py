"""A pydicom decoding plugin for 12-bit JPEG Extended and JPEG Lossless, on imagecodecs' libjpeg-turbo.

pydicom's other decoders for these syntaxes are GPL (pylibjpeg-libjpeg, not shipped) or GDCM, which
refuses 12-bit JPEG Extended and aborts the process on some damaged lossless streams.  libjpeg-turbo 3
(BSD, inside the imagecodecs wheel) decodes 8- and 12-bit lossy and 2-16-bit lossless JPEG and reports
damaged data as an ordinary exception.  The plugin follows pydicom's decoder plugin interface
(``is_available`` and a frame-decoding function); :func:`register` adds it once.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

from pydicom import uid

if TYPE_CHECKING:  # pragma: no cover
    from pydicom.pixels.decoders.base import DecodeRunner

LABEL = "imagecodecs"
SYNTAXES = (uid.JPEGExtended12Bit, uid.JPEGLossless, uid.JPEGLosslessSV1)
DECODER_DEPENDENCIES = {syntax: ("imagecodecs>=2024.1.1",) for syntax in SYNTAXES}


def is_available(tsyntax: str) -> bool:
    """True when imagecodecs is installed with its libjpeg-turbo codec and handles ``tsyntax``."""
    if tsyntax not in SYNTAXES:
        return False
    try:
        import imagecodecs
    except ImportError:
        return False
    return bool(imagecodecs.JPEG8.available)


def decode_frame(src: bytes, runner: DecodeRunner) -> bytes:
    """One encoded frame to little-endian pixel bytes (interleaved samples, 8 or 16 bits allocated)."""
    import imagecodecs

    values = imagecodecs.jpeg8_decode(src)
    if values.ndim == 3:
        runner.set_option("planar_configuration", 0)
    runner.set_option("bits_allocated", 8 * values.dtype.itemsize)
    return values.astype(values.dtype.newbyteorder("<"), copy=False).tobytes()


def register() -> None:
    """Offer the plugin to pydicom's decoders for :data:`SYNTAXES` (idempotent)."""
    from pydicom.pixels.decoders.base import get_decoder

    for syntax in SYNTAXES:
        with contextlib.suppress(ValueError):  # already registered
            get_decoder(syntax).add_plugin(LABEL, (__name__, "decode_frame"))

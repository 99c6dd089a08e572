"""Is a DICOM file whole?  pydicom stops quietly at the end of a file, so a file cut inside its
preamble, file meta header or data set would otherwise look like a readable object without an image.

The checks walk the element headers only (PS3.5 7.1: tag, VR, length; 7.5: items and delimiters of
undefined length) and seek over the values, so they cost a few microseconds per element.
"""

from __future__ import annotations

import struct
from typing import BinaryIO

from core.imaging.errors import TruncatedFileError

PREAMBLE = 128
MAGIC = b"DICM"
_UNDEFINED = 0xFFFFFFFF
# Explicit VRs with a 2-byte reserved field and a 4-byte length (PS3.5 Table 7.1-1).
_LONG_VRS = frozenset(b"OB OD OF OL OV OW SQ SV UC UN UR UT UV".split())
_ITEM, _ITEM_END, _SEQUENCE_END = (0xFFFE, 0xE000), (0xFFFE, 0xE00D), (0xFFFE, 0xE0DD)
_MAX_DEPTH = 32


def truncated_preamble(head: bytes) -> bool:
    """True when ``head`` (the whole of a file shorter than 132 bytes) looks like the start of a Part 10
    file: an all-zero preamble so far, or a preamble followed by the first letters of "DICM"."""
    if len(head) >= PREAMBLE + len(MAGIC):
        return False
    if len(head) > PREAMBLE:
        return MAGIC.startswith(head[PREAMBLE:])
    return not any(head)


class _Walker:
    """Follows element headers from an offset; raises TruncatedFileError where the file ends early."""

    def __init__(self, fp: BinaryIO, file_size: int, little: bool, implicit: bool, where: str) -> None:
        self.fp = fp
        self.size = file_size
        self.endian = "<" if little else ">"
        self.implicit = implicit
        self.where = where

    def _cut(self, tag: tuple[int, int] | None = None) -> TruncatedFileError:
        element = f" (element ({tag[0]:04X},{tag[1]:04X}))" if tag is not None else ""
        return TruncatedFileError(f"file is truncated inside the {self.where}{element}")

    def element(self, pos: int) -> tuple[tuple[int, int], int, int]:
        """(tag, header length, value length) of the element at ``pos``."""
        self.fp.seek(pos)
        head = self.fp.read(8)
        if len(head) < 8:
            raise self._cut()
        group, number = struct.unpack(f"{self.endian}HH", head[:4])
        vr = head[4:6]
        explicit = not self.implicit and group != 0xFFFE and vr.isalpha() and vr.isupper()
        if explicit and vr in _LONG_VRS:
            extra = self.fp.read(4)
            if len(extra) < 4:
                raise self._cut((group, number))
            return (group, number), 12, struct.unpack(f"{self.endian}L", extra)[0]
        if explicit:
            return (group, number), 8, struct.unpack(f"{self.endian}H", head[6:8])[0]
        return (group, number), 8, struct.unpack(f"{self.endian}L", head[4:8])[0]

    def skip(self, pos: int, stop_tags: frozenset[int] = frozenset()) -> int | None:
        """Offset after the element at ``pos`` (None if it is one of ``stop_tags``)."""
        tag, header, length = self.element(pos)
        if (tag[0] << 16) | tag[1] in stop_tags:
            return None
        pos += header
        if length == _UNDEFINED:
            return self._undefined(pos, tag, depth=0)
        if pos + length > self.size:
            raise self._cut(tag)
        return pos + length

    def _undefined(self, pos: int, owner: tuple[int, int], depth: int) -> int:
        """Skip a sequence (or item) of undefined length starting at ``pos``; returns the offset after it."""
        if depth > _MAX_DEPTH:
            raise TruncatedFileError(f"the {self.where} nests sequences more than {_MAX_DEPTH} deep")
        while True:
            tag, header, length = self.element(pos)
            pos += header
            if tag in (_SEQUENCE_END, _ITEM_END):
                return pos
            if length == _UNDEFINED:
                pos = self._undefined(pos, tag, depth + 1)
            elif pos + length > self.size:
                raise self._cut(owner if tag == _ITEM else tag)
            else:
                pos += length


def check_file_meta(fp: BinaryIO, file_size: int, start: int) -> int:
    """Walk the group 0002 elements (always explicit VR little endian, PS3.10 7.1) from ``start``;
    return where the data set begins.  Raises TruncatedFileError when the file ends inside the
    file meta header or right after it."""
    walker = _Walker(fp, file_size, little=True, implicit=False, where="file meta header")
    if start >= file_size:
        raise TruncatedFileError("file is truncated right after its DICM prefix: no file meta header")
    pos = start
    while pos < file_size:
        fp.seek(pos)
        group_bytes = fp.read(2)
        if len(group_bytes) < 2:
            raise walker._cut()
        if struct.unpack("<H", group_bytes)[0] != 0x0002:
            return pos
        tag, header, length = walker.element(pos)
        end = walker.skip(pos)
        assert end is not None
        if tag == (0x0002, 0x0000) and length == 4:  # File Meta Information Group Length
            fp.seek(pos + header)
            (group_length,) = struct.unpack("<L", fp.read(4))
            if end + group_length > file_size:
                raise walker._cut()
        pos = end
    raise TruncatedFileError("file ends after its file meta header: it holds no data set")


def check_data_set(
    fp: BinaryIO, file_size: int, start: int, little: bool, implicit: bool, stop: frozenset[int]
) -> None:
    """Walk the top-level elements of the data set from ``start`` to the end of the file (or to a tag
    in ``stop``, e.g. the pixel data); raises TruncatedFileError where an element runs past the end."""
    walker = _Walker(fp, file_size, little, implicit, where="DICOM header")
    pos: int | None = start
    while pos is not None and pos < file_size:
        pos = walker.skip(pos, stop)

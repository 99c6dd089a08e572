"""Decide what a file is from its first bytes, never from its name.

Only DICOM (Part 10, or a bare data set that starts with a plausible group 0002/0008 element),
single-file NIfTI-1/2 (plain or gzip-compressed) and PNG/JPEG are accepted; everything else - TIFF or
EPS renamed ``.png``, PDF or text named ``.dcm`` - is a :class:`NotAnImageError`.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Literal

from core.imaging.completeness import truncated_preamble
from core.imaging.errors import FileAccessError, NotAnImageError, TruncatedFileError
from core.imaging.nifti import sniff_nifti

FileFormat = Literal["dicom", "dicom-no-preamble", "png", "jpeg", "nifti"]

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
JPEG_SIGNATURE = b"\xff\xd8\xff"
_DICOM_GROUPS = (0x0002, 0x0008)


def _looks_like_bare_dicom(head: bytes) -> bool:
    """True when ``head`` starts with a group 0002/0008 element in any encoding (PS3.5 7.1)."""
    if len(head) < 8:
        return False
    for endian in "<>":
        group, element = struct.unpack(f"{endian}HH", head[:4])
        if group not in _DICOM_GROUPS or element > 0x0100:
            continue
        vr = head[4:6]
        if vr.isalpha() and vr.isupper():  # explicit VR
            return True
        (length,) = struct.unpack(f"{endian}L", head[4:8])  # implicit VR: a small length
        if length < 0x1000:
            return True
    return False


def sniff_format(path: Path) -> FileFormat:
    """Return the real format of ``path`` or raise NotAnImageError / FileAccessError."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(132)
    except FileNotFoundError as exc:
        raise FileAccessError("file no longer exists", path) from exc
    except PermissionError as exc:
        raise FileAccessError("no permission to read the file", path) from exc
    except IsADirectoryError as exc:
        raise NotAnImageError("is a folder, not a file", path) from exc
    except OSError as exc:
        raise FileAccessError(f"file cannot be read ({exc.strerror or exc})", path) from exc
    if not head:
        raise NotAnImageError("file is empty (0 bytes)", path)
    if truncated_preamble(head):
        raise TruncatedFileError(f"file is truncated: {len(head)} bytes, inside the 128-byte DICOM preamble", path)
    if head[128:132] == b"DICM":
        return "dicom"
    if head.startswith(PNG_SIGNATURE):
        return "png"
    if head.startswith(JPEG_SIGNATURE):
        return "jpeg"
    if _looks_like_bare_dicom(head):
        return "dicom-no-preamble"
    if sniff_nifti(path, head):
        return "nifti"
    raise NotAnImageError("not a DICOM or image file (only DICOM, NIfTI, PNG and JPEG are supported)", path)


def file_signature(path: Path) -> tuple[int, int]:
    """(size in bytes, modification time in ns) used to notice a file changed after it was opened."""
    try:
        st = Path(path).stat()
    except FileNotFoundError as exc:
        raise FileAccessError("file no longer exists (moved or deleted after opening)", path) from exc
    except OSError as exc:
        raise FileAccessError(f"file cannot be read ({exc.strerror or exc})", path) from exc
    return st.st_size, st.st_mtime_ns

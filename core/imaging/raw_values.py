"""Fast reads of the few simple header values a folder scan needs, straight from the element bytes.

pydicom converts a raw element on first access (value validation, character sets), which is most of
the cost of indexing a file.  The Image Pixel and Image Plane values used for indexing have simple
encodings (PS3.5 6.2): US is a 16-bit unsigned integer, IS/DS/CS/UI are backslash-separated ASCII.
Anything else, or any oddity, falls back to pydicom's own conversion.
"""

from __future__ import annotations

import struct
from typing import Any

from pydicom.datadict import dictionary_VR, tag_for_keyword
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset

_ASCII_VRS = {"IS", "DS", "CS", "UI"}


def _raw_values(ds: Dataset, keyword: str) -> list[Any] | None:
    """Values of ``keyword`` as a list (ints for US/IS, floats for DS, str for CS/UI); None if absent."""
    tag = tag_for_keyword(keyword)
    if tag is None or tag not in ds:
        return None
    try:
        elem = ds.get_item(tag)
    except Exception:  # a damaged element must only cost this value
        return None
    if not isinstance(elem, RawDataElement):
        value = elem.value
        if value is None or value == "":
            return []
        return list(value) if isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue" else [value]
    raw = elem.value or b""
    vr = elem.VR or dictionary_VR(tag)
    if vr == "US":
        if len(raw) % 2:
            return None
        return list(struct.unpack(f"{'<' if elem.is_little_endian else '>'}{len(raw) // 2}H", raw))
    if vr not in _ASCII_VRS:
        return _converted(ds, keyword)
    text = raw.decode("ascii", "replace").strip(" \0")
    if not text:
        return []
    parts = [p.strip(" \0") for p in text.split("\\")]
    try:
        if vr == "IS":
            return [int(float(p)) if "." in p else int(p) for p in parts]
        if vr == "DS":
            return [float(p) for p in parts]
    except ValueError:
        return _converted(ds, keyword)
    return parts


def _converted(ds: Dataset, keyword: str) -> list[Any] | None:
    try:
        value = ds.get(keyword)
    except Exception:  # pydicom raises on malformed values
        return None
    if value is None:
        return None
    return list(value) if isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue" else [value]


def get_int(ds: Dataset, keyword: str, default: int | None = None) -> int | None:
    """Single integer value (US, IS); ``default`` when absent or empty, None when malformed."""
    values = _raw_values(ds, keyword)
    if values is None or not values:
        return default
    try:
        return int(values[0])
    except (TypeError, ValueError):
        return None


def get_floats(ds: Dataset, keyword: str, count: int) -> tuple[float, ...] | None:
    """Exactly ``count`` numbers (DS), else None."""
    values = _raw_values(ds, keyword)
    if values is None or len(values) != count:
        return None
    try:
        return tuple(float(v) for v in values)
    except (TypeError, ValueError):
        return None


def get_strings(ds: Dataset, keyword: str) -> list[str]:
    """All values of a CS/UI element as strings (empty list when absent)."""
    values = _raw_values(ds, keyword)
    return [str(v) for v in values] if values else []


def get_string(ds: Dataset, keyword: str) -> str:
    """First value of a CS/UI element, "" when absent."""
    values = get_strings(ds, keyword)
    return values[0] if values else ""

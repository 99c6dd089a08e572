"""The DICOM header of one file as rows for a tag viewer: tag, name, VR and value, sequences nested.

Pixel data and other long binary values are summarised by their length; long texts are cut.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pydicom
from pydicom.dataset import Dataset

from core.imaging.errors import FileAccessError, InvalidImageError

MAX_VALUE_CHARS = 160
BINARY_VRS = {"OB", "OW", "OF", "OD", "OL", "OV", "UN"}


@dataclass(frozen=True)
class TagRow:
    tag: str  # "(0010,0010)"
    name: str  # keyword or description, indented with ">" per sequence level
    vr: str
    value: str

    def matches(self, query: str) -> bool:
        """True when every word of ``query`` is in the tag, name or value (case-insensitive)."""
        text = f"{self.tag} {self.name} {self.vr} {self.value}".lower()
        return all(word in text for word in query.lower().split())


def _value(element: pydicom.DataElement) -> str:
    if element.VR in BINARY_VRS:
        length = len(element.value) if isinstance(element.value, bytes | bytearray) else 0
        return f"<{length} bytes>"
    text = str(element.value)
    return text if len(text) <= MAX_VALUE_CHARS else text[: MAX_VALUE_CHARS - 3] + "..."


def tag_rows(ds: Dataset, depth: int = 0) -> list[TagRow]:
    """One row per element, items of sequences below their sequence (names prefixed with ">")."""
    rows: list[TagRow] = []
    for element in ds:
        name = ">" * depth + (element.keyword or element.name)
        tag = f"({element.tag.group:04X},{element.tag.element:04X})"
        if element.VR == "SQ":
            rows.append(TagRow(tag, name, "SQ", f"{len(element.value)} item(s)"))
            for item in element.value:
                rows.extend(tag_rows(item, depth + 1))
        else:
            try:
                value = _value(element)
            except Exception:  # one undecodable value must not hide the rest
                value = "<unreadable>"
            rows.append(TagRow(tag, name, str(element.VR), value))
    return rows


def read_tags(path: Path) -> list[TagRow]:
    """File meta and data set of ``path`` without pixel data; raises a typed ImagingError."""
    try:
        ds = pydicom.dcmread(path, stop_before_pixels=True, force=True)
    except FileNotFoundError as exc:
        raise FileAccessError("file no longer exists (moved or deleted after opening)", path) from exc
    except PermissionError as exc:
        raise FileAccessError("no permission to read the file", path) from exc
    except Exception as exc:
        raise InvalidImageError(f"DICOM header cannot be read ({exc})", path) from exc
    meta = getattr(ds, "file_meta", None)
    return (tag_rows(meta) if meta is not None else []) + tag_rows(ds)

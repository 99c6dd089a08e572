"""Typed, radiologist-readable errors for everything that can go wrong opening an image.

Every error carries the offending file (``.path``) and a ``str()`` that can be shown as-is:
"<file name>: <what is wrong>".  ``reason`` holds the message without the file name.
"""

from __future__ import annotations

from pathlib import Path


class ImagingError(Exception):
    """Base class: one file could not be opened, read or decoded."""

    default_reason = "the file could not be opened"

    def __init__(self, reason: str | None = None, path: Path | None = None) -> None:
        self.reason = reason or self.default_reason
        self.path = Path(path) if path is not None else None
        super().__init__(self.reason)

    def __str__(self) -> str:
        return f"{self.path.name}: {self.reason}" if self.path is not None else self.reason

    def with_path(self, path: Path) -> ImagingError:
        """Attach ``path`` when the raising code did not know it; returns ``self``."""
        if self.path is None:
            self.path = Path(path)
        return self


class NotAnImageError(ImagingError):
    """Neither DICOM nor a supported raster format (PNG/JPEG), or a non-image DICOM object."""

    default_reason = "not a DICOM or image file"


class NonImageObjectError(NotAnImageError):
    """A readable DICOM object that carries no image (structured report, presentation state, ...)."""

    default_reason = "DICOM object without an image"


class NoPixelDataError(ImagingError):
    """A DICOM file that declares an image but holds no Pixel Data element."""

    default_reason = "DICOM file has no pixel data"


class TruncatedFileError(ImagingError):
    """The file ends before the data its header announces."""

    default_reason = "file is truncated"


class UnsupportedCompressionError(ImagingError):
    """A transfer syntax (compression) that no installed decoder handles."""

    default_reason = "compression is not supported"


class ImageTooLargeError(ImagingError):
    """The header declares an image larger than the safety limits; nothing was decoded."""

    default_reason = "image is too large"


class InvalidImageError(ImagingError):
    """Contradictory or invalid header values (Rows, Columns, Bits Stored, ...) or undecodable data."""

    default_reason = "image header is invalid"


class FileAccessError(ImagingError):
    """The file cannot be read: no permission, deleted or changed since it was opened."""

    default_reason = "file cannot be read"


__all__ = [
    "FileAccessError",
    "ImageTooLargeError",
    "ImagingError",
    "InvalidImageError",
    "NoPixelDataError",
    "NonImageObjectError",
    "NotAnImageError",
    "TruncatedFileError",
    "UnsupportedCompressionError",
]

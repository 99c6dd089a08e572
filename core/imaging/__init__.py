"""Qt-free imaging: open DICOM/PNG/JPEG safely, organise studies, render for screen and model.

Typical use::

    result = open_paths([folder])             # headers only; errors listed per file
    store = PixelStore(max_megabytes=512)      # lazy decoding through an LRU cache
    series = result.all_series()[0]
    screen = store.display(series.slices[0])   # uint8, default window
    model = store.model_rendering(series.slices[0])
"""

from core.imaging.errors import (
    FileAccessError,
    ImageTooLargeError,
    ImagingError,
    InvalidImageError,
    NonImageObjectError,
    NoPixelDataError,
    NotAnImageError,
    TruncatedFileError,
    UnsupportedCompressionError,
)
from core.imaging.metadata import SliceMetadata, read_metadata
from core.imaging.pixel_store import PixelStore
from core.imaging.scan import open_paths
from core.imaging.study import FileError, Patient, ScanLimits, ScanResult, Series, SliceRef, Study, is_stack_uid
from core.imaging.window import Window

__all__ = [
    "FileAccessError",
    "FileError",
    "ImageTooLargeError",
    "ImagingError",
    "InvalidImageError",
    "NoPixelDataError",
    "NonImageObjectError",
    "NotAnImageError",
    "Patient",
    "PixelStore",
    "ScanLimits",
    "ScanResult",
    "Series",
    "SliceMetadata",
    "SliceRef",
    "Study",
    "TruncatedFileError",
    "UnsupportedCompressionError",
    "Window",
    "is_stack_uid",
    "open_paths",
    "read_metadata",
]

"""Index one file: headers only, fully checked, into (SeriesInfo, slices) or a typed error."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydicom.uid import UID

from core.imaging.dicom_header import check_geometry, check_syntax, is_image_object, read_header
from core.imaging.errors import FileAccessError, ImagingError, InvalidImageError, NonImageObjectError
from core.imaging.frames import slices_for_file
from core.imaging.nifti import nifti_slices
from core.imaging.organize import SeriesInfo, dicom_series_info, nifti_series_info, raster_series_info
from core.imaging.raster import raster_header
from core.imaging.sniff import file_signature, sniff_format
from core.imaging.study import SliceRef


@dataclass(frozen=True)
class IndexedFile:
    """What one file contributes to the tree."""

    info: SeriesInfo
    slices: list[SliceRef]
    note: str = ""  # a remark for the Problems panel about a file that did open


def _sop_class_name(uid: object) -> str:
    text = str(uid or "")
    if not text:
        return "unknown type"
    name = UID(text).name
    return name if name != text else f"SOP class {text}"


def index_file(path: Path, known_series: dict[str, SeriesInfo] | None = None) -> IndexedFile:
    """Read the header of ``path`` (DICOM, NIfTI, PNG or JPEG) and return its slices.

    ``known_series`` (SeriesInstanceUID -> SeriesInfo) lets a folder scan skip re-reading the
    patient/study/series labels of a series it has already seen.  Raises an :class:`ImagingError`
    subclass with ``path`` set; a readable DICOM object without an image raises
    :class:`NonImageObjectError`.
    """
    try:
        fmt = sniff_format(path)
        size, mtime = file_signature(path)
        if fmt in ("png", "jpeg"):
            rows, columns, samples = raster_header(path)
            ref = SliceRef(
                path, 0, "raster", rows, columns, samples_per_pixel=samples, file_size=size, file_mtime_ns=mtime
            )
            return IndexedFile(raster_series_info(path), [ref])
        if fmt == "nifti":
            refs, volumes = nifti_slices(path, size, mtime)
            note = f"4-D NIfTI with {volumes} volumes: only the first volume is shown" if volumes > 1 else ""
            return IndexedFile(nifti_series_info(path), refs, note)
        ds, pixel, tsyntax, _ = read_header(path, fmt)
        if not is_image_object(ds, pixel):
            raise NonImageObjectError(f"DICOM object without an image ({_sop_class_name(ds.get('SOPClassUID'))})", path)
        geometry = check_geometry(ds, pixel, path)
        check_syntax(tsyntax, path, geometry)
        slices = slices_for_file(path, ds, geometry, size, mtime)
        uid = slices[0].series_uid
        info = known_series.get(uid) if known_series is not None and uid else None
        if info is None:
            info = dicom_series_info(ds, path)
            if known_series is not None and uid:
                known_series[uid] = info
        return IndexedFile(info, slices)
    except ImagingError as exc:
        raise exc.with_path(path) from exc.__cause__
    except PermissionError as exc:
        raise FileAccessError("no permission to read the file", path) from exc
    except FileNotFoundError as exc:
        raise FileAccessError("file no longer exists (moved or deleted after opening)", path) from exc
    except OSError as exc:
        raise FileAccessError(f"file cannot be read ({exc.strerror or exc})", path) from exc
    except Exception as exc:  # a malformed header must only cost this file
        raise InvalidImageError(f"file cannot be interpreted ({type(exc).__name__}: {exc})", path) from exc

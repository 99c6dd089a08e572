"""DICOMDIR (PS3.10 File-set, PS3.3 F.5) through pydicom's FileSet: the files it references."""

from __future__ import annotations

import warnings
from pathlib import Path

import pydicom
from pydicom.dataset import Dataset
from pydicom.fileset import FileSet

from core.imaging.errors import FileAccessError, ImagingError, InvalidImageError


def is_dicomdir(path: Path) -> bool:
    """True for a file named DICOMDIR (any case), as PS3.10 requires."""
    return path.name.upper() == "DICOMDIR"


def _media_name(name: str) -> str:
    """A file name as ISO 9660 media may show it: any case, with a ``;1`` version or trailing dot."""
    return name.split(";", 1)[0].rstrip(".").upper()


def _find_on_media(root: Path, parts: list[str]) -> Path | None:
    """The file a Referenced File ID names, matching each component without regard to case (and to
    ISO 9660 ``;1`` suffixes), since CDs copied on Linux often turn ``IMAGES/IM0001`` into
    ``images/im0001;1``.  None when nothing, or more than one file, matches."""
    exact = root.joinpath(*parts)
    if exact.is_file():
        return exact
    current = root
    for part in parts:
        candidate = current / part
        if not candidate.exists():
            try:
                matches = [child for child in current.iterdir() if _media_name(child.name) == _media_name(part)]
            except OSError:
                return None
            if len(matches) != 1:
                return None
            candidate = matches[0]
        current = candidate
    return current if current.is_file() else None


def _referenced_files(ds: Dataset, root: Path, dicomdir: Path) -> tuple[list[Path], list[tuple[Path, ImagingError]]]:
    """The files the DICOMDIR's records reference (PS3.3 F.3.2.2), and an error for each reference
    that matches no file or leaves the File-set root."""
    found: list[Path] = []
    refused: list[tuple[Path, ImagingError]] = []
    for record in ds.get("DirectoryRecordSequence", []):
        file_id = record.get("ReferencedFileID")
        if not file_id:
            continue
        parts = [file_id] if isinstance(file_id, str) else [str(p) for p in file_id]
        try:
            path = _find_on_media(root, parts)
            inside = path is None or path.resolve().is_relative_to(root)
        except (OSError, ValueError) as exc:  # e.g. a NUL byte in the File ID
            refused.append((dicomdir, InvalidImageError(f"DICOMDIR holds an invalid file reference ({exc})", dicomdir)))
            continue
        if path is None:
            missing = root.joinpath(*parts)
            refused.append((missing, FileAccessError("DICOMDIR refers to a file that is missing", missing)))
        elif not inside:
            refused.append((path, FileAccessError("DICOMDIR refers to a file outside its folder; not opened", path)))
        else:
            found.append(path)
    return found, refused


def dicomdir_files(dicomdir: Path) -> tuple[list[Path], list[tuple[Path, ImagingError]]]:
    """Files referenced by ``dicomdir`` that lie inside its folder, and one error per refused reference.
    Names are matched without regard to case when the exact name is not there (see _find_on_media).

    The DICOMDIR is only read; a reference that resolves outside the File-set root (``..``, links) is
    refused.  Raises InvalidImageError / FileAccessError when the DICOMDIR itself cannot be used.
    """
    root = dicomdir.parent.resolve()
    try:
        ds = pydicom.dcmread(dicomdir)
    except PermissionError as exc:
        raise FileAccessError("no permission to read the DICOMDIR", dicomdir) from exc
    except Exception as exc:  # pydicom raises several types for a malformed DICOMDIR
        raise InvalidImageError(f"DICOMDIR cannot be read ({exc})", dicomdir) from exc
    try:
        with warnings.catch_warnings():  # missing files are reported below, each as an error
            warnings.simplefilter("ignore")
            FileSet(ds)  # validates the records; refuses references that leave the File-set root
    except PermissionError as exc:  # pydicom refuses references outside the File-set root
        raise FileAccessError("DICOMDIR refers to files outside its folder; it was not used", dicomdir) from exc
    except Exception as exc:
        raise InvalidImageError(f"DICOMDIR cannot be read ({exc})", dicomdir) from exc
    return _referenced_files(ds, root, dicomdir)

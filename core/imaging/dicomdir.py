"""DICOMDIR (PS3.10 File-set, PS3.3 F.5) through pydicom's FileSet: the files it references."""

from __future__ import annotations

from pathlib import Path

import pydicom
from pydicom.dataset import Dataset
from pydicom.fileset import FileSet

from core.imaging.errors import FileAccessError, ImagingError, InvalidImageError


def is_dicomdir(path: Path) -> bool:
    """True for a file named DICOMDIR (any case), as PS3.10 requires."""
    return path.name.upper() == "DICOMDIR"


def _missing_references(ds: Dataset, root: Path) -> list[Path]:
    """Referenced File IDs (PS3.3 F.3.2.2) that point to no file; pydicom's FileSet skips them silently."""
    missing = []
    for record in ds.get("DirectoryRecordSequence", []):
        file_id = record.get("ReferencedFileID")
        if not file_id:
            continue
        parts = [file_id] if isinstance(file_id, str) else [str(p) for p in file_id]
        path = root.joinpath(*parts)
        if not path.exists():
            missing.append(path)
    return missing


def dicomdir_files(dicomdir: Path) -> tuple[list[Path], list[tuple[Path, ImagingError]]]:
    """Files referenced by ``dicomdir`` that lie inside its folder, and one error per refused reference.

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
        fileset = FileSet(ds)  # skips (with a warning) files that are missing: see _missing_references
    except PermissionError as exc:  # pydicom refuses references outside the File-set root
        raise FileAccessError("DICOMDIR refers to files outside its folder; it was not used", dicomdir) from exc
    except Exception as exc:
        raise InvalidImageError(f"DICOMDIR cannot be read ({exc})", dicomdir) from exc
    files: list[Path] = []
    refused: list[tuple[Path, ImagingError]] = [
        (path, FileAccessError("DICOMDIR refers to a file that is missing", path))
        for path in _missing_references(ds, root)
    ]
    for instance in fileset:
        try:
            ref_path = Path(instance.path)
        except Exception as exc:  # malformed ReferencedFileID
            refused.append((dicomdir, InvalidImageError(f"DICOMDIR holds an invalid file reference ({exc})", dicomdir)))
            continue
        resolved = ref_path.resolve()
        if not resolved.is_relative_to(root):
            refused.append(
                (ref_path, FileAccessError("DICOMDIR refers to a file outside its folder; not opened", ref_path))
            )
            continue
        files.append(ref_path)
    return files, refused

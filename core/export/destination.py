"""Where exports may be written, and writing them without leaving partial files behind.

Exports never land over or beside the user's source images unless the caller asks for it
(``allow_beside_source=True``), and every file is written to a temporary name in the target
folder first, then renamed into place, so a failed export leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from core.export.errors import DestinationError, ExportError


def _resolved(path: str | os.PathLike[str]) -> Path:
    return Path(path).expanduser().resolve()


def check_destination(
    path: str | os.PathLike[str],
    sources: Iterable[str | os.PathLike[str]] = (),
    *,
    allow_beside_source: bool = False,
) -> Path:
    """Return the resolved output file path, or raise DestinationError.

    Refuses a path that is a source file itself, and (unless ``allow_beside_source``) a path
    inside the folder of any source file, including its sub-folders.
    """
    target = _resolved(path)
    if target.is_dir():
        raise DestinationError(f"{target} is a folder; choose a file name")
    for source in sources:
        src = _resolved(source)
        if target == src:
            raise DestinationError(f"refusing to write over the source file {src}")
        if not allow_beside_source and target.is_relative_to(src.parent):
            raise DestinationError(
                f"refusing to write {target.name} into the source folder {src.parent}; choose another folder"
            )
    return target


def check_output_folder(
    folder: str | os.PathLike[str],
    sources: Iterable[str | os.PathLike[str]] = (),
    *,
    allow_beside_source: bool = False,
) -> Path:
    """Return the resolved output folder (created if missing), or raise DestinationError."""
    target = _resolved(folder)
    if target.exists() and not target.is_dir():
        raise DestinationError(f"{target} exists and is not a folder")
    if not allow_beside_source:
        for source in sources:
            src = _resolved(source)
            if target.is_relative_to(src.parent):
                raise DestinationError(f"refusing to write into the source folder {src.parent}; choose another folder")
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DestinationError(f"cannot create the output folder {target}: {exc.strerror or exc}") from exc
    return target


@contextlib.contextmanager
def atomic_output(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it to ``path`` only if the block succeeds.

    On any exception the temporary file is removed and the exception propagates (OSError is
    wrapped in ExportError with the file name).
    """
    folder = path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handle, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=folder)
    except OSError as exc:
        raise DestinationError(f"cannot write into {folder}: {exc.strerror or exc}") from exc
    os.close(handle)
    tmp = Path(tmp_name)
    try:
        yield tmp
        tmp.replace(path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise ExportError(f"could not write {path}: {exc.strerror or exc}") from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise

"""Where exports may be written, and writing them without leaving partial files behind.

Exports never land over or beside the user's source images unless the caller asks for it
(``allow_beside_source=True``), never replace an existing file, and are written to a temporary
name in the target folder first, then given their name in one atomic step, so a failed export
leaves nothing behind.  Files get the permissions the user's umask gives (0644 typically).
"""

from __future__ import annotations

import contextlib
import os
import secrets
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


def check_new_file(
    path: str | os.PathLike[str],
    sources: Iterable[str | os.PathLike[str]] = (),
    *,
    allow_beside_source: bool = False,
) -> Path:
    """:func:`check_destination`, and refuse a file that already exists (exports never replace one)."""
    target = check_destination(path, sources, allow_beside_source=allow_beside_source)
    if target.exists():
        raise DestinationError(_exists_message(target))
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


_PARTIAL_SUFFIX = ".partial"


def _new_temp_file(folder: Path, name: str) -> Path:
    """Create an empty, uniquely named hidden file in ``folder``, readable as the user's umask allows.

    ``tempfile.mkstemp`` creates 0600 files, which other users of a shared reading room cannot open; a
    plain ``os.open(..., 0o666)`` lets the kernel apply the umask (0644 for the usual 022).
    """
    for _ in range(100):
        candidate = folder / f".{name}.{secrets.token_hex(4)}{_PARTIAL_SUFFIX}"
        try:
            os.close(os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        except FileExistsError:
            continue
        return candidate
    raise DestinationError(f"cannot create a temporary file in {folder}")


def _exists_message(path: Path) -> str:
    return f"{path} already exists; exports never replace a file (choose another name or folder)"


def _publish_new(tmp: Path, path: Path) -> None:
    """Give ``tmp`` the name ``path`` only if nothing has that name: an atomic create-exclusive rename.

    A hard link fails with FileExistsError when ``path`` exists (no check-then-write window).  File
    systems without hard links (FAT, some network shares) get an exclusive placeholder that the
    finished file then replaces; nobody else's file is ever replaced either way.
    """
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise DestinationError(_exists_message(path)) from None
    except OSError:
        try:
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        except FileExistsError:
            raise DestinationError(_exists_message(path)) from None
        try:
            tmp.replace(path)
        except OSError:
            path.unlink(missing_ok=True)
            raise
        return
    tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_output(path: Path, *, replace: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; it becomes ``path`` only if the block succeeds.

    ``path`` must not exist: an existing file is never replaced (DestinationError), unless
    ``replace=True`` (the rows file of ``neuroreview-classify --out``, named like a shell redirect).
    The file is created with mode 0666 less the user's umask.  On any exception the temporary file
    is removed and the exception propagates (OSError is wrapped in ExportError with the file name).
    """
    folder = path.parent
    if not replace and path.exists():
        raise DestinationError(_exists_message(path))  # early, clear answer; the publish step is the real guard
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tmp = _new_temp_file(folder, path.name)
    except OSError as exc:
        raise DestinationError(f"cannot write into {folder}: {exc.strerror or exc}") from exc
    try:
        yield tmp
        if replace:
            tmp.replace(path)
        else:
            _publish_new(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise ExportError(f"could not write {path}: {exc.strerror or exc}") from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise

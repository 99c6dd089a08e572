"""NIfTI-1/2 volumes (``.nii``, ``.nii.gz``) through nibabel, shown as a stack of axial slices.

The volume is turned to the closest RAS+ axes (``nibabel.orientations``), then each axial slice is
laid out as a DICOM axial image is (PS3.3 C.7.6.2.1.1): columns run from patient right to left, rows
from anterior to posterior.  Its Image Position / Orientation (Patient) come from the affine,
converted from NIfTI's RAS to DICOM's LPS, so ordering, orientation letters and slice locations
work as for DICOM.  ``frame`` is the slice index along the file's own axis that runs closest to
head-foot (``data[:, :, frame]`` for the usual RAS/LAS/LPS files).  A 4-D volume shows its first
volume (the scan says so in ``ScanResult.notes``).
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from core.imaging.errors import ImageTooLargeError, ImagingError, InvalidImageError, TruncatedFileError
from core.imaging.study import SliceRef

NIFTI1_MAGIC = b"n+1\x00"  # single-file NIfTI-1 (a .hdr/.img pair, "ni1", is not opened)
NIFTI2_MAGIC = b"n+2\x00"
GZIP_SIGNATURE = b"\x1f\x8b"
MAX_VOXELS = 1_000_000_000  # one volume, as declared
LPS = np.array([-1.0, -1.0, 1.0])  # NIfTI world (RAS) -> DICOM patient (LPS)


def nifti_version(head: bytes) -> int:
    """1 or 2 when ``head`` (the first 544 bytes, decompressed) is a single-file NIfTI header, else 0."""
    if len(head) >= 348 and head[344:348] == NIFTI1_MAGIC:
        return 1
    if len(head) >= 8 and head[4:8] == NIFTI2_MAGIC:
        return 2
    return 0


def _head(path: Path, head: bytes) -> bytes:
    """The first 544 bytes of the (decompressed) file, or as many as a cut gzip stream holds;
    ``head`` is what was already read of the file."""
    with open(path, "rb") as stream:
        data = stream.read(544 if not head.startswith(GZIP_SIGNATURE) else 1 << 16)
    if not head.startswith(GZIP_SIGNATURE):
        return data
    try:
        return zlib.decompressobj(wbits=31).decompress(data, 544)
    except zlib.error:
        return b""


def sniff_nifti(path: Path, head: bytes) -> bool:
    """True for a NIfTI file, plain or gzip-compressed (read from the content, not the name).
    Raises TruncatedFileError for a file that ends inside a NIfTI header."""
    start = _head(path, head)
    if nifti_version(start):
        return True
    sizes = {int.from_bytes(start[:4], "little"), int.from_bytes(start[:4], "big")} if len(start) >= 4 else set()
    if len(start) < 544 and sizes & {348, 540}:
        raise TruncatedFileError(f"file is truncated inside a NIfTI header ({len(start)} bytes)", path)
    return False


@contextmanager
def _opened(path: Path) -> Iterator[tuple[Any, type[Any]]]:
    """(stream of the decompressed file, nibabel image class); compression and version from the content."""
    import nibabel

    with open(path, "rb") as raw:
        head = raw.read(544)
    compressed = head.startswith(GZIP_SIGNATURE)
    version = nifti_version(_head(path, head))
    if not version:
        raise InvalidImageError("not a single-file NIfTI image", path)
    klass = nibabel.Nifti1Image if version == 1 else nibabel.Nifti2Image
    with gzip.open(path, "rb") if compressed else open(path, "rb") as stream:
        yield stream, klass


@contextmanager
def _nifti_errors(path: Path) -> Iterator[None]:
    try:
        yield
    except ImagingError:
        raise
    except (FileNotFoundError, PermissionError):
        raise
    except (EOFError, gzip.BadGzipFile) as exc:
        raise TruncatedFileError(f"NIfTI file is truncated or its compression is damaged ({exc})", path) from exc
    except Exception as exc:  # nibabel raises many types on damaged headers and data
        if "end of file" in str(exc).lower() or "expected" in str(exc).lower():
            raise TruncatedFileError(f"NIfTI file is truncated ({exc})", path) from exc
        raise InvalidImageError(f"NIfTI file cannot be read ({type(exc).__name__}: {exc})", path) from exc


@dataclass(frozen=True)
class NiftiGeometry:
    """Shape and placement of a NIfTI file's first volume, turned to RAS+ axes."""

    shape: tuple[int, int, int]  # on RAS+ axes
    affine: NDArray[np.float64]  # voxel (RAS+ axes) -> RAS mm
    ornt: NDArray[np.float64]  # nibabel orientation of the file's axes
    flip_slices: bool  # the file's head-foot axis runs foot-ward: frame = Z - 1 - k
    volumes: int  # 4th dimension (1 for 3-D)

    def index(self, frame: int) -> int:
        """RAS+ slice index of file slice ``frame``."""
        return self.shape[2] - 1 - frame if self.flip_slices else frame

    def placement(self, frame: int) -> tuple[tuple[float, ...], tuple[float, ...], tuple[float, float], float]:
        """(Image Position, Image Orientation, Pixel Spacing (row, column), slice spacing) in DICOM terms."""
        x, y, _ = self.shape
        corner = self.affine @ np.array([x - 1, y - 1, self.index(frame), 1.0])
        axes = self.affine[:3, :3]
        along_row, along_column = -axes[:, 0], -axes[:, 1]  # column index up: R->L; row index up: A->P
        row_dir = along_row / max(float(np.linalg.norm(along_row)), 1e-12) * LPS
        column_dir = along_column / max(float(np.linalg.norm(along_column)), 1e-12) * LPS
        position = tuple(float(v) for v in corner[:3] * LPS)
        orientation = tuple(float(v) for v in (*row_dir, *column_dir))
        spacing = (float(np.linalg.norm(axes[:, 1])), float(np.linalg.norm(axes[:, 0])))
        return position, orientation, spacing, float(np.linalg.norm(axes[:, 2]))


def _geometry(header: Any, path: Path) -> NiftiGeometry:
    from nibabel import orientations

    shape = tuple(int(n) for n in header.get_data_shape())
    if len(shape) < 2 or any(n < 1 for n in shape) or any(n > 1 for n in shape[4:]):
        raise InvalidImageError(f"NIfTI image of shape {shape} is not a 2-D, 3-D or 4-D volume", path)
    spatial = (*shape, 1, 1)[:3]
    if int(np.prod(spatial, dtype=np.int64)) > MAX_VOXELS:
        raise ImageTooLargeError(f"image is too large: {' x '.join(str(n) for n in spatial)}", path)
    affine = np.asarray(header.get_best_affine(), dtype=np.float64)
    if not np.all(np.isfinite(affine)) or abs(np.linalg.det(affine[:3, :3])) < 1e-12:
        raise InvalidImageError("NIfTI affine is not invertible; the volume cannot be placed", path)
    ornt = orientations.io_orientation(affine)
    ras = affine @ orientations.inv_ornt_aff(ornt, spatial)
    ras_shape = tuple(int(n) for n in np.asarray(spatial)[np.argsort(ornt[:, 0])])
    axis_of_s = int(np.flatnonzero(ornt[:, 0] == 2)[0])
    volumes = shape[3] if len(shape) > 3 else 1
    return NiftiGeometry(ras_shape, ras, ornt, bool(ornt[axis_of_s, 1] < 0), volumes)  # type: ignore[arg-type]


def read_geometry(path: Path) -> NiftiGeometry:
    """The geometry from the header only (raises a typed ImagingError)."""
    with _nifti_errors(path), _opened(path) as (stream, klass):
        return _geometry(klass.header_class.from_fileobj(stream), path)


@dataclass(frozen=True)
class NiftiVolume:
    """The first volume of a NIfTI file on RAS+ axes (the file's dtype, scaling applied per slice)."""

    geometry: NiftiGeometry
    data: NDArray[Any]  # (X, Y, Z) on RAS+ axes
    slope: float
    intercept: float

    def slice_values(self, frame: int) -> NDArray[np.float32]:
        """Slice ``frame`` as float32 (rows A->P, columns R->L), the file's scaling applied."""
        plane = np.asarray(self.data[::-1, ::-1, self.geometry.index(frame)], dtype=np.float32).T
        return np.ascontiguousarray(plane * np.float32(self.slope) + np.float32(self.intercept))

    @property
    def nbytes(self) -> int:
        return int(self.data.nbytes)


def load_volume(path: Path) -> NiftiVolume:
    """Read the file's first volume on RAS+ axes (raises a typed ImagingError)."""
    from nibabel import orientations
    from nibabel.fileholders import FileHolder

    with _nifti_errors(path), _opened(path) as (stream, klass):
        holder = FileHolder(fileobj=stream)
        image = klass.from_file_map({"header": holder, "image": holder})
        geometry = _geometry(image.header, path)
        raw = np.asanyarray(image.dataobj.get_unscaled())
        first = raw[..., 0] if raw.ndim == 4 else raw.reshape((*raw.shape, 1, 1)[:3])
        if np.iscomplexobj(first) or first.dtype.fields is not None:
            raise InvalidImageError(f"NIfTI voxels of type {first.dtype} (complex or RGB) are not shown", path)
        data = orientations.apply_orientation(first, geometry.ornt)
        slope, intercept = _scaling(image)
    return NiftiVolume(geometry, data, slope, intercept)


def _scaling(image: Any) -> tuple[float, float]:
    slope, intercept = getattr(image.dataobj, "slope", 1.0), getattr(image.dataobj, "inter", 0.0)
    slope = float(slope) if slope is not None and np.isfinite(slope) and slope != 0 else 1.0
    intercept = float(intercept) if intercept is not None and np.isfinite(intercept) else 0.0
    return slope, intercept


def nifti_slices(path: Path, file_size: int, mtime_ns: int) -> tuple[list[SliceRef], int]:
    """One SliceRef per axial slice of the first volume, and the number of volumes in the file."""
    geometry = read_geometry(path)
    x, y, slices = geometry.shape
    series_uid = f"nifti:{path}"
    refs = []
    for frame in range(slices):
        position, orientation, _, _ = geometry.placement(frame)
        refs.append(
            SliceRef(
                path=path,
                frame=frame,
                kind="nifti",
                rows=int(y),
                columns=int(x),
                number_of_frames=slices,
                instance_number=frame + 1,
                position=position,  # type: ignore[arg-type]
                orientation=orientation,  # type: ignore[arg-type]
                sop_instance_uid=f"{series_uid}#{frame}",
                series_uid=series_uid,
                file_size=file_size,
                file_mtime_ns=mtime_ns,
            )
        )
    return refs, geometry.volumes

"""What every export is made from: classified slices, the algorithm that classified them, the software."""

from __future__ import annotations

import importlib.metadata
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from core.export.errors import ExportError
from core.model.model_config import ModelConfig
from core.model.prediction import Prediction

if TYPE_CHECKING:  # pragma: no cover
    from pydicom.dataset import Dataset

RESEARCH_USE_STATEMENT = "Research use only - not for diagnostic use"
SOFTWARE_NAME = "NeuroReview"


def software_version() -> str:
    """The installed ``neuroreview`` package version ("unknown" when run from a bare checkout)."""
    try:
        return importlib.metadata.version("neuroreview")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


@dataclass(frozen=True)
class AlgorithmInfo:
    """The classifier as exports name it (PS3.16 TID 4019 Algorithm Identification for the SR)."""

    name: str
    version: str
    weights_sha256: str

    @classmethod
    def from_config(cls, config: ModelConfig) -> AlgorithmInfo:
        return cls(name=config.model_name, version=config.model_version, weights_sha256=config.weights_sha256)


class _SliceLike(Protocol):
    @property
    def path(self) -> Path: ...

    @property
    def frame(self) -> int: ...


@dataclass(frozen=True)
class SliceResult:
    """One classified slice.

    ``source`` is the file it came from, ``frame`` the 0-based frame index inside that file
    (like ``core.imaging.SliceRef.frame``; DICOM references use ``frame + 1``), ``header`` the
    DICOM header of the source (no pixel data; None for PNG/JPEG).  DICOM outputs need ``header``.
    """

    source: str
    frame: int
    prediction: Prediction
    header: Dataset | None = None
    source_format: str = ""  # "dicom", "raster" or "nifti" (core.imaging.SliceRef.kind)

    @classmethod
    def from_ref(cls, ref: _SliceLike, prediction: Prediction, header: Dataset | None = None) -> SliceResult:
        """From a ``core.imaging.SliceRef`` (anything with ``path`` and ``frame``)."""
        kind = str(getattr(ref, "kind", ""))
        return cls(source=str(ref.path), frame=int(ref.frame), prediction=prediction, header=header, source_format=kind)

    @property
    def is_multiframe(self) -> bool:
        return self.frame > 0 or (self.header is not None and int(self.header.get("NumberOfFrames", 1) or 1) > 1)

    @property
    def display_name(self) -> str:
        name = Path(self.source).name or self.source
        return f"{name} frame {self.frame + 1}" if self.is_multiframe else name

    @property
    def series_key(self) -> str:
        """Series Instance UID for DICOM, the parent folder for other images (groups a batch)."""
        if self.header is not None and "SeriesInstanceUID" in self.header:
            return str(self.header.SeriesInstanceUID)
        return str(Path(self.source).parent)


def group_by_series(results: Sequence[SliceResult]) -> list[list[SliceResult]]:
    """Split a batch into series (first-seen order, slice order kept)."""
    groups: dict[str, list[SliceResult]] = {}
    for result in results:
        groups.setdefault(result.series_key, []).append(result)
    return list(groups.values())


class SourceHeaders:
    """The header each classified slice's outputs describe: the DICOM file's (read once per file), a
    stand-in for a NIfTI slice (:mod:`core.export.nifti_source`), None for PNG/JPEG."""

    def __init__(self) -> None:
        from core.export.nifti_source import NiftiHeaders

        self._dicom: dict[Path, Dataset] = {}
        self._nifti = NiftiHeaders()

    def header(self, ref: _SliceLike) -> Dataset | None:
        kind = getattr(ref, "kind", "")
        if kind == "dicom":
            if ref.path not in self._dicom:
                self._dicom[ref.path] = read_header(ref.path)
            return self._dicom[ref.path]
        if kind == "nifti":
            return self._nifti.header(ref.path, ref.frame, getattr(ref, "rows", 0), getattr(ref, "columns", 0))
        return None


def read_header(path: str | os.PathLike[str]) -> Dataset:
    """Read a DICOM file's header without pixel data (read-only), or raise ExportError."""
    import pydicom
    from pydicom.errors import InvalidDicomError

    try:
        return pydicom.dcmread(path, stop_before_pixels=True)
    except (InvalidDicomError, OSError, ValueError, EOFError) as exc:
        raise ExportError(f"cannot read the DICOM header of {path}: {exc}") from exc

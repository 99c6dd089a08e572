"""The browsable structure of opened images: Patient -> Study -> Series -> SliceRef.

A :class:`SliceRef` names one displayable 2-D slice (one frame of one file) without holding any
pixels; :class:`core.imaging.PixelStore` decodes it on demand.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from core.imaging.mosaic import MosaicLayout

SliceKind = Literal["dicom", "raster", "nifti"]


@dataclass(frozen=True)
class SliceRef:
    """One displayable 2-D slice: frame ``frame`` (0-based) of the file at ``path``.

    For a Siemens mosaic ``frame`` is the slice inside the mosaic (``mosaic`` says how to cut it out);
    for a NIfTI volume (kind "nifti") it is the slice index along the file's axis closest to head-foot.

    Geometry fields come from the header (PS3.3 C.7.6.2 Image Plane, or the per-frame functional
    groups of enhanced objects, C.7.6.16) and are only used for ordering.  ``representative`` is the
    slice of the same series whose data picks the automatic window (set by :func:`open_paths`).
    """

    path: Path
    frame: int
    kind: SliceKind
    rows: int
    columns: int
    number_of_frames: int = 1
    samples_per_pixel: int = 1
    instance_number: int | None = None
    position: tuple[float, float, float] | None = None  # ImagePositionPatient (mm)
    orientation: tuple[float, float, float, float, float, float] | None = None  # ImageOrientationPatient
    sop_instance_uid: str = ""
    series_uid: str = ""
    stack_key: str = ""  # frame/image type values 3+ (e.g. "M" vs "FIELD_MAP"): ordered as separate stacks
    temporal_index: int | None = None  # Temporal Position Index/Identifier, when the header gives one
    time_point: int = 0  # 0-based time point within its stack (set by the ordering)
    mosaic: MosaicLayout | None = None
    file_size: int = field(default=-1, compare=False)
    file_mtime_ns: int = field(default=-1, compare=False)
    representative: SliceRef | None = field(default=None, compare=False, repr=False)

    @property
    def key(self) -> str:
        """Stable identity ``"path#frame"`` (cache key, selection key)."""
        return f"{self.path}#{self.frame}"

    @property
    def is_color(self) -> bool:
        """True for RGB/YBR/palette DICOM and colour PNG/JPEG (as known from the header)."""
        return self.samples_per_pixel == 3


RASTER_SERIES_PREFIX = "raster:"  # the series "uid" of a folder of PNG/JPEG images


def is_stack_uid(series_uid: str) -> bool:
    """False for the pseudo-series of a folder of PNG/JPEG images: neighbours there are unrelated images."""
    return not series_uid.startswith(RASTER_SERIES_PREFIX)


@dataclass
class Series:
    """One series: slices ordered along the slice normal (fallback: InstanceNumber, frame, file name)."""

    uid: str
    modality: str = ""
    description: str = ""
    number: int | None = None
    slices: list[SliceRef] = field(default_factory=list)
    patient_id: str = ""
    patient_name: str = ""
    study_uid: str = ""
    study_date: str = ""
    study_description: str = ""
    accession_number: str = ""
    frame_of_reference_uid: str = ""  # series sharing one have comparable patient positions

    @property
    def label(self) -> str:
        """Short human label, e.g. ``"3: T1 AX POST (MR, 24 slices)"``."""
        head = f"{self.number}: " if self.number is not None else ""
        desc = self.description or "(no description)"
        return f"{head}{desc} ({self.modality or '?'}, {len(self.slices)} slices)"

    def __len__(self) -> int:
        return len(self.slices)

    @property
    def is_stack(self) -> bool:
        """True for slices of one acquisition; False for a folder of PNG/JPEG images grouped as a series."""
        return is_stack_uid(self.uid)


@dataclass
class Study:
    """One study (StudyInstanceUID) with its series ordered by SeriesNumber."""

    uid: str
    date: str = ""
    description: str = ""
    series: list[Series] = field(default_factory=list)

    @property
    def label(self) -> str:
        """Short human label: date and description."""
        return " ".join(p for p in (self.date, self.description) if p) or "(undated study)"


@dataclass
class Patient:
    """One patient (PatientID + PatientName); raster images sit under a patient with empty IDs."""

    patient_id: str
    name: str
    studies: list[Study] = field(default_factory=list)

    @property
    def label(self) -> str:
        """Short human label: name and ID, or "Unknown patient"."""
        parts = [p for p in (self.name, f"({self.patient_id})" if self.patient_id else "") if p]
        return " ".join(parts) or "Unknown patient"


@dataclass
class FileError:
    """A file that could not be opened: ``message`` is radiologist-readable, ``error_type`` the class name."""

    path: Path
    message: str
    error_type: str


@dataclass
class ScanResult:
    """Everything :func:`open_paths` found: the browsable tree plus one entry per file that failed.

    ``ignored`` lists the files skipped because they hold no image: readable DICOM objects without
    one (structured reports, presentation states, raw data, ...) and DICOMDIR files themselves;
    ``notes`` are remarks about files that did open (e.g. only the first volume of a 4-D NIfTI);
    ``cancelled`` is True when the scan was stopped early (the tree holds what was read).  Every file
    looked at is in exactly one of: a series' slices, ``errors`` or ``ignored``.
    """

    patients: list[Patient] = field(default_factory=list)
    errors: list[FileError] = field(default_factory=list)
    ignored: list[FileError] = field(default_factory=list)
    notes: list[FileError] = field(default_factory=list)
    cancelled: bool = False

    def all_series(self) -> list[Series]:
        """Every series, in tree order (patient, study, series)."""
        return [s for p in self.patients for st in p.studies for s in st.series]

    def all_slices(self) -> list[SliceRef]:
        """Every slice of every series, in tree order."""
        return [ref for s in self.all_series() for ref in s.slices]


@dataclass(frozen=True)
class ScanLimits:
    """Bounds on a folder scan: directory depth below each opened folder and total files looked at."""

    max_depth: int = 32
    max_files: int = 100_000

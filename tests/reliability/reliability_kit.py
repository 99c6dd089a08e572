"""Small builders shared by the reliability tests: tiny DICOM/PNG files and file fingerprints."""

from __future__ import annotations

import hashlib
import struct
import zlib
from pathlib import Path

import numpy as np
from dicom_factory import make_dataset
from pydicom.dataset import Dataset
from pydicom.uid import generate_uid

import core.imaging as imaging

IMAGING_ERRORS = {
    name
    for name in imaging.__all__
    if isinstance(getattr(imaging, name), type) and issubclass(getattr(imaging, name), imaging.ImagingError)
}
PATIENT_NAME = "Rossi^Maria"
PATIENT_ID = "PID-7731-XQ"


def pixels(rows: int = 8, columns: int = 8, seed: int = 0, high: int = 4000) -> np.ndarray:
    """Seeded uint16 test pixels."""
    return np.random.default_rng(seed).integers(0, high, (rows, columns), dtype=np.uint16)


def mr_dataset(
    values: np.ndarray | None = None,
    *,
    series_uid: str | None = None,
    study_uid: str | None = None,
    instance: int = 1,
    patient_name: str = PATIENT_NAME,
    patient_id: str = PATIENT_ID,
) -> Dataset:
    """A tiny Part-10 MR image (16-bit, 12 bits stored, explicit VR little endian)."""
    # one study per series unless given: the same series UID always gets the same study UID
    study = study_uid or (generate_uid(entropy_srcs=[series_uid]) if series_uid else None)
    return make_dataset(
        pixels() if values is None else values,
        bits_allocated=16,
        bits_stored=12,
        study_uid=study,
        series_uid=series_uid,
        instance=instance,
        position=(0.0, 0.0, float(instance)),
        patient_name=patient_name,
        patient_id=patient_id,
        series_description="RELIABILITY",
    )


def write_dicom(path: Path, ds: Dataset | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    (ds if ds is not None else mr_dataset()).save_as(path, enforce_file_format=True)
    return path


def png_chunk(kind: bytes, data: bytes) -> bytes:
    """One PNG chunk (length, type, data, CRC) per the PNG specification, section 5.3."""
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_bomb(width: int, height: int) -> bytes:
    """A valid-looking 8-bit grey PNG that declares ``width x height`` pixels but is a few hundred bytes."""
    header = png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
    row = b"\x00" + b"\x00" * width
    compressor = zlib.compressobj(9)
    data = b"".join(compressor.compress(row) for _ in range(min(height, 64))) + compressor.flush()
    return b"\x89PNG\r\n\x1a\n" + header + png_chunk(b"IDAT", data) + png_chunk(b"IEND", b"")


def fingerprint(path: Path) -> tuple[str, int, int]:
    """(SHA-256, size, mtime in ns) of a file: must be identical before and after a session."""
    data = path.read_bytes()
    st = path.stat()
    return hashlib.sha256(data).hexdigest(), st.st_size, st.st_mtime_ns


def fingerprints(root: Path) -> dict[str, tuple[str, int, int]]:
    """Fingerprint of every regular file under ``root``."""
    return {str(p.relative_to(root)): fingerprint(p) for p in sorted(root.rglob("*")) if p.is_file()}

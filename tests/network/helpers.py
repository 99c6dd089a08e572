"""Small DICOM objects for the network tests, encoded as the C-STORE receiver sees them."""

from __future__ import annotations

from io import BytesIO
from pathlib import Path

import numpy as np
from dicom_factory import make_dataset
from pydicom.dataset import Dataset
from pydicom.uid import generate_uid


def mr_slice(study_uid: str | None = None, series_uid: str | None = None, size: int = 16, seed: int = 0) -> Dataset:
    pixels = np.random.default_rng(seed).integers(0, 4000, (size, size), dtype=np.uint16)
    return make_dataset(
        pixels, bits_allocated=16, bits_stored=12, study_uid=study_uid or generate_uid(),
        series_uid=series_uid or generate_uid(), position=(0.0, 0.0, float(seed)), instance=seed + 1,
    )  # fmt: skip


def part10(ds: Dataset) -> bytes:
    buffer = BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def leftovers(folder: Path) -> list[Path]:
    """Temporary files a transfer left behind (there must be none)."""
    return [p for p in folder.rglob("*") if p.is_file() and not p.name.endswith(".dcm")]


def transfers() -> list[dict]:
    """The audit log's "transfer" entries (NEUROREVIEW_HOME points at a test folder)."""
    import json

    from core.platform.audit import AuditLog

    path = AuditLog().path
    if not path.exists():
        return []
    entries = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    return [e for e in entries if e["event"] == "transfer"]

"""Pytest fixtures for a real PACS (Orthanc, see :mod:`bench.pacs`) and a small study put on it with DCMTK."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pydicom
import pytest

from bench.pacs import LOOPBACK, MOVE_AE, ORTHANC_AE, OrthancServer, free_port, orthanc_binary

__all__ = ["MOVE_AE", "ORTHANC_AE", "OrthancServer", "PacsStudy", "free_port", "orthanc", "pacs_study"]


@pytest.fixture(scope="session")
def orthanc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OrthancServer]:
    """One Orthanc for the session (skipped with the reason when the package is missing)."""
    if orthanc_binary() is None:
        pytest.skip("Orthanc is not installed (make test installs the Debian package 'orthanc')")
    server = OrthancServer(tmp_path_factory.mktemp("orthanc"), move_port=free_port())
    server.start()
    yield server
    server.stop()


@dataclass(frozen=True)
class PacsStudy:
    """A small MR study put on the test PACS with DCMTK's storescu (an independent sender)."""

    study_uid: str
    series_uid: str
    sop_uids: tuple[str, ...]
    files: tuple[Path, ...]
    patient_id: str = "NETPAT1"
    patient_name: str = "Net^Orthanc"


@pytest.fixture(scope="session")
def pacs_study(orthanc: OrthancServer, tmp_path_factory: pytest.TempPathFactory) -> PacsStudy:
    if shutil.which("storescu") is None:
        pytest.skip("DCMTK is not installed (make test installs the Debian package 'dcmtk')")
    from dicom_factory import write_series

    folder = tmp_path_factory.mktemp("pacs_study")
    files = write_series(
        folder, 4, rows=32, columns=32, patient_id="NETPAT1", patient_name="Net^Orthanc",
        extra={"AccessionNumber": "ACC123", "StudyDate": "20240315"},
    )  # fmt: skip
    datasets = [pydicom.dcmread(f) for f in files]
    host, port = LOOPBACK, str(orthanc.port)
    done = subprocess.run(
        ["storescu", "-aet", "DCMTKSCU", "-aec", ORTHANC_AE, host, port, *map(str, files)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return PacsStudy(
        study_uid=str(datasets[0].StudyInstanceUID),
        series_uid=str(datasets[0].SeriesInstanceUID),
        sop_uids=tuple(str(d.SOPInstanceUID) for d in datasets),
        files=tuple(files),
    )

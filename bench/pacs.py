"""A local PACS for tests and benchmarks: Orthanc (Debian package ``orthanc``) on 127.0.0.1, temporary config.

The server gets free loopback ports, its own storage folder, no HTTP server and no plugins; it
answers C-ECHO, C-FIND, C-GET and C-MOVE from anyone, and knows one move destination (our
listener under ``MOVE_AE``).  Nothing outside 127.0.0.1 is contacted.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
from pathlib import Path

ORTHANC_AE = "ORTHANC"
MOVE_AE = "NRMOVE"  # the AE title our listener uses for C-MOVE in tests
LOOPBACK = "127.0.0.1"


def orthanc_binary() -> str | None:
    return shutil.which("Orthanc") or next((p for p in ("/usr/sbin/Orthanc",) if Path(p).exists()), None)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        return int(probe.getsockname()[1])


class OrthancServer:
    """Start with :meth:`start`, stop with :meth:`stop`; ``node`` is its ``AE@127.0.0.1:PORT``."""

    def __init__(self, folder: Path, move_port: int) -> None:
        self.folder = folder
        self.port = free_port()
        self.move_port = move_port
        self.log = folder / "orthanc.log"
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def node(self) -> str:
        return f"{ORTHANC_AE}@{LOOPBACK}:{self.port}"

    def config(self) -> dict[str, object]:
        storage = str(self.folder / "storage")
        return {
            "Name": "NeuroReviewTestPACS",
            "StorageDirectory": storage,
            "IndexDirectory": storage,
            "HttpServerEnabled": False,
            "HttpPort": free_port(),
            "RemoteAccessAllowed": False,
            "Plugins": [],
            "DicomServerEnabled": True,
            "DicomAet": ORTHANC_AE,
            "DicomPort": self.port,
            "DicomCheckCalledAet": True,
            "DicomAlwaysAllowEcho": True,
            "DicomAlwaysAllowStore": True,
            "DicomAlwaysAllowFind": True,
            "DicomAlwaysAllowGet": True,
            "DicomAlwaysAllowMove": True,
            "DicomModalities": {"neuroreview": [MOVE_AE, LOOPBACK, self.move_port]},
            "DicomScuTimeout": 10,
            "DicomAssociationCloseDelay": 0,
            "SaveJobs": False,
            "ConcurrentJobs": 2,
            "StorageCompression": False,
            "DicomThreadsCount": 4,
        }

    def start(self, timeout_s: float = 30.0) -> None:
        binary = orthanc_binary()
        if binary is None:
            raise RuntimeError("Orthanc is not installed (Debian package 'orthanc')")
        self.folder.mkdir(parents=True, exist_ok=True)
        config = self.folder / "orthanc.json"
        config.write_text(json.dumps(self.config(), indent=2), encoding="utf-8")
        with open(self.log, "wb") as log:
            self._proc = subprocess.Popen([binary, str(config)], stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"Orthanc exited at start-up: {self.log.read_text(errors='replace')[-2000:]}")
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
                probe.settimeout(0.5)
                if probe.connect_ex((LOOPBACK, self.port)) == 0:
                    return
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"Orthanc did not open port {self.port} within {timeout_s} s")

    def stop(self) -> None:
        if self._proc is None:
            return
        self._proc.terminate()
        try:
            self._proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        self._proc = None

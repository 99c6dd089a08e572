"""The console scripts the README promises are installed and answer --help without a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent


@pytest.mark.parametrize(
    "script", ["neuroreview", "neuroreview-classify", "neuroreview-train", "neuroreview-audit", "neuroreview-dicom"]
)
def test_console_script_answers_help(script: str) -> None:
    done = subprocess.run([str(BIN / script), "--help"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "usage:" in done.stdout and "Traceback" not in done.stderr

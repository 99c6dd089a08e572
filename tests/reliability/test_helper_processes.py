"""Helper processes (the GDCM decoder's, the workstation's model) end when the application is killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

PARENT = """
import os, sys, time
from core.platform.helper_process import one_worker_executor

if __name__ == "__main__":
    executor = one_worker_executor()
    print(executor.submit(os.getpid).result(), flush=True)
    time.sleep(600)
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/stat")
    return not (status.is_file() and status.read_text().split(") ", 1)[1].startswith("Z"))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses kill -9 and /proc")
def test_a_helper_ends_when_its_application_is_killed(tmp_path: Path) -> None:
    script = tmp_path / "parent.py"
    script.write_text(PARENT, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert parent.stdout is not None
        helper = int(parent.stdout.readline())
        time.sleep(1.0)
        assert _alive(helper)  # the watch does not end it while the parent lives
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=30)
        deadline = time.monotonic() + 30
        while _alive(helper) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _alive(helper), "the helper outlived the killed application"
    finally:
        parent.kill()

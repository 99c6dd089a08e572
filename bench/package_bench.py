"""Figures of the packaged application ``dist/NeuroReview``: size on disk, launch-to-window time, self-test.

``run()`` launches ``dist/NeuroReview/neuroreview --self-test`` (offscreen; nothing is written
outside a temporary folder) and measures, from the moment the process is spawned:

* ``window_visible_s``: until the ``PASS main window`` line, printed once the main window is shown,
  exposed and painted - the same start-up path as a normal launch (bootloader, Python, Qt, window);
  the first launch (cold file cache) and the median of the following ones are reported separately;
* ``self_test_s`` and ``self_test_exit``: the whole self-test of the first launch.

Without weights in the package a tiny untrained model is passed through ``NEUROREVIEW_WEIGHTS_DIR``
and the result says so (``weights: "tiny-untrained"``).
Run directly: ``python -m bench.package_bench [--dist dist/NeuroReview] [--launches 4]``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DIST = ROOT / "dist" / "NeuroReview"
EXECUTABLE = "neuroreview.exe" if sys.platform == "win32" else "neuroreview"
WINDOW_MARKER = "PASS main window"
SIZE_LIMIT_BYTES = 1.2e9
WINDOW_LIMIT_S = 2.0
TIMEOUT_S = 600


def folder_bytes(folder: Path) -> int:
    """Apparent size of every regular file under ``folder`` (links not followed), in bytes."""
    return sum(p.lstat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def _bundled_weights(dist: Path) -> bool:
    return any((dist / sub / "weights" / "model_config.json").is_file() for sub in ("_internal", "."))


def _launch(executable: Path, env: dict[str, str], full: bool) -> dict[str, Any]:
    """Spawn one self-test; time the window line (and, with ``full``, the whole run)."""
    spawned = time.perf_counter()
    process = subprocess.Popen(
        [str(executable), "--self-test"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    assert process.stdout is not None
    figures: dict[str, Any] = {}
    lines: list[str] = []
    for line in process.stdout:
        lines.append(line.rstrip())
        if line.startswith(WINDOW_MARKER) and "window_visible_s" not in figures:
            figures["window_visible_s"] = round(time.perf_counter() - spawned, 3)
            if not full:
                process.terminate()
                break
    process.wait(timeout=TIMEOUT_S)
    if full:
        figures.update(self_test_s=round(time.perf_counter() - spawned, 2), self_test_exit=process.returncode)
        figures["failed_checks"] = [line for line in lines if line.startswith("FAIL")]
    figures["window_line"] = next((line for line in lines if line.startswith(("PASS main", "FAIL main"))), "")
    return figures


def run(dist: Path = DEFAULT_DIST, launches: int = 4) -> dict[str, Any]:
    """Size and start-up figures of the package in ``dist`` (raises FileNotFoundError when not built)."""
    executable = dist / EXECUTABLE
    if not executable.is_file():
        raise FileNotFoundError(f"{executable} not found: run `make package` first")
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "TF_CPP_MIN_LOG_LEVEL": "2"}
    with tempfile.TemporaryDirectory(prefix="nr-package-bench-") as tmp:
        weights = "bundled"
        if not _bundled_weights(dist) and not os.environ.get("NEUROREVIEW_WEIGHTS_DIR"):
            from bench.gui_bench import _write_tiny_weights

            _write_tiny_weights(Path(tmp) / "tiny")
            env["NEUROREVIEW_WEIGHTS_DIR"] = str(Path(tmp) / "tiny")
            weights = "tiny-untrained"
        elif not _bundled_weights(dist):
            weights = "NEUROREVIEW_WEIGHTS_DIR"
        first = _launch(executable, env, full=True)
        warm = [_launch(executable, env, full=False)["window_visible_s"] for _ in range(max(0, launches - 1))]
    size = folder_bytes(dist)
    window = statistics.median(warm) if warm else first.get("window_visible_s")
    return {
        "package": str(dist),
        "weights": weights,
        "size_bytes": size,
        "size_gb": round(size / 1e9, 3),
        "size_within_limit": size <= SIZE_LIMIT_BYTES,
        "window_visible_first_s": first.get("window_visible_s"),
        "window_visible_s": window,
        "window_visible_runs_s": warm,
        "window_within_limit": window is not None and window <= WINDOW_LIMIT_S,
        "window_line": first.get("window_line", ""),
        "self_test_s": first.get("self_test_s"),
        "self_test_exit": first.get("self_test_exit"),
        "failed_checks": first.get("failed_checks", []),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dist", type=Path, default=DEFAULT_DIST, help="the one-folder package (dist/NeuroReview)")
    parser.add_argument("--launches", type=int, default=4, help="launches in all (the first one runs every check)")
    args = parser.parse_args(argv)
    print(json.dumps(run(args.dist, args.launches), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""What a run records about where it ran: library versions, git commit, hardware, precision choice."""

from __future__ import annotations

import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

from core.model.device import cpu_supports_bfloat16

PACKAGES = ("tensorflow", "tensorflow-cpu", "keras", "numpy", "pillow", "pydicom", "neuroreview")


def git_commit(repo: Path) -> str | None:
    try:
        out = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def describe_environment() -> dict[str, Any]:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    import tensorflow as tf

    gpus = [d.name for d in tf.config.list_physical_devices("GPU")]
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "gpus": gpus,
        "cpu_bfloat16": cpu_supports_bfloat16(),
        "versions": versions,
        "git_commit": git_commit(Path(__file__).resolve().parent.parent),
    }


def choose_precision(requested: str, has_gpu: bool) -> str:
    """Keras dtype policy for training: mixed bfloat16 where the hardware supports it."""
    if requested == "float32":
        return "float32"
    if requested == "bfloat16" or has_gpu or cpu_supports_bfloat16():
        return "mixed_bfloat16"
    return "float32"

"""Remembered outcomes of the bfloat16 self-check, so that later starts skip it.

The self-check (agreement with float32 on probe slices, and speed) depends only on the weights, the
config, the CPU and the TensorFlow/Keras versions; its outcome is stored under the user cache
folder (:func:`core.platform.user_paths.cache_dir`) keyed by all of them.  A missing, unreadable or foreign
cache file is ignored: the self-check simply runs again.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import tempfile
from pathlib import Path
from typing import Any

from core.model.device import PrecisionDecision

CACHE_FILE = "precision_checks.json"
MAX_ENTRIES = 32


def _cpu_identity() -> str:
    """CPU model and feature flags of the first processor (Linux), else the platform's processor name."""
    found: dict[str, str] = {}
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="ascii", errors="ignore").splitlines():
            key, _, value = line.partition(":")
            key = key.strip()
            if key in ("model name", "flags", "Features", "CPU part") and key not in found:
                found[key] = value.strip()
    except OSError:
        pass
    return json.dumps(found, sort_keys=True) if found else platform.processor() or platform.machine()


def decision_key(weights_sha256: str, config_json: dict[str, Any], versions: str) -> str:
    """Key of one self-check: weights, config, CPU and library versions, hashed."""
    text = json.dumps([weights_sha256, config_json, _cpu_identity(), platform.system(), versions], sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _path() -> Path:
    from core.platform.user_paths import cache_dir

    return cache_dir() / CACHE_FILE


def _read() -> dict[str, Any]:
    try:
        data = json.loads(_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def load_decision(key: str) -> PrecisionDecision | None:
    """The stored outcome for ``key``, or None."""
    entry = _read().get(key)
    if not isinstance(entry, dict) or entry.get("precision") not in ("float32", "bfloat16"):
        return None
    return PrecisionDecision(str(entry["precision"]), f"{entry.get('reason', '')} (self-check remembered)")


def save_decision(key: str, decision: PrecisionDecision) -> None:
    """Store the outcome for ``key`` (best effort: a read-only cache folder is not an error)."""
    data = _read()
    data.pop(key, None)
    data[key] = {"precision": decision.precision, "reason": decision.reason}
    while len(data) > MAX_ENTRIES:
        data.pop(next(iter(data)))
    path = _path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, tmp_name = tempfile.mkstemp(prefix=".precision.", dir=path.parent)
    except OSError:
        return
    tmp = Path(tmp_name)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(data, out, indent=1)
        tmp.replace(path)
    except OSError:
        tmp.unlink(missing_ok=True)

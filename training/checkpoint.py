"""Atomic checkpoints: model weights, optimizer variables and loop state (no pickle, no load_model).

Every file is written to a temporary name and renamed, and ``state.json`` - written last - names
the epoch the other files belong to, so a run killed at any moment resumes from a consistent
checkpoint.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

CHECKPOINT_DIR = "checkpoint"
LAST_WEIGHTS = "last.weights.h5"
BEST_WEIGHTS = "best.weights.h5"
OPTIMIZER_FILE = "optimizer.npz"
STATE_FILE = "state.json"


def _atomic(path: Path) -> Path:
    return path.with_name(f".{path.name}.tmp-{os.getpid()}")


def save_weights_atomic(model: Any, path: Path) -> None:
    tmp = _atomic(path).with_suffix(".weights.h5")
    try:
        model.save_weights(tmp)
        tmp.replace(path)
    except BaseException:  # issue 10: a failed or interrupted save leaves no half-written file behind
        tmp.unlink(missing_ok=True)
        raise


def save_checkpoint(run_dir: Path, model: Any, optimizer: Any, state: dict[str, Any]) -> None:
    folder = run_dir / CHECKPOINT_DIR
    folder.mkdir(parents=True, exist_ok=True)
    save_weights_atomic(model, folder / LAST_WEIGHTS)
    tmp = _atomic(folder / OPTIMIZER_FILE)
    with open(tmp, "wb") as handle:
        np.savez(handle, *[np.asarray(v.numpy()) for v in optimizer.variables])
    tmp.replace(folder / OPTIMIZER_FILE)
    tmp = _atomic(folder / STATE_FILE)
    tmp.write_text(json.dumps(state, indent=2) + "\n", encoding="utf-8")
    tmp.replace(folder / STATE_FILE)


def load_state(run_dir: Path) -> dict[str, Any] | None:
    path = run_dir / CHECKPOINT_DIR / STATE_FILE
    if not path.is_file():
        return None
    state: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return state


def restore_checkpoint(run_dir: Path, model: Any, optimizer: Any) -> None:
    """Load last weights and optimizer variables into an already-built model and optimizer."""
    folder = run_dir / CHECKPOINT_DIR
    model.load_weights(folder / LAST_WEIGHTS)
    optimizer.build(model.trainable_variables)
    with np.load(folder / OPTIMIZER_FILE, allow_pickle=False) as data:
        values = [data[f"arr_{i}"] for i in range(len(data.files))]
    if len(values) != len(optimizer.variables):
        raise ValueError("optimizer checkpoint does not match the model")
    for variable, value in zip(optimizer.variables, values, strict=True):
        variable.assign(value)

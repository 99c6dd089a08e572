"""Atomic checkpoints: model weights, optimizer variables and loop state (no pickle, no load_model).

Every file is written to a temporary name and renamed.  Weights and optimizer files carry their
epoch in their names, and ``state.json`` - replaced last - names the pair it belongs to; files of
older epochs are deleted only after that.  A run killed at any moment therefore resumes from a
consistent (weights, optimizer, state) triple.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

CHECKPOINT_DIR = "checkpoint"
LAST_WEIGHTS = "last.weights.h5"  # runs written before epoch-numbered checkpoints
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
    except BaseException:  # a failed or interrupted save leaves no half-written file behind
        tmp.unlink(missing_ok=True)
        raise


def _epoch_files(epoch: int) -> tuple[str, str]:
    return f"epoch{epoch + 1:04d}.weights.h5", f"epoch{epoch + 1:04d}.optimizer.npz"


def save_checkpoint(run_dir: Path, model: Any, optimizer: Any, state: dict[str, Any]) -> None:
    """Write the checkpoint of the epoch ``state["epoch"]`` (0-based) and drop older ones."""
    folder = run_dir / CHECKPOINT_DIR
    folder.mkdir(parents=True, exist_ok=True)
    weights_name, optimizer_name = _epoch_files(int(state["epoch"]))
    save_weights_atomic(model, folder / weights_name)
    tmp = _atomic(folder / optimizer_name)
    with open(tmp, "wb") as handle:
        np.savez(handle, *[np.asarray(v.numpy()) for v in optimizer.variables])
    tmp.replace(folder / optimizer_name)
    state = {**state, "weights_file": weights_name, "optimizer_file": optimizer_name}
    tmp = _atomic(folder / STATE_FILE)
    tmp.write_text(json.dumps(state, indent=2) + "\n", encoding="utf-8")
    tmp.replace(folder / STATE_FILE)
    for old in folder.glob("epoch*"):
        if old.name not in (weights_name, optimizer_name):
            old.unlink(missing_ok=True)


def last_weights_path(run_dir: Path) -> Path:
    """Weights file of the last finished epoch, as named by ``state.json``."""
    state = load_state(run_dir) or {}
    return run_dir / CHECKPOINT_DIR / str(state.get("weights_file", LAST_WEIGHTS))


def load_state(run_dir: Path) -> dict[str, Any] | None:
    path = run_dir / CHECKPOINT_DIR / STATE_FILE
    if not path.is_file():
        return None
    state: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return state


def restore_checkpoint(run_dir: Path, model: Any, optimizer: Any) -> None:
    """Load last weights and optimizer variables into an already-built model and optimizer."""
    state = load_state(run_dir) or {}
    folder = run_dir / CHECKPOINT_DIR
    model.load_weights(last_weights_path(run_dir))
    optimizer.build(model.trainable_variables)
    with np.load(folder / str(state.get("optimizer_file", OPTIMIZER_FILE)), allow_pickle=False) as data:
        values = [data[f"arr_{i}"] for i in range(len(data.files))]
    if len(values) != len(optimizer.variables):
        raise ValueError("optimizer checkpoint does not match the model")
    for variable, value in zip(optimizer.variables, values, strict=True):
        variable.assign(value)

"""Shared fixtures: offscreen Qt, tiny seeded models, no threads left behind."""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

from orthanc_server import orthanc, pacs_study  # noqa: F401 - fixtures: a real PACS on 127.0.0.1
from tiny_models import write_tiny_weights


@pytest.fixture(scope="session")
def tiny_weights_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with a tiny model's weights and a matching model_config.json (read-only use)."""
    folder = tmp_path_factory.mktemp("tiny_weights")
    write_tiny_weights(folder)
    return folder


@pytest.fixture(autouse=True)
def isolated_user_folders(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the cache, logs and settings files tests write out of the real user folders."""
    if not os.environ.get("NEUROREVIEW_HOME"):
        monkeypatch.setenv("NEUROREVIEW_HOME", str(tmp_path_factory.getbasetemp() / "neuroreview_home"))


@pytest.fixture(autouse=True)
def no_leaked_threads():
    """Fail a test that leaves a Python thread running (napari's habit)."""
    before = set(threading.enumerate())
    yield
    decoder = sys.modules.get("core.imaging.isolated_decoder")
    if decoder is not None:  # the decoder helper process (and its manager thread) lives until stopped
        decoder.shutdown_helper()
    leaked = [t for t in threading.enumerate() if t not in before and t.is_alive() and not t.daemon]
    for thread in leaked:
        thread.join(timeout=5)
    still = [t.name for t in leaked if t.is_alive()]
    assert not still, f"test left threads running: {still}"

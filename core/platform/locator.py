"""One place that finds bundled files: from a checkout, an installed package or a PyInstaller build."""

from __future__ import annotations

import os
import sys
from pathlib import Path

WEIGHTS_ENV = "NEUROREVIEW_WEIGHTS_DIR"


def install_root() -> Path:
    """Folder that holds ``weights/`` and ``resources/``.

    Frozen app: PyInstaller's ``sys._MEIPASS``; checkout or editable install: the repository root
    (the folder that holds the ``core`` package).
    """
    frozen = getattr(sys, "_MEIPASS", None)
    if frozen:
        return Path(frozen)
    return Path(__file__).resolve().parents[2]  # core/platform/locator.py


def weights_dir() -> Path:
    """The weights folder: ``$NEUROREVIEW_WEIGHTS_DIR`` when set, else the bundled ``weights/``."""
    override = os.environ.get(WEIGHTS_ENV)
    return Path(override) if override else install_root() / "weights"


def resource_path(*parts: str) -> Path:
    """Path of a bundled resource, e.g. ``resource_path("sample_study")``."""
    return install_root().joinpath("resources", *parts)

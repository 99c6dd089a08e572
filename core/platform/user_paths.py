"""Where NeuroReview writes user files: platform locations only, never the install or image folders."""

from __future__ import annotations

import os
from pathlib import Path

APP_NAME = "NeuroReview"
HOME_ENV = "NEUROREVIEW_HOME"  # tests and portable installs: one folder for logs, audit and cache


def _base(kind: str) -> Path:
    override = os.environ.get(HOME_ENV)
    if override:
        return Path(override) / kind
    import platformdirs

    dirs = platformdirs.PlatformDirs(APP_NAME, appauthor=False)
    paths = {"logs": dirs.user_log_path, "data": dirs.user_data_path, "cache": dirs.user_cache_path}
    return paths.get(kind, dirs.user_config_path)


def log_dir() -> Path:
    return _base("logs")


def data_dir() -> Path:
    return _base("data")


def cache_dir() -> Path:
    return _base("cache")


def config_dir() -> Path:
    return _base("config")


def keep_keras_home_private() -> None:
    """Point Keras' own folder (it writes ``keras.json`` on import) at our config folder, not ``~/.keras``.

    Call before the first ``import keras``; an explicit ``KERAS_HOME`` is respected.
    """
    os.environ.setdefault("KERAS_HOME", str(config_dir() / "keras"))

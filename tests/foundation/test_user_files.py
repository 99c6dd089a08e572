"""Loading a model writes nothing into the user's home folder (Keras' keras.json included)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SCRIPT = """
from core.model.network import Architecture, build_vgg19
build_vgg19(Architecture(input_size=16, widths=(2, 2, 4, 4, 4)))
"""


def test_keras_writes_under_the_neuroreview_config_folder(tmp_path: Path) -> None:
    home, nr_home = tmp_path / "home", tmp_path / "nr"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "KERAS_HOME"}
    env.update(HOME=str(home), NEUROREVIEW_HOME=str(nr_home), TF_CPP_MIN_LOG_LEVEL="3")
    subprocess.run([sys.executable, "-c", SCRIPT], env=env, check=True, timeout=300, capture_output=True)
    assert not (home / ".keras").exists()
    assert (nr_home / "config" / "keras" / "keras.json").is_file()

"""GUI figures for the benchmark harness: start-up, first prediction on screen, event-loop stalls.

``run()`` starts a fresh interpreter (offscreen Qt) that launches the real main window on the
bundled sample study and reports, measured from the moment the child process was spawned:

* ``window_visible_s``: the main window is shown and exposed;
* ``first_prediction_s``: the first classification of the slice on screen is displayed;
* ``max_stall_model_load_ms`` / ``max_stall_series_ms``: the longest gap between ticks of a 10 ms
  QTimer (:class:`desktop_app.watchdog.StallWatchdog`) while the model loads and while the whole
  series is classified.

With real weights in ``weights/`` those are used; otherwise a tiny untrained model is written to
a temporary folder and the result says so (``weights: "tiny-untrained"``).
Run directly: ``python -m bench.gui_bench``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

TIMEOUT_S = 300


def _write_tiny_weights(folder: Path) -> None:
    """An untrained width-reduced VGG19 (16 px input) with a matching config."""
    import keras

    from core.model import Architecture, build_vgg19
    from core.model_config import ModelConfig, sha256_file

    keras.utils.set_random_seed(0)
    arch = Architecture(input_size=16, channels=1, widths=(2, 2, 4, 4, 4), dropout=0.0)
    folder.mkdir(parents=True, exist_ok=True)
    name = "tiny.weights.h5"
    build_vgg19(arch).save_weights(folder / name)
    ModelConfig(
        architecture=arch, weights_file=name, weights_sha256=sha256_file(folder / name), model_version="tiny-untrained"
    ).save(folder)


def _child(spawned: float, weights: str, out: str) -> int:
    """Runs in the child process: launch the window and record the timings into ``out``."""
    from PySide6.QtCore import QSettings, QTimer

    from desktop_app.main import create_application

    app = create_application([sys.argv[0]])
    from desktop_app.main_window import MainWindow, sample_study_path
    from desktop_app.settings import AppSettings
    from desktop_app.watchdog import StallWatchdog

    settings = AppSettings(
        QSettings(str(Path(tempfile.mkdtemp(prefix="nr-settings-")) / "settings.ini"), QSettings.Format.IniFormat)
    )
    settings.auto_classify = True
    window = MainWindow(weights_folder=Path(weights), settings=settings)
    window.show()
    app.processEvents()
    figures: dict[str, Any] = {"window_visible_s": time.time() - spawned}
    watchdog = StallWatchdog()
    watchdog.start()

    def finish(error: str = "") -> None:
        if error:
            figures["error"] = error
        Path(out).write_text(json.dumps(figures), encoding="utf-8")
        window.close()
        app.quit()

    def on_model(state: str) -> None:
        if state in ("ready", "failed"):
            figures["max_stall_model_load_ms"] = round(watchdog.max_gap_ms, 1)
            figures["model_state"] = state
            if state == "failed":
                finish(f"model failed to load: {window.model_error}")

    def on_prediction(_prediction: object) -> None:
        if "first_prediction_s" in figures:
            return
        figures["first_prediction_s"] = time.time() - spawned
        figures["device"] = window.model_info.device if window.model_info else ""
        figures["precision"] = window.model_info.precision if window.model_info else ""
        watchdog.start()
        window.classify_series()

    def on_series(_summary: object) -> None:
        figures["max_stall_series_ms"] = round(watchdog.max_gap_ms, 1)
        figures["series_slices"] = len(window.series.slices) if window.series else 0
        finish()

    window.model_state_changed.connect(on_model)
    window.prediction_shown.connect(on_prediction)
    window.series_run_finished.connect(on_series)
    QTimer.singleShot(0, lambda: window.open_paths([sample_study_path()]))
    QTimer.singleShot(TIMEOUT_S * 1000, lambda: finish("timed out"))
    return int(app.exec())


def run() -> dict[str, Any]:
    """Measure the GUI figures in a fresh process; returns a flat dict for the harness."""
    from core.locator import weights_dir
    from core.model_config import CONFIG_FILENAME

    root = Path(__file__).resolve().parent.parent
    with tempfile.TemporaryDirectory(prefix="nr-gui-bench-") as tmp:
        real = weights_dir()
        if (real / CONFIG_FILENAME).is_file():
            weights, kind = real, "bundled"
        else:
            weights, kind = Path(tmp) / "weights", "tiny-untrained"
            _write_tiny_weights(weights)
        out = Path(tmp) / "figures.json"
        env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "TF_CPP_MIN_LOG_LEVEL": "2"}
        spawned = time.time()
        args = [sys.executable, "-m", "bench.gui_bench", "--child", repr(spawned), str(weights), str(out)]
        proc = subprocess.run(args, cwd=root, env=env, capture_output=True, text=True, timeout=TIMEOUT_S + 60)
        figures: dict[str, Any] = json.loads(out.read_text()) if out.is_file() else {}
        if not out.is_file():
            figures["error"] = f"child exited {proc.returncode}: {proc.stderr[-800:]}"
    figures["weights"] = kind
    figures["targets"] = "window <= 1.0 s, first prediction <= 10 s, stall <= 100 ms"
    return figures


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        sys.exit(_child(float(sys.argv[2]), sys.argv[3], sys.argv[4]))
    print(json.dumps(run(), indent=2))

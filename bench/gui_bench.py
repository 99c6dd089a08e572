"""GUI figures for the benchmark harness: start-up, first prediction on screen, event-loop stalls.

``run()`` starts fresh interpreters (offscreen Qt), each launching the real main window on the
bundled sample study and reports, measured from the moment the child process was spawned:

* ``window_visible_s``: the main window is shown and exposed;
* ``first_prediction_s``: the first classification of the slice on screen is displayed;
* ``max_stall_model_load_ms`` / ``max_stall_series_ms``: the longest gap between ticks of a 10 ms
  QTimer (:class:`desktop_app.watchdog.StallWatchdog`) while the model loads and while the whole
  series is classified.

The start-up figures are medians of ``STARTUP_RUNS`` launches: one launch on a shared machine varies by
more than the 1 s window target's margin.

With real weights in ``weights/`` (or ``$NEUROREVIEW_WEIGHTS_DIR``) those are used; otherwise a
tiny untrained model is written to a temporary folder and the result says so
(``weights: "tiny-untrained"``).
Run directly: ``python -m bench.gui_bench``.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

TIMEOUT_S = 300
STARTUP_RUNS = 5
STARTUP_MEDIANS = ("window_visible_s", "first_prediction_s", "model_load_s")


def _write_tiny_weights(folder: Path) -> None:
    """An untrained width-reduced VGG19 (16 px input) with a matching config."""
    import keras

    from core.model.model_config import ModelConfig, sha256_file
    from core.model.network import Architecture, build_vgg19

    keras.utils.set_random_seed(0)
    arch = Architecture(input_size=16, channels=1, widths=(2, 2, 4, 4, 4), dropout=0.0)
    folder.mkdir(parents=True, exist_ok=True)
    name = "tiny.weights.h5"
    build_vgg19(arch).save_weights(folder / name)
    ModelConfig(
        architecture=arch, weights_file=name, weights_sha256=sha256_file(folder / name), model_version="tiny-untrained"
    ).save(folder)


def _child(spawned: float, weights: str, out: str, watch: bool) -> int:
    """Runs in the child process: launch the window and record the timings into ``out``.

    ``watch`` runs the 10 ms stall watchdog; its ticks compete with the model load for the GIL,
    so start-up times are taken from a run without it.
    """
    from PySide6.QtCore import QTimer

    from desktop_app.main import create_application

    app = create_application([sys.argv[0]])
    from desktop_app.main_window import MainWindow, sample_study_path
    from desktop_app.settings import AppSettings
    from desktop_app.watchdog import StallWatchdog

    settings = AppSettings.in_folder(tempfile.mkdtemp(prefix="nr-settings-"))
    settings.auto_classify = True
    window = MainWindow(weights_folder=Path(weights), settings=settings)
    window.show()
    app.processEvents()
    figures: dict[str, Any] = {"window_visible_s": time.time() - spawned}
    watchdog = StallWatchdog()
    if watch:
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
        info = window.model_info
        if info is not None:
            figures["device"], figures["precision"] = info.device, info.precision
            figures["model"] = f"{info.config.model_name} {info.config.model_version} ({info.sha256[:12]})"
            figures["model_load_s"] = round(info.load_seconds, 2)
        if not watch:
            finish()
            return
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


def _spawn(root: Path, weights: Path, out: Path, watch: bool) -> dict[str, Any]:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "TF_CPP_MIN_LOG_LEVEL": "2"}
    spawned = time.time()
    args = [sys.executable, "-m", "bench.gui_bench", "--child", repr(spawned), str(weights), str(out), str(int(watch))]
    proc = subprocess.run(args, cwd=root, env=env, capture_output=True, text=True, timeout=TIMEOUT_S + 60)
    if not out.is_file():
        return {"error": f"child exited {proc.returncode}: {proc.stderr[-800:]}"}
    result: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    return result


def _median_launch(launches: list[dict[str, Any]]) -> dict[str, Any]:
    """The first launch's record with each start-up time replaced by its median over the launches that had it."""
    figures = dict(launches[0])
    for key in STARTUP_MEDIANS:
        values = [float(launch[key]) for launch in launches if isinstance(launch.get(key), (int, float))]
        if values:
            figures[key] = statistics.median(values)
    figures["startup_launches"] = len(launches)
    return figures


def run() -> dict[str, Any]:
    """Measure the GUI figures in fresh processes; returns a flat dict for the harness."""
    from core.model.model_config import CONFIG_FILENAME
    from core.platform.locator import weights_dir

    root = Path(__file__).resolve().parent.parent
    with tempfile.TemporaryDirectory(prefix="nr-gui-bench-") as tmp:
        real = weights_dir()
        if (real / CONFIG_FILENAME).is_file():
            weights, kind = real, str(real)
        else:
            weights, kind = Path(tmp) / "weights", "tiny-untrained"
            _write_tiny_weights(weights)
        launches = [_spawn(root, weights, Path(tmp) / f"startup{i}.json", watch=False) for i in range(STARTUP_RUNS)]
        stalls = _spawn(root, weights, Path(tmp) / "stalls.json", watch=True)
    figures = {k: v for k, v in _median_launch(launches).items() if k != "max_stall_model_load_ms"}
    for key in ("max_stall_model_load_ms", "max_stall_series_ms", "series_slices", "error"):
        if key in stalls:
            figures[key if key != "error" else "stall_run_error"] = stalls[key]
    figures["weights"] = kind
    figures["targets"] = "window <= 1.0 s, first prediction <= 10 s, stall <= 100 ms"
    return figures


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        sys.exit(_child(float(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5] == "1"))
    print(json.dumps(run(), indent=2))

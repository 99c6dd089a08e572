"""Documentation screenshot: the main window on the sample study with a classified series and a heatmap.

Usage (under a real or virtual X server, e.g. ``xvfb-run -s "-screen 0 1920x1080x24"``)::

    python -m desktop_app.screenshot docs/screenshot.png [--weights DIR] [--size 1920x1080]

It runs the real application: opens the bundled sample study, classifies the whole series,
jumps to the most suspicious slice, waits for its prediction and heatmap, then saves
``QWidget.grab()`` of the main window.  Settings go to a temporary folder, not the user's.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--weights", type=Path, default=None)
    parser.add_argument("--size", default="1920x1080")
    parser.add_argument("--timeout", type=int, default=300, help="seconds before giving up")
    args = parser.parse_args(argv)
    width, height = (int(v) for v in args.size.lower().split("x"))

    from PySide6.QtCore import QSettings, QTimer

    from desktop_app.main import create_application

    app = create_application([sys.argv[0]])
    from desktop_app.main_window import MainWindow, sample_study_path
    from desktop_app.settings import AppSettings

    settings = AppSettings(
        QSettings(str(Path(tempfile.mkdtemp(prefix="nr-settings-")) / "settings.ini"), QSettings.Format.IniFormat)
    )
    settings.auto_classify = True
    window = MainWindow(weights_folder=args.weights, settings=settings)
    window.resize(width, height)
    window.move(0, 0)
    window.show()
    status: dict[str, int | str] = {"code": 1, "stage": "opening"}

    def save() -> None:
        app.processEvents()
        args.out.parent.mkdir(parents=True, exist_ok=True)
        ok = window.grab().save(str(args.out))
        status["code"] = 0 if ok else 1
        print(f"saved {args.out} ({window.width()}x{window.height()})" if ok else f"could not write {args.out}")
        window.close()
        app.quit()

    def on_prediction(_prediction: object) -> None:
        if status["stage"] == "first":
            status["stage"] = "series"
            window.classify_series()
        elif status["stage"] == "jumped":
            status["stage"] = "done"
            QTimer.singleShot(300, save)

    def on_series(summary: object) -> None:
        status["stage"] = "jumped"
        if window.summary is not None and window.index != window.summary_slice:
            window.jump_to_most_suspicious()
        else:
            window.classify_current(force=True)

    def on_model(state: str) -> None:
        if state == "failed":
            print(f"model unavailable: {window.model_error}", file=sys.stderr)
            window.close()
            app.quit()

    def timeout() -> None:
        print(f"timed out at stage {status['stage']}", file=sys.stderr)
        window.close()
        app.quit()

    window.prediction_shown.connect(on_prediction)
    window.series_run_finished.connect(on_series)
    window.model_state_changed.connect(on_model)
    status["stage"] = "first"
    QTimer.singleShot(0, lambda: window.open_paths([sample_study_path()]))
    QTimer.singleShot(args.timeout * 1000, timeout)
    app.exec()
    return int(status["code"])


if __name__ == "__main__":
    sys.exit(main())

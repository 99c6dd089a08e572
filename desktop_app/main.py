"""``neuroreview [PATH ...]``: start the review workstation.

The window is shown before anything imports TensorFlow; the model loads in a worker thread.
With no path the study opened last reopens when its files are still there, else the bundled demo
study (``--no-sample`` starts empty).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from PySide6.QtWidgets import QApplication

    from desktop_app.settings import AppSettings

APP_DESCRIPTION = "NeuroReview brain-MRI review workstation (research use only - not for diagnostic use)"


def build_parser() -> argparse.ArgumentParser:
    """The command line; other entry points (e.g. a self-test) add their options here."""
    parser = argparse.ArgumentParser(prog="neuroreview", description=APP_DESCRIPTION)
    parser.add_argument("paths", nargs="*", type=Path, help="DICOM/PNG/JPEG files, folders or DICOMDIRs to open")
    parser.add_argument("--no-sample", action="store_true", help="start empty (no last study, no demo)")
    parser.add_argument("--weights", type=Path, default=None, help="weights folder (default: bundled, or "
                        "$NEUROREVIEW_WEIGHTS_DIR)")  # fmt: skip
    parser.add_argument("--self-test", action="store_true", help="check this installation offscreen (weights, "
                        "decoders, classification, report), print one line per check and exit")  # fmt: skip
    parser.add_argument("--screenshot", type=Path, default=None, metavar="FILE", help="open PATHs into the layout "
                        "(one series per viewport), wait for the images and the AI prediction, save a PNG "
                        "of the window and exit")  # fmt: skip
    parser.add_argument("--layout", default="1x1", metavar="RxC", help="with --screenshot: 1x1, 1x2, 2x1 or 2x2")
    parser.add_argument("--size", default="1600x1000", metavar="WxH", help="with --screenshot: window size")
    parser.add_argument("--mpr", action="store_true", help="with --screenshot: the first series and its "
                        "axial, sagittal and coronal reformats in 2x2")  # fmt: skip
    return parser


def create_application(argv: Sequence[str]) -> QApplication:
    """The QApplication with NeuroReview's organisation/application names (QSettings uses them)."""
    from PySide6.QtWidgets import QApplication

    from desktop_app.settings import APPLICATION, ORGANIZATION

    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication(list(argv))
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationName(APPLICATION)
    app.setApplicationDisplayName(APPLICATION)
    from PySide6.QtGui import QIcon

    from core.platform.locator import resource_path

    icon = resource_path("icons", "neuroreview.svg")
    if icon.is_file():
        app.setWindowIcon(QIcon(str(icon)))
    return app


def last_study_paths(settings: AppSettings) -> list[Path]:
    """The last study's paths that still exist (empty when none does: then the demo opens)."""
    return [path for path in map(Path, settings.last_study) if path.exists()]


def start_with(args: argparse.Namespace, settings: AppSettings) -> list[Path] | None:
    """What the window opens at start: the given paths, else the last study (still there), else None
    for the demo study; ``--no-sample`` without paths opens nothing (``[]``)."""
    if args.paths:
        return list(args.paths)
    if args.no_sample:
        return []
    return last_study_paths(settings) or None


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    if args.self_test:
        from desktop_app.self_test import run_self_test

        return run_self_test(args.weights)
    if args.screenshot is not None:
        from desktop_app.scripted_screenshot import run

        return run(args.paths, args.screenshot, args.layout, args.size, args.mpr, args.weights)
    from core.platform.app_logging import configure_logging

    with contextlib.suppress(OSError):  # logs under the platform log folder; never fatal
        configure_logging()
    app = create_application([sys.argv[0]])
    from desktop_app.main_window import MainWindow

    window = MainWindow(weights_folder=args.weights)
    window.show()
    paths = start_with(args, window.settings)
    if paths is None:
        window.defer(window.open_sample_study)
    elif paths:
        window.defer(lambda: window.open_paths(paths))
    return int(app.exec())


if __name__ == "__main__":
    import multiprocessing

    multiprocessing.freeze_support()  # the packaged app's decoder helper process starts through here
    sys.exit(main())

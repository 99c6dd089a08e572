"""A full NeuroReview session in one process, with every network call blocked and recorded.

Run by ``test_privacy.py`` as ``python session_run.py SRC WEIGHTS OUT REPORT``: installs the network
guard first (a Python audit hook plus patched ``socket`` functions), then imports TensorFlow, opens
and renders every image (core.imaging), classifies (core.model.classifier), exports (core.export and
``neuroreview-classify`` with --out/--heatmaps/--pdf/--dicom-out), and drives the review window
offscreen (open, classify slice and series, close).  Writes a JSON report of what it did and every
network attempt.  Not a test module itself.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
import traceback
from pathlib import Path
from typing import Any

ATTEMPTS: list[str] = []
_NETWORK_EVENTS = {
    "socket.connect",
    "socket.getaddrinfo",
    "socket.gethostbyname",
    "socket.gethostbyaddr",
    "socket.getnameinfo",
    "socket.sendto",
    "socket.sendmsg",
    "socket.bind",
}


class NetworkBlocked(OSError):
    """Raised instead of any network operation during the session."""


LOOPBACK_PROBES: list[str] = []


def _is_local_probe(event: str, args: tuple[Any, ...]) -> bool:
    """A bind to a loopback or Unix address with no traffic (urllib3 probes IPv6 support at import)."""
    if event != "socket.bind" or len(args) < 2:
        return False
    address = args[1]
    host = address[0] if isinstance(address, tuple) else address
    return isinstance(host, (str, bytes)) and (os.fsdecode(host) in ("::1", "127.0.0.1", "") or "/" in str(host))


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if event not in _NETWORK_EVENTS:
        return
    if _is_local_probe(event, args):
        LOOPBACK_PROBES.append(f"{event} {args[1:]}")
        return
    ATTEMPTS.append(f"{event} {args[1:] if len(args) > 1 else ''}")
    raise NetworkBlocked(f"network blocked by the reliability test: {event}")


def _blocked(name: str) -> Any:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        ATTEMPTS.append(f"{name} {args!r}")
        raise NetworkBlocked(f"network blocked by the reliability test: {name}")

    return refuse


def install_guard() -> None:
    sys.addaudithook(_audit)
    socket.socket.connect = _blocked("socket.connect")  # type: ignore[method-assign]
    socket.socket.connect_ex = _blocked("socket.connect_ex")  # type: ignore[method-assign]
    socket.create_connection = _blocked("socket.create_connection")
    socket.getaddrinfo = _blocked("socket.getaddrinfo")


def core_session(src: Path, weights: Path, out: Path, done: list[str]) -> None:
    import logging

    import tensorflow  # noqa: F401 - its import is part of the session

    from core.export import write_results_csv, write_results_json, write_view_png
    from core.export.records import SliceResult
    from core.export.tables import result_rows
    from core.imaging import PixelStore, open_paths
    from core.model.classifier import Classifier
    from core.platform.app_logging import configure_logging

    configure_logging(level=logging.DEBUG)
    done.append("tensorflow imported")
    scan = open_paths([src])
    store = PixelStore()
    refs = scan.all_slices()
    rendered = [store.model_rendering(ref) for ref in refs]
    for ref in refs:
        store.display(ref)
    done.append(f"opened {len(refs)} slices")
    classifier = Classifier.from_folder(weights)
    predictions = classifier.predict(rendered, heatmap=True)
    done.append(f"classified {len(predictions)} slices")
    results = [SliceResult.from_ref(ref, p) for ref, p in zip(refs, predictions, strict=True)]
    rows = result_rows(results)
    sources = [ref.path for ref in refs]
    write_results_csv(out / "core" / "results.csv", rows, sources=sources)
    write_results_json(out / "core" / "results.json", rows, sources=sources)
    write_view_png(out / "core" / "view.png", store.display(refs[0]), sources=sources)
    done.append("core exports written")


def cli_session(src: Path, weights: Path, out: Path, done: list[str]) -> None:
    from core.cli.classify import build_parser, main

    args = [str(src), "--weights", str(weights), "--quiet", "--out", str(out / "cli" / "rows.jsonl")]
    args += ["--heatmaps", str(out / "cli" / "heatmaps")]
    help_text = build_parser().format_help()
    if "--pdf" in help_text:
        args += ["--pdf", str(out / "cli" / "report.pdf")]
    if "--dicom-out" in help_text:
        args += ["--dicom-out", str(out / "cli" / "dicom")]
    status = main(args)
    if status != 0:
        raise RuntimeError(f"neuroreview-classify exited with {status}")
    done.append("cli classified and exported")


def gui_session(src: Path, weights: Path, out: Path, done: list[str]) -> None:
    from PySide6.QtWidgets import QApplication

    from desktop_app.main_window import MainWindow
    from desktop_app.settings import AppSettings

    app = QApplication.instance() or QApplication([])

    def wait_for(predicate: Any, seconds: float = 120.0) -> None:
        deadline = time.monotonic() + seconds
        while not predicate():
            if time.monotonic() > deadline:
                raise TimeoutError("the window did not get there in time")
            app.processEvents()
            time.sleep(0.01)

    window = MainWindow(weights_folder=weights, settings=AppSettings.in_folder(out / "gui"))
    window.show()
    finished: list[object] = []
    shown: list[object] = []
    window.series_run_finished.connect(finished.append)
    window.prediction_shown.connect(shown.append)
    window.open_paths([src])
    wait_for(lambda: window.model_state in ("ready", "failed") and window.series is not None)
    if window.model_state != "ready":
        raise RuntimeError(f"model failed in the GUI: {window.model_error}")
    window.classify_current(force=True)
    wait_for(lambda: bool(shown))
    window.classify_series()
    wait_for(lambda: bool(finished))
    exported: list[object] = []
    failed: list[str] = []
    window.export_finished.connect(exported.append)
    window.export_failed.connect(failed.append)
    targets = {"pdf": "report.pdf", "png": "view.png", "csv": "results.csv", "json": "results.json", "dicom": "dicom"}
    for kind, name in targets.items():
        window.export(kind, out / "gui_exports" / name)  # type: ignore[arg-type]
        wait_for(lambda: bool(exported or failed))
        if failed:
            raise RuntimeError(f"GUI export {kind} failed: {failed[0]}")
        exported.clear()
    window.close()
    app.processEvents()
    done.append("gui opened, classified slice and series, exported pdf/png/csv/json/dicom, closed")


def main(argv: list[str]) -> int:
    src, weights, out, report = (Path(a) for a in argv)
    install_guard()
    done: list[str] = []
    error = ""
    try:
        core_session(src, weights, out, done)
        cli_session(src, weights, out, done)
        gui_session(src, weights, out, done)
    except BaseException:  # the report must be written whatever happened
        error = traceback.format_exc()
    result = {"done": done, "network_attempts": ATTEMPTS, "loopback_probes": LOOPBACK_PROBES, "error": error}
    report.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    sys.exit(main(sys.argv[1:]))

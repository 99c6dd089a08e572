"""``neuroreview --self-test``: check an installation end to end, offscreen, without touching user files.

One line per check, ``PASS <check>: <detail>`` or ``FAIL <check>: <reason>``, in this order:

* ``main window``: the Qt window is created, exposed and painted offscreen (Qt plugins present);
* ``weights integrity``: ``model_config.json`` reads and the weights file matches its SHA-256;
* ``decode <transfer syntax>``: each file listed in ``resources/selftest/manifest.json`` decodes
  through :class:`core.imaging.PixelStore` to the values of its uncompressed reference (exactly for
  lossless syntaxes, within the listed error limits for lossy ones) and renders for the model;
* ``classify sample study``: every slice of ``resources/sample_study`` gets calibrated
  probabilities and a saliency heatmap from :class:`core.model.classifier.Classifier`;
* ``model helper process``: the helper process the workstation loads the model in
  (:mod:`core.model.classifier_process`) starts (in the frozen application too) and gives the
  same probabilities for the first sample slice;
* ``report``: a PDF report of that series (:func:`core.export.write_pdf_report`) is written to
  the temporary folder;
* ``no network``: no Python-level socket connection or name lookup was attempted (an audit hook
  watches and refuses them while the self-test runs; in this process, where the classify check
  runs the same model code the helper process runs).

For its duration ``NEUROREVIEW_HOME``, ``KERAS_HOME``, the XDG folders and QSettings point at a
temporary folder that is deleted afterwards.  Bundled files are found through
:mod:`core.platform.locator`, so the same code checks a checkout and the frozen application.
Exit status 0 only when every check passed.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import numpy as np

from core.platform.locator import WEIGHTS_ENV, resource_path, weights_dir

if TYPE_CHECKING:  # pragma: no cover
    from core.imaging import PixelStore, SliceRef
    from core.model.classifier import Classifier
    from core.model.model_config import ModelConfig
    from core.model.prediction import Prediction

SELFTEST_FOLDER = "selftest"
MANIFEST = "manifest.json"
REPORT_NAME = "neuroreview-selftest-report.pdf"
WINDOW_TIMEOUT_S = 20.0
_ISOLATED_DIRS = ("XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME")


class SelfTestError(RuntimeError):
    """A check found something wrong; the message is the reason printed after ``FAIL``."""


@dataclass(frozen=True)
class CheckResult:
    """Outcome of one check."""

    name: str
    passed: bool
    detail: str

    @property
    def line(self) -> str:
        """``PASS name: detail`` or ``FAIL name: detail``."""
        return f"{'PASS' if self.passed else 'FAIL'} {self.name}: {self.detail}"


@dataclass
class _State:
    """What earlier checks hand to later ones."""

    tmp: Path
    weights: Path
    weights_source: str
    store: PixelStore
    config: ModelConfig | None = None
    slices: list[SliceRef] = field(default_factory=list)
    predictions: list[Prediction] = field(default_factory=list)
    network_attempts: list[str] = field(default_factory=list)


# -- isolation ------------------------------------------------------------------------------------
@contextlib.contextmanager
def _isolated_environment(tmp: Path) -> Iterator[None]:
    """Point every user-file location at ``tmp`` (env vars restored on exit) and force offscreen Qt."""
    values = {
        "NEUROREVIEW_HOME": str(tmp / "home"),
        "KERAS_HOME": str(tmp / "keras"),
        "QT_QPA_PLATFORM": "offscreen",
        **{name: str(tmp / name.lower()) for name in _ISOLATED_DIRS},
    }
    saved = {name: os.environ.get(name) for name in [*values, "TF_CPP_MIN_LOG_LEVEL"]}
    os.environ.update(values)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


_network_log: list[str] | None = None  # set while a self-test runs; audit hooks cannot be removed


def _audit(event: str, args: tuple[Any, ...]) -> None:
    """Record and refuse Python-level network use while a self-test runs."""
    log = _network_log
    if log is None:
        return
    if event == "socket.connect" and getattr(args[0], "family", None) in (socket.AF_INET, socket.AF_INET6):
        log.append(f"connect to {args[1]!r}")
        raise PermissionError("network connection refused by the NeuroReview self-test")
    if event == "socket.getaddrinfo":
        log.append(f"name lookup of {args[0]!r}")
        raise PermissionError("name lookup refused by the NeuroReview self-test")


_hook_installed = False


@contextlib.contextmanager
def _watch_network(log: list[str]) -> Iterator[None]:
    global _hook_installed, _network_log
    if not _hook_installed:
        sys.addaudithook(_audit)
        _hook_installed = True
    _network_log = log
    try:
        yield
    finally:
        _network_log = None


def _process_age_s() -> float | None:
    """Seconds since this process started (Linux ``/proc``), else None."""
    try:
        fields = Path("/proc/self/stat").read_text(encoding="ascii").rsplit(")", 1)[1].split()
        uptime = float(Path("/proc/uptime").read_text(encoding="ascii").split()[0])
        return uptime - int(fields[19]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, AttributeError):
        return None


# -- checks ---------------------------------------------------------------------------------------
def check_main_window(state: _State) -> str:
    """Create the main window offscreen with settings in the temporary folder, show, paint, close."""
    started = time.perf_counter()
    from PySide6.QtCore import QSettings

    from desktop_app.main import create_application

    app = create_application([sys.argv[0]])
    settings_dir = str(state.tmp / "settings")
    for fmt in (QSettings.Format.NativeFormat, QSettings.Format.IniFormat):
        for scope in (QSettings.Scope.UserScope, QSettings.Scope.SystemScope):
            QSettings.setPath(fmt, scope, settings_dir)
    from desktop_app.main_window import MainWindow
    from desktop_app.settings import AppSettings

    store = QSettings(str(state.tmp / "settings" / "NeuroReview.ini"), QSettings.Format.IniFormat)
    window = MainWindow(weights_folder=state.weights, settings=AppSettings(store), load_model=False)
    try:
        window.show()
        deadline = time.monotonic() + WINDOW_TIMEOUT_S
        while not (window.windowHandle() is not None and window.windowHandle().isExposed()):
            app.processEvents()
            if time.monotonic() > deadline:
                raise SelfTestError(f"the window was not shown within {WINDOW_TIMEOUT_S:g} s")
        shown = time.perf_counter() - started
        age = _process_age_s()
        picture = window.grab()
        if picture.isNull():
            raise SelfTestError("the window could not be painted")
    finally:
        window.close()
        app.processEvents()
    since = f", {age:.2f} s after launch" if age is not None else ""
    return (
        f"shown and painted ({picture.width()}x{picture.height()}, Qt platform "
        f"'{app.platformName()}') in {shown:.2f} s{since}"
    )


def check_weights(state: _State) -> str:
    """Read the model config and verify the weights file's SHA-256 (nothing is loaded yet)."""
    from core.model.model_config import load_model_config, verified_weights_path

    config = load_model_config(state.weights)
    path = verified_weights_path(state.weights, config)
    state.config = config
    megabytes = path.stat().st_size / 1e6
    return (
        f"{path} ({state.weights_source}, {megabytes:.1f} MB) matches SHA-256 {config.weights_sha256[:16]}... "
        f"of model_config.json; model {config.model_name!r} version {config.model_version!r}"
    )


def _open_single(path: Path) -> SliceRef:
    from core.imaging import open_paths

    scan = open_paths([path])
    if scan.errors:
        raise SelfTestError(f"{path.name}: {scan.errors[0].message}")
    slices = scan.all_slices()
    if len(slices) != 1:
        raise SelfTestError(f"{path.name}: expected one slice, found {len(slices)}")
    return slices[0]


def check_decode(state: _State, entry: dict[str, Any]) -> str:
    """Decode one manifest file and compare it with its uncompressed reference."""
    import pydicom

    path = resource_path(SELFTEST_FOLDER, str(entry["file"]))
    declared = pydicom.dcmread(path, stop_before_pixels=True).file_meta.TransferSyntaxUID
    if declared != entry["transfer_syntax"]:
        raise SelfTestError(f"{path.name} is {declared.name}, the manifest says {entry['name']}")
    ref = _open_single(path)
    values = np.asarray(state.store.modality(ref), dtype=np.float64)
    reference_ref = _open_single(resource_path(SELFTEST_FOLDER, str(entry["reference"])))
    reference = np.asarray(state.store.modality(reference_ref), dtype=np.float64)
    if values.shape != reference.shape:
        raise SelfTestError(f"decoded shape {values.shape} differs from the reference's {reference.shape}")
    error = np.abs(values - reference)
    mean, worst = float(error.mean()), float(error.max())
    mean_limit, max_limit = float(entry["mean_abs_error_limit"]), float(entry["max_abs_error_limit"])
    if mean > mean_limit or worst > max_limit:
        raise SelfTestError(
            f"{path.name} decodes wrongly: mean |error| {mean:.2f} (limit {mean_limit:g}), "
            f"max {worst:g} (limit {max_limit:g})"
        )
    rendered = state.store.model_rendering(ref)
    if rendered.dtype != np.uint8 or rendered.shape != values.shape or int(np.ptp(rendered)) == 0:
        raise SelfTestError(f"{path.name}: the model rendering is empty or has the wrong shape {rendered.shape}")
    accuracy = "identical to the reference" if entry["lossless"] else f"mean |error| {mean:.2f}, max {worst:g}"
    return f"{path.name} ({declared}) {values.shape[1]}x{values.shape[0]}, {accuracy}"


def check_classify(state: _State) -> str:
    """Open the sample study, classify every slice with heatmaps and check the outputs' consistency."""
    from core.imaging import open_paths
    from core.model.classifier import Classifier
    from core.model.series_summary import summarize_series

    if state.config is None:
        raise SelfTestError("not run: the weights did not pass their integrity check")
    folder = resource_path("sample_study")
    scan = open_paths([folder])
    if scan.errors:
        raise SelfTestError(f"{len(scan.errors)} sample file(s) could not be opened: {scan.errors[0].message}")
    slices = scan.all_slices()
    if not slices:
        raise SelfTestError(f"no images found in {folder}")
    rendered = [state.store.model_rendering(ref) for ref in slices]
    classifier: Classifier = Classifier.from_folder(state.weights)
    started = time.perf_counter()
    predictions = classifier.predict(rendered, heatmap=True)
    seconds = time.perf_counter() - started
    if len(predictions) != len(slices):
        raise SelfTestError(f"{len(predictions)} predictions for {len(slices)} slices")
    for index, (prediction, picture) in enumerate(zip(predictions, rendered, strict=True)):
        probabilities = np.asarray(prediction.probabilities)
        if not np.all(np.isfinite(probabilities)) or abs(float(probabilities.sum()) - 1.0) > 1e-3:
            raise SelfTestError(f"slice {index + 1}: probabilities {prediction.probabilities} do not sum to 1")
        heat = prediction.heatmap
        if heat is None or heat.shape != picture.shape or not np.all(np.isfinite(heat)):
            raise SelfTestError(f"slice {index + 1}: no valid heatmap of the slice's size {picture.shape}")
        if prediction.model_sha256 != classifier.sha256:
            raise SelfTestError(f"slice {index + 1}: prediction names another model")
    state.slices, state.predictions = slices, predictions
    summary = summarize_series(predictions)
    first = predictions[0]
    return (
        f"{len(slices)} slices, series label {summary.label!r} (P(tumor) {summary.p_tumor:.3f}), "
        f"{len(predictions)} {first.heatmap_method} heatmaps, {first.device} {first.precision}, "
        f"{1000 * seconds / len(slices):.0f} ms/slice"
    )


def check_model_helper(state: _State) -> str:
    """Start the workstation's model helper process and check it classifies like the check above."""
    from core.model.classifier_process import ClassifierProcess

    if not state.predictions:
        raise SelfTestError("not run: the sample study was not classified")
    rendered = state.store.model_rendering(state.slices[0])
    started = time.perf_counter()
    helper = ClassifierProcess(state.weights)
    try:
        seconds = time.perf_counter() - started
        (prediction,) = helper.predict([rendered])
    finally:
        helper.close()
    expected = np.asarray(state.predictions[0].probabilities)
    difference = float(np.max(np.abs(np.asarray(prediction.probabilities) - expected)))
    if difference > 1e-4:
        raise SelfTestError(f"the helper process's probabilities differ by {difference:.2g} from this process's")
    return f"started and loaded the model in {seconds:.1f} s; same probabilities (max difference {difference:.1g})"


def check_report(state: _State) -> str:
    """Write the PDF report of the classified sample series into the temporary folder."""
    from core.export import AlgorithmInfo, ReportInput, SliceResult, read_header, write_pdf_report
    from core.model.series_summary import summarize_series

    if not state.predictions or state.config is None:
        raise SelfTestError("not run: the sample study was not classified")
    results = [
        SliceResult.from_ref(ref, prediction, read_header(ref.path))
        for ref, prediction in zip(state.slices, state.predictions, strict=True)
    ]
    summary = summarize_series(state.predictions)
    report = ReportInput(
        results=results,
        algorithm=AlgorithmInfo.from_config(state.config),
        key_display=state.store.display(state.slices[summary.key_index]),
        summary=summary,
    )
    target = state.tmp / "report" / REPORT_NAME
    target.parent.mkdir(parents=True, exist_ok=True)
    write_pdf_report(target, report, sources=[str(ref.path) for ref in state.slices])
    data = target.read_bytes()
    if not data.startswith(b"%PDF-") or b"%%EOF" not in data[-1024:]:
        raise SelfTestError(f"{target.name} is not a complete PDF file")
    return f"PDF report ({len(data) / 1024:.0f} KB) written to the temporary folder and removed afterwards"


def check_network(state: _State) -> str:
    """Pass when no network use was seen while the other checks ran."""
    if state.network_attempts:
        raise SelfTestError(f"{len(state.network_attempts)} attempt(s): {'; '.join(state.network_attempts[:3])}")
    return "no socket connection or name lookup was attempted"


# -- runner ---------------------------------------------------------------------------------------
def _run_check(name: str, check: Callable[[], str]) -> CheckResult:
    try:
        return CheckResult(name, True, check())
    except Exception as exc:  # every failure becomes a FAIL line, never a traceback
        reason = str(exc) if isinstance(exc, SelfTestError) else f"{type(exc).__name__}: {exc}"
        return CheckResult(name, False, reason)


def _manifest() -> list[dict[str, Any]]:
    path = resource_path(SELFTEST_FOLDER, MANIFEST)
    files = json.loads(path.read_text(encoding="utf-8"))["files"]
    if not files:
        raise SelfTestError(f"{path} lists no files")
    return list(files)


def _weights_source(weights: Path | None) -> tuple[Path, str]:
    if weights is not None:
        return Path(weights), "--weights"
    if os.environ.get(WEIGHTS_ENV):
        return weights_dir(), f"${WEIGHTS_ENV}"
    return weights_dir(), "bundled"


def _bind(check: Callable[[_State, dict[str, Any]], str], state: _State, entry: dict[str, Any]) -> Callable[[], str]:
    return lambda: check(state, entry)


def run_checks(weights: Path | None, tmp: Path, emit: Callable[[CheckResult], None]) -> list[CheckResult]:
    """Run every check in order inside ``tmp``; ``emit`` receives each result as soon as it is known."""
    from core.imaging import PixelStore

    folder, source = _weights_source(weights)
    state = _State(tmp=tmp, weights=folder, weights_source=source, store=PixelStore(max_megabytes=64))
    results: list[CheckResult] = []

    def record(result: CheckResult) -> None:
        results.append(result)
        emit(result)

    def run(name: str, check: Callable[[], str]) -> None:
        record(_run_check(name, check))

    with _watch_network(state.network_attempts):
        run("main window", lambda: check_main_window(state))
        run("weights integrity", lambda: check_weights(state))
        try:
            entries = _manifest()
        except (OSError, ValueError, KeyError, SelfTestError) as exc:
            record(CheckResult("decode", False, f"the self-test manifest cannot be read: {exc}"))
            entries = []
        for entry in entries:
            run(f"decode {entry.get('name', entry.get('file'))}", _bind(check_decode, state, entry))
        run("classify sample study", lambda: check_classify(state))
        run("model helper process", lambda: check_model_helper(state))
        run("report", lambda: check_report(state))
    run("no network", lambda: check_network(state))
    return results


def run_self_test(weights: Path | None = None, *, out: TextIO | None = None) -> int:
    """Run the self-test, print one line per check and a summary; 0 when every check passed, else 1."""
    stream = out if out is not None else sys.stdout
    started = time.perf_counter()
    print("NeuroReview self-test (research use only - not for diagnostic use)", file=stream, flush=True)
    tmp = Path(tempfile.mkdtemp(prefix="neuroreview-selftest-"))
    try:
        with _isolated_environment(tmp):
            results = run_checks(weights, tmp, lambda r: print(r.line, file=stream, flush=True))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    failed = [r for r in results if not r.passed]
    verdict = "all passed" if not failed else f"{len(failed)} FAILED"
    print(
        f"self-test {verdict}: {len(results)} checks in {time.perf_counter() - started:.1f} s",
        file=stream,
        flush=True,
    )
    return 0 if not failed else 1

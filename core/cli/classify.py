"""``neuroreview-classify``: classify every slice of the files and folders given, without a GUI.

Exit status: 0 when at least one slice was classified, 1 when none was, 2 for usage errors
(including an output location that is refused), 3 when the weights are missing or fail their
integrity check, 4 for an unexpected internal error, 5 when a requested output (``--out``, ``--pdf``,
``--dicom-out``, see :mod:`core.export.cli_outputs`) could not be written, 130 when interrupted.  A file that cannot be
read becomes an error row and never stops the run; no Python traceback reaches the user.

Research use only - not for diagnostic use.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import numpy as np
from numpy.typing import NDArray

from core.cli.args import parse_or_status
from core.cli.rows import FORMATS, RowWriter, error_row, make_writer, skipped_row, slice_row
from core.model.saliency import METHODS
from core.platform.progress import ProgressBar

if TYPE_CHECKING:  # pragma: no cover
    from core.export.cli_outputs import ResultCollector
    from core.imaging import PixelStore, ScanResult, SliceRef
    from core.model.classifier import Classifier
    from core.model.prediction import Prediction

PROG = "neuroreview-classify"
DISCLAIMER = "Research use only - not for diagnostic use."
EXIT_OK, EXIT_NOTHING_CLASSIFIED, EXIT_USAGE, EXIT_WEIGHTS, EXIT_INTERNAL, EXIT_EXPORT = 0, 1, 2, 3, 4, 5
EXIT_INTERRUPTED = 130


class UsageError(Exception):
    """A request that cannot be carried out as given (exit status 2)."""


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Classify every slice of the DICOM/PNG/JPEG files and folders given with the NeuroReview "
        f"VGG19 model (glioma, meningioma, notumor, pituitary). {DISCLAIMER}",
        epilog="Exit status: 0 at least one slice classified, 1 none, 2 usage error, 3 weights missing or "
        "failing their integrity check, 4 internal error, 5 a requested export failed.",
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help="DICOM/PNG/JPEG files, folders (recursive), DICOMDIR")
    parser.add_argument("--format", choices=FORMATS, default="jsonl", help="output format (default: jsonl)")
    parser.add_argument("--out", metavar="FILE", type=Path, help="write rows to FILE instead of standard output")
    parser.add_argument("--batch", metavar="N", type=_positive_int, default=8, help="slices per batch (default: 8)")
    parser.add_argument(
        "--heatmaps",
        metavar="DIR",
        type=Path,
        help="write a saliency overlay PNG per slice into DIR (not a source folder)",
    )
    parser.add_argument(
        "--saliency-maps",
        metavar="DIR",
        type=Path,
        help="write each slice's raw saliency map into DIR (not a source folder): a 16-bit grayscale PNG in the "
        "slice's own pixel grid (0..65535 = 0..1), the float32 .npy and a JSON sidecar naming slice, class and method",
    )
    parser.add_argument(
        "--method",
        choices=METHODS,
        default=None,
        help="saliency method for --heatmaps/--saliency-maps (default: the one the weights config names)",
    )
    parser.add_argument(
        "--heatmap-class",
        metavar="CLASS",
        default=None,
        help="the class the maps explain (default: each slice's predicted class)",
    )
    parser.add_argument(
        "--series-out",
        metavar="FILE",
        type=Path,
        help="write one JSON line per series (the series verdict, its score and key slice) to FILE",
    )
    parser.add_argument("--weights", metavar="DIR", type=Path, help="weights folder (default: the bundled weights)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    from core.export.cli_outputs import add_export_arguments

    add_export_arguments(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status (see the module docstring)."""
    parser = build_parser()
    args = parse_or_status(parser, argv, EXIT_USAGE)
    if isinstance(args, int):
        return args
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with contextlib.suppress(OSError):  # logs under the platform log folder; never fatal
        from core.platform.app_logging import configure_logging

        configure_logging()
    try:
        return _run(args, sys.stdout, sys.stderr)
    except UsageError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"\n{PROG}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # e.g. piped into `head`: stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_NOTHING_CLASSIFIED
    except Exception as exc:  # last resort: a message, never a traceback
        print(f"{PROG}: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_INTERNAL


@contextlib.contextmanager
def _native_stderr_silenced() -> Iterator[None]:
    """Hide what native libraries print on file descriptor 2 (TensorFlow's start-up log lines)."""
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    try:
        sys.stderr.flush()
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.close(devnull)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _load_classifier(weights: Path | None, stderr: TextIO) -> Classifier | None:
    from core.model.classifier import Classifier, ClassifierLoadError
    from core.model.model_config import (
        ModelConfigError,
        WeightsIntegrityError,
        load_model_config,
        verified_weights_path,
    )
    from core.platform.locator import weights_dir

    folder = weights if weights is not None else weights_dir()
    try:
        verified_weights_path(folder, load_model_config(folder))  # fail fast, before TensorFlow is imported
        with _native_stderr_silenced():
            import tensorflow  # noqa: F401  (its import-time log lines are not for the user)
        return Classifier.from_folder(folder)
    except (ModelConfigError, WeightsIntegrityError, ClassifierLoadError) as exc:
        print(f"{PROG}: cannot load the classifier: {exc}", file=stderr)
        return None


def _run(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    from core.export.cli_outputs import check_cli_destinations, cli_identity, exports_requested
    from core.export.destination import check_destination, check_output_folder
    from core.export.errors import DestinationError, ExportError
    from core.export.identity import ExportOptionError
    from core.imaging import open_paths
    from core.platform.audit_events import record_classified, record_exported, record_opened

    classifier = _load_classifier(args.weights, stderr)
    if classifier is None:
        return EXIT_WEIGHTS
    if args.heatmap_class is not None and args.heatmap_class not in classifier.class_names:
        raise UsageError(
            f"--heatmap-class {args.heatmap_class!r} is not one of the model's classes: "
            f"{', '.join(classifier.class_names)}"
        )
    paths = [Path(p) for p in args.paths]
    scan = open_paths(paths)
    refs = scan.all_slices()
    record_opened({ref.path for ref in refs}, slices=len(refs), errors=len(scan.errors), via="cli")
    sources = [p for p in paths if p.is_file()] + sorted({ref.path for ref in refs})
    try:
        out_path = check_destination(args.out, sources, allow_beside_source=True) if args.out else None
        series_path = check_destination(args.series_out, sources, allow_beside_source=True) if args.series_out else None
        if series_path is not None and series_path == out_path:
            raise DestinationError("--series-out and --out name the same file")
        heat_dir = check_output_folder(args.heatmaps, sources) if args.heatmaps else None
        maps_dir = check_output_folder(args.saliency_maps, sources) if args.saliency_maps else None
        check_cli_destinations(args, sources)
        if exports_requested(args):
            cli_identity(args)  # contradicting identity flags are refused before any work
    except (DestinationError, ExportOptionError) as exc:
        raise UsageError(str(exc)) from exc

    print(f"{PROG}: {DISCLAIMER}", file=stderr)
    print(f"{PROG}: {classifier.guard_note}", file=stderr)
    try:
        with _rows_stream(out_path, stdout) as stream:
            job = _classify_all(args, classifier, scan, refs, (heat_dir, maps_dir), stream, stderr)
    except ExportError as exc:  # the rows file could not be written (disk full, folder removed)
        print(f"{PROG}: {exc}", file=stderr)
        return EXIT_EXPORT
    if job.classified:  # audit log: what was classified, by which weights, where
        done = {ref.path for ref in refs if ref.path not in job.failed}
        precision = classifier.precision
        details = {"weights_sha256": classifier.sha256, "device": classifier.device_name, "precision": precision}
        record_classified(done, slices=job.classified, via="cli", **details)
        if out_path is not None:
            record_exported("rows", [out_path], via="cli", format=args.format)
        if heat_dir is not None:
            record_exported("heatmaps", [heat_dir], via="cli")
        if maps_dir is not None:
            record_exported("saliency maps", [maps_dir], via="cli")
    if series_path is not None:
        try:
            _write_series(series_path, scan, job)
        except ExportError as exc:
            print(f"{PROG}: {exc}", file=stderr)
            return EXIT_EXPORT
        record_exported("series", [series_path], via="cli")
    for note in scan.notes:
        print(f"{PROG}: note: {note.path.name}: {note.message}", file=stderr)
    print(f"{PROG}: {summary_line(scan, job)} {DISCLAIMER}", file=stderr)
    if job.collector is not None and job.collector.results:
        return _export(job.collector, args, job, stderr)
    return EXIT_OK if job.classified else EXIT_NOTHING_CLASSIFIED


def summary_line(scan: ScanResult, job: _Job) -> str:
    """Slices classified, and every input file in exactly one of: classified, skipped (no image), failed."""
    failed = {e.path for e in scan.errors} | job.failed
    skipped = {e.path for e in scan.ignored} - failed
    classified = job.classified_files - failed
    total = len(failed | skipped | classified)
    outside = f" {job.outside} classified slice(s) outside the intended use." if job.outside else ""
    return (
        f"{total} input file(s): {job.classified} slice(s) classified from {len(classified)} file(s), "
        f"{len(skipped)} skipped (no image), {len(failed)} failed.{outside}"
    )


def _write_series(path: Path, scan: ScanResult, job: _Job) -> None:
    """The ``--series-out`` file, written whole at the end (replacing an earlier one, like ``--out``)."""
    from core.cli.series_rows import write_series_rows
    from core.export.destination import atomic_output

    with atomic_output(path, replace=True) as tmp, open(tmp, "w", encoding="utf-8") as stream:
        write_series_rows(stream, scan.all_series(), job.predictions)


@contextlib.contextmanager
def _rows_stream(out_path: Path | None, stdout: TextIO) -> Iterator[TextIO]:
    """Stdout, or a file that appears at ``out_path`` only when the run completes.

    The rows go to a hidden temporary file beside ``out_path`` that is renamed over it at the end
    (``--out`` names its file like a shell redirect, so an earlier one is replaced, never truncated),
    so an interrupted or failed run leaves neither a partial file nor a truncated earlier one.
    """
    if out_path is None:
        yield stdout
        return
    from core.export.destination import atomic_output

    with atomic_output(out_path, replace=True) as tmp, open(tmp, "w", encoding="utf-8", newline="") as stream:
        yield stream


def _classify_all(
    args: argparse.Namespace,
    classifier: Classifier,
    scan: ScanResult,
    refs: list[SliceRef],
    folders: tuple[Path | None, Path | None],
    stream: TextIO,
    stderr: TextIO,
) -> _Job:
    """Write the unreadable files' rows, then classify ``refs`` batch by batch with a progress bar."""
    from core.export.cli_outputs import ResultCollector, exports_requested
    from core.imaging import PixelStore

    writer = make_writer(args.format, stream, classifier.class_names)
    for err in scan.errors:
        writer.write(error_row(err.path, err.message, err.error_type))
    for skipped in scan.ignored:
        writer.write(skipped_row(skipped.path, skipped.message))
    collector = ResultCollector() if exports_requested(args) else None
    job = _Job(classifier, PixelStore(max_megabytes=256), writer, folders, args.method, args.batch, collector)
    job.heatmap_class = args.heatmap_class
    progress = ProgressBar(stderr, len(refs), enabled=not args.quiet)
    for start in range(0, len(refs), args.batch):
        job.classify(refs[start : start + args.batch])
        progress.update(start + len(refs[start : start + args.batch]))
    progress.close()
    return job


def _export(collector: ResultCollector, args: argparse.Namespace, job: _Job, stderr: TextIO) -> int:
    """Write the ``--pdf`` / ``--dicom-out`` exports that can be; EXIT_EXPORT with a message for each that fails."""
    from core.export.errors import ExportError

    try:
        outcome = collector.export(args, job.path, job.store, args.method, heatmap_class=args.heatmap_class)
    except ExportError as exc:
        print(f"{PROG}: export failed: {exc}", file=stderr)
        return EXIT_EXPORT
    from core.platform.audit_events import record_exported

    record_exported("pdf/dicom", outcome.written, via="cli")
    if outcome.identity:
        print(f"{PROG}: exports: {outcome.identity}", file=stderr)
    for path in outcome.written:
        print(f"{PROG}: wrote {path}", file=stderr)
    for reason in outcome.skipped:
        print(f"{PROG}: skipped {reason}", file=stderr)
    for reason in outcome.failed:
        print(f"{PROG}: export failed: {reason}", file=stderr)
    return EXIT_EXPORT if outcome.failed else EXIT_OK


class _Job:
    """Reads, classifies and writes one batch of slices at a time."""

    def __init__(
        self,
        classifier: Classifier,
        store: PixelStore,
        writer: RowWriter,
        folders: tuple[Path | None, Path | None],
        method: str | None,
        batch: int,
        collector: ResultCollector | None = None,
    ) -> None:
        from core.model.inference_path import InferencePath

        self.classifier = classifier
        self.store = store
        self.path = InferencePath(classifier, store, batch_size=batch)  # no cache: each slice is classified once
        self.writer = writer
        self.heat_dir, self.maps_dir = folders  # --heatmaps overlays, --saliency-maps raw maps
        self.heatmap_class: str | None = None  # None: each slice's predicted class
        self.method = method
        self.batch = batch
        self.collector = collector
        self.failed: set[Path] = set()
        self.classified_files: set[Path] = set()
        self.classified = 0
        self.outside = 0  # classified slices outside the intended use
        self.predictions: dict[tuple[Path, int], Prediction] = {}  # heatmap-free, for the series verdicts
        self.run_suffix = ""  # heatmap PNGs of this run end with it: a second run into the folder adds files
        if self.heat_dir is not None or self.maps_dir is not None:
            from core.export.naming import short_suffix

            self.run_suffix = short_suffix()

    def classify(self, refs: Sequence[SliceRef]) -> None:
        """Classify one batch through the one inference path; a file that failed once is not read again."""
        from core.model.inference_path import ClassifiedSlice, SliceFailure

        wants_map = self.heat_dir is not None or self.maps_dir is not None
        target: bool | str = (self.heatmap_class or True) if wants_map else False
        todo = [ref for ref in refs if ref.path not in self.failed]
        outcomes = self.path.classify_many(todo, heatmap=target, method=self.method) if todo else []
        for failure in outcomes:  # the batch's unreadable files first, one row per file
            if isinstance(failure, SliceFailure) and failure.ref.path not in self.failed:
                self.failed.add(failure.ref.path)
                self.writer.write(error_row(failure.ref.path, str(failure.error), type(failure.error).__name__))
        for result in outcomes:
            if not isinstance(result, ClassifiedSlice) or result.rendered is None:  # never cached here: always read
                continue
            ref, img, pred = result.ref, result.rendered, result.prediction
            inside = pred.inside_intended_use  # an outside slice gets no heatmap or map: it would explain nothing
            png = self._write_heatmap(ref, img, pred) if self.heat_dir is not None and inside else None
            row = slice_row(ref.path, ref.frame, pred, png)
            if self.maps_dir is not None and inside:
                row["saliency_map"] = str(self._write_map(ref, pred))
            self.writer.write(row)
            plain = replace(pred, heatmap=None, heatmap_class=None, heatmap_method=None)
            self.predictions[(ref.path, ref.frame)] = plain
            if self.collector is not None:  # without the heatmap: the exports recompute the key slice's
                self.collector.add(ref, plain)
            self.classified += 1
            self.outside += 0 if pred.inside_intended_use else 1
            self.classified_files.add(ref.path)

    def _stem(self, ref: SliceRef, pred: Prediction) -> str:
        stem = "".join(c if c.isalnum() or c in "-_" else "_" for c in ref.path.stem)[:60] or "slice"
        return f"{self.classified + 1:05d}_{stem}_f{ref.frame}_{pred.heatmap_class}_{self.run_suffix}"

    def _write_map(self, ref: SliceRef, pred: Prediction) -> Path:
        from core.export.saliency_maps import write_saliency_map

        assert self.maps_dir is not None and pred.heatmap is not None
        return write_saliency_map(
            self.maps_dir,
            self._stem(ref, pred),
            pred.heatmap,
            source=str(ref.path),
            frame=ref.frame,
            class_name=str(pred.heatmap_class),
            method=str(pred.heatmap_method),
            model_sha256=pred.model_sha256,
        )

    def _write_heatmap(self, ref: SliceRef, rendered: NDArray[np.uint8], pred: Prediction) -> Path:
        from PIL import Image
        from PIL.PngImagePlugin import PngInfo

        from core.export.destination import atomic_output
        from core.export.overlay import burn_in_overlay

        assert self.heat_dir is not None
        target = self.heat_dir / f"{self._stem(ref, pred)}.png"
        info = PngInfo()
        info.add_text("Source", f"{ref.path}#{ref.frame}")
        info.add_text("Comment", f"{pred.heatmap_method} for {pred.heatmap_class}; model {pred.model_sha256[:12]}")
        info.add_text("Disclaimer", DISCLAIMER)
        with atomic_output(target) as tmp:
            Image.fromarray(burn_in_overlay(rendered, pred.heatmap)).save(tmp, format="PNG", pnginfo=info)
        return target


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

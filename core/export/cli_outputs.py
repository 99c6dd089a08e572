"""The export flags of ``neuroreview-classify``: ``--pdf``, ``--dicom-out``, ``--deidentify``, ``--attach-to-study``.

The classify command adds the flags with :func:`add_export_arguments`, checks the destinations
before classifying (:func:`check_cli_destinations`), hands each classified slice to a
:class:`ResultCollector` and finally calls :meth:`ResultCollector.export`.  Its JSONL/CSV rows
are unchanged.  Heavy modules (fpdf2, highdicom) are imported only when an export is written.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from core.export.plan import (
    Explainer,
    ExportPlan,
    PlannedOutput,
    PlanProblems,
    PlanSeries,
    Renderer,
    check_outputs,
    write_plan,
)
from core.export.records import AlgorithmInfo, SliceResult, SourceHeaders, group_by_series
from core.imaging.heatmap import HeatmapStyle
from core.model.prediction import Prediction

if TYPE_CHECKING:  # pragma: no cover
    from core.export.identity import ExportIdentity
    from core.imaging import PixelStore, SliceRef
    from core.model.inference_path import InferencePath


def add_export_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the export flags (research use only) to ``parser``."""
    group = parser.add_argument_group("exports (research use only - not for diagnostic use)")
    group.add_argument(
        "--pdf", metavar="FILE", type=Path, help="write a PDF report (one section per series); FILE must be new"
    )
    group.add_argument(
        "--dicom-out",
        metavar="DIR",
        type=Path,
        help="write a DICOM Structured Report and a Secondary Capture of the key slice per DICOM series, named "
        "<patient>_S<series>_SR|SC_<unique>.dcm (existing files are never replaced)",
    )
    group.add_argument(
        "--deidentify",
        action="store_true",
        help="export a de-identified copy (DICOM PS3.15 Basic Application Level Confidentiality Profile; new UIDs, "
        "consistent within the run; a PACS files it as a separate study)",
    )
    group.add_argument(
        "--attach-to-study",
        action="store_true",
        help="attach the DICOM results to the original study (same Study Instance UID, patient and study details "
        "copied) to send them back to the PACS; the default unless --deidentify is given",
    )
    group.add_argument(
        "--pdf-identifiers",
        action="store_true",
        help="print patient and study identifiers in the PDF (off by default; ignored with --deidentify)",
    )
    group.add_argument(
        "--allow-beside-source",
        action="store_true",
        help="allow exports inside the folders of the input images (refused by default)",
    )


def exports_requested(args: argparse.Namespace) -> bool:
    """Whether any export flag asks for output."""
    return getattr(args, "pdf", None) is not None or getattr(args, "dicom_out", None) is not None


def cli_identity(args: argparse.Namespace) -> ExportIdentity:
    """The run's identity choice from ``--attach-to-study`` / ``--deidentify``; ExportOptionError if both."""
    from core.export.identity import identity_for_cli

    return identity_for_cli(
        attach_to_study=bool(getattr(args, "attach_to_study", False)),
        deidentify=bool(getattr(args, "deidentify", False)),
    )


def cli_outputs(args: argparse.Namespace) -> tuple[PlannedOutput, ...]:
    """The outputs the flags ask for: the DICOM pairs (``--dicom-out``), then the PDF (``--pdf``)."""
    outputs: list[PlannedOutput] = []
    if getattr(args, "dicom_out", None) is not None:
        outputs.append(PlannedOutput("dicom", Path(args.dicom_out)))
    if getattr(args, "pdf", None) is not None:
        outputs.append(PlannedOutput("pdf", Path(args.pdf)))
    return tuple(outputs)


def check_cli_destinations(args: argparse.Namespace, sources: Iterable[str | os.PathLike[str]]) -> None:
    """Raise DestinationError now (before any work) if ``--pdf`` or ``--dicom-out`` is refused."""
    allow = bool(getattr(args, "allow_beside_source", False))
    check_outputs(cli_outputs(args), [str(s) for s in sources], allow_beside_source=allow)


@dataclass
class CliExportOutcome:
    """Files written, series skipped and outputs that failed (with the reason), for the command's summary."""

    written: list[Path] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    identity: str = ""  # what the run did: attached to the original study, or a de-identified copy


def write_cli_exports(
    args: argparse.Namespace,
    results: Sequence[SliceResult],
    algorithm: AlgorithmInfo,
    render: Renderer,
    *,
    explain: Explainer | None = None,
    heatmap_style: HeatmapStyle | None = None,
) -> CliExportOutcome:
    """Write every export the flags ask for that can be written (one :class:`ExportPlan`, :func:`write_plan`);
    list the others in ``failed``.

    A refused destination raises DestinationError before anything is written; after that, an
    output that fails (a series' SR/SC pair, the PDF) is reported in ``outcome.failed`` with its
    reason and the other outputs are still written; a series that is not DICOM is listed in ``skipped``.

    ``render`` gives a slice's 8-bit picture (the key slice of each series is rendered);
    ``explain`` (optional) re-runs a key slice that has no heatmap and returns its prediction
    with one, so the PDF and the Secondary Capture show the saliency map.
    """
    outcome = CliExportOutcome()
    if not exports_requested(args) or not results:
        return outcome
    identity = cli_identity(args)
    outcome.identity = identity.summary()
    plan = ExportPlan(
        outputs=cli_outputs(args),
        series=tuple(PlanSeries(tuple(series)) for series in group_by_series(results)),
        algorithm=algorithm,
        style=heatmap_style or HeatmapStyle(),
        identity=identity,
        pdf_identifiers=bool(getattr(args, "pdf_identifiers", False)),
        allow_beside_source=bool(getattr(args, "allow_beside_source", False)),
    )
    problems = PlanProblems()
    outcome.written = write_plan(plan, render=render, explain=explain, problems=problems)
    outcome.skipped, outcome.failed = problems.skipped, problems.failed
    return outcome


class ResultCollector:
    """Keeps what the exports need from a classify run: results, their slices, headers read once per file."""

    def __init__(self) -> None:
        self.results: list[SliceResult] = []
        self._refs: dict[tuple[str, int], SliceRef] = {}
        self._headers = SourceHeaders()

    def add(self, ref: SliceRef, prediction: Prediction) -> None:
        """Record one classified slice (reads the DICOM header of a new file, without pixels)."""
        result = SliceResult.from_ref(ref, prediction, self._headers.header(ref))
        self._refs[(result.source, result.frame)] = ref
        self.results.append(result)

    def export(
        self,
        args: argparse.Namespace,
        path: InferencePath,
        store: PixelStore,
        method: str | None = None,
        *,
        heatmap_class: str | None = None,
    ) -> CliExportOutcome:
        """Write the requested exports: key slices at their default window (read from ``store``), heatmaps
        computed for them through the run's inference path (``method`` None: the weights config's default;
        ``heatmap_class`` None: the predicted class)."""

        def ref_of(result: SliceResult) -> SliceRef:
            return self._refs[(result.source, result.frame)]

        def render(result: SliceResult) -> NDArray[np.uint8]:
            return store.display(ref_of(result))

        def explain(result: SliceResult) -> Prediction:
            target = heatmap_class or result.prediction.label
            again = path.classify(ref_of(result), heatmap=target, method=method).prediction
            return dataclasses.replace(
                result.prediction,
                heatmap=again.heatmap,
                heatmap_class=again.heatmap_class,
                heatmap_method=again.heatmap_method,
            )

        algorithm = AlgorithmInfo.from_config(path.classifier.config)
        return write_cli_exports(args, self.results, algorithm, render, explain=explain)

"""The DICOM pair for one series: a Secondary Capture of the key slice and the Structured Report."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from pydicom.dataset import Dataset

from core.export.destination import check_destination, check_output_folder
from core.export.dicom_common import save_dicom
from core.export.errors import ExportError
from core.export.naming import ExportName, export_name
from core.export.records import AlgorithmInfo, SliceResult
from core.export.secondary_capture import build_secondary_capture
from core.export.structured_report import build_structured_report
from core.export.uid_map import UidMap
from core.model.series_summary import SeriesSummary, summarize_series


def write_series_dicom(
    folder: str | os.PathLike[str],
    results: Sequence[SliceResult],
    algorithm: AlgorithmInfo,
    *,
    key_picture: NDArray[np.uint8] | None,
    key_index: int | None = None,
    name: ExportName | None = None,
    summary: SeriesSummary | None = None,
    deidentify: bool = False,
    uid_map: UidMap | None = None,
    sources: Iterable[str | os.PathLike[str]] = (),
    allow_beside_source: bool = False,
    series_verdict: bool = True,
) -> list[Path]:
    """Write the SR and, when ``key_picture`` is given, the SC of one series into ``folder``
    (``series_verdict`` False: a partial run, the SR has no series group).

    The files are named by :func:`core.export.naming.export_name` (``name``, or one built from the
    series' key slice), e.g. ``PID_S3-AX_T1_SR_4f9c2a.dcm`` and ``..._SC_4f9c2a.dcm``; an existing
    file is never replaced.

    ``key_picture`` is the RGB picture of the key slice ``key_index`` (None: ``summary.key_index``;
    :func:`core.export.plan.choose_key_slice` chooses it for every export) with the heatmap and banner
    burned in (:func:`core.export.overlay.burn_in_overlay`).  Both objects
    share ``uid_map``, so a de-identified SC and SR reference the same remapped instances.
    Both datasets are built before either is written, and a failed write removes the other
    file, so the folder gets both files or neither.
    """
    if not results:
        raise ExportError("there are no classified slices to export")
    if any(r.header is None for r in results):
        raise ExportError("DICOM outputs need DICOM sources; this series is not DICOM")
    target = check_output_folder(folder, sources, allow_beside_source=allow_beside_source)
    uid_map = uid_map if uid_map is not None else UidMap()
    summary = summary or summarize_series([r.prediction for r in results])
    key_index = summary.key_index if key_index is None else key_index
    if not 0 <= key_index < len(results):
        raise ExportError(f"key slice index {key_index} is outside the {len(results)} classified slices")
    key = results[key_index]
    name = name or export_name(key.header, deidentify=deidentify, uid_map=uid_map)
    sr = build_structured_report(
        results, algorithm, summary=summary, deidentify=deidentify, uid_map=uid_map, series_verdict=series_verdict
    )
    outputs: list[tuple[Path, Dataset]] = [(check_destination(target / name.file("SR", "dcm")), sr)]
    if key_picture is not None:
        assert key.header is not None
        sc = build_secondary_capture(
            key.header,
            key_picture,
            frame=key.frame,
            prediction=key.prediction,
            algorithm=algorithm,
            deidentify=deidentify,
            uid_map=uid_map,
        )
        outputs.append((check_destination(target / name.file("SC", "dcm")), sc))
    written: list[Path] = []
    try:
        for path, dataset in outputs:
            save_dicom(dataset, path)
            written.append(path)
    except BaseException:
        for path in written:  # both or neither: never an SR without its SC
            path.unlink(missing_ok=True)
        raise
    return written

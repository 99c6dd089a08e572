"""Results that leave the workstation: PDF, PNG, DICOM SC and SR, CSV/JSON, de-identification.

Plain functions on numpy pictures, :class:`~core.model.prediction.Prediction` objects and DICOM
headers, shared by the GUI (File > Export) and ``neuroreview-classify``, which both describe an export as
one :class:`~core.export.plan.ExportPlan` and write it with :func:`~core.export.plan.write_plan`.  Every writer refuses
to write over or beside the source files unless ``allow_beside_source=True`` and writes through
a temporary file, so a failed export leaves nothing behind.

The names below are imported on first use, so ``import core.export.destination`` (or the
package) stays cheap; fpdf2 and highdicom load only when a PDF or DICOM writer is used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from core.export.deidentify import Deidentifier
    from core.export.destination import check_destination, check_output_folder
    from core.export.dicom_outputs import write_series_dicom
    from core.export.errors import DestinationError, ExportError
    from core.export.identity import ExportIdentity, IdentityMode
    from core.export.naming import ExportName, export_name
    from core.export.overlay import NOT_FOR_DIAGNOSTIC_USE, blend_heatmap, burn_in_overlay
    from core.export.pdf_report import ReportInput, write_pdf_report
    from core.export.plan import ExportPlan, PlannedOutput, PlanSeries, choose_key_slice, write_plan
    from core.export.png import write_view_png
    from core.export.records import (
        RESEARCH_USE_STATEMENT,
        AlgorithmInfo,
        SliceResult,
        group_by_series,
        read_header,
        software_version,
    )
    from core.export.secondary_capture import build_secondary_capture
    from core.export.structured_report import build_structured_report
    from core.export.tables import result_rows, write_results_csv, write_results_json
    from core.export.uid_map import UidMap


_LAZY: dict[str, str] = {
    "AlgorithmInfo": "core.export.records",
    "Deidentifier": "core.export.deidentify",
    "DestinationError": "core.export.errors",
    "IdentityMode": "core.export.identity",
    "ExportError": "core.export.errors",
    "ExportIdentity": "core.export.identity",
    "ExportName": "core.export.naming",
    "ExportPlan": "core.export.plan",
    "PlanSeries": "core.export.plan",
    "PlannedOutput": "core.export.plan",
    "NOT_FOR_DIAGNOSTIC_USE": "core.export.overlay",
    "RESEARCH_USE_STATEMENT": "core.export.records",
    "ReportInput": "core.export.pdf_report",
    "SliceResult": "core.export.records",
    "UidMap": "core.export.uid_map",
    "blend_heatmap": "core.export.overlay",
    "build_secondary_capture": "core.export.secondary_capture",
    "build_structured_report": "core.export.structured_report",
    "burn_in_overlay": "core.export.overlay",
    "check_destination": "core.export.destination",
    "check_output_folder": "core.export.destination",
    "choose_key_slice": "core.export.plan",
    "export_name": "core.export.naming",
    "group_by_series": "core.export.records",
    "read_header": "core.export.records",
    "result_rows": "core.export.tables",
    "software_version": "core.export.records",
    "write_pdf_report": "core.export.pdf_report",
    "write_plan": "core.export.plan",
    "write_results_csv": "core.export.tables",
    "write_results_json": "core.export.tables",
    "write_series_dicom": "core.export.dicom_outputs",
    "write_view_png": "core.export.png",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'core.export' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


__all__ = [
    "NOT_FOR_DIAGNOSTIC_USE",
    "RESEARCH_USE_STATEMENT",
    "AlgorithmInfo",
    "Deidentifier",
    "DestinationError",
    "ExportError",
    "ExportIdentity",
    "ExportName",
    "ExportPlan",
    "IdentityMode",
    "PlanSeries",
    "PlannedOutput",
    "ReportInput",
    "SliceResult",
    "UidMap",
    "blend_heatmap",
    "build_secondary_capture",
    "build_structured_report",
    "burn_in_overlay",
    "check_destination",
    "check_output_folder",
    "choose_key_slice",
    "export_name",
    "group_by_series",
    "read_header",
    "result_rows",
    "software_version",
    "write_pdf_report",
    "write_plan",
    "write_results_csv",
    "write_results_json",
    "write_series_dicom",
    "write_view_png",
]

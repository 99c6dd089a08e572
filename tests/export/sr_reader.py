"""Reading a NeuroReview Structured Report back with highdicom: the export tests' check of what was written.

The workstation only writes SRs; parsing them back is a test concern, so it lives here.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import highdicom as hd
from pydicom.errors import InvalidDicomError

from core.export import sr_codes
from core.export.errors import ExportError


@dataclass(frozen=True)
class ReportedFinding:
    """One finding read back from an SR: tracking label, class, referenced instance, probabilities."""

    tracking_identifier: str
    label: str
    referenced_sop_instance_uid: str | None
    referenced_frame: int | None
    probabilities: dict[str, float]


def _same(concept: hd.sr.CodedConcept, code: object) -> bool:
    return bool(
        concept.value == getattr(code, "value", None)
        and concept.scheme_designator == getattr(code, "scheme_designator", None)
    )


def class_name_of(
    finding: hd.sr.CodedConcept, presence: hd.sr.CodedConcept | None, class_names: tuple[str, ...]
) -> str | None:
    """Inverse of :func:`sr_codes.finding_concept` / :func:`sr_codes.presence_concept`; None if not a class."""
    for name in class_names:
        if name == sr_codes.NO_TUMOR:
            if _same(finding, sr_codes.NEOPLASM) and presence is not None and _same(presence, sr_codes.ABSENT):
                return name
        elif _same(finding, sr_codes.finding_concept(name)):
            return name
    return None


def read_findings(path: str | os.PathLike[str], class_names: tuple[str, ...]) -> list[ReportedFinding]:
    """Parse an SR written by :func:`core.export.dicom_outputs.write_series_dicom` back with highdicom.

    Raises ExportError when the file is not such an SR.
    """
    try:
        sr = hd.sr.srread(path)
        report = sr.content
        if not isinstance(report, hd.sr.MeasurementReport):
            raise TypeError("the document is not a TID 1500 Measurement Report")
        groups = report.get_image_measurement_groups()
    except (InvalidDicomError, OSError, ValueError, TypeError, AttributeError, KeyError) as exc:
        raise ExportError(f"{path} is not a NeuroReview Structured Report: {exc}") from exc
    findings: list[ReportedFinding] = []
    for group in groups:
        finding = group.finding_type
        if finding is None:
            raise ExportError(f"{path}: a measurement group has no finding")
        evaluations = group.get_qualitative_evaluations(name=finding)
        value = evaluations[0].value if evaluations else None
        presence = value if isinstance(value, hd.sr.CodedConcept) else None
        label = class_name_of(finding, presence, class_names) or str(finding.meaning)
        probabilities = {}
        for name in class_names:
            for measurement in group.get_measurements(name=sr_codes.probability_concept(name)):
                probabilities[name] = float(measurement.value)
        for measurement in group.get_measurements(name=sr_codes.TUMOR_PROBABILITY):
            probabilities["tumor"] = float(measurement.value)
        sources = group.source_images
        frames = sources[0].referenced_frame_numbers if sources else None
        findings.append(
            ReportedFinding(
                tracking_identifier=str(group.tracking_identifier),
                label=label,
                referenced_sop_instance_uid=str(sources[0].referenced_sop_instance_uid) if sources else None,
                referenced_frame=int(frames[0]) if frames else None,
                probabilities=probabilities,
            )
        )
    return findings

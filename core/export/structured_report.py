"""DICOM Comprehensive SR holding the classification as qualitative findings (TID 1500).

Built with highdicom: a Measurement Report (PS3.16 TID 1500) whose observer is the NeuroReview
device, with one Measurement and Qualitative Evaluation Group (TID 1501) per classified slice:
the finding type in SNOMED CT (the predicted tumour class, or Neoplasm for "no tumour") evaluated as
Present/Absent, the probability of that finding (DCM 122157), each class probability and P(tumor)
(private codes, nothing standard names them), the Algorithm Identification (TID 4019: name, version,
weights SHA-256 as a parameter) and the source image (and frame) referenced; codes in
:mod:`core.export.sr_codes`.
For more than one slice, one series-level group holds the series summary.  The root container
ends with a TEXT item (DCM 121106 "Comment") saying the results are not for diagnostic use.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import highdicom as hd
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes

from core.export import sr_codes
from core.export.dicom_common import MANUFACTURER, frame_reference, new_uid, prepared_header
from core.export.errors import ExportError
from core.export.records import SOFTWARE_NAME, AlgorithmInfo, SliceResult, software_version
from core.export.uid_map import UidMap
from core.model.prediction import Prediction, outside_text
from core.model.series_summary import SeriesSummary, summarize_series

SR_SERIES_DESCRIPTION = "NeuroReview AI classification - RESEARCH USE ONLY"
SR_SERIES_NUMBER = 9902
SR_DISCLAIMER = "Research use only - not for diagnostic use"
# Device Observer UID: the same for every NeuroReview installation (name-based UUID, PS3.5 B.2)
DEVICE_OBSERVER_UID = f"2.25.{uuid.uuid5(uuid.NAMESPACE_URL, 'urn:neuroreview:device-observer').int}"


def _algorithm_id(algorithm: AlgorithmInfo) -> hd.sr.AlgorithmIdentification:
    return hd.sr.AlgorithmIdentification(
        name=algorithm.name[:64],
        version=algorithm.version[:64],
        parameters=[f"weights SHA-256 {algorithm.weights_sha256}"],
        manufacturer=SOFTWARE_NAME,
    )


def _measurements(prediction: Prediction) -> list[hd.sr.Measurement]:
    """Probability (DCM 122157) of the stated finding, then each class's probability and P(tumor)."""
    stated = hd.sr.Measurement(
        name=sr_codes.PROBABILITY, value=float(prediction.probability_of(prediction.label)), unit=sr_codes.UNITLESS
    )
    items = [
        hd.sr.Measurement(name=sr_codes.probability_concept(name), value=float(p), unit=sr_codes.UNITLESS)
        for name, p in zip(prediction.class_names, prediction.probabilities, strict=True)
    ]
    items.append(
        hd.sr.Measurement(name=sr_codes.TUMOR_PROBABILITY, value=float(prediction.p_tumor), unit=sr_codes.UNITLESS)
    )
    return [stated, *items]


def _finding(label: str) -> tuple[hd.sr.CodedConcept, list[hd.sr.QualitativeEvaluation]]:
    """Finding type and its Present/Absent evaluation for a predicted class (see :mod:`core.export.sr_codes`)."""
    finding = sr_codes.finding_concept(label)
    return finding, [hd.sr.QualitativeEvaluation(finding, sr_codes.presence_concept(label))]


def _slice_group(
    index: int, result: SliceResult, header: Dataset, algorithm: AlgorithmInfo
) -> hd.sr.MeasurementsAndQualitativeEvaluations:
    frame = frame_reference(header, result.frame)
    frames = [frame] if frame is not None else None
    if not result.prediction.inside_intended_use:  # no finding, no probabilities: the reason instead
        text = f"slice {index + 1}: excluded, {outside_text(result.prediction.outside_reason)}"
        return hd.sr.MeasurementsAndQualitativeEvaluations(
            tracking_identifier=hd.sr.TrackingIdentifier(uid=new_uid(), identifier=text),
            algorithm_id=_algorithm_id(algorithm),
            source_images=[hd.sr.SourceImageForMeasurementGroup.from_source_image(header, frames)],
        )
    finding, evaluations = _finding(result.prediction.label)
    return hd.sr.MeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(uid=new_uid(), identifier=f"slice {index + 1}"),
        algorithm_id=_algorithm_id(algorithm),
        finding_type=finding,
        qualitative_evaluations=evaluations,
        measurements=_measurements(result.prediction),
        source_images=[hd.sr.SourceImageForMeasurementGroup.from_source_image(header, frames)],
    )


def _series_group(summary: SeriesSummary, algorithm: AlgorithmInfo) -> hd.sr.MeasurementsAndQualitativeEvaluations:
    identifier = "; ".join(t for t in ("series summary", summary.excluded_text()) if t)
    if not summary.has_verdict:
        return hd.sr.MeasurementsAndQualitativeEvaluations(
            tracking_identifier=hd.sr.TrackingIdentifier(uid=new_uid(), identifier=f"{identifier}; no verdict"),
            method=sr_codes.SERIES_RULE,
            algorithm_id=_algorithm_id(algorithm),
        )
    finding, evaluations = _finding(summary.label)
    return hd.sr.MeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(uid=new_uid(), identifier=identifier),
        method=sr_codes.SERIES_RULE,
        algorithm_id=_algorithm_id(algorithm),
        finding_type=finding,
        qualitative_evaluations=evaluations,
        measurements=[
            hd.sr.Measurement(name=sr_codes.TUMOR_PROBABILITY, value=float(summary.p_tumor), unit=sr_codes.UNITLESS)
        ],
    )


def build_structured_report(
    results: Sequence[SliceResult],
    algorithm: AlgorithmInfo,
    *,
    summary: SeriesSummary | None = None,
    deidentify: bool = False,
    uid_map: UidMap | None = None,
    series_instance_uid: str | None = None,
    instance_number: int = 1,
    series_verdict: bool = True,
) -> hd.sr.ComprehensiveSR:
    """Build (not write) the SR for ``results`` (every result needs its DICOM ``header``); without
    ``series_verdict`` (a partial run) it holds the slices' findings only, no series group."""
    if not results:
        raise ExportError("there are no classified slices to report")
    if any(r.header is None for r in results):
        raise ExportError("the Structured Report needs DICOM sources; some slices are not from DICOM files")
    uid_map = uid_map if uid_map is not None else UidMap()
    headers: dict[str, Dataset] = {}
    for result in results:
        assert result.header is not None
        key = str(result.header.SOPInstanceUID)
        if key not in headers:
            headers[key] = prepared_header(result.header, deidentify=deidentify, uid_map=uid_map)
    evidence = list(headers.values())
    if len({str(h.StudyInstanceUID) for h in evidence}) != 1:
        raise ExportError("the slices come from different studies; write one report per study")
    groups = [
        _slice_group(i, r, headers[str(r.header.SOPInstanceUID)], algorithm)  # type: ignore[union-attr]
        for i, r in enumerate(results)
    ]
    if len(results) > 1 and series_verdict:
        summary = summary or summarize_series([r.prediction for r in results])
        groups.append(_series_group(summary, algorithm))
    device = hd.sr.ObserverContext(
        observer_type=codes.cid270.Device,
        observer_identifying_attributes=hd.sr.DeviceObserverIdentifyingAttributes(
            uid=DEVICE_OBSERVER_UID,
            name=SOFTWARE_NAME,
            manufacturer_name=SOFTWARE_NAME,
            model_name=algorithm.name[:64],
        ),
    )
    report = hd.sr.MeasurementReport(
        observation_context=hd.sr.ObservationContext(observer_device_context=device),
        procedure_reported=sr_codes.PROCEDURE,
        imaging_measurements=groups,
    )
    report[0].ContentSequence.append(
        hd.sr.TextContentItem(
            name=sr_codes.COMMENT, value=SR_DISCLAIMER, relationship_type=hd.sr.RelationshipTypeValues.CONTAINS
        )
    )
    sr = hd.sr.ComprehensiveSR(
        evidence=evidence,
        content=report[0],
        series_instance_uid=series_instance_uid or new_uid(),
        series_number=SR_SERIES_NUMBER,
        sop_instance_uid=new_uid(),
        instance_number=instance_number,
        manufacturer=MANUFACTURER,
        is_complete=True,
        is_final=False,
        is_verified=False,
    )
    sr.SeriesDescription = SR_SERIES_DESCRIPTION
    sr.CodingSchemeIdentificationSequence = [sr_codes.coding_scheme_identification()]
    sr.ManufacturerModelName = SOFTWARE_NAME
    sr.SoftwareVersions = software_version()
    if deidentify:
        sr.PatientIdentityRemoved = "YES"
        sr.DeidentificationMethod = evidence[0].DeidentificationMethod
        sr.DeidentificationMethodCodeSequence = evidence[0].DeidentificationMethodCodeSequence
    return sr

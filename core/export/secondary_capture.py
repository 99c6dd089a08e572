"""DICOM Secondary Capture of a key slice with the heatmap and "NOT FOR DIAGNOSTIC USE" burned in.

Built with highdicom's :class:`highdicom.sc.SCImage` (PS3.3 A.8.1 Secondary Capture Image IOD):
new Series and SOP Instance UIDs, the source's Patient, Patient Study and General Study modules
(or their de-identified version, see :mod:`core.export.identity`), Source Image Sequence referencing
the classified instance (and frame), Burned In Annotation (0028,0301) = YES because text is burned
into the pixels.
"""

from __future__ import annotations

import contextlib

import highdicom as hd
import numpy as np
from numpy.typing import NDArray
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence as DicomSequence

from core.export.dicom_common import (
    MANUFACTURER,
    frame_reference,
    new_uid,
    patient_orientation,
    prepared_header,
    text_or_none,
)
from core.export.errors import ExportError
from core.export.records import SOFTWARE_NAME, AlgorithmInfo, software_version
from core.export.uid_map import UidMap
from core.model.prediction import Prediction, outside_text

SC_SERIES_DESCRIPTION = "NeuroReview saliency - NOT FOR DIAGNOSTIC USE"
SC_SERIES_NUMBER = 9901
MAX_SIDE = 65535  # Rows and Columns are US (PS3.5 6.2)


def build_secondary_capture(
    source_header: Dataset,
    rgb: NDArray[np.uint8],
    *,
    frame: int = 0,
    prediction: Prediction | None = None,
    algorithm: AlgorithmInfo | None = None,
    deidentify: bool = False,
    uid_map: UidMap | None = None,
    series_instance_uid: str | None = None,
    instance_number: int = 1,
) -> hd.sc.SCImage:
    """Build (not write) the SC dataset for ``rgb`` (H, W, 3 uint8, e.g. from burn_in_overlay).

    ``frame`` is the 0-based frame index of the key slice in a multi-frame source.
    """
    pixels = np.ascontiguousarray(rgb)
    if pixels.dtype != np.uint8 or pixels.ndim != 3 or pixels.shape[2] != 3:
        raise ExportError(f"the Secondary Capture needs an RGB uint8 picture, got {pixels.dtype} {pixels.shape}")
    rows, columns = pixels.shape[:2]
    if not (0 < rows <= MAX_SIDE and 0 < columns <= MAX_SIDE):
        raise ExportError(
            f"the picture is {columns}x{rows} pixels; a DICOM Secondary Capture holds 1 to {MAX_SIDE} pixels a side"
        )
    uid_map = uid_map if uid_map is not None else UidMap()
    header = prepared_header(source_header, deidentify=deidentify, uid_map=uid_map)
    orientation = patient_orientation(header)
    sc = hd.sc.SCImage(
        pixel_array=pixels,
        photometric_interpretation=hd.PhotometricInterpretationValues.RGB,
        bits_allocated=8,
        coordinate_system=hd.CoordinateSystemNames.PATIENT,
        study_instance_uid=str(header.StudyInstanceUID),
        series_instance_uid=series_instance_uid or new_uid(),
        series_number=SC_SERIES_NUMBER,
        sop_instance_uid=new_uid(),
        instance_number=instance_number,
        manufacturer=MANUFACTURER,
        patient_id=text_or_none(header, "PatientID"),
        patient_name=text_or_none(header, "PatientName"),
        patient_birth_date=text_or_none(header, "PatientBirthDate"),
        patient_sex=text_or_none(header, "PatientSex"),
        accession_number=text_or_none(header, "AccessionNumber"),
        study_id=text_or_none(header, "StudyID"),
        study_date=text_or_none(header, "StudyDate"),
        study_time=text_or_none(header, "StudyTime"),
        referring_physician_name=text_or_none(header, "ReferringPhysicianName"),
        patient_orientation=orientation or ("L", "P"),
    )
    if orientation is None:  # Type 2C: known to be unknown rather than guessed
        del sc.PatientOrientation
        sc.add_new(0x00200020, "CS", None)
    # the whole Patient, Patient Study and General Study modules, as the SR gets them from its evidence; for
    # a SOP class highdicom does not know (KeyError) the patient/study attributes set above remain
    with contextlib.suppress(KeyError):
        sc.copy_patient_and_study_information(header)
    if "SpecificCharacterSet" in header:
        sc.SpecificCharacterSet = header.SpecificCharacterSet
    sc.BodyPartExamined = str(header.get("BodyPartExamined") or "BRAIN")
    sc.BurnedInAnnotation = "YES"
    sc.SeriesDescription = SC_SERIES_DESCRIPTION
    sc.ManufacturerModelName = SOFTWARE_NAME
    sc.SoftwareVersions = software_version()
    sc.SourceImageSequence = DicomSequence([_source_reference(header, frame)])
    sc.DerivationDescription = _derivation(prediction, algorithm)
    sc.ImageComments = "Research use only - not for diagnostic use"
    if deidentify:
        sc.PatientIdentityRemoved = "YES"
        sc.DeidentificationMethod = header.DeidentificationMethod
        sc.DeidentificationMethodCodeSequence = header.DeidentificationMethodCodeSequence
    return sc


def _source_reference(header: Dataset, frame: int) -> Dataset:
    """The key slice the picture was made from (with its frame in a multi-frame source)."""
    reference = Dataset()
    reference.ReferencedSOPClassUID = header.SOPClassUID
    reference.ReferencedSOPInstanceUID = header.SOPInstanceUID
    frame_number = frame_reference(header, frame)
    if frame_number is not None:
        reference.ReferencedFrameNumber = frame_number
    return reference


def _derivation(prediction: Prediction | None, algorithm: AlgorithmInfo | None) -> str:
    """What was burned in, the AI answer (or why there is none) and the model."""
    description = "Displayed slice with saliency heatmap and NOT FOR DIAGNOSTIC USE burned in"
    if prediction is not None and not prediction.inside_intended_use:
        description += f"; {outside_text(prediction.outside_reason)} (no AI answer)"
    elif prediction is not None:
        description += f"; AI label {prediction.label}, P(tumor) {prediction.p_tumor:.3f}"
    if algorithm is not None:
        description += f"; {algorithm.name} {algorithm.version}"
    return description[:1024]

"""Coded concepts the Structured Report uses.

Standard codes where DICOM defines one (DCM 121071 "Finding" carries the predicted class, LOINC 24590-2 "Brain MRI",
UCUM "1"); the classifier's classes and probabilities use a private coding scheme
(designator ``99NRVW``, PS3.16 8.2 "private coding schemes begin with 99").
"""

from __future__ import annotations

import highdicom as hd
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes

CODING_SCHEME = "99NRVW"
FINDING = codes.DCM.Finding
PROCEDURE = codes.LN.BrainMRI
UNITLESS = codes.UCUM.NoUnits
TUMOR_PROBABILITY = hd.sr.CodedConcept("P-TUMOR", CODING_SCHEME, "Probability of tumor")
SERIES_RULE = hd.sr.CodedConcept("SERIES-MAXP", CODING_SCHEME, "Series: max P(tumor) over slices, top tumor class vote")
CLASSIFICATION = hd.sr.CodedConcept("AI-CLASS", CODING_SCHEME, "AI image classification")
SLICE_METHOD = hd.sr.CodedConcept("SLICE-CLS", CODING_SCHEME, "Per-slice image classification")
COMMENT = codes.DCM.Comment  # DCM 121106, names the "not for diagnostic use" TEXT item

_MEANINGS = {
    "glioma": "Glioma",
    "meningioma": "Meningioma",
    "notumor": "No tumor",
    "pituitary": "Pituitary tumor",
}


def _code_value(class_name: str) -> str:
    return "".join(ch for ch in class_name.upper() if ch.isalnum())[:14] or "CLASS"


def class_concept(class_name: str) -> hd.sr.CodedConcept:
    """The coded value for one of the model's classes."""
    return hd.sr.CodedConcept(_code_value(class_name), CODING_SCHEME, _MEANINGS.get(class_name, class_name)[:64])


def probability_concept(class_name: str) -> hd.sr.CodedConcept:
    """The measurement name for the calibrated probability of one class."""
    meaning = f"Probability of {_MEANINGS.get(class_name, class_name)}"[:64]
    return hd.sr.CodedConcept(f"P-{_code_value(class_name)}", CODING_SCHEME, meaning)


def class_name_of(concept: hd.sr.CodedConcept, class_names: tuple[str, ...]) -> str | None:
    """Inverse of :func:`class_concept` for reading an SR back; None if not one of ``class_names``."""
    for name in class_names:
        if concept.value == _code_value(name) and concept.scheme_designator == CODING_SCHEME:
            return name
    return None


def coding_scheme_identification() -> Dataset:
    """Coding Scheme Identification Sequence item (PS3.3 C.12.1) declaring the private scheme."""
    item = Dataset()
    item.CodingSchemeDesignator = CODING_SCHEME
    item.CodingSchemeName = "NeuroReview classifier codes"
    item.CodingSchemeResponsibleOrganization = "NeuroReview project"
    return item

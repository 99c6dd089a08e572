"""Coded concepts the Structured Report uses: standard codes wherever one exists, a private scheme for the rest.

Standard (from pydicom's code dictionary, i.e. PS3.16, unless marked):

* finding type of a slice group: the predicted class in SNOMED CT (below); "no tumour" is SCT 108369006
  "Neoplasm" evaluated as Absent, which states what the model saw without claiming a normal brain;
* its qualitative evaluation: the finding concept = SCT 52101004 "Present" / SCT 272519000 "Absent"
  (CID 240 Present-Absent);
* DCM 122157 "Probability" (UCUM "1"): the calibrated probability of the group's finding as stated;
* LOINC 24590-2 "Brain MRI" (procedure reported), DCM 121106 "Comment" (the not-for-diagnostic-use
  statement); the TID 4019 Algorithm Identification (DCM 111001/111003/111002) comes from highdicom.

Private scheme ``99NRVW`` (PS3.16 8.2: private coding schemes begin with "99"), declared in the Coding
Scheme Identification Sequence, only for what has no standard code: the probability of each class,
P(any tumour class) and the series aggregation rule.  A class name outside the four known ones (another
model) also gets a private code.
"""

from __future__ import annotations

import highdicom as hd
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes

CODING_SCHEME = "99NRVW"
PROCEDURE = codes.LN.BrainMRI
UNITLESS = codes.UCUM.NoUnits
PROBABILITY = codes.DCM.Probability
COMMENT = codes.DCM.Comment  # DCM 121106, names the "not for diagnostic use" TEXT item
NEOPLASM = codes.SCT.Neoplasm
PRESENT = codes.SCT.Present
ABSENT = codes.SCT.Absent
NO_TUMOR = "notumor"

# SNOMED CT codes typed here because PS3.16 (and so pydicom's dictionary) has none for these tumour types.
# Disorder concepts, the kind a radiology finding names; sources checked when they were chosen:
#   393564001 |Glioma (disorder)|: the SNOMED map of the MR-RATE brain-MRI report dataset (Glioma), and
#     oncology code tables using it for "glioma"; 393563007 next to it is glioblastoma multiforme.
#   302820008 |Intracranial meningioma (disorder)|: SNOMED International release notes, October 2025
#     International Edition ("Update for Meningioma"), which remodelled this concept.
#   254956000 |Pituitary adenoma (disorder)|: cross-references of HPO HP:0002893 and MONDO:0006373.
CLASS_CODES = {
    "glioma": hd.sr.CodedConcept("393564001", "SCT", "Glioma"),
    "meningioma": hd.sr.CodedConcept("302820008", "SCT", "Intracranial meningioma"),
    "pituitary": hd.sr.CodedConcept("254956000", "SCT", "Pituitary adenoma"),
}

TUMOR_PROBABILITY = hd.sr.CodedConcept("P-TUMOR", CODING_SCHEME, "Probability of any tumor class")
SERIES_RULE = hd.sr.CodedConcept(
    "SERIES-RUNMEAN", CODING_SCHEME, "Series: best mean P(tumor) of neighbouring slices; class vote"
)

_MEANINGS = {"glioma": "Glioma", "meningioma": "Meningioma", NO_TUMOR: "No tumor", "pituitary": "Pituitary tumor"}


def _code_value(class_name: str) -> str:
    return "".join(ch for ch in class_name.upper() if ch.isalnum())[:14] or "CLASS"


def finding_concept(class_name: str) -> hd.sr.CodedConcept:
    """The finding type of a group whose predicted class is ``class_name``."""
    if class_name == NO_TUMOR:
        return hd.sr.CodedConcept(NEOPLASM.value, NEOPLASM.scheme_designator, NEOPLASM.meaning)
    known = CLASS_CODES.get(class_name)
    if known is not None:
        return known
    return hd.sr.CodedConcept(_code_value(class_name), CODING_SCHEME, _MEANINGS.get(class_name, class_name)[:64])


def presence_concept(class_name: str) -> hd.sr.CodedConcept:
    """Present for a tumour class, Absent for "no tumour" (the finding is then Neoplasm)."""
    code = ABSENT if class_name == NO_TUMOR else PRESENT
    return hd.sr.CodedConcept(code.value, code.scheme_designator, code.meaning)


def probability_concept(class_name: str) -> hd.sr.CodedConcept:
    """The measurement name for the calibrated probability of one class (no standard code: private)."""
    meaning = f"Probability of {_MEANINGS.get(class_name, class_name)}"[:64]
    return hd.sr.CodedConcept(f"P-{_code_value(class_name)}", CODING_SCHEME, meaning)


def coding_scheme_identification() -> Dataset:
    """Coding Scheme Identification Sequence item (PS3.3 C.12.1) declaring the private scheme."""
    item = Dataset()
    item.CodingSchemeDesignator = CODING_SCHEME
    item.CodingSchemeName = "NeuroReview classifier codes"
    item.CodingSchemeResponsibleOrganization = "NeuroReview project"
    return item

"""De-identification following the DICOM PS3.15 Annex E Basic Application Level Confidentiality Profile.

The attribute table (which attributes are removed, emptied, replaced or have their UIDs
remapped) is Table E.1-1 of PS3.15 as packaged by ``dicom-anonymizer`` (edition 2026c);
this module applies it to a header copy, in every nested sequence item:

* ``X`` remove, ``Z`` empty, ``D`` replace with a dummy of the same VR (a sequence becomes
  empty, so no free text inside it survives), ``U`` remap the UID;
* where the profile allows a choice the stricter option is taken: ``Z/D`` -> Z, ``X/Z``,
  ``X/D`` and ``X/Z/D`` -> X, and ``X/Z/U*`` sequences keep their items with every listed
  attribute inside handled the same way (so references stay consistent);
* private attributes, curve data (50xx,xxxx) and overlay data/comments (60xx,3000/4000) are removed;
* UIDs are remapped through a :class:`UidMap` shared by every object of one export, so
  references between the exported objects stay consistent while nothing links them to the
  source UIDs (UUID-derived ``2.25`` UIDs, PS3.5 B.2, from a random per-export namespace);
* a non-empty Patient ID is replaced by a pseudonym (``ANON-`` + 8 hex digits) that is the same
  within one export and unrelated across exports (Z allows a dummy value);
* Patient Identity Removed (0012,0062) = YES, De-identification Method (0012,0063) and its
  code sequence (DCM 113100 "Basic Application Confidentiality Profile") are added.

The source dataset is never modified: :meth:`Deidentifier.apply` returns a new dataset.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

from dicomanonymizer.dicom_anonymization_databases import dicomfields_2026c as profile_table
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import UID

from core.export.uid_map import UidMap

PROFILE_EDITION = "dicomfields_2026c"
#: De-identification Method (0012,0063) values (LO, each at most 64 characters).
DEIDENTIFICATION_METHOD = (
    "DICOM PS3.15 E.1 Basic Application Confidentiality Profile",
    "Table E.1-1 2026c; private tags removed; UIDs remapped",
)
BASIC_PROFILE_CODE = ("113100", "DCM", "Basic Application Confidentiality Profile")

_DUMMY_TEXT = "ANONYMIZED"
_DUMMY_BY_VR: dict[str, object] = {
    "DA": "19000101",
    "TM": "000000",
    "DT": "19000101000000",
    "AS": "000Y",
    "UR": "http://anonymized.invalid",
    "DS": "0",
    "IS": "0",
    "OB": b"\x00\x00",
    "OW": b"\x00\x00",
    "UN": b"\x00\x00",
}
_NUMERIC_VRS = {"US", "SS", "UL", "SL", "FL", "FD", "UV", "SV"}


@dataclass(frozen=True)
class _Table:
    actions: dict[int, str]
    masked: tuple[tuple[int, int, int, int], ...] = field(default=())


def _load_table() -> _Table:
    resolved = {
        "D_TAGS": "D",
        "Z_TAGS": "Z",
        "X_TAGS": "X",
        "U_TAGS": "U",
        "Z_D_TAGS": "Z",
        "X_Z_TAGS": "X",
        "X_D_TAGS": "X",
        "X_Z_D_TAGS": "X",
        "X_Z_U_STAR_TAGS": "U*",
    }
    # Imported statically (not through the package's importlib selector) so that PyInstaller bundles it.
    tags = {name: getattr(profile_table, name) for name in resolved}
    actions: dict[int, str] = {}
    masked: list[tuple[int, int, int, int]] = []
    for category, action in resolved.items():
        for entry in tags[category]:
            if len(entry) == 4:
                masked.append(tuple(entry))
            else:
                group, element = entry
                actions[(group << 16) | element] = action
    return _Table(actions, tuple(masked))


_TABLE = _load_table()


def profile_action(tag: int) -> str | None:
    """The resolved Basic Profile action for ``tag`` (X, Z, D, U or U*), or None to keep it."""
    action = _TABLE.actions.get(int(tag))
    if action is not None:
        return action
    group, element = int(tag) >> 16, int(tag) & 0xFFFF
    for m_group, m_element, g_mask, e_mask in _TABLE.masked:
        if group & g_mask == m_group and element & e_mask == m_element:
            return "X"
    return None


def _dummy(elem: DataElement) -> object:
    if elem.VR in _DUMMY_BY_VR:
        return _DUMMY_BY_VR[elem.VR]
    if elem.VR in _NUMERIC_VRS:
        return 0
    return _DUMMY_TEXT


def _remap(elem: DataElement, uid_map: UidMap) -> None:
    if elem.VM == 0 or elem.value is None:
        return
    if isinstance(elem.value, MultiValue | list):
        elem.value = [uid_map(str(v)) for v in elem.value]
    else:
        elem.value = uid_map(str(elem.value))


@dataclass
class Deidentifier:
    """Applies the Basic Profile to header datasets, sharing one :class:`UidMap` per export."""

    uid_map: UidMap = field(default_factory=UidMap)

    def apply(self, dataset: Dataset) -> Dataset:
        """Return a de-identified copy of ``dataset`` (pixel data, if any, is left as is).

        A non-empty Patient ID becomes the export's pseudonym (:meth:`UidMap.pseudonym`; the profile's
        Z action allows a dummy value), so the files of one patient stay together within an export.
        """
        result = copy.deepcopy(dataset)
        result.remove_private_tags()
        self._clean(result)
        patient_id = str(dataset.get("PatientID", "") or "").strip()
        if patient_id:
            result.PatientID = self.uid_map.pseudonym(patient_id)
        meta = getattr(result, "file_meta", None)
        if meta is not None and "MediaStorageSOPInstanceUID" in meta:
            meta.MediaStorageSOPInstanceUID = UID(self.uid_map(str(meta.MediaStorageSOPInstanceUID)))
        result.PatientIdentityRemoved = "YES"
        result.DeidentificationMethod = list(DEIDENTIFICATION_METHOD)
        code = Dataset()
        code.CodeValue, code.CodingSchemeDesignator, code.CodeMeaning = BASIC_PROFILE_CODE
        result.DeidentificationMethodCodeSequence = DicomSequence([code])
        return result

    def _clean(self, dataset: Dataset) -> None:
        for tag in list(dataset.keys()):
            action = profile_action(tag)
            elem = dataset[tag]
            if action == "X":
                del dataset[tag]
            elif action == "Z" or (action == "D" and elem.VR == "SQ"):  # a zero-item sequence is the dummy
                elem.value = DicomSequence() if elem.VR == "SQ" else None
            elif action == "U" and elem.VR == "UI":
                _remap(elem, self.uid_map)
            elif elem.VR == "SQ":  # U* and unlisted sequences: clean every item
                for item in elem.value or ():
                    self._clean(item)
            elif action == "D":
                elem.value = _dummy(elem)
            elif action == "U":
                elem.value = None

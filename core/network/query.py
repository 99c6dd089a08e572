"""C-ECHO and study-level C-FIND (Study Root, PS3.4 C.6.2) against a configured node."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydicom.dataset import Dataset

from core.network.client import association, make_ae, require_context
from core.network.nodes import DicomNode, NetworkError, NetworkLimits
from core.network.sop_classes import STUDY_ROOT_FIND, VERIFICATION
from core.platform.audit_events import record_transfer

STUDY_FIELDS = (
    "StudyInstanceUID",
    "PatientID",
    "PatientName",
    "StudyDate",
    "ModalitiesInStudy",
    "StudyDescription",
    "AccessionNumber",
    "NumberOfStudyRelatedInstances",
)
MAX_MATCHES = 5000
_DATE = r"\d{8}"
_DATE_RANGE = re.compile(rf"^({_DATE}|{_DATE}-|-{_DATE}|{_DATE}-{_DATE})$")
_FORBIDDEN = re.compile(r"[\\\x00-\x1f]")  # a backslash would split a value into several (PS3.5 6.4)


class QueryError(NetworkError, ValueError):
    """A search field written in a way DICOM does not allow."""


@dataclass(frozen=True)
class StudyQuery:
    """Study-level matching keys; empty means "any".  ``*`` and ``?`` are wildcards (PS3.4 C.2.2.2.4)."""

    patient_id: str = ""
    patient_name: str = ""
    study_date: str = ""  # YYYYMMDD, or a range YYYYMMDD-YYYYMMDD (either side may be left open)
    modality: str = ""
    accession: str = ""

    def identifier(self) -> Dataset:
        """The C-FIND identifier: our matching keys plus every return key of STUDY_FIELDS."""
        ds = Dataset()
        ds.QueryRetrieveLevel = "STUDY"
        for keyword in STUDY_FIELDS:
            setattr(ds, keyword, "")
        for keyword, value, limit in (
            ("PatientID", self.patient_id, 64),
            ("PatientName", self.patient_name, 64),
            ("ModalitiesInStudy", self.modality, 16),
            ("AccessionNumber", self.accession, 16),
        ):
            value = value.strip()
            if len(value) > limit or _FORBIDDEN.search(value):
                raise QueryError(f"{keyword}: at most {limit} characters, no backslash or control characters")
            if value:
                setattr(ds, keyword, value)
        date = self.study_date.strip().replace(" ", "")
        if date:
            if not _DATE_RANGE.match(date):
                raise QueryError(f"StudyDate: expected YYYYMMDD or YYYYMMDD-YYYYMMDD, got {self.study_date!r}")
            ds.StudyDate = date
        return ds


def echo(node: DicomNode, our_ae: str, limits: NetworkLimits | None = None) -> float:
    """C-ECHO ``node``; returns the round trip in seconds (association, echo, release)."""
    limits = limits or NetworkLimits()
    ae = make_ae(our_ae, limits)
    ae.add_requested_context(VERIFICATION)
    start = time.perf_counter()
    with association(ae, node) as assoc:
        status = assoc.send_c_echo()
        code = int(status.Status) if "Status" in status else -1
    if code < 0:
        raise NetworkError(f"no echo from {node}")
    if code != 0:
        raise NetworkError(f"{node} answered the echo with status 0x{code:04X}")
    return time.perf_counter() - start


def _study(identifier: Dataset) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for keyword in STUDY_FIELDS:
        value = identifier.get(keyword, "")
        if keyword == "ModalitiesInStudy":
            values = value if value and not isinstance(value, str) else [value]
            row[keyword] = [str(v) for v in values if str(v)]
        elif keyword == "NumberOfStudyRelatedInstances":
            row[keyword] = int(value) if value not in ("", None) else None
        else:
            row[keyword] = str(value) if value is not None else ""
    return row


def find_studies(
    node: DicomNode,
    our_ae: str,
    query: StudyQuery,
    *,
    limits: NetworkLimits | None = None,
    cancel: Callable[[], bool] | None = None,
    via: str = "cli",
) -> list[dict[str, Any]]:
    """Studies on ``node`` matching ``query``, as dicts keyed by STUDY_FIELDS (at most MAX_MATCHES).

    The answers name patients, so the search goes to the audit log too (the studies as pseudonyms).
    """
    limits = limits or NetworkLimits()
    identifier = query.identifier()
    ae = make_ae(our_ae, limits)
    ae.add_requested_context(STUDY_ROOT_FIND)
    studies: list[dict[str, Any]] = []
    with association(ae, node) as assoc:
        require_context(assoc, STUDY_ROOT_FIND, "Study Root C-FIND", node)
        for status, found in assoc.send_c_find(identifier, STUDY_ROOT_FIND):
            if "Status" not in status:
                raise NetworkError(f"{node} did not answer the search in time")
            code = int(status.Status)
            if code in (0xFF00, 0xFF01) and found is not None:
                studies.append(_study(found))
                if len(studies) >= MAX_MATCHES or (cancel is not None and cancel()):
                    assoc.abort()
                    break
            elif code != 0x0000:
                comment = status.get("ErrorComment", "")
                raise NetworkError(f"{node} refused the search: status 0x{code:04X} {comment}".rstrip())
    record_transfer(
        "queried", peer=str(node), via=via, instances=0, outcome="completed",
        studies=[s["StudyInstanceUID"] for s in studies], matches=len(studies),
    )  # fmt: skip
    return studies

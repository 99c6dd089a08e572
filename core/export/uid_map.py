"""New UIDs for exported objects: one consistent mapping per export, unlinkable to the source UIDs.

Kept apart from :mod:`core.export.deidentify` (which needs pydicom) so that what only carries a map,
such as an export's identity choice, does not import the DICOM stack.
"""

from __future__ import annotations

import uuid


class UidMap:
    """Source UID -> new UID, the same answer every time within one export.

    New UIDs are ``2.25.<uuid5(namespace, source_uid)>`` with a random namespace per map, so two
    exports of the same study get unrelated UIDs and the source UIDs cannot be recovered.
    """

    def __init__(self, namespace: uuid.UUID | None = None) -> None:
        self._namespace = namespace or uuid.uuid4()
        self._map: dict[str, str] = {}

    def __call__(self, source_uid: str) -> str:
        source_uid = str(source_uid).strip()
        if not source_uid:
            return source_uid
        new = self._map.get(source_uid)
        if new is None:
            new = f"2.25.{uuid.uuid5(self._namespace, source_uid).int}"
            self._map[source_uid] = new
        return new

    def pseudonym(self, patient_id: str) -> str:
        """``ANON-`` and 8 hex digits for ``patient_id``: the same within this export, unrelated across exports.

        The de-identified files carry it as their Patient ID, and the export's file names use it.
        """
        return f"ANON-{uuid.uuid5(self._namespace, 'patient-id:' + str(patient_id).strip()).hex[:8].upper()}"

    @property
    def mapping(self) -> dict[str, str]:
        """A copy of the source -> new UIDs handed out so far."""
        return dict(self._map)

    def __contains__(self, source_uid: object) -> bool:
        return source_uid in self._map

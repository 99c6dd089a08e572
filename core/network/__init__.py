"""Qt-free DICOM networking on pynetdicom: echo, find, retrieve, listen, send, and the local store.

Associations are made only with nodes the user configured (command-line arguments or the
workstation's settings); the listener accepts only allowed calling AE titles when given, binds
127.0.0.1 unless told otherwise, and every transfer is written to the audit log.
"""

from core.network.listener import LOOPBACK, StorageListener
from core.network.local_store import LocalStore, StoredInstance, StoreRefused, default_store_root
from core.network.nodes import (
    DEFAULT_AE_TITLE,
    DEFAULT_PORT,
    DicomNode,
    NetworkError,
    NetworkLimits,
    NodeError,
    ae_title,
)
from core.network.query import STUDY_FIELDS, QueryError, StudyQuery, echo, find_studies
from core.network.retrieve import RetrieveResult, move_study, retrieve_study
from core.network.send import SendResult, send_files

__all__ = [
    "DEFAULT_AE_TITLE",
    "DEFAULT_PORT",
    "LOOPBACK",
    "STUDY_FIELDS",
    "DicomNode",
    "LocalStore",
    "NetworkError",
    "NetworkLimits",
    "NodeError",
    "QueryError",
    "RetrieveResult",
    "SendResult",
    "StorageListener",
    "StoreRefused",
    "StoredInstance",
    "StudyQuery",
    "ae_title",
    "default_store_root",
    "echo",
    "find_studies",
    "move_study",
    "retrieve_study",
    "send_files",
]

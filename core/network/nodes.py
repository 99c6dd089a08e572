"""DICOM nodes (AE title, host, port) and the limits every association obeys.

A node is written ``AE@HOST:PORT`` on the command line and in the settings.  AE titles follow
PS3.5 6.2 (AE VR): at most 16 characters of the default repertoire, no backslash or control
characters, not all spaces.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DEFAULT_AE_TITLE = "NEUROREVIEW"
DEFAULT_PORT = 11112  # the registered DICOM port (PS3.15 Annex H); 104 needs root on Unix
_AE_TITLE = re.compile(r"^[\x20-\x5b\x5d-\x7e]{1,16}$")  # printable ASCII without backslash


class NetworkError(Exception):
    """A DICOM network operation that failed; the message says what to check."""


class NodeError(NetworkError, ValueError):
    """A node, AE title or port written wrongly."""


def ae_title(text: str) -> str:
    """``text`` as an AE title (surrounding spaces removed); NodeError when it is not a valid one."""
    value = text.strip()
    if not _AE_TITLE.match(value):
        raise NodeError(f"not a valid AE title: {text!r} (1-16 printable ASCII characters, no backslash)")
    return value


def port_number(value: int | str) -> int:
    try:
        port = int(value)
    except (TypeError, ValueError):
        raise NodeError(f"not a port number: {value!r}") from None
    if not 1 <= port <= 65535:
        raise NodeError(f"port out of range (1-65535): {port}")
    return port


@dataclass(frozen=True)
class DicomNode:
    """A remote application entity: its AE title, host name or address, and port."""

    ae_title: str
    host: str
    port: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "ae_title", ae_title(self.ae_title))
        object.__setattr__(self, "port", port_number(self.port))
        host = self.host.strip()
        if not host or any(c.isspace() for c in host) or "/" in host:
            raise NodeError(f"not a host name or address: {self.host!r}")
        object.__setattr__(self, "host", host)

    @classmethod
    def parse(cls, text: str) -> DicomNode:
        """``AE@HOST:PORT`` (``[IPv6]`` in brackets) as a node; NodeError when malformed."""
        title, at, rest = text.rpartition("@")
        host, colon, port = rest.rpartition(":")
        if not at or not colon:
            raise NodeError(f"expected AE@HOST:PORT, got {text!r}")
        if host.startswith("[") and host.endswith("]"):
            host = host[1:-1]
        return cls(title, host, port_number(port))

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.ae_title}@{host}:{self.port}"


@dataclass(frozen=True)
class NetworkLimits:
    """Limits on associations and data, for our listener and for the associations we open.

    ``max_dataset_bytes`` bounds one received object (an association sending more is aborted);
    ``max_pdu`` is the largest PDU we accept (0 = no limit, PS3.8 D.3.3.2.1).
    """

    max_associations: int = 4
    max_dataset_bytes: int = 1024 * 1024 * 1024
    max_pdu: int = 4 * 1024 * 1024
    connect_timeout_s: float = 10.0
    acse_timeout_s: float = 30.0
    dimse_timeout_s: float = 60.0
    network_timeout_s: float = 60.0

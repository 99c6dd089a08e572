"""The workstation's DICOM network settings (QSettings, group "network"): our AE title and port, the
listener, and the known nodes, the only ones the workstation ever associates with."""

from __future__ import annotations

from PySide6.QtCore import QSettings

from core.network import DEFAULT_AE_TITLE, DEFAULT_PORT, LOOPBACK, DicomNode, NetworkError, ae_title


class NetworkSettings:
    """Typed, validated view of the "network/..." keys of ``store`` (invalid values fall back)."""

    def __init__(self, store: QSettings) -> None:
        self.store = store

    def _text(self, key: str, default: str) -> str:
        return str(self.store.value(f"network/{key}", default) or default)

    @property
    def our_ae(self) -> str:
        try:
            return ae_title(self._text("ae_title", DEFAULT_AE_TITLE))
        except NetworkError:
            return DEFAULT_AE_TITLE

    @our_ae.setter
    def our_ae(self, value: str) -> None:
        self.store.setValue("network/ae_title", ae_title(value))

    @property
    def port(self) -> int:
        try:
            value = int(self._text("port", str(DEFAULT_PORT)))
        except ValueError:
            return DEFAULT_PORT
        return value if 1 <= value <= 65535 else DEFAULT_PORT

    @port.setter
    def port(self, value: int) -> None:
        self.store.setValue("network/port", int(value))

    @property
    def bind(self) -> str:
        """Address the listener binds: 127.0.0.1 unless the user chose another."""
        return self._text("bind", LOOPBACK).strip() or LOOPBACK

    @bind.setter
    def bind(self, value: str) -> None:
        self.store.setValue("network/bind", value.strip() or LOOPBACK)

    @property
    def listener_enabled(self) -> bool:
        value = self.store.value("network/listener", False)
        return value.lower() in ("1", "true", "yes") if isinstance(value, str) else bool(value)

    @listener_enabled.setter
    def listener_enabled(self, value: bool) -> None:
        self.store.setValue("network/listener", bool(value))

    @property
    def store_limit_gb(self) -> float:
        try:
            return max(0.1, float(self._text("store_limit_gb", "20")))
        except ValueError:
            return 20.0

    @store_limit_gb.setter
    def store_limit_gb(self, value: float) -> None:
        self.store.setValue("network/store_limit_gb", float(value))

    @property
    def nodes(self) -> list[DicomNode]:
        """The configured nodes (entries that no longer parse are dropped)."""
        value = self.store.value("network/nodes", [])
        items = [value] if isinstance(value, str) else value if isinstance(value, list) else []
        nodes = []
        for item in items:
            try:
                nodes.append(DicomNode.parse(str(item)))
            except NetworkError:
                continue
        return nodes

    @nodes.setter
    def nodes(self, value: list[DicomNode]) -> None:
        self.store.setValue("network/nodes", [str(node) for node in value])

    def allowed_callers(self) -> list[str]:
        """Calling AE titles the listener accepts: those of the known nodes, nobody else."""
        return sorted({node.ae_title for node in self.nodes})

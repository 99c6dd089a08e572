"""Typed access to the user's preferences, stored by QSettings (organisation "NeuroReview").

QSettings keeps them in the platform's location (Linux: ~/.config/NeuroReview/NeuroReview.conf,
macOS: ~/Library/Preferences, Windows: the registry).  Nothing is written beside the images or
into the install folder.
"""

from __future__ import annotations

from pathlib import Path

import platformdirs
from PySide6.QtCore import QByteArray, QSettings

from core.imaging.heatmap import COLORMAPS, DEFAULT_COLORMAP
from core.model.saliency import GRADIENT_METHODS

ORGANIZATION = "NeuroReview"
APPLICATION = "NeuroReview"
MAX_RECENT = 10


class AppSettings:
    """Named, validated settings over one QSettings object."""

    def __init__(self, store: QSettings | None = None) -> None:
        self.store = store if store is not None else QSettings(ORGANIZATION, APPLICATION)

    @classmethod
    def in_folder(cls, folder: str | Path) -> AppSettings:
        """Settings kept in ``folder/settings.ini`` (tests, benchmarks, screenshots), never the user's."""
        return cls(QSettings(str(Path(folder) / "settings.ini"), QSettings.Format.IniFormat))

    def _float(self, key: str, default: float, low: float, high: float) -> float:
        try:
            value = float(self.store.value(key, default))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return default
        return min(max(value, low), high)

    def _bool(self, key: str, default: bool) -> bool:
        value = self.store.value(key, default)
        if isinstance(value, str):
            return value.lower() in ("1", "true", "yes")
        return bool(value)

    @property
    def auto_classify(self) -> bool:
        """Classify the current slice whenever it changes (else only on demand)."""
        return self._bool("ai/auto_classify", True)

    @auto_classify.setter
    def auto_classify(self, value: bool) -> None:
        self.store.setValue("ai/auto_classify", bool(value))

    @property
    def uncertain_below(self) -> float:
        """Calibrated confidence under which a prediction is flagged "uncertain"."""
        return self._float("ai/uncertain_below", 0.6, 0.0, 1.0)

    @uncertain_below.setter
    def uncertain_below(self, value: float) -> None:
        self.store.setValue("ai/uncertain_below", float(value))

    @property
    def overlay_opacity(self) -> float:
        return self._float("overlay/opacity", 0.45, 0.0, 1.0)

    @overlay_opacity.setter
    def overlay_opacity(self, value: float) -> None:
        self.store.setValue("overlay/opacity", float(value))

    @property
    def overlay_threshold(self) -> float:
        return self._float("overlay/threshold", 0.2, 0.0, 1.0)

    @overlay_threshold.setter
    def overlay_threshold(self, value: float) -> None:
        self.store.setValue("overlay/threshold", float(value))

    @property
    def colormap(self) -> str:
        value = str(self.store.value("overlay/colormap", DEFAULT_COLORMAP))
        return value if value in COLORMAPS else DEFAULT_COLORMAP

    @colormap.setter
    def colormap(self, value: str) -> None:
        self.store.setValue("overlay/colormap", value)

    @property
    def heatmap_method(self) -> str:
        """The saliency method last chosen; "" when none was (the weights' default method applies)."""
        value = str(self.store.value("overlay/method", "") or "")
        return value if value in GRADIENT_METHODS else ""

    @heatmap_method.setter
    def heatmap_method(self, value: str) -> None:
        self.store.setValue("overlay/method", value)

    @property
    def last_study(self) -> list[str]:
        """The paths of the study opened last (files, folders or DICOMDIRs), reopened at the next start."""
        value = self.store.value("files/last_study", [])
        if isinstance(value, str):
            value = [value] if value else []
        return [str(v) for v in value] if isinstance(value, list) else []

    @last_study.setter
    def last_study(self, paths: list[str]) -> None:
        self.store.setValue("files/last_study", list(paths))

    @property
    def last_folder(self) -> str:
        return str(self.store.value("files/last_folder", ""))

    @last_folder.setter
    def last_folder(self, value: str) -> None:
        self.store.setValue("files/last_folder", value)

    @property
    def recent(self) -> list[str]:
        value = self.store.value("files/recent", [])
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list):
            return []
        return [str(v) for v in value][:MAX_RECENT]

    def add_recent(self, path: str) -> None:
        items = [path, *(p for p in self.recent if p != path)][:MAX_RECENT]
        self.store.setValue("files/recent", items)

    @property
    def export_identity(self) -> str:
        """The last export's choice, ``"attach"`` (to the original study) or ``"deidentify"`` (the first default).

        Before this choice existed an on/off "De-identify exports" setting was kept; it still decides
        until the user first chooses in the export dialog.
        """
        value = str(self.store.value("export/identity", "") or "")
        if value in ("attach", "deidentify"):
            return value
        return "deidentify" if self._bool("export/deidentify", True) else "attach"

    @export_identity.setter
    def export_identity(self, value: str) -> None:
        if value not in ("attach", "deidentify"):
            raise ValueError(f"unknown export identity {value!r}")
        self.store.setValue("export/identity", value)

    @property
    def export_own_folder(self) -> bool:
        """Put each export into a new folder of its own inside the export folder."""
        return self._bool("export/own_folder", False)

    @export_own_folder.setter
    def export_own_folder(self, value: bool) -> None:
        self.store.setValue("export/own_folder", bool(value))

    @property
    def export_folder(self) -> str:
        """The folder last exported into; at first the user's Documents/NeuroReview exports, never home itself."""
        value = str(self.store.value("export/folder", "") or "")
        return value or str(Path(platformdirs.user_documents_dir()) / "NeuroReview exports")

    @export_folder.setter
    def export_folder(self, value: str) -> None:
        self.store.setValue("export/folder", value)

    def window_state(self) -> tuple[QByteArray | None, QByteArray | None]:
        """Saved (geometry, dock/toolbar state) of the main window, or None."""
        geometry = self.store.value("window/geometry")
        state = self.store.value("window/state")
        return (
            geometry if isinstance(geometry, QByteArray) else None,
            state if isinstance(state, QByteArray) else None,
        )

    def save_window_state(self, geometry: QByteArray, state: QByteArray) -> None:
        self.store.setValue("window/geometry", geometry)
        self.store.setValue("window/state", state)

    def location(self) -> str:
        """Where the settings live (file path or registry key), for the Help text."""
        return self.store.fileName()

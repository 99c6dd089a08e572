"""Help dialogs: the model card / About box and the keyboard shortcut list."""

from __future__ import annotations

import html
from collections.abc import Sequence
from importlib import metadata
from typing import Any

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTextBrowser, QVBoxLayout, QWidget

from core.model.model_config import ModelConfig

RESEARCH_ONLY = "Research use only - not for diagnostic use"
INTENDED_USE = (
    "NeuroReview offers a second look at single 2-D brain MRI slices: a 4-class estimate (glioma, "
    "meningioma, no tumor, pituitary tumor) with calibrated probabilities and a saliency heatmap showing "
    "which regions drove the score. It is research software, trained on a public dataset of 2-D JPEG "
    "slices; it has not been validated clinically, does not detect other pathology, and must not be used "
    "to diagnose, triage or treat patients."
)


def app_version() -> str:
    try:
        return metadata.version("neuroreview")
    except metadata.PackageNotFoundError:
        return "development"


def _format_value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    if isinstance(value, dict):
        return ", ".join(f"{k} {_format_value(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_format_value(v) for v in value) + "]"
    return str(value)


def _table(rows: dict[str, Any], depth: int = 0) -> str:
    """Key/value table; nested dicts become nested tables (three levels, then text)."""
    if not rows:
        return "<p><i>none recorded in the model config</i></p>"
    cells = []
    for key, value in rows.items():
        nested = isinstance(value, dict) and depth < 2
        shown = _table(value, depth + 1) if nested else html.escape(_format_value(value))
        cells.append(f"<tr><td valign='top'><b>{html.escape(str(key))}</b></td><td>{shown}</td></tr>")
    return f"<table cellspacing='2'>{''.join(cells)}</table>"


def model_card_html(
    config: ModelConfig | None, status: str, device: str = "", precision: str = "", settings_path: str = ""
) -> str:
    """The About box text: intended use, data, metrics and integrity, from the weights' config."""
    parts = [
        f"<h2>NeuroReview {html.escape(app_version())}</h2>",
        f"<p style='color:#c08000'><b>{RESEARCH_ONLY}</b></p>",
        f"<h3>Intended use</h3><p>{html.escape(INTENDED_USE)}</p>",
        f"<h3>Model</h3><p>Status: {html.escape(status)}</p>",
    ]
    if config is None:
        parts.append("<p>No usable model configuration was found; the application works as a viewer only.</p>")
    else:
        info = {
            "Name": config.model_name,
            "Version": config.model_version,
            "Classes (output order)": ", ".join(config.class_names),
            "Input": f"{config.input_size} x {config.input_size}, {config.architecture.channels} channel(s)",
            "Calibration temperature": config.temperature,
            "Test-time flip": "each slice is averaged with its mirror image" if config.test_time_flip else "off",
            "Test-time strip": (
                f"each slice is averaged with its view stripped to a brain outline "
                f"({config.test_time_strip:.0%} of the head's side inside the head)"
                if config.test_time_strip
                else "off"
            ),
            "Tumor prior shift": (
                f"{config.tumor_prior_shift:+.2f} log-odds for the tumor classes against notumor, after calibration"
                if config.tumor_prior_shift
                else "off"
            ),
            "Weights file": config.weights_file,
            "Weights SHA-256": config.weights_sha256 or "(not recorded)",
        }
        if device:
            info["Device / precision"] = f"{device} / {precision}"
        parts += [_table(info), "<h3>Metrics (as recorded with the weights)</h3>", _table(config.metrics)]
        parts += ["<h3>Data and training</h3>", _table(config.provenance)]
    if settings_path:
        parts.append(f"<p style='color:gray'>Settings are stored in {html.escape(settings_path)}</p>")
    return "".join(parts)


class TextDialog(QDialog):
    """A non-modal dialog showing rich text, closed with its OK button or Esc."""

    def __init__(self, title: str, body_html: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.resize(620, 560)
        layout = QVBoxLayout(self)
        self.browser = QTextBrowser()
        self.browser.setOpenExternalLinks(False)
        self.browser.setHtml(body_html)
        layout.addWidget(self.browser)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok)
        buttons.accepted.connect(self.accept)
        layout.addWidget(buttons)


def shortcuts_html(shortcuts: Sequence[tuple[str, str]], gestures: Sequence[tuple[str, str]]) -> str:
    """Two tables: keyboard shortcuts and mouse gestures."""

    def rows(items: Sequence[tuple[str, str]]) -> str:
        return "".join(f"<tr><td><b>{html.escape(k)}</b></td><td>{html.escape(v)}</td></tr>" for k, v in items)

    return (
        "<h3>Keyboard</h3><table cellspacing='4'>"
        + rows(shortcuts)
        + "</table><h3>Mouse</h3><table cellspacing='4'>"
        + rows(gestures)
        + "</table>"
    )

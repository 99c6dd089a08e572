"""The window preset box kept in step with the window on screen.

Presets come from a stack's middle slice, but with no window chosen each slice shows its own
default (its file's window, which may differ from slice to slice): the box then selects the preset
of that name and shows the values in use, so the box and the corner text never disagree; a window
of the user's own (dragged) selects nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtWidgets import QComboBox

from core.imaging import Window


def preset_label(number: int, window: Window) -> str:
    """The box's text for preset ``number`` (1-based: its key) showing ``window``'s values."""
    return f"{number}: {window.name or 'Window'} (W {window.width:.0f} L {window.center:.0f})"


def matching_preset(presets: Sequence[Window], shown: Window | None) -> int:
    """Index of the preset that is ``shown`` (same values, else same name and LUT), -1 when none is."""
    if shown is None:
        return -1
    for index, preset in enumerate(presets):
        if preset == shown:
            return index
    for index, preset in enumerate(presets):
        if shown.name and preset.name == shown.name and preset.lut_index == shown.lut_index:
            return index
    return -1


def show_in_box(box: QComboBox, presets: Sequence[Window], shown: Window | None) -> None:
    """Select the preset in use in ``box`` with the values on screen (none: a window of the user's own)."""
    index = matching_preset(presets, shown)
    box.blockSignals(True)
    for n, preset in enumerate(presets):
        box.setItemText(n, preset_label(n + 1, shown if n == index and shown is not None else preset))
    box.setCurrentIndex(index)
    box.blockSignals(False)

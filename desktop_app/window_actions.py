"""The main window's menus, toolbar and keyboard shortcuts, and the Help dialogs that list them.

Kept out of the main window: every menu entry is a :class:`QAction` added to the window too (so its
shortcut works wherever the focus is), connected to a window method or one of its collaborators.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QComboBox, QLabel, QMenu

from desktop_app.dialogs import TextDialog, model_card_html, shortcuts_html
from desktop_app.review_session import QtReviewSession

if TYPE_CHECKING:  # pragma: no cover
    from desktop_app.main_window import MainWindow

GESTURES = (
    ("Wheel", "previous / next slice"),
    ("Left drag", "window (horizontal) / level (vertical)"),
    ("Ctrl + wheel", "zoom about the cursor"),
    ("Right or middle drag", "pan"),
    ("Double click", "fit to window"),
    ("Drop files or folders", "open them"),
    ("Click or wheel on another viewport", "make it the active one (layouts)"),
    ("Shift + click", "crosshair: every viewport goes to that point"),
    ("Drag a series from the study browser", "show it in the viewport it is dropped on"),
)
Shortcut = str | QKeySequence | QKeySequence.StandardKey


def add_action(
    window: MainWindow,
    menu: QMenu,
    text: str,
    slot: Callable[..., object],
    shortcut: Shortcut | None = None,
    checkable: bool = False,
) -> QAction:
    """A menu entry that is also a window action (its shortcut works wherever the focus is)."""
    action = QAction(text, window)
    if shortcut:
        action.setShortcut(QKeySequence(shortcut))
    action.setCheckable(checkable)
    (action.toggled if checkable else action.triggered).connect(slot)
    menu.addAction(action)
    window.addAction(action)
    return action


def build_actions(window: MainWindow) -> None:
    """The File, View, AI and Help menus, the window-preset toolbar and the preset keys 1-9."""
    menus = window.menuBar()
    file = menus.addMenu("&File")
    add_action(window, file, "Open files...", window.open_files_dialog, QKeySequence.StandardKey.Open)
    add_action(window, file, "Open folder...", window.open_folder_dialog, "Ctrl+Shift+O")
    add_action(window, file, "Open DICOMDIR...", window.open_dicomdir_dialog, "Ctrl+Alt+O")
    window.recent_menu = file.addMenu("Open recent")
    fill_recent(window)
    export = file.addMenu("Export")
    add_action(window, export, "Export PDF report...", lambda: window.export_dialog("pdf"), "Ctrl+E")
    add_action(window, export, "Export PNG of the view...", lambda: window.export_dialog("png"))
    add_action(window, export, "Export DICOM SR + Secondary Capture...", lambda: window.export_dialog("dicom"))
    add_action(window, export, "Export results as CSV...", lambda: window.export_dialog("csv"))
    add_action(window, export, "Export results as JSON...", lambda: window.export_dialog("json"))
    file.addSeparator()
    add_action(window, file, "Quit", window.close, QKeySequence.StandardKey.Quit)
    window.session = QtReviewSession(window, file)  # Close study / Close all, per-series view state

    view = menus.addMenu("&View")
    add_action(window, view, "Fit to window", window.viewer.fit, "F")
    add_action(window, view, "Actual pixels (1:1)", window.viewer.one_to_one, "Z")
    zoom_in = add_action(window, view, "Zoom in", lambda: window.viewer.zoom_by(1.25), QKeySequence.StandardKey.ZoomIn)
    zoom_in.setShortcuts([*zoom_in.shortcuts(), QKeySequence("Ctrl+=")])  # "+" needs Shift on most layouts
    add_action(window, view, "Zoom out", lambda: window.viewer.zoom_by(0.8), QKeySequence.StandardKey.ZoomOut)
    add_action(window, view, "Invert", window.toggle_invert, "I")
    add_action(window, view, "Reset view and window", window.reset_view, "R")
    window.deid_action = add_action(window, view, "De-identified overlays", window.set_deidentify, "D", checkable=True)
    view.addSeparator()
    window.heat_action = add_action(
        window, view, "Show heatmap", window.ai_panel.heat_check.setChecked, "H", checkable=True
    )
    window.heat_action.setChecked(True)
    window.ai_panel.heat_check.toggled.connect(window.heat_action.setChecked)
    side = add_action(window, view, "Side by side", window.ai_panel.side_check.setChecked, "S", checkable=True)
    window.ai_panel.side_check.toggled.connect(side.setChecked)
    view.addSeparator()
    for dock in (window.browser_dock, window.ai_dock, window.errors_dock):
        view.addAction(dock.toggleViewAction())

    ai = menus.addMenu("&AI")
    add_action(window, ai, "Classify current slice", lambda: window.classify_current(force=True), "Space")
    add_action(window, ai, "Classify series", window.classify_series, "Ctrl+R")
    add_action(window, ai, "Cancel series run", window.cancel_series, "Esc")
    add_action(window, ai, "Jump to most suspicious slice", window.jump_to_most_suspicious, "J")
    auto = window.classification._on_auto_toggled
    window.auto_action = add_action(
        window, ai, "Classify automatically on slice change", auto, "Ctrl+Shift+A", checkable=True
    )

    help_menu = menus.addMenu("&Help")
    add_action(window, help_menu, "Keyboard shortcuts", window.show_shortcuts, QKeySequence.StandardKey.HelpContents)
    add_action(window, help_menu, "Open sample study", window.open_sample_study)
    add_action(window, help_menu, "About NeuroReview / model card", window.show_about)

    tools = window.addToolBar("Window")
    tools.setObjectName("window_toolbar")
    tools.addWidget(QLabel(" Window: "))
    window.preset_combo = QComboBox()
    window.preset_combo.setMinimumWidth(260)
    window.preset_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
    window.preset_combo.setToolTip("Window presets: from the file, Auto, Brain, Full range (keys 1-9)")
    window.preset_combo.activated.connect(window.apply_preset)
    tools.addWidget(window.preset_combo)
    for n in range(1, 10):
        action = QAction(f"Window preset {n}", window)
        action.setShortcut(QKeySequence(str(n)))
        action.triggered.connect(lambda _checked=False, i=n - 1: window.apply_preset(i))
        window.addAction(action)


def shortcut_list(window: MainWindow) -> list[tuple[str, str]]:
    """(keys, what) for every action with a shortcut, for the Help dialog."""
    items = [
        ("Up/Left, Down/Right", "previous / next slice"),
        ("PageUp / PageDown", "5 slices back / forward"),
        ("Home / End", "first / last slice (of the time point on screen)"),
        ("[ / ]", "previous / next time point (series with several)"),
        ("1 - 9", "window preset"),
        ("B (hold)", "blink the heatmap"),
    ]
    for action in window.actions():
        keys = " or ".join(k.toString() for k in action.shortcuts())
        if keys and not action.text().startswith("Window preset"):
            items.append((keys, action.text()))
    return items


def fill_recent(window: MainWindow) -> None:
    """File > Open recent from the settings' list of recently opened paths."""
    window.recent_menu.clear()
    for item in window.settings.recent:
        action = window.recent_menu.addAction(item)
        action.triggered.connect(lambda _checked=False, p=item: window.open_paths([Path(p)]))
    window.recent_menu.setEnabled(bool(window.settings.recent))


def show_shortcuts(window: MainWindow) -> None:
    dialog = TextDialog("Keyboard shortcuts", shortcuts_html(window.shortcut_list(), GESTURES), window)
    dialog.show()


def about_html(window: MainWindow) -> str:
    info = window.model_info
    status = {"ready": "loaded", "failed": f"unavailable ({window.model_error})"}.get(
        window.model_state, window.model_state
    )
    return model_card_html(
        window.config,
        status,
        info.device if info else "",
        info.precision if info else "",
        window.settings.location(),
    )


def show_about(window: MainWindow) -> None:
    TextDialog("About NeuroReview", window.about_html(), window).show()

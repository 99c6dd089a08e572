"""What the main window keeps between sessions: its geometry and docks, and the AI panel's preferences.

The heatmap style and method are restored through the AI panel (its sliders round them as the reader sees
them, and the panel passes them on to the review session) and saved from the review session.

Kept out of the main window: restored once after the window is built, saved when it closes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt

from desktop_app.window_size import fitting_size

if TYPE_CHECKING:  # pragma: no cover
    from core.review import HeatmapSettings
    from desktop_app.main_window import MainWindow


def restore_settings(window: MainWindow) -> None:
    """Geometry and docks as left (else a size that fits the screen), the AI panel's preferences."""
    geometry, state = window.settings.window_state()
    if geometry is not None:
        window.restoreGeometry(geometry)
    else:
        screen = window.screen()
        window.resize(fitting_size(screen.availableGeometry().size() if screen is not None else None))
    if state is not None:
        window.restoreState(state)
    else:
        window.resizeDocks([window.browser_dock, window.ai_dock], [320, 380], Qt.Orientation.Horizontal)
    window.errors_dock.hide()  # shown again only when something could not be opened
    window.ai_panel.set_uncertain_below(window.settings.uncertain_below)
    window.ai_panel.set_overlay_style(
        window.settings.colormap, window.settings.overlay_opacity, window.settings.overlay_threshold
    )
    auto = window.settings.auto_classify
    window.ai_panel.auto_check.setChecked(auto)
    window.ai_panel.set_method(window.settings.heatmap_method)
    _remember_method(window)


def _remember_method(window: MainWindow) -> None:
    """From now on a method chosen (by the reader, or the weights' default put in the box) is kept."""
    last = [window.review.heatmap.method]

    def on_change(settings: HeatmapSettings) -> None:
        if settings.method != last[0]:
            last[0] = window.settings.heatmap_method = settings.method

    window.review.events.heatmap_changed.connect(on_change)


def save_settings(window: MainWindow) -> None:
    """Called when the window closes."""
    window.settings.save_window_state(window.saveGeometry(), window.saveState())
    style = window.review.heatmap.style
    window.settings.colormap = style.colormap
    window.settings.overlay_opacity = style.opacity
    window.settings.overlay_threshold = style.threshold
    window.settings.auto_classify = window.ai_panel.auto_check.isChecked()
    window.settings.store.sync()

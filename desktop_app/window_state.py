"""What the main window keeps between sessions: its geometry and docks, and the AI panel's preferences.

Kept out of the main window: restored once after the window is built, saved when it closes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt

from desktop_app.window_size import fitting_size

if TYPE_CHECKING:  # pragma: no cover
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
    window.ai_panel.method_combo.currentIndexChanged.connect(
        lambda _i: setattr(window.settings, "heatmap_method", window.ai_panel.method())
    )


def save_settings(window: MainWindow) -> None:
    """Called when the window closes."""
    window.settings.save_window_state(window.saveGeometry(), window.saveState())
    window.settings.colormap = window.ai_panel.colormap()
    window.settings.overlay_opacity = window.ai_panel.opacity()
    window.settings.overlay_threshold = window.ai_panel.threshold()
    window.settings.auto_classify = window.ai_panel.auto_check.isChecked()
    window.settings.store.sync()

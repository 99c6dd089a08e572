"""``neuroreview PATH... --layout RxC --screenshot FILE``: the paths fill the layout, the file is written."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtGui import QImage

from desktop_app.main import build_parser
from desktop_app.scripted_screenshot import ScreenshotJob, parse_grid, parse_size

from .viewer_helpers import WAIT_MS, write_volume

pytestmark = pytest.mark.gui


def test_arguments() -> None:
    args = build_parser().parse_args(["a", "b", "--layout", "1x2", "--screenshot", "s.png", "--size", "800x600"])
    assert args.paths == [Path("a"), Path("b")] and args.screenshot == Path("s.png") and not args.mpr
    assert parse_grid("2X2") == (2, 2) and parse_size("800x600") == (800, 600)
    for bad in ("3x1", "2", "axb"):
        with pytest.raises(ValueError, match="layout"):
            parse_grid(bad)
    with pytest.raises(ValueError, match="out of range"):
        parse_size("10x10")


@pytest.mark.parametrize("mpr", [False, True])
def test_screenshot_of_a_layout(qtbot, tmp_path: Path, tiny_weights_dir: Path, tiny_classifier, mpr: bool) -> None:
    write_volume(tmp_path / "flair", description="FLAIR", number=2)
    write_volume(tmp_path / "t1", description="T1", number=1)
    out = tmp_path / "shots" / "layout.png"
    job = ScreenshotJob([tmp_path / "flair", tmp_path / "t1"], out, grid=(1, 2), size=(900, 600), mpr=mpr,
                        weights=tiny_weights_dir, classifier_factory=lambda: tiny_classifier)  # fmt: skip
    window = job.window
    with qtbot.waitSignal(job.finished, timeout=WAIT_MS) as blocker:
        job.start()
    assert blocker.args == [0]
    image = QImage(str(out))
    assert not image.isNull() and image.width() == window.width() and image.height() == window.height()
    features = window.viewports
    assert window.series is not None and window.series.description == "FLAIR"  # the first path, in the main cell
    assert window.ai_panel.prediction is not None  # saved once the AI panel shows its prediction
    if mpr:
        assert features.grid.shape == (2, 2)
        assert {features.source_at(c).reformat.plane for c in (1, 2, 3)} == {"axial", "sagittal", "coronal"}
    else:
        assert features.grid.shape == (1, 2) and features.source_at(1).series.description == "T1"
        assert features.viewer_at(1).has_image()

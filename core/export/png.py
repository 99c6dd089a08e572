"""PNG of the current view exactly as displayed (the RGB array the GUI rendered, overlay included)."""

from __future__ import annotations

import os
from collections.abc import Iterable

import numpy as np
from numpy.typing import NDArray
from PIL import Image, PngImagePlugin

from core.export.destination import atomic_output, check_destination
from core.export.errors import ExportError
from core.export.records import RESEARCH_USE_STATEMENT, SOFTWARE_NAME, software_version


def write_view_png(
    path: str | os.PathLike[str],
    pixels: NDArray[np.uint8],
    *,
    description: str = "",
    sources: Iterable[str | os.PathLike[str]] = (),
    allow_beside_source: bool = False,
) -> None:
    """Write ``pixels`` ((H, W) grey, (H, W, 3) RGB or (H, W, 4) RGBA uint8) unchanged as PNG.

    The pixels are not altered; the research-use statement, the software and ``description``
    go into PNG text chunks (Disclaimer, Software, Description).
    """
    arr = np.ascontiguousarray(pixels)
    if arr.dtype != np.uint8 or not (arr.ndim == 2 or (arr.ndim == 3 and arr.shape[2] in (3, 4))):
        raise ExportError(f"the view must be a uint8 grey, RGB or RGBA picture, got {arr.dtype} {arr.shape}")
    target = check_destination(path, sources, allow_beside_source=allow_beside_source)
    info = PngImagePlugin.PngInfo()
    info.add_text("Disclaimer", RESEARCH_USE_STATEMENT)
    info.add_text("Software", f"{SOFTWARE_NAME} {software_version()}")
    if description:
        info.add_itxt("Description", description)
    with atomic_output(target) as tmp:
        Image.fromarray(arr).save(tmp, format="PNG", pnginfo=info)

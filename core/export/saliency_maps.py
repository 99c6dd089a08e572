"""Raw saliency maps for research users: one 16-bit PNG, one float .npy and one JSON sidecar per slice.

The map is the classifier's heatmap in the slice's own pixel grid (rows x columns of the source
slice), normalised to its maximum: the PNG stores ``round(v * 65535)`` as 16-bit grayscale (so
0..65535 = 0..1), the ``.npy`` the float32 values themselves, and the sidecar names the slice, the
class the map explains, the method and the weights.  Files are written atomically, never replaced.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from core.export.destination import atomic_output
from core.export.records import RESEARCH_USE_STATEMENT

PNG_SCALE = 65535


def to_uint16(heatmap: NDArray[np.floating]) -> NDArray[np.uint16]:
    """The map (0..1) as 16-bit values, 0..65535 = 0..1."""
    values = np.clip(np.nan_to_num(np.asarray(heatmap, dtype=np.float64), nan=0.0), 0.0, 1.0)
    return np.rint(values * PNG_SCALE).astype(np.uint16)


def write_saliency_map(
    folder: Path,
    stem: str,
    heatmap: NDArray[np.floating],
    *,
    source: str,
    frame: int,
    class_name: str,
    method: str,
    model_sha256: str,
) -> Path:
    """Write ``stem``.png (16-bit), ``stem``.npy and ``stem``.json into ``folder``; returns the PNG's path."""
    from PIL import Image
    from PIL.PngImagePlugin import PngInfo

    heat = np.asarray(heatmap, dtype=np.float32)
    if heat.ndim != 2:
        raise ValueError(f"a saliency map must be 2-D, got shape {heat.shape}")
    png, npy, sidecar = (folder / f"{stem}{ext}" for ext in (".png", ".npy", ".json"))
    info = PngInfo()
    info.add_text("Source", f"{source}#{frame}")
    info.add_text("Comment", f"{method} saliency for {class_name}; 0..65535 = 0..1; model {model_sha256[:12]}")
    info.add_text("Disclaimer", RESEARCH_USE_STATEMENT)
    with atomic_output(png) as tmp:
        Image.fromarray(to_uint16(heat)).save(tmp, format="PNG", pnginfo=info)
    with atomic_output(npy) as tmp, open(tmp, "wb") as handle:
        np.save(handle, heat, allow_pickle=False)
    record: dict[str, Any] = {
        "source": source,
        "frame": int(frame),
        "class": class_name,
        "method": method,
        "model_sha256": model_sha256,
        "rows": int(heat.shape[0]),
        "columns": int(heat.shape[1]),
        "png": png.name,
        "png_scale": "16-bit grayscale, 0..65535 = 0..1 (map normalised to its maximum)",
        "npy": npy.name,
        "use": RESEARCH_USE_STATEMENT,
    }
    with atomic_output(sidecar) as tmp:
        Path(tmp).write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    return png

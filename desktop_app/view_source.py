"""What a viewport shows: the slices of an acquired series, or the images of a reformat (MPR).

Both answer the same questions (how many images, the screen rendering, the modality values, the plane
in patient space, the corner texts), so viewports, measurements and reference lines treat them alike.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from core.imaging import PixelStore, Series, SliceMetadata, Window
from core.imaging.display import apply_window, auto_window
from core.imaging.geometry import GeometryError, PlaneGeometry
from core.imaging.mpr import Reformat
from desktop_app.metadata_cache import MetadataCache
from desktop_app.overlays import corner_text

REFORMAT_NOTE = "Reformat: the AI runs on acquired slices only"
REFORMAT_CORNER = "REFORMAT\nAI: acquired slices only"


@dataclass(eq=False)
class SeriesSource:
    """The acquired slices of one series, decoded through the shared PixelStore."""

    series: Series
    store: PixelStore
    is_reformat = False

    def __post_init__(self) -> None:
        self._meta = MetadataCache(self.store, 256)

    def __len__(self) -> int:
        return len(self.series.slices)

    @property
    def label(self) -> str:
        return self.series.label

    @property
    def uid(self) -> str:
        return self.series.uid

    def key(self, index: int) -> str:
        """Identity of image ``index`` (measurements are kept per image)."""
        return self.series.slices[index].key

    def metadata(self, index: int) -> SliceMetadata | None:
        return self._meta.get(self.series.slices[index])

    def modality(self) -> str:
        return self.series.modality

    def display(self, index: int, window: Window | None, invert: bool) -> NDArray[np.uint8]:
        return self.store.display(self.series.slices[index], window, invert)

    def values(self, index: int) -> NDArray[np.generic]:
        return self.store.modality(self.series.slices[index])

    def default_window(self, index: int) -> Window:
        return self.store.default_window(self.series.slices[index])

    def spacing(self, index: int) -> tuple[float, float] | None:
        meta = self.metadata(index)
        return meta.pixel_spacing if meta is not None else None

    def geometry(self, index: int) -> PlaneGeometry | None:
        """The slice's plane, None when its header lacks position, orientation or spacing."""
        try:
            return PlaneGeometry.of_slice(self.series.slices[index], self.spacing(index))
        except GeometryError:
            return None

    def placement(self, index: int) -> tuple[NDArray[np.float64], NDArray[np.float64]] | None:
        """(position, unit normal) of image ``index`` from its header; None when unknown."""
        ref = self.series.slices[index]
        if ref.position is None or ref.orientation is None:
            return None
        normal = np.cross(np.asarray(ref.orientation[:3], float), np.asarray(ref.orientation[3:], float))
        size = float(np.linalg.norm(normal))
        return (np.asarray(ref.position, float), normal / size) if size > 1e-6 else None

    def frame_of_reference(self) -> str:
        """Series sharing a frame of reference are compared by patient position (the study stands in
        when the header has no Frame of Reference UID)."""
        return self.series.frame_of_reference_uid or self.series.study_uid

    def corners(self, index: int, window: Window | None, zoom: float, invert: bool, deidentify: bool) -> dict[str, str]:
        ref = self.series.slices[index]
        return corner_text(self.metadata(index), index, len(self), window, zoom, invert=invert,
                           deidentify=deidentify, orientation=ref.orientation)  # fmt: skip


@dataclass(eq=False)
class ReformatSource:
    """The images of one plane of a reformatted volume (modality values kept in memory)."""

    reformat: Reformat
    series: Series  # the acquired series it was built from
    _window: Window | None = None
    is_reformat = True

    def __len__(self) -> int:
        return len(self.reformat)

    @property
    def label(self) -> str:
        return f"{self.reformat.plane.capitalize()} reformat of {self.series.label}"

    @property
    def uid(self) -> str:
        return f"mpr:{self.reformat.plane}:{self.series.uid}"

    def key(self, index: int) -> str:
        return f"{self.uid}#{index}"

    def modality(self) -> str:
        return self.series.modality

    def values(self, index: int) -> NDArray[np.generic]:
        image: NDArray[np.generic] = self.reformat.images[index]
        return image

    def default_window(self, index: int) -> Window:
        if self._window is None:  # one window for the whole reformat, from a subsample of the volume
            self._window = auto_window(self.reformat.images[:, ::4, ::4])
        return self._window

    def display(self, index: int, window: Window | None, invert: bool) -> NDArray[np.uint8]:
        out = apply_window(self.reformat.images[index], window or self.default_window(index))
        return (255 - out) if invert else out

    def spacing(self, index: int) -> tuple[float, float] | None:
        return self.reformat.spacing

    def geometry(self, index: int) -> PlaneGeometry | None:
        return self.reformat.geometry(index)

    def placement(self, index: int) -> tuple[NDArray[np.float64], NDArray[np.float64]] | None:
        r = self.reformat
        normal = np.cross(r.row_direction, r.column_direction)
        return r.origin + r.step * index, normal

    def frame_of_reference(self) -> str:
        return self.series.frame_of_reference_uid or self.series.study_uid

    def corners(self, index: int, window: Window | None, zoom: float, invert: bool, deidentify: bool) -> dict[str, str]:
        plane = self.geometry(index)
        texts = corner_text(None, index, len(self), window, zoom, invert=invert, deidentify=deidentify,
                            orientation=plane.orientation if plane is not None else None)  # fmt: skip
        location = f"Loc {plane.location:.1f} mm" if plane is not None else ""
        interpolated = " (interpolated)" if self.reformat.interpolated else ""
        texts["bottom_left"] = "\n".join(t for t in (texts["bottom_left"], location) if t)
        series = "" if deidentify else self.series.description
        texts["top_right"] = "\n".join(t for t in (f"MPR {self.reformat.plane}{interpolated}", series) if t)
        texts["top_left"] = REFORMAT_CORNER
        return texts


ViewSource = SeriesSource | ReformatSource


def locations(source: ViewSource, normal: NDArray[np.float64]) -> list[float | None]:
    """Each image's position along ``normal`` (mm); None for images not parallel to it or without geometry."""
    out: list[float | None] = []
    for index in range(len(source)):
        placed = source.placement(index)
        parallel = placed is not None and abs(abs(float(np.dot(placed[1], normal))) - 1.0) < 1e-3
        out.append(float(np.dot(placed[0], normal)) if placed is not None and parallel else None)
    return out

"""Lazy, thread-safe pixel access: decode a slice only when asked, keep recent ones in an LRU cache.

The cache is bounded in megabytes of decoded values; a 500-slice series is never decoded at once.
All cache state sits behind one lock; decoding itself runs outside it, so a slow decode in one
thread does not block cache hits in another.  A slice (or a file's header) wanted by two threads at
once is read by one of them while the other waits for it: the window and the inference worker share
one store, and scrolling asks both for the same slice at the same moment.  Returned arrays are
read-only views of the cache.
"""

from __future__ import annotations

import dataclasses
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import numpy as np
from numpy.typing import NDArray

from core.imaging.dicom_pixels import DecodedFrame, DicomSource, decode_frame, load_source
from core.imaging.display import apply_file_lut, apply_window, auto_window, brain_window, full_range_window
from core.imaging.errors import FileAccessError, ImagingError, InvalidImageError
from core.imaging.intended_use import colour_picture_reason
from core.imaging.metadata import SliceMetadata, read_metadata
from core.imaging.nifti import NiftiVolume, load_volume
from core.imaging.raster import load_raster
from core.imaging.render import render_for_model
from core.imaging.sniff import file_signature
from core.imaging.study import SliceRef
from core.imaging.window import Window

T = TypeVar("T")
_MAX_SOURCES = 64  # parsed headers kept (multi-frame files decode frame after frame)
_MAX_AUTO = 4096
_MAX_VOLUMES = 3  # whole NIfTI volumes kept (a .nii.gz can only be read from its start)


@contextmanager
def _typed_errors(ref: SliceRef) -> Iterator[None]:
    """Any failure while reading ``ref`` becomes a typed ImagingError naming its file."""
    try:
        yield
    except ImagingError as exc:
        raise exc.with_path(ref.path) from exc.__cause__
    except PermissionError as exc:
        raise FileAccessError("no permission to read the file", ref.path) from exc
    except FileNotFoundError as exc:
        raise FileAccessError("file no longer exists (moved or deleted after opening)", ref.path) from exc
    except Exception as exc:  # any other failure is still this file's, typed and readable
        raise InvalidImageError(f"image cannot be decoded ({type(exc).__name__}: {exc})", ref.path) from exc


class PixelStore:
    """Decodes slices on demand: modality values, screen rendering, model rendering, window presets."""

    def __init__(self, max_megabytes: int = 512) -> None:
        self.max_bytes = max(int(max_megabytes), 1) * 1024 * 1024
        self._lock = threading.Lock()
        self._frames: OrderedDict[str, tuple[tuple[int, int], DecodedFrame]] = OrderedDict()
        self._bytes = 0
        self._sources: OrderedDict[str, tuple[tuple[int, int], DicomSource]] = OrderedDict()
        self._auto: OrderedDict[str, Window] = OrderedDict()
        self._volumes: OrderedDict[str, tuple[tuple[int, int], NiftiVolume]] = OrderedDict()
        self._reading: dict[tuple[str, str], threading.Event] = {}  # what one thread reads while others wait

    def _once(self, key: tuple[str, str], lookup: Callable[[], T | None], read: Callable[[], T]) -> T:
        """``lookup()`` (called under the lock) or, on a miss, ``read()`` in exactly one thread at a time
        per ``key``: a second thread asking meanwhile waits for the first and then looks again."""
        while True:
            with self._lock:
                hit = lookup()
                if hit is not None:
                    return hit
                pending = self._reading.get(key)
                if pending is None:
                    mine = self._reading[key] = threading.Event()
                    break
            pending.wait()
        try:
            return read()
        finally:
            with self._lock:
                del self._reading[key]
            mine.set()

    # -- cache -----------------------------------------------------------------------------------
    @property
    def cached_bytes(self) -> int:
        """Decoded bytes currently held."""
        with self._lock:
            return self._bytes

    def clear(self) -> None:
        """Drop every cached slice, header and automatic window."""
        with self._lock:
            self._frames.clear()
            self._sources.clear()
            self._auto.clear()
            self._volumes.clear()
            self._bytes = 0

    def forget(self, refs: Iterable[SliceRef]) -> None:
        """Drop what is cached for ``refs`` (a closed study): their decoded slices, headers, volumes and
        automatic windows; the rest of the cache stays."""
        refs = list(refs)
        keys = {r.key for r in refs} | {r.representative.key for r in refs if r.representative is not None}
        paths = {str(r.path) for r in refs}
        with self._lock:
            for key in keys & self._frames.keys():
                self._bytes -= self._frames.pop(key)[1].nbytes
            for key in keys & self._auto.keys():
                del self._auto[key]
            for cache in (self._sources, self._volumes):
                for path in paths & cache.keys():
                    del cache[path]

    def _signature(self, ref: SliceRef) -> tuple[int, int]:
        """Current (size, mtime) of the file; FileAccessError if it vanished or changed since opening."""
        signature = file_signature(ref.path)
        if ref.file_size >= 0 and signature != (ref.file_size, ref.file_mtime_ns):
            raise FileAccessError("file has changed since it was opened; open it again", ref.path)
        return signature

    def _per_file(self, cache: OrderedDict[str, tuple[tuple[int, int], T]], limit: int, ref: SliceRef,
                  signature: tuple[int, int], load: Callable[[Path], T]) -> T:  # fmt: skip
        """What ``load`` makes of ``ref``'s file, kept in ``cache`` (at most ``limit`` files) while unchanged."""
        key = str(ref.path)

        def lookup() -> T | None:
            hit = cache.get(key)
            if hit is not None and hit[0] == signature:
                cache.move_to_end(key)
                return hit[1]
            return None

        def read() -> T:
            value = load(ref.path)
            with self._lock:
                cache[key] = (signature, value)
                while len(cache) > limit:
                    cache.popitem(last=False)
            return value

        return self._once((f"file-{id(cache)}", key), lookup, read)  # one key space per cache

    def _source(self, ref: SliceRef, signature: tuple[int, int]) -> DicomSource:
        return self._per_file(self._sources, _MAX_SOURCES, ref, signature, load_source)

    def _volume(self, ref: SliceRef, signature: tuple[int, int]) -> NiftiVolume:
        """The NIfTI volume of ``ref`` (a few kept: scrolling reads the file once)."""
        return self._per_file(self._volumes, _MAX_VOLUMES, ref, signature, load_volume)

    def _decode(self, ref: SliceRef, signature: tuple[int, int]) -> DecodedFrame:
        if ref.kind == "raster":
            values = load_raster(ref.path)
            return DecodedFrame(values, (), None, None)
        if ref.kind == "nifti":
            return DecodedFrame(self._volume(ref, signature).slice_values(ref.frame), (), None, None)
        if ref.mosaic is not None:  # one slice of a Siemens mosaic: cut out of the decoded image
            whole = decode_frame(self._source(ref, signature), 0)
            return dataclasses.replace(whole, values=np.ascontiguousarray(ref.mosaic.tile(whole.values, ref.frame)))
        return decode_frame(self._source(ref, signature), ref.frame)

    def _frame(self, ref: SliceRef) -> DecodedFrame:
        key = ref.key

        def lookup() -> DecodedFrame | None:
            hit = self._frames.get(key)
            if hit is not None and (ref.file_size < 0 or hit[0] == (ref.file_size, ref.file_mtime_ns)):
                self._frames.move_to_end(key)
                return hit[1]
            return None

        def read() -> DecodedFrame:
            with _typed_errors(ref):
                signature = self._signature(ref)
                decoded = self._decode(ref, signature)
            decoded.values.setflags(write=False)
            with self._lock:
                old = self._frames.pop(key, None)
                if old is not None:
                    self._bytes -= old[1].nbytes
                self._frames[key] = (signature, decoded)
                self._bytes += decoded.nbytes
                while self._bytes > self.max_bytes and len(self._frames) > 1:
                    _, (_, evicted) = self._frames.popitem(last=False)
                    self._bytes -= evicted.nbytes
            return decoded

        return self._once(("frame", key), lookup, read)

    # -- public API ----------------------------------------------------------------------------
    def metadata(self, ref: SliceRef) -> SliceMetadata:
        """The slice's metadata from the header this store keeps for decoding (a multi-frame file's
        header is parsed once, not once per frame).  Raises a typed ImagingError."""
        if ref.kind != "dicom":
            with _typed_errors(ref):
                meta = read_metadata(ref)
            if ref.kind == "raster" and ref.is_color:  # no header: a coloured picture is no MR slice
                reason = colour_picture_reason(self._frame(ref).values)
                meta = dataclasses.replace(meta, outside_use_reason=reason)
            return meta
        with _typed_errors(ref):
            header = self._source(ref, self._signature(ref)).header
        return read_metadata(ref, header)

    def modality(self, ref: SliceRef) -> NDArray[np.float32] | NDArray[np.uint8]:
        """Modality values, float32 (H, W) (rescale applied, MONOCHROME1 reflected so bright = high),
        or uint8 (H, W, 3) RGB for colour images.  Read-only."""
        return self._frame(ref).values

    def is_color(self, ref: SliceRef) -> bool:
        """True when the slice decodes to RGB."""
        return self._frame(ref).is_color

    def default_window(self, ref: SliceRef) -> Window:
        """The slice's first window from the file, else the series' "Auto" window."""
        decoded = self._frame(ref)
        if decoded.windows:
            return decoded.windows[0]
        return self._auto_window(ref)

    def _auto_window(self, ref: SliceRef) -> Window:
        representative = ref.representative or ref
        key = representative.key
        with self._lock:
            if key in self._auto:
                return self._auto[key]
        values = self._frame(representative).values
        window = auto_window(values) if values.ndim == 2 else Window(127.5, 256.0, "Auto")
        with self._lock:
            self._auto[key] = window
            while len(self._auto) > _MAX_AUTO:
                self._auto.popitem(last=False)
        return window

    def _modality_name(self, ref: SliceRef) -> str:
        if ref.kind != "dicom":
            return "OT"
        with self._lock:
            hit = self._sources.get(str(ref.path))
        return hit[1].modality if hit is not None else ""

    def window_presets(self, ref: SliceRef) -> list[Window]:
        """Windows for the slice: the file's own (centre/width and VOI LUTs), then "Auto" (robust range of
        the series' representative slice), "Brain" and "Full range".  Empty for colour images."""
        decoded = self._frame(ref)
        if decoded.is_color:
            return []
        values = decoded.values
        presets = [
            *decoded.windows,
            self._auto_window(ref),
            brain_window(self._frame(ref.representative or ref).values, self._modality_name(ref)),
            full_range_window(values),
        ]
        return presets

    def display(self, ref: SliceRef, window: Window | None = None, invert: bool = False) -> NDArray[np.uint8]:
        """Screen rendering: uint8 (H, W) windowed grayscale, or uint8 (H, W, 3) for colour.

        ``window`` None uses :meth:`default_window`; colour images ignore the window.
        """
        decoded = self._frame(ref)
        if decoded.is_color:
            rgb = np.asarray(decoded.values, dtype=np.uint8)
            return (255 - rgb) if invert else rgb.copy()
        chosen = window if window is not None else self.default_window(ref)
        if chosen.lut_index is not None and decoded.frame_ds is not None:
            out = apply_file_lut(decoded.values, decoded.frame_ds, chosen.lut_index, decoded.reflect)
        else:
            out = apply_window(decoded.values, chosen)
        return (255 - out) if invert else out

    def model_rendering(self, ref: SliceRef) -> NDArray[np.uint8]:
        """uint8 (H, W): :func:`core.imaging.render.render_for_model` of the modality values (no display window)."""
        return render_for_model(self._frame(ref).values)

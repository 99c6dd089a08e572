"""The review session: the series on screen, its slice, window and answers, the heatmap settings, and what an
export of it holds.

Plain Python, no Qt (napari's ``ViewerModel`` is the model): the main window and its widgets change the
session through its methods and follow it through :attr:`ReviewSession.events`.  Each change emits one
event, after the state has changed, and only when something did change:

- ``series_changed(Series | None)``: another series is open (index, window and answer start afresh), or none.
- ``index_changed(int)``: another slice; moving into another stack (e.g. magnitude to field map) also puts
  the window back to each slice's default, and the previous slice's answer goes.
- ``window_changed(ViewWindow)``: the grey-level window or the inversion.
- ``deidentify_changed(bool)``: the overlays hide or show the patient's identity.
- ``prediction_changed(Prediction | None)``: the answer shown for the slice on screen.
- ``heatmap_changed(HeatmapSettings)``: shown, method, class, colormap, opacity, threshold, "show anyway".
- ``slice_classified(SliceAnswer)``: a series run classified one slice.
- ``results_changed(str)``: a series' kept results as a whole (a run started or finished, the series closed).

:meth:`ReviewSession.export_content` says what an export of the session holds, from this state alone.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from core.export.errors import ExportError
from core.imaging import Series, SliceRef, Window
from core.imaging.heatmap import HeatmapStyle
from core.model.heatmap_policy import withhold_heatmap
from core.model.prediction import Prediction
from core.model.saliency import GRADIENT_METHODS
from core.model.series_summary import SeriesSummary
from core.review.events import Event
from core.review.results import SeriesResults, summarize

NO_SERIES = "open a study first"
NOTHING_CLASSIFIED = "nothing classified yet: classify the slice (Space) or the series (Ctrl+R) first"


@dataclass(frozen=True)
class ViewWindow:
    """The grey-level window on screen (None: each slice's own default) and whether the picture is inverted."""

    voi: Window | None = None
    invert: bool = False


@dataclass(frozen=True)
class HeatmapSettings:
    """How the saliency map is asked for and drawn, on screen and in every export.

    ``target`` is True for the predicted class, else a class name; ``outside_shown`` is the research-only
    "show the model's output anyway" for a slice outside the intended use.
    """

    shown: bool = True
    method: str = GRADIENT_METHODS[0]
    target: bool | str = True
    style: HeatmapStyle = field(default_factory=HeatmapStyle)
    outside_shown: bool = False


@dataclass(frozen=True)
class SliceAnswer:
    """One slice's answer from a series run: series, slice index, prediction."""

    series_uid: str
    index: int
    prediction: Prediction


@dataclass(frozen=True)
class ExportContent:
    """What an export of the session holds: the classified slices in series order with their answers as on
    screen, the key slice, the heatmap style and the window.  ``key_index`` indexes ``refs``; ``key_slice``
    is the key slice's index in the series (-1 when nothing is classified); ``partial_of`` is the number of
    slices in the series when not all were classified (no series verdict), else 0."""

    series_uid: str
    refs: tuple[SliceRef, ...]
    predictions: tuple[Prediction, ...]
    key_index: int
    key_slice: int
    style: HeatmapStyle
    window: ViewWindow
    partial_of: int


def carrying_heatmap(prediction: Prediction, shown: Prediction | None) -> Prediction:
    """``prediction`` with the map of ``shown`` (the same slice's answer on screen), if that has one."""
    if shown is None or shown.heatmap is None:
        return prediction
    return dataclasses.replace(
        prediction, heatmap=shown.heatmap, heatmap_class=shown.heatmap_class, heatmap_method=shown.heatmap_method
    )


class SessionEvents:
    """The session's events (see the module docstring for what each one carries)."""

    def __init__(self) -> None:
        self.series_changed: Event[Series | None] = Event("series_changed")
        self.index_changed: Event[int] = Event("index_changed")
        self.window_changed: Event[ViewWindow] = Event("window_changed")
        self.deidentify_changed: Event[bool] = Event("deidentify_changed")
        self.prediction_changed: Event[Prediction | None] = Event("prediction_changed")
        self.heatmap_changed: Event[HeatmapSettings] = Event("heatmap_changed")
        self.slice_classified: Event[SliceAnswer] = Event("slice_classified")
        self.results_changed: Event[str] = Event("results_changed")


class ReviewSession:
    """What the reader has open and chose; see the module docstring."""

    def __init__(self, heatmap: HeatmapSettings | None = None) -> None:
        self.events = SessionEvents()
        self.results = SeriesResults()  # per series; change it through the methods below so views follow
        self._series: Series | None = None
        self._index = -1
        self._window = ViewWindow()
        self._deidentify = False
        self._prediction: Prediction | None = None
        self._heatmap = heatmap if heatmap is not None else HeatmapSettings()

    # ----- the series and the slice --------------------------------------------------------------------
    @property
    def series(self) -> Series | None:
        return self._series

    @property
    def index(self) -> int:
        """Index of the slice on screen in the open series; -1 before the first one is shown."""
        return self._index

    @property
    def ref(self) -> SliceRef | None:
        """The slice on screen, or None."""
        if self._series is None or not 0 <= self._index < len(self._series.slices):
            return None
        return self._series.slices[self._index]

    def open_series(self, series: Series) -> None:
        """Open ``series``: no slice yet, each slice's default window, no answer shown."""
        self._series = series
        self._index = -1
        self._window = ViewWindow()
        self._prediction = None
        self.events.series_changed.emit(series)

    def replace_series(self, series: Series) -> int:
        """The open series as the scanner grew or re-ordered it: the same slice stays on screen (else the nearest
        index).  Returns the new index; no event, since what is on screen does not change."""
        key = self.ref.key if self.ref is not None else ""
        keys = [r.key for r in series.slices]
        self._series = series
        self._index = keys.index(key) if key in keys else min(self._index, len(keys) - 1)
        return self._index

    def close_series(self) -> None:
        """No series open any more (its kept results stay until :meth:`forget`)."""
        if self._series is None:
            return
        self._series = None
        self._index = -1
        self._window = ViewWindow()
        self._prediction = None
        self.events.series_changed.emit(None)

    def set_index(self, index: int) -> bool:
        """Show slice ``index`` (clamped into the series); False when nothing changed (or no series is open)."""
        series = self._series
        if series is None or not series.slices:
            return False
        index = min(max(int(index), 0), len(series.slices) - 1)
        if index == self._index:
            return False
        before = self.ref
        self._index = index
        if before is not None and before.stack_key != series.slices[index].stack_key:
            self._window = dataclasses.replace(self._window, voi=None)  # one stack's window does not fit another
        self._prediction = None  # the answer was for the slice left
        self.events.index_changed.emit(index)
        return True

    # ----- window and overlays -------------------------------------------------------------------------
    @property
    def window(self) -> ViewWindow:
        return self._window

    def set_window(self, window: ViewWindow) -> bool:
        """Show the slices with ``window``; False when it is the one already used."""
        if window == self._window:
            return False
        self._window = window
        self.events.window_changed.emit(window)
        return True

    @property
    def voi(self) -> Window | None:
        return self._window.voi

    @voi.setter
    def voi(self, voi: Window | None) -> None:
        self.set_window(dataclasses.replace(self._window, voi=voi))

    @property
    def invert(self) -> bool:
        return self._window.invert

    @invert.setter
    def invert(self, invert: bool) -> None:
        self.set_window(dataclasses.replace(self._window, invert=bool(invert)))

    @property
    def deidentify(self) -> bool:
        return self._deidentify

    @deidentify.setter
    def deidentify(self, enabled: bool) -> None:
        if bool(enabled) != self._deidentify:
            self._deidentify = bool(enabled)
            self.events.deidentify_changed.emit(self._deidentify)

    # ----- the answer on screen and the heatmap ----------------------------------------------------------
    @property
    def prediction(self) -> Prediction | None:
        """The answer shown for the slice on screen (its map as shown), or None."""
        return self._prediction

    def show_prediction(self, prediction: Prediction | None) -> None:
        """``prediction`` is now the answer shown for the slice on screen (None: none is)."""
        if prediction is not self._prediction:
            self._prediction = prediction
            self.events.prediction_changed.emit(prediction)

    @property
    def heatmap(self) -> HeatmapSettings:
        return self._heatmap

    def set_heatmap(self, settings: HeatmapSettings) -> bool:
        """Use ``settings`` from now on; False when nothing changed."""
        if settings == self._heatmap:
            return False
        self._heatmap = settings
        self.events.heatmap_changed.emit(settings)
        return True

    def set_class_names(self, names: Iterable[str]) -> None:
        """The model's classes: a chosen heatmap class it does not have goes back to the predicted class."""
        target = self._heatmap.target
        if isinstance(target, str) and target not in set(names):
            self.set_heatmap(dataclasses.replace(self._heatmap, target=True))

    def heatmap_allowed(self) -> bool:
        """False over a slice outside the intended use, unless the reader chose to see the output anyway."""
        shown = self._prediction
        return shown is None or shown.inside_intended_use or self._heatmap.outside_shown

    # ----- series runs and their results -----------------------------------------------------------------
    def start_run(self, uid: str) -> None:
        """A new run of series ``uid``: its old results go."""
        self.results.start(uid)
        self.events.results_changed.emit(uid)

    def add_result(self, uid: str, index: int, prediction: Prediction) -> None:
        """A run classified slice ``index`` of series ``uid``."""
        self.results.add(uid, index, prediction)
        self.events.slice_classified.emit(SliceAnswer(uid, index, prediction))

    def finish_run(self, uid: str, results: Mapping[int, Prediction]) -> None:
        """A run classified every slice of series ``uid``: ``results`` is the whole series."""
        self.results.finish(uid, results)
        self.events.results_changed.emit(uid)

    def forget(self, uids: Iterable[str]) -> None:
        """Series that were closed: their results go, and the open series closes if it is one of them."""
        closing = set(uids)
        kept = self.results.uids() & closing
        self.results.forget(closing)
        if self._series is not None and self._series.uid in closing:
            self.close_series()
        for uid in sorted(kept):
            self.events.results_changed.emit(uid)

    @property
    def verdict(self) -> tuple[SeriesSummary, int] | None:
        """The open series' summary and its key slice index, when its last run classified every slice."""
        series = self._series
        if series is None or not self.results.finished(series.uid):
            return None
        return summarize(self.results.of(series.uid), series.uid)

    @property
    def summary(self) -> SeriesSummary | None:
        verdict = self.verdict
        return verdict[0] if verdict is not None else None

    @property
    def key_slice(self) -> int:
        """Index of the series' key slice (highest P(tumor)) when a verdict is given, else -1."""
        verdict = self.verdict
        return verdict[1] if verdict is not None else -1

    # ----- export --------------------------------------------------------------------------------------
    def export_content(self, kind: str) -> ExportContent:
        """What an export of ``kind`` ("pdf", "png", "dicom", "csv", "json") holds: every classified slice of the
        open series, the slice on screen with its map as shown, and no map where every export leaves it out;
        the key slice is the one on screen for a PDF when it is classified, else the series' key slice.
        Raises ExportError when no series is open or (except for a PNG of the view) nothing is classified."""
        series, ref = self._series, self.ref
        if series is None or ref is None:
            raise ExportError(NO_SERIES)
        results = self.results.of(series.uid)
        shown = self._prediction
        if shown is not None:
            results[self._index] = carrying_heatmap(results.get(self._index, shown), shown)
        results = {i: withhold_heatmap(p) for i, p in results.items()}
        if kind != "png" and not results:
            raise ExportError(NOTHING_CLASSIFIED)
        order = sorted(results)
        key = self._index if (kind == "pdf" and self._index in results) else -1
        if key < 0 and results:
            outcome = summarize(results, series.uid)
            key = outcome[1] if outcome is not None else order[0]
        return ExportContent(
            series_uid=series.uid,
            refs=tuple(series.slices[i] for i in order),
            predictions=tuple(results[i] for i in order),
            key_index=order.index(key) if key in order else 0,
            key_slice=key,
            style=self._heatmap.style,
            window=self._window,
            partial_of=0 if self.results.finished(series.uid) else len(series.slices),
        )

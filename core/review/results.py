"""What series runs found, by Series Instance UID, and which runs classified every slice.

Plain Python (no Qt): the review session (:mod:`core.review.session`) keeps one, fills it from the series
runs and reads it back when a series is shown again, exported or closed.  Only a run that classified every slice
gives a series verdict; a cancelled one keeps its slices as a partial result.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from core.imaging import is_stack_uid
from core.model.prediction import Prediction
from core.model.series_summary import SeriesSummary, summarize_series


def summarize(results: Mapping[int, Prediction], series_uid: str) -> tuple[SeriesSummary, int] | None:
    """Series summary (core rule) of ``{slice index: prediction}`` and the key slice's index; None if empty."""
    if not results:
        return None
    order = sorted(results)
    summary = summarize_series([results[i] for i in order], stacked=is_stack_uid(series_uid))
    return summary, order[summary.key_index]


class SeriesResults:
    """``{slice index: prediction}`` per series, plus the set of series whose run finished."""

    def __init__(self) -> None:
        self._results: dict[str, dict[int, Prediction]] = {}
        self._finished: set[str] = set()

    def start(self, uid: str) -> None:
        """A new run of the series: its old results go."""
        self._results[uid] = {}
        self._finished.discard(uid)

    def add(self, uid: str, index: int, prediction: Prediction) -> None:
        self._results.setdefault(uid, {})[index] = prediction

    def finish(self, uid: str, results: Mapping[int, Prediction]) -> None:
        """The run classified every slice: ``results`` is the whole series."""
        self._results[uid] = dict(results)
        self._finished.add(uid)

    def of(self, uid: str) -> dict[int, Prediction]:
        """A copy of the series' results (empty when never run)."""
        return dict(self._results.get(uid, {}))

    def finished(self, uid: str) -> bool:
        """True when the series' last run classified every slice (a verdict may be given)."""
        return uid in self._finished

    def uids(self) -> set[str]:
        return set(self._results)

    def forget(self, uids: Iterable[str]) -> None:
        """Drop the results of closed series."""
        for uid in uids:
            self._results.pop(uid, None)
            self._finished.discard(uid)

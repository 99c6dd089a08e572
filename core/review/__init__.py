"""The review session (Qt-free): what the reader has open and chose, and the events the window's widgets follow.

The top layer of ``core`` beside the command line: it may use every layer below it and nothing imports it
but the GUI.  See :mod:`core.review.session`.
"""

from core.review.events import Event
from core.review.results import SeriesResults, summarize
from core.review.session import ExportContent, HeatmapSettings, ReviewSession, SliceAnswer, ViewWindow

__all__ = [
    "Event",
    "ExportContent",
    "HeatmapSettings",
    "ReviewSession",
    "SeriesResults",
    "SliceAnswer",
    "ViewWindow",
    "summarize",
]

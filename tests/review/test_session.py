"""The review session without Qt: state changes, one event per change with its payload, the export content."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from core.export.errors import ExportError
from core.imaging import Series, SliceRef, Window
from core.imaging.heatmap import HeatmapStyle
from core.model.prediction import Prediction
from core.review import Event, HeatmapSettings, ReviewSession, SliceAnswer, ViewWindow

NAMES = ("glioma", "meningioma", "notumor", "pituitary")


def _series(count: int = 5, uid: str = "1.2.3", stacks: tuple[str, ...] = ("",)) -> Series:
    refs = [
        SliceRef(Path(f"/data/{uid}/{i}.dcm"), 0, "dicom", 8, 8, series_uid=uid, stack_key=stacks[i % len(stacks)])
        for i in range(count)
    ]
    return Series(uid=uid, slices=refs, study_uid="9.9")


def _prediction(p_tumor: float, label: str = "glioma", heat: bool = False, outside: str = "") -> Prediction:
    probabilities = (p_tumor, 0.0, 1.0 - p_tumor, 0.0)
    return Prediction(
        NAMES,
        probabilities,
        label,
        p_tumor,
        "sha",
        "CPU",
        "float32",
        1.0,
        heatmap=np.full((8, 8), 0.7, np.float32) if heat else None,
        heatmap_class=label if heat else None,
        heatmap_method="gradcam" if heat else None,
        outside_reason=outside,
    )


class Recorder:
    """Every emission of every session event, as (event name, payload)."""

    def __init__(self, session: ReviewSession) -> None:
        self.calls: list[tuple[str, object]] = []
        for name, event in vars(session.events).items():
            event.connect(lambda payload, name=name: self.calls.append((name, payload)))

    def names(self) -> list[str]:
        return [name for name, _ in self.calls]

    def clear(self) -> None:
        self.calls.clear()


@pytest.fixture
def session() -> ReviewSession:
    return ReviewSession()


def test_the_session_loads_without_qt() -> None:
    code = "import sys, core.review; sys.exit(any(m.split('.')[0] == 'PySide6' for m in sys.modules))"
    root = Path(__file__).resolve().parents[2]
    assert (
        subprocess.run([sys.executable, "-c", code], cwd=root, env={**os.environ, "PYTHONPATH": str(root)}).returncode
        == 0
    )


def test_an_event_calls_each_callback_once_in_order_and_forgets_disconnected_ones() -> None:
    event: Event[int] = Event("x")
    seen: list[tuple[str, int]] = []

    def first(value: int) -> None:
        seen.append(("first", value))

    event.connect(first)
    event.connect(first)  # twice: still called once
    event.connect(lambda value: seen.append(("second", value)))
    event.emit(3)
    assert seen == [("first", 3), ("second", 3)]
    event.disconnect(first)
    event.emit(4)
    assert seen[-1] == ("second", 4) and len(seen) == 3


def test_opening_a_series_starts_afresh_and_emits_once(session: ReviewSession) -> None:
    session.open_series(_series(uid="a"))
    session.set_index(2)
    session.set_window(ViewWindow(Window(40.0, 80.0, "brain"), invert=True))
    session.show_prediction(_prediction(0.9))
    events = Recorder(session)
    other = _series(uid="b")
    session.open_series(other)
    assert events.calls == [("series_changed", other)]
    assert (session.series, session.index, session.ref, session.window, session.prediction) == (
        other,
        -1,
        None,
        ViewWindow(),
        None,
    )


def test_set_index_clamps_and_emits_only_on_a_real_change(session: ReviewSession) -> None:
    events = Recorder(session)
    assert not session.set_index(1)  # no series open: nothing happens
    session.open_series(_series(5))
    events.clear()
    assert session.set_index(99)
    assert session.index == 4 and events.calls == [("index_changed", 4)]
    assert not session.set_index(7)  # clamped onto the same slice: no event
    assert session.set_index(-3) and session.index == 0
    assert events.calls == [("index_changed", 4), ("index_changed", 0)]
    assert session.ref is not None and session.ref.path.name == "0.dcm"


def test_another_slice_forgets_the_answer_and_another_stack_the_window(session: ReviewSession) -> None:
    session.open_series(_series(4, stacks=("M", "M", "FIELD_MAP", "FIELD_MAP")))
    session.set_index(0)
    mine = ViewWindow(Window(100.0, 50.0, ""), invert=True)
    session.set_window(mine)
    session.show_prediction(_prediction(0.8))
    session.set_index(1)  # same stack: the window stays, the answer goes
    assert session.window == mine and session.prediction is None
    session.set_index(2)  # a field map: its own default window, still inverted
    assert session.window == ViewWindow(None, invert=True)


def test_window_changes_emit_the_new_window_once(session: ReviewSession) -> None:
    events = Recorder(session)
    brain = Window(40.0, 80.0, "brain")
    session.voi = brain
    session.voi = brain  # the same again: no event
    session.invert = True
    assert events.calls == [
        ("window_changed", ViewWindow(brain, False)),
        ("window_changed", ViewWindow(brain, True)),
    ]
    assert not session.set_window(ViewWindow(brain, True))
    session.deidentify = True
    session.deidentify = True
    assert events.calls[-1] == ("deidentify_changed", True) and len(events.calls) == 3


def test_heatmap_settings_change_with_one_event_and_a_missing_class_falls_back(session: ReviewSession) -> None:
    events = Recorder(session)
    chosen = HeatmapSettings(method="gradcam++", target="pituitary", style=HeatmapStyle("viridis", 0.8, 0.6))
    assert session.set_heatmap(chosen)
    assert not session.set_heatmap(dataclasses.replace(chosen))  # equal settings: no event
    assert events.calls == [("heatmap_changed", chosen)]
    session.set_class_names(NAMES)  # the class exists: kept
    assert session.heatmap.target == "pituitary" and len(events.calls) == 1
    session.set_class_names(("glioma", "notumor"))
    assert session.heatmap == dataclasses.replace(chosen, target=True)
    assert events.calls[-1] == ("heatmap_changed", session.heatmap)


def test_the_heatmap_is_allowed_outside_the_intended_use_only_when_asked(session: ReviewSession) -> None:
    session.open_series(_series())
    session.set_index(0)
    session.show_prediction(_prediction(0.9, outside="modality CT"))
    assert not session.heatmap_allowed()
    session.set_heatmap(dataclasses.replace(session.heatmap, outside_shown=True))
    assert session.heatmap_allowed()


def test_series_runs_fill_the_results_and_give_a_verdict_only_when_complete(session: ReviewSession) -> None:
    series = _series(4, uid="s")
    session.open_series(series)
    events = Recorder(session)
    session.start_run("s")
    first = _prediction(0.2)
    session.add_result("s", 0, first)
    assert events.calls == [("results_changed", "s"), ("slice_classified", SliceAnswer("s", 0, first))]
    assert session.summary is None and session.key_slice == -1  # partial: no verdict
    answers = {i: _prediction(p) for i, p in enumerate((0.2, 0.9, 0.95, 0.3))}
    session.finish_run("s", answers)
    assert events.calls[-1] == ("results_changed", "s")
    assert session.summary is not None and session.key_slice == 2


def test_closing_a_series_clears_its_results(session: ReviewSession) -> None:
    shown = _series(3, uid="shown")
    session.open_series(shown)
    session.finish_run("shown", {0: _prediction(0.9)})
    session.finish_run("other", {0: _prediction(0.1)})
    events = Recorder(session)
    session.forget({"shown", "never-run"})
    assert session.results.of("shown") == {} and not session.results.finished("shown")
    assert session.results.of("other") != {}  # another study's series keeps its results
    assert session.series is None
    assert events.calls == [("series_changed", None), ("results_changed", "shown")]


def test_the_export_content_comes_from_the_session_state(session: ReviewSession) -> None:
    series = _series(5, uid="x")
    session.open_series(series)
    with pytest.raises(ExportError, match="open a study"):
        session.export_content("pdf")
    session.set_index(1)
    with pytest.raises(ExportError, match="nothing classified"):
        session.export_content("pdf")
    assert session.export_content("png").refs == ()  # the view needs no answers
    session.finish_run("x", {i: _prediction(p) for i, p in enumerate((0.1, 0.2, 0.97, 0.9, 0.3))})
    style = HeatmapStyle("viridis", 0.8, 0.6)
    session.set_heatmap(HeatmapSettings(style=style, target="glioma"))
    window = ViewWindow(Window(40.0, 80.0, "brain"), invert=True)
    session.set_window(window)
    session.show_prediction(_prediction(0.2, heat=True))  # slice 1 on screen, with its map
    pdf = session.export_content("pdf")
    assert pdf.key_slice == 1 and pdf.refs[pdf.key_index] == series.slices[1]  # the slice on screen
    assert pdf.style == style and pdf.style.threshold == 0.6 and pdf.window == window
    assert pdf.predictions[pdf.key_index].heatmap is not None  # its map as shown
    assert pdf.predictions[pdf.key_index].p_tumor == 0.2 and pdf.partial_of == 0
    dicom = session.export_content("dicom")
    assert dicom.key_slice == 2 and dicom.refs[dicom.key_index] == series.slices[2]  # the series' key slice


def test_the_export_leaves_out_maps_no_export_shows_and_says_when_partial(session: ReviewSession) -> None:
    session.open_series(_series(3, uid="p"))
    session.set_index(0)
    session.start_run("p")
    session.add_result("p", 2, _prediction(0.9, heat=True, outside="modality CT"))
    session.show_prediction(_prediction(0.1, label="notumor", heat=True))
    content = session.export_content("json")
    assert [p.heatmap for p in content.predictions] == [None, None]  # a "notumor" map and an outside slice's map
    assert content.partial_of == 3 and [r.path.name for r in content.refs] == ["0.dcm", "2.dcm"]

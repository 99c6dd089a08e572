"""Reliability suite fixtures: an isolated NEUROREVIEW_HOME and a tally of cases per group.

Each test records every hostile case it tries with ``tally.case(group, handled)`` *before* it
asserts, so the figures count what really happened.  Set ``NEUROREVIEW_RELIABILITY_FIGURES`` to a
file name to have the session write the table (Markdown) and ``<name>.json`` at the end::

    NEUROREVIEW_RELIABILITY_FIGURES=reliability.md .venv/bin/python -m pytest tests/reliability
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from pathlib import Path

import pytest

FIGURES_ENV = "NEUROREVIEW_RELIABILITY_FIGURES"


class Tally:
    """Counts of hostile cases per group: tried, handled (as required) and lost."""

    def __init__(self) -> None:
        self.tried: defaultdict[str, int] = defaultdict(int)
        self.handled: defaultdict[str, int] = defaultdict(int)

    def case(self, group: str, handled: bool) -> bool:
        """Record one case; returns ``handled`` so a test can ``assert tally.case(...)``."""
        self.tried[group] += 1
        if handled:
            self.handled[group] += 1
        return handled

    def rows(self) -> list[tuple[str, int, int, int]]:
        """(group, tried, handled, lost) sorted by group."""
        return [(g, self.tried[g], self.handled[g], self.tried[g] - self.handled[g]) for g in sorted(self.tried)]

    def markdown(self) -> str:
        lines = ["| Group | Cases tried | Handled | Lost |", "|---|---:|---:|---:|"]
        lines += [f"| {g} | {t} | {h} | {lost} |" for g, t, h, lost in self.rows()]
        return "\n".join(lines) + "\n"


_TALLY = Tally()


@pytest.fixture
def tally() -> Tally:
    """The session-wide tally of reliability cases."""
    return _TALLY


@pytest.fixture(autouse=True)
def neuroreview_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Logs, audit log, salt and caches go to a temporary folder, never the user's."""
    home = tmp_path / "neuroreview_home"
    monkeypatch.setenv("NEUROREVIEW_HOME", str(home))
    return home


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    target = os.environ.get(FIGURES_ENV)
    if not target or not _TALLY.tried:
        return
    path = Path(target)
    path.write_text(_TALLY.markdown(), encoding="utf-8")
    rows = [{"group": g, "tried": t, "handled": h, "lost": lost} for g, t, h, lost in _TALLY.rows()]
    path.with_suffix(".json").write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")

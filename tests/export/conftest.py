"""Fixtures: a small identifiable MR series on disk and predictions for it (no model needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.export.records import SliceResult
from export.helpers import Series, results_for, write_series


@pytest.fixture
def mr_series(tmp_path: Path) -> Series:
    return write_series(tmp_path / "patient_doe" / "series3")


@pytest.fixture
def slice_results(mr_series: Series) -> list[SliceResult]:
    return results_for(mr_series)

"""Study list search: a box above the study browser that keeps only the series matching every word.

A word matches the patient's name or ID, the study date (as 20240131 or 2024-01-31), the modality, the
study or series description or the accession number, case-insensitively.
"""

from __future__ import annotations

from PySide6.QtWidgets import QLineEdit, QVBoxLayout, QWidget

from core.imaging import Series
from desktop_app.study_browser import StudyBrowser


def _date_forms(date: str) -> str:
    return f"{date} {date[:4]}-{date[4:6]}-{date[6:]}" if len(date) == 8 and date.isdigit() else date


def series_text(series: Series) -> str:
    """Everything a search looks at, lower case."""
    fields = (
        series.patient_name,
        series.patient_id,
        _date_forms(series.study_date),
        series.modality,
        series.study_description,
        series.description,
        series.accession_number,
    )
    return " ".join(fields).lower()


def matches(series: Series, query: str) -> bool:
    """True when every word of ``query`` occurs in the series' searchable text (an empty query matches)."""
    text = series_text(series)
    return all(word in text for word in query.lower().split())


class StudySearch(QWidget):
    """The search box and the browser under it (the Studies dock's content)."""

    def __init__(self, browser: StudyBrowser) -> None:
        super().__init__()
        self.browser = browser
        self.box = QLineEdit()
        self.box.setPlaceholderText("Search: patient, ID, date, modality, description, accession")
        self.box.setClearButtonEnabled(True)
        self.box.textChanged.connect(self.apply)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.box)
        layout.addWidget(browser)

    def apply(self, query: str) -> None:
        self.browser.set_filter(lambda series: matches(series, query))

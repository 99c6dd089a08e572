"""The installed Qt binding must keep Python's reference counts right on the calls the viewer makes
thousands of times a minute.  PySide6 6.12.0 on Python 3.11 dropped one reference to None on every
Qt call that returns nothing; None's count (about 40,000 once the workstation is imported) ran out
after minutes of scrolling and the interpreter aborted with "deallocating None"."""

from __future__ import annotations

import sys

from PySide6.QtCore import QCoreApplication, QTimer
from PySide6.QtWidgets import QLabel


def test_qt_calls_returning_nothing_do_not_consume_references_to_none(qtbot) -> None:  # type: ignore[no-untyped-def]
    label = QLabel("x")
    qtbot.addWidget(label)
    timer = QTimer()
    calls = 2000
    before = sys.getrefcount(None)
    for _ in range(calls):
        label.setText("y")
        label.update()
        timer.start(1000)
        timer.stop()
        QCoreApplication.processEvents()
    lost = before - sys.getrefcount(None)
    assert lost < calls // 20, f"{lost} references to None lost in {5 * calls} Qt calls: a broken binding build"

"""The audit helpers used by the CLI and the GUI: pseudonyms only, a verifiable chain, never a crash."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from core.platform.audit import AuditLog, pseudonym, verify_chain
from core.platform.audit_events import record_classified, record_exported, record_opened

SOURCE = "/data/Rossi_Maria/PID-7731-XQ/IM0001.dcm"


def test_events_are_chained_and_name_files_by_pseudonym(neuroreview_home: Path, tally) -> None:
    record_opened([SOURCE], slices=1, errors=0, via="cli")
    record_classified([SOURCE], slices=1, weights_sha256="ab" * 32, device="CPU", precision="float32", via="cli")
    record_exported("pdf", ["/tmp/report.pdf"], via="gui")
    path = AuditLog().path
    entries = [json.loads(line) for line in path.read_text().splitlines()]
    text = path.read_text()
    ok = verify_chain(path).ok and [e["event"] for e in entries] == ["opened", "classified", "exported"]
    ok = ok and entries[0]["details"]["files"] == [pseudonym(SOURCE)] and "Rossi" not in text and "PID-7731" not in text
    ok = ok and entries[1]["details"]["weights_sha256"] == "ab" * 32 and entries[1]["details"]["device"] == "CPU"
    assert tally.case("Privacy and data safety", ok), text


def test_unwritable_audit_log_is_reported_not_raised(
    neuroreview_home: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def refuse(self: AuditLog, event: str, **details: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(AuditLog, "record", refuse)
    with caplog.at_level(logging.WARNING, logger="neuroreview.audit"):
        record_opened([SOURCE], slices=1, errors=0, via="gui")
    assert "audit log not written" in caplog.text and "Rossi" not in caplog.text

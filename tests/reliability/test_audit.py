"""The audit chain detects edits, deletions and reordering; logs rotate under the platform folder."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from core.platform.app_logging import configure_logging
from core.platform.audit import AuditLog, main, pseudonym, verify_chain


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("NEUROREVIEW_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def _log_three(tmp_path: Path) -> Path:
    log = AuditLog(tmp_path / "audit.jsonl")
    log.record("opened", source=pseudonym("/data/patient/IM1.dcm"), slices=3)
    log.record("classified", weights_sha256="ab" * 32, device="CPU", label="glioma")
    log.record("exported", kind="pdf", target=pseudonym("/tmp/report.pdf"))
    return log.path


def test_intact_chain_verifies(tmp_path: Path) -> None:
    path = _log_three(tmp_path)
    assert verify_chain(path).ok and verify_chain(path).entries == 3
    assert main(["verify", str(path)]) == 0


@pytest.mark.parametrize("tamper", ["edit", "delete", "swap"])
def test_tampering_breaks_the_chain(tmp_path: Path, tamper: str) -> None:
    path = _log_three(tmp_path)
    lines = path.read_text().splitlines()
    if tamper == "edit":
        entry = json.loads(lines[1])
        entry["details"]["label"] = "notumor"
        lines[1] = json.dumps(entry, sort_keys=True, separators=(",", ":"))
    elif tamper == "delete":
        del lines[1]
    else:
        lines[0], lines[1] = lines[1], lines[0]
    path.write_text("\n".join(lines) + "\n")
    assert not verify_chain(path).ok
    assert main(["verify", str(path)]) == 1


def test_pseudonyms_are_stable_and_do_not_reveal_the_value() -> None:
    assert pseudonym("DOE^JANE") == pseudonym("DOE^JANE") != pseudonym("DOE^JOHN")
    assert "DOE" not in pseudonym("DOE^JANE")


def test_logs_rotate_in_the_platform_log_folder(isolated_home: Path) -> None:
    path = configure_logging()
    assert path.parent == isolated_home / "logs"
    logger = logging.getLogger("neuroreview.test")
    for _ in range(3):
        logger.info("opened study %s", pseudonym("PATIENT-123"))
    for handler in logging.getLogger("neuroreview").handlers:
        handler.flush()
    text = path.read_text()
    assert "opened study" in text and "PATIENT-123" not in text
    for handler in list(logging.getLogger("neuroreview").handlers):
        logging.getLogger("neuroreview").removeHandler(handler)
        handler.close()

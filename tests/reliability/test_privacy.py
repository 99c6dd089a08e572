"""Privacy and data safety over a full session (``session_run.py`` in a subprocess, sockets blocked).

The session opens, renders, classifies and exports through core, the CLI and the review window.
Afterwards: every source file has the same SHA-256, size and mtime and no file was added beside
them; no network call was attempted (from the TensorFlow import on); nothing NeuroReview wrote
under its own folders (logs, audit log, settings, caches) holds the patient's name or ID; and the
audit log's hash chain verifies and records what was opened, classified (weights SHA-256, device)
and exported.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from reliability_kit import PATIENT_ID, PATIENT_NAME, fingerprints, mr_dataset, pixels, write_dicom

from core.model.model_config import load_model_config
from core.platform.audit import verify_chain

GROUP = "Privacy and data safety"
SESSION = Path(__file__).with_name("session_run.py")
IDENTIFIERS = (PATIENT_ID, PATIENT_NAME, PATIENT_NAME.replace("^", " "), "Rossi", "Maria")


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory, tiny_weights_dir: Path) -> dict[str, Any]:
    """Run the whole session once; return the paths, fingerprints and the session's own report."""
    root = tmp_path_factory.mktemp("privacy")
    src, out, home = root / "study", root / "out", root / "home"
    for i in range(4):
        write_dicom(src / f"IM{i:03d}.dcm", mr_dataset(pixels(20, 20, seed=i), series_uid="1.2.3.77", instance=i))
    Image.fromarray(pixels(20, 20, seed=9, high=255).astype(np.uint8)).save(src / "photo.png")
    before = fingerprints(src)
    env = {**os.environ, "NEUROREVIEW_HOME": str(home), "QT_QPA_PLATFORM": "offscreen", "TF_CPP_MIN_LOG_LEVEL": "2"}
    report_path = root / "report.json"
    done = subprocess.run(
        [sys.executable, str(SESSION), str(src), str(tiny_weights_dir), str(out), str(report_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=580,
    )
    report = json.loads(report_path.read_text()) if report_path.exists() else {"error": done.stderr[-3000:]}
    return {
        "src": src,
        "out": out,
        "home": home,
        "before": before,
        "after": fingerprints(src),
        "report": report,
        "weights": tiny_weights_dir,
        "stderr": done.stderr,
    }


def test_session_ran_every_step(session: dict[str, Any]) -> None:
    report = session["report"]
    assert not report["error"], report["error"]
    assert len(report["done"]) == 6, report["done"]


def test_sources_are_never_modified(session: dict[str, Any], tally) -> None:
    same = session["before"] == session["after"]
    exported = [p for p in session["out"].rglob("*") if p.is_file()]
    assert tally.case(GROUP, same and len(session["before"]) == 5 and len(exported) >= 5), session["after"]


def test_no_network_connection_at_all(session: dict[str, Any], tally) -> None:
    report = session["report"]
    ok = report["network_attempts"] == [] and not report["error"] and "tensorflow imported" in report["done"]
    assert tally.case(GROUP, ok), report["network_attempts"]


def test_no_patient_identifiers_in_what_the_app_writes_for_itself(session: dict[str, Any], tally) -> None:
    written = [p for p in session["home"].rglob("*") if p.is_file()] + list((session["out"] / "gui").glob("*"))
    leaks = [f"{p.name}: {word}" for p in written for word in IDENTIFIERS if word.encode() in p.read_bytes()]
    logs = list((session["home"] / "logs").glob("neuroreview.log*"))
    assert tally.case(GROUP, bool(logs) and not leaks), (leaks, [p.name for p in written])


def test_audit_log_records_the_session_and_verifies(session: dict[str, Any], tally) -> None:
    path = session["home"] / "data" / "audit.jsonl"
    report = verify_chain(path)
    entries = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
    events = {e["event"] for e in entries}
    sha = load_model_config(session["weights"]).weights_sha256
    classified = [e["details"] for e in entries if e["event"] == "classified"]
    ok = report.ok and {"opened", "classified", "exported"} <= events
    ok = ok and bool(classified) and all(d.get("weights_sha256") == sha and d.get("device") for d in classified)
    ok = ok and not any(word in path.read_text() for word in IDENTIFIERS) if path.exists() else False
    assert tally.case(GROUP, ok), (report.message, sorted(events))

"""``neuroreview-dicom`` against a real PACS (Orthanc) and DCMTK's storescu/findscu/getscu, all on 127.0.0.1."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pydicom
import pytest
from export.helpers import ALGORITHM, results_for
from export.helpers import write_series as write_identifiable_series
from orthanc_server import MOVE_AE, ORTHANC_AE, OrthancServer, PacsStudy, free_port

from core.cli.dicom import main
from core.export.dicom_outputs import write_series_dicom
from core.export.overlay import burn_in_overlay

from .helpers import leftovers, transfers

BIN = Path(sys.executable).parent


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def _need(*tools: str) -> None:
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        pytest.skip(f"DCMTK tool(s) missing: {', '.join(missing)} (make test installs the package 'dcmtk')")


def test_echo(orthanc: OrthancServer, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "echo", "--aet", "NRTEST", "--pacs", orthanc.node)
    assert code == 0 and f"C-ECHO {orthanc.node}: success" in out
    code, _, err = _run(capsys, "echo", "--pacs", f"WRONGAE@127.0.0.1:{orthanc.port}")
    assert code == 1 and "rejected the association" in err


def test_find_filters_and_agrees_with_findscu(
    orthanc: OrthancServer, pacs_study: PacsStudy, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    def uids(*filters: str) -> list[str]:
        code, out, err = _run(capsys, "find", "--pacs", orthanc.node, *filters)
        assert code == 0, err
        return [s["StudyInstanceUID"] for s in json.loads(out)]

    code, out, _ = _run(capsys, "find", "--pacs", orthanc.node, "--patient-id", "NETPAT1")
    [study] = json.loads(out)
    assert study["StudyInstanceUID"] == pacs_study.study_uid
    assert study["PatientName"] == "Net^Orthanc" and study["StudyDate"] == "20240315"
    assert study["ModalitiesInStudy"] == ["MR"] and study["NumberOfStudyRelatedInstances"] == 4
    assert pacs_study.study_uid in uids("--patient-name", "net^orth*")
    assert pacs_study.study_uid in uids("--study-date", "20240301-20240331", "--modality", "MR")
    assert pacs_study.study_uid not in uids("--study-date", "-20231231")
    assert uids("--accession", "ACC123") == [pacs_study.study_uid]
    entry = transfers()[-1]["details"]
    assert (entry["direction"], entry["matches"], entry["peer"]) == ("queried", 1, orthanc.node)
    code, _, err = _run(capsys, "find", "--pacs", orthanc.node, "--study-date", "March 2024")
    assert code == 2 and "StudyDate: expected YYYYMMDD" in err

    _need("findscu")
    answers = tmp_path / "findscu"
    answers.mkdir()
    done = subprocess.run(
        ["findscu", "-S", "-aet", "DCMTKSCU", "-aec", ORTHANC_AE, "-X", "-od", str(answers),
         "-k", "QueryRetrieveLevel=STUDY", "-k", "PatientID=NETPAT1", "-k", "StudyInstanceUID",
         "127.0.0.1", str(orthanc.port)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    theirs = sorted(str(pydicom.dcmread(p).StudyInstanceUID) for p in answers.iterdir())
    assert theirs == uids("--patient-id", "NETPAT1")


def _pixels(folder: Path) -> dict[str, bytes]:
    found = {}
    for path in folder.rglob("*"):
        if path.is_file():
            ds = pydicom.dcmread(path)
            found[str(ds.SOPInstanceUID)] = ds.PixelData
    return found


def test_get_stores_by_uid_skips_identical_files_and_matches_getscu(
    orthanc: OrthancServer, pacs_study: PacsStudy, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    into = tmp_path / "into"
    code, out, err = _run(capsys, "get", "--pacs", orthanc.node, "--study", pacs_study.study_uid, "--into", str(into))
    assert code == 0, err
    assert "4 new, 0 already there" in out and "retrieving [" in err
    series = into / pacs_study.study_uid / pacs_study.series_uid
    assert sorted(p.name for p in series.iterdir()) == sorted(f"{uid}.dcm" for uid in pacs_study.sop_uids)
    originals = {str(pydicom.dcmread(f).SOPInstanceUID): pydicom.dcmread(f).PixelData for f in pacs_study.files}
    assert _pixels(into) == originals
    stamps = {p: p.stat().st_mtime_ns for p in series.iterdir()}

    code, out, _ = _run(capsys, "get", "--pacs", orthanc.node, "--study", pacs_study.study_uid, "--into", str(into))
    assert code == 0 and "0 new, 4 already there" in out
    assert {p: p.stat().st_mtime_ns for p in series.iterdir()} == stamps and leftovers(into) == []
    entry = transfers()[-1]["details"]
    assert (entry["direction"], entry["outcome"], entry["duplicates"]) == ("retrieved", "completed", 4)

    _need("getscu")
    theirs = tmp_path / "getscu"
    theirs.mkdir()
    done = subprocess.run(
        ["getscu", "-S", "-aet", "DCMTKSCU", "-aec", ORTHANC_AE, "-od", str(theirs),
         "-k", "QueryRetrieveLevel=STUDY", "-k", f"StudyInstanceUID={pacs_study.study_uid}",
         "127.0.0.1", str(orthanc.port)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert _pixels(theirs) == _pixels(into)


def test_get_with_move_goes_through_our_own_listener(
    orthanc: OrthancServer, pacs_study: PacsStudy, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    into = tmp_path / "moved"
    code, out, err = _run(
        capsys, "get", "--move", "--aet", MOVE_AE, "--port", str(orthanc.move_port),
        "--pacs", orthanc.node, "--study", pacs_study.study_uid, "--into", str(into),
    )  # fmt: skip
    assert code == 0, err
    assert "4 new" in out
    assert sorted(_pixels(into)) == sorted(pacs_study.sop_uids)


def test_get_of_an_unknown_study_fails_cleanly(
    orthanc: OrthancServer, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, _, err = _run(capsys, "get", "--pacs", orthanc.node, "--study", "1.2.3.999", "--into", str(tmp_path))
    assert code == 1 and "ended the retrieval with status 0x" in err and "(0 new, 0 already there)" in err
    assert list(tmp_path.iterdir()) == []
    code, _, err = _run(capsys, "get", "--pacs", orthanc.node, "--study", "../etc", "--into", str(tmp_path))
    assert code == 2 and "not a UID" in err


def test_send_puts_our_sr_and_sc_on_the_pacs(
    orthanc: OrthancServer, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    series = write_identifiable_series(tmp_path / "source")
    picture = burn_in_overlay(np.zeros((32, 32), dtype=np.uint8), None)
    written = write_series_dicom(tmp_path / "results", results_for(series), ALGORITHM, key_picture=picture)
    (tmp_path / "results" / "notes.txt").write_text("not DICOM", encoding="utf-8")
    code, out, err = _run(capsys, "send", "--pacs", orthanc.node, str(tmp_path / "results"))
    assert code == 1  # the text file is reported, the two objects are sent
    assert "sent 2 file(s)" in out and "notes.txt: not a DICOM Part 10 file" in err

    _need("findscu")
    answers = tmp_path / "findscu"
    answers.mkdir()
    study = str(pydicom.dcmread(written[0]).StudyInstanceUID)
    done = subprocess.run(
        ["findscu", "-S", "-aet", "DCMTKSCU", "-aec", ORTHANC_AE, "-X", "-od", str(answers),
         "-k", "QueryRetrieveLevel=IMAGE", "-k", f"StudyInstanceUID={study}", "-k", "SeriesInstanceUID",
         "-k", "SOPInstanceUID", "-k", "SOPClassUID", "127.0.0.1", str(orthanc.port)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    on_pacs = {str(pydicom.dcmread(p).SOPInstanceUID) for p in answers.iterdir()}
    assert {str(pydicom.dcmread(p).SOPInstanceUID) for p in written} <= on_pacs


def test_listen_receives_from_storescu_refuses_others_and_stops_on_sigterm(tmp_path: Path) -> None:
    _need("storescu")
    from dicom_factory import write_series

    files = write_series(tmp_path / "scanner", 2)
    port = free_port()
    env = {**os.environ, "NEUROREVIEW_HOME": str(tmp_path / "home")}
    store = tmp_path / "store"
    proc = subprocess.Popen(
        [str(BIN / "neuroreview-dicom"), "listen", "--aet", "NRLISTEN", "--port", str(port), "--store", str(store),
         "--allow", "SCANNER", "--min-free-mb", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    try:
        assert proc.stderr is not None
        assert "listening as NRLISTEN on 127.0.0.1" in proc.stderr.readline()

        def storescu(calling: str) -> int:
            cmd = ["storescu", "-aet", calling, "-aec", "NRLISTEN", "127.0.0.1", str(port), *map(str, files)]
            return subprocess.run(cmd, capture_output=True, timeout=60, check=False).returncode

        assert storescu("SCANNER") == 0
        assert storescu("STRANGER") != 0
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    lines = out.splitlines()
    assert len(lines) == 2 and all(line.startswith("stored ") and " from SCANNER: " in line for line in lines)
    assert sorted(p.name for p in store.rglob("*.dcm")) == sorted(
        f"{pydicom.dcmread(f).SOPInstanceUID}.dcm" for f in files
    )
    audit = [json.loads(line) for line in (tmp_path / "home" / "data" / "audit.jsonl").read_text().splitlines()]
    outcomes = [(e["details"]["instances"], e["details"]["outcome"]) for e in audit if e["event"] == "transfer"]
    assert (2, "released") in outcomes and (0, "rejected") in outcomes

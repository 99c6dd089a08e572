"""DICOM retrieve throughput: a 150-slice series from a local Orthanc, ours (C-GET) next to DCMTK's getscu.

Both retrieve the same study from the same Orthanc on 127.0.0.1 into a fresh folder, in turns,
``REPEATS`` times each; figures are medians.  getscu runs twice per turn: as installed, and with
``TCP_NODELAY=1`` in its environment (DCMTK then disables Nagle's algorithm; without it each
C-STORE waits on a delayed TCP acknowledgement).  Ratios are throughputs, ours over getscu's, against
each of the two; the ratio of the fastest runs is reported too (on a busy machine the medians mostly
measure the competition for the CPU).  Run alone with ``python -m bench.dicom_bench``.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.imaging_bench import _write_series
from bench.pacs import LOOPBACK, ORTHANC_AE, OrthancServer, free_port, orthanc_binary

SLICES = 150
SIZE = 512  # 512 x 512 x 16 bit: 0.5 MB per slice, 79 MB in all
REPEATS = 7
TARGET = 0.8  # our throughput / getscu's, at least


def _ours(node: Any, study: str, folder: Path) -> float:
    from core.network import LocalStore, retrieve_study

    start = time.perf_counter()
    result = retrieve_study(node, "NRBENCH", study, LocalStore(folder, min_free_bytes=0), via="bench")
    elapsed = time.perf_counter() - start
    if len(result.stored) != SLICES:
        raise RuntimeError(f"ours retrieved {len(result.stored)} of {SLICES} slices")
    return elapsed


def _getscu(port: int, study: str, folder: Path, nodelay: bool) -> float:
    folder.mkdir(parents=True)
    env = {**os.environ, "TCP_NODELAY": "1"} if nodelay else {k: v for k, v in os.environ.items() if k != "TCP_NODELAY"}
    cmd = ["getscu", "-S", "-aet", "NRBENCH", "-aec", ORTHANC_AE, "-od", str(folder),
           "-k", "QueryRetrieveLevel=STUDY", "-k", f"StudyInstanceUID={study}", LOOPBACK, str(port)]  # fmt: skip
    start = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, env=env, timeout=600)
    elapsed = time.perf_counter() - start
    count = sum(1 for _ in folder.iterdir())
    if count != SLICES:
        raise RuntimeError(f"getscu retrieved {count} of {SLICES} slices")
    return elapsed


def run() -> dict[str, object]:
    """Measure and return the retrieve figures (seconds, slices/s, MB/s, ratio)."""
    if orthanc_binary() is None or shutil.which("getscu") is None:
        return {"dicom_skipped": "needs the Debian packages 'orthanc' and 'dcmtk' (make test installs them)"}
    from core.network import DicomNode, StudyQuery, find_studies, send_files

    with tempfile.TemporaryDirectory(prefix="neuroreview-dicom-bench-") as tmp:
        root = Path(tmp)
        _write_series(root / "series", SLICES, SIZE, seed=3)
        megabytes = sum(p.stat().st_size for p in (root / "series").iterdir()) / 1e6
        server = OrthancServer(root / "orthanc", move_port=free_port())
        server.start()
        try:
            node = DicomNode.parse(server.node)
            sent = send_files(node, "NRBENCH", [root / "series"], via="bench")
            if len(sent.sent) != SLICES:
                raise RuntimeError(f"only {len(sent.sent)} of {SLICES} slices reached Orthanc")
            study = find_studies(node, "NRBENCH", StudyQuery(patient_id="BENCH"))[0]["StudyInstanceUID"]
            runs: dict[str, list[float]] = {"ours": [], "getscu": [], "getscu_nodelay": []}
            for turn in range(REPEATS):
                runs["ours"].append(_ours(node, study, root / f"ours{turn}"))
                runs["getscu"].append(_getscu(server.port, study, root / f"getscu{turn}", nodelay=False))
                runs["getscu_nodelay"].append(_getscu(server.port, study, root / f"nodelay{turn}", nodelay=True))
                for folder in root.glob(f"*{turn}"):
                    shutil.rmtree(folder)
        finally:
            server.stop()
    medians = {name: statistics.median(values) for name, values in runs.items()}
    figures: dict[str, object] = {"dicom_retrieve_series": f"{SLICES} slices {SIZE}x{SIZE} 16-bit, {megabytes:.1f} MB"}
    for name, seconds in medians.items():
        figures[f"dicom_retrieve_{name}_s"] = round(seconds, 3)
        figures[f"dicom_retrieve_{name}_slices_per_s"] = round(SLICES / seconds, 1)
        figures[f"dicom_retrieve_{name}_MB_per_s"] = round(megabytes / seconds, 1)
        figures[f"dicom_retrieve_{name}_runs_s"] = [round(s, 3) for s in runs[name]]
    for peer in ("getscu", "getscu_nodelay"):
        ratio = round(medians[peer] / medians["ours"], 3)  # throughput ratio: ours / peer
        figures[f"dicom_retrieve_ratio_vs_{peer}"] = ratio
        figures[f"dicom_retrieve_target_ratio_vs_{peer}_>=_{TARGET}"] = "met" if ratio >= TARGET else "NOT met"
    figures["dicom_retrieve_ratio_of_fastest_runs_vs_getscu_nodelay"] = round(
        min(runs["getscu_nodelay"]) / min(runs["ours"]), 3
    )
    figures["dicom_retrieve_load_average_1min"] = round(os.getloadavg()[0], 2)
    figures["dicom_retrieve_notes"] = (
        "C-GET of one study from Orthanc 127.0.0.1 into a fresh folder per run; ours = core.network.retrieve_study "
        "(pynetdicom, files by UID; Orthanc sends 16 KB PDUs to both); getscu as installed and with TCP_NODELAY=1; "
        "medians of "
        f"{REPEATS} alternating runs"
    )
    return figures


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))

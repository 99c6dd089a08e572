"""Imaging speed figures: indexing 1,000 DICOM files, and first display of a 200-slice series.

``run()`` returns medians of several runs (seconds).  Test data is generated in a temporary folder
and removed afterwards.  Run alone with ``python -m bench.imaging_bench``.
"""

from __future__ import annotations

import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import UID, ExplicitVRLittleEndian, generate_uid

from core.imaging import PixelStore, open_paths

MR_STORAGE = UID("1.2.840.10008.5.1.4.1.1.4")
REPEATS = 5


def _write_series(folder: Path, count: int, size: int, series_per_folder: int = 1, seed: int = 0) -> None:
    """``count`` MR slices (``size`` x ``size``, 16-bit) in ``series_per_folder`` series, shuffled names."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    study = generate_uid()
    series_uids = [generate_uid() for _ in range(series_per_folder)]
    names = rng.permutation(count)
    yy, xx = np.mgrid[0:size, 0:size]
    base = (((yy - size / 2) ** 2 + (xx - size / 2) ** 2) < (size / 3) ** 2) * 800.0 + xx
    for i in range(count):
        pixels = (base + rng.normal(0, 20, base.shape)).clip(0, 4095).astype(np.uint16)
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = MR_STORAGE
        meta.MediaStorageSOPInstanceUID = generate_uid()
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = Dataset()
        ds.file_meta = meta
        ds.SOPClassUID, ds.SOPInstanceUID = MR_STORAGE, meta.MediaStorageSOPInstanceUID
        ds.PatientID, ds.PatientName, ds.Modality = "BENCH", "Bench^Patient", "MR"
        ds.StudyInstanceUID, ds.SeriesInstanceUID = study, series_uids[i % series_per_folder]
        ds.SeriesNumber, ds.InstanceNumber = i % series_per_folder + 1, i + 1
        ds.ImagePositionPatient = [0.0, 0.0, 1.5 * i]
        ds.ImageOrientationPatient = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
        ds.PixelSpacing = [0.9, 0.9]
        ds.Rows = ds.Columns = size
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
        ds.PixelData = pixels.tobytes()
        ds.save_as(folder / f"IM{names[i]:05d}", enforce_file_format=True)


def _median(measure: Callable[[], float], repeats: int = REPEATS) -> tuple[float, list[float]]:
    runs = [measure() for _ in range(repeats)]
    return statistics.median(runs), runs


def bench_index(folder: Path) -> tuple[tuple[float, list[float]], float]:
    """(wall seconds median and runs, CPU seconds median) to index ``folder`` (headers only)."""
    cpu: list[float] = []

    def once() -> float:
        start, start_cpu = time.perf_counter(), time.process_time()
        result = open_paths([folder])
        elapsed = time.perf_counter() - start
        cpu.append(time.process_time() - start_cpu)
        if result.errors:
            raise RuntimeError(f"benchmark data did not open cleanly: {result.errors[:3]}")
        return elapsed

    return _median(once), statistics.median(cpu)


def bench_first_slice(folder: Path) -> tuple[tuple[float, list[float]], tuple[float, list[float]]]:
    """(open + first display, first display alone) for the series in ``folder``, fresh cache each run."""

    def total() -> float:
        start = time.perf_counter()
        series = open_paths([folder]).all_series()[0]
        PixelStore().display(series.slices[0])
        return time.perf_counter() - start

    series = open_paths([folder]).all_series()[0]

    def display_only() -> float:
        store = PixelStore()
        start = time.perf_counter()
        store.display(series.slices[0])
        return time.perf_counter() - start

    return _median(total), _median(display_only)


def run() -> dict[str, object]:
    """Measure and return the imaging figures (seconds, medians of REPEATS runs)."""
    with tempfile.TemporaryDirectory(prefix="neuroreview-bench-") as tmp:
        root = Path(tmp)
        _write_series(root / "thousand", 1000, 64, series_per_folder=10)
        _write_series(root / "series200", 200, 512, seed=1)
        (index_median, index_runs), index_cpu = bench_index(root / "thousand")
        (total_median, total_runs), (display_median, display_runs) = bench_first_slice(root / "series200")
    return {
        "imaging_index_1000_files_s": round(index_median, 4),
        "imaging_index_1000_files_runs_s": [round(r, 4) for r in index_runs],
        "imaging_index_1000_files_cpu_s": round(index_cpu, 4),
        "imaging_load_average_1min": round(os.getloadavg()[0], 2),
        "imaging_open_200_slice_series_and_show_first_s": round(total_median, 4),
        "imaging_open_200_slice_series_and_show_first_runs_s": [round(r, 4) for r in total_runs],
        "imaging_first_slice_display_s": round(display_median, 4),
        "imaging_first_slice_display_runs_s": [round(r, 4) for r in display_runs],
        "imaging_notes": "1,000 files of 64x64 16-bit MR in 10 series; 200 slices of 512x512 16-bit; "
        "headers only while indexing; display = decode + auto window (series middle slice) + 8-bit VOI",
    }


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))

"""Measurements as a TID 1500 Measurement Report: lengths with their line, ROIs with region and statistics."""

from __future__ import annotations

from pathlib import Path

import highdicom as hd
import numpy as np
import pydicom
import pytest
from dicom_factory import make_dataset, write

from core.export.errors import ExportError
from core.export.measurement_sr import ReportedMeasurement, write_measurement_report
from core.export.records import RESEARCH_USE_STATEMENT
from export.helpers import dciodvfy_errors


def header(tmp_path: Path) -> pydicom.Dataset:
    ds = make_dataset(np.zeros((20, 16), np.uint16), bits_allocated=16, position=(0.0, 0.0, 0.0), modality="CT")
    return pydicom.dcmread(write(ds, tmp_path / "ct.dcm"), stop_before_pixels=True)


def test_lengths_and_rois_with_their_coordinates(tmp_path: Path) -> None:
    image = header(tmp_path)
    stats = {"area_mm2": 37.7, "mean": 41.5, "sd": 3.25, "minimum": 30.0, "maximum": 52.0}
    items = [
        ReportedMeasurement("length", ((1.0, 1.0), (4.0, 5.0)), {"length_mm": 12.6}, image),
        ReportedMeasurement("ellipse", ((4.0, 6.0), (10.0, 14.0)), stats, image, unit="HU"),
        ReportedMeasurement("freehand", ((2.0, 2.0), (6.0, 2.0), (6.0, 8.0)), stats, image, unit="HU"),
        ReportedMeasurement("angle", ((0, 0), (1, 1), (2, 0)), {"angle_deg": 90.0}, image),  # left out
    ]
    target = write_measurement_report(tmp_path / "out" / "sr.dcm", items)
    sr = hd.sr.srread(target)
    assert sr.StudyInstanceUID == image.StudyInstanceUID
    groups = sr.content.get_planar_roi_measurement_groups()
    assert [g.roi.GraphicType for g in groups] == ["ELLIPSE", "POLYLINE"]
    ellipse = groups[0]
    assert list(ellipse.roi.GraphicData) == [7.5, 6.5, 7.5, 14.5, 4.5, 10.5, 10.5, 10.5]
    assert image.SOPInstanceUID in str(ellipse.roi)  # the region is on the measured image
    values = {m.name.meaning: (m.value, m.unit.value) for m in ellipse.get_measurements()}
    assert values["Area"] == (pytest.approx(37.7), "mm2") and values["Mean"] == (pytest.approx(41.5), "[hnsf'U]")
    assert values["Standard Deviation"][0] == pytest.approx(3.25) and values["Maximum"][0] == pytest.approx(52.0)
    (length_group,) = sr.content.get_image_measurement_groups()
    (length,) = length_group.get_measurements()
    assert length.name.meaning == "Length" and length.value == pytest.approx(12.6) and length.unit.value == "mm"
    assert image.SOPInstanceUID in str(length_group)
    assert RESEARCH_USE_STATEMENT.encode() in target.read_bytes()
    assert dciodvfy_errors(target) == []


def test_nothing_to_report_is_refused(tmp_path: Path) -> None:
    image = header(tmp_path)
    with pytest.raises(ExportError, match="no lengths or ROIs"):
        write_measurement_report(tmp_path / "x.dcm", [ReportedMeasurement("arrow", ((0, 0), (1, 1)), {}, image)])
    assert not (tmp_path / "x.dcm").exists()

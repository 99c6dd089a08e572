"""Measurements as a Grayscale Softcopy Presentation State: graphic objects in PIXEL units, valid IOD."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest
from dicom_factory import make_dataset, write
from pydicom.uid import generate_uid

from core.export.errors import ExportError
from core.export.presentation_state import Annotation, write_presentation_state
from export.helpers import dciodvfy_errors


def headers(tmp_path: Path, count: int = 2) -> list[pydicom.Dataset]:
    study, series = generate_uid(), generate_uid()
    out = []
    for k in range(count):
        ds = make_dataset(np.zeros((20, 16), np.uint16), bits_allocated=16, study_uid=study, series_uid=series,
                          instance=k + 1, position=(0.0, 0.0, 2.0 * k))  # fmt: skip
        out.append(pydicom.dcmread(write(ds, tmp_path / f"{k}.dcm"), stop_before_pixels=True))
    return out


def test_measurements_become_graphics_on_their_images(tmp_path: Path) -> None:
    first, second = headers(tmp_path)
    annotations = [
        Annotation("length", ((1.0, 1.0), (4.0, 5.0)), "12.6 mm", first),
        Annotation("ellipse", ((4.0, 6.0), (10.0, 14.0)), "area 37.7 mm2, mean 100.0", first),
        Annotation("freehand", ((2.0, 2.0), (6.0, 2.0), (6.0, 8.0)), "area 12.0 mm2", second),
        Annotation("arrow", ((3.0, 3.0), (9.0, 9.0)), "lesion", second),
    ]
    target = write_presentation_state(tmp_path / "out" / "pr.dcm", annotations)
    pr = pydicom.dcmread(target)
    assert pr.Modality == "PR" and pr.StudyInstanceUID == first.StudyInstanceUID
    groups = {g.ReferencedImageSequence[0].ReferencedSOPInstanceUID: g for g in pr.GraphicAnnotationSequence}
    assert set(groups) == {first.SOPInstanceUID, second.SOPInstanceUID}
    on_first = groups[first.SOPInstanceUID]
    line, ellipse = on_first.GraphicObjectSequence
    assert line.GraphicType == "POLYLINE" and list(line.GraphicData) == [1.5, 1.5, 4.5, 5.5]  # pixel centres
    assert ellipse.GraphicType == "ELLIPSE"
    assert list(ellipse.GraphicData) == [7.5, 6.5, 7.5, 14.5, 4.5, 10.5, 10.5, 10.5]  # the longer (vertical) axis first
    assert [t.UnformattedTextValue for t in on_first.TextObjectSequence] == ["12.6 mm", "area 37.7 mm2, mean 100.0"]
    closed = groups[second.SOPInstanceUID].GraphicObjectSequence[0]
    assert list(closed.GraphicData[:2]) == list(closed.GraphicData[-2:])  # a freehand ROI is closed
    assert dciodvfy_errors(target) == []


def test_nothing_to_write_or_two_studies_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="no measurements"):
        write_presentation_state(tmp_path / "a.dcm", [])
    (one,) = headers(tmp_path / "a", 1)
    (other,) = headers(tmp_path / "b", 1)
    both = [Annotation("length", ((0, 0), (1, 1)), "x", one), Annotation("length", ((0, 0), (1, 1)), "y", other)]
    with pytest.raises(ExportError, match="one study"):
        write_presentation_state(tmp_path / "b.dcm", both)
    assert not (tmp_path / "a.dcm").exists() and not (tmp_path / "b.dcm").exists()

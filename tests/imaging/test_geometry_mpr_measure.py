"""Patient geometry, reformats and measurements checked against volumes of known geometry."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from dicom_factory import make_dataset, write
from pydicom.uid import generate_uid

from core.imaging import PixelStore, open_paths
from core.imaging.geometry import GeometryError, PlaneGeometry, nearest_index
from core.imaging.measure import (
    MeasurementError,
    angle_degrees,
    ellipse_stats,
    freehand_stats,
    length_mm,
    pixel_value,
    polygon_area_mm2,
    value_unit,
)
from core.imaging.mpr import ReformatError, Volume, reformat, three_planes

AXIAL = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)


def axial(z: float, spacing=(0.5, 0.8), rows=6, columns=5) -> PlaneGeometry:
    return PlaneGeometry.create((10.0, -20.0, z), AXIAL, spacing, rows, columns)


def test_pixel_to_patient_and_back() -> None:
    plane = axial(30.0)
    point = plane.to_patient(2.0, 3.0)  # column 2 (x), row 3 (y)
    assert point == pytest.approx([10.0 + 2 * 0.8, -20.0 + 3 * 0.5, 30.0])
    assert plane.to_pixel([*point[:2], 32.0]) == pytest.approx((2.0, 3.0, 2.0))
    assert plane.normal == pytest.approx([0, 0, 1]) and plane.location == pytest.approx(30.0)


def test_missing_geometry_is_refused() -> None:
    with pytest.raises(GeometryError, match="pixel spacing"):
        PlaneGeometry.create((0, 0, 0), AXIAL, None, 4, 4)
    with pytest.raises(GeometryError, match="perpendicular"):
        PlaneGeometry.create((0, 0, 0), (1, 0, 0, 1, 0, 0), (1, 1), 4, 4)


def test_reference_line_of_a_sagittal_plane_on_an_axial_image() -> None:
    image = PlaneGeometry.create((0.0, 0.0, 0.0), AXIAL, (1.0, 1.0), 10, 10)
    sagittal = PlaneGeometry.create((4.0, -50.0, 50.0), (0, 1, 0, 0, 0, -1), (1.0, 1.0), 100, 100)
    line = image.intersection(sagittal)
    assert line is not None
    (c0, r0), (c1, r1) = line
    assert c0 == pytest.approx(4.0) and c1 == pytest.approx(4.0)  # x = 4 mm is column 4
    assert sorted((r0, r1)) == pytest.approx([-0.5, 9.5])  # across the whole image
    assert image.intersection(axial(5.0)) is None  # parallel planes have no reference line
    outside = PlaneGeometry.create((40.0, 0.0, 0.0), (0, 1, 0, 0, 0, -1), (1.0, 1.0), 10, 10)
    assert image.intersection(outside) is None


def test_nearest_index() -> None:
    assert nearest_index([0.0, 2.5, None, 7.5], 6.0) == 3
    assert nearest_index([None], 1.0) is None


def ramp_volume(slices: int = 4, rows: int = 6, columns: int = 5, step: float = 2.0) -> Volume:
    """Value = 100 * slice + 10 * row + column, axial slices ``step`` mm apart, pixels 1 x 1 mm."""
    k, r, c = np.mgrid[0:slices, 0:rows, 0:columns]
    data = (100 * k + 10 * r + c).astype(np.float32)
    planes = [PlaneGeometry.create((0.0, 0.0, step * i), AXIAL, (1.0, 1.0), rows, columns) for i in range(slices)]
    return Volume.from_planes(list(data), planes, "1.2.3")


def test_axial_reformat_of_an_axial_volume_is_the_volume() -> None:
    volume = ramp_volume(step=1.0)
    planes = three_planes(volume)
    np.testing.assert_array_equal(planes["axial"].images, volume.data)
    assert planes["axial"].geometry(2).origin == pytest.approx((0, 0, 2))


def test_sagittal_and_coronal_reformats_put_the_head_up_with_true_geometry() -> None:
    volume = ramp_volume(step=1.0)
    sagittal = reformat(volume, "sagittal")
    assert sagittal.images.shape == (5, 4, 6)  # one image per column; rows = slices (head first), columns = rows
    # Image 0 is at the patient's right (x = 0, smallest), index grows to the right ... (R = -x):
    # the normal P x F points to -x, so images run from the largest x to the smallest.
    first = sagittal.geometry(0)
    assert first.origin[0] == pytest.approx(4.0) and sagittal.geometry(4).origin[0] == pytest.approx(0.0)
    assert first.column_direction == pytest.approx((0, 0, -1))  # head up
    assert first.row_direction == pytest.approx((0, 1, 0))  # posterior to the right
    # The top row is the highest slice (k = 3), the left column is row 0 of the axial images.
    assert sagittal.images[0, 0, 0] == 100 * 3 + 10 * 0 + 4
    # A value in the reformat sits where its geometry says.
    for index, row, column in ((1, 2, 3), (4, 0, 5)):
        point = sagittal.geometry(index).to_patient(column, row)
        x, y, z = (round(v) for v in point)
        assert sagittal.images[index, row, column] == 100 * z + 10 * y + x
    coronal = reformat(volume, "coronal")
    assert coronal.images.shape == (6, 4, 5)
    point = coronal.geometry(2).to_patient(1, 1)
    assert coronal.images[2, 1, 1] == 100 * round(point[2]) + 10 * round(point[1]) + round(point[0])


def test_thick_slices_are_interpolated_along_the_normal() -> None:
    volume = ramp_volume(slices=3, step=4.0)  # 4 mm slices, 1 mm pixels
    coronal = reformat(volume, "coronal")
    assert coronal.interpolated and coronal.images.shape == (6, 9, 5)  # 8 mm extent sampled every 1 mm
    assert coronal.spacing == pytest.approx((1.0, 1.0))
    column = coronal.images[0, :, 0]  # row 0 of the axial slices, from head to feet
    assert column == pytest.approx(np.linspace(200.0, 0.0, 9))  # linear between slices 0, 100, 200


def test_volumes_that_are_not_volumes_are_refused() -> None:
    planes = [axial(z) for z in (0.0, 1.0, 5.0)]
    images = [np.zeros((6, 5), np.float32)] * 3
    with pytest.raises(ReformatError, match="evenly"):
        Volume.from_planes(images, planes)
    with pytest.raises(ReformatError, match="at least"):
        Volume.from_planes(images[:2], planes[:2])
    mixed = [axial(0.0), axial(1.0), axial(2.0, spacing=(1.0, 1.0))]
    with pytest.raises(ReformatError, match="size or pixel spacing"):
        Volume.from_planes(images, mixed)


def test_volume_from_a_dicom_series(tmp_path: Path) -> None:
    study, series = generate_uid(), generate_uid()
    for z in range(4):
        pixels = np.full((8, 6), 10 * z, dtype=np.uint16)
        ds = make_dataset(pixels, study_uid=study, series_uid=series, instance=z + 1, position=(0.0, 0.0, 2.0 * z))
        write(ds, tmp_path / f"{z}.dcm")
    (found,) = open_paths([tmp_path]).all_series()
    volume = Volume.from_series(PixelStore(), found)
    assert volume.data.shape == (4, 8, 6)
    assert volume.axes[1] == pytest.approx([0, 0.9, 0]) and volume.axes[0] == pytest.approx([0, 0, 2.0])
    assert [float(volume.data[k, 0, 0]) for k in range(4)] == [0, 10, 20, 30]


def test_length_angle_and_value() -> None:
    spacing = (0.5, 2.0)  # rows 0.5 mm apart, columns 2 mm apart
    assert length_mm((0, 0), (3, 4), spacing) == pytest.approx(math.hypot(6.0, 2.0))
    assert angle_degrees((1, 0), (0, 0), (0, 4), spacing) == pytest.approx(90.0)
    assert angle_degrees((1, 0), (0, 0), (1, 4), (1.0, 1.0)) == pytest.approx(math.degrees(math.atan(4)))
    with pytest.raises(MeasurementError, match="pixel spacing is unknown"):
        length_mm((0, 0), (1, 1), None)
    values = np.arange(12, dtype=np.float32).reshape(3, 4)
    assert pixel_value(values, (2.2, 1.4)) == 6.0
    assert pixel_value(values, (4.0, 0.0)) is None
    assert value_unit("CT") == "HU" and value_unit("MR") == ""


def test_ellipse_and_freehand_statistics() -> None:
    values = np.zeros((20, 20), dtype=np.float32)
    values[5:15, 5:15] = 100.0
    stats = ellipse_stats(values, (7, 7), (12, 12), (0.5, 0.5))
    assert stats.mean == 100.0 and stats.sd == 0.0 and stats.minimum == stats.maximum == 100.0
    assert stats.area_mm2 == pytest.approx(math.pi * 1.25 * 1.25)
    square = [(4.5, 4.5), (9.5, 4.5), (9.5, 14.5), (4.5, 14.5)]  # pixel centres 5..9 x 5..14: 50 pixels
    free = freehand_stats(values, square, (1.0, 1.0))
    assert free.pixels == 50 and free.mean == 100.0 and free.area_mm2 == pytest.approx(50.0)
    # columns 3..7 (two at 0, three at 100) of rows 5 and 6
    half = freehand_stats(values, [(2.5, 4.5), (7.5, 4.5), (7.5, 6.5), (2.5, 6.5)], (1.0, 1.0))
    assert half.pixels == 10 and half.mean == pytest.approx(60.0) and half.minimum == 0 and half.maximum == 100
    assert half.sd == pytest.approx(np.std([0] * 4 + [100] * 6))
    assert polygon_area_mm2(square, (2.0, 1.0)) == pytest.approx(100.0)
    with pytest.raises(MeasurementError):
        ellipse_stats(values, (3, 3), (3, 8), (1.0, 1.0))

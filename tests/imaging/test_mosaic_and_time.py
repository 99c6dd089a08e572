"""Siemens mosaics split into their slices; series with several time points scroll through space."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from dicom_factory import MOSAIC_SPACING as SPACING
from dicom_factory import MOSAIC_TILE as TILE
from dicom_factory import make_dataset, mosaic_dataset, write
from pydicom.uid import generate_uid

from core.imaging import PixelStore, open_paths
from core.imaging.timepoints import edge_of_time, move_to_time, step_within_time, time_points


def test_a_mosaic_gives_one_slice_per_image_with_its_own_pixels_and_position(tmp_path: Path) -> None:
    ds, volume = mosaic_dataset(7)  # 3 x 3 tiles, the last two blank
    write(ds, tmp_path / "mosaic.dcm")
    result = open_paths([tmp_path])
    assert result.errors == []
    (series,) = result.all_series()
    assert [r.frame for r in series.slices] == list(range(7))
    assert all((r.rows, r.columns) == (TILE, TILE) for r in series.slices)
    store = PixelStore()
    for ref in series.slices:
        np.testing.assert_array_equal(store.modality(ref), volume[ref.frame])
        assert store.model_rendering(ref).shape == (TILE, TILE)
    # dcm2niix/nibabel: the grid's corner moves by half of (grid - tile) along rows and columns, then
    # one slice thickness (5 mm) per slice along the normal (axial: +z)
    first = np.array([-100.0, -50.0, 10.0]) + np.array([SPACING[1] * 8, SPACING[0] * 8, 0.0])
    for ref in series.slices:
        np.testing.assert_allclose(ref.position, first + np.array([0.0, 0.0, 5.0 * ref.frame]))


def test_a_mosaic_without_its_image_count_is_an_error(tmp_path: Path) -> None:
    ds, _ = mosaic_dataset(4, with_count=False)
    path = write(ds, tmp_path / "mosaic.dcm")
    result = open_paths([path])
    assert [(e.error_type, "number of images" in e.message) for e in result.errors] == [("InvalidImageError", True)]


def test_nibabel_bundled_siemens_mosaic_matches_nibabel(tmp_path: Path) -> None:
    gzip = pytest.importorskip("gzip")
    nibabel = pytest.importorskip("nibabel")
    source = Path(nibabel.__file__).parent / "nicom" / "tests" / "data" / "siemens_dwi_1000.dcm.gz"
    if not source.exists():
        pytest.skip("nibabel's test data is not installed")
    path = tmp_path / "dwi.dcm"
    path.write_bytes(gzip.decompress(source.read_bytes()))
    from nibabel.nicom import dicomwrappers

    wrapper = dicomwrappers.wrapper_from_file(str(path))
    refs = open_paths([path]).all_slices()
    assert len(refs) == wrapper.n_mosaic == 48  # from the CSA header and (0019,100A)
    np.testing.assert_allclose(refs[0].position, wrapper.image_position, atol=1e-4)
    data = wrapper.get_data()
    store = PixelStore()
    for ref in refs[::7]:
        np.testing.assert_allclose(store.modality(ref), data[:, :, ref.frame], atol=1e-3)


def test_mosaic_volumes_of_an_fmri_run_are_time_points(tmp_path: Path) -> None:
    uid = generate_uid()
    for t in range(3):
        ds, _ = mosaic_dataset(4, seed=t, instance=t + 1, series_uid=uid)
        write(ds, tmp_path / f"vol{t}.dcm")
    (series,) = open_paths([tmp_path]).all_series()
    assert [(r.path.name, r.time_point) for r in series.slices[::4]] == [
        ("vol0.dcm", 0),
        ("vol1.dcm", 1),
        ("vol2.dcm", 2),
    ]
    z = [r.position[2] for r in series.slices if r.position]
    assert z == [10.0, 15.0, 20.0, 25.0] * 3  # each time point through space, not each position 3 times


def _classic_time_series(folder: Path, times: int, positions: int, with_identifier: bool) -> list[Path]:
    uid, study = generate_uid(), generate_uid()
    paths = []
    for n in range(times * positions):
        t, z = divmod(n, positions) if with_identifier else (n % times, n // times)  # scanner order varies
        extra = {"TemporalPositionIdentifier": t + 1} if with_identifier else {}
        ds = make_dataset(
            np.full((4, 4), 100 * t + z),
            series_uid=uid,
            study_uid=study,
            instance=n + 1,
            position=(0.0, 0.0, float(z)),
            extra=extra,
        )
        paths.append(write(ds, folder / f"im{n:03d}.dcm"))
    return paths


@pytest.mark.parametrize("with_identifier", [True, False])
def test_classic_series_with_time_points_scrolls_through_space(tmp_path: Path, with_identifier: bool) -> None:
    _classic_time_series(tmp_path, times=3, positions=5, with_identifier=with_identifier)
    (series,) = open_paths([tmp_path]).all_series()
    store = PixelStore()
    values = [int(store.modality(r)[0, 0]) for r in series.slices]
    assert values == [100 * t + z for t in range(3) for z in range(5)]
    blocks = time_points(series, 7)
    assert blocks == [range(0, 5), range(5, 10), range(10, 15)]
    assert step_within_time(series, 7, 10) == 9 and step_within_time(series, 7, -10) == 5
    assert edge_of_time(series, 7, last=False) == 5 and edge_of_time(series, 7, last=True) == 9
    assert move_to_time(series, 7, 2) == 12 and move_to_time(series, 7, 0) == 2 and move_to_time(series, 7, 9) == 12
    assert series.slices[0].representative == series.slices[2]  # the window comes from time point 1's middle


def test_series_without_time_points_has_one(tmp_path: Path) -> None:
    uid = generate_uid()
    for z in range(4):
        write(
            make_dataset(np.full((4, 4), z), series_uid=uid, instance=z + 1, position=(0, 0, z)), tmp_path / f"{z}.dcm"
        )
    (series,) = open_paths([tmp_path]).all_series()
    assert time_points(series, 1) == [range(0, 4)]
    assert step_within_time(series, 1, 5) == 3

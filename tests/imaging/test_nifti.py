"""NIfTI volumes (written by nibabel in the test) open as a series of axial slices placed like DICOM."""

from __future__ import annotations

import gzip
from pathlib import Path

import nibabel
import numpy as np
import pytest

from core.imaging import PixelStore, open_paths
from core.imaging.render import render_for_model

SHAPE = (6, 5, 4)  # x (R-L axis), y (A-P axis), z (slices)


def _volume(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 1000, SHAPE).astype(np.int16)


def _save(path: Path, data: np.ndarray, affine: np.ndarray) -> Path:
    nibabel.save(nibabel.Nifti1Image(data, affine), path)
    return path


def test_ras_volume_opens_as_axial_slices_laid_out_like_dicom(tmp_path: Path) -> None:
    data = _volume()
    affine = np.diag([2.0, 3.0, 4.0, 1.0])
    affine[:3, 3] = (-10.0, -20.0, -30.0)
    _save(tmp_path / "head.nii.gz", data, affine)
    result = open_paths([tmp_path])
    assert result.errors == [] and result.notes == []
    (patient,) = result.patients
    assert patient.name == "head.nii.gz" and patient.studies[0].description == "NIfTI volume"
    (series,) = result.all_series()
    assert series.description == "head.nii.gz" and [r.frame for r in series.slices] == [0, 1, 2, 3]
    store = PixelStore()
    for ref in series.slices:
        values = store.modality(ref)
        # rows run anterior -> posterior, columns right -> left (a DICOM axial image)
        np.testing.assert_array_equal(values, data[::-1, ::-1, ref.frame].T)
        np.testing.assert_array_equal(store.model_rendering(ref), render_for_model(values))
        assert ref.orientation == pytest.approx((1, 0, 0, 0, 1, 0))  # LPS: row -> left, column -> posterior
        # top-left pixel = voxel (x-1, y-1, k) in RAS, in LPS
        assert ref.position == pytest.approx((10.0 - 2.0 * 5, 20.0 - 3.0 * 4, -30.0 + 4.0 * ref.frame))
    meta = store.metadata(series.slices[1])
    assert meta.pixel_spacing == pytest.approx((3.0, 2.0)) and meta.slice_thickness == pytest.approx(4.0)
    assert meta.patient_name == "" and meta.patient_id == ""


def test_volume_stored_foot_ward_keeps_the_files_slice_index_as_frame(tmp_path: Path) -> None:
    data = _volume(1)
    affine = np.diag([-1.0, 1.0, -1.0, 1.0])  # LAI: x runs to the left, z to the feet
    path = _save(tmp_path / "lai.nii", data, affine)
    (series,) = open_paths([path]).all_series()
    # ordered foot to head: the file's last slice first
    assert [r.frame for r in series.slices] == [3, 2, 1, 0]
    store = PixelStore()
    for ref in series.slices:
        # on screen the patient's right is still on the left: x runs to the left in the file already
        np.testing.assert_array_equal(store.modality(ref), data[:, ::-1, ref.frame].T)
        assert ref.orientation == pytest.approx((1, 0, 0, 0, 1, 0))


def test_4d_volume_shows_its_first_volume_with_a_note(tmp_path: Path) -> None:
    data = np.stack([_volume(0), _volume(1), _volume(2)], axis=-1)
    path = _save(tmp_path / "bold.nii.gz", data, np.eye(4))
    result = open_paths([path])
    assert [(n.path, n.error_type, "first volume" in n.message) for n in result.notes] == [(path, "Note", True)]
    (series,) = result.all_series()
    assert len(series.slices) == SHAPE[2]
    np.testing.assert_array_equal(PixelStore().modality(series.slices[0]), data[::-1, ::-1, 0, 0].T)


def test_format_is_read_from_the_content_and_scaling_applied(tmp_path: Path) -> None:
    image = nibabel.Nifti1Image(_volume(3), np.eye(4))
    image.header.set_slope_inter(0.5, 10.0)
    nibabel.save(image, tmp_path / "scaled.nii.gz")
    renamed = tmp_path / "scan_without_suffix"
    (tmp_path / "scaled.nii.gz").rename(renamed)
    (series,) = open_paths([renamed]).all_series()
    values = PixelStore().modality(series.slices[2])
    np.testing.assert_allclose(values, _volume(3)[::-1, ::-1, 2].T * 0.5 + 10.0)


@pytest.mark.parametrize(
    ("name", "drop"), [("cut.nii", 300), ("cut.nii", 100), ("cut.nii", 1), ("cut.nii.gz", 20), ("cut.nii.gz", 200)]
)
def test_truncated_nifti_is_an_error(tmp_path: Path, name: str, drop: int) -> None:
    path = _save(tmp_path / name, _volume(), np.eye(4))
    data = path.read_bytes()
    path.write_bytes(data[:-drop])  # the header is whole; the voxels (or the gzip trailer) are not
    result = open_paths([path])
    refs = result.all_slices()
    if not refs:  # refused from the header
        assert [e.error_type for e in result.errors] == ["TruncatedFileError"]
        return
    with pytest.raises(Exception) as info:
        PixelStore().modality(refs[0])
    assert type(info.value).__name__ == "TruncatedFileError" and str(info.value).startswith(f"{name}: ")


def test_gzip_that_is_not_nifti_is_not_an_image(tmp_path: Path) -> None:
    path = tmp_path / "notes.nii.gz"
    path.write_bytes(gzip.compress(b"hello" * 200))
    result = open_paths([path])
    assert [e.error_type for e in result.errors] == ["NotAnImageError"]

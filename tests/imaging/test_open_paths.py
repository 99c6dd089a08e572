"""Opening files, folders and DICOMDIRs; organising Patient/Study/Series; ordering slices."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from dicom_factory import BASIC_TEXT_SR, bundled, make_dataset, phantom, write, write_series
from pydicom.uid import generate_uid

from core.imaging import FileError, PixelStore, ScanLimits, Series, open_paths


def test_single_bundled_files_open_as_one_slice_each() -> None:
    result = open_paths([bundled("CT_small.dcm"), bundled("MR_small.dcm")])
    assert result.errors == []
    series = result.all_series()
    assert sorted(s.modality for s in series) == ["CT", "MR"]
    assert all(len(s.slices) == 1 and s.slices[0].kind == "dicom" for s in series)
    ct = next(s for s in series if s.modality == "CT")
    assert (ct.slices[0].rows, ct.slices[0].columns) == (128, 128)


def test_series_ordered_along_normal_not_by_instance_or_name(tmp_path: Path) -> None:
    paths = write_series(tmp_path, 7)
    series = open_paths([tmp_path]).all_series()
    assert len(series) == 1
    assert [ref.path for ref in series[0].slices] == paths
    store = PixelStore()
    assert [float(store.modality(ref)[0, 0]) for ref in series[0].slices] == list(range(7))


def test_oblique_series_ordered_along_its_normal(tmp_path: Path) -> None:
    orientation = (0.0, 1.0, 0.0, 0.0, 0.0, -1.0)  # sagittal: normal along -x
    uid, study = generate_uid(), generate_uid()
    xs = [3.0, -1.0, 7.0, 1.0]
    for i, x in enumerate(xs):
        write(
            make_dataset(
                phantom(8, 8),
                series_uid=uid,
                study_uid=study,
                position=(x, 5, 5),
                orientation=orientation,
                instance=i + 1,
            ),
            tmp_path / f"s{i}.dcm",
        )
    refs = open_paths([tmp_path]).all_series()[0].slices
    assert [r.position[0] for r in refs if r.position] == sorted(xs, reverse=True)


def test_fallback_order_is_instance_number(tmp_path: Path) -> None:
    uid = generate_uid()
    for name, instance in (("a", 3), ("b", 1), ("c", 2)):
        write(make_dataset(phantom(8, 8), series_uid=uid, instance=instance), tmp_path / f"{name}.dcm")
    refs = open_paths([tmp_path]).all_series()[0].slices
    assert [r.instance_number for r in refs] == [1, 2, 3]


def test_mixed_folder_sorted_into_patients_studies_series(tmp_path: Path) -> None:
    study_a, study_b = generate_uid(), generate_uid()
    s1, s2, s3 = generate_uid(), generate_uid(), generate_uid()
    for i in range(3):
        write(
            make_dataset(
                phantom(8, 8, seed=i),
                patient_id="P1",
                study_uid=study_a,
                series_uid=s1,
                series_number=2,
                position=(0, 0, i),
            ),
            tmp_path / f"x{i}",
        )
        write(
            make_dataset(
                phantom(8, 8, seed=i),
                patient_id="P1",
                study_uid=study_a,
                series_uid=s2,
                series_number=1,
                position=(0, 0, i),
            ),
            tmp_path / f"y{i}",
        )
    write(
        make_dataset(phantom(8, 8), patient_id="P2", patient_name="Roe^Rick", study_uid=study_b, series_uid=s3),
        tmp_path / "z0",
    )
    write(
        make_dataset(None, patient_id="P1", study_uid=study_a, sop_class=BASIC_TEXT_SR, modality="SR"),
        tmp_path / "report.dcm",
    )
    (tmp_path / "notes.txt").write_text("not an image")
    result = open_paths([tmp_path])
    assert [p.patient_id for p in result.patients] == ["P1", "P2"]
    p1 = result.patients[0]
    assert len(p1.studies) == 1
    assert [s.number for s in p1.studies[0].series] == [1, 2]
    assert all(len(s.slices) == 3 for s in p1.studies[0].series)
    assert result.patients[1].name == "Roe, Rick"
    assert [e.path.name for e in result.ignored] == ["report.dcm"]
    assert "Text SR" in result.ignored[0].message
    assert [(e.path.name, e.error_type) for e in result.errors] == [("notes.txt", "NotAnImageError")]


def test_duplicate_instance_listed_once(tmp_path: Path) -> None:
    path = write(make_dataset(phantom(8, 8)), tmp_path / "a" / "one.dcm")
    shutil.copy(path, tmp_path / "copy.dcm")
    assert len(open_paths([tmp_path]).all_slices()) == 1


def test_multiframe_every_frame_is_a_slice() -> None:
    result = open_paths([bundled("examples_ybr_color.dcm"), bundled("rtdose.dcm")])
    frames = {s.modality: [r.frame for r in s.slices] for s in result.all_series()}
    assert frames["US"] == list(range(30))
    assert frames["RTDOSE"] == list(range(15))


def test_dicomdir_opens_referenced_files() -> None:
    root = bundled("dicomdirtests")
    result = open_paths([root / "DICOMDIR"])
    assert result.errors == []
    import pydicom
    from pydicom.fileset import FileSet

    fileset = FileSet(pydicom.dcmread(root / "DICOMDIR"))
    assert sorted(p.patient_id for p in result.patients) == sorted({i.PatientID for i in fileset})
    assert len(result.all_slices()) == len(fileset) == 31
    # opening the folder uses its DICOMDIR too
    assert len(open_paths([root]).all_slices()) == 31


@pytest.mark.filterwarnings("ignore:Invalid value for VR CS")
def test_dicomdir_reference_outside_root_is_refused(tmp_path: Path) -> None:
    from pydicom.fileset import FileSet

    inside = tmp_path / "media"
    inside.mkdir()
    write(make_dataset(phantom(8, 8)), tmp_path / "outside.dcm")
    write(make_dataset(phantom(8, 8), patient_id="IN", extra={"StudyTime": "120000", "StudyID": "1"}), inside / "IMG1")
    fs = FileSet()
    fs.add(str(inside / "IMG1"))
    fs.write(str(inside))
    import pydicom

    ds = pydicom.dcmread(inside / "DICOMDIR")
    record = ds.DirectoryRecordSequence[-1]
    record.ReferencedFileID = ["..", "outside.dcm"]
    ds.save_as(inside / "DICOMDIR")
    result = open_paths([inside])
    assert all(ref.path.resolve().is_relative_to(inside) for ref in result.all_slices())
    assert [r.series_uid for r in result.all_slices()]  # the files inside the folder still open
    assert any("outside its folder" in e.message for e in result.errors)


def test_symlink_out_of_root_not_followed_and_loops_visited_once(tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    write_series(root / "s", 2)
    write(make_dataset(phantom(8, 8)), outside / "secret.dcm")
    (root / "escape").symlink_to(outside, target_is_directory=True)
    (root / "escape_file.dcm").symlink_to(outside / "secret.dcm")
    (root / "s" / "loop").symlink_to(root, target_is_directory=True)
    result = open_paths([root])
    assert len(result.all_slices()) == 2
    refused = {e.path.name for e in result.errors}
    assert {"escape", "escape_file.dcm"} <= refused


def test_depth_and_file_limits(tmp_path: Path) -> None:
    deep = tmp_path / "a" / "b" / "c"
    write(make_dataset(phantom(8, 8)), deep / "deep.dcm")
    write(make_dataset(phantom(8, 8)), tmp_path / "top.dcm")
    result = open_paths([tmp_path], limits=ScanLimits(max_depth=2))
    assert [r.path.name for r in result.all_slices()] == ["top.dcm"]
    assert any("deeper than 2" in e.message for e in result.errors)
    write_series(tmp_path / "many", 5)
    limited = open_paths([tmp_path / "many"], limits=ScanLimits(max_files=3))
    assert len(limited.all_slices()) == 3
    assert any(e.error_type == "ScanLimit" for e in limited.errors)


def test_progress_on_series_and_cancel(tmp_path: Path) -> None:
    write_series(tmp_path / "one", 3)
    write_series(tmp_path / "two", 4, seed=1)
    calls: list[tuple[int, int | None]] = []
    early: list[Series] = []
    result = open_paths([tmp_path], progress=lambda d, t: calls.append((d, t)), on_series=early.append)
    assert calls[0] == (0, None) and calls[-1] == (7, 7)
    assert {len(s.slices) for s in early} == {3, 4}
    assert len(early) == 2 and not result.cancelled
    cancelled = open_paths([tmp_path], cancel=lambda: True)
    assert cancelled.cancelled and cancelled.all_slices() == []


def test_missing_path_is_an_error_not_an_exception(tmp_path: Path) -> None:
    result = open_paths([tmp_path / "nope"])
    assert result.errors == [FileError(tmp_path / "nope", "file or folder does not exist", "FileAccessError")]


def test_png_and_jpeg_files_form_a_folder_series(tmp_path: Path) -> None:
    from PIL import Image

    Image.fromarray(phantom(10, 12).astype(np.uint8)).save(tmp_path / "img10.png")
    Image.fromarray(phantom(10, 12, seed=2).astype(np.uint8)).save(tmp_path / "img2.jpg", quality=95)
    result = open_paths([tmp_path])
    (series,) = result.all_series()
    assert [r.path.name for r in series.slices] == ["img2.jpg", "img10.png"]
    assert all(r.kind == "raster" and (r.rows, r.columns) == (10, 12) for r in series.slices)
    assert result.patients[0].label == "Unknown patient"


@pytest.mark.skipif(not Path("/work/shared/data/real-dicom/enhanced-multiframe").is_dir(), reason="real data absent")
def test_real_enhanced_multiframe_all_frames_in_sane_order() -> None:
    import pydicom

    root = Path("/work/shared/data/real-dicom/enhanced-multiframe")
    result = open_paths([root])
    assert [e.path.name for e in result.errors] == ["LICENSE"]
    total_frames = sum(
        int(pydicom.dcmread(p, stop_before_pixels=True).get("NumberOfFrames", 1)) for p in root.rglob("*.dcm")
    )
    assert len(result.all_slices()) == total_frames
    store = PixelStore(max_megabytes=32)
    for series in result.all_series():
        for stack in {(r.stack_key, r.time_point) for r in series.slices}:  # each time point through space
            refs = [r for r in series.slices if (r.stack_key, r.time_point) == stack]
            z = [r.position[2] for r in refs if r.position]
            assert len(z) == len(refs) and z == sorted(z) and len(set(z)) == len(z)
        ref = series.slices[len(series.slices) // 2]
        assert store.display(ref).dtype == np.uint8
    assert os.access(root, os.R_OK)


@pytest.mark.filterwarnings("ignore:The referenced SOP Instance")
def test_dicomdir_with_missing_file(tmp_path: Path) -> None:
    root = tmp_path / "cd"
    shutil.copytree(bundled("dicomdirtests"), root)
    missing = root / "77654033" / "CR1" / "6154"
    missing.unlink()
    result = open_paths([root / "DICOMDIR"])
    assert [(e.path, e.message) for e in result.errors] == [(missing, "DICOMDIR refers to a file that is missing")]
    assert len(result.all_slices()) == 30


def _rename_tree(root: Path, rename: Callable[[str], str]) -> None:
    """Rename every file and folder below ``root`` (deepest first), as copying media can."""
    for path in sorted(root.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        if path.name != "DICOMDIR":
            path.rename(path.with_name(rename(path.name)))


@pytest.mark.parametrize(
    "rename", [str.lower, lambda name: name.lower() + ";1"], ids=["lower-case", "lower-case-iso9660-version"]
)
def test_dicomdir_references_match_files_whose_names_changed_case(tmp_path: Path, rename: Callable[[str], str]) -> None:
    root = tmp_path / "cd"
    shutil.copytree(bundled("dicomdirtests"), root)
    _rename_tree(root, rename)
    assert not (root / "77654033" / "CR1").exists()
    result = open_paths([root])
    assert result.errors == []
    assert len(result.all_slices()) == 31


def test_dicomdir_whose_files_are_all_gone_falls_back_to_the_folder(tmp_path: Path) -> None:
    media = tmp_path / "media"
    shutil.copytree(bundled("dicomdirtests"), media / "old")
    shutil.move(media / "old" / "DICOMDIR", media / "DICOMDIR")  # now it refers to nothing that exists
    shutil.rmtree(media / "old")
    paths = write_series(media / "series", 3)
    result = open_paths([media])
    assert sorted(ref.path for ref in result.all_slices()) == sorted(paths)
    assert [e.path for e in result.errors] == [media / "DICOMDIR"]
    assert "the folder was read instead" in result.errors[0].message


def test_cancel_midway_keeps_what_was_read(tmp_path: Path) -> None:
    write_series(tmp_path, 10)
    calls = {"n": 0}

    def cancel() -> bool:
        calls["n"] += 1
        return calls["n"] > 5  # a few checks while listing, then stop during indexing

    result = open_paths([tmp_path], cancel=cancel)
    assert result.cancelled
    assert 0 < len(result.all_slices()) < 10

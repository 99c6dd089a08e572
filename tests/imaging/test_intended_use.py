"""Header rules of the intended-use guard: each rule fires with a readable reason, brain MR stays inside."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from core.imaging import PixelStore, open_paths, read_metadata
from core.imaging.intended_use import (
    INSIDE,
    MIN_BLACK_INSIDE,
    MIN_SATURATED_FOREGROUND,
    bone_ring,
    clipped_ends,
    content_reason,
    flat_share,
    header_outside_reason,
    neighbour_correlation,
    reason_key,
)
from tests.dicom_factory import SC_STORAGE, bundled, make_dataset, phantom, write


def _mr(**extra: object) -> Dataset:
    return make_dataset(phantom(16, 16), extra=dict(extra))


def _code(value: str, meaning: str) -> Dataset:
    item = Dataset()
    item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = value, "SCT", meaning
    return item


def test_brain_mr_is_inside() -> None:
    ds = _mr(BodyPartExamined="BRAIN", ImageType=["ORIGINAL", "PRIMARY", "M", "ND"])
    assert header_outside_reason(ds) == INSIDE


def test_a_header_without_the_fields_is_inside() -> None:
    assert header_outside_reason(Dataset()) == INSIDE


@pytest.mark.parametrize(("modality", "word"), [("CT", "CT"), ("CR", "radiograph"), ("US", "ultrasound"), ("NM", "")])
def test_modality_other_than_mr(modality: str, word: str) -> None:
    reason = header_outside_reason(make_dataset(phantom(16, 16), modality=modality))
    assert reason.startswith(f"modality {modality}") and "not MR" in reason and word in reason


@pytest.mark.parametrize("part", ["HEAD", "BRAIN", "HEADNECK", "SKULL"])
def test_head_body_parts_stay_inside(part: str) -> None:
    assert header_outside_reason(_mr(BodyPartExamined=part)) == INSIDE


@pytest.mark.parametrize("part", ["PELVIS", "KNEE", "LSPINE"])
def test_other_body_parts_are_outside(part: str) -> None:
    assert header_outside_reason(_mr(BodyPartExamined=part)) == f"body part {part}, not head or brain"


def test_anatomic_region_sequence() -> None:
    brain = _mr(AnatomicRegionSequence=Sequence([_code("12738006", "Brain")]))
    liver = _mr(AnatomicRegionSequence=Sequence([_code("10200004", "Liver")]))
    assert header_outside_reason(brain) == INSIDE
    assert header_outside_reason(liver) == "anatomic region Liver, not head or brain"


def test_a_study_description_naming_other_anatomy_is_outside() -> None:
    """An anonymised shoulder MR keeps its study description and loses Body Part Examined."""
    shoulder = _mr(StudyDescription="SHOULDER", ProtocolName="T1W/SE/1024")
    assert header_outside_reason(shoulder) == "study description 'SHOULDER' names shoulder, not head or brain"
    spine = _mr(SeriesDescription="SAG T2 C-SPINE", StudyDescription="MRI")
    assert header_outside_reason(spine) == "series description 'SAG T2 C-SPINE' names spine, not head or brain"
    assert reason_key(header_outside_reason(spine)) == "series description 'SAG T2 C-SPINE' names spine"


def test_the_most_specific_description_decides_and_the_head_keeps_a_slice_inside() -> None:
    assert header_outside_reason(_mr(SeriesDescription="AX T2 BRAIN", StudyDescription="MRI C-SPINE")) == INSIDE
    assert header_outside_reason(_mr(StudyDescription="MRI BRAIN + L-SPINE")) == INSIDE
    assert header_outside_reason(_mr(ProtocolName="LWS sag T2", StudyDescription="Kopf")) != INSIDE
    assert header_outside_reason(_mr(BodyPartExamined="BRAIN", SeriesDescription="T2 C-SPINE")) == INSIDE


@pytest.mark.parametrize(
    "text",
    ["T1W/SE/1024", "REST1 w SMS PF7-8", "WHIPLASH FOLLOW-UP", "FMRI FINGER TAPPING / HAND MOTOR", "AX FLAIR", ""],
)
def test_descriptions_without_other_anatomy_stay_inside(text: str) -> None:
    """Whole words only (HIP inside WHIPLASH names nothing), and a brain fMRI study's motor task names no
    anatomy to refuse."""
    assert header_outside_reason(_mr(SeriesDescription=text, StudyDescription=text)) == INSIDE


def test_frame_anatomy_of_an_enhanced_frame_wins() -> None:
    anatomy = Dataset()
    anatomy.AnatomicRegionSequence = Sequence([_code("818981001", "Abdomen")])
    groups = Dataset()
    groups.FrameAnatomySequence = Sequence([anatomy])
    ds = _mr(PerFrameFunctionalGroupsSequence=Sequence([groups]))
    assert "Abdomen" in header_outside_reason(ds, 0)


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("LOCALIZER", "localizer"),
        ("P", "phase"),
        ("FIELD_MAP", "field map"),
        ("ADC", "ADC"),
        ("FA", "anisotropy"),
        ("PERFUSION", "perfusion"),
    ],
)
def test_image_types_that_are_not_anatomy(value: str, words: str) -> None:
    reason = header_outside_reason(_mr(ImageType=["DERIVED", "PRIMARY", value]))
    assert words in reason and f"image type {value}" in reason


def test_enhanced_frame_type_is_read_per_frame() -> None:
    frame_type = Dataset()
    frame_type.FrameType = ["DERIVED", "PRIMARY", "ADC", "NONE"]
    groups = Dataset()
    groups.MRImageFrameTypeSequence = Sequence([frame_type])
    ds = _mr(ImageType=["DERIVED", "PRIMARY", "MIXED"], PerFrameFunctionalGroupsSequence=Sequence([Dataset(), groups]))
    assert header_outside_reason(ds, 0) == INSIDE
    assert "ADC" in header_outside_reason(ds, 1)


def test_colour_and_palette_images() -> None:
    rgb = make_dataset(np.zeros((8, 8, 3), dtype=np.uint8), photometric="RGB")
    palette = _mr(PhotometricInterpretation="PALETTE COLOR")
    assert header_outside_reason(rgb) == "a colour image (RGB), not a grayscale MR slice"
    assert "PALETTE COLOR" in header_outside_reason(palette)


def test_secondary_capture_with_burned_in_annotation() -> None:
    burned = make_dataset(phantom(16, 16), sop_class=SC_STORAGE, extra={"BurnedInAnnotation": "YES"})
    clean = make_dataset(phantom(16, 16), sop_class=SC_STORAGE, extra={"BurnedInAnnotation": "NO"})
    assert "burned-in annotation" in header_outside_reason(burned)
    assert header_outside_reason(clean) == INSIDE


def test_the_reason_reaches_the_slice_metadata(tmp_path: Path) -> None:
    ct = write(make_dataset(phantom(16, 16), modality="CT"), tmp_path / "ct.dcm")
    mr = write(_mr(BodyPartExamined="HEAD"), tmp_path / "mr.dcm")
    refs = {ref.path.name: ref for ref in open_paths([ct, mr]).all_slices()}
    store = PixelStore()
    assert store.metadata(refs["ct.dcm"]).outside_use_reason == "modality CT (CT), not MR"
    assert read_metadata(refs["mr.dcm"]).outside_use_reason == INSIDE
    assert store.metadata(refs["ct.dcm"]).deidentified().outside_use_reason.startswith("modality CT")


@pytest.mark.parametrize("name", ["CT_small.dcm", "liver_1frame.dcm", "rtdose.dcm"])
def test_bundled_non_mr_files_are_outside(name: str) -> None:
    import pydicom

    try:
        ds = pydicom.dcmread(bundled(name), stop_before_pixels=True)
    except FileNotFoundError:
        pytest.skip(f"{name} is not bundled with this pydicom")
    assert header_outside_reason(ds).startswith("modality ")


def test_a_colour_png_is_outside_and_grey_stored_as_rgb_is_not(tmp_path: Path) -> None:
    from PIL import Image

    from core.imaging.intended_use import colour_picture_reason

    rng = np.random.default_rng(0)
    grey = rng.integers(0, 256, (24, 24), dtype=np.uint8)
    Image.fromarray(np.stack([grey] * 3, axis=-1)).save(tmp_path / "grey_rgb.png")
    Image.fromarray(rng.integers(0, 256, (24, 24, 3), dtype=np.uint8)).save(tmp_path / "colour.png")
    refs = {ref.path.name: ref for ref in open_paths([tmp_path]).all_slices()}
    store = PixelStore()
    assert store.metadata(refs["grey_rgb.png"]).outside_use_reason == INSIDE
    assert store.metadata(refs["colour.png"]).outside_use_reason.startswith("a colour picture (mean channel spread")
    assert colour_picture_reason(grey) == INSIDE


def _noisy_head(side: int = 256, noise: float = 0.05, seed: int = 0) -> np.ndarray:
    """A smooth elliptic "head" with a darker "ventricle", on a dark background, with Rician-like noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:side, 0:side] / side
    head = (((yy - 0.5) / 0.4) ** 2 + ((xx - 0.5) / 0.32) ** 2 < 1).astype(np.float32)
    ventricle = (((yy - 0.45) / 0.1) ** 2 + ((xx - 0.5) / 0.05) ** 2 < 1).astype(np.float32)
    clean = 0.8 * head - 0.4 * ventricle
    return np.hypot(clean + rng.normal(0, noise, clean.shape), rng.normal(0, noise, clean.shape))


def test_a_slice_with_anatomy_is_inside_even_when_noisy() -> None:
    assert content_reason(_noisy_head()) == INSIDE
    assert content_reason(_noisy_head(noise=0.15)) == INSIDE
    assert content_reason((255 * np.clip(_noisy_head(300), 0, 1)).astype(np.uint8)) == INSIDE


def test_blank_and_noise_only_slices_are_outside() -> None:
    rng = np.random.default_rng(1)
    above_the_head = np.hypot(rng.normal(0, 1, (256, 256)), rng.normal(0, 1, (256, 256)))  # magnitude noise
    assert content_reason(above_the_head).startswith("noise only, no anatomy")
    assert content_reason(np.full((128, 96), 7, dtype=np.uint8)).startswith("a blank slice")
    assert content_reason(np.zeros((512, 512), dtype=np.uint16)).startswith("a blank slice")


def _drawing(side: int = 256) -> np.ndarray:
    """A binary organ mask on black with a grey label box: what a segmentation export or a slide looks like."""
    yy, xx = np.mgrid[0:side, 0:side] / side
    picture = np.where(((yy - 0.5) / 0.3) ** 2 + ((xx - 0.45) / 0.2) ** 2 < 1, 255, 0).astype(np.uint8)
    picture[10:40, 150:240] = 128
    return picture


def test_drawings_masks_text_and_patterns_are_outside() -> None:
    checker = ((np.indices((224, 224)) // 20).sum(axis=0) % 2 * 255).astype(np.uint8)
    page = np.full((256, 512), 255, dtype=np.uint8)
    for line in range(8):
        page[12 + 28 * line : 20 + 28 * line, 10 : 10 + 60 * (line % 4 + 3)] = 0  # black "words" on white
    for picture in (_drawing(), checker, page):
        reason = content_reason(picture)
        assert reason.startswith("flat areas of single grey levels"), reason
        assert reason_key(reason) == "flat areas of single grey levels"


def test_anatomy_on_a_flat_background_is_not_a_drawing() -> None:
    """Class-folder JPEGs put the head on a flat dark-grey background; the head itself is textured."""
    head = (255 * np.clip(_noisy_head(300), 0, 1)).astype(np.uint8)
    head[head < 30] = 30
    flat, foreground = flat_share(head)
    assert flat < 0.2 and foreground > 0.3
    assert content_reason(head) == INSIDE


def test_an_enlarged_small_slice_is_judged_like_the_slice() -> None:
    """A 64-pixel slice enlarged 4x with nearest-neighbour copies is flat in 4x4 blocks, not a drawing."""
    small = (255 * np.clip(_noisy_head(64), 0, 1)).astype(np.uint8)
    enlarged = np.kron(small, np.ones((4, 4), dtype=np.uint8))
    assert content_reason(enlarged) == INSIDE


def test_a_nearly_empty_picture_is_not_judged_flat() -> None:
    dot = np.zeros((256, 256), dtype=np.uint8)
    dot[120:130, 120:130] = 255  # 0.15 % of the picture
    assert flat_share(dot)[1] < 0.05
    assert not content_reason(dot).startswith("flat areas")


def _head_with_rim(rim_value: float, brain_texture: float, seed: int = 4, side: int = 256) -> np.ndarray:
    """An elliptic head on black: a 6 %-wide rim of ``rim_value`` around a brain of mean 0.45 with folds of
    amplitude ``brain_texture`` and a little noise (0..1 grey scale, returned as uint8 like a saved picture)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:side, 0:side] / side
    radius = np.hypot((yy - 0.5) / 0.42, (xx - 0.5) / 0.34)
    picture = np.zeros((side, side))
    picture[radius < 1] = rim_value
    brain = radius < 0.86
    folds = np.sin(2 * np.pi * 6 * xx) * np.sin(2 * np.pi * 6 * yy)  # grey/white matter-like structure
    texture = brain_texture * folds + rng.normal(0, 0.02, folds.shape)
    picture[brain] = np.clip(0.45 + texture[brain], 0.15, 0.9)
    return (255 * picture).astype(np.uint8)


def test_a_head_ct_picture_is_outside() -> None:
    """Brain window: the skull clips at white around a nearly uniform brain."""
    ct = _head_with_rim(rim_value=1.0, brain_texture=0.0)
    rim, spread = bone_ring(ct) or (0.0, 1.0)
    assert rim > 0.8 and spread < 0.05
    reason = content_reason(ct)
    assert reason.startswith("looks like a head CT"), reason
    assert reason_key(reason) == "looks like a head CT"


def test_mr_heads_are_not_taken_for_ct() -> None:
    """MR: the rim is not at the top of the range (dark skull, grey scalp), or the brain is textured."""
    dark_skull = _head_with_rim(rim_value=0.2, brain_texture=0.0)
    assert content_reason(dark_skull) == INSIDE
    bright_fat_textured_brain = _head_with_rim(rim_value=1.0, brain_texture=0.3)
    assert (bone_ring(bright_fat_textured_brain) or (0.0, 0.0))[1] > 0.15
    assert content_reason(bright_fat_textured_brain) == INSIDE
    assert content_reason((255 * np.clip(_noisy_head(300), 0, 1)).astype(np.uint8)) == INSIDE


def _windowed_body_ct(seed: int = 5, side: int = 256) -> np.ndarray:
    """A body section through a soft-tissue window: a wide oval of grey soft tissue with a little noise, a
    black fat layer and bowel gas (clipped at the bottom), and a white spine and ribs (clipped at the top)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:side, 0:side] / side
    radius = np.hypot((yy - 0.55) / 0.3, (xx - 0.5) / 0.45)
    picture = np.zeros((side, side))
    picture[radius < 1] = 0.0  # subcutaneous fat, below the window
    organs = radius < 0.9
    picture[organs] = np.clip(0.5 + rng.normal(0, 0.04, organs.sum()), 0, 1)
    picture[np.hypot(yy - 0.45, xx - 0.4) < 0.07] = 0.0  # gas
    picture[np.hypot(yy - 0.5, xx - 0.65) < 0.06] = 0.0
    picture[np.hypot((yy - 0.7) / 0.12, (xx - 0.5) / 0.14) < 1] = 1.0  # vertebra, above the window
    picture[(radius > 0.6) & (radius < 0.7) & (yy > 0.5)] = 1.0  # ribs and contrast-filled vessels
    return (255 * picture).astype(np.uint8)


def test_a_ct_through_a_display_window_is_outside() -> None:
    ct = _windowed_body_ct()
    white, black = clipped_ends(ct)
    assert white > MIN_SATURATED_FOREGROUND and black > MIN_BLACK_INSIDE
    reason = content_reason(ct)
    assert reason.startswith("looks like a CT through a display window"), reason
    assert reason_key(reason) == "looks like a CT through a display window"


def test_mr_with_one_clipped_end_is_not_taken_for_windowed_ct() -> None:
    """A bright lesion or fat clips white but leaves the inside of the head above black; a dark ventricle
    clipped at black comes with little white."""
    bright = (255 * np.clip(_noisy_head(256), 0, 1)).astype(np.uint8)
    bright[80:160, 90:170] = 255  # a very large enhancing lesion, about a quarter of the head
    assert clipped_ends(bright)[0] > MIN_SATURATED_FOREGROUND and clipped_ends(bright)[1] < MIN_BLACK_INSIDE
    assert content_reason(bright) == INSIDE
    dark = (255 * np.clip(_noisy_head(256), 0, 1)).astype(np.uint8)
    dark[90:140, 100:160] = 0  # ventricles clipped at black
    assert clipped_ends(dark)[0] < MIN_SATURATED_FOREGROUND and clipped_ends(dark)[1] > MIN_BLACK_INSIDE
    assert content_reason(dark) == INSIDE


def test_mr_exported_through_a_narrow_window_is_not_taken_for_windowed_ct() -> None:
    """A viewer window that clips the brightest and the darkest tenth of the head's pixels, with ventricles
    and sulci that reach black, still saturates less of the head than a CT's bone."""
    head = _head_with_rim(rim_value=0.2, brain_texture=0.3) / 255.0  # dark skull, folded brain
    low, high = np.percentile(head[head > 0.1], [10, 90])
    exported = (255 * np.clip((head - low) / (high - low), 0, 1)).astype(np.uint8)
    white, black = clipped_ends(exported)
    assert 0.12 < white < MIN_SATURATED_FOREGROUND and black > 0.02, (white, black)  # both ends clipped
    assert content_reason(exported) == INSIDE


def test_small_pictures_are_not_judged() -> None:
    rng = np.random.default_rng(2)
    assert content_reason(rng.random((32, 32))) == INSIDE
    assert neighbour_correlation(rng.random((32, 32))) is not None


def test_reasons_are_counted_by_their_rule_without_details() -> None:
    assert reason_key("modality CT (CT), not MR") == "modality CT"
    noise = np.hypot(*np.random.default_rng(3).normal(0, 1, (2, 128, 128)))
    assert reason_key(content_reason(noise)) == "noise only"
    assert reason_key(content_reason(np.zeros((128, 128)))) == "a blank slice"

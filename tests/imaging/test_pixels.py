"""Pixel decoding: modality LUT, MONOCHROME1, windows, VOI LUT, colour, compressed syntaxes, cache."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pydicom
import pytest
from dicom_factory import bundled, make_dataset, make_enhanced, phantom, write, write_series
from pydicom.dataset import Dataset
from pydicom.pixels import apply_modality_lut, apply_voi_lut
from pydicom.uid import RLELossless

from core.imaging import InvalidImageError, PixelStore, SliceRef, Window, open_paths
from core.imaging.render import render_for_model


def only_slice(path: Path) -> SliceRef:
    result = open_paths([path])
    assert result.errors == [], result.errors
    (ref,) = result.all_slices()
    return ref


def test_rescale_and_signed_values(tmp_path: Path) -> None:
    raw = phantom(16, 16, high=2000) - 1000
    ds = make_dataset(
        raw,
        bits_allocated=16,
        bits_stored=12,
        signed=True,
        modality="CT",
        extra={"RescaleSlope": 2, "RescaleIntercept": -24},
    )
    ref = only_slice(write(ds, tmp_path / "ct.dcm"))
    values = PixelStore().modality(ref)
    assert values.dtype == np.float32
    np.testing.assert_allclose(values, raw * 2 - 24)


def test_bundled_ct_matches_pydicom_modality_lut() -> None:
    path = bundled("CT_small.dcm")
    ds = pydicom.dcmread(path)
    expected = apply_modality_lut(ds.pixel_array, ds)
    np.testing.assert_allclose(PixelStore().modality(only_slice(path)), expected)


def test_monochrome1_is_inverted_so_bright_is_high(tmp_path: Path) -> None:
    img = phantom(12, 12, high=4095)
    ds = make_dataset(
        4095 - img,
        bits_allocated=16,
        bits_stored=12,
        photometric="MONOCHROME1",
        extra={"WindowCenter": 1000, "WindowWidth": 400},
    )
    ref = only_slice(write(ds, tmp_path / "m1.dcm"))
    store = PixelStore()
    np.testing.assert_allclose(store.modality(ref), img)
    file_window = store.window_presets(ref)[0]
    assert (file_window.center, file_window.width) == (4095 - 1000, 400)
    # pydicom's windowing of the stored values, shown as MONOCHROME1 (low = white), equals our display
    stored = pydicom.dcmread(tmp_path / "m1.dcm")
    reference = 255 - np.clip(np.rint(apply_voi_lut(stored.pixel_array.astype(float), _as8bit(stored))), 0, 255)
    assert np.abs(store.display(ref).astype(int) - reference).max() <= 1


def _as8bit(ds: Dataset) -> Dataset:
    out = Dataset()
    out.PhotometricInterpretation, out.BitsStored, out.PixelRepresentation = "MONOCHROME2", 8, 0
    out.WindowCenter, out.WindowWidth = ds.WindowCenter, ds.WindowWidth
    return out


def test_window_presets_and_display(tmp_path: Path) -> None:
    ds = make_dataset(
        phantom(16, 16, high=1000),
        bits_allocated=16,
        extra={
            "WindowCenter": [500, 300],
            "WindowWidth": [1000, 200],
            "WindowCenterWidthExplanation": ["WIDE", "NARROW"],
        },
    )
    ref = only_slice(write(ds, tmp_path / "w.dcm"))
    store = PixelStore()
    names = [w.name for w in store.window_presets(ref)]
    assert names == ["WIDE", "NARROW", "Auto", "Brain", "Full range"]
    default = store.display(ref)
    assert default.dtype == np.uint8 and default.shape == (16, 16)
    np.testing.assert_array_equal(default, store.display(ref, store.window_presets(ref)[0]))
    narrow = store.display(ref, Window(300, 200))
    values = store.modality(ref)
    assert (narrow[values <= 200] == 0).all() and (narrow[values > 400] == 255).all()
    np.testing.assert_array_equal(store.display(ref, Window(300, 200), invert=True), 255 - narrow)


def test_voi_lut_sequence_window(tmp_path: Path) -> None:
    lut = Dataset()
    lut.LUTDescriptor = [256, 0, 8]
    lut.add_new(0x00283006, "US", list(range(255, -1, -1)))  # LUT Data: an inverting LUT
    lut.LUTExplanation = "INVERT"
    ds = make_dataset(phantom(8, 8), extra={"VOILUTSequence": [lut]})
    ref = only_slice(write(ds, tmp_path / "lut.dcm"))
    store = PixelStore()
    (preset, *_) = store.window_presets(ref)
    assert preset.name == "INVERT" and preset.lut_index == 0
    np.testing.assert_array_equal(store.display(ref, preset), 255 - store.modality(ref).astype(np.uint8))


def test_auto_window_from_representative_slice_not_first(tmp_path: Path) -> None:
    paths = write_series(tmp_path, 5, bits_allocated=16)
    series = open_paths([tmp_path]).all_series()[0]
    # make the first slice (on disk) much brighter: the auto window must not follow it
    store = PixelStore()
    reps = {r.representative.key for r in series.slices if r.representative}
    assert reps == {series.slices[2].key}
    auto_first = next(w for w in store.window_presets(series.slices[0]) if w.name == "Auto")
    auto_mid = next(w for w in store.window_presets(series.slices[2]) if w.name == "Auto")
    assert auto_first == auto_mid
    assert paths[0] == series.slices[0].path


def test_enhanced_multiframe_per_frame_groups(tmp_path: Path) -> None:
    frames = np.stack([phantom(8, 8, seed=i, high=1000) for i in range(4)])
    ds = make_enhanced(
        frames,
        positions=[(0, 0, 9), (0, 0, 3), (0, 0, 6), (0, 0, 0)],
        slopes=[1, 2, 1, 2],
        intercepts=[0, -10, 5, 0],
        windows=[(100, 50), (200, 60), (300, 70), (400, 80)],
    )
    result = open_paths([write(ds, tmp_path / "enh.dcm")])
    refs = result.all_slices()
    assert [r.frame for r in refs] == [3, 1, 2, 0]  # ordered along z
    store = PixelStore()
    for ref in refs:
        slope, intercept = [1, 2, 1, 2][ref.frame], [0, -10, 5, 0][ref.frame]
        np.testing.assert_allclose(store.modality(ref), frames[ref.frame] * slope + intercept)
        assert store.window_presets(ref)[0].center == [100, 200, 300, 400][ref.frame]


def test_enhanced_object_with_fewer_per_frame_items_than_frames_is_refused(tmp_path: Path) -> None:
    frames = np.stack([phantom(8, 8, seed=i, high=1000) for i in range(4)])
    ds = make_enhanced(frames, positions=[(0, 0, z) for z in range(4)], slopes=[1, 2, 1, 2], intercepts=[0] * 4)
    ds.PerFrameFunctionalGroupsSequence = ds.PerFrameFunctionalGroupsSequence[:2]
    result = open_paths([write(ds, tmp_path / "short.dcm"), write_series(tmp_path / "ok", 1)[0]])
    assert len(result.all_slices()) == 1  # the other file still opens
    (error,) = result.errors
    assert error.path == tmp_path / "short.dcm"
    assert "has 2 items for 4 frames" in error.message


def test_enhanced_frame_types_are_separate_stacks(tmp_path: Path) -> None:
    frames = np.stack([phantom(8, 8, seed=i) for i in range(4)])
    ds = make_enhanced(
        frames,
        positions=[(0, 0, 0), (0, 0, 0), (0, 0, 5), (0, 0, 5)],
        slopes=[1] * 4,
        intercepts=[0] * 4,
        frame_types=["M", "PHASE", "M", "PHASE"],
    )
    refs = open_paths([write(ds, tmp_path / "e.dcm")]).all_slices()
    assert [(r.stack_key.split("\\")[0], r.frame) for r in refs] == [("M", 0), ("M", 2), ("PHASE", 1), ("PHASE", 3)]


@pytest.mark.parametrize(
    "name",
    [
        "SC_rgb_jpeg_dcmtk.dcm",
        "SC_rgb_rle.dcm",
        "SC_ybr_full_422_uncompressed.dcm",
        "SC_rgb_dcmtk_+eb+cy+s4.dcm",
        "SC_rgb_rle_16bit.dcm",
    ],
)
def test_colour_becomes_rgb(name: str) -> None:
    ref = only_slice(bundled(name))
    out = PixelStore().display(ref)
    assert out.shape == (100, 100, 3) and out.dtype == np.uint8
    # the SC_rgb test images are red/green/blue/grey/black/white bands
    assert out[5, 50, 0] > 200 and out[5, 50, 1] < 60 and out[5, 50, 2] < 60


def test_palette_colour() -> None:
    path = bundled("examples_palette.dcm")
    ds = pydicom.dcmread(path)
    from pydicom.pixels import apply_color_lut

    expected = apply_color_lut(ds.pixel_array, ds)
    out = PixelStore().display(only_slice(path))
    assert out.shape == (*ds.pixel_array.shape, 3)
    np.testing.assert_array_equal(out, np.rint(expected / 65535 * 255).astype(np.uint8))


@pytest.mark.parametrize(
    ("name", "reference"),
    [
        ("MR_small_RLE.dcm", "MR_small.dcm"),  # RLE lossless
        ("MR_small_jpeg_ls_lossless.dcm", "MR_small.dcm"),  # JPEG-LS lossless
        ("MR_small_jp2klossless.dcm", "MR_small.dcm"),  # JPEG 2000 lossless
        ("MR_small_bigendian.dcm", "MR_small.dcm"),  # explicit big endian
        ("MR_small_implicit.dcm", "MR_small.dcm"),
    ],
)
def test_lossless_syntaxes_decode_identically(name: str, reference: str) -> None:
    store = PixelStore()
    np.testing.assert_array_equal(
        store.modality(only_slice(bundled(name))), store.modality(only_slice(bundled(reference)))
    )


@pytest.mark.parametrize(
    "name",
    [
        "JPEG2000.dcm",
        "693_J2KI.dcm",
        "JPEGLSNearLossless_16.dcm",
        "SC_rgb_jpeg_gdcm.dcm",
        "image_dfl.dcm",
        "liver_1frame.dcm",
    ],
)
def test_other_syntaxes_match_pydicom(name: str) -> None:
    path = bundled(name)
    ds = pydicom.dcmread(path)
    store = PixelStore()
    ref = open_paths([path]).all_slices()[0]
    values = store.modality(ref)
    expected = ds.pixel_array if ds.get("NumberOfFrames", 1) in (None, 1) else ds.pixel_array[0]
    if values.ndim == 2:
        expected = apply_modality_lut(expected, ds)
    np.testing.assert_allclose(values, expected)
    assert store.model_rendering(ref).shape == values.shape[:2]


def test_rle_made_with_pydicom_encoder(tmp_path: Path) -> None:
    img = phantom(20, 20, high=4000)
    ds = make_dataset(img, bits_allocated=16)
    ds.compress(RLELossless)
    np.testing.assert_array_equal(PixelStore().modality(only_slice(write(ds, tmp_path / "rle.dcm"))), img)


def test_model_rendering_ignores_display_window(tmp_path: Path) -> None:
    ref = only_slice(write(make_dataset(phantom(16, 16, high=1000), bits_allocated=16), tmp_path / "a.dcm"))
    store = PixelStore()
    before = store.model_rendering(ref)
    store.display(ref, Window(10, 5))
    np.testing.assert_array_equal(store.model_rendering(ref), before)
    np.testing.assert_array_equal(before, render_for_model(phantom(16, 16, high=1000)))


def test_lazy_and_bounded_cache(tmp_path: Path) -> None:
    write_series(tmp_path, 40, rows=64, columns=64, bits_allocated=16, shuffle=False)
    series = open_paths([tmp_path]).all_series()[0]
    store = PixelStore(max_megabytes=1)
    store.display(series.slices[0])
    # first display decodes the slice and the representative slice for "Auto", nothing else
    assert store.cached_bytes == 2 * 64 * 64 * 4
    for ref in series.slices:
        store.modality(ref)
    assert store.cached_bytes <= 1024 * 1024
    with pytest.raises(ValueError):
        store.modality(series.slices[0])[0, 0] = 1  # cached arrays are read-only


def test_thread_safe_concurrent_access(tmp_path: Path) -> None:
    write_series(tmp_path, 12, rows=32, columns=32)
    refs = open_paths([tmp_path]).all_slices()
    store = PixelStore(max_megabytes=1)
    expected = {r.key: PixelStore().display(r) for r in refs}
    failures: list[str] = []

    def work(offset: int) -> None:
        for i in range(60):
            ref = refs[(i + offset) % len(refs)]
            if not np.array_equal(store.display(ref), expected[ref.key]):
                failures.append(ref.key)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []


def test_a_slice_wanted_by_two_threads_at_once_is_decoded_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The window and the inference worker share one store: the second asker waits for the first's decode."""
    import core.imaging.pixel_store as pixel_store

    path = write(make_dataset(phantom(16, 16)), tmp_path / "one.dcm")
    ref = open_paths([path]).all_slices()[0]
    store = PixelStore()
    real_decode, real_load = pixel_store.decode_frame, pixel_store.load_source
    decodes: list[int] = []
    loads: list[Path] = []
    second = threading.Event()

    def slow_decode(source, frame):  # the first decode lasts until a second one starts (or 2 s)
        decodes.append(frame)
        if len(decodes) == 1:
            second.wait(timeout=2.0)
        else:
            second.set()
        return real_decode(source, frame)

    def counted_load(where):
        loads.append(where)
        return real_load(where)

    monkeypatch.setattr(pixel_store, "decode_frame", slow_decode)
    monkeypatch.setattr(pixel_store, "load_source", counted_load)
    results: list[np.ndarray] = []
    threads = [threading.Thread(target=lambda: results.append(store.model_rendering(ref))) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 2 and np.array_equal(results[0], results[1])
    assert decodes == [0] and loads == [path]


def test_12bit_jpeg_extended_decodes_through_libjpeg_turbo() -> None:
    (ref,) = open_paths([bundled("JPGExtended.dcm")]).all_slices()
    values = PixelStore().modality(ref)
    assert values.shape == (ref.rows, ref.columns) and 0 <= values.min() < values.max() <= 4095


def test_12bit_jpeg_extended_refused_clearly_without_a_12bit_decoder(monkeypatch: pytest.MonkeyPatch) -> None:
    # without imagecodecs only pylibjpeg-libjpeg (GPL, deliberately not installed) could decode it
    monkeypatch.setattr("core.imaging.dicom_header.TWELVE_BIT_JPEG_PLUGINS", frozenset({"pylibjpeg"}))
    result = open_paths([bundled("JPGExtended.dcm")])
    assert result.all_slices() == []
    (error,) = result.errors
    assert error.error_type == "UnsupportedCompressionError"
    assert error.message == "compression 'JPEG Extended (Process 2 and 4)' with 12-bit samples is not supported"


@pytest.mark.filterwarnings("ignore:Expected explicit VR")
def test_file_whose_vr_mode_contradicts_its_transfer_syntax() -> None:
    # SC_rgb_jpeg.dcm says Explicit VR (JPEG Baseline) but its data set is Implicit VR
    ref = only_slice(bundled("SC_rgb_jpeg.dcm"))
    out = PixelStore().display(ref)
    assert out.shape == (256, 256, 3)


def test_bare_dataset_without_preamble_or_meta(tmp_path: Path) -> None:
    ds = make_dataset(phantom(8, 8, high=900), bits_allocated=16)
    del ds.file_meta
    ds.save_as(tmp_path / "bare", enforce_file_format=False, implicit_vr=True, little_endian=True)
    assert (tmp_path / "bare").read_bytes()[128:132] != b"DICM"
    ref = only_slice(tmp_path / "bare")
    np.testing.assert_array_equal(PixelStore().modality(ref), phantom(8, 8, high=900))


def test_500_frame_object_shows_first_slice_without_decoding_the_rest(tmp_path: Path) -> None:
    frames = np.stack([phantom(8, 8, seed=i % 7) for i in range(500)])
    ds = make_dataset(frames, bits_allocated=16)
    refs = open_paths([write(ds, tmp_path / "cine.dcm")]).all_slices()
    assert len(refs) == 500
    store = PixelStore()
    np.testing.assert_array_equal(store.modality(refs[0]), frames[0])
    store.display(refs[0])
    assert store.cached_bytes == 2 * 8 * 8 * 4  # the first frame and the series' middle frame (for "Auto")
    np.testing.assert_array_equal(store.modality(refs[499]), frames[499])


def test_auto_window_comes_from_the_middle_slice(tmp_path: Path) -> None:
    from core.imaging.display import auto_window

    uid = pydicom.uid.generate_uid()
    for z in range(5):
        scale = 10 if z == 0 else 1  # a very bright first slice must not drive the window
        write(
            make_dataset(
                phantom(16, 16, seed=z, high=300) * scale, bits_allocated=16, series_uid=uid, position=(0, 0, z)
            ),
            tmp_path / f"{z}.dcm",
        )
    series = open_paths([tmp_path]).all_series()[0]
    store = PixelStore()
    auto = store.default_window(series.slices[0])
    assert auto.name == "Auto"
    assert auto == auto_window(store.modality(series.slices[2]))
    assert auto != auto_window(store.modality(series.slices[0]))


@pytest.mark.parametrize("frames", [1, 3])
def test_odd_length_pixel_data_with_its_pad_byte_opens(tmp_path: Path, frames: int) -> None:
    """A 1x1 8-bit image has 1 byte of pixel data per frame, padded to even length on disk (PS3.5 7.1.1)."""
    pixels = (np.arange(1, frames + 1, dtype=np.uint8) * 60).reshape(frames, 1, 1)
    path = write(make_dataset(pixels if frames > 1 else pixels[0], bits_allocated=8), tmp_path / "tiny.dcm")
    assert len(pydicom.dcmread(path).PixelData) == frames + 1  # the pad byte is there
    result = open_paths([path])
    assert result.errors == []
    store = PixelStore()
    assert [float(store.modality(ref)[0, 0]) for ref in result.all_slices()] == [60.0 * (k + 1) for k in range(frames)]


def test_one_bit_mask_smaller_than_its_pad_byte_opens(tmp_path: Path) -> None:
    from pydicom.pixels import pack_bits

    mask = np.array([[1, 0, 1, 1], [0, 0, 1, 0]], dtype=np.uint8)
    ds = make_dataset(mask, bits_allocated=8)
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 1, 1, 0
    ds.PixelData = pack_bits(mask)  # one byte, written as two
    ref = only_slice(write(ds, tmp_path / "mask.dcm"))
    np.testing.assert_array_equal(PixelStore().modality(ref), mask)


@pytest.mark.parametrize("has_bot", [False, True])
def test_frames_without_compressed_data_say_so(tmp_path: Path, has_bot: bool) -> None:
    from dicom_factory import write_encapsulated
    from pydicom.encaps import generate_frames

    frames = np.stack([phantom(12, 12, seed=i, high=3000) for i in range(3)])
    ds = make_dataset(frames, bits_allocated=16)
    ds.compress(RLELossless)
    fragments = list(generate_frames(ds.PixelData, number_of_frames=3))
    path = write_encapsulated(ds, tmp_path / "short.dcm", RLELossless, fragments[:2], has_bot=has_bot)
    refs = open_paths([path]).all_slices()
    assert len(refs) == 3
    store = PixelStore()
    if has_bot:  # the offset table locates the frames that are there
        np.testing.assert_array_equal(store.modality(refs[1]), frames[1])
    with pytest.raises(InvalidImageError, match=r"compressed data cannot be found: .* fewer than its 3 frames"):
        store.modality(refs[2])


def test_frames_decode_from_the_header_read_at_opening(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """pixel_array(path, index) parses the whole header again for each frame (slow for a large
    multi-frame file); frames are decoded from the header the store already holds instead."""
    import pydicom.pixels.utils

    def reparse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the file's header was parsed again to decode a frame")

    frames = np.stack([phantom(10, 12, seed=i, high=3000) for i in range(3)])
    native = make_enhanced(frames, positions=[(0, 0, z) for z in range(3)], slopes=[1] * 3, intercepts=[0] * 3)
    rle = make_dataset(frames, bits_allocated=16)
    rle.compress(RLELossless)
    paths = [write(native, tmp_path / "native.dcm"), write(rle, tmp_path / "rle.dcm")]
    monkeypatch.setattr(pydicom.pixels.utils, "pixel_array", reparse)
    store = PixelStore()
    for path in paths:
        refs = sorted(open_paths([path]).all_slices(), key=lambda r: r.frame)
        for ref in refs:
            np.testing.assert_array_equal(store.modality(ref), frames[ref.frame])

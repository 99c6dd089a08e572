"""The one inference path: slice -> model rendering -> prediction (+ header rules) -> cache, on a hand-made model."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from dicom_factory import make_dataset, write
from handmade_models import handmade_config, handmade_model

import core.imaging.pixel_store as pixel_store
from core.imaging import PixelStore, SliceRef, open_paths
from core.model import classifier as classifier_module
from core.model import device as dev
from core.model.classifier import Classifier
from core.model.inference_path import ClassifiedSlice, InferencePath, SliceFailure
from core.model.result_cache import ResultCache

CT_REASON = "modality CT (CT), not MR"


def _head_off_centre(rows: int = 40, columns: int = 60) -> np.ndarray:
    """A dark frame with a bright, structured "head" in one corner: cropping to the head changes the input."""
    pixels = np.zeros((rows, columns), dtype=np.uint16)
    yy, xx = np.mgrid[0:15, 0:25]
    pixels[5:20, 30:55] = 400 + 20 * yy + 8 * xx
    return pixels


def _ref(tmp_path: Path, name: str = "mr.dcm", modality: str = "MR") -> SliceRef:
    path = write(make_dataset(_head_off_centre(), modality=modality), tmp_path / name)
    return open_paths([path]).all_slices()[0]


class _Counting:
    """The classifier, counting the slices that reach it."""

    def __init__(self, inner: Classifier) -> None:
        self.inner = inner
        self.slices = 0

    def __getattr__(self, name: str):
        return getattr(self.inner, name)

    def predict(self, rendered, **kwargs):
        self.slices += len(rendered)
        return self.inner.predict(rendered, **kwargs)


@pytest.fixture(scope="module")
def cropping() -> Classifier:
    """The hand-made model with weights whose config crops each slice to its head."""
    config = handmade_config()
    config = replace(config, preprocessing=replace(config.preprocessing, crop_to_head=True))
    return Classifier(handmade_model(), config, sha256="cd" * 32, precision=dev.FLOAT32)


def test_a_second_request_is_answered_from_the_cache(cropping: Classifier, tmp_path: Path) -> None:
    counting = _Counting(cropping)
    path = InferencePath(counting, PixelStore(), cache=ResultCache(8))
    ref = _ref(tmp_path)
    first = path.classify(ref, heatmap=True, method="gradcam")
    again = path.classify(ref, heatmap=True, method="gradcam")
    assert (first.from_cache, again.from_cache, counting.slices) == (False, True, 1)
    assert again.prediction is first.prediction
    other_map = path.classify(ref, heatmap="glioma", method="gradcam")  # another map: another result
    assert not other_map.from_cache and counting.slices == 2
    [plain] = path.classify_many([ref])
    assert isinstance(plain, ClassifiedSlice) and not plain.from_cache and counting.slices == 3
    [plain_again] = path.classify_many([ref])
    assert isinstance(plain_again, ClassifiedSlice) and plain_again.from_cache and counting.slices == 3
    assert plain_again.rendered is None  # answered without reading the slice


def test_the_model_input_is_what_the_network_saw(
    cropping: Classifier, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[np.ndarray] = []
    real = classifier_module.to_model_input

    def spy(rendered, config, size=None):
        batch = real(rendered, config, size)
        seen.append(batch)
        return batch

    monkeypatch.setattr(classifier_module, "to_model_input", spy)
    result = InferencePath(cropping, PixelStore()).classify(_ref(tmp_path), heatmap=False)
    assert result.model_input is not None and result.model_input.dtype == np.uint8
    prep = cropping.config.preprocessing
    network_saw = seen[0][0, ..., 0]
    np.testing.assert_allclose(result.model_input.astype(np.float32) * prep.scale + prep.offset, network_saw, atol=1e-6)
    assert result.rendered is not None and result.model_input.shape != result.rendered.shape  # cropped and resized


def test_the_header_rules_reason_is_attached(cropping: Classifier, tmp_path: Path) -> None:
    path = InferencePath(cropping, PixelStore(), cache=ResultCache(8))
    ct, mr = _ref(tmp_path, "ct.dcm", "CT"), _ref(tmp_path, "mr.dcm")
    assert path.classify(ct, heatmap=False).prediction.outside_reason == CT_REASON
    assert path.classify(ct, heatmap=False).prediction.outside_reason == CT_REASON  # the cached one too
    reasons = [o.prediction.outside_reason for o in path.classify_many([mr, ct]) if isinstance(o, ClassifiedSlice)]
    assert reasons == ["", CT_REASON]


def test_a_noise_only_slice_is_outside_and_a_head_inside(cropping: Classifier, tmp_path: Path) -> None:
    """The pixel rule runs on the model rendering, for every kind of slice (here DICOM MR and PNG)."""
    from PIL import Image

    rng = np.random.default_rng(3)
    noise = np.hypot(rng.normal(0, 300, (96, 96)), rng.normal(0, 300, (96, 96))).astype(np.uint16)
    head = np.zeros((96, 96), dtype=np.uint16)
    head[10:86, 20:76] = np.add.outer(np.arange(76) * 6, np.arange(56) * 4) + 300
    named = [("noise", noise), ("head", head)]
    paths = [write(make_dataset(pixels), tmp_path / f"{name}.dcm") for name, pixels in named]
    Image.fromarray((noise // 8).astype(np.uint8)).save(tmp_path / "noise.png")
    refs = open_paths([*paths, tmp_path / "noise.png"]).all_slices()
    by_name = {ref.path.name: ref for ref in refs}
    path = InferencePath(cropping, PixelStore())
    outcomes = path.classify_many([by_name["noise.dcm"], by_name["head.dcm"], by_name["noise.png"]])
    reasons = [o.prediction.outside_reason for o in outcomes if isinstance(o, ClassifiedSlice)]
    assert [r.startswith("noise only") for r in reasons] == [True, False, True]


def test_each_slice_is_read_once_through_the_one_store(
    cropping: Classifier, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pixels, the header rules and the model input of a slice come from one decode and one header parse."""
    decodes: list[int] = []
    headers: list[Path] = []
    real_decode, real_load = pixel_store.decode_frame, pixel_store.load_source
    monkeypatch.setattr(
        pixel_store, "decode_frame", lambda source, frame: decodes.append(frame) or real_decode(source, frame)
    )
    monkeypatch.setattr(pixel_store, "load_source", lambda where: headers.append(where) or real_load(where))
    store = PixelStore()
    ref = _ref(tmp_path, "ct.dcm", "CT")
    store.display(ref)  # the window shows the slice first
    path = InferencePath(cropping, store, cache=ResultCache(8))
    assert path.classify(ref, heatmap=True, method="gradcam").prediction.outside_reason == CT_REASON
    path.classify(ref, heatmap="glioma", method="gradcam")
    path.classify_many([ref])
    assert decodes == [0] and headers == [ref.path]


def test_an_unreadable_file_fails_alone_and_is_read_once(cropping: Classifier, tmp_path: Path) -> None:
    good = _ref(tmp_path, "good.dcm")
    gone = _ref(tmp_path, "gone.dcm")
    gone.path.unlink()
    second_frame = replace(gone, frame=1)
    outcomes = InferencePath(cropping, PixelStore()).classify_many([gone, good, second_frame])
    assert [type(o) for o in outcomes] == [SliceFailure, ClassifiedSlice, SliceFailure]
    assert isinstance(outcomes[0], SliceFailure) and isinstance(outcomes[2], SliceFailure)
    assert outcomes[2].error is outcomes[0].error and "no longer exists" in str(outcomes[0].error)

"""The classifier on hand-made and tiny VGG19 networks: Grad-CAM by hand, alignment, preprocessing."""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from handmade_models import (
    DENSE_KERNEL,
    POOL,
    SIZE,
    hand_features,
    hand_logits,
    handmade_config,
    handmade_model,
)

from core.model import device as dev
from core.model.classifier import Classifier, softmax
from core.model.model_config import ModelConfigError, Preprocessing, WeightsIntegrityError
from core.model.saliency import to_slice_geometry

REPO = Path(__file__).resolve().parents[2]


def _blob(shape: tuple[int, int], centre: tuple[int, int], radius: float = 4.0, value: int = 250) -> np.ndarray:
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]]
    img = np.full(shape, 20, dtype=np.uint8)
    img[(yy - centre[0]) ** 2 + (xx - centre[1]) ** 2 <= radius**2] = value
    return img


@pytest.fixture(scope="module")
def handmade() -> Classifier:
    return Classifier(handmade_model(), handmade_config(temperature=2.0), sha256="ab" * 32, precision=dev.FLOAT32)


@pytest.fixture(scope="module")
def tiny(tiny_weights_dir: Path) -> Classifier:
    return Classifier.from_folder(tiny_weights_dir, warm_up=False)


def test_importing_the_classifier_does_not_import_tensorflow() -> None:
    code = (
        "import sys, core.model.classifier, core.model.saliency, core.model.device, core.model.inference_graph\n"
        "import core.cli.classify\n"
        "core.cli.classify.build_parser()\n"
        "heavy = [m for m in ('tensorflow', 'keras') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True, timeout=120)


def test_probabilities_are_the_tempered_softmax_of_the_hand_logits(handmade: Classifier) -> None:
    square = _blob((SIZE, SIZE), (10, 20))
    (pred,) = handmade.predict([square])
    expected = softmax(hand_logits(square)[None], 2.0)[0]
    np.testing.assert_allclose(pred.probabilities, expected, atol=1e-5)
    assert pred.label == handmade.class_names[int(np.argmax(expected))]
    assert pred.p_tumor == pytest.approx(1.0 - pred.probability_of("notumor"))
    assert pred.model_sha256 == "ab" * 32 and pred.device == "CPU" and pred.precision == "float32"
    assert pred.milliseconds > 0 and pred.heatmap is None


@pytest.mark.parametrize("class_index", [0, 1, 3])
def test_gradcam_equals_the_hand_computed_map(handmade: Classifier, class_index: int) -> None:
    square = _blob((SIZE, SIZE), (9, 22), radius=5)
    batch = handmade.model_input([square])
    _, features, grads, chosen = handmade._graph.logits_and_gradients(batch, np.array([class_index]))
    a = hand_features(square)
    cells = a.shape[0] * a.shape[1]
    # d logit_c / d A_ijk = W[k, c] / (h * w) through global average pooling and the dense layer
    np.testing.assert_allclose(grads[0], np.broadcast_to(DENSE_KERNEL[:, class_index] / cells, a.shape), rtol=1e-5)
    np.testing.assert_allclose(features[0], a, atol=1e-6)
    hand_cam = np.maximum((a * (DENSE_KERNEL[:, class_index] / cells)).sum(axis=-1), 0.0)
    assert hand_cam.max() > 0
    (pred,) = handmade.predict([square], heatmap=handmade.class_names[class_index])
    assert pred.heatmap_class == handmade.class_names[class_index] and pred.heatmap_method == "gradcam"
    np.testing.assert_allclose(pred.heatmap, to_slice_geometry(hand_cam, (SIZE, SIZE)), atol=1e-5)
    assert int(chosen[0]) == class_index


def test_gradcam_plus_plus_equals_the_hand_computed_map(handmade: Classifier) -> None:
    square = _blob((SIZE, SIZE), (20, 8), radius=5)
    a = hand_features(square)
    cells = a.shape[0] * a.shape[1]
    g = DENSE_KERNEL[:, 0].astype(np.float64) / cells  # constant over the map
    denom = 2 * g**2 + a.sum(axis=(0, 1)) * g**3
    alpha = np.divide(g**2, denom, out=np.zeros_like(g), where=denom != 0)
    weights = cells * alpha * np.maximum(g, 0)
    hand_cam = np.maximum((a * weights).sum(axis=-1), 0.0)
    (pred,) = handmade.predict([square], heatmap="glioma", method="gradcam++")
    assert pred.heatmap_method == "gradcam++"
    np.testing.assert_allclose(pred.heatmap, to_slice_geometry(hand_cam, (SIZE, SIZE)), atol=1e-5)


@pytest.mark.parametrize(("shape", "centre"), [((30, 60), (8, 45)), ((64, 24), (50, 6)), ((40, 40), (30, 12))])
def test_heatmap_lines_up_with_a_bright_blob_after_pad_and_resize(
    handmade: Classifier, shape: tuple[int, int], centre: tuple[int, int]
) -> None:
    # For "glioma" the hand-made head weighs bright pixels positively and dark ones negatively, so
    # the map must peak on the blob of the original (non-square) slice and vanish far from it.
    img = _blob(shape, centre, radius=max(shape) / 10)  # covers at least one whole feature cell
    (pred,) = handmade.predict([img], heatmap="glioma")
    assert pred.heatmap is not None and pred.heatmap.shape == shape and pred.heatmap.dtype == np.float32
    row, col = np.unravel_index(np.argmax(pred.heatmap), shape)
    cell = max(shape) / SIZE * POOL  # one feature cell in slice pixels
    assert abs(row - centre[0]) <= cell / 2 + 1 and abs(col - centre[1]) <= cell / 2 + 1
    far = (0 if centre[0] > shape[0] // 2 else shape[0] - 1, 0 if centre[1] > shape[1] // 2 else shape[1] - 1)
    assert pred.heatmap[far] < 0.05


def test_heatmap_true_uses_the_predicted_class(handmade: Classifier) -> None:
    img = _blob((SIZE, SIZE), (16, 16))
    (pred,) = handmade.predict([img], heatmap=True)
    assert pred.heatmap_class == pred.label


def test_preprocessing_follows_the_config() -> None:
    img = _blob((SIZE, SIZE), (12, 12))
    base = handmade_config()
    for scale, offset in [(1 / 255, 0.0), (2 / 255, -1.0), (1 / 127.5, -0.5)]:
        config = replace(base, preprocessing=Preprocessing(scale=scale, offset=offset))
        clf = Classifier(handmade_model(), config, precision=dev.FLOAT32)
        x = clf.model_input([img])
        assert x.shape == (1, SIZE, SIZE, 1)
        np.testing.assert_allclose(x[0, ..., 0], img * scale + offset, rtol=1e-6, atol=1e-6)
        (pred,) = clf.predict([img])
        np.testing.assert_allclose(pred.probabilities, softmax(hand_logits(img, scale, offset)[None])[0], atol=1e-5)
    # input size and channels: a tall 20 x 10 slice is padded to 20 x 20 (5 zero columns each side)
    tall = np.full((20, 10), 200, dtype=np.uint8)
    arch = replace(base.architecture, input_size=16, channels=3)
    config = replace(base, architecture=arch, preprocessing=Preprocessing(scale=0.01, offset=-1.0))
    x = Classifier.model_input.__get__(_config_only(config))([tall])
    assert x.shape == (1, 16, 16, 3)
    np.testing.assert_array_equal(x[..., 0], x[..., 2])
    assert x[0, 8, 8, 0] == pytest.approx(200 * 0.01 - 1.0, abs=1e-5)
    assert x[0, 8, 0, 0] == pytest.approx(-1.0, abs=1e-5)


def _config_only(config: object) -> Classifier:
    clf = Classifier.__new__(Classifier)
    clf._config = config  # type: ignore[assignment]
    return clf


def test_same_input_same_output_and_thread_safety(tiny: Classifier) -> None:
    rng = np.random.default_rng(3)
    imgs = [rng.integers(0, 256, (24, 18), dtype=np.uint8) for _ in range(3)]
    first = tiny.predict(imgs, heatmap=True)
    again = tiny.predict(imgs, heatmap=True)
    for a, b in zip(first, again, strict=True):
        assert a.probabilities == b.probabilities
        assert a.heatmap is not None and b.heatmap is not None
        np.testing.assert_array_equal(a.heatmap, b.heatmap)
    results: list[list] = []
    threads = [threading.Thread(target=lambda: results.append(tiny.predict(imgs))) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 3
    assert all([p.probabilities for p in r] == [p.probabilities for p in first] for r in results)


def test_batches_and_order(tiny: Classifier) -> None:
    rng = np.random.default_rng(5)
    imgs = [rng.integers(0, 256, (16, 16), dtype=np.uint8) for _ in range(5)]
    batched = tiny.predict(imgs, batch_size=2)
    single = [tiny.predict([img])[0] for img in imgs]
    assert [p.extra["batch_size"] for p in batched] == [2, 2, 2, 2, 1]
    for a, b in zip(batched, single, strict=True):
        np.testing.assert_allclose(a.probabilities, b.probabilities, atol=1e-5)
    assert tiny.predict([]) == []


def test_bad_requests_are_value_errors(tiny: Classifier) -> None:
    ok = np.zeros((16, 16), dtype=np.uint8)
    with pytest.raises(ValueError, match="uint8"):
        tiny.predict([ok.astype(np.float32)])
    with pytest.raises(ValueError, match="uint8"):
        tiny.predict([np.zeros((4, 4, 3), dtype=np.uint8)])
    with pytest.raises(ValueError, match="unknown class"):
        tiny.predict([ok], heatmap="astrocytoma")
    with pytest.raises(ValueError, match="saliency method"):
        tiny.predict([ok], heatmap=True, method="lime")


def test_gpu_out_of_memory_falls_back_to_cpu(tiny_weights_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import tensorflow as tf

    clf = Classifier.from_folder(tiny_weights_dir, warm_up=False)
    clf._device = dev.GPU  # pretend a GPU was found
    real = clf._run_chunk
    seen: list[tuple[int, str]] = []

    def runner(chunk, device, target, method):  # type: ignore[no-untyped-def]
        seen.append((len(chunk), device))
        if device == dev.GPU:
            raise tf.errors.ResourceExhaustedError(None, None, "OOM when allocating tensor")
        return real(chunk, device, target, method)

    monkeypatch.setattr(clf, "_run_chunk", runner)
    preds = clf.predict([np.zeros((16, 16), dtype=np.uint8)] * 3, batch_size=2)
    assert seen == [(2, "GPU"), (1, "GPU"), (2, "CPU"), (1, "CPU")]
    assert all(p.device == "CPU" and p.extra["fell_back_to_cpu"] for p in preds)
    assert preds[0].extra["oom_retries"] == 1


def test_loading_the_classifier_keeps_numpy_blas_on_one_thread(tiny_weights_dir: Path) -> None:
    """Spinning BLAS threads would take the cores TensorFlow needs (see keep_numpy_blas_on_one_thread)."""
    from threadpoolctl import threadpool_info, threadpool_limits

    def blas_threads() -> set[int]:
        return {int(pool["num_threads"]) for pool in threadpool_info() if pool["user_api"] == "blas"}

    with threadpool_limits(limits=2, user_api="blas"):
        if blas_threads() != {2}:
            pytest.skip("numpy's BLAS cannot run two threads on this machine")
        Classifier.from_folder(tiny_weights_dir, warm_up=False)
        assert blas_threads() == {1}


def test_forced_bfloat16_agrees_with_float32(tiny_weights_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(dev.PRECISION_ENV, "bfloat16")
    bf16 = Classifier.from_folder(tiny_weights_dir, warm_up=False)
    monkeypatch.setenv(dev.PRECISION_ENV, "float32")
    f32 = Classifier.from_folder(tiny_weights_dir, warm_up=False)
    assert (bf16.precision, f32.precision) == ("bfloat16", "float32")
    assert "NEUROREVIEW_PRECISION" in bf16.precision_reason
    imgs = dev.probe_slices()
    a, b = bf16.predict(imgs, heatmap=True), f32.predict(imgs, heatmap=True)
    assert all(p.precision == "bfloat16" for p in a)
    np.testing.assert_allclose([p.probabilities for p in a], [p.probabilities for p in b], atol=0.02)


def test_bad_precision_setting_is_a_load_error(tiny_weights_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from core.model.classifier import ClassifierLoadError

    monkeypatch.setenv(dev.PRECISION_ENV, "half")
    with pytest.raises(ClassifierLoadError, match="NEUROREVIEW_PRECISION"):
        Classifier.from_folder(tiny_weights_dir, warm_up=False)


def test_automatic_precision_is_recorded(tiny: Classifier) -> None:
    assert tiny.precision in ("float32", "bfloat16") and tiny.precision_reason
    if not dev.cpu_supports_bfloat16():
        assert tiny.precision == "float32"


def test_flipped_byte_is_refused_before_loading(
    tiny_weights_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "weights"
    shutil.copytree(tiny_weights_dir, folder)
    weights = next(folder.glob("*.weights.h5"))
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0x01
    weights.write_bytes(bytes(data))

    def no_build(*args: object, **kwargs: object) -> None:
        raise AssertionError("the network must not be built for tampered weights")

    monkeypatch.setattr("core.model.network.build_vgg19", no_build)
    with pytest.raises(WeightsIntegrityError, match="integrity"):
        Classifier.from_folder(folder)
    weights.unlink()
    with pytest.raises(WeightsIntegrityError, match="not found"):
        Classifier.from_folder(folder)
    with pytest.raises(ModelConfigError):
        Classifier.from_folder(tmp_path / "nowhere")


def test_default_folder_comes_from_the_locator(tiny_weights_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEUROREVIEW_WEIGHTS_DIR", str(tiny_weights_dir))
    monkeypatch.setenv(dev.PRECISION_ENV, "float32")
    clf = Classifier.from_folder()
    assert clf.sha256 == clf.config.weights_sha256 and len(clf.sha256) == 64


@pytest.mark.parametrize(
    ("recorded", "times", "expected", "reason"),
    [
        (None, [1.0, 2.0], "bfloat16", "faster"),  # agrees on the probes and is faster
        (None, [2.0, 1.0], "float32", "not faster"),
        (0.98, [1.0, 2.0], "float32", "disagreed"),  # training recorded too many label changes
        (0.999, [1.0, 2.0], "bfloat16", "faster"),
    ],
)
def test_automatic_precision_wiring(
    tiny_weights_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    recorded: float | None,
    times: list[float],
    expected: str,
    reason: str,
) -> None:
    import core.model.classifier as classifier_module
    from core.model.model_config import load_model_config
    from core.model.network import build_vgg19

    monkeypatch.delenv(dev.PRECISION_ENV, raising=False)
    monkeypatch.setattr(dev, "cpu_supports_bfloat16", lambda: True)
    monkeypatch.setattr(dev, "probabilities_agree", lambda a, b: True)  # the probe check is tested above
    calls = iter(times)  # first timed: bfloat16, second: float32
    monkeypatch.setattr(classifier_module, "_best_time", lambda fn, batch: next(calls))
    config = load_model_config(tiny_weights_dir)
    if recorded is not None:
        config = replace(config, metrics={"bfloat16_label_agreement": recorded})
    clf = Classifier(build_vgg19(config.architecture), config, precision=None)
    assert clf.precision == expected and reason in clf.precision_reason
    (pred,) = clf.predict([np.zeros((16, 16), dtype=np.uint8)])
    assert pred.precision == expected


def test_occlusion_equals_the_hand_computed_map(handmade: Classifier) -> None:
    square = _blob((SIZE, SIZE), (10, 21), radius=5)
    probs = softmax(hand_logits(square)[None], 2.0)[0]
    cell = SIZE // 8
    expected = np.zeros((8, 8))
    for i in range(8):
        for j in range(8):
            occluded = square.copy()
            occluded[i * cell : (i + 1) * cell, j * cell : (j + 1) * cell] = 0  # black = input offset
            expected[i, j] = max(probs[0] - softmax(hand_logits(occluded)[None], 2.0)[0, 0], 0.0)
    assert expected.max() > 0
    (pred,) = handmade.predict([square], heatmap="glioma", method="occlusion")
    assert pred.heatmap_method == "occlusion" and pred.heatmap_class == "glioma"
    np.testing.assert_allclose(pred.heatmap, to_slice_geometry(expected, (SIZE, SIZE)), atol=1e-4)
    row, col = np.unravel_index(np.argmax(pred.heatmap), pred.heatmap.shape)
    assert abs(row - 10) <= cell and abs(col - 21) <= cell


def test_gradcam_on_a_tiny_vgg19_matches_the_head_weights() -> None:
    """On the real topology (GAP -> dropout -> dense head) Grad-CAM = ReLU(sum_k W[k, c] / (h w) A_k)."""
    import keras

    from core.model.model_config import ModelConfig
    from core.model.network import LAST_CONV_LAYER, LOGITS_LAYER, Architecture, build_vgg19

    arch = Architecture(input_size=64, channels=1, widths=(4, 4, 8, 8, 8), dropout=0.3)
    keras.utils.set_random_seed(11)
    model = build_vgg19(arch)
    clf = Classifier(model, ModelConfig(architecture=arch), sha256="0" * 64, precision=dev.FLOAT32)
    img = _blob((48, 64), (20, 40), radius=8)
    batch = clf.model_input([img])
    features = keras.Model(model.inputs[0], model.get_layer(LAST_CONV_LAYER).output)(batch).numpy()[0]
    kernel = model.get_layer(LOGITS_LAYER).get_weights()[0]
    assert features.shape == (4, 4, 8)
    for c in range(4):
        _, got_features, grads, _ = clf._graph.logits_and_gradients(batch, np.array([c], dtype=np.int32))
        np.testing.assert_allclose(got_features[0], features, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(grads[0], np.broadcast_to(kernel[:, c] / 16.0, features.shape), rtol=1e-5)
        hand = np.maximum((features * kernel[:, c] / 16.0).sum(axis=-1), 0.0)
        (pred,) = clf.predict([img], heatmap=clf.class_names[c])
        np.testing.assert_allclose(pred.heatmap, to_slice_geometry(hand, img.shape), atol=1e-5)

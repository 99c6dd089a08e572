"""Model and code integrity: weights load only when their SHA-256 matches and they are plain HDF5 weights.

Hostile weights folders - a flipped byte, a swapped file, a ``.keras`` archive or a whole ``.h5`` model
holding a Lambda layer (whose code would create a sentinel file if it ever ran), an HDF5 file with
an external link - are all refused through ``Classifier.from_folder`` with a message, even when the
attacker also rewrote the digest in ``model_config.json``.  The sentinel never appears.
"""

from __future__ import annotations

import shutil
import warnings
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import h5py
import numpy as np
import pytest

from core.model.model_config import ModelConfig, ModelConfigError, load_model_config, sha256_file
from core.model.network import Architecture

GROUP = "Model integrity"


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory, tiny_weights_dir: Path) -> Path:
    """The session's tiny weights folder plus, in ``other/``, a second genuine file (another seed)."""
    import keras

    from core.model.network import build_vgg19

    folder = tmp_path_factory.mktemp("pristine") / "weights"
    shutil.copytree(tiny_weights_dir, folder)
    config = load_model_config(folder)
    keras.utils.set_random_seed(1)
    (folder / "other").mkdir()
    build_vgg19(config.architecture).save_weights(folder / "other" / config.weights_file)
    return folder


def _copy(pristine: Path, target: Path) -> tuple[Path, ModelConfig]:
    shutil.copytree(pristine, target, ignore=shutil.ignore_patterns("other"))
    config = load_model_config(target)
    return target / config.weights_file, config


def _lambda_model(sentinel: Path, arch: Architecture | None):  # type: ignore[no-untyped-def]
    """A model whose Lambda layer writes ``sentinel`` whenever it is built or run."""
    import keras

    from core.model.network import build_vgg19

    def touch(x, path=str(sentinel)):  # type: ignore[no-untyped-def]
        open(path, "w").close()
        return x

    if arch is not None:
        base = build_vgg19(arch)
        outputs = keras.layers.Lambda(touch, name="payload")(base.output)
        return keras.Model(base.input, outputs)
    inputs = keras.Input((16, 16, 1))
    return keras.Model(inputs, keras.layers.Lambda(touch, name="payload")(inputs))


def _flip_byte(path: Path, config: ModelConfig, tmp: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def _swap(path: Path, config: ModelConfig, tmp: Path) -> None:
    shutil.copy(path.parent.parent / "pristine_other" / config.weights_file, path)


def _saved_model(suffix: str, with_vgg: bool) -> Callable[[Path, ModelConfig, Path], None]:
    def build(path: Path, config: ModelConfig, tmp: Path) -> None:
        sentinel = tmp / "SENTINEL"
        model = _lambda_model(sentinel, config.architecture if with_vgg else None)
        assert sentinel.exists(), "positive control: running the Lambda creates the sentinel"
        sentinel.unlink()
        saved = tmp / f"hostile{suffix}"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.save(saved)
        shutil.copy(saved, path)

    return build


def _external_link(path: Path, config: ModelConfig, tmp: Path) -> None:
    """Move one layer's weights to another file and leave an HDF5 external link in their place."""
    elsewhere = tmp / "elsewhere.h5"
    with h5py.File(path, "a") as h5, h5py.File(elsewhere, "w") as ext:
        names: list[str] = []
        h5.visititems(lambda name, obj: names.append(name) if isinstance(obj, h5py.Dataset) else None)
        moved = names[0]
        ext.create_dataset("payload", data=h5[moved][()])
        del h5[moved]
        h5[moved] = h5py.ExternalLink(str(elsewhere), "payload")


CASES: dict[str, Callable[[Path, ModelConfig, Path], None]] = {
    "flipped byte": _flip_byte,
    "swapped weights file": _swap,
    ".keras archive with a Lambda layer": _saved_model(".keras", with_vgg=False),
    ".keras archive: the real network plus a Lambda": _saved_model(".keras", with_vgg=True),
    ".h5 whole model with a Lambda layer": _saved_model(".h5", with_vgg=False),
    ".h5 whole model: the real network plus a Lambda": _saved_model(".h5", with_vgg=True),
    "HDF5 weights with an external link": _external_link,
}


STRUCTURAL = [case for case in CASES if case not in ("flipped byte", "swapped weights file")]
VARIANTS = [(case, "digest untouched") for case in CASES] + [(case, "digest rewritten too") for case in STRUCTURAL]


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize(("case", "digest"), VARIANTS)
def test_hostile_weights_are_refused(pristine: Path, tmp_path: Path, tally, case: str, digest: str) -> None:
    from core.model.classifier import Classifier, ClassifierLoadError
    from core.model.model_config import WeightsIntegrityError

    shutil.copytree(pristine / "other", tmp_path / "pristine_other")
    path, config = _copy(pristine, tmp_path / "weights")
    CASES[case](path, config, tmp_path)
    if digest == "digest rewritten too":
        replace(config, weights_sha256=sha256_file(path)).save(path.parent)
    try:
        Classifier.from_folder(path.parent, warm_up=False)
    except (WeightsIntegrityError, ClassifierLoadError, ModelConfigError) as exc:
        message = str(exc)
        refused = "refusing to load it" in message  # refused before Keras reads the file, with the reason
    else:
        message, refused = "loaded", False
    sentinel_absent = not (tmp_path / "SENTINEL").exists()
    assert tally.case(GROUP, refused and sentinel_absent), message


def test_weights_file_outside_the_folder_is_refused(pristine: Path, tmp_path: Path, tally) -> None:
    import json

    _copy(pristine, tmp_path / "weights")
    config_path = tmp_path / "weights" / "model_config.json"
    data = json.loads(config_path.read_text())
    data["weights_file"] = "../../etc/passwd"
    config_path.write_text(json.dumps(data))
    from core.model.classifier import Classifier

    with pytest.raises(ModelConfigError) as info:
        Classifier.from_folder(tmp_path / "weights", warm_up=False)
    assert tally.case(GROUP, "plain file name" in str(info.value)), str(info.value)


def test_pristine_weights_still_load(pristine: Path, tmp_path: Path) -> None:
    """Positive control: the untouched folder loads and classifies."""
    from core.model.classifier import Classifier

    path, _ = _copy(pristine, tmp_path / "weights")
    classifier = Classifier.from_folder(path.parent, warm_up=False)
    (prediction,) = classifier.predict([np.zeros((16, 16), dtype=np.uint8)])
    assert abs(sum(prediction.probabilities) - 1.0) < 1e-6

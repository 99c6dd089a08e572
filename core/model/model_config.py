"""The JSON config that travels with the weights: architecture, preprocessing, classes, integrity.

Nothing about preprocessing or class order is hard-coded elsewhere: the application, the CLI and
the training package all read it from here.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.model.network import Architecture

CONFIG_FILENAME = "model_config.json"
CONFIG_SCHEMA = "neuroreview.model-config/1"
DEFAULT_CLASS_NAMES = ("glioma", "meningioma", "notumor", "pituitary")
DEFAULT_SALIENCY_METHOD = "gradcam"
NO_TUMOR_CLASS = "notumor"
GUARD_FILENAME = "intended_use_guard.npz"  # the learned intended-use guard's statistics (core.model.ood_guard)


class ModelConfigError(ValueError):
    """The weights' JSON config is missing, unreadable or inconsistent."""


class WeightsIntegrityError(RuntimeError):
    """The weights file is missing or its SHA-256 does not match the config."""


@dataclass(frozen=True)
class Preprocessing:
    """How a model-rendered 8-bit slice becomes the network input.

    ``scale``/``offset``: input = uint8 * scale + offset; ``resize``: interpolation used to bring
    the slice to ``input_size`` (aspect ratio is kept by padding with zeros to a square first);
    ``crop_to_head``: the slice is first cut to its head's box (:func:`core.model.preprocess.head_box`).
    """

    scale: float = 1.0 / 127.5
    offset: float = -1.0
    resize: str = "bilinear"
    pad_to_square: bool = True
    crop_to_head: bool = False

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "scale": self.scale,
            "offset": self.offset,
            "resize": self.resize,
            "pad_to_square": self.pad_to_square,
        }
        if self.crop_to_head:  # absent in older weights' configs, which never crop
            data["crop_to_head"] = True
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Preprocessing:
        return cls(
            scale=float(data.get("scale", cls.scale)),
            offset=float(data.get("offset", cls.offset)),
            resize=str(data.get("resize", cls.resize)),
            pad_to_square=bool(data.get("pad_to_square", cls.pad_to_square)),
            crop_to_head=bool(data.get("crop_to_head", cls.crop_to_head)),
        )


MAX_STRIP_DEPTH = 0.3  # deeper than this, the stripped view would cut into the brain itself
MAX_PRIOR_SHIFT = 3.0  # log-odds; beyond this the shift would decide more than the model does


@dataclass(frozen=True)
class ModelConfig:
    """Everything needed to rebuild, verify and feed the classifier."""

    architecture: Architecture
    preprocessing: Preprocessing = field(default_factory=Preprocessing)
    class_names: tuple[str, ...] = DEFAULT_CLASS_NAMES
    temperature: float = 1.0
    weights_file: str = "neuroreview_vgg19.weights.h5"
    weights_sha256: str = ""
    model_name: str = "NeuroReview VGG19-BN"
    model_version: str = "0.0.0"
    test_time_flip: bool = False  # average the logits of each slice and its left-right mirror image
    # > 0: average the logits of each slice and of its view stripped to a brain outline this share of the
    # head's smaller side inside the head (core.imaging.brain_outline.stripped_view); 0: off
    test_time_strip: float = 0.0
    # log-odds added to the tumor classes against notumor after calibration (a prior correction chosen on
    # real validation volumes); 0: off.  See :func:`core.model.classifier.decision_logits`.
    tumor_prior_shift: float = 0.0
    metrics: dict[str, Any] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)
    saliency: dict[str, Any] = field(default_factory=dict)  # default_method and localisation figures
    guard_file: str = ""  # statistics of the learned intended-use guard beside the weights ("" = none)
    guard_sha256: str = ""

    @property
    def default_saliency_method(self) -> str:
        """The heatmap method the application uses unless told otherwise (chosen by the saliency benchmark)."""
        return str(self.saliency.get("default_method") or DEFAULT_SALIENCY_METHOD)

    def localisation_of(self, method: str) -> dict[str, Any] | None:
        """The saliency benchmark's figures for ``method`` (pointing game etc. per set), if recorded."""
        found = self.saliency.get("localisation", {}).get(method)
        return found if isinstance(found, dict) else None

    @property
    def input_size(self) -> int:
        return self.architecture.input_size

    @property
    def no_tumor_index(self) -> int:
        return class_position(self.class_names, NO_TUMOR_CLASS)

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": CONFIG_SCHEMA,
            "model_name": self.model_name,
            "model_version": self.model_version,
            "architecture": self.architecture.to_json(),
            "preprocessing": self.preprocessing.to_json(),
            "class_names": list(self.class_names),
            "temperature": self.temperature,
            "test_time_flip": self.test_time_flip,
            **({"test_time_strip": self.test_time_strip} if self.test_time_strip else {}),
            **({"tumor_prior_shift": self.tumor_prior_shift} if self.tumor_prior_shift else {}),
            "weights_file": self.weights_file,
            "weights_sha256": self.weights_sha256,
            "metrics": self.metrics,
            "provenance": self.provenance,
            **({"saliency": self.saliency} if self.saliency else {}),
            **({"guard": {"file": self.guard_file, "sha256": self.guard_sha256}} if self.guard_file else {}),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ModelConfig:
        try:
            if data.get("schema") != CONFIG_SCHEMA:
                raise ModelConfigError(f"unknown config schema {data.get('schema')!r}, expected {CONFIG_SCHEMA!r}")
            arch = Architecture.from_json(data["architecture"])
            names = tuple(str(n) for n in data["class_names"])
            if len(names) != arch.num_classes or len(set(names)) != len(names):
                raise ModelConfigError("class_names must list each of the model's classes exactly once")
            temperature = float(data.get("temperature", 1.0))
            if not temperature > 0:
                raise ModelConfigError("temperature must be positive")
            weights_file = str(data["weights_file"])
            if Path(weights_file).name != weights_file:
                raise ModelConfigError("weights_file must be a plain file name beside the config")
            guard = data.get("guard") or {}
            guard_file = str(guard.get("file", ""))
            if Path(guard_file).name != guard_file:
                raise ModelConfigError("guard.file must be a plain file name beside the config")
            return cls(
                architecture=arch,
                preprocessing=Preprocessing.from_json(data.get("preprocessing", {})),
                class_names=names,
                temperature=temperature,
                test_time_flip=_flag(data.get("test_time_flip", False), "test_time_flip"),
                test_time_strip=check_strip_depth(data.get("test_time_strip", 0.0)),
                tumor_prior_shift=check_prior_shift(data.get("tumor_prior_shift", 0.0)),
                weights_file=weights_file,
                weights_sha256=str(data.get("weights_sha256", "")).lower(),
                model_name=str(data.get("model_name", cls.model_name)),
                model_version=str(data.get("model_version", cls.model_version)),
                metrics=dict(data.get("metrics", {})),
                provenance=dict(data.get("provenance", {})),
                saliency=_saliency_section(data.get("saliency", {})),
                guard_file=guard_file,
                guard_sha256=str(guard.get("sha256", "")).lower(),
            )
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, ModelConfigError):
                raise
            raise ModelConfigError(f"invalid model config: {exc}") from exc

    def save(self, folder: Path) -> Path:
        path = Path(folder) / CONFIG_FILENAME
        path.write_text(json.dumps(self.to_json(), indent=2) + "\n", encoding="utf-8")
        return path


def class_position(class_names: Sequence[str], name: str) -> int:
    """Where ``name`` sits in the model's output order; -1 when the model has no such class."""
    return list(class_names).index(name) if name in class_names else -1


def _saliency_section(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ModelConfigError("saliency must be a JSON object")
    if not isinstance(value.get("default_method", ""), str):
        raise ModelConfigError("saliency.default_method must be a method name")
    if not isinstance(value.get("localisation", {}), dict):
        raise ModelConfigError("saliency.localisation must be a JSON object")
    return dict(value)


def _flag(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise ModelConfigError(f"{name} must be true or false, not {value!r}")
    return value


def check_strip_depth(value: Any) -> float:
    """A test-time strip depth as a float; :class:`ModelConfigError` outside [0, MAX_STRIP_DEPTH)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= value < MAX_STRIP_DEPTH:
        raise ModelConfigError(
            f"test_time_strip must be a share of the head from 0 to under {MAX_STRIP_DEPTH}, not {value!r}"
        )
    return float(value)


def check_prior_shift(value: Any) -> float:
    """A tumor prior shift as a float; :class:`ModelConfigError` outside [-MAX_PRIOR_SHIFT, MAX_PRIOR_SHIFT]."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not abs(value) <= MAX_PRIOR_SHIFT:
        raise ModelConfigError(
            f"tumor_prior_shift must be a log-odds from {-MAX_PRIOR_SHIFT:g} to {MAX_PRIOR_SHIFT:g}, not {value!r}"
        )
    return float(value)


def load_model_config(folder: Path) -> ModelConfig:
    """Read ``model_config.json`` from a weights folder."""
    path = Path(folder) / CONFIG_FILENAME
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ModelConfigError(f"model config not found: {path}") from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelConfigError(f"model config {path} is unreadable: {exc}") from exc
    if not isinstance(data, dict):
        raise ModelConfigError(f"model config {path} is not a JSON object")
    return ModelConfig.from_json(data)


def sha256_file(path: Path, chunk_size: int = 1 << 20) -> str:
    """Hex SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def verified_weights_path(folder: Path, config: ModelConfig) -> Path:
    """Return the weights path after checking that its SHA-256 matches the config.

    Raises WeightsIntegrityError for a missing file, a missing digest or a mismatch.
    """
    path = Path(folder) / config.weights_file
    if not path.is_file():
        raise WeightsIntegrityError(f"weights file not found: {path}")
    if len(config.weights_sha256) != 64:
        raise WeightsIntegrityError("the model config records no SHA-256 for the weights file")
    actual = sha256_file(path)
    if actual != config.weights_sha256:
        raise WeightsIntegrityError(
            f"weights file {path.name} failed its integrity check (SHA-256 {actual[:12]}... does not match "
            f"{config.weights_sha256[:12]}... recorded in {CONFIG_FILENAME}); refusing to load it"
        )
    return path


def verified_guard_path(folder: Path, config: ModelConfig) -> Path | None:
    """The guard statistics file the config names after checking its SHA-256; None when it names none.

    Raises WeightsIntegrityError when the named file is missing or is not the one the config records.
    """
    if not config.guard_file:
        return None
    path = Path(folder) / config.guard_file
    if not path.is_file():
        raise WeightsIntegrityError(f"intended-use guard file not found: {path}")
    actual = sha256_file(path)
    if len(config.guard_sha256) != 64 or actual != config.guard_sha256:
        raise WeightsIntegrityError(
            f"intended-use guard file {path.name} failed its integrity check (SHA-256 {actual[:12]}... does not "
            f"match the digest recorded in {CONFIG_FILENAME}); refusing to load it"
        )
    return path

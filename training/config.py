"""The full configuration of a training run, saved as ``run_config.json`` in the run folder."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from core.model.model_config import DEFAULT_CLASS_NAMES, Preprocessing
from core.model.network import VGG19_DEPTHS, VGG19_WIDTHS, Architecture
from training.augment import AugmentConfig
from training.realism import RealismConfig

RUN_CONFIG = "run_config.json"
RUN_RECORD_DIR = "training_run"  # an exported weights folder's copy of the run's configuration, log and split
DERIVED = ("global_batch_size", "peak_learning_rate")  # in run_config.json for the record only, not read back


@dataclass
class TrainConfig:
    data: str
    out: str
    class_names: list[str] = field(default_factory=lambda: list(DEFAULT_CLASS_NAMES))
    # progressive resizing: list of [input size, epochs]; the last size is the deployment size
    stages: list[list[int]] = field(default_factory=lambda: [[96, 12], [128, 6]])
    batch_size: int = 32  # per replica; the global batch is batch_size * replicas
    optimizer: str = "adamw"  # adamw | sgd
    learning_rate: float = 1e-3
    weight_decay: float = 0.02
    warmup_epochs: float = 1.0
    label_smoothing: float = 0.1
    class_weights: dict[str, float] = field(default_factory=dict)  # loss weight per class name; others weigh 1
    val_fraction: float = 0.15
    dedup_max_bits: int = 10
    seed: int = 20261123
    precision: str = "auto"  # auto | bfloat16 | float32
    channels: int = 1
    widths: list[int] = field(default_factory=lambda: list(VGG19_WIDTHS))
    depths: list[int] = field(default_factory=lambda: list(VGG19_DEPTHS))
    dropout: float = 0.3
    patience: int = 0  # epochs without validation improvement before stopping; 0 = never stop early
    init: str | None = None
    init_weights: str | None = None  # exported weights folder to continue from (SHA-256 verified)
    split: str | None = None  # an earlier run's split.json, reused so a lineage of runs keeps one validation set
    max_steps_per_epoch: int | None = None  # for smoke tests
    averaged_from: list[dict[str, Any]] = field(default_factory=list)  # a weight average's ingredients (no training)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    # realistic augmentation (training.realism) instead of ``augment``; None keeps the class-folder recipe
    realism: RealismConfig | None = None
    masked_data: str | None = None  # figshare-style folder of tumor slices with masks (training.masked_data)
    masked_min_similarity: float = 0.95  # head-thumbnail correlation that makes a masked slice a twin
    crop_to_head: bool = False  # every slice cut to its head's box, in training and in the application
    mask_loss_weight: float = 0.0  # weight of the loss keeping the class activation inside the tumor
    # weight of the loss asking the same answer with and without scalp and skull: every realistic sample is
    # followed in its batch by a copy stripped to a rough brain outline (0 = off, samples shown once)
    strip_consistency_weight: float = 0.0
    # tf.distribute strategy the run trains under (training.distribute): one | mirrored | multiworker
    strategy: str = "one"
    replicas: int = 1  # model copies training in step (GPUs over all workers; 1 per CPU-only worker)
    workers: int = 1  # processes (machines) of a multi-worker run

    @property
    def global_batch_size(self) -> int:
        """Samples per optimizer step, over all replicas."""
        return self.batch_size * self.replicas

    @property
    def peak_learning_rate(self) -> float:
        """``learning_rate`` (set for one replica) scaled for the number of replicas."""
        from training.distribute import scaled_learning_rate

        return scaled_learning_rate(self.learning_rate, self.replicas, self.optimizer)

    @property
    def realistic(self) -> bool:
        """Whether samples come from the NumPy pipeline of :mod:`training.mask_training`."""
        return self.realism is not None or bool(self.masked_data)

    @property
    def copies_per_sample(self) -> int:
        """Network inputs per drawn sample: 2 (the sample and its stripped copy) with the strip-consistency loss."""
        return 2 if self.strip_consistency_weight > 0 else 1

    @property
    def epochs(self) -> int:
        return sum(int(e) for _, e in self.stages)

    @property
    def deploy_size(self) -> int:
        return int(self.stages[-1][0])

    @property
    def cache_size(self) -> int:
        return max(int(s) for s, _ in self.stages)

    def size_for_epoch(self, epoch: int) -> int:
        """Training input size of 0-based ``epoch``."""
        done = 0
        for size, count in self.stages:
            done += int(count)
            if epoch < done:
                return int(size)
        return self.deploy_size

    def architecture(self) -> Architecture:
        return Architecture(
            input_size=self.deploy_size,
            channels=self.channels,
            widths=tuple(self.widths),
            depths=tuple(self.depths),
            dropout=self.dropout,
            num_classes=len(self.class_names),
        )

    def loss_weights(self) -> list[float]:
        """The training loss weight of each class, in class order (1 for classes not named)."""
        unknown = sorted(set(self.class_weights) - set(self.class_names))
        if unknown:
            raise ValueError(f"class weights name unknown classes {unknown}; the classes are {self.class_names}")
        weights = [float(self.class_weights.get(name, 1.0)) for name in self.class_names]
        if not all(w > 0 for w in weights):
            raise ValueError(f"class weights must be positive, got {self.class_weights}")
        return weights

    def preprocessing(self) -> Preprocessing:
        return Preprocessing(crop_to_head=self.crop_to_head)

    def to_json(self) -> dict[str, Any]:
        """The fields, plus the derived figures a reader of the run folder wants (not read back)."""
        return {**asdict(self), **{name: getattr(self, name) for name in DERIVED}}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TrainConfig:
        data = {key: value for key, value in data.items() if key not in DERIVED}
        data["augment"] = AugmentConfig(**data.get("augment", {}))
        if data.get("realism") is not None:
            data["realism"] = RealismConfig(**data["realism"])
        return cls(**data)

    def save(self, run_dir: Path) -> None:
        (run_dir / RUN_CONFIG).write_text(json.dumps(self.to_json(), indent=2) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, run_dir: Path) -> TrainConfig:
        return cls.from_json(json.loads((run_dir / RUN_CONFIG).read_text(encoding="utf-8")))

"""Training under tf.distribute strategies: strategy choice, TF_CONFIG, scaling, chief-only writes, and
(slow) two worker processes on 127.0.0.1 training one tiny model, losing a worker, resuming and exporting."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from training import trainer
from training.cli import main
from training.config import TrainConfig
from training.distribute import (
    Distribution,
    DistributionError,
    choose_strategy,
    parse_tf_config,
    scaled_learning_rate,
)

TINY = {"widths": [2, 2, 4, 4, 4], "stages": [[16, 1], [32, 1]], "batch_size": 8, "dropout": 0.0}
REPO = Path(__file__).resolve().parents[2]


def _tf_config(index: int, ports: list[int], chief: int | None = None) -> str:
    cluster: dict[str, list[str]] = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    if chief is not None:
        cluster["chief"] = [f"127.0.0.1:{chief}"]
    return json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})


# --- strategy choice and TF_CONFIG -------------------------------------------------------------------


def test_auto_is_one_device_then_mirrored_with_several_gpus_then_multiworker_with_a_cluster() -> None:
    assert choose_strategy("auto", None, gpus=0) == "one"
    assert choose_strategy("auto", "", gpus=1) == "one"
    assert choose_strategy("auto", None, gpus=2) == "mirrored"
    assert choose_strategy("auto", _tf_config(0, [1111, 2222]), gpus=4) == "multiworker"
    assert choose_strategy("auto", _tf_config(0, [1111]), gpus=0) == "one"  # a cluster of one is no cluster
    assert choose_strategy("auto", "{not json", gpus=0) == "multiworker"  # then refused with the reason
    for name in ("one", "mirrored", "multiworker"):
        assert choose_strategy(name, None, gpus=0) == name
    with pytest.raises(DistributionError, match="unknown strategy"):
        choose_strategy("parameter-server", None, gpus=0)


def test_tf_config_names_the_chief_and_the_workers() -> None:
    first = parse_tf_config(_tf_config(0, [20001, 20002]))
    assert first.is_chief and first.workers == 2 and first.address == "127.0.0.1:20001"
    assert not parse_tf_config(_tf_config(1, [20001, 20002])).is_chief
    with_chief = _tf_config(0, [20001], chief=20000)
    assert not parse_tf_config(with_chief).is_chief  # worker 0 is not the chief when there is one
    chief = json.loads(with_chief)
    chief["task"] = {"type": "chief", "index": 0}
    parsed = parse_tf_config(json.dumps(chief))
    assert parsed.is_chief and parsed.workers == 2


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (None, "needs TF_CONFIG"),
        ("  ", "needs TF_CONFIG"),
        ("{oops", "not valid JSON"),
        ('{"task": {"type": "worker", "index": 0}}', 'needs a "cluster"'),
        ('{"cluster": {"worker": ["a:1"], "ps": ["b:2"]}, "task": {"type": "worker", "index": 0}}', "not supported"),
        ('{"cluster": {"worker": []}, "task": {"type": "worker", "index": 0}}', "non-empty list"),
        ('{"cluster": {"worker": ["host"]}, "task": {"type": "worker", "index": 0}}', "HOST:PORT"),
        ('{"cluster": {"worker": ["host:99999"]}, "task": {"type": "worker", "index": 0}}', "HOST:PORT"),
        ('{"cluster": {"worker": ["a:1", "a:1"]}, "task": {"type": "worker", "index": 0}}', "share one"),
        ('{"cluster": {"worker": ["a:1", "b:1"]}}', 'needs "task"'),
        ('{"cluster": {"worker": ["a:1", "b:1"]}, "task": {"type": "worker", "index": 2}}', "outside 0..1"),
        ('{"cluster": {"worker": ["a:1", "b:1"]}, "task": {"type": "chief", "index": 0}}', "not in the cluster"),
    ],
)
def test_bad_tf_config_is_refused_with_the_reason(text: str | None, message: str) -> None:
    with pytest.raises(DistributionError, match=message):
        parse_tf_config(text)


def test_multiworker_without_tf_config_stops_before_writing(tiny_dataset: Path, tmp_path: Path, monkeypatch, capsys):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    out = tmp_path / "run"
    args = ["train", "--data", str(tiny_dataset), "--out", str(out), "--strategy", "multiworker"]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "error: --strategy multiworker needs TF_CONFIG" in err and "Traceback" not in err
    assert not out.exists()


def test_join_timeout_is_ten_minutes_unless_set() -> None:
    from training.distribute import join_timeout

    assert join_timeout({}) == 600.0
    assert join_timeout({"NEUROREVIEW_JOIN_TIMEOUT": "30"}) == 30.0
    for bad in ("soon", "0", "-5"):
        with pytest.raises(DistributionError, match="NEUROREVIEW_JOIN_TIMEOUT"):
            join_timeout({"NEUROREVIEW_JOIN_TIMEOUT": bad})


# --- batch and learning-rate scaling --------------------------------------------------------------------


def test_learning_rate_scales_with_the_square_root_for_adamw_and_linearly_for_sgd() -> None:
    assert scaled_learning_rate(1e-3, 1, "adamw") == pytest.approx(1e-3)
    assert scaled_learning_rate(1e-3, 4, "adamw") == pytest.approx(2e-3)
    assert scaled_learning_rate(0.1, 4, "sgd") == pytest.approx(0.4)
    with pytest.raises(ValueError):
        scaled_learning_rate(1e-3, 0, "adamw")


def test_batch_size_is_per_replica_and_the_config_records_the_global_figures(tmp_path: Path) -> None:
    cfg = TrainConfig(data="d", out="o", batch_size=8, learning_rate=1e-3, replicas=4, workers=2)  # type: ignore[arg-type]
    assert cfg.global_batch_size == 32 and cfg.peak_learning_rate == pytest.approx(2e-3)
    assert trainer.steps_per_epoch(cfg, 100) == 3  # 100 samples make 3 global batches of 32
    cfg.save(tmp_path)
    saved = json.loads((tmp_path / "run_config.json").read_text())
    assert saved["global_batch_size"] == 32 and saved["peak_learning_rate"] == pytest.approx(2e-3)
    assert TrainConfig.load(tmp_path) == cfg  # the derived figures are not read back as fields
    old = {k: v for k, v in saved.items() if k not in ("strategy", "replicas", "workers", "global_batch_size")}
    old.pop("peak_learning_rate")
    (tmp_path / "run_config.json").write_text(json.dumps(old))
    assert TrainConfig.load(tmp_path).replicas == 1  # runs from before strategies: one device


def test_workers_split_the_epoch_into_disjoint_shards_of_the_same_samples(tiny_dataset: Path, tmp_path: Path) -> None:
    cfg = TrainConfig(data=str(tiny_dataset), out=str(tmp_path / "run"), **TINY)  # type: ignore[arg-type]
    (tmp_path / "run").mkdir()
    prepared = trainer.prepare_data(cfg, tmp_path / "run", tmp_path / "cache")

    def images(ds) -> list[np.ndarray]:
        return [x for batch in ds.as_numpy_iterator() for x in batch[0]]

    whole = images(trainer.make_train_dataset(cfg, prepared, 0, batch=1))
    first = images(trainer.make_train_dataset(cfg, prepared, 0, shards=2, shard=0, batch=1))
    second = images(trainer.make_train_dataset(cfg, prepared, 0, shards=2, shard=1, batch=1))
    assert len(first) + len(second) == len(whole) == len(prepared.train_idx)
    for mine, theirs in ((first, whole[0::2]), (second, whole[1::2])):  # same images, same augmentation
        np.testing.assert_array_equal(np.stack(mine), np.stack(theirs))
    assert len(images(trainer.make_train_dataset(cfg, prepared, 0, shards=2, shard=1, batch=4, batches=2))) == 8


# --- what the workers must agree on ---------------------------------------------------------------------


class _TwoWorkers:
    """A stand-in for MultiWorkerMirroredStrategy: ``gather`` returns this worker's row and the other's."""

    def __init__(self, other_row: list[float], chief_first: bool = True) -> None:
        self.other_row, self.chief_first = other_row, chief_first

    def run(self, fn):
        return fn()

    def gather(self, value, axis: int):
        mine = np.asarray(value)[0].tolist()
        rows = [mine, self.other_row] if self.chief_first else [self.other_row, mine]
        return np.asarray(rows, dtype=np.float32)


def test_workers_that_disagree_on_the_data_are_refused() -> None:
    from training.distribute import check_workers_agree

    values = {"data": 1234, "resume epoch": 3, "split": 99}  # gathered in sorted order: data, resume epoch, split
    same = Distribution("multiworker", _TwoWorkers([1234.0, 3.0, 99.0]), replicas=2, workers=2)
    check_workers_agree(same, values)
    stale = Distribution("multiworker", _TwoWorkers([1234.0, 2.0, 99.0]), replicas=2, workers=2)
    with pytest.raises(DistributionError, match="disagree on resume epoch"):
        check_workers_agree(stale, values)


def test_every_worker_follows_the_chiefs_early_stopping_decision() -> None:
    from training.distribute import chief_decides

    chief = Distribution("multiworker", _TwoWorkers([1.0, 0.0]), replicas=2, workers=2, is_chief=True)
    assert chief_decides(chief, False) is False  # the other worker would stop; the chief does not
    worker = Distribution("multiworker", _TwoWorkers([0.0, 1.0], chief_first=False), 2, 2, 1, is_chief=False)
    assert chief_decides(worker, True) is False  # this worker would stop; the chief (the other row) does not
    assert chief_decides(Distribution("one"), True) is True


# --- run folder: what is written, by whom ---------------------------------------------------------------


def test_single_device_run_records_its_strategy(tiny_dataset: Path, tmp_path: Path) -> None:
    cfg = TrainConfig(data=str(tiny_dataset), out=str(tmp_path / "run"), **TINY)  # type: ignore[arg-type]
    run = trainer.start_run(cfg, tmp_path / "cache")
    saved = json.loads((run / "run_config.json").read_text())
    assert (saved["strategy"], saved["replicas"], saved["workers"], saved["global_batch_size"]) == ("one", 1, 1, 8)
    env = json.loads((run / "environment.json").read_text())["distribution"]
    assert env["strategy"] == "one" and env["peak_learning_rate"] == pytest.approx(cfg.learning_rate)
    assert env["learning_rate_scaling"] == "square root"


def test_a_worker_that_is_not_the_chief_writes_nothing_it_leaves_behind(
    tiny_dataset: Path, tmp_path: Path, monkeypatch
) -> None:
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr("tempfile.tempdir", str(scratch))
    seen: list[Path] = []
    real_train = trainer._train

    def spy(run_dir: Path, cache_dir, dist):
        seen.append(run_dir)
        assert (run_dir / "run_config.json").is_file()
        return real_train(run_dir, cache_dir, dist)

    monkeypatch.setattr(trainer, "_train", spy)
    out = tmp_path / "run"
    cfg = TrainConfig(data=str(tiny_dataset), out=str(out), **TINY)  # type: ignore[arg-type]
    worker = Distribution("multiworker", None, replicas=1, workers=1, worker_index=1, is_chief=False)
    assert trainer.start_run(cfg, tmp_path / "cache", worker) == out
    assert not out.exists()  # the chief's folder: untouched by a worker
    assert seen and seen[0].parent == scratch and not any(scratch.iterdir())  # its scratch copy: deleted


def test_resume_refuses_other_replicas_than_the_run_started_with(tiny_dataset: Path, tmp_path: Path) -> None:
    cfg = TrainConfig(data=str(tiny_dataset), out=str(tmp_path / "run"), replicas=2, **TINY)  # type: ignore[arg-type]
    (tmp_path / "run").mkdir()
    cfg.save(tmp_path / "run")
    with pytest.raises(DistributionError, match=r"trained by 2 replica\(s\) on 1 worker\(s\)"):
        trainer.run_training(tmp_path / "run", tmp_path / "cache", "one")
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["run_config.json"]


# --- two worker processes on 127.0.0.1 --------------------------------------------------------------------

WORKER = """
import os, sys
from training import checkpoint
die_after = int(os.environ.get("TEST_DIE_AFTER_EPOCH", "0"))
real = checkpoint.save_checkpoint
def save_then_die(run_dir, model, optimizer, state):
    real(run_dir, model, optimizer, state)
    if int(state["epoch"]) + 1 == die_after:
        os._exit(3)  # a worker lost without warning, right after an epoch
checkpoint.save_checkpoint = save_then_die
from training.cli import main
sys.exit(main(sys.argv[1:]))
"""


def _free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def _cluster(tmp_path: Path, args_of: list[list[str]], die_after: dict[int, int] | None = None) -> list[tuple]:
    """Run one process per worker with the same cluster; (return code, stderr, its temp folder) of each."""
    ports = _free_ports(len(args_of))
    procs = []
    for index, args in enumerate(args_of):
        temp = tmp_path / f"tmp{index}"
        temp.mkdir(exist_ok=True)
        env = {
            **os.environ,
            "TF_CONFIG": _tf_config(index, ports),
            "PYTHONPATH": str(REPO),
            "TMPDIR": str(temp),
            "CUDA_VISIBLE_DEVICES": "",
            "TF_CPP_MIN_LOG_LEVEL": "2",
            "TEST_DIE_AFTER_EPOCH": str((die_after or {}).get(index, 0)),
        }
        procs.append(
            (subprocess.Popen([sys.executable, "-c", WORKER, *args], env=env, stderr=subprocess.PIPE, text=True), temp)
        )
    results = []
    for proc, temp in procs:
        try:
            _, err = proc.communicate(timeout=240)
        except subprocess.TimeoutExpired:
            for other, _ in procs:
                other.kill()
            raise
        results.append((proc.returncode, err, temp))
    return results


@pytest.mark.slow
def test_a_worker_whose_peers_never_start_gives_up_with_the_reason(tiny_dataset: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    args = ["train", "--data", str(tiny_dataset), "--out", str(run), "--strategy", "multiworker"]
    env = {
        **os.environ,
        "TF_CONFIG": _tf_config(0, _free_ports(2)),  # worker 1 is never started
        "NEUROREVIEW_JOIN_TIMEOUT": "5",
        "PYTHONPATH": str(REPO),
        "CUDA_VISIBLE_DEVICES": "",
    }
    done = subprocess.run([sys.executable, "-c", WORKER, *args], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == -9  # ended by its watchdog: TensorFlow's wait cannot be interrupted
    assert "waiting until every worker has started (at most 5 s" in done.stderr
    assert "error: not every worker of TF_CONFIG started within 5 s" in done.stderr
    assert not run.exists()


@pytest.mark.slow
def test_two_workers_train_lose_a_worker_resume_and_export(tiny_dataset: Path, tmp_path: Path) -> None:
    from core.model.classifier import Classifier
    from core.model.model_config import load_model_config
    from training import checkpoint as ckpt

    data = tiny_dataset
    run = tmp_path / "run"  # both processes name the same folder, as on a shared disk
    common = ["--widths", "2,2,4,4,4", "--batch-size", "4", "--dropout", "0", "--precision", "float32"]
    train = ["train", "--data", str(data), "--out", str(run), "--epochs", "2", "--size", "16", *common]
    args = [[*train, "--cache-dir", str(tmp_path / f"cache{i}"), "--strategy", "multiworker"] for i in range(2)]

    (chief_rc, chief_err, _), (worker_rc, _, _) = _cluster(tmp_path, args, die_after={1: 1})
    assert worker_rc == 3
    assert chief_rc == 1, chief_err[-2000:]
    assert "error: a worker stopped or cannot be reached" in chief_err and "resume" in chief_err
    state = ckpt.load_state(run)
    assert state is not None and state["epoch"] == 0  # the checkpoint of epoch 1, written by the chief
    cfg = TrainConfig.load(run)
    assert (cfg.strategy, cfg.replicas, cfg.workers, cfg.global_batch_size) == ("multiworker", 2, 2, 8)
    left_by_the_lost_worker = set((tmp_path / "tmp1").iterdir())

    resume = [
        ["resume", str(run), "--cache-dir", str(tmp_path / f"cache{i}"), "--strategy", "multiworker"] for i in (0, 1)
    ]
    results = _cluster(tmp_path, resume)
    for rc, err, _ in results:
        assert rc == 0, err[-2000:]
    assert "resuming" in results[0][1]
    assert set((tmp_path / "tmp1").iterdir()) == left_by_the_lost_worker  # the resumed worker cleaned up
    rows = (run / trainer.LOG_FILE).read_text().splitlines()[1:]
    assert [row.split(",")[0] for row in rows] == ["1", "2"]

    assert main(["export", str(run), "--to", str(tmp_path / "weights"), "--cache-dir", str(tmp_path / "cache0")]) == 0
    exported = load_model_config(tmp_path / "weights")
    single = TrainConfig(data=str(data), out="x", widths=[2, 2, 4, 4, 4], stages=[[16, 2]], dropout=0.0)  # type: ignore[arg-type]
    assert exported.architecture == single.architecture()  # the same model as a single-device run
    classifier = Classifier.from_folder(tmp_path / "weights", warm_up=False)
    image = np.full((16, 16), 90, dtype=np.uint8)
    prediction = classifier.predict([image])[0]
    probabilities = np.asarray(prediction.probabilities)
    assert probabilities.shape == (4,) and probabilities.sum() == pytest.approx(1.0, abs=1e-5)


def test_model_card_states_the_batch_per_replica_and_the_global_batch() -> None:
    from training.model_card import _training_run

    train = {"batch_size": 32, "optimizer": "adamw", "learning_rate": 1e-3}
    assert "batch 32,\n" in _training_run(train, {})
    train["distribution"] = {"strategy": "multiworker", "replicas": 4, "workers": 2, "global_batch_size": 128,
                             "peak_learning_rate": 2e-3}  # fmt: skip
    text = _training_run(train, {})
    assert "batch 32 per replica x 4 replicas on 2 worker(s) (multiworker; global batch 128" in text
    assert "learning rate scaled to 0.002" in text


MIRRORED = """
import sys
from pathlib import Path
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from training.cli import train_config_from_args, build_parser
from training.distribute import Distribution
from training.trainer import start_run
args = build_parser().parse_args(sys.argv[1:])
two = Distribution("mirrored", tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]), replicas=2)
start_run(train_config_from_args(args), args.cache_dir, two)
"""


@pytest.mark.slow
def test_mirrored_replicas_train_the_realistic_pipeline_with_its_mask_loss(tiny_dataset: Path, tmp_path: Path) -> None:
    """Two replicas in one process (two logical CPU devices stand in for two GPUs)."""
    from core.model.network import build_vgg19
    from training import checkpoint as ckpt

    run = tmp_path / "run"
    args = ["train", "--data", str(tiny_dataset), "--out", str(run), "--epochs", "1", "--size", "16"]
    args += ["--widths", "2,2,4,4,4", "--batch-size", "4", "--realism", "--mask-loss", "0.5"]
    args += ["--cache-dir", str(tmp_path / "cache")]
    env = {**os.environ, "PYTHONPATH": str(REPO), "CUDA_VISIBLE_DEVICES": "", "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run([sys.executable, "-c", MIRRORED, *args], env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-2000:]
    cfg = TrainConfig.load(run)
    assert (cfg.strategy, cfg.replicas, cfg.global_batch_size) == ("mirrored", 2, 8)
    header, row = (run / trainer.LOG_FILE).read_text().splitlines()
    figures = dict(zip(header.split(","), row.split(","), strict=True))
    assert float(figures["train_loss"]) > 0 and figures["train_mask_loss"] != ""
    model = build_vgg19(cfg.architecture())
    model.load_weights(ckpt.last_weights_path(run))  # the deployed network, whatever trained it

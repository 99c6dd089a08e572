"""Which ``tf.distribute`` strategy trains a run, and what follows from it (replicas, chief, scaling).

``one`` is the plain single-device path (no strategy object at all, so it trains exactly as before);
``mirrored`` copies the model onto every visible GPU of this machine; ``multiworker`` joins the cluster
that ``TF_CONFIG`` describes (one process per machine, every process started with the same command).
Only the chief - task ``chief`` 0, else ``worker`` 0 - writes the run folder; the other workers keep
their files in a temporary folder they delete at the end.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from training.errors import TrainingError

STRATEGIES = ("auto", "one", "mirrored", "multiworker")
JOIN_TIMEOUT_VARIABLE = "NEUROREVIEW_JOIN_TIMEOUT"
DEFAULT_JOIN_TIMEOUT_S = 600.0
TF_CONFIG = "TF_CONFIG"
WORKER_ROLES = ("chief", "worker")


class DistributionError(TrainingError):
    """The requested strategy cannot run here (bad TF_CONFIG, no GPUs, a run started with other replicas)."""


class WorkerLostError(TrainingError):
    """A worker of a multi-worker run stopped or can no longer be reached."""


@dataclass(frozen=True)
class Cluster:
    """The part of ``TF_CONFIG`` this package uses: every task's ``host:port`` and this process's task."""

    tasks: dict[str, list[str]]
    task_type: str
    task_index: int

    @property
    def workers(self) -> int:
        return sum(len(addresses) for addresses in self.tasks.values())

    @property
    def is_chief(self) -> bool:
        if "chief" in self.tasks:
            return self.task_type == "chief"
        return self.task_type == "worker" and self.task_index == 0

    @property
    def address(self) -> str:
        return self.tasks[self.task_type][self.task_index]


def _check_address(role: str, address: Any) -> str:
    host, sep, port = str(address).rpartition(":")
    if not isinstance(address, str) or not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise DistributionError(f"{TF_CONFIG}: {role} address {address!r} is not HOST:PORT with a port 1-65535")
    return address


def parse_tf_config(text: str | None) -> Cluster:
    """Validate ``TF_CONFIG`` (JSON) for data-parallel training: chief/worker tasks only, a task of this
    process that exists in the cluster, distinct ``host:port`` addresses."""
    if not text or not text.strip():
        raise DistributionError(
            f"--strategy multiworker needs {TF_CONFIG} (the cluster's addresses and this machine's task); "
            "see docs/distributed_training.md"
        )
    try:
        config = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DistributionError(f"{TF_CONFIG} is not valid JSON: {exc}") from None
    if not isinstance(config, dict) or not isinstance(config.get("cluster"), dict):
        raise DistributionError(f'{TF_CONFIG} needs a "cluster" object, e.g. {{"worker": ["host1:12345", ...]}}')
    cluster = config["cluster"]
    other = sorted(set(cluster) - set(WORKER_ROLES))
    if other:
        raise DistributionError(f"{TF_CONFIG}: roles {other} are not supported (chief and worker only)")
    tasks: dict[str, list[str]] = {}
    for role in WORKER_ROLES:
        if role in cluster:
            addresses = cluster[role]
            if not isinstance(addresses, list) or not addresses:
                raise DistributionError(f'{TF_CONFIG}: cluster "{role}" must be a non-empty list of HOST:PORT')
            tasks[role] = [_check_address(role, a) for a in addresses]
    if "worker" not in tasks and "chief" not in tasks:
        raise DistributionError(f'{TF_CONFIG}: the cluster names no "worker" addresses')
    if len(tasks.get("chief", [])) > 1:
        raise DistributionError(f"{TF_CONFIG}: at most one chief")
    every = [a for addresses in tasks.values() for a in addresses]
    if len(set(every)) != len(every):
        raise DistributionError(f"{TF_CONFIG}: two tasks share one HOST:PORT")
    task = config.get("task")
    if not isinstance(task, dict) or "type" not in task or "index" not in task:
        raise DistributionError(f'{TF_CONFIG} needs "task": {{"type": "worker", "index": N}} for this machine')
    task_type, index = task["type"], task["index"]
    if task_type not in tasks:
        raise DistributionError(f"{TF_CONFIG}: task type {task_type!r} is not in the cluster ({sorted(tasks)})")
    if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < len(tasks[task_type]):
        raise DistributionError(
            f"{TF_CONFIG}: task index {index!r} is outside 0..{len(tasks[task_type]) - 1} of {task_type!r}"
        )
    return Cluster(tasks, task_type, index)


def names_a_cluster(text: str | None) -> bool:
    """Whether ``TF_CONFIG`` is set and lists more than one task (what makes ``auto`` go multi-worker)."""
    if not text or not text.strip():
        return False
    try:
        cluster = json.loads(text).get("cluster", {})
        return sum(len(v) for v in cluster.values() if isinstance(v, list)) > 1
    except (json.JSONDecodeError, AttributeError):
        return True  # set but unreadable: let ``multiworker`` say what is wrong with it


def choose_strategy(requested: str, tf_config: str | None, gpus: int) -> str:
    """``auto`` resolved: multiworker when TF_CONFIG names a cluster, mirrored with several GPUs, else one."""
    if requested not in STRATEGIES:
        raise DistributionError(f"unknown strategy {requested!r} (choose from {', '.join(STRATEGIES)})")
    if requested != "auto":
        return requested
    if names_a_cluster(tf_config):
        return "multiworker"
    return "mirrored" if gpus > 1 else "one"


def scaled_learning_rate(learning_rate: float, replicas: int, optimizer: str) -> float:
    """Peak learning rate for ``replicas`` times the per-replica batch: linear for SGD (Goyal et al. 2017),
    square root for AdamW (Malladi et al. 2022: Adam's noise scale calls for the square-root rule)."""
    if replicas < 1:
        raise ValueError(f"replicas must be at least 1, got {replicas}")
    factor = float(replicas) if optimizer == "sgd" else math.sqrt(replicas)
    return learning_rate * factor


@dataclass
class Distribution:
    """The strategy a process trains under, with the figures the run records."""

    name: str  # one | mirrored | multiworker
    strategy: Any = None  # tf.distribute.Strategy; None for ``one`` (Keras' default, single device)
    replicas: int = 1
    workers: int = 1
    worker_index: int = 0
    is_chief: bool = True

    def scope(self) -> Any:
        """Where model, optimizer and metrics must be built (a no-op for ``one``)."""
        return self.strategy.scope() if self.strategy is not None else contextlib.nullcontext()

    def describe(self) -> dict[str, Any]:
        return {"strategy": self.name, "replicas": self.replicas, "workers": self.workers}


def _visible_gpus() -> int:
    import tensorflow as tf

    return len(tf.config.list_physical_devices("GPU"))


def make_distribution(requested: str = "one", environ: dict[str, str] | None = None) -> Distribution:
    """Create the strategy; call before any other TensorFlow work (the multi-worker runtime must start first)."""
    environ = dict(os.environ) if environ is None else environ
    tf_config = environ.get(TF_CONFIG)
    cluster_named = requested == "multiworker" or (requested == "auto" and names_a_cluster(tf_config))
    gpus = 0 if requested == "one" or cluster_named else _visible_gpus()  # no TensorFlow before the cluster
    name = choose_strategy(requested, tf_config, gpus)
    if name == "one":
        return Distribution("one")
    import tensorflow as tf

    if name == "mirrored":
        if requested == "mirrored" and gpus < 2:
            print(f"--strategy mirrored: {gpus} GPU(s) visible, training on one replica", file=sys.stderr)
        strategy = tf.distribute.MirroredStrategy()
        return Distribution("mirrored", strategy, int(strategy.num_replicas_in_sync))
    cluster = parse_tf_config(tf_config)
    timeout = join_timeout(environ)
    role = "chief" if cluster.is_chief else "not the chief"
    print(
        f"multi-worker: {cluster.task_type} {cluster.task_index} ({role}, {cluster.address}) of {cluster.workers} "
        f"workers; waiting until every worker has started (at most {timeout:.0f} s; process {os.getpid()})",
        file=sys.stderr,
        flush=True,
    )
    strategy = _join(tf.distribute.MultiWorkerMirroredStrategy, timeout)
    print(f"multi-worker: {cluster.workers} workers joined, {strategy.num_replicas_in_sync} replicas", file=sys.stderr)
    return Distribution(
        "multiworker",
        strategy,
        int(strategy.num_replicas_in_sync),
        cluster.workers,
        _rank(cluster),
        cluster.is_chief,
    )


def join_timeout(environ: dict[str, str]) -> float:
    """Seconds a worker waits for the others to start (``NEUROREVIEW_JOIN_TIMEOUT``, default 10 minutes)."""
    text = environ.get(JOIN_TIMEOUT_VARIABLE, "")
    try:
        seconds = float(text) if text else DEFAULT_JOIN_TIMEOUT_S
    except ValueError:
        raise DistributionError(f"{JOIN_TIMEOUT_VARIABLE}={text!r} is not a number of seconds") from None
    if seconds <= 0:
        raise DistributionError(f"{JOIN_TIMEOUT_VARIABLE} must be positive, got {text}")
    return seconds


WATCHDOG = "import os, signal, sys, time; time.sleep(float(sys.argv[2])); sys.stderr.write(sys.argv[3]); \
os.kill(int(sys.argv[1]), getattr(signal, 'SIGKILL', signal.SIGTERM))"  # SIGTERM: TerminateProcess on Windows


def _join(create: Callable[[], Any], seconds: float) -> Any:
    """``create()``, or the process ended after ``seconds`` with the likely reasons (nothing is written yet).

    TensorFlow waits for every worker inside one call that holds the interpreter: neither Ctrl+C nor a
    Python timer can stop it, so a small watchdog process ends this one if the wait runs out.
    """
    message = (
        f"neuroreview-train: error: not every worker of {TF_CONFIG} started within {seconds:.0f} s; check that "
        "each machine runs the command with its own task index and that the ports are reachable\n"
    )
    watchdog = subprocess.Popen([sys.executable, "-c", WATCHDOG, str(os.getpid()), str(seconds), message])
    try:
        return create()
    finally:
        watchdog.kill()
        watchdog.wait()


def _rank(cluster: Cluster) -> int:
    """0 for the chief, then the workers in order (the chief counts first when the cluster has one)."""
    if cluster.task_type == "chief":
        return 0
    return cluster.task_index + (1 if "chief" in cluster.tasks else 0)


def distributed_epoch(
    dist: Distribution, make: Callable[[int, int, int, int], Any], global_batch: int, steps: int
) -> tuple[Any, Any]:
    """One epoch's dataset split over the replicas, and the element spec of one replica's batches.

    ``make(shards, shard, batch, batches)`` builds the input pipeline of one worker: shard ``shard`` of
    ``shards`` of the epoch's samples, in batches of ``batch`` (per replica), exactly ``batches`` of them -
    every worker must run the same number of steps, or the collectives of the longer one wait forever.
    """
    specs: list[Any] = []

    def per_pipeline(context: Any) -> Any:
        shards = int(context.num_input_pipelines)
        dataset = make(
            shards,
            int(context.input_pipeline_id),
            context.get_per_replica_batch_size(global_batch),
            steps * dist.replicas // shards,
        )
        specs.append(dataset.element_spec)
        return dataset

    dataset = dist.strategy.distribute_datasets_from_function(per_pipeline)
    return dataset, specs[0]


def check_workers_agree(dist: Distribution, values: dict[str, int]) -> None:
    """Refuse to train when the workers disagree on ``values`` (data, split, epoch): gathered from every
    replica, so each worker sees the same comparison and stops with the same message."""
    if dist.workers < 2:
        return
    import numpy as np
    import tensorflow as tf

    names = sorted(values)
    local = [float(values[n] % 2**24) for n in names]  # exact in float32
    with worker_failures():
        gathered = dist.strategy.gather(dist.strategy.run(lambda: tf.constant([local], tf.float32)), axis=0)
    table = np.asarray(gathered)
    differing = [n for i, n in enumerate(names) if not np.all(table[:, i] == table[0, i])]
    if differing:
        raise DistributionError(
            f"the workers disagree on {', '.join(differing)}: every worker needs the same data "
            "(and, to resume, a copy of the chief's run folder at the same path)"
        )


def chief_decides(dist: Distribution, decision: bool) -> bool:
    """The chief's ``decision``, on every worker (early stopping must not split the cluster, even if another
    worker's validation figures differ in the last digit)."""
    if dist.workers < 2:
        return decision
    import numpy as np
    import tensorflow as tf

    row = [float(decision), float(dist.is_chief)]
    with worker_failures():
        gathered = dist.strategy.gather(dist.strategy.run(lambda: tf.constant([row], tf.float32)), axis=0)
    table = np.asarray(gathered)
    return bool(table[table[:, 1] == 1.0][0, 0])


@contextlib.contextmanager
def worker_failures() -> Iterator[None]:
    """Turn a collective failing because a peer died into one clear message."""
    import tensorflow as tf

    try:
        yield
    except (tf.errors.UnavailableError, tf.errors.DeadlineExceededError, tf.errors.AbortedError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise WorkerLostError(
            f"a worker stopped or cannot be reached ({first[:160]}); start every worker again with "
            "`neuroreview-train resume RUN_DIR --strategy multiworker` to continue from the last checkpoint"
        ) from None

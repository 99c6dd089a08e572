"""The training epoch under ``mirrored`` and ``multiworker``: Keras' own ``train_step`` run on every replica.

Keras 3's ``Model.fit`` cannot train under ``MultiWorkerMirroredStrategy`` (it averages the first input
batch across workers to learn its shapes, and reduces scalar logs along an axis they do not have -
keras-team/keras#20585), so both multi-replica strategies use this loop: the same ``train_step``, losses,
metrics and optimizer as ``fit``, with the per-epoch figures read from the metrics after the last step
(summed over every replica, so every worker logs the same numbers).
"""

from __future__ import annotations

from typing import Any

from training.distribute import Distribution, worker_failures


class ReplicaTrainer:
    """Runs ``fit_model.train_step`` on every replica, one global batch per step."""

    def __init__(self, fit_model: Any, dist: Distribution) -> None:
        import tensorflow as tf

        self.model, self.dist = fit_model, dist

        @tf.function  # type: ignore[untyped-decorator]
        def step(iterator: Any) -> None:
            dist.strategy.run(fit_model.train_step, args=(next(iterator),))

        self._step = step
        self._built = False

    def _build(self, element_spec: Any) -> None:
        """Create the loss trackers, metrics and optimizer variables before the first step (inside a step they
        would be created on one replica), from a one-sample batch of zeros that is then forgotten."""
        import tensorflow as tf

        def zeros(spec: Any) -> Any:
            return tf.zeros([1, *spec.shape[1:]], spec.dtype)

        batch = tf.nest.map_structure(zeros, element_spec)
        x, y, weight = (*batch, None)[:3] if isinstance(batch, tuple) else (batch, None, None)
        with self.dist.scope():
            y_pred = self.model(x, training=False)
            self.model.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=weight)
            self.model.compute_metrics(x, y, y_pred, sample_weight=weight)
            if not self.model.optimizer.built:
                self.model.optimizer.build(self.model.trainable_variables)
        self._built = True

    def train_epoch(self, dataset: Any, element_spec: Any, steps: int, verbose: bool = True) -> dict[str, float]:
        """Train ``steps`` global batches of the distributed ``dataset`` (whose per-replica batches have
        ``element_spec``); the epoch's loss and metrics."""
        import keras

        if not self._built:
            self._build(element_spec)
        self.model.reset_metrics()
        progress = keras.utils.Progbar(steps, verbose=1 if verbose else 0)
        with worker_failures():
            iterator = iter(dataset)
            for done in range(1, steps + 1):
                self._step(iterator)
                progress.update(done)
            results = self.model.get_metrics_result()  # cross-replica read: summed over all replicas
        return {name: float(value) for name, value in results.items()}

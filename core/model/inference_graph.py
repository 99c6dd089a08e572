"""The compiled inference functions of one loaded network: logits, and logits + head gradients.

The network is split at its last convolution into a *body* (image -> feature maps ``A``) and a
*head* (global average pooling, dropout, dense -> logits).  The saliency pass runs the body once,
watches ``A`` on a gradient tape and runs the head, so the gradient of the chosen logit is taken
through the head only; the forward pass that gives the prediction is the same one that gives the
heatmap.  Both functions are ``tf.function`` graphs with a free batch dimension (no retracing).

TensorFlow and Keras are imported inside the functions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from core.model.network import LAST_CONV_LAYER, LOGITS_LAYER

if TYPE_CHECKING:  # pragma: no cover
    import keras

BFLOAT16_POLICY = "mixed_bfloat16"


def bfloat16_copy(model: keras.Model) -> keras.Model:
    """A copy of ``model`` computing in bfloat16 (float32 variables and logits), same weights."""
    import keras

    def reclone(layer: Any) -> Any:
        cfg = layer.get_config()
        if layer.name != LOGITS_LAYER:
            cfg["dtype"] = BFLOAT16_POLICY
        return layer.__class__.from_config(cfg)

    copy = keras.models.clone_model(model, clone_function=reclone)
    copy.set_weights(model.get_weights())
    return copy


class InferenceGraph:
    """Compiled forward functions for one Keras classifier built by :func:`core.model.network.build_vgg19`."""

    def __init__(self, model: keras.Model) -> None:
        import keras
        import tensorflow as tf

        names = [layer.name for layer in model.layers]
        if LAST_CONV_LAYER not in names or LOGITS_LAYER not in names:
            raise ValueError(f"the model has no {LAST_CONV_LAYER!r} / {LOGITS_LAYER!r} layer")
        split = names.index(LAST_CONV_LAYER)
        self.model = model
        self.body = keras.Model(model.inputs[0], model.get_layer(LAST_CONV_LAYER).output, name="features")
        self.head_layers = list(model.layers[split + 1 :])
        shape = tuple(model.inputs[0].shape[1:])
        spec = tf.TensorSpec((None, *shape), tf.float32)

        def head(features: Any) -> Any:
            x = features
            for layer in self.head_layers:
                x = layer(x, training=False)
            return tf.cast(x, tf.float32)

        @tf.function(input_signature=[spec], reduce_retracing=True)  # type: ignore[untyped-decorator]
        def logits_fn(x: Any) -> Any:
            return head(self.body(x, training=False))

        def saliency_function(mirrored: bool) -> Any:
            """Logits, features, d score / d features and class; ``mirrored``: the images then their mirror
            images go through the body and the score is the mean of each pair's logits."""

            @tf.function(  # type: ignore[untyped-decorator]
                input_signature=[spec, tf.TensorSpec((None,), tf.int32)], reduce_retracing=True
            )
            def saliency_fn(x: Any, target: Any) -> Any:
                n = tf.shape(x)[0]
                views = tf.concat([x, tf.reverse(x, axis=[2])], axis=0) if mirrored else x
                features = self.body(views, training=False)
                with tf.GradientTape(watch_accessed_variables=False) as tape:
                    tape.watch(features)
                    logits = head(features)
                    if mirrored:
                        logits = (logits[:n] + logits[n:]) / 2.0
                    chosen = tf.where(target < 0, tf.argmax(logits, axis=-1, output_type=tf.int32), target)
                    score = tf.gather(logits, chosen, batch_dims=1)
                grads = tape.gradient(score, features)
                return logits, tf.cast(features, tf.float32), tf.cast(grads, tf.float32), chosen

            return saliency_fn

        self._logits_fn = logits_fn
        self._saliency_fn = saliency_function(mirrored=False)
        self._mirrored_saliency_fn = saliency_function(mirrored=True)

    def logits(self, batch: NDArray[np.float32]) -> NDArray[np.float32]:
        """Logits (N, classes) for a preprocessed batch (N, S, S, C)."""
        return np.asarray(self._logits_fn(batch), dtype=np.float32)

    def logits_and_gradients(
        self, batch: NDArray[np.float32], target: NDArray[np.int32]
    ) -> tuple[NDArray[np.float32], NDArray[np.float32], NDArray[np.float32], NDArray[np.int32]]:
        """Logits, feature maps ``A`` (N, h, w, K), ``d logit_t / d A`` and the class ``t`` used.

        ``target[i] < 0`` means the predicted class of image ``i``.
        """
        return _saliency_arrays(self._saliency_fn(batch, np.asarray(target, dtype=np.int32)))

    def mirrored_logits_and_gradients(
        self, batch: NDArray[np.float32], target: NDArray[np.int32]
    ) -> tuple[NDArray[np.float32], NDArray[np.float32], NDArray[np.float32], NDArray[np.int32]]:
        """Test-time flip: as :meth:`logits_and_gradients` for the mean logits of each image and its
        left-right mirror image.  Features and gradients have 2N rows: the N images, then the N mirror
        images (whose maps are mirrored, too)."""
        return _saliency_arrays(self._mirrored_saliency_fn(batch, np.asarray(target, dtype=np.int32)))


def _saliency_arrays(
    outputs: Any,
) -> tuple[NDArray[np.float32], NDArray[np.float32], NDArray[np.float32], NDArray[np.int32]]:
    """The saliency functions' tensors (logits, features, gradients, chosen class) as numpy arrays."""
    logits, features, grads, chosen = outputs
    return (
        np.asarray(logits, dtype=np.float32),
        np.asarray(features, dtype=np.float32),
        np.asarray(grads, dtype=np.float32),
        np.asarray(chosen, dtype=np.int32),
    )

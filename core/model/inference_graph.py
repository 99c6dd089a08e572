"""The compiled inference functions of one loaded network: logits, and logits + head gradients.

The network is split at its last convolution into a *body* (image -> feature maps ``A``) and a
*head* (global average pooling, dropout, dense -> logits).  The saliency pass runs the network up
to its first *tap* (a block's last activation) once, watches it on a gradient tape and runs the rest,
so the gradient of the chosen logit is taken through the layers above the tap only; the forward pass
that gives the prediction is the same one that gives the heatmap.  All functions are
``tf.function`` graphs with a free batch dimension (no retracing); one saliency function is
compiled per set of taps, when first asked for.

TensorFlow and Keras are imported inside the functions.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from core.model.network import LAST_CONV_LAYER, LOGITS_LAYER
from core.model.saliency import IMAGE_VIEW, MIRROR_VIEW, View, view_shift_pixels

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

    def __init__(self, model: keras.Model, black: float = 0.0) -> None:
        """``black``: the network input of a black (0) pixel, which fills what a shifted view uncovers."""
        import keras
        import tensorflow as tf

        names = [layer.name for layer in model.layers]
        if LAST_CONV_LAYER not in names or LOGITS_LAYER not in names:
            raise ValueError(f"the model has no {LAST_CONV_LAYER!r} / {LOGITS_LAYER!r} layer")
        self.model = model
        self.black = float(black)
        self.body = keras.Model(model.inputs[0], model.get_layer(LAST_CONV_LAYER).output, name="features")
        self.block_outputs = block_output_names(names)
        self._names = names
        self._spec = tf.TensorSpec((None, *tuple(model.inputs[0].shape[1:])), tf.float32)
        self._bodies: dict[str, keras.Model] = {LAST_CONV_LAYER: self.body}
        self._saliency_fns: dict[tuple[tuple[str, ...], bool, tuple[View, ...]], Any] = {}

        @tf.function(input_signature=[self._spec], reduce_retracing=True)  # type: ignore[untyped-decorator]
        def logits_fn(x: Any) -> Any:
            return self._run(self.body(x, training=False), LAST_CONV_LAYER, None)

        @tf.function(input_signature=[self._spec], reduce_retracing=True)  # type: ignore[untyped-decorator]
        def pooled_fn(x: Any) -> Any:
            features = self.body(x, training=False)
            pooled = tf.cast(tf.reduce_mean(features, axis=[1, 2]), tf.float32)
            return self._run(features, LAST_CONV_LAYER, None), pooled

        self._logits_fn = logits_fn
        self._pooled_fn = pooled_fn

    def _run(self, x: Any, after: str, until: str | None) -> Any:
        """Apply the layers after ``after`` up to and including ``until`` (None: to the logits, as float32)."""
        import tensorflow as tf

        first = self._names.index(after) + 1
        last = self._names.index(until) + 1 if until is not None else len(self._names)
        for layer in self.model.layers[first:last]:
            x = layer(x, training=False)
        return x if until is not None else tf.cast(x, tf.float32)

    def taps_for(self, offsets: Sequence[int]) -> tuple[str, ...]:
        """Tap layer names for block offsets (-1 = last convolution); offsets beyond the first block are
        left out, and none left is a ValueError."""
        count = len(self.block_outputs)
        taps = tuple(self.block_outputs[o] for o in sorted(offsets) if -count <= o < 0)
        if not taps:
            raise ValueError(f"the model has {count} convolution block(s); this saliency method needs more")
        return taps

    def _saliency_function(self, taps: tuple[str, ...], mirrored: bool, views: tuple[View, ...] = ()) -> Any:
        """Logits, each tap's features and d score / d features, and class; ``mirrored``: the images then
        their mirror images go through the network and the score is the mean of each pair's logits.

        With ``views`` every view of the images goes through the network (view-major rows); the logits
        and the class are those of the first view (averaged with the unshifted mirror view when
        ``mirrored``), and each view's gradient is that of its own logit for that class.
        """
        key = (taps, mirrored, views)
        if key in self._saliency_fns:
            return self._saliency_fns[key]
        import keras
        import tensorflow as tf

        if taps[0] not in self._bodies:
            self._bodies[taps[0]] = keras.Model(self.model.inputs[0], self.model.get_layer(taps[0]).output)
        body = self._bodies[taps[0]]

        @tf.function(  # type: ignore[untyped-decorator]
            input_signature=[self._spec, tf.TensorSpec((None,), tf.int32)], reduce_retracing=True
        )
        def saliency_fn(x: Any, target: Any) -> Any:
            n = tf.shape(x)[0]
            if views:
                inputs = tf.concat([self._view(x, view) for view in views], axis=0)
            else:
                inputs = tf.concat([x, tf.reverse(x, axis=[2])], axis=0) if mirrored else x
            features = [body(inputs, training=False)]
            with tf.GradientTape(watch_accessed_variables=False) as tape:
                tape.watch(features[0])
                for before, tap in itertools.pairwise(taps):
                    features.append(self._run(features[-1], before, tap))
                every = self._run(features[-1], taps[-1], None)
                logits = every[:n]
                if views and mirrored:
                    mirror = views.index(MIRROR_VIEW)
                    logits = (logits + every[mirror * n : (mirror + 1) * n]) / 2.0
                elif mirrored:
                    logits = (logits + every[n:]) / 2.0
                chosen = tf.where(target < 0, tf.argmax(logits, axis=-1, output_type=tf.int32), target)
                if views:
                    score = tf.gather(every, tf.tile(chosen, [len(views)]), batch_dims=1)
                else:
                    score = tf.gather(logits, chosen, batch_dims=1)
            grads = tape.gradient(score, features)
            return (
                logits,
                [tf.cast(f, tf.float32) for f in features],
                [tf.cast(g, tf.float32) for g in grads],
                chosen,
            )

        self._saliency_fns[key] = saliency_fn
        return saliency_fn

    def _view(self, x: Any, view: View) -> Any:
        """One view of a preprocessed batch: shifted (uncovered pixels = the input of a black pixel),
        then mirrored."""
        import tensorflow as tf

        side = int(x.shape[1])
        down, right = (step * view_shift_pixels(side) for step in (view.down, view.right))
        if down or right:
            padded = tf.pad(
                x,
                [[0, 0], [max(down, 0), max(-down, 0)], [max(right, 0), max(-right, 0)], [0, 0]],
                constant_values=self.black,
            )
            x = padded[:, max(-down, 0) : max(-down, 0) + side, max(-right, 0) : max(-right, 0) + int(x.shape[2])]
        return tf.reverse(x, axis=[2]) if view.mirrored else x

    def logits(self, batch: NDArray[np.float32]) -> NDArray[np.float32]:
        """Logits (N, classes) for a preprocessed batch (N, S, S, C)."""
        return np.asarray(self._logits_fn(batch), dtype=np.float32)

    def logits_and_pooled(self, batch: NDArray[np.float32]) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
        """Logits (N, classes) and the globally average-pooled last feature maps (N, K), one forward pass."""
        logits, pooled = self._pooled_fn(batch)
        return np.asarray(logits, dtype=np.float32), np.asarray(pooled, dtype=np.float32)

    def tapped_gradients(
        self,
        batch: NDArray[np.float32],
        target: NDArray[np.int32],
        taps: Sequence[str],
        *,
        mirrored: bool = False,
        views: Sequence[View] = (),
    ) -> tuple[NDArray[np.float32], list[tuple[NDArray[np.float32], NDArray[np.float32]]], NDArray[np.int32]]:
        """Logits, ``(A, d logit_t / d A)`` of every tap (coarse last) and the class ``t`` used.

        ``target[i] < 0`` means the predicted class of image ``i``.  With ``mirrored`` (test-time flip)
        the logits are the mean of each image's and its mirror image's, and every tap has 2N rows: the
        N images, then the N mirror images.  With ``views`` (the first one the unshifted image; with
        ``mirrored`` also the unshifted mirror image) every tap has one block of N rows per view.
        """
        if views and (views[0] != IMAGE_VIEW or (mirrored and MIRROR_VIEW not in views)):
            raise ValueError("the first view must be the image itself, and test-time flip needs its mirror view")
        fn = self._saliency_function(tuple(taps), mirrored, tuple(views))
        logits, features, grads, chosen = fn(batch, np.asarray(target, dtype=np.int32))
        pairs = [
            (np.asarray(f, dtype=np.float32), np.asarray(g, dtype=np.float32))
            for f, g in zip(features, grads, strict=True)
        ]
        return np.asarray(logits, dtype=np.float32), pairs, np.asarray(chosen, dtype=np.int32)

    def logits_and_gradients(
        self, batch: NDArray[np.float32], target: NDArray[np.int32]
    ) -> tuple[NDArray[np.float32], NDArray[np.float32], NDArray[np.float32], NDArray[np.int32]]:
        """Logits, last-convolution feature maps ``A`` (N, h, w, K), ``d logit_t / d A`` and the class ``t``."""
        logits, ((features, grads),), chosen = self.tapped_gradients(batch, target, (LAST_CONV_LAYER,))
        return logits, features, grads, chosen

    def mirrored_logits_and_gradients(
        self, batch: NDArray[np.float32], target: NDArray[np.int32]
    ) -> tuple[NDArray[np.float32], NDArray[np.float32], NDArray[np.float32], NDArray[np.int32]]:
        """Test-time flip: as :meth:`logits_and_gradients` for the mean logits of each image and its
        left-right mirror image.  Features and gradients have 2N rows: the N images, then the N mirror
        images (whose maps are mirrored, too)."""
        logits, ((features, grads),), chosen = self.tapped_gradients(batch, target, (LAST_CONV_LAYER,), mirrored=True)
        return logits, features, grads, chosen


def block_output_names(layer_names: Sequence[str]) -> list[str]:
    """The last activation of every convolution block, in order; the last entry is the last convolution.

    Blocks are recognised by the ``block<b>_relu<k>`` names of :func:`core.model.network.build_vgg19`;
    a model without them (a hand-made test network) has one block, its last convolution.
    """
    import re

    last_conv = layer_names.index(LAST_CONV_LAYER)
    final_block = None
    for name in reversed(layer_names[:last_conv]):
        if (match := re.match(r"block(\d+)_", name)) is not None:
            final_block = int(match.group(1))
            break
    last_of: dict[int, str] = {}
    for name in layer_names[:last_conv]:
        if (match := re.fullmatch(r"block(\d+)_relu\d+", name)) is not None and int(match.group(1)) != final_block:
            last_of[int(match.group(1))] = name
    return [*(last_of[b] for b in sorted(last_of)), LAST_CONV_LAYER]

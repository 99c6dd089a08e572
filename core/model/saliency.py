"""Saliency maps from the last convolutional feature maps and the gradient of one class logit.

Both methods use only what the classifier computes in its single forward pass: the feature maps
``A`` (N, h, w, K) of the last convolution and ``G = d logit_c / d A`` (gradients through the head
only).

* Grad-CAM (Selvaraju et al., 2017): ``alpha_k = mean_ij G_ijk``; ``map = ReLU(sum_k alpha_k A_k)``.
* Grad-CAM++ (Chattopadhay et al., 2018), with the usual exponential-score closed form for the
  higher derivatives: ``a_ijk = G^2 / (2 G^2 + sum_ij A_k * G^3)``;
  ``w_k = sum_ij a_ijk ReLU(G_ijk)``; ``map = ReLU(sum_k w_k A_k)``.

Occlusion sensitivity (Zeiler & Fergus, 2014) is model-agnostic and costs extra forward passes: the
network input is cut into an ``OCCLUSION_GRID`` x ``OCCLUSION_GRID`` grid, each cell in turn is set to
black (the input value of a 0 pixel), and the map is the drop of the class probability,
``max(p - p_occluded, 0)``.

:func:`to_slice_geometry` maps a feature-resolution map back through the resize and the square
padding of :mod:`core.model.preprocess`, so it lines up pixel for pixel with the model-rendered slice.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from core.model.preprocess import square_pad_box

GRADCAM = "gradcam"
GRADCAM_PLUS_PLUS = "gradcam++"
OCCLUSION = "occlusion"
GRADIENT_METHODS: tuple[str, ...] = (GRADCAM, GRADCAM_PLUS_PLUS)
METHODS: tuple[str, ...] = (*GRADIENT_METHODS, OCCLUSION)
OCCLUSION_GRID = 8

FloatArray = NDArray[np.float32]


def _check(features: NDArray[np.floating], grads: NDArray[np.floating]) -> None:
    if features.ndim != 4 or features.shape != grads.shape:
        raise ValueError("features and gradients must both be (N, h, w, K) arrays of the same shape")


def gradcam(features: NDArray[np.floating], grads: NDArray[np.floating]) -> FloatArray:
    """Grad-CAM maps (N, h, w), not normalised."""
    _check(features, grads)
    weights = grads.astype(np.float64).mean(axis=(1, 2))  # (N, K)
    cam = np.einsum("nhwk,nk->nhw", features.astype(np.float64), weights)
    return np.maximum(cam, 0.0).astype(np.float32)


def gradcam_plus_plus(features: NDArray[np.floating], grads: NDArray[np.floating]) -> FloatArray:
    """Grad-CAM++ maps (N, h, w), not normalised."""
    _check(features, grads)
    a = features.astype(np.float64)
    g = grads.astype(np.float64)
    g2 = g * g
    g3 = g2 * g
    denom = 2.0 * g2 + a.sum(axis=(1, 2), keepdims=True) * g3
    alphas = np.divide(g2, denom, out=np.zeros_like(g2), where=denom != 0.0)
    weights = (alphas * np.maximum(g, 0.0)).sum(axis=(1, 2))  # (N, K)
    cam = np.einsum("nhwk,nk->nhw", a, weights)
    return np.maximum(cam, 0.0).astype(np.float32)


_METHOD_FUNCS: dict[str, Callable[[NDArray[np.floating], NDArray[np.floating]], FloatArray]] = {
    GRADCAM: gradcam,
    GRADCAM_PLUS_PLUS: gradcam_plus_plus,
}


def check_method(method: str) -> str:
    """Canonical method name; ValueError for an unknown one (``gradcampp`` is accepted)."""
    name = method.strip().lower().replace("_", "").replace("-", "")
    name = {"gradcam": GRADCAM, "gradcam++": GRADCAM_PLUS_PLUS, "gradcampp": GRADCAM_PLUS_PLUS}.get(name, name)
    if name not in METHODS:
        raise ValueError(f"unknown saliency method {method!r}; choose one of {', '.join(METHODS)}")
    return name


def saliency_maps(features: NDArray[np.floating], grads: NDArray[np.floating], method: str = GRADCAM) -> FloatArray:
    """Feature-resolution maps (N, h, w) for a gradient ``method`` (Grad-CAM or Grad-CAM++)."""
    name = check_method(method)
    if name not in _METHOD_FUNCS:
        raise ValueError(f"{name} is not computed from gradients; use occlusion_inputs / occlusion_map")
    return _METHOD_FUNCS[name](features, grads)


def occlusion_edges(size: int, grid: int = OCCLUSION_GRID) -> NDArray[np.intp]:
    """Cell boundaries (grid + 1 integers from 0 to ``size``) of the occlusion grid."""
    return np.rint(np.linspace(0, size, min(grid, size) + 1)).astype(np.intp)


def occlusion_inputs(image: NDArray[np.float32], fill: float, grid: int = OCCLUSION_GRID) -> NDArray[np.float32]:
    """All occluded copies (grid*grid, S, S, C) of one network input (S, S, C), row-major over cells."""
    edges = occlusion_edges(image.shape[0], grid)
    cells = len(edges) - 1
    out = np.repeat(image[np.newaxis], cells * cells, axis=0)
    for i in range(cells):
        for j in range(cells):
            out[i * cells + j, edges[i] : edges[i + 1], edges[j] : edges[j + 1], :] = fill
    return out


def occlusion_map(probability: float, occluded: NDArray[np.floating]) -> FloatArray:
    """Grid map (g, g) of ``max(p - p_occluded, 0)`` from the occluded copies' class probabilities."""
    cells = math.isqrt(occluded.size)
    drop = np.maximum(float(probability) - np.asarray(occluded, dtype=np.float64), 0.0)
    return drop.reshape(cells, cells).astype(np.float32)


def normalise(cam: NDArray[np.floating]) -> FloatArray:
    """Scale one map to 0..1 by its maximum (an all-zero map stays zero)."""
    top = float(np.max(cam, initial=0.0))
    if not top > 0.0 or not np.isfinite(top):
        return np.zeros(cam.shape, dtype=np.float32)
    return np.clip(np.asarray(cam, dtype=np.float32) / np.float32(top), 0.0, 1.0)


def to_slice_geometry(
    cam: NDArray[np.floating],
    slice_shape: tuple[int, int],
    pad_to_square: bool = True,
    box: tuple[int, int, int, int] | None = None,
) -> FloatArray:
    """Map a feature-resolution map (h, w) onto the model-rendered slice (H, W), normalised to 0..1.

    The network saw the slice padded to a centred square of side ``max(H, W)`` and resized; a
    feature cell covers an equal share of that square.  The map is therefore resized (bilinear,
    pixel-centre aligned) to the padded square and the slice's box is cut out of it.  Without
    padding the map is resized straight to (H, W), undoing the anisotropic resize.  When the network
    saw only ``box`` (top, bottom, left, right) of the slice, the map covers that box and is zero
    outside it.
    """
    if box is not None:
        top, bottom, left, right = box
        full = np.zeros(slice_shape, dtype=np.float32)
        full[top:bottom, left:right] = to_slice_geometry(cam, (bottom - top, right - left), pad_to_square)
        return full
    height, width = slice_shape
    img = Image.fromarray(np.ascontiguousarray(cam, dtype=np.float32))
    if pad_to_square:
        side, top, left = square_pad_box(height, width)
        full = np.asarray(img.resize((side, side), Image.Resampling.BILINEAR), dtype=np.float32)
        out = full[top : top + height, left : left + width]
    else:
        out = np.asarray(img.resize((width, height), Image.Resampling.BILINEAR), dtype=np.float32)
    return normalise(np.maximum(out, 0.0))

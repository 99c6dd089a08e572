"""Saliency maps from the last convolutional feature maps and the gradient of one class logit.

The gradient methods use only what the classifier computes in its single forward pass: the feature
maps ``A`` (N, h, w, K) of a convolution block's last activation (a *tap*) and ``G = d logit_c / d A``
(the gradient through the layers above it only).

* Grad-CAM (Selvaraju et al., 2017): ``alpha_k = mean_ij G_ijk``; ``map = ReLU(sum_k alpha_k A_k)``.
* Grad-CAM++ (Chattopadhay et al., 2018), with the usual exponential-score closed form for the
  higher derivatives: ``a_ijk = G^2 / (2 G^2 + sum_ij A_k * G^3)``;
  ``w_k = sum_ij a_ijk ReLU(G_ijk)``; ``map = ReLU(sum_k w_k A_k)``.
* Grad-CAM on the block before the last (``gradcam-block4``: block 4 of VGG19, twice the last
  block's resolution), for a finer map at the cost of back-propagating through the last block.
* Layer-CAM (Jiang et al., 2021): ``map = ReLU(sum_k ReLU(G_ijk) A_ijk)`` (position-wise weights),
  on the last two blocks, each normalised to 0..1, upsampled to the finer grid and averaged.
* Grad-CAM over two views (``gradcam-views``): the last block's 8 x 8 grid at 128 px places a map's
  maximum only to within a 16-pixel cell, coarser than the tolerance a reader (and the pointing game)
  allows.  The slice's mirror image, shifted diagonally by half a cell (:data:`VIEW_SHIFT` of the input
  side), goes through the network beside the slice, so its grid falls between the slice's cells; the two
  Grad-CAM maps, each scaled to 0..1, are brought back to the slice's frame at input resolution and
  averaged (:func:`merge_views`).  Twice the work of Grad-CAM, in one batch.

:data:`METHOD_TAPS` says which taps a method reads, as offsets from the last block (-1 = the last
convolution, -2 = the last activation of the block before it).

Occlusion sensitivity (Zeiler & Fergus, 2014) is model-agnostic and costs extra forward passes: the
network input is cut into an ``OCCLUSION_GRID`` x ``OCCLUSION_GRID`` grid, each cell in turn is set to
black (the input value of a 0 pixel), and the map is the drop of the class probability,
``max(p - p_occluded, 0)``.

:func:`to_slice_geometry` maps a feature-resolution map back through the resize and the square
padding of :mod:`core.model.preprocess`, so it lines up pixel for pixel with the model-rendered slice.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from core.model.preprocess import square_pad_box

GRADCAM = "gradcam"
GRADCAM_PLUS_PLUS = "gradcam++"
GRADCAM_BLOCK4 = "gradcam-block4"
LAYERCAM = "layercam"
GRADCAM_VIEWS = "gradcam-views"
OCCLUSION = "occlusion"
GRADIENT_METHODS: tuple[str, ...] = (GRADCAM, GRADCAM_PLUS_PLUS, GRADCAM_BLOCK4, LAYERCAM, GRADCAM_VIEWS)
METHOD_TAPS: dict[str, tuple[int, ...]] = {
    GRADCAM: (-1,),
    GRADCAM_PLUS_PLUS: (-1,),
    GRADCAM_BLOCK4: (-2,),
    LAYERCAM: (-2, -1),
    GRADCAM_VIEWS: (-1,),
}
METHOD_TITLES: dict[str, str] = {
    GRADCAM: "Grad-CAM",
    GRADCAM_PLUS_PLUS: "Grad-CAM++",
    GRADCAM_BLOCK4: "Grad-CAM (block 4)",
    LAYERCAM: "Layer-CAM",
    GRADCAM_VIEWS: "Grad-CAM (2 views)",
    OCCLUSION: "Occlusion",
}


class View(NamedTuple):
    """One view of the network input: shifted by (``down``, ``right``) x :data:`VIEW_SHIFT` of its side,
    then mirrored left-right when ``mirrored``."""

    down: int
    right: int
    mirrored: bool


IMAGE_VIEW = View(0, 0, False)  # every view set starts with it: its logits are the prediction
MIRROR_VIEW = View(0, 0, True)  # the view test-time flip averages the prediction with
VIEW_SHIFT = 1.0 / 16.0  # half a cell of the last block's grid: VGG19 pools the input 16-fold before it
# The first view is the slice itself: its features are the guard's.
METHOD_VIEWS: dict[str, tuple[View, ...]] = {
    GRADCAM_VIEWS: (IMAGE_VIEW, View(-1, -1, True)),
}
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


def layercam(features: NDArray[np.floating], grads: NDArray[np.floating]) -> FloatArray:
    """Layer-CAM maps (N, h, w) of one tap, not normalised."""
    _check(features, grads)
    cam = (features.astype(np.float64) * np.maximum(grads.astype(np.float64), 0.0)).sum(axis=3)
    return np.maximum(cam, 0.0).astype(np.float32)


_METHOD_FUNCS: dict[str, Callable[[NDArray[np.floating], NDArray[np.floating]], FloatArray]] = {
    GRADCAM: gradcam,
    GRADCAM_PLUS_PLUS: gradcam_plus_plus,
    GRADCAM_BLOCK4: gradcam,
    LAYERCAM: layercam,
    GRADCAM_VIEWS: gradcam,
}
_ALIASES = {
    "gradcam": GRADCAM,
    "gradcam++": GRADCAM_PLUS_PLUS,
    "gradcampp": GRADCAM_PLUS_PLUS,
    "gradcamblock4": GRADCAM_BLOCK4,
    "layercam": LAYERCAM,
    "gradcamviews": GRADCAM_VIEWS,
}


LOCALISATION_SETS: tuple[tuple[str, str], ...] = (
    ("figshare-val", "figshare T1-CE validation slices"),
    ("lgg-flair", "LGG FLAIR tumor slices"),
)


def localisation_summary(figures: dict[str, Any] | None) -> str:
    """One sentence on how often a method's map points at the tumor, from the weights config's figures
    (``saliency.localisation[method]``, written by ``neuroreview-train saliency-bench --record``)."""
    if not figures:
        return "Not measured against tumor masks for these weights."
    parts = []
    for key, title in LOCALISATION_SETS:
        one = figures.get(key)
        if isinstance(one, dict) and isinstance(one.get("pointing_game"), int | float):
            parts.append(f"{100 * float(one['pointing_game']):.0f} % of {title} (n={int(one.get('n', 0))})")
    if not parts:
        return "Not measured against tumor masks for these weights."
    return "Points at the tumor in " + "; ".join(parts) + " (validation)."


def check_method(method: str) -> str:
    """Canonical method name; ValueError for an unknown one (``gradcampp``, ``Layer-CAM`` are accepted)."""
    name = method.strip().lower().replace("_", "").replace("-", "").replace(" ", "")
    name = _ALIASES.get(name, name)
    if name not in METHODS:
        raise ValueError(f"unknown saliency method {method!r}; choose one of {', '.join(METHODS)}")
    return name


def saliency_maps(features: NDArray[np.floating], grads: NDArray[np.floating], method: str = GRADCAM) -> FloatArray:
    """Feature-resolution maps (N, h, w) of a gradient ``method`` on one tap (see :func:`tap_maps`)."""
    name = check_method(method)
    if name not in _METHOD_FUNCS:
        raise ValueError(f"{name} is not computed from gradients; use occlusion_inputs / occlusion_map")
    return _METHOD_FUNCS[name](features, grads)


def tap_maps(taps: Sequence[tuple[NDArray[np.floating], NDArray[np.floating]]], method: str) -> FloatArray:
    """Maps (N, h, w) of ``method`` from its taps' (features, gradients), coarse to fine.

    One tap: the method's raw map.  Several (Layer-CAM): each tap's map scaled to 0..1 per image,
    upsampled bilinearly to the finest tap's grid, then averaged.
    """
    if not taps:
        raise ValueError("no feature maps to compute a saliency map from")
    maps = [saliency_maps(features, grads, method) for features, grads in taps]
    if len(maps) == 1:
        return maps[0]
    height = max(m.shape[1] for m in maps)
    width = max(m.shape[2] for m in maps)
    fused = np.zeros((maps[0].shape[0], height, width), dtype=np.float32)
    for stack in maps:
        for i, one in enumerate(stack):
            fused[i] += _resize(normalise(one), height, width)
    out: FloatArray = (fused / np.float32(len(maps))).astype(np.float32)
    return out


def view_shift_pixels(side: int) -> int:
    """Pixels one :class:`View` step shifts a network input of ``side`` pixels (at least 1)."""
    return max(1, round(side * VIEW_SHIFT))


def shift_image(image: NDArray[np.floating], down: int, right: int, fill: float) -> NDArray[np.float32]:
    """``image`` (..., H, W) moved ``down`` rows and ``right`` columns; uncovered pixels take ``fill``."""
    out = np.full(image.shape, fill, dtype=np.float32)
    height, width = image.shape[-2:]
    if abs(down) >= height or abs(right) >= width:
        return out
    out[..., max(down, 0) : height + min(down, 0), max(right, 0) : width + min(right, 0)] = image[
        ..., max(-down, 0) : height + min(-down, 0), max(-right, 0) : width + min(-right, 0)
    ]
    return out


def merge_views(maps: NDArray[np.floating], views: Sequence[View], side: int) -> FloatArray:
    """One map (N, side, side) per image from the maps of its views (V * N, h, w; view-major rows).

    Each view's map is scaled to 0..1, resized to the input's ``side``, mirrored back and shifted back,
    so that it lines up with the unshifted image; the maps are then averaged.
    """
    count = len(views)
    if count == 0 or len(maps) % count:
        raise ValueError(f"{len(maps)} maps do not split into {count} views")
    n = len(maps) // count
    step = view_shift_pixels(side)
    merged = np.zeros((n, side, side), dtype=np.float32)
    for v, view in enumerate(views):
        for i in range(n):
            one = _resize(normalise(maps[v * n + i]), side, side)
            if view.mirrored:
                one = one[:, ::-1]
            merged[i] += shift_image(one, -view.down * step, -view.right * step, 0.0)
    out: FloatArray = merged / np.float32(count)
    return out


def _resize(cam: NDArray[np.floating], height: int, width: int) -> FloatArray:
    if cam.shape == (height, width):
        return np.asarray(cam, dtype=np.float32)
    img = Image.fromarray(np.ascontiguousarray(cam, dtype=np.float32))
    return np.asarray(img.resize((width, height), Image.Resampling.BILINEAR), dtype=np.float32)


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

"""Augmentation that simulates what real studies vary in, so the model cannot learn the dataset instead
of the disease.

The class-folder dataset's tumor slices are T1 post-contrast renderings, its no-tumor slices mostly T2 and
FLAIR: a model can score well on it by recognising the contrast.  Real studies vary in contrast,
intensity non-uniformity, noise, resolution, field of view and orientation.  Each draw here changes one
of those and keeps the tumor mask aligned with the image:

* a random intensity transfer curve (monotonic or not, background kept dark), so that the contrast of a
  slice says nothing about its class;
* a smooth multiplicative bias field, gamma, Rician-like noise, blur and a lower acquisition resolution;
* a left-right flip, rotation, zoom and shift (image and mask together);
* the slice skull-stripped: everything outside a rough brain outline (the head shrunk by the depth of
  scalp and skull) set to 0, as research archives and some pipelines store brain MR; the class folders
  show the skull on every slice;
* a tumor pasted into a tumor-free slice (glioma texture with a random contrast to its surroundings,
  soft edges): the slice then shows a glioma in a contrast the class folders never pair with one; some
  are drawn faint and homogeneous, as a non-enhancing lower-grade glioma looks (the class folders hold
  enhancing tumors only);
* a tumor removed from a masked slice (the region filled from its surroundings): the slice is then a
  tumor-free slice at a level - skull base, sella, vertex - where the class folders hold almost only
  tumors, so "this is the skull base" stops meaning "pituitary tumor".  Gliomas are kept whole by
  default: their masks leave out the oedema around them;
* a tumor-free copy of a slice whose tumor lies in one half of a left-right symmetric head: the healthy
  half mirrored over the other, oedema and mass effect included.  The class folders' post-contrast slices
  are all tumor slices, so without it the normal enhancement of vessels, dura and skull base is seen only
  beside a tumor.

Every draw comes from a NumPy generator seeded by (run seed, epoch, image index), so an epoch is the
same after a resume.  The output is rendered again by :func:`core.imaging.render.render_for_model`, as the
application renders any slice.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from core.imaging.brain_outline import (
    BLUR_REACH,
    gaussian_blur,
    head_mask,
    head_outline,
    masked_to,
    shrunk_outline,
    smaller_head_side,
)
from core.imaging.render import render_for_model

FloatImage = NDArray[np.float32]


@dataclass(frozen=True)
class RealismConfig:
    """Probabilities and ranges of each draw (0 turns a draw off)."""

    flip: float = 0.5
    rotate_degrees: float = 15.0
    zoom: float = 0.2  # scale in [1 - zoom, 1 + zoom]
    shift_fraction: float = 0.08
    contrast_curve: float = 0.7
    bias_field: float = 0.5
    bias_strength: float = 0.4
    gamma: float = 0.5
    gamma_range: float = 0.4
    low_resolution: float = 0.3
    low_resolution_max: float = 2.5
    blur: float = 0.2
    noise: float = 0.3
    noise_max: float = 0.06
    paste_tumor: float = 0.3  # share of tumor-free slices that receive a pasted glioma
    paste_faint: float = 0.0  # share of pasted gliomas drawn faint and homogeneous (non-enhancing look)
    # Largest contrast of a faint paste to the tissue around it: a non-enhancing glioma is barely darker on
    # T1 but often clearly brighter on FLAIR and T2.
    faint_contrast: float = 0.45
    # Share of the head's smaller side that a pasted glioma's centre keeps from the head's edge: gliomas grow
    # in the brain, while a bright lesion against the skull reads as meningioma.  0 places it anywhere.
    paste_depth: float = 0.0
    remove_tumor: float = 0.35  # share of masked tumor slices whose tumor is removed (then labelled no tumor)
    extra_removed: float = 0.0  # share of removable masked slices seen again per epoch, tumor removed (2.0: twice)
    # Removal chance of a glioma relative to the other classes.  A glioma's mask outlines its enhancing core
    # only: removing it leaves the oedema and mass effect in a slice then labelled no tumor, which teaches
    # the model that they are normal.  0 keeps every glioma whole.
    remove_glioma: float = 0.0
    # Share of slices of any class whose tumor-free tissue gets the tumor-removal fill over a random blob.
    # Only "no tumor" samples would otherwise carry the fill's smooth look, and the model could learn the
    # look instead of the anatomy.
    sham_fill: float = 0.0
    # Share of the mirrorable masked slices (tumor in one half of a symmetric head) seen a second time per
    # epoch as a tumor-free copy with the healthy half mirrored (labelled no tumor); over 1, some twice.
    extra_mirrored: float = 0.0
    # Margin grown around a mask before its tumor is removed, as a share of the image's side: outlines often
    # leave an enhancing rim or infiltrated edge outside, which would stay in a slice labelled no tumor.
    removal_margin: float = 0.0
    # Share of slices shown skull-stripped (see :func:`strip_skull`).
    skull_strip: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class TumorPatch:
    """A tumor cut out of a masked slice: intensities relative to its surroundings, and its mask."""

    relative: FloatImage  # (h, w): intensity minus the mean of the ring around the tumor, in 0..1 units
    mask: NDArray[np.bool_]


def cut_tumor(image: NDArray[np.uint8], mask: NDArray[np.bool_], margin: int = 2) -> TumorPatch | None:
    """The tumor of a masked slice as a patch, or None when the mask is empty or touches nothing."""
    if not mask.any():
        return None
    ys, xs = np.nonzero(mask)
    top, bottom = max(0, ys.min() - margin), min(mask.shape[0], ys.max() + margin + 1)
    left, right = max(0, xs.min() - margin), min(mask.shape[1], xs.max() + margin + 1)
    patch = image[top:bottom, left:right].astype(np.float32) / 255.0
    inside = mask[top:bottom, left:right]
    ring = ~inside
    if inside.sum() < 4 or not ring.any():
        return None
    return TumorPatch(patch - float(patch[ring].mean()), inside)


def _affine(image: FloatImage, matrix: tuple[float, ...], resample: Image.Resampling) -> FloatImage:
    size = image.shape[::-1]
    out = Image.fromarray(image).transform(size, Image.Transform.AFFINE, matrix, resample=resample, fillcolor=0.0)
    return np.asarray(out, dtype=np.float32)


def geometric(
    image: FloatImage, mask: FloatImage | None, rng: np.random.Generator, cfg: RealismConfig
) -> tuple[FloatImage, FloatImage | None]:
    """One random flip + rotation + zoom + shift about the centre, applied to image and mask alike."""
    if rng.random() < cfg.flip:
        image = image[:, ::-1]
        mask = mask[:, ::-1] if mask is not None else None
    angle = np.deg2rad(rng.uniform(-cfg.rotate_degrees, cfg.rotate_degrees))
    scale = rng.uniform(1.0 - cfg.zoom, 1.0 + cfg.zoom)
    height, width = image.shape
    shift = rng.uniform(-cfg.shift_fraction, cfg.shift_fraction, 2) * np.array([width, height])
    cos, sin = np.cos(angle) / scale, np.sin(angle) / scale
    cx, cy = (width - 1) / 2.0, (height - 1) / 2.0
    # PIL maps each output pixel (x, y) to the input pixel (a x + b y + c, d x + e y + f)
    matrix = (cos, -sin, cx - cos * cx + sin * cy + shift[0], sin, cos, cy - sin * cx - cos * cy + shift[1])
    image = _affine(np.ascontiguousarray(image), matrix, Image.Resampling.BILINEAR)
    if mask is not None:
        mask = _affine(np.ascontiguousarray(mask), matrix, Image.Resampling.BILINEAR)
    return image, mask


def contrast_curve(image: FloatImage, rng: np.random.Generator, points: int = 6) -> FloatImage:
    """A random piecewise-linear intensity curve through ``points`` knots; 0 stays 0 (dark background).

    Half the curves are monotonic (contrast changes, order kept), half are not (tissues swap order,
    as between T1, T2 and FLAIR).
    """
    knots = rng.uniform(0.0, 1.0, points - 1)
    if rng.random() < 0.5:
        knots.sort()
    ys = np.concatenate([[0.0], knots])
    xs = np.linspace(0.0, 1.0, points)
    return np.interp(image, xs, ys).astype(np.float32)


def bias_field(image: FloatImage, rng: np.random.Generator, strength: float) -> FloatImage:
    """Multiply by exp(a smooth second-order polynomial over the image), as coil sensitivity does."""
    height, width = image.shape
    y, x = np.meshgrid(np.linspace(-1, 1, height), np.linspace(-1, 1, width), indexing="ij")
    terms = np.stack([x, y, x * y, x * x, y * y])
    coefficients = rng.uniform(-strength, strength, len(terms))
    return (image * np.exp(np.tensordot(coefficients, terms, axes=1))).astype(np.float32)


def low_resolution(image: FloatImage, rng: np.random.Generator, max_factor: float) -> FloatImage:
    """Down-sample by a random factor (thicker, coarser acquisitions) and back up."""
    height, width = image.shape
    factor = rng.uniform(1.2, max_factor)
    small = (max(8, round(width / factor)), max(8, round(height / factor)))
    img = Image.fromarray(image).resize(small, Image.Resampling.BOX)
    return np.asarray(img.resize((width, height), Image.Resampling.BILINEAR), dtype=np.float32)


def blur(image: FloatImage, rng: np.random.Generator) -> FloatImage:
    return gaussian_blur(image, float(rng.uniform(0.4, 1.4)))


def rician_noise(image: FloatImage, rng: np.random.Generator, max_sigma: float) -> FloatImage:
    """Magnitude of the image plus complex Gaussian noise (MR magnitude images are Rician)."""
    sigma = rng.uniform(0.005, max_sigma) * float(np.percentile(image, 99) or 1.0)
    real = image + rng.normal(0.0, sigma, image.shape)
    imaginary = rng.normal(0.0, sigma, image.shape)
    return np.hypot(real, imaginary).astype(np.float32)


def strip_skull(image: FloatImage, rng: np.random.Generator, depth: tuple[float, float] = (0.06, 0.12)) -> FloatImage:
    """``image`` with everything outside a rough brain outline set to 0, as a skull-stripped series stores it.

    The outline (:func:`core.imaging.brain_outline.brain_outline`, at full size) is the head, filled along rows
    and columns, shrunk by a drawn share of its smaller side, about the depth of scalp and skull in an adult
    head.  It is not a brain segmentation: at the skull base it keeps some bone and fat, as automatic stripping
    often does.  A slice without a head is returned as is (and draws nothing).
    """
    found = head_outline(image)
    if found is None:
        return image
    return masked_to(image, shrunk_outline(*found, float(rng.uniform(*depth)), max_side=None))


def paste_tumor(
    image: FloatImage,
    patch: TumorPatch,
    rng: np.random.Generator,
    faint: bool = False,
    faint_contrast: float = 0.45,
    depth: float = 0.0,
) -> tuple[FloatImage, FloatImage] | None:
    """``image`` with ``patch`` pasted at a random place inside the head, and the pasted mask.

    The patch's size is drawn relative to the head; its contrast to the surroundings is drawn anew (30-100 %
    brighter or darker than the tissue around it, with the source's texture) and its edge is feathered.
    ``faint`` draws the look of a non-enhancing glioma instead: 10 % to ``faint_contrast`` darker (T1) or
    brighter (T2, FLAIR) than its surroundings, nearly homogeneous, with a blurred, ill-defined edge.
    ``depth`` keeps the patch's centre that share of the head's smaller side away from the head's edge.
    None when the head has no room for it.
    """
    head = head_mask(image)
    head_side = smaller_head_side(head)
    if head_side is None:
        return None
    side = max(patch.mask.shape)
    scale = rng.uniform(0.12, 0.35) * head_side / side
    h = max(3, round(patch.mask.shape[0] * scale))
    w = max(3, round(patch.mask.shape[1] * scale))
    relative = np.asarray(Image.fromarray(patch.relative).resize((w, h), Image.Resampling.BILINEAR), np.float32)
    resized = Image.fromarray(patch.mask.astype(np.float32)).resize((w, h), Image.Resampling.BILINEAR)
    edge = rng.uniform(0.12, 0.22) if faint else 0.08
    soft = gaussian_blur(np.asarray(resized, np.float32), max(0.5, edge * min(h, w)))
    if rng.random() < 0.5:
        relative, soft = relative[:, ::-1], soft[:, ::-1]
    inner = head.copy()
    inner[: h // 2 + 1, :] = False
    inner[-(h // 2 + 1) :, :] = False
    inner[:, : w // 2 + 1] = False
    inner[:, -(w // 2 + 1) :] = False
    if depth > 0:
        inner &= gaussian_blur(head.astype(np.float32), depth * head_side / BLUR_REACH) > 0.95
    candidates = np.argwhere(inner)
    if not len(candidates):
        return None
    for _ in range(8):  # the whole patch must lie inside the head
        cy, cx = candidates[rng.integers(len(candidates))]
        top, left = int(cy) - h // 2, int(cx) - w // 2
        if head[top : top + h, left : left + w][soft > 0.5].all():
            break
    else:
        return None
    region = image[top : top + h, left : left + w]
    level = float(region[soft < 0.2].mean()) if (soft < 0.2).any() else float(region.mean())
    if faint:
        contrast = (1.0 if rng.random() < 0.5 else -1.0) * rng.uniform(0.1, max(0.1, faint_contrast))
        texture = (relative - relative.mean()) * rng.uniform(0.0, 0.3)
    else:
        contrast = (1.0 if rng.random() < 0.65 else -1.0) * rng.uniform(0.3, 1.0)
        texture = (relative - relative.mean()) * rng.uniform(0.5, 2.0)
    tumor = np.clip(max(level, 0.1) * (1.0 + contrast + texture), 0.0, None)
    out = image.copy()
    out[top : top + h, left : left + w] = region * (1.0 - soft) + tumor * soft
    mask = np.zeros(image.shape, dtype=np.float32)
    mask[top : top + h, left : left + w] = soft
    return out, mask


def remove_tumor(
    image: FloatImage, mask: NDArray[np.bool_], rng: np.random.Generator, margin: float = 0.0
) -> FloatImage:
    """``image`` with the tumor (dilated slightly, and by ``margin`` of the image's side) filled by diffusion
    from its border, plus noise matching the texture around it: a tumor-free version of the slice."""
    reach = margin * max(image.shape) / BLUR_REACH  # the blur's sigma that grows the mask by the margin
    grown = gaussian_blur(mask.astype(np.float32), max(1.5, reach)) > 0.05
    ring = (gaussian_blur(grown.astype(np.float32), 2.0) > 0.05) & ~grown
    filled = image.copy()
    filled[grown] = float(image[ring].mean()) if ring.any() else float(image.mean())
    for _ in range(60):  # harmonic fill: the border's values diffuse inwards
        filled[grown] = gaussian_blur(filled, 1.0)[grown]
    fine_detail = image - gaussian_blur(image, 1.5)
    texture = 0.5 * float(fine_detail[ring].std()) if ring.any() else 0.0  # the ring holds the tumor's rim too
    noise = gaussian_blur(rng.normal(0.0, 1.0, image.shape).astype(np.float32), 1.0)
    filled[grown] += (noise[grown] / (float(noise.std()) or 1.0)) * texture
    return np.clip(filled, 0.0, None).astype(np.float32)


def sham_blob(image: FloatImage, avoid: NDArray[np.bool_] | None, rng: np.random.Generator) -> NDArray[np.bool_] | None:
    """A random tumor-sized ellipse (8-25 % of the head's side) inside the head and clear of ``avoid``
    (the tumor, with a margin); None when the head has no room for one."""
    head = head_mask(image)
    head_side = smaller_head_side(head)
    if head_side is None:
        return None
    keep_clear = ~head
    if avoid is not None and avoid.any():
        keep_clear |= gaussian_blur(avoid.astype(np.float32), 3.0) > 0.02
    yy, xx = np.mgrid[: image.shape[0], : image.shape[1]]
    inside = np.argwhere(head)
    for _ in range(8):
        a, b = rng.uniform(0.04, 0.125, size=2) * head_side
        angle = rng.uniform(0.0, np.pi)
        cy, cx = inside[rng.integers(len(inside))]
        dy, dx = yy - cy, xx - cx
        u = dx * np.cos(angle) + dy * np.sin(angle)
        v = -dx * np.sin(angle) + dy * np.cos(angle)
        blob = (u / a) ** 2 + (v / b) ** 2 <= 1.0
        if not (blob & keep_clear).any():
            return blob
    return None


MIN_SYMMETRY = 0.6  # correlation of a head with its mirror image; axial and coronal slices reach it
TUMOR_MARGIN = 0.06  # share of the head's width kept clear of the midline around the tumor


def mirror_about(image: NDArray[Any], twice_axis: int) -> NDArray[Any]:
    """``image`` mirrored about the column ``twice_axis / 2`` (columns mirrored outside the image are 0)."""
    width = image.shape[1]
    source = twice_axis - np.arange(width)
    inside = (source >= 0) & (source < width)
    out = np.zeros_like(image)
    out[:, inside] = image[:, source[inside]]
    return out


def healthy_mirror(image: FloatImage, mask: NDArray[np.bool_]) -> FloatImage | None:
    """The slice with its tumor-free half mirrored over the half that holds the tumor; None unless the head is
    left-right symmetric (an axial or coronal slice) and the tumor, with a margin, keeps clear of its midline.

    The midline is the mirror axis (in half-pixel steps around the head's centre) under which the head,
    tumor left out, best matches its mirror image.
    """
    head = head_mask(image)
    cols = np.flatnonzero(head.any(axis=0))
    if len(cols) < 16 or not mask.any():
        return None
    half_width = (cols[-1] - cols[0]) / 2.0
    grown = gaussian_blur(mask.astype(np.float32), max(1.0, TUMOR_MARGIN * half_width)) > 0.02
    centre = int(cols[0] + cols[-1])  # twice the centre column
    reach = max(1, round(0.1 * half_width))
    best, best_axis, best_mirrored = -1.0, centre, image
    for twice_axis in range(centre - reach, centre + reach + 1):
        mirrored = mirror_about(image, twice_axis)
        keep = (head | (mirrored > 0)) & ~grown & ~mirror_about(grown, twice_axis)
        if keep.sum() < 64:
            continue
        score = float(np.corrcoef(image[keep], mirrored[keep])[0, 1])
        if score > best:
            best, best_axis, best_mirrored = score, twice_axis, mirrored
    tumor_cols = np.flatnonzero(grown.any(axis=0))
    axis = best_axis / 2.0
    if best < MIN_SYMMETRY or not (tumor_cols[-1] < axis or tumor_cols[0] > axis):
        return None
    out = image.copy()
    tumor_side = np.arange(image.shape[1]) > axis if tumor_cols[0] > axis else np.arange(image.shape[1]) < axis
    out[:, tumor_side] = best_mirrored[:, tumor_side]
    return out


def augment(
    image: NDArray[np.uint8],
    mask: NDArray[np.bool_] | None,
    rng: np.random.Generator,
    cfg: RealismConfig,
    patch: TumorPatch | None = None,
    remove: bool = False,
) -> tuple[NDArray[np.uint8], NDArray[np.float32] | None]:
    """One augmented, re-rendered slice and its mask (0..1; None when the slice has no mask).

    ``patch`` (only for tumor-free slices) is pasted in; the caller then labels the slice glioma.
    ``remove`` (only for masked slices) removes the tumor: the mask returned is None and the caller labels
    the slice no tumor.
    """
    x = image.astype(np.float32) / 255.0
    m = mask.astype(np.float32) if mask is not None else None
    if remove and mask is not None and mask.any():
        x, m = remove_tumor(x, mask, rng, cfg.removal_margin), None
    if cfg.sham_fill > 0 and rng.random() < cfg.sham_fill:
        blob = sham_blob(x, mask if m is not None else None, rng)
        if blob is not None:
            x = remove_tumor(x, blob, rng)
    if patch is not None:
        faint = cfg.paste_faint > 0 and rng.random() < cfg.paste_faint
        pasted = paste_tumor(x, patch, rng, faint, cfg.faint_contrast, cfg.paste_depth)
        if pasted is not None:
            x, m = pasted
    x, m = geometric(x, m, rng, cfg)
    x = np.clip(x, 0.0, 1.0)
    if rng.random() < cfg.contrast_curve:
        x = contrast_curve(x, rng)
    if rng.random() < cfg.gamma:
        x = np.power(x, np.exp(rng.uniform(-cfg.gamma_range, cfg.gamma_range))).astype(np.float32)
    if rng.random() < cfg.bias_field:
        x = bias_field(x, rng, cfg.bias_strength)
    if rng.random() < cfg.low_resolution:
        x = low_resolution(x, rng, cfg.low_resolution_max)
    if rng.random() < cfg.blur:
        x = blur(x, rng)
    if rng.random() < cfg.noise:
        x = rician_noise(x, rng, cfg.noise_max)
    if cfg.skull_strip > 0 and rng.random() < cfg.skull_strip:  # last: a stripped series has a zero background
        x = strip_skull(x, rng)
    return render_for_model(x), (None if m is None else np.clip(m, 0.0, 1.0))

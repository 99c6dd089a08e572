"""Does averaging Grad-CAM over half-cell input shifts (or the mirror image) point better? Offline check.

``python views_check.py STAGE``, one run per stage (each made one of the .txt files here):

* ``variants`` (views_variants.txt): six view sets on the saliency benchmark's 150-slice samples;
* ``heldout`` (views_heldout.txt): Grad-CAM against the four-view set on the validation tumor slices
  those samples do not contain;
* ``two`` (views_two_views.txt): two two-view sets on both, the samples and the held-out slices.
"""

import sys
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, "/work/main")
from core.model.inference_graph import InferenceGraph
from core.model.model_config import load_model_config, verified_weights_path
from core.model.network import build_vgg19
from core.model.preprocess import head_box, to_model_input
from core.model.saliency import gradcam, to_slice_geometry
from training.localisation import localise, summarise
from training.saliency_bench import load_sets

W = Path("/work/main/weights")
D = Path("/work/shared/data")
config = load_model_config(W)
model = build_vgg19(config.architecture)
model.load_weights(verified_weights_path(W, config))
graph = InferenceGraph(model)
tap = graph.taps_for((-1,))
STAGE = sys.argv[1]
SPLIT = Path("/work/main/weights/training_run/masked_split.json")
sets_150 = load_sets(D / "figshare-t1ce", SPLIT, D / "lgg-tcga", 150)
if STAGE == "variants":
    sets = sets_150
else:
    sets_all = load_sets(D / "figshare-t1ce", SPLIT, D / "lgg-tcga", None)
    sets = {}
    for k in ("figshare-val", "lgg-flair"):
        used = {s.source for s in sets_150[k]}
        if STAGE == "two":
            sets[k + " sample150"] = [s for s in sets_all[k] if s.source in used]
            sets[k + " heldout"] = [s for s in sets_all[k] if s.source not in used]
        else:
            sets[k] = [s for s in sets_all[k] if s.source not in used]
            print(k, "held out", len(sets[k]), flush=True)
names = config.class_names


def shift(x, dy, dx):
    out = np.full_like(x, -1.0)  # the input value of a black pixel
    H, W_ = x.shape[1:3]
    out[:, max(dy, 0) : H + min(dy, 0), max(dx, 0) : W_ + min(dx, 0)] = x[
        :, max(-dy, 0) : H + min(-dy, 0), max(-dx, 0) : W_ + min(-dx, 0)
    ]
    return out


def cams_for(batch, target, views):
    acc = None
    for dy, dx, flip in views:
        xb = shift(batch, dy, dx)
        if flip:
            xb = xb[:, :, ::-1]
        _, ((f, g),), _ = graph.tapped_gradients(np.ascontiguousarray(xb), target, tap)
        cam = gradcam(f, g)  # (N, 8, 8)
        cam = cam / np.maximum(cam.max(axis=(1, 2), keepdims=True), 1e-12)
        if flip:
            cam = cam[:, :, ::-1]
        side = batch.shape[1]
        cam = np.stack(
            [
                np.asarray(Image.fromarray(c.astype(np.float32)).resize((side, side), Image.Resampling.BILINEAR))
                for c in cam
            ]
        )
        cam = shift(cam[..., None], -dy, -dx)[..., 0]
        cam = np.maximum(cam, 0)
        acc = cam if acc is None else acc + cam
    return acc


IMAGE = [(0, 0, False)]
MIRROR_SHIFT4 = [(0, 0, False), (8, 8, False), (0, 0, True), (-8, -8, True)]
variants = {
    "variants": {
        "gradcam": IMAGE,
        "mirror": [*IMAGE, (0, 0, True)],
        "shift4": [*IMAGE, (8, 0, False), (0, 8, False), (8, 8, False)],
        "shift9": [(dy, dx, False) for dy in (-8, 0, 8) for dx in (-8, 0, 8)],
        "mirror_shift4": MIRROR_SHIFT4,
        "shift5": [*IMAGE, (8, 0, False), (-8, 0, False), (0, 8, False), (0, -8, False)],
    },
    "heldout": {"gradcam": IMAGE, "mirror_shift4": MIRROR_SHIFT4},
    "two": {"gradcam": IMAGE, "mirror_diag2": [*IMAGE, (-8, -8, True)], "shift_diag2": [*IMAGE, (8, 8, False)]},
}[STAGE]
res = {}
for set_name, slices in sets.items():
    for v, views in variants.items():
        locs, bycls = [], {}
        for s0 in range(0, len(slices), 16):
            chunk = slices[s0 : s0 + 16]
            batch = to_model_input([s.rendered for s in chunk], config)
            target = np.asarray([names.index(s.truth) for s in chunk], dtype=np.int32)
            cams = cams_for(batch, target, views)
            for s, cam in zip(chunk, cams, strict=True):
                m = to_slice_geometry(
                    cam,
                    s.rendered.shape,
                    config.preprocessing.pad_to_square,
                    head_box(s.rendered) if config.preprocessing.crop_to_head else None,
                )
                loc = localise(m, s.mask)
                locs.append(loc)
                bycls.setdefault(s.truth, []).append(loc.hit)
        summ = summarise(locs)
        print(
            set_name,
            v,
            {k: round(float(x), 3) if x is not None else None for k, x in summ.items()},
            {c: f"{sum(map(bool, h))}/{len(h)}" for c, h in bycls.items()},
            flush=True,
        )

"""Does averaging Grad-CAM over half-cell input shifts (or the mirror image) point better? Offline check."""

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
sets = load_sets(
    D / "figshare-t1ce", Path("/work/main/weights/training_run/masked_split.json"), D / "lgg-tcga", int(sys.argv[1])
)
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


variants = {
    "gradcam": [(0, 0, False)],
    "mirror": [(0, 0, False), (0, 0, True)],
    "shift4": [(0, 0, False), (8, 0, False), (0, 8, False), (8, 8, False)],
    "shift9": [(dy, dx, False) for dy in (-8, 0, 8) for dx in (-8, 0, 8)],
    "mirror_shift4": [(0, 0, False), (8, 8, False), (0, 0, True), (-8, -8, True)],
    "shift5": [(0, 0, False), (8, 0, False), (-8, 0, False), (0, 8, False), (0, -8, False)],
}
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

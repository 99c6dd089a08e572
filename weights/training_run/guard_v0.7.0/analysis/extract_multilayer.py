"""Multi-layer pooled features (mean and std per channel of each block) of every guard set."""

import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, "/work/main")
import keras
import tensorflow as tf

from core.imaging import PixelStore, open_paths
from core.imaging.intended_use import content_reason
from core.model.model_config import load_model_config, verified_weights_path
from core.model.network import build_vgg19
from core.model.preprocess import to_model_input
from training.guard_fit import augmented_copies, realism_of_run
from training.images import load_for_weights
from training.manifest import build_manifest
from training.real_data import load_lgg, load_normal_heads
from training.split import positions_of, seeded_subset

W = Path(sys.argv[1])
OUT = Path(sys.argv[2])
D = Path("/work/shared/data")
config = load_model_config(W)
model = build_vgg19(config.architecture)
model.load_weights(verified_weights_path(W, config))
names = ["block1_pool", "block2_pool", "block3_pool", "block4_pool"]
taps = [model.get_layer(n).output for n in names] + [model.get_layer("gap").input, model.output]
fm = keras.Model(model.inputs[0], taps)


@tf.function
def feats_fn(x):
    outs = fm(x, training=False)
    res = []
    for o in outs[:-1]:
        o = tf.cast(o, tf.float32)
        m = tf.reduce_mean(o, axis=[1, 2])
        s = tf.math.reduce_std(o, axis=[1, 2])
        res.append(tf.concat([m, s], axis=1))
    return res, tf.cast(outs[-1], tf.float32)


res = {}


def run(name, rendered, meta=None):
    t = time.time()
    per = None
    lo = []
    for s in range(0, len(rendered), 32):
        f, logits = feats_fn(tf.constant(to_model_input(list(rendered[s : s + 32]), config)))
        f = [x.numpy() for x in f]
        per = [[x] for x in f] if per is None else [[*p, x] for p, x in zip(per, f, strict=True)]
        lo.append(logits.numpy())
    for k, p in enumerate(per):
        res[f"{name}_L{k}"] = np.concatenate(p).astype(np.float32)
    res[name + "_logits"] = np.concatenate(lo)
    if meta is not None:
        res[name + "_meta"] = np.asarray(meta)
    np.savez(OUT, **res)
    print(name, len(rendered), f"{time.time() - t:.0f}s", flush=True)


split = json.loads(Path("/work/main/weights/training_run/split.json").read_text())
man = build_manifest(D / "brain-tumor-mri/Training", config.class_names)
data = load_for_weights(man, config)
train = positions_of(split["train"], data.relpaths, "split")
train = [train[i] for i in seeded_subset(len(train), 1600)]
val = positions_of(split["val"], data.relpaths, "split")
run("val", data.images[val], data.labels[val])
rc = realism_of_run(Path("/work/main/weights/training_run/run_config.json"))
run("aug", augmented_copies(data.images[train], 2, rc, seed=11), np.tile(data.labels[train], 2))

for name in ("png-from-dicom", "synthetic", "photos", "dicom"):
    scan = open_paths([Path("/work/runs/ood") / name])
    store = PixelStore(max_megabytes=256)
    keep, meta = [], []
    for ref in scan.all_slices():
        try:
            reason = store.metadata(ref).outside_use_reason
            r = None if reason else store.model_rendering(ref)
        except Exception:
            continue
        if reason or (r is not None and content_reason(r)):
            continue
        if r is not None:
            keep.append(r)
            meta.append(str(ref))
    if keep:
        run("ood_" + name, keep, meta)

for name, stacks in (("lgg", load_lgg(D / "lgg-tcga")), ("normal", load_normal_heads(D / "normal-heads"))):
    keep, meta = [], []
    for si, st in enumerate(stacks):
        for r in st.rendered:
            if content_reason(r):
                continue
            keep.append(r)
            meta.append(si)
    run(name, keep, meta)

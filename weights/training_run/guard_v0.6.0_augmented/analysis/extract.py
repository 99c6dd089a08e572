"""Features (logits, pooled) of every set the guard is judged on, for offline variants."""

import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, "/work/main")
from core.imaging import PixelStore, open_paths
from core.imaging.intended_use import content_reason
from core.model.preprocess import to_model_input
from training.guard_fit import extract, feature_function
from training.images import load_for_weights
from training.manifest import build_manifest
from training.real_data import load_lgg, load_normal_heads
from training.realism import RealismConfig, augment
from training.split import positions_of, seeded_subset

W = Path(sys.argv[1])
OUT = Path(sys.argv[2])
D = Path("/work/shared/data")
fn, config = feature_function(W)
res = {}


def save(name, lo, po, extra=None):
    res[name + "_logits"] = lo
    res[name + "_pooled"] = po
    if extra is not None:
        res[name + "_meta"] = np.asarray(extra)
    np.savez_compressed(OUT, **res)
    print(name, lo.shape, flush=True)


# augmented training images (the realism draws the run used, no pastes/removal)
split = json.loads(Path("/work/main/weights/training_run/split.json").read_text())
man = build_manifest(D / "brain-tumor-mri/Training", config.class_names)
data = load_for_weights(man, config)
train = positions_of(split["train"], data.relpaths, "split")
train = [train[i] for i in seeded_subset(len(train), 1600)]
rc = RealismConfig(**json.loads(Path("/work/runs/r20/run_config.json").read_text())["realism"])
prep = config.preprocessing
xs, labs = [], []
for rep in range(2):
    for i in train:
        rng = np.random.default_rng([7, rep, i])
        out, _ = augment(data.images[i], None, rng, rc)
        xs.append(out)
        labs.append(int(data.labels[i]))
lo, po = [], []
for s in range(0, len(xs), 32):
    b = to_model_input(xs[s : s + 32], config)
    o = fn(b)
    lo.append(o[0])
    po.append(o[1])
save("aug", np.concatenate(lo), np.concatenate(po), labs)


def feats(rendered):
    return extract(fn, rendered, config)


for name, stacks in (("lgg", load_lgg(D / "lgg-tcga")), ("normal", load_normal_heads(D / "normal-heads"))):
    keep, meta = [], []
    for si, st in enumerate(stacks):
        for r in st.rendered:
            if content_reason(r):
                continue
            keep.append(r)
            meta.append(si)
    lo, po = feats(keep)
    save(name, lo, po, meta)

for name in ("dicom", "png-from-dicom", "photos", "synthetic"):
    scan = open_paths([Path("/work/runs/ood") / name])
    store = PixelStore(max_megabytes=256)
    keep = []
    ruled = 0
    for ref in scan.all_slices():
        try:
            reason = store.metadata(ref).outside_use_reason
            r = None if reason else store.model_rendering(ref)
        except Exception:
            continue
        if reason or (r is not None and content_reason(r)):
            ruled += 1
            continue
        if r is not None:
            keep.append(r)
    if keep:
        lo, po = feats(keep)
        save("ood_" + name, lo, po, [ruled] * len(keep))
    else:
        print(name, "all ruled", ruled)

"""Per-series batch-norm statistics (AdaBN) at test time: every stack of the real validation sets classified
with the BatchNorm layers normalising by that stack's own statistics instead of the training ones.

``python series_batchnorm_probe.py OUT.npz`` (repository root; about 40 min on this CPU, float32, no learned
guard: the guard's features would change with the statistics) keeps both sets of logits; the figures in
``series_batchnorm_probe.txt`` were read from OUT.npz with ``strip_weight_and_shift.real_figures`` (content
rules only) and the AUROC of LGG tumor slices against the normal heads' slices."""

import sys
from pathlib import Path

import keras
import numpy as np

from core.imaging.intended_use import content_reason
from core.model.preprocess import to_model_input
from training.evaluate import model_for
from training.real_eval import load_stacks

D = Path("../shared/data")
stacks = load_stacks(
    D / "lgg-tcga", D / "normal-heads", D / "figshare-t1ce", Path("weights/training_run/masked_split.json"), None
)
model, config = model_for(Path("weights"))
model.get_layer("head_dropout").rate = 0.0
saved = [w.copy() for w in model.get_weights()]
for layer in model.layers:
    if isinstance(layer, keras.layers.BatchNormalization):
        layer.momentum = 0.0  # one training-mode call sets the moving statistics to that batch's
cols = {k: [] for k in ("set", "stack", "tumor", "truth", "adabn", "plain", "content")}
for n, stack in enumerate(stacks):
    keep = [not content_reason(r) for r in stack.rendered]
    x = to_model_input(stack.rendered, config)
    plain = np.asarray(model(x, training=False))
    sel = x[np.asarray(keep)] if any(keep) else x
    model(sel, training=True)  # the stack's own statistics (slices no content rule takes)
    adapted = np.asarray(model(x, training=False))
    model.set_weights(saved)
    cols["adabn"].append(adapted)
    cols["plain"].append(plain)
    cols["content"] += [not k for k in keep]
    cols["set"] += [stack.set_name] * len(x)
    cols["stack"] += [f"{stack.set_name}/{stack.name}"] * len(x)
    cols["tumor"] += [bool(m.any()) for m in stack.masks]
    cols["truth"] += [stack.truth] * len(x)
    if n % 20 == 0:
        print(n, len(stacks), flush=True)
out = {k: np.concatenate(v) if k in ("adabn", "plain") else np.asarray(v) for k, v in cols.items()}
np.savez(sys.argv[1], temperature=config.temperature, class_names=np.asarray(config.class_names), **out)
print("done")

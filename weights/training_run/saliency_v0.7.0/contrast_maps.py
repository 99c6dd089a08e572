"""Grad-CAM of (logit_c - logit_notumor) against Grad-CAM of logit_c: with GAP + one dense layer, the
contrast map is the CAM with kernel column c minus column notumor, so the dense kernel is swapped in place.

``python contrast_maps.py 150`` (repository root): the saliency benchmark's 150-slice samples, true-class maps,
0.7.0 in float32."""

import sys
from pathlib import Path

from core.model.classifier import Classifier
from core.model.network import LOGITS_LAYER
from training.evaluate import model_for
from training.saliency_bench import load_sets, score_method, set_summary

D = Path("../shared/data")
limit = int(sys.argv[1]) if len(sys.argv) > 1 else 150
sets = load_sets(D / "figshare-t1ce", Path("weights/training_run/masked_split.json"), D / "lgg-tcga", limit)
model, config = model_for(Path("weights"))
clf = Classifier(model, config, precision="float32", guard=None)
dense = model.get_layer(LOGITS_LAYER)
kernel, bias = [w.copy() for w in dense.get_weights()]
n = config.no_tumor_index
contrast = kernel - kernel[:, [n]]
contrast[:, n] = kernel[:, n]
for variant, k in (("plain", kernel), ("contrast", contrast)):
    dense.set_weights([k, bias])
    for method in ("gradcam", "gradcam-views"):
        for name, slices in sets.items():
            s = set_summary(score_method(clf, slices, method))["true_class"]
            print(variant, method, name, s, flush=True)

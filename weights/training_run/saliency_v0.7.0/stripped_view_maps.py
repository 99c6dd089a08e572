"""Grad-CAM maps of the stripped view (and their mean with the slice's own) against the slice's own map.

``python stripped_view_maps.py 150 0.09`` (repository root): the saliency benchmark's 150-slice samples,
true-class maps, 0.7.0 in float32; prints pointing game, map mass in the tumor box and top-5 % IoU for each."""

import sys
from pathlib import Path

from core.imaging.brain_outline import stripped_view
from core.model.classifier import Classifier
from training.evaluate import model_for
from training.localisation import localise, summarise
from training.saliency_bench import load_sets

D = Path("../shared/data")
limit = int(sys.argv[1]) if len(sys.argv) > 1 else 150
depths = [float(x) for x in sys.argv[2:]] or [0.09]
sets = load_sets(D / "figshare-t1ce", Path("weights/training_run/masked_split.json"), D / "lgg-tcga", limit)
model, config = model_for(Path("weights"))
clf = Classifier(model, config, precision="float32", guard=None)
for method in ("gradcam", "gradcam-views"):
    for name, slices in sets.items():
        res = {}
        for s in slices:
            (own,) = clf.predict([s.rendered], heatmap=s.truth, method=method)
            res.setdefault("own", []).append(localise(own.heatmap, s.mask))
            for d in depths:
                (st,) = clf.predict([stripped_view(s.rendered, d)], heatmap=s.truth, method=method)
                res.setdefault(f"stripped{d}", []).append(localise(st.heatmap, s.mask))
                mean = (own.heatmap / max(own.heatmap.max(), 1e-9) + st.heatmap / max(st.heatmap.max(), 1e-9)) / 2
                res.setdefault(f"mean{d}", []).append(localise(mean, s.mask))
        for k, v in res.items():
            sm = summarise(v)
            print(
                method,
                name,
                k,
                "pointing {:.3f} box {:.3f} iou {:.3f}".format(sm["pointing_game"], sm["box_mass"], sm["top_iou"]),
                flush=True,
            )

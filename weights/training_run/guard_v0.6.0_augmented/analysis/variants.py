"""Guard variants on saved features: fit on train (+aug), calibrate at 1 % of class-folder val."""

import sys

import numpy as np

sys.path.insert(0, "/work/main")
from core.model.ood_guard import calibrate, fit_guard_stats

F = np.load("/work/runs/guardx/feats.npz")
K = np.load("/work/runs/guard_w20/features.npz")
n = int(K["n_train"])
tr = (K["logits"][:n], K["pooled"][:n], K["labels"][:n])
va = (K["logits"][n:], K["pooled"][n:], K["labels"][n:])
sets = {}
if "lgg_logits" in F:
    m = F["lgg_meta"]
    sets["lgg<12"] = (F["lgg_logits"][m < 24], F["lgg_pooled"][m < 24])
    sets["lgg>=12"] = (F["lgg_logits"][m >= 24], F["lgg_pooled"][m >= 24])
if "normal_logits" in F:
    m = F["normal_meta"]
    sets["nor<12"] = (F["normal_logits"][m < 12], F["normal_pooled"][m < 12])
    sets["nor>=12"] = (F["normal_logits"][m >= 12], F["normal_pooled"][m >= 12])
ood = {k[4:-7]: (F[k], F[k[:-7] + "_pooled"]) for k in F if k.startswith("ood_") and k.endswith("_logits")}


def run(name, train, weights, single=False, frac=0.01):
    lo, po, la = train
    if single:
        la = np.zeros_like(la)
    st = fit_guard_stats(po, lo, la, num_classes=4, weights=weights)
    st = calibrate(st, va[1], va[0], frac)
    row = [name]
    for k, (lg, p) in sets.items():
        row.append(f"{k} {np.mean(st.scores(p, lg) > st.threshold):.3f}")
    for k, (lg, p) in ood.items():
        row.append(f"{k} {np.mean(st.scores(p, lg) > st.threshold):.2f}")
    print(" | ".join(row))


aug = (F["aug_logits"], F["aug_pooled"], F["aug_meta"].astype(np.int64))
both = tuple(np.concatenate([a, b]) for a, b in zip(tr, aug, strict=True))
for w in [(0.5, 0.5), (1.0, 0.0), (0.8, 0.2)]:
    for single in (False, True):
        run(f"kaggle w={w} single={single}", tr, w, single)
        run(f"kaggle+aug w={w} single={single}", both, w, single)
        run(f"aug w={w} single={single}", aug, w, single)

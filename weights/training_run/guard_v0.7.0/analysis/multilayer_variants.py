"""Guard variants on multi-layer pooled features: rates on real slices and header-less OOD slices."""

import sys

import numpy as np

F = dict(np.load(sys.argv[1]))
LAYERS = 5


def fit(x, shrink=0.05):
    mu = x.mean(0)
    c = np.cov(x - mu, rowvar=False)
    r = np.trace(c) / c.shape[0]
    c = (1 - shrink) * c + shrink * r * np.eye(c.shape[0])
    v, e = np.linalg.eigh(c)
    W = e / np.sqrt(np.maximum(v, 1e-12 * r))
    return mu, W


def score(model, x):
    mu, W = model
    z = (x - mu) @ W
    return np.log1p((z**2).sum(1))


def part(x, k, kind):
    d = x.shape[1] // 2
    return x[:, :d] if kind == "mean" else x if kind == "both" else x[:, d:]


sets = {"lgg": 24, "normal": 12}
ood = [k[:-7] for k in F if k.startswith("ood_") and k.endswith("_logits")]


def evaluate(name, layers, kind, combine):
    fitted = {k: fit(part(F[f"aug_L{k}"], k, kind)) for k in layers}

    def raw(prefix):
        return np.stack([score(fitted[k], part(F[f"{prefix}_L{k}"], k, kind)) for k in layers], 1)

    tr = raw("aug")
    c = np.median(tr, 0)
    s = np.percentile(tr, 75, 0) - np.percentile(tr, 25, 0)

    def comb(prefix):
        z = (raw(prefix) - c) / s
        return z.max(1) if combine == "max" else z.mean(1)

    thr = np.quantile(comb("val"), 0.99, method="higher")
    out = [f"{name:28s}"]
    for n, cut in sets.items():
        f = comb(n) > thr
        m = F[n + "_meta"]
        out.append(f"{n}<{cut} {f[m < cut].mean():.3f} {n}>={cut} {f[m >= cut].mean():.3f}")
    fl = comb("lgg") > thr
    m = F["lgg_meta"]
    out.append(f"flair {fl[m % 2 == 0].mean():.3f}")
    for o in ood:
        out.append(f"{o[4:]} {(comb(o) > thr).sum()}/{len(F[o + '_logits'])}")
    print(" | ".join(out), flush=True)


for k in range(LAYERS):
    for kind in ("mean", "std", "both"):
        evaluate(f"L{k} {kind}", [k], kind, "mean")
for layers in ([2, 3, 4], [1, 2, 3, 4], [3, 4], [2, 4], [0, 1, 2, 3, 4]):
    for kind in ("mean", "both"):
        for combine in ("mean", "max"):
            evaluate(f"L{layers} {kind} {combine}", layers, kind, combine)

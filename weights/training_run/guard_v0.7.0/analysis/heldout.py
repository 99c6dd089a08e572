"""Flagged rates of an installed guard on every real brain-MR slice no rule takes, split by the --limit 12 subset."""

import sys

import numpy as np

sys.path.insert(0, "/work/main")
from core.model.ood_guard import load_guard_stats

st = load_guard_stats(sys.argv[1] + "/intended_use_guard.npz")
F = np.load(sys.argv[2])
for name, cut in (("lgg", 24), ("normal", 12)):
    m = F[name + "_meta"]
    pooled = F[name + "_L4"][:, :512]  # the mean half: the pooled last-convolution features
    s = st.scores(pooled, F[name + "_logits"]) > st.threshold
    groups = [("first 12", m < cut), ("the rest", m >= cut), ("all", m >= 0)]
    if name == "lgg":
        groups += [("FLAIR, all", m % 2 == 0), ("T1-Gd, all", m % 2 == 1)]
    for lab, sel in groups:
        print(f"{name} {lab}: {int(s[sel].sum())} of {int(sel.sum())} slices no rule takes ({s[sel].mean():.1%})")

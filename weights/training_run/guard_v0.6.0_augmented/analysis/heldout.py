"""Flagged rates of an installed guard on every real brain-MR slice (rules first), split by the --limit 12 subset."""

import sys

import numpy as np

sys.path.insert(0, "/work/main")
from core.model.ood_guard import load_guard_stats

st = load_guard_stats(sys.argv[1] + "/intended_use_guard.npz")
F = np.load("/work/runs/guardx/feats.npz")
for name, cut in (("lgg", 24), ("normal", 12)):
    m = F[name + "_meta"]
    s = st.scores(F[name + "_pooled"], F[name + "_logits"]) > st.threshold
    for lab, sel in (("first 12", m < cut), ("the rest", m >= cut), ("all", m >= 0)):
        print(f"{name} {lab}: {int(s[sel].sum())} of {int(sel.sum())} slices no rule takes ({s[sel].mean():.1%})")

"""Where does the default heatmap's maximum lie when it misses a figshare tumor?  Offline check.

``python figshare_misses.py`` (made figshare_misses.txt): the bundled weights' default map (Grad-CAM over
two views) for the true class of every figshare validation tumor slice, as ``validate-real`` scores it.
For each miss of the pointing game it records whether the maximum lies inside the head, how far it lies
from the tumor (share of the image's larger side) and whether it lies on the tumor's mirror image about
the image's vertical midline (a map that follows left-right asymmetry would point there), against how
often a point drawn at random in the head lies there.
"""

from pathlib import Path

import numpy as np

from core.model.classifier import Classifier
from training.localisation import POINTING_TOLERANCE, pointing_hit
from training.realism import head_mask
from training.saliency_bench import load_sets

W = Path(__file__).resolve().parents[2]
D = W.parent.parent / "shared" / "data"
SPLIT = W / "training_run" / "masked_split.json"


def nearest(mask: np.ndarray, y: float, x: float) -> float:
    """Distance from (y, x) to the nearest pixel of ``mask``, as a share of the image's larger side."""
    ys, xs = np.nonzero(mask)
    return float(np.sqrt(np.min((ys - y) ** 2 + (xs - x) ** 2))) / max(mask.shape)


def chance_near(mask: np.ndarray, head: np.ndarray, seed: int, draws: int = 400) -> float:
    """Share of points drawn at random in the head that lie within the tolerance of ``mask``."""
    ys, xs = np.nonzero(head)
    pick = np.random.default_rng(seed).integers(0, len(ys), draws)
    return float(np.mean([nearest(mask, ys[i], xs[i]) <= POINTING_TOLERANCE for i in pick]))


slices = load_sets(D / "figshare-t1ce", SPLIT, None, None)["figshare-val"]
classifier = Classifier.from_folder(W)
rows = []
for truth in sorted({s.truth for s in slices}):
    group = [s for s in slices if s.truth == truth]
    for start in range(0, len(group), 16):
        chunk = group[start : start + 16]
        preds = classifier.predict([c.rendered for c in chunk], heatmap=truth, batch_size=16)
        for s, pred in zip(chunk, preds, strict=True):
            y, x = np.unravel_index(int(np.argmax(pred.heatmap)), pred.heatmap.shape)
            head = head_mask(s.rendered.astype(np.float32) / 255.0)
            rows.append(
                {
                    "truth": truth,
                    "right_class": pred.label == truth,
                    "hit": pointing_hit(pred.heatmap, s.mask),
                    "mirror_hit": pointing_hit(pred.heatmap[:, ::-1], s.mask),
                    "distance": nearest(s.mask, y, x),
                    "in_head": bool(head[y, x]),
                    "mirror_chance": chance_near(s.mask[:, ::-1], head, len(rows)),
                    "tumor_area": float(s.mask.mean()),
                }
            )

hits = [r for r in rows if r["hit"]]
misses = [r for r in rows if not r["hit"]]
print(f"figshare validation tumor slices: {len(rows)}; pointing game hits {len(hits)} ({len(hits) / len(rows):.1%})")
for truth in sorted({r["truth"] for r in rows}):
    of = [r for r in rows if r["truth"] == truth]
    n_hit = sum(r["hit"] for r in of)
    print(f"  {truth}: {n_hit} of {len(of)} ({n_hit / len(of):.1%})")
print(f"misses: {len(misses)}")
print(f"  maximum inside the head: {sum(r['in_head'] for r in misses)}")
quartiles = np.quantile([r["distance"] for r in misses], [0.25, 0.5, 0.75])
print("  distance to the tumor, quartiles (share of the image side): " + " / ".join(f"{q:.3f}" for q in quartiles))
mirrored = sum(r["mirror_hit"] for r in misses)
chance = float(np.mean([r["mirror_chance"] for r in misses]))
print(f"  maximum on the tumor's mirror image: {mirrored} (a point drawn at random in the head: {chance:.1%})")
print(f"  class right: {sum(r['right_class'] for r in misses)} (hits: {sum(r['right_class'] for r in hits)})")
area = (np.median([r["tumor_area"] for r in misses]), np.median([r["tumor_area"] for r in hits]))
print(f"  median tumor area, share of the image: misses {area[0]:.4f}, hits {area[1]:.4f}")

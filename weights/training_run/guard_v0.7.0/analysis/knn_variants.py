"""k-NN cosine distance to the augmented fit images on 0.7.0's features, threshold at 1 % of the validation slices.

Usage: python knn_variants.py FEATURES.npz (the file analysis/extract_multilayer.py writes).
"""

import sys

import numpy as np

features = np.load(sys.argv[1] if len(sys.argv) > 1 else "feats070.npz", allow_pickle=True)
CHOICES = {
    "L4m": lambda prefix: features[prefix + "_L4"][:, :512],  # last convolution, channel means
    "L3m": lambda prefix: features[prefix + "_L3"][:, :512],  # block 4, channel means
    "L4ms": lambda prefix: features[prefix + "_L4"],  # last convolution, means and spreads
}


def unit(rows: np.ndarray) -> np.ndarray:
    return rows / np.linalg.norm(rows, axis=1, keepdims=True).clip(1e-9)


for name, get in CHOICES.items():
    bank = unit(get("aug"))
    for k in (1, 5, 20):

        def distance(prefix: str, k: int = k, get=get, bank=bank) -> np.ndarray:
            similarity = unit(get(prefix)) @ bank.T
            return 1 - np.sort(similarity, axis=1)[:, -k]

        threshold = np.percentile(distance("val"), 99)
        lgg = (distance("lgg") > threshold).mean()
        normal = (distance("normal") > threshold).mean()
        png = int((distance("ood_png-from-dicom") > threshold).sum())
        synthetic = int((distance("ood_synthetic") > threshold).sum())
        print(f"{name} k={k:2d} | lgg {lgg:.3f} | normal {normal:.3f} | png {png}/61 | syn {synthetic}/25")

"""Strip at test time: P(tumor) of one model on every real validation slice as it is and with everything
outside a rough 2-D brain outline set to 0 (``training.realism.strip_skull`` at a fixed depth).

``python test_time_strip.py probe WEIGHTS OUT.npz LIMIT DEPTH [DEPTH ...]`` (repository root; LIMIT 0 = every
patient and head) scores the slices no content rule takes, rules only (no learned guard), and keeps the
per-slice scores; ``python test_time_strip.py summary OUT.npz`` prints the figures.  No BET and no second
environment: the outline is the one the training draw uses, so it could run inside the application.
"""

import sys
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from core.imaging.intended_use import content_reason
from core.imaging.render import render_for_model
from core.model.series_summary import run_scores
from training.metrics import roc_auc

DATA = Path("../shared/data")
PAIRS = (("lgg-flair", "normal-flair"), ("lgg-t1gd", "normal-t1"))


def stripped(rendered: NDArray[np.uint8], depth: float) -> NDArray[np.uint8]:
    from training.realism import strip_skull

    image = strip_skull(rendered.astype(np.float32) / 255, np.random.default_rng(0), (depth, depth))
    return render_for_model(image)


def probe(weights: Path, out: Path, limit: int | None, depths: list[float]) -> None:
    from core.model.classifier import Classifier
    from training.evaluate import model_for
    from training.real_eval import load_stacks

    split = Path("weights/training_run/masked_split.json")
    stacks = load_stacks(DATA / "lgg-tcga", DATA / "normal-heads", DATA / "figshare-t1ce", split, limit)
    model, config = model_for(weights)
    classifier = Classifier(model, config, precision="float32", guard=None)
    columns: dict[str, list[object]] = {name: [] for name in ("set", "stack", "index", "tumor", "plain")}
    for depth in depths:
        columns[f"d{depth}"] = []
    for stack in stacks:
        keep = [i for i, r in enumerate(stack.rendered) if not content_reason(r)]
        plain = [stack.rendered[i] for i in keep]
        columns["plain"] += [p.p_tumor for p in classifier.predict(plain, batch_size=32)]
        for depth in depths:
            shown = [stripped(r, depth) for r in plain]
            columns[f"d{depth}"] += [p.p_tumor for p in classifier.predict(shown, batch_size=32)]
        columns["set"] += [stack.set_name] * len(keep)
        columns["stack"] += [f"{stack.set_name}/{stack.name}"] * len(keep)
        columns["index"] += keep
        columns["tumor"] += [bool(stack.masks[i].any()) for i in keep]
    np.savez(out, **{name: np.asarray(values) for name, values in columns.items()})


def summary(scores: Path) -> None:
    table = np.load(scores)
    sets, tumor, stacks = table["set"].astype(str), table["tumor"], table["stack"].astype(str)
    for column in [name for name in table.files if name == "plain" or name.startswith("d")]:
        p = table[column]
        print(column)
        for name in ("lgg-flair", "lgg-t1gd"):
            m = sets == name
            print(
                f"  {name}: AUROC {roc_auc(p[m], tumor[m]):.3f}, sensitivity {np.mean(p[m & tumor] >= 0.5):.1%}, "
                f"tumor-free called tumor {np.mean(p[m & ~tumor] >= 0.5):.1%}"
            )
        for name in ("normal-flair", "normal-t1"):
            print(f"  {name}: called tumor {np.mean(p[sets == name] >= 0.5):.1%}")
        print(f"  figshare: sensitivity {np.mean(p[sets == 'figshare'] >= 0.5):.1%}")
        normal = sorted(set(stacks[np.char.startswith(sets, "normal")]))
        called = sum(max(run_scores(list(p[stacks == s]))) >= 0.5 for s in normal)
        print(f"  normal series called tumor: {called} of {len(normal)}")
        for lgg, healthy in PAIRS:  # the LGG tumor slices against the normal heads' slices of the same contrast
            positive, negative = p[(sets == lgg) & tumor], p[sets == healthy]
            truth = np.r_[np.ones(len(positive), bool), np.zeros(len(negative), bool)]
            at_five = np.mean(positive > np.quantile(negative, 0.95))
            print(
                f"  {lgg} tumor vs {healthy}: AUROC {roc_auc(np.r_[positive, negative], truth):.3f}, "
                f"sensitivity at 5 % normal slices called tumor {at_five:.1%}"
            )


if __name__ == "__main__":
    if sys.argv[1] == "probe":
        probe(Path(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4]) or None, [float(d) for d in sys.argv[5:]])
    else:
        summary(Path(sys.argv[2]))

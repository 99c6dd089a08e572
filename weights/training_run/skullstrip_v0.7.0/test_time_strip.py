"""Strip at test time: P(tumor) of one model on every real validation slice as it is and with everything
outside a rough 2-D brain outline set to 0 (``training.realism.strip_skull`` at a fixed depth).

``python test_time_strip.py probe WEIGHTS OUT.npz LIMIT DEPTH [DEPTH ...] [mirror]`` (repository root; LIMIT 0 =
every patient and head; ``mirror`` adds each slice's left-right mirror image) scores the slices no content rule
takes, rules only (no learned guard), and keeps the per-slice scores; ``python test_time_strip.py summary
OUT.npz`` prints the figures for each view and for the mean logit of the slice and each other view (test-time
augmentation with that view); ``python test_time_strip.py bootstrap OUT.npz [RESAMPLES]`` compares each of
them with the slice alone, patients and heads resampled (``scripts/compare_real_traces.py``'s bootstrap).  No
BET and no second environment: the outline is the one the training draw uses, so it could run inside the application.
"""

import sys
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from core.imaging.intended_use import content_reason
from core.imaging.render import render_for_model
from core.model.series_summary import run_scores
from training.metrics import roc_auc, roc_auc_between

DATA = Path("../shared/data")
PAIRS = (("lgg-flair", "normal-flair"), ("lgg-t1gd", "normal-t1"))


def stripped(rendered: NDArray[np.uint8], depth: float) -> NDArray[np.uint8]:
    """The slice stripped at ``depth`` with the outline blurred at full size (the application's
    ``stripped_view`` blurs large slices at 128 px), as the recorded figures were made."""
    from core.imaging.brain_outline import stripped as strip

    return render_for_model(strip(rendered.astype(np.float32) / 255, depth, max_side=None))


def probe(weights: Path, out: Path, limit: int | None, depths: list[float], mirror: bool = False) -> None:
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
    if mirror:
        columns["mirror"] = []
    for stack in stacks:
        keep = [i for i, r in enumerate(stack.rendered) if not content_reason(r)]
        plain = [stack.rendered[i] for i in keep]
        columns["plain"] += [p.p_tumor for p in classifier.predict(plain, batch_size=32)]
        for depth in depths:
            shown = [stripped(r, depth) for r in plain]
            columns[f"d{depth}"] += [p.p_tumor for p in classifier.predict(shown, batch_size=32)]
        if mirror:
            shown = [np.ascontiguousarray(r[:, ::-1]) for r in plain]
            columns["mirror"] += [p.p_tumor for p in classifier.predict(shown, batch_size=32)]
        columns["set"] += [stack.set_name] * len(keep)
        columns["stack"] += [f"{stack.set_name}/{stack.name}"] * len(keep)
        columns["index"] += keep
        columns["tumor"] += [bool(stack.masks[i].any()) for i in keep]
    np.savez(out, **{name: np.asarray(values) for name, values in columns.items()})


def logit(p: NDArray[np.floating]) -> NDArray[np.float64]:
    clipped = np.clip(np.asarray(p, dtype=np.float64), 1e-6, 1 - 1e-6)
    return np.log(clipped / (1 - clipped))


def all_views(table: Any) -> dict[str, NDArray[np.float64]]:
    """Each view's P(tumor), and the mean logit of the slice as it is and each other view."""
    views = {name: table[name] for name in table.files if name in ("plain", "mirror") or name.startswith("d")}
    for name in [v for v in views if v != "plain"]:
        views[f"mean of plain and {name}"] = 1 / (1 + np.exp(-(logit(views["plain"]) + logit(views[name])) / 2))
    return views


def bootstrap(scores: Path, resamples: int) -> None:
    """Each view against the slice alone: LGG slice AUROC and tumor slices against normal heads."""
    sys.path.insert(0, str(Path("scripts").resolve()))
    from compare_real_traces import paired_bootstrap, stratified_bootstrap

    table = np.load(scores)
    sets, tumor, stacks = table["set"].astype(str), table["tumor"].astype(bool), table["stack"].astype(str)
    views = all_views(table)

    def rows_of(set_name: str) -> list[NDArray[np.int64]]:
        return [np.flatnonzero(stacks == s) for s in sorted(set(stacks[sets == set_name]))]

    for name, p in views.items():
        if name == "plain":
            continue
        for lgg, healthy in PAIRS:
            patients, heads = rows_of(lgg), rows_of(healthy)

            def within(chosen: Any, p: Any = p, patients: Any = patients) -> float:
                rows = np.concatenate([patients[i] for i in chosen])
                return float(roc_auc(p[rows], tumor[rows]) - roc_auc(views["plain"][rows], tumor[rows]))

            def against(chosen: Any, p: Any = p, patients: Any = patients, heads: Any = heads) -> float:
                rows = np.concatenate([patients[i] for i in chosen[0]])
                rows, normal = rows[tumor[rows]], np.concatenate([heads[i] for i in chosen[1]])
                gain = roc_auc_between(p[rows], p[normal])
                base = roc_auc_between(views["plain"][rows], views["plain"][normal])
                return float("nan") if gain is None or base is None else gain - base

            value, low, high = paired_bootstrap(within, len(patients), resamples)
            cross, cross_low, cross_high = stratified_bootstrap(against, (len(patients), len(heads)), resamples)
            print(
                f"{name}, {lgg}: slice AUROC {value:+.4f} ({low:+.4f} to {high:+.4f}); tumor slices against "
                f"{healthy} {cross:+.4f} ({cross_low:+.4f} to {cross_high:+.4f})"
            )


def summary(scores: Path) -> None:
    table = np.load(scores)
    sets, tumor, stacks = table["set"].astype(str), table["tumor"], table["stack"].astype(str)
    for column, p in all_views(table).items():
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
        depths = [float(d) for d in sys.argv[5:] if d != "mirror"]
        probe(Path(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4]) or None, depths, "mirror" in sys.argv[5:])
    elif sys.argv[1] == "bootstrap":
        bootstrap(Path(sys.argv[2]), int(sys.argv[3]) if len(sys.argv) > 3 else 1000)
    else:
        summary(Path(sys.argv[2]))

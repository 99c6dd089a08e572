"""What ``neuroreview-train fit-guard`` does: fit, calibrate, install into the weights folder, report rates."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

from core.model.model_config import load_model_config
from training.errors import TrainingError
from training.guard_eval import (
    SetRate,
    features_rate,
    folder_rate,
    rates_markdown,
    rendered_rate,
    replace_guard_section,
)
from training.guard_fit import (
    extract,
    feature_function,
    fit_from_features,
    install_guard,
    realism_of_run,
    split_features,
)


def _ood_sets(items: list[str]) -> list[tuple[str, Path]]:
    sets = []
    for item in items:
        name, sep, folder = item.partition("=")
        if not sep or not name or not Path(folder).is_dir():
            raise TrainingError(f"--ood {item!r}: expected NAME=FOLDER with an existing folder")
        sets.append((name, Path(folder)))
    return sets


def fit_and_report(args: argparse.Namespace) -> str:
    """Fit the guard for ``args.weights``, write its statistics there, and return the rates as text."""
    if not 0.0 < args.flagged < 0.5:
        raise TrainingError("--flagged must lie between 0 and 0.5")
    if not 0.0 <= args.energy_weight < 1.0:
        raise TrainingError("--energy-weight must lie in [0, 1)")
    if args.augmented_copies < 0:
        raise TrainingError("--augmented-copies must be 0 or more")
    ood = _ood_sets(args.ood)
    weights = Path(args.weights)
    config = load_model_config(weights)
    realism = realism_of_run(args.realism_config)
    train, val = split_features(
        weights, args.data, args.split, args.cache_dir, args.features, args.train_limit, args.augmented_copies, realism
    )
    stats = fit_from_features(train, val, config.architecture.num_classes, args.flagged, args.energy_weight)
    path = install_guard(weights, stats)
    rates: list[SetRate] = [features_rate("in-distribution validation", stats, val)]
    if args.lgg or args.normal or ood:
        fn, cfg = feature_function(weights)

        def run(rendered: list) -> tuple:
            return extract(fn, rendered, cfg)

        for name, folder in ood:
            rates.append(folder_rate(f"not brain MR: {name}", stats, run, folder))
        if args.lgg is not None:
            from training.real_data import load_lgg

            slices = [s for stack in load_lgg(args.lgg, limit=args.limit) for s in stack.rendered]
            rates.append(rendered_rate("real brain MR: LGG FLAIR + T1-Gd", stats, run, slices))
        if args.normal is not None:
            from training.real_data import load_normal_heads

            slices = [s for stack in load_normal_heads(args.normal, limit=args.limit) for s in stack.rendered]
            rates.append(rendered_rate("real brain MR: normal heads", stats, run, slices))
    command = "neuroreview-train " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if len(sys.argv) > 1 else ""
    table = rates_markdown(rates, stats, command or "neuroreview-train fit-guard ...")
    for card in args.card:
        replace_guard_section(Path(card), table)
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        metrics = {"threshold": stats.threshold, "sets": {r.name: r.to_json() for r in rates}}
        (args.out / "guard_metrics.json").write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    return f"guard statistics written to {path}\n{table}"

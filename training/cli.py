"""``neuroreview-train``: train, resume, evaluate and export the classifier.

Errors the user can fix are printed as one line (exit status 2 for usage, 1 for the rest);
no traceback reaches the user.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from training.errors import TrainingError

if TYPE_CHECKING:  # pragma: no cover
    from training.config import TrainConfig
    from training.realism import RealismConfig


def _stages(text: str) -> list[list[int]]:
    """Parse ``96:12,128:6`` into [[96, 12], [128, 6]]."""
    try:
        stages = [[int(part) for part in item.split(":")] for item in text.split(",")]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected SIZE:EPOCHS[,SIZE:EPOCHS...], got {text!r}") from exc
    if not stages or any(len(s) != 2 or s[0] < 8 or s[1] < 1 for s in stages):
        raise argparse.ArgumentTypeError(f"expected SIZE:EPOCHS[,SIZE:EPOCHS...] with size >= 8, got {text!r}")
    return stages


def _class_weights(text: str) -> dict[str, float]:
    """Parse ``meningioma=1.5,glioma=1.2`` into {"meningioma": 1.5, "glioma": 1.2}."""
    try:
        pairs = [item.split("=") for item in text.split(",")]
        weights = {name.strip(): float(value) for name, value in pairs}
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected CLASS=WEIGHT[,CLASS=WEIGHT...], got {text!r}") from exc
    if not all(w > 0 for w in weights.values()):
        raise argparse.ArgumentTypeError(f"class weights must be positive, got {text!r}")
    return weights


def _widths(text: str) -> list[int]:
    try:
        return [int(w) for w in text.split(",")]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from exc


def _add_strategy(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--strategy",
        choices=["auto", "one", "mirrored", "multiworker"],
        default="auto",
        help="how training is spread: one device; mirrored over this machine's GPUs; multiworker over the "
        "machines TF_CONFIG lists (auto: multiworker if TF_CONFIG names a cluster, mirrored with 2+ GPUs, else one)",
    )


Subcommands = argparse._SubParsersAction  # what add_subparsers() returns


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="neuroreview-train", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    _add_train(sub)
    _add_resume(sub)
    _add_evaluate(sub)
    _add_average(sub)
    _add_validate_real(sub)
    _add_saliency_bench(sub)
    _add_fit_guard(sub)
    _add_export(sub)
    return parser


def _add_train(sub: Subcommands) -> None:
    """``train``: every option of a new run."""
    train = sub.add_parser("train", help="train a new run from a folder-per-class dataset")
    train.add_argument("--data", required=True, type=Path, help="folder with one sub-folder per class")
    train.add_argument("--out", required=True, type=Path, help="new run folder (checkpoints, logs, plots)")
    train.add_argument("--stages", type=_stages, default=None, help="progressive resizing, e.g. 96:12,128:6")
    train.add_argument("--epochs", type=int, default=None, help="shorthand for --stages SIZE:EPOCHS (with --size)")
    train.add_argument("--size", type=int, default=None, help="input size for --epochs (default 128)")
    train.add_argument(
        "--realism",
        action="store_true",
        help="augment like real studies vary (contrast curves, bias field, noise, resolution, pasted gliomas)",
    )
    train.add_argument(
        "--realism-set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="change one setting of --realism (a field of training.realism.RealismConfig), e.g. remove_tumor=0.5",
    )
    train.add_argument(
        "--crop-to-head",
        action="store_true",
        help="cut every slice to its head's box before resizing (training and, via the weights, the application)",
    )
    train.add_argument(
        "--masked-data", type=Path, default=None, help="extra tumor slices with masks (class folders + masks/)"
    )
    train.add_argument(
        "--mask-loss", type=float, default=None, help="weight of the loss keeping the class activation in the mask"
    )
    train.add_argument(
        "--strip-consistency",
        type=float,
        default=None,
        help="weight of the loss asking the same answer with and without scalp and skull (each sample is shown "
        "with a stripped twin; needs --realism or --masked-data and an even batch size)",
    )
    train.add_argument("--batch-size", type=int, default=None)
    train.add_argument("--optimizer", choices=["adamw", "sgd"], default=None)
    train.add_argument("--lr", type=float, default=None, help="peak learning rate")
    train.add_argument("--weight-decay", type=float, default=None)
    train.add_argument("--warmup-epochs", type=float, default=None)
    train.add_argument("--label-smoothing", type=float, default=None)
    train.add_argument(
        "--class-weight",
        dest="class_weights",
        type=_class_weights,
        default=None,
        help="loss weight per class, e.g. meningioma=1.5 (others weigh 1)",
    )
    train.add_argument("--val-fraction", type=float, default=None)
    train.add_argument("--dedup-bits", type=int, default=None, help="near-duplicate threshold (bits of 256)")
    train.add_argument("--seed", type=int, default=None)
    train.add_argument("--precision", choices=["auto", "bfloat16", "float32"], default=None)
    train.add_argument("--widths", type=_widths, default=None, help="filters per block (tiny models for tests)")
    train.add_argument("--channels", type=int, choices=[1, 3], default=None)
    train.add_argument("--dropout", type=float, default=None)
    train.add_argument("--patience", type=int, default=None, help="early stopping patience in epochs (0 = off)")
    train.add_argument("--init", type=Path, default=None, help="Keras VGG19 ImageNet notop .h5 to start from")
    train.add_argument("--init-weights", type=Path, default=None, help="exported weights folder to continue from")
    train.add_argument(
        "--split",
        type=Path,
        default=None,
        help="reuse an earlier run's split.json (default with --init-weights: the split those weights were trained on)",
    )
    train.add_argument("--max-steps-per-epoch", type=int, default=None, help=argparse.SUPPRESS)
    train.add_argument("--cache-dir", type=Path, default=None, help="decoded-image cache (default: user cache)")
    _add_strategy(train)


def _add_resume(sub: Subcommands) -> None:
    """``resume``: continue a run from its checkpoint."""
    resume = sub.add_parser("resume", help="continue an interrupted run from its last checkpoint")
    resume.add_argument("run_dir", type=Path)
    resume.add_argument("--cache-dir", type=Path, default=None)
    _add_strategy(resume)


def _add_evaluate(sub: Subcommands) -> None:
    """``evaluate``: metrics of a run or of exported weights."""
    evaluate = sub.add_parser("evaluate", help="metrics of a run's best checkpoint or of exported weights")
    evaluate.add_argument("source", type=Path, help="run folder or exported weights folder")
    evaluate.add_argument("--data", required=True, type=Path, help="labelled folder-per-class dataset")
    evaluate.add_argument("--out", type=Path, default=None, help="write metrics JSON and plots here")
    evaluate.add_argument("--cache-dir", type=Path, default=None)
    evaluate.add_argument("--split", type=Path, default=None, help="a run's split.json: its validation images only")
    evaluate.add_argument(
        "--test-time-flip",
        choices=["config", "on", "off"],
        default="config",
        help="average each image with its mirror image (default: as the weights' config says)",
    )


def _add_average(sub: Subcommands) -> None:
    """``average``: a model soup of runs."""
    average = sub.add_parser(
        "average", help="average the weights of runs trained from the same start on the same split (model soup)"
    )
    average.add_argument(
        "sources", nargs="+", type=Path, help="exported weights folders, run folders (best checkpoint) or checkpoints"
    )
    average.add_argument("--data", required=True, type=Path, help="the dataset the ingredients were trained on")
    average.add_argument("--out", required=True, type=Path, help="new run folder for the averaged model")
    average.add_argument("--size", type=int, default=None, help="input size (default: the first ingredient's)")
    average.add_argument("--cache-dir", type=Path, default=None)
    average.add_argument(
        "--mix", nargs="+", type=float, default=None, help="each source's share of the average (default: equal)"
    )
    average.add_argument(
        "--crop-to-head",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="cut slices to the head in the averaged model (default: as every source does)",
    )
    average.add_argument(
        "--bn-images", type=int, default=None, help="re-estimate batch-norm statistics on this many training images"
    )


def _add_validate_real(sub: Subcommands) -> None:
    """``validate-real``: real volumes, series verdicts and localisation."""
    real = sub.add_parser(
        "validate-real", help="tumor detection, series verdicts and heatmap localisation on real volumes"
    )
    real.add_argument("source", type=Path, help="run folder (best checkpoint) or exported weights folder")
    real.add_argument("--lgg", type=Path, default=None, help="LGG folder: one sub-folder per patient (validation only)")
    real.add_argument("--normal", type=Path, default=None, help="folder of normal whole-head NIfTI volumes")
    real.add_argument("--figshare", type=Path, default=None, help="figshare-style class folders with masks/")
    real.add_argument(
        "--figshare-split", type=Path, default=None, help="only the validation images named by this split file"
    )
    real.add_argument(
        "--method", default=None, help="heatmap method judged against the masks (default: the weights config's)"
    )
    real.add_argument("--limit", type=int, default=None, help="first N patients/volumes of each set (quick checks)")
    real.add_argument(
        "--card", type=Path, default=None, help="model card whose real-volume table is replaced by these figures"
    )
    real.add_argument("--out", type=Path, default=None, help="write real_metrics.json, traces and plots here")


def _add_saliency_bench(sub: Subcommands) -> None:
    """``saliency-bench``: heatmap methods judged against tumor masks."""
    bench = sub.add_parser("saliency-bench", help="heatmap methods judged against tumor masks (pointing game etc.)")
    bench.add_argument("source", type=Path, help="exported weights folder (or run folder) whose maps are judged")
    bench.add_argument("--figshare", type=Path, default=None, help="figshare-style class folders with masks/")
    bench.add_argument(
        "--figshare-split", type=Path, default=None, help="masked_split.json: its validation slices only"
    )
    bench.add_argument(
        "--lgg", type=Path, default=None, help="LGG folder (validation only): FLAIR and T1-Gd tumor slices"
    )
    bench.add_argument(
        "--methods", default=None, help="comma-separated methods (default: every gradient method; occlusion is slow)"
    )
    bench.add_argument("--limit", type=int, default=None, help="at most N slices per set, spread over it")
    bench.add_argument(
        "--max-cost", type=float, default=None, help="default method: at most this x Grad-CAM's time (default 1.25)"
    )
    bench.add_argument("--out", type=Path, default=None, help="write metrics JSON/markdown and example overlays here")
    bench.add_argument(
        "--record",
        action="store_true",
        help="write the figures into SOURCE/MODEL_CARD.md and the chosen default into SOURCE/model_config.json",
    )


def _add_fit_guard(sub: Subcommands) -> None:
    """``fit-guard``: the intended-use guard's statistics and rates."""
    guard = sub.add_parser(
        "fit-guard", help="fit and calibrate the intended-use guard for a weights folder, and report its rates"
    )
    guard.add_argument("weights", type=Path, help="exported weights folder (the statistics are written into it)")
    guard.add_argument("--data", required=True, type=Path, help="the folder-per-class dataset the weights learned")
    guard.add_argument("--split", required=True, type=Path, help="the run's split.json (fit: train, calibrate: val)")
    guard.add_argument("--cache-dir", type=Path, default=None, help="decoded-image cache (default: user cache)")
    guard.add_argument("--features", type=Path, default=None, help="reuse / keep the extracted features in FILE")
    guard.add_argument("--train-limit", type=int, default=None, help="fit on a seeded sample of N training images")
    guard.add_argument("--flagged", type=float, default=0.01, help="share of validation slices flagged (0.01)")
    guard.add_argument(
        "--augmented-copies",
        type=int,
        default=0,
        metavar="N",
        help="fit on N realism-augmented copies of each training image instead of the plain images (0)",
    )
    guard.add_argument(
        "--realism-config", type=Path, default=None, help="run_config.json whose realism draws make those copies"
    )
    guard.add_argument(
        "--energy-weight", type=float, default=0.5, help="energy score weight; the feature distance gets the rest"
    )
    guard.add_argument("--lgg", type=Path, default=None, help="real LGG volumes (brain MR: must stay inside)")
    guard.add_argument("--normal", type=Path, default=None, help="normal-head NIfTI volumes (must stay inside)")
    guard.add_argument(
        "--ood", action="append", default=[], metavar="NAME=DIR", help="images that are not brain MR (repeatable)"
    )
    guard.add_argument("--limit", type=int, default=None, help="first N patients/volumes of --lgg and --normal")
    guard.add_argument("--card", type=Path, action="append", default=[], help="Markdown file(s) given the rates table")
    guard.add_argument("--out", type=Path, default=None, help="write guard_metrics.json here")


def _strip_depth(text: str) -> float:
    from core.model.model_config import MAX_STRIP_DEPTH, ModelConfigError, check_strip_depth

    try:
        depth = check_strip_depth(float(text))
    except (ValueError, ModelConfigError):
        depth = 0.0
    if not depth:  # 0 would export a config without the setting
        raise argparse.ArgumentTypeError(f"a share of the head's side above 0 and under {MAX_STRIP_DEPTH}")
    return depth


def _prior_shift(text: str) -> float:
    from core.model.model_config import MAX_PRIOR_SHIFT, ModelConfigError, check_prior_shift

    try:
        return check_prior_shift(float(text))
    except (ValueError, ModelConfigError):
        raise argparse.ArgumentTypeError(f"log-odds from {-MAX_PRIOR_SHIFT:g} to {MAX_PRIOR_SHIFT:g}") from None


def _add_export(sub: Subcommands) -> None:
    """``export``: weights, config and model card."""
    export = sub.add_parser("export", help="write the weights, model_config.json and MODEL_CARD.md")
    export.add_argument("run_dir", type=Path)
    export.add_argument("--to", required=True, type=Path, help="weights folder, e.g. weights/")
    export.add_argument("--force", action="store_true", help="overwrite existing exported files")
    export.add_argument("--version", default=None, help="model version recorded in the config")
    export.add_argument("--data-description", default="", help="one sentence on the training data for the model card")
    export.add_argument(
        "--test-time-flip",
        action="store_true",
        help="the application averages each slice with its mirror image; metrics are re-measured that way",
    )
    export.add_argument(
        "--test-time-strip",
        type=_strip_depth,
        default=0.0,
        metavar="DEPTH",
        help="the application averages each slice with its view stripped to a brain outline DEPTH of the head's "
        "side inside the head (e.g. 0.09); metrics are re-measured that way",
    )
    export.add_argument(
        "--tumor-prior-shift",
        type=_prior_shift,
        default=0.0,
        metavar="LOGODDS",
        help="after calibration, the tumor classes gain LOGODDS against notumor (a prior correction; choose it on "
        "real validation volumes); the calibrated metrics include it",
    )
    export.add_argument("--cache-dir", type=Path, default=None, help="decoded-image cache (with test-time views)")


_TRAIN_FIELDS = {
    "stages": "stages",
    "batch_size": "batch_size",
    "optimizer": "optimizer",
    "lr": "learning_rate",
    "weight_decay": "weight_decay",
    "warmup_epochs": "warmup_epochs",
    "label_smoothing": "label_smoothing",
    "class_weights": "class_weights",
    "val_fraction": "val_fraction",
    "dedup_bits": "dedup_max_bits",
    "seed": "seed",
    "precision": "precision",
    "widths": "widths",
    "channels": "channels",
    "dropout": "dropout",
    "patience": "patience",
    "max_steps_per_epoch": "max_steps_per_epoch",
}


def realism_from(settings: list[str]) -> RealismConfig:
    """The default realistic augmentation with ``NAME=VALUE`` changes; unknown names and bad values refused."""
    from training.realism import RealismConfig

    defaults = RealismConfig().to_json()
    changes: dict[str, float] = {}
    for setting in settings:
        name, _, text = setting.partition("=")
        if name not in defaults:
            raise TrainingError(f"--realism-set {setting!r}: unknown setting (known: {', '.join(sorted(defaults))})")
        try:
            changes[name] = type(defaults[name])(text)
        except ValueError:
            raise TrainingError(f"--realism-set {setting!r}: {text!r} is not a number") from None
    return RealismConfig(**{**defaults, **changes})


def train_config_from_args(args: argparse.Namespace) -> TrainConfig:
    """The run configuration a ``train`` command line asks for (defaults for what it leaves out)."""
    from training.config import TrainConfig

    values = {field: getattr(args, arg) for arg, field in _TRAIN_FIELDS.items() if getattr(args, arg) is not None}
    if args.epochs is not None:
        if args.stages is not None:
            raise TrainingError("give either --stages or --epochs, not both")
        if args.epochs < 1 or (args.size is not None and args.size < 8):
            raise TrainingError("--epochs must be at least 1 and --size at least 8")
        values["stages"] = [[args.size or 128, args.epochs]]
    elif args.size is not None:
        raise TrainingError("--size goes with --epochs (or give --stages SIZE:EPOCHS)")
    if args.realism_set and not args.realism:
        raise TrainingError("--realism-set goes with --realism")
    if args.realism:
        values["realism"] = realism_from(args.realism_set)
    if args.crop_to_head:
        values["crop_to_head"] = True
    if args.mask_loss is not None:
        if args.mask_loss < 0:
            raise TrainingError("--mask-loss must not be negative")
        values["mask_loss_weight"] = args.mask_loss
    if args.strip_consistency is not None:
        values["strip_consistency_weight"] = args.strip_consistency
    return TrainConfig(
        masked_data=str(args.masked_data.resolve()) if args.masked_data else None,
        data=str(args.data.resolve()),
        out=str(args.out.resolve()),
        init=str(args.init.resolve()) if args.init else None,
        init_weights=str(args.init_weights.resolve()) if args.init_weights else None,
        split=str(args.split.resolve()) if args.split else None,
        **values,
    )


def _train(args: argparse.Namespace) -> int:
    from training.trainer import start_run

    run = start_run(train_config_from_args(args), args.cache_dir, args.strategy)
    print(f"training finished: {run}")
    return 0


def _resume(args: argparse.Namespace) -> int:
    from training.trainer import run_training

    run = run_training(args.run_dir, args.cache_dir, args.strategy)
    print(f"training finished: {run}")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from training.evaluate import evaluate_source

    flip = {"config": None, "on": True, "off": False}[args.test_time_flip]
    report = evaluate_source(
        args.source, args.data, args.out, args.cache_dir, split_file=args.split, test_time_flip=flip
    )
    print(report)
    return 0


def _validate_real(args: argparse.Namespace) -> int:
    from training.real_eval import format_real_metrics, real_metrics_markdown, replace_card_section, validate_sources

    if args.card is not None and args.limit is not None:
        raise TrainingError("--card takes the figures of every volume: leave out --limit")
    metrics = validate_sources(
        args.source,
        lgg=args.lgg,
        normal=args.normal,
        figshare=args.figshare,
        figshare_split=args.figshare_split,
        method=args.method,
        limit=args.limit,
        out=args.out,
    )
    print(format_real_metrics(metrics))
    if args.card is not None:
        replace_card_section(args.card, real_metrics_markdown(metrics))
        print(f"real-volume figures written into {args.card}")
    return 0


def _saliency_bench(args: argparse.Namespace) -> int:
    from core.model.saliency import GRADIENT_METHODS, check_method
    from training.saliency_bench import DEFAULT_MAX_COST, bench_source, format_results, record

    if args.limit is not None and args.limit < 1:
        raise TrainingError("--limit must be at least 1")
    methods = [check_method(m) for m in args.methods.split(",")] if args.methods else list(GRADIENT_METHODS)
    if args.record and not (args.source / "model_config.json").is_file():
        raise TrainingError("--record needs an exported weights folder (with model_config.json) as SOURCE")
    results = bench_source(
        args.source,
        figshare=args.figshare,
        figshare_split=args.figshare_split,
        lgg=args.lgg,
        methods=methods,
        limit=args.limit,
        out=args.out,
        max_cost=args.max_cost if args.max_cost is not None else DEFAULT_MAX_COST,
    )
    print(format_results(results))
    if args.record:
        record(args.source, results, "neuroreview-train " + shlex.join(args.argv))
        print(f"figures written into {args.source / 'MODEL_CARD.md'}; default method {results['default_method']}")
    return 0


def _fit_guard(args: argparse.Namespace) -> int:
    from training.guard_report import fit_and_report

    print(fit_and_report(args))
    return 0


def _average(args: argparse.Namespace) -> int:
    from training.average import average_runs

    run = average_runs(
        args.sources,
        args.data,
        args.out,
        size=args.size,
        cache_dir=args.cache_dir,
        mix=args.mix,
        crop_to_head=args.crop_to_head,
        bn_images=args.bn_images,
    )
    print(f"averaged model written to {run}; export it with `neuroreview-train export {run} --to FOLDER`")
    return 0


def _export(args: argparse.Namespace) -> int:
    from training.export import export_run

    folder = export_run(
        args.run_dir,
        args.to,
        force=args.force,
        version=args.version,
        data_description=args.data_description,
        test_time_flip=args.test_time_flip,
        cache_dir=args.cache_dir,
        test_time_strip=args.test_time_strip,
        tumor_prior_shift=args.tumor_prior_shift,
    )
    print(f"exported to {folder}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from core.platform.user_paths import keep_keras_home_private

    keep_keras_home_private()
    args = build_parser().parse_args(argv)
    args.argv = list(argv) if argv is not None else sys.argv[1:]
    handlers = {
        "train": _train,
        "resume": _resume,
        "evaluate": _evaluate,
        "average": _average,
        "validate-real": _validate_real,
        "saliency-bench": _saliency_bench,
        "export": _export,
        "fit-guard": _fit_guard,
    }
    try:
        return handlers[args.command](args)
    except TrainingError as exc:
        print(f"neuroreview-train: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(
            "neuroreview-train: interrupted; `neuroreview-train resume RUN_DIR` continues from the last epoch",
            file=sys.stderr,
        )
        return 130
    except (OSError, ValueError) as exc:
        print(f"neuroreview-train: error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

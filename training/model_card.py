"""MODEL_CARD.md generated from an exported model config."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from core.model.model_config import ModelConfig


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.2f} %"


def _auc(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def render_model_card(config: ModelConfig) -> str:
    m: dict[str, Any] = config.metrics.get("calibrated", {})
    raw: dict[str, Any] = config.metrics.get("uncalibrated", {})
    prov = config.provenance
    data = prov.get("dataset", {})
    train = prov.get("training", {})
    env = prov.get("environment", {})
    rows = "\n".join(
        f"| {name} | {_pct(pc['precision'])} | {_pct(pc['recall'])} | {pc['f1']:.4f} | "
        f"{_auc(pc['roc_auc'])} | {pc['support']} |"
        for name, pc in m.get("per_class", {}).items()
    )
    confusion = m.get("confusion_matrix", [])
    header = " | ".join(config.class_names)
    conf_rows = "\n".join(
        f"| {config.class_names[i]} | " + " | ".join(str(v) for v in row) + " |" for i, row in enumerate(confusion)
    )
    return f"""# Model card: {config.model_name} {config.model_version}

**Research and education use only. Not a medical device. Not for diagnostic use.**

## What it does
Classifies one 2-D brain MRI slice into {", ".join(config.class_names)} (four-way softmax,
temperature-calibrated with T = {config.temperature:.3f}). P(tumor) = 1 - P(notumor).{_test_time_sentence(config)}

## Architecture and input
VGG19 topology with batch normalisation (16 convolutions of 3x3 in blocks of
{", ".join(str(d) for d in config.architecture.depths)}; widths {", ".join(str(w) for w in config.architecture.widths)}),
global average pooling, dropout {config.architecture.dropout}, dense softmax head.
Input: {config.input_size} x {config.input_size} x {config.architecture.channels}, the application's model rendering
(0.5-99.5 percentile stretch to 8 bits),{_crop_words(config)} padded to a square, resized ({config.preprocessing.resize}),
scaled by {config.preprocessing.scale:.6g} and offset by {config.preprocessing.offset:g}.
Weights: `{config.weights_file}`, SHA-256 `{config.weights_sha256}` ({prov.get("weights_storage", "")}).

## Training data
{data.get("description") or "Folder " + str(data.get("folder", "?"))}. Images per class: {data.get("counts", {})}.
Dataset fingerprint `{data.get("fingerprint", "")}`. Initialisation: {train.get("initialisation", "")}.
Split: {data.get("train_images", "?")} training / {data.get("val_images", "?")} validation images; exact and near-duplicate
images ({data.get("near_duplicate_pairs", "?")} pairs found) are kept on one side of the split ({data.get("groups", "?")} groups).{_reused(data)}

## Metrics ({config.metrics.get("split", "")})
| metric | value |
|---|---|
| accuracy | {_pct(m.get("accuracy"))} |
| macro-F1 | {m.get("macro_f1", 0):.4f} |
| tumor-vs-no-tumor sensitivity | {_pct(m.get("tumor_sensitivity"))} |
| tumor-vs-no-tumor specificity | {_pct(m.get("tumor_specificity"))} |
| tumor-vs-no-tumor ROC AUC | {m.get("tumor_roc_auc") or 0:.4f} |
| expected calibration error (15 bins), before temperature | {raw.get("ece", 0):.4f} |
| expected calibration error (15 bins), after temperature | {m.get("ece", 0):.4f} |
{_cross_fitted_row(config.metrics)}
The temperature was fitted on {config.metrics.get("temperature_fitted_on", "the validation split")}, so the
calibrated ECE is optimistic{_cross_fitted_note(config.metrics)}.

{_single_view_table(config.metrics)}| class | precision | recall | F1 | ROC AUC (one-vs-rest) | n |
|---|---|---|---|---|---|
{rows}

Confusion matrix (rows: true, columns: predicted):

| | {header} |
|---|{"---|" * len(config.class_names)}
{conf_rows}

## Training run
{_training_run(train, env)}

## Limitations
- Validation figures come from a split of the same public dataset; held-out data from other scanners,
  sequences, institutions or patient populations will be harder. The dataset has no patient identifiers,
  so slices of one patient may still sit on both sides of the split even after duplicate grouping.
- Four classes only: any other finding (metastasis, stroke, haemorrhage, artefact) is forced into one of them.
- Single 2-D slices, not volumes; series-level results are an aggregation rule, not a model output.
- Saliency heatmaps show where the network's evidence lies; they are not segmentations.
"""


def _cross_fitted_row(metrics: dict[str, Any]) -> str:
    cross = metrics.get("ece_cross_fitted")
    if not cross:
        return ""
    return (
        f"| expected calibration error (15 bins), after temperature, cross-fitted ({cross['folds']} folds) "
        f"| {cross['ece']:.4f} |\n"
    )


def _cross_fitted_note(metrics: dict[str, Any]) -> str:
    cross = metrics.get("ece_cross_fitted")
    if not cross:
        return ""
    spread = f"{min(cross['temperatures']):.3f}-{max(cross['temperatures']):.3f}"
    return (
        f"; the cross-fitted figure avoids that: each of {cross['folds']} class-stratified folds is calibrated "
        f"with the temperature fitted on the other folds (T {spread})"
    )


def _crop_words(config: ModelConfig) -> str:
    """The crop step of the input, when the weights were trained (and so must be fed) cut to the head."""
    return " cut to the head's bounding box," if config.preprocessing.crop_to_head else ""


def _test_time_sentence(config: ModelConfig) -> str:
    sentence = ""
    if config.test_time_flip:
        sentence += (
            "\nTest-time flip: each slice is classified together with its left-right mirror image and the two\n"
            "logit vectors are averaged (twice the forward-pass work); every figure below is for that averaged\n"
            "prediction, measured on the exported weights."
        )
    if config.test_time_strip:
        sentence += (
            "\nTest-time strip: each slice is also classified as its view stripped to a rough brain outline (the\n"
            f"head shrunk by {config.test_time_strip:.0%} of its side) and the logit vectors are averaged; every\n"
            "figure below is for that averaged prediction, measured on the exported weights."
        )
    if config.tumor_prior_shift:
        sentence += (
            f"\nTumor prior shift: after calibration, the tumor classes gain {config.tumor_prior_shift:+.2f} log-odds\n"
            "against notumor (a prior correction chosen on the real validation volumes, not on the class folders);\n"
            "every figure below includes it."
        )
    return sentence


def _single_view_table(metrics: dict[str, Any]) -> str:
    single = metrics.get("without_test_time_views") or metrics.get("without_test_time_flip")  # older exports
    if not single:
        return ""
    names = list(single["recall"])
    recalls = " / ".join(f"{100 * single['recall'][n]:.1f}" for n in names)
    return (
        "The same exported weights on the same images alone (one view, own temperature):\n\n"
        "| metric (one view) | value |\n|---|---|\n"
        f"| accuracy | {_pct(single['accuracy'])} |\n"
        f"| macro-F1 | {single['macro_f1']:.4f} |\n"
        f"| recall {' / '.join(names)} | {recalls} % |\n"
        f"| tumor-vs-no-tumor sensitivity | {_pct(single.get('tumor_sensitivity'))} |\n"
        f"| expected calibration error after temperature | {single['ece']:.4f} |\n\n"
    )


def _reused(data: dict[str, Any]) -> str:
    source = data.get("split_reused_from")
    return f" The split was reused unchanged from `{source}`." if source else ""


def _training_run(train: dict[str, Any], env: dict[str, Any]) -> str:
    """The paragraph on how the weights were made: a training run, or a weight average of several runs."""
    where = (
        f"{env.get('processor', '?')} ({env.get('cpu_count', '?')} CPUs, GPUs: {env.get('gpus') or 'none'}, "
        f"precision {env.get('precision_policy', '?')}).\nSoftware: {env.get('versions', {})}; "
        f"git commit {env.get('git_commit')}."
    )
    if train.get("averaged_from"):
        parts = "\n".join(f"- {_ingredient(item)}" for item in train["averaged_from"])
        return (
            f"No training of its own: the {train.get('initialisation')}, batch-norm statistics "
            f"{train.get('batch_norm_statistics')}; averaged in {train.get('train_seconds', 0) / 60:.0f} min on "
            f"{where}\nIngredients (their own training records are in `training_run/ingredients/`):\n{parts}"
        )
    return (
        f"Epochs completed {train.get('epochs_completed')} of {train.get('epochs_planned')} "
        f"(best epoch {train.get('best_epoch')}),\nstages (size:epochs) {train.get('stages')}, "
        f"{train.get('optimizer')} with peak learning rate {train.get('learning_rate')},\n"
        f"weight decay {train.get('weight_decay')}, label smoothing {train.get('label_smoothing')}, "
        f"batch {_batch(train)},\nseed {train.get('seed')}; "
        f"{train.get('train_seconds', 0) / 3600:.1f} h of training on {where}"
    )


def _batch(train: dict[str, Any]) -> str:
    """The batch as trained: per replica, and the global batch when several replicas trained together."""
    spread = train.get("distribution") or {}
    if int(spread.get("replicas", 1)) <= 1:
        return str(train.get("batch_size"))
    return (
        f"{train.get('batch_size')} per replica x {spread['replicas']} replicas on {spread.get('workers', 1)} "
        f"worker(s) ({spread.get('strategy')}; global batch {spread.get('global_batch_size')}, learning rate "
        f"scaled to {spread.get('peak_learning_rate'):.3g})"
    )


def _ingredient(item: dict[str, Any]) -> str:
    if item.get("kind") == "exported weights":
        return f"exported weights version {item.get('model_version')} (SHA-256 `{item.get('weights_sha256')}`)"
    return (
        f"training run checkpoint `{Path(str(item.get('source'))).parent.parent.name}/checkpoint/"
        f"{Path(str(item.get('source'))).name}` after {item.get('epochs_completed')} epochs "
        f"(SHA-256 `{item.get('weights_sha256')}`)"
    )

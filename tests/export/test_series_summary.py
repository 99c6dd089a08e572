"""The series aggregation rule, case by case."""

from __future__ import annotations

import pytest

from core.model.series_summary import DEFAULT_RUN, aggregation_rule, summarize_series
from export.helpers import make_prediction


def test_best_run_of_neighbours_and_majority_tumor_class() -> None:
    preds = [
        make_prediction((0.05, 0.05, 0.85, 0.05), heatmap=False),  # P(tumor) 0.15
        make_prediction((0.10, 0.60, 0.20, 0.10), heatmap=False),  # meningioma, 0.80
        make_prediction((0.10, 0.55, 0.30, 0.05), heatmap=False),  # meningioma, 0.70
        make_prediction((0.90, 0.02, 0.05, 0.03), heatmap=False),  # glioma, 0.95
    ]
    summary = summarize_series(preds)
    assert summary.label == "meningioma"  # 2 votes beat 1, although glioma has the highest P(tumor)
    assert summary.p_tumor == pytest.approx((0.80 + 0.70 + 0.95) / 3)  # slices 1-3 are the best run of three
    assert summary.key_index == 3  # the run's highest slice
    assert summary.n_slices == 4 and summary.n_suspicious == 3
    assert summary.votes == {"meningioma": 2, "glioma": 1}
    assert summary.rule == aggregation_rule(0.5, DEFAULT_RUN) and "3 neighbouring slices" in summary.rule


def test_one_stray_slice_does_not_make_a_stack_tumor() -> None:
    quiet = make_prediction((0.02, 0.02, 0.94, 0.02), heatmap=False)
    stray = make_prediction((0.97, 0.01, 0.01, 0.01), heatmap=False)
    stack = [quiet] * 5 + [stray] + [quiet] * 5
    summary = summarize_series(stack)
    assert summary.label == "notumor" and summary.n_suspicious == 1  # the stray slice is still counted
    assert summary.p_tumor == pytest.approx((0.06 + 0.99 + 0.06) / 3) and summary.key_index == 5
    three = [quiet] * 4 + [stray] * 3 + [quiet] * 4
    assert summarize_series(three).label == "glioma"
    # images that are not neighbouring slices (a folder of PNG files) each count alone
    assert summarize_series(stack, stacked=False).label == "glioma"
    assert summarize_series(stack, stacked=False).p_tumor == pytest.approx(0.99)


def test_a_short_series_is_one_run() -> None:
    preds = [make_prediction((0.9, 0.02, 0.05, 0.03), False), make_prediction((0.1, 0.1, 0.7, 0.1), False)]
    summary = summarize_series(preds)
    assert summary.p_tumor == pytest.approx((0.95 + 0.30) / 2) and summary.label == "glioma" and summary.key_index == 0


def test_no_slice_over_threshold_is_notumor() -> None:
    preds = [make_prediction((0.1, 0.1, 0.7, 0.1), heatmap=False), make_prediction((0.2, 0.1, 0.6, 0.1), False)]
    summary = summarize_series(preds)
    assert summary.label == "notumor" and summary.n_suspicious == 0 and summary.key_index == 1


def test_tie_goes_to_larger_summed_probability() -> None:
    preds = [make_prediction((0.55, 0.1, 0.3, 0.05), False), make_prediction((0.05, 0.8, 0.1, 0.05), False)]
    assert summarize_series(preds).label == "meningioma"


def test_suspicious_slice_labelled_notumor_votes_for_its_top_tumor_class() -> None:
    # P(notumor) 0.4 is the single largest, but P(tumor) 0.6 >= 0.5: the slice votes for glioma
    summary = summarize_series([make_prediction((0.3, 0.2, 0.4, 0.1), False)])
    assert summary.label == "glioma" and summary.n_suspicious == 1


def test_empty_series_is_an_error() -> None:
    with pytest.raises(ValueError, match="without classified slices"):
        summarize_series([])


def test_slices_outside_the_intended_use_are_left_out_and_counted() -> None:
    from dataclasses import replace

    quiet = make_prediction((0.02, 0.02, 0.94, 0.02), heatmap=False)
    tumor = make_prediction((0.97, 0.01, 0.01, 0.01), heatmap=False)
    ct = replace(tumor, outside_reason="modality CT (CT), not MR")
    summary = summarize_series([quiet, ct, ct, ct, quiet])
    assert summary.label == "notumor" and summary.n_slices == 2 and summary.n_excluded == 3
    assert summary.key_index in (0, 4) and summary.n_suspicious == 0
    assert summary.excluded_text() == "3 slice(s) excluded, outside intended use: modality CT (CT), not MR (3)"
    assert summarize_series([quiet, tumor, tumor, tumor, quiet]).label == "glioma"  # the same slices, inside
    nothing = summarize_series([ct, ct])
    assert nothing.label == "outside intended use" and not nothing.has_verdict and nothing.n_excluded == 2


def test_exports_show_no_heatmap_over_an_outside_slice() -> None:
    from dataclasses import replace

    from core.model.heatmap_policy import heatmap_note, heatmap_withheld, withhold_heatmap

    tumor = make_prediction((0.97, 0.01, 0.01, 0.01))
    assert tumor.heatmap is not None and withhold_heatmap(tumor).heatmap is not None
    outside = replace(tumor, outside_reason="modality US (ultrasound), not MR")
    assert heatmap_withheld(outside)
    stripped = withhold_heatmap(outside)
    assert stripped.heatmap is None
    assert heatmap_note(stripped) == "Heatmap left out: Outside intended use: modality US (ultrasound), not MR"

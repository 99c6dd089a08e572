"""The bundled weights (skipped until weights/ holds a model): load, classify the sample study, explain."""

from __future__ import annotations

import numpy as np
import pytest

from core.model.model_config import CONFIG_FILENAME
from core.platform.locator import resource_path, weights_dir

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not (weights_dir() / CONFIG_FILENAME).is_file(), reason="no bundled weights in weights/"),
]


def test_bundled_weights_classify_the_sample_study() -> None:
    from core.imaging import PixelStore, open_paths
    from core.model.classifier import Classifier

    clf = Classifier.from_folder()
    assert clf.sha256 == clf.config.weights_sha256
    scan = open_paths([resource_path("sample_study")])
    store = PixelStore()
    slices = [store.model_rendering(ref) for ref in scan.all_slices()[:4]]
    assert slices, "the sample study should hold slices"
    preds = clf.predict(slices, heatmap=True)
    again = clf.predict(slices, heatmap=True)
    for pred, repeat, img in zip(preds, again, slices, strict=True):
        assert sum(pred.probabilities) == pytest.approx(1.0, abs=1e-6)
        assert pred.label in clf.class_names and pred.heatmap_class == pred.label
        assert pred.heatmap is not None and pred.heatmap.shape == img.shape
        assert float(pred.heatmap.min()) >= 0.0 and float(pred.heatmap.max()) <= 1.0
        assert pred.probabilities == repeat.probabilities
        np.testing.assert_array_equal(pred.heatmap, repeat.heatmap)

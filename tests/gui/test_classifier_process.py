"""The workstation's classifier runs in a helper process: same predictions, TensorFlow never in the
GUI process, a dead helper is reported and replaced."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from core.model.classifier_process import ClassifierProcess, ClassifierProcessError
from desktop_app.inference_worker import InferenceWorker, ModelInfo

REPO = Path(__file__).resolve().parents[2]


def _slices() -> list[np.ndarray]:
    rng = np.random.default_rng(3)
    return [rng.integers(0, 256, (24, 20), dtype=np.uint8) for _ in range(3)]


def test_helper_predicts_like_the_classifier_and_is_replaced_when_it_dies(
    tiny_weights_dir: Path, tiny_classifier
) -> None:  # type: ignore[no-untyped-def]
    helper = ClassifierProcess(tiny_weights_dir)
    try:
        assert (helper.sha256, helper.config) == (tiny_classifier.sha256, tiny_classifier.config)
        got = helper.predict(_slices(), heatmap=True)
        want = tiny_classifier.predict(_slices(), heatmap=True)
        for a, b in zip(got, want, strict=True):
            np.testing.assert_allclose(a.probabilities, b.probabilities, atol=1e-5)
            assert a.heatmap is not None and b.heatmap is not None
            np.testing.assert_allclose(a.heatmap, b.heatmap, atol=1e-4)
        with pytest.raises(RuntimeError, match="not a model-rendered uint8"):  # the helper's errors come back
            helper.predict([np.zeros(3, np.uint8)])
        assert helper._executor is not None
        for pid in list(helper._executor._processes):  # the helper dies (e.g. killed for memory)
            os.kill(pid, signal.SIGKILL)
        with pytest.raises(ClassifierProcessError, match="stopped unexpectedly"):
            helper.predict(_slices())
        again = helper.predict(_slices())  # the next request starts a fresh helper
        np.testing.assert_allclose(again[0].probabilities, want[0].probabilities, atol=1e-5)
    finally:
        helper.close()


def test_a_load_error_comes_back_with_its_message(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="model config not found"):
        ClassifierProcess(tmp_path / "no-weights")


def test_the_worker_loads_the_model_in_a_helper_and_never_imports_tensorflow(tiny_weights_dir: Path) -> None:
    script = (
        "import sys\n"
        "from PySide6.QtCore import QCoreApplication\n"
        "from desktop_app.inference_worker import InferenceWorker\n"
        "app = QCoreApplication([])\n"
        f"worker = InferenceWorker({str(tiny_weights_dir)!r})\n"
        "ready = []\n"
        "worker.model_ready.connect(ready.append)\n"
        "worker.model_failed.connect(lambda m: print('failed', m))\n"
        "worker.load_model()\n"
        "worker.close()\n"
        "device = ready[0].device if ready else '-'\n"
        "print(len(ready), device, 'tensorflow' in sys.modules, 'ml_dtypes' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=300, check=True
    ).stdout
    assert out.split()[-4:] == ["1", "CPU", "False", "False"], out


def test_closing_the_worker_stops_the_helper(qtbot, tiny_weights_dir: Path) -> None:  # type: ignore[no-untyped-def]
    worker = InferenceWorker(tiny_weights_dir)
    ready: list[ModelInfo] = []
    worker.model_ready.connect(ready.append)
    worker.load_model()
    assert ready and ready[0].sha256
    helper = worker.classifier
    assert isinstance(helper, ClassifierProcess) and helper._executor is not None
    processes = list(helper._executor._processes.values())
    worker.close()
    assert not worker.is_loaded
    for process in processes:
        process.join(timeout=30)
        assert not process.is_alive()

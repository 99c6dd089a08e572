"""Device fallback and precision decisions, tested with fakes (no GPU needed)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from core.model import device as dev


class FakeOOM(Exception):
    pass


def test_backoff_halves_the_batch_then_falls_back_to_cpu() -> None:
    calls: list[tuple[int, str]] = []

    def run(chunk: Sequence[int], device: str) -> list[tuple[int, str]]:
        calls.append((len(chunk), device))
        if device == dev.GPU:
            raise FakeOOM("out of memory")
        return [(item, device) for item in chunk]

    out, report = dev.run_with_oom_backoff(list(range(10)), run, device=dev.GPU, batch_size=8, errors=(FakeOOM,))
    assert out == [(i, dev.CPU) for i in range(10)]
    assert calls[:4] == [(8, dev.GPU), (4, dev.GPU), (2, dev.GPU), (1, dev.GPU)]
    assert calls[4:] == [(8, dev.CPU), (2, dev.CPU)]  # back to the requested batch on the CPU
    assert report.fell_back_to_cpu and report.oom_retries == 3 and report.device == dev.CPU
    extra = report.as_extra()
    assert extra["fell_back_to_cpu"] is True and "fell back to the CPU" in extra["device_notes"][-1]


def test_backoff_keeps_the_smaller_batch_that_fits() -> None:
    def run(chunk: Sequence[int], device: str) -> list[int]:
        if len(chunk) > 3:
            raise FakeOOM
        return list(chunk)

    out, report = dev.run_with_oom_backoff(list(range(7)), run, device=dev.GPU, batch_size=8, errors=(FakeOOM,))
    assert out == list(range(7))
    assert report.batch_size == 2 and report.device == dev.GPU and not report.fell_back_to_cpu


def test_backoff_reraises_on_cpu_at_batch_one_and_passes_other_errors() -> None:
    def oom(chunk: Sequence[int], device: str) -> list[int]:
        raise FakeOOM("still too big")

    with pytest.raises(FakeOOM):
        dev.run_with_oom_backoff([1, 2], oom, device=dev.CPU, batch_size=2, errors=(FakeOOM,))

    def broken(chunk: Sequence[int], device: str) -> list[int]:
        raise KeyError("bug")

    with pytest.raises(KeyError):
        dev.run_with_oom_backoff([1], broken, device=dev.GPU, batch_size=4, errors=(FakeOOM,))
    with pytest.raises(ValueError):
        dev.run_with_oom_backoff([1], broken, device=dev.GPU, batch_size=0, errors=(FakeOOM,))


def test_nothing_unusual_gives_no_extra() -> None:
    out, report = dev.run_with_oom_backoff([1, 2, 3], lambda c, d: list(c), device=dev.CPU, batch_size=2, errors=())
    assert out == [1, 2, 3] and report.as_extra() == {}


def _never() -> bool:
    raise AssertionError("this self-check should not run")


def test_choose_precision_decision_table() -> None:
    def decide(**kw: object) -> str:
        args: dict = {"device": dev.CPU, "override": None, "cpu_bf16": True, "agrees": lambda: True}
        args["faster"] = lambda: True
        args.update(kw)
        return dev.choose_precision(**args).precision

    assert decide() == dev.BFLOAT16
    assert decide(cpu_bf16=False, agrees=_never, faster=_never) == dev.FLOAT32
    assert decide(agrees=lambda: False, faster=_never) == dev.FLOAT32
    assert decide(faster=lambda: False) == dev.FLOAT32
    assert decide(device=dev.GPU, agrees=_never, faster=_never) == dev.FLOAT32
    assert decide(override=dev.BFLOAT16, cpu_bf16=False, agrees=_never, faster=_never) == dev.BFLOAT16
    assert decide(override=dev.FLOAT32, agrees=_never, faster=_never) == dev.FLOAT32
    reason = dev.choose_precision(device=dev.CPU, override=None, cpu_bf16=True, agrees=lambda: False, faster=_never)
    assert "disagreed" in reason.reason


def test_precision_override_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(dev.PRECISION_ENV, raising=False)
    assert dev.precision_override() is None
    monkeypatch.setenv(dev.PRECISION_ENV, " BFloat16 ")
    assert dev.precision_override() == dev.BFLOAT16
    monkeypatch.setenv(dev.PRECISION_ENV, "fp8")
    with pytest.raises(ValueError, match="NEUROREVIEW_PRECISION"):
        dev.precision_override()


def test_probabilities_agree() -> None:
    ref = np.array([[0.7, 0.1, 0.1, 0.1], [0.2, 0.5, 0.2, 0.1]])
    assert dev.probabilities_agree(ref, ref + np.array([[-0.01, 0.01, 0, 0], [0, 0.015, -0.015, 0]]))
    assert not dev.probabilities_agree(ref, ref + np.array([[-0.03, 0.03, 0, 0], [0, 0, 0, 0]]))
    swapped = np.array([[0.7, 0.1, 0.1, 0.1], [0.33, 0.32, 0.25, 0.1]])
    near = np.array([[0.7, 0.1, 0.1, 0.1], [0.32, 0.33, 0.25, 0.1]])
    assert not dev.probabilities_agree(swapped, near)  # within 0.02 but another label
    assert not dev.probabilities_agree(ref, ref[:1])


def test_cpu_flags(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dev.sys, "platform", "linux")
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nflags\t\t: fpu sse avx2 avx512f\n")
    assert not dev.cpu_supports_bfloat16(info)
    info.write_text("processor\t: 0\nflags\t\t: fpu avx512f avx512_bf16 amx_tile\n")
    assert dev.cpu_supports_bfloat16(info)
    info.write_text("processor\t: 0\nFeatures\t: fp asimd bf16\n")
    assert dev.cpu_supports_bfloat16(info)
    assert not dev.cpu_supports_bfloat16(tmp_path / "missing")


def test_probe_slices_are_deterministic() -> None:
    a, b = dev.probe_slices(), dev.probe_slices()
    assert len(a) == 4 and all(x.dtype == np.uint8 and x.shape == (96, 96) for x in a)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert len({x.tobytes() for x in a}) == 4


def test_self_check_outcome_is_remembered(
    tiny_weights_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import core.model.classifier as classifier_module
    from core.model.classifier import Classifier

    monkeypatch.setenv("NEUROREVIEW_HOME", str(tmp_path / "home"))
    monkeypatch.delenv(dev.PRECISION_ENV, raising=False)
    monkeypatch.setattr(dev, "cpu_supports_bfloat16", lambda: True)
    monkeypatch.setattr(dev, "probabilities_agree", lambda a, b: True)
    timings: list[float] = []

    def fake_time(fn: object, batch: object) -> float:
        timings.append(1.0)
        return 1.0 if len(timings) % 2 else 2.0  # bfloat16 (timed first) is faster

    monkeypatch.setattr(classifier_module, "_best_time", fake_time)
    first = Classifier.from_folder(tiny_weights_dir, warm_up=False)
    assert first.precision == "bfloat16" and len(timings) == 2
    cache = tmp_path / "home" / "cache" / "precision_checks.json"
    assert cache.is_file()
    second = Classifier.from_folder(tiny_weights_dir, warm_up=False)
    assert second.precision == "bfloat16" and "remembered" in second.precision_reason
    assert len(timings) == 2  # no second self-check
    cache.write_text("{not json")
    third = Classifier.from_folder(tiny_weights_dir, warm_up=False)
    assert third.precision == "bfloat16" and len(timings) == 4  # unreadable cache: checked again
    monkeypatch.setenv(dev.PRECISION_ENV, "float32")
    forced = Classifier.from_folder(tiny_weights_dir, warm_up=False)
    assert forced.precision == "float32" and "remembered" not in forced.precision_reason

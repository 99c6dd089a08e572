"""``neuroreview --self-test`` from the checkout: all checks pass with a tiny model, failures exit 1."""

from __future__ import annotations

import io
import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from desktop_app import self_test
from desktop_app.main import build_parser

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = ROOT / "resources" / "selftest" / "manifest.json"


def _run(args: list[str], tmp_path: Path, **extra_env: str) -> subprocess.CompletedProcess[str]:
    """The self-test in a fresh interpreter whose HOME is an empty folder (to see any user file written)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XDG_", "NEUROREVIEW_", "QT_QPA"))}
    env.update(HOME=str(tmp_path / "home"), TF_CPP_MIN_LOG_LEVEL="2", **extra_env)
    (tmp_path / "home").mkdir()
    return subprocess.run(
        [sys.executable, "-m", "desktop_app.main", "--self-test", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _lines(done: subprocess.CompletedProcess[str], prefix: str) -> list[str]:
    return [line for line in done.stdout.splitlines() if line.startswith(prefix)]


def test_self_test_passes_and_leaves_no_user_files(tiny_weights_dir: Path, tmp_path: Path) -> None:
    done = _run([], tmp_path, NEUROREVIEW_WEIGHTS_DIR=str(tiny_weights_dir))
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    assert not _lines(done, "FAIL")
    weights = _lines(done, "PASS weights integrity")
    assert len(weights) == 1 and str(tiny_weights_dir) in weights[0] and "$NEUROREVIEW_WEIGHTS_DIR" in weights[0]
    entries = json.loads(MANIFEST.read_text(encoding="utf-8"))["files"]
    decoded = _lines(done, "PASS decode ")
    assert len(decoded) == len(entries)
    for entry in entries:
        assert any(entry["transfer_syntax"] in line for line in decoded), entry["file"]
    for check in ("main window", "classify sample study", "model helper process", "report", "no network"):
        assert len(_lines(done, f"PASS {check}:")) == 1, check
    assert done.stdout.rstrip().splitlines()[-1].startswith("self-test all passed")
    assert list((tmp_path / "home").rglob("*")) == []  # settings, logs, caches, ~/.keras: all went to the temp folder


def test_tampered_weights_fail_and_dependent_checks_do_not_run(tiny_weights_dir: Path, tmp_path: Path) -> None:
    folder = tmp_path / "weights"
    shutil.copytree(tiny_weights_dir, folder)
    config = json.loads((folder / "model_config.json").read_text(encoding="utf-8"))
    data = bytearray((folder / config["weights_file"]).read_bytes())
    data[len(data) // 2] ^= 0xFF
    (folder / config["weights_file"]).write_bytes(bytes(data))
    done = _run(["--weights", str(folder)], tmp_path)
    assert done.returncode == 1
    failed = _lines(done, "FAIL")
    names = [line.split(":")[0] for line in failed]
    assert names == ["FAIL weights integrity", "FAIL classify sample study", "FAIL model helper process", "FAIL report"]
    assert "SHA-256" in failed[0] or "sha" in failed[0].lower()
    assert "not run" in failed[1]
    assert _lines(done, "PASS decode ") and _lines(done, "PASS main window")
    assert "Traceback" not in done.stdout + done.stderr


def test_parser_offers_self_test() -> None:
    args = build_parser().parse_args(["--self-test", "--weights", "w"])
    assert args.self_test and args.weights == Path("w")
    assert not build_parser().parse_args([]).self_test


def test_a_raising_check_becomes_one_fail_line() -> None:
    def boom() -> str:
        raise ZeroDivisionError("division by zero")

    assert self_test._run_check("x", boom).line == "FAIL x: ZeroDivisionError: division by zero"
    failing = self_test._run_check("y", lambda: (_ for _ in ()).throw(self_test.SelfTestError("bad file")))
    assert failing.line == "FAIL y: bad file"
    assert self_test._run_check("z", lambda: "fine").line == "PASS z: fine"


def test_network_use_is_refused_and_recorded_while_watched() -> None:
    log: list[str] = []
    with self_test._watch_network(log), pytest.raises(PermissionError):
        socket.getaddrinfo("neuroreview.invalid", 443)
    assert len(log) == 1 and "neuroreview.invalid" in log[0]
    state = self_test._State(tmp=Path("."), weights=Path("."), weights_source="test", store=None)  # type: ignore[arg-type]
    state.network_attempts = log
    with pytest.raises(self_test.SelfTestError, match="1 attempt"):
        self_test.check_network(state)


def test_isolation_restores_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KERAS_HOME", "/somewhere")
    monkeypatch.delenv("NEUROREVIEW_HOME", raising=False)
    with self_test._isolated_environment(tmp_path):
        assert os.environ["NEUROREVIEW_HOME"].startswith(str(tmp_path))
        assert os.environ["KERAS_HOME"].startswith(str(tmp_path))
        assert os.environ["QT_QPA_PLATFORM"] == "offscreen"
    assert os.environ["KERAS_HOME"] == "/somewhere"
    assert "NEUROREVIEW_HOME" not in os.environ


def test_summary_counts_failures(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    results = [self_test.CheckResult("a", True, "ok"), self_test.CheckResult("b", False, "broken")]

    def fake_checks(weights: Path | None, tmp: Path, emit: object) -> list[self_test.CheckResult]:
        for result in results:
            emit(result)  # type: ignore[operator]
        return results

    monkeypatch.setattr(self_test, "run_checks", fake_checks)
    out = io.StringIO()
    assert self_test.run_self_test(out=out) == 1
    text = out.getvalue().splitlines()
    assert text[1:3] == ["PASS a: ok", "FAIL b: broken"]
    assert text[-1].startswith("self-test 1 FAILED: 2 checks")

"""The frozen package: build.spec from a copy of the checkout, then the built executable's self-test (slow)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SIZE_LIMIT_BYTES = 1.2e9


def _checkout_copy(target: Path) -> Path:
    """The files a fresh clone would have (tracked + untracked, not ignored): no build/, dist/ or caches."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for name in filter(None, (n.decode() for n in listed)):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


@pytest.mark.slow
@pytest.mark.timeout(3600)
@pytest.mark.skipif(shutil.which("git") is None, reason="needs git to list the checkout")
def test_package_builds_and_its_self_test_passes(tmp_path: Path, tiny_weights_dir: Path) -> None:
    source = _checkout_copy(tmp_path / "src")
    started = time.perf_counter()
    build = subprocess.run(
        [
            str(Path(sys.executable).with_name("pyinstaller")),
            "--noconfirm",
            "--clean",
            "--distpath",
            str(tmp_path / "dist"),
            "--workpath",
            str(tmp_path / "build"),
            str(source / "build.spec"),
        ],
        cwd=source,
        capture_output=True,
        text=True,
    )
    build_s = time.perf_counter() - started
    assert build.returncode == 0, build.stderr[-5000:]
    package = tmp_path / "dist" / "NeuroReview"
    env = {k: v for k, v in os.environ.items() if not k.startswith("QT_QPA")}
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    if not (package / "_internal" / "weights" / "model_config.json").is_file():
        env["NEUROREVIEW_WEIGHTS_DIR"] = str(tiny_weights_dir)  # real weights not exported yet
    done = subprocess.run(
        [str(package / "neuroreview"), "--self-test"], env=env, capture_output=True, text=True, timeout=600
    )
    print(f"build {build_s:.0f} s\n{done.stdout}")
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    assert "self-test all passed" in done.stdout
    size = sum(p.lstat().st_size for p in package.rglob("*") if p.is_file() and not p.is_symlink())
    print(f"size {size / 1e9:.3f} GB")
    assert size <= SIZE_LIMIT_BYTES
    assert not [p for p in package.rglob("*") if p.is_symlink() and not p.exists()]  # no dangling links
    plugins = {p.name for p in (package / "_internal" / "PySide6" / "Qt" / "plugins").rglob("*.so")}
    assert {"libqxcb.so", "libqoffscreen.so"} <= plugins and "libqgtk3.so" not in plugins

    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from bench.package_bench import run

    figures = run(package, launches=3)
    print(figures)
    assert figures["self_test_exit"] == 0

"""The layering contract: core and training never import Qt or the GUI, and the check really bites."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint(cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(cwd)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


def _contract_section() -> str:
    text = (ROOT / "pyproject.toml").read_text()
    start = text.index("[tool.importlinter]")
    return text[start:]


def test_project_keeps_its_layering() -> None:
    result = _lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


CORE_LAYERS = ("cli", "review", "export", "network", "model", "imaging", "platform")


def _skeleton(root: Path) -> None:
    """Empty packages with the project's names (core's layers included) and its contracts, for a contract to
    bite on."""
    for package in ("core", "training", "desktop_app", *(f"core/{layer}" for layer in CORE_LAYERS)):
        (root / package).mkdir()
        (root / package / "__init__.py").write_text("")
    (root / "pyproject.toml").write_text(_contract_section())


def test_contract_fails_when_core_imports_qt(tmp_path: Path) -> None:
    _skeleton(tmp_path)
    (tmp_path / "core" / "model" / "sneaky.py").write_text("from PySide6 import QtCore  # forbidden\n")
    result = _lint(tmp_path)
    assert result.returncode != 0
    assert re.search(r"core\.model\.sneaky -> PySide6", result.stdout), result.stdout


def test_contract_fails_when_a_core_layer_imports_upwards(tmp_path: Path) -> None:
    _skeleton(tmp_path)
    (tmp_path / "core" / "model" / "network.py").write_text("")
    (tmp_path / "core" / "platform" / "upward.py").write_text("import core.model.network  # forbidden\n")
    result = _lint(tmp_path)
    assert result.returncode != 0
    assert re.search(r"core\.platform\.upward -> core\.model\.network", result.stdout), result.stdout


def test_contract_fails_when_networking_imports_the_exports(tmp_path: Path) -> None:
    _skeleton(tmp_path)
    (tmp_path / "core" / "network" / "leak.py").write_text("import core.export  # forbidden\n")
    result = _lint(tmp_path)
    assert result.returncode != 0
    assert re.search(r"core\.network\.leak -> core\.export", result.stdout), result.stdout


def test_no_pickle_or_load_model_in_the_source_tree() -> None:
    forbidden = re.compile(
        r"allow_pickle\s*=\s*True|(keras|models|saving)\.load_model|import\s+load_model\b|\bload_model\s*,"
        r"|import pickle|from pickle|pickle\.loads?\(|import dill|joblib\.load"
    )
    offenders = []
    for folder in ("core", "training", "desktop_app", "bench"):
        for path in (ROOT / folder).rglob("*.py"):
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
                if forbidden.search(line):
                    offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not offenders, "\n".join(offenders)

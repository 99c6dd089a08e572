"""build.spec: what goes into the package (data files, plugins, excludes), checked without building."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from build_spec_loader import ROOT, load_spec
from tiny_models import write_tiny_weights


@pytest.fixture(scope="module")
def spec() -> tuple[dict, dict]:
    return load_spec()


def _datas(spec: tuple[dict, dict]) -> list[tuple[str, str]]:
    _, calls = spec
    return [(str(src), str(dest)) for src, dest in calls["Analysis"][1]["datas"]]


def test_entry_point_and_names(spec: tuple[dict, dict]) -> None:
    _, calls = spec
    args, _ = calls["Analysis"]
    assert [Path(p) for p in args[0]] == [ROOT / "desktop_app" / "main.py"]
    assert calls["EXE"][1]["name"] == "neuroreview"
    assert calls["EXE"][1]["exclude_binaries"] is True  # one-folder
    assert calls["COLLECT"][1]["name"] == "NeuroReview"


def test_resources_travel_at_their_relative_place(spec: tuple[dict, dict]) -> None:
    datas = _datas(spec)
    manifest = json.loads((ROOT / "resources" / "selftest" / "manifest.json").read_text(encoding="utf-8"))
    wanted = {"manifest.json", *(e["file"] for e in manifest["files"]), *(e["reference"] for e in manifest["files"])}
    bundled = {Path(src).name for src, dest in datas if dest == "resources/selftest"}
    assert wanted <= bundled
    sample = sorted(p.name for p in (ROOT / "resources" / "sample_study").iterdir() if p.is_file())
    assert sample and set(sample) <= {Path(src).name for src, dest in datas if dest == "resources/sample_study"}
    assert not [src for src, _ in datas if "__pycache__" in src]


def test_pixel_plugins_and_their_entry_points_are_bundled(spec: tuple[dict, dict]) -> None:
    _, calls = spec
    hidden = set(calls["Analysis"][1]["hiddenimports"])
    assert {"openjpeg", "rle", "jpeg_ls", "gdcm", "pylibjpeg", "desktop_app.self_test"} <= hidden
    metadata = {Path(src).name.split("-")[0] for src, _ in _datas(spec) if src.endswith(".dist-info")}
    assert {"pylibjpeg_openjpeg", "pylibjpeg_rle", "pylibjpeg", "pyjpegls", "python_gdcm"} <= metadata
    assert any(dest == os.path.join("_gdcm", "XML") for _, dest in _datas(spec))


def test_nibabel_travels_for_nifti_and_mosaics(spec: tuple[dict, dict]) -> None:
    _, calls = spec
    hidden = set(calls["Analysis"][1]["hiddenimports"])
    assert {"nibabel", "nibabel.nifti1", "nibabel.nicom.csareader"} <= hidden
    assert "nibabel" not in set(calls["Analysis"][1]["excludes"])


def test_dicom_networking_is_bundled_with_its_metadata(spec: tuple[dict, dict]) -> None:
    _, calls = spec
    assert {"pynetdicom", "core.network"} <= set(calls["Analysis"][1]["hiddenimports"])
    assert any(Path(src).name.startswith("pynetdicom-") for src, _ in _datas(spec) if src.endswith(".dist-info"))


def test_inference_free_packages_are_excluded(spec: tuple[dict, dict]) -> None:
    _, calls = spec
    excludes = set(calls["Analysis"][1]["excludes"])
    for name in ("tensorboard", "matplotlib", "training", "pytest", "IPython", "tkinter", "jax", "torch"):
        assert name in excludes


def test_weights_data_is_config_weights_and_card_only(spec: tuple[dict, dict], tmp_path: Path) -> None:
    namespace, _ = spec
    config = write_tiny_weights(tmp_path)
    (tmp_path / "MODEL_CARD.md").write_text("card", encoding="utf-8")
    (tmp_path / "training_run").mkdir()
    (tmp_path / "training_run" / "curves.png").write_bytes(b"png")
    datas = namespace["weights_datas"](tmp_path)
    names = sorted(Path(src).name for src, _ in datas)
    assert names == sorted(["model_config.json", "MODEL_CARD.md", config.weights_file])
    assert {dest for _, dest in datas} == {"weights"}


def test_weights_data_carries_the_guard_statistics_the_config_names(spec: tuple[dict, dict], tmp_path: Path) -> None:
    namespace, _ = spec
    config = write_tiny_weights(tmp_path)
    (tmp_path / "MODEL_CARD.md").write_text("card", encoding="utf-8")
    settings = json.loads((tmp_path / "model_config.json").read_text(encoding="utf-8"))
    settings["guard"] = {"file": "intended_use_guard.npz", "sha256": "0" * 64}
    (tmp_path / "model_config.json").write_text(json.dumps(settings), encoding="utf-8")
    with pytest.raises(SystemExit, match=r"intended_use_guard\.npz"):
        namespace["weights_datas"](tmp_path)
    (tmp_path / "intended_use_guard.npz").write_bytes(b"stats")
    names = sorted(Path(src).name for src, _ in namespace["weights_datas"](tmp_path))
    assert names == sorted(["model_config.json", "MODEL_CARD.md", config.weights_file, "intended_use_guard.npz"])


def test_weights_data_without_config_is_empty_and_missing_file_stops(spec: tuple[dict, dict], tmp_path: Path) -> None:
    namespace, _ = spec
    assert namespace["weights_datas"](tmp_path) == []
    config = write_tiny_weights(tmp_path)
    (tmp_path / config.weights_file).unlink()
    with pytest.raises(SystemExit, match=config.weights_file):
        namespace["weights_datas"](tmp_path)


def test_only_needed_qt_plugins_are_kept(spec: tuple[dict, dict]) -> None:
    keep = spec[0]["keep_binary"]
    assert keep("PySide6/Qt/plugins/platforms/libqxcb.so")
    assert keep("PySide6/Qt/plugins/platforms/libqoffscreen.so")
    assert keep("PySide6/Qt/plugins/imageformats/libqjpeg.so")
    assert keep("PySide6/Qt/plugins/platforms/qwindows.dll")
    assert not keep("PySide6/Qt/plugins/platforms/libqvnc.so")
    assert not keep("PySide6/Qt/plugins/imageformats/libqpdf.so")
    assert not keep("PySide6/Qt/plugins/platformthemes/libqgtk3.so")
    assert keep("PySide6/Qt/lib/libQt6Core.so.6")
    assert keep("tensorflow/libtensorflow_cc.so.2")


def test_qt_hooks_collect_only_the_kept_plugins(spec: tuple[dict, dict]) -> None:
    """The spec narrows PyInstaller's plugin collection itself, so dropped plugins' libraries never enter."""
    from PyInstaller.utils.hooks.qt import QtLibraryInfo

    assert getattr(QtLibraryInfo.collect_plugins, "neuroreview_filtered", False)
    info = QtLibraryInfo("PySide6")
    platforms = {Path(src).name for src, _ in info.collect_plugins("platforms")}
    assert "libqoffscreen.so" in platforms and "libqxcb.so" in platforms
    assert "libqvnc.so" not in platforms and "libqwayland.so" not in platforms
    assert info.collect_plugins("platformthemes") == []


def test_only_tensorflow_libraries_are_stripped(spec: tuple[dict, dict], tmp_path: Path) -> None:
    package = tmp_path / "site" / "tensorflow"
    package.mkdir(parents=True)
    (package / "libbig.so").write_bytes(b"x" * 2_000_000)
    (package / "libsmall.so").write_bytes(b"x" * 10)
    (tmp_path / "site" / "numpy.libs").mkdir()
    (tmp_path / "site" / "numpy.libs" / "libopenblas.so").write_bytes(b"x" * 2_000_000)
    stripped: list[Path] = []

    def fake_strip(src: Path, out: Path) -> bool:
        stripped.append(src)
        out.write_bytes(b"y" * 1000)
        return True

    binaries = [
        ("tensorflow/libbig.so", str(package / "libbig.so"), "BINARY"),
        ("tensorflow/libsmall.so", str(package / "libsmall.so"), "BINARY"),
        ("numpy.libs/libopenblas.so", str(tmp_path / "site" / "numpy.libs" / "libopenblas.so"), "BINARY"),
    ]
    result = spec[0]["strip_libraries"](binaries, [str(package)], tmp_path / "cache", fake_strip)
    assert stripped == [(package / "libbig.so").resolve()]
    assert result[0] == ("tensorflow/libbig.so", str(tmp_path / "cache" / "tensorflow" / "libbig.so"), "BINARY")
    assert result[1:] == binaries[1:]
    again = spec[0]["strip_libraries"](binaries, [str(package)], tmp_path / "cache", fake_strip)
    assert again == result and len(stripped) == 1  # cached copy reused


EXCLUSION_PROBE = textwrap.dedent(
    """
    import importlib.abc, sys
    blocked = sys.argv[2].split(",")
    class Block(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path, target=None):
            if any(name == b or name.startswith(b + ".") for b in blocked):
                raise ImportError("excluded from the package: " + name)
    sys.meta_path.insert(0, Block())
    import numpy as np
    from pathlib import Path
    import core.export, desktop_app.main_window, desktop_app.self_test
    from core.model.classifier import Classifier
    clf = Classifier.from_folder(Path(sys.argv[1]))
    (p,) = clf.predict([np.arange(400, dtype=np.uint8).reshape(20, 20)], heatmap=True)
    assert p.heatmap is not None and p.heatmap.shape == (20, 20)
    print("inference ok")
    """
)


def test_excluded_modules_are_not_needed_for_inference(spec: tuple[dict, dict], tiny_weights_dir: Path) -> None:
    """The app and a classification with heatmap run while every excluded module is unimportable."""
    excludes = ",".join(spec[1]["Analysis"][1]["excludes"])
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run(
        [sys.executable, "-c", EXCLUSION_PROBE, str(tiny_weights_dir), excludes],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "inference ok" in done.stdout

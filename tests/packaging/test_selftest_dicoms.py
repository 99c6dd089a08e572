"""resources/selftest: one tiny file per compressed transfer syntax the app decodes, true to its reference."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.pixels.decoders.base import get_decoder
from pydicom.uid import AllTransferSyntaxes, ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

from core.imaging import newer_syntaxes
from core.imaging.imagecodecs_plugin import register

register()  # 12-bit JPEG Extended decodes through NeuroReview's plugin, as in the application

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("make_selftest_dicoms", ROOT / "scripts" / "make_selftest_dicoms.py")
assert _spec is not None and _spec.loader is not None
GENERATOR = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = GENERATOR  # its dataclasses look their module up there
_spec.loader.exec_module(GENERATOR)
FOLDER = ROOT / "resources" / "selftest"
ENTRIES = json.loads((FOLDER / "manifest.json").read_text(encoding="utf-8"))["files"]
UNCOMPRESSED = {ImplicitVRLittleEndian, ExplicitVRLittleEndian, ExplicitVRBigEndian}


def _decodable_compressed() -> set[str]:
    found = set()
    for uid in AllTransferSyntaxes:
        if uid in UNCOMPRESSED:
            continue
        try:
            if get_decoder(uid).is_available:
                found.add(str(uid))
        except NotImplementedError:
            continue
    # syntaxes pydicom 3.0 has no decoder for, decoded by core.imaging.newer_syntaxes
    return found | {uid for uid in newer_syntaxes.NAMES if newer_syntaxes.is_available(uid)}


def test_every_decodable_compressed_syntax_has_a_file() -> None:
    assert {e["transfer_syntax"] for e in ENTRIES} == _decodable_compressed()


@pytest.mark.parametrize("entry", ENTRIES, ids=[e["file"] for e in ENTRIES])
def test_file_is_tiny_declares_its_syntax_and_matches_its_reference(entry: dict) -> None:
    path = FOLDER / entry["file"]
    assert path.stat().st_size < 8192
    ds = pydicom.dcmread(path)
    assert ds.file_meta.TransferSyntaxUID == entry["transfer_syntax"]
    reference = pydicom.dcmread(FOLDER / entry["reference"]).pixel_array.astype(np.float64)
    error = np.abs(GENERATOR.decoded_values(path) - reference)
    if entry["lossless"]:
        assert error.max() == 0
    else:
        assert 0 < error.mean() <= entry["mean_abs_error_limit"]
        assert error.max() <= entry["max_abs_error_limit"]


@pytest.mark.skipif(
    shutil.which("dcmcjpeg") is None or shutil.which("ojph_compress") is None, reason="needs dcmtk and openjph-tools"
)
def test_generator_reproduces_the_manifest(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "make_selftest_dicoms.py"), "--out", str(tmp_path)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    again = json.loads((tmp_path / "manifest.json").read_text(encoding="utf-8"))["files"]

    def without_error(entries: list[dict]) -> list[dict]:
        return [{k: v for k, v in e.items() if k != "generated_error"} for e in entries]

    assert without_error(again) == without_error(ENTRIES)
    for new, committed in zip(again, ENTRIES, strict=True):
        # lossy encoders (libjxl, openjpeg) may round differently on another CPU's SIMD paths
        tolerance = {"rel": 0.0, "abs": 0.0} if committed["lossless"] else {"rel": 0.02, "abs": 1.0}
        for key in ("mean_abs_error", "max_abs_error"):
            assert new["generated_error"][key] == pytest.approx(committed["generated_error"][key], **tolerance), (
                new["file"],
                key,
            )

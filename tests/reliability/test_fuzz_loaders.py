"""Property-based fuzzing of the DICOM and PNG loaders (hypothesis).

Real fixtures (pydicom's bundled test files, a small generated PNG) are mutated - random truncation,
bit flips, and mutations of element tags, VRs and lengths / PNG chunk types and lengths - and opened
through ``open_paths`` and ``PixelStore``.  The only exceptions allowed are the documented
``ImagingError`` subclasses; anything else is a lost case.  Example counts are bounded and the
search is derandomised so CI is fast and repeatable.
"""

from __future__ import annotations

import io
import os
import struct
import tempfile
from pathlib import Path

import numpy as np
import pydicom
import pytest
from dicom_factory import BUNDLED
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from core.imaging import ImagingError, PixelStore, open_paths

GROUP_DICOM = "Fuzzing: DICOM loader"
GROUP_PNG = "Fuzzing: PNG loader"
EXAMPLES = int(os.environ.get("NEUROREVIEW_FUZZ_EXAMPLES", "60"))  # raise it for a long local run
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize="NEUROREVIEW_FUZZ_EXAMPLES" not in os.environ,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
DICOM_FIXTURES = (
    "MR_small.dcm",
    "MR_small_implicit.dcm",
    "MR_small_RLE.dcm",
    "SC_rgb_small_odd_jpeg.dcm",
    "MR_small_jp2klossless.dcm",
    "MR_small_jpeg_ls_lossless.dcm",
)


def _element_offsets(data: bytes, path: Path) -> list[int]:
    """Byte offsets of the top-level elements' tags (little endian) found in ``data``."""
    ds = pydicom.dcmread(path)
    offsets = []
    for elem in [*ds.file_meta, *ds]:
        pattern = struct.pack("<HH", elem.tag.group, elem.tag.element)
        at = data.find(pattern, 128)
        if at >= 0:
            offsets.append(at)
    return sorted(set(offsets))


def _png_fixture() -> bytes:
    buffer = io.BytesIO()
    values = np.random.default_rng(0).integers(0, 255, (24, 20), dtype=np.uint8)
    Image.fromarray(values).save(buffer, format="PNG")
    return buffer.getvalue()


FIXTURES = {name: (BUNDLED / name).read_bytes() for name in DICOM_FIXTURES}
OFFSETS = {name: _element_offsets(FIXTURES[name], BUNDLED / name) for name in DICOM_FIXTURES}
PNG = _png_fixture()
PNG_CHUNKS = [i - 4 for i in range(8, len(PNG)) if PNG[i : i + 4] in (b"IHDR", b"IDAT", b"IEND")]


@st.composite
def mutations(draw: st.DrawFn, data: bytes, fields: list[int]) -> bytes:
    """``data`` with 1-4 mutations: truncation, bit flips, or a field (tag/VR/length) overwritten."""
    out = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["truncate", "flip", "field"]))
        if kind == "truncate" and len(out) > 1:
            del out[draw(st.integers(0, len(out) - 1)) :]
        elif kind == "flip" and out:
            at = draw(st.integers(0, len(out) - 1))
            out[at] ^= 1 << draw(st.integers(0, 7))
        elif fields:
            at = draw(st.sampled_from(fields)) + draw(st.sampled_from([0, 2, 4, 6, 8]))
            patch = draw(st.binary(min_size=2, max_size=4))
            out[at : at + len(patch)] = patch
    return bytes(out)


def _open_everything(path: Path) -> str:
    """Open ``path`` like the application does; returns "opened" or the ImagingError class name."""
    result = open_paths([path])
    if result.errors or result.ignored:
        return (result.errors + result.ignored)[0].error_type
    store = PixelStore(max_megabytes=8)
    try:
        for ref in result.all_slices():
            store.display(ref)
            store.model_rendering(ref)
    except ImagingError as exc:
        return type(exc).__name__
    return "opened"


def _fuzz_once(data: bytes, name: str, group: str, tally) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        path.write_bytes(data)
        try:
            _open_everything(path)
        except Exception:
            tally.case(group, False)
            raise
    tally.case(group, True)


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("fixture", DICOM_FIXTURES)
def test_fuzzed_dicom_raises_only_imaging_errors(fixture: str, tally) -> None:
    @FUZZ
    @given(data=mutations(FIXTURES[fixture], OFFSETS[fixture]))
    def run(data: bytes) -> None:
        _fuzz_once(data, "fuzz.dcm", GROUP_DICOM, tally)

    run()


@pytest.mark.filterwarnings("ignore")
def test_fuzzed_png_raises_only_imaging_errors(tally) -> None:
    @FUZZ
    @given(data=mutations(PNG, PNG_CHUNKS))
    def run(data: bytes) -> None:
        _fuzz_once(data, "fuzz.png", GROUP_PNG, tally)

    run()


def test_fixtures_open_unmutated() -> None:
    """Positive control: without mutation every fixture opens, so the fuzzing starts from real images."""
    with tempfile.TemporaryDirectory() as folder:
        for name, data in [*FIXTURES.items(), ("ok.png", PNG)]:
            path = Path(folder) / name
            path.write_bytes(data)
            assert _open_everything(path) == "opened", name

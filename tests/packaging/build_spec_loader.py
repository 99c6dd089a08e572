"""Execute build.spec without PyInstaller's build steps: the spec's helpers and its Analysis arguments."""

from __future__ import annotations

import runpy
from pathlib import Path
from typing import Any, ClassVar

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "build.spec"


class _Recorder:
    calls: ClassVar[dict[str, tuple[tuple[Any, ...], dict[str, Any]]]] = {}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        _Recorder.calls[type(self).__name__] = (args, kwargs)
        self.binaries: list[tuple[str, str, str]] = []
        self.datas: list[tuple[str, str, str]] = []
        self.pure: list[Any] = []
        self.scripts: list[Any] = []


class Analysis(_Recorder):
    pass


class PYZ(_Recorder):
    pass


class EXE(_Recorder):
    pass


class COLLECT(_Recorder):
    pass


def load_spec() -> tuple[dict[str, Any], dict[str, tuple[tuple[Any, ...], dict[str, Any]]]]:
    """Run build.spec with recording stand-ins for Analysis/PYZ/EXE/COLLECT; (namespace, calls)."""
    _Recorder.calls = {}
    stubs = {"SPECPATH": str(ROOT), "Analysis": Analysis, "PYZ": PYZ, "EXE": EXE, "COLLECT": COLLECT}
    namespace = runpy.run_path(str(SPEC), init_globals=stubs)
    return namespace, dict(_Recorder.calls)

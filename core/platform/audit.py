"""Append-only, hash-chained audit log (JSON lines).

Each entry records what happened (``opened``, ``classified``, ``exported``, ...), when, and
details such as the weights' SHA-256 and the device; file paths and patient identifiers are
stored only as salted hashes (``pseudonym``).  Every entry carries the SHA-256 of the previous
line, so deleting, reordering or editing any entry breaks the chain; ``verify_chain`` (also
``neuroreview-audit verify``) checks it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import secrets
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.platform.user_paths import config_dir, data_dir

AUDIT_FILENAME = "audit.jsonl"
GENESIS = "0" * 64
_SALT_FILE = "pseudonym.salt"
_salt_cache: dict[Path, bytes] = {}
_salt_lock = threading.Lock()


def _salt() -> bytes:
    path = config_dir() / _SALT_FILE
    with _salt_lock:
        if path in _salt_cache:
            return _salt_cache[path]
        try:
            salt = bytes.fromhex(path.read_text(encoding="ascii").strip())
        except (OSError, ValueError):
            path.parent.mkdir(parents=True, exist_ok=True)
            salt = secrets.token_bytes(16)
            path.write_text(salt.hex(), encoding="ascii")
        _salt_cache[path] = salt
        return salt


def pseudonym(value: object) -> str:
    """Salted, truncated SHA-256 of an identifier (path, patient ID, UID): stable per installation."""
    return hashlib.sha256(_salt() + str(value).encode("utf-8", "surrogateescape")).hexdigest()[:16]


def _line_hash(line: str) -> str:
    return hashlib.sha256(line.encode("utf-8")).hexdigest()


class AuditLog:
    """Appends chained entries to ``audit.jsonl`` (thread-safe within one process)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or data_dir() / AUDIT_FILENAME
        self._lock = threading.Lock()

    def _last_hash(self) -> str:
        try:
            with open(self.path, "rb") as handle:
                handle.seek(0, os.SEEK_END)
                size = handle.tell()
                handle.seek(max(0, size - 65536))
                lines = handle.read().decode("utf-8").splitlines()
        except FileNotFoundError:
            return GENESIS
        return _line_hash(lines[-1]) if lines else GENESIS

    def record(self, event: str, **details: Any) -> dict[str, Any]:
        """Append one entry; returns it."""
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            entry = {
                "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "event": event,
                "details": details,
                "prev": self._last_hash(),
            }
            line = json.dumps(entry, sort_keys=True, separators=(",", ":"))
            with open(self.path, "a", encoding="utf-8") as handle:
                handle.write(line + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            return entry


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    entries: int
    message: str


def verify_chain(path: Path) -> ChainReport:
    """Check that every entry names the hash of the line before it."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return ChainReport(False, 0, f"audit log not found: {path}")
    previous = GENESIS
    for number, line in enumerate(lines, start=1):
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            return ChainReport(False, number - 1, f"line {number} is not valid JSON")
        if not isinstance(entry, dict) or entry.get("prev") != previous:
            return ChainReport(False, number - 1, f"chain broken at line {number}")
        previous = _line_hash(line)
    return ChainReport(True, len(lines), f"audit chain intact: {len(lines)} entries")


def main(argv: Sequence[str] | None = None) -> int:
    """``neuroreview-audit verify [PATH]``."""
    parser = argparse.ArgumentParser(prog="neuroreview-audit", description="Verify NeuroReview's audit log")
    parser.add_argument("command", choices=["verify"])
    parser.add_argument("path", nargs="?", type=Path, default=None)
    args = parser.parse_args(argv)
    report = verify_chain(args.path or AuditLog().path)
    print(report.message, file=sys.stdout if report.ok else sys.stderr)
    return 0 if report.ok else 1

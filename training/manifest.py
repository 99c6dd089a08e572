"""Dataset manifest: every image of a folder-per-class dataset with its SHA-256 and label."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from core.model.model_config import sha256_file
from training.errors import DatasetLayoutError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".dcm", ".dicom", ""}
IGNORED_NAMES = {"SHA256SUMS", "README.md", "LICENSE", "DICOMDIR", ".DS_Store"}


@dataclass(frozen=True)
class ManifestEntry:
    relpath: str
    sha256: str
    label: str


@dataclass(frozen=True)
class Manifest:
    root: Path
    class_names: tuple[str, ...]
    entries: tuple[ManifestEntry, ...]

    @property
    def fingerprint(self) -> str:
        """SHA-256 over (relpath, sha256, label) of every entry: names the dataset and its cache."""
        digest = hashlib.sha256()
        for e in self.entries:
            digest.update(f"{e.relpath}\0{e.sha256}\0{e.label}\n".encode())
        return digest.hexdigest()

    def counts(self) -> dict[str, int]:
        return {name: sum(e.label == name for e in self.entries) for name in self.class_names}

    def labels(self) -> list[int]:
        return [self.class_names.index(e.label) for e in self.entries]

    def to_json(self) -> dict[str, object]:
        return {
            "root": str(self.root),
            "fingerprint": self.fingerprint,
            "class_names": list(self.class_names),
            "entries": [[e.relpath, e.sha256, e.label] for e in self.entries],
        }


def _read_sha256sums(root: Path) -> dict[str, str]:
    sums: dict[str, str] = {}
    path = root / "SHA256SUMS"
    if not path.is_file():
        return sums
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.strip().split(maxsplit=1)
        if len(parts) == 2:
            sums[parts[1].lstrip("*").removeprefix("./")] = parts[0].lower()
    return sums


def build_manifest(data_dir: Path, class_names: Sequence[str] | None = None) -> Manifest:
    """Scan ``data_dir/<class>/*`` and hash every file.

    ``class_names`` fixes the expected classes (and their order); a class folder outside it is an
    error, as is an expected class without a folder.  When the folder (or its parent) has a
    ``SHA256SUMS`` file, every listed file is verified against it.
    """
    root = Path(data_dir)
    if not root.is_dir():
        raise DatasetLayoutError(f"data folder not found: {root}")
    folders = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not folders:
        raise DatasetLayoutError(f"{root} has no class sub-folders (expected one folder per class)")
    if class_names is None:
        names = tuple(folders)
    else:
        names = tuple(class_names)
        unknown = sorted(set(folders) - set(names))
        missing = sorted(set(names) - set(folders))
        if unknown:
            raise DatasetLayoutError(
                f"unknown class folders in {root}: {', '.join(unknown)} (expected {', '.join(names)})"
            )
        if missing:
            raise DatasetLayoutError(f"class folders missing in {root}: {', '.join(missing)}")
    sums = _read_sha256sums(root)
    sums_prefix = ""
    if not sums:
        sums = _read_sha256sums(root.parent)
        sums_prefix = root.name + "/"
    entries: list[ManifestEntry] = []
    mismatched: list[str] = []
    for name in names:
        files = sorted(
            p
            for p in (root / name).rglob("*")
            if p.is_file() and p.name not in IGNORED_NAMES and p.suffix.lower() in IMAGE_SUFFIXES
        )
        if not files:
            raise DatasetLayoutError(f"class folder {root / name} holds no images")
        for path in files:
            rel = path.relative_to(root).as_posix()
            digest = sha256_file(path)
            expected = sums.get(sums_prefix + rel)
            if expected is not None and expected != digest:
                mismatched.append(rel)
            entries.append(ManifestEntry(rel, digest, name))
    if mismatched:
        shown = ", ".join(mismatched[:5])
        raise DatasetLayoutError(f"{len(mismatched)} file(s) do not match SHA256SUMS: {shown}")
    return Manifest(root=root, class_names=names, entries=tuple(entries))


def save_manifest(manifest: Manifest, path: Path) -> None:
    path.write_text(json.dumps(manifest.to_json(), indent=1) + "\n", encoding="utf-8")

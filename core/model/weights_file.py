"""Structural check of a weights file before Keras reads it: plain HDF5 weights, nothing else.

The SHA-256 check (``core.model.model_config.verified_weights_path``) proves the file is the one the
config names; this check refuses what must never be loaded even when someone replaced both the
file and its digest: a ``.keras`` archive or any non-HDF5 file, a whole saved model (its
``model_config`` can hold Lambda layers, i.e. code), and HDF5 external links, external raw
storage or virtual datasets (they make the HDF5 library open other files).  Nothing is executed.
"""

from __future__ import annotations

from pathlib import Path

from core.model.model_config import WeightsIntegrityError

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"  # HDF5 format specification, superblock at offset 0
MODEL_ATTRIBUTES = ("model_config", "training_config", "keras_version_model_config")


def check_weights_file(path: Path) -> None:
    """Raise WeightsIntegrityError unless ``path`` is a plain, self-contained HDF5 weights file."""
    import h5py

    path = Path(path)
    with open(path, "rb") as handle:
        if handle.read(len(HDF5_SIGNATURE)) != HDF5_SIGNATURE:
            raise WeightsIntegrityError(
                f"{path.name} is not an HDF5 weights file (a .keras archive or another format); refusing to load it"
            )
    problems: list[str] = []

    def visit(name: str, link: object) -> None:
        if isinstance(link, h5py.ExternalLink):
            problems.append(f"an external link to {link.filename!r} at {name!r}")

    try:
        with h5py.File(path, "r") as h5:
            found = [key for key in MODEL_ATTRIBUTES if key in h5.attrs]
            if found:
                problems.append(f"a whole saved model ({found[0]!r}), not weights only")
            h5.visititems_links(visit)
            if not problems:
                h5.visititems(lambda name, obj: _check_dataset(name, obj, problems))
    except (OSError, RuntimeError, ValueError) as exc:
        raise WeightsIntegrityError(f"{path.name} is not a readable HDF5 weights file ({exc})") from exc
    if problems:
        raise WeightsIntegrityError(f"{path.name} holds {problems[0]}; refusing to load it")


def _check_dataset(name: str, obj: object, problems: list[str]) -> None:
    import h5py

    if isinstance(obj, h5py.Dataset):
        if obj.external:
            problems.append(f"a dataset stored in external files at {name!r}")
        elif obj.is_virtual:
            problems.append(f"a virtual dataset mapping other files at {name!r}")

"""Typed errors raised by the exports (the GUI and the CLI show their message as is)."""

from __future__ import annotations


class ExportError(RuntimeError):
    """An export could not be written; the message says why and what to do."""


class DestinationError(ExportError):
    """The chosen output path is not allowed (beside the source files, a folder, not writable)."""

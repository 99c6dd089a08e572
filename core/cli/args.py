"""What every console script does with its arguments: argparse's own message and status, no traceback."""

from __future__ import annotations

import argparse
from collections.abc import Sequence


def parse_or_status(
    parser: argparse.ArgumentParser, argv: Sequence[str] | None, usage_status: int
) -> argparse.Namespace | int:
    """The parsed arguments, or the exit status after argparse printed help (0) or a usage error."""
    try:
        return parser.parse_args(argv)
    except SystemExit as exc:  # argparse has printed the help or the usage message
        return exc.code if isinstance(exc.code, int) else usage_status

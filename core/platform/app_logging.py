"""Rotating application logs under the platform log folder; no patient names or IDs in them.

Code logs identifiers only through ``core.platform.audit.pseudonym``; ``configure_logging`` installs a
size-rotated file handler (5 files of 2 MB).
"""

from __future__ import annotations

import logging
import logging.handlers
from pathlib import Path

from core.platform.user_paths import log_dir

LOG_FILENAME = "neuroreview.log"
_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure_logging(folder: Path | None = None, level: int = logging.INFO) -> Path:
    """Attach the rotating file handler to the ``neuroreview`` logger (idempotent); returns the log path."""
    target = (folder or log_dir()) / LOG_FILENAME
    logger = logging.getLogger("neuroreview")
    for handler in logger.handlers:
        if isinstance(handler, logging.handlers.RotatingFileHandler) and Path(handler.baseFilename) == target:
            return target
    target.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.handlers.RotatingFileHandler(target, maxBytes=2_000_000, backupCount=5, encoding="utf-8")
    handler.setFormatter(logging.Formatter(_FORMAT))
    logger.addHandler(handler)
    logger.setLevel(level)
    return target

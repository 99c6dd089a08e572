"""Load TensorFlow's native libraries without holding the GIL, so the GUI keeps painting meanwhile.

Importing TensorFlow maps and initialises a few hundred megabytes of shared libraries.  Python's
import machinery (and ``ctypes.CDLL``) call ``dlopen`` while holding the GIL, which froze the GUI
thread for 0.3-0.7 s on the reference machine.  A foreign-function call through ``ctypes`` releases
the GIL, so calling libc's ``dlopen`` on those libraries from the worker thread first does the
expensive part concurrently; the later ``import tensorflow`` finds them already loaded.

Best effort: on a platform without glibc, or when a library is missing, it does nothing.
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
import sys
from pathlib import Path

LIBRARIES = ("libtensorflow_framework.so.2", "libtensorflow_cc.so.2", "python/_pywrap_tensorflow_internal.so")


def preload_tensorflow_libraries() -> int:
    """dlopen TensorFlow's big shared libraries with the GIL released; returns how many were loaded."""
    if not sys.platform.startswith("linux") or "tensorflow" in sys.modules:
        return 0
    try:
        spec = importlib.util.find_spec("tensorflow")
        libc = ctypes.CDLL("libc.so.6")
    except (ImportError, ValueError, OSError):
        return 0
    if spec is None or spec.origin is None:
        return 0
    libc.dlopen.restype = ctypes.c_void_p
    libc.dlopen.argtypes = [ctypes.c_char_p, ctypes.c_int]
    root = Path(spec.origin).parent
    loaded = 0
    for name in LIBRARIES:
        path = root / name
        # Same flags as Python's extension import (RTLD_NOW), so nothing is left to relocate later.
        if path.is_file() and libc.dlopen(os.fsencode(path), os.RTLD_NOW | os.RTLD_LOCAL):
            loaded += 1
    return loaded

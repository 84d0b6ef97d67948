"""Which matcher runs: the one mypyc compiled at install, or the source as it is.

setup.py compiles a copy of matcher.py, ``watcher/_native_matcher.py``, to a C
extension. mypyc builds the types of the modules the matcher imports (rules,
models, segment …) into the compiled code and checks them as it runs, so a build
is used only while every module of the package is the one it was built from: the
copy records a digest of them all (:func:`digest`). An edited checkout runs its
Python until ``pip install -e .`` compiles the edit.

This module imports nothing of watcher: setup.py loads it by its path.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.machinery
import importlib.util
import os
from pathlib import Path
from typing import Any

COPY = "_native_matcher"  # the module setup.py writes and compiles
# matcher.py from this line on (the choice of class) is not copied.
MARKER = "# --- the compiled matcher"


def digest(package: Path) -> str:
    """sha256 of the package's modules, names and bytes, the generated copy left out."""
    h = hashlib.sha256()
    for path in sorted(package.glob("*.py")):
        if path.stem != COPY:
            h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def compiled_matcher(package: Path) -> tuple[Any, str]:
    """(the compiled Matcher class, or None) and how the matcher runs, in words."""
    if os.environ.get("WATCHER_PURE"):
        return None, "pure Python (WATCHER_PURE is set)"
    spec = importlib.util.find_spec(f"watcher.{COPY}")
    if spec is None or not str(spec.origin).endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES)):
        return None, "pure Python (not compiled when installed)"
    try:
        module = importlib.import_module(f"watcher.{COPY}")
        mine = digest(package)
    except (ImportError, OSError) as exc:
        return None, f"pure Python (the compiled matcher does not load: {exc})"
    if getattr(module, "SOURCE", None) != mine:
        return None, "pure Python (compiled from other sources: pip install -e . again)"
    return module.Matcher, "compiled (mypyc)"

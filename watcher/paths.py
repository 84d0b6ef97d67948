"""Paths as the OS gives them, made safe to store, show and log; and the inbox fence.

A file name on Linux is bytes: it may not be valid UTF-8 (``a\\xff.txt``) and may
hold a newline. Such a name must neither crash the store (SQLite text is UTF-8)
nor forge a log line, so every path becomes text through :func:`safe_text` before
it is stored, shown or logged: undecodable bytes become ``\\xNN`` and control
characters ``\\n``, ``\\x1b`` … . Two names that differ only in that one holds a
literal ``\\xff`` where the other holds the byte 0xFF would share a key; that is
the price of readable keys.
"""

from __future__ import annotations

import os
import unicodedata
from pathlib import Path

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def safe_text(path: str | os.PathLike[str]) -> str:
    """``path`` as printable UTF-8 text (see the module docstring)."""
    text = os.fspath(path)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = os.fsencode(text).decode("utf-8", "backslashreplace")
    if text.isprintable():
        return text
    return "".join(_escape(ch) for ch in text)


def _escape(ch: str) -> str:
    if ch in _NAMED:
        return _NAMED[ch]
    if ch.isprintable() or unicodedata.category(ch) in ("Zs", "Mn", "Mc"):
        return ch
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def inside(path: Path, folder: Path) -> bool:
    """Does ``path``, with every symbolic link resolved, lie inside ``folder``?"""
    try:
        return Path(os.path.realpath(path)).is_relative_to(os.path.realpath(folder))
    except (OSError, ValueError):
        return False

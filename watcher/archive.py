"""The archive on disk: where each of its files lives, and writing them atomically.

``<out_dir>/YYYY-MM-DD.html``, ``.md`` and ``.json`` for each day,
``articles/<key>.html`` for every item listed, and ``index.html``. The
renderer and the chat messages link to these paths (relatively, or under the
archive's public ``base_url``); this module is the one place that names them.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import secrets
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from watcher.models import Digest, DigestItem

if TYPE_CHECKING:  # the renderer imports this module for the paths
    from watcher.render import Renderer

INDEX = "index.html"
ARTICLES = "articles"

# Article keys become file names: letters, digits, "-" and "_", nothing else.
KEY_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$")


# ------------------------------------------------------------------------ layout


def day_file(day: dt.date, suffix: str = ".html") -> str:
    """The day's file, relative to the archive: ``2026-11-21.html``."""
    return f"{day.isoformat()}{suffix}"


def article_file(key: str) -> str:
    """An article's page, relative to the archive: ``articles/<key>.html``."""
    # Quoted so that a link stays one URL whatever the key; write_archive
    # refuses the keys that quoting would change.
    return f"{ARTICLES}/{quote(key, safe='')}.html"


def public_url(base_url: str | None, path: str) -> str | None:
    """``path`` under the archive's public URL, None when there is none."""
    return f"{base_url}/{path}" if base_url else None


def check_key(key: str) -> str:
    """``key`` if it is safe as a file name, else ValueError."""
    if not KEY_RE.match(key):
        raise ValueError(f"unsafe article key {key!r}: only letters, digits, '-' and '_'")
    return key


# ------------------------------------------------------------------------ writer


def write_archive(
    digest: Digest,
    renderer: Renderer,
    out_dir: Path,
    days: Sequence[tuple[dt.date, Mapping[str, int]]],
) -> list[Path]:
    """Write the day's files and the index under ``out_dir``; return the paths written.

    ``YYYY-MM-DD.html``, ``.md``, ``.json``, ``articles/<key>.html`` for every
    item, and ``index.html`` from ``days`` (the digest's own day is added, or
    its counts replaced, so the index always lists it). Everything is rendered
    before anything is written; each file is replaced atomically (temp file
    in the same folder, fsync, rename), so readers never see half a file.
    An unsafe key (anything but letters, digits, '-' and '_') raises
    ValueError and nothing is written.
    """
    out_dir = Path(out_dir)
    unique: dict[str, DigestItem] = {}
    for section in digest.sections:
        for item in section.items:
            unique.setdefault(check_key(item.key), item)

    today = {s.name: s.count for s in digest.sections}
    all_days = [(d, c) for d, c in days if d != digest.day] + [(digest.day, today)]

    files: list[tuple[Path, str]] = [
        (out_dir / day_file(digest.day), renderer.page(digest)),
        (out_dir / day_file(digest.day, ".md"), renderer.markdown(digest)),
        (out_dir / day_file(digest.day, ".json"), renderer.json(digest)),
        *(
            (out_dir / article_file(key), renderer.article(digest, item))
            for key, item in unique.items()
        ),
        (out_dir / INDEX, renderer.index(all_days)),
    ]

    (out_dir / ARTICLES).mkdir(parents=True, exist_ok=True)
    root = out_dir.resolve()
    for path, _ in files:
        # Defence in depth: a symlinked articles/ must not lead elsewhere.
        if not path.parent.resolve().is_relative_to(root):
            raise ValueError(f"{path} would be written outside {out_dir}")
    for folder in (out_dir, out_dir / ARTICLES):
        sweep_temporaries(folder)
    written = []
    for path, text in files:
        atomic_write(path, text)
        written.append(path)
    for folder in {p.parent for p in written}:
        _fsync_dir(folder)
    return written


STALE_TMP = 3600.0  # seconds: a temporary file this old belongs to a writer that died


def sweep_temporaries(folder: Path, now: float | None = None) -> int:
    """Remove the temporary files of ``atomic_write`` left by a killed process (an hour
    old or more, so a writer at work now keeps its own); returns how many."""
    now = time.time() if now is None else now
    gone = 0
    for tmp in folder.glob(".*.tmp"):
        with contextlib.suppress(OSError):
            if now - tmp.lstat().st_mtime >= STALE_TMP and tmp.is_file():
                tmp.unlink()
                gone += 1
    return gone


def atomic_write(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` (UTF-8) so that readers see the old or the new file."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    # os.open with 0o666 lets the umask decide, as for any other file we create.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(text.encode("utf-8"))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if exc.filename is None:  # a failed write() names no file; say which
            raise OSError(exc.errno, exc.strerror, str(path)) from exc
        raise
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _fsync_dir(folder: Path) -> None:
    """Make the renames durable; not possible (nor needed) everywhere."""
    flags = getattr(os, "O_DIRECTORY", None)
    if flags is None:
        return
    try:
        fd = os.open(folder, os.O_RDONLY | flags)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)

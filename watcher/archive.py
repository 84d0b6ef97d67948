"""The archive on disk: where each of its files lives, and writing them atomically.

``<out_dir>/YYYY-MM-DD.html``, ``.md`` and ``.json`` for each day,
``articles/<key>.html`` for every matched article (reprints included),
``topics/<id>/YYYY-MM-DD.html`` for every topic and day (all its items),
``topics/<id>.html`` for every topic (all its days), ``feeds/<id>.xml`` (each
topic's Atom feed, see ``watcher.feeds``) and ``index.html``. The
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
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from watcher.models import Digest

if TYPE_CHECKING:  # the renderer imports this module for the paths
    from watcher.render import Renderer


@dataclass(frozen=True)
class TopicDay:
    """One day of a topic's page over time: its count, and whether the archive holds
    the page of all its items that day (days written by older versions do not)."""

    day: dt.date
    count: int
    full: bool


INDEX = "index.html"
ARTICLES = "articles"
TOPICS = "topics"
FEEDS = "feeds"

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


def topic_file(topic_id: str) -> str:
    """A topic over time, relative to the archive: ``topics/<id>.html``."""
    return f"{TOPICS}/{quote(topic_id, safe='')}.html"


def topic_day_file(topic_id: str, day: dt.date) -> str:
    """A topic's items of one day, relative to the archive: ``topics/<id>/YYYY-MM-DD.html``."""
    return f"{TOPICS}/{quote(topic_id, safe='')}/{day.isoformat()}.html"


def feed_file(topic_id: str) -> str:
    """A topic's Atom feed, relative to the archive: ``feeds/<id>.xml``."""
    return f"{FEEDS}/{quote(topic_id, safe='')}.xml"


def relative(here: str, target: str) -> str:
    """A link from the archive file ``here`` to the archive file ``target``:
    ``relative("topics/safety.html", "topics/safety/2026-11-21.html")`` is
    ``safety/2026-11-21.html``."""
    folder, parts = here.split("/")[:-1], target.split("/")
    common = 0
    while common < min(len(folder), len(parts) - 1) and folder[common] == parts[common]:
        common += 1
    return "../" * (len(folder) - common) + "/".join(parts[common:])


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
    feeds: Mapping[str, str] | None = None,
) -> list[Path]:
    """Write the day's files, its topic pages and the index under ``out_dir``; return
    the paths written.

    ``YYYY-MM-DD.html``, ``.md``, ``.json``, ``articles/<key>.html`` for every
    item (reprints included), ``topics/<id>/YYYY-MM-DD.html`` and
    ``topics/<id>.html`` for every topic of the digest, and ``index.html``, from
    ``days`` (every digest's day with its counts by topic id, as the store keeps
    them; the digest's own day is added, or its counts replaced), and
    ``feeds/<id>.xml`` for each of ``feeds`` (topic id → Atom text, rendered by
    ``watcher.feeds``). Everything is
    rendered before anything is written; each file is replaced atomically (temp
    file in the same folder, fsync, rename), so readers never see half a file.
    An unsafe key or topic id (anything but letters, digits, '-' and '_') raises
    ValueError and nothing is written.
    """
    out_dir = Path(out_dir)
    for section in digest.sections:
        check_key(section.id)
        for item in section.items:
            check_key(item.key)
    for topic_id in feeds or {}:
        check_key(topic_id)

    today = {s.id: s.count for s in digest.sections}
    all_days = sorted(
        [(d, dict(c)) for d, c in days if d != digest.day] + [(digest.day, today)],
        key=lambda x: x[0],
        reverse=True,
    )
    names = {s.id: s.name for s in digest.sections}
    shown = [(d, {names.get(k, k): v for k, v in c.items()}) for d, c in all_days]
    topics = [(s.id, s.name) for s in digest.sections]

    def history(topic_id: str) -> list[TopicDay]:
        out = []
        for d, counts in all_days:
            if topic_id not in counts:
                continue  # the topic was not watched yet
            full = d == digest.day or (out_dir / topic_day_file(topic_id, d)).is_file()
            out.append(TopicDay(d, int(counts[topic_id]), full))
        return out

    files: list[tuple[Path, str]] = [
        (out_dir / day_file(digest.day), renderer.page(digest)),
        (out_dir / day_file(digest.day, ".md"), renderer.markdown(digest)),
        (out_dir / day_file(digest.day, ".json"), renderer.json(digest)),
        *((out_dir / article_file(key), html) for key, html in renderer.articles(digest)),
        *(
            (out_dir / topic_day_file(s.id, digest.day), renderer.topic_day(digest, s.id))
            for s in digest.sections
        ),
        *(
            (out_dir / topic_file(s.id), renderer.topic(s.id, s.name, s.description, history(s.id)))
            for s in digest.sections
        ),
        *((out_dir / feed_file(tid), text) for tid, text in (feeds or {}).items()),
        (out_dir / INDEX, renderer.index(shown, topics)),
    ]

    folders = sorted({path.parent for path, _ in files})
    root = out_dir.resolve()

    def inside() -> None:
        # Defence in depth: a symlinked articles/ or topics/ must not lead elsewhere.
        for folder in folders:
            if not folder.resolve().is_relative_to(root):
                raise ValueError(f"{folder} would be written outside {out_dir}")

    inside()  # before creating a folder there
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True)
    inside()
    for folder in folders:
        sweep_temporaries(folder)
    written = []
    for path, text in files:
        atomic_write(path, text)
        written.append(path)
    for folder in folders:
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

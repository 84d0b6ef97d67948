"""The orchestrator: the one place that knows the order of the stages.

``scan`` is the recipe: list the inbox (stat only) → skip what is unchanged →
read the bytes → hash → decode (readers) → split (pages) → store, one
transaction per document. A document that fails is recorded with its reason
and the scan goes on; it is retried when the file changes.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import hashlib
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from watcher import pages, readers
from watcher.config import Config
from watcher.errors import ReadError
from watcher.matcher import Matcher
from watcher.models import FileInfo, Match, ScanReport
from watcher.segment import Segmenter
from watcher.store import FileState, Store
from watcher.watchlists import Topic

log = logging.getLogger(__name__)

Clock = Callable[[], dt.datetime]
Progress = Callable[[FileInfo], None]


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def list_inbox(inbox: Path, ignore: tuple[str, ...], recursive: bool = True) -> list[FileInfo]:
    """Every file under ``inbox`` with its size and mtime, sorted by path.

    Only ``stat`` is called: a rescan of an unchanged folder reads no file.
    Names matching an ``ignore`` glob (``*.part``, ``*.tmp``, ``*~``, dot
    files) are files still being written or not meant for us.
    """
    found: list[FileInfo] = []

    def walk(folder: Path) -> None:
        try:
            entries = list(os.scandir(folder))
        except OSError as exc:
            log.warning("cannot list %s: %s", folder, exc)
            return
        for entry in entries:
            if any(fnmatch.fnmatch(entry.name, pat) for pat in ignore):
                continue
            try:
                if entry.is_dir(follow_symlinks=False):
                    if recursive:
                        walk(Path(entry.path))
                    continue
                if not entry.is_file():
                    continue
                st = entry.stat()
            except OSError as exc:
                log.warning("cannot stat %s: %s", entry.path, exc)
                continue
            path = Path(entry.path)
            found.append(
                FileInfo(path, path.relative_to(inbox).as_posix(), st.st_size, st.st_mtime_ns)
            )

    walk(inbox)
    found.sort(key=lambda f: f.rel)
    return found


def segmenter_for(config: Config) -> Segmenter:
    """jieba's cache lives next to the state file, in a folder watcher owns."""
    return Segmenter(config.state.parent / "cache")


def sync_topics(
    store: Store, topics: Sequence[Topic], segmenter: Segmenter, clock: Clock = utc_now
) -> list[str]:
    """Re-match stored articles for topics that are new or changed (by content
    hash), and only those; forget removed topics. Returns the ids re-matched."""
    known = store.topic_versions()
    redone = []
    for topic in topics:
        if known.get(topic.id) == topic.version:
            continue
        matcher = Matcher([topic], segmenter)
        found = [
            (row.doc_sha256, row.article.index, m)
            for row in store.articles()
            for m in matcher.match(row.article)
        ]
        n = store.replace_topic_matches(topic.id, topic.version, topic.name, found, clock())
        log.info("topic %s: matched %d stored articles (watchlist changed)", topic.id, n)
        redone.append(topic.id)
    current = {t.id for t in topics}
    for gone in sorted(set(known) - current):
        store.forget_topic(gone)
        log.info("topic %s: removed from the watchlists; its matches are dropped", gone)
    return redone


def scan(
    config: Config,
    store: Store,
    *,
    topics: Sequence[Topic] = (),
    segmenter: Segmenter | None = None,
    clock: Clock = utc_now,
    progress: Progress | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> ScanReport:
    """One pass over the inbox; returns what happened.

    New articles are matched against ``topics``; stored articles are
    re-matched first for any topic whose watchlist changed.
    """
    started = clock()
    scan_id = store.begin_scan(started)
    segmenter = segmenter or segmenter_for(config)
    sync_topics(store, topics, segmenter, clock)
    matcher = Matcher(topics, segmenter) if topics else None
    files = list_inbox(config.inbox, config.scan.ignore, config.scan.recursive)
    known = store.file_states()
    report = ScanReport()
    for info in files:
        if should_stop is not None and should_stop():
            log.info("scan stopped early on request")
            break
        outcome = _scan_one(config, store, info, known.get(str(info.path)), clock, matcher)
        report = _tally(report, outcome, info)
        if progress is not None:
            progress(info)
    store.end_scan(scan_id, report, clock())
    log.info("scan of %s: %s", config.inbox, report.summary())
    return report


# Outcomes of one file: (kind, articles added, failure reason, articles matched)
Outcome = tuple[str, int, str | None, int]


def _tally(report: ScanReport, outcome: Outcome, info: FileInfo) -> ScanReport:
    kind, n, reason, matched = outcome
    changes: dict[str, object] = {
        kind: getattr(report, kind) + 1,
        "articles": report.articles + n,
        "matched": report.matched + matched,
    }
    if kind == "failed" and reason is not None:
        changes["failures"] = (*report.failures, (str(info.path), reason))
    return replace(report, **changes)  # type: ignore[arg-type]


def _scan_one(
    config: Config,
    store: Store,
    info: FileInfo,
    known: FileState | None,
    clock: Clock,
    matcher: Matcher | None,
) -> Outcome:
    path = str(info.path)
    if known is not None and (known.size, known.mtime_ns) == (info.size, info.mtime_ns):
        return ("unchanged", 0, None, 0)
    now = clock()
    age = now.timestamp() - info.mtime_ns / 1e9
    if age < config.scan.settle_seconds:
        log.debug("%s: changed %.1fs ago, waiting for the writer to finish", path, age)
        return ("waiting", 0, None, 0)
    if readers.reader_for(info.path) is None:
        log.info("%s: skipped, not a type watcher reads (%s)", path, info.path.suffix or "none")
        store.record_file(path, info.size, info.mtime_ns, None, "skipped", now, "unknown type")
        return ("skipped", 0, None, 0)
    if info.size > config.scan.max_file_mb * 1024 * 1024:
        reason = f"too large ({info.size / 1048576:.0f} MB > scan.max_file_mb)"
        return _fail(store, info, None, reason, now)
    try:
        data = info.path.read_bytes()
        after = info.path.stat()
    except OSError as exc:
        return _fail(store, info, None, f"cannot read: {exc.strerror or exc}", now)
    if (after.st_size, after.st_mtime_ns) != (info.size, info.mtime_ns) or len(data) != info.size:
        log.info("%s: changed while being read, will retry on the next scan", path)
        return ("waiting", 0, None, 0)
    sha = hashlib.sha256(data).hexdigest()
    if store.document_status(sha) == "ok":
        # Same bytes under another name (renamed or copied): not a new document.
        store.record_file(path, info.size, info.mtime_ns, sha, "duplicate", now)
        log.info("%s: same content as a document already read, not counted twice", path)
        return ("duplicate", 0, None, 0)
    try:
        text = readers.read_bytes(info.path, data)
        articles = pages.split_page(
            text.text, markup=text.markup, today=now.astimezone(config.tz).date()
        )
        found: list[list[Match]] = [matcher.match(a) for a in articles] if matcher else []
    except ReadError as exc:
        return _fail(store, info, sha, str(exc), now)
    except Exception as exc:  # one strange document must not stop the scan
        log.exception("%s: could not process", path)
        return _fail(store, info, sha, f"internal error: {type(exc).__name__}: {exc}", now)
    store.add_document(
        sha256=sha,
        path=path,
        size=info.size,
        mtime_ns=info.mtime_ns,
        encoding=text.encoding,
        articles=articles,
        now=now,
        matches=found,
    )
    log.debug("%s: %d articles (%s)", path, len(articles), text.encoding)
    return ("new", len(articles), None, sum(1 for f in found if f))


def _fail(store: Store, info: FileInfo, sha: str | None, reason: str, now: dt.datetime) -> Outcome:
    log.warning("%s: failed: %s", info.path, reason)
    store.add_failure(
        sha256=sha,
        path=str(info.path),
        size=info.size,
        mtime_ns=info.mtime_ns,
        reason=reason,
        now=now,
    )
    return ("failed", 0, reason, 0)

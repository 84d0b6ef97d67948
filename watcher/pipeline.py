"""The orchestrator: the one place that knows the order of the stages.

Two recipes. ``scan``: list the inbox (stat only) → skip what is unchanged →
read the bytes → hash → decode (readers) → split (pages) → match → store, each
document all or nothing (batched on SQLite: Store.batch). A document that fails
is recorded with its reason and the scan goes on; it is retried when the file
changes. ``tick`` (the daemon's turn) and ``digest_day`` (``watcher digest``):
produce the day's digest once → write the archive → give every channel its
delivery → deliver, exactly once.
"""

from __future__ import annotations

import collections
import concurrent.futures
import contextlib
import datetime as dt
import errno
import fcntl
import functools
import hashlib
import itertools
import json
import logging
import math
import os
import socket
import stat
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from watcher import (
    deliveries,
    feeds,
    pages,
    parallel,
    readers,
    sandbox,
    schedule,
    search,
    segment,
)
from watcher import digest as digest_mod
from watcher import inbox as inbox_mod
from watcher.archive import write_archive
from watcher.config import Config, check_references
from watcher.errors import DeliveryError, ReadError, ReaderUnavailable, WatcherError
from watcher.inbox import list_inbox
from watcher.matcher import SCORE_MARGIN, Matcher, TermWatch
from watcher.models import (
    Article,
    Delivery,
    Digest,
    DigestStats,
    Failure,
    FileInfo,
    Match,
    NearMiss,
    RuleEdit,
    ScanRecord,
    ScanReport,
    WeeklyDigest,
)
from watcher.paths import inside, safe_text
from watcher.segment import Segmenter
from watcher.store import DocumentRows, FileState, Store, Worker, document_rows, state_url
from watcher.watchlists import Topic, load_watchlists, rule_edit

if TYPE_CHECKING:  # the digest half imports jinja2 and the senders when it runs, so
    # that scan and match start without them (issue 14: start-up and memory)
    from watcher.render import EmailParts, Renderer

log = logging.getLogger(__name__)

Clock = Callable[[], dt.datetime]
Progress = Callable[[int], None]  # so many more files done


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def read_file(info: FileInfo, inbox: Path) -> tuple[bytes, os.stat_result]:
    """The bytes of an inbox file and its stat after reading. A link is read as the
    file it names only while that lies inside the inbox; the final open follows no
    link (one swapped in since the listing) and does not block on a FIFO."""
    target = info.path
    if target.is_symlink():
        target = Path(os.path.realpath(target))
        if not inside(target, inbox):
            raise OSError(errno.EPERM, "the symbolic link leads outside the inbox")
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    fd = os.open(target, flags)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise OSError(errno.EINVAL, "not a regular file")
        chunks = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
        return b"".join(chunks), os.fstat(fd)
    finally:
        os.close(fd)


def load_topics(config: Config) -> list[Topic]:
    """The configured topics, checked against the config that routes them (a webhook
    or e-mail list naming no topic is a ConfigError, not a silent misroute)."""
    topics = load_watchlists(config.watchlists)
    check_references(config, topics)
    return topics


def read_limits(config: Config) -> readers.Limits:
    """The bounds on reading one PDF or DOCX file, from the ``scan:`` section."""
    scan = config.scan
    return readers.Limits(
        max_pdf_pages=scan.max_pdf_pages,
        # A DOCX may unpack to more than the file size limit, but not without bound.
        max_unzipped_mb=max(200.0, scan.max_file_mb * 4),
        memory_mb=scan.read_memory_mb,
        timeout=scan.read_timeout,
    )


def local_dir(config: Config) -> Path:
    """The folder of the files watcher keeps on this machine (the dictionary cache, the
    daemon's lock and status files): the SQLite state's folder; with a PostgreSQL state,
    the folder holding the report archive (``digest.out_dir``), writable by watcher."""
    if state_url(config.state) is None:
        return config.state.parent
    return config.digest.out_dir.parent


def local_state(config: Config) -> Path:
    """The path the local files are named after: the SQLite file itself, or
    ``watcher.db`` in :func:`local_dir` for a PostgreSQL state (no such file is made)."""
    if state_url(config.state) is None:
        return config.state
    return local_dir(config) / "watcher.db"


def segmenter_for(config: Config) -> Segmenter:
    """The shared Segmenter; jieba's cache lives next to the state file, in a
    folder watcher owns."""
    return segment.default(local_dir(config) / "cache")


REMATCH_CHUNK = 400  # stored articles per re-match chunk, about (chunks split hash space)


def sync_topics(
    store: Store, topics: Sequence[Topic], segmenter: Segmenter, clock: Clock = utc_now
) -> list[str]:
    """Re-match stored articles for topics that are new or changed (by content
    hash), and only those; forget removed topics. Returns the ids re-matched, once the
    whole re-match is done (by this worker and others).

    One pass over the stored articles for all changed topics, in chunks of document
    hashes that every worker sharing the state claims like documents (a lease each,
    ``rematch:<job>:<n>``): each chunk is matched and stored in one transaction, and
    the chunk done last records the topics' new versions. A worker that dies mid-chunk
    loses it as it loses a document; the chunks others hold are theirs, and this
    worker's scan goes on meanwhile. Until the last chunk, a changed topic's stored
    matches are part old, part new.
    """
    known = store.topic_versions()
    # A topic of a re-match left unfinished at another version (an edit undone before
    # its re-match ended) has matches of both: it is redone too.
    unfinished = store.unfinished_rematches()
    changed = [
        t for t in topics
        if known.get(t.id) != t.version or unfinished.get(t.id, t.version) != t.version
    ]  # fmt: skip
    redone: list[str] = []
    if changed:
        redone = _rematch(store, changed, segmenter, clock)
    current = {t.id for t in topics}
    for gone in sorted(set(known) - current):
        store.forget_topic(gone)
        log.info("topic %s: removed from the watchlists; its matches are dropped", gone)
    return redone


def rematch_bounds(articles: int, per_chunk: int = REMATCH_CHUNK) -> list[tuple[str, str]]:
    """Chunks of the document-hash space for ``articles`` stored articles: 1, 16, 256
    or 4096 equal hex-prefix ranges, about ``per_chunk`` articles each (hashes are
    uniform), as [lo, hi) with "g" above every hash."""
    digits = 0
    while digits < 3 and articles / 16**digits > per_chunk:
        digits += 1
    if digits == 0:
        return [("", "g")]
    width = 16**digits
    edges = [f"{n:0{digits}x}" for n in range(width)] + ["g"]
    return list(itertools.pairwise(edges))


def rematch_job(changed: Sequence[Topic]) -> tuple[str, list[tuple[str, str, str]]]:
    """The re-match job of these changed topics: its name (every worker with the same
    edit names it alike) and the topics as (id, version, name)."""
    wanted = sorted((t.id, t.version, t.name) for t in changed)
    return hashlib.sha256(json.dumps(wanted).encode()).hexdigest()[:16], wanted


def _rematch(
    store: Store, changed: Sequence[Topic], segmenter: Segmenter, clock: Clock
) -> list[str]:
    job, wanted = rematch_job(changed)
    ids = ", ".join(t for t, _, _ in wanted)
    bounds = rematch_bounds(store.counts()["articles"], REMATCH_CHUNK)
    chunks = store.rematch_chunks(job, wanted, bounds, _edits(store, changed))
    edits = store.rematch_edits(job)  # as the job's first worker found them
    every = {t.id for t in changed if edits.get(t.id) is None}
    # Topics whose edit added, removed or reweighted terms: only the articles holding
    # one of those terms can match otherwise, so only those are matched again.
    watch = TermWatch({t: e.terms for t, e in edits.items() if e is not None})
    # An edit of min_score alone, or one that only narrows (no topic matched everywhere,
    # no term to look for): only the stored matches and near misses it can change are
    # read at all.
    scores_only = not every and not any(e.terms for e in edits.values() if e is not None)
    written = {t.id: t.rules for t in changed}
    whole = Matcher([t for t in changed if t.id in every], segmenter)
    # One Matcher a term-edited topic: an article holding one topic's new term is
    # matched for that topic only.
    alone = {t.id: Matcher([t], segmenter) for t in changed if t.id not in every}
    # A raised min_score (or the same one) drops the matches under it: those stored
    # near or under it are matched again, with the term-edited articles; a lowered one
    # lets in the near misses over it, and only those. A narrowing edit: all of them.
    narrowing = {t for t, e in edits.items() if e is not None and e.stored}
    under = {
        t.id: math.inf if t.id in narrowing else t.min_score + SCORE_MARGIN
        for t in changed
        if t.id in alone
    }
    over = {
        t.id: -math.inf if t.id in narrowing else t.min_score - SCORE_MARGIN
        for t in changed
        if t.id in alone
    }
    started = time.perf_counter()
    mine = articles = again = 0
    finished = False
    # Each worker starts at its own place in the list, so several rarely collide.
    turn = int(hashlib.sha256(_ME.encode()).hexdigest(), 16) % len(chunks) if chunks else 0
    for chunk in chunks[turn:] + chunks[:turn]:
        lease = f"rematch:{job}:{chunk.n}"
        if not store.take_lease(lease, _ME, clock(), _lease(REMATCH_LEASE), _alive):
            continue  # another worker has it
        try:
            if not store.rematch_chunk_open(chunk):
                continue  # another worker did it since the list was read
            found: list[tuple[str, int, Match]] = []
            missed: list[tuple[str, int, NearMiss]] = []
            redone: dict[str, list[tuple[str, int]]] = {t: [] for t in edits if t not in every}
            # The stored matches a raised min_score can drop, the near misses a lowered
            # one can let in (a narrowing edit: all of them).
            near = store.across_scores(chunk, under, over)
            only = {key for keys in near.values() for key in keys} if scores_only else None
            for doc, article in store.rematch_articles(chunk.lo, chunk.hi, only):
                articles += 1
                need = watch.topics_in(article)
                need |= {t for t, keys in near.items() if (doc, article.index) in keys}
                for t in need:
                    redone[t].append((doc, article.index))
                if every or need:
                    again += 1
                    for matcher in (whole, *(alone[t] for t in need)):
                        got, under_min = matcher.assess(article)
                        found += [(doc, article.index, m) for m in got]
                        missed += [(doc, article.index, n) for n in under_min]
            done = store.store_rematch_chunk(
                chunk, wanted, found, clock(), _ME, redone=redone, rules=written, missed=missed
            )
        finally:
            store.release_lease(lease, _ME)
        mine += done is not None
        finished = finished or done is True
    if finished:
        log.info(
            "topics %s: stored articles re-matched (watchlist changed; %d of the chunks here, "
            "%d articles read, %d matched again, %.1fs)",
            ids, mine, articles, again, time.perf_counter() - started,
        )  # fmt: skip
        return [t for t, _, _ in wanted]
    if mine < len(chunks):
        log.info("topics %s: other workers are re-matching the rest of the stored articles", ids)
    return []


def _edits(store: Store, changed: Sequence[Topic]) -> dict[str, RuleEdit | None]:
    """Per changed topic, what its edit can change (watchlists.rule_edit against the
    rules its stored matches reflect), or None: every stored article is matched again."""
    stored = store.topic_rules()
    missed = store.near_missed_topics()
    out: dict[str, RuleEdit | None] = {}
    for topic in changed:
        version, before = stored.get(topic.id, ("", None))
        intact = before is not None and hashlib.sha256(before.encode()).hexdigest()[:16] == version
        out[topic.id] = (
            rule_edit(before, topic.rules, near_misses=topic.id in missed)
            if before and intact and topic.rules
            else None
        )
    return out


def scan(
    config: Config,
    store: Store,
    *,
    topics: Sequence[Topic] = (),
    segmenter: Segmenter | None = None,
    clock: Clock = utc_now,
    progress: Progress | None = None,
    should_stop: Callable[[], bool] | None = None,
    settle: bool = False,
    sleep: Callable[[float], None] = time.sleep,
) -> ScanReport:
    """One pass over the inbox; returns what happened.

    New articles are matched against ``topics``; stored articles are
    re-matched first for any topic whose watchlist changed. ``settle`` (one-shot
    commands): files changed within ``scan.settle_seconds`` are waited for, at most
    that long, instead of being left for a next scan that may never come.
    """
    if store.shared:  # several workers: documents are claimed one by one instead
        return _scan(config, store, topics, segmenter, clock, progress, should_stop, settle, sleep)
    with scan_lock(config.state):
        return _scan(config, store, topics, segmenter, clock, progress, should_stop, settle, sleep)


@contextlib.contextmanager
def scan_lock(state: Path) -> Iterator[None]:
    """One scan at a time on a state: a second (``watcher scan`` next to the daemon)
    waits for the first, then finds its files unchanged, so every count is exact."""
    path = state.with_name(state.name + ".scan.lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            log.info("another scan of %s is running; waiting for it to finish", safe_text(state))
            fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _scan(
    config: Config,
    store: Store,
    topics: Sequence[Topic],
    segmenter: Segmenter | None,
    clock: Clock,
    progress: Progress | None,
    should_stop: Callable[[], bool] | None,
    settle: bool,
    sleep: Callable[[float], None],
) -> ScanReport:
    started = clock()
    scan_id = store.begin_scan(started)
    segmenter = segmenter or segmenter_for(config)
    sync_topics(store, topics, segmenter, clock)
    matcher = Matcher(topics, segmenter) if topics else None
    listing = inbox_mod.scan_listing(config, store, started)
    if settle:
        listing = _settle(config, store, listing, clock, sleep)
    files = listing.changed  # the unchanged ones need nothing more
    known = store.file_states([f.key for f in files])
    report = ScanReport(unchanged=listing.unchanged)
    if progress is not None:
        progress(listing.unchanged)
    seen: set[str] = set()
    workers = _workers(config, files, known)
    # One reader process for the scan's PDF and DOCX files, started at the first one;
    # the files' records committed in batches (see Store.batch), each file all or nothing.
    with sandbox.Worker(read_limits(config)) as worker, store.batch():
        if workers > 1:
            outcomes = _in_pool(config, store, files, known, clock, matcher, topics,
                                segmenter, worker, workers, should_stop)  # fmt: skip
        else:
            outcomes = (
                (info, _claimed(config, store, info, known.get(info.key), clock, matcher, worker))
                for info in _until_stopped(files, should_stop)
            )
        for info, outcome in outcomes:
            report = _tally(report, outcome, info)
            seen.add(info.key)
            if progress is not None:
                progress(1)
    if len(seen) == len(files):  # a whole pass: failures of files now gone are dropped
        gone = store.forget_missing(listing.vanished)
        if gone:
            log.info("forgot %d failed or skipped file(s) no longer in the inbox", gone)
    # This scan's articles into the search index, up to a bound (see search.SCAN_INDEX).
    search.catch_up(store, should_stop=should_stop, limit=search.SCAN_INDEX)
    store.end_scan(scan_id, report, clock())
    log.info("scan of %s: %s", config.inbox, report.summary())
    return report


def _until_stopped(
    files: Sequence[FileInfo], should_stop: Callable[[], bool] | None
) -> Iterator[FileInfo]:
    for info in files:
        if should_stop is not None and should_stop():
            log.info("scan stopped early on request")
            return
        yield info


def _workers(config: Config, files: Sequence[FileInfo], known: Mapping[str, FileState]) -> int:
    """Worker processes for this scan: ``scan.workers``, when enough files are new or
    changed for a pool to pay (``parallel.MIN_FILES``); else 1 (no pool)."""
    wanted = parallel.count(config.scan.workers)
    if wanted < 2:
        return 1
    changed = 0
    for info in files:
        k = known.get(info.key)
        if k is None or (k.size, k.mtime_ns) != (info.size, info.mtime_ns) or k.status == "failed":
            changed += 1
            if changed >= parallel.MIN_FILES:
                return wanted
    return 1


def _settle(
    config: Config,
    store: Store,
    listing: inbox_mod.Listing,
    clock: Clock,
    sleep: Callable[[float], None],
) -> inbox_mod.Listing:
    """Wait until the youngest file is ``scan.settle_seconds`` old (at most that long),
    then list the inbox again: a file copied just before a one-shot scan is read."""
    settle = config.scan.settle_seconds
    now = clock().timestamp()
    young = [f for f in listing.changed if now - f.mtime_ns / 1e9 < settle]
    if not young:
        return listing
    wait = min(settle, max(settle - (now - f.mtime_ns / 1e9) for f in young)) + 0.05
    log.info(
        "waiting %.1fs for %d file(s) changed within the last %gs (scan.settle_seconds) "
        "to finish being written",
        wait,
        len(young),
        settle,
    )
    sleep(wait)
    return inbox_mod.scan_listing(config, store, clock())


# Leases (seconds) of a process without a heartbeat (a one-shot command). A file's
# covers reading it (at most scan.read_timeout), splitting and storing; the digest's,
# producing and writing it; a re-match chunk's, matching and storing it. A process
# with a running Heartbeat (the daemon) takes them for schedule.lease and renews them.
FILE_LEASE_MIN = 300.0
# Files up to this size are read in this process under an open batch (SQLite's write
# lock held): a 64 KiB page reads, splits and matches in a few milliseconds.
QUICK_IN_BATCH = 64 * 1024
DIGEST_LEASE = 900.0
REMATCH_LEASE = 900.0
DELIVERY_LEASE = 600.0
LEADER = "leader"  # the lease of the worker that makes and sends the digest (daemon)
_renewed_for: list[float] = []  # schedule.lease of this process's running Heartbeat(s)


def _lease(unrenewed: float) -> float:
    """How long a lease taken now lasts: the heartbeat's lease while one renews it."""
    return _renewed_for[-1] if _renewed_for else unrenewed


def _file_lease(config: Config) -> float:
    return _lease(max(FILE_LEASE_MIN, 2 * config.scan.read_timeout + 60))


class Heartbeat:
    """A thread that beats every ``schedule.heartbeat`` (at most a third of
    ``schedule.lease``): this worker's row in the state (host, pid, what it does) and
    the leases it holds renewed for ``schedule.lease`` — a slow document, digest,
    delivery or re-match chunk is never taken over while its holder lives; one whose
    holder stops beating (its machine went down) is, once the lease runs out.
    ``on_beat(store, now)`` runs after each beat (the daemon contests the leader lease
    there). The thread has its own connection; a failed beat is logged and retried."""

    def __init__(
        self,
        config: Config,
        *,
        clock: Clock = utc_now,
        doing: Callable[[], str | None] = lambda: None,
        on_beat: Callable[[Store, dt.datetime], None] | None = None,
    ) -> None:
        self.config = config
        self.clock = clock
        self.doing = doing
        self.on_beat = on_beat
        self.lease = config.schedule.lease
        self.every = min(config.schedule.heartbeat, self.lease / 3)
        self.started = clock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Heartbeat:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        with Store(self.config.state) as store:
            _renewed_for.append(self.lease)
            try:
                self.beat(store)
            except BaseException:
                _renewed_for.remove(self.lease)
                raise
        self._thread = threading.Thread(target=self._run, name="heartbeat", daemon=True)
        self._thread.start()

    def beat(self, store: Store) -> None:
        now = self.clock()
        store.heartbeat(_ME, now, self.lease, started=self.started, doing=self.doing())
        if self.on_beat is not None:
            self.on_beat(store, now)

    def _run(self) -> None:
        store: Store | None = None
        while not self._stop.wait(self.every):
            try:
                store = store or Store(self.config.state)
                self.beat(store)
            except Exception as exc:  # a database restarting: beat again next time
                log.warning("heartbeat of %s failed: %s", _ME, exc)
                if store is not None:
                    with contextlib.suppress(Exception):
                        store.close()
                    store = None
        if store is not None:
            store.close()

    def stop(self) -> None:
        """Stop beating and give back the row and every lease still held."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
        with contextlib.suppress(ValueError):
            _renewed_for.remove(self.lease)
        try:
            with Store(self.config.state) as store:
                store.forget_worker(_ME)
        except WatcherError as exc:
            log.warning("cannot remove %s from the workers: %s", _ME, exc)


def _claimed(
    config: Config,
    store: Store,
    info: FileInfo,
    known: FileState | None,
    clock: Clock,
    matcher: Matcher | None,
    worker: sandbox.Worker,
) -> Outcome:
    """One file, claimed first when several workers share the store: a file is read by
    the worker whose claim (a lease, ``file:<path>``) succeeds; it then decides on what
    the store knows *now*, so a file another worker stored meanwhile is unchanged. A
    worker killed mid-file loses the claim when it expires (at once on its own machine)."""
    claim = _claim(config, store, info, known, clock)
    if claim is None:
        return Outcome("unchanged")
    lease, known = claim
    try:
        return _scan_one(config, store, info, known, clock, matcher, worker)
    finally:
        if lease is not None:
            store.release_lease(lease, _ME)


def _claim(
    config: Config, store: Store, info: FileInfo, known: FileState | None, clock: Clock
) -> tuple[str | None, FileState | None] | None:
    """The lease taken on a file (None: no need, on a store of one's own) and what the
    store knows of it then; None when another worker holds the file."""
    same = known is not None and (known.size, known.mtime_ns) == (info.size, info.mtime_ns)
    if not store.shared or (same and known is not None and known.status != "failed"):
        return None, known
    lease = f"file:{info.key}"
    if not store.take_lease(lease, _ME, clock(), _file_lease(config), _alive):
        log.debug("%s: another worker is reading it", info.key)
        return None
    return lease, store.file_state(info.key)


OutcomeKind = Literal["new", "unchanged", "duplicate", "failed", "waiting", "skipped"]


@dataclass(frozen=True)
class Outcome:
    """What became of one file in a scan."""

    kind: OutcomeKind
    articles: int = 0  # articles added
    matched: int = 0  # of which matched a topic
    reason: str | None = None  # why it failed


def _tally(report: ScanReport, outcome: Outcome, info: FileInfo) -> ScanReport:
    k = outcome.kind
    report = replace(
        report,
        new=report.new + (k == "new"),
        unchanged=report.unchanged + (k == "unchanged"),
        duplicate=report.duplicate + (k == "duplicate"),
        failed=report.failed + (k == "failed"),
        waiting=report.waiting + (k == "waiting"),
        skipped=report.skipped + (k == "skipped"),
        articles=report.articles + outcome.articles,
        matched=report.matched + outcome.matched,
    )
    if k == "failed" and outcome.reason is not None:
        report = replace(report, failures=(*report.failures, (info.key, outcome.reason)))
    return report


def _scan_one(
    config: Config,
    store: Store,
    info: FileInfo,
    known: FileState | None,
    clock: Clock,
    matcher: Matcher | None,
    worker: sandbox.Worker,
) -> Outcome:
    now = clock()
    decided = _triage(config, store, info, known, now)
    if decided is not None:
        return decided()
    today = now.astimezone(config.tz).date()
    return _read_one(
        config, store, info, _fetch(info, config.inbox), now, clock,
        lambda data: _process(info, data, today, matcher, worker, worker.limits),
    )  # fmt: skip


def _triage(
    config: Config, store: Store, info: FileInfo, known: FileState | None, now: dt.datetime
) -> Callable[[], Outcome] | None:
    """What becomes of a file without reading it (unchanged, skipped, waiting, failed
    before reading), to be recorded in its turn; None: it is to be read."""
    path = info.key
    same = known is not None and (known.size, known.mtime_ns) == (info.size, info.mtime_ns)
    if info.outside:
        if same:
            return lambda: Outcome("unchanged")

        def outside() -> Outcome:
            log.warning("%s: skipped: %s", path, OUTSIDE)
            store.record_file(path, info.size, info.mtime_ns, None, "skipped", now, OUTSIDE)
            return Outcome("skipped")

        return outside
    if known is not None and same:
        # A failure is retried on a backoff even if the file did not change (a
        # permission fixed, a reader installed, a limit raised); a file failed for
        # want of an optional reader is retried as soon as it is installed (looked
        # up only for such files: an unchanged folder costs no imports).
        due = known.status == "failed" and known.retry_at is not None and now >= known.retry_at
        wanted = _failed_for_want_of_reader(known, info.path)
        if wanted and readers.unavailable(info.path) is None:
            due = True
        elif wanted:
            due = False
        if not due:
            return lambda: Outcome("unchanged")
        log.info("%s: trying again a file that failed (%s)", path, known.reason)
    missing = readers.unavailable(info.path)
    age = now.timestamp() - info.mtime_ns / 1e9
    if age < config.scan.settle_seconds:
        log.debug("%s: changed %.1fs ago, waiting for the writer to finish", path, age)
        return lambda: Outcome("waiting")
    if readers.reader_for(info.path) is None:

        def unknown() -> Outcome:
            log.info("%s: skipped, not a type watcher reads (%s)", path, info.path.suffix or "none")
            store.record_file(path, info.size, info.mtime_ns, None, "skipped", now, "unknown type")
            return Outcome("skipped")

        return unknown
    if missing is not None:
        return lambda: _fail(store, info, None, missing, now)
    if info.size > config.scan.max_file_mb * 1024 * 1024:
        reason = f"too large ({info.size / 1048576:.0f} MB > scan.max_file_mb)"
        return lambda: _fail(store, info, None, reason, now)
    return None


@dataclass(frozen=True)
class Fetched:
    """A file's bytes, read and hashed, or why not."""

    sha: str | None = None
    data: bytes = b""
    failure: str | None = None  # could not be read: recorded as failed
    changed: bool = False  # changed while being read: left for the next scan


def _fetch(info: FileInfo, inbox: Path) -> Fetched:
    try:
        data, after = read_file(info, inbox)
    except OSError as exc:
        return Fetched(failure=f"cannot read: {exc.strerror or exc}")
    if (after.st_size, after.st_mtime_ns) != (info.size, info.mtime_ns) or len(data) != info.size:
        log.info("%s: changed while being read, will retry on the next scan", info.key)
        return Fetched(changed=True)
    return Fetched(hashlib.sha256(data).hexdigest(), data)


@dataclass(frozen=True)
class Processed:
    """A document decoded, split and matched, or why not."""

    encoding: str = ""
    articles: tuple[Article, ...] = ()
    matches: tuple[list[Match], ...] = ()
    missed: tuple[list[NearMiss], ...] = ()  # per article, as Matcher.assess gives them
    waiting: bool = False  # its reader cannot run now: left for the next scan
    failure: str | None = None  # recorded as failed
    # From a scan worker: the articles and matches as the store's rows instead (they
    # cross the process boundary as plain tuples; see store.DocumentRows).
    rows: DocumentRows | None = None

    def counts(self) -> tuple[int, int]:
        """(articles, articles matched)."""
        if self.rows is not None:
            return len(self.rows.articles), self.rows.matched
        return len(self.articles), sum(1 for found in self.matches if found)


def _process(
    info: FileInfo,
    data: bytes,
    today: dt.date,
    matcher: Matcher | None,
    worker: sandbox.Worker | None,
    limits: readers.Limits,
) -> Processed:
    """Decode (readers), split (pages) and match one file's bytes."""
    path = info.key
    try:
        text = readers.read_bytes(info.path, data, limits, worker)
        articles = pages.split_page(text.text, markup=text.markup, today=today, known=text.page)
        assessed = [matcher.assess(a) for a in articles] if matcher else []
    except ReaderUnavailable as exc:
        log.warning("%s: not read now, will retry on the next scan: %s", path, exc)
        return Processed(waiting=True)
    except ReadError as exc:
        return Processed(failure=str(exc))
    except Exception as exc:  # one strange document must not stop the scan
        log.exception("%s: could not process", path)
        return Processed(failure=f"internal error: {type(exc).__name__}: {exc}")
    # (Where the reading was done: a worker's records are replayed with its pid.)
    log.debug("%s: read (%s), %d articles", path, text.encoding, len(articles))
    return Processed(
        text.encoding,
        tuple(articles),
        tuple(found for found, _ in assessed),
        tuple(near for _, near in assessed),
    )


def _read_one(
    config: Config,
    store: Store,
    info: FileInfo,
    fetched: Fetched,
    now: dt.datetime,
    clock: Clock,
    process: Callable[[bytes], Processed],
) -> Outcome:
    """A file read (or not): failed, waiting, a duplicate, or stored."""
    if fetched.failure is not None:
        return _fail(store, info, None, fetched.failure, now)
    if fetched.changed or fetched.sha is None:
        return Outcome("waiting")
    sha = fetched.sha
    if not store.shared:
        return _store_one(store, info, sha, fetched.data, now, clock, process)
    # The same bytes under two names, read by two workers at once: one stores them.
    lease = f"doc:{sha}"
    if not store.take_lease(lease, _ME, clock(), _file_lease(config), _alive):
        log.info("%s: another worker is storing the same content; left for the next scan",
                 info.key)  # fmt: skip
        return Outcome("waiting")
    try:
        return _store_one(store, info, sha, fetched.data, now, clock, process)
    finally:
        store.release_lease(lease, _ME)


def _store_one(
    store: Store,
    info: FileInfo,
    sha: str,
    data: bytes,
    now: dt.datetime,
    clock: Clock,
    process: Callable[[bytes], Processed],
) -> Outcome:
    """A file read and hashed: a duplicate, or decoded, split, matched and stored."""
    path = info.key
    if store.document_status(sha) == "ok":
        # Same bytes under another name (renamed or copied): not a new document.
        store.record_file(path, info.size, info.mtime_ns, sha, "duplicate", now)
        log.info("%s: same content as a document already read, not counted twice", path)
        return Outcome("duplicate")
    reader = readers.reader_for(info.path)
    if (reader is not None and reader.isolated(info.size)) or info.size > QUICK_IN_BATCH:
        store.commit_batch()  # reading may take long: not under the write lock
    else:  # a small file reads, splits and matches in milliseconds
        store.commit_batch(only_if_old=True)
    done = process(data)
    if done.waiting:
        return Outcome("waiting")
    if done.failure is not None:
        return _fail(store, info, sha, done.failure, now)
    store.add_document(
        sha256=sha,
        path=path,
        size=info.size,
        mtime_ns=info.mtime_ns,
        encoding=done.encoding,
        articles=done.articles,
        now=clock,  # read under the write lock: see Store.add_document
        matches=done.matches,
        rows=done.rows,
        missed=done.missed,
    )
    articles, matched = done.counts()
    log.debug("%s: %d articles (%s)", path, articles, done.encoding)
    return Outcome("new", articles, matched)


# --- the scan in worker processes (scan.workers) --------------------------------------
#
# The scanning process lists, triages and claims files in order, and records every file
# in its turn: the store sees the serial scan's writes in the serial order. It reads
# files too: ``scan.workers: N`` is N processes reading, this one and N - 1 workers
# (on 2 cores, two processes rather than three: the writer is one of the readers). The
# files to read are grouped in chunks as they enter the window; the workers are given
# chunks from the far end of the window, a few each in hand, and this process reads the
# chunks its turn reaches that no worker was given: each takes work from its own end,
# so neither waits for the other and the shares follow their speeds. PDF and DOCX
# files (read in the sandboxed reader process anyway) are read here, in their turn.

CHUNK = 8  # files per task
WINDOW = 8  # chunks per reading process in the window
HELD = 4  # chunks a worker has in hand (sent, not yet answered)


@dataclass(eq=False)  # (compared by identity)
class _Chunk:
    """Up to CHUNK files of the window to read: by a worker (sent) or here."""

    slots: list[_Slot]
    sent: bool = False


@dataclass
class _Slot:
    """One file of the window, in scan order."""

    info: FileInfo
    decided: Callable[[], Outcome] | None = None  # known without reading
    now: dt.datetime | None = None
    lease: str | None = None
    task: Future[list[tuple[Fetched, Processed | None, list[logging.LogRecord]]]] | None = None
    at: int = 0  # its place in the task's chunk
    chunk: _Chunk | None = None  # the chunk it is read in (None: nothing to read)


def _in_pool(
    config: Config,
    store: Store,
    files: Sequence[FileInfo],
    known: Mapping[str, FileState],
    clock: Clock,
    matcher: Matcher | None,
    topics: Sequence[Topic],
    segmenter: Segmenter,
    worker: sandbox.Worker,
    workers: int,
    should_stop: Callable[[], bool] | None,
) -> Iterator[tuple[FileInfo, Outcome]]:
    """(file, outcome) in scan order, the reading shared by this process and
    ``workers - 1`` worker processes."""
    segmenter.warm()  # the dictionary's cache file, made once, before the workers read it
    limits = read_limits(config)
    window: collections.deque[_Slot] = collections.deque()
    unsent: collections.deque[_Chunk] = collections.deque()  # in window order
    in_hand: set[Future[Any]] = set()
    todo = iter(files)
    size = workers * CHUNK * WINDOW
    broken = warned = False
    args = (tuple(topics), segmenter.cache_dir, config.inbox, limits)
    plural = "" if workers == 2 else "s"
    log.info("scan of %s: reading in %d processes (this one and %d worker%s)",
             safe_text(config.inbox), workers, workers - 1, plural)  # fmt: skip
    starting, early = True, 0  # files taken in turn here while the workers start
    with parallel.Pool(workers - 1, _worker_start, args) as pool:
        try:
            while True:
                if starting and pool.ready():
                    starting = False
                    if not pool.hung_at_start:
                        log.debug("scan workers started; %d files taken here meanwhile", early)
                    else:
                        log.warning("scan workers did not start in %.0f s; reading the rest "
                                    "in this process", parallel.START_TIMEOUT)  # fmt: skip
                        broken = warned = True
                if starting or broken:  # one by one, read here
                    if not window:
                        _fill(config, store, todo, known, clock, window, unsent, 1)
                        early += len(window) if starting else 0
                elif len(window) <= size - CHUNK:
                    _fill(config, store, todo, known, clock, window, unsent, size)
                if not (starting or broken):
                    broken = not _feed(config, clock, pool, unsent, in_hand,
                                       HELD * pool.workers)  # fmt: skip
                    if broken and not warned:  # a worker died between two chunks' tasks
                        log.warning("scan workers failed (the pool takes no more work); "
                                    "reading the rest in this process")  # fmt: skip
                        warned = True
                if not window:
                    return
                if should_stop is not None and should_stop():
                    log.info("scan stopped early on request")
                    return
                slot = window.popleft()
                if slot.chunk is not None and not slot.chunk.sent:
                    _take(unsent, slot.chunk)  # reached here first: read here, in turn
                if slot.task is not None and not _answered(slot.task):
                    store.commit_batch()  # waiting on the workers: not under the write lock
                if slot.task is not None and not pool.settled(slot.task):
                    log.warning("scan workers hung (no answer in %.0f s); reading the rest "
                                "in this process", parallel.TASK_TIMEOUT)  # fmt: skip
                    for waiting in (slot, *window):  # answered ones keep their answers
                        if waiting.task is not None and not waiting.task.done():
                            waiting.task = None
                    broken = warned = True
                if not warned and slot.task is not None and _failed(slot.task):
                    log.warning("scan workers failed (%s); reading the rest in this process",
                                slot.task.exception())  # fmt: skip
                    broken = warned = True
                try:
                    yield slot.info, _finish(config, store, slot, clock, matcher, worker)
                finally:
                    if slot.lease is not None:
                        store.release_lease(slot.lease, _ME)
        finally:
            for slot in window:
                if slot.lease is not None:
                    store.release_lease(slot.lease, _ME)


# How long the scanning process waits on a worker's answer with the batch open: a chunk
# is usually answered in milliseconds, and a commit per short wait tripled the scan's
# commits (every index page written again each time); a longer wait commits first.
QUICK_ANSWER = 0.05


def _answered(task: Future[Any]) -> bool:
    """Whether ``task`` is done now or within QUICK_ANSWER seconds."""
    return task.done() or not concurrent.futures.wait([task], timeout=QUICK_ANSWER).not_done


def _failed(task: Future[Any]) -> bool:
    """Whether a task ended without a result (its worker died); waits for it."""
    try:
        task.result()
    except Exception:
        return True
    return False


def _fill(
    config: Config,
    store: Store,
    todo: Iterator[FileInfo],
    known: Mapping[str, FileState],
    clock: Clock,
    window: collections.deque[_Slot],
    unsent: collections.deque[_Chunk],
    size: int,
) -> None:
    """Triage files into the window until it holds ``size``; the ones to read grouped
    in chunks, appended to ``unsent``."""
    chunk = _Chunk([])
    while len(window) < size and (info := next(todo, None)) is not None:
        now = clock()
        claim = _claim(config, store, info, known.get(info.key), clock)
        if claim is None:
            window.append(_Slot(info, lambda: Outcome("unchanged")))
            continue
        lease, state = claim
        decided = _triage(config, store, info, state, now)
        slot = _Slot(info, decided, now, lease)
        window.append(slot)
        reader = readers.reader_for(info.path)
        if decided is None and reader is not None and not reader.isolated(info.size):
            slot.chunk = chunk
            chunk.slots.append(slot)
            if len(chunk.slots) == CHUNK:
                unsent.append(chunk)
                chunk = _Chunk([])
    if chunk.slots:
        unsent.append(chunk)


def _take(unsent: collections.deque[_Chunk], chunk: _Chunk) -> None:
    """Take ``chunk`` out of ``unsent`` (where the scan's turn reaches it, the first)."""
    if unsent and unsent[0] is chunk:
        unsent.popleft()
    elif chunk in unsent:
        unsent.remove(chunk)
    chunk.slots = []  # (slot and chunk refer to each other: a cycle, kept till a GC pass)


def _feed(
    config: Config,
    clock: Clock,
    pool: parallel.Pool,
    unsent: collections.deque[_Chunk],
    in_hand: set[Future[Any]],
    most: int,
) -> bool:
    """Give the workers chunks from the far end of the window until they hold ``most``
    unanswered (all but the oldest); False if the pool is broken."""
    in_hand.difference_update([t for t in in_hand if t.done()])
    # The oldest chunk stays: the scan's turn is about to reach it, and sending it would
    # only make this process wait for it.
    while len(unsent) > 1 and len(in_hand) < most:
        chunk = unsent.pop()  # the newest: the scan's turn reaches it last
        work = [(s.info, (s.now or clock()).astimezone(config.tz).date()) for s in chunk.slots]
        try:
            task = pool.submit(_read_in_worker, work)
        except Exception as exc:  # a pool whose worker died takes no more work
            log.debug("scan workers take no more work (%s)", exc)
            unsent.append(chunk)
            return False
        for k, s in enumerate(chunk.slots):
            s.task, s.at = task, k
        chunk.sent, chunk.slots = True, []  # (see _take)
        in_hand.add(task)
    return True


def _finish(
    config: Config,
    store: Store,
    slot: _Slot,
    clock: Clock,
    matcher: Matcher | None,
    worker: sandbox.Worker,
) -> Outcome:
    """Record one file of the window in its turn."""
    if slot.decided is not None:
        return slot.decided()
    info, now = slot.info, slot.now or clock()
    today = now.astimezone(config.tz).date()
    here = functools.partial(_process, info, today=today, matcher=matcher, worker=worker,
                             limits=worker.limits)  # fmt: skip
    if slot.task is not None:
        if not slot.task.done():
            store.commit_batch()  # not waiting on the workers under the write lock
        try:
            fetched, done, records = slot.task.result()[slot.at]
        except Exception as exc:  # a worker died (killed, out of memory): read it here
            log.debug("%s: the scan worker reading it failed (%s); reading it here",
                      info.key, exc)  # fmt: skip
        else:
            parallel.replay(records)
            return _read_one(config, store, info, fetched, now, clock,
                             lambda data: done if done is not None else here(data))  # fmt: skip
    return _read_one(config, store, info, _fetch(info, config.inbox), now, clock, here)


_WORKER: tuple[Matcher | None, Path, readers.Limits] | None = None


def _worker_start(
    topics: tuple[Topic, ...], cache_dir: Path | None, inbox: Path, limits: readers.Limits
) -> None:
    """A scan worker's set-up: the Matcher of the scan's topics, built once."""
    global _WORKER
    segmenter = segment.default(cache_dir)
    _WORKER = (Matcher(list(topics), segmenter) if topics else None, inbox, limits)


def _read_in_worker(
    chunk: list[tuple[FileInfo, dt.date]],
) -> list[tuple[Fetched, Processed | None, list[logging.LogRecord]]]:
    """In a worker: read, hash, decode, split and match each file of ``chunk``; the
    bytes stay here (the scanning process needs the hash only)."""
    assert _WORKER is not None
    matcher, inbox, limits = _WORKER
    out: list[tuple[Fetched, Processed | None, list[logging.LogRecord]]] = []
    for info, today in chunk:
        fetched = _fetch(info, inbox)
        done = None
        if fetched.sha is not None:
            done = _process(info, fetched.data, today, matcher, None, limits)
            rows = document_rows(done.articles, done.matches, done.missed)
            done = replace(done, articles=(), matches=(), missed=(), rows=rows)
            fetched = replace(fetched, data=b"")
        out.append((fetched, done, parallel.collected()))
    return out


OUTSIDE = "a symbolic link leading outside the inbox (or to no regular file): not read"


def _failed_for_want_of_reader(known: FileState, path: Path) -> bool:
    reason = readers.needs_reason(path)
    return reason is not None and known.status == "failed" and known.reason == reason


def _fail(store: Store, info: FileInfo, sha: str | None, reason: str, now: dt.datetime) -> Outcome:
    log.warning("%s: failed: %s", info.key, reason)
    store.add_failure(
        sha256=sha,
        path=info.key,
        size=info.size,
        mtime_ns=info.mtime_ns,
        reason=reason,
        now=now,
    )
    return Outcome("failed", reason=reason)


# --- the digest: produce (once), write the archive, deliver (exactly once) --------
#
# The second recipe. ``tick`` is what the daemon runs at every scan and digest time
# and what ``watcher run --once`` runs once; ``digest_day`` is what ``watcher digest``
# runs: both produce a day's digest the same way, with the same notices, and give
# every configured channel its delivery.


@dataclass(frozen=True)
class DeliveryResult:
    day: dt.date
    channel: str
    ok: bool
    detail: str  # what was sent, or the error
    permanent: bool = False  # a failure that waiting will not heal
    period: str | None = None  # a period's delivery ('weekly:…', 'published:…')


@dataclass(frozen=True)
class DigestRun:
    """What making (or re-rendering) one day's digest did."""

    digest: Digest
    made: bool  # produced now; False: the stored one
    paths: tuple[Path, ...]  # report files written
    deliveries: tuple[DeliveryResult, ...] = ()


@dataclass(frozen=True)
class Preview:
    """A dry run: the digest as it would be, and what each channel would get."""

    digest: Digest
    stored: bool  # the day's digest exists already (it is shown as stored)
    channels: tuple[tuple[str, str, str], ...]  # (channel, status, what would be sent)


@dataclass(frozen=True)
class TickReport:
    """One tick of the schedule."""

    scan: ScanReport | None
    digest: DigestRun | None  # today's digest, when it was due (or forced) now
    rewritten: tuple[dt.date, ...]  # days whose missing report files were written again
    deliveries: tuple[DeliveryResult, ...]
    weekly: tuple[str, ...] = ()  # weekly summaries produced now ('weekly:2026-11-23')


def today(config: Config, clock: Clock = utc_now) -> dt.date:
    """The calendar day it is now in the configured time zone."""
    return clock().astimezone(config.tz).date()


def alarms(config: Config, store: Store, now: dt.datetime, topics: Sequence[Topic]) -> list[str]:
    """Conditions a user should know about, in plain words (for status and the digest)."""
    out = []
    facts = store.alarm_facts(now - dt.timedelta(days=1))
    last = facts.last_document
    quiet = config.alarms.quiet_days
    if last is not None and now - last > dt.timedelta(days=quiet):
        out.append(f"已有 {(now - last).days} 天没有新文件进入收件箱（{config.inbox}）")
    read, failed = facts.read_today, facts.failed_today
    if read and failed / read > config.alarms.failure_rate:
        out.append(f"过去一天读取失败率 {failed / read:.0%}（{failed}/{read}），超过阈值")
    silent = config.alarms.silent_topic_days
    first = facts.first_document
    if first is not None and now - first > dt.timedelta(days=silent):
        for t in topics:
            seen = facts.topic_last_match.get(t.id)
            if seen is None or now - seen > dt.timedelta(days=silent):
                out.append(f"关注主题「{t.name}」已有 {silent} 天以上没有匹配文章")
    return out


def notices(
    config: Config,
    store: Store,
    topics: Sequence[Topic],
    now: dt.datetime,
    config_errors: Sequence[str] = (),
) -> list[str]:
    """The footer of a digest: config problems (of a running daemon's bad edit), then
    alarms. The same for every command that makes a digest."""
    out = [f"配置错误（仍在使用上次的有效配置）：{p}" for p in config_errors]
    return out + alarms(config, store, now, topics)


def _window(
    config: Config,
    store: Store,
    topics: Sequence[Topic],
    day: dt.date,
    now: dt.datetime,
    notes: Sequence[str],
) -> Digest:
    """The digest of ``day`` made now from the store (pure but for reading it)."""
    since = store.last_cutoff(day)
    window = list(store.articles_seen(since, now))
    found: dict[tuple[str, int], list[Match]] = {}
    for doc, idx, m in store.matches_for({r.doc_sha256 for r in window}):
        found.setdefault((doc, idx), []).append(m)
    candidates = [
        digest_mod.Candidate(
            r.doc_sha256,
            r.file,
            r.article,
            r.first_seen,
            tuple(found[(r.doc_sha256, r.article.index)]),
        )
        for r in window
        if (r.doc_sha256, r.article.index) in found
    ]
    docs, arts = store.window_counts(since, now)
    history = {d: c for d, c in store.digest_days() if d < day}
    return digest_mod.build_digest(
        day=day,
        timezone=config.timezone,
        produced_at=now,
        since=since,
        topics=topics,
        candidates=candidates,
        history=history,
        stats=DigestStats(documents=docs, articles=arts, failures=tuple(store.failures())),
        notices=notes,
        max_per_topic=config.digest.max_per_topic,
    )


def produce_digest(
    config: Config,
    store: Store,
    topics: Sequence[Topic],
    day: dt.date,
    *,
    clock: Clock = utc_now,
    notices: Sequence[str] = (),
) -> tuple[Digest, bool]:
    """The digest of ``day``: the stored one if it exists, else made now.

    A new digest holds every match of the articles first seen since the
    previous digest's cut-off, up to now: no gaps, no overlap, whatever the
    schedule or downtime. It is stored with one pending delivery per channel
    in the same transaction; returns (digest, True when made now).
    """
    # The cut-off is taken under the write lock: a scan stamps its documents' first-seen
    # time under that lock too, so every article first seen up to the cut-off is
    # committed once the lock is ours, and every later one is stamped after it.
    with store.transaction():
        stored = store.digest(day)
        if stored is not None:
            return digest_mod.from_json(stored), False
        now = clock()
    # Reading and grouping the window (slow for thousands of near-identical articles)
    # happens outside any write transaction, so a concurrent scan never waits on it.
    made = _window(config, store, topics, day, now, notices)
    counts = {s.id: s.count for s in made.sections}
    plan = deliveries.plan(config, made)
    with store.transaction():
        if store.last_cutoff(day) != made.since:
            # An earlier day's digest was stored meanwhile (a clock set back): the
            # window must start at its cut-off; make it again.
            return produce_digest(config, store, topics, day, clock=clock, notices=notices)
        if not store.add_digest(day, now, made.since, counts, digest_mod.to_json(made), plan):
            # Another process made it first (two CLIs at once): use theirs.
            return digest_mod.from_json(store.digest(day) or ""), False
    log.info("digest %s produced: %d matched articles, %d channels", day, made.total, len(plan))
    return made, True


def stored_digest(store: Store, day: dt.date) -> Digest | None:
    """The digest produced on ``day``, or None."""
    text = store.digest(day)
    return digest_mod.from_json(text) if text is not None else None


def ensure_deliveries(config: Config, store: Store, day: dt.date, now: dt.datetime) -> None:
    """Give every configured channel a delivery of ``day``'s digest: a channel added
    after the digest was produced gets it too (skipped, like the others, when its view
    is empty and ``digest.send_empty`` is off)."""
    have = {r.channel for r in store.deliveries(day=day)}
    wanted = deliveries.daily_channels(config)
    if all(ch.name in have for ch in wanted):
        return
    d = stored_digest(store, day)
    if d is None:
        return
    for name, key, status in deliveries.plan(config, d):
        if name not in have:
            store.ensure_delivery(day, name, key, now, status)


def renderer_for(config: Config) -> Renderer:
    """Templates: a file of the same name in templates/ next to the config wins."""
    from watcher.render import Renderer

    return Renderer(config.path.parent / "templates", base_url=config.digest.base_url)


def write_reports(config: Config, store: Store, d: Digest, renderer: Renderer) -> list[Path]:
    """The report archive for one digest (and the index of all days, and the topics'
    feeds of the latest digests)."""
    topics = [(s.id, s.name, s.description) for s in d.sections]
    found = feeds.from_store(store, topics, config.digest.feed_entries)
    atoms = {f.topic_id: feeds.atom(f, base_url=config.digest.base_url) for f in found}
    return write_archive(d, renderer, config.digest.out_dir, store.digest_days(), atoms)


def digest_day(
    config: Config,
    store: Store,
    topics: Sequence[Topic],
    day: dt.date,
    *,
    clock: Clock = utc_now,
    config_errors: Sequence[str] = (),
    send: bool = False,
    env: Mapping[str, str] | None = None,
    renderer: Renderer | None = None,
) -> DigestRun:
    """Make (once) and write the digest of ``day``; with ``send``, deliver what is pending.

    The recipe: produce the digest with the day's notices (or take the stored one) →
    write its report files → give every configured channel a delivery row (a channel
    added since gets it too) → deliver the pending ones, ignoring retry times.
    """
    renderer = renderer or renderer_for(config)
    now = clock()
    made, new = produce_digest(
        config, store, topics, day, clock=clock,
        notices=notices(config, store, topics, now, config_errors),
    )  # fmt: skip
    paths = tuple(write_reports(config, store, made, renderer))
    ensure_deliveries(config, store, day, clock())
    results: tuple[DeliveryResult, ...] = ()
    if send:
        results = tuple(
            deliver(config, store, renderer, clock=clock, day=day, due_only=False, env=env)
        )
    return DigestRun(made, new, paths, results)


# --- the weekly summary: per channel cadence ------------------------------------------


def make_weekly(
    config: Config, store: Store, topics: Sequence[Topic], *, clock: Clock = utc_now
) -> list[str]:
    """Produce (once) the weekly summary each weekly channel is due, and give the channel
    its delivery; returns the periods produced now.

    A channel is due the summary of the 7 days before its latest ``weekly_at`` (a
    daemon down at that time makes it late, once). A week without any daily digest
    (watcher was not running) has no summary. A channel added later gets the
    summary of its latest due week too.
    """
    made: list[str] = []
    now = clock()
    for ch in deliveries.weekly_channels(config):
        assert ch.weekly_at is not None
        due_day, _ = schedule.weekly_due(now, ch.weekly_at, config.timezone)
        first, last = schedule.week_of(due_day)
        period = deliveries.weekly_period(first)
        stored = store.period(period)
        if stored is None:
            days = {d: c for d, c in store.digest_days()}
            if not any(first <= d <= last for d in days):
                continue
            w = _weekly(config, store, topics, first, days, now)
            plan = deliveries.plan_period(config, period, w, [ch])
            if store.add_period(period, first, last, now, digest_mod.weekly_to_json(w), plan):
                log.info("weekly %s produced: %d matched articles", period, w.total)
                made.append(period)
                continue
            stored = store.period(period)
        if stored is None:
            continue
        if all(r.channel != ch.name for r in store.period_deliveries(period=period)):
            w = digest_mod.weekly_from_json(stored)
            [(name, key, status)] = deliveries.plan_period(config, period, w, [ch])
            store.ensure_period_delivery(period, name, key, now, status)
    return made


def _weekly(
    config: Config,
    store: Store,
    topics: Sequence[Topic],
    first: dt.date,
    days: Mapping[dt.date, Mapping[str, int]],
    now: dt.datetime,
) -> WeeklyDigest:
    """The summary of the 7 days from ``first``, from their stored daily digests."""
    week = {}
    for n in range(7):
        d = first + dt.timedelta(days=n)
        stored = stored_digest(store, d)
        if stored is not None:
            week[d] = stored
    return digest_mod.build_weekly(
        first=first, timezone=config.timezone, produced_at=now, topics=topics,
        digests=week, history=days, max_per_topic=config.digest.max_per_topic,
    )  # fmt: skip


# --- digests of past publication days --------------------------------------------------


@dataclass(frozen=True)
class PublishedRun:
    """What ``watcher digest --published`` did."""

    digest: Digest
    period: str  # 'published:2024-07-15_2024-07-21'
    stored: bool  # the range was sent before: its stored digest was used
    paths: tuple[Path, ...]
    deliveries: tuple[DeliveryResult, ...] = ()


def published_renderer(config: Config, first: dt.date, last: dt.date) -> Renderer:
    """The renderer of a range's digest: links under its own folder of the archive."""
    from watcher.render import Renderer

    base = config.digest.base_url
    folder = published_folder(first, last)
    return Renderer(
        config.path.parent / "templates",
        base_url=f"{base.rstrip('/')}/{folder}" if base else None,
    )


def published_folder(first: dt.date, last: dt.date) -> str:
    """Where a range's digest lives in the archive: ``published/2024-07-15_2024-07-21``
    (a folder of its own, laid out as the archive is, apart from the daily files)."""
    return f"published/{first.isoformat()}_{last.isoformat()}"


def _published(
    config: Config,
    store: Store,
    topics: Sequence[Topic],
    first: dt.date,
    last: dt.date,
    now: dt.datetime,
) -> Digest:
    """The digest of the articles published in [first, last] (pure but for reading)."""
    if last < first:
        raise WatcherError(
            f"--until {last} is before --published {first}; give the first day first"
        )
    rows = store.articles_published(first, last)
    if not rows:
        raise WatcherError(
            f"no stored article was published between {first} and {last} (by the paper's "
            "date, else the dateline's); 'watcher articles --date D' lists a day's articles"
        )
    found: dict[tuple[str, int], list[Match]] = {}
    for doc, idx, m in store.matches_for({r.doc_sha256 for r in rows}):
        found.setdefault((doc, idx), []).append(m)
    candidates = [
        digest_mod.Candidate(
            r.doc_sha256, r.file, r.article, r.first_seen,
            tuple(found[(r.doc_sha256, r.article.index)]),
        )
        for r in rows
        if (r.doc_sha256, r.article.index) in found
    ]  # fmt: skip
    stats = DigestStats(
        documents=len({r.doc_sha256 for r in rows}), articles=len(rows), failures=()
    )
    return digest_mod.build_published(
        first=first, last=last, timezone=config.timezone, produced_at=now, topics=topics,
        candidates=candidates, stats=stats, max_per_topic=config.digest.max_per_topic,
    )  # fmt: skip


def digest_published(
    config: Config,
    store: Store,
    topics: Sequence[Topic],
    first: dt.date,
    last: dt.date,
    *,
    clock: Clock = utc_now,
    send: bool = False,
    force: bool = False,
    env: Mapping[str, str] | None = None,
) -> PublishedRun:
    """The digest of publication days ``first``..``last``, written to its own folder of
    the archive; with ``send``, delivered once to every channel, keyed by the range.

    The recipe: the stored digest of the range if it was sent before (fixed from then
    on, like a day's), else made now from the store → with ``send``, stored with one
    delivery per channel (a channel added since gets one too; ``force`` makes the sent
    ones pending again under new keys) → written → the pending ones delivered. The
    daily digests, their cut-offs and deliveries are never touched.
    """
    period = deliveries.published_period(first, last)
    now = clock()
    text = store.period(period)
    d = digest_mod.from_json(text) if text is not None else None
    stored = d is not None
    if d is None:
        d = _published(config, store, topics, first, last, now)
    renderer = published_renderer(config, first, last)
    results: tuple[DeliveryResult, ...] = ()
    if send:
        chosen = deliveries.channels(config)
        if text is None:
            plan = deliveries.plan_period(config, period, d, chosen)
            if not store.add_period(period, first, last, now, digest_mod.to_json(d), plan):
                d, stored = digest_mod.from_json(store.period(period) or ""), True
        have = {r.channel: r for r in store.period_deliveries(period=period)}
        for name, key, status in deliveries.plan_period(config, period, d, chosen):
            row = have.get(name)
            if row is None:
                store.ensure_period_delivery(period, name, key, now, status)
            elif force and row.status == "sent":
                salt = f"force-{row.attempts}"
                store.period_delivery_reset(
                    period, name, deliveries.period_key(period, name, salt), now
                )
    out = config.digest.out_dir / published_folder(first, last)
    paths = tuple(write_archive(d, renderer, out, []))
    if send:
        results = tuple(
            deliver_periods(
                config, store, renderer, clock=clock, period=period, due_only=False, env=env
            )
        )
    return PublishedRun(d, period, stored, paths, results)


def preview_published(
    config: Config,
    store: Store,
    topics: Sequence[Topic],
    first: dt.date,
    last: dt.date,
    *,
    clock: Clock = utc_now,
    force: bool = False,
) -> Preview:
    """A dry run of :func:`digest_published`: the digest and each channel's message,
    writing nothing."""
    period = deliveries.published_period(first, last)
    text = store.period(period)
    d = (
        digest_mod.from_json(text)
        if text is not None
        else _published(config, store, topics, first, last, clock())
    )
    renderer = published_renderer(config, first, last)
    rows = {r.channel: r for r in store.period_deliveries(period=period)}
    planned = {
        name: status
        for name, _, status in deliveries.plan_period(
            config, period, d, deliveries.channels(config)
        )
    }
    out = []
    for ch in deliveries.channels(config):
        row = rows.get(ch.name)
        status: str = row.status if row is not None else planned[ch.name]
        if force and status == "sent":
            status = "sent, would be resent"
        out.append((ch.name, status, _describe(ch, _outgoing(d, renderer, ""))))
    return Preview(d, text is not None, tuple(out))


def resend(config: Config, store: Store, day: dt.date, now: dt.datetime) -> int:
    """``--force``: make the day's sent deliveries pending again, under new keys."""
    configured = {c.name for c in deliveries.daily_channels(config)}
    n = 0
    for row in store.deliveries(day=day):
        if row.status == "sent" and row.channel in configured:  # never a skipped one
            salt = f"force-{row.attempts}"
            key = deliveries.delivery_key(day, row.channel, salt)
            store.delivery_reset(day, row.channel, key, now)
            n += 1
    return n


def preview(
    config: Config,
    store: Store,
    topics: Sequence[Topic],
    day: dt.date,
    *,
    clock: Clock = utc_now,
    config_errors: Sequence[str] = (),
    force: bool = False,
    renderer: Renderer | None = None,
) -> Preview:
    """A dry run of ``digest_day``: the digest and each channel's message, writing nothing
    (a digest not yet produced is built in memory and not stored)."""
    renderer = renderer or renderer_for(config)
    now = clock()
    stored = stored_digest(store, day)
    d = stored or _window(
        config, store, topics, day, now, notices(config, store, topics, now, config_errors)
    )
    rows = {r.channel: r for r in store.deliveries(day=day)}
    planned = {name: status for name, _, status in deliveries.plan(config, d)}
    out = []
    for ch in deliveries.daily_channels(config):
        row = rows.get(ch.name)
        status: str = row.status if row is not None else planned[ch.name]
        if row is not None and row.status == "pending" and row.parts_sent:
            status += f", {row.parts_sent} part(s) already sent"
        if force and status == "sent":
            status = "sent, would be resent"
        view = deliveries.only_topics(d, ch.topics)
        out.append((ch.name, status, describe_delivery(ch, view, renderer)))
    return Preview(d, stored is not None, tuple(out))


def tick(
    config: Config,
    store: Store,
    topics: Sequence[Topic],
    *,
    segmenter: Segmenter | None = None,
    clock: Clock = utc_now,
    config_errors: Sequence[str] = (),
    scan_inbox: bool = True,
    settle: bool = False,
    force_digest: bool = False,
    should_stop: Callable[[], bool] | None = None,
    env: Mapping[str, str] | None = None,
    index_backlog: bool = False,
) -> TickReport:
    """One turn of the schedule, as the daemon and ``watcher run --once`` run it.

    ``index_backlog`` (the daemon): after the digest and its deliveries, the search
    index catches up on what a bulk scan left for it (a scan indexes a bounded number
    of articles, search.SCAN_INDEX), so the first search after an import is not slow.

    The recipe: scan the inbox → make today's digest if its time has come (or
    ``force_digest``) → write report files missing after a crash → make the weekly
    summaries whose time has come → give every channel of the catch-up window its
    delivery → deliver what is pending and due (days, then periods). Each step after
    the scan stands alone: a digest that fails to render never stops delivery.
    """
    report = None
    if scan_inbox:
        report = scan(
            config, store, topics=topics, segmenter=segmenter, clock=clock,
            should_stop=should_stop, settle=settle,
        )  # fmt: skip
    renderer = renderer_for(config)
    made: DigestRun | None = None
    rewritten: list[dt.date] = []
    results: list[DeliveryResult] = []
    weekly: list[str] = []
    now = clock()
    produced = {d for d, _ in store.digest_days()}
    oldest = today(config, clock) - dt.timedelta(days=config.digest.catch_up_days)

    def step(name: str, work: Callable[[], None]) -> None:
        try:
            work()
        except WatcherError as exc:
            log.error("%s: %s", name, exc)
        except OSError as exc:  # a full disk, a folder made read-only: say what, go on
            log.error("%s: %s", name, os_problem(exc))
        except Exception:  # the next step and the next tick go on
            log.exception("%s: internal error (watcher goes on)", name)

    def make() -> None:
        nonlocal made
        day = schedule.digest_due(now, config.schedule.digest_at, config.timezone, produced)
        if force_digest and day is None and today(config, clock) not in produced:
            day = today(config, clock)
        if day is None:
            return
        # Every worker's schedule asks; the one that takes the lease makes it. Should
        # it die, the lease expires and the next worker's tick makes it.
        if not store.take_lease("digest", _ME, clock(), _lease(DIGEST_LEASE), _alive):
            log.info("digest %s: another worker is making it", day)
            return
        try:
            made = digest_day(
                config, store, topics, day, clock=clock, config_errors=config_errors,
                renderer=renderer,
            )  # fmt: skip
        finally:
            store.release_lease("digest", _ME)
        log.info("digest %s: %s (%d files written)", day, made.digest.subject, len(made.paths))

    def rewrite() -> None:
        # A digest stored but whose files were never written (killed in between,
        # disk full): write them now.
        for done in sorted(d for d in produced if d >= oldest):
            if not (config.digest.out_dir / f"{done.isoformat()}.html").exists():
                d = stored_digest(store, done)
                if d is not None:
                    write_reports(config, store, d, renderer)
                    rewritten.append(done)
                    log.info("digest %s: report files written again", done)

    def send() -> None:
        # A channel added since today's digest was made gets it (not the days before
        # it existed: those stay for `watcher digest --date D --send`).
        if today(config, clock) in produced:
            ensure_deliveries(config, store, today(config, clock), clock())
        # Deliveries of the look-back window, oldest first; older ones are
        # left for `watcher digest --date D --send`.
        days = sorted({r.day for r in store.deliveries(status="pending")})
        for day in days:
            if day < oldest or (should_stop is not None and should_stop()):
                continue
            found = deliver(
                config, store, renderer, clock=clock, day=day, should_stop=should_stop, env=env
            )
            results.extend(found)
        # Then the periods': weekly summaries, digests of publication days.
        if should_stop is None or not should_stop():
            results.extend(
                deliver_periods(
                    config, store, renderer, clock=clock, should_stop=should_stop, env=env
                )
            )

    def summarise() -> None:
        weekly.extend(make_weekly(config, store, topics, clock=clock))

    step("digest", make)
    if made is not None:
        produced.add(made.digest.day)
    step("report files", rewrite)
    step("weekly", summarise)

    def index() -> None:
        search.catch_up(store, should_stop=should_stop)

    step("delivery", send)
    if index_backlog and scan_inbox:
        step("search index", index)
    return TickReport(report, made, tuple(rewritten), tuple(results), tuple(weekly))


def deliver(
    config: Config,
    store: Store,
    renderer: Renderer,
    *,
    clock: Clock = utc_now,
    day: dt.date | None = None,
    due_only: bool = True,
    env: Mapping[str, str] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> list[DeliveryResult]:
    """Send every pending delivery (of ``day``, or all), oldest first.

    Send first, then mark sent (rss2email's rule): a crash in between repeats
    the attempt, under the same idempotency key. A failure leaves the delivery
    pending with its error and a retry time from :func:`deliveries.retry_wait`;
    one failing channel never blocks the others.
    """

    def content(row: Delivery) -> Outgoing:
        d = stored_digest(store, row.day)
        if d is None:
            raise DeliveryError(f"no digest stored for {row.day}", permanent=True)
        return _outgoing(d, renderer, f"the digest of {row.day}")

    ledger = _Ledger(
        claim=lambda r, now: store.claim_delivery(
            r.day, r.channel, now, _ME, _alive, _lease(DELIVERY_LEASE)
        ),
        sent=lambda r, now: store.delivery_sent(r.day, r.channel, now),
        failed=lambda r, e, at, f: store.delivery_failed(r.day, r.channel, e, at, f),
        part_sent=lambda r, n: store.delivery_part_sent(r.day, r.channel, n),
        content=content,
    )
    rows = store.deliveries(day=day, status="pending")
    return _deliver_rows(config, rows, ledger, clock, due_only, env, should_stop)


def deliver_periods(
    config: Config,
    store: Store,
    renderer: Renderer,
    *,
    clock: Clock = utc_now,
    period: str | None = None,
    due_only: bool = True,
    env: Mapping[str, str] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> list[DeliveryResult]:
    """:func:`deliver` for the deliveries of periods (of ``period``, or all): weekly
    summaries and digests of publication days, by the same rules."""

    def content(row: Delivery) -> Outgoing:
        assert row.period is not None
        text = store.period(row.period)
        if text is None:
            raise DeliveryError(f"no digest stored for {row.period}", permanent=True)
        if row.period.startswith("weekly:"):
            w = digest_mod.weekly_from_json(text)
            return Outgoing(
                lambda ch: deliveries.only_weekly_topics(w, ch.topics).subject,
                lambda ch: renderer.weekly_email(deliveries.only_weekly_topics(w, ch.topics)),
                lambda ch, kind: renderer.weekly_chat(
                    deliveries.only_weekly_topics(w, ch.topics), kind
                ),
                f"the summary {row.period}",
            )
        d = digest_mod.from_json(text)
        first = d.published_from or d.day
        return _outgoing(d, published_renderer(config, first, d.day), f"the digest {row.period}")

    def key(r: Delivery) -> str:
        assert r.period is not None
        return r.period

    ledger = _Ledger(
        claim=lambda r, now: store.claim_period_delivery(
            key(r), r.channel, now, _ME, _alive, _lease(DELIVERY_LEASE)
        ),
        sent=lambda r, now: store.period_delivery_sent(key(r), r.channel, now),
        failed=lambda r, e, at, f: store.period_delivery_failed(key(r), r.channel, e, at, f),
        part_sent=lambda r, n: store.period_delivery_part_sent(key(r), r.channel, n),
        content=content,
    )
    rows = store.period_deliveries(period=period, status="pending")
    return _deliver_rows(config, rows, ledger, clock, due_only, env, should_stop)


@dataclass(frozen=True)
class Outgoing:
    """What a channel is sent, made on demand: the e-mail or the chat messages, for the
    channel's view (its topics) of one stored digest or summary."""

    subject: Callable[[deliveries.Channel], str]  # the chat title, of the channel's view
    email: Callable[[deliveries.Channel], EmailParts]
    chat: Callable[[deliveries.Channel, str], list[str]]
    what: str  # 'the digest of 2026-11-21', for errors


def _outgoing(d: Digest, renderer: Renderer, what: str) -> Outgoing:
    return Outgoing(
        lambda ch: deliveries.only_topics(d, ch.topics).subject,
        lambda ch: renderer.email(deliveries.only_topics(d, ch.topics)),
        lambda ch, kind: renderer.chat(deliveries.only_topics(d, ch.topics), kind),
        what,
    )


@dataclass(frozen=True)
class _Ledger:
    """Where one kind of delivery is recorded — a day's, or a period's — so both are
    sent by the one loop below: claim, send, then mark sent."""

    claim: Callable[[Delivery, dt.datetime], bool]
    sent: Callable[[Delivery, dt.datetime], None]
    failed: Callable[[Delivery, str, dt.datetime, Failure], None]
    part_sent: Callable[[Delivery, int], None]
    content: Callable[[Delivery], Outgoing]


def _deliver_rows(
    config: Config,
    rows: Sequence[Delivery],
    ledger: _Ledger,
    clock: Clock,
    due_only: bool,
    env: Mapping[str, str] | None,
    should_stop: Callable[[], bool] | None,
) -> list[DeliveryResult]:
    env = os.environ if env is None else env
    by_name = {c.name: c for c in deliveries.channels(config)}
    results = []
    now = clock()
    for row in rows:
        what = row.period or row.day
        if due_only and row.next_attempt and row.next_attempt > now:
            continue
        ch = by_name.get(row.channel)
        if ch is None:
            log.warning(
                "delivery %s %s: channel no longer configured; left pending", what, row.channel
            )
            continue
        if should_stop is not None and should_stop():
            break
        if not ledger.claim(row, clock()):
            log.info("delivery %s %s: another process is sending it", what, ch.name)
            continue
        try:
            detail = _send(config, ch, ledger.content(row), row, ledger, env, clock)
        except Exception as exc:
            if not isinstance(exc, DeliveryError):
                # A bug or a bad setting (an address without @): recorded like a
                # failed send, so this channel waits and the others go on.
                log.exception("delivery %s %s: internal error", what, ch.name)
                exc = DeliveryError(f"internal error: {type(exc).__name__}: {exc}")
            failure: Failure = "permanent" if exc.permanent else "transient"
            wait = deliveries.retry_wait(
                row.attempts + 1, failure, config.schedule.retry_after, exc.retry_after
            )
            retry_at = clock() + dt.timedelta(seconds=wait)
            ledger.failed(row, str(exc), retry_at, failure)
            log.warning(
                "delivery %s %s failed (attempt %d, %s; next try in %s): %s",
                what, ch.name, row.attempts + 1, failure, _span(wait), exc,
            )  # fmt: skip
            results.append(
                DeliveryResult(row.day, ch.name, False, str(exc), exc.permanent, row.period)
            )
            continue
        ledger.sent(row, clock())
        log.info("delivery %s %s: %s", what, ch.name, detail)
        results.append(DeliveryResult(row.day, ch.name, True, detail, period=row.period))
    return results


def os_problem(exc: OSError) -> str:
    """A file-system error in words, naming the file: "the disk is full" for ENOSPC."""
    where = safe_text(exc.filename) if exc.filename else "a file"
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return (
            f"cannot write {where}: the disk (or quota) is full; free some space there — "
            "nothing was lost, and watcher carries on where it stopped"
        )
    if exc.errno == errno.EFBIG:
        return (
            f"cannot write {where}: the file is too large for the file system or a size "
            "limit (ulimit -f); raise the limit — nothing was lost"
        )
    return f"cannot use {where}: {exc.strerror or exc}"


def _span(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m"
    return f"{seconds / 3600:.1f}h"


# Who this process is, for leases, delivery claims and heartbeats: "host:pid".
_ME = f"{socket.gethostname()}:{os.getpid()}"
WORKER = _ME


def _alive(claimer: str) -> bool:
    """Is the process that claimed a delivery still running? (Unknown hosts: yes.)"""
    host, _, pid = claimer.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return True
    return process_alive(int(pid))


worker_alive = _alive


def process_alive(pid: int) -> bool:
    """Does a process with this id run on this machine?"""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def describe_delivery(ch: deliveries.Channel, d: Digest, renderer: Renderer) -> str:
    """What would be sent on a channel (for --dry-run)."""
    return _describe(ch, _outgoing(d, renderer, ""))


def _describe(ch: deliveries.Channel, out: Outgoing) -> str:
    if ch.kind == "email":
        parts = out.email(ch)
        return (
            f"e-mail to {', '.join(ch.recipients)}: {parts.subject!r} "
            f"({len(parts.html.encode())} bytes HTML, {len(parts.text.encode())} bytes text)"
        )
    chunks = out.chat(ch, ch.kind)
    return (
        f"{ch.kind} webhook: {len(chunks)} message(s), {sum(len(c.encode()) for c in chunks)} bytes"
    )


def _send(
    config: Config,
    ch: deliveries.Channel,
    out: Outgoing,
    row: Delivery,
    ledger: _Ledger,
    env: Mapping[str, str],
    clock: Clock,
) -> str:
    from watcher.deliver import build_email, post_webhook, send_email

    if ch.kind == "email":
        settings = config.email
        password = env.get(settings.password_env) if settings.password_env else None
        parts = out.email(ch)
        try:
            msg = build_email(
                parts.subject, parts.html, parts.text, sender=settings.sender,
                to=ch.recipients, key=row.key, date=clock(),
            )  # fmt: skip
        except ValueError as exc:
            # A stored digest that cannot become an e-mail (a control character in a
            # name it keeps) will not heal by waiting.
            raise DeliveryError(
                f"{out.what} cannot be sent as e-mail: {exc}", permanent=True
            ) from None
        send_email(msg, settings, password=password, recipients=ch.recipients)
        return f"e-mail {parts.subject!r} to {len(ch.recipients)} recipient(s)"
    hook = ch.webhook
    assert hook is not None
    url = env.get(hook.url_env)
    if not url:
        raise DeliveryError(
            f"webhook {hook.name}: the environment variable {hook.url_env} holding its URL is "
            "not set; set it in the service's environment"
        )
    secret = env.get(hook.secret_env) if hook.secret_env else None
    chunks = out.chat(ch, hook.kind)
    # Each part is its own step, recorded once posted: a retry after a partial send
    # posts only the parts not yet delivered, each under its own key.
    for n, chunk in enumerate(chunks, 1):
        if n <= row.parts_sent:
            continue
        post_webhook(
            hook.kind, url, chunk, title=out.subject(ch), secret=secret,
            key=deliveries.part_key(row.key, n), timeout=hook.timeout,
        )  # fmt: skip
        ledger.part_sent(row, n)
    resumed = f" (parts {row.parts_sent + 1}–{len(chunks)})" if row.parts_sent else ""
    return f"{len(chunks)} message(s) to {hook.kind} webhook {hook.name}{resumed}"


# --- status: what a monitoring check asks -----------------------------------------

# Exit codes of `watcher status`, worst first wins.
STATUS_OK, STATUS_ALARM, STATUS_NOT_RUNNING, STATUS_CONFIG = 0, 1, 3, 4


@dataclass(frozen=True)
class Status:
    """Where watcher stands, as data; ``watcher status`` formats it."""

    daemon: str | None  # who runs it ("pid 12 on host, started …"), None: not running
    last_scan: ScanRecord | None
    next_scan: dt.datetime | None
    next_digest: dt.datetime | None
    pending: tuple[Delivery, ...]
    inbox: Path
    inbox_files: int
    inbox_bytes: int
    counts: Mapping[str, int]
    failures: tuple[tuple[str, str], ...]
    config_errors: tuple[str, ...]  # the running daemon's, or this config's own
    alarms: tuple[str, ...]
    # Each weekly channel with its next summary time.
    weekly: tuple[tuple[str, dt.datetime | None], ...] = ()
    # Every worker's last heartbeat in the shared state (on any machine), live ones
    # first; a gone one stays listed for a day. ``leader``: who holds the leader lease.
    workers: tuple[WorkerStatus, ...] = ()
    leader: str | None = None

    @property
    def failing(self) -> tuple[Delivery, ...]:
        """Pending deliveries whose last attempt failed."""
        return tuple(d for d in self.pending if d.last_error)

    @property
    def exit_code(self) -> int:
        """4 config broken, 3 daemon not running, 1 an alarm or a failing delivery, 0 ok."""
        if self.config_errors:
            return STATUS_CONFIG
        if self.daemon is None:
            return STATUS_NOT_RUNNING
        if self.alarms or self.failing:
            return STATUS_ALARM
        return STATUS_OK


@dataclass(frozen=True)
class WorkerStatus:
    """One worker as ``watcher status`` shows it."""

    worker: Worker
    alive: bool  # beating (and, on this machine, its process running)


def workers(store: Store, now: dt.datetime) -> tuple[WorkerStatus, ...]:
    """The workers the state knows, live ones first: a worker is alive while its last
    heartbeat's lease runs, and on this machine only while its process exists."""
    out = [WorkerStatus(w, w.expires > now and _alive(w.holder)) for w in store.workers(now)]
    return tuple(sorted(out, key=lambda s: (not s.alive, s.worker.host, s.worker.pid)))


def status(
    config: Config,
    store: Store,
    topics: Sequence[Topic],
    *,
    holder: str | None,
    daemon_info: Mapping[str, Any],
    config_errors: Sequence[str] = (),
    clock: Clock = utc_now,
) -> Status:
    """Gather the status: ``holder`` and ``daemon_info`` are what the daemon's lock and
    status files say; ``config_errors`` are problems of the config as it is now."""
    now = clock()
    raised = list(alarms(config, store, now, topics))
    try:
        files = list_inbox(config.inbox, config.scan.ignore, config.scan.recursive, strict=True)
    except OSError as exc:
        files = []
        raised.insert(0, f"收件箱无法读取（{config.inbox}）：{exc.strerror or exc}")
    nxt = schedule.next_digest_time(now, config.schedule.digest_at, config.timezone)
    next_scan = daemon_info.get("next_scan") if holder else None
    errors = list(config_errors)
    if holder:
        errors += [e for e in daemon_info.get("config_errors", []) if e not in errors]
    beating = workers(store, now)
    live = [w.worker for w in beating if w.alive]
    if holder is None and live and store.shared:
        # Workers on other machines (or with no lock file here): the state says they run.
        hosts = sorted({w.host for w in live})
        holder = f"{len(live)} worker(s) on {', '.join(hosts)}"
    leader = store.lease_holder(LEADER, now)
    return Status(
        daemon=holder,
        last_scan=store.last_scan(),
        next_scan=dt.datetime.fromisoformat(next_scan) if next_scan else None,
        next_digest=nxt,
        pending=(
            *store.deliveries(status="pending"),
            *store.period_deliveries(status="pending"),
        ),
        inbox=config.inbox,
        inbox_files=len(files),
        inbox_bytes=sum(f.size for f in files),
        counts=store.counts(),
        failures=tuple(store.failures()),
        config_errors=tuple(errors),
        alarms=tuple(raised),
        weekly=tuple(
            (ch.name, schedule.next_weekly_time(now, ch.weekly_at, config.timezone))
            for ch in deliveries.weekly_channels(config)
            if ch.weekly_at is not None
        ),
        workers=beating,
        leader=leader if leader in {w.holder for w in live} else None,
    )

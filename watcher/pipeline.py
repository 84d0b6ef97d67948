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
import socket
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from watcher import digest as digest_mod
from watcher import pages, readers, sandbox, segment
from watcher.config import Config, WebhookConfig
from watcher.deliver import LIMITS, build_email, post_webhook, send_email
from watcher.errors import DeliveryError, ReadError, ReaderUnavailable
from watcher.matcher import Matcher
from watcher.models import Digest, DigestStats, FileInfo, Match, ScanReport
from watcher.render import Renderer, write_archive
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


def segmenter_for(config: Config) -> Segmenter:
    """The shared Segmenter; jieba's cache lives next to the state file, in a
    folder watcher owns."""
    return segment.default(config.state.parent / "cache")


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
    # One reader process for the scan's PDF and DOCX files, started at the first one.
    with sandbox.Worker(read_limits(config)) as worker:
        for info in files:
            if should_stop is not None and should_stop():
                log.info("scan stopped early on request")
                break
            outcome = _scan_one(
                config, store, info, known.get(str(info.path)), clock, matcher, worker
            )
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
    worker: sandbox.Worker,
) -> Outcome:
    path = str(info.path)
    if known is not None and (known.size, known.mtime_ns) == (info.size, info.mtime_ns):
        # A file failed for want of an optional reader is retried once it is installed
        # (looked up only for such files: an unchanged folder costs no imports).
        retry = _failed_for_want_of_reader(known, info.path)
        if not retry or readers.unavailable(info.path) is not None:
            return ("unchanged", 0, None, 0)
    missing = readers.unavailable(info.path)
    now = clock()
    age = now.timestamp() - info.mtime_ns / 1e9
    if age < config.scan.settle_seconds:
        log.debug("%s: changed %.1fs ago, waiting for the writer to finish", path, age)
        return ("waiting", 0, None, 0)
    if readers.reader_for(info.path) is None:
        log.info("%s: skipped, not a type watcher reads (%s)", path, info.path.suffix or "none")
        store.record_file(path, info.size, info.mtime_ns, None, "skipped", now, "unknown type")
        return ("skipped", 0, None, 0)
    if missing is not None:
        return _fail(store, info, None, missing, now)
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
        text = readers.read_bytes(info.path, data, worker.limits, worker)
        articles = pages.split_page(
            text.text,
            markup=text.markup,
            today=now.astimezone(config.tz).date(),
            known=text.page,
        )
        found: list[list[Match]] = [matcher.match(a) for a in articles] if matcher else []
    except ReaderUnavailable as exc:
        log.warning("%s: not read now, will retry on the next scan: %s", path, exc)
        return ("waiting", 0, None, 0)
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
        now=clock,  # read under the write lock: see Store.add_document
        matches=found,
    )
    log.debug("%s: %d articles (%s)", path, len(articles), text.encoding)
    return ("new", len(articles), None, sum(1 for f in found if f))


def _failed_for_want_of_reader(known: FileState, path: Path) -> bool:
    reason = readers.needs_reason(path)
    return reason is not None and known.status == "failed" and known.reason == reason


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


# --- the digest: produce (once), write the archive, deliver (exactly once) --------


@dataclass(frozen=True)
class Channel:
    """Somewhere a digest goes: the e-mail list, a per-topic list, a chat bot."""

    name: str  # 'email:<to>', 'email:<topic>:<to>', 'webhook:<name>': its key in the store
    kind: str  # 'email' or a webhook kind
    topics: frozenset[str] | None = None  # None: every topic
    recipients: tuple[str, ...] = ()
    webhook: WebhookConfig | None = None


@dataclass(frozen=True)
class DeliveryResult:
    day: dt.date
    channel: str
    ok: bool
    detail: str  # what was sent, or the error


def channels(config: Config) -> list[Channel]:
    """The delivery channels the config names, in a stable order."""
    out: list[Channel] = []
    if config.email.enabled:
        # One delivery per recipient: a retry after one address was refused
        # never sends the others a second copy.
        for address in config.email.to:
            out.append(Channel(f"email:{address}", "email", None, (address,)))
        for topic_id, addresses in config.email.topics:
            for address in addresses:
                out.append(
                    Channel(
                        f"email:{topic_id}:{address}", "email", frozenset([topic_id]), (address,)
                    )
                )
    for hook in config.webhooks:
        topics = frozenset(hook.topics) if hook.topics else None
        out.append(Channel(f"webhook:{hook.name}", hook.kind, topics, webhook=hook))
    return out


def delivery_key(day: dt.date, channel: str, salt: str = "") -> str:
    """The idempotency key of one (day, channel) delivery: the same on every retry."""
    return hashlib.sha256(f"{day.isoformat()}|{channel}|{salt}".encode()).hexdigest()[:24]


def today(config: Config, clock: Clock = utc_now) -> dt.date:
    """The calendar day it is now in the configured time zone."""
    return clock().astimezone(config.tz).date()


def only_topics(d: Digest, topics: frozenset[str] | None) -> Digest:
    """The digest as a channel routed to some topics sees it."""
    if topics is None:
        return d
    return replace(d, sections=tuple(s for s in d.sections if s.id in topics))


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
    with store.transaction():  # the window read and the digest stored as one
        return _produce(config, store, topics, day, clock, notices)


def _produce(
    config: Config,
    store: Store,
    topics: Sequence[Topic],
    day: dt.date,
    clock: Clock,
    notices: Sequence[str],
) -> tuple[Digest, bool]:
    stored = store.digest(day)
    if stored is not None:
        return digest_mod.from_json(stored), False
    now = clock()
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
    made = digest_mod.build_digest(
        day=day,
        timezone=config.timezone,
        produced_at=now,
        since=since,
        topics=topics,
        candidates=candidates,
        history=history,
        stats=DigestStats(documents=docs, articles=arts, failures=tuple(store.failures())),
        notices=notices,
        max_per_topic=config.digest.max_per_topic,
    )
    plan = []
    for ch in channels(config):
        empty = only_topics(made, ch.topics).total == 0
        status = "skipped" if empty and not config.digest.send_empty else "pending"
        plan.append((ch.name, delivery_key(day, ch.name), status))
    counts = {s.id: s.count for s in made.sections}
    if not store.add_digest(day, now, since, counts, digest_mod.to_json(made), plan):
        # Another process made it first (two CLIs at once): use theirs.
        return digest_mod.from_json(store.digest(day) or ""), False
    log.info("digest %s produced: %d matched articles, %d channels", day, made.total, len(plan))
    return made, True


def renderer_for(config: Config) -> Renderer:
    """Templates: a file of the same name in templates/ next to the config wins."""
    return Renderer(config.path.parent / "templates", base_url=config.digest.base_url)


def write_reports(config: Config, store: Store, d: Digest, renderer: Renderer) -> list[Path]:
    """The report archive for one digest (and the index of all days)."""
    return write_archive(d, renderer, config.digest.out_dir, store.digest_days())


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
    pending with its error and a retry time that doubles with each attempt;
    one failing channel never blocks the others.
    """
    env = os.environ if env is None else env
    by_name = {c.name: c for c in channels(config)}
    results = []
    now = clock()
    for row in store.deliveries(day=day, status="pending"):
        the_day = dt.date.fromisoformat(row["day"])
        if (
            due_only
            and row["next_attempt"]
            and dt.datetime.fromisoformat(row["next_attempt"]) > now
        ):
            continue
        ch = by_name.get(row["channel"])
        if ch is None:
            log.warning(
                "delivery %s %s: channel no longer configured; left pending",
                the_day,
                row["channel"],
            )
            continue
        if should_stop is not None and should_stop():
            break
        if not store.claim_delivery(the_day, ch.name, clock(), _ME, _alive):
            log.info("delivery %s %s: another process is sending it", the_day, ch.name)
            continue
        try:
            d = only_topics(digest_mod.from_json(store.digest(the_day) or ""), ch.topics)
            detail = _send(config, ch, d, renderer, row["key"], env, clock)
        except Exception as exc:
            if not isinstance(exc, DeliveryError):
                # A bug or a bad setting (an address without @): recorded like a
                # failed send, so this channel waits and the others go on.
                log.exception("delivery %s %s: internal error", the_day, ch.name)
                exc = DeliveryError(f"internal error: {type(exc).__name__}: {exc}")
            attempts = int(row["attempts"]) + 1
            wait = min(config.schedule.retry_after * 2 ** (attempts - 1), 6 * 3600)
            store.delivery_failed(the_day, ch.name, str(exc), clock() + dt.timedelta(seconds=wait))
            log.warning("delivery %s %s failed (attempt %d): %s", the_day, ch.name, attempts, exc)
            results.append(DeliveryResult(the_day, ch.name, False, str(exc)))
            continue
        store.delivery_sent(the_day, ch.name, clock())
        log.info("delivery %s %s: %s", the_day, ch.name, detail)
        results.append(DeliveryResult(the_day, ch.name, True, detail))
    return results


# Who this process is, for delivery claims: "host:pid".
_ME = f"{socket.gethostname()}:{os.getpid()}"


def _alive(claimer: str) -> bool:
    """Is the process that claimed a delivery still running? (Unknown hosts: yes.)"""
    host, _, pid = claimer.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def describe_delivery(config: Config, ch: Channel, d: Digest, renderer: Renderer) -> str:
    """What would be sent on a channel (for --dry-run)."""
    if ch.kind == "email":
        parts = renderer.email(d)
        return (
            f"e-mail to {', '.join(ch.recipients)}: {parts.subject!r} "
            f"({len(parts.html.encode())} bytes HTML, {len(parts.text.encode())} bytes text)"
        )
    assert ch.webhook is not None
    chunks = renderer.chat(d, ch.kind, limit=LIMITS[ch.kind])
    return (
        f"{ch.kind} webhook: {len(chunks)} message(s), {sum(len(c.encode()) for c in chunks)} bytes"
    )


def _send(
    config: Config,
    ch: Channel,
    d: Digest,
    renderer: Renderer,
    key: str,
    env: Mapping[str, str],
    clock: Clock,
) -> str:
    if ch.kind == "email":
        settings = config.email
        password = env.get(settings.password_env) if settings.password_env else None
        parts = renderer.email(d)
        msg = build_email(
            parts.subject, parts.html, parts.text, sender=settings.sender, to=ch.recipients,
            key=key, date=clock(),
        )  # fmt: skip
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
    chunks = renderer.chat(d, hook.kind, limit=LIMITS[hook.kind])
    # Several messages: each has its own key, so a retry after a partial send
    # repeats only what a receiver cannot tell apart by key.
    for n, chunk in enumerate(chunks, 1):
        post_webhook(
            hook.kind, url, chunk, title=d.subject, secret=secret, key=f"{key}-{n}",
            timeout=hook.timeout,
        )  # fmt: skip
    return f"{len(chunks)} message(s) to {hook.kind} webhook {hook.name}"

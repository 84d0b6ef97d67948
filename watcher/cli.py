"""The command line: a thin layer over the library.

Every command loads the checked config, calls one library function and prints
the result. Errors from the library (``WatcherError``) become a message and
exit code 1; anything else is a bug, reported with exit code 2.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import errno
import hashlib
import json
import logging
import os
import sys
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import click

from watcher import __version__, pages, pipeline, readers, sandbox, segment
from watcher import export as export_mod
from watcher import search as search_mod
from watcher.config import Config, env_warnings, find_config, load_config
from watcher.display import page_facts
from watcher.errors import ConfigError, ReadError, WatcherError
from watcher.matcher import RUNS, Matcher
from watcher.models import Article, Match, Text, article_id
from watcher.options import closest
from watcher.paths import safe_text
from watcher.store import ArticleFilter, Store, StoredArticle, state_url
from watcher.tuning import agreement, proposed_edit, suggest
from watcher.watchlists import (
    Topic,
    load_watchlists,
    topic_file,
    topic_warnings,
)

log = logging.getLogger("watcher")

EXIT_OK, EXIT_USER, EXIT_INTERNAL = 0, 1, 2


class Context:
    """What every command needs: where the config is and how to log."""

    def __init__(self, config_path: str | None, log_level: str | None, log_format: str) -> None:
        self.config_path = config_path
        self.log_level = log_level
        self.log_format = log_format

    def config(self, check_paths: bool = True) -> Config:
        path = find_config(self.config_path, os.environ)
        cfg = load_config(path, check_paths=check_paths)
        _setup_logging(self.log_level or cfg.log_level, self.log_format)
        return cfg

    def optional_config(self) -> Config | None:
        """The config when one is given or found; ``watcher match`` works without."""
        if self.config_path is None and not os.environ.get("WATCHER_CONFIG"):
            try:
                find_config(None, os.environ)
            except ConfigError:
                _setup_logging(self.log_level or "WARNING", self.log_format)
                return None
        return self.config()


class JsonFormatter(logging.Formatter):
    """One JSON object per log line, for log collectors."""

    def format(self, record: logging.LogRecord) -> str:
        out = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "pid": record.process,
        }
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """One log line per record: a newline or an escape sequence in a message (a file
    name holding one) is shown escaped, so no message can forge another line."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = safe_text(record.message)
        return super().formatMessage(record)


def _setup_logging(level: str, fmt: str = "text") -> None:
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(
            JsonFormatter()
            if fmt == "json"
            else TextFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
        )
        root.addHandler(handler)
    root.setLevel(level.upper())
    # jieba logs its own dictionary loading at DEBUG through the root logger.
    logging.getLogger("jieba").setLevel(logging.WARNING)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_path",
    metavar="PATH",
    help="Config file (default: $WATCHER_CONFIG, else ./config/watcher.yaml).",
)
@click.option(
    "--log-level",
    type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
    help="Log level (default: the config's log_level).",
)
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Log lines as text or as one JSON object each.",
)
@click.version_option(__version__, prog_name="watcher")
@click.pass_context
def cli(
    ctx: click.Context, config_path: str | None, log_level: str | None, log_format: str
) -> None:
    """watcher: reads Chinese newspaper pages and watches them for topics."""
    ctx.obj = Context(config_path, log_level, log_format)


def _clock() -> dt.datetime:
    """Now; looked up at each call so tests can set the time."""
    return pipeline.utc_now()


@contextmanager
def _open_store(cfg: Config) -> Iterator[Store]:
    with Store(cfg.state) as store:
        yield store


@cli.command()
@click.pass_obj
def check(obj: Context) -> None:
    """Validate the config and the watchlists; report every problem at once."""
    cfg = obj.config()
    topics = pipeline.load_topics(cfg)
    if state_url(cfg.state) is not None:
        # A wrong host, password or database, or a server that is down, is said now.
        with Store(cfg.state):
            pass
    click.echo(f"OK: {cfg.path}")
    click.echo(f"  inbox:      {cfg.inbox}")
    click.echo(f"  state:      {cfg.state}")
    click.echo(f"  watchlists: {cfg.watchlists}")
    click.echo(f"  timezone:   {cfg.timezone}")
    click.echo(f"  topics:     {len(topics)}" + (": " if topics else ""), nl=not topics)
    if topics:
        click.echo(", ".join(f"{t.id} ({t.name})" for t in topics))
    click.echo("  formats:    " + "; ".join(readers.formats()))
    click.echo(f"  matcher:    {RUNS}")
    for warning in [*topic_warnings(topics), *env_warnings(cfg, os.environ)]:
        click.echo(f"warning: {warning}")


@cli.command()
@click.option(
    "--progress/--no-progress", default=None, help="Progress bar (default: on a terminal)."
)
@click.pass_obj
def scan(obj: Context, progress: bool | None) -> None:
    """Read new and changed files in the inbox into the state store."""
    cfg = obj.config()
    topics = pipeline.load_topics(cfg)
    show = sys.stderr.isatty() if progress is None else progress
    with _open_store(cfg) as store:
        if show:
            total = len(pipeline.list_inbox(cfg.inbox, cfg.scan.ignore, cfg.scan.recursive))
            with click.progressbar(length=total, label="scanning", file=sys.stderr) as bar:
                report = pipeline.scan(cfg, store, topics=topics, progress=bar.update, settle=True)
        else:
            report = pipeline.scan(cfg, store, topics=topics, settle=True)
    click.echo(f"scan: {report.summary()}")
    for path, reason in report.failures:
        click.echo(f"  failed: {path}: {reason}")


@cli.command()
@click.option("--date", "date_", metavar="YYYY-MM-DD", help="Only articles published that day.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "jsonl"]),
    default="text",
    show_default=True,
    help="text: a readable table; jsonl: one JSON object per article.",
)
@click.option("--limit", type=click.IntRange(min=1), help="At most this many articles.")
@click.pass_obj
def articles(obj: Context, date_: str | None, fmt: str, limit: int | None) -> None:
    """List the articles in the state store."""
    day = _parse_date(date_) if date_ else None
    cfg = obj.config()
    names = {t.id: t.name for t in _current_topics(cfg)}
    with _open_store(cfg) as store:
        rows = list(store.articles(date=day, limit=limit))
        found: dict[tuple[str, int], list[Match]] = {}
        for doc, idx, m in store.matches_for({r.doc_sha256 for r in rows}):
            found.setdefault((doc, idx), []).append(m)
    if fmt == "jsonl":
        for row in rows:
            obj_ = article_json(row)
            ms = found.get((row.doc_sha256, row.article.index), [])
            obj_["topics"] = [_topic_json(m, names) for m in _in_order(ms, names)]
            click.echo(json.dumps(obj_, ensure_ascii=False))
        return
    if not rows:
        click.echo("no articles stored" + (f" for {day}" if day else "") + "; run 'watcher scan'")
        return
    current = None
    for row in rows:
        if row.file != current:
            current = row.file
            click.echo(f"\n{_display_path(Path(row.file), cfg.inbox)}")
        a = row.article
        meta = " ".join(
            x
            for x in (
                a.newspaper or "",
                a.date.isoformat() if a.date else "",
                a.page or "",
                f"[{a.kind}]" if a.kind != "article" else "",
            )
            if x
        )
        click.echo(f"  {a.index:>3}  {a.headline}")
        extra = f"{meta}  {a.byline}" if a.byline else meta
        click.echo(f"       {extra}  ({a.chars} chars{', continued' if a.continued else ''})")
        ms = _in_order(found.get((row.doc_sha256, a.index), []), names)
        if ms:
            tags = ", ".join(f"{names.get(m.topic_id, m.topic_id)} {m.score:.1f}" for m in ms)
            click.echo(f"       topics: {tags}")
    click.echo(f"\n{len(rows)} articles")


@cli.command()
@click.option("--date", "date_", metavar="YYYY-MM-DD", help="The digest's day (default: today).")
@click.option(
    "--published",
    metavar="YYYY-MM-DD",
    help="A digest of the articles published on this day (by the paper's date), whenever read.",
)
@click.option(
    "--until", metavar="YYYY-MM-DD", help="With --published: the last publication day of the range."
)
@click.option("--send", is_flag=True, help="Also deliver what has not been delivered.")
@click.option("--force", is_flag=True, help="With --send: deliver again, also what was sent.")
@click.option("--dry-run", is_flag=True, help="Show what would be delivered; send nothing.")
@click.pass_obj
def digest(
    obj: Context,
    date_: str | None,
    published: str | None,
    until: str | None,
    send: bool,
    force: bool,
    dry_run: bool,
) -> None:
    """Produce (or re-render) the digest of a day and write its report files.

    The digest dated D is the one produced on D; once produced its content is
    fixed, and rendering D again reproduces it. With --published D [--until E]:
    the digest of the articles published D..E instead, in the archive's
    published/D_E/ folder; --send delivers it once per channel.
    """
    if until is not None and published is None:
        raise click.UsageError("--until needs --published (the first day of the range)")
    if published is not None and date_ is not None:
        raise click.UsageError("--date and --published cannot be combined; give one")
    cfg = obj.config()
    topics = pipeline.load_topics(cfg)
    if published is not None:
        first = _parse_date(published, "--published")
        last = _parse_date(until, "--until") if until else first
        if last < first:
            raise WatcherError(
                f"--until {last} is before --published {first}; give the first day first"
            )
        _digest_published(cfg, topics, first, last, send=send, force=force, dry_run=dry_run)
        return
    day = _parse_date(date_) if date_ else pipeline.today(cfg, _clock)
    with _open_store(cfg) as store:
        if store.digest(day) is None and day != pipeline.today(cfg, _clock):
            raise WatcherError(
                f"no digest was produced on {day}: a digest is made on its own day, by the "
                f"schedule or by 'watcher digest'; articles of a missed day are in the next "
                f"digest. Produced days: {_days(store)}"
            )
        if dry_run:
            # Writes nothing: no digest is stored, no file written, nothing queued.
            seen = pipeline.preview(cfg, store, topics, day, force=force, clock=_clock)
            state = "stored" if seen.stored else "not produced yet; would be"
            click.echo(f"dry run: digest {day} ({state}): {seen.digest.subject}")
            if not seen.channels:
                click.echo("  no delivery channels configured (email.enabled, webhooks)")
            for name, note, text in seen.channels:
                click.echo(f"  {name} [{note}]: {text}")
            return
        if force and send:
            pipeline.resend(cfg, store, day, _clock())
        done = pipeline.digest_day(cfg, store, topics, day, send=send, clock=_clock)
    page = next((p for p in done.paths if p.name == f"{day.isoformat()}.html"), None)
    click.echo(f"{'produced' if done.made else 'stored'} digest {day}: {done.digest.subject}")
    click.echo(f"  report: {page}")
    if send:
        _echo_deliveries(cfg, done.deliveries, "this digest", "on the next run")


def _echo_deliveries(
    cfg: Config, results: Sequence[pipeline.DeliveryResult], what: str, retried: str
) -> None:
    """Each channel's outcome of a ``--send``; failures raise (exit 1), they stay pending."""
    if not pipeline.deliveries.channels(cfg):
        click.echo("  no delivery channels configured (email.enabled, webhooks)")
        return
    for r in results:
        kind = " (permanent: fix it, then it is retried)" if r.permanent else ""
        click.echo(f"  {r.channel}: {'sent' if r.ok else 'failed'}{kind}: {r.detail}")
    if not results:
        click.echo(f"  nothing to deliver: every channel already has {what}")
    failed = [r for r in results if not r.ok]
    if failed:
        raise WatcherError(
            f"{len(failed)} deliver{'y' if len(failed) == 1 else 'ies'} failed and stay "
            f"pending; they are retried {retried}"
        )


def _digest_published(
    cfg: Config,
    topics: Sequence[Topic],
    first: dt.date,
    last: dt.date,
    *,
    send: bool,
    force: bool,
    dry_run: bool,
) -> None:
    """``watcher digest --published``: the pipeline does it, this formats it."""
    span = f"{first}..{last}" if last != first else str(first)
    with _open_store(cfg) as store:
        if dry_run:
            seen = pipeline.preview_published(cfg, store, topics, first, last, clock=_clock)
            state = "sent before; stored" if seen.stored else "not sent yet"
            click.echo(f"dry run: published {span} ({state}): {seen.digest.subject}")
            if not seen.channels:
                click.echo("  no delivery channels configured (email.enabled, webhooks)")
            for name, note, text in seen.channels:
                click.echo(f"  {name} [{note}]: {text}")
            return
        done = pipeline.digest_published(
            cfg, store, topics, first, last, send=send, force=force, clock=_clock
        )
    page = next((p for p in done.paths if p.name == f"{last.isoformat()}.html"), None)
    state = "stored" if done.stored else "made"
    click.echo(f"{state} digest of published {span}: {done.digest.subject}")
    click.echo(f"  report: {page}")
    if not done.digest.total:
        click.echo(f"  no article published {span} matched a topic")
    if send:
        _echo_deliveries(
            cfg, done.deliveries, f"the digest of {span}", "by the daemon and the next --send"
        )


@cli.command()
@click.option("--once", is_flag=True, help="One scan and, if due, the digest; then exit.")
@click.option(
    "--digest-now", is_flag=True, help="With --once: produce today's digest even before its time."
)
@click.option(
    "--watch/--no-watch", default=None, help="React to new files (default: schedule.watch)."
)
@click.pass_obj
def run(obj: Context, once: bool, digest_now: bool, watch: bool | None) -> None:
    """Run the daemon: scan on schedule, produce and deliver the digest on time.

    Stops cleanly on SIGTERM or SIGINT. A second `watcher run` on the same
    state refuses to start.
    """
    from watcher.daemon import Daemon  # keeps APScheduler out of the other commands

    cfg = obj.config()
    daemon = Daemon(cfg.path, watch=watch)
    if once:
        done = daemon.run_once(digest_now=digest_now)
        day = pipeline.today(cfg)
        if done.scan is not None:
            r = done.scan
            click.echo(
                f"scan: {r.new} new, {r.unchanged} unchanged, {r.failed} failed; "
                f"{r.articles} articles added"
            )
            if r.waiting:
                click.echo(
                    f"  {r.waiting} file(s) left for the next scan: still being written "
                    "(changed within scan.settle_seconds, or while read)"
                )
        with _open_store(cfg) as store:
            made = store.digest(day)
        if made:
            page = cfg.digest.out_dir / f"{day.isoformat()}.html"
            click.echo(f"digest {day}: {page}")
        else:
            click.echo(f"digest {day}: not due yet (digest_at {', '.join(cfg.schedule.digest_at)})")
        for sent in done.deliveries:
            click.echo(f"  {sent.channel}: {'sent' if sent.ok else 'failed'}: {sent.detail}")
        return
    sys.exit(daemon.run())


@cli.command()
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@click.pass_obj
def status(obj: Context, fmt: str) -> None:
    """What the daemon is doing: last scan, next times, pending deliveries, alarms.

    Exit code, for monitoring checks: 0 all well; 1 an alarm or a failing delivery;
    3 the daemon is not running; 4 the configuration is broken (the worst one wins).
    """
    from watcher.daemon import Lock, read_status

    path = find_config(obj.config_path, os.environ)
    problems: list[str] = []
    try:
        # The inbox is not required here: a missing one is reported as an alarm.
        cfg = obj.config(check_paths=False)
    except ConfigError as exc:
        # Still say whether the daemon runs (on its last good configuration).
        _setup_logging(obj.log_level or "WARNING", obj.log_format)
        state = _state_of_broken(path)
        holder = Lock(state).holder() if state is not None else None
        if fmt == "json":
            out = {"daemon": holder or "not running", "config_errors": exc.problems or [str(exc)]}
            click.echo(json.dumps(out, ensure_ascii=False, indent=1))
        else:
            click.echo(f"daemon:       {holder or 'not running'}")
            for problem in exc.problems or [str(exc)]:
                click.echo(f"config error: {problem}")
        sys.exit(pipeline.STATUS_CONFIG)
    try:
        topics = pipeline.load_topics(cfg)
    except ConfigError as exc:
        topics, problems = [], exc.problems or [str(exc)]
    holder = Lock(cfg.state).holder()
    with _open_store(cfg) as store:
        st = pipeline.status(
            cfg, store, topics, holder=holder, daemon_info=read_status(cfg),
            config_errors=problems,
        )  # fmt: skip
    if fmt == "json":
        click.echo(json.dumps(_status_json(st), ensure_ascii=False, indent=1, default=str))
    else:
        _print_status(st, cfg.tz)
    sys.exit(st.exit_code)


def _status_json(st: pipeline.Status) -> dict[str, object]:
    """The JSON of `watcher status` (a stable interface: add fields, never rename)."""
    last = st.last_scan
    return {
        "daemon": st.daemon or "not running",
        "last_scan": {
            k: (v.isoformat() if isinstance(v, dt.datetime) else v)
            for k, v in dataclasses.asdict(last).items()
        }
        if last
        else None,
        "next_scan": st.next_scan.isoformat() if st.next_scan else None,
        "next_digest": st.next_digest.isoformat() if st.next_digest else None,
        "next_weekly": [
            {"channel": name, "at": at.isoformat() if at else None} for name, at in st.weekly
        ],
        "pending_deliveries": [
            {
                "day": r.day.isoformat(),
                "period": r.period,
                "channel": r.channel,
                "attempts": r.attempts,
                "last_error": r.last_error,
                "next_attempt": r.next_attempt.isoformat() if r.next_attempt else None,
                "failure": r.failure,
                "parts_sent": r.parts_sent,
            }
            for r in st.pending
        ],
        "inbox": {"path": str(st.inbox), "files": st.inbox_files, "bytes": st.inbox_bytes},
        "store": dict(st.counts),
        "failed_files": [{"file": f, "reason": r} for f, r in st.failures],
        "config_errors": list(st.config_errors),
        "alarms": list(st.alarms),
        "leader": st.leader,
        "workers": [
            {
                "worker": w.worker.holder,
                "host": w.worker.host,
                "pid": w.worker.pid,
                "alive": w.alive,
                "started": w.worker.started.isoformat(),
                "last_heartbeat": w.worker.beat.isoformat(),
                "doing": w.worker.doing,
                "holds": list(w.worker.holds),
            }
            for w in st.workers
        ],
        "exit_code": st.exit_code,
    }


def _print_status(st: pipeline.Status, tz: dt.tzinfo) -> None:
    def local(moment: dt.datetime | None) -> str:
        return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S %Z") if moment else "-"

    click.echo(f"daemon:       {st.daemon or 'not running'}")
    last = st.last_scan
    if last:
        click.echo(
            f"last scan:    {local(last.finished)}: {last.new} new, {last.unchanged} "
            f"unchanged, {last.failed} failed, {last.articles} articles"
        )
    else:
        click.echo("last scan:    never")
    click.echo(f"next scan:    {local(st.next_scan) if st.daemon else '- (daemon not running)'}")
    click.echo(f"next digest:  {local(st.next_digest)}")
    for name, at in st.weekly:
        click.echo(f"next weekly:  {local(at)} ({name})")
    size = st.inbox_bytes / 1048576
    click.echo(f"inbox:        {st.inbox}: {st.inbox_files} files, {size:.1f} MB")
    c = st.counts
    click.echo(
        f"store:        {c['documents']} documents, {c['articles']} articles, "
        f"{c['failed']} failed files"
    )
    for path, reason in st.failures:
        click.echo(f"  failed: {path}: {reason}")
    click.echo(f"pending:      {len(st.pending)} deliveries")
    for r in st.pending:
        kind = f" ({r.failure})" if r.failure else ""
        click.echo(
            f"  {r.period or r.day} {r.channel}: {r.attempts} attempts, "
            f"next {local(r.next_attempt)}"
            + (f", last error{kind}: {r.last_error}" if r.last_error else "")
        )
    if st.workers:
        click.echo(f"workers:      {sum(w.alive for w in st.workers)} alive")
    for w in st.workers:
        worker = w.worker
        role = " (leader)" if worker.holder == st.leader else ""
        state = (worker.doing or "idle") if w.alive else "gone"
        held = f", holds {', '.join(worker.holds)}" if worker.holds and w.alive else ""
        click.echo(
            f"  {worker.host} pid {worker.pid}{role}: {state}, last heartbeat "
            f"{local(worker.beat)}, since {local(worker.started)}{held}"
        )
    for problem in st.config_errors:
        click.echo(f"config error: {problem} (the last good configuration is running)")
    for alarm in st.alarms:
        click.echo(f"ALARM:        {alarm}")


def _state_of_broken(path: Path) -> Path | None:
    """The ``state:`` of a config that does not load, if its YAML says it plainly."""
    import yaml

    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeError, yaml.YAMLError):
        return None
    state = raw.get("state") if isinstance(raw, dict) else None
    if not isinstance(state, str):
        return None
    return (path.parent / Path(state).expanduser()).resolve()


def _days(store: Store) -> str:
    days = [d.isoformat() for d, _ in store.digest_days()[:5]]
    return ", ".join(days) if days else "none yet"


def _in_order(ms: list[Match], names: dict[str, str]) -> list[Match]:
    order = {tid: n for n, tid in enumerate(names)}
    return sorted(ms, key=lambda m: (order.get(m.topic_id, len(order)), m.topic_id))


def _topic_json(m: Match, names: dict[str, str], explain: bool = False) -> dict[str, object]:
    out: dict[str, object] = {
        "id": m.topic_id,
        "name": names.get(m.topic_id, m.topic_id),
        "score": m.score,
        "terms": dict(m.terms),
    }
    if explain:
        out["why"] = m.clause
        out["snippet"] = m.snippet
        out["marks"] = [list(x) for x in m.marks]
        out["hits"] = [
            {"term": h.term, "field": h.field, "start": h.start, "end": h.end} for h in m.hits
        ]
    return out


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option(
    "--watchlists",
    "watchlists_path",
    type=click.Path(exists=True, path_type=Path),
    help="Watchlist file or folder (default: the config's watchlists).",
)
@click.option(
    "--format", "fmt", type=click.Choice(["text", "jsonl"]), default="text", show_default=True
)
@click.option("--explain", is_flag=True, help="Show why: the clause that fired, hits, snippet.")
@click.pass_obj
def match(
    obj: Context, paths: tuple[Path, ...], watchlists_path: Path | None, fmt: str, explain: bool
) -> None:
    """Split files (or folders) and match their articles; no state is read or written.

    The tool for trying a watchlist before saving it.
    """
    cfg = obj.optional_config()
    source = watchlists_path or (cfg.watchlists if cfg else None)
    if source is None:
        raise ConfigError(
            "No watchlists to match against: pass --watchlists PATH, or run from a folder "
            "with config/watcher.yaml, or pass --config."
        )
    topics = load_watchlists(source)
    names = {t.id: t.name for t in topics}
    cache = pipeline.local_dir(cfg) / "cache" if cfg else _user_cache()
    matcher = Matcher(topics, segment.default(cache))
    tz = cfg.tz if cfg else None
    today = dt.datetime.now(tz).date()
    limits = pipeline.read_limits(cfg) if cfg else readers.DEFAULT_LIMITS
    total = hits = 0
    # One reader process for the PDF and DOCX files among them, as a scan has.
    with sandbox.Worker(limits) as worker:
        for path in _files(paths):
            read = _read_or_say(path, worker)
            if read is None:
                continue
            text, sha = read
            for art in pages.split_page(
                text.text, markup=text.markup, today=today, known=text.page
            ):
                found = matcher.match(art)
                total += 1
                hits += bool(found)
                if fmt == "jsonl":
                    row = _match_json(path, sha, art, found, names, explain)
                    click.echo(json.dumps(row, ensure_ascii=False))
                else:
                    _print_match(path, art, found, names, explain)
    if fmt == "text":
        click.echo(f"\n{total} articles, {hits} matched a topic")


def _read_or_say(path: Path, worker: sandbox.Worker) -> tuple[Text, str] | None:
    """A file's text and the sha256 of its bytes, or None after saying on stderr why
    it was skipped."""
    try:
        data = path.read_bytes()
        return readers.read_bytes(path, data, worker.limits, worker), hashlib.sha256(
            data
        ).hexdigest()
    except (ReadError, OSError) as exc:
        click.echo(f"{safe_text(path)}: skipped: {exc}", err=True)
        return None


def _files(paths: tuple[Path, ...]) -> list[Path]:
    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            out += [f.path for f in pipeline.list_inbox(p, (".*",)) if readers.reader_for(f.path)]
        else:
            out.append(p)
    return out


def _user_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "watcher"


def _match_json(
    path: Path,
    sha: str,
    art: Article,
    found: list[Match],
    names: dict[str, str],
    explain: bool,
) -> dict[str, object]:
    out = {"id": article_id(sha, art.index), **_article_fields(str(path), art)}
    out["topics"] = [_topic_json(m, names, explain) for m in found]
    return out


def _print_match(
    path: Path, art: Article, found: list[Match], names: dict[str, str], explain: bool
) -> None:
    date = art.date.isoformat() if art.date else "-"
    tags = "  ".join(f"[{names.get(m.topic_id, m.topic_id)} {m.score:.1f}]" for m in found)
    click.echo(f"{path.name}#{art.index}  {date}  {art.headline}  {tags}".rstrip())
    if explain:
        for m in found:
            terms = ", ".join(f"{t}×{n}" for t, n in m.terms)
            click.echo(f"    {names.get(m.topic_id, m.topic_id)}: {terms}")
            click.echo(f"      why: {m.clause}")
            click.echo(f"      {_marked(m.snippet, m.marks)}")


def _marked(text: str, marks: tuple[tuple[int, int], ...]) -> str:
    out, last = [], 0
    for s, e in marks:
        out += [text[last:s], "【", text[s:e], "】"]
        last = e
    return "".join([*out, text[last:]])


@cli.command(name="try")
@click.argument("topic_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--days", type=click.IntRange(min=1), default=30, show_default=True,
              help="Compare over articles first seen in the last N days.")  # fmt: skip
@click.pass_obj
def try_(obj: Context, topic_file: Path, days: int) -> None:
    """Run a new or edited topic over stored articles; show what it adds and drops,
    and its precision and recall against the labelled articles, before and after."""
    cfg = obj.config()
    candidates = load_watchlists(topic_file)
    current = {t.id: t for t in _current_topics(cfg)}
    now = dt.datetime.now(dt.UTC)
    with _open_store(cfg) as store:
        rows = list(store.articles_seen(now - dt.timedelta(days=days), now))
        labelled = store.labels()
        docs = {r.doc_sha256 for r in rows} | {a.doc_sha256 for _, a in labelled}
        stored = {(d, i, m.topic_id): m for d, i, m in store.matches_for(docs)}
    matcher = Matcher(candidates, pipeline.segmenter_for(cfg))
    # Each article is matched once, against all the candidate topics.
    pool = {(r.doc_sha256, r.article.index): r for r in rows}
    pool.update({(a.doc_sha256, a.article.index): a for _, a in labelled})
    would = {(*k, m.topic_id): m for k, r in pool.items() for m in matcher.match(r.article)}
    recent = {(r.doc_sha256, r.article.index) for r in rows}
    for topic in candidates:
        old = {k for k in recent if (*k, topic.id) in stored}
        new = {k for k in recent if (*k, topic.id) in would}
        state = "changed" if topic.id in current else "new topic"
        if topic.id in current and current[topic.id].version == topic.version:
            state = "unchanged"
        click.echo(
            f"{topic.id} ({topic.name}, {state}): +{len(new - old)} / −{len(old - new)} "
            f"articles over {days} days ({len(new)} would match)"
        )
        labels = {(lb.doc_sha256, lb.index): lb.relevant for lb, _ in labelled
                  if lb.topic_id == topic.id}  # fmt: skip
        for sign, keys, found in (("+", new - old, would), ("−", old - new, stored)):
            for key in sorted(keys, key=lambda k: pool[k].first_seen):
                click.echo(f"  {sign} {_try_line(pool[key], found[(*key, topic.id)], labels)}")
        if labels:
            ids = {f"{d}|{i}": yes for (d, i), yes in labels.items()}
            before = agreement({f"{d}|{i}" for (d, i, t) in stored if t == topic.id}, ids)
            after = agreement({f"{d}|{i}" for (d, i, t) in would if t == topic.id}, ids)
            yes = sum(labels.values())
            click.echo(f"  labelled: {yes} relevant, {len(labels) - yes} not relevant")
            click.echo(f"  before: {before.summary()}")
            click.echo(f"  after:  {after.summary()}")


def _try_line(row: StoredArticle, m: Match, labels: dict[tuple[str, int], bool]) -> str:
    """``[42.0] 2026-11-21 headline (labelled relevant)``"""
    day = row.article.date.isoformat() if row.article.date else "----------"
    label = labels.get((row.doc_sha256, row.article.index))
    tag = "" if label is None else f"  (labelled {'relevant' if label else 'not relevant'})"
    return f"[{m.score:5.1f}] {day} {row.article.headline}  {row.id}{tag}"


@cli.command()
@click.argument("article")
@click.argument("topic")
@click.argument("verdict", type=click.Choice(["yes", "no"]))
@click.pass_obj
def label(obj: Context, article: str, topic: str, verdict: str) -> None:
    """Record whether ARTICLE (its id, from `watcher articles`) is relevant to TOPIC."""
    cfg = obj.config()
    topics = {t.id: t for t in _current_topics(cfg)}
    if topic not in topics:
        raise _no_topic(topic, topics)
    with _open_store(cfg) as store:
        row = store.find_article(article)
        if row is None:
            raise WatcherError(
                f"no stored article {article!r}; ids look like a9c89bb65670a872-3 "
                "(see `watcher articles` or `watcher labels`)"
            )
        store.set_label(row.doc_sha256, row.article.index, topic, verdict == "yes", _clock())
    word = "relevant" if verdict == "yes" else "not relevant"
    click.echo(f"labelled {row.id} ({row.article.headline}) {word} to {topic}")


@cli.command()
@click.option("--topic", help="Only the labels of this topic.")
@click.option(
    "--format", "fmt", type=click.Choice(["text", "jsonl"]), default="text", show_default=True
)
@click.pass_obj
def labels(obj: Context, topic: str | None, fmt: str) -> None:
    """List the labels analysts gave, with whether the topic matches each article now."""
    cfg = obj.config()
    with _open_store(cfg) as store:
        found = store.labels(topic)
        matched = {
            (d, i, m.topic_id) for d, i, m in store.matches_for({a.doc_sha256 for _, a in found})
        }
    for lb, row in found:
        now = (lb.doc_sha256, lb.index, lb.topic_id) in matched
        if fmt == "jsonl":
            obj_ = {
                "id": lb.article,
                "topic": lb.topic_id,
                "relevant": lb.relevant,
                "labelled_at": lb.labelled_at.isoformat(),
                "matched": now,
                "headline": row.article.headline,
                "date": row.article.date.isoformat() if row.article.date else None,
            }
            click.echo(json.dumps(obj_, ensure_ascii=False))
            continue
        agree = "agrees" if now == lb.relevant else "DISAGREES"
        verdict = "yes" if lb.relevant else "no "
        click.echo(f"{lb.article}  {lb.topic_id}  {verdict}  {agree}  {row.article.headline}")
    if fmt == "text":
        click.echo(f"{len(found)} labels")


@cli.command()
@click.argument("topic")
@click.pass_obj
def tune(obj: Context, topic: str) -> None:
    """Propose a threshold and candidate terms for TOPIC from its labels, as a diff."""
    cfg = obj.config()
    topics = {t.id: t for t in _current_topics(cfg)}
    if topic not in topics:
        raise _no_topic(topic, topics)
    current = topics[topic]
    with _open_store(cfg) as store:
        found = store.labels(topic)
    if not found:
        raise WatcherError(
            f"no labels for {topic} yet: label articles first with "
            f"`watcher label ID {topic} yes|no`"
        )
    labelled = [(lb.article, lb.relevant, row.article) for lb, row in found]
    got = suggest(current, labelled, pipeline.segmenter_for(cfg))
    now, threshold, best, terms = got.now, got.threshold, got.best, got.terms
    click.echo(
        f"{topic} ({current.name}): {got.relevant} relevant, {got.not_relevant} not relevant "
        "labelled"
    )
    click.echo(f"  now (min_score {current.min_score:g}):      {now.summary()}")
    click.echo(f"  with min_score {threshold:g}: {best.summary()}")
    if terms:
        click.echo("  candidate context terms (in missed relevant / in not relevant articles):")
        for word, n, neg in terms:
            click.echo(f"    {word}  {n} / {neg}")
    source = topic_file(cfg.watchlists, topic)
    new_min = threshold if threshold != current.min_score else None
    if source is not None:
        diff = proposed_edit(
            source.read_text(encoding="utf-8"), new_min, [w for w, _, _ in terms],
            _display_path(source, cfg.watchlists),
        )  # fmt: skip
        click.echo(diff.rstrip("\n") if diff else "  no change proposed")


@cli.command(name="search")
@click.argument("query")
@click.option("--since", metavar="YYYY-MM-DD", help="Only articles published on or after this day.")
@click.option(
    "--until", metavar="YYYY-MM-DD", help="Only articles published on or before this day."
)
@click.option("--topic", help="Only articles this topic matched.")
@click.option("--paper", metavar="NAME", help="Only articles of this newspaper.")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True,
              help="At most this many results, best first.")  # fmt: skip
@click.option(
    "--format", "fmt", type=click.Choice(["text", "jsonl"]), default="text", show_default=True,
    help="text: ranked, with highlighted snippets; jsonl: one JSON object per result.",
)  # fmt: skip
@click.pass_obj
def search_(
    obj: Context,
    query: str,
    since: str | None,
    until: str | None,
    topic: str | None,
    paper: str | None,
    limit: int,
    fmt: str,
) -> None:
    """Search every stored article with QUERY, written as a watchlist query:
    words, "phrases", AND / OR / NOT (-), title:word, a NEAR/10 b.

    Example: watcher search '城市更新 AND (长沙 OR 株洲) -广告' --since 2024-01-01
    """
    cfg = obj.config()
    parsed = search_mod.parse_query(query)
    with _open_store(cfg) as store:
        where = _article_filter(cfg, store, since, until, topic, paper)
        found = search_mod.search(
            store, pipeline.segmenter_for(cfg), parsed, filters=where, limit=limit
        )
        topics_of = _topics_of(store, [h.article for h in found.hits])
    names = {t.id: t.name for t in _current_topics(cfg)}
    if fmt == "jsonl":
        for hit in found.hits:
            click.echo(json.dumps(search_json(hit, topics_of), ensure_ascii=False))
        return
    for n, hit in enumerate(found.hits, 1):
        a = hit.article.article
        received = hit.article.first_seen.astimezone(cfg.tz).date()
        meta = " · ".join(page_facts(a.newspaper, hit.article.file, a.date, a.page, received))
        click.echo(f"{n:>3}. [{hit.rank:5.1f}] {meta}  {_marked(a.headline, hit.title_marks)}")
        tags = [names.get(t, t) for t in topics_of.get(hit.article.id, [])]
        click.echo(f"     {hit.article.id}" + (f"  topics: {', '.join(tags)}" if tags else ""))
        click.echo(f"     {_marked(hit.match.snippet, hit.match.marks)}")
    click.echo(_search_summary(found))


def _article_filter(
    cfg: Config,
    store: Store,
    since: str | None,
    until: str | None,
    topic: str | None,
    paper: str | None,
) -> ArticleFilter:
    """The filters of `search` and `export`, each checked with a message saying how to fix it."""
    start = _parse_date(since) if since else None
    end = _parse_date(until) if until else None
    if start and end and start > end:
        raise WatcherError(f"--since {start} is after --until {end}; swap them")
    if topic is not None:
        known = [t.id for t in _current_topics(cfg)] or list(store.topic_versions())
        if topic not in known:
            raise _no_topic(topic, known)
    if paper is not None:
        papers = [name for name, _ in store.newspapers()]
        if paper not in papers:
            hint = closest(paper, papers)
            raise WatcherError(
                f"no stored article is from the newspaper {paper!r}"
                + (f"; did you mean {hint!r}?" if hint else "")
                + f" (newspapers: {', '.join(papers[:20]) or 'none yet'})"
            )  # fmt: skip
    return ArticleFilter(since=start, until=end, paper=paper, topic=topic)


def _topics_of(store: Store, rows: list[StoredArticle]) -> dict[str, list[str]]:
    """Article id → the ids of the topics its stored matches name."""
    out: dict[str, list[str]] = {}
    wanted = {r.id for r in rows}
    for doc, idx, m in store.matches_for({r.doc_sha256 for r in rows}):
        ident = article_id(doc, idx)
        if ident in wanted:
            out.setdefault(ident, []).append(m.topic_id)
    return out


def search_json(hit: search_mod.SearchHit, topics_of: dict[str, list[str]]) -> dict[str, object]:
    """One `search --format jsonl` line (a stable interface: add fields, never rename)."""
    row = hit.article
    a = row.article
    return {
        "id": row.id,
        "rank": hit.rank,
        "score": hit.match.score,
        "bm25": round(hit.bm25, 4),
        "headline": a.headline,
        "kicker": a.kicker,
        "newspaper": a.newspaper,
        "date": a.date.isoformat() if a.date else None,
        "page": a.page,
        "byline": a.byline,
        "file": row.file,
        "snippet": hit.match.snippet,
        "marks": [list(m) for m in hit.match.marks],
        "title_marks": [list(m) for m in hit.title_marks],
        "terms": dict(hit.match.terms),
        "why": hit.match.clause,
        "topics": topics_of.get(row.id, []),
    }


def _search_summary(found: search_mod.SearchResults) -> str:
    ms = f"{found.seconds * 1000:.0f} ms"
    if not found.hits:
        text = f"nothing found for {found.query.text!r}"
        f = found.filters
        if any((f.since, f.until, f.paper, f.topic)):
            text += " within the filters (--since, --until, --paper, --topic)"
        return f"{text}; {found.checked} candidates checked in {ms}"
    shown = f"{found.offset + 1}–{found.offset + len(found.hits)}"
    if found.exact:
        text = f"{shown} of {found.found} found ({found.checked} candidates checked) in {ms}"
    else:
        text = (
            f"{shown} of about {found.estimate} found (the index's best {found.checked} of "
            f"{found.candidates} candidates checked) in {ms}"
        )
    if found.scanned:
        text += (
            "\n  note: the query has no term of two or more characters, which the index "
            "needs; the articles were read newest first"
        )
    return text


@cli.command()
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on; other than loopback it needs $WATCHER_SERVE_TOKEN.",
)
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True,
              help="Port to listen on (0: any free port).")  # fmt: skip
@click.pass_obj
def serve(obj: Context, host: str, port: int) -> None:
    """Serve a web app over the state store: the days' digests, topics with their trend
    and labels, search, article pages; label articles "relevant / not relevant".

    Binds 127.0.0.1 by default. Any other address needs a token in $WATCHER_SERVE_TOKEN
    (16+ characters): browsers then log in with it at /login, scripts send it as
    'Authorization: Bearer <token>'.
    """
    cfg = obj.config()
    try:
        from watcher import web
    except ModuleNotFoundError as exc:
        raise WatcherError(
            f"watcher serve needs the optional package {exc.name}: pip install 'watcher[web]'"
        ) from None
    token = os.environ.get(web.TOKEN_ENV) or None
    web.check_bind(host, token)
    sock = web.listen(host, port)
    need = f"; requests need the token of ${web.TOKEN_ENV}" if token else ""
    click.echo(f"serving {cfg.state} at {web.url_of(sock)}{need} (Ctrl-C to stop)")
    web.serve(cfg, sock, token)


@cli.command(name="export")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(export_mod.FORMATS),
    required=True,
    help="csv (UTF-8 with BOM, for Excel too), xlsx, or jsonl.",
)
@click.option("--topic", help="Only this topic's matches.")
@click.option("--since", metavar="YYYY-MM-DD", help="Only articles published on or after this day.")
@click.option("--until", metavar="YYYY-MM-DD", help="Only articles published up to this day.")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path),
              help="Write to this file (default: standard output; xlsx needs a file).")  # fmt: skip
@click.pass_obj
def export_(
    obj: Context,
    fmt: str,
    topic: str | None,
    since: str | None,
    until: str | None,
    output: Path | None,
) -> None:
    """Export the matched articles: id, topic, score, newspaper, date, page, headline,
    byline, file, snippet, body — one row per article and topic, newest first."""
    if fmt == "xlsx" and output is None:
        raise WatcherError("--format xlsx writes a binary file: give --output FILE.xlsx")
    cfg = obj.config()
    with _open_store(cfg) as store:
        where = _article_filter(cfg, store, since, until, topic, None)
        if output is None:
            done = export_mod.export(store, fmt, where, sys.stdout)
            sys.stdout.flush()
        else:
            done = export_mod.export_file(store, fmt, where, output)
    where_to = f" to {output}" if output else ""
    note = (
        f"; {done.cut} cell(s) cut to Excel's {export_mod.EXCEL_CELL} characters"
        if done.cut
        else ""
    )
    click.echo(f"exported {done.rows} match{'' if done.rows == 1 else 'es'}{where_to}{note}",
               err=True)  # fmt: skip


def _no_topic(topic: str, known: Iterable[str]) -> WatcherError:
    """The error for a topic id that names no topic, with a "did you mean"."""
    known = list(known)
    hint = closest(topic, known)
    return WatcherError(
        f"no topic {topic!r}" + (f"; did you mean {hint!r}?" if hint else "")
        + f" (topics: {', '.join(known) or 'none'})"
    )  # fmt: skip


def _current_topics(cfg: Config) -> list[Topic]:
    """The configured topics, in watchlist order (none if the watchlists do not load)."""
    try:
        return load_watchlists(cfg.watchlists)
    except ConfigError:
        return []


def article_json(row: StoredArticle) -> dict[str, object]:
    """The JSON object for one stored article (a stable interface: add, never rename)."""
    out = {"id": row.id, **_article_fields(row.file, row.article)}
    out["first_seen"] = row.first_seen.isoformat()
    out["sha256"] = row.doc_sha256
    return out


def _article_fields(file: str, a: Article) -> dict[str, object]:
    """What `articles` and `match` print about an article."""
    return {
        "file": file,
        "index": a.index,
        "kind": a.kind,
        "headline": a.headline,
        "kicker": a.kicker,
        "subtitle": a.subtitle,
        "newspaper": a.newspaper,
        "date": a.date.isoformat() if a.date else None,
        "event_date": a.event_date.isoformat() if a.event_date else None,
        "page": a.page,
        "section": a.section,
        "byline": a.byline,
        "dateline": a.dateline,
        "source": a.source,
        "continued": a.continued is not None,
        "continued_to": a.continued,
        "lead": a.lead,
        "chars": a.chars,
    }


def _display_path(path: Path, inbox: Path) -> str:
    try:
        return path.relative_to(inbox).as_posix()
    except ValueError:
        return str(path)


def _parse_date(text: str, option: str | None = None) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(
            f"{text!r} is not a date; write it as YYYY-MM-DD", param_hint=option
        ) from None


@cli.command(name="init")
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--force", is_flag=True, help="Replace starter files that exist (other files are kept)."
)
def init_command(folder: Path, force: bool) -> None:
    """Write a starter site into FOLDER: watcher.yaml, watchlists/, inbox/ and var/."""
    from watcher.site import init_site, next_steps

    init_site(folder, force=force)
    click.echo(next_steps(folder))


@cli.command(name="migrate")
@click.option("--to", "target", required=True, metavar="URL",
              help="The new PostgreSQL state: postgresql://user@host:port/db (empty).")  # fmt: skip
@click.pass_obj
def migrate_command(obj: Context, target: str) -> None:
    """Copy this config's SQLite state into PostgreSQL, check the counts, say what to change."""
    from watcher import migrate as migrate_mod

    cfg = obj.config()
    done = migrate_mod.migrate(cfg.state, target)
    for line in migrate_mod.describe(done, cfg.path):
        click.echo(line)


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI and turn errors into messages and exit codes."""
    try:
        cli.main(args=argv, prog_name="watcher", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.Abort:
        click.echo("aborted", err=True)
        sys.exit(EXIT_USER)
    except click.ClickException as exc:  # bad flags or arguments: a user error
        exc.show()
        sys.exit(EXIT_USER)
    except WatcherError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_USER)
    except OSError as exc:
        if exc.errno not in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EACCES):
            _internal_error()
        click.echo(f"error: {pipeline.os_problem(exc)}", err=True)
        sys.exit(EXIT_USER)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except Exception:
        _internal_error()
    sys.exit(EXIT_OK)


def _internal_error() -> None:
    log.exception("internal error")
    click.echo(
        "internal error: this is a bug in watcher; the traceback is above. "
        "Please report it with the command you ran.",
        err=True,
    )
    sys.exit(EXIT_INTERNAL)

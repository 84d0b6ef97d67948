"""The command line: a thin layer over the library.

Every command loads the checked config, calls one library function and prints
the result. Errors from the library (``WatcherError``) become a message and
exit code 1; anything else is a bug, reported with exit code 2.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from watcher import __version__, pipeline
from watcher.config import Config, find_config, load_config
from watcher.errors import WatcherError
from watcher.store import Store, StoredArticle

log = logging.getLogger("watcher")

EXIT_OK, EXIT_USER, EXIT_INTERNAL = 0, 1, 2


class Context:
    """What every command needs: where the config is and how to log."""

    def __init__(self, config_path: str | None, log_level: str | None) -> None:
        self.config_path = config_path
        self.log_level = log_level

    def config(self, check_paths: bool = True) -> Config:
        path = find_config(self.config_path, os.environ)
        cfg = load_config(path, check_paths=check_paths)
        _setup_logging(self.log_level or cfg.log_level)
        return cfg


def _setup_logging(level: str) -> None:
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
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
@click.version_option(__version__, prog_name="watcher")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None, log_level: str | None) -> None:
    """watcher: reads Chinese newspaper pages and watches them for topics."""
    ctx.obj = Context(config_path, log_level)


@contextmanager
def _open_store(cfg: Config) -> Iterator[Store]:
    with Store(cfg.state) as store:
        yield store


@cli.command()
@click.pass_obj
def check(obj: Context) -> None:
    """Validate the config and report every problem at once."""
    cfg = obj.config()
    click.echo(f"OK: {cfg.path}")
    click.echo(f"  inbox:      {cfg.inbox}")
    click.echo(f"  state:      {cfg.state}")
    click.echo(f"  watchlists: {cfg.watchlists}")
    click.echo(f"  timezone:   {cfg.timezone}")


@cli.command()
@click.option(
    "--progress/--no-progress", default=None, help="Progress bar (default: on a terminal)."
)
@click.pass_obj
def scan(obj: Context, progress: bool | None) -> None:
    """Read new and changed files in the inbox into the state store."""
    cfg = obj.config()
    show = sys.stderr.isatty() if progress is None else progress
    with _open_store(cfg) as store:
        if show:
            total = len(pipeline.list_inbox(cfg.inbox, cfg.scan.ignore, cfg.scan.recursive))
            with click.progressbar(length=total, label="scanning", file=sys.stderr) as bar:
                report = pipeline.scan(cfg, store, progress=lambda _f: bar.update(1))
        else:
            report = pipeline.scan(cfg, store)
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
    with _open_store(cfg) as store:
        rows = list(store.articles(date=day, limit=limit))
    if fmt == "jsonl":
        for row in rows:
            click.echo(json.dumps(article_json(row), ensure_ascii=False))
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
    click.echo(f"\n{len(rows)} articles")


def article_json(row: StoredArticle) -> dict[str, object]:
    """The JSON object for one stored article (a stable interface: add, never rename)."""
    a = row.article
    return {
        "file": row.file,
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
        "continued": a.continued is not None,
        "continued_to": a.continued,
        "lead": a.lead,
        "chars": a.chars,
        "first_seen": row.first_seen.isoformat(),
        "sha256": row.doc_sha256,
    }


def _display_path(path: Path, inbox: Path) -> str:
    try:
        return path.relative_to(inbox).as_posix()
    except ValueError:
        return str(path)


def _parse_date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a date; write it as YYYY-MM-DD") from None


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
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except Exception:
        log.exception("internal error")
        click.echo(
            "internal error: this is a bug in watcher; the traceback is above. "
            "Please report it with the command you ran.",
            err=True,
        )
        sys.exit(EXIT_INTERNAL)
    sys.exit(EXIT_OK)

"""``watcher migrate --to postgresql://…``: an SQLite state copied into PostgreSQL.

Every table of the state (documents, files, articles, topics, matches and near
misses, labels, scans, digests, deliveries and periods) is copied in one
transaction on the target, so a failure leaves it as it was; then each table's
rows are counted on both sides.
The search index is not copied: PostgreSQL queues every copied article for its
own index, which the daemon (or the first search) builds. Leases and heartbeats
are of running processes. Rows go across in batches, so a state of years is never
held in memory at once. The source's data is only read (a source of an older
schema is brought up to this watcher's first, as any command does): stop
``watcher run`` first, so nothing is added to it meanwhile.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from watcher.errors import StateError
from watcher.store import COPIED, Store, redact, state_url

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Copied:
    """One table copied: rows in the source and in the target after the copy."""

    table: str
    source: int
    target: int


@dataclass(frozen=True)
class Migration:
    """What ``watcher migrate`` did."""

    source: Path
    target: str  # the URL, any password in it replaced by ***
    tables: tuple[Copied, ...]

    @property
    def ok(self) -> bool:
        return all(t.source == t.target for t in self.tables)


def migrate(source: Path | str, target: str) -> Migration:
    """Copy the SQLite state ``source`` into the empty PostgreSQL database ``target``."""
    if state_url(source) is not None:
        raise StateError(
            f"the state {redact(str(source))} is PostgreSQL already; watcher migrate copies "
            "an SQLite state (point --config at the config that names the SQLite file)"
        )
    if state_url(target) is None:
        raise StateError(
            f"--to must be a PostgreSQL URL (postgresql://user@host:port/db), got {target}"
        )
    path = Path(source)
    if not path.exists():
        raise StateError(f"there is no SQLite state at {path} to copy")
    with Store(path) as src, Store(target) as dst:
        busy = [t for t in COPIED if dst.table_count(t)]
        if busy:
            raise StateError(
                f"the database {dst.path} is not empty (it holds {', '.join(busy)}); "
                "migrate into a new database (createdb), or drop this one first"
            )
        with dst.transaction():
            for table in COPIED:
                copied = 0
                for columns, rows in src.table_batches(table):
                    dst.load_rows(table, columns, rows)
                    copied += len(rows)
                log.info("%s: %d rows copied", table, copied)
        tables = tuple(Copied(t, src.table_count(t), dst.table_count(t)) for t in COPIED)
        done = Migration(path, str(dst.path), tables)
    if not done.ok:
        wrong = ", ".join(
            f"{t.table} {t.source} → {t.target}" for t in tables if t.source != t.target
        )
        raise StateError(f"the copy into {done.target} does not match the source: {wrong}")
    return done


def describe(done: Migration, config: Path) -> list[str]:
    """The lines ``watcher migrate`` prints: the counts, then what to change."""
    lines = [f"copied {done.source} into {done.target}:"]
    width = max(len(t.table) for t in done.tables)
    lines += [f"  {t.table:<{width}} {t.target:>8}" for t in done.tables]
    lines += [
        "all counts match.",
        f"Now, in {config}, set:",
        f"  state: {done.target}",
        "with the password in WATCHER_PG_PASSWORD (or PGPASSWORD, or ~/.pgpass) of every",
        "worker's environment, and restart watcher run. The SQLite file keeps its data.",
        "The search index is built there by the daemon after its first scan (or by the",
        "first search).",
    ]
    return lines

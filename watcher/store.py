"""The state store: the only module that talks to the database.

Two back ends behind one interface: SQLite (the default, one file in WAL mode) and
PostgreSQL (``state: postgresql://user@host:port/db``, through psycopg 3, for several
workers on one state). The rest of watcher does not know which one it has: the SQL
is written once (SQLite's dialect, translated for PostgreSQL where they differ) and
the migrations are one table with both versions side by side where needed.

The database holds what watcher knows: the documents it has read (by content
hash), what ``stat`` last saw at each path (so a rescan of an unchanged folder
reads no file), the articles cut from each document, and one row per scan.
Each document is written in one transaction, so a process killed at any point
leaves either the whole document or none of it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import functools
import json
import logging
import os
import re
import sqlite3
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit, urlunsplit

from watcher.errors import StateError
from watcher.models import (
    AlarmFacts,
    Article,
    Delivery,
    Failure,
    FileStatus,
    Label,
    Match,
    NearMiss,
    RuleEdit,
    ScanRecord,
    ScanReport,
    TermHit,
    article_id,
)

if TYPE_CHECKING:
    import psycopg

log = logging.getLogger(__name__)

SCHEMA_VERSION = 15
# PostgreSQL's search index: a headline's token also stands in search_rows.terms with
# this in front (not a letter or digit, so no token of the text starts with it).
TITLE_MARK = "^"
PAGE_SIZE = 16384  # bytes, for a new SQLite state (see Store.__init__)
FAILED_RETRY = 600.0  # seconds before a failed, unchanged file is first tried again
FAILED_RETRY_MAX = 86400.0

# A delivery's row, daily or of a period (weekly, publication days): the same life
# (pending → claimed → sent, retried while pending), so one set of statements.
_DAILY = ("deliveries", "day = ? AND channel = ?")
_PERIOD = ("period_deliveries", "period = ? AND channel = ?")
_SENT = (
    "status = 'sent', sent_at = ?, last_error = NULL, failure = NULL, next_attempt = NULL, "
    "claimed_by = NULL"
)
_FAILED = "last_error = ?, next_attempt = ?, claimed_by = NULL, failure = ?"
# A match stored over any earlier one of the same article and topic (re-matching).
_UPSERT_MATCH = (
    "INSERT INTO matches (doc_sha256, idx, topic_id, topic_version, score, terms, hits, "
    "clause, snippet, marks, matched_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (doc_sha256, idx, topic_id) DO UPDATE SET "
    "topic_version = excluded.topic_version, score = excluded.score, "
    "terms = excluded.terms, hits = excluded.hits, clause = excluded.clause, "
    "snippet = excluded.snippet, marks = excluded.marks, matched_at = excluded.matched_at"
)
_UPSERT_NEAR_MISS = (
    "INSERT INTO near_misses (doc_sha256, idx, topic_id, topic_version, score) "
    "VALUES (?, ?, ?, ?, ?) ON CONFLICT (doc_sha256, idx, topic_id) DO UPDATE SET "
    "topic_version = excluded.topic_version, score = excluded.score"
)
_RESET = (
    "status = 'pending', key = ?, next_attempt = ?, last_error = NULL, failure = NULL, "
    "parts_sent = 0"
)


@dataclass(frozen=True)
class Migration:
    """One step of the schema, for both back ends.

    ``sql`` is written once, in SQLite's dialect; PostgreSQL runs it through
    :func:`_for_postgres` (the column types mapped: integers 64-bit, reals double,
    text compared byte by byte as SQLite does) unless ``postgres`` gives its own
    version, side by side, where the dialects part (FTS5, triggers).
    """

    sql: str
    postgres: str | None = None
    # PostgreSQL only, after the rest, taken as they are (PL/pgSQL bodies hold ";").
    postgres_only: tuple[str, ...] = ()

    def script(self, backend: str) -> list[str]:
        if backend == "sqlite":
            return _statements(self.sql)
        if self.postgres is not None:
            return _statements(self.postgres) + list(self.postgres_only)
        return [_for_postgres(s) for s in _statements(self.sql)] + list(self.postgres_only)


_WORKERS_SQL = """
-- Who is running (one row a worker: a daemon on some machine), renewed at every
-- heartbeat; a row whose 'expires' has passed is a worker gone (status ages it out).
-- (IF NOT EXISTS: a store rebuilt from an older version may have the tables.)
CREATE TABLE IF NOT EXISTS workers (
    holder  TEXT PRIMARY KEY,      -- 'host:pid', as in leases and delivery claims
    host    TEXT NOT NULL,
    pid     INTEGER NOT NULL,
    started TEXT NOT NULL,
    beat    TEXT NOT NULL,         -- the last heartbeat, ISO 8601 UTC
    expires TEXT NOT NULL,         -- beat + the lease: gone after this
    doing   TEXT                   -- what it was doing at that heartbeat
);
-- A re-match of the stored articles after a watchlist edit, cut into chunks of
-- document hashes [lo, hi) that workers claim ('rematch:<job>:<n>' leases) and mark
-- done; 'job' names the changed topics and versions. Its last chunk records them.
CREATE TABLE IF NOT EXISTS rematch_chunks (
    job     TEXT NOT NULL,
    n       INTEGER NOT NULL,
    lo      TEXT NOT NULL,
    hi      TEXT NOT NULL,
    topics  TEXT NOT NULL,         -- JSON [[topic_id, version, name, terms], ...]: terms
                                   -- the edit's (only articles holding one are matched
                                   -- again, the rest keep theirs), or null (all are)
    done_at TEXT,
    done_by TEXT,                  -- the worker that did it
    PRIMARY KEY (job, n)
);
"""

# Ordered migrations: MIGRATIONS[n] brings a database from version n to n + 1.
MIGRATIONS: list[Migration] = [
    Migration("""
    CREATE TABLE documents (
        sha256     TEXT PRIMARY KEY,
        path       TEXT NOT NULL,      -- where it was first found
        size       INTEGER NOT NULL,
        mtime_ns   INTEGER NOT NULL,
        first_seen TEXT NOT NULL,      -- ISO 8601, UTC
        status     TEXT NOT NULL CHECK (status IN ('ok', 'failed')),
        reason     TEXT,
        encoding   TEXT,
        articles   INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE files (
        path       TEXT PRIMARY KEY,
        size       INTEGER NOT NULL,
        mtime_ns   INTEGER NOT NULL,
        sha256     TEXT,               -- NULL when the file was skipped unread
        status     TEXT NOT NULL CHECK (status IN ('ok', 'duplicate', 'failed', 'skipped')),
        reason     TEXT,
        seen_at    TEXT NOT NULL
    );
    CREATE TABLE articles (
        doc_sha256 TEXT NOT NULL REFERENCES documents (sha256) ON DELETE CASCADE,
        idx        INTEGER NOT NULL,
        kind       TEXT NOT NULL,
        headline   TEXT NOT NULL,
        kicker     TEXT,
        subtitle   TEXT,
        body       TEXT NOT NULL,
        newspaper  TEXT,
        date       TEXT,               -- publication date, YYYY-MM-DD
        event_date TEXT,
        page       TEXT,
        section    TEXT,
        byline     TEXT,
        dateline   TEXT,
        continued  TEXT,
        captions   TEXT NOT NULL DEFAULT '[]',
        chars      INTEGER NOT NULL,
        first_seen TEXT NOT NULL,
        PRIMARY KEY (doc_sha256, idx)
    );
    CREATE INDEX articles_date ON articles (date);
    CREATE INDEX articles_first_seen ON articles (first_seen);
    CREATE TABLE scans (
        id         INTEGER PRIMARY KEY,
        started    TEXT NOT NULL,
        finished   TEXT,
        new        INTEGER NOT NULL DEFAULT 0,
        unchanged  INTEGER NOT NULL DEFAULT 0,
        duplicate  INTEGER NOT NULL DEFAULT 0,
        failed     INTEGER NOT NULL DEFAULT 0,
        waiting    INTEGER NOT NULL DEFAULT 0,
        skipped    INTEGER NOT NULL DEFAULT 0,
        articles   INTEGER NOT NULL DEFAULT 0
    );
    """),
    Migration("""
    CREATE TABLE matches (
        doc_sha256    TEXT NOT NULL,
        idx           INTEGER NOT NULL,
        topic_id      TEXT NOT NULL,
        topic_version TEXT NOT NULL,   -- the rules version that made the row
        score         REAL NOT NULL,
        terms         TEXT NOT NULL,   -- JSON [[term, hits], ...]
        hits          TEXT NOT NULL,   -- JSON [[term, field, start, end], ...]
        clause        TEXT NOT NULL,
        snippet       TEXT NOT NULL,
        marks         TEXT NOT NULL,   -- JSON [[start, end], ...] inside the snippet
        matched_at    TEXT NOT NULL,
        PRIMARY KEY (doc_sha256, idx, topic_id),
        FOREIGN KEY (doc_sha256, idx) REFERENCES articles (doc_sha256, idx) ON DELETE CASCADE
    );
    CREATE INDEX matches_topic ON matches (topic_id);
    CREATE TABLE topics (
        topic_id   TEXT PRIMARY KEY,
        version    TEXT NOT NULL,      -- the watchlist content hash the matches reflect
        name       TEXT NOT NULL,
        matched_at TEXT NOT NULL
    );
    """),
    Migration("""
    CREATE TABLE digests (
        day         TEXT PRIMARY KEY,  -- YYYY-MM-DD in the configured timezone
        produced_at TEXT NOT NULL,     -- the cut-off: articles first seen up to here
        since       TEXT,              -- the previous digest's cut-off
        total       INTEGER NOT NULL,
        counts      TEXT NOT NULL,     -- JSON {topic_id: count}
        content     TEXT NOT NULL      -- the Digest as JSON, fixed once produced
    );
    CREATE TABLE deliveries (
        day          TEXT NOT NULL REFERENCES digests (day),
        channel      TEXT NOT NULL,    -- 'email:<to>', 'email:<topic>:<to>', 'webhook:<name>'
        key          TEXT NOT NULL UNIQUE,  -- idempotency key (Message-ID, headers)
        status       TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'skipped')),
        attempts     INTEGER NOT NULL DEFAULT 0,
        last_error   TEXT,
        last_attempt TEXT,
        next_attempt TEXT,
        sent_at      TEXT,
        PRIMARY KEY (day, channel)
    );
    """),
    Migration("""
    -- Who is sending a delivery right now ('host:pid'), so two processes never do.
    ALTER TABLE deliveries ADD COLUMN claimed_by TEXT;
    """),
    Migration("""
    -- Chat messages of a split digest already posted: a retry posts only the rest.
    ALTER TABLE deliveries ADD COLUMN parts_sent INTEGER NOT NULL DEFAULT 0;
    -- Whether the last error was 'transient' or 'permanent'.
    ALTER TABLE deliveries ADD COLUMN failure TEXT;
    -- A failed file is tried again at retry_at even if it did not change.
    ALTER TABLE files ADD COLUMN retries INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE files ADD COLUMN retry_at TEXT;
    -- Analysts' judgements: is this article relevant to this topic? Kept apart from
    -- the matches, so re-matching after a watchlist edit never loses them.
    CREATE TABLE labels (
        doc_sha256  TEXT NOT NULL,
        idx         INTEGER NOT NULL,
        topic_id    TEXT NOT NULL,
        relevant    INTEGER NOT NULL CHECK (relevant IN (0, 1)),
        labelled_at TEXT NOT NULL,
        PRIMARY KEY (doc_sha256, idx, topic_id)
    );
    CREATE INDEX labels_topic ON labels (topic_id);
    """),
    Migration(
        """
    -- The search index (watcher.search): each article's headline and body, folded, as
    -- CJK character bigrams and latin/digit bigrams, space-separated so FTS5's ascii
    -- tokenizer takes them as they are. Contentless: the text lives in articles only.
    CREATE VIRTUAL TABLE search_index USING fts5 (
        title, body, content = '', tokenize = 'ascii'
    );
    -- Index rows (FTS5 rowids) to articles. AUTOINCREMENT: an id is never reused, so
    -- the entry of a deleted article (a contentless index keeps it) names no article.
    CREATE TABLE search_rows (
        id         INTEGER PRIMARY KEY AUTOINCREMENT,
        doc_sha256 TEXT NOT NULL,
        idx        INTEGER NOT NULL,
        UNIQUE (doc_sha256, idx)
    );
    -- Articles not yet in the index, queued by SQLite itself whoever stores them; the
    -- scan drains the queue at its end (and a search before it runs). A store made
    -- before search starts with every article queued: the backfill.
    CREATE TABLE search_pending (
        doc_sha256 TEXT NOT NULL,
        idx        INTEGER NOT NULL,
        PRIMARY KEY (doc_sha256, idx)
    ) WITHOUT ROWID;
    INSERT INTO search_pending (doc_sha256, idx) SELECT doc_sha256, idx FROM articles;
    CREATE TRIGGER search_queue AFTER INSERT ON articles BEGIN
        INSERT OR IGNORE INTO search_pending (doc_sha256, idx) VALUES (new.doc_sha256, new.idx);
    END;
    CREATE TRIGGER search_forget AFTER DELETE ON articles BEGIN
        DELETE FROM search_pending WHERE doc_sha256 = old.doc_sha256 AND idx = old.idx;
        DELETE FROM search_rows WHERE doc_sha256 = old.doc_sha256 AND idx = old.idx;
    END;
    -- bm25 with the headline weighing three times the body; a 16 MB buffer before
    -- FTS5 writes a segment (bulk indexing twice as fast as its 1 MB default).
    INSERT INTO search_index (search_index, rank) VALUES ('rank', 'bm25(3.0, 1.0)');
    INSERT INTO search_index (search_index, rank) VALUES ('hashsize', 16777216);
    """,
        # FTS5 is SQLite's: on PostgreSQL search is not available yet (see search_*).
        postgres="",
    ),
    Migration(
        """
    -- Leases: who works on what right now, so several processes (PostgreSQL workers on
    -- several machines; on SQLite a CLI next to the daemon) never do one thing twice:
    -- 'file:<path>' a file being read, 'doc:<sha256>' a document being stored,
    -- 'digest' the due digest being made, 'topic:<id>' a re-match. Taken over when
    -- expired, or at once when the holder ('host:pid') is known to be dead. IF NOT
    -- EXISTS: a store rebuilt from an older version may have the table already.
    CREATE TABLE IF NOT EXISTS leases (
        name    TEXT PRIMARY KEY,
        holder  TEXT NOT NULL,
        expires TEXT NOT NULL          -- ISO 8601, UTC
    );
    """
    ),
    Migration(
        """
    -- The paper a story's dateline names when it is not the page's own (a reprint).
    ALTER TABLE articles ADD COLUMN source TEXT;
    """
    ),
    Migration(
        """
    -- Digests over a period, apart from the daily ones (whose cut-offs and deliveries
    -- they never touch): a weekly channel's summary ('weekly:2026-11-23') and a digest
    -- of past publication days ('published:2024-07-15_2024-07-21'). Fixed once stored.
    -- IF NOT EXISTS, as for leases: a store rebuilt from an older version may have them.
    CREATE TABLE IF NOT EXISTS periods (
        period      TEXT PRIMARY KEY,
        first_day   TEXT NOT NULL,
        last_day    TEXT NOT NULL,
        produced_at TEXT NOT NULL,
        content     TEXT NOT NULL      -- JSON (digest.to_json / weekly_to_json)
    );
    -- One per (period, channel), exactly as deliveries are per (day, channel).
    CREATE TABLE IF NOT EXISTS period_deliveries (
        period       TEXT NOT NULL REFERENCES periods (period),
        channel      TEXT NOT NULL,
        key          TEXT NOT NULL UNIQUE,
        status       TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'skipped')),
        attempts     INTEGER NOT NULL DEFAULT 0,
        last_error   TEXT,
        last_attempt TEXT,
        next_attempt TEXT,
        sent_at      TEXT,
        claimed_by   TEXT,
        parts_sent   INTEGER NOT NULL DEFAULT 0,
        failure      TEXT,
        PRIMARY KEY (period, channel)
    );
    """
    ),
    Migration(
        """
    -- Inbox folders whose every file was unchanged when last listed (watcher.inbox,
    -- scan.prune_unchanged_folders): while a folder's mtime stays, it is not listed
    -- again. A cache: losing a row costs one listing, never a file. IF NOT EXISTS: a
    -- store rebuilt from an older version may have the table already.
    CREATE TABLE IF NOT EXISTS folders (
        path      TEXT PRIMARY KEY,   -- the folder as files.path spells it
        mtime_ns  INTEGER NOT NULL,
        files     INTEGER NOT NULL,   -- the files listed in it (all unchanged)
        subdirs   TEXT NOT NULL,      -- JSON list of its sub-folder names
        listed_at TEXT NOT NULL       -- ISO 8601, UTC: when it was last really listed
    );
    """
    ),
    Migration(
        _WORKERS_SQL,
        # PostgreSQL gets the search index too: the same bigram text as FTS5's, looked
        # up by substring (schema 12 adds its GIN index), queued by triggers as on SQLite.
        postgres_only=(
            """CREATE TABLE search_rows (
                id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
                doc_sha256 TEXT COLLATE "C" NOT NULL,
                idx BIGINT NOT NULL,
                title TEXT COLLATE "C" NOT NULL,
                body TEXT COLLATE "C" NOT NULL,
                UNIQUE (doc_sha256, idx))""",
            """CREATE TABLE search_pending (
                doc_sha256 TEXT COLLATE "C" NOT NULL,
                idx BIGINT NOT NULL,
                PRIMARY KEY (doc_sha256, idx))""",
            "INSERT INTO search_pending (doc_sha256, idx) SELECT doc_sha256, idx FROM articles",
            """CREATE FUNCTION watcher_search_queue() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                INSERT INTO search_pending (doc_sha256, idx) VALUES (NEW.doc_sha256, NEW.idx)
                ON CONFLICT DO NOTHING;
                RETURN NULL;
            END $$""",
            """CREATE FUNCTION watcher_search_forget() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                DELETE FROM search_pending WHERE doc_sha256 = OLD.doc_sha256 AND idx = OLD.idx;
                DELETE FROM search_rows WHERE doc_sha256 = OLD.doc_sha256 AND idx = OLD.idx;
                RETURN NULL;
            END $$""",
            "CREATE TRIGGER search_queue AFTER INSERT ON articles "
            "FOR EACH ROW EXECUTE FUNCTION watcher_search_queue()",
            "CREATE TRIGGER search_forget AFTER DELETE ON articles "
            "FOR EACH ROW EXECUTE FUNCTION watcher_search_forget()",
        ),
    ),
    # SQLite: nothing (FTS5 is its index). PostgreSQL: each row's index tokens as a
    # tsvector, served by a GIN index, so a search reads the rows holding its tokens,
    # not the whole table (see _pg_match). Built from the tokens as they are
    # (string_to_array: no text-search parser, so no locale decides what a token is),
    # without positions (a tsvector keeps at most 256 per lexeme, none past 16,383:
    # phrases are checked on the text instead); a title token also as TITLE_MARK + token.
    # A generated column: whoever writes search_rows, the tsvector follows the text,
    # and the existing rows get theirs here.
    Migration(
        "",
        postgres_only=(
            "ALTER TABLE search_rows ADD COLUMN terms tsvector GENERATED ALWAYS AS ("
            "array_to_tsvector(array_remove(array_remove(string_to_array("
            f"title || replace(title, ' ', ' {TITLE_MARK}') || body, ' '), ''), "
            f"'{TITLE_MARK}'))) STORED",
            "CREATE INDEX search_terms ON search_rows USING gin (terms)",
        ),
    ),
    # The search queue takes a document instead of each of its articles: one row a
    # document read, not one an article (the per-article trigger was 0.3-0.4 s of CPU in
    # a first scan of 52,441 articles). A document is queued when it is stored as read
    # (inserted, or read again after a failure: its status set to 'ok'), by SQLite
    # itself whoever stores it; its articles are written in the same transaction (or,
    # in a copy of a state, before anything indexes the copy). (Not INSERT OR IGNORE: in
    # a trigger, the upsert that fires it decides the conflict, and it would abort.)
    # search_pending keeps
    # single articles queued before (the backfill of a store from before search).
    Migration(
        """
    CREATE TABLE search_pending_docs (
        doc_sha256 TEXT PRIMARY KEY
    ) WITHOUT ROWID;
    DROP TRIGGER search_queue;
    CREATE TRIGGER search_queue_document AFTER INSERT ON documents
    WHEN new.status = 'ok' BEGIN
        INSERT INTO search_pending_docs (doc_sha256) SELECT new.sha256 WHERE NOT EXISTS
            (SELECT 1 FROM search_pending_docs WHERE doc_sha256 = new.sha256);
    END;
    CREATE TRIGGER search_requeue_document AFTER UPDATE OF status ON documents
    WHEN new.status = 'ok' BEGIN
        INSERT INTO search_pending_docs (doc_sha256) SELECT new.sha256 WHERE NOT EXISTS
            (SELECT 1 FROM search_pending_docs WHERE doc_sha256 = new.sha256);
    END;
    """,
        postgres="",
        postgres_only=(
            """CREATE TABLE search_pending_docs (
                doc_sha256 TEXT COLLATE "C" NOT NULL PRIMARY KEY)""",
            "DROP TRIGGER search_queue ON articles",
            "DROP FUNCTION watcher_search_queue()",
            """CREATE FUNCTION watcher_search_queue_document() RETURNS trigger
            LANGUAGE plpgsql AS $$
            BEGIN
                INSERT INTO search_pending_docs (doc_sha256) VALUES (NEW.sha256)
                ON CONFLICT DO NOTHING;
                RETURN NULL;
            END $$""",
            # An upsert's DO UPDATE fires the UPDATE trigger, as on SQLite.
            "CREATE TRIGGER search_queue_document AFTER INSERT OR UPDATE OF status "
            "ON documents FOR EACH ROW WHEN (NEW.status = 'ok') "
            "EXECUTE FUNCTION watcher_search_queue_document()",
        ),
    ),
    # 14: a topic's rules as its matches reflect them (watchlists.Topic.rules), so a
    # re-match after an edit of a few terms reads only the articles holding one.
    Migration("ALTER TABLE topics ADD COLUMN rules TEXT;"),
    # 15: the articles each topic's min_score alone keeps out, with their scores, so a
    # re-match after a lowered min_score reads only those again (and one after a
    # narrowing edit only those and the matches). topics.near_misses: 1
    # once every stored article's are here (a re-match of every article made them, or
    # the topic is newer than the articles); a state from before has none, so its first
    # lowered min_score still matches every article again.
    Migration("""
    CREATE TABLE near_misses (
        doc_sha256    TEXT NOT NULL,
        idx           INTEGER NOT NULL,
        topic_id      TEXT NOT NULL,
        topic_version TEXT NOT NULL,   -- the rules version that made the row
        score         REAL NOT NULL,   -- under the topic's min_score, rounded as a match's
        PRIMARY KEY (doc_sha256, idx, topic_id),
        FOREIGN KEY (doc_sha256, idx) REFERENCES articles (doc_sha256, idx) ON DELETE CASCADE
    );
    ALTER TABLE topics ADD COLUMN near_misses INTEGER NOT NULL DEFAULT 0;
    """),
]
assert len(MIGRATIONS) == SCHEMA_VERSION


# The tables a state is made of, in an order that copies them without breaking a
# foreign key, each with the key it is read in (the search index is rebuilt, not
# copied; leases are of running processes; folders, a listing cache, are listed anew).
COPIED: dict[str, str] = {
    "documents": "sha256",
    "files": "path",
    "articles": "doc_sha256, idx",
    "topics": "topic_id",
    "matches": "doc_sha256, idx, topic_id",
    "near_misses": "doc_sha256, idx, topic_id",
    "labels": "doc_sha256, idx, topic_id",
    "scans": "id",
    "digests": "day",
    "deliveries": "day, channel",
    "periods": "period",
    "period_deliveries": "period, channel",
}


@dataclass(frozen=True)
class FileState:
    """What the store remembers about a path."""

    size: int
    mtime_ns: int
    sha256: str | None
    status: FileStatus
    reason: str | None
    retries: int = 0  # failed reads of this very file (same size and mtime) so far
    retry_at: dt.datetime | None = None  # when a failed file is tried again


@dataclass(frozen=True)
class FolderState:
    """What the store remembers about an inbox folder all of whose files were unchanged."""

    mtime_ns: int
    files: int
    subdirs: tuple[str, ...]
    listed_at: dt.datetime


@dataclass(frozen=True)
class StoredArticle:
    """An article as read back from the store, with where it came from."""

    article: Article
    doc_sha256: str
    file: str
    first_seen: dt.datetime

    @property
    def id(self) -> str:
        """The article's stable id (see ``models.article_id``)."""
        return article_id(self.doc_sha256, self.article.index)


@dataclass(frozen=True)
class ArticleFilter:
    """Which stored articles a search or an export looks at: publication dates
    ``since``…``until`` (inclusive; an article without a date is left out when either
    is set), one newspaper, the articles one topic matched."""

    since: dt.date | None = None
    until: dt.date | None = None
    paper: str | None = None
    topic: str | None = None


@dataclass(frozen=True)
class Candidate:
    """An article the search index proposes, with FTS5's bm25 for it (more negative:
    a better fit; 0.0 when no index expression narrowed the search)."""

    stored: StoredArticle
    bm25: float


@dataclass(frozen=True)
class IndexStats:
    """What the search index holds: articles indexed and queued, and its size."""

    indexed: int
    pending: int
    bytes: int


@dataclass(frozen=True)
class Worker:
    """A worker as its heartbeats left it in the state: who, since when, last beat,
    and what it holds now (lease names; ``delivery:<day>:<channel>`` for a send)."""

    holder: str  # "host:pid"
    host: str
    pid: int
    started: dt.datetime
    beat: dt.datetime
    expires: dt.datetime  # no heartbeat by then: the worker is gone
    doing: str | None
    holds: tuple[str, ...]


@dataclass(frozen=True)
class RematchChunk:
    """One chunk of a re-match: the stored articles whose document hash is in [lo, hi)."""

    job: str
    n: int
    lo: str
    hi: str


# The documents waiting for the search index, each with how many entries of the queue it
# counts for: its articles, at least one (see Store.index_pending).
_QUEUED_DOCS = (
    "SELECT q.doc_sha256, CASE WHEN d.articles > 1 THEN d.articles ELSE 1 END AS n "
    "FROM search_pending_docs q LEFT JOIN documents d ON d.sha256 = q.doc_sha256"
)


def _iso(t: dt.datetime) -> str:
    # Microseconds: digest windows are (cut-off, cut-off] intervals, and two
    # events in the same second must still fall on the right side.
    return t.astimezone(dt.UTC).isoformat(timespec="microseconds")


class Database(Protocol):
    """What the store asks of a connection: sqlite3's, or the PostgreSQL adapter."""

    @property
    def in_transaction(self) -> bool: ...

    def execute(self, sql: str, parameters: Any = ..., /) -> Any: ...

    def executemany(self, sql: str, parameters: Any, /) -> Any: ...

    def close(self) -> None: ...


POSTGRES_SCHEMES = ("postgresql", "postgres")
PASSWORD_ENV = "WATCHER_PG_PASSWORD"
# pg_advisory_xact_lock key of the write lock: PostgreSQL transactions of a store are
# serialized like SQLite's BEGIN IMMEDIATE ('watc' 'hwri' in ASCII).
WRITE_LOCK = 0x7761746368777269


def state_url(state: Path | str) -> str | None:
    """The PostgreSQL URL ``state`` names, or None for an SQLite file.

    Accepts the URL itself, or the path the config's ``state:`` option (a path
    type) makes of it: ``postgresql://u@h:5432/db`` read as a path and resolved
    against the config's folder is ``/etc/watcher/postgresql:/u@h:5432/db``, whose
    ``//`` is restored here. (A URL without a host, ``postgresql:///db``, does not
    survive that; write ``postgresql://localhost/db`` or ``?host=/run/postgresql``.)
    """
    text = state if isinstance(state, str) else state.as_posix()
    for scheme in POSTGRES_SCHEMES:
        if text.startswith(f"{scheme}://"):
            return text
        marker = f"/{scheme}:/"
        if marker in text and not text.startswith(f"{scheme}:/"):
            rest = text.split(marker, 1)[1]
            return f"{scheme}://{rest}"
        if text.startswith(f"{scheme}:/"):
            return f"{scheme}://{text[len(scheme) + 2 :]}"
    return None


def redact(url: str) -> str:
    """A URL fit for messages and logs: a password in it is replaced by ``***``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)
    user = netloc[0].split(":", 1)[0]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc[1]}"))


class Store:
    """A connection to the state database; use as a context manager.

    ``path`` is the SQLite file, or a PostgreSQL URL (see :func:`state_url`).
    """

    def __init__(self, path: Path | str) -> None:
        url = state_url(path)
        self.url = url
        self._batch: _Batch | None = None  # see Store.batch
        self.backend = "sqlite" if url is None else "postgresql"
        self.path: Path | str = Path(path) if url is None else redact(url)
        self.db: Database
        if url is not None:
            self.db = _connect_postgres(url)
            try:
                self._migrate()
            except BaseException:
                self.db.close()
                raise
            return
        path = Path(path)
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(path, timeout=30, isolation_level=None)
            db.row_factory = sqlite3.Row
            self.db = db
            # A new state's pages are 16 KiB, not SQLite's 4 KiB: a stored article (its
            # body ≈ 1.6 KB of UTF-8 on average, often over 4 KB) then rarely spills into
            # overflow pages, and a first scan writes a quarter of the WAL frames (CPU of
            # the corpus scan -0.15 s, about 5 %). A no-op on an existing database.
            self.db.execute(f"PRAGMA page_size = {PAGE_SIZE}")
            self._wal()
            # NORMAL is safe against a killed process in WAL mode; only an OS
            # crash could lose the last transactions, never corrupt the file.
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.execute("PRAGMA foreign_keys=ON")
            self._migrate()
        except sqlite3.OperationalError as exc:
            full = _disk_full(exc, path)
            if full is not None:
                raise full from exc
            raise StateError(
                f"cannot open the state database {path}: {exc}. If the file is not a "
                "watcher database, point 'state' in the config at another file."
            ) from exc
        except sqlite3.DatabaseError as exc:
            raise StateError(
                f"cannot open the state database {path}: {exc}. If the file is not a "
                "watcher database, point 'state' in the config at another file."
            ) from exc
        except OSError as exc:
            raise StateError(f"cannot create the state folder {path.parent}: {exc}") from exc

    def __enter__(self) -> Store:
        return self

    def _wal(self) -> None:
        """Switch a new database to WAL. SQLite answers "locked" at once, without
        waiting, while another process creates the same file: wait a little, bounded."""
        for attempt in range(100):
            try:
                self.db.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or attempt == 99:
                    raise
                time.sleep(0.05)

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.db.close()

    @property
    def shared(self) -> bool:
        """Whether several watcher processes, on several machines, may use this state
        at once (PostgreSQL); an SQLite state has one daemon (daemon.Lock)."""
        return self.backend == "postgresql"

    # --- schema ---------------------------------------------------------

    def _migrate(self) -> None:
        if self.backend == "postgresql":
            with self.transaction():
                self.db.execute(
                    "CREATE TABLE IF NOT EXISTS watcher_schema (version BIGINT NOT NULL)"
                )
        version = self.schema_version()
        if version > SCHEMA_VERSION:
            raise StateError(
                f"the state database {self.path} has schema version {version}, newer than "
                f"this watcher understands ({SCHEMA_VERSION}); upgrade watcher."
            )
        while version < SCHEMA_VERSION:
            with self.transaction():
                # Read again under the write lock: two processes opening a new state at
                # once must not both run the same migration.
                version = self.schema_version()
                if version >= SCHEMA_VERSION:
                    break
                log.info("migrating %s to schema version %d", self.path, version + 1)
                for statement in MIGRATIONS[version].script(self.backend):
                    self.db.execute(statement)
                version += 1
                self._set_version(version)

    def schema_version(self) -> int:
        if self.backend == "postgresql":
            row = self.db.execute("SELECT max(version) FROM watcher_schema").fetchone()
            return int(row[0] or 0)
        return int(self.db.execute("PRAGMA user_version").fetchone()[0])

    def _set_version(self, version: int) -> None:
        if self.backend == "postgresql":
            self.db.execute("DELETE FROM watcher_schema")
            self.db.execute("INSERT INTO watcher_schema (version) VALUES (?)", (version,))
        else:
            self.db.execute(f"PRAGMA user_version = {version}")

    # --- transactions -----------------------------------------------------

    def transaction(self) -> _Transaction:
        """BEGIN IMMEDIATE … COMMIT; inside another transaction, part of it. On
        PostgreSQL: BEGIN and the store's write lock (an advisory lock), so writers
        are serialized as on SQLite while readers never wait. Inside :meth:`batch`,
        a savepoint of the batch's transaction: all or nothing on its own still."""
        return _Transaction(self.db, self.path, self.backend, self._batch)

    @contextlib.contextmanager
    def batch(self, *, units: int = 64, seconds: float = 0.25) -> Iterator[None]:
        """Many units of work (``transaction()`` blocks: a document with its articles,
        a file's record) committed together, for a first scan's thousands of small
        writes: each unit is a savepoint, so one that fails leaves nothing behind and
        the others stand; the batch commits once it holds ``units`` units or is
        ``seconds`` old (checked as each unit ends and at :meth:`commit_batch`), and
        at the end. A crash loses the units not yet committed, each whole: a file is
        never recorded without its articles, nor articles without their file. The
        write lock is held while a batch is open; on PostgreSQL (several writers)
        every unit is a transaction of its own, as without a batch."""
        if self.shared or self._batch is not None or self.db.in_transaction:
            yield
            return
        # A savepoint keeps the pages it changes for a ROLLBACK TO: in memory, not in a
        # temporary file per unit.
        temp_store = self.db.execute("PRAGMA temp_store").fetchone()[0]
        self.db.execute("PRAGMA temp_store = MEMORY")
        self._batch = _Batch(units, seconds)
        try:
            yield
        except BaseException:
            self._batch.depth = 0  # no unit is in hand once the exception reaches here
            self._batch.end(self.db, self.path, commit=False)
            raise
        else:
            self._batch.end(self.db, self.path, commit=True)
        finally:
            self._batch = None
            if not self.db.in_transaction:
                self.db.execute(f"PRAGMA temp_store = {int(temp_store)}")

    def commit_batch(self, *, only_if_old: bool = False) -> None:
        """Commit the open batch now (before waiting on something slow: the write lock
        is not held while nothing is written); ``only_if_old``: only if it has been open
        for its ``seconds`` already (before quick work, so that the lock is never held
        much longer than that)."""
        if self._batch is not None and (not only_if_old or self._batch.old()):
            self._batch.end(self.db, self.path, commit=True)

    # --- files and documents ------------------------------------------------

    def file_states(self, paths: Sequence[str] | None = None) -> dict[str, FileState]:
        """What the store remembers about every path, or only about ``paths``."""
        if paths is not None:
            found: dict[str, FileState] = {}
            for i in range(0, len(paths), 500):
                chunk = paths[i : i + 500]
                marks = ", ".join("?" * len(chunk))
                rows = self.db.execute(f"SELECT * FROM files WHERE path IN ({marks})", chunk)
                found.update(self._file_states(rows))
            return found
        return self._file_states(self.db.execute("SELECT * FROM files"))

    @staticmethod
    def _file_states(rows: Iterable[Any]) -> dict[str, FileState]:
        return {
            r["path"]: FileState(
                size=r["size"],
                mtime_ns=r["mtime_ns"],
                sha256=r["sha256"],
                status=r["status"],
                reason=r["reason"],
                retries=r["retries"],
                retry_at=_time(r["retry_at"]),
            )
            for r in rows
        }

    def file_stamps(self, under: str | None = None) -> dict[str, tuple[int, int]]:
        """(size, mtime_ns) of every known path, as a listing compares them: a failed
        file's is (-1, -1), equal to no stat (it is retried on a backoff, so never
        simply unchanged). ``under``: only the paths below that folder (``files.path``
        spelling, no trailing slash)."""
        sql = (
            "SELECT path, CASE WHEN status = 'failed' THEN -1 ELSE size END, "
            "CASE WHEN status = 'failed' THEN -1 ELSE mtime_ns END FROM files"
        )
        args: tuple[str, ...] = ()
        if under is not None:  # a range on the key: '0' is the character after '/'
            sql += " WHERE path >= ? AND path < ?"
            args = (under + "/", under + "0")
        return {r[0]: (r[1], r[2]) for r in self.db.execute(sql, args)}

    def folders(self) -> dict[str, FolderState]:
        """The inbox folders remembered as unchanged (see ``watcher.inbox``)."""
        rows = self.db.execute("SELECT path, mtime_ns, files, subdirs, listed_at FROM folders")
        return {
            r[0]: FolderState(r[1], r[2], tuple(json.loads(r[3])), dt.datetime.fromisoformat(r[4]))
            for r in rows
        }

    def put_folders(self, folders: dict[str, FolderState]) -> None:
        """Replace the remembered folders by ``folders``."""
        with self.transaction():
            self.db.execute("DELETE FROM folders")
            self.db.executemany(
                "INSERT INTO folders (path, mtime_ns, files, subdirs, listed_at) "
                "VALUES (?, ?, ?, ?, ?)",
                [
                    (p, f.mtime_ns, f.files, json.dumps(f.subdirs), _iso(f.listed_at))
                    for p, f in folders.items()
                ],
            )

    def forget_missing(self, gone: Sequence[str]) -> int:
        """Drop the failed and skipped files among ``gone`` (paths no longer in the
        inbox); returns how many. Files read fine stay: their documents are still known."""
        drop: list[str] = []
        for i in range(0, len(gone), 500):
            chunk = gone[i : i + 500]
            marks = ", ".join("?" * len(chunk))
            rows = self.db.execute(
                f"SELECT path FROM files WHERE status IN ('failed', 'skipped') "
                f"AND path IN ({marks})",
                chunk,
            )
            drop += [r[0] for r in rows]
        if drop:
            with self.transaction():
                self.db.executemany("DELETE FROM files WHERE path = ?", [(p,) for p in drop])
        return len(drop)

    def file_state(self, path: str) -> FileState | None:
        """What the store remembers about one path now (see :meth:`file_states`)."""
        r = self.db.execute("SELECT * FROM files WHERE path = ?", (path,)).fetchone()
        if r is None:
            return None
        return FileState(
            size=r["size"],
            mtime_ns=r["mtime_ns"],
            sha256=r["sha256"],
            status=r["status"],
            reason=r["reason"],
            retries=r["retries"],
            retry_at=_time(r["retry_at"]),
        )

    # --- leases: one process at a time on one thing ---------------------------------

    def take_lease(
        self,
        name: str,
        me: str,
        now: dt.datetime,
        seconds: float,
        alive: Callable[[str], bool],
    ) -> bool:
        """Take (or renew) the lease ``name`` for ``seconds``; False while another live
        holder has it unexpired. A holder known to be dead (``alive`` says so: a process
        of this machine that is gone) loses it at once, any other when it expires."""
        with self.transaction():
            row = self.db.execute(
                "SELECT holder, expires FROM leases WHERE name = ?", (name,)
            ).fetchone()
            if (
                row is not None
                and row["holder"] != me
                and alive(row["holder"])
                and dt.datetime.fromisoformat(row["expires"]) > now
            ):
                return False
            self.db.execute(
                "INSERT INTO leases (name, holder, expires) VALUES (?, ?, ?) "
                "ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, "
                "expires = excluded.expires",
                (name, me, _iso(now + dt.timedelta(seconds=seconds))),
            )
        return True

    def release_lease(self, name: str, me: str) -> None:
        """Give a lease back (only if still ours: an expired one may be another's now)."""
        with self.transaction():
            self.db.execute("DELETE FROM leases WHERE name = ? AND holder = ?", (name, me))

    def lease_holder(self, name: str, now: dt.datetime) -> str | None:
        """Who holds the lease ``name`` unexpired at ``now``, or None."""
        row = self.db.execute(
            "SELECT holder, expires FROM leases WHERE name = ?", (name,)
        ).fetchone()
        if row is None or dt.datetime.fromisoformat(row["expires"]) <= now:
            return None
        return str(row["holder"])

    # --- workers: heartbeats ---------------------------------------------------------

    def heartbeat(
        self,
        me: str,
        now: dt.datetime,
        seconds: float,
        *,
        started: dt.datetime,
        doing: str | None = None,
    ) -> None:
        """A worker's heartbeat: it is alive until ``now + seconds``, and so are the
        leases it holds (renewed, never shortened). Rows of workers gone for a day are
        dropped: a dead worker ages out of ``watcher status``."""
        host, _, pid = me.rpartition(":")
        until = _iso(now + dt.timedelta(seconds=seconds))
        with self.transaction():
            self.db.execute(
                "INSERT INTO workers (holder, host, pid, started, beat, expires, doing) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (holder) DO UPDATE SET "
                "beat = excluded.beat, expires = excluded.expires, doing = excluded.doing",
                (me, host, int(pid) if pid.isdigit() else 0, _iso(started), _iso(now), until,
                 doing),
            )  # fmt: skip
            self.db.execute(
                "UPDATE leases SET expires = ? WHERE holder = ? AND expires < ?", (until, me, until)
            )
            self.db.execute(
                "DELETE FROM workers WHERE expires < ?", (_iso(now - dt.timedelta(days=1)),)
            )

    def forget_worker(self, me: str) -> None:
        """A worker stopping: its row and every lease it still holds go."""
        with self.transaction():
            self.db.execute("DELETE FROM workers WHERE holder = ?", (me,))
            self.db.execute("DELETE FROM leases WHERE holder = ?", (me,))

    def workers(self, now: dt.datetime) -> list[Worker]:
        """The workers that left a heartbeat (the gone ones too, for a day), by host and
        pid, each with the unexpired leases and the delivery claims it holds."""
        holds: dict[str, list[str]] = {}
        for r in self.db.execute(
            "SELECT name, holder FROM leases WHERE expires > ? ORDER BY name", (_iso(now),)
        ):
            holds.setdefault(r["holder"], []).append(r["name"])
        for r in self.db.execute(
            "SELECT day, channel, claimed_by FROM deliveries WHERE status = 'pending' "
            "AND claimed_by IS NOT NULL ORDER BY day, channel"
        ):
            holds.setdefault(r["claimed_by"], []).append(f"delivery:{r['day']}:{r['channel']}")
        rows = self.db.execute("SELECT * FROM workers ORDER BY host, pid")
        return [
            Worker(
                holder=r["holder"],
                host=r["host"],
                pid=r["pid"],
                started=dt.datetime.fromisoformat(r["started"]),
                beat=dt.datetime.fromisoformat(r["beat"]),
                expires=dt.datetime.fromisoformat(r["expires"]),
                doing=r["doing"],
                holds=tuple(holds.get(r["holder"], ())),
            )
            for r in rows
        ]

    def _beating(self, holder: str, now: dt.datetime) -> bool:
        """Whether ``holder`` is a worker whose last heartbeat has not expired."""
        row = self.db.execute("SELECT expires FROM workers WHERE holder = ?", (holder,)).fetchone()
        return row is not None and dt.datetime.fromisoformat(row["expires"]) > now

    # --- re-matching in chunks ----------------------------------------------------------

    def rematch_chunks(
        self,
        job: str,
        topics: Sequence[tuple[str, str, str]],
        bounds: Sequence[tuple[str, str]],
        edits: Mapping[str, RuleEdit | None] | None = None,
    ) -> list[RematchChunk]:
        """The chunks of re-match ``job`` not done yet, creating the job (its chunks
        ``bounds``, for ``topics`` as (id, version, name)) if no worker did. A new job
        supersedes any other: a chunk of an older one is no longer stored.

        ``edits``: per topic, what alone needs matching again (None or absent: every
        article), kept with the job for every worker that joins it
        (:meth:`rematch_edits`). A topic of a superseded job left unfinished has stored
        matches of two versions: all its articles are matched again."""
        with self.transaction():
            if (
                self.db.execute(
                    "SELECT 1 FROM rematch_chunks WHERE job = ? LIMIT 1", (job,)
                ).fetchone()
                is None
            ):
                mixed = self.unfinished_rematches()  # this job does not exist yet
                self.db.execute("DELETE FROM rematch_chunks WHERE job != ?", (job,))
                plan = {t: e for t, e in (edits or {}).items() if t not in mixed}
                text = json.dumps(
                    [
                        [*t, None, False] if (e := plan.get(t[0])) is None
                        else [*t, sorted(e.terms), e.stored]
                        for t in topics
                    ],
                    ensure_ascii=False,
                )  # fmt: skip
                self.db.executemany(
                    "INSERT INTO rematch_chunks (job, n, lo, hi, topics) VALUES (?, ?, ?, ?, ?)",
                    [(job, n, lo, hi, text) for n, (lo, hi) in enumerate(bounds)],
                )
            rows = self.db.execute(
                "SELECT n, lo, hi FROM rematch_chunks WHERE job = ? AND done_at IS NULL ORDER BY n",
                (job,),
            ).fetchall()
        return [RematchChunk(job, r["n"], r["lo"], r["hi"]) for r in rows]

    def unfinished_rematches(self) -> dict[str, str]:
        """Topic id → version of the re-match jobs left unfinished (superseded, or cut
        short): their topics' stored matches are of two versions until redone."""
        rows = self.db.execute(
            "SELECT DISTINCT topics FROM rematch_chunks WHERE job IN "
            "(SELECT job FROM rematch_chunks WHERE done_at IS NULL)"
        )
        return {t[0]: t[1] for r in rows for t in json.loads(r["topics"])}

    def rematch_edits(self, job: str) -> dict[str, RuleEdit | None]:
        """Per topic of re-match ``job``: what of the edit alone is matched again, or None
        (every article), as the job was created."""
        row = self.db.execute(
            "SELECT topics FROM rematch_chunks WHERE job = ? LIMIT 1", (job,)
        ).fetchone()
        if row is None:
            return {}
        # (A job created before schema 15 has no ``stored``: False.)
        return {
            t[0]: None if len(t) < 4 or t[3] is None
            else RuleEdit(frozenset(t[3]), bool(t[4]) if len(t) > 4 else False)
            for t in json.loads(row["topics"])
        }  # fmt: skip

    def across_scores(
        self, chunk: RematchChunk, under: Mapping[str, float], over: Mapping[str, float]
    ) -> dict[str, set[tuple[str, int]]]:
        """Per topic: the (document, index) of its stored matches in the chunk that score
        under ``under[topic]``, and of its near misses that score at or over
        ``over[topic]`` — the articles a new min_score can move across it (every stored
        one, with ±inf: a narrowing edit)."""
        out: dict[str, set[tuple[str, int]]] = {t: set() for t in (*under, *over)}
        # ``topic_id || ''``: the chunk's key range, not every match of the topics.
        for table, scores, outside in (("matches", under, "<"), ("near_misses", over, ">=")):
            if not scores:
                continue
            marks = ", ".join("?" * len(scores))
            bound = max(scores.values()) if outside == "<" else min(scores.values())
            rows = self.db.execute(
                f"SELECT doc_sha256, idx, topic_id, score FROM {table} "
                f"WHERE doc_sha256 >= ? AND doc_sha256 < ? AND topic_id || '' IN ({marks}) "
                f"AND score {outside} ?",
                (chunk.lo, chunk.hi, *scores, bound),
            )
            for doc, idx, topic, score in rows:
                if (score < scores[topic]) if outside == "<" else (score >= scores[topic]):
                    out[topic].add((doc, idx))
        return out

    def rematch_chunk_open(self, chunk: RematchChunk) -> bool:
        """Whether the chunk still waits to be done (in its job, not yet done)."""
        row = self.db.execute(
            "SELECT done_at FROM rematch_chunks WHERE job = ? AND n = ?", (chunk.job, chunk.n)
        ).fetchone()
        return row is not None and row["done_at"] is None

    def articles_between(self, lo: str, hi: str) -> Iterator[StoredArticle]:
        """The stored articles whose document hash is in [lo, hi) (a re-match chunk)."""
        rows = self.db.execute(
            "SELECT a.*, d.path AS file FROM articles a JOIN documents d "
            "ON d.sha256 = a.doc_sha256 WHERE a.doc_sha256 >= ? AND a.doc_sha256 < ? "
            "ORDER BY a.doc_sha256, a.idx",
            (lo, hi),
        )
        for r in rows:
            yield _stored(r)

    def rematch_articles(
        self, lo: str, hi: str, only: Collection[tuple[str, int]] | None = None
    ) -> Iterator[tuple[str, Article]]:
        """(document hash, article) of the stored articles of kind "article" whose
        document hash is in [lo, hi), with only what the Matcher reads (index, kind,
        headline, body): a re-match chunk read without the metadata, join and dates.
        ``only``: just these (document, index) of them, in the same order."""
        columns = "SELECT doc_sha256, idx, headline, body FROM articles "
        if only is not None:
            docs = sorted({doc for doc, _ in only if lo <= doc < hi})
            for n in range(0, len(docs), 500):  # (well under any bound on parameters)
                some = docs[n : n + 500]
                rows = self.db.execute(
                    columns + f"WHERE doc_sha256 IN ({', '.join('?' * len(some))}) "
                    "AND kind = 'article' ORDER BY doc_sha256, idx",
                    some,
                )
                for r in rows:
                    if (r[0], r[1]) in only:
                        yield r[0], Article(index=r[1], headline=r[2], body=r[3])
            return
        rows = self.db.execute(
            columns + "WHERE doc_sha256 >= ? AND doc_sha256 < ? AND kind = 'article' "
            "ORDER BY doc_sha256, idx",
            (lo, hi),
        )
        for r in rows:
            yield r[0], Article(index=r[1], headline=r[2], body=r[3])

    def store_rematch_chunk(
        self,
        chunk: RematchChunk,
        topics: Sequence[tuple[str, str, str]],
        matches: Iterable[tuple[str, int, Match]],
        now: dt.datetime,
        me: str = "",
        *,
        redone: Mapping[str, Sequence[tuple[str, int]]] | None = None,
        rules: Mapping[str, str] | None = None,
        missed: Iterable[tuple[str, int, NearMiss]] = (),
    ) -> bool | None:
        """Swap the chunk's matches (and near misses, ``missed``) of the re-matched
        ``topics`` for ``matches`` and mark it done, in one transaction. The chunk done
        last records the topics' new versions (and ``rules``, and that a topic matched
        in every article has all its near misses stored): True then; False for another
        chunk; None (nothing written) when the chunk is done already or its job was
        superseded by a newer edit.

        ``redone``: for a topic re-matched only where its edit can change anything, the
        (document, index) of the articles matched again; its other matches stay as they
        are, with the version (and time) that made them: the new rules would make them
        alike. (Relabelling them cost a third of a 5-topic term edit's re-match.)"""
        with self.transaction():
            row = self.db.execute(
                "SELECT done_at FROM rematch_chunks WHERE job = ? AND n = ?", (chunk.job, chunk.n)
            ).fetchone()
            if row is None or row["done_at"] is not None:
                return None
            for topic_id, version, _name in topics:
                for table in ("matches", "near_misses"):
                    if redone is not None and topic_id in redone:
                        self.db.executemany(
                            f"DELETE FROM {table} WHERE doc_sha256 = ? AND idx = ? "
                            "AND topic_id = ? AND topic_version != ?",
                            [(doc, idx, topic_id, version) for doc, idx in redone[topic_id]],
                        )
                    else:
                        # Rows of the new version stay: another worker, already on the
                        # edited watchlist, may have stored documents since ``matches``
                        # was computed. ``topic_id || ''``: SQLite would otherwise walk
                        # the topic's index (every match of the topic, for each chunk)
                        # instead of the chunk's key range.
                        self.db.execute(
                            f"DELETE FROM {table} WHERE topic_id || '' = ? "
                            "AND topic_version != ? AND doc_sha256 >= ? AND doc_sha256 < ?",
                            (topic_id, version, chunk.lo, chunk.hi),
                        )
            stamp = _iso(now)
            self.db.executemany(
                _UPSERT_MATCH,
                [_match_row(doc, idx, m, stamp) for doc, idx, m in matches],
            )
            self.db.executemany(
                _UPSERT_NEAR_MISS,
                [(doc, idx, n.topic_id, n.topic_version, n.score) for doc, idx, n in missed],
            )
            self.db.execute(
                "UPDATE rematch_chunks SET done_at = ?, done_by = ? WHERE job = ? AND n = ?",
                (_iso(now), me or None, chunk.job, chunk.n),
            )
            left = self.db.execute(
                "SELECT count(*) FROM rematch_chunks WHERE job = ? AND done_at IS NULL",
                (chunk.job,),
            ).fetchone()[0]
            if left:
                return False
            kept = rules or {}
            self.db.executemany(
                "INSERT INTO topics (topic_id, version, name, matched_at, rules) "
                "VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (topic_id) DO UPDATE SET version = excluded.version, "
                "name = excluded.name, matched_at = excluded.matched_at, "
                "rules = excluded.rules",
                [(tid, version, name, _iso(now), kept.get(tid)) for tid, version, name in topics],
            )
            # Every article matched again for these, by a job that kept near misses from
            # its first chunk on (made at schema 15: five fields a topic; a job resumed
            # from an older watcher has four): their near misses are all stored.
            entries = json.loads(
                self.db.execute(
                    "SELECT topics FROM rematch_chunks WHERE job = ? LIMIT 1", (chunk.job,)
                ).fetchone()[0]
            )
            whole = [(t[0],) for t in entries if len(t) > 4 and t[3] is None]
            self.db.executemany("UPDATE topics SET near_misses = 1 WHERE topic_id = ?", whole)
        return True

    def document_status(self, sha256: str) -> str | None:
        row = self.db.execute("SELECT status FROM documents WHERE sha256 = ?", (sha256,)).fetchone()
        return row["status"] if row else None

    def record_file(
        self,
        path: str,
        size: int,
        mtime_ns: int,
        sha256: str | None,
        status: str,
        now: dt.datetime,
        reason: str | None = None,
    ) -> None:
        """Remember what stat saw at ``path`` (a duplicate, a skip, a failure)."""
        with self.transaction():
            self._put_file(path, size, mtime_ns, sha256, status, now, reason)

    def _put_file(
        self,
        path: str,
        size: int,
        mtime_ns: int,
        sha256: str | None,
        status: str,
        now: dt.datetime,
        reason: str | None,
    ) -> None:
        self.db.execute(
            "INSERT INTO files (path, size, mtime_ns, sha256, status, reason, seen_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (path) DO UPDATE SET "
            "size = excluded.size, mtime_ns = excluded.mtime_ns, sha256 = excluded.sha256, "
            "status = excluded.status, reason = excluded.reason, seen_at = excluded.seen_at, "
            "retries = 0, retry_at = NULL",
            (path, size, mtime_ns, sha256, status, reason, _iso(now)),
        )

    def add_document(
        self,
        *,
        sha256: str,
        path: str,
        size: int,
        mtime_ns: int,
        encoding: str,
        articles: Sequence[Article],
        now: dt.datetime | Callable[[], dt.datetime],
        matches: Sequence[Sequence[Match]] = (),
        rows: DocumentRows | None = None,
        missed: Sequence[Sequence[NearMiss]] = (),
    ) -> None:
        """Store a document, its articles, their matches and near misses in one
        transaction.

        ``now`` may be a clock: it is then read once the write lock is held, so
        a digest cut-off taken by another process is either before the whole
        document or after it. ``rows``: the articles and matches as
        :func:`document_rows` made them, instead of ``articles`` and ``matches``.
        """
        if rows is None:
            rows = document_rows(articles, matches, missed)
        with self.transaction():
            if callable(now):
                now = now()
            seen = _iso(now)
            self.db.execute("DELETE FROM articles WHERE doc_sha256 = ?", (sha256,))
            first_seen = self.db.execute(
                "INSERT INTO documents (sha256, path, size, mtime_ns, first_seen, status, "
                "reason, encoding, articles) VALUES (?, ?, ?, ?, ?, 'ok', NULL, ?, ?) "
                "ON CONFLICT (sha256) DO UPDATE SET status = 'ok', reason = NULL, "
                "path = excluded.path, encoding = excluded.encoding, "
                "articles = excluded.articles, "
                # A document that failed before is first *seen* (as articles) now.
                "first_seen = CASE WHEN documents.status = 'failed' "
                "THEN excluded.first_seen ELSE documents.first_seen END "
                "RETURNING first_seen",
                (sha256, path, size, mtime_ns, seen, encoding, len(rows.articles)),
            ).fetchall()[0][0]
            head = (sha256, first_seen)
            self.db.executemany(
                "INSERT INTO articles (doc_sha256, first_seen, idx, kind, headline, kicker, "
                "subtitle, body, newspaper, date, event_date, page, section, byline, dateline, "
                "continued, captions, chars, source) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [head + r for r in rows.articles],
            )
            # One statement for all the matches (the DELETE above took the old ones with
            # their articles): on PostgreSQL each statement is a round trip.
            if rows.matches:
                doc, stamp = (sha256,), (seen,)
                self.db.executemany(
                    "INSERT INTO matches (doc_sha256, idx, topic_id, topic_version, score, terms, "
                    "hits, clause, snippet, marks, matched_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [doc + r + stamp for r in rows.matches],
                )
            if rows.missed:
                self.db.executemany(_UPSERT_NEAR_MISS, [(sha256, *r) for r in rows.missed])
            self._put_file(path, size, mtime_ns, sha256, "ok", now, None)

    def add_failure(
        self,
        *,
        sha256: str | None,
        path: str,
        size: int,
        mtime_ns: int,
        reason: str,
        now: dt.datetime,
    ) -> None:
        """Record a document that could not be read, so it is reported, and retried when
        the file changes or, unchanged, on a backoff (10 minutes, doubling, at most a day)."""
        with self.transaction():
            if sha256 is not None:
                self.db.execute(
                    "INSERT INTO documents (sha256, path, size, mtime_ns, first_seen, status, "
                    "reason) VALUES (?, ?, ?, ?, ?, 'failed', ?) ON CONFLICT (sha256) DO UPDATE "
                    "SET reason = excluded.reason WHERE documents.status = 'failed'",
                    (sha256, path, size, mtime_ns, _iso(now), reason),
                )
            before = self.db.execute(
                "SELECT retries FROM files WHERE path = ? AND size = ? AND mtime_ns = ? "
                "AND status = 'failed'",
                (path, size, mtime_ns),
            ).fetchone()
            retries = before["retries"] + 1 if before else 0
            wait = min(FAILED_RETRY * 2**retries, FAILED_RETRY_MAX)
            self._put_file(path, size, mtime_ns, sha256, "failed", now, reason)
            self.db.execute(
                "UPDATE files SET retries = ?, retry_at = ? WHERE path = ?",
                (retries, _iso(now + dt.timedelta(seconds=wait)), path),
            )

    def failures(self) -> list[tuple[str, str]]:
        """(path, reason) of every file whose last read failed."""
        rows = self.db.execute(
            "SELECT path, reason FROM files WHERE status = 'failed' ORDER BY path"
        )
        return [(r["path"], r["reason"]) for r in rows]

    def counts(self) -> dict[str, int]:
        q = self.db.execute
        return {
            "documents": q("SELECT count(*) FROM documents WHERE status = 'ok'").fetchone()[0],
            "failed": q("SELECT count(*) FROM files WHERE status = 'failed'").fetchone()[0],
            "articles": q("SELECT count(*) FROM articles").fetchone()[0],
            "files": q("SELECT count(*) FROM files").fetchone()[0],
        }

    # --- articles ---------------------------------------------------------

    def articles(
        self,
        *,
        date: dt.date | None = None,
        doc_sha256: str | None = None,
        limit: int | None = None,
    ) -> Iterator[StoredArticle]:
        """Stored articles in the order they were first seen, then page order."""
        where: list[str] = []
        args: list[object] = []
        if date is not None:
            where.append("a.date = ?")
            args.append(date.isoformat())
        if doc_sha256 is not None:
            where.append("a.doc_sha256 = ?")
            args.append(doc_sha256)
        sql = (
            "SELECT a.*, d.path AS file FROM articles a JOIN documents d "
            "ON d.sha256 = a.doc_sha256"
            + (" WHERE " + " AND ".join(where) if where else "")
            + " ORDER BY a.first_seen, d.path, a.idx"
        )
        if limit is not None:
            sql += " LIMIT ?"
            args.append(limit)
        for r in self.db.execute(sql, args):
            yield _stored(r)

    # --- matches ----------------------------------------------------------------

    def put_matches(
        self, doc_sha256: str, idx: int, matches: Sequence[Match], now: dt.datetime
    ) -> None:
        """Replace an article's matches (call inside a transaction)."""
        self.db.execute("DELETE FROM matches WHERE doc_sha256 = ? AND idx = ?", (doc_sha256, idx))
        self.db.executemany(
            "INSERT INTO matches (doc_sha256, idx, topic_id, topic_version, score, terms, hits, "
            "clause, snippet, marks, matched_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [_match_row(doc_sha256, idx, m, now) for m in matches],
        )

    def topic_names(self) -> dict[str, str]:
        """The names of the topics whose matches are stored, by id."""
        rows = self.db.execute("SELECT topic_id, name FROM topics ORDER BY topic_id")
        return {r["topic_id"]: r["name"] for r in rows}

    def topic_versions(self) -> dict[str, str]:
        rows = self.db.execute("SELECT topic_id, version FROM topics")
        return {r["topic_id"]: r["version"] for r in rows}

    def topic_rules(self) -> dict[str, tuple[str, str | None]]:
        """(version, rules) of every topic whose matches are stored; rules None for
        matches stored before watcher kept them (schema 14)."""
        rows = self.db.execute("SELECT topic_id, version, rules FROM topics")
        return {r["topic_id"]: (r["version"], r["rules"]) for r in rows}

    def near_missed_topics(self) -> set[str]:
        """The topics whose near misses are stored for every article (schema 15)."""
        rows = self.db.execute("SELECT topic_id FROM topics WHERE near_misses = 1")
        return {r["topic_id"] for r in rows}

    def replace_topic_matches(
        self,
        topic_id: str,
        version: str,
        name: str,
        matches: Iterable[tuple[str, int, Match]],
        now: dt.datetime,
    ) -> int:
        """Swap all of one topic's matches for a fresh set, in one transaction."""
        n = 0
        with self.transaction():
            # Matches of this very version stay: another worker, already on the edited
            # watchlist, may have stored documents since ``matches`` was computed.
            self.db.execute(
                "DELETE FROM matches WHERE topic_id = ? AND topic_version != ?",
                (topic_id, version),
            )
            for doc, idx, m in matches:
                self.db.execute(
                    _UPSERT_MATCH,
                    _match_row(doc, idx, m, now),
                )
                n += 1
            self.db.execute(
                "INSERT INTO topics (topic_id, version, name, matched_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (topic_id) DO UPDATE SET version = excluded.version, "
                "name = excluded.name, matched_at = excluded.matched_at",
                (topic_id, version, name, _iso(now)),
            )
        return n

    def forget_topic(self, topic_id: str) -> None:
        """A topic was removed from the watchlists: drop its matches."""
        with self.transaction():
            self.db.execute("DELETE FROM matches WHERE topic_id = ?", (topic_id,))
            self.db.execute("DELETE FROM near_misses WHERE topic_id = ?", (topic_id,))
            self.db.execute("DELETE FROM topics WHERE topic_id = ?", (topic_id,))

    def matches(
        self, *, doc_sha256: str | None = None, topic_id: str | None = None
    ) -> list[tuple[str, int, Match]]:
        """Stored matches as (document hash, article index, match)."""
        where, args = [], []
        if doc_sha256 is not None:
            where.append("doc_sha256 = ?")
            args.append(doc_sha256)
        if topic_id is not None:
            where.append("topic_id = ?")
            args.append(topic_id)
        sql = "SELECT * FROM matches" + (" WHERE " + " AND ".join(where) if where else "")
        sql += " ORDER BY doc_sha256, idx, topic_id"
        return [(r["doc_sha256"], r["idx"], _row_match(r)) for r in self.db.execute(sql, args)]

    # --- labels -----------------------------------------------------------------

    def find_article(self, ident: str) -> StoredArticle | None:
        """The article with this id (``<16 hex of the document>-<index>``), or None."""
        doc, _, idx = ident.rpartition("-")
        if len(doc) != 16 or not idx.isdigit() or any(c not in "0123456789abcdef" for c in doc):
            return None
        row = self.db.execute(
            "SELECT a.*, d.path AS file FROM articles a JOIN documents d "
            "ON d.sha256 = a.doc_sha256 WHERE a.doc_sha256 >= ? AND a.doc_sha256 < ? "
            "AND a.idx = ?",
            (doc, doc + "g", int(idx)),
        ).fetchone()
        return _stored(row) if row else None

    def set_label(
        self, doc_sha256: str, idx: int, topic_id: str, relevant: bool, now: dt.datetime
    ) -> None:
        """Record (or change) an analyst's judgement of one article for one topic."""
        with self.transaction():
            self.db.execute(
                "INSERT INTO labels (doc_sha256, idx, topic_id, relevant, labelled_at) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (doc_sha256, idx, topic_id) DO UPDATE "
                "SET relevant = excluded.relevant, labelled_at = excluded.labelled_at",
                (doc_sha256, idx, topic_id, int(relevant), _iso(now)),
            )

    def labels(self, topic_id: str | None = None) -> list[tuple[Label, StoredArticle]]:
        """Labels (of one topic) with their articles, oldest label first."""
        sql = (
            "SELECT l.topic_id, l.relevant, l.labelled_at, a.*, d.path AS file FROM labels l "
            "JOIN articles a ON a.doc_sha256 = l.doc_sha256 AND a.idx = l.idx "
            "JOIN documents d ON d.sha256 = a.doc_sha256"
        )
        args: list[object] = []
        if topic_id is not None:
            sql += " WHERE l.topic_id = ?"
            args.append(topic_id)
        out = []
        for r in self.db.execute(sql + " ORDER BY l.labelled_at, l.topic_id", args):
            stored = _stored(r)
            label = Label(
                article=stored.id,
                doc_sha256=stored.doc_sha256,
                index=stored.article.index,
                topic_id=r["topic_id"],
                relevant=bool(r["relevant"]),
                labelled_at=dt.datetime.fromisoformat(r["labelled_at"]),
            )
            out.append((label, stored))
        return out

    def article_labels(self, doc_sha256: str, idx: int) -> dict[str, bool]:
        """One article's labels: topic id → relevant."""
        rows = self.db.execute(
            "SELECT topic_id, relevant FROM labels WHERE doc_sha256 = ? AND idx = ?",
            (doc_sha256, idx),
        )
        return {r["topic_id"]: bool(r["relevant"]) for r in rows}

    # --- the search index (watcher.search fills it and asks it) ---------------------

    # On PostgreSQL the index is a table of the same bigram text (``search_rows``: title
    # and body, each between spaces) with its tokens as a GIN-indexed tsvector; an FTS5
    # expression is answered by the tsvector, then phrases by substring on the text
    # (:func:`_pg_match`): the same candidates, without bm25 (0.0 for all; the
    # Matcher's score ranks them), the last indexed first.

    def search_backlog(self, limit: int | None = None) -> int:
        """Articles stored but not yet in the search index, counted up to ``limit``: the
        single articles queued, and the articles of the documents queued (a document
        without articles counting as one, as :meth:`index_pending` counts it)."""
        if limit is not None:  # a scan's question: no need to count a big queue
            sql = "SELECT count(*) FROM (SELECT 1 FROM search_pending LIMIT ?) AS waiting"
            single = int(self.db.execute(sql, (limit,)).fetchone()[0])
            if single >= limit:
                return single
            # Each document counts one or more: limit - single of them answer the question.
            sql = f"SELECT coalesce(sum(n), 0) FROM ({_QUEUED_DOCS} LIMIT ?) AS waiting"
            return single + int(self.db.execute(sql, (limit - single,)).fetchone()[0])
        single = int(self.db.execute("SELECT count(*) FROM search_pending").fetchone()[0])
        sql = f"SELECT coalesce(sum(n), 0) FROM ({_QUEUED_DOCS}) AS waiting"
        return single + int(self.db.execute(sql).fetchone()[0])

    def index_pending(self, tokens: Callable[[str, str], tuple[str, str]], limit: int) -> int:
        """Index about ``limit`` queued articles in one transaction; returns how many
        were taken from the queue: each single article, and each document's articles
        (a document is taken whole, the last one perhaps past ``limit``; one without
        articles counts as one). Less than ``limit``: the queue is empty.

        ``tokens(headline, body)`` gives the index text of the two columns.
        """
        pg = self.backend == "postgresql"
        with self.transaction():
            rows = self.db.execute(
                "SELECT p.doc_sha256, p.idx, a.headline, a.body FROM search_pending p "
                "LEFT JOIN articles a ON a.doc_sha256 = p.doc_sha256 AND a.idx = p.idx "
                "LIMIT ?",
                (limit,),
            ).fetchall()
            self.db.executemany(
                "DELETE FROM search_pending WHERE doc_sha256 = ? AND idx = ?",
                [(r["doc_sha256"], r["idx"]) for r in rows],
            )
            # An article queued, then deleted, has no headline: nothing to index.
            live = [r for r in rows if r["headline"] is not None]
            taken = len(rows)
            if taken < limit:
                count, articles = self._take_documents(limit - taken)
                taken += count
                live += articles
            if pg:  # one statement for all (a round trip each on PostgreSQL)
                texts = [(r, tokens(r["headline"], r["body"])) for r in live]
                self.db.executemany(
                    "INSERT INTO search_rows (doc_sha256, idx, title, body) "
                    "VALUES (?, ?, ?, ?) ON CONFLICT (doc_sha256, idx) DO NOTHING",
                    [(r["doc_sha256"], r["idx"], f" {t} ", f" {b} ") for r, (t, b) in texts],
                )
                live = []
            for r in live:
                key = (r["doc_sha256"], r["idx"])
                title, body = tokens(r["headline"], r["body"])
                cur = self.db.execute(
                    "INSERT OR IGNORE INTO search_rows (doc_sha256, idx) VALUES (?, ?)", key
                )
                if cur.rowcount != 1:
                    continue  # indexed already
                self.db.execute(
                    "INSERT INTO search_index (rowid, title, body) VALUES (?, ?, ?)",
                    (cur.lastrowid, title, body),
                )
        return taken

    def _take_documents(self, room: int) -> tuple[int, list[Any]]:
        """Documents off the search queue, in its order, until they count ``room`` or
        more entries (see :meth:`index_pending`): that count, and their articles' rows
        (doc_sha256, idx, headline, body) in the queue's order, each document's by idx."""
        docs = [
            r[0]
            for r in self.db.execute(
                "SELECT doc_sha256 FROM search_pending_docs LIMIT ?", (room,)
            ).fetchall()
        ]
        if not docs:
            return 0, []
        marks = ", ".join("?" * len(docs))
        counts = {
            r[0]: r[1]
            for r in self.db.execute(
                f"SELECT sha256, articles FROM documents WHERE sha256 IN ({marks})", docs
            ).fetchall()
        }
        taken = 0
        for n, doc in enumerate(docs):
            taken += max(1, counts.get(doc) or 0)
            if taken >= room:
                del docs[n + 1 :]
                break
        self.db.executemany(
            "DELETE FROM search_pending_docs WHERE doc_sha256 = ?", [(d,) for d in docs]
        )
        marks = ", ".join("?" * len(docs))
        rows = self.db.execute(
            f"SELECT doc_sha256, idx, headline, body FROM articles WHERE doc_sha256 IN ({marks})",
            docs,
        ).fetchall()
        order = {d: n for n, d in enumerate(docs)}
        rows.sort(key=lambda r: (order[r["doc_sha256"]], r["idx"]))
        return taken, rows

    def reset_search_index(self) -> None:
        """Empty the search index and queue every article again (a rebuild)."""
        with self.transaction():
            if self.backend == "sqlite":
                self.db.execute("INSERT INTO search_index (search_index) VALUES ('delete-all')")
            self.db.execute("DELETE FROM search_rows")
            # Every document queued (its articles with it), no single article beside it.
            self.db.execute("DELETE FROM search_pending")
            self.db.execute(
                "INSERT INTO search_pending_docs (doc_sha256) "
                "SELECT sha256 FROM documents WHERE status = 'ok' ON CONFLICT DO NOTHING"
            )

    def optimize_search_index(self) -> None:
        """Merge the index's segments into one (after a bulk build: smaller, faster).
        On PostgreSQL, VACUUM ANALYZE, which autovacuum would do some time later: it
        merges the GIN index's pending list and records the index's size in it, and
        gathers the tokens' statistics; until then the planner may take the new index
        for a costly one and read the whole table instead (0.9 s a query, not 50 ms,
        on the corpus). Outside any transaction (VACUUM cannot run in one)."""
        if self.backend == "postgresql":
            self.db.execute("VACUUM (ANALYZE) search_rows")
            return
        with self.transaction():
            self.db.execute("INSERT INTO search_index (search_index) VALUES ('optimize')")

    def search_index_stats(self) -> IndexStats:
        q = self.db.execute
        if self.backend == "postgresql":
            size = q("SELECT pg_total_relation_size('search_rows')").fetchone()[0]
        else:
            size = (
                q("SELECT coalesce(sum(length(block)), 0) FROM search_index_data").fetchone()[0]
                + q(
                    "SELECT coalesce(sum(length(id) + length(sz)), 0) FROM search_index_docsize"
                ).fetchone()[0]
            )
        return IndexStats(
            indexed=int(q("SELECT count(*) FROM search_rows").fetchone()[0]),
            pending=self.search_backlog(),
            bytes=int(size),
        )

    def search_candidates(
        self,
        expression: str | None,
        where: ArticleFilter = ArticleFilter(),
        *,
        limit: int | None = None,
        offset: int = 0,
        by_rank: bool = True,
    ) -> list[Candidate]:
        """Articles the index proposes for an FTS5 ``expression``: best bm25 first, or
        (``by_rank`` off: bm25 over very many rows costs more than it is worth) the last
        indexed first. With no expression: every article in ``where``, newest
        publication date first. (PostgreSQL: the last indexed first, bm25 0.0.)"""
        sql, args = self._candidates_sql(expression, where, "a.*, d.path AS file")
        if expression is not None and self.backend == "postgresql":
            sql += " ORDER BY c.id DESC"
        elif expression is not None:
            sql = sql.replace("SELECT ", "SELECT s.rank AS bm25, ", 1)
            sql += " ORDER BY s.rank" if by_rank else " ORDER BY s.rowid DESC"
        else:
            sql += " ORDER BY a.date IS NULL, a.date DESC, a.first_seen DESC, a.idx"
        if limit is not None:
            sql += " LIMIT ? OFFSET ?"
            args += [limit, offset]
        rows = self.db.execute(sql, args)
        ranked = expression is not None and self.backend == "sqlite"
        return [Candidate(_stored(r), float(r["bm25"]) if ranked else 0.0) for r in rows]

    def count_candidates(
        self, expression: str | None, where: ArticleFilter = ArticleFilter()
    ) -> int:
        """How many articles :meth:`search_candidates` would give without a limit (with
        an expression and no filter: the index's own count, which may include entries
        of deleted articles — an upper bound, and a cheap one; on PostgreSQL the rows
        holding every token of each phrase, not yet checked for them in a row)."""
        if expression is not None and where == ArticleFilter():
            if self.backend == "postgresql":  # the GIN index's part of _pg_match alone
                sql = "SELECT count(*) FROM search_rows r WHERE r.terms @@ ?::tsquery"
                return int(self.db.execute(sql, (_pg_match(expression)[0],)).fetchone()[0])
            sql = "SELECT count(*) FROM search_index WHERE search_index MATCH ?"
            return int(self.db.execute(sql, (expression,)).fetchone()[0])
        sql, args = self._candidates_sql(expression, where, "count(*)")
        return int(self.db.execute(sql, args).fetchone()[0])

    def _candidates_sql(
        self, expression: str | None, where: ArticleFilter, columns: str
    ) -> tuple[str, list[object]]:
        cond, args = _filter_sql(where)
        if expression is None:
            sql = f"SELECT {columns} FROM articles a JOIN documents d ON d.sha256 = a.doc_sha256"
        elif self.backend == "postgresql":
            return _pg_candidates_sql(expression, cond, args, columns)
        else:
            sql = (
                f"SELECT {columns} FROM search_index s "
                "JOIN search_rows r ON r.id = s.rowid "
                "JOIN articles a ON a.doc_sha256 = r.doc_sha256 AND a.idx = r.idx "
                "JOIN documents d ON d.sha256 = a.doc_sha256"
            )
            cond.insert(0, "search_index MATCH ?")
            args.insert(0, expression)
        if cond:
            sql += " WHERE " + " AND ".join(cond)
        return sql, args

    def matched_articles(
        self, where: ArticleFilter = ArticleFilter(), *, limit: int | None = None, offset: int = 0
    ) -> Iterator[tuple[StoredArticle, Match]]:
        """Stored matches with their articles (``where.topic``: of that topic), newest
        publication date first, then best score."""
        cond, args = _filter_sql(ArticleFilter(where.since, where.until, where.paper))
        if where.topic is not None:
            cond.append("m.topic_id = ?")
            args.append(where.topic)
        sql = (
            "SELECT a.*, d.path AS file, m.topic_id, m.topic_version, m.score, m.terms, "
            "m.hits, m.clause, m.snippet, m.marks FROM matches m "
            "JOIN articles a ON a.doc_sha256 = m.doc_sha256 AND a.idx = m.idx "
            "JOIN documents d ON d.sha256 = a.doc_sha256"
            + (" WHERE " + " AND ".join(cond) if cond else "")
            + " ORDER BY a.date IS NULL, a.date DESC, m.score DESC, a.doc_sha256, a.idx, m.topic_id"
        )
        if limit is not None:
            sql += " LIMIT ? OFFSET ?"
            args += [limit, offset]
        for r in self.db.execute(sql, args):
            yield _stored(r), _row_match(r)

    def count_matched(self, where: ArticleFilter = ArticleFilter()) -> int:
        """How many (article, topic) matches :meth:`matched_articles` would give."""
        cond, args = _filter_sql(ArticleFilter(where.since, where.until, where.paper))
        if where.topic is not None:
            cond.append("m.topic_id = ?")
            args.append(where.topic)
        sql = (
            "SELECT count(*) FROM matches m JOIN articles a "
            "ON a.doc_sha256 = m.doc_sha256 AND a.idx = m.idx"
            + (" WHERE " + " AND ".join(cond) if cond else "")
        )
        return int(self.db.execute(sql, args).fetchone()[0])

    def topic_dates(self, topic_id: str) -> list[tuple[dt.date, int]]:
        """A topic's matched articles per publication date, oldest first."""
        rows = self.db.execute(
            "SELECT a.date, count(*) AS n FROM matches m JOIN articles a "
            "ON a.doc_sha256 = m.doc_sha256 AND a.idx = m.idx "
            "WHERE m.topic_id = ? AND a.date IS NOT NULL GROUP BY a.date ORDER BY a.date",
            (topic_id,),
        )
        return [(dt.date.fromisoformat(r["date"]), int(r["n"])) for r in rows]

    def newspapers(self) -> list[tuple[str, int]]:
        """Every newspaper named by a stored article, with its article count, by name."""
        rows = self.db.execute(
            "SELECT newspaper, count(*) AS n FROM articles WHERE newspaper IS NOT NULL "
            "GROUP BY newspaper ORDER BY newspaper"
        )
        return [(r["newspaper"], int(r["n"])) for r in rows]

    def articles_at(
        self,
        newspaper: str | None,
        page: str | None,
        after: dt.datetime | None,
        until: dt.datetime,
    ) -> list[StoredArticle]:
        """Articles of one newspaper page first seen in (after, until] (a digest's window):
        where the copies of a reprint group are."""
        sql = (
            "SELECT a.*, d.path AS file FROM articles a JOIN documents d "
            "ON d.sha256 = a.doc_sha256 WHERE a.first_seen <= ? "
            "AND a.newspaper IS ? AND a.page IS ?"
        )
        args: list[object] = [_iso(until), newspaper, page]
        if after is not None:
            sql += " AND a.first_seen > ?"
            args.append(_iso(after))
        return [_stored(r) for r in self.db.execute(sql + " ORDER BY a.first_seen, a.idx", args)]

    def digests_listing(self, key: str) -> list[tuple[dt.date, str]]:
        """(day, content) of the stored digests whose text names this article key."""
        rows = self.db.execute(
            "SELECT day, content FROM digests WHERE instr(content, ?) > 0 ORDER BY day",
            (json.dumps(key),),
        )
        return [(dt.date.fromisoformat(r["day"]), r["content"]) for r in rows]

    # --- digests and deliveries ---------------------------------------------------

    def articles_seen(
        self, after: dt.datetime | None, until: dt.datetime
    ) -> Iterator[StoredArticle]:
        """Articles first seen in (after, until]: one digest's window."""
        sql = (
            "SELECT a.*, d.path AS file FROM articles a JOIN documents d "
            "ON d.sha256 = a.doc_sha256 WHERE a.first_seen <= ?"
        )
        args: list[object] = [_iso(until)]
        if after is not None:
            sql += " AND a.first_seen > ?"
            args.append(_iso(after))
        sql += " ORDER BY a.first_seen, d.path, a.idx"
        for r in self.db.execute(sql, args):
            yield _stored(r)

    def window_counts(self, after: dt.datetime | None, until: dt.datetime) -> tuple[int, int]:
        """(documents, articles) first seen in (after, until]."""
        cond, args = "first_seen <= ?", [_iso(until)]
        if after is not None:
            cond += " AND first_seen > ?"
            args.append(_iso(after))
        docs = self.db.execute(
            f"SELECT count(*) FROM documents WHERE status = 'ok' AND {cond}", args
        ).fetchone()[0]
        arts = self.db.execute(f"SELECT count(*) FROM articles WHERE {cond}", args).fetchone()[0]
        return int(docs), int(arts)

    def digest(self, day: dt.date) -> str | None:
        """The stored digest of a day, as JSON, or None."""
        row = self.db.execute(
            "SELECT content FROM digests WHERE day = ?", (day.isoformat(),)
        ).fetchone()
        return row["content"] if row else None

    def last_cutoff(self, before: dt.date) -> dt.datetime | None:
        """The cut-off of the latest digest dated before ``before``."""
        row = self.db.execute(
            "SELECT produced_at FROM digests WHERE day < ? ORDER BY day DESC LIMIT 1",
            (before.isoformat(),),
        ).fetchone()
        return dt.datetime.fromisoformat(row["produced_at"]) if row else None

    def digest_days(self) -> list[tuple[dt.date, dict[str, int]]]:
        """Every produced digest's day with its per-topic counts, newest first."""
        rows = self.db.execute("SELECT day, counts FROM digests ORDER BY day DESC")
        return [(dt.date.fromisoformat(r["day"]), json.loads(r["counts"])) for r in rows]

    def add_digest(
        self,
        day: dt.date,
        produced_at: dt.datetime,
        since: dt.datetime | None,
        counts: dict[str, int],
        content: str,
        channels: Sequence[tuple[str, str, str]],
    ) -> bool:
        """Store a produced digest and its deliveries (channel, key, status) in one
        transaction. False (and nothing changed) if the day already has one."""
        with self.transaction():
            if self.db.execute(
                "SELECT 1 FROM digests WHERE day = ?", (day.isoformat(),)
            ).fetchone():
                return False
            self.db.execute(
                "INSERT INTO digests (day, produced_at, since, total, counts, content) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (
                    day.isoformat(),
                    _iso(produced_at),
                    _iso(since) if since else None,
                    sum(counts.values()),
                    json.dumps(counts, ensure_ascii=False),
                    content,
                ),
            )
            for channel, key, status in channels:
                self._put_delivery(day, channel, key, status, produced_at)
        return True

    def _put_delivery(
        self, day: dt.date, channel: str, key: str, status: str, now: dt.datetime
    ) -> None:
        self.db.execute(
            "INSERT INTO deliveries (day, channel, key, status, next_attempt) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (day, channel) DO NOTHING",
            (day.isoformat(), channel, key, status, _iso(now)),
        )

    def ensure_delivery(
        self, day: dt.date, channel: str, key: str, now: dt.datetime, status: str = "pending"
    ) -> None:
        """Add a delivery of a produced digest unless the channel has one already."""
        with self.transaction():
            self._put_delivery(day, channel, key, status, now)

    def deliveries(
        self, *, day: dt.date | None = None, status: str | None = None
    ) -> list[Delivery]:
        """Deliveries (of a day, in a status), by day then channel."""
        where, args = [], []
        if day is not None:
            where.append("day = ?")
            args.append(day.isoformat())
        if status is not None:
            where.append("status = ?")
            args.append(status)
        sql = "SELECT * FROM deliveries" + (" WHERE " + " AND ".join(where) if where else "")
        rows = self.db.execute(sql + " ORDER BY day, channel", args)
        return [_delivery(r) for r in rows]

    def claim_delivery(
        self,
        day: dt.date,
        channel: str,
        now: dt.datetime,
        me: str,
        alive: Callable[[str], bool],
        lease: float = 600.0,
    ) -> bool:
        """Take a pending delivery for sending, noting the attempt first.

        False when it is no longer pending, or another live process (a CLI next
        to the daemon) is sending it: only one of them sends. A claim by a
        process that died (killed mid-send) or one older than ``lease`` seconds
        whose holder's heartbeat (:meth:`heartbeat`) has expired is taken over.
        """
        return self._claim(*_DAILY, (day.isoformat(), channel), now, me, alive, lease)

    def _claim(
        self,
        table: str,
        where: str,
        key: tuple[str, str],
        now: dt.datetime,
        me: str,
        alive: Callable[[str], bool],
        lease: float,
    ) -> bool:
        """:meth:`claim_delivery` of the row ``where`` in ``table`` (daily or period)."""
        with self.transaction():
            row = self.db.execute(
                f"SELECT status, claimed_by, last_attempt FROM {table} WHERE {where}", key
            ).fetchone()
            if row is None or row["status"] != "pending":
                return False
            holder = row["claimed_by"]
            if holder and holder != me and alive(holder):
                started = dt.datetime.fromisoformat(row["last_attempt"])
                # A holder still beating is still sending (a slow server), however long.
                if now - started < dt.timedelta(seconds=lease) or self._beating(holder, now):
                    return False
            self.db.execute(
                f"UPDATE {table} SET attempts = attempts + 1, last_attempt = ?, "
                f"claimed_by = ? WHERE {where}",
                (_iso(now), me, *key),
            )
        return True

    def delivery_sent(self, day: dt.date, channel: str, now: dt.datetime) -> None:
        self._update(_DAILY, (day.isoformat(), channel), _SENT, (_iso(now),))

    def delivery_failed(
        self,
        day: dt.date,
        channel: str,
        error: str,
        retry_at: dt.datetime,
        failure: Failure = "transient",
    ) -> None:
        self._update(_DAILY, (day.isoformat(), channel), _FAILED, (error, _iso(retry_at), failure))

    def delivery_part_sent(self, day: dt.date, channel: str, parts: int) -> None:
        """Record that the first ``parts`` messages of a chat delivery were posted."""
        self._update(_DAILY, (day.isoformat(), channel), "parts_sent = ?", (parts,))

    def delivery_reset(self, day: dt.date, channel: str, key: str, now: dt.datetime) -> None:
        """--force: make a sent delivery pending again under a new key."""
        self._update(_DAILY, (day.isoformat(), channel), _RESET, (key, _iso(now)))

    def _update(
        self,
        which: tuple[str, str],
        key: tuple[str, str],
        assignments: str,
        values: tuple[object, ...],
    ) -> None:
        """One delivery's row (daily or period, :data:`_DAILY` / :data:`_PERIOD`) changed."""
        table, where = which
        with self.transaction():
            self.db.execute(f"UPDATE {table} SET {assignments} WHERE {where}", (*values, *key))

    # --- period digests (weekly summaries, publication-day ranges) and their deliveries
    #
    # The same life as a day's deliveries (pending → claimed → sent, retried while
    # pending, a claim by a dead process taken over), keyed by period instead of day.

    def articles_published(self, first: dt.date, last: dt.date) -> list[StoredArticle]:
        """Articles published in [first, last]: by the paper's date, else the day the
        dateline names; articles showing neither are in no range."""
        rows = self.db.execute(
            "SELECT a.*, d.path AS file FROM articles a JOIN documents d "
            "ON d.sha256 = a.doc_sha256 WHERE coalesce(a.date, a.event_date) BETWEEN ? AND ? "
            "ORDER BY coalesce(a.date, a.event_date), a.first_seen, d.path, a.idx",
            (first.isoformat(), last.isoformat()),
        )
        return [_stored(r) for r in rows]

    def period(self, period: str) -> str | None:
        """The stored content of a period's digest, or None."""
        row = self.db.execute("SELECT content FROM periods WHERE period = ?", (period,)).fetchone()
        return row["content"] if row else None

    def add_period(
        self,
        period: str,
        first: dt.date,
        last: dt.date,
        produced_at: dt.datetime,
        content: str,
        channels: Sequence[tuple[str, str, str]],
    ) -> bool:
        """Store a period's digest and its deliveries (channel, key, status) in one
        transaction. False (and nothing changed) if the period has one already."""
        with self.transaction():
            if self.db.execute("SELECT 1 FROM periods WHERE period = ?", (period,)).fetchone():
                return False
            self.db.execute(
                "INSERT INTO periods (period, first_day, last_day, produced_at, content) "
                "VALUES (?, ?, ?, ?, ?)",
                (period, first.isoformat(), last.isoformat(), _iso(produced_at), content),
            )
            for channel, key, status in channels:
                self._put_period_delivery(period, channel, key, status, produced_at)
        return True

    def _put_period_delivery(
        self, period: str, channel: str, key: str, status: str, now: dt.datetime
    ) -> None:
        self.db.execute(
            "INSERT INTO period_deliveries (period, channel, key, status, next_attempt) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (period, channel) DO NOTHING",
            (period, channel, key, status, _iso(now)),
        )

    def ensure_period_delivery(
        self, period: str, channel: str, key: str, now: dt.datetime, status: str = "pending"
    ) -> None:
        """Add a delivery of a stored period unless the channel has one already."""
        with self.transaction():
            self._put_period_delivery(period, channel, key, status, now)

    def period_deliveries(
        self, *, period: str | None = None, status: str | None = None
    ) -> list[Delivery]:
        """Deliveries of periods (of one, in a status), by period then channel; each with
        ``period`` set and ``day`` the period's first day."""
        where, args = [], []
        if period is not None:
            where.append("p.period = ?")
            args.append(period)
        if status is not None:
            where.append("p.status = ?")
            args.append(status)
        sql = (
            "SELECT p.*, q.first_day AS day FROM period_deliveries p "
            "JOIN periods q ON q.period = p.period"
        )
        sql += (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY p.period, p.channel"
        return [
            dataclasses.replace(_delivery(r), period=r["period"])
            for r in self.db.execute(sql, args)
        ]

    def claim_period_delivery(
        self,
        period: str,
        channel: str,
        now: dt.datetime,
        me: str,
        alive: Callable[[str], bool],
        lease: float = 600.0,
    ) -> bool:
        """:meth:`claim_delivery` for a period's delivery."""
        return self._claim(*_PERIOD, (period, channel), now, me, alive, lease)

    def period_delivery_sent(self, period: str, channel: str, now: dt.datetime) -> None:
        self._update(_PERIOD, (period, channel), _SENT, (_iso(now),))

    def period_delivery_failed(
        self,
        period: str,
        channel: str,
        error: str,
        retry_at: dt.datetime,
        failure: Failure = "transient",
    ) -> None:
        self._update(_PERIOD, (period, channel), _FAILED, (error, _iso(retry_at), failure))

    def period_delivery_part_sent(self, period: str, channel: str, parts: int) -> None:
        self._update(_PERIOD, (period, channel), "parts_sent = ?", (parts,))

    def period_delivery_reset(self, period: str, channel: str, key: str, now: dt.datetime) -> None:
        """--force: make a sent delivery of a period pending again under a new key."""
        self._update(_PERIOD, (period, channel), _RESET, (key, _iso(now)))

    def matches_for(self, docs: Iterable[str]) -> list[tuple[str, int, Match]]:
        """Stored matches of the articles of these documents."""
        out = []
        docs = list(docs)
        for n in range(0, len(docs), 500):  # stay under SQLite's variable limit
            chunk = docs[n : n + 500]
            marks = ",".join("?" * len(chunk))
            rows = self.db.execute(
                f"SELECT * FROM matches WHERE doc_sha256 IN ({marks}) ORDER BY doc_sha256, idx",
                chunk,
            )
            out += [(r["doc_sha256"], r["idx"], _row_match(r)) for r in rows]
        return out

    def alarm_facts(self, since: dt.datetime) -> AlarmFacts:
        """What the alarms look at: arrivals, failures since ``since``, topic activity."""
        q = self.db.execute
        last, first = q(
            "SELECT max(first_seen), min(first_seen) FROM documents WHERE status = 'ok'"
        ).fetchone()
        read, failed = q(
            "SELECT count(*), coalesce(sum(CASE WHEN status = 'failed' THEN 1 ELSE 0 END), 0) "
            "FROM files "
            "WHERE seen_at > ? AND status != 'skipped'",
            (_iso(since),),
        ).fetchone()
        topic_last = {
            r[0]: dt.datetime.fromisoformat(r[1])
            for r in q(
                "SELECT m.topic_id, max(a.first_seen) FROM matches m JOIN articles a "
                "ON a.doc_sha256 = m.doc_sha256 AND a.idx = m.idx GROUP BY m.topic_id"
            )
        }
        return AlarmFacts(
            last_document=_time(last),
            first_document=_time(first),
            read_today=int(read),
            failed_today=int(failed),
            topic_last_match=topic_last,
        )

    # --- copying a whole state (watcher migrate) -----------------------------------

    def table_batches(
        self, table: str, size: int = 5000
    ) -> Iterator[tuple[list[str], list[tuple[Any, ...]]]]:
        """The rows of one of the :data:`COPIED` tables in key order, ``size`` at a
        time, each batch with the column names (none for an empty table)."""
        if table not in COPIED:
            raise ValueError(f"not a copied table: {table}")
        cur = self.db.execute(f"SELECT * FROM {table} ORDER BY {COPIED[table]}")
        columns = [d[0] for d in cur.description] if cur.description else []
        while rows := [tuple(r) for r in cur.fetchmany(size)]:
            yield columns, rows

    def table_count(self, table: str) -> int:
        if table not in COPIED:
            raise ValueError(f"not a copied table: {table}")
        return int(self.db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])

    def load_rows(self, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
        """Insert rows copied from another store (call inside a transaction); an id
        column's sequence is moved past the copied ids."""
        if table not in COPIED or not columns:
            raise ValueError(f"not a copied table: {table}")
        names = ", ".join(columns)
        marks = ", ".join("?" * len(columns))
        self.db.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks})", rows)
        if self.backend == "postgresql" and table == "scans":
            self.db.execute(
                "SELECT setval(pg_get_serial_sequence('scans', 'id'), "
                "coalesce((SELECT max(id) FROM scans), 0) + 1, false)"
            )

    # --- scans ----------------------------------------------------------------

    def begin_scan(self, now: dt.datetime) -> int:
        with self.transaction():
            row = self.db.execute(
                "INSERT INTO scans (started) VALUES (?) RETURNING id", (_iso(now),)
            ).fetchone()
        return int(row[0])

    def end_scan(self, scan_id: int, report: ScanReport, now: dt.datetime) -> None:
        with self.transaction():
            self.db.execute(
                "UPDATE scans SET finished = ?, new = ?, unchanged = ?, duplicate = ?, "
                "failed = ?, waiting = ?, skipped = ?, articles = ? WHERE id = ?",
                (
                    _iso(now),
                    report.new,
                    report.unchanged,
                    report.duplicate,
                    report.failed,
                    report.waiting,
                    report.skipped,
                    report.articles,
                    scan_id,
                ),
            )

    def last_scan(self) -> ScanRecord | None:
        """The latest finished scan, or None."""
        r = self.db.execute(
            "SELECT * FROM scans WHERE finished IS NOT NULL ORDER BY id DESC LIMIT 1"
        ).fetchone()
        if r is None:
            return None
        return ScanRecord(
            id=r["id"],
            started=dt.datetime.fromisoformat(r["started"]),
            finished=dt.datetime.fromisoformat(r["finished"]),
            new=r["new"],
            unchanged=r["unchanged"],
            duplicate=r["duplicate"],
            failed=r["failed"],
            waiting=r["waiting"],
            skipped=r["skipped"],
            articles=r["articles"],
        )


class _Batch:
    """The state of an open :meth:`Store.batch` (SQLite only)."""

    def __init__(self, units: int, seconds: float) -> None:
        self.units = units
        self.seconds = seconds
        self.open = False  # BEGIN IMMEDIATE done, COMMIT not yet
        self.since = 0.0
        self.done = 0  # units in the open transaction
        self.depth = 0  # transaction() blocks entered and not left

    def old(self) -> bool:
        """Open for ``seconds`` or more."""
        return self.open and time.monotonic() - self.since >= self.seconds

    def enter(self, db: Database) -> bool:
        """Start a unit (True) or join the unit in hand (False)."""
        if self.depth:
            self.depth += 1
            return False
        if not self.open:
            db.execute("BEGIN IMMEDIATE")
            self.open, self.since, self.done = True, time.monotonic(), 0
        db.execute("SAVEPOINT unit")
        self.depth = 1  # counted once started: a BEGIN that failed left no unit
        return True

    def leave(self, db: Database, path: Path | str, unit: bool, failed: bool) -> None:
        self.depth -= 1
        if not unit:
            return
        if failed:
            if db.in_transaction:
                db.execute("ROLLBACK TO unit")
                db.execute("RELEASE unit")
            else:  # SQLite rolled the whole transaction back itself (a full disk)
                self.open = False
            return
        db.execute("RELEASE unit")
        self.done += 1
        if self.done >= self.units or time.monotonic() - self.since >= self.seconds:
            self.end(db, path, commit=True)

    def end(self, db: Database, path: Path | str, *, commit: bool) -> None:
        """Commit (or roll back) the open transaction, if any, between units."""
        if not self.open or self.depth:
            return
        self.open = False
        if not db.in_transaction:
            return
        if not commit:
            db.execute("ROLLBACK")
            return
        _commit(db, path)


def _commit(db: Database, path: Path | str) -> None:
    """COMMIT; a full disk becomes a StateError that says so (rolled back)."""
    try:
        db.execute("COMMIT")
    except sqlite3.OperationalError as failed:
        if db.in_transaction:  # SQLite may have rolled it back itself
            db.execute("ROLLBACK")
        full = _disk_full(failed, path)
        if full is None:
            raise
        raise full from failed


class _Transaction:
    """BEGIN IMMEDIATE … COMMIT, rolled back on any exception; a full disk becomes a
    StateError that says so (SQLite rolls the transaction back: nothing is corrupted,
    and the work is done again at the next tick). Inside a batch, SAVEPOINT … RELEASE
    (ROLLBACK TO on an exception)."""

    def __init__(
        self, db: Database, path: Path | str, backend: str = "sqlite", batch: _Batch | None = None
    ) -> None:
        self.db = db
        self.path = path
        self.backend = backend
        self.batch = batch
        self.unit = False

    def __enter__(self) -> None:
        if self.batch is not None:
            self.outer = False
            self.unit = self.batch.enter(self.db)
            return
        self.outer = not self.db.in_transaction
        if self.outer and self.backend == "postgresql":
            self.db.execute("BEGIN")
            self.db.execute("SELECT pg_advisory_xact_lock(?)", (WRITE_LOCK,))
        elif self.outer:
            self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, exc: BaseException | None, _tb: object) -> None:
        if self.batch is not None:
            try:
                self.batch.leave(self.db, self.path, self.unit, exc is not None)
            except sqlite3.OperationalError as failed:
                full = _disk_full(failed, self.path)
                if full is None:
                    raise
                raise full from failed
            if isinstance(exc, sqlite3.OperationalError):
                full = _disk_full(exc, self.path)
                if full is not None:
                    raise full from exc
            return
        if not self.outer:
            return
        if exc is None:
            _commit(self.db, self.path)
            return
        if self.db.in_transaction:
            self.db.execute("ROLLBACK")
        if isinstance(exc, sqlite3.OperationalError):
            full = _disk_full(exc, self.path)
            if full is not None:
                raise full from exc


def _disk_full(exc: sqlite3.OperationalError, path: Path | str) -> StateError | None:
    """The StateError for a full disk, or None if ``exc`` is something else."""
    text = str(exc)
    if "disk is full" not in text and "disk I/O error" not in text:
        return None
    return StateError(
        f"the disk holding the state database {path} is full ({text}); free some space "
        "there — nothing was lost, and watcher carries on where it stopped"
    )


def _filter_sql(where: ArticleFilter) -> tuple[list[str], list[object]]:
    """SQL conditions on ``a`` (articles) for a filter."""
    cond: list[str] = []
    args: list[object] = []
    if where.since is not None:
        cond.append("a.date >= ?")
        args.append(where.since.isoformat())
    if where.until is not None:
        cond.append("a.date <= ?")
        args.append(where.until.isoformat())
    if where.paper is not None:
        cond.append("a.newspaper = ?")
        args.append(where.paper)
    if where.topic is not None:
        cond.append(
            "EXISTS (SELECT 1 FROM matches m WHERE m.doc_sha256 = a.doc_sha256 "
            "AND m.idx = a.idx AND m.topic_id = ?)"
        )
        args.append(where.topic)
    return cond, args


_FTS_TOKEN = re.compile(r'\s*(?:(title) : )?"([^"]*)"|\s*(\(|\)|AND|OR)')


@dataclass(frozen=True)
class _Phrase:
    """A phrase of an FTS5 expression: index tokens in a row, in one column or any."""

    tokens: tuple[str, ...]
    title: bool


@dataclass(frozen=True)
class _Bool:
    op: str  # "AND" or "OR"
    children: tuple[_Phrase | _Bool, ...]


def _fts_tree(expression: str) -> _Phrase | _Bool:
    """Parse an FTS5 expression of watcher.search (quoted phrases of index tokens,
    ``title :``, AND, OR, parentheses; AND binding tighter)."""
    tokens: list[tuple[str, str]] = []  # ("phrase", column + text) or ("op", word)
    pos = 0
    while pos < len(expression.rstrip()):
        m = _FTS_TOKEN.match(expression, pos)
        if m is None:
            raise ValueError(f"not a search expression: {expression!r} at {pos}")
        if m.group(3) is not None:
            tokens.append(("op", m.group(3)))
        else:
            tokens.append(("phrase", f"{m.group(1) or ''}\t{m.group(2)}"))
        pos = m.end()
    at = 0

    def atom() -> _Phrase | _Bool:
        nonlocal at
        kind, text = tokens[at]
        at += 1
        if kind == "op" and text == "(":
            inner = either()
            at += 1  # ")"
            return inner
        column, phrase = text.split("\t", 1)
        return _Phrase(tuple(phrase.split()), column == "title")

    def chain(op: str, part: Callable[[], _Phrase | _Bool]) -> _Phrase | _Bool:
        nonlocal at
        parts = [part()]
        while at < len(tokens) and tokens[at] == ("op", op):
            at += 1
            parts.append(part())
        return parts[0] if len(parts) == 1 else _Bool(op, tuple(parts))

    def both() -> _Phrase | _Bool:
        return chain("AND", atom)

    def either() -> _Phrase | _Bool:
        return chain("OR", both)

    return either()


def _pg_match(expression: str) -> tuple[str, tuple[str, list[object]] | None]:
    """An FTS5 expression of watcher.search as PostgreSQL's search index answers it,
    exactly what FTS5 answers: a tsquery for ``search_rows.terms`` (GIN-indexed) and
    the recheck, a condition on ``r`` with its arguments, or None when none is needed.

    The tsquery asks every token of each phrase (``TITLE_MARK`` + token for a
    headline's), AND and OR as in the expression: an upper bound. The recheck, on the
    rows it gives: a phrase is its tokens in a row, so a substring between spaces of
    the column's text (:func:`_pg_substring`). A phrase of one token is exactly its
    lexeme, so it needs none where the tsquery's answer is already its answer: on the
    chain of ANDs from the top (under an OR, a phrase of one token is checked with
    the rest of the OR, which needs it)."""
    tree = _fts_tree(expression)
    args: list[object] = []
    check = _recheck(tree, args)
    return _tsquery(tree), (None if check is None else (check, args))


def _pg_candidates_sql(
    expression: str, filters: list[str], args: list[object], columns: str
) -> tuple[str, list[object]]:
    """PostgreSQL's candidates of ``expression`` in the articles ``filters`` (with
    their ``args``) keep: ``columns`` of each, or their ``count(*)``."""
    tsquery, check = _pg_match(expression)
    rechecks, recheck_args = ([], []) if check is None else ([check[0]], check[1])
    joins = (
        "JOIN articles a ON a.doc_sha256 = r.doc_sha256 AND a.idx = r.idx "
        "JOIN documents d ON d.sha256 = a.doc_sha256"
    )
    if columns == "count(*)":
        # All of them: the index's rows first (MATERIALIZED: else the planner may read
        # every article and ask each one's tsvector, a sequential read after all).
        found = " AND ".join(["r.terms @@ ?::tsquery", *rechecks])
        kept = "".join(f" {'AND' if n else 'WHERE'} {c}" for n, c in enumerate(filters))
        return (
            f"WITH r AS MATERIALIZED (SELECT r.doc_sha256, r.idx FROM search_rows r "
            f"WHERE {found}) SELECT count(*) FROM r {joins}{kept}",
            [tsquery, *recheck_args, *args],
        )
    # A page: the index's rows in index order (c: no text read), then each one's
    # recheck and filters, a row at a time in that order (LATERAL), so a page stops
    # reading text once it has its rows, and nothing needs sorting.
    cond = " AND ".join(["r.id = c.id", *rechecks, *filters])
    return (
        "SELECT x.* FROM (SELECT r.id FROM search_rows r WHERE r.terms @@ ?::tsquery "
        f"ORDER BY r.id DESC) c CROSS JOIN LATERAL (SELECT {columns} FROM search_rows r "
        f"{joins} WHERE {cond}) x",
        [tsquery, *recheck_args, *args],
    )


def _tsquery(node: _Phrase | _Bool) -> str:
    """The tsquery (its text form: lexemes quoted, so nothing is parsed) of every
    token of each phrase, AND and OR as in ``node``."""
    if isinstance(node, _Phrase):
        mark = TITLE_MARK if node.title else ""
        lexemes = ((mark + t).replace("\\", "\\\\").replace("'", "''") for t in node.tokens)
        return "(" + " & ".join(f"'{x}'" for x in lexemes) + ")"
    return "(" + (" & " if node.op == "AND" else " | ").join(map(_tsquery, node.children)) + ")"


def _exact(node: _Phrase | _Bool) -> bool:
    """Whether the index's tsquery answers ``node`` exactly (phrases of one token)."""
    if isinstance(node, _Phrase):
        return len(node.tokens) == 1
    return all(map(_exact, node.children))


def _recheck(node: _Phrase | _Bool, args: list[object]) -> str | None:
    """What the rows the index gives must still satisfy, or None (nothing)."""
    if _exact(node):
        return None
    if isinstance(node, _Bool) and node.op == "AND":
        parts = [p for p in (_recheck(c, args) for c in node.children) if p is not None]
        return parts[0] if len(parts) == 1 else "(" + " AND ".join(parts) + ")"
    return _pg_substring(node, args)


def _pg_substring(node: _Phrase | _Bool, args: list[object]) -> str:
    """``node`` as substring conditions on the text of ``r`` (title and body, each
    between spaces): what answers it exactly, row by row."""
    if isinstance(node, _Bool):
        parts = [_pg_substring(c, args) for c in node.children]
        return "(" + f" {node.op} ".join(parts) + ")"
    needle = f" {' '.join(node.tokens)} "
    if node.title:
        args.append(needle)
        return "strpos(r.title, ?) > 0"
    args.extend((needle, needle))
    return "(strpos(r.title, ?) > 0 OR strpos(r.body, ?) > 0)"


def _time(text: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(text) if text else None


def _delivery(r: Any) -> Delivery:
    return Delivery(
        day=dt.date.fromisoformat(r["day"]),
        channel=r["channel"],
        key=r["key"],
        status=r["status"],
        attempts=r["attempts"],
        last_error=r["last_error"],
        last_attempt=_time(r["last_attempt"]),
        next_attempt=_time(r["next_attempt"]),
        sent_at=_time(r["sent_at"]),
        claimed_by=r["claimed_by"],
        parts_sent=r["parts_sent"],
        failure=r["failure"],
    )


def _statements(script: str) -> list[str]:
    """Split a migration script into statements (they hold no string literals with
    semicolons or "--"), so they run inside our own transaction. A trigger's body
    keeps its semicolons: a statement ends where SQLite says it is complete."""
    lines = [ln.split("--", 1)[0] for ln in script.splitlines()]
    out: list[str] = []
    pending = ""
    for piece in "\n".join(lines).split(";"):
        pending += piece + ";"
        if sqlite3.complete_statement(pending):
            if pending.strip(" \n;"):
                out.append(pending.strip())
            pending = ""
    if pending.strip(" \n;"):
        out.append(pending.strip().rstrip(";"))
    return out


def _article_fields(a: Article) -> tuple[object, ...]:
    """An article's row of ``articles`` without its document and first_seen (the
    columns after those two in add_document's INSERT)."""
    return (
        a.index,
        a.kind,
        a.headline,
        a.kicker,
        a.subtitle,
        a.body,
        a.newspaper,
        a.date.isoformat() if a.date else None,
        a.event_date.isoformat() if a.event_date else None,
        a.page,
        a.section,
        a.byline,
        a.dateline,
        a.continued,
        json.dumps(list(a.captions), ensure_ascii=False) if a.captions else "[]",
        len(a.body),  # a.chars
        a.source,
    )


def _stored(r: Any) -> StoredArticle:
    return StoredArticle(
        article=_row_article(r),
        doc_sha256=r["doc_sha256"],
        file=r["file"],
        first_seen=dt.datetime.fromisoformat(r["first_seen"]),
    )


def _row_article(r: Any) -> Article:
    return Article(
        index=r["idx"],
        headline=r["headline"],
        body=r["body"],
        kicker=r["kicker"],
        subtitle=r["subtitle"],
        newspaper=r["newspaper"],
        date=dt.date.fromisoformat(r["date"]) if r["date"] else None,
        event_date=dt.date.fromisoformat(r["event_date"]) if r["event_date"] else None,
        page=r["page"],
        section=r["section"],
        byline=r["byline"],
        dateline=r["dateline"],
        continued=r["continued"],
        captions=tuple(json.loads(r["captions"])),
        kind=r["kind"],
        source=r["source"],
    )


# json.dumps(..., ensure_ascii=False) makes a new encoder each call; one kept encodes
# alike (the same defaults otherwise), in a third of the time per match row.
_ENCODE_TEXT = json.JSONEncoder(ensure_ascii=False).encode


def _match_row(doc: str, idx: int, m: Match, now: dt.datetime | str) -> tuple[object, ...]:
    """The row of one match (``now``: a time, or one already written as text)."""
    return (doc, idx, *_match_fields(m), now if isinstance(now, str) else _iso(now))


def _match_fields(m: Match) -> tuple[object, ...]:
    """A match's row without its article and matched_at (_match_row's middle)."""
    return (
        m.topic_id,
        m.topic_version,
        m.score,
        _ENCODE_TEXT([list(t) for t in m.terms]),
        _ENCODE_TEXT([[h.term, h.field, h.start, h.end] for h in m.hits]),
        m.clause,
        m.snippet,
        json.dumps([list(x) for x in m.marks]),
    )


@dataclass(frozen=True)
class DocumentRows:
    """A document's articles and matches as rows, made where they were read (a scan
    worker: :func:`document_rows`), so that the writer only inserts them — plain tuples
    travel between processes at a fraction of the cost of the dataclasses (issue 14)."""

    articles: tuple[tuple[object, ...], ...]  # _article_fields of each
    matches: tuple[tuple[object, ...], ...]  # (article index, *_match_fields) of each
    matched: int  # articles with at least one match
    missed: tuple[tuple[object, ...], ...] = ()  # (index, topic, version, score) of each


def document_rows(
    articles: Sequence[Article],
    matches: Sequence[Sequence[Match]],
    missed: Sequence[Sequence[NearMiss]] = (),
) -> DocumentRows:
    """The rows :meth:`Store.add_document` writes for ``articles``, their matches and
    near misses."""
    return DocumentRows(
        articles=tuple(_article_fields(a) for a in articles),
        matches=tuple(
            (a.index, *_match_fields(m))
            for a, found in zip(articles, matches, strict=False)
            for m in found
        ),
        matched=sum(1 for found in matches if found),
        missed=tuple(
            (a.index, n.topic_id, n.topic_version, n.score)
            for a, near in zip(articles, missed, strict=False)
            for n in near
        ),
    )


def _row_match(r: Any) -> Match:
    return Match(
        topic_id=r["topic_id"],
        topic_version=r["topic_version"],
        score=r["score"],
        terms=tuple((t, int(n)) for t, n in json.loads(r["terms"])),
        hits=tuple(TermHit(t, f, int(s), int(e)) for t, f, s, e in json.loads(r["hits"])),
        clause=r["clause"],
        snippet=r["snippet"],
        marks=tuple((int(s), int(e)) for s, e in json.loads(r["marks"])),
    )


# --- PostgreSQL -------------------------------------------------------------------


def _for_postgres(statement: str) -> str:
    """A migration statement in SQLite's dialect as PostgreSQL's: 64-bit integers (an
    mtime in nanoseconds does not fit 32 bits), double reals, an identity for an
    INTEGER PRIMARY KEY, and text that sorts by byte as SQLite's does."""
    out = re.sub(
        r"\bINTEGER PRIMARY KEY\b", "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY", statement
    )
    out = re.sub(r"\bINTEGER\b", "BIGINT", out)
    out = re.sub(r"\bREAL\b", "DOUBLE PRECISION", out)
    return re.sub(r"\bTEXT\b", 'TEXT COLLATE "C"', out)


@functools.lru_cache(maxsize=512)
def _pg_sql(sql: str) -> str:
    """A query in SQLite's dialect as psycopg's: ``?`` → ``%s``, and the two functions
    and operators that differ (``instr`` → ``strpos``, ``IS ?`` → ``IS NOT DISTINCT
    FROM``). The queries hold no string literal with ``?`` or ``%``."""
    out = sql.replace("%", "%%").replace(" IS ?", " IS NOT DISTINCT FROM ?")
    return out.replace("instr(", "strpos(").replace("?", "%s")


class _Row:
    """A result row read by position or by column name, like sqlite3.Row."""

    __slots__ = ("_names", "_values")

    def __init__(self, names: dict[str, int], values: Sequence[Any]) -> None:
        self._names = names
        self._values = values

    def __getitem__(self, key: int | str) -> Any:
        return self._values[key if isinstance(key, int) else self._names[key]]

    def __iter__(self) -> Iterator[Any]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def keys(self) -> list[str]:
        return list(self._names)


def _row_factory(cursor: Any) -> Callable[[Sequence[Any]], _Row]:
    names: dict[str, int] = {}
    for i, column in enumerate(cursor.description or ()):
        names.setdefault(column.name, i)  # the first of two same names, as sqlite3.Row
    return functools.partial(_Row, names)


class _Postgres:
    """A psycopg connection in autocommit mode, answering the store's SQLite-dialect
    queries (see :func:`_pg_sql`); transactions are the store's own BEGIN/COMMIT."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn

    @property
    def in_transaction(self) -> bool:
        import psycopg

        return self.conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE

    def execute(self, sql: str, parameters: Any = (), /) -> Any:
        return self.conn.execute(_pg_sql(sql), parameters or None)

    def executemany(self, sql: str, parameters: Any, /) -> None:
        rows = list(parameters)
        if rows:
            with self.conn.cursor() as cur:
                cur.executemany(_pg_sql(sql), rows)

    def close(self) -> None:
        self.conn.close()


def _connect_postgres(url: str) -> _Postgres:
    """Connect to a PostgreSQL state, the password from WATCHER_PG_PASSWORD or else
    libpq's own PGPASSWORD or ~/.pgpass; every failure a StateError saying what to fix."""
    shown = redact(url)
    try:
        import psycopg
    except ImportError:
        raise StateError(
            f"the state {shown} is a PostgreSQL database, which needs the optional package "
            "psycopg: pip install 'watcher[postgres]'"
        ) from None
    extra: dict[str, Any] = {}
    password = os.environ.get(PASSWORD_ENV)
    if password:
        extra["password"] = password
    try:
        conn = psycopg.connect(
            url,
            autocommit=True,
            row_factory=_row_factory,
            application_name="watcher",
            connect_timeout=10,
            **extra,
        )
    except psycopg.Error as exc:
        raise StateError(_connect_problem(shown, str(exc))) from None
    problem = _version_problem(shown, conn.info.server_version)
    if problem:
        conn.close()
        raise StateError(problem)
    return _Postgres(conn)


# The oldest server the schema runs on: schema 12's search column is a generated
# column, which PostgreSQL has had since 12.
PG_MIN_VERSION = 120000


def _version_problem(shown: str, server_version: int) -> str | None:
    """Why a server of this version (libpq's number: 150004 is 15.4, 90624 is 9.6.24)
    cannot hold the state, or None."""
    if server_version >= PG_MIN_VERSION:
        return None
    major = server_version // 10000
    # Before 10 the major version had two parts.
    major_text = f"{major}.{server_version // 100 % 100}" if major < 10 else str(major)
    return (
        f"the state database {shown} is on PostgreSQL {major_text}, older than watcher "
        f"needs ({PG_MIN_VERSION // 10000} or later, for generated columns); upgrade the "
        "server or use a SQLite state file"
    )


def _connect_problem(shown: str, text: str) -> str:
    """What a failed connection means and what to change, from libpq's message."""
    detail = " ".join(text.split())
    if "password authentication failed" in text or "no password supplied" in text:
        hint = (
            f"the password was refused or missing; set {PASSWORD_ENV} (or PGPASSWORD, or "
            "a ~/.pgpass line) in watcher's environment"
        )
    elif "does not exist" in text and "database" in text:
        hint = "the database does not exist; create it (createdb) or fix the name in 'state'"
    elif "role" in text and "does not exist" in text:
        hint = "the user does not exist on that server; fix the user in 'state'"
    elif "Connection refused" in text or "timeout expired" in text:
        hint = "no server answers there; start PostgreSQL or fix the host and port in 'state'"
    elif "could not translate host name" in text or "Name or service not known" in text:
        hint = "the host name is unknown; fix the host in 'state'"
    else:
        hint = "check the URL in 'state' and the server"
    return f"cannot connect to the state database {shown}: {hint} ({detail})"

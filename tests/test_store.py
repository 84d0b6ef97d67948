"""The SQLite state store: schema, migrations, one transaction per document."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import pytest

from watcher.errors import StateError
from watcher.models import Article
from watcher.store import SCHEMA_VERSION, Store

NOW = dt.datetime(2026, 11, 21, 8, 0, tzinfo=dt.UTC)


def _article(i: int, headline: str = "标题") -> Article:
    return Article(
        index=i,
        headline=f"{headline}{i}",
        body="正文。",
        newspaper="株洲日报",
        date=dt.date(2021, 6, 4),
        captions=("图片说明 摄",),
    )


def test_new_store_is_wal_and_current_schema(tmp_path: Path) -> None:
    with Store(tmp_path / "s" / "w.db") as store:
        assert store.schema_version() == SCHEMA_VERSION
        assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_document_and_articles_round_trip(tmp_path: Path) -> None:
    with Store(tmp_path / "w.db") as store:
        store.add_document(
            sha256="a" * 64,
            path="/in/x.txt",
            size=10,
            mtime_ns=1,
            encoding="gb18030",
            articles=[_article(0), _article(1)],
            now=NOW,
        )
    with Store(tmp_path / "w.db") as store:
        rows = list(store.articles())
        assert [r.article.headline for r in rows] == ["标题0", "标题1"]
        assert rows[0].article == _article(0)
        assert rows[0].file == "/in/x.txt"
        assert rows[0].first_seen == NOW
        assert store.counts() == {"documents": 1, "failed": 0, "articles": 2, "files": 1}
        assert [r.article.index for r in store.articles(date=dt.date(2021, 6, 4))] == [0, 1]
        assert list(store.articles(date=dt.date(2021, 6, 5))) == []


def test_re_adding_a_document_keeps_its_first_seen_time(tmp_path: Path) -> None:
    later = NOW + dt.timedelta(days=1)
    with Store(tmp_path / "w.db") as store:
        for when in (NOW, later):
            store.add_document(
                sha256="b" * 64,
                path="/in/y.txt",
                size=1,
                mtime_ns=1,
                encoding="utf-8",
                articles=[_article(0)],
                now=when,
            )
        (row,) = store.articles()
        assert row.first_seen == NOW


def test_failure_is_recorded_then_cleared_by_success(tmp_path: Path) -> None:
    with Store(tmp_path / "w.db") as store:
        store.add_failure(sha256="c" * 64, path="/in/z.txt", size=3, mtime_ns=1,
                          reason="empty file", now=NOW)  # fmt: skip
        assert store.failures() == [("/in/z.txt", "empty file")]
        assert store.document_status("c" * 64) == "failed"
        store.add_document(sha256="c" * 64, path="/in/z.txt", size=3, mtime_ns=2,
                           encoding="utf-8", articles=[], now=NOW)  # fmt: skip
        assert store.failures() == []
        assert store.document_status("c" * 64) == "ok"


def test_a_failed_transaction_leaves_nothing_behind(tmp_path: Path) -> None:
    bad = [_article(0), _article(0)]  # duplicate (doc, idx): the insert fails
    with Store(tmp_path / "w.db") as store:
        with pytest.raises(sqlite3.IntegrityError):
            store.add_document(sha256="d" * 64, path="/in/d.txt", size=1, mtime_ns=1,
                               encoding="utf-8", articles=bad, now=NOW)  # fmt: skip
        assert store.counts() == {"documents": 0, "failed": 0, "articles": 0, "files": 0}


def test_a_database_from_a_newer_watcher_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "w.db"
    with Store(path):
        pass
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(StateError) as info:
        Store(path)
    assert str(info.value) == (
        f"the state database {path} has schema version {SCHEMA_VERSION + 1}, newer than "
        f"this watcher understands ({SCHEMA_VERSION}); upgrade watcher."
    )


def test_a_file_that_is_not_a_database_is_refused_with_advice(tmp_path: Path) -> None:
    path = tmp_path / "w.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StateError) as info:
        Store(path)
    assert str(info.value) == (
        f"cannot open the state database {path}: file is not a database. If the file is not "
        "a watcher database, point 'state' in the config at another file."
    )


def test_a_document_that_failed_before_is_first_seen_when_it_is_read(tmp_path: Path) -> None:
    later = NOW + dt.timedelta(days=4)
    with Store(tmp_path / "w.db") as store:
        store.add_failure(sha256="e" * 64, path="/in/e.txt", size=1, mtime_ns=1,
                          reason="internal error: boom", now=NOW)  # fmt: skip
        store.add_document(sha256="e" * 64, path="/in/e.txt", size=1, mtime_ns=2,
                           encoding="utf-8", articles=[_article(0)], now=later)  # fmt: skip
        (row,) = store.articles()
        assert row.first_seen == later  # so the next digest still has it


def test_times_keep_microseconds_so_windows_are_exact(tmp_path: Path) -> None:
    cut = NOW + dt.timedelta(microseconds=200_000)
    with Store(tmp_path / "w.db") as store:
        store.add_document(sha256="f" * 64, path="/in/f.txt", size=1, mtime_ns=1,
                           encoding="utf-8", articles=[_article(0)],
                           now=NOW + dt.timedelta(microseconds=600_000))  # fmt: skip
        assert list(store.articles_seen(None, cut)) == []
        assert len(list(store.articles_seen(cut, cut + dt.timedelta(seconds=1)))) == 1


def test_only_one_process_claims_a_delivery(tmp_path: Path) -> None:
    import json as _json

    day = dt.date(2026, 11, 21)
    with Store(tmp_path / "w.db") as store:
        store.add_digest(day, NOW, None, {}, _json.dumps({}), [("email:a@x", "k1", "pending")])
        alive = {"host:1": True, "host:2": False}
        assert store.claim_delivery(day, "email:a@x", NOW, "host:1", alive.__getitem__)
        # Another live process must not send it too …
        assert not store.claim_delivery(day, "email:a@x", NOW, "host:3", alive.__getitem__)
        # … unless the claim is stale.
        later = NOW + dt.timedelta(hours=1)
        assert store.claim_delivery(day, "email:a@x", later, "host:2", alive.__getitem__)
        # A claim by a process that died (killed mid-send) is taken over at once.
        assert store.claim_delivery(day, "email:a@x", later, "host:3", alive.__getitem__)
        store.delivery_sent(day, "email:a@x", later)
        assert not store.claim_delivery(day, "email:a@x", later, "host:3", alive.__getitem__)


def test_two_processes_opening_a_new_state_at_once_migrate_it_once(tmp_path: Path) -> None:
    import subprocess
    import sys
    import time

    state = tmp_path / "state" / "watcher.db"
    start = time.time() + 1.5  # every process opens the new state at the same instant
    code = (
        "import time, pathlib; from watcher.store import Store; "
        f"time.sleep(max(0, {start} - time.time())); "
        f"Store(pathlib.Path({str(state)!r})).close()"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE) for _ in range(8)
    ]
    errors = [p.communicate(timeout=60)[1].decode() for p in procs]
    assert [p.returncode for p in procs] == [0] * 8, errors
    with Store(state) as store:
        assert store.schema_version() == SCHEMA_VERSION

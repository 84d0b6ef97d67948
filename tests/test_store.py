"""The state store on both back ends (SQLite, and PostgreSQL on a real server the
fixture starts): schema, migrations, one transaction per document (or batches of
savepoints), claims."""

from __future__ import annotations

import datetime as dt
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import PG_PASSWORD
from watcher.errors import StateError
from watcher.models import Article
from watcher.store import SCHEMA_VERSION, Store

NOW = dt.datetime(2026, 11, 21, 8, 0, tzinfo=dt.UTC)


def _integrity_errors() -> tuple[type[Exception], ...]:
    try:
        import psycopg
    except ImportError:
        return (sqlite3.IntegrityError,)
    return (sqlite3.IntegrityError, psycopg.IntegrityError)


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


def test_a_new_state_has_16_kib_pages_and_an_old_one_keeps_its_own(tmp_path: Path) -> None:
    with Store(tmp_path / "new.db") as store:
        assert store.db.execute("PRAGMA page_size").fetchone()[0] == 16384
    old = tmp_path / "old.db"  # made with SQLite's default, as states were before
    db = sqlite3.connect(old)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("CREATE TABLE before (x)")
    db.close()
    with Store(old) as store:
        assert store.db.execute("PRAGMA page_size").fetchone()[0] == 4096
        assert store.schema_version() == SCHEMA_VERSION
        store.add_document(sha256="a" * 64, path="/inbox/a.txt", size=1, mtime_ns=1,
                           encoding="utf-8", articles=[_article(0)], now=NOW)  # fmt: skip
        assert store.counts()["articles"] == 1


def test_document_and_articles_round_trip(state: Path | str) -> None:
    with Store(state) as store:
        store.add_document(
            sha256="a" * 64,
            path="/in/x.txt",
            size=10,
            mtime_ns=1,
            encoding="gb18030",
            articles=[_article(0), _article(1)],
            now=NOW,
        )
    with Store(state) as store:
        rows = list(store.articles())
        assert [r.article.headline for r in rows] == ["标题0", "标题1"]
        assert rows[0].article == _article(0)
        assert rows[0].file == "/in/x.txt"
        assert rows[0].first_seen == NOW
        assert store.counts() == {"documents": 1, "failed": 0, "articles": 2, "files": 1}
        assert [r.article.index for r in store.articles(date=dt.date(2021, 6, 4))] == [0, 1]
        assert list(store.articles(date=dt.date(2021, 6, 5))) == []


def test_re_adding_a_document_keeps_its_first_seen_time(state: Path | str) -> None:
    later = NOW + dt.timedelta(days=1)
    with Store(state) as store:
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


def test_failure_is_recorded_then_cleared_by_success(state: Path | str) -> None:
    with Store(state) as store:
        store.add_failure(sha256="c" * 64, path="/in/z.txt", size=3, mtime_ns=1,
                          reason="empty file", now=NOW)  # fmt: skip
        assert store.failures() == [("/in/z.txt", "empty file")]
        assert store.document_status("c" * 64) == "failed"
        store.add_document(sha256="c" * 64, path="/in/z.txt", size=3, mtime_ns=2,
                           encoding="utf-8", articles=[], now=NOW)  # fmt: skip
        assert store.failures() == []
        assert store.document_status("c" * 64) == "ok"


def test_a_failed_transaction_leaves_nothing_behind(state: Path | str) -> None:
    bad = [_article(0), _article(0)]  # duplicate (doc, idx): the insert fails
    with Store(state) as store:
        with pytest.raises(_integrity_errors()):
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


def test_a_document_that_failed_before_is_first_seen_when_it_is_read(state: Path | str) -> None:
    later = NOW + dt.timedelta(days=4)
    with Store(state) as store:
        store.add_failure(sha256="e" * 64, path="/in/e.txt", size=1, mtime_ns=1,
                          reason="internal error: boom", now=NOW)  # fmt: skip
        store.add_document(sha256="e" * 64, path="/in/e.txt", size=1, mtime_ns=2,
                           encoding="utf-8", articles=[_article(0)], now=later)  # fmt: skip
        (row,) = store.articles()
        assert row.first_seen == later  # so the next digest still has it


def test_times_keep_microseconds_so_windows_are_exact(state: Path | str) -> None:
    cut = NOW + dt.timedelta(microseconds=200_000)
    with Store(state) as store:
        store.add_document(sha256="f" * 64, path="/in/f.txt", size=1, mtime_ns=1,
                           encoding="utf-8", articles=[_article(0)],
                           now=NOW + dt.timedelta(microseconds=600_000))  # fmt: skip
        assert list(store.articles_seen(None, cut)) == []
        assert len(list(store.articles_seen(cut, cut + dt.timedelta(seconds=1)))) == 1


def test_only_one_process_claims_a_delivery(state: Path | str) -> None:
    import json as _json

    day = dt.date(2026, 11, 21)
    with Store(state) as store:
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


def test_a_postgresql_state_from_a_newer_watcher_is_refused(pg_url: str) -> None:
    import psycopg

    with Store(pg_url):
        pass
    with psycopg.connect(pg_url, password=PG_PASSWORD, autocommit=True) as con:
        con.execute("UPDATE watcher_schema SET version = version + 1")
    with pytest.raises(StateError) as info:
        Store(pg_url)
    assert str(info.value) == (
        f"the state database {pg_url} has schema version {SCHEMA_VERSION + 1}, newer than "
        f"this watcher understands ({SCHEMA_VERSION}); upgrade watcher."
    )


def test_two_processes_opening_a_new_postgresql_state_at_once_migrate_it_once(
    pg_url: str,
) -> None:
    import subprocess
    import sys
    import time

    start = time.time() + 1.5
    code = (
        "import time; from watcher.store import Store; "
        f"time.sleep(max(0, {start} - time.time())); Store({pg_url!r}).close()"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE) for _ in range(8)
    ]
    errors = [p.communicate(timeout=60)[1].decode() for p in procs]
    assert [p.returncode for p in procs] == [0] * 8, errors
    with Store(pg_url) as store:
        assert store.schema_version() == SCHEMA_VERSION


def test_the_postgresql_schema_keeps_64_bit_times_doubles_and_byte_order(pg_url: str) -> None:
    from watcher.models import Match

    with Store(pg_url) as store:
        # mtime_ns beyond 32 bits, a score with more digits than a float4, paths whose
        # order differs between byte order and a language's collation.
        for name in ("B.txt", "a.txt", "_c.txt"):
            store.add_document(sha256=name[0] * 64, path=name, size=1,
                               mtime_ns=1_700_000_000_123_456_789, encoding="utf-8",
                               articles=[_article(0)], now=NOW,
                               matches=[[Match("t", "v", 12.345678901, (("标题", 1),), (), "标题", "标题0", ())]])  # fmt: skip
        assert [r.file for r in store.articles()] == ["B.txt", "_c.txt", "a.txt"]
        assert store.file_states()["a.txt"].mtime_ns == 1_700_000_000_123_456_789
        assert store.matches()[0][2].score == 12.345678901


def test_a_wrong_password_unknown_database_and_a_stopped_server_say_what_to_fix(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.conftest import _free_port

    base, _, _db = pg_url.rpartition("/")
    with pytest.raises(StateError) as info:
        Store(base + "/no_such_db")
    assert "the database does not exist; create it (createdb)" in str(info.value)
    monkeypatch.setenv("WATCHER_PG_PASSWORD", "wrong")
    with pytest.raises(StateError) as info:
        Store(pg_url)
    assert str(info.value).startswith(
        f"cannot connect to the state database {pg_url}: the password was refused or missing; "
        "set WATCHER_PG_PASSWORD (or PGPASSWORD, or a ~/.pgpass line)"
    )
    down = f"postgresql://watcher@127.0.0.1:{_free_port()}/x"
    with pytest.raises(StateError) as info:
        Store(down)
    assert "no server answers there; start PostgreSQL or fix the host and port" in str(info.value)


def test_a_password_in_the_url_is_never_shown() -> None:
    from watcher.store import redact

    assert redact("postgresql://u:secret@h:5/db") == "postgresql://u:***@h:5/db"
    assert redact("postgresql://u@h/db") == "postgresql://u@h/db"


def test_the_state_option_read_as_a_path_still_names_the_postgresql_url() -> None:
    from watcher.store import state_url

    assert state_url(Path("/etc/watcher/postgresql:/u@h:5432/db")) == "postgresql://u@h:5432/db"
    assert state_url("postgres://u@h/db?sslmode=require") == "postgres://u@h/db?sslmode=require"
    assert state_url(Path("postgresql:/u@h/db")) == "postgresql://u@h/db"
    assert state_url(Path("/var/lib/watcher/watcher.db")) is None


def test_the_search_index_answers_an_expression_on_both_back_ends(state: Path | str) -> None:
    from watcher import search

    with Store(state) as store:
        with store.transaction():
            store.add_document(
                sha256="a" * 64, path="a.txt", size=1, mtime_ns=1, encoding="utf-8", now=NOW,
                articles=[Article(0, "城市更新", "长沙，推进。"), Article(1, "其他", "株洲城市更新。")],
            )  # fmt: skip
        assert store.search_backlog() == 2
        assert search.catch_up(store) == 2 and store.search_backlog() == 0
        found = lambda e: sorted(c.stored.id for c in store.search_candidates(e))  # noqa: E731
        assert found('"城市 市更 更新"') == ["aaaaaaaaaaaaaaaa-0", "aaaaaaaaaaaaaaaa-1"]
        assert found('title : "城市 市更 更新"') == ["aaaaaaaaaaaaaaaa-0"]
        assert found('("长沙" OR "株洲")') == ["aaaaaaaaaaaaaaaa-0", "aaaaaaaaaaaaaaaa-1"]
        assert found('("城市 市更 更新" AND "株洲")') == ["aaaaaaaaaaaaaaaa-1"]
        assert found('"沙推"') == []  # across two runs: no bigram
        assert store.count_candidates('"长沙"') == 1
        assert store.search_index_stats().indexed == 2


def test_a_lease_is_held_once_until_it_expires_or_its_holder_dies(state: Path | str) -> None:
    alive = {"a:1": True, "b:2": True, "dead:3": False}
    with Store(state) as store:
        assert store.take_lease("digest", "a:1", NOW, 60, alive.__getitem__)
        assert not store.take_lease("digest", "b:2", NOW, 60, alive.__getitem__)
        assert store.take_lease("digest", "a:1", NOW, 60, alive.__getitem__)  # renewed
        assert store.lease_holder("digest", NOW) == "a:1"
        later = NOW + dt.timedelta(seconds=61)
        assert store.take_lease("digest", "b:2", later, 60, alive.__getitem__)  # expired
        store.release_lease("digest", "a:1")  # no longer a:1's: nothing happens
        assert store.lease_holder("digest", later) == "b:2"
        store.release_lease("digest", "b:2")
        assert store.lease_holder("digest", later) is None
        assert store.take_lease("file:x", "dead:3", NOW, 600, alive.__getitem__)
        assert store.take_lease("file:x", "b:2", NOW, 600, alive.__getitem__)  # holder gone


def test_re_matching_a_topic_keeps_matches_another_worker_stored_meanwhile(
    state: Path | str,
) -> None:
    from watcher.models import Match

    def match(version: str) -> Match:
        return Match("t", version, 1.0, (("标题", 1),), (), "标题", "标题0", ())

    with Store(state) as store:
        for sha in ("a", "b", "c"):
            store.add_document(sha256=sha * 64, path=f"{sha}.txt", size=1, mtime_ns=1,
                               encoding="utf-8", articles=[_article(0)], now=NOW,
                               matches=[[match("v1")]])  # fmt: skip
        # A worker on the edited watchlist (v2) stored c while another re-matched a, b.
        store.put_matches("c" * 64, 0, [match("v2")], NOW)
        n = store.replace_topic_matches(
            "t", "v2", "T", [("a" * 64, 0, match("v2")), ("b" * 64, 0, match("v2"))], NOW
        )
        assert n == 2
        assert [(d[0], m.topic_version) for d, _, m in store.matches()] == [
            ("a", "v2"), ("b", "v2"), ("c", "v2"),
        ]  # fmt: skip


def test_an_articles_source_is_stored(state: Path | str) -> None:
    from watcher.models import Article

    art = Article(
        index=0, headline="株洲加快建设", body="正文", newspaper="湖南日报", source="株洲日报"
    )
    with Store(state) as store:
        store.add_document(
            sha256="ab" * 32, path="p.txt", size=1, mtime_ns=1, encoding="utf-8",
            articles=[art], now=dt.datetime(2026, 6, 17, tzinfo=dt.UTC),
        )  # fmt: skip
        [row] = store.articles()
    assert row.article == art


def _add(store: Store, sha: str, articles: list[Article]) -> None:
    store.add_document(sha256=sha * 64, path=f"/in/{sha}.txt", size=1, mtime_ns=1,
                       encoding="utf-8", articles=articles, now=NOW)  # fmt: skip


def test_in_a_batch_a_failing_document_leaves_nothing_and_the_others_stand(
    state: Path | str,
) -> None:
    with Store(state) as store:
        with store.batch(units=100, seconds=3600):
            _add(store, "a", [_article(0), _article(1)])
            with pytest.raises(_integrity_errors()):
                _add(store, "b", [_article(0), _article(0)])  # duplicate (doc, idx)
            store.add_failure(sha256=None, path="/in/c.txt", size=1, mtime_ns=1,
                              reason="empty file", now=NOW)  # fmt: skip
            _add(store, "d", [_article(0)])
        assert store.counts() == {"documents": 2, "failed": 1, "articles": 3, "files": 3}
    with Store(state) as store:  # committed at the end of the batch
        assert store.counts() == {"documents": 2, "failed": 1, "articles": 3, "files": 3}
        assert store.file_state("/in/b.txt") is None


def test_a_batch_commits_every_so_many_documents_and_a_crash_loses_only_the_rest(
    tmp_path: Path,
) -> None:
    state = tmp_path / "w.db"
    code = (
        "import os, sys, datetime as dt\n"
        "from watcher.models import Article\n"
        "from watcher.store import Store\n"
        "now = dt.datetime(2026, 11, 21, tzinfo=dt.UTC)\n"
        "store = Store(sys.argv[1])\n"
        "with store.batch(units=2, seconds=3600):\n"
        "    for sha in 'abc':\n"
        "        arts = [Article(index=i, headline='标题', body='正文。') for i in range(3)]\n"
        "        store.add_document(sha256=sha * 64, path=f'/in/{sha}.txt', size=1,\n"
        "                           mtime_ns=1, encoding='utf-8', articles=arts, now=now)\n"
        "    os._exit(0)  # killed with the third document written, not committed\n"
    )
    subprocess.run([sys.executable, "-c", code, str(state)], check=True, timeout=60)
    with Store(state) as store:
        # The first two whole, the third not at all: no file without its articles.
        assert store.counts() == {"documents": 2, "failed": 0, "articles": 6, "files": 2}
        assert store.file_state("/in/c.txt") is None
        assert store.document_status("c" * 64) is None


def test_commit_batch_commits_what_the_batch_holds(tmp_path: Path) -> None:
    state = tmp_path / "w.db"
    with Store(state) as store, store.batch(units=100, seconds=3600):
        _add(store, "a", [_article(0)])
        with Store(state) as other:
            assert other.counts()["documents"] == 0  # not yet committed
        store.commit_batch()
        with Store(state) as other:
            assert other.counts()["documents"] == 1
        _add(store, "b", [_article(0)])
    with Store(state) as store:
        assert store.counts()["documents"] == 2

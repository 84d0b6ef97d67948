"""PostgreSQL as the state: the same answers as SQLite, and several workers at once.

Every test runs against a real server that the ``pg_server`` fixture starts itself
(initdb + pg_ctl in a temporary folder, loopback only); without the server programs
or psycopg they skip, saying what to install.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from watcher.config import Config

ROOT = Path(__file__).resolve().parent.parent


def watcher(config: Path, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    """``watcher --config CONFIG ARGS`` in a process of its own."""
    return subprocess.run(
        [sys.executable, "-m", "watcher", f"--config={config}", "--log-level=WARNING", *args],
        capture_output=True, text=True, timeout=timeout, env=_env(),
    )  # fmt: skip


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    return env


def _articles(config: Path) -> list[dict[str, object]]:
    out = watcher(config, "articles", "--format", "jsonl")
    assert out.returncode == 0, out.stderr
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    for row in rows:
        row.pop("first_seen")
    return rows


def test_the_seeds_on_postgresql_give_the_articles_sqlite_gives(
    make_config: Callable[..., Config], seeded_inbox: Path, pg_url: str
) -> None:
    lite = make_config()
    pg = make_config(name="pg.yaml", state=pg_url)
    for cfg in (lite, pg):
        out = watcher(cfg.path, "scan", "--no-progress")
        assert out.returncode == 0, out.stderr
        assert out.stdout.startswith("scan: 5 new, 0 unchanged, 0 failed"), out.stdout
    assert _articles(pg.path) == _articles(lite.path)
    again = watcher(pg.path, "scan", "--no-progress")
    assert again.stdout.startswith("scan: 0 new, 5 unchanged, 0 failed"), again.stdout


def test_search_on_postgresql_finds_what_sqlite_finds(
    make_config: Callable[..., Config], seeded_inbox: Path, pg_url: str
) -> None:
    from tests.test_search import QUERIES

    lite = make_config()
    pg = make_config(name="pg.yaml", state=pg_url)
    for cfg in (lite, pg):  # the scan indexes its articles (search.catch_up) on both
        assert watcher(cfg.path, "scan", "--no-progress").returncode == 0
    from watcher import pipeline, search
    from watcher.store import Store

    segmenter = pipeline.segmenter_for(lite)
    with Store(lite.state) as a, Store(pg.state) as b:
        assert b.search_backlog() == 0 and b.search_index_stats().indexed == a.counts()["articles"]
        total = 0
        for query in QUERIES:
            ids = [sorted(h.article.id for h in search.search(s, segmenter, query, limit=500).hits)
                   for s in (a, b)]  # fmt: skip
            assert ids[1] == ids[0], query
            total += len(ids[0])
        assert total > len(QUERIES)
    out = watcher(pg.path, "search", "城市更新 AND 长沙")
    assert out.returncode == 0 and " found " in out.stdout, out.stderr
    digest = watcher(pg.path, "digest")
    assert digest.returncode == 0, digest.stderr
    assert watcher(pg.path, "status").returncode in (3, 1)  # no daemon; an alarm at most


# --- search on PostgreSQL: the GIN index gives the candidates FTS5 gives -----------------

# Beside tests.test_search.QUERIES: articles whose tokens are all there but not in a row
# (the recheck must drop them), a phrase across a headline and its body (FTS5 takes no
# phrase across columns), runs meeting across punctuation, latin and letters that
# PostgreSQL's parser would lower-case or split under a UTF-8 locale.
TRAPS = [
    ("城市规划", "城市更替，更新换代。"),  # 城市 市更 更新 there, 城市更新 not
    ("城中村", "改造"),  # "城中村 改造" across the columns: no phrase
    ("工程简报", "城中村，改造工程启动。"),  # "城中村 改造" across a comma: a phrase
    ("疫苗接种", "今日无关内容。"),
    ("无关标题", "疫苗接种工作。"),
    ("COVID-19 疫情", "COVID-19 vaccine 接种 19。"),
    ("ÄΣb 城市", "x² 指标；株洲新闻。"),
    ("株洲更新", "城市 市更 一事。"),
]
TRAP_QUERIES = [
    "城市更新",
    "株洲 OR 城市更新",
    "城市更新 OR 长沙",
    "(株洲 AND 城市更新) OR 疫苗接种",
    '"城中村 改造"',
    "title:疫苗接种",
    "title:疫苗接种 OR 株洲",
    "疫苗接种 AND 工作",
    "COVID-19",
    "title:covid",
    "ÄΣb",
    "x²",
    "城市 AND 更新 AND 株洲",
]


def _trap_articles(store: object) -> None:
    from tests.test_search import _add
    from watcher.models import Article

    articles = [Article(n, title, body) for n, (title, body) in enumerate(TRAPS)]
    _add(store, "e", *articles)  # type: ignore[arg-type]


def _candidate_ids(store: object, expression: str, **kw: object) -> list[str]:
    return [c.stored.id for c in store.search_candidates(expression, **kw)]  # type: ignore[attr-defined]


def _substring_ids(store: object, expression: str) -> set[str]:
    """What the PostgreSQL search gave before its GIN index: the substring conditions
    alone, a sequential read of search_rows (the oracle for the rows it must give)."""
    from watcher.store import _fts_tree, _pg_substring

    args: list[object] = []
    cond = _pg_substring(_fts_tree(expression), args)
    rows = store.db.execute(  # type: ignore[attr-defined]
        f"SELECT r.doc_sha256, r.idx FROM search_rows r WHERE {cond}", args
    )
    return {f"{r['doc_sha256'][:16]}-{r['idx']}" for r in rows}


def _locale_database(pg_server: Any, locale: str) -> str | None:
    """A new database of the test server with its own locale, or None (not installed)."""
    import psycopg

    from tests.conftest import PG_PASSWORD

    name = f"t{os.getpid()}_{locale.replace('.', '_').lower()}"
    try:
        with psycopg.connect(pg_server.url("postgres"), password=PG_PASSWORD, autocommit=True) as c:
            c.execute(f"CREATE DATABASE {name} LOCALE '{locale}' TEMPLATE template0")
    except psycopg.Error:
        return None
    return str(pg_server.url(name))


def test_the_gin_index_gives_exactly_the_candidates_fts5_gives(
    make_config: Callable[..., Config], seeded_inbox: Path, pg_server: Any
) -> None:
    from tests.test_search import QUERIES
    from watcher import pipeline, search
    from watcher.store import ArticleFilter, Store

    states = {"C": pg_server.database()}
    utf8 = _locale_database(pg_server, "C.UTF-8")
    if utf8 is not None:  # production clusters are often of a UTF-8 locale
        states["C.UTF-8"] = utf8
    lite = make_config()
    configs = [lite] + [
        make_config(name=f"pg{n}.yaml", state=s) for n, s in enumerate(states.values())
    ]
    for cfg in configs:
        with Store(cfg.state) as store:
            pipeline.scan(cfg, store, topics=pipeline.load_topics(cfg))
            _trap_articles(store)
            search.catch_up(store)
    expressions = [search.parse_query(q).expression for q in QUERIES + TRAP_QUERIES]
    assert sum(e is None for e in expressions) == 2  # 水, 湘江 OR 水: no index, no question
    paper = "株洲日报"
    with Store(lite.state) as a:
        assert any(a.search_candidates(e, ArticleFilter(paper=paper)) for e in expressions if e)
        for cfg, locale in zip(configs[1:], states, strict=True):
            with Store(cfg.state) as b:
                checked = dropped = 0
                for e in filter(None, expressions):
                    want = sorted(_candidate_ids(a, e))
                    got = _candidate_ids(b, e)
                    assert sorted(got) == want == sorted(_substring_ids(b, e)), (locale, e)
                    assert b.count_candidates(e) >= len(got)  # the index's own count
                    # Pages are slices of one order (the last indexed first).
                    pages = [_candidate_ids(b, e, limit=3, offset=n) for n in range(0, 60, 3)]
                    assert [i for p in pages for i in p] == got, (locale, e)
                    for where in (
                        ArticleFilter(paper=paper),
                        ArticleFilter(since=dt.date(2021, 6, 1)),
                    ):
                        want = sorted(_candidate_ids(a, e, where=where))
                        assert sorted(_candidate_ids(b, e, where=where)) == want, (locale, e, where)
                        assert b.count_candidates(e, where) == len(want), (locale, e, where)
                    checked += len(want)
                    dropped += b.count_candidates(e) - len(got)
                assert checked > len(expressions)
                assert dropped > 0  # some rows the index gave were rechecked away


def test_a_store_of_schema_11_gets_its_index_by_the_migration(
    make_config: Callable[..., Config], seeded_inbox: Path, pg_url: str
) -> None:
    from tests.test_search import QUERIES
    from watcher import pipeline, search
    from watcher.store import SCHEMA_VERSION, ArticleFilter, Store

    lite, pg = make_config(), make_config(name="pg.yaml", state=pg_url)
    for cfg in (lite, pg):
        with Store(cfg.state) as store:
            pipeline.scan(cfg, store, topics=pipeline.load_topics(cfg))
    with Store(pg.state) as store, store.transaction():  # as schema 11 left it
        _as_schema_12(store)
        store.db.execute("ALTER TABLE search_rows DROP COLUMN terms")
        store.db.execute("UPDATE watcher_schema SET version = 11")
    with Store(lite.state) as a, Store(pg.state) as b:
        assert b.schema_version() == SCHEMA_VERSION == 15
        assert b.search_backlog() == 0  # the rows kept; their tsvectors made from them
        expressions = [e for e in (search.parse_query(q).expression for q in QUERIES) if e]
        for e in expressions:
            assert sorted(_candidate_ids(b, e)) == sorted(_candidate_ids(a, e)), e
        # Rebuilt in chunks, the bulk way (then VACUUM ANALYZE, outside a transaction).
        b.reset_search_index()
        assert search.catch_up(b, chunk=5) == a.counts()["articles"] > 5
        for e in expressions:
            assert sorted(_candidate_ids(b, e)) == sorted(_candidate_ids(a, e)), e
        # The GIN index can answer the question: a table this small is read whole or in
        # key order by choice (bench/search.py shows what the planner does on a corpus).
        b.db.execute("SET enable_seqscan = off")
        b.db.execute("SET enable_indexscan = off")
        for sql, args in (
            ("SELECT count(*) FROM search_rows r WHERE r.terms @@ ?::tsquery", ["'长沙'"]),
            b._candidates_sql('"城市 市更 更新"', ArticleFilter(), "a.*"),
        ):
            plan = "\n".join(r[0] for r in b.db.execute("EXPLAIN " + sql, args))
            assert "search_terms" in plan, plan


def test_a_server_older_than_the_schema_needs_is_refused_naming_its_version() -> None:
    from watcher import store

    shown = "postgresql://watcher@127.0.0.1/db"
    assert store._version_problem(shown, 110022) == (
        "the state database postgresql://watcher@127.0.0.1/db is on PostgreSQL 11, older "
        "than watcher needs (12 or later, for generated columns); upgrade the server or "
        "use a SQLite state file"
    )
    assert "on PostgreSQL 9.6," in str(store._version_problem(shown, 90624))


def test_the_test_server_is_new_enough(pg_url: str) -> None:
    from watcher import store

    shown = "postgresql://watcher@127.0.0.1/db"
    conn = store._connect_postgres(pg_url)
    try:
        assert store._version_problem(shown, conn.conn.info.server_version) is None
    finally:
        conn.close()


def test_a_replaced_article_leaves_the_postgresql_index(pg_url: str) -> None:
    from tests.test_search import _add
    from watcher import search
    from watcher.models import Article
    from watcher.store import Store

    with Store(pg_url) as store:
        _add(store, "c", Article(0, "防汛抗旱", "防汛抗旱工作。"))
        search.catch_up(store)
        assert _candidate_ids(store, '"防汛 汛抗 抗旱"') == ["cccccccccccccccc-0"]
        # The document read again (after a failure) replaces its articles.
        _add(store, "c", Article(0, "别的标题", "别的内容。"))
        search.catch_up(store)
        assert _candidate_ids(store, '"防汛 汛抗 抗旱"') == []
        assert store.count_candidates('"防汛 汛抗 抗旱"') == 0
        assert _candidate_ids(store, 'title : "别的 的标"') == ["cccccccccccccccc-0"]


def _as_schema_12(store: Any) -> None:
    """Undo schemas 15, 14 and 13 on a PostgreSQL store: no near misses, no rules beside
    the topics' versions; articles queued one by one for the index, by a trigger on
    articles, as schema 10 made it (inside a transaction)."""
    for statement in (
        "DROP TABLE near_misses",
        "ALTER TABLE topics DROP COLUMN near_misses",
        "ALTER TABLE topics DROP COLUMN rules",
        "DROP TRIGGER search_queue_document ON documents",
        "DROP FUNCTION watcher_search_queue_document()",
        "DROP TABLE search_pending_docs",
        """CREATE FUNCTION watcher_search_queue() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO search_pending (doc_sha256, idx) VALUES (NEW.doc_sha256, NEW.idx)
            ON CONFLICT DO NOTHING;
            RETURN NULL;
        END $$""",
        "CREATE TRIGGER search_queue AFTER INSERT ON articles "
        "FOR EACH ROW EXECUTE FUNCTION watcher_search_queue()",
        "UPDATE watcher_schema SET version = 12",
    ):
        store.db.execute(statement)


def test_a_store_of_schema_12_keeps_its_queue_and_then_queues_documents(
    make_config: Callable[..., Config], seeded_inbox: Path, pg_url: str
) -> None:
    from tests.test_search import QUERIES, _add
    from watcher import pipeline, search
    from watcher.models import Article
    from watcher.store import SCHEMA_VERSION, Store

    lite, pg = make_config(), make_config(name="pg.yaml", state=pg_url)
    for cfg in (lite, pg):
        with Store(cfg.state) as store:
            pipeline.scan(cfg, store)
    with Store(pg.state) as store, store.transaction():  # schema 12, its index to rebuild
        _as_schema_12(store)
        store.db.execute("DELETE FROM search_rows")
        store.db.execute("INSERT INTO search_pending SELECT doc_sha256, idx FROM articles")
    with Store(lite.state) as a, Store(pg.state) as b:
        assert b.schema_version() == SCHEMA_VERSION == 15
        articles = a.counts()["articles"]
        assert b.search_backlog() == articles  # the old queue, article by article
        assert search.catch_up(b, chunk=7) == articles
        expressions = [e for e in (search.parse_query(q).expression for q in QUERIES) if e]
        for e in expressions:
            assert sorted(_candidate_ids(b, e)) == sorted(_candidate_ids(a, e)), e
        # A new document is queued once, with its articles (the upsert's update path too).
        _add(b, "d", Article(0, "防汛抗旱", "防汛抗旱工作。"), Article(1, "又一条", "防汛。"))
        assert b.search_backlog() == 2
        assert b.db.execute("SELECT count(*) FROM search_pending").fetchone()[0] == 0
        assert search.catch_up(b) == 2
        assert _candidate_ids(b, '"防汛 汛抗 抗旱"') == ["dddddddddddddddd-0"]
        _add(b, "d", Article(0, "别的标题", "别的内容。"))
        assert b.search_backlog() == 1


# --- several workers on one state ------------------------------------------------------


def _big_inbox(inbox: Path, n: int) -> list[Path]:
    """``n`` distinct pages: the seeds, each copy with a line of its own, settled."""
    from tests.conftest import seed_files

    seeds = seed_files()
    inbox.mkdir(exist_ok=True)
    out = []
    for i in range(n):
        seed = seeds[i % len(seeds)]
        path = inbox / f"{i:03d}_{seed.name}"
        path.write_bytes(seed.read_bytes() + f"\n\n（本版编号 {i}）\n".encode())
        os.utime(path, (1_600_000_000, 1_600_000_000))
        out.append(path)
    return out


def _scan_counts(stdout: str) -> tuple[int, int, int]:
    """(new, unchanged, failed) from a ``watcher scan`` summary line."""
    import re

    m = re.search(r"scan: (\d+) new, (\d+) unchanged, (\d+) failed", stdout)
    assert m is not None, stdout
    return int(m[1]), int(m[2]), int(m[3])


def _start(config: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "watcher", f"--config={config}", "--log-level=WARNING", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(),
    )  # fmt: skip


@pytest.mark.parametrize("workers", [1, 2])
def test_three_scans_at_once_count_each_document_new_exactly_once(
    make_config: Callable[..., Config], tmp_path: Path, pg_url: str, workers: int
) -> None:
    # With workers: 2 each scan reads ahead in a pool of its own (45 files is past
    # parallel.MIN_FILES) while claiming files one by one in its scanning process.
    files = _big_inbox(tmp_path / "inbox", 45)
    pg = make_config(name="pg.yaml", state=pg_url, scan={"workers": workers})
    lite = make_config(name="lite.yaml", state="lite/watcher.db")
    # One store first, so the processes race on documents, not on creating the schema.
    assert watcher(pg.path, "status").returncode in (1, 3)
    procs = [_start(pg.path, "scan", "--no-progress") for _ in range(3)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], [e for _, e in outs]
    counts = [_scan_counts(out) for out, _ in outs]
    assert sum(new for new, _, _ in counts) == len(files), counts
    assert all(failed == 0 for _, _, failed in counts), counts
    assert all(new + unchanged == len(files) for new, unchanged, _ in counts), counts
    single = watcher(lite.path, "scan", "--no-progress")
    assert _scan_counts(single.stdout) == (len(files), 0, 0)
    # The same articles; in another order (by first seen: three workers interleave).
    by_id = lambda rows: sorted(rows, key=lambda r: str(r["id"]))  # noqa: E731
    assert by_id(_articles(pg.path)) == by_id(_articles(lite.path))


def test_a_worker_that_died_mid_document_loses_its_claim_when_the_lease_expires(
    make_config: Callable[..., Config], seeded_inbox: Path, pg_url: str
) -> None:
    import datetime as dt

    from watcher import pipeline
    from watcher.store import Store

    cfg = make_config(state=pg_url)
    name = str(sorted(seeded_inbox.iterdir())[0])  # a file is known by its path
    t0 = dt.datetime(2026, 11, 21, 8, 0, tzinfo=dt.UTC)
    with Store(cfg.state) as store:
        # A worker on another machine took the file, then its machine went down.
        assert store.take_lease(f"file:{name}", "elsewhere:1", t0, 300, lambda _: True)
        first = pipeline.scan(cfg, store, clock=lambda: t0)
        assert (first.new, first.unchanged) == (4, 1)
        later = t0 + dt.timedelta(seconds=301)
        second = pipeline.scan(cfg, store, clock=lambda: later)
        assert (second.new, second.unchanged) == (1, 4)
        assert store.lease_holder(f"file:{name}", later) is None


def _with_email(cfg: Config, port: int, to: list[str]) -> Path:
    cfg.path.write_text(
        cfg.path.read_text()
        + f"""digest:
  out_dir: reports
email:
  enabled: true
  host: 127.0.0.1
  port: {port}
  from: watcher@example.com
  to: [{", ".join(to)}]
  timeout: 5
""",
        encoding="utf-8",
    )
    return cfg.path


def test_two_digest_sends_at_once_mail_each_recipient_once(
    make_config: Callable[..., Config], seeded_inbox: Path, pg_url: str
) -> None:
    from tests.servers import smtp_server

    to = [f"analyst{i}@example.com" for i in range(4)]
    with smtp_server() as smtp:
        config = _with_email(make_config(state=pg_url), smtp.port, to)
        assert watcher(config, "scan", "--no-progress").returncode == 0
        procs = [_start(config, "digest", "--send") for _ in range(2)]
        outs = [p.communicate(timeout=300) for p in procs]
        assert [p.returncode for p in procs] == [0, 0], [e for _, e in outs]
        mails = smtp.wait_for(len(to))
        import time

        time.sleep(1.0)  # a second copy, were there one, would have come by now
        mails = smtp.mails
    assert sorted(r for m in mails for r in m.rcpt_tos) == sorted(to)
    assert len({m.message["Message-ID"] for m in mails}) == len(to)


# --- watcher migrate ---------------------------------------------------------------------


def test_migrate_copies_a_corpus_sample_without_a_difference(
    make_config: Callable[..., Config], pg_url: str
) -> None:
    # 150 新闻联播 days (≈2,000 articles, the bundled topics' matches), migrated; the
    # whole corpus state is checked by bench/migrate.py.
    import shutil

    from tests.conftest import CORPUS

    days = sorted((CORPUS / "xwlb_cctv_news").glob("*"))[::10][:150]
    if not days:
        pytest.skip(f"the corpus is not at {CORPUS}")
    lite = make_config()
    for day in days:
        shutil.copy(day, lite.inbox / day.name)
    for f in (ROOT / "config" / "watchlists").glob("*.yaml"):
        shutil.copy(f, lite.watchlists / f.name)
    assert watcher(lite.path, "scan", "--no-progress", timeout=600).returncode == 0
    out = watcher(lite.path, "migrate", "--to", pg_url, timeout=600)
    assert out.returncode == 0 and "all counts match." in out.stdout, out.stderr
    pg = make_config(name="pg.yaml", state=pg_url)
    moved = _articles(pg.path)
    assert moved == _articles(lite.path) and len(moved) > 1000
    matched = lambda c: watcher(c, "export", "--format", "jsonl").stdout  # noqa: E731
    assert matched(pg.path) == matched(lite.path) != ""


def test_migrate_copies_an_sqlite_state_into_postgresql_without_a_difference(
    make_config: Callable[..., Config], seeded_inbox: Path, pg_url: str
) -> None:
    import shutil

    from watcher.watchlists import load_watchlists

    lite = make_config()
    for f in (ROOT / "config" / "watchlists").glob("*.yaml"):
        shutil.copy(f, lite.watchlists / f.name)
    topic = load_watchlists(lite.watchlists)[0].id
    assert watcher(lite.path, "scan", "--no-progress").returncode == 0
    assert watcher(lite.path, "digest").returncode == 0
    article = _articles(lite.path)[0]["id"]
    assert watcher(lite.path, "label", str(article), topic, "yes").returncode == 0
    out = watcher(lite.path, "migrate", "--to", pg_url)
    assert out.returncode == 0, out.stderr
    assert "all counts match." in out.stdout
    assert f"  state: {pg_url}" in out.stdout
    pg = make_config(name="pg.yaml", state=pg_url)
    with_times = lambda c: watcher(c, "articles", "--format", "jsonl").stdout  # noqa: E731
    assert with_times(pg.path) == with_times(lite.path)
    assert watcher(pg.path, "labels").stdout == watcher(lite.path, "labels").stdout
    again = watcher(pg.path, "scan", "--no-progress")
    assert again.stdout.startswith("scan: 0 new, 5 unchanged"), again.stdout
    twice = watcher(lite.path, "migrate", "--to", pg_url)
    assert twice.returncode == 1
    assert f"error: the database {pg_url} is not empty" in twice.stderr

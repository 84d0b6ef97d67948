"""Search: the bigram index, the query's index expression, the Matcher as the judge,
ranking, filters, the backfill of older stores, and `watcher search` with every error
message. Real stores, built by scanning the seed pages."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import Run, dedent
from watcher import pipeline, rules, search
from watcher.config import Config
from watcher.errors import RuleError
from watcher.matcher import Matcher
from watcher.models import Article
from watcher.segment import Segmenter
from watcher.store import SCHEMA_VERSION, ArticleFilter, Store

TOPICS = dedent(
    """
    - id: renewal
      name: 城市更新
      query: 城市更新 OR 老旧小区
    - id: safety
      name: 安全生产
      query: 安全生产
    """
)

NOW = dt.datetime(2026, 11, 22, 1, 0, tzinfo=dt.UTC)


@pytest.fixture
def cfg(make_config: Callable[..., Config], seeded_inbox: Path) -> Config:
    cfg = make_config()
    (cfg.watchlists / "topics.yaml").write_text(TOPICS, encoding="utf-8")
    with Store(cfg.state) as store:
        pipeline.scan(cfg, store, topics=pipeline.load_topics(cfg))
    return cfg


@pytest.fixture
def segmenter(cfg: Config) -> Segmenter:
    return pipeline.segmenter_for(cfg)


def _add(store: Store, sha: str, *articles: Article) -> None:
    store.add_document(
        sha256=sha * 64 if len(sha) == 1 else sha,
        path=f"/inbox/{sha}.txt",
        size=1,
        mtime_ns=1,
        encoding="utf-8",
        articles=articles,
        now=NOW,
    )


def _everything(store: Store, segmenter: Segmenter, query: str) -> set[str]:
    """The oracle: the ids of every stored article the query's Matcher accepts."""
    matcher = Matcher([search.parse_query(query).topic], segmenter)
    return {r.id for r in store.articles() if matcher.match(r.article)}


def _found(store: Store, segmenter: Segmenter, query: str, **kw: object) -> list[str]:
    got = search.search(store, segmenter, query, limit=1000, **kw)  # type: ignore[arg-type]
    return [h.article.id for h in got.hits]


# --- the index text and the query's expression --------------------------------------


def test_index_text_is_folded_bigrams_of_each_run() -> None:
    assert search.index_text("推进城市更新。") == "推进 进城 城市 市更 更新"
    # Traditional and full-width fold first; a one-character run stays itself.
    assert search.index_text("長沙 ＣＯＶＩＤ-19 与") == "长沙 co ov vi id 19 与"
    assert search.index_tokens("标题", "正文") == ("标题", "正文")


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("长沙", '"长沙"'),
        ("城市更新", '"城市 市更 更新"'),
        ("城市更新 AND (长沙 OR 株洲) -广告", '("城市 市更 更新" AND ("长沙" OR "株洲"))'),
        ("title:疫苗", 'title : "疫苗"'),
        ("长沙 NEAR/10 城市更新", '("长沙" AND "城市 市更 更新")'),
        ('"城中村 改造"', '"城中 中村 改造"'),
        ("COVID-19", '"co ov vi id 19"'),
        ("A股 OR 港股", '("a股" OR "港股")'),
        # One-character terms and NOT are not in the index's part:
        ("水 AND 长沙", '"长沙"'),
        ("水 OR 长沙", None),
        ("水", None),
        ('"3 号 线"', '"号"'),  # edge runs of one character may lie inside longer runs
        ("城市 NOT 更新", '"城市"'),
    ],
)
def test_expression_narrows_without_excluding(query: str, expected: str | None) -> None:
    assert search.expression(rules.parse(query)) == expected


def test_parse_query_keeps_the_topic_and_expression() -> None:
    q = search.parse_query("城市更新 AND 长沙")
    assert q.topic.id == "search" and q.topic.query_text == "城市更新 AND 长沙"
    assert q.expression == '("城市 市更 更新" AND "长沙")'


_TITLE = "strpos(r.title, ?) > 0"
_EITHER = f"({_TITLE} OR strpos(r.body, ?) > 0)"


@pytest.mark.parametrize(
    ("expression", "tsquery", "recheck", "needles"),
    [
        ('"长沙"', "('长沙')", None, []),  # one token: the lexeme is the answer
        ('"城市 市更 更新"', "('城市' & '市更' & '更新')", _EITHER, [" 城市 市更 更新 "] * 2),
        ('title : "疫苗"', "('^疫苗')", None, []),
        ('title : "城中 中村"', "('^城中' & '^中村')", _TITLE, [" 城中 中村 "]),
        # On the chain of ANDs from the top, a one-token phrase needs no recheck ...
        ('("城市 市更 更新" AND "长沙")', "(('城市' & '市更' & '更新') & ('长沙'))", _EITHER,
         [" 城市 市更 更新 "] * 2),
        # ... under an OR it is checked with the rest of the OR.
        ('("株洲" OR "城市 市更 更新")', "(('株洲') | ('城市' & '市更' & '更新'))",
         f"({_EITHER} OR {_EITHER})", [" 株洲 "] * 2 + [" 城市 市更 更新 "] * 2),
        ('("长沙" OR "株洲")', "(('长沙') | ('株洲'))", None, []),
    ],
)  # fmt: skip
def test_postgresql_asks_the_gin_index_then_rechecks_phrases(
    expression: str, tsquery: str, recheck: str | None, needles: list[str]
) -> None:
    from watcher.store import _pg_match

    got, check = _pg_match(expression)
    assert got == tsquery
    assert check == (None if recheck is None else (recheck, needles))


# --- the Matcher decides: search finds exactly what it accepts --------------------------

QUERIES = [
    "城市更新",
    "城市更新 AND (长沙 OR 株洲) -广告",
    "城市更新 AND 长沙",
    "title:城市更新",
    "市长",
    "长沙 NEAR/30 城市更新",
    "安全生产 NEAR 检查",
    '"城中村"',
    "株洲 -城市更新",
    "项目 AND 投资",
    "水",
    "湘江 OR 水",
    "長沙",  # traditional in the query folds too
]


@pytest.mark.parametrize("query", QUERIES)
def test_search_finds_what_the_matcher_accepts_over_every_article(
    cfg: Config, segmenter: Segmenter, query: str
) -> None:
    with Store(cfg.state) as store:
        assert set(_found(store, segmenter, query)) == _everything(store, segmenter, query)


def test_word_boundaries_substrings_and_folding(cfg: Config, segmenter: Segmenter) -> None:
    with Store(cfg.state) as store:
        _add(
            store,
            "a",
            Article(0, "南京市长江大桥通车", "南京市长江大桥今日通车。"),
            Article(1, "副市长调研", "副市长到长沙调研城市更新工作。"),
            Article(2, "長沙推進城市更新", "全文為繁體字：長沙市城市更新。"),
            Article(3, "ＣＯＶＩＤ－19通报", "新增ＣＯＶＩＤ－19病例。"),
            Article(4, "网络", "建设25G网络试点。"),
            Article(5, "改造", "城中村，改造启动。"),
        )
        # 市长 inside 南京市长江大桥 is no word; in 副市长 it is.
        assert "aaaaaaaaaaaaaaaa-0" not in _found(store, segmenter, "市长")
        assert "aaaaaaaaaaaaaaaa-1" in _found(store, segmenter, "市长")
        assert "aaaaaaaaaaaaaaaa-2" in _found(store, segmenter, "长沙 AND 城市更新")
        assert "aaaaaaaaaaaaaaaa-3" in _found(store, segmenter, "covid-19")
        # A phrase needs no word boundary: the Matcher finds it inside 25G.
        assert "aaaaaaaaaaaaaaaa-4" in _found(store, segmenter, '"5G网络"')
        # The index proposes 城中村，改造 for "城中村 改造"; the Matcher wants the space.
        assert "aaaaaaaaaaaaaaaa-5" not in _found(store, segmenter, '"城中村 改造"')
        for q in ("市长", "长沙 AND 城市更新", "covid-19", '"5G网络"', '"5g网"', "城中村 改造"):
            assert set(_found(store, segmenter, q)) == _everything(store, segmenter, q), q


def test_headline_hits_rank_first_and_snippets_are_marked(
    cfg: Config, segmenter: Segmenter
) -> None:
    with Store(cfg.state) as store:
        _add(
            store,
            "b",
            Article(0, "普通消息", "正文很长。" * 40 + "最后提到一次防汛抗旱。"),
            Article(1, "防汛抗旱工作部署", "全市部署防汛抗旱工作。"),
        )
        got = search.search(store, segmenter, "防汛抗旱")
    assert [h.article.id for h in got.hits] == ["bbbbbbbbbbbbbbbb-1", "bbbbbbbbbbbbbbbb-0"]
    top = got.hits[0]
    assert top.rank > got.hits[1].rank
    assert top.title_marks == ((0, 4),)
    assert [top.match.snippet[s:e] for s, e in top.match.marks] == ["防汛抗旱"]
    assert top.body_marks == ((4, 8),)
    assert got.exact and got.found == 2 and got.candidates == 2


def test_filters_by_date_paper_and_topic(cfg: Config, segmenter: Segmenter) -> None:
    with Store(cfg.state) as store:
        every = {r.id: r.article for r in store.articles()}
        q = "城市更新 OR 株洲 OR 衡阳 OR 长沙"
        allof = _found(store, segmenter, q)
        papers = {every[i].newspaper for i in allof} - {None}
        assert len(papers) >= 2
        for paper in papers:
            got = _found(store, segmenter, q, filters=ArticleFilter(paper=paper))
            assert got and all(every[i].newspaper == paper for i in got)
        day = dt.date(2021, 6, 4)
        got = _found(store, segmenter, q, filters=ArticleFilter(since=day, until=day))
        assert got and all(every[i].date == day for i in got)
        renewal = {f"{d[:16]}-{i}" for d, i, _ in store.matches(topic_id="renewal")}
        got = _found(store, segmenter, q, filters=ArticleFilter(topic="renewal"))
        assert set(got) == renewal & set(allof)


def test_pages_follow_each_other(cfg: Config, segmenter: Segmenter) -> None:
    with Store(cfg.state) as store:
        whole = _found(store, segmenter, "株洲 OR 衡阳 OR 长沙")
        pages = [
            [h.article.id for h in search.search(store, segmenter, "株洲 OR 衡阳 OR 长沙",
                                                  limit=3, offset=n).hits]
            for n in range(0, len(whole), 3)
        ]  # fmt: skip
    assert [i for p in pages for i in p] == whole


def test_large_candidate_sets_are_checked_a_pool_at_a_time(
    cfg: Config, segmenter: Segmenter, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(search, "POOL", 2)
    monkeypatch.setattr(search, "MAX_ROUNDS", 2)
    with Store(cfg.state) as store:
        got = search.search(store, segmenter, "株洲 OR 衡阳 OR 长沙", limit=3)
        assert got.checked == 4 and not got.exact
        assert got.candidates == store.count_candidates(got.query.expression)
        assert got.found <= got.estimate <= got.candidates


def test_a_query_the_index_cannot_narrow_reads_every_article(
    cfg: Config, segmenter: Segmenter
) -> None:
    with Store(cfg.state) as store:
        got = search.search(store, segmenter, "水")
        assert got.scanned and got.candidates == store.counts()["articles"]


# --- the index is kept: scans, deletes, the backfill of older stores ----------------------


def test_the_scan_indexes_its_articles(cfg: Config) -> None:
    with Store(cfg.state) as store:
        stats = store.search_index_stats()
        assert stats.pending == 0 and stats.indexed == store.counts()["articles"] > 0
        assert stats.bytes > 0


def test_articles_stored_by_anyone_are_queued_and_deleted_ones_forgotten(
    cfg: Config, segmenter: Segmenter
) -> None:
    with Store(cfg.state) as store:
        _add(store, "c", Article(0, "防汛抗旱", "防汛抗旱工作。"))
        assert store.search_backlog() == 1
        assert _found(store, segmenter, "防汛抗旱") == ["cccccccccccccccc-0"]  # caught up
        assert store.search_backlog() == 0
        # The document read again (after a failure) replaces its articles.
        _add(store, "c", Article(0, "别的标题", "别的内容。"))
        assert _found(store, segmenter, "防汛抗旱") == []
        assert _found(store, segmenter, "别的内容") == ["cccccccccccccccc-0"]


def _as_version_5(path: Path) -> None:
    """Make a current store look like one from before search (schema version 5)."""
    db = sqlite3.connect(path)
    db.executescript(
        "DROP TRIGGER search_queue_document; DROP TRIGGER search_requeue_document; "
        "DROP TABLE search_pending_docs; DROP TRIGGER search_forget; DROP TABLE search_index; "
        "DROP TABLE search_rows; DROP TABLE search_pending; DROP TABLE leases; "
        "ALTER TABLE articles DROP COLUMN source; ALTER TABLE topics DROP COLUMN rules; "
        "DROP TABLE near_misses; ALTER TABLE topics DROP COLUMN near_misses; "
        "PRAGMA user_version = 5;"
    )
    db.close()


def test_a_store_from_before_search_is_backfilled_in_chunks_with_a_log_line(
    cfg: Config, segmenter: Segmenter, caplog: pytest.LogCaptureFixture
) -> None:
    with Store(cfg.state) as store:
        articles = store.counts()["articles"]
        expected = _everything(store, segmenter, "城市更新")
    _as_version_5(cfg.state)
    with Store(cfg.state) as store:
        assert store.schema_version() == SCHEMA_VERSION
        assert store.search_backlog() == articles
        with caplog.at_level(logging.INFO, logger="watcher.search"):
            assert search.catch_up(store, chunk=10) == articles
        assert store.search_backlog() == 0
        assert set(_found(store, segmenter, "城市更新")) == expected
    lines = [r.getMessage() for r in caplog.records if r.name == "watcher.search"]
    assert lines[0] == (
        f"search index of {cfg.state}: indexing {articles} stored articles not in it yet "
        "(a store from before search, or a scan cut short), 10 at a time"
    )
    assert lines[1].startswith(f"search index of {cfg.state}: {articles} articles indexed in ")


def _as_version_12(path: Path) -> None:
    """Make a current store look like one of schema 12 (every article queued for the index
    one by one, by a trigger on articles; no rules beside the topics' versions, no near
    misses), with its whole index waiting to be rebuilt."""
    db = sqlite3.connect(path)
    db.executescript(
        "DROP TRIGGER search_queue_document; DROP TRIGGER search_requeue_document; "
        "DROP TABLE search_pending_docs; "
        "CREATE TRIGGER search_queue AFTER INSERT ON articles BEGIN INSERT OR IGNORE INTO "
        "search_pending (doc_sha256, idx) VALUES (new.doc_sha256, new.idx); END; "
        "INSERT INTO search_index (search_index) VALUES ('delete-all'); DELETE FROM search_rows; "
        "INSERT INTO search_pending (doc_sha256, idx) SELECT doc_sha256, idx FROM articles; "
        "ALTER TABLE topics DROP COLUMN rules; DROP TABLE near_misses; "
        "ALTER TABLE topics DROP COLUMN near_misses; PRAGMA user_version = 12;"
    )
    db.close()


def test_a_store_of_schema_12_keeps_its_queue_and_then_queues_documents(
    cfg: Config, segmenter: Segmenter
) -> None:
    with Store(cfg.state) as store:
        articles = store.counts()["articles"]
        before = {q: _found(store, segmenter, q) for q in ("城市更新", "株洲")}
    _as_version_12(cfg.state)
    with Store(cfg.state) as store:
        assert store.schema_version() == SCHEMA_VERSION
        triggers = {r[0] for r in store.db.execute("SELECT name FROM sqlite_master WHERE "
                                                   "type = 'trigger'")}  # fmt: skip
        assert "search_queue" not in triggers and "search_queue_document" in triggers
        assert store.search_backlog() == articles  # the old queue, article by article
        assert search.catch_up(store, chunk=7) == articles
        assert {q: _found(store, segmenter, q) for q in before} == before
        # A new document is queued once, with its articles: no row an article.
        _add(store, "d", Article(0, "防汛抗旱", "防汛抗旱工作。"), Article(1, "又一条", "防汛。"))
        assert store.search_backlog() == 2
        assert store.db.execute("SELECT count(*) FROM search_pending").fetchone()[0] == 0
        assert store.db.execute("SELECT count(*) FROM search_pending_docs").fetchone()[0] == 1
        assert _found(store, segmenter, "防汛抗旱") == ["d" * 16 + "-0"]
        assert store.search_backlog() == 0
        # A document that failed is not queued; read later, it is (its status set to ok).
        store.add_failure(sha256="e" * 64, path="/inbox/e.txt", size=1, mtime_ns=1,
                          reason="cannot decode", now=NOW)  # fmt: skip
        assert store.search_backlog() == 0
        _add(store, "e", Article(0, "抗旱救灾", "抗旱救灾工作。"))
        assert store.search_backlog() == 1
        assert _found(store, segmenter, "抗旱救灾") == ["e" * 16 + "-0"]


def test_the_first_scan_after_the_upgrade_backfills(cfg: Config) -> None:
    _as_version_5(cfg.state)
    with Store(cfg.state) as store:
        assert store.search_backlog() > 0
        pipeline.scan(cfg, store, topics=pipeline.load_topics(cfg))  # nothing new to read
        assert store.search_backlog() == 0


def test_a_rebuild_requeues_everything(cfg: Config, segmenter: Segmenter) -> None:
    with Store(cfg.state) as store:
        before = _found(store, segmenter, "株洲")
        store.reset_search_index()
        assert store.search_backlog() == store.counts()["articles"]
        assert store.search_index_stats().indexed == 0
        assert _found(store, segmenter, "株洲") == before


# --- query errors, by their message ---------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ('城市更新 AND "长沙', 'bad query: unterminated quote at column 10\n  城市更新 AND "长沙\n'
                             "               ^"),
        ("(长沙 OR 株洲", "bad query: unbalanced parenthesis at column 1\n  (长沙 OR 株洲\n  ^"),
        ("长沙 AND", "bad query: AND at column 4 needs a term on both sides\n  长沙 AND\n       ^"),
        ("-广告", "bad query: the query must require at least one term (it only says what must "
                 "be absent)\n  -广告"),
        ('长沙 "——"', "bad query: term '——' at column 4 can never match: it has no letters, "
                     'digits or Chinese characters\n  长沙 "——"\n       ^'),
        ("   ", "empty query: give a word, a phrase or a watchlist query"),
    ],
)  # fmt: skip
def test_query_errors_name_the_column(query: str, message: str) -> None:
    with pytest.raises(RuleError) as info:
        search.parse_query(query)
    assert str(info.value) == message


def test_query_error_column_attribute() -> None:
    with pytest.raises(search.QueryError) as info:
        search.parse_query("长沙 OR")
    assert info.value.column == 4 and info.value.query == "长沙 OR"


# --- watcher search -----------------------------------------------------------------------------


def test_cli_search_text(run: Run, cfg: Config) -> None:
    code, out, err = run("search", "城市更新 AND (长沙 OR 株洲) -广告", config=cfg.path)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("  1. [") and "【城市更新】" in lines[0]
    assert "  topics: 城市更新" in lines[1]
    assert "【长沙】" in lines[2] or "【株洲】" in lines[2]
    assert lines[-1].startswith("1–2 of 2 found (2 candidates checked) in ")


def test_cli_search_jsonl_fields(run: Run, cfg: Config) -> None:
    code, out, _ = run("search", "城市更新", "--format", "jsonl", "--limit", "2", config=cfg.path)
    assert code == 0
    rows = [json.loads(line) for line in out.splitlines()]
    assert len(rows) == 2
    assert list(rows[0]) == [
        "id", "rank", "score", "bm25", "headline", "kicker", "newspaper", "date", "page",
        "byline", "file", "snippet", "marks", "title_marks", "terms", "why", "topics",
    ]  # fmt: skip
    assert rows[0]["rank"] >= rows[1]["rank"]
    assert "renewal" in rows[0]["topics"]
    s, e = rows[0]["marks"][0]
    assert rows[0]["snippet"][s:e] == "城市更新"


def test_cli_search_filters(run: Run, cfg: Config) -> None:
    code, out, _ = run(
        "search", "株洲 OR 衡阳", "--paper", "衡阳日报", "--since", "2021-01-01",
        "--until", "2021-12-31", "--topic", "renewal", "--format", "jsonl", config=cfg.path,
    )  # fmt: skip
    assert code == 0
    rows = [json.loads(line) for line in out.splitlines()]
    assert all(r["newspaper"] == "衡阳日报" and "renewal" in r["topics"] for r in rows)


def test_cli_search_nothing_found(run: Run, cfg: Config) -> None:
    code, out, _ = run("search", "没有这个词", config=cfg.path)
    assert code == 0
    assert out.startswith("nothing found for '没有这个词'; 0 candidates checked in ")
    code, out, _ = run("search", "株洲", "--since", "2030-01-01", config=cfg.path)
    assert out.startswith(
        "nothing found for '株洲' within the filters (--since, --until, --paper, --topic); "
    )


def test_cli_search_one_character_note(run: Run, cfg: Config) -> None:
    code, out, _ = run("search", "水", config=cfg.path)
    assert code == 0
    assert out.rstrip().endswith(
        "note: the query has no term of two or more characters, which the index needs; "
        "the articles were read newest first"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["城市更新 AND (长沙"], "error: bad query: unbalanced parenthesis at column 10\n"
                               "  城市更新 AND (长沙\n               ^\n"),
        (["长沙", "--topic", "renewl"], "error: no topic 'renewl'; did you mean 'renewal'? "
                                       "(topics: renewal, safety)\n"),
        (["长沙", "--paper", "衡阳日"], "error: no stored article is from the newspaper '衡阳日'; "
         "did you mean '衡阳日报'? (newspapers: 三湘都市报, 株洲日报, 衡阳日报)\n"),
        (["长沙", "--since", "2022-01-02", "--until", "2022-01-01"],
         "error: --since 2022-01-02 is after --until 2022-01-01; swap them\n"),
        (["长沙", "--since", "yesterday"],
         "Error: Invalid value: 'yesterday' is not a date; write it as YYYY-MM-DD\n"),
        (["长沙", "--limit", "0"], "Error: Invalid value for '--limit': 0 is not in the range x>=1.\n"),
    ],
)  # fmt: skip
def test_cli_search_errors(run: Run, cfg: Config, args: list[str], message: str) -> None:
    code, out, err = run("search", *args, config=cfg.path)
    assert (code, out) == (1, "")
    # click's own usage errors come after a usage line
    assert err == message or err.endswith("\n\n" + message)


def test_search_hit_dataclass_is_frozen(cfg: Config, segmenter: Segmenter) -> None:
    with Store(cfg.state) as store:
        hit = search.search(store, segmenter, "城市更新").hits[0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        hit.rank = 0  # type: ignore[misc]


def test_a_bulk_import_leaves_the_index_to_the_first_search(
    make_config: Callable[..., Config],
    seeded_inbox: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # More new articles than a scan indexes (10 here): the scan leaves them queued, with
    # a log line; the first search catches up and finds what a fully indexed store finds.
    cfg = make_config()
    (cfg.watchlists / "topics.yaml").write_text(TOPICS, encoding="utf-8")
    monkeypatch.setattr(search, "SCAN_INDEX", 10)
    with Store(cfg.state) as store, caplog.at_level(logging.INFO, logger="watcher.search"):
        pipeline.scan(cfg, store, topics=pipeline.load_topics(cfg))
        articles = store.counts()["articles"]
        assert store.search_index_stats().indexed == 0
        assert store.search_backlog() == articles > 10
        segmenter = pipeline.segmenter_for(cfg)
        found = _found(store, segmenter, "城市更新")
        assert store.search_backlog() == 0
        assert found and set(found) == _everything(store, segmenter, "城市更新")
    assert (
        f"search index of {cfg.state}: more than 10 stored articles wait for the index "
        "(what a scan indexes at most); the first search indexes them"
    ) in [r.getMessage() for r in caplog.records]


def test_the_daemon_s_tick_indexes_what_a_bulk_scan_left(
    make_config: Callable[..., Config], seeded_inbox: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The daemon asks its tick to catch up after the digest (index_backlog); a one-shot
    # tick does not, and leaves the queue to the first search.
    cfg = make_config()
    (cfg.watchlists / "topics.yaml").write_text(TOPICS, encoding="utf-8")
    monkeypatch.setattr(search, "SCAN_INDEX", 10)
    topics = pipeline.load_topics(cfg)
    with Store(cfg.state) as store:
        pipeline.tick(cfg, store, topics)
        waiting = store.search_backlog()
        assert waiting == store.counts()["articles"] > 10
        pipeline.tick(cfg, store, topics, index_backlog=True)
        assert store.search_backlog() == 0
        assert store.search_index_stats().indexed == waiting

"""Benchmark: search over the 新闻联播 corpus, against the naive way.

    python bench/search.py [--corpus ../shared/corpus] [--runs 3] [--baseline N]
                           [--no-postgres]

Scans the two 新闻联播 folders of the corpus into a fresh store (with the bundled
topics), then rebuilds the search index from scratch and reports its build time
and size, next to what segmenting the same articles with jieba would take (timed
on a sample, scaled to the corpus). Then runs 20 queries through
``watcher.search.search`` (the first page of 20, cold: the query parsed and its
Matcher built each time), and the naive way measured in the same run: the query's
Matcher over every stored article, held in memory. Prints one row per query and
the medians. Skips cleanly when the corpus is absent.

Then PostgreSQL (unless ``--no-postgres``; skipped, saying why, without psycopg or
the server programs): the store copied into a throw-away server (``watcher
migrate``, as bench/workers.py starts one), its index built (timed), and the same
20 queries through its GIN index and through the substring conditions it used
before (schema 11: a sequential read of ``search_rows``, kept here only), query by
query in turn; the same hits both ways, the medians and their ratio.
"""

from __future__ import annotations

import argparse
import logging
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from watcher import pipeline, search
from watcher import store as store_mod
from watcher.config import load_config
from watcher.matcher import Matcher
from watcher.segment import Segmenter
from watcher.store import ArticleFilter, Candidate, Store

FOLDERS = ("xwlb_cctv_news", "xwlb_china_data_2017_2021")
ROOT = Path(__file__).resolve().parent.parent

QUERIES = [
    "城市更新",
    "城市更新 AND (长沙 OR 株洲) -广告",
    "乡村振兴 AND 长江",
    "title:疫情",
    "新冠肺炎 AND 疫苗",
    "脱贫攻坚 NEAR/20 湖南",
    '"一带一路" AND 合作',
    "安全生产 AND (检查 OR 暗访)",
    "防汛 OR 抗洪",
    "人工智能",
    "碳达峰 OR 碳中和",
    "粮食安全 -进口",
    "习近平 AND 考察 AND 湖南",
    'title:"国务院常务会议"',
    "5G AND 网络",
    "冬奥会 NEAR 志愿者",
    "高质量发展",
    "中国",
    "老旧小区改造",
    "营商环境 AND 优化",
]


def _config(tmp: Path, inbox: Path, state: Path) -> Path:
    path = tmp / f"{inbox.name}.yaml"
    path.write_text(
        f"inbox: {inbox}\nstate: {state}\nwatchlists: {ROOT / 'config' / 'watchlists'}\n"
        "log_level: WARNING\nscan:\n  settle_seconds: 0\n",
        encoding="utf-8",
    )
    return path


def _cold() -> None:
    """Forget parsed queries and built matchers: each run pays for its own."""
    search._parse.cache_clear()
    search._matcher_for.cache_clear()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus")
    parser.add_argument("--runs", type=int, default=3, help="timed runs per query (median)")
    parser.add_argument(
        "--baseline", type=int, default=len(QUERIES), help="queries also timed the naive way"
    )
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    args = parser.parse_args()
    folders = [args.corpus / f for f in FOLDERS]
    if not all(f.is_dir() for f in folders):
        print(f"skipped: corpus not found under {args.corpus}")
        return 0
    logging.basicConfig(level=logging.WARNING)

    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        state = tmp / "state.db"
        configs = [load_config(_config(tmp, f, state)) for f in folders]
        t0 = time.perf_counter()
        for cfg in configs:
            with Store(cfg.state) as store:
                pipeline.scan(cfg, store, topics=pipeline.load_topics(cfg))
        scanned = time.perf_counter() - t0
        segmenter = pipeline.segmenter_for(configs[0])
        with Store(state) as store:
            articles = list(store.articles())
            chars = sum(len(r.article.headline) + len(r.article.body) for r in articles)
            print(f"store: {len(articles)} articles, {chars / 1e6:.1f} M characters; "
                  f"scan (with matching and indexing) {scanned:.1f} s")  # fmt: skip

            # The index, built again from nothing: the backfill path, which a scan's
            # indexing of its new articles also takes.
            store.reset_search_index()
            t0 = time.perf_counter()
            search.catch_up(store)
            built = time.perf_counter() - t0
            stats = store.search_index_stats()
            t0 = time.perf_counter()
            for r in articles:
                search.index_tokens(r.article.headline, r.article.body)
            tokenizing = time.perf_counter() - t0
            print(f"index: {stats.indexed} articles in {built:.1f} s "
                  f"({stats.indexed / built:,.0f} articles/s; folding and bigrams alone "
                  f"{tokenizing:.1f} s), {stats.bytes / 1e6:.1f} MB "
                  f"(store file {state.stat().st_size / 1e6:.0f} MB)")  # fmt: skip
            _jieba(articles, built)

            print()
            print("| query | candidates | found | search ms | naive ms | ratio |")
            print("|---|---:|---:|---:|---:|---:|")
            ours, naive = [], []
            for n, q in enumerate(QUERIES):
                times = []
                for _ in range(args.runs):
                    _cold()
                    t0 = time.perf_counter()
                    found = search.search(store, segmenter, q, limit=20)
                    times.append(time.perf_counter() - t0)
                ms = statistics.median(times) * 1000
                ours.append(ms)
                shown = str(found.found) if found.exact else f"~{found.estimate}"
                base_ms = ratio = ""
                if n < args.baseline:
                    _cold()
                    matcher = Matcher([search.parse_query(q).topic], segmenter)
                    t0 = time.perf_counter()
                    hits = sum(1 for r in articles if matcher.match(r.article))
                    base = (time.perf_counter() - t0) * 1000
                    naive.append(base)
                    base_ms, ratio = f"{base:,.0f}", f"{base / ms:,.0f}×"
                    assert found.exact is False or found.found == hits, (q, found.found, hits)
                print(
                    f"| `{q}` | {found.candidates:,} | {shown} | {ms:.1f} | {base_ms} | {ratio} |"
                )
            med = statistics.median(ours)
            print()
            print(f"median per query: search {med:.1f} ms (limit 50 ms: "
                  f"{'met' if med <= 50 else 'MISSED'}); max {max(ours):.1f} ms")  # fmt: skip
            if naive:
                base_med = statistics.median(naive)
                print(f"naive (Matcher over all {len(articles)} articles): median "
                      f"{base_med:,.0f} ms; ratio of medians {base_med / med:,.0f}×")  # fmt: skip
        if not args.no_postgres:
            _postgres(state, segmenter, args.runs, built, med)
    return 0


_ALL = ArticleFilter()


class _Substring(Store):
    """PostgreSQL search as it was before its GIN index (schema 11), kept here to be
    measured against: the phrases as substring conditions on the bigram text of
    ``search_rows``, a sequential read of the table per query."""

    def _substring_sql(
        self, expression: str, where: ArticleFilter, columns: str
    ) -> tuple[str, list[object]]:
        cond, args = store_mod._filter_sql(where)
        found: list[object] = []
        cond.insert(0, store_mod._pg_substring(store_mod._fts_tree(expression), found))
        sql = (
            f"SELECT {columns} FROM search_rows r "
            "JOIN articles a ON a.doc_sha256 = r.doc_sha256 AND a.idx = r.idx "
            "JOIN documents d ON d.sha256 = a.doc_sha256 WHERE " + " AND ".join(cond)
        )
        return sql, found + args

    def count_candidates(self, expression: str | None, where: ArticleFilter = _ALL) -> int:
        if expression is None:
            return super().count_candidates(expression, where)
        if where == ArticleFilter():
            found: list[object] = []
            cond = store_mod._pg_substring(store_mod._fts_tree(expression), found)
            sql = f"SELECT count(*) FROM search_rows r WHERE {cond}"
            return int(self.db.execute(sql, found).fetchone()[0])
        sql, args = self._substring_sql(expression, where, "count(*)")
        return int(self.db.execute(sql, args).fetchone()[0])

    def search_candidates(
        self,
        expression: str | None,
        where: ArticleFilter = _ALL,
        *,
        limit: int | None = None,
        offset: int = 0,
        by_rank: bool = True,
    ) -> list[Candidate]:
        if expression is None:
            return super().search_candidates(
                expression, where, limit=limit, offset=offset, by_rank=by_rank
            )
        sql, args = self._substring_sql(expression, where, "a.*, d.path AS file")
        sql += " ORDER BY r.id DESC"
        if limit is not None:
            sql += " LIMIT ? OFFSET ?"
            args += [limit, offset]
        return [Candidate(store_mod._stored(r), 0.0) for r in self.db.execute(sql, args)]


def _postgres(
    state: Path, segmenter: Segmenter, runs: int, lite_built: float, lite_med: float
) -> None:
    """The SQLite store copied into PostgreSQL; its index built; the 20 queries through
    the GIN index and through the substring conditions, in turn, in this one run."""
    import os

    print()
    try:
        import psycopg  # noqa: F401
    except ImportError:
        print("PostgreSQL skipped: psycopg is not installed (pip install 'watcher[postgres]')")
        return
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from workers import PASSWORD, _createdb, _pg_bin, postgres

    if _pg_bin("initdb") is None:
        print("PostgreSQL skipped: the server programs are missing (apt-get install postgresql)")
        return
    from watcher.migrate import migrate

    os.environ["WATCHER_PG_PASSWORD"] = PASSWORD
    # A folder of its own: the server's user must reach it (not inside ours, 0700).
    pgdir = Path(tempfile.mkdtemp(prefix="watcher-bench-pg-"))
    try:
        with postgres(pgdir) as port:
            url = _createdb(port, "search")
            migrate(state, url)
            with Store(url) as pg, _Substring(url) as old:
                t0 = time.perf_counter()
                search.catch_up(pg)  # the backfill, then ANALYZE
                built = time.perf_counter() - t0
                stats = pg.search_index_stats()
                print(f"PostgreSQL index: {stats.indexed} articles in {built:.1f} s "
                      f"({lite_built:.1f} s on SQLite, {built / lite_built:.1f}×), "
                      f"{stats.bytes / 1e6:.0f} MB with the GIN index")  # fmt: skip
                print()
                print("| query | candidates | found | GIN ms | substring ms | ratio |")
                print("|---|---:|---:|---:|---:|---:|")
                new, was = [], []
                for q in QUERIES:
                    times: dict[str, list[float]] = {"new": [], "old": []}
                    hits = {}
                    for _ in range(runs):  # in turn: a load that comes and goes hits both
                        for key, s in (("new", pg), ("old", old)):
                            _cold()
                            t0 = time.perf_counter()
                            found = search.search(s, segmenter, q, limit=20)
                            times[key].append(time.perf_counter() - t0)
                            hits[key] = [h.article.id for h in found.hits]
                            if key == "new":
                                shown = found
                    assert hits["new"] == hits["old"], q
                    ms, old_ms = (statistics.median(times[k]) * 1000 for k in ("new", "old"))
                    new.append(ms)
                    was.append(old_ms)
                    n = str(shown.found) if shown.exact else f"~{shown.estimate}"
                    print(f"| `{q}` | {shown.candidates:,} | {n} | {ms:.1f} | {old_ms:,.0f} | "
                          f"{old_ms / ms:,.0f}× |")  # fmt: skip
                med, old_med = statistics.median(new), statistics.median(was)
                print()
                print(f"PostgreSQL median per query: GIN index {med:.1f} ms (max {max(new):.1f}), "
                      f"substring {old_med:,.0f} ms: ratio of medians {old_med / med:,.0f}×; "
                      f"SQLite FTS5 {lite_med:.1f} ms in this run")  # fmt: skip
    finally:
        shutil.rmtree(pgdir, ignore_errors=True)


def _jieba(articles: list[object], built: float, sample: int = 2000) -> None:
    """What indexing jieba's words instead would cost: jieba.lcut on a sample."""
    try:
        import jieba
    except ModuleNotFoundError:  # pragma: no cover - jieba is a dependency
        return
    jieba.setLogLevel(60)
    jieba.initialize()
    picked = random.Random(1).sample(articles, min(sample, len(articles)))
    t0 = time.perf_counter()
    for r in picked:
        jieba.lcut(r.article.headline + "\n" + r.article.body)  # type: ignore[attr-defined]
    secs = time.perf_counter() - t0
    whole = secs * len(articles) / len(picked)
    print(f"jieba.lcut instead (sample of {len(picked)}): {len(picked) / secs:,.0f} articles/s, "
          f"≈{whole:.0f} s for the corpus before any indexing ({whole / built:.0f}× the "
          "bigram index's whole build)")  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())

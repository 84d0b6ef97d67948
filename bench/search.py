"""Benchmark: search over the 新闻联播 corpus, against the naive way.

    python bench/search.py [--corpus ../shared/corpus] [--runs 3] [--baseline N]

Scans the two 新闻联播 folders of the corpus into a fresh store (with the bundled
topics), then rebuilds the search index from scratch and reports its build time
and size, next to what segmenting the same articles with jieba would take (timed
on a sample, scaled to the corpus). Then runs 20 queries through
``watcher.search.search`` (the first page of 20, cold: the query parsed and its
Matcher built each time), and the naive way measured in the same run: the query's
Matcher over every stored article, held in memory. Prints one row per query and
the medians. Skips cleanly when the corpus is absent.
"""

from __future__ import annotations

import argparse
import logging
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from watcher import pipeline, search
from watcher.config import load_config
from watcher.matcher import Matcher
from watcher.store import Store

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
    return 0


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

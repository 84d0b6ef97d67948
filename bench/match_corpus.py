"""Benchmark: the match step over the corpus, against a naive jieba baseline.

    python bench/match_corpus.py [--corpus ../shared/corpus] [--baseline-sample 4000]

Articles come from the 新闻联播 transcripts (split as watcher splits them) and
THUCNews (one article per line). Two topic sets: the five bundled topics, and
those plus 500 generated topics drawing 2,000+ distinct terms from jieba's
dictionary. For each set it prints articles/s and MB/s of ``Matcher.match``
over every article, the same for the naive baseline measured in the same run
(``jieba.lcut`` of every article, then a look-up of every term — on a random
sample of articles, since it is slow), the ratio, and peak memory.
Skips cleanly when the corpus is absent.
"""

from __future__ import annotations

import argparse
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

from watcher import rules
from watcher.matcher import Matcher
from watcher.models import Article
from watcher.pages import split_page
from watcher.readers import read_bytes
from watcher.segment import Segmenter
from watcher.watchlists import Topic, load_watchlists

ROOT = Path(__file__).resolve().parent.parent


def load_articles(corpus: Path) -> list[Article]:
    articles: list[Article] = []
    for folder in ("xwlb_cctv_news", "xwlb_china_data_2017_2021"):
        for path in sorted((corpus / folder).glob("*.md")):
            text = read_bytes(path, path.read_bytes())
            articles += split_page(text.text, markup=text.markup)
    thuc = corpus / "thucnews_cnews_sample" / "cnews.test.txt"
    if thuc.exists():
        for n, line in enumerate(thuc.read_text(encoding="utf-8").splitlines()):
            _, _, body = line.partition("\t")
            articles.append(Article(index=n, headline=body[:20], body=body))
    return articles


def generated_topics(tmp: Path, n: int = 500, seed: int = 7) -> list[Topic]:
    """n topics over words drawn from jieba's dictionary (common enough to occur)."""
    import jieba

    words = []
    with Path(jieba.__file__).with_name("dict.txt").open(encoding="utf-8") as fh:
        for line in fh:
            w, freq, *_ = line.split()
            if 2 <= len(w) <= 4 and int(freq) >= 200 and w.isalpha():
                words.append(w)
    rnd = random.Random(seed)
    lines = []
    for i in range(n):
        a = rnd.sample(words, 4)
        b = rnd.sample(words, 3)
        query = f"({' OR '.join(a)}) AND ({' OR '.join(b)})"
        lines += [f"- id: gen{i:03d}", f"  query: {query}"]
    path = tmp / "generated.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return load_watchlists(path)


def run_matcher(matcher: Matcher, articles: list[Article]) -> tuple[float, int]:
    t0 = time.perf_counter()
    hits = sum(1 for a in articles if matcher.match(a))
    return time.perf_counter() - t0, hits


def run_baseline(topics: list[Topic], articles: list[Article]) -> float:
    """Segment every article with jieba.lcut, then check each topic's terms."""
    import jieba

    jieba.setLogLevel(60)
    jieba.initialize()
    term_sets = [{t.text for t in rules.terms(topic.query)} for topic in topics]
    t0 = time.perf_counter()
    for a in articles:
        words = set(jieba.lcut(a.headline + "\n" + a.body))
        for terms in term_sets:
            _ = not terms.isdisjoint(words)
    return time.perf_counter() - t0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus")
    parser.add_argument("--baseline-sample", type=int, default=4000)
    args = parser.parse_args()
    if not (args.corpus / "xwlb_cctv_news").is_dir():
        print(f"skipped: corpus not found under {args.corpus}")
        return 0

    articles = load_articles(args.corpus)
    mb = sum(len((a.headline + a.body).encode()) for a in articles) / 1e6
    sample = random.Random(1).sample(articles, min(args.baseline_sample, len(articles)))
    sample_mb = sum(len((a.headline + a.body).encode()) for a in sample) / 1e6
    print(f"articles: {len(articles)} ({mb:.1f} MB); baseline sample {len(sample)} "
          f"({sample_mb:.1f} MB)")  # fmt: skip

    bundled = load_watchlists(ROOT / "config" / "watchlists")
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        big = bundled + generated_topics(tmp)
        distinct = {t.text for topic in big for t in rules.terms(topic.query)}
        segmenter = Segmenter(tmp / "cache")
        segmenter.warm()
        print(f"{'topics':>8} {'terms':>6} | {'match art/s':>11} {'MB/s':>6} {'matched':>8} | "
              f"{'naive art/s':>11} {'MB/s':>6} | ratio")  # fmt: skip
        for name, topics in (("5", bundled), (str(len(big)), big)):
            terms = len({t.text for topic in topics for t in rules.terms(topic.query)})
            matcher = Matcher(topics, segmenter)
            secs, hits = run_matcher(matcher, articles)
            base = run_baseline(topics, sample)
            ours_rate, base_rate = len(articles) / secs, len(sample) / base
            print(
                f"{name:>8} {terms:>6} | {ours_rate:11.0f} {mb / secs:6.2f} {hits:8d} | "
                f"{base_rate:11.0f} {sample_mb / base:6.2f} | {ours_rate / base_rate:5.1f}x"
            )
        print(f"distinct terms in the large set: {len(distinct)}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory (max RSS, whole run incl. the corpus in memory): {peak:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())

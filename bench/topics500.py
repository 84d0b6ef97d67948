"""Benchmark: the match step at 500 topics, against the same step at 5 (issue 14).

    python bench/topics500.py [--corpus ../shared/corpus] [--days 300] [-n 3] [--profile]
                              [--dump FILE] [--cpu] [--against FILE]

Articles: ``--days`` 新闻联播 transcripts of the corpus, split as watcher splits them
(plus the THUCNews sample when present). Topics: the five bundled ones, and those
plus 500 generated ones written like them (:func:`generated_topics`): anchors and
context drawn with a seeded RNG from the bundled watchlists' vocabulary and from
words frequent in the corpus (jieba's cut of a sample), a NEAR entry now and then,
an exclusion, ``lead_context`` and ``min_score`` as the bundled topics vary them.

Rows, each the minimum of N passes of ``Matcher.match`` over every article, in
articles/s: the five bundled topics, 505 topics, the 505 query-only topics of
``bench/match_corpus.py`` (an AND of two ORs of dictionary words each, as issue
14 first measured 500 topics), and the floor of all three measured
in the same run: the Aho-Corasick pass alone (``find_matches_as_indexes`` over the
folded text of every article, with the 505 topics' automaton), which no matcher
can beat. ``--profile`` prints where the 505-topic pass spends its time.

``--against FILE`` (another version's ``watcher/matcher.py``, say from
``git show main:watcher/matcher.py > old.py``) measures that matcher beside this
one in the same process, on the same topics and dictionary: both take turns on
each stretch of 250 articles, the minimum of N turns each, which cancels most of
what a shared machine adds to one of two separate runs; their matches must be
equal.
"""

from __future__ import annotations

import argparse
import collections
import os
import random
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import ahocorasick_rs  # noqa: E402
from run import Row as SuiteRow  # noqa: E402 (bench/run.py's row, defined once)

from watcher.matcher import COMPILED, Matcher, PureMatcher  # noqa: E402
from watcher.models import Article  # noqa: E402
from watcher.segment import Segmenter, fold  # noqa: E402
from watcher.watchlists import Topic, load_watchlists  # noqa: E402


@dataclass(frozen=True)
class Row:
    """One figure, articles per second, with the floor it is compared with."""

    name: str
    rate: float
    floor: float
    target: str

    def line(self) -> str:
        share = self.rate / self.floor if self.floor else float("nan")
        return (
            f"| {self.name} | {self.rate:,.0f} | {self.floor:,.0f} | {share:.2f} | {self.target} |"
        )

    def suite(self) -> SuiteRow:
        return SuiteRow(
            f"match step: {self.name}",
            f"{self.rate:,.0f} articles/s",
            f"Aho-Corasick pass alone {self.floor:,.0f}/s",
            f"{self.rate / self.floor:.2f}× the floor",
            f"target {self.target}",
        )


# Wall time by default; ``--cpu``: this process's CPU time, for a machine shared with
# other work, where wall time measures the neighbours as much as the matcher.
CLOCK = time.perf_counter

HEADER = "| match step | articles/s | floor art/s | × floor | target |\n|---|---|---|---|---|"


def load_articles(corpus: Path, days: int) -> list[Article]:
    from watcher.pages import split_page
    from watcher.readers import read_bytes

    articles: list[Article] = []
    paths = sorted((corpus / "xwlb_cctv_news").glob("*.md"))[:days]
    for path in paths:
        text = read_bytes(path, path.read_bytes())
        articles += split_page(text.text, markup=text.markup)
    return articles


def _vocabulary(
    bundled: list[Topic], articles: list[Article], seed: int
) -> tuple[list[str], list[str], list[str]]:
    """Words for topics: the bundled topics' anchors (broad themes), and for narrow
    topics words of a sample of the articles by the share of articles holding them:
    anchors in at most 0.2 % of them, context terms (with the bundled context) in
    0.2–1 %. A topic list of 500 is mostly narrow interests (a company, a project, a
    county), each matching a few articles a day, not 500 themes as broad as 防汛."""
    import jieba

    jieba.setLogLevel(60)
    from watcher import rules

    anchors = {e.text for t in bundled for e in t.anchors if isinstance(e, rules.Term)}
    context = {e.text for t in bundled for e in t.context if isinstance(e, rules.Term)}
    sample = random.Random(seed).sample(articles, min(2000, len(articles)))
    words: set[str] = set()
    for a in sample[:500]:
        words.update(w for w in jieba.lcut(a.headline + "\n" + a.body) if 2 <= len(w) <= 5)
    plain = sorted(w for w in words if w.isalpha() and not w.isascii())
    # Articles holding each word anywhere, as the matcher's automaton finds it.
    automaton = ahocorasick_rs.AhoCorasick(plain)
    df: collections.Counter[str] = collections.Counter()
    for a in sample:
        text = fold(a.headline + "\n" + a.body)
        df.update(
            {plain[i] for i, _, _ in automaton.find_matches_as_indexes(text, overlapping=True)}
        )
    n = len(sample)
    top = max(3.0, n * 0.002)
    rare = [w for w in plain if 2 <= df[w] <= top]
    common = [w for w in plain if top < df[w] <= n * 0.01]
    return sorted(anchors), rare, sorted(context) + common


def generated_topics(
    tmp: Path, bundled: list[Topic], articles: list[Article], n: int = 500, seed: int = 7
) -> list[Topic]:
    """``n`` topics written as the bundled ones are (see the module docstring)."""
    from watcher import rules

    themes, anchor_words, context_words = _vocabulary(bundled, articles, seed)
    excluded = sorted({t.text for b in bundled if b.exclude for t in rules.terms(b.exclude)})
    rnd = random.Random(seed)
    lines: list[str] = []
    for i in range(n):
        anchors = rnd.sample(anchor_words, rnd.randint(3, 12))
        if rnd.random() < 0.2:  # now and then one of the bundled topics' broad anchors
            anchors.append(rnd.choice([w for w in themes if w not in anchors]))
        context = [w for w in rnd.sample(context_words, rnd.randint(4, 12)) if w not in anchors]
        if rnd.random() < 0.3:
            context.append(f"{rnd.choice(context_words)} NEAR {rnd.choice(context_words)}")
        exclude = " OR ".join(rnd.sample(excluded + anchor_words, rnd.randint(1, 6)))
        lines += [
            f"- id: gen{i:03d}",
            f"  name: generated {i}",
            f"  anchors: [{', '.join(anchors)}]",
            f"  context: [{', '.join(context)}]",
            f"  exclude: {exclude}",
            f"  lead_context: {'false' if rnd.random() < 0.8 else 'true'}",
            f"  min_score: {rnd.choice([0, 0, 10, 25])}",
        ]
    path = tmp / "generated.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return load_watchlists(path)


def _rate(matcher: Matcher, articles: list[Article], runs: int) -> tuple[float, int]:
    best = float("inf")
    matched = 0
    for _ in range(runs):
        t0 = CLOCK()
        matched = sum(len(matcher.match(a)) for a in articles)
        best = min(best, CLOCK() - t0)
    return len(articles) / best, matched


def _floor(matcher: Matcher, articles: list[Article], runs: int) -> float:
    """The automaton pass alone, over the folded text, as ``Matcher.match`` makes it."""
    automaton = matcher._automaton
    assert automaton is not None
    best = float("inf")
    for _ in range(runs):
        t0 = CLOCK()
        for a in articles:
            automaton.find_matches_as_indexes(fold(a.headline + "\n" + a.body), overlapping=True)
        best = min(best, CLOCK() - t0)
    return len(articles) / best


def _load_matcher(path: Path) -> Any:
    """Another version's matcher module, importing the rest of watcher from here."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("watcher_matcher_against", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # (dataclasses look their module up by name)
    spec.loader.exec_module(module)
    return module


def _in_turns(
    ours: Matcher, theirs: Any, articles: list[Article], runs: int, stretch: int = 250
) -> tuple[float, float]:
    """Articles/s of two matchers taking turns on each stretch of articles."""
    for a in articles:
        if repr(ours.match(a)) != repr(theirs.match(a)):
            raise SystemExit(f"the two matchers differ on {a.headline!r}")
    totals = [0.0, 0.0]
    for i in range(0, len(articles), stretch):
        part = articles[i : i + stretch]
        best = [float("inf"), float("inf")]
        for turn in range(runs):
            for side in (0, 1) if turn % 2 == 0 else (1, 0):
                matcher = (ours, theirs)[side]
                t0 = CLOCK()
                for a in part:
                    matcher.match(a)
                best[side] = min(best[side], CLOCK() - t0)
        totals[0] += best[0]
        totals[1] += best[1]
    return len(articles) / totals[0], len(articles) / totals[1]


def against(path: Path, corpus: Path, days: int, runs: int) -> list[str]:
    """Table rows: this matcher and the one at ``path``, in turns (5 and 505 topics)."""
    module = _load_matcher(path)
    articles = load_articles(corpus, days)
    bundled = load_watchlists(ROOT / "config" / "watchlists")
    out = []
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        big = bundled + generated_topics(tmp, bundled, articles)
        segmenter = Segmenter(tmp / "cache")
        segmenter.warm()
        for topics in (bundled, big):
            ours, theirs = Matcher(topics, segmenter), module.Matcher(topics, segmenter)
            for a in articles[:500]:  # warm the caches both share
                ours.match(a)
                theirs.match(a)
            rate, other = _in_turns(ours, theirs, articles, runs)
            out.append(
                f"| {len(topics)} topics, {len(articles):,} articles | {rate:,.0f} "
                f"| {other:,.0f} | {rate / other:.2f}× |"
            )
    return out


def rows(ctx: Any) -> list[SuiteRow]:
    """The rows for ``bench/run.py`` (``ctx.runs`` passes each, ``ctx.corpus``)."""
    return [r.suite() for r in measure(ctx.corpus, runs=ctx.runs) if "floor" not in r.name]


def measure(
    corpus: Path = ROOT.parent / "shared" / "corpus",
    days: int = 300,
    runs: int = 3,
    profile: bool = False,
    dump: Path | None = None,
) -> list[Row]:
    if not (corpus / "xwlb_cctv_news").is_dir():
        return []
    articles = load_articles(corpus, days)
    bundled = load_watchlists(ROOT / "config" / "watchlists")
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        big = bundled + generated_topics(tmp, bundled, articles)
        segmenter = Segmenter(tmp / "cache")
        segmenter.warm()
        small = Matcher(bundled, segmenter)
        large = Matcher(big, segmenter)
        _rate(large, articles[:500], 1)  # warm the caches both share
        floor = _floor(large, articles, runs)
        rate5, m5 = _rate(small, articles, runs)
        rate505, m505 = _rate(large, articles, runs)
        # The same topics in pure Python, where the build compiled the matcher (setup.py).
        pure_rate = 0.0
        if COMPILED:
            pure_rate, pure_m = _rate(PureMatcher(big, segmenter), articles, runs)
            assert pure_m == m505
        # The 500 topics of bench/match_corpus.py: query-only, an AND of two ORs of
        # dictionary words each (how issue 14 first measured 500 topics).
        sys.path.insert(0, str(ROOT / "bench"))
        from match_corpus import generated_topics as query_topics

        (tmp / "plain").mkdir()
        plain = Matcher(bundled + query_topics(tmp / "plain"), segmenter)
        rate_q, m_q = _rate(plain, articles, runs)
        if dump is not None:  # every match, to compare two versions of the matcher
            with dump.open("w", encoding="utf-8") as fh:
                for a in articles:
                    for m in large.match(a):
                        fh.write(f"{a.headline[:30]!r} {m!r}\n")
        if profile:
            import cProfile
            import pstats

            prof = cProfile.Profile()
            prof.enable()
            for a in articles:
                large.match(a)
            prof.disable()
            pstats.Stats(prof).sort_stats(os.environ.get("SORT", "tottime")).print_stats(45)
    n = len(articles)
    return [
        Row(f"5 topics, {n:,} articles ({m5:,} matches)", rate5, floor, "—"),
        Row(
            f"{len(big)} topics, {n:,} articles ({m505:,} matches)",
            rate505,
            floor,
            "≥ 4,000 articles/s",
        ),
        *(
            [
                Row(
                    f"{len(big)} topics, the matcher in pure Python (not compiled)",
                    pure_rate,
                    floor,
                    f"compiled: {rate505 / pure_rate:.2f}× this",
                )
            ]
            if pure_rate
            else []
        ),
        Row(
            f"505 topics of bench/match_corpus.py (query-only), {n:,} articles ({m_q:,} matches)",
            rate_q,
            floor,
            "≥ 4,000 articles/s",
        ),
        Row("floor: the Aho-Corasick pass alone", floor, floor, "—"),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus")
    parser.add_argument("--days", type=int, default=300)
    parser.add_argument("-n", "--runs", type=int, default=3)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--dump", type=Path, help="write every 505-topic match to this file")
    parser.add_argument("--cpu", action="store_true", help="time by CPU time, not wall time")
    parser.add_argument(
        "--against", type=Path, help="another matcher.py, measured in turns with this one"
    )
    args = parser.parse_args()
    if args.cpu:
        global CLOCK
        CLOCK = time.process_time
    if args.against is not None:
        if not (args.corpus / "xwlb_cctv_news").is_dir():
            print(f"skipped: corpus not found under {args.corpus}")
            return 0
        table = against(args.against, args.corpus, args.days, args.runs)
        print(f"| match step | articles/s | {args.against} articles/s | ratio |")
        print("|---|---|---|---|")
        print("\n".join(table))
        return 0
    got = measure(args.corpus, args.days, args.runs, args.profile, args.dump)
    if not got:
        print(f"skipped: corpus not found under {args.corpus}")
        return 0
    print(HEADER)
    for row in got:
        print(row.line())
    return 0


if __name__ == "__main__":
    sys.exit(main())

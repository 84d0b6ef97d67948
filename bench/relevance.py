"""Benchmark: the bundled topics against the hand-labelled sample, old model beside new.

    python bench/relevance.py [--corpus ../shared/corpus] [--errors dev] [--general]

The labels (``bench/labels/``: the guide in README.md, where each item is in
``items.jsonl``, ``core`` / ``mention`` / ``none`` per topic in ``labels.jsonl``)
cover 744 新闻联播 items of 2022–2026 and the 26 articles of the seed pages. The
items are split once, by a seeded generator, into a development half (the only
one the bundled topics were tuned on) and a held-out half. Later batches were
drawn by ``fresh_sample.py`` with other seeds, each after a round of tuning, and
labelled by other readers: batch 2 (``bench/labels/fresh/``) measured the first
round, then joined the development items for the second; batch 3
(``bench/labels/fresh3/``) measured the second round, then joined them for the
third; batch 4 (``bench/labels/fresh4/``) measured the third, then joined them
for the fourth; batch 5 (``bench/labels/fresh5/``) is shown as ``fresh`` once its
labels exist. The figures are printed for each part and for all items.

Per topic: precision, recall and F1 of "the topic matched" against ``core``
(``mention`` counts neither way), and a ranking figure: the share of
(core, none) pairs that the topic's score puts in the right order (ties count
half; an item the topic does not match scores 0) — the ROC AUC. ``micro`` pools
the counts (and the pairs) of all topics.

Two models, measured in the same run:

* **old**: the watchlists as they were before the anchor/context model
  (``config/watchlists`` at commit ``OLD_COMMIT``, read from git) scored the old
  way, reimplemented here: the query on the whole article, then
  Σ boost × min(1 + ln tf, 3) over distinct terms (tf = 3 × headline hits + body
  hits, an occurrence inside a longer matched term counted for that one only),
  kept when at least ``min_score``.
* **new**: ``config/watchlists`` as shipped, matched by ``watcher.matcher``.

``--errors dev`` lists the development half's misses and wrong matches per topic
(the held-out half's are not listed: they are not for tuning). ``--general`` runs
the shipped topics over the THUCNews and SogouCS samples, where (almost) nothing is
about the bundled topics, and lists every article any topic flags.
"""

from __future__ import annotations

import argparse
import bisect
import datetime as dt
import json
import math
import random
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench" / "labels"))

from sample import items as corpus_items  # noqa: E402  (bench/labels/sample.py)

from watcher import rules  # noqa: E402
from watcher.matcher import Matcher  # noqa: E402
from watcher.models import Article, TermHit  # noqa: E402
from watcher.pages import split_page  # noqa: E402
from watcher.readers import read_bytes  # noqa: E402
from watcher.segment import Segmenter, fold  # noqa: E402
from watcher.watchlists import Topic, load_watchlists  # noqa: E402

LABELS = ROOT / "bench" / "labels"
# Batches tuned on since a later round: part of ``dev`` (batch 2 since the second
# round, batch 3 since the third, batch 4 since the fourth).
DEV_BATCHES = (LABELS / "fresh", LABELS / "fresh3", LABELS / "fresh4")
FRESH = LABELS / "fresh5"
TOPICS = ("safety", "urban-renewal", "flood", "rural", "investment")
SPLIT_SEED = 20261203
# The last commit with the watchlists of the old model (min_score thresholds).
OLD_COMMIT = "d28ead631862dbca01d9b36f6615ccbc96e8f5b0"
SEED_TODAY = dt.date(2026, 11, 21)  # as tests/test_matcher.py splits the seed pages

Scores = dict[str, float]  # topic id → score, for the topics an item matched


# --- the labelled items --------------------------------------------------------------


def _heading(title: str) -> str:
    """A ``###`` title as the splitter gives it: whitespace runs made one space."""
    return " ".join(title.replace("\xa0", " ").replace("\u3000", " ").split())


def load_items(corpus: Path) -> dict[str, Article]:
    """Every labelled item as the splitter cuts it: corpus items by file and title,
    seed articles by page and index."""
    out: dict[str, Article] = {}
    by_file: dict[str, list[dict[str, object]]] = {}
    for batch in _batches():
        with (batch / "items.jsonl").open(encoding="utf-8") as fh:
            for line in fh:
                rec = json.loads(line)
                by_file.setdefault(rec["file"], []).append(rec)
    for name, recs in sorted(by_file.items()):
        path = corpus / name
        text = read_bytes(path, path.read_bytes())
        articles = split_page(text.text, markup=text.markup)
        known = {title for _, title, _ in corpus_items(path)}
        for rec in recs:
            assert rec["title"] in known, rec
            (article,) = [a for a in articles if a.headline == _heading(str(rec["title"]))]
            out[str(rec["id"])] = article
    for path in sorted((ROOT / "seeds").glob("*.txt")):
        for article in split_page(path.read_text(encoding="utf-8"), today=SEED_TODAY):
            out[f"seed-{path.name[:3]}-{article.index:02d}"] = article
    return out


def _batches() -> list[Path]:
    """The label batches: the first (split into development and held-out halves), the
    later development ones, then the fresh one once it is labelled."""
    return [LABELS, *DEV_BATCHES] + [FRESH] * (FRESH / "labels.jsonl").is_file()


def all_labels() -> dict[str, dict[str, str]]:
    """The labels of every batch, by item id."""
    out: dict[str, dict[str, str]] = {}
    for batch in _batches():
        more = load_labels(batch)
        assert not set(more) & set(out), set(more) & set(out)
        out.update(more)
    return out


def load_labels(batch: Path = LABELS) -> dict[str, dict[str, str]]:
    out = {}
    with (batch / "labels.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            rec = json.loads(line)
            out[rec.pop("id")] = rec
    return out


def split(labels: dict[str, dict[str, str]]) -> tuple[set[str], set[str]]:
    """(development, held-out): a seeded, stratified halving.

    Items are grouped by the set of topics they are ``core`` for, so that each half
    gets about half of every topic's positives; each group is shuffled by one
    seeded generator and dealt out alternately, its first item to the development
    half.
    """
    groups: dict[tuple[bool, ...], list[str]] = {}
    for item in sorted(labels):
        key = tuple(labels[item][t] == "core" for t in TOPICS)
        groups.setdefault(key, []).append(item)
    rnd = random.Random(SPLIT_SEED)
    dev: set[str] = set()
    held: set[str] = set()
    for key in sorted(groups):
        members = groups[key]
        rnd.shuffle(members)
        for n, item in enumerate(members):
            (dev if n % 2 == 0 else held).add(item)
    return dev, held


# --- the old model, reimplemented --------------------------------------------------------

_SENTENCE_END = re.compile(r"[。！？!?；;\n]")


class OldModel:
    """The matcher and score as they were before the anchor/context model.

    The query holds on the whole article (every hit reusable across AND branches),
    the exclusion does not, then the old score must reach ``min_score``. Words are
    verified exactly as the matcher verifies them (the same Segmenter rule). Photos
    and ads were matched like articles then; ``regions`` are left out (the old
    bundled topics had none).
    """

    def __init__(self, topics: Sequence[Topic], segmenter: Segmenter) -> None:
        self.topics = list(topics)
        self.segmenter = segmenter

    def __call__(self, article: Article) -> Scores:
        haystack = fold(article.headline + "\n" + article.body)
        split_at = len(article.headline) + 1
        ends = [m.end() for m in _SENTENCE_END.finditer(haystack)]
        cache: dict[rules.Term, list[TermHit]] = {}

        def hits(term: rules.Term) -> list[TermHit]:
            if term not in cache:
                found = []
                needle = fold(term.text)
                at = haystack.find(needle)
                while at >= 0:
                    end = at + len(needle)
                    title = at < split_at
                    ok = term.kind == "phrase" or self.segmenter.is_word_at(haystack, at, end)
                    if ok and (term.field != "title" or title):
                        base = 0 if title else split_at
                        sentence = bisect.bisect_right(ends, at)
                        found.append(
                            TermHit(
                                term.text,
                                "title" if title else "body",
                                at - base,
                                end - base,
                                sentence,
                            )
                        )
                    at = haystack.find(needle, at + 1)
                cache[term] = found
            return cache[term]

        out: Scores = {}
        for topic in self.topics:
            if not _plain(topic.query, hits):
                continue
            if topic.exclude is not None and _plain(topic.exclude, hits):
                continue
            score = _old_score(topic, hits)
            if score >= topic.min_score:
                out[topic.id] = score
        return out


def _plain(node: rules.Node, hits: Callable[[rules.Term], list[TermHit]]) -> bool:
    """The old evaluation: a term holds when it has a hit; hits may serve twice."""
    match node:
        case rules.Term():
            return bool(hits(node))
        case rules.Not(child):
            return not _plain(child, hits)
        case rules.And(children):
            return all(_plain(c, hits) for c in children)
        case rules.Or(children):
            return any(_plain(c, hits) for c in children)
        case rules.Near(left, right, distance):
            for a in hits(left):
                for b in hits(right):
                    if a.field != b.field or (left == right and a == b):
                        continue
                    if distance is None:
                        if a.sentence == b.sentence:
                            return True
                        continue
                    first, second = (a, b) if a.start <= b.start else (b, a)
                    if max(0, second.start - first.end) <= distance:
                        return True
            return False
    raise TypeError(node)


def _old_score(topic: Topic, hits: Callable[[rules.Term], list[TermHit]]) -> float:
    """Σ boost × min(1 + ln tf, 3), tf = 3 × headline hits + body hits."""
    every: list[tuple[str, TermHit]] = []
    seen: set[str] = set()
    for term in rules.positive_terms(topic.query):
        if term.text not in seen:
            seen.add(term.text)
            every += [(term.text, h) for h in hits(term)]

    def covered(text: str, h: TermHit) -> bool:
        return any(
            g.field == h.field and g.start <= h.start and h.end <= g.end
            and g.end - g.start > h.end - h.start
            for _, g in every
        )  # fmt: skip

    counts: dict[str, list[int]] = {}
    for text, h in every:
        if not covered(text, h):
            c = counts.setdefault(text, [0, 0])
            c[0 if h.field == "title" else 1] += 1
    boost = dict(topic.boost)
    score = 0.0
    for text, (title, body) in counts.items():
        tf = 3.0 * title + body
        if tf > 0:
            score += boost.get(text, 1.0) * min(1.0 + math.log(tf), 3.0)
    return score


def old_watchlists(tmp: Path) -> Path:
    """The old model's watchlists, written out of git into ``tmp``."""
    listing = subprocess.run(
        ["git", "-C", str(ROOT), "ls-tree", "--name-only", f"{OLD_COMMIT}:config/watchlists"],
        check=True, capture_output=True, text=True,
    ).stdout.split()  # fmt: skip
    for name in listing:
        blob = subprocess.run(
            ["git", "-C", str(ROOT), "show", f"{OLD_COMMIT}:config/watchlists/{name}"],
            check=True, capture_output=True,
        ).stdout  # fmt: skip
        (tmp / name).write_bytes(blob)
    return tmp


class NewModel:
    """The shipped matcher."""

    def __init__(self, topics: Sequence[Topic], segmenter: Segmenter) -> None:
        self.matcher = Matcher(topics, segmenter)

    def __call__(self, article: Article) -> Scores:
        return {m.topic_id: m.score for m in self.matcher.match(article)}


# --- figures ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Figures:
    tp: int
    fp: int
    fn: int
    right_pairs: float  # (core, none) pairs in the right order, ties as half
    pairs: int

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    @property
    def ranking(self) -> float:
        return self.right_pairs / self.pairs if self.pairs else 0.0

    def __add__(self, other: Figures) -> Figures:
        return Figures(
            self.tp + other.tp,
            self.fp + other.fp,
            self.fn + other.fn,
            self.right_pairs + other.right_pairs,
            self.pairs + other.pairs,
        )


def figures(
    topic: str, items: Iterable[str], labels: dict[str, dict[str, str]], scores: dict[str, Scores]
) -> Figures:
    tp = fp = fn = 0
    core: list[float] = []
    none: list[float] = []
    for item in items:
        label = labels[item][topic]
        score = scores[item].get(topic)
        if label == "core":
            core.append(score or 0.0)
            tp, fn = (tp + 1, fn) if score is not None else (tp, fn + 1)
        elif label == "none":
            none.append(score or 0.0)
            fp += score is not None
    return Figures(tp, fp, fn, _right_pairs(core, none), len(core) * len(none))


def _right_pairs(core: list[float], none: list[float]) -> float:
    """How many (core, none) pairs have the core item scored higher; ties count half."""
    ordered = sorted(none)
    right = 0.0
    for c in core:
        below = _count_below(ordered, c)
        equal = _count_below(ordered, c, inclusive=True) - below
        right += below + equal / 2
    return right


def _count_below(ordered: list[float], x: float, inclusive: bool = False) -> int:
    return (bisect.bisect_right if inclusive else bisect.bisect_left)(ordered, x)


# --- general news ------------------------------------------------------------------------------


def general_news(corpus: Path) -> list[tuple[str, Article]]:
    """THUCNews (``label<TAB>text``) and SogouCS (``<doc>`` records) articles."""
    out: list[tuple[str, Article]] = []
    thuc = corpus / "thucnews_cnews_sample" / "cnews.test.txt"
    if thuc.exists():
        for n, line in enumerate(thuc.read_text(encoding="utf-8").splitlines()):
            label, _, body = line.partition("\t")
            # THUCNews has no headlines: its first sentence stands in.
            head = re.split(r"[。！？]", body, maxsplit=1)[0][:40]
            out.append((f"thucnews:{n} [{label}]", Article(index=n, headline=head, body=body)))
    sogou = corpus / "sogoucs_smarty_sample" / "news_sohusite_xml.smarty.dat"
    if sogou.exists():
        raw = sogou.read_text(encoding="utf-8", errors="replace")
        docs = re.findall(
            r"<contenttitle>(.*?)</contenttitle>\s*<content>(.*?)</content>", raw, re.S
        )
        for n, (title, body) in enumerate(docs):
            out.append((f"sogoucs:{n}", Article(index=n, headline=title.strip(), body=body)))
    return out


# --- the report ---------------------------------------------------------------------------------


def _row(name: str, f: Figures) -> str:
    return (
        f"{f.precision:5.2f} {f.recall:5.2f} {f.f1:5.2f} {f.ranking:5.3f}"
        if f.tp + f.fn
        else f"{'—':>5} {'—':>5} {'—':>5} {'—':>5}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus")
    parser.add_argument("--watchlists", type=Path, default=ROOT / "config" / "watchlists")
    parser.add_argument("--errors", choices=["dev"], help="list the development half's errors")
    parser.add_argument("--general", action="store_true", help="flagged general-news articles")
    args = parser.parse_args(argv)
    if not (args.corpus / "xwlb_cctv_news").is_dir():
        print(f"skipped: corpus not found under {args.corpus}")
        return 0

    labels = load_labels()
    dev, held = split(labels)
    for batch in DEV_BATCHES:
        more = load_labels(batch)
        assert not set(more) & set(labels), set(more) & set(labels)
        dev |= set(more)
        labels.update(more)
    fresh = set()
    if (FRESH / "labels.jsonl").is_file():
        more = load_labels(FRESH)
        assert not set(more) & set(labels), set(more) & set(labels)
        fresh = set(more)
        labels.update(more)
    items = load_items(args.corpus)
    assert set(items) == set(labels), set(items) ^ set(labels)
    with tempfile.TemporaryDirectory() as tmpdir:
        segmenter = Segmenter(Path(tmpdir) / "jieba")
        segmenter.warm()
        old_topics = load_watchlists(old_watchlists(Path(tmpdir)))
        new_topics = load_watchlists(args.watchlists)
        models = {"old": OldModel(old_topics, segmenter), "new": NewModel(new_topics, segmenter)}
        scores: dict[str, dict[str, Scores]] = {}
        why = {}
        if args.errors:
            assert isinstance(models["new"], NewModel)
            for item in dev:
                for m in models["new"].matcher.match(items[item]):
                    why[(item, m.topic_id)] = f"{m.clause}  «{m.snippet[:60]}»"
        for name, model in models.items():
            t0 = time.perf_counter()
            scores[name] = {item: model(article) for item, article in items.items()}
            print(f"{name}: {len(items)} items in {time.perf_counter() - t0:.2f} s")

    halves = [("dev", dev), ("held-out", held)]
    halves += [("fresh", fresh)] * bool(fresh) + [("all", set(labels))]
    sizes = ", ".join(f"{n} {len(s)}" for n, s in halves)
    print(f"items: {sizes} (split seed {SPLIT_SEED})")
    print("P R F1 and ranking (AUC over core/none pairs); old | new")
    head = "".join(f" | {n:^23} {'':1}| {n + ' new':^23}" for n, _ in halves)
    print(f"{'topic':14}{head}")
    for topic in (*TOPICS, "micro"):
        cells = []
        for _, half in halves:
            for name in ("old", "new"):
                if topic == "micro":
                    f = sum(
                        (figures(t, half, labels, scores[name]) for t in TOPICS[1:]),
                        figures(TOPICS[0], half, labels, scores[name]),
                    )
                else:
                    f = figures(topic, half, labels, scores[name])
                cells.append(_row(topic, f))
        print(f"{topic:14}" + "".join(f" | {c}" for c in cells))

    if args.errors:
        for topic in TOPICS:
            print(f"\n{topic}: development-half errors of the new model")
            for item in sorted(dev):
                label = labels[item][topic]
                got = scores["new"][item].get(topic)
                if (label == "core") == (got is None) and label != "mention":
                    kind = "miss " if label == "core" else "wrong"
                    shown = "" if got is None else f" {got:.1f}"
                    print(f"  {kind} {item}{shown}  {items[item].headline[:50]}")
                    if (item, topic) in why:
                        print(f"        {why[(item, topic)]}")

    if args.general:
        with tempfile.TemporaryDirectory() as tmpdir:
            segmenter = Segmenter(Path(tmpdir) / "jieba")
            matcher = Matcher(load_watchlists(args.watchlists), segmenter)
            news = general_news(args.corpus)
            flagged = [(n, a, matcher.match(a)) for n, a in news]
            flagged = [x for x in flagged if x[2]]
            print(f"\ngeneral news: {len(news)} articles, {len(flagged)} flagged")
            for name, article, found in flagged:
                tags = ", ".join(f"{m.topic_id} {m.score:.1f}" for m in found)
                print(f"  {name}  [{tags}]  {article.headline[:40]}")
                for m in found:
                    print(f"      {m.topic_id}: {m.clause}  «{m.snippet[:80]}»")
    return 0


if __name__ == "__main__":
    sys.exit(main())

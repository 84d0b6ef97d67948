"""Articles × topics → matches, with scores and explanations (pure, given a Segmenter).

The fast path: one Aho-Corasick pass over an article's folded text finds every
occurrence of every term of every topic. Most articles hit nothing and are
done after that pass. Only topics with a candidate hit are evaluated, and only
their word terms are verified with jieba, in a window around each hit.
"""

from __future__ import annotations

import bisect
import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import ahocorasick_rs

from watcher import rules
from watcher.models import Article, Match, TermHit
from watcher.segment import Segmenter, fold
from watcher.watchlists import Topic

TITLE_WEIGHT = 3.0  # a hit in the headline counts as three in the body
SATURATION = 3.0  # a term's contribution stops growing at 3× its weight
SNIPPET_CHARS = 120
SENTENCE_END = re.compile(r"[。！？!?；;\n]")


class _Text:
    """An article's headline and body, folded; sentence boundaries on demand."""

    def __init__(self, article: Article) -> None:
        self.title = article.headline
        self.body = article.body
        # One haystack so one automaton pass covers both fields.
        self.folded = fold(self.title + "\n" + self.body)
        self.split = len(self.title) + 1
        self._ends: list[int] | None = None

    def field(self, start: int) -> tuple[str, int]:
        """(field, offset within it) of a haystack offset."""
        return ("title", 0) if start < self.split else ("body", self.split)

    def sentence(self, start: int) -> int:
        if self._ends is None:
            self._ends = [m.end() for m in SENTENCE_END.finditer(self.folded)]
        return bisect.bisect_right(self._ends, start)


@dataclass(frozen=True)
class _Compiled:
    """What the matcher precomputes per topic."""

    topic: Topic
    positive: tuple[rules.Term, ...]  # terms that must be present (not under NOT)
    keys: frozenset[str]  # folded texts of the positive terms
    places: tuple[str, ...]  # folded place names
    possible: Callable[[set[tuple[str, str]]], bool]  # the query on candidates alone
    clauses: tuple[frozenset[tuple[str, str]], ...] | None  # the same test in CNF


class Matcher:
    """Topics compiled once; ``match(article)`` many times."""

    def __init__(self, topics: Sequence[Topic], segmenter: Segmenter) -> None:
        self.topics = list(topics)
        self.segmenter = segmenter
        self._fold: dict[str, str] = {}  # term text → folded, computed once
        self._compiled: list[_Compiled] = []
        patterns: set[str] = set()
        for topic in self.topics:
            nodes = [topic.query] + ([topic.exclude] if topic.exclude else [])
            for node in nodes:
                for term in rules.terms(node):
                    patterns.add(self._folded(term.text))
            positive = tuple(rules.positive_terms(topic.query))
            places = tuple(self._folded(p) for p in topic.places)
            patterns.update(places)
            keys = frozenset(self._folded(t.text) for t in positive)
            possible = _upper_bound(topic.query, self._folded)
            clauses = _cnf(topic.query, self._folded)
            self._compiled.append(_Compiled(topic, positive, keys, places, possible, clauses))
        # Which topics a pattern can wake up, so an article only visits those:
        # (topic, clause) postings for topics whose test is in CNF, plain
        # topic lists for the others.
        self._postings: dict[tuple[str, str], list[tuple[int, int]]] = {}
        self._index: dict[str, list[int]] = {}
        for n, c in enumerate(self._compiled):
            if c.clauses is None:
                for key in c.keys:
                    self._index.setdefault(key, []).append(n)
                continue
            for ci, clause in enumerate(c.clauses):
                for key in clause:
                    self._postings.setdefault(key, []).append((n, ci))
        self._patterns = sorted(patterns)
        self._automaton = (
            ahocorasick_rs.AhoCorasick(self._patterns, matchkind=ahocorasick_rs.MatchKind.Standard)
            if self._patterns
            else None
        )

    def _folded(self, text: str) -> str:
        if text not in self._fold:
            self._fold[text] = fold(text)
        return self._fold[text]

    def match(self, article: Article) -> list[Match]:
        """The topics this article belongs to, in watchlist order."""
        if self._automaton is None:
            return []
        text = _Text(article)
        found: dict[str, list[tuple[int, int]]] = {}
        for index, start, end in self._automaton.find_matches_as_indexes(
            text.folded, overlapping=True
        ):
            found.setdefault(self._patterns[index], []).append((start, end))
        if not found:
            return []
        present = {("any", k) for k in found}
        present |= {("title", k) for k, occ in found.items() if occ[0][0] < text.split}
        satisfied: dict[int, set[int]] = {}
        for key in present:
            for n, ci in self._postings.get(key, ()):
                satisfied.setdefault(n, set()).add(ci)
        candidates = {
            n
            for n, cs in satisfied.items()
            if len(cs) == len(self._compiled[n].clauses)  # type: ignore[arg-type]
        }
        for key in found:
            candidates.update(
                n for n in self._index.get(key, ()) if self._compiled[n].possible(present)
            )
        run = _Run(self, text, found)
        matches = []
        for n in sorted(candidates):
            m = run.match_topic(self._compiled[n])
            if m is not None:
                matches.append(m)
        return matches


class _Run:
    """Matching one article: its candidate occurrences and verified hits."""

    def __init__(self, matcher: Matcher, text: _Text, found: dict[str, list[tuple[int, int]]]):
        self.m = matcher
        self.text = text
        self.found = found
        self.checked: dict[tuple[int, int], bool] = {}
        self.verified: dict[tuple[str, str, str], list[rules.Hit]] = {}

    def is_word(self, start: int, end: int) -> bool:
        key = (start, end)
        if key not in self.checked:
            self.checked[key] = self.m.segmenter.is_word_at(self.text.folded, start, end)
        return self.checked[key]

    def occurrences(self, term: rules.Term) -> list[tuple[str, int, int, int]]:
        """Candidate occurrences of a term (unverified): (field, start, end, offset)."""
        out = []
        for start, end in self.found.get(self.m._folded(term.text), ()):
            name, base = self.text.field(start)
            if term.field == "title" and name != "title":
                continue
            out.append((name, start, end, base))
        return out

    def hits(self, term: rules.Term) -> list[rules.Hit]:
        """Verified hits of a term (words checked with jieba; phrases as found)."""
        key = (term.text, term.kind, term.field)
        if key not in self.verified:
            self.verified[key] = [
                rules.Hit(name, start - base, end - base, self.text.sentence(start))
                for name, start, end, base in self.occurrences(term)
                if term.kind == "phrase" or self.is_word(start, end)
            ]
        return self.verified[key]

    def match_topic(self, c: _Compiled) -> Match | None:
        topic = c.topic
        if topic.min_score > 0 and _score(topic, self._raw_counts(c)) < topic.min_score:
            return None  # even if every candidate were a word, too weak
        if not rules.evaluate(topic.query, self.hits):
            return None
        if topic.exclude is not None and rules.evaluate(topic.exclude, self.hits):
            return None
        if c.places and not any(
            self.is_word(s, e) for p in c.places for s, e in self.found.get(p, ())
        ):
            return None
        every: list[TermHit] = []
        for term in c.positive:
            if not any(t.term == term.text for t in every):
                every += [TermHit(term.text, h.field, h.start, h.end) for h in self.hits(term)]
        # 投资 inside 总投资, 隐患 inside 风险隐患: one occurrence counts once, for
        # the longer term.
        term_hits = [h for h in every if not _covered(h, every)]
        counts: dict[str, tuple[int, int]] = {}
        for h in term_hits:
            title, body = counts.get(h.term, (0, 0))
            counts[h.term] = (title + (h.field == "title"), body + (h.field == "body"))
        score = _score(topic, counts)
        if score < topic.min_score:
            return None
        snippet, marks = _snippet(self.text.body, [h for h in term_hits if h.field == "body"])
        return Match(
            topic_id=topic.id,
            topic_version=topic.version,
            score=round(score, 3),
            terms=tuple((t, a + b) for t, (a, b) in counts.items()),
            hits=tuple(sorted(term_hits, key=lambda h: (h.field != "title", h.start))),
            clause=rules.explain(topic.query, self.hits) or rules.to_text(topic.query),
            snippet=snippet,
            marks=marks,
        )

    def _raw_counts(self, c: _Compiled) -> dict[str, tuple[int, int]]:
        counts: dict[str, tuple[int, int]] = {}
        for term in c.positive:
            occ = self.occurrences(term)
            if occ and term.text not in counts:
                title = sum(1 for o in occ if o[0] == "title")
                counts[term.text] = (title, len(occ) - title)
        return counts


def _upper_bound(
    node: rules.Node, folded: Callable[[str], str]
) -> Callable[[set[tuple[str, str]]], bool]:
    """The query as a test on which terms occur at all, before any checking.

    True whenever the real query could be: every candidate counts as a hit,
    NEAR asks only that both terms occur, and NOT is taken as satisfied.
    Articles failing it are dropped without segmenting anything.
    """
    if isinstance(node, rules.Term):
        key = ("title" if node.field == "title" else "any", folded(node.text))
        return lambda present: key in present
    if isinstance(node, rules.Near):
        left, right = _upper_bound(node.left, folded), _upper_bound(node.right, folded)
        return lambda present: left(present) and right(present)
    if isinstance(node, rules.And):
        parts = [_upper_bound(c, folded) for c in node.children]
        return lambda present: all(p(present) for p in parts)
    if isinstance(node, rules.Or):
        parts = [_upper_bound(c, folded) for c in node.children]
        return lambda present: any(p(present) for p in parts)
    return lambda present: True  # NOT …


_MAX_CLAUSES = 64


def _cnf(
    node: rules.Node, folded: Callable[[str], str]
) -> tuple[frozenset[tuple[str, str]], ...] | None:
    """:func:`_upper_bound` as clauses (each: keys of which one must occur), or
    None when that form would be too large. A query written as an AND of ORs
    is already in this form."""
    if isinstance(node, rules.Term):
        key = ("title" if node.field == "title" else "any", folded(node.text))
        return (frozenset([key]),)
    if isinstance(node, rules.Not):
        return ()
    if isinstance(node, rules.Near):
        node = rules.And((node.left, node.right))
    parts = [_cnf(c, folded) for c in node.children]  # type: ignore[union-attr]
    if any(p is None for p in parts):
        return None
    if isinstance(node, rules.And):
        out = tuple(c for p in parts for c in p)  # type: ignore[union-attr]
        return out if len(out) <= _MAX_CLAUSES else None
    # OR of CNFs: one clause per way of picking a clause from each part.
    if any(len(p) == 0 for p in parts):  # type: ignore[arg-type]
        return ()  # one branch is always possible
    combos: list[frozenset[tuple[str, str]]] = [frozenset()]
    for p in parts:
        combos = [c | d for c in combos for d in p]  # type: ignore[union-attr]
        if len(combos) > _MAX_CLAUSES:
            return None
    return tuple(combos)


def _score(topic: Topic, counts: dict[str, tuple[int, int]]) -> float:
    """Σ over distinct terms: weight × min(1 + ln(tf), 3), tf = 3 × title hits + body hits."""
    score = 0.0
    for term, (title, body) in counts.items():
        tf = TITLE_WEIGHT * title + body
        if tf > 0:
            score += topic.weight(term) * min(1.0 + math.log(tf), SATURATION)
    return score


def _covered(h: TermHit, hits: Sequence[TermHit]) -> bool:
    """Is this occurrence part of a longer term's occurrence?"""
    return any(
        g.field == h.field
        and g.start <= h.start
        and h.end <= g.end
        and g.end - g.start > h.end - h.start
        for g in hits
    )


def _snippet(body: str, hits: Iterable[TermHit]) -> tuple[str, tuple[tuple[int, int], ...]]:
    """The sentence (or two) with the most distinct hit terms, ~120 characters,
    and the hit ranges inside it."""
    hits = sorted(hits, key=lambda h: h.start)
    if not hits:
        text = " ".join(body[:SNIPPET_CHARS].split())
        return (text + ("…" if len(body) > SNIPPET_CHARS else ""), ())
    bounds = [0, *(m.end() for m in SENTENCE_END.finditer(body)), len(body)]
    best: tuple[int, int, int] | None = None  # (-distinct, -hits, sentence no)
    for n in range(len(bounds) - 1):
        inside = [h for h in hits if bounds[n] <= h.start < bounds[n + 1]]
        if inside:
            key = (-len({h.term for h in inside}), -len(inside), n)
            best = key if best is None or key < best else best
    assert best is not None
    n = best[2]
    start, end = bounds[n], bounds[n + 1]
    if end - start < SNIPPET_CHARS // 2 and n + 2 < len(bounds):
        end = bounds[n + 2]  # a short sentence reads better with the next one
    first = next(h.start for h in hits if h.start >= start)
    if end - start > SNIPPET_CHARS:
        # Keep the first hit in view, with some context before it.
        start = max(start, min(first - 20, end - SNIPPET_CHARS))
        end = min(end, start + SNIPPET_CHARS)
    raw = body[start:end]
    lead = "…" if start > 0 and bounds[n] != start else ""
    tail = "…" if end < len(body) and SENTENCE_END.match(body[end - 1]) is None else ""
    text = raw.replace("\n", " ").strip()
    shift = len(lead) - (len(raw) - len(raw.lstrip()))
    marks = tuple(
        (h.start - start + shift, h.end - start + shift)
        for h in hits
        if start <= h.start and h.end <= end
    )
    return lead + text + tail, merge_ranges(marks)


def merge_ranges(ranges: Iterable[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    """Overlapping or touching (start, end) ranges merged, in order."""
    out: list[tuple[int, int]] = []
    for s, e in sorted(ranges):
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return tuple(out)

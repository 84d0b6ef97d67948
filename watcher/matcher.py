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
from collections.abc import Iterable, Sequence

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
    """An article's headline and body, folded, with sentence boundaries."""

    def __init__(self, article: Article) -> None:
        self.title = article.headline
        self.body = article.body
        # One haystack so one automaton pass covers both fields.
        self.folded = fold(self.title) + "\n" + fold(self.body)
        self.split = len(self.title) + 1
        self.ends = [m.end() for m in SENTENCE_END.finditer(self.folded)]

    def field(self, start: int) -> tuple[str, int]:
        """(field, offset within it) of a haystack offset."""
        return ("title", 0) if start < self.split else ("body", self.split)

    def sentence(self, start: int) -> int:
        return bisect.bisect_right(self.ends, start)


class Matcher:
    """Topics compiled once; ``match(article)`` many times."""

    def __init__(self, topics: Sequence[Topic], segmenter: Segmenter) -> None:
        self.topics = list(topics)
        self.segmenter = segmenter
        self._terms: dict[str, list[rules.Term]] = {}  # folded text → terms written so
        self._places: dict[str, list[str]] = {}  # folded text → topics' place names
        self._positive: list[set[str]] = []
        for topic in self.topics:
            nodes = [topic.query] + ([topic.exclude] if topic.exclude else [])
            for node in nodes:
                for term in rules.terms(node):
                    self._terms.setdefault(fold(term.text), []).append(term)
            self._positive.append({fold(t.text) for t in rules.positive_terms(topic.query)})
            for place in topic.places:
                self._places.setdefault(fold(place), []).append(place)
        self._patterns = sorted(set(self._terms) | set(self._places))
        self._automaton = (
            ahocorasick_rs.AhoCorasick(self._patterns, matchkind=ahocorasick_rs.MatchKind.Standard)
            if self._patterns
            else None
        )

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
        checked: dict[tuple[int, int], bool] = {}

        def is_word(start: int, end: int) -> bool:
            if (start, end) not in checked:
                checked[(start, end)] = self.segmenter.is_word_at(text.folded, start, end)
            return checked[(start, end)]

        def hits(term: rules.Term) -> list[rules.Hit]:
            out = []
            for start, end in found.get(fold(term.text), ()):
                name, base = text.field(start)
                if term.field == "title" and name != "title":
                    continue
                if term.kind == "word" and not is_word(start, end):
                    continue
                out.append(rules.Hit(name, start - base, end - base, text.sentence(start)))
            return out

        matches = []
        for topic, positive in zip(self.topics, self._positive, strict=True):
            if not positive & found.keys():
                continue
            m = self._match_topic(topic, text, hits, found, is_word)
            if m is not None:
                matches.append(m)
        return matches

    def _match_topic(self, topic, text, hits, found, is_word) -> Match | None:  # type: ignore[no-untyped-def]
        if not rules.evaluate(topic.query, hits):
            return None
        if topic.exclude is not None and rules.evaluate(topic.exclude, hits):
            return None
        if topic.places and not any(
            is_word(s, e) for p in topic.places for s, e in found.get(fold(p), ())
        ):
            return None
        every: list[TermHit] = []
        for term in rules.positive_terms(topic.query):
            if not any(t.term == term.text for t in every):
                every += [TermHit(term.text, h.field, h.start, h.end) for h in hits(term)]
        # 投资 inside 总投资, 隐患 inside 风险隐患: one occurrence counts once, for
        # the longer term.
        term_hits = [h for h in every if not _covered(h, every)]
        counted: list[tuple[str, int]] = []
        score = 0.0
        for name in dict.fromkeys(h.term for h in term_hits):
            hs = [h for h in term_hits if h.term == name]
            counted.append((name, len(hs)))
            tf = sum(TITLE_WEIGHT if h.field == "title" else 1.0 for h in hs)
            score += topic.weight(name) * min(1.0 + math.log(tf), SATURATION)
        if score < topic.min_score:
            return None
        snippet, marks = _snippet(text.body, [h for h in term_hits if h.field == "body"])
        return Match(
            topic_id=topic.id,
            topic_version=topic.version,
            score=round(score, 3),
            terms=tuple(counted),
            hits=tuple(sorted(term_hits, key=lambda h: (h.field != "title", h.start))),
            clause=rules.explain(topic.query, hits) or rules.to_text(topic.query),
            snippet=snippet,
            marks=marks,
        )


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
    return lead + text + tail, _merge(marks)


def _merge(ranges: tuple[tuple[int, int], ...]) -> tuple[tuple[int, int], ...]:
    out: list[tuple[int, int]] = []
    for s, e in sorted(ranges):
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return tuple(out)

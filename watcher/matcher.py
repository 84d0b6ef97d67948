"""Articles × topics → matches, with scores and explanations (pure, given a Segmenter).

The fast path: one Aho-Corasick pass over an article's folded text finds every
occurrence of every term of every topic. Most articles hit nothing and are
done after that pass. Only topics with a candidate hit are evaluated, and only
their word terms are verified with jieba, in a window around each hit.

What a topic asks of an article, per *story* — the article, or each sub-story of
a roundup (国内联播快讯, 简讯 …), see :func:`stories`:

0. it is an article (photo captions and advertisements never match);
1. its query holds there (a topic written with anchors and context only: one of
   their terms occurs), and its exclusion does not — a ``title:`` term holds in the
   story's headline, which for a sub-story is also its own title line;
2. for a topic with anchors or context: an anchor occurs; or one context term
   occurs in the headline (a sub-story's title counts) or the lead (an article's
   first sentence), unless the topic says ``lead_context: false``; or two
   different context terms occur, close together or one of them in the headline
   or lead (see :func:`_on_topic`);
3. it names one of the topic's regions (anywhere in the article), and
4. its score reaches ``min_score``.

The score (0–100) measures salience, not counts; see :func:`salience` and
:func:`score`. An occurrence inside a longer term of the same topic counts for
the longer term only (隐患 inside 安全隐患, 投资 inside 总投资).
"""

from __future__ import annotations

import bisect
import math
import operator
import re
from collections.abc import Callable, Container, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import ahocorasick_rs

from watcher import native, rules
from watcher.models import Article, Match, NearMiss, TermHit
from watcher.segment import Segmenter, fold
from watcher.watchlists import Topic

# --- the score -------------------------------------------------------------------------

HEADLINE = 0.6  # a term in the headline: 60 % of its salience at once
LEAD = 0.35  # in the lead (the first sentence, at most LEAD_CHARS)
DENSITY = 3.0  # body hits per 1,000 characters that give a term 1 − 1/e of its salience
MIN_CHARS = 300  # shorter stories are measured as if this long: two hits in 80 characters
# are not ten times the evidence of two in 800
ANCHOR = 0.8  # what a fully salient anchor contributes (before boosts)
CONTEXT = 0.4  # what a fully salient context term contributes
LEAD_CHARS = 150
CONTEXT_WINDOW = 120  # two context terms this close (characters between them) count

SNIPPET_CHARS = 120
SENTENCE_END = re.compile(r"[。！？!?；;\n]")
_LEAD_END = re.compile(r"[。！？!?]")
# Roundups: several short stories under one headline.
ROUNDUP = re.compile(r"快讯|简讯|短讯|速览|速递|简报|集锦")
_NUMBERED = re.compile(r"\s*(（\d{1,2}）|\(\d{1,2}\)|\d{1,2}[、.．]\D|[①-⑳])")
_TITLE_LINE_CHARS = 40  # a roundup line this short without a full stop titles the next one
_UNPUNCTUATED = re.compile(r"[^。！？!?；;…”」』）)]$")
_DATELINE_CHARS = 30  # a first line this short ending in a colon (央视网消息（新闻联播）：)


def salience(headline: bool, lead: bool, body_hits: int, chars: int) -> float:
    """How strongly one term marks a story, 0–1.

    ``1 − (1 − HEADLINE)^headline × (1 − LEAD)^lead × exp(−density / DENSITY)``,
    density = body hits per 1,000 characters of the story (at least ``MIN_CHARS``
    long, spaces not counted). A headline hit is worth a density of 2.7 hits per
    1,000 characters, a lead hit 1.3: a long text mentioning a term a few times
    stays low, a short story about it is high, and a term saturates — its tenth
    hit in a short story adds almost nothing.
    """
    density = 1000.0 * body_hits / max(chars, MIN_CHARS)
    return 1.0 - _MARKED[headline][lead] * math.exp(-density / DENSITY)


# ``(1 − HEADLINE)^headline × (1 − LEAD)^lead`` for each of the four cases, as
# salience() computed it per call (the same floating-point values).
_MARKED = tuple(tuple((1 - HEADLINE) ** h * (1 - LEAD) ** ld for ld in (0, 1)) for h in (0, 1))


def weight(role: str, boost: float = 1.0) -> float:
    """What a fully salient term contributes: ANCHOR or CONTEXT, raised by a boost
    as independent evidence would be (``1 − (1 − w)^boost``), so it stays below 1."""
    base = ANCHOR if role == "anchor" else CONTEXT
    return 1.0 - (1.0 - base) ** boost


# A match's score is kept rounded to one decimal, the threshold compared with the
# unrounded total: a stored score within SCORE_MARGIN of a min_score may lie either
# side of it (a re-match after a raised min_score reads those again).
_SCORE_DIGITS = 1
SCORE_MARGIN = 10.0**-_SCORE_DIGITS


def score(contributions: Iterable[float]) -> float:
    """0–100 from each counted term's weight × salience (each below 1):
    ``100 × (1 − Π (1 − c))`` — every term adds, none can pass 100."""
    rest = 1.0
    for c in contributions:
        rest *= 1.0 - c
    return 100.0 * (1.0 - rest)


# --- the article as the matcher sees it -------------------------------------------------


@dataclass(frozen=True)
class Story:
    """A stretch of an article that is matched on its own: the whole article, or one
    sub-story of a roundup. Ranges are in the matcher's haystack (headline, a line
    break, body)."""

    number: int  # 0: the whole article; 1, 2 …: sub-stories of a roundup
    heads: tuple[tuple[int, int], ...]  # headline, and a sub-story's title line
    body: tuple[int, int]
    lead: tuple[int, int]  # empty for sub-stories: their title is their lead

    def contains(self, start: int, end: int) -> bool:
        body = self.body
        return (body[0] <= start and end <= body[1]) or self.in_head(start, end)

    def in_head(self, start: int, end: int) -> bool:
        for s, e in self.heads:  # noqa: SIM110 (a loop, not any(): asked for every hit)
            if s <= start and end <= e:
                return True
        return False

    def in_lead(self, start: int) -> bool:
        return self.lead[0] <= start < self.lead[1]


def _lines(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """(start, end) of each non-blank line of ``text[start:end]``."""
    out = []
    pos = start
    for line in text[start:end].split("\n"):
        if line.strip():
            out.append((pos, pos + len(line)))
        pos += len(line) + 1
    return out


def stories(headline: str, body: str) -> list[Story]:
    """The stories of an article: itself, or — for a roundup (a headline such as
    国内联播快讯, 简讯) with two or more — its sub-stories.

    A sub-story is a paragraph, with the short unpunctuated line above it as its
    title; where paragraphs are numbered (（1）, (2), 3、, ④) a sub-story runs
    from one number to the next. A first line such as 央视网消息（新闻联播）： is
    no story. Offsets are in ``headline + "\\n" + body``.
    """
    split = len(headline) + 1
    end = split + len(body)
    text = headline + "\n" + body
    first_line = body.split("\n", 1)[0]
    skip = len(first_line) + 1 if _is_dateline(first_line) else 0
    whole = Story(0, ((0, len(headline)),), (split, end), _lead(text, split + skip, end))
    if not ROUNDUP.search(headline):
        return [whole]
    lines = _lines(text, split + skip, end)
    numbered = sum(1 for s, e in lines if _NUMBERED.match(text, s, e)) >= 2
    groups: list[tuple[tuple[int, int] | None, list[tuple[int, int]]]] = []
    title: tuple[int, int] | None = None
    for s, e in lines:
        line = text[s:e].strip()
        if len(line) <= _TITLE_LINE_CHARS and _UNPUNCTUATED.search(line):
            title = (s, e)
            continue
        if numbered and groups and not _NUMBERED.match(text, s, e) and title is None:
            groups[-1][1].append((s, e))  # an unnumbered paragraph goes on with its story
            continue
        groups.append((title, [(s, e)]))
        title = None
    if len(groups) < 2:
        return [whole]
    out = []
    for n, (title, paragraphs) in enumerate(groups, 1):
        heads = ((0, len(headline)),) + ((title,) if title else ())
        start, stop = paragraphs[0][0], paragraphs[-1][1]
        out.append(Story(n, heads, (start, stop), (start, start)))
    return out


def _is_dateline(line: str) -> bool:
    line = line.strip()
    return len(line) <= _DATELINE_CHARS and line.endswith(("：", ":"))


def _lead(text: str, start: int, end: int) -> tuple[int, int]:
    """The first sentence of a body, at most LEAD_CHARS long."""
    stop = min(end, start + LEAD_CHARS)
    m = _LEAD_END.search(text, start, stop)
    return (start, m.end() if m else stop)


class _Text:
    """An article's headline and body, folded; sentences and stories on demand."""

    def __init__(self, article: Article) -> None:
        self.title = article.headline
        self.body = article.body
        # One haystack so one automaton pass covers both fields.
        self.raw = self.title + "\n" + self.body
        self.folded = fold(self.raw)
        self.split = len(self.title) + 1
        self._ends: list[int] | None = None
        self.bounds: dict[tuple[int, int], list[int]] = {}  # a story body's sentence ends
        self.bodies: dict[tuple[int, int], str] = {}  # a story body's raw text
        # (story number, occurrences, wanted terms) → snippet and marks (_snippet)
        self.snippets: dict[
            tuple[int, tuple[_Occ, ...], frozenset[str]], tuple[str, tuple[tuple[int, int], ...]]
        ] = {}
        self._stories: list[Story] | None = None
        self.roundup = ROUNDUP.search(self.title) is not None
        self._subtitles: list[tuple[int, int]] | None = None

    def in_title(self, start: int, end: int) -> bool:
        """Is [start, end) in the headline or in a roundup sub-story's own title? Where
        ``title:`` terms may occur; each story then asks its own (Story.in_head)."""
        if start < self.split:
            return True
        if not self.roundup:
            return False
        if self._subtitles is None:
            self._subtitles = [s.heads[1] for s in self.stories if len(s.heads) > 1]
        return any(s <= start and end <= e for s, e in self._subtitles)

    def sentence(self, start: int) -> int:
        if self._ends is None:
            self._ends = [m.end() for m in SENTENCE_END.finditer(self.folded)]
        return bisect.bisect_right(self._ends, start)

    @property
    def stories(self) -> list[Story]:
        if self._stories is None:
            self._stories = stories(self.title, self.body)
        return self._stories


# --- compiled topics ----------------------------------------------------------------------


Entry = rules.Term | rules.Near  # an anchor or context entry: a term, or two terms NEAR


def entry_key(entry: Entry) -> str:
    """How an entry is named in counts and the why-line: as the query language
    prints it (a plain word as itself)."""
    return rules.to_text(entry)


@dataclass(frozen=True)
class _Compiled:
    """What the matcher precomputes per topic."""

    topic: Topic
    positive: tuple[rules.Term, ...]  # terms that must be present (not under NOT)
    vocabulary: tuple[Entry, ...]  # what is counted: anchors and context
    names: tuple[str, ...]  # entry_key() of each, in that order
    words: tuple[tuple[rules.Term, str, str], ...]  # single-term entries: term, key, folded
    roles: dict[str, str]  # entry key → "anchor" | "context"
    keys: frozenset[str]  # folded texts of the positive terms
    anchor_keys: tuple[tuple[str, ...], ...]  # folded texts of each anchor's terms
    context_keys: tuple[tuple[str, ...], ...]
    exclude_keys: frozenset[str]  # folded texts of the exclusion's terms
    places: tuple[str, ...]  # folded place names
    possible: Callable[[set[tuple[str, str]]], bool]  # the query on candidates alone
    clauses: tuple[frozenset[tuple[str, str]], ...] | None  # the same test in CNF
    # For set operations once per article instead of loops per entry (could_count,
    # _counted): single-term anchors' keys, single-term context keys with how many
    # context entries each stands for, the entries of more terms (NEAR), and the
    # positions in ``words`` of each folded key.
    single_anchors: frozenset[str]
    single_context: dict[str, int]
    multi: tuple[tuple[str, ...], ...]  # (anchors and context)
    word_at: dict[str, tuple[int, ...]]
    word_one: dict[str, int] | None  # word_at where each key has one position
    order: dict[str, int]  # entry key → its place in ``names``
    # The NEAR entries: each with its key and its two terms' folded texts.
    nears: tuple[tuple[rules.Near, str, str, str], ...]
    twice: frozenset[str]  # one-term context keys that two context entries fold to
    nested: bool  # a word of the topic holds another (安全隐患, 隐患)
    # could_count is False for one one-term context key present (and no anchor) that
    # two entries do not fold to, with no entry of more terms (NEAR) all present: the
    # topic has anchors or context, and lead_context: false.
    lone_fails: bool
    weights: dict[str, float]  # entry key → weight(role, boost)


class Matcher:
    """Topics compiled once; ``match(article)`` many times."""

    def __init__(self, topics: Sequence[Topic], segmenter: Segmenter) -> None:
        self.topics = list(topics)
        self.segmenter = segmenter
        self._fold: dict[str, str] = {}  # term text → folded, computed once
        self._compiled: list[_Compiled] = []
        patterns: set[str] = set()
        for topic in self.topics:
            c = self._compile(topic)
            patterns.update(self._folded(t.text) for t in rules.terms(topic.query))
            if topic.exclude is not None:
                patterns.update(self._folded(t.text) for t in rules.terms(topic.exclude))
            for entry in c.vocabulary + topic.ignore:
                patterns.update(self._folded(t.text) for t in rules.terms(entry))
            patterns.update(c.places)
            self._compiled.append(c)
        # Which topics a pattern can wake up, so an article only visits those:
        # (topic, clause) postings for topics whose test is in CNF, plain
        # topic lists for the others.
        self._postings: dict[tuple[str, str], list[tuple[int, int]]] = {}
        self._single: dict[tuple[str, str], list[int]] = {}  # topics of one clause
        self._index: dict[str, list[int]] = {}
        for n, c in enumerate(self._compiled):
            if c.clauses is None:
                for pattern in c.keys:
                    self._index.setdefault(pattern, []).append(n)
                continue
            if len(c.clauses) == 1:  # (a written query of ORs, or anchors and context)
                for posting in c.clauses[0]:
                    self._single.setdefault(posting, []).append(n)
                continue
            for ci, clause in enumerate(c.clauses):
                for posting in clause:
                    self._postings.setdefault(posting, []).append((n, ci))
        # One-term anchors and context keys → the topics holding them (could_count).
        self._anchor_of: dict[str, list[int]] = {}
        self._context_of: dict[str, list[int]] = {}
        for n, c in enumerate(self._compiled):
            for key in c.single_anchors:
                self._anchor_of.setdefault(key, []).append(n)
            for key in c.single_context:
                self._context_of.setdefault(key, []).append(n)
        self._single_any = {k: v for (f, k), v in self._single.items() if f == "any"}
        self._postings_any = {k: v for (f, k), v in self._postings.items() if f == "any"}
        self._postings_title = {k: v for (f, k), v in self._postings.items() if f == "title"}
        self._single_title = {k: v for (f, k), v in self._single.items() if f == "title"}
        self._patterns = sorted(patterns)
        self._automaton = (
            ahocorasick_rs.AhoCorasick(self._patterns, matchkind=ahocorasick_rs.MatchKind.Standard)
            if self._patterns
            else None
        )

    def _compile(self, topic: Topic) -> _Compiled:
        positive = tuple(rules.positive_terms(topic.query))
        vocabulary: tuple[Entry, ...]
        if topic.anchors or topic.context:
            vocabulary = tuple(dict.fromkeys(topic.anchors + topic.context))
            roles = {entry_key(e): "anchor" for e in topic.anchors}
            roles.update({entry_key(e): "context" for e in topic.context})
        else:
            # A query-only topic: every term it requires is as good as an anchor.
            vocabulary = positive
            roles = {entry_key(t): "anchor" for t in positive}

        def keys_of(entries: Sequence[Entry]) -> tuple[tuple[str, ...], ...]:
            return tuple(tuple(self._folded(t.text) for t in rules.terms(e)) for e in entries)

        anchor_keys, context_keys = keys_of(topic.anchors), keys_of(topic.context)
        words = tuple(
            (e, entry_key(e), self._folded(e.text)) for e in vocabulary if isinstance(e, rules.Term)
        )
        single_context: dict[str, int] = {}
        for keys in context_keys:
            if len(keys) == 1:
                single_context[keys[0]] = single_context.get(keys[0], 0) + 1
        order: dict[str, int] = {}
        for i, e in enumerate(vocabulary):
            order.setdefault(entry_key(e), i)
        word_at: dict[str, list[int]] = {}
        for i, (_term, _name, folded) in enumerate(words):
            word_at.setdefault(folded, []).append(i)
        return _Compiled(
            topic=topic,
            positive=positive,
            vocabulary=vocabulary,
            names=tuple(entry_key(e) for e in vocabulary),
            words=words,
            roles=roles,
            keys=frozenset(self._folded(t.text) for t in positive),
            anchor_keys=anchor_keys,
            context_keys=context_keys,
            exclude_keys=frozenset(
                self._folded(t.text) for t in (rules.terms(topic.exclude) if topic.exclude else ())
            ),
            places=tuple(self._folded(p) for p in topic.places),
            possible=_upper_bound(topic.query, self._folded),
            clauses=_cnf(topic.query, self._folded) or None,  # (): no clause to post it under
            single_anchors=frozenset(k[0] for k in anchor_keys if len(k) == 1),
            single_context=single_context,
            word_at={k: tuple(v) for k, v in word_at.items()},
            word_one=(
                {k: v[0] for k, v in word_at.items()}
                if all(len(v) == 1 for v in word_at.values())
                else None
            ),
            order=order,
            twice=frozenset(k for k, n in single_context.items() if n > 1),
            nested=any(a != b and a in b for a in word_at for b in word_at),
            lone_fails=bool(anchor_keys or context_keys) and not topic.lead_context,
            multi=tuple(k for k in anchor_keys + context_keys if len(k) != 1),
            nears=tuple(
                (e, entry_key(e), self._folded(e.left.text), self._folded(e.right.text))
                for e in vocabulary
                if isinstance(e, rules.Near)
            ),
            weights={name: weight(roles[name], topic.weight(name)) for name in order},
        )

    def _folded(self, text: str) -> str:
        if text not in self._fold:
            self._fold[text] = fold(text)
        return self._fold[text]

    def match(self, article: Article) -> list[Match]:
        """The topics this article belongs to, in watchlist order.

        Only articles: a photo caption or an advertisement (a public-service banner
        of the 安委办 included) is nobody's topic.
        """
        return self.assess(article)[0]

    def assess(self, article: Article) -> tuple[list[Match], list[NearMiss]]:
        """:meth:`match`, and the topics the article would belong to with a lower
        ``min_score`` (their best story's score under it), in watchlist order: stored,
        they let a re-match after a lowered min_score or a narrowing edit read only
        the articles that can change."""
        if self._automaton is None or article.kind != "article":
            return [], []
        text = _Text(article)
        found: dict[str, list[tuple[int, int]]] = {}
        for index, start, end in self._automaton.find_matches_as_indexes(
            text.folded, overlapping=True
        ):
            found.setdefault(self._patterns[index], []).append((start, end))
        if not found:
            return [], []
        split, roundup = text.split, text.roundup
        candidates: set[int] = set()
        # Topics of one clause, by the key alone (most topics: anchors and context).
        single_any, single_title = self._single_any, self._single_title
        for k, occ in found.items():
            if k in single_any:
                candidates.update(single_any[k])
            if k in single_title and (occ[0][0] < split or (roundup and _titled(text, occ))):
                candidates.update(single_title[k])
        if self._postings or self._index:
            satisfied: dict[int, set[int]] = {}
            # The postings by key (a str look-up, not a tuple's), and a key's title
            # test only where a ``title:`` posting asks for it.
            for k in found.keys() & self._postings_any.keys():
                for n, ci in self._postings_any[k]:
                    satisfied.setdefault(n, set()).add(ci)
            for k in found.keys() & self._postings_title.keys():
                occ = found[k]
                if occ[0][0] < split or (roundup and _titled(text, occ)):
                    for n, ci in self._postings_title[k]:
                        satisfied.setdefault(n, set()).add(ci)
            candidates.update(
                n
                for n, cs in satisfied.items()
                if len(cs) == len(self._compiled[n].clauses)  # type: ignore[arg-type]
            )
            if self._index:
                present = {("any", k) for k in found}
                present |= {
                    ("title", k)
                    for k, occ in found.items()
                    if occ[0][0] < split or (roundup and _titled(text, occ))
                }
                for key in found:
                    candidates.update(
                        n for n in self._index.get(key, ()) if self._compiled[n].possible(present)
                    )
        run = _Run(self, text, found)
        # For could_count, by set operations per key rather than loops per topic:
        # the candidates with a one-term anchor present, and each one's one-term
        # context keys present.
        anchored: set[int] = set()
        context: dict[int, list[str]] = {}
        anchor_of, context_of = self._anchor_of, self._context_of
        for key in found:
            if key in anchor_of:
                anchored.update(anchor_of[key])
            if key in context_of:
                for n in context_of[key]:
                    if n in context:
                        context[n].append(key)
                    else:
                        context[n] = [key]
        matches = []
        for n in sorted(candidates):
            c = self._compiled[n]
            if n not in anchored:
                singles = context.get(n, ())
                # could_count's most common answer (three in four of its calls at 500
                # topics), without the call: one context term where two are asked for.
                if (
                    c.lone_fails
                    and len(singles) == 1
                    and singles[0] not in c.twice
                    and not (c.multi and _any_all_present(c.multi, found))
                ):
                    continue
                if not run.could_count(c, singles):
                    continue
            m = run.match_topic(c)
            if m is not None:
                matches.append(m)
        return matches, run.missed


class _Occ(NamedTuple):
    """A verified occurrence of a counted entry, in haystack offsets (a named tuple:
    thousands are made per second)."""

    term: str  # the entry's key
    start: int
    end: int
    parts: tuple[tuple[int, int], ...] = ()  # a NEAR entry: where its two terms are

    @property
    def spans(self) -> tuple[tuple[int, int], ...]:
        """What to mark: the term, or a NEAR entry's two terms."""
        return self.parts or ((self.start, self.end),)


class _Run:
    """Matching one article: its candidate occurrences and verified hits."""

    def __init__(self, matcher: Matcher, text: _Text, found: dict[str, list[tuple[int, int]]]):
        self.m = matcher
        self.text = text
        self.found = found
        self.keys = set(found)  # for set operations against each topic's keys
        self.bounds: dict[int, list[int]] = {}  # story number → sentence ends in its body
        self.checked: dict[tuple[int, int], bool] = {}
        self.verified: dict[rules.Term, list[tuple[int, int]]] = {}
        self.chars: dict[int, int] = {}  # story number → characters of text
        self.story_hits: dict[tuple[int, rules.Term], list[TermHit]] = {}
        # A word's verified occurrences as _Occ, by entry key (which names one term):
        # made once per article, whichever topics count the word.
        self.occs: dict[str, list[_Occ]] = {}
        self.term_hits: dict[_Occ, TermHit] = {}  # a plain occurrence → its hit
        self.missed: list[NearMiss] = []  # topics whose best story scored under min_score

    def is_word(self, start: int, end: int) -> bool:
        key = (start, end)
        if key not in self.checked:
            self.checked[key] = self.m.segmenter.is_word_at(self.text.folded, start, end)
        return self.checked[key]

    def spans(self, term: rules.Term) -> list[tuple[int, int]]:
        """Verified occurrences of a term in haystack offsets (words checked with jieba)."""
        found = self.verified.get(term)
        if found is None:
            found = self.verified[term] = self._verify(term)
        return found

    def _verify(self, term: rules.Term) -> list[tuple[int, int]]:
        # is_word inline: tens of thousands of occurrences a second at 500 topics,
        # each asked once per article whichever terms share it.
        spans = self.found.get(self.m._folded(term.text))
        if not spans:
            return []
        if term.field == "title":
            spans = [span for span in spans if self.text.in_title(*span)]
        if term.kind == "phrase":
            return list(spans)
        checked, folded = self.checked, self.text.folded
        is_word_at = self.m.segmenter.is_word_at
        out = []
        for span in spans:
            ok = checked.get(span)
            if ok is None:
                ok = checked[span] = is_word_at(folded, span[0], span[1])
            if ok:
                out.append(span)
        return out

    def ignored(self, topic: Topic) -> list[tuple[int, int]]:
        """Verified occurrences of the words the topic ignores."""
        return [span for term in topic.ignore for span in self.spans(term)]

    def hits_in(
        self, story: Story, ignored: Sequence[tuple[int, int]] = ()
    ) -> Callable[[rules.Term], list[TermHit]]:
        """The hit source rules.evaluate asks, limited to one story, without what lies
        inside an ignored word. Without ignored words the lists are shared by every
        topic asking about the same story.

        The story's headline is the field ``title`` — for a roundup's sub-story, its
        own title line too, so ``title:`` terms hold there (and, as in any headline,
        NEAR does not pair it with the text); title offsets are haystack offsets,
        which keeps the two apart."""
        split = self.text.split

        def hits(term: rules.Term) -> list[TermHit]:
            key = (story.number, term)
            if not ignored and key in self.story_hits:
                return self.story_hits[key]
            out = []
            for s, e in self.spans(term):
                if story.contains(s, e) and not _inside(s, e, ignored):
                    if s < split or story.in_head(s, e):
                        name, base = "title", 0
                    else:
                        name, base = "body", split
                    out.append(TermHit(term.text, name, s - base, e - base, self.text.sentence(s)))
            if not ignored:
                self.story_hits[key] = out
            return out

        return hits

    def could_count(self, c: _Compiled, singles: Sequence[str]) -> bool:
        """The anchor/context rule (:func:`_on_topic`) on unverified occurrences: False
        only where no story can satisfy it, so most context-only candidates end here
        without jieba (verifying, ignored words and longer terms only take away).

        Asked of topics with no one-term anchor present; ``singles``: the topic's
        one-term context keys that are present."""
        if not c.anchor_keys and not c.context_keys:
            return True
        if c.multi and _any_all_present(c.multi, self.found):
            return True  # NEAR spans vary
        if not singles:
            return False
        if c.twice and not c.twice.isdisjoint(singles):
            return True  # two entries folding alike: two terms at one place
        if len(singles) == 1 and not c.topic.lead_context:
            return False  # one context term, and the topic asks for two
        # _on_topic on candidates: a context term in the headline or lead (enough, or
        # with another term, if the topic says lead_context: false), or two terms'
        # occurrences close together.
        found = self.found
        occs = sorted((s, e, k) for k in singles for s, e in found[k])
        if self.text.roundup:  # sub-stories have titles of their own: each story asked
            return any(_could_hold(st, occs, c.topic.lead_context) for st in self.text.stories)
        limit = self.text.split + LEAD_CHARS + _DATELINE_CHARS  # past any lead
        if occs[0][0] < limit and (c.topic.lead_context or len(singles) > 1):
            return True
        return len(singles) > 1 and _close_pair(occs)

    def match_topic(self, c: _Compiled) -> Match | None:
        topic = c.topic
        if c.places and not any(
            self.is_word(s, e) for p in c.places for s, e in self.found.get(p, ())
        ):
            return None
        ignored = self.ignored(topic) if topic.ignore else []
        occs = self._counted(c)
        if ignored:
            occs = [o for o in occs if not _inside(o.start, o.end, ignored)]
        paired = bool(c.nears) and any(o.parts for o in occs)  # NEAR pairs found
        # An exclusion none of whose terms occurs cannot hold (it must require one).
        exclude = topic.exclude if not c.exclude_keys.isdisjoint(self.keys) else None
        best: tuple[float, Story, list[_Occ], dict[str, float], set[str]] | None = None
        for story in self.text.stories:
            if story.number == 0:  # the whole article: every occurrence but across the split
                split = self.text.split
                inside = [o for o in occs if o.start >= split or o.end < split]
            else:
                # Story.contains, inline (asked for every occurrence of every story).
                b0, b1 = story.body
                h1 = story.heads[0][1]  # the headline: (0, its length)
                t0, t1 = story.heads[1] if len(story.heads) > 1 else (0, -1)
                inside = [
                    o
                    for o in occs
                    if (b0 <= o.start and o.end <= b1)
                    or o.end <= h1
                    or (t0 <= o.start and o.end <= t1)
                ]
            if not inside:
                continue
            if paired:
                inside = _pairs_take_their_parts(inside, c.roles)
            if topic.written_query or exclude is not None:
                hits = self.hits_in(story, ignored)
                # A query made of the anchors and context holds wherever one counts.
                if topic.written_query and not rules.evaluate(topic.query, hits):
                    continue
                if exclude is not None and rules.evaluate(exclude, hits):
                    continue
            if (topic.anchors or topic.context) and not _on_topic(c, story, inside):
                continue
            values, heads = self._salience(c, story, inside)
            total = score(values.values())
            if best is None or total > best[0]:
                best = (total, story, inside, values, heads)
        if best is None:
            return None
        if best[0] < topic.min_score:
            self.missed.append(NearMiss(topic.id, topic.version, round(best[0], _SCORE_DIGITS)))
            return None
        total, story, inside, values, heads = best
        return self._match(c, story, inside, total, values, heads, ignored)

    def word_occs(self, term: rules.Term, name: str) -> list[_Occ]:
        """A counted word's verified occurrences as _Occ, in order of start: made once
        per article, whichever topics count the word (callers copy before changing)."""
        got = self.occs.get(name)
        if got is None:
            got = self.occs[name] = [_Occ(name, s, e) for s, e in self.spans(term)]
        return got

    def _counted(self, c: _Compiled) -> list[_Occ]:
        """Verified occurrences of the topic's counted terms, those inside a longer
        one's occurrence left out (隐患 in 安全隐患 counts for 安全隐患 only). The list
        may be one word's shared list (:meth:`word_occs`): not to be changed."""
        word_one = c.word_one
        if word_one is not None and not c.nested:  # (most topics)
            # Each folded key is one word and none holds another, so no two
            # occurrences share a start (the shorter word would be a prefix of the
            # longer): _uncovered's order is by start alone, nothing to drop.
            words = c.words
            present = self.keys.intersection(word_one)
            if len(present) == 1:  # (one word: its own list is in that order)
                term, name, _folded = words[word_one[present.pop()]]
                single = self.word_occs(term, name)
            else:
                single = []
                for k in present:
                    term, name, _folded = words[word_one[k]]
                    single += self.word_occs(term, name)
                single.sort(key=_start)
        else:
            at = c.word_at
            present_at = sorted(i for k in self.keys.intersection(at) for i in at[k])  # words order
            if c.nested:
                single = _uncovered(self._outermost(c, present_at))
            else:
                every = []
                for i in present_at:
                    term, name, _folded = c.words[i]
                    every += self.word_occs(term, name)
                # No word of the topic holds another, so no occurrence lies inside a
                # longer one: _uncovered's order without its covering test.
                single = sorted(dict.fromkeys(every), key=_by_start_longest)
        # A NEAR entry occurs where its two terms do, near enough: one occurrence per
        # pair, marked at both terms, covering nothing. A pair with a term inside a
        # longer counted occurrence is partly that occurrence again (老旧小区 NEAR 改造
        # in 老旧小区改造, 投资 NEAR 亿元 in 完成投资50亿元): it is left out, as a term
        # inside a longer one is.
        if not c.nears:
            return single
        # (Both terms must occur: neither is word-checked where the other is absent.)
        keys = self.found
        found = [
            (name, a, b)
            for entry, name, left, right in c.nears
            if left in keys and right in keys
            for a, b in self.near_pairs(entry)
        ]
        if not found:
            return single
        spans = [(o.start, o.end) for o in single]
        pairs = [
            _Occ(name, min(a[0], b[0]), max(a[1], b[1]), (a, b))
            for name, a, b in found
            if not _inside(*a, spans) and not _inside(*b, spans)
        ]
        return single + pairs

    def _outermost(self, c: _Compiled, present: Sequence[int]) -> list[_Occ]:
        """The topic's verified word occurrences, in words order, without those that
        :func:`_uncovered` would drop anyway: a candidate inside a longer verified one
        is not checked at all (隐患 inside a verified 安全隐患)."""
        cands = [
            (term, name, s, e)
            for term, name, folded in (c.words[i] for i in present)
            for s, e in self.found.get(folded, ())
            if term.field != "title" or self.text.in_title(s, e)
        ]
        kept: list[tuple[int, int]] = []  # verified spans, longest first
        ok: set[int] = set()
        for n in sorted(range(len(cands)), key=lambda n: cands[n][2] - cands[n][3]):
            term, _name, s, e = cands[n]
            if any(a <= s and e <= b and b - a > e - s for a, b in kept):
                continue
            if term.kind == "phrase" or self.is_word(s, e):
                ok.add(n)
                kept.append((s, e))
        return [_Occ(name, s, e) for n, (_t, name, s, e) in enumerate(cands) if n in ok]

    def near_pairs(self, entry: rules.Near) -> list[tuple[tuple[int, int], tuple[int, int]]]:
        """Verified occurrences of both terms of a NEAR entry that are near each other."""
        lefts, rights = self.spans(entry.left), self.spans(entry.right)
        if not lefts or not rights:
            return []
        out = []
        split, distance, sentence = self.text.split, entry.distance, self.text.sentence
        # NEAR without a distance: in one sentence, each occurrence's found once.
        where = [sentence(b[0]) for b in rights] if distance is None else []
        for a in lefts:
            here = sentence(a[0]) if distance is None else 0
            for i, b in enumerate(rights):
                first, second = (a, b) if a <= b else (b, a)
                if first[1] > second[0] or (first[0] < split) != (second[0] < split):
                    continue  # one occurrence, or one in the headline and one in the body
                if here == where[i] if distance is None else second[0] - first[1] <= distance:
                    out.append((a, b))
        return out

    def _salience(
        self, c: _Compiled, story: Story, inside: list[_Occ]
    ) -> tuple[dict[str, float], set[str]]:
        """Each counted term's weight × salience in one story, and the terms in its
        headline."""
        chars = self.chars.get(story.number)
        if chars is None:
            # Characters of text, not of layout: a PDF's line breaks change no score.
            stretch = self.text.folded[story.body[0] : story.body[1]]
            chars = self.chars[story.number] = sum(map(len, stretch.split()))
        # Per term, in order of first occurrence: in the headline, in the lead, body hits.
        seen: dict[str, list[int]] = {}
        heads = story.heads
        lead0, lead1 = story.lead
        # Story.in_head and Story.in_lead, inline (asked for every occurrence).
        head0, head1 = heads[0] if len(heads) == 1 else (0, -1)
        for o in inside:
            row = seen.get(o.term)
            if row is None:
                row = seen[o.term] = [0, 0, 0]
            start = o.start
            if (head0 <= start and o.end <= head1) or (
                len(heads) > 1 and story.in_head(start, o.end)
            ):
                row[0] = 1
            else:
                row[2] += 1
            if not row[1] and lead0 <= start < lead1:
                row[1] = 1
        weights = c.weights
        out = {}
        in_head = set()
        for term, (head, lead, body) in seen.items():
            out[term] = weights[term] * salience(bool(head), bool(lead), body, chars)
            if head:
                in_head.add(term)
        return out, in_head

    def _match(
        self,
        c: _Compiled,
        story: Story,
        inside: list[_Occ],
        total: float,
        values: dict[str, float],
        heads: set[str],
        ignored: Sequence[tuple[int, int]],
    ) -> Match:
        topic = c.topic
        counts: dict[str, int] = {}
        paired = False
        for o in inside:
            counts[o.term] = counts.get(o.term, 0) + 1
            if o.parts:
                paired = True
        if len(counts) == 1:  # (most matches: nothing to order)
            terms = tuple(counts.items())
        else:
            order = c.order
            terms = tuple(sorted(counts.items(), key=lambda tc: order[tc[0]]))
        roles = c.roles
        if len(values) == 1:
            strongest = next(iter(values))
        else:
            strongest = max(values, key=lambda t: (roles[t] == "anchor", values[t]))
        snippet, marks = _snippet(self.text, story, inside, roles, strongest)
        return Match(
            topic_id=topic.id,
            topic_version=topic.version,
            score=round(total, _SCORE_DIGITS),
            terms=terms,
            hits=self._hits(inside, paired),
            clause=self._why(c, story, terms, heads, ignored),
            snippet=snippet,
            marks=marks,
        )

    def _hits(self, inside: list[_Occ], paired: bool) -> tuple[TermHit, ...]:
        """The match's hits: title hits first, then body hits, each by start — in
        haystack offsets (the headline before the split) that is by start alone.
        Each TermHit is made once per article, whichever topics it is a hit of."""
        made = self.term_hits
        split = self.text.split
        if paired:  # a NEAR entry is marked at its two terms
            occs = sorted((_Occ(o.term, s, e) for o in inside for s, e in o.spans), key=_start)
        else:  # already by start: made in that order, and only ever filtered since
            occs = inside
        hits = []
        for o in occs:
            hit = made.get(o)
            if hit is None:
                s, e = o.start, o.end
                if s < split:
                    hit = made[o] = TermHit(o.term, "title", s, e)
                else:
                    hit = made[o] = TermHit(o.term, "body", s - split, e - split)
            hits.append(hit)
        return tuple(hits)

    def _why(
        self,
        c: _Compiled,
        story: Story,
        terms: tuple[tuple[str, int], ...],
        heads: set[str],
        ignored: Sequence[tuple[int, int]],
    ) -> str:
        """The anchor and context terms that counted (a query-only topic: the clause
        that fired), with the sub-story they are in."""
        where = f"sub-story {story.number}: " if story.number else ""
        if not (c.topic.anchors or c.topic.context):
            hits = self.hits_in(story, ignored)
            return where + (rules.explain(c.topic.query, hits) or rules.to_text(c.topic.query))
        roles = c.roles
        anchors: list[str] = []
        context: list[str] = []
        for term, n in terms:
            shown = term if n == 1 else f"{term} ×{n}"
            if term in heads:
                shown += " (headline)"
            (anchors if roles[term] == "anchor" else context).append(shown)
        parts = []
        if anchors:
            parts.append("anchors: " + ", ".join(anchors))
        if context:
            parts.append("context: " + ", ".join(context))
        return where + "; ".join(parts)


def _on_topic(c: _Compiled, story: Story, inside: list[_Occ]) -> bool:
    """An anchor; or one context term in the headline or lead (unless the topic says
    ``lead_context: false``); or two different context terms, close together (at most
    CONTEXT_WINDOW characters apart) or one of them in the headline or lead.

    Different means neither holds the other: 安全隐患 in the headline and 隐患 in the
    text are one word twice, not two pieces of evidence. Nor are two occurrences that
    share characters or touch: 安全隐患排查 is one phrase, not 安全隐患 and 隐患排查.
    """
    roles = c.roles
    for o in inside:
        if roles[o.term] != "context":
            return True  # an anchor
    context = sorted(inside, key=_start)
    leading = [o for o in context if story.in_head(o.start, o.end) or story.in_lead(o.start)]
    if leading and c.topic.lead_context:
        return True
    for first in leading:
        if any(_different(first.term, o.term) and _apart(first, o) for o in context):
            return True
    for i, o in enumerate(context):
        for other in context[i + 1 :]:
            if other.start - o.end > CONTEXT_WINDOW:
                break
            if _different(o.term, other.term) and _apart(o, other):
                return True
    return False


def _any_all_present(entries: Iterable[Sequence[str]], found: Container[str]) -> bool:
    """Do all keys of one of the entries (a NEAR entry's two terms) occur?"""
    for keys in entries:
        for k in keys:
            if k not in found:
                break
        else:
            return True
    return False


def _titled(text: _Text, occs: Sequence[tuple[int, int]]) -> bool:
    """Does one of a key's candidate occurrences lie where a ``title:`` term may?"""
    return any(text.in_title(s, e) for s, e in occs)


def _close_pair(occs: Sequence[tuple[int, int, str]]) -> bool:
    """Are two occurrences (start, end, key) of different keys, in order of start, at
    most CONTEXT_WINDOW characters apart?"""
    for i, (_, end, key) in enumerate(occs):
        for start, _, other in occs[i + 1 :]:
            if start - end > CONTEXT_WINDOW:
                break  # later ones start later still
            if other != key:
                return True
    return False


def _could_hold(story: Story, occs: Sequence[tuple[int, int, str]], lead_context: bool) -> bool:
    """:func:`_on_topic` for one story on unverified context occurrences (start, end,
    key), in order: False only where the verified ones cannot satisfy it."""
    mine = [o for o in occs if story.contains(o[0], o[1])]
    if not mine:
        return False
    several = len({k for _, _, k in mine}) > 1
    if (lead_context or several) and any(
        story.in_head(s, e) or story.in_lead(s) for s, e, _ in mine
    ):
        return True
    return several and _close_pair(mine)


def _apart(a: _Occ, b: _Occ) -> bool:
    """Two occurrences that neither share a character nor touch: 风险隐患排查 holds
    风险隐患 and 隐患排查 in one stretch, 秋粮播种 is one compound — one piece of
    evidence each."""
    return a.end < b.start or b.end < a.start


def _different(a: str, b: str) -> bool:
    """Two entries that are not one word twice (隐患 and 安全隐患 are not different)."""
    return a not in b and b not in a


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
    parts = [_cnf(c, folded) for c in node.children]
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


def _inside(start: int, end: int, spans: Sequence[tuple[int, int]]) -> bool:
    """Does [start, end) lie within one of ``spans`` (and is it not that span itself)?"""
    return any(s <= start and end <= e and (s, e) != (start, end) for s, e in spans)


# An occurrence's start, as a sort key (in C: sorts of occurrences are per match).
_start: Callable[[_Occ], int] = operator.attrgetter("start")


def _by_start_longest(o: _Occ) -> tuple[int, int]:
    return (o.start, -o.end)


def _pairs_take_their_parts(inside: list[_Occ], roles: dict[str, str]) -> list[_Occ]:
    """One story's occurrences, without a term's occurrence that is one of a NEAR
    pair's two in the story: 老旧小区 in 老旧小区…更新 counts for 老旧小区 NEAR 更新
    only. An anchor stays beside a context pair (more evidence never unmatches)."""
    taken: dict[tuple[int, int], bool] = {}  # part → taken by an anchor pair
    for o in inside:
        if o.parts:
            anchor = roles[o.term] == "anchor"
            for part in o.parts:
                taken[part] = taken.get(part, False) or anchor
    if not taken:
        return inside
    return [
        o
        for o in inside
        if o.parts
        or (o.start, o.end) not in taken
        or (roles[o.term] == "anchor" and not taken[(o.start, o.end)])
    ]


def _uncovered(occs: Sequence[_Occ]) -> list[_Occ]:
    """The occurrences that are not part of a longer term's occurrence, in order."""
    # dict.fromkeys, not set: equal spans of two terms stay in the order given.
    ordered = sorted(dict.fromkeys(occs), key=_by_start_longest)
    out = []
    reach: list[tuple[int, int]] = []  # (end, length) of earlier occurrences still open
    for o in ordered:
        reach = [r for r in reach if r[0] > o.start]
        if not any(end >= o.end and length > o.end - o.start for end, length in reach):
            out.append(o)
        reach.append((o.end, o.end - o.start))
    return out


def _snippet(
    text: _Text, story: Story, occs: Sequence[_Occ], roles: dict[str, str], strongest: str
) -> tuple[str, tuple[tuple[int, int], ...]]:
    """The sentence (or two) of the story that shows why, ~120 characters, and the hit
    ranges inside it.

    It holds an anchor where the story's body has one, else the strongest term;
    among such sentences, the one with the most distinct terms. A sub-story's title
    goes in front (``title：sentence``), so the reader sees which story it was.
    """
    base, stop = story.body
    inner = sorted((o for o in occs if base <= o.start and o.end <= stop), key=_start)
    # The terms the sentence must show: what the snippet depends on besides the
    # occurrences, so topics counting the same occurrences alike share it (one
    # match in four at 500 topics: the same broad anchor in several topics).
    wanted = (
        frozenset(o.term for o in inner if roles.get(o.term) == "anchor")
        or frozenset(o.term for o in inner if o.term == strongest)
        or frozenset(o.term for o in inner)
    )
    # A sub-story's title line is marked where any occurrence lies in it; the body by
    # the inner ones alone.
    key = (story.number, tuple(occs) if len(story.heads) > 1 else tuple(inner), wanted)
    made = text.snippets.get(key)
    if made is None:
        made = text.snippets[key] = _make_snippet(text, story, occs, inner, wanted)
    return made


def _make_snippet(
    text: _Text, story: Story, occs: Sequence[_Occ], inner: Sequence[_Occ], wanted: frozenset[str]
) -> tuple[str, tuple[tuple[int, int], ...]]:
    base, stop = story.body
    raw_body = text.bodies.get(story.body)
    if raw_body is None:  # once per story, as its sentence bounds below
        raw_body = text.bodies[story.body] = text.raw[base:stop]
    title = ""
    title_marks: list[tuple[int, int]] = []
    if story.number and len(story.heads) > 1:
        s, e = story.heads[1]
        line = text.raw[s:e]
        title = line.strip() + "："
        shift = len(line) - len(line.lstrip())
        title_marks = [
            (a - s - shift, b - s - shift) for o in occs for a, b in o.spans if s <= a and b <= e
        ]
    bounds = text.bounds.get(story.body)
    if bounds is None:  # once per story, whichever topics it gives a snippet for
        body = text.folded[story.body[0] : story.body[1]]
        bounds = [0, *[m.end() for m in SENTENCE_END.finditer(body)], len(body)]
        text.bounds[story.body] = bounds
    snippet, marks = _best_sentence(raw_body, base, inner, wanted, bounds)
    if not title:
        return snippet, marks  # merged already
    marks = tuple((a + len(title), b + len(title)) for a, b in marks)
    return title + snippet, merge_ranges([*title_marks, *marks])


def _best_sentence(
    raw: str,
    base: int,
    occs: Sequence[_Occ],
    wanted: frozenset[str],
    bounds: Sequence[int],
) -> tuple[str, tuple[tuple[int, int], ...]]:
    """``bounds``: 0, the end of each sentence of the (folded) body, its length;
    ``wanted``: the terms (of ``occs``) of which the sentence must hold one."""
    if not occs:
        flat = " ".join(raw[:SNIPPET_CHARS].split())
        return (flat + ("…" if len(raw) > SNIPPET_CHARS else ""), ())
    hits: list[tuple[str, int, int]] = []  # (term, start, end) in the body
    for o in occs:
        if o.parts:  # a NEAR entry: its two terms
            hits += [(o.term, a - base, b - base) for a, b in o.parts]
        else:
            hits.append((o.term, o.start - base, o.end - base))
    # The sentence n of each hit: bounds[n] <= start < bounds[n + 1].
    where = bisect.bisect_right
    numbers = [where(bounds, h[1]) - 1 for h in hits]
    n = numbers[0]
    if min(numbers) != max(numbers):  # (most snippets: all hits in one sentence)
        # The hits of each sentence, in order.
        by_sentence: dict[int, list[tuple[str, int, int]]] = {}
        for h, m in zip(hits, numbers, strict=True):
            by_sentence.setdefault(m, []).append(h)
        best: tuple[int, int, int] | None = None  # (-distinct, -hits, sentence no)
        for m, in_sentence in by_sentence.items():
            if any(t in wanted for t, _, _ in in_sentence):
                key = (-len({t for t, _, _ in in_sentence}), -len(in_sentence), m)
                best = key if best is None or key < best else best
        assert best is not None
        n = best[2]
    start, end = bounds[n], bounds[n + 1]
    if end - start < SNIPPET_CHARS // 2 and n + 2 < len(bounds):
        end = bounds[n + 2]  # a short sentence reads better with the next one
    if end - start > SNIPPET_CHARS:
        # Keep the wanted hit in view, with some context before it.
        first = next(h[1] for h in hits if start <= h[1] and h[0] in wanted)
        start = max(start, min(first - 20, end - SNIPPET_CHARS))
        end = min(end, start + SNIPPET_CHARS)
    piece = raw[start:end]
    lead = "…" if start > 0 and bounds[n] != start else ""
    tail = "…" if end < len(raw) and SENTENCE_END.match(raw[end - 1]) is None else ""
    flat = piece.replace("\n", " ").strip()
    shift = len(lead) - (len(piece) - len(piece.lstrip())) - start
    marks = [(s + shift, e + shift) for _, s, e in hits if start <= s and e <= end]
    return lead + flat + tail, (tuple(marks) if len(marks) < 2 else merge_ranges(marks))


def merge_ranges(ranges: Iterable[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    """Overlapping or touching (start, end) ranges merged, in order."""
    out: list[tuple[int, int]] = []
    for s, e in sorted(ranges):
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return tuple(out)


# Up to this many watched terms, ``str.__contains__`` per term beats an automaton
# pass (52,441 folded articles: 1 term 0.04 s against 0.08–0.16 s, 5 terms 0.11 s
# against 0.20–0.45 s); beyond, the automaton's single pass wins.
_FEW_TERMS = 8


class TermWatch:
    """Which topics' watched terms occur in an article, found as :class:`Matcher` finds
    occurrences (as substrings of the folded headline and body): a re-match after an
    edit of a few terms reads only the articles holding one of them."""

    def __init__(self, terms: Mapping[str, Iterable[str]]) -> None:
        by_key: dict[str, set[str]] = {}
        for topic, words in terms.items():
            for word in words:
                if key := fold(word):
                    by_key.setdefault(key, set()).add(topic)
        self._keys = sorted(by_key)
        self._topics = [frozenset(by_key[k]) for k in self._keys]
        self._automaton = (
            ahocorasick_rs.AhoCorasick(
                self._keys,
                matchkind=ahocorasick_rs.MatchKind.Standard,
                implementation=ahocorasick_rs.Implementation.DFA,
            )
            if len(self._keys) > _FEW_TERMS
            else None
        )

    def topics_in(self, article: Article) -> set[str]:
        """The topics one of whose watched terms occurs in ``article``."""
        if not self._keys or article.kind != "article":
            return set()
        folded = _Text(article).folded
        found: set[str] = set()
        if self._automaton is None:
            for key, topics in zip(self._keys, self._topics, strict=True):
                if key in folded:
                    found |= topics
            return found
        for index, _start, _end in self._automaton.find_matches_as_indexes(
            folded, overlapping=True
        ):
            found |= self._topics[index]
        return found


# --- the compiled matcher -------------------------------------------------------------
# setup.py compiles a copy of this module (everything above the line) with mypyc, as
# watcher._native_matcher; its Matcher is used while the package's modules are the ones
# it was built from (watcher/native.py), else this one. WATCHER_PURE=1 keeps this one.
# The pure class stays at hand as PureMatcher; RUNS says which one runs, in words.

PureMatcher = Matcher
_compiled, RUNS = native.compiled_matcher(Path(__file__).resolve().parent)
Matcher = _compiled or PureMatcher  # type: ignore[misc]
COMPILED = Matcher is not PureMatcher

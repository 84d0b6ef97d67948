"""Matches → the digest of a day (pure): grouping, ranking, reprints, trends.

The pipeline gathers the inputs from the store — the articles first seen in
the digest's window with their matches, past days' counts, the scan figures —
and this module turns them into a :class:`~watcher.models.Digest`, which is
then stored as JSON and never rebuilt: rendering a day again reproduces it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import msgspec

from watcher.matcher import merge_ranges
from watcher.models import (
    Article,
    Digest,
    DigestItem,
    DigestStats,
    Match,
    ReprintGroup,
    TopicSection,
    WeeklyDigest,
    WeeklyItem,
    WeeklyTopic,
)
from watcher.watchlists import Topic

# Reprints. Character 4-grams of the text without punctuation; a pair is the
# same story when most of the smaller text's shingles are in the other's
# (containment), which also catches a copy cut short. Tuned on the seeds and
# edited copies of them (tests/test_digest.py): edited, reflowed,
# re-punctuated, retitled and truncated copies have containment ≥ 0.75;
# different seed stories ≤ 0.2. Every pair at or above the threshold is found
# exactly, at any window size (see ``_similar_pairs``).
SHINGLE = 4
CONTAINMENT = 0.6
MIN_CHARS = 60  # shorter texts (captions, briefs) are never grouped
LOOKUPS = 16  # shingles looked up beyond the prefix, so that a count can rule pairs out
PUNCT = set("，。、；：？！“”‘’（）《》【】—…·,.;:?!\"'()[]- \n\t\u3000")
_DROP = str.maketrans(dict.fromkeys(PUNCT))
NO_DIGEST = -1  # in a trend: no digest that day, or the topic was not watched yet


@dataclass(frozen=True)
class Candidate:
    """One matched article in the window, as the pipeline hands it over."""

    doc_sha256: str
    file: str
    article: Article
    first_seen: dt.datetime
    matches: tuple[Match, ...]

    @property
    def key(self) -> str:
        return f"{self.doc_sha256[:16]}-{self.article.index}"

    @property
    def label(self) -> str:
        """How a reprint is named: 株洲日报 A01."""
        a = self.article
        return " ".join(x for x in (a.newspaper or "未知报纸", a.page) if x)


def shingles(text: str) -> set[str]:
    """Character 4-grams of the text with punctuation and spaces removed."""
    s = text.translate(_DROP)
    return {s[i : i + SHINGLE] for i in range(max(0, len(s) - SHINGLE + 1))}


def containment(a: set[str], b: set[str]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / min(len(a), len(b))


def reprint_groups(texts: Sequence[str]) -> list[list[int]]:
    """Groups of indices whose texts are the same story; singletons included.

    Two texts are joined when their containment is at least CONTAINMENT, and
    groups are closed under that (a copy of a copy is in the group). Order
    inside a group and of groups follows the input order.
    """
    sets = [shingles(t) if len(t) >= MIN_CHARS else set() for t in texts]
    parent = list(range(len(texts)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in _similar_pairs(sets):
        a, b = root(i), root(j)
        if a != b:
            parent[max(a, b)] = min(a, b)
    groups: dict[int, list[int]] = {}
    for i in range(len(texts)):
        groups.setdefault(root(i), []).append(i)
    return sorted(groups.values(), key=lambda g: g[0])


def _needed(n: int) -> int:
    """The fewest shared shingles that make a set of ``n`` contained: the least k
    with k / n ≥ CONTAINMENT, computed as the check itself computes it."""
    k = max(1, math.ceil(CONTAINMENT * n))
    while k > 1 and (k - 1) / n >= CONTAINMENT:
        k -= 1
    while k / n < CONTAINMENT:
        k += 1
    return k


def _similar_pairs(sets: Sequence[set[str]]) -> Iterator[tuple[int, int]]:
    """Every pair (i, j) whose containment is at least CONTAINMENT, each once.

    Prefix filtering, exact. The smaller set A of a pair must share k =
    ``_needed(|A|)`` shingles with B, so any |A| − k + 1 of A's shingles include
    one of B's. A shingle no other text has cannot be shared; most texts have
    more of those than |A| − k + 1 and are done with set operations alone. The
    others look up their rarest shared shingles in an inverted index: LOOKUPS
    more than that many, so that a text found by only one or two rare shingles
    (a name two stories share) is ruled out by the count alone — B can share
    at most the hits found plus the shared shingles not looked up. Only the rest
    get the exact check. Linear in the window's shingles plus the postings of
    the shingles looked up (on 3,000 新闻联播 articles: about 500 exact checks,
    instead of 4.5 million pairs).
    """
    seen: set[str] = set()
    repeated: set[str] = set()  # shingles of at least two texts
    for s in sets:
        repeated |= s & seen
        seen |= s
    del seen
    probes: dict[int, tuple[set[str], int]] = {}  # text → its shared shingles, how many to use
    for i, s in enumerate(sets):
        n = len(s)
        if n == 0:
            continue
        shared = s & repeated
        prefix = n - _needed(n) + 1
        unique = n - len(shared)  # the rarest of all: no other text has them
        if shared and unique < prefix:
            probes[i] = (shared, min(len(shared), prefix - unique + LOOKUPS))
    if not probes:
        return
    # Rarity among the texts that look up: an order that keeps the look-ups short
    # (any order is exact; counting over every text costs more than it saves).
    df: Counter[str] = Counter()
    for shared, _ in probes.values():
        df.update(shared)
    chosen: dict[int, tuple[list[str], int]] = {}
    for i, (shared, k) in probes.items():
        # B shares at most the hits among these k plus the len(shared) - k not looked up.
        chosen[i] = (
            sorted(shared, key=df.__getitem__)[:k],
            _needed(len(sets[i])) - len(shared) + k,
        )
    del probes
    wanted = set().union(*(grams for grams, _ in chosen.values()))
    postings: dict[str, list[int]] = {g: [] for g in wanted}
    for j, s in enumerate(sets):
        for g in s & wanted:
            postings[g].append(j)
    for i, (grams, hits_needed) in chosen.items():
        n = len(sets[i])
        hits: Counter[int] = Counter()
        for g in grams:
            hits.update(postings[g])
        for j in sorted(hits):
            m = len(sets[j])
            # The smaller set probes (of two the same size, both do: keep i < j).
            if m < n or (m == n and j <= i) or hits[j] < hits_needed:
                continue
            if containment(sets[i], sets[j]) >= CONTAINMENT:
                yield (i, j) if i < j else (j, i)


def build_digest(
    *,
    day: dt.date,
    timezone: str,
    produced_at: dt.datetime,
    since: dt.datetime | None,
    topics: Sequence[Topic],
    candidates: Sequence[Candidate],
    history: Mapping[dt.date, Mapping[str, int]],
    stats: DigestStats,
    notices: Sequence[str] = (),
    max_per_topic: int = 10,
) -> Digest:
    """The digest of ``day`` from the matched articles first seen in its window.

    Each section holds every matched story, best first (``items[:count]``, one
    item per story), then the other copies of those stories that matched the
    topic too (``items[count:]``, in the order of their stories). The digest
    lists the first ``count - more`` (at most ``max_per_topic``); the archive's
    page of the topic and day lists them all. Digests stored by older versions
    hold only the listed items, which the same arithmetic reads correctly.

    ``trend`` holds NO_DIGEST (-1) for a day without a digest, or one made
    before the topic existed; the 7-day average is over the days that have one.
    """
    # Reprints are found across all matched articles of the window, so a story
    # is one item wherever it appears, with the other copies as "also in".
    groups = reprint_groups([c.article.headline + "\n" + c.article.body for c in candidates])
    group_of = {i: g for g in groups for i in g}
    names = {t.id: t.name for t in topics}
    order = {t.id: n for n, t in enumerate(topics)}
    matched: dict[str, list[tuple[int, Match]]] = {t.id: [] for t in topics}
    for i, c in enumerate(candidates):
        for m in c.matches:
            if m.topic_id in matched:
                matched[m.topic_id].append((i, m))

    def rank(x: tuple[int, Match]) -> tuple[float, dt.datetime, str]:
        c = candidates[x[0]]
        return (-x[1].score, c.first_seen, c.key)

    def item(i: int, m: Match, topic_id: str) -> DigestItem:
        c = candidates[i]
        others = [candidates[j] for j in group_of[i] if j != i]
        also = tuple(dict.fromkeys(o.label for o in others if o.label != c.label))
        other_topics = tuple(
            names[x.topic_id]
            for x in sorted(c.matches, key=lambda x: order.get(x.topic_id, len(topics)))
            if x.topic_id != topic_id and x.topic_id in names
        )
        return _item(c, m, also, other_topics)

    sections = []
    for topic in topics:
        # Every copy of each story that matched this topic, the best first.
        stories: dict[int, list[tuple[int, Match]]] = {}
        for i, m in matched[topic.id]:
            stories.setdefault(group_of[i][0], []).append((i, m))
        copies = sorted((sorted(s, key=rank) for s in stories.values()), key=lambda s: rank(s[0]))
        leads = [item(*story[0], topic.id) for story in copies]
        rest = [item(i, m, topic.id) for story in copies for i, m in story[1:]]
        count = len(leads)
        past = [
            history[d].get(topic.id, NO_DIGEST) if (d := day - dt.timedelta(days=n)) in history
            else NO_DIGEST
            for n in range(13, 0, -1)
        ]  # fmt: skip
        # The average is over the past week's digests that exist; with no
        # history yet, today is its own baseline (the templates say so).
        week = [v for v in past[-7:] if v != NO_DIGEST]
        average = sum(week) / len(week) if week else float(count)
        sections.append(
            TopicSection(
                id=topic.id,
                name=topic.name,
                description=topic.description,
                items=(*leads, *rest),
                more=max(0, count - max_per_topic),
                count=count,
                average=round(average, 2),
                trend=(*past, count),
            )
        )
    return Digest(
        day=day,
        timezone=timezone,
        produced_at=produced_at,
        since=since,
        sections=tuple(sections),
        stats=stats,
        notices=tuple(notices),
    )


def build_published(
    *,
    first: dt.date,
    last: dt.date,
    timezone: str,
    produced_at: dt.datetime,
    topics: Sequence[Topic],
    candidates: Sequence[Candidate],
    stats: DigestStats,
    max_per_topic: int = 10,
) -> Digest:
    """The digest of the articles *published* on ``first``..``last`` (the pipeline hands
    over the matched ones, see ``Store.articles_published``), whenever they arrived.

    Grouped, ranked and listed as a daily digest is; it is dated ``last`` with
    ``published_from`` = ``first``, and each topic's ``trend`` holds its count per
    publication day of the range (oldest first; at most the last 14 days), its
    ``average`` the mean of those. An article whose paper shows no date is placed on
    the day its dateline names, and shown with that date.
    """
    placed = [
        c if c.article.date is not None else
        Candidate(c.doc_sha256, c.file, dataclasses.replace(c.article, date=c.article.event_date),
                  c.first_seen, c.matches)
        for c in candidates
    ]  # fmt: skip
    d = build_digest(
        day=last, timezone=timezone, produced_at=produced_at, since=None, topics=topics,
        candidates=placed, history={}, stats=stats, max_per_topic=max_per_topic,
    )  # fmt: skip
    n = min(14, (last - first).days + 1)
    days = [last - dt.timedelta(days=k) for k in range(n - 1, -1, -1)]
    sections = []
    for s in d.sections:
        per_day = Counter(i.date for i in s.items[: s.count])
        trend = tuple(per_day.get(x, 0) for x in days)
        average = s.count / ((last - first).days + 1)
        sections.append(dataclasses.replace(s, trend=trend, average=round(average, 2)))
    return dataclasses.replace(d, sections=tuple(sections), published_from=first)


def build_weekly(
    *,
    first: dt.date,
    timezone: str,
    produced_at: dt.datetime,
    topics: Sequence[Topic],
    digests: Mapping[dt.date, Digest],
    history: Mapping[dt.date, Mapping[str, int]],
    max_per_topic: int = 10,
) -> WeeklyDigest:
    """The summary of the 7 days from ``first``, from their stored daily digests.

    Per topic: the daily counts (NO_DIGEST for a day without a digest, or one before
    the topic existed), their sum against the week before's (``history``: every
    day's counts, as the store keeps them; None when no day of that week had the
    topic), the week's best stories (one per story: copies on other days or in
    other papers are grouped as a day's reprints are, by containment) and the
    stories printed more than once, with every copy. Ranked by score, then day.
    """
    days = [first + dt.timedelta(days=n) for n in range(7)]
    before = [first - dt.timedelta(days=n) for n in range(7, 0, -1)]
    sections = []
    for topic in topics:
        counts = []
        for d in days:
            section = _section(digests.get(d), topic.id)
            counts.append(section.count if section is not None else NO_DIGEST)
        past = [history[d][topic.id] for d in before if topic.id in history.get(d, {})]
        copies: list[tuple[dt.date, DigestItem]] = []
        for d in days:
            section = _section(digests.get(d), topic.id)
            if section is not None:
                copies += [(d, i) for i in section.items]
        groups = reprint_groups([i.headline + "\n" + i.body for _, i in copies])

        rank = _ranker(copies)
        best = sorted((sorted(g, key=rank) for g in groups), key=lambda g: rank(g[0]))
        top = tuple(
            WeeklyItem(copies[g[0]][0], _slim(copies[g[0]][1]), len(g))
            for g in best[:max_per_topic]
        )
        repeated = sorted((g for g in best if len(g) > 1), key=lambda g: (-len(g), rank(g[0])))
        sections.append(
            WeeklyTopic(
                id=topic.id,
                name=topic.name,
                description=topic.description,
                days=tuple(counts),
                total=sum(c for c in counts if c > 0),
                stories=len(groups),
                previous=sum(past) if past else None,
                top=top,
                groups=tuple(
                    ReprintGroup(
                        key=copies[g[0]][1].key,
                        headline=copies[g[0]][1].headline,
                        copies=tuple(_copy_label(*copies[n]) for n in g),
                    )
                    for g in repeated[:max_per_topic]
                ),
            )
        )
    week = [digests[d] for d in days if d in digests]
    return WeeklyDigest(
        first=first,
        last=days[-1],
        timezone=timezone,
        produced_at=produced_at,
        sections=tuple(sections),
        digests=len(week),
        documents=sum(x.stats.documents for x in week),
        articles=sum(x.stats.articles for x in week),
    )


def _ranker(
    copies: Sequence[tuple[dt.date, DigestItem]],
) -> Callable[[int], tuple[float, dt.date, str]]:
    """Best score first, then the earlier day, then the key (a stable order)."""

    def rank(n: int) -> tuple[float, dt.date, str]:
        return (-copies[n][1].score, copies[n][0], copies[n][1].key)

    return rank


def _section(d: Digest | None, topic_id: str) -> TopicSection | None:
    return next((s for s in d.sections if s.id == topic_id), None) if d is not None else None


def _slim(item: DigestItem) -> DigestItem:
    """An item without its full text: the summary links to the article page instead."""
    return dataclasses.replace(item, body="", body_marks=())


def _copy_label(day: dt.date, item: DigestItem) -> str:
    """株洲日报 A01 · 11月24日 (the paper, else the file name, and the digest's day)."""
    paper = item.newspaper or item.file.replace("\\", "/").rsplit("/", 1)[-1]
    return " ".join(x for x in (paper, item.page) if x) + f" · {day.month}月{day.day}日"


def _item(c: Candidate, m: Match, also: tuple[str, ...], others: tuple[str, ...]) -> DigestItem:
    a = c.article
    body_marks = tuple(sorted({(h.start, h.end) for h in m.hits if h.field == "body"}))
    return DigestItem(
        key=c.key,
        headline=a.headline,
        kicker=a.kicker,
        newspaper=a.newspaper,
        date=a.date,
        page=a.page,
        byline=a.byline,
        file=c.file,
        score=m.score,
        terms=m.terms,
        why=m.clause,
        snippet=m.snippet,
        marks=m.marks,
        also_in=also,
        other_topics=others,
        body=a.body,
        body_marks=merge_ranges(body_marks),
    )


# --- the stored form: a digest is fixed once produced -----------------------------

# msgspec reads the dataclasses' own annotations (tuples of tuples, dates, aware
# datetimes): no second description of the model to keep in step. Keys are sorted,
# as the hand-written encoder before it wrote them, so the stored text does not
# change when the model's fields are reordered.
_DECODER = msgspec.json.Decoder(Digest)
_WEEKLY = msgspec.json.Decoder(WeeklyDigest)


def to_json(digest: Digest) -> str:
    """The digest as JSON text, for the store."""
    return msgspec.json.encode(digest, order="sorted").decode("utf-8")


def from_json(text: str) -> Digest:
    """The digest back from :func:`to_json` (also the stored text of older versions)."""
    return _DECODER.decode(text)


def weekly_to_json(weekly: WeeklyDigest) -> str:
    """The weekly summary as JSON text, for the store."""
    return msgspec.json.encode(weekly, order="sorted").decode("utf-8")


def weekly_from_json(text: str) -> WeeklyDigest:
    """The weekly summary back from :func:`weekly_to_json`."""
    return _WEEKLY.decode(text)

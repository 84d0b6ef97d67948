"""Matches → the digest of a day (pure): grouping, ranking, reprints, trends.

The pipeline gathers the inputs from the store — the articles first seen in
the digest's window with their matches, past days' counts, the scan figures —
and this module turns them into a :class:`~watcher.models.Digest`, which is
then stored as JSON and never rebuilt: rendering a day again reproduces it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import msgspec

from watcher.matcher import merge_ranges
from watcher.models import (
    Article,
    Digest,
    DigestItem,
    DigestStats,
    Match,
    TopicSection,
)
from watcher.watchlists import Topic

# Reprints. Character 4-grams of the text without punctuation; a pair is the
# same story when most of the smaller text's shingles are in the other's
# (containment), which also catches a copy cut short. Tuned on the seeds and
# edited copies of them (tests/test_digest.py): edited, reflowed,
# re-punctuated, retitled and truncated copies have containment ≥ 0.75;
# different seed stories ≤ 0.2. Up to EXACT_UP_TO texts every pair is
# checked; above, MinHash LSH Ensemble proposes the pairs.
SHINGLE = 4
NUM_PERM = 128
CONTAINMENT = 0.6
EXACT_UP_TO = 400
MIN_CHARS = 60  # shorter texts (captions, briefs) are never grouped
PUNCT = set("，。、；：？！“”‘’（）《》【】—…·,.;:?!\"'()[]- \n\t\u3000")


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
    s = "".join(ch for ch in text if ch not in PUNCT)
    return {s[i : i + SHINGLE] for i in range(max(0, len(s) - SHINGLE + 1))}


def containment(a: set[str], b: set[str]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / min(len(a), len(b))


def reprint_groups(texts: Sequence[str]) -> list[list[int]]:
    """Groups of indices whose texts are the same story; singletons included.

    Order inside a group and of groups follows the input order.
    """
    sets = [shingles(t) if len(t) >= MIN_CHARS else set() for t in texts]
    parent = list(range(len(texts)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in _candidate_pairs(sets):
        if containment(sets[i], sets[j]) >= CONTAINMENT:
            parent[root(max(i, j))] = root(min(i, j))
    groups: dict[int, list[int]] = {}
    for i in range(len(texts)):
        groups.setdefault(root(i), []).append(i)
    return sorted(groups.values(), key=lambda g: g[0])


def _candidate_pairs(sets: Sequence[set[str]]) -> list[tuple[int, int]]:
    """Pairs worth an exact containment check.

    A day's matched articles are few, so every pair is checked exactly. For a
    large window, MinHash LSH Ensemble (datasketch) proposes the pairs whose
    estimated containment passes the threshold; plain MinHash LSH on Jaccard
    similarity would miss a reprint cut short, whose Jaccard is low.
    """
    live = [i for i, s in enumerate(sets) if s]
    if len(live) <= EXACT_UP_TO:
        return [(a, b) for n, a in enumerate(live) for b in live[n + 1 :]]
    # Imported here: datasketch brings numpy and scipy (~80 MB), which a day's
    # few matches never need.
    from datasketch import MinHash, MinHashLSHEnsemble

    hashes = {}
    for i in live:
        m = MinHash(num_perm=NUM_PERM, seed=1)
        m.update_batch([g.encode("utf-8") for g in sets[i]])
        hashes[i] = m
    ensemble = MinHashLSHEnsemble(threshold=CONTAINMENT, num_perm=NUM_PERM, num_part=16)
    ensemble.index([(str(i), hashes[i], len(sets[i])) for i in live])
    pairs = set()
    for i in live:
        for other in ensemble.query(hashes[i], len(sets[i])):
            j = int(other)
            if j != i:
                pairs.add((min(i, j), max(i, j)))
    return sorted(pairs)


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
    """The digest of ``day`` from the matched articles first seen in its window."""
    # Reprints are found across all matched articles of the window, so a story
    # is one item wherever it appears, with the other copies as "also in".
    groups = reprint_groups([c.article.headline + "\n" + c.article.body for c in candidates])
    group_of = {i: g for g in groups for i in g}
    names = {t.id: t.name for t in topics}
    sections = []
    for topic in topics:
        # The best copy of each story that matched this topic.
        best: dict[int, tuple[Candidate, Match, list[int]]] = {}
        for i, c in enumerate(candidates):
            m = next((m for m in c.matches if m.topic_id == topic.id), None)
            if m is None:
                continue
            g = group_of[i]
            lead = g[0]
            if lead not in best or _better((c, m), best[lead][:2]):
                best[lead] = (c, m, g)
        ranked = sorted(best.values(), key=lambda x: (-x[1].score, x[0].first_seen, x[0].key))
        items = []
        for c, m, g in ranked[:max_per_topic]:
            others = [candidates[j] for j in g if candidates[j].key != c.key]
            also = tuple(dict.fromkeys(o.label for o in others if o.label != c.label))
            other_topics = tuple(
                names[x.topic_id]
                for x in sorted(c.matches, key=lambda x: _order(x.topic_id, topics))
                if x.topic_id != topic.id and x.topic_id in names
            )
            items.append(_item(c, m, also, other_topics))
        count = len(best)
        # The average is over the past week's digests that exist; with no
        # history yet, today is its own baseline (shown as "no change").
        week = [
            history[d].get(topic.id, 0)
            for n in range(1, 8)
            if (d := day - dt.timedelta(days=n)) in history
        ]
        average = sum(week) / len(week) if week else float(count)
        trend = tuple(
            [history.get(day - dt.timedelta(days=n), {}).get(topic.id, 0) for n in range(13, 0, -1)]
            + [count]
        )
        sections.append(
            TopicSection(
                id=topic.id,
                name=topic.name,
                description=topic.description,
                items=tuple(items),
                more=max(0, count - max_per_topic),
                count=count,
                average=round(average, 2),
                trend=trend,
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


def _order(topic_id: str, topics: Sequence[Topic]) -> int:
    return next((n for n, t in enumerate(topics) if t.id == topic_id), len(topics))


def _better(a: tuple[Candidate, Match], b: tuple[Candidate, Match]) -> bool:
    """Which copy of a story to show: the higher score, then the one seen first."""
    return (-a[1].score, a[0].first_seen, a[0].key) < (-b[1].score, b[0].first_seen, b[0].key)


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


def to_json(digest: Digest) -> str:
    """The digest as JSON text, for the store."""
    return msgspec.json.encode(digest, order="sorted").decode("utf-8")


def from_json(text: str) -> Digest:
    """The digest back from :func:`to_json` (also the stored text of older versions)."""
    return _DECODER.decode(text)

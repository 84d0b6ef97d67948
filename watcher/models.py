"""Frozen dataclasses handed from one pipeline stage to the next."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from watcher.paths import safe_text

ArticleKind = Literal["article", "photo", "ad"]
FileStatus = Literal["ok", "duplicate", "failed", "skipped"]
DeliveryStatus = Literal["pending", "sent", "skipped"]
Failure = Literal["transient", "permanent"]


def article_id(doc_sha256: str, index: int) -> str:
    """An article's stable id: the first 16 hex digits of its document's hash, then its
    index on the page (``a9c89bb65670a872-3``); the same in every output."""
    return f"{doc_sha256[:16]}-{index}"


@dataclass(frozen=True)
class Text:
    """What a reader makes of a file: decoded text plus how it was decoded.

    ``markup`` tells the splitter which conventions the text follows:
    ``"plain"`` (newspaper OCR text, which may still use ``#`` headings) or
    ``"markdown"``; HTML readers emit markdown-style headings, so they say
    ``"markdown"`` too. ``encoding`` names the text encoding, or the format
    (``"pdf"``, ``"docx"``) for files that carry no bytes of text.
    """

    text: str
    encoding: str
    markup: str = "plain"
    # What the file's own metadata says (a web page's site name and date): the
    # splitter's fallback where the text shows no masthead.
    page: Page | None = None


@dataclass(frozen=True)
class Page:
    """Page-level facts found in a masthead: the defaults for its articles."""

    newspaper: str | None = None
    date: dt.date | None = None
    page: str | None = None
    section: str | None = None


@dataclass(frozen=True)
class Article:
    """One article cut out of a page, with the metadata the page shows for it.

    ``date`` is the publication date (the masthead's, else the dateline's);
    ``event_date`` is the day a dateline such as ``6月17日讯`` names.
    ``kind`` is ``"article"``, ``"photo"`` (a captioned picture standing alone)
    or ``"ad"`` (advertisement / public notice).
    """

    index: int
    headline: str
    body: str
    kicker: str | None = None
    subtitle: str | None = None
    newspaper: str | None = None
    date: dt.date | None = None
    event_date: dt.date | None = None
    page: str | None = None
    section: str | None = None
    byline: str | None = None
    dateline: str | None = None
    continued: str | None = None
    captions: tuple[str, ...] = ()
    kind: ArticleKind = "article"
    # The paper a dateline names when it is not the page's own (株洲日报·掌上株洲讯 on a
    # 湖南日报 page): where a reprint came from.
    source: str | None = None

    @property
    def chars(self) -> int:
        return len(self.body)

    @property
    def lead(self) -> str:
        """The first ~100 characters of the body, on one line."""
        flat = " ".join(self.body.split())
        return flat[:100]


@dataclass(frozen=True)
class FileInfo:
    """A file in the inbox as ``stat`` sees it; no content has been read.

    ``outside``: a symbolic link that leads out of the inbox (or to no regular file):
    listed so it is recorded and reported, never opened.
    """

    path: Path
    rel: str
    size: int
    mtime_ns: int
    outside: bool = False

    @property
    def key(self) -> str:
        """The path as the store and the logs know it (see ``paths.safe_text``)."""
        return safe_text(self.path)


@dataclass(frozen=True)
class ScanReport:
    """The outcome of one pass over the inbox."""

    new: int = 0
    unchanged: int = 0
    duplicate: int = 0
    failed: int = 0
    waiting: int = 0
    skipped: int = 0
    articles: int = 0
    matched: int = 0  # new articles that matched at least one topic
    failures: tuple[tuple[str, str], ...] = field(default_factory=tuple)

    def summary(self) -> str:
        parts = [
            f"{self.new} new",
            f"{self.unchanged} unchanged",
            f"{self.failed} failed",
        ]
        if self.duplicate:
            parts.append(f"{self.duplicate} duplicate")
        if self.waiting:
            parts.append(
                f"{self.waiting} left for the next scan (still being written: changed within "
                "scan.settle_seconds, or changed while read)"
            )
        if self.skipped:
            parts.append(f"{self.skipped} skipped")
        tail = f"; {self.articles} articles added"
        if self.matched:
            tail += f", {self.matched} matched a topic"
        return ", ".join(parts) + tail


@dataclass(frozen=True)
class TermHit:
    """One verified occurrence of a term: in which field, at which characters (and in
    which sentence of the field, for NEAR's same-sentence test; not stored)."""

    term: str
    field: str  # "title" | "body"
    start: int  # char offset within that field's text
    end: int
    sentence: int = 0


@dataclass(frozen=True)
class Match:
    """An article belongs to a topic: how strongly, and why."""

    topic_id: str
    topic_version: str  # the rules that made it (an edit of other terms keeps it)
    score: float
    terms: tuple[tuple[str, int], ...]  # term → number of hits, in query order
    hits: tuple[TermHit, ...]
    clause: str  # the part of the query that fired
    snippet: str  # the best sentence or two, ~120 characters
    marks: tuple[tuple[int, int], ...]  # hit ranges inside the snippet

    @property
    def term_counts(self) -> dict[str, int]:
        return dict(self.terms)


@dataclass(frozen=True)
class NearMiss:
    """An article a topic's ``min_score`` alone keeps out: everything else about the
    topic holds in one of its stories, whose score (rounded as a Match's) is this."""

    topic_id: str
    topic_version: str
    score: float


@dataclass(frozen=True)
class RuleEdit:
    """What an edit of a topic's rules can change (watchlists.rule_edit): the matches
    of the articles holding one of ``terms`` and, if ``stored``, of the articles the
    topic matched or nearly matched before (and, for a new min_score, of the stored
    ones it moves across)."""

    terms: frozenset[str]
    stored: bool = False


@dataclass(frozen=True)
class DigestItem:
    """One article in a digest, with everything the templates show."""

    key: str  # stable id: first 16 hex of the document hash + "-" + index
    headline: str
    kicker: str | None
    newspaper: str | None
    date: dt.date | None
    page: str | None
    byline: str | None
    file: str
    score: float
    terms: tuple[tuple[str, int], ...]  # term → hits
    why: str  # the query clause that fired
    snippet: str
    marks: tuple[tuple[int, int], ...]  # hit ranges inside the snippet
    also_in: tuple[str, ...] = ()  # reprints: "株洲日报 A01"
    other_topics: tuple[str, ...] = ()  # names of the other topics it is listed under
    body: str = ""  # full text, for the archive's article page
    body_marks: tuple[tuple[int, int], ...] = ()  # hit ranges inside the body


@dataclass(frozen=True)
class TopicSection:
    """A topic's part of a digest: its best items and its trend."""

    id: str
    name: str
    description: str | None
    items: tuple[DigestItem, ...]  # best score first, at most max_per_topic
    more: int  # how many more matched beyond max_per_topic
    count: int  # matched articles today (reprints counted once)
    average: float  # mean daily count over the 7 days before
    trend: tuple[int, ...]  # daily counts for the last 14 days, oldest first, today last


@dataclass(frozen=True)
class DigestStats:
    """The footer: what was read, so a silent problem is visible."""

    documents: int  # documents first seen in the digest's window
    articles: int  # articles first seen in the window
    failures: tuple[tuple[str, str], ...]  # (file, reason) of files failing now


@dataclass(frozen=True)
class Digest:
    """The digest of one calendar day: fixed once produced."""

    day: dt.date
    timezone: str
    produced_at: dt.datetime  # also the cut-off: articles first seen up to here
    since: dt.datetime | None  # the previous digest's cut-off (None: the first digest)
    sections: tuple[TopicSection, ...]  # in watchlist order, also empty ones
    stats: DigestStats
    notices: tuple[str, ...] = ()  # alarms and config problems, shown at the bottom
    # A digest of past publication days (``watcher digest --published``): the first
    # day of the range; ``day`` is its last. None: a daily digest, by arrival day.
    published_from: dt.date | None = None

    @property
    def total(self) -> int:
        return sum(s.count for s in self.sections)

    @property
    def subject(self) -> str:
        """E.g. 【watcher】2026年11月21日 日报：安全生产检查 3 · 城市更新 5; a digest of
        publication days: 【watcher】见报 2024年7月15日至7月21日：…"""
        d = self.day
        counts = " · ".join(f"{s.name} {s.count}" for s in self.sections if s.count)
        if self.published_from is not None:
            return f"【watcher】见报 {span(self.published_from, d)}：{counts or '无匹配'}"
        return f"【watcher】{d.year}年{d.month}月{d.day}日 日报：{counts or '今日无匹配'}"


def span(first: dt.date, last: dt.date) -> str:
    """2024年7月15日至7月21日 (the year once when both share it); one day: 2024年7月15日."""
    head = f"{first.year}年{first.month}月{first.day}日"
    if first == last:
        return head
    tail = f"{last.month}月{last.day}日"
    return f"{head}至{'' if last.year == first.year else f'{last.year}年'}{tail}"


@dataclass(frozen=True)
class WeeklyItem:
    """One of the week's best stories: the item, and the day of the digest it was in."""

    day: dt.date
    item: DigestItem
    copies: int = 1  # printed this many times over the week (reprints, other days)


@dataclass(frozen=True)
class ReprintGroup:
    """A story printed by several papers (or on several days) over the week."""

    key: str  # the best copy's article key (its page in the archive)
    headline: str
    copies: tuple[str, ...]  # each copy: "株洲日报 A01 · 11月24日", the best first


@dataclass(frozen=True)
class WeeklyTopic:
    """A topic's week: counts per day, against the week before, best stories, reprints."""

    id: str
    name: str
    description: str | None
    days: tuple[int, ...]  # the daily digests' counts, oldest first; -1: no digest that day
    total: int  # the sum of those (a story counted once a day)
    stories: int  # distinct stories over the week (reprints and repeats once)
    previous: int | None  # the week before's total; None: no digest with the topic then
    top: tuple[WeeklyItem, ...]  # the best stories, at most digest.max_per_topic
    groups: tuple[ReprintGroup, ...]  # stories with more than one copy, most copies first

    @property
    def change(self) -> int | None:
        return None if self.previous is None else self.total - self.previous


@dataclass(frozen=True)
class WeeklyDigest:
    """The weekly summary of 7 daily digests: fixed once produced."""

    first: dt.date
    last: dt.date
    timezone: str
    produced_at: dt.datetime
    sections: tuple[WeeklyTopic, ...]  # in watchlist order, also empty ones
    digests: int  # daily digests produced in the week
    documents: int  # documents and articles read over the week (the digests' footers)
    articles: int

    @property
    def total(self) -> int:
        return sum(s.total for s in self.sections)

    @property
    def days(self) -> tuple[dt.date, ...]:
        return tuple(
            self.first + dt.timedelta(days=n) for n in range((self.last - self.first).days + 1)
        )

    @property
    def subject(self) -> str:
        """【watcher】周报 2026年11月23日至11月29日：安全生产检查 12 · 城市更新 30"""
        counts = " · ".join(f"{s.name} {s.total}" for s in self.sections if s.total)
        return f"【watcher】周报 {span(self.first, self.last)}：{counts or '本周无匹配'}"


@dataclass(frozen=True)
class ScanRecord:
    """A finished scan as the store remembers it."""

    id: int
    started: dt.datetime
    finished: dt.datetime
    new: int
    unchanged: int
    duplicate: int
    failed: int
    waiting: int
    skipped: int
    articles: int


@dataclass(frozen=True)
class Delivery:
    """One (day, channel) delivery and where it stands.

    ``parts_sent`` counts the messages of a chat delivery already posted, so a retry
    after a partial send posts only the rest. ``failure`` says whether the last error
    was transient or permanent (None: no error yet).
    """

    day: dt.date
    channel: str
    key: str
    status: DeliveryStatus
    attempts: int = 0
    last_error: str | None = None
    last_attempt: dt.datetime | None = None
    next_attempt: dt.datetime | None = None
    sent_at: dt.datetime | None = None
    claimed_by: str | None = None
    parts_sent: int = 0
    failure: Failure | None = None
    # A delivery of a period's digest ('weekly:2026-11-23', 'published:…'); ``day`` is
    # then the period's first day. None: a daily digest's.
    period: str | None = None


@dataclass(frozen=True)
class AlarmFacts:
    """What the alarms look at."""

    last_document: dt.datetime | None  # newest document first seen
    first_document: dt.datetime | None
    read_today: int  # files read since the look-back start
    failed_today: int
    topic_last_match: dict[str, dt.datetime] = field(default_factory=dict)


@dataclass(frozen=True)
class Label:
    """An analyst's judgement: is this article relevant to this topic?"""

    article: str  # the article's id
    doc_sha256: str
    index: int
    topic_id: str
    relevant: bool
    labelled_at: dt.datetime

"""How a digest's facts read as text: safe characters, Chinese dates, trends, term
lists, hit segments, display widths and wrapping.

Pure functions shared by the templates (``render`` registers them as jinja2
filters) and the chat messages (``chat``); nothing here imports jinja2.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import math
import re
import unicodedata
import zoneinfo
from collections.abc import Iterable, Sequence

from watcher.models import Digest, DigestItem, TopicSection

WEEKDAYS = "一二三四五六日"
SPARK = "▁▂▃▄▅▆▇█"
NO_HISTORY = "暂无历史"  # no digest in the week before: nothing to compare with
TEXT_WIDTH = 72  # plain-text e-mail: display columns (a CJK character takes two)

# C0/C1 controls (but tab and newline), DEL, bidi embeddings/overrides/isolates
# and line/paragraph separators: shown as U+FFFD; a CR becomes a newline.
_UNSAFE = {
    **{c: "\ufffd" for c in range(0x20) if c not in (0x09, 0x0A, 0x0D)},
    0x0D: "\n",
    0x7F: "\ufffd",
    **{c: "\ufffd" for c in range(0x80, 0xA0)},
    **{c: "\ufffd" for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x2028, 0x2029)},
}


# ------------------------------------------------------------------ text helpers


_ANY_UNSAFE = re.compile("[" + "".join(f"\\u{c:04x}" for c in sorted(_UNSAFE)) + "]")


def clean(text: str) -> str:
    """Control and bidi characters replaced one for one (offsets stay valid)."""
    # Most text has none: one regex scan is far cheaper than translating every char.
    return text.translate(_UNSAFE) if _ANY_UNSAFE.search(text) else text


def cn_date(day: dt.date) -> str:
    """2026年11月21日 星期六"""
    return f"{day.year}年{day.month}月{day.day}日 星期{WEEKDAYS[day.weekday()]}"


def cn_day(day: dt.date) -> str:
    """2026年11月21日"""
    return f"{day.year}年{day.month}月{day.day}日"


def history_days(section: TopicSection) -> int:
    """How many of the 7 days before had a digest with this topic (the average's basis)."""
    return sum(1 for v in section.trend[-8:-1] if v >= 0)


def direction(section: TopicSection) -> str:
    """'up', 'down' or 'flat': today's count against the 7-day average; 'new' with no
    history yet."""
    if not history_days(section):
        return "new"
    diff = section.count - section.average
    if not math.isfinite(diff) or abs(diff) < 0.05:
        return "flat"
    return "up" if diff > 0 else "down"


def change(section: TopicSection, style: str = "full") -> str:
    """Today against the 7-day average: '暂无历史' with no digest in the week before,
    '持平' or, by ``style``,

    ``full`` '↑ 较7日均值 +1.6' / '↓ 较7日均值 −0.4' ('较前3日均值' when only 3 of
    the 7 days had a digest), ``short`` '↑ +1.6', ``plain`` '+1.6' / '-0.4' (no
    arrow, ASCII minus: arrows are East Asian "ambiguous" width and would
    misalign a terminal's columns).
    """
    way = direction(section)
    if way == "new":
        return NO_HISTORY
    if way == "flat":
        return "持平"
    diff = abs(section.count - section.average)
    if style == "plain":
        return f"{'+' if way == 'up' else '-'}{diff:.1f}"
    signed = f"{'+' if way == 'up' else '−'}{diff:.1f}"
    arrow = "↑" if way == "up" else "↓"
    if style == "short":
        return f"{arrow} {signed}"
    days = history_days(section)
    basis = "较7日均值" if days >= 7 else f"较前{days}日均值"
    return f"{arrow} {basis} {signed}"


def spark(trend: Sequence[int]) -> str:
    """Unicode bars, one per day: '▁▂▅█'; zero is the lowest bar, a day without a
    digest '·'."""
    top = max(trend, default=0)
    return "".join(
        "·" if v < 0 else SPARK[0] if v == 0 else SPARK[max(1, min(7, math.ceil(v / top * 7)))]
        for v in trend
    )


@dataclasses.dataclass(frozen=True)
class Bar:
    """One day of the trend chart, in SVG user units."""

    x: int
    y: int
    w: int
    h: int
    value: int  # NO_DIGEST (-1): no digest that day
    day: dt.date
    today: bool

    @property
    def fill(self) -> str:
        if self.today:
            return "#9f1d20"
        return "#8ea2b8" if self.value > 0 else "#d0d7de" if self.value == 0 else "#eef0f2"

    @property
    def label(self) -> str:
        what = "无日报" if self.value < 0 else f"{self.value} 篇"
        return f"{self.day.month}月{self.day.day}日 {what}"


@dataclasses.dataclass(frozen=True)
class Chart:
    """The trend chart: bars, the scale (0 and the top count) and the first and last date."""

    bars: tuple[Bar, ...]
    top: int
    width: int
    height: int
    left: int  # where the bars start: the scale's labels sit left of it
    first: str  # '11/8'
    last: str  # '11/21'


def chart(
    section: TopicSection, day: dt.date, step: int = 7, gap: int = 2, height: int = 24
) -> Chart:
    """Geometry of the SVG trend chart: one bar per day, today last, on a scale from 0
    to the highest count; a day without a digest is a pale stub."""
    trend = section.trend
    top = max(max(trend, default=0), 1)
    digits = len(str(top))
    left = 6 * digits + 3
    days = [day - dt.timedelta(days=len(trend) - 1 - i) for i in range(len(trend))]
    bars = []
    for i, (v, d) in enumerate(zip(trend, days, strict=True)):
        h = 1 if v <= 0 else max(2, round(v / top * (height - 2)))
        bars.append(Bar(left + i * step, height - h, step - gap, h, v, d, i == len(trend) - 1))
    width = left + max(len(trend) * step - gap, 1)
    first, last = (days[0], days[-1]) if days else (day, day)
    return Chart(
        bars=tuple(bars),
        top=top,
        width=width,
        height=height,
        left=left,
        first=f"{first.month}/{first.day}",
        last=f"{last.month}/{last.day}",
    )


def trend_title(section: TopicSection, day: dt.date | None = None) -> str:
    """Text alternative of the trend chart."""
    days = "、".join("无日报" if v < 0 else str(v) for v in section.trend)
    n = len(section.trend)
    span = ""
    if day is not None and n:
        start = day - dt.timedelta(days=n - 1)
        span = f"（{start.month}月{start.day}日至{day.month}月{day.day}日）"
    return f"{section.name} 近{n}天每日篇数{span}，最后一项为今日：{days}"


def page_label(page: str | None) -> str | None:
    """'A02' → 'A02版'."""
    if not page:
        return None
    return page if page.endswith("版") else f"{page}版"


def shown_file(path: str) -> str:
    """A scanned path as e-mail, chat and the archive show it: an absolute path (a
    server's folders) becomes its file name; a relative one stays as it is."""
    if path.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:[\\/]", path):
        return re.split(r"[\\/]", path.rstrip("/\\"))[-1] or path
    return path


def source(item: DigestItem, day: dt.date | None = None) -> list[str]:
    """Paper, date and page of a digest item, each always there (see ``page_facts``)."""
    return page_facts(item.newspaper, item.file, item.date, item.page, day)


def page_facts(
    newspaper: str | None,
    file: str,
    date: dt.date | None,
    page: str | None,
    day: dt.date | None = None,
) -> list[str]:
    """Paper, date and page, each always there, as every output shows them: where the
    page shows no paper, its file name; no date, the day it arrived ('2026-11-21收录');
    no page, '版次不详'."""
    paper = newspaper or shown_file(file)
    if date:
        when = date.isoformat()
    elif day is not None:
        when = f"{day.isoformat()}收录"
    else:
        when = "日期不详"
    return [paper, when, page_label(page) or "版次不详"]


def meta(item: DigestItem, day: dt.date | None = None) -> str:
    """三湘都市报 · 2026-06-18 · A01版 · 湖南日报全媒体记者 孙敏坚 (see ``source``)."""
    return " · ".join(p for p in (*source(item, day), item.byline) if p)


def term_list(item: DigestItem, limit: int | None = None, glue: bool = False) -> str:
    """安全生产×9 · 暗访×3 (the first ``limit`` terms).

    ``glue`` puts a no-break space before each "·" so that a browser wraps
    after the dot, never before it (plain text wraps on its own).
    """
    terms = item.terms if limit is None else item.terms[:limit]
    text = (" · " if not glue else "\u00a0· ").join(f"{t}×{n}" for t, n in terms)
    return text + (" …" if limit is not None and len(item.terms) > limit else "")


def segments(text: str, marks: Iterable[Sequence[int]]) -> list[tuple[str, bool]]:
    """``text`` cut into (piece, is_hit) runs; bad or overlapping ranges are tolerated."""
    n = len(text)
    ranges: list[list[int]] = []
    for mark in sorted((max(0, int(m[0])), min(n, int(m[1]))) for m in marks if len(m) == 2):
        s, e = mark
        if s >= e:
            continue
        if ranges and s <= ranges[-1][1]:
            ranges[-1][1] = max(ranges[-1][1], e)
        else:
            ranges.append([s, e])
    out: list[tuple[str, bool]] = []
    pos = 0
    for s, e in ranges:
        if s > pos:
            out.append((text[pos:s], False))
        out.append((text[s:e], True))
        pos = e
    if pos < n:
        out.append((text[pos:], False))
    return out


def paragraphs(text: str, marks: Iterable[Sequence[int]]) -> list[list[tuple[str, bool]]]:
    """``segments`` grouped into paragraphs at newlines; a hit never spans two."""
    paras: list[list[tuple[str, bool]]] = [[]]
    for piece, hit in segments(text, marks):
        for i, part in enumerate(piece.split("\n")):
            if i:
                paras.append([])
            if part:
                paras[-1].append((part, hit))
    return [p for p in paras if "".join(t for t, _ in p).strip()]


def char_width(ch: str) -> int:
    """Terminal columns of one character: CJK wide/full-width 2, combining 0."""
    if unicodedata.combining(ch):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in "WF" else 1


def text_width(text: str) -> int:
    """Terminal columns of ``text``."""
    return sum(char_width(c) for c in text)


def pad(text: str, width: int) -> str:
    """Left-aligned in ``width`` display columns."""
    return text + " " * max(0, width - text_width(text))


# Characters that must not begin a line (kinsoku): they hang at the end instead.
_NO_LINE_START = set("，。、；：！？）」』”’》〉】…,.;:!?)]}%·")
_TOKENS = re.compile(r"[!-~]+|\s+|.", re.DOTALL)
_WORDS = re.compile(r"\S+|\s+")


def wrap(text: str, width: int = TEXT_WIDTH, indent: int = 0, words: bool = False) -> str:
    """Wrap to ``width`` display columns; later lines are indented by ``indent``.

    The first line is assumed to sit after ``indent`` columns too (the
    template writes them). CJK text breaks between any two characters,
    Latin words and URLs only at spaces unless longer than a line; with
    ``words`` only at spaces (term lists, rules), unless a word is too long.
    """
    avail = max(8, width - indent)
    lines: list[str] = []
    cur, used = "", 0
    tokens = _WORDS if words else _TOKENS
    for tok in tokens.findall(" ".join(text.split())):
        if tok.isspace():
            if cur and used + 1 <= avail:
                cur, used = cur + " ", used + 1
            continue
        w = text_width(tok)
        if used + w > avail and cur.strip():
            if len(tok) == 1 and tok in _NO_LINE_START and used + w <= avail + 2:
                cur, used = cur + tok, used + w  # hanging punctuation
                continue
            lines.append(cur.rstrip())
            cur, used = "", 0
        while w > avail:  # a word longer than a line: cut it
            cut = 0
            acc = 0
            while cut < len(tok) and acc + char_width(tok[cut]) <= avail:
                acc += char_width(tok[cut])
                cut += 1
            lines.append(tok[:cut])
            tok = tok[cut:]
            w = text_width(tok)
        cur, used = cur + tok, used + w
    if cur.strip():
        lines.append(cur.rstrip())
    return ("\n" + " " * indent).join(lines)


_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|~&#])")
_MD_LINE_START = re.compile(r"^(\s*)([-+=]|\d+[.)])", re.MULTILINE)


def md_escape(text: str) -> str:
    """Document text made inert in CommonMark: no links, tags, emphasis, headings."""
    text = _MD_SPECIAL.sub(r"\\\1", text)
    return _MD_LINE_START.sub(lambda m: m.group(1) + m.group(2)[:-1] + "\\" + m.group(2)[-1], text)


# ------------------------------------------------------------------ digest prep


def clean_item(item: DigestItem) -> DigestItem:
    """The item with control characters neutralised in every display string."""
    return dataclasses.replace(
        item,
        headline=clean(item.headline),
        kicker=clean(item.kicker) if item.kicker else item.kicker,
        newspaper=clean(item.newspaper) if item.newspaper else item.newspaper,
        page=clean(item.page) if item.page else item.page,
        byline=clean(item.byline) if item.byline else item.byline,
        file=clean(item.file),
        terms=tuple((clean(t), n) for t, n in item.terms),
        why=clean(item.why),
        snippet=clean(item.snippet),
        also_in=tuple(clean(a) for a in item.also_in),
        other_topics=tuple(clean(o) for o in item.other_topics),
        body=clean(item.body),
    )


def clean_digest(digest: Digest) -> Digest:
    """The digest with control characters neutralised in every display string."""
    sections = tuple(
        dataclasses.replace(
            s,
            name=clean(s.name),
            description=clean(s.description) if s.description else s.description,
            items=tuple(clean_item(i) for i in s.items),
        )
        for s in digest.sections
    )
    stats = dataclasses.replace(
        digest.stats, failures=tuple((clean(f), clean(r)) for f, r in digest.stats.failures)
    )
    return dataclasses.replace(
        digest, sections=sections, stats=stats, notices=tuple(clean(n) for n in digest.notices)
    )


def local_time(moment: dt.datetime | None, timezone: str) -> str | None:
    """'2026-11-21 07:30' in the digest's time zone (naive times are shown as they are)."""
    if moment is None:
        return None
    if moment.tzinfo is not None:
        with contextlib.suppress(zoneinfo.ZoneInfoNotFoundError, ValueError):
            moment = moment.astimezone(zoneinfo.ZoneInfo(timezone))
    return moment.strftime("%Y-%m-%d %H:%M")


def has_items(digest: Digest) -> bool:
    """Whether any section lists an item (a day with matches)."""
    return any(s.items for s in digest.sections)


def listed(section: TopicSection) -> tuple[DigestItem, ...]:
    """The items the digest itself shows: the best ``count - more`` stories."""
    return section.items[: max(0, section.count - section.more)]


def stories(section: TopicSection) -> tuple[DigestItem, ...]:
    """One item per story that matched, best first (in digests stored by older
    versions, only the listed ones)."""
    return section.items[: section.count]


def reprints(section: TopicSection) -> tuple[DigestItem, ...]:
    """The other copies of the stories that matched the topic too, in story order."""
    return section.items[section.count :]

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


def clean(text: str) -> str:
    """Control and bidi characters replaced one for one (offsets stay valid)."""
    return text.translate(_UNSAFE)


def cn_date(day: dt.date) -> str:
    """2026年11月21日 星期六"""
    return f"{day.year}年{day.month}月{day.day}日 星期{WEEKDAYS[day.weekday()]}"


def cn_day(day: dt.date) -> str:
    """2026年11月21日"""
    return f"{day.year}年{day.month}月{day.day}日"


def direction(section: TopicSection) -> str:
    """'up', 'down' or 'flat': today's count against the 7-day average."""
    diff = section.count - section.average
    if not math.isfinite(diff) or abs(diff) < 0.05:
        return "flat"
    return "up" if diff > 0 else "down"


def change(section: TopicSection, style: str = "full") -> str:
    """Today against the 7-day average: '持平' or, by ``style``,

    ``full`` '↑ 较7日均值 +1.6' / '↓ 较7日均值 −0.4', ``short`` '↑ +1.6',
    ``plain`` '+1.6' / '-0.4' (no arrow, ASCII minus: arrows are East Asian
    "ambiguous" width and would misalign a terminal's columns).
    """
    way = direction(section)
    if way == "flat":
        return "持平"
    diff = abs(section.count - section.average)
    if style == "plain":
        return f"{'+' if way == 'up' else '-'}{diff:.1f}"
    signed = f"{'+' if way == 'up' else '−'}{diff:.1f}"
    arrow = "↑" if way == "up" else "↓"
    return f"{arrow} {signed}" if style == "short" else f"{arrow} 较7日均值 {signed}"


def spark(trend: Sequence[int]) -> str:
    """Unicode bars, one per day: '▁▂▅█'; zero is the lowest bar."""
    top = max(trend, default=0)
    if top <= 0:
        return SPARK[0] * len(trend)
    return "".join(
        SPARK[0] if v <= 0 else SPARK[max(1, min(7, math.ceil(v / top * 7)))] for v in trend
    )


def bars(
    trend: Sequence[int], step: int = 7, gap: int = 2, height: int = 24
) -> list[dict[str, int | bool]]:
    """Geometry of the SVG trend chart: one rect per day, today last."""
    top = max(trend, default=0) or 1
    out: list[dict[str, int | bool]] = []
    for i, v in enumerate(trend):
        h = 1 if v <= 0 else max(2, round(v / top * (height - 2)))
        out.append(
            {
                "x": i * step,
                "y": height - h,
                "w": step - gap,
                "h": h,
                "value": v,
                "today": i == len(trend) - 1,
            }
        )
    return out


def trend_title(section: TopicSection) -> str:
    """Text alternative of the trend chart."""
    days = "、".join(str(v) for v in section.trend)
    return f"{section.name} 近{len(section.trend)}天每日篇数（最后一项为今日）：{days}"


def page_label(page: str | None) -> str | None:
    """'A02' → 'A02版'."""
    if not page:
        return None
    return page if page.endswith("版") else f"{page}版"


def meta(item: DigestItem) -> str:
    """三湘都市报 · 2026-06-18 · A01版 · 湖南日报全媒体记者 孙敏坚"""
    parts = [
        item.newspaper,
        item.date.isoformat() if item.date else None,
        page_label(item.page),
        item.byline,
    ]
    return " · ".join(p for p in parts if p)


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

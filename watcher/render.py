"""A ``Digest`` rendered for people and for tools: e-mail, web pages, Markdown, JSON, chat.

Everything a digest shows comes from newspaper pages, so every piece of
document text is treated as untrusted:

* HTML templates (``*.html.j2``) are autoescaped; highlighting is done by
  splitting text into ``(text, hit)`` segments that the template escapes, never
  by pasting markup into strings.
* Markdown (the ``.md`` file) escapes Markdown syntax in document text with
  backslashes, so a headline cannot become a link, an HTML tag or a heading.
* Chat messages replace the few ASCII characters that carry markup in the
  services' Markdown dialects (``* _ [ ] < > ` | ~ # \\ &``) with their
  full-width twins: not every dialect honours backslash escapes, and
  full-width forms read naturally in Chinese text.
* Plain text is not escaped, but control characters (ANSI escapes, bidi
  overrides) are replaced in every output except JSON, character for
  character so that hit ranges stay valid.
* Jinja2 never evaluates data: ``{{ 7*7 }}`` in a headline renders literally.

Templates (``watcher/templates``; a file of the same name in the user's
override folder wins, so one can replace just ``style.css``):

=====================  ==========================================================
``email.html.j2``      the HTML e-mail (extends ``base.html.j2``, includes
                       ``_digest.html.j2``); CSS is inlined afterwards
``page.html.j2``       the day's web page ``YYYY-MM-DD.html`` (same body)
``_digest.html.j2``    the digest body shared by e-mail and page
``_macros.html.j2``    trend chart (SVG), highlighted text, item metadata
``base.html.j2``       the HTML document skeleton
``article.html.j2``    ``articles/<key>.html``: full text with hits marked
``index.html.j2``      ``index.html``: every day, newest first
``email.txt.j2``       the plain-text part of the e-mail
``digest.md.j2``       ``YYYY-MM-DD.md``
``style.css``          the one stylesheet (small media queries for narrow
                       screens and print are kept in ``<head>`` of the e-mail)
=====================  ==========================================================

Chat messages and JSON are built in code: their shape is an interface.

Links: with ``base_url`` (the public URL of the archive) e-mail and chat link
headlines to ``<base_url>/articles/<key>.html`` and the day to
``<base_url>/YYYY-MM-DD.html``. Without it e-mail and chat carry no links
(a relative link in a mail client leads nowhere); the archive's own pages
always link relatively, so the folder can be moved or opened from disk.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json as _json
import math
import os
import re
import secrets
import unicodedata
import zoneinfo
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import css_inline
import jinja2

from watcher.deliveries import SERVICES
from watcher.models import Digest, DigestItem, TopicSection

TEMPLATES = Path(__file__).with_name("templates")
WEEKDAYS = "一二三四五六日"
SPARK = "▁▂▃▄▅▆▇█"
TEXT_WIDTH = 72  # plain-text e-mail: display columns (a CJK character takes two)

MIN_CHAT_LIMIT = 256

# Article keys become file names: letters, digits, "-" and "_", nothing else.
KEY_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$")

# C0/C1 controls (but tab and newline), DEL, bidi embeddings/overrides/isolates
# and line/paragraph separators: shown as U+FFFD; a CR becomes a newline.
_UNSAFE = {
    **{c: "\ufffd" for c in range(0x20) if c not in (0x09, 0x0A, 0x0D)},
    0x0D: "\n",
    0x7F: "\ufffd",
    **{c: "\ufffd" for c in range(0x80, 0xA0)},
    **{c: "\ufffd" for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x2028, 0x2029)},
}


@dataclass(frozen=True)
class EmailParts:
    """One digest as an e-mail."""

    subject: str
    html: str  # full HTML document, CSS inlined, table layout
    text: str  # plain-text alternative


# ---------------------------------------------------------------- text helpers


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


def bars(trend: Sequence[int], step: int = 7, gap: int = 2, height: int = 24) -> list[dict]:
    """Geometry of the SVG trend chart: one rect per day, today last."""
    top = max(trend, default=0) or 1
    out = []
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


# ------------------------------------------------------------------- digest prep


def _clean_item(item: DigestItem) -> DigestItem:
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


def _clean_digest(digest: Digest) -> Digest:
    """The digest with control characters neutralised in every display string."""
    sections = tuple(
        dataclasses.replace(
            s,
            name=clean(s.name),
            description=clean(s.description) if s.description else s.description,
            items=tuple(_clean_item(i) for i in s.items),
        )
        for s in digest.sections
    )
    stats = dataclasses.replace(
        digest.stats, failures=tuple((clean(f), clean(r)) for f, r in digest.stats.failures)
    )
    return dataclasses.replace(
        digest, sections=sections, stats=stats, notices=tuple(clean(n) for n in digest.notices)
    )


def _local(moment: dt.datetime | None, timezone: str) -> str | None:
    """'2026-11-21 07:30' in the digest's time zone (naive times are shown as they are)."""
    if moment is None:
        return None
    if moment.tzinfo is not None:
        with contextlib.suppress(zoneinfo.ZoneInfoNotFoundError, ValueError):
            moment = moment.astimezone(zoneinfo.ZoneInfo(timezone))
    return moment.strftime("%Y-%m-%d %H:%M")


def _has_items(digest: Digest) -> bool:
    return any(s.items for s in digest.sections)


def _article_path(key: str) -> str:
    return f"articles/{quote(key, safe='')}.html"


def check_key(key: str) -> str:
    """``key`` if it is safe as a file name, else ValueError."""
    if not KEY_RE.match(key):
        raise ValueError(f"unsafe article key {key!r}: only letters, digits, '-' and '_'")
    return key


# ---------------------------------------------------------------------- renderer


class Renderer:
    """Renders digests with the packaged templates, or the user's of the same name."""

    def __init__(self, override_dir: Path | None = None, *, base_url: str | None = None) -> None:
        loaders: list[jinja2.BaseLoader] = []
        if override_dir is not None:
            loaders.append(jinja2.FileSystemLoader(str(override_dir)))
        loaders.append(jinja2.FileSystemLoader(str(TEMPLATES)))
        self.base_url = base_url.rstrip("/") if base_url else None
        self.env = jinja2.Environment(
            loader=jinja2.ChoiceLoader(loaders),
            autoescape=jinja2.select_autoescape(("html", "htm", "xml", "html.j2", "xml.j2")),
            undefined=jinja2.StrictUndefined,  # a typo in an override fails loudly
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
        )
        self.env.filters.update(
            cn_date=cn_date,
            cn_day=cn_day,
            change=change,
            direction=direction,
            spark=spark,
            bars=bars,
            trend_title=trend_title,
            page_label=page_label,
            meta=meta,
            term_list=term_list,
            segments=segments,
            paragraphs=paragraphs,
            wrap=wrap,
            pad=pad,
            text_width=text_width,
            md=md_escape,
        )
        # No remote stylesheets: rendering must never touch the network.
        self._inliner = css_inline.CSSInliner(keep_at_rules=True, load_remote_stylesheets=False)

    # -- links

    def _absolute(self, path: str) -> str | None:
        return f"{self.base_url}/{path}" if self.base_url else None

    def _context(self, digest: Digest, *, email: bool) -> dict[str, Any]:
        """What the digest templates see; ``link(item)`` is None when there is no link."""
        d = _clean_digest(digest)
        day_file = f"{d.day.isoformat()}.html"

        def link(item: DigestItem) -> str | None:
            path = _article_path(item.key)
            return self._absolute(path) if email else path

        return {
            "digest": d,
            "subject": d.subject,
            "email": email,
            "link": link,
            "day_url": self._absolute(day_file) if email else None,
            "index_url": self._absolute("index.html") if email else "index.html",
            "empty": not _has_items(d),
            "produced": _local(d.produced_at, d.timezone),
            "since": _local(d.since, d.timezone),
        }

    # -- outputs

    def email(self, digest: Digest) -> EmailParts:
        """Subject, HTML (CSS inlined) and plain text of the e-mail."""
        ctx = self._context(digest, email=True)
        html = self.env.get_template("email.html.j2").render(ctx)
        text = self.env.get_template("email.txt.j2").render(ctx)
        html = self._inliner.inline(html)
        # The inliner writes the kept @media rules first in <head>; the charset
        # must come first (browsers look for it in the first 1024 bytes only).
        charset = '<meta charset="utf-8">'
        if charset in html and "<head>" in html:
            html = html.replace(charset, "", 1).replace("<head>", "<head>" + charset, 1)
        return EmailParts(subject=digest.subject, html=html, text=text)

    def page(self, digest: Digest) -> str:
        """YYYY-MM-DD.html: the digest as a web page, linking relatively."""
        return self.env.get_template("page.html.j2").render(self._context(digest, email=False))

    def markdown(self, digest: Digest) -> str:
        """YYYY-MM-DD.md, links relative like the web page."""
        return self.env.get_template("digest.md.j2").render(self._context(digest, email=False))

    def article(self, digest: Digest, item: DigestItem) -> str:
        """articles/<key>.html: full text with the hits of every topic listing it marked."""
        d = _clean_digest(digest)
        listed = [(s, i) for s in d.sections for i in s.items if i.key == item.key]
        if not listed:  # an item from outside the digest still renders
            listed = [(None, _clean_item(item))]
        main = listed[0][1]
        marks = [m for _, i in listed for m in i.body_marks]
        return self.env.get_template("article.html.j2").render(
            digest=d,
            item=main,
            listed=listed,
            body=paragraphs(main.body, marks),
            back=f"../{d.day.isoformat()}.html",
            index_url="../index.html",
            produced=_local(d.produced_at, d.timezone),
        )

    def index(self, days: Sequence[tuple[dt.date, Mapping[str, int]]]) -> str:
        """index.html: every day newest first, with its per-topic counts.

        The mapping's keys are shown as they are (topic names read best);
        zero counts are left out of the line.
        """
        rows = []
        for day, counts in sorted(days, key=lambda d: d[0], reverse=True):
            shown = [(clean(str(k)), int(v)) for k, v in counts.items() if v]
            rows.append(
                {
                    "day": day,
                    "file": f"{day.isoformat()}.html",
                    "total": sum(v for _, v in shown),
                    "counts": shown,
                    # No-break space before "·": a wrapped line never starts with it.
                    "line": "\u00a0· ".join(f"{k} {v}" for k, v in shown),
                }
            )
        return self.env.get_template("index.html.j2").render(days=rows)

    def json(self, digest: Digest) -> str:
        """YYYY-MM-DD.json for other tools; keys in this order, fields only ever added.

        ``{"version": 1, "day": "YYYY-MM-DD", "timezone": IANA name,
        "produced_at": ISO 8601 (the cut-off), "since": ISO 8601 or null
        (the previous cut-off), "subject": str, "total": int (matched
        articles over all topics), "sections": [...], "stats": {...},
        "notices": [str]}``

        A section: ``{"id", "name", "description" (str|null), "count" (matched
        today, reprints once), "average" (mean daily count over the 7 days
        before, 2 decimals), "trend" ([int] daily counts, oldest first, today
        last), "more" (matched beyond the items listed), "items": [...]}``.

        An item: ``{"key" (stable id; the article page is
        ``articles/<key>.html``), "headline", "kicker" (str|null), "newspaper"
        (str|null), "date" ("YYYY-MM-DD"|null), "page" (str|null), "byline"
        (str|null), "file" (the scanned path), "score" (float), "terms"
        ({term: hits}, in query order), "why" (the query clause that fired),
        "snippet", "marks" ([[start, end]] hit ranges in the snippet, Python
        string offsets = Unicode code points), "also_in" ([str] reprints such
        as "株洲日报 A01"), "other_topics" ([str] names), "url" (the article
        page: absolute under base_url when set, else relative)}``.

        ``"stats": {"documents": int, "articles": int, "failures": [{"file",
        "reason"}]}``. Text is as found (not escaped beyond JSON itself).
        """

        def number(x: float) -> float | None:
            return round(x, 2) if math.isfinite(x) else None

        def item(i: DigestItem) -> dict[str, Any]:
            path = _article_path(i.key)
            return {
                "key": i.key,
                "headline": i.headline,
                "kicker": i.kicker,
                "newspaper": i.newspaper,
                "date": i.date.isoformat() if i.date else None,
                "page": i.page,
                "byline": i.byline,
                "file": i.file,
                "score": i.score if math.isfinite(i.score) else None,
                "terms": dict(i.terms),
                "why": i.why,
                "snippet": i.snippet,
                "marks": [list(m) for m in i.marks],
                "also_in": list(i.also_in),
                "other_topics": list(i.other_topics),
                "url": self._absolute(path) or path,
            }

        data = {
            "version": 1,
            "day": digest.day.isoformat(),
            "timezone": digest.timezone,
            "produced_at": digest.produced_at.isoformat(),
            "since": digest.since.isoformat() if digest.since else None,
            "subject": digest.subject,
            "total": digest.total,
            "sections": [
                {
                    "id": s.id,
                    "name": s.name,
                    "description": s.description,
                    "count": s.count,
                    "average": number(s.average),
                    "trend": list(s.trend),
                    "more": s.more,
                    "items": [item(i) for i in s.items],
                }
                for s in digest.sections
            ],
            "stats": {
                "documents": digest.stats.documents,
                "articles": digest.stats.articles,
                "failures": [{"file": f, "reason": r} for f, r in digest.stats.failures],
            },
            "notices": list(digest.notices),
        }
        return _json.dumps(data, ensure_ascii=False, indent=1, allow_nan=False) + "\n"

    # -- chat

    def chat(
        self,
        digest: Digest,
        service: str,
        *,
        topics: Collection[str] | None = None,
        limit: int,
    ) -> list[str]:
        """Compact Markdown messages for a chat bot, each at most ``limit`` UTF-8 bytes.

        Only sections whose id is in ``topics`` (None: all). Messages split
        between items, never inside one (an item too big for any message is
        cut, ending in "…"); each starts with the subject as a bold line,
        plus "(k/n)" when there are several. The service's flavour (from
        ``deliveries.SERVICES``) decides the markup: Slack's mrkdwn
        (``<url|text>``, ``*bold*``) or standard Markdown.
        """
        known = SERVICES.get(service)
        if known is None:
            raise ValueError(f"unknown chat service {service!r}; one of {', '.join(SERVICES)}")
        if limit < MIN_CHAT_LIMIT:
            raise ValueError(f"chat limit {limit} is too small; at least {MIN_CHAT_LIMIT} bytes")
        d = _clean_digest(digest)
        if topics is not None:
            wanted = set(topics)
            d = dataclasses.replace(d, sections=tuple(s for s in d.sections if s.id in wanted))
        fmt: _Flavour = _Slack() if known.flavour == "slack" else _Markdown()
        return _pack(fmt, d.subject, self._chat_blocks(d, fmt), limit)

    def _chat_blocks(self, d: Digest, fmt: _Flavour) -> list[_Block]:
        blocks: list[_Block] = []
        day_url = self._absolute(f"{d.day.isoformat()}.html")
        if not _has_items(d):
            blocks.append(_Block(None, "text", "今日无匹配文章"))
        else:
            number = 0
            for n, s in enumerate(d.sections):
                head = f"{fmt.heading(fmt.esc(s.name))} · "
                if not s.items:
                    blocks.append(_Block(n, "head", head + "今日无匹配", cont=None))
                    continue
                cont = f"{fmt.heading(fmt.esc(s.name))}（续）"
                blocks.append(_Block(n, "head", head + f"{s.count} 篇 · {change(s)}", cont=cont))
                for item in s.items:
                    number += 1
                    blocks.append(_Block(n, "item", self._chat_item(fmt, item, number), cont=cont))
                if s.more:
                    blocks.append(_Block(n, "item", f"另有 {s.more} 篇未列出", cont=cont))
        tail = [f"⚠️ {fmt.esc(notice)}" for notice in d.notices]
        if d.stats.failures:
            names = "、".join(fmt.esc(f) for f, _ in d.stats.failures[:3])
            extra = " 等" if len(d.stats.failures) > 3 else ""
            tail.append(f"⚠️ {len(d.stats.failures)} 个文件读取失败：{names}{extra}")
        if day_url:
            tail.append(fmt.link("查看完整日报", day_url))
        if tail:
            blocks.append(_Block(None, "text", fmt.br.join(tail)))
        return blocks

    def _chat_item(self, fmt: _Flavour, item: DigestItem, number: int) -> str:
        url = self._absolute(_article_path(item.key))
        headline = fmt.esc(item.headline)
        title = fmt.link(headline, url) if url else fmt.heading(headline)
        source = " ".join(
            p for p in (item.newspaper, item.date.isoformat() if item.date else None) if p
        )
        facts = [p for p in (fmt.esc(source), fmt.esc(term_list(item, 3))) if p]
        if item.also_in:
            facts.append("另见 " + fmt.esc("、".join(item.also_in)))
        lines = [f"{number}. {title}"]
        if facts:
            lines.append(" · ".join(facts))
        snippet = "".join(
            fmt.bold(fmt.esc(t)) if hit else fmt.esc(t)
            for t, hit in segments(item.snippet.replace("\n", " "), item.marks)
        )
        if snippet.strip():
            lines.append("> " + snippet)
        return fmt.br.join(lines)


# -------------------------------------------------------------------------- chat


@dataclass
class _Block:
    """One indivisible piece of a chat message."""

    section: int | None  # index of its section, None for header-less text
    kind: str  # "head" (a section heading), "item", "text"
    text: str
    cont: str | None = None  # heading to repeat when a message starts mid-section


class _Flavour:
    """Standard Markdown (WeCom, DingTalk, Feishu, generic JSON)."""

    bold_mark = "**"
    br = "  \n"  # a hard break in CommonMark; DingTalk needs it, the others ignore the spaces
    _neutral = str.maketrans(
        {
            "*": "＊",
            "_": "＿",
            "[": "［",
            "]": "］",
            "<": "＜",
            ">": "＞",
            "`": "｀",
            "|": "｜",
            "~": "～",
            "#": "＃",
            "\\": "＼",
            "&": "＆",
        }
    )

    def esc(self, text: str) -> str:
        return text.translate(self._neutral)

    def bold(self, text: str) -> str:
        """Emphasis inside running text (the hits in a snippet)."""
        return f"{self.bold_mark}{text}{self.bold_mark}" if text else text

    def heading(self, text: str) -> str:
        """A bold line start: the subject, a topic's name."""
        return f"{self.bold_mark}{text}{self.bold_mark}"

    def link(self, text: str, url: str) -> str:
        return f"[{text}]({_url(url)})"

    def heal(self, text: str) -> str:
        """A cut-off block made well-formed: no dangling link or bold, then '…'."""
        text = text.rstrip("*")  # half of a "**"
        start = text.rfind("[")
        if start >= 0:  # data brackets are neutralised: this one is ours
            rest = text[start:]
            mid = rest.find("](")
            if mid < 0:
                text = text[:start] + rest[1:]
            elif ")" not in rest[mid + 2 :]:
                text = text[:start] + rest[1:mid]
        return text + "…" + (self.bold_mark if text.count(self.bold_mark) % 2 else "")


class _Markdown(_Flavour):
    pass


class _Slack(_Flavour):
    """Slack mrkdwn: ``*bold*``, ``<url|text>``; &, < and > as entities."""

    bold_mark = "*"
    br = "\n"
    _neutral = str.maketrans(
        {"&": "&amp;", "<": "&lt;", ">": "&gt;", "*": "＊", "_": "＿", "~": "～", "`": "｀"}
    )

    def link(self, text: str, url: str) -> str:
        return f"<{_url(url)}|{text}>"

    def bold(self, text: str) -> str:
        # Slack only sees *bold* next to spaces or punctuation, never inside a
        # run of CJK characters: zero-width spaces give it the boundary.
        return f"\u200b*{text}*\u200b" if text else text

    def heal(self, text: str) -> str:
        start = text.rfind("<")
        if start >= 0 and ">" not in text[start:]:
            inner = text[start + 1 :]
            text = text[:start] + (inner.split("|", 1)[1] if "|" in inner else "")
        text = text.rstrip("*")
        return text + "…" + (self.bold_mark if text.count(self.bold_mark) % 2 else "")


def _url(url: str) -> str:
    """A URL that cannot end a Markdown link or a Slack link early."""
    return re.sub(r"[\s()<>|\[\]]", lambda m: quote(m.group(0)), url)


def _size(text: str) -> int:
    return len(text.encode("utf-8"))


def _cut(text: str, budget: int, fmt: _Flavour) -> str:
    """``text`` shortened to at most ``budget`` bytes, ending in '…'."""
    room = budget - _size("…") - len(fmt.bold_mark)
    if room <= 0:
        return "…" if budget >= _size("…") else ""
    raw = text.encode("utf-8")[:room].decode("utf-8", errors="ignore").rstrip()
    out = fmt.heal(raw)
    while _size(out) > budget and raw:  # healing can only shrink, but be sure
        raw = raw[:-1]
        out = fmt.heal(raw)
    return out


def _fill(blocks: list[_Block], budget: int, fmt: _Flavour) -> list[list[str]]:
    """Blocks packed into messages of at most ``budget`` bytes (header excluded)."""
    sep = 2  # "\n\n" before every part
    messages: list[list[str]] = []
    parts: list[str] = []
    used = 0

    def flush() -> None:
        nonlocal parts, used
        if parts:
            messages.append(parts)
        parts, used = [], 0

    for i, block in enumerate(blocks):
        cost = _size(block.text) + sep
        if block.kind == "head":
            # Keep a heading with its first item: never end a message on a heading.
            nxt = blocks[i + 1] if i + 1 < len(blocks) else None
            if nxt is not None and nxt.section == block.section and nxt.kind != "head":
                cost += _size(nxt.text) + sep
            if parts and used + cost > budget:
                flush()
            parts.append(block.text)
            used += _size(block.text) + sep
            continue
        if parts and used + cost > budget:
            flush()
            if block.cont:
                parts.append(block.cont)
                used += _size(block.cont) + sep
        text = block.text
        if used + cost > budget:
            text = _cut(text, budget - used - sep, fmt)
        parts.append(text)
        used += _size(text) + sep
    flush()
    return messages or [[]]


def _pack(fmt: _Flavour, subject: str, blocks: list[_Block], limit: int) -> list[str]:
    """Messages of at most ``limit`` bytes, each opening with the subject line."""
    digits = 1
    while True:
        # Reserve room for the widest "(k/n)" this many digits can need.
        widest = fmt.heading(fmt.esc(subject) + f" ({'9' * digits}/{'9' * digits})")
        messages = _fill(blocks, limit - _size(widest), fmt)
        if len(str(len(messages))) <= digits:
            break
        digits += 1
    total = len(messages)
    out = []
    for k, parts in enumerate(messages, 1):
        header = fmt.heading(fmt.esc(subject) + (f" ({k}/{total})" if total > 1 else ""))
        if _size(header) > limit:
            header = _cut(header, limit, fmt)
        out.append("\n\n".join([header, *parts]))
    return out


# ----------------------------------------------------------------------- archive


def write_archive(
    digest: Digest,
    renderer: Renderer,
    out_dir: Path,
    days: Sequence[tuple[dt.date, Mapping[str, int]]],
) -> list[Path]:
    """Write the day's files and the index under ``out_dir``; return the paths written.

    ``YYYY-MM-DD.html``, ``.md``, ``.json``, ``articles/<key>.html`` for every
    item, and ``index.html`` from ``days`` (the digest's own day is added, or
    its counts replaced, so the index always lists it). Everything is rendered
    before anything is written; each file is replaced atomically (temp file
    in the same folder, fsync, rename), so readers never see half a file.
    An unsafe key (anything but letters, digits, '-' and '_') raises
    ValueError and nothing is written.
    """
    out_dir = Path(out_dir)
    unique: dict[str, DigestItem] = {}
    for section in digest.sections:
        for item in section.items:
            unique.setdefault(check_key(item.key), item)

    today = {s.name: s.count for s in digest.sections}
    all_days = [(d, c) for d, c in days if d != digest.day] + [(digest.day, today)]

    stem = digest.day.isoformat()
    files: list[tuple[Path, str]] = [
        (out_dir / f"{stem}.html", renderer.page(digest)),
        (out_dir / f"{stem}.md", renderer.markdown(digest)),
        (out_dir / f"{stem}.json", renderer.json(digest)),
        *(
            (out_dir / "articles" / f"{key}.html", renderer.article(digest, item))
            for key, item in unique.items()
        ),
        (out_dir / "index.html", renderer.index(all_days)),
    ]

    (out_dir / "articles").mkdir(parents=True, exist_ok=True)
    root = out_dir.resolve()
    for path, _ in files:
        # Defence in depth: a symlinked articles/ must not lead elsewhere.
        if not path.parent.resolve().is_relative_to(root):
            raise ValueError(f"{path} would be written outside {out_dir}")
    written = []
    for path, text in files:
        atomic_write(path, text)
        written.append(path)
    for folder in {p.parent for p in written}:
        _fsync_dir(folder)
    return written


def atomic_write(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` (UTF-8) so that readers see the old or the new file."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    # os.open with 0o666 lets the umask decide, as for any other file we create.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(text.encode("utf-8"))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _fsync_dir(folder: Path) -> None:
    """Make the renames durable; not possible (nor needed) everywhere."""
    flags = getattr(os, "O_DIRECTORY", None)
    if flags is None:
        return
    try:
        fd = os.open(folder, os.O_RDONLY | flags)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


__all__ = [
    "EmailParts",
    "Renderer",
    "atomic_write",
    "check_key",
    "write_archive",
]

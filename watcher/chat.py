"""A digest as chat messages: the services' Markdown flavours and packing into parts.

Each service's flavour and byte limit come from :data:`watcher.deliveries.SERVICES`.
Document text is made inert by replacing the few ASCII characters that carry
markup in the services' dialects (``* _ [ ] < > ` | ~ # \\ &``) with their
full-width twins: not every dialect honours backslash escapes, and full-width
forms read naturally in Chinese text. Control characters are replaced as in
every other output (``display.clean``).

Messages split between items, never inside one; an item too big for any
message is cut, ending in "…", with no dangling link or emphasis.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Collection
from dataclasses import dataclass
from urllib.parse import quote

from watcher.archive import INDEX, article_file, day_file, public_url, topic_day_file
from watcher.deliveries import SERVICES, Flavour, only_topics
from watcher.display import (
    change,
    clean_digest,
    has_items,
    listed,
    reprints,
    segments,
    shown_file,
    source,
    spark,
    term_list,
)
from watcher.models import Digest, DigestItem, WeeklyDigest

MIN_CHAT_LIMIT = 256


def messages(
    digest: Digest,
    service: str,
    *,
    base_url: str | None = None,
    topics: Collection[str] | None = None,
    limit: int | None = None,
) -> list[str]:
    """Compact Markdown messages for a chat bot, each at most ``limit`` UTF-8 bytes.

    ``limit`` None: the service's own. Only sections whose id is in ``topics``
    (None: all). Each message starts with the subject as a bold line, plus
    "(k/n)" when there are several. With ``base_url`` headlines link to their
    article pages, "另有 N 篇" to the archive's page of all the topic's items
    that day, and the last message to the day's page; without it, no links,
    and that page is named by its path in the archive.
    """
    known = SERVICES.get(service)
    if known is None:
        raise ValueError(f"unknown chat service {service!r}; one of {', '.join(SERVICES)}")
    if limit is None:
        limit = known.limit
    if limit < MIN_CHAT_LIMIT:
        raise ValueError(f"chat limit {limit} is too small; at least {MIN_CHAT_LIMIT} bytes")
    d = clean_digest(digest)
    if topics is not None:
        d = only_topics(d, frozenset(topics))
    fmt = _FLAVOURS[known.flavour]
    return _pack(fmt, d.subject, _blocks(d, fmt, base_url), limit)


# ------------------------------------------------------------------------ blocks


@dataclass
class _Block:
    """One indivisible piece of a chat message."""

    section: int | None  # index of its section, None for header-less text
    kind: str  # "head" (a section heading), "item", "text"
    text: str
    cont: str | None = None  # heading to repeat when a message starts mid-section


def _blocks(d: Digest, fmt: _Markdown, base_url: str | None) -> list[_Block]:
    """The digest as blocks: section headings, items, then notices and the day's link."""
    blocks: list[_Block] = []
    day_url = public_url(base_url, day_file(d.day))
    if not has_items(d):
        blocks.append(_Block(None, "text", "无匹配文章" if d.published_from else "今日无匹配文章"))
    else:
        number = 0
        for n, s in enumerate(d.sections):
            head = f"{fmt.heading(fmt.esc(s.name))} · "
            if not s.items:
                none = "无匹配" if d.published_from else "今日无匹配"
                blocks.append(_Block(n, "head", head + none, cont=None))
                continue
            cont = f"{fmt.heading(fmt.esc(s.name))}（续）"
            # A digest of publication days has no "against the week before".
            trend = "" if d.published_from else f" · {change(s)}"
            blocks.append(_Block(n, "head", head + f"{s.count} 篇{trend}", cont=cont))
            for item in listed(s):
                number += 1
                text = _item(fmt, item, number, base_url, d.day)
                blocks.append(_Block(n, "item", text, cont=cont))
            rest = len(reprints(s))
            if s.more or rest:
                path = topic_day_file(s.id, d.day)
                url = public_url(base_url, path)
                told = f"另有 {s.more} 篇未列出" if s.more else ""
                also = f"及 {rest} 篇转载" if rest else ""
                if url:
                    link = fmt.link(f"查看全部 {s.count} 篇{also}", url)
                    text = f"{told} · {link}" if told else link
                else:
                    where = f"全部{f'（含 {rest} 篇转载）' if rest else ''}见存档 {fmt.esc(path)}"
                    text = f"{told}，{where}" if told else where
                blocks.append(_Block(n, "item", text, cont=cont))
    tail = [f"⚠️ {fmt.esc(notice)}" for notice in d.notices]
    if d.stats.failures:
        names = "、".join(fmt.esc(shown_file(f)) for f, _ in d.stats.failures[:3])
        extra = " 等" if len(d.stats.failures) > 3 else ""
        tail.append(f"⚠️ {len(d.stats.failures)} 个文件读取失败：{names}{extra}")
    if day_url:
        tail.append(fmt.link("查看完整日报", day_url))
    if tail:
        blocks.append(_Block(None, "text", fmt.br.join(tail)))
    return blocks


def _item(fmt: _Markdown, item: DigestItem, number: int, base_url: str | None, day: dt.date) -> str:
    """One numbered item: headline (linked), paper, date and page, terms, the snippet
    with hits bold."""
    url = public_url(base_url, article_file(item.key))
    headline = fmt.esc(item.headline)
    title = fmt.link(headline, url) if url else fmt.heading(headline)
    facts = [p for p in (fmt.esc(" ".join(source(item, day))), fmt.esc(term_list(item, 3))) if p]
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


# ------------------------------------------------------------------ the weekly summary


def weekly_messages(
    weekly: WeeklyDigest, service: str, *, base_url: str | None = None, limit: int | None = None
) -> list[str]:
    """A weekly summary as chat messages, packed as :func:`messages` packs a digest: per
    topic the week's count against the week before and per day, the best stories
    (linked under ``base_url``) and the stories printed more than once."""
    known = SERVICES.get(service)
    if known is None:
        raise ValueError(f"unknown chat service {service!r}; one of {', '.join(SERVICES)}")
    fmt = _FLAVOURS[known.flavour]
    blocks: list[_Block] = []
    for n, s in enumerate(weekly.sections):
        name = fmt.heading(fmt.esc(s.name))
        head = f"{name} · 本周 {s.total} 篇 · {weekly_change(s.total, s.previous)}"
        if s.total:
            head += " · " + spark(s.days)
        cont = f"{fmt.heading(fmt.esc(s.name))}（续）"
        blocks.append(_Block(n, "head", head, cont=cont))
        for k, w in enumerate(s.top, 1):
            text = _item(fmt, w.item, k, base_url, w.day)
            if w.copies > 1:
                text += f"{fmt.br}共 {w.copies} 篇（含转载与重复）"
            blocks.append(_Block(n, "item", text, cont=cont))
        if s.groups:
            lines = ["多次刊载："] + [
                f"- {fmt.esc(g.headline)}：{fmt.esc('、'.join(g.copies))}" for g in s.groups
            ]
            blocks.append(_Block(n, "item", fmt.br.join(lines), cont=cont))
    tail = f"本周 {weekly.digests} 期日报，读入 {weekly.documents} 份文档、{weekly.articles} 篇文章"
    index = public_url(base_url, INDEX)
    if index:
        tail += fmt.br + fmt.link("全部日报", index)
    blocks.append(_Block(None, "text", tail))
    return _pack(fmt, weekly.subject, blocks, limit or known.limit)


def weekly_change(total: int, previous: int | None) -> str:
    """'较上周 +3' / '较上周 −2' / '与上周持平'; '上周无日报' when there is nothing to compare."""
    if previous is None:
        return "上周无日报"
    diff = total - previous
    if diff == 0:
        return "与上周持平"
    return f"较上周 {'+' if diff > 0 else '−'}{abs(diff)}（上周 {previous}）"


# ---------------------------------------------------------------------- flavours


class _Markdown:
    """Standard Markdown, as most services read it."""

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


class _Slack(_Markdown):
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


_FLAVOURS: dict[Flavour, _Markdown] = {"markdown": _Markdown(), "slack": _Slack()}


def _url(url: str) -> str:
    """A URL that cannot end a Markdown link or a Slack link early."""
    return re.sub(r"[\s()<>|\[\]]", lambda m: quote(m.group(0)), url)


# ----------------------------------------------------------------------- packing


def _size(text: str) -> int:
    return len(text.encode("utf-8"))


def _cut(text: str, budget: int, fmt: _Markdown) -> str:
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


def _fill(blocks: list[_Block], budget: int, fmt: _Markdown) -> list[list[str]]:
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


def _pack(fmt: _Markdown, subject: str, blocks: list[_Block], limit: int) -> list[str]:
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

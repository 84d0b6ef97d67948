"""A ``Digest`` rendered for people and for tools: e-mail, web pages, Markdown, JSON.

Everything a digest shows comes from newspaper pages, so every piece of
document text is treated as untrusted:

* HTML templates (``*.html.j2``) are autoescaped; highlighting is done by
  splitting text into ``(text, hit)`` segments that the template escapes, never
  by pasting markup into strings.
* Markdown (the ``.md`` file) escapes Markdown syntax in document text with
  backslashes, so a headline cannot become a link, an HTML tag or a heading.
* Chat messages (``watcher.chat``) neutralise markup characters their own way.
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

The templates' filters are the functions of ``watcher.display``. Chat messages
and JSON are built in code: their shape is an interface.

Links: with ``base_url`` (the public URL of the archive) e-mail and chat link
headlines to ``<base_url>/articles/<key>.html`` and the day to
``<base_url>/YYYY-MM-DD.html``. Without it e-mail and chat carry no links
(a relative link in a mail client leads nowhere); the archive's own pages
always link relatively, so the folder can be moved or opened from disk.
"""

from __future__ import annotations

import datetime as dt
import json as _json
import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import css_inline
import jinja2

from watcher.archive import INDEX, article_file, day_file, public_url

# Re-exported for pipeline, which should import it from watcher.archive.
from watcher.chat import messages as chat_messages
from watcher.display import (
    bars,
    change,
    clean,
    clean_digest,
    clean_item,
    cn_date,
    cn_day,
    direction,
    has_items,
    local_time,
    md_escape,
    meta,
    pad,
    page_label,
    paragraphs,
    segments,
    spark,
    term_list,
    text_width,
    trend_title,
    wrap,
)
from watcher.models import Digest, DigestItem, TopicSection

TEMPLATES = Path(__file__).with_name("templates")


@dataclass(frozen=True)
class EmailParts:
    """One digest as an e-mail."""

    subject: str
    html: str  # full HTML document, CSS inlined, table layout
    text: str  # plain-text alternative


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
        return public_url(self.base_url, path)

    def _context(self, digest: Digest, *, email: bool) -> dict[str, Any]:
        """What the digest templates see; ``link(item)`` is None when there is no link."""
        d = clean_digest(digest)

        def link(item: DigestItem) -> str | None:
            path = article_file(item.key)
            return self._absolute(path) if email else path

        return {
            "digest": d,
            "subject": d.subject,
            "email": email,
            "link": link,
            "day_url": self._absolute(day_file(d.day)) if email else None,
            "index_url": self._absolute(INDEX) if email else INDEX,
            "empty": not has_items(d),
            "produced": local_time(d.produced_at, d.timezone),
            "since": local_time(d.since, d.timezone),
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
        d = clean_digest(digest)
        listed: list[tuple[TopicSection | None, DigestItem]] = [
            (s, i) for s in d.sections for i in s.items if i.key == item.key
        ]
        if not listed:  # an item from outside the digest still renders
            listed = [(None, clean_item(item))]
        main = listed[0][1]
        marks = [m for _, i in listed for m in i.body_marks]
        return self.env.get_template("article.html.j2").render(
            digest=d,
            item=main,
            listed=listed,
            body=paragraphs(main.body, marks),
            back=f"../{day_file(d.day)}",
            index_url=f"../{INDEX}",
            produced=local_time(d.produced_at, d.timezone),
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
                    "file": day_file(day),
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
            path = article_file(i.key)
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
        limit: int | None = None,
    ) -> list[str]:
        """Chat messages linking under ``base_url``; see :func:`watcher.chat.messages`."""
        return chat_messages(digest, service, base_url=self.base_url, topics=topics, limit=limit)


__all__ = ["EmailParts", "Renderer"]

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
``topic_day.html.j2``  ``topics/<id>/YYYY-MM-DD.html``: every item of a topic
                       that day (the digest lists the best ``max_per_topic``)
``topic.html.j2``      ``topics/<id>.html``: a topic's days, newest first
``index.html.j2``      ``index.html``: every day, newest first, and the topics
                       (and their feeds, ``feeds/<id>.xml``: ``watcher.feeds``)
``email.txt.j2``       the plain-text part of the e-mail
``digest.md.j2``       ``YYYY-MM-DD.md``
``weekly.html.j2``     a weekly channel's summary e-mail (extends ``base.html.j2``)
``weekly.txt.j2``      its plain-text part (the chat text is built in ``chat``)
``style.css``          the one stylesheet, in ``<head>`` of every page and of the
                       e-mail (the clients that matter keep it there)
``email-inline.css``   the few rules also inlined as ``style=""`` in the e-mail,
                       for clients that drop ``<style>``: colours, paddings,
                       wrapping (each the same as in ``style.css``)
=====================  ==========================================================

The templates' filters are the functions of ``watcher.display``. Chat messages
and JSON are built in code: their shape is an interface.

Links: with ``base_url`` (the public URL of the archive) e-mail and chat link
headlines to ``<base_url>/articles/<key>.html``, "另有 N 篇" to
``<base_url>/topics/<id>/YYYY-MM-DD.html`` and the day to
``<base_url>/YYYY-MM-DD.html``. Without it e-mail and chat carry no links
(a relative link in a mail client leads nowhere) and name the archive file
instead; no output shows a server's absolute path (``display.shown_file``).
The archive's own pages always link relatively, so the folder can be moved
or opened from disk.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json as _json
import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import css_inline
import jinja2

from watcher.archive import (
    INDEX,
    TopicDay,
    article_file,
    day_file,
    feed_file,
    public_url,
    relative,
    topic_day_file,
    topic_file,
)

# Re-exported for pipeline, which should import it from watcher.archive.
from watcher.chat import messages as chat_messages
from watcher.chat import weekly_change, weekly_messages
from watcher.display import (
    WEEKDAYS,
    change,
    chart,
    clean,
    clean_digest,
    clean_item,
    cn_date,
    cn_day,
    direction,
    has_items,
    history_days,
    listed,
    local_time,
    md_escape,
    meta,
    pad,
    page_label,
    paragraphs,
    reprints,
    segments,
    shown_file,
    source,
    spark,
    stories,
    term_list,
    text_width,
    trend_title,
    wrap,
)
from watcher.models import (
    Digest,
    DigestItem,
    ReprintGroup,
    TopicSection,
    WeeklyDigest,
    WeeklyItem,
    span,
)

TEMPLATES = Path(__file__).with_name("templates")


@dataclass(frozen=True)
class EmailParts:
    """One digest as an e-mail."""

    subject: str
    html: str  # full HTML document: <style> in <head>, a few rules inlined, table layout
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
            history_days=history_days,
            spark=spark,
            chart=chart,
            trend_title=trend_title,
            page_label=page_label,
            meta=meta,
            source=source,
            shown_file=shown_file,
            term_list=term_list,
            segments=segments,
            paragraphs=paragraphs,
            listed=listed,
            stories=stories,
            reprints=reprints,
            wrap=wrap,
            pad=pad,
            text_width=text_width,
            md=md_escape,
            weekly_change=lambda s: weekly_change(s.total, s.previous),
        )
        # The stylesheet stays in <head> (Gmail, Apple Mail, Outlook.com and the
        # Outlook apps keep it); only email-inline.css goes into style="", so the
        # message stays far below Gmail's ~102 KB clipping. No remote
        # stylesheets: rendering must never touch the network.
        inline_css, _, _ = self.env.loader.get_source(self.env, "email-inline.css")  # type: ignore[union-attr]
        self._inliner = css_inline.CSSInliner(
            inline_style_tags=False,
            keep_style_tags=True,  # (keep_at_rules would make it ignore extra_css)
            load_remote_stylesheets=False,
            extra_css=inline_css,
        )
        self._cleaned: tuple[Digest, Digest] | None = None

    def _clean(self, digest: Digest) -> Digest:
        """The digest cleaned for display, once for the several pages made from it."""
        cached = self._cleaned
        if cached is not None and cached[0] is digest:
            return cached[1]
        cleaned = clean_digest(digest)
        self._cleaned = (digest, cleaned)  # holds the digest, so its id is not reused
        return cleaned

    # -- links

    def _absolute(self, path: str) -> str | None:
        return public_url(self.base_url, path)

    def _context(
        self, digest: Digest, *, email: bool, here: str, cleaned: Digest | None = None
    ) -> dict[str, Any]:
        """What the digest templates see. ``here`` is the archive file being rendered
        (relative links start from it); ``link(item)`` and ``topic_link(section)`` are
        None when there is no link (an e-mail without base_url)."""
        d = cleaned if cleaned is not None else self._clean(digest)

        def target(path: str) -> str | None:
            return self._absolute(path) if email else relative(here, path)

        return {
            "digest": d,
            "subject": d.subject,
            # A digest of publication days names its range instead of a day.
            "period": span(d.published_from, d.day) if d.published_from else None,
            "email": email,
            "link": lambda item: target(article_file(item.key)),
            "topic_link": lambda section: target(topic_day_file(section.id, d.day)),
            "topic_path": lambda section: topic_day_file(section.id, d.day),
            "history_link": lambda section: target(topic_file(section.id)),
            "feed_link": lambda section: target(feed_file(section.id)),
            "day_url": self._absolute(day_file(d.day)) if email else None,
            "day_link": target(day_file(d.day)),
            "index_url": self._absolute(INDEX) if email else relative(here, INDEX),
            "empty": not has_items(d),
            "produced": local_time(d.produced_at, d.timezone),
            "since": local_time(d.since, d.timezone),
        }

    # -- outputs

    def email(self, digest: Digest) -> EmailParts:
        """Subject, HTML (stylesheet in <head>, a few rules inlined) and plain text."""
        ctx = self._context(digest, email=True, here=day_file(digest.day))
        html = self.env.get_template("email.html.j2").render(ctx)
        text = self.env.get_template("email.txt.j2").render(ctx)
        html = self._inliner.inline(html)
        # The charset must come first in <head> (browsers look for it in the first
        # 1024 bytes only), whatever the inliner did to <head>.
        charset = '<meta charset="utf-8">'
        if charset in html and "<head>" in html:
            html = html.replace(charset, "", 1).replace("<head>", "<head>" + charset, 1)
        return EmailParts(subject=digest.subject, html=html, text=text)

    def page(self, digest: Digest) -> str:
        """YYYY-MM-DD.html: the digest as a web page, linking relatively."""
        ctx = self._context(digest, email=False, here=day_file(digest.day))
        return self.env.get_template("page.html.j2").render(ctx)

    def markdown(self, digest: Digest) -> str:
        """YYYY-MM-DD.md, links relative like the web page."""
        ctx = self._context(digest, email=False, here=day_file(digest.day, ".md"))
        return self.env.get_template("digest.md.j2").render(ctx)

    def article(self, digest: Digest, item: DigestItem) -> str:
        """articles/<key>.html: full text with the hits of every topic listing it marked."""
        d = self._clean(digest)
        where: list[tuple[TopicSection | None, DigestItem]] = [
            (s, i) for s in d.sections for i in s.items if i.key == item.key
        ]
        return self._article(d, where or [(None, clean_item(item))])

    def articles(self, digest: Digest) -> list[tuple[str, str]]:
        """(key, page) of every article of the digest, reprints included: the digest
        is cleaned once and each article looked up once, so this is linear."""
        d = self._clean(digest)
        where: dict[str, list[tuple[TopicSection | None, DigestItem]]] = {}
        for s in d.sections:
            for i in s.items:
                where.setdefault(i.key, []).append((s, i))
        return [(key, self._article(d, found)) for key, found in where.items()]

    def _article(self, d: Digest, where: list[tuple[TopicSection | None, DigestItem]]) -> str:
        here = article_file(where[0][1].key)
        main = where[0][1]
        marks = [m for _, i in where for m in i.body_marks]
        return self._article_template.render(
            digest=d,
            item=main,
            listed=where,
            body=paragraphs(main.body, marks),
            back=relative(here, day_file(d.day)),
            index_url=relative(here, INDEX),
            topic_link=lambda s: relative(here, topic_day_file(s.id, d.day)),
            produced=local_time(d.produced_at, d.timezone),
        )

    @property
    def _article_template(self) -> jinja2.Template:
        return self.env.get_template("article.html.j2")  # jinja2 caches the compiled one

    def topic_day(self, digest: Digest, topic_id: str) -> str:
        """topics/<id>/YYYY-MM-DD.html: every item of one topic that day, the stories
        best first, then the reprints; the digest itself lists the first few."""
        d = self._clean(digest)
        section = next((s for s in d.sections if s.id == topic_id), None)
        if section is None:
            raise KeyError(f"the digest of {d.day} has no topic {topic_id!r}")
        ctx = self._context(digest, email=False, here=topic_day_file(topic_id, d.day), cleaned=d)
        return self.env.get_template("topic_day.html.j2").render(ctx, section=section)

    def topic(
        self, topic_id: str, name: str, description: str | None, days: Sequence[TopicDay]
    ) -> str:
        """topics/<id>.html: a topic over time — every day with a digest, newest first,
        with its count and a link to that day's items (or the day's digest, for days
        whose topic page older versions did not write)."""
        here = topic_file(topic_id)
        rows = []
        top = max((d.count for d in days), default=0) or 1
        for d in sorted(days, key=lambda x: x.day, reverse=True):
            target = topic_day_file(topic_id, d.day) if d.full else day_file(d.day)
            rows.append(
                {
                    "day": d.day,
                    "count": d.count,
                    "link": relative(here, target) + ("" if d.full else f"#t-{topic_id}"),
                    "width": round(d.count / top * 100),
                }
            )
        return self.env.get_template("topic.html.j2").render(
            name=clean(name),
            description=clean(description) if description else None,
            days=rows,
            total=sum(d.count for d in days),
            index_url=relative(here, INDEX),
            feed_link=relative(here, feed_file(topic_id)),
        )

    def index(
        self,
        days: Sequence[tuple[dt.date, Mapping[str, int]]],
        topics: Sequence[tuple[str, str]] = (),
    ) -> str:
        """index.html: every day newest first, with its per-topic counts, and links
        to the topics' pages over time (``topics``: (id, name) pairs).

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
        links = [(topic_file(i), clean(n)) for i, n in topics]
        feeds = [(feed_file(i), clean(n)) for i, n in topics]
        return self.env.get_template("index.html.j2").render(days=rows, topics=links, feeds=feeds)

    def json(self, digest: Digest) -> str:
        """YYYY-MM-DD.json for other tools; keys in this order, fields only ever added.

        ``{"version": 1, "day": "YYYY-MM-DD", "timezone": IANA name,
        "produced_at": ISO 8601 (the cut-off), "since": ISO 8601 or null
        (the previous cut-off), "subject": str, "total": int (matched
        articles over all topics), "sections": [...], "stats": {...},
        "notices": [str]}``

        A section: ``{"id", "name", "description" (str|null), "count" (matched
        today, reprints once), "average" (mean daily count over the days of the
        7 before that had a digest, 2 decimals; today's count when none did),
        "trend" ([int] daily counts, oldest first, today last; 0 also for a day
        without a digest), "more" (matched beyond the items the digest lists),
        "items": [...] (every matched item: the ``count`` stories best first,
        then the reprints that matched the topic too), "shown" (how many of the
        first items the digest lists), "history" (how many of the 7 days before
        had a digest with this topic; 0: no history yet), "url" (the archive's
        page of all the topic's items that day)}``.

        An item: ``{"key" (stable id; the article page is
        ``articles/<key>.html``), "headline", "kicker" (str|null), "newspaper"
        (str|null), "date" ("YYYY-MM-DD"|null), "page" (str|null), "byline"
        (str|null), "file" (the scanned path), "score" (float), "terms"
        ({term: hits}, in query order), "why" (the query clause that fired),
        "snippet", "marks" ([[start, end]] hit ranges in the snippet, Python
        string offsets = Unicode code points), "also_in" ([str] reprints such
        as "株洲日报 A01"), "other_topics" ([str] names), "url" (the article
        page: absolute under base_url when set, else relative), "reprint"
        (true: another copy of a story above, named in its "also_in")}``.

        ``"stats": {"documents": int, "articles": int, "failures": [{"file",
        "reason"}]}``. Text is as found (not escaped beyond JSON itself).
        """

        def number(x: float) -> float | None:
            return round(x, 2) if math.isfinite(x) else None

        def url(path: str) -> str:
            return self._absolute(path) or path

        def item(i: DigestItem, reprint: bool) -> dict[str, Any]:
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
                "url": url(article_file(i.key)),
                "reprint": reprint,
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
                    "trend": [max(0, v) for v in s.trend],
                    "more": s.more,
                    "items": [item(i, False) for i in stories(s)]
                    + [item(i, True) for i in reprints(s)],
                    "shown": len(listed(s)),
                    "history": history_days(s),
                    "url": url(topic_day_file(s.id, digest.day)),
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

    # -- the weekly summary

    def weekly_email(self, weekly: WeeklyDigest) -> EmailParts:
        """A weekly channel's e-mail: subject, HTML (styles as the daily e-mail's) and text."""
        w = clean_weekly(weekly)
        ctx = {
            "weekly": w,
            "subject": w.subject,
            "days": [(d, f"周{WEEKDAYS[d.weekday()]}", f"{d.month}/{d.day}") for d in w.days],
            "link": lambda item: self._absolute(article_file(item.key)),
            "index_url": self._absolute(INDEX),
            "produced": local_time(w.produced_at, w.timezone),
            "period": span(w.first, w.last),
        }
        html = self._inliner.inline(self.env.get_template("weekly.html.j2").render(ctx))
        text = self.env.get_template("weekly.txt.j2").render(ctx)
        charset = '<meta charset="utf-8">'
        if charset in html and "<head>" in html:
            html = html.replace(charset, "", 1).replace("<head>", "<head>" + charset, 1)
        return EmailParts(subject=w.subject, html=html, text=text)

    def weekly_chat(self, weekly: WeeklyDigest, service: str) -> list[str]:
        """The weekly summary as chat messages; see :func:`watcher.chat.weekly_messages`."""
        return weekly_messages(clean_weekly(weekly), service, base_url=self.base_url)

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


def clean_weekly(weekly: WeeklyDigest) -> WeeklyDigest:
    """The weekly summary with control characters neutralised in every display string."""

    def top(w: WeeklyItem) -> WeeklyItem:
        return dataclasses.replace(w, item=clean_item(w.item))

    def group(g: ReprintGroup) -> ReprintGroup:
        return dataclasses.replace(
            g, headline=clean(g.headline), copies=tuple(clean(c) for c in g.copies)
        )

    return dataclasses.replace(
        weekly,
        sections=tuple(
            dataclasses.replace(
                s,
                name=clean(s.name),
                description=clean(s.description) if s.description else s.description,
                top=tuple(top(w) for w in s.top),
                groups=tuple(group(g) for g in s.groups),
            )
            for s in weekly.sections
        ),
    )


__all__ = ["EmailParts", "Renderer", "clean_weekly"]

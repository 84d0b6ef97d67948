"""``watcher serve``: a small web app over the state store, for the analyst's browser.

Pages: the days (each stored digest, rendered as the archive renders it, with the
archive's own relative links answered: a topic's items of a day, its pages over
time, its feed), a topic with its trend, labels and matches, search with filters,
article pages with their hits marked and the sources of a reprint group, and each
topic's Atom feed (``/feeds/<id>.xml``, the text the archive writes). The one
thing it writes is a label ("relevant / not relevant" to a topic), the same record
``watcher label`` makes.

Security model:

* It binds ``127.0.0.1`` by default. On any other address it refuses to start
  unless ``WATCHER_SERVE_TOKEN`` holds a token (16 characters or more); every
  request must then carry it as ``Authorization: Bearer <token>`` or hold the
  login cookie that ``/login`` sets after the token was typed there (an HMAC of
  a nonce under the token, so changing the token logs everyone out).
* Without a token, requests must name a loopback host (``Host: 127.0.0.1:…`` or
  ``localhost``): another site cannot reach it by pointing a name at 127.0.0.1.
* Label and login posts are checked against cross-site requests: a CSRF token
  tied to the browser's session cookie (an HMAC under a key made at start-up), an
  ``Origin`` (or, without one, ``Referer``) of this very host, a form body; the
  cookies are ``HttpOnly`` and ``SameSite=Strict``.
* Pages carry no script; the Content-Security-Policy allows none, and no framing.
  Every piece of document text is autoescaped by jinja2.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import hashlib
import hmac
import ipaddress
import logging
import math
import secrets
import signal
import socket
import time
import urllib.parse
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from watcher import digest as digest_mod
from watcher import feeds, pipeline, search
from watcher.config import Config
from watcher.display import clean, cn_date, page_facts, paragraphs, segments
from watcher.errors import ConfigError, RuleError, WatcherError
from watcher.models import Digest, Match
from watcher.render import TEMPLATES, Renderer
from watcher.segment import Segmenter
from watcher.store import ArticleFilter, Store, StoredArticle
from watcher.tuning import Agreement, Suggestion, agreement, proposed_edit, suggest
from watcher.watchlists import Topic, load_watchlists, topic_file

log = logging.getLogger(__name__)

TOKEN_ENV = "WATCHER_SERVE_TOKEN"
MIN_TOKEN = 16
SESSION_COOKIE = "watcher_session"
AUTH_COOKIE = "watcher_auth"
AUTH_DAYS = 30
PER_PAGE = 20
LOGIN_TRIES = 5  # failed logins from one address per minute before it must wait
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")

CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def is_loopback(host: str) -> bool:
    """Is ``host`` (a name or an address) this machine only?"""
    if host.strip("[]") in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(host: str, token: str | None) -> None:
    """Refuse a bind that would expose the store without a token; a short token too."""
    if token is not None and len(token) < MIN_TOKEN:
        raise WatcherError(
            f"{TOKEN_ENV} is too short ({len(token)} characters; at least {MIN_TOKEN}); "
            "make one with: python3 -c 'import secrets; print(secrets.token_urlsafe(24))'"
        )
    if not is_loopback(host) and not token:
        raise WatcherError(
            f"refusing to serve on {host}: any machine that reaches it could read the "
            f"store. Set {TOKEN_ENV} to a secret token (at least {MIN_TOKEN} characters) "
            "that browsers must give, or serve on 127.0.0.1 (the default) behind your own "
            "proxy"
        )


# --- security helpers ------------------------------------------------------------------


def _sign(key: bytes, text: str) -> str:
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()


@dataclass
class Guard:
    """Authentication, sessions and CSRF tokens for one running app."""

    token: str | None
    key: bytes = dataclasses.field(default_factory=lambda: secrets.token_bytes(32))
    failures: dict[str, list[float]] = dataclasses.field(default_factory=dict)

    def csrf(self, session: str) -> str:
        return _sign(self.key, "csrf:" + session)[:40]

    def login_cookie(self) -> str:
        assert self.token is not None
        nonce = secrets.token_urlsafe(16)
        return f"{nonce}.{_sign(self.token.encode(), 'login:' + nonce)}"

    def authorized(self, request: Request) -> bool:
        if self.token is None:
            return True
        header = request.headers.get("authorization", "")
        scheme, _, given = header.partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(
            given.strip().encode(), self.token.encode()
        ):
            return True
        cookie = request.cookies.get(AUTH_COOKIE, "")
        nonce, _, mac = cookie.partition(".")
        expected = _sign(self.token.encode(), "login:" + nonce)
        return bool(nonce) and hmac.compare_digest(mac.encode(), expected.encode())

    def throttled(self, client: str, now: float) -> bool:
        """Whether ``client`` gave LOGIN_TRIES wrong tokens (login or Bearer) within a
        minute; addresses with none left are forgotten, so the table stays small."""
        recent = [t for t in self.failures.get(client, []) if now - t < 60]
        if recent:
            self.failures[client] = recent
        else:
            self.failures.pop(client, None)
        return len(recent) >= LOGIN_TRIES

    def failed(self, client: str, now: float) -> None:
        self.failures.setdefault(client, []).append(now)


def _same_origin(request: Request) -> str | None:
    """Why a post is not from this site's own pages, or None when it is."""
    host = request.headers.get("host", "")
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        referer = request.headers.get("referer")
        if not referer:
            return "the request carries neither an Origin nor a Referer header"
        parts = urllib.parse.urlsplit(referer)
        origin = f"{parts.scheme}://{parts.netloc}"
    parts = urllib.parse.urlsplit(origin)
    if parts.netloc != host or parts.scheme not in ("http", "https"):
        return f"it comes from {origin}, not from this site ({host})"
    return None


def _safe_next(target: str | None, default: str = "/") -> str:
    """A local path to go back to (never another site: no scheme, no //host)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target


# --- what the pages show -----------------------------------------------------------------


@dataclass(frozen=True)
class TopicInfo:
    id: str
    name: str
    description: str | None = None
    query: str | None = None


@dataclass(frozen=True)
class Bar:
    label: str
    value: int
    x: float
    y: float
    w: float
    h: float


CHART_LEFT = 34  # room for the scale's numbers
CHART_BOTTOM = 18  # room for the dates


@dataclass(frozen=True)
class Chart:
    """A bar chart with a scale: bars, the y-axis top, x labels (first, middle, last)."""

    bars: tuple[Bar, ...]
    top: int
    ticks: tuple[tuple[float, str, str], ...]  # (x, date, text-anchor)
    unit: str  # "日", "月" or "年"
    width: int = 420
    height: int = 110
    left: int = CHART_LEFT
    bottom: int = CHART_BOTTOM


def trend_chart(dates: Sequence[tuple[dt.date, int]], days: int = 60) -> Chart | None:
    """Counts per publication date as bars: by day when the dates span at most ``days``
    days, else by month over at most 60 months, else by year; None without data."""
    if not dates:
        return None
    first, last = dates[0][0], dates[-1][0]
    points: list[tuple[str, int]]
    if (last - first).days <= days:
        counts = dict(dates)
        span = [first + dt.timedelta(days=n) for n in range((last - first).days + 1)]
        points = [(d.isoformat(), counts.get(d, 0)) for d in span]
        unit = "日"
    elif (last.year - first.year) * 12 + last.month - first.month < 60:
        months: dict[tuple[int, int], int] = {}
        for d, n in dates:
            months[(d.year, d.month)] = months.get((d.year, d.month), 0) + n
        y, m = first.year, first.month
        points = []
        while (y, m) <= (last.year, last.month):
            points.append((f"{y}-{m:02d}", months.get((y, m), 0)))
            y, m = (y + 1, 1) if m == 12 else (y, m + 1)
        unit = "月"
    else:
        years: dict[int, int] = {}
        for d, n in dates:
            years[d.year] = years.get(d.year, 0) + n
        points = [(str(y), years.get(y, 0)) for y in range(first.year, last.year + 1)]
        unit = "年"
    top = max(1, max(v for _, v in points))
    nice = _nice(top)
    width, height = 420, 110
    inner_w, inner_h = width - CHART_LEFT - 4, height - CHART_BOTTOM - 6
    step = inner_w / len(points)
    bars = tuple(
        Bar(
            label=label,
            value=v,
            x=round(CHART_LEFT + i * step + step * 0.1, 2),
            y=round(6 + inner_h - v / nice * inner_h, 2),
            w=round(max(step * 0.8, 1.0), 2),
            h=round(v / nice * inner_h, 2),
        )
        for i, (label, v) in enumerate(points)
    )
    picks = sorted({0, len(points) // 2, len(points) - 1})
    # The first date starts at its bar, the last ends at its bar: both stay inside.
    ticks = tuple(
        (
            round(CHART_LEFT + i * step + (0 if i == 0 else step), 2)
            if i in (0, len(points) - 1)
            else round(CHART_LEFT + (i + 0.5) * step, 2),
            points[i][0],
            "start" if i == 0 else "end" if i == len(points) - 1 else "middle",
        )
        for i in picks
    )
    return Chart(bars, nice, ticks, unit, width, height)


def _nice(n: int) -> int:
    """The scale's top: ``n`` rounded up to 1, 2 or 5 × a power of ten."""
    power = 10 ** math.floor(math.log10(n))
    return next(k * power for k in (1, 2, 5, 10) if k * power >= n)


@dataclass(frozen=True)
class ArticleView:
    """One article as a page or a result shows it."""

    id: str
    stored: StoredArticle
    title: list[tuple[str, bool]]
    snippet: list[tuple[str, bool]]
    topics: tuple[tuple[str, str, float], ...]  # (id, name, score) of stored matches
    labels: Mapping[str, bool]
    received: dt.date  # the day it arrived, in the configured time zone

    @property
    def meta(self) -> str:
        """三湘都市报 · 2026-06-18 · A01版 · byline, as the digest shows them: paper,
        date and page always there (the file name, the day it arrived, 版次不详)."""
        a = self.stored.article
        facts = page_facts(a.newspaper, self.stored.file, a.date, a.page, self.received)
        return " · ".join(clean(p) for p in (*facts, a.byline) if p)


@dataclass(frozen=True)
class Tuning:
    """A topic page's labels section: agreement now and the tune proposal."""

    now: Agreement
    min_score: float | None  # the topic's (None: the watchlists do not load)
    suggestion: Suggestion | None
    diff: str  # the proposed edit of the topic's file ('' when none)

    @property
    def threshold(self) -> float | None:
        return self.suggestion.threshold if self.suggestion else None

    @property
    def best(self) -> Agreement | None:
        return self.suggestion.best if self.suggestion else None


@dataclass(frozen=True)
class Source:
    """A copy of a reprinted story, with a link when it is stored."""

    label: str
    id: str | None
    headline: str | None


# --- the app ----------------------------------------------------------------------------------


class Web:
    """The pages over one state store (each request opens its own connection)."""

    def __init__(self, config: Config, guard: Guard, segmenter: Segmenter | None = None) -> None:
        self.config = config
        self.guard = guard
        self.segmenter = segmenter or pipeline.segmenter_for(config)
        self.renderer = Renderer(config.path.parent / "templates")
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(TEMPLATES)),
            autoescape=jinja2.select_autoescape(("html", "html.j2")),
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        # The digest's own filters (cn_date, segments …), so its macros work here too.
        self.env.filters.update(self.renderer.env.filters)
        self.env.filters.update(cn_date=cn_date, segments=segments)
        self.env.globals.update(per_page=PER_PAGE)

    # -- data

    def store(self) -> Store:
        return Store(self.config.state)

    def topics(self, store: Store) -> list[TopicInfo]:
        """The configured topics (the stored ones if the watchlists do not load)."""
        try:
            loaded: list[Topic] = load_watchlists(self.config.watchlists)
        except ConfigError:
            loaded = []
        if loaded:
            return [TopicInfo(t.id, t.name, t.description, t.query_text) for t in loaded]
        return [TopicInfo(tid, name) for tid, name in store.topic_names().items()]

    def view(
        self,
        store: Store,
        rows: Sequence[StoredArticle],
        topics: Sequence[TopicInfo],
        snippets: Mapping[str, tuple[str, tuple[tuple[int, int], ...]]] | None = None,
        titles: Mapping[str, tuple[tuple[int, int], ...]] | None = None,
    ) -> list[ArticleView]:
        names = {t.id: t.name for t in topics}
        found: dict[str, list[Match]] = {}
        wanted = {r.id for r in rows}
        for doc, idx, m in store.matches_for({r.doc_sha256 for r in rows}):
            key = f"{doc[:16]}-{idx}"
            if key in wanted:
                found.setdefault(key, []).append(m)
        out = []
        for r in rows:
            ms = found.get(r.id, [])
            if titles is not None and r.id in titles:
                marks = titles[r.id]
            else:
                marks = tuple((h.start, h.end) for m in ms for h in m.hits if h.field == "title")
            if snippets is not None and r.id in snippets:
                text, smarks = snippets[r.id]
            else:
                text, smarks = (ms[0].snippet, ms[0].marks) if ms else (r.article.lead, ())
            out.append(
                ArticleView(
                    id=r.id,
                    stored=r,
                    title=segments(clean(r.article.headline), marks),
                    snippet=segments(clean(text), smarks),
                    topics=tuple(
                        (m.topic_id, names.get(m.topic_id, m.topic_id), m.score) for m in ms
                    ),
                    labels=store.article_labels(r.doc_sha256, r.article.index),
                    received=r.first_seen.astimezone(self.config.tz).date(),
                )
            )
        return out

    # -- rendering

    def page(self, request: Request, name: str, **context: Any) -> HTMLResponse:
        session = request.state.session
        topics = context.get("topics") or []
        body = self.env.get_template(f"web/{name}").render(
            csrf=self.guard.csrf(session),
            here=_here(request),
            login=self.guard.token is not None,
            names={t.id: t.name for t in topics},
            **context,
        )
        return HTMLResponse(body, status_code=context.get("status", 200))

    def error(self, request: Request, status: int, message: str) -> HTMLResponse:
        return self.page(request, "error.html.j2", status=status, message=message)

    # -- pages (run in a worker thread)

    def home(self, request: Request) -> Response:
        with self.store() as store:
            topics = self.topics(store)
            counts = {t.id: store.count_matched(ArticleFilter(topic=t.id)) for t in topics}
            days = store.digest_days()
            names = {t.id: t.name for t in topics}
            total = store.counts()["articles"]
        rows = [
            {
                "day": d,
                "total": sum(c.values()),
                "line": "\u00a0· ".join(f"{names.get(k, k)} {v}" for k, v in c.items() if v),
            }
            for d, c in days
        ]
        return self.page(
            request, "home.html.j2", topics=topics, counts=counts, days=rows, articles=total
        )

    def day_of(self, request: Request, key: str = "day") -> dt.date | Response:
        """The day a path names, or the error page saying it is none."""
        text = request.path_params[key]
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            return self.error(request, 404, f"{text!r} is not a day (YYYY-MM-DD)")

    def stored(self, request: Request, key: str = "day") -> Digest | Response:
        """The digest of the day a path names, or the error page saying why not."""
        day = self.day_of(request, key)
        if isinstance(day, Response):
            return day
        with self.store() as store:
            stored = pipeline.stored_digest(store, day)
        if stored is None:
            return self.error(request, 404, f"no digest was produced on {day}")
        return stored

    def day(self, request: Request) -> Response:
        stored = self.stored(request)
        if isinstance(stored, Response):
            return stored
        return self.archive_page(request, self.renderer.page(stored))

    def day_topic(self, request: Request) -> Response:
        """/day/<day>/topics/<id>/<d>.html: the archive's page of every item of a topic
        on day ``d`` (where "查看全部 N 篇" leads), its links relative as in the archive."""
        if isinstance(folder := self.day_of(request), Response):
            return folder
        stored = self.stored(request, "d")
        if isinstance(stored, Response):
            return stored
        tid = request.path_params["id"]
        if not any(s.id == tid for s in stored.sections):
            return self.error(request, 404, f"the digest of {stored.day} has no topic {tid!r}")
        return self.archive_page(request, self.renderer.topic_day(stored, tid))

    def day_file(self, request: Request) -> Response:
        """/day/<day>/<d>.html (the archive's link to a day's page) → /day/<d>/."""
        day = self.day_of(request, "d")
        if isinstance(day, Response):
            return day
        return RedirectResponse(f"/day/{day.isoformat()}/", status_code=303)

    def archive_page(self, request: Request, page: str) -> HTMLResponse:
        """An archive page with the web app's bar on top and its styles."""
        nav = self.env.get_template("web/_nav.html.j2").render(here=_here(request))
        style = self.env.get_template("web/web.css").render()
        page = page.replace(
            "</head>", f'<link rel="icon" href="data:,">\n<style>\n{style}</style>\n</head>', 1
        )
        page = page.replace("<body>", "<body>\n" + nav, 1)
        return HTMLResponse(page)

    def feed(self, request: Request) -> Response:
        """/feeds/<id>.xml: the topic's Atom feed, the text the archive writes."""
        tid = request.path_params["id"]
        with self.store() as store:
            topics = self.topics(store)
            info = next((t for t in topics if t.id == tid), None)
            if info is None:
                known = ", ".join(t.id for t in topics) or "none"
                return self.error(
                    request, 404, f"no topic {tid!r}, so no feed (the topics: {known})"
                )
            (found,) = feeds.from_store(
                store, [(info.id, info.name, info.description)], self.config.digest.feed_entries
            )
        text = feeds.atom(found, base_url=self.config.digest.base_url)
        return Response(text, media_type=f"{feeds.MEDIA_TYPE}; charset=utf-8")

    def day_article(self, request: Request) -> Response:
        key = request.path_params["key"]
        day = request.path_params["day"]
        target = "/article/" + urllib.parse.quote(key) + "?day=" + urllib.parse.quote(day)
        return RedirectResponse(target, status_code=303)

    def search(self, request: Request) -> Response:
        p = request.query_params
        q = p.get("q", "").strip()
        form = {k: p.get(k, "") for k in ("q", "since", "until", "paper", "topic")}
        page = _int(p.get("page"), 1)
        with self.store() as store:
            topics = self.topics(store)
            papers = [name for name, _ in store.newspapers()]
            context: dict[str, Any] = {
                "form": form,
                "topics": topics,
                "papers": papers,
                "results": None,
                "hits": [],
                "problem": None,
                "page": page,
                "caret": None,
            }
            if not q:
                return self.page(request, "search.html.j2", **context)
            try:
                where = _filter(form, topics, papers)
                found = search.search(
                    store,
                    self.segmenter,
                    q,
                    filters=where,
                    limit=PER_PAGE,
                    offset=(page - 1) * PER_PAGE,
                )
            except search.QueryError as exc:
                context["problem"] = str(exc).split("\n", 1)[0]
                context["caret"] = _caret(q, exc.column)
                return self.page(request, "search.html.j2", status=400, **context)
            except (RuleError, ValueError) as exc:
                context["problem"] = str(exc)
                return self.page(request, "search.html.j2", status=400, **context)
            snippets = {h.article.id: (h.match.snippet, h.match.marks) for h in found.hits}
            titles = {h.article.id: h.title_marks for h in found.hits}
            context["hits"] = self.view(
                store, [h.article for h in found.hits], topics, snippets, titles
            )
        context["results"] = found
        context["query_string"] = urllib.parse.urlencode({k: v for k, v in form.items() if v})
        return self.page(request, "search.html.j2", **context)

    def article(self, request: Request) -> Response:
        ident = request.path_params["id"]
        q = request.query_params.get("q", "").strip()
        with self.store() as store:
            row = store.find_article(ident)
            if row is None:
                return self.error(request, 404, f"no stored article {ident!r}")
            topics = self.topics(store)
            (view,) = self.view(store, [row], topics)
            stored = [
                m for d, i, m in store.matches(doc_sha256=row.doc_sha256) if i == row.article.index
            ]
            # The search's hits when it came from one, else every topic's.
            shown = stored
            if q:
                try:
                    hit = search.highlight(q, row, self.segmenter)
                except RuleError:
                    hit = None
                shown = [hit] if hit is not None else stored
            title_marks = [(h.start, h.end) for m in shown for h in m.hits if h.field == "title"]
            body_marks = [(h.start, h.end) for m in shown for h in m.hits if h.field == "body"]
            sources = self.sources(store, row)
        names = {t.id: t.name for t in topics}
        return self.page(
            request,
            "article.html.j2",
            view=view,
            article=row.article,
            title=segments(clean(row.article.headline), title_marks),
            body=paragraphs(clean(row.article.body), body_marks),
            matches=[(names.get(m.topic_id, m.topic_id), m) for m in stored],
            topics=topics,
            sources=sources,
            file=_shown_path(row.file, self.config.inbox),
            q=q,
            day=request.query_params.get("day"),
        )

    def sources(self, store: Store, row: StoredArticle) -> list[Source]:
        """The other copies of this story in the digests that list it (their "also in")."""
        out: list[Source] = []
        seen = {row.id}
        mine = digest_mod.shingles(row.article.headline + "\n" + row.article.body)
        for _, content in store.digests_listing(row.id):
            d = digest_mod.from_json(content)
            labels = {x for s in d.sections for i in s.items if i.key == row.id for x in i.also_in}
            for label in sorted(labels):
                copies = [
                    other
                    for other in _at(store, label, d)
                    if other.id not in seen
                    and digest_mod.containment(
                        mine,
                        digest_mod.shingles(other.article.headline + "\n" + other.article.body),
                    )
                    >= digest_mod.CONTAINMENT
                ]
                if not copies:
                    out.append(Source(label, None, None))
                for other in copies:
                    seen.add(other.id)
                    out.append(Source(label, other.id, other.article.headline))
        return out

    def topic(self, request: Request) -> Response:
        tid = request.path_params["id"]
        page = _int(request.query_params.get("page"), 1)
        with self.store() as store:
            topics = self.topics(store)
            info = next((t for t in topics if t.id == tid), None)
            if info is None:
                return self.error(request, 404, f"no topic {tid!r}")
            where = ArticleFilter(topic=tid)
            total = store.count_matched(where)
            pairs = list(
                store.matched_articles(where, limit=PER_PAGE, offset=(page - 1) * PER_PAGE)
            )
            matched = self.view(
                store,
                [a for a, _ in pairs],
                topics,
                {a.id: (m.snippet, m.marks) for a, m in pairs},
                {
                    a.id: tuple((h.start, h.end) for h in m.hits if h.field == "title")
                    for a, m in pairs
                },
            )
            labelled = store.labels(tid)
            chart = trend_chart(store.topic_dates(tid))
            label_views = self.view(store, [a for _, a in labelled], topics)
            matched_ids = {
                f"{d[:16]}-{i}"
                for d, i, m in store.matches_for({a.doc_sha256 for _, a in labelled})
                if m.topic_id == tid
            }
            tuning = self.tuning(tid, labelled, matched_ids)
        return self.page(
            request,
            "topic.html.j2",
            topic=info,
            total=total,
            matched=matched,
            page=page,
            pages=max(1, -(-total // PER_PAGE)),
            chart=chart,
            labelled=list(zip([lb for lb, _ in labelled], label_views, strict=True)),
            matched_ids=matched_ids,
            tuning=tuning,
            topics=topics,
        )

    def tuning(
        self, tid: str, labelled: Sequence[tuple[Any, StoredArticle]], matched: set[str]
    ) -> Tuning | None:
        """Labelled precision and recall now, and what ``watcher tune`` proposes: the
        ``min_score`` the labels suggest, candidate terms and the edit as a diff."""
        if not labelled:
            return None
        verdicts = {lb.article: lb.relevant for lb, _ in labelled}
        now = agreement(matched, verdicts)
        try:
            current = next(t for t in load_watchlists(self.config.watchlists) if t.id == tid)
        except (ConfigError, StopIteration):
            return Tuning(now, None, None, "")
        rows = [(lb.article, lb.relevant, row.article) for lb, row in labelled]
        got = suggest(current, rows, self.segmenter)
        source = topic_file(self.config.watchlists, tid)
        diff = ""
        if source is not None:
            new_min = got.threshold if got.threshold != current.min_score else None
            terms = [w for w, _, _ in got.terms]
            diff = proposed_edit(source.read_text(encoding="utf-8"), new_min, terms, source.name)
        return Tuning(now, current.min_score, got, diff)

    def label(self, request: Request, form: Mapping[str, str]) -> Response:
        ident, tid, verdict = form.get("article", ""), form.get("topic", ""), form.get("verdict")
        back = _safe_next(form.get("next"), f"/article/{urllib.parse.quote(ident)}")
        with self.store() as store:
            topics = {t.id for t in self.topics(store)}
            if tid not in topics:
                return self.error(request, 400, f"no topic {tid!r}")
            if verdict not in ("yes", "no"):
                return self.error(request, 400, "the verdict must be yes or no")
            row = store.find_article(ident)
            if row is None:
                return self.error(request, 404, f"no stored article {ident!r}")
            store.set_label(
                row.doc_sha256, row.article.index, tid, verdict == "yes", pipeline.utc_now()
            )
        log.info("label: %s %s %s (from the web)", ident, tid, verdict)
        return RedirectResponse(back, status_code=303)


def _to(prefix: str, request: Request, key: str, suffix: str = "") -> Response:
    """A redirect from an archive path to the web app's page for it."""
    quoted = urllib.parse.quote(request.path_params[key], safe="")
    return RedirectResponse(f"{prefix}{quoted}{suffix}", status_code=303)


def _at(store: Store, label: str, d: Digest) -> list[StoredArticle]:
    """Stored articles of the page a reprint label names (``株洲日报 A01``), in the
    digest's window."""
    paper, _, page = label.rpartition(" ")
    if not paper:
        paper, page = label, ""
    found = store.articles_at(
        None if paper == "未知报纸" else paper, page or None, d.since, d.produced_at
    )
    if not found and page:  # a newspaper name with a space and no page
        found = store.articles_at(label, None, d.since, d.produced_at)
    return found


def _filter(
    form: Mapping[str, str], topics: Sequence[TopicInfo], papers: Sequence[str]
) -> ArticleFilter:
    def day(key: str) -> dt.date | None:
        text = form.get(key, "").strip()
        if not text:
            return None
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            raise ValueError(f"{text!r} is not a date; write it as YYYY-MM-DD") from None

    since, until = day("since"), day("until")
    if since and until and since > until:
        raise ValueError(f"the start {since} is after the end {until}")
    topic = form.get("topic") or None
    if topic is not None and topic not in {t.id for t in topics}:
        raise ValueError(f"no topic {topic!r}")
    paper = form.get("paper") or None
    if paper is not None and paper not in papers:
        raise ValueError(f"no stored article is from the newspaper {paper!r}")
    return ArticleFilter(since=since, until=until, paper=paper, topic=topic)


def _shown_path(file: str, inbox: Path) -> str:
    """A scanned file's path as the analyst knows it: relative to the inbox."""
    try:
        return Path(file).relative_to(inbox).as_posix()
    except ValueError:
        return file


def _caret(text: str, column: int | None) -> list[tuple[str, bool]] | None:
    """The query with the character at ``column`` marked."""
    if column is None:
        return None
    i = max(0, min(len(text), column - 1))
    return segments(text + " ", [(i, i + 1)])


def _int(text: str | None, default: int) -> int:
    try:
        return max(1, int(text or default))
    except ValueError:
        return default


def _here(request: Request) -> str:
    """The path and query of this request, for coming back after a post."""
    url = request.url
    return url.path + (f"?{url.query}" if url.query else "")


# --- ASGI: one wrapper gives every page the same checks -----------------------------------

Endpoint = Callable[[Request], Awaitable[Response]]


def create_app(
    config: Config,
    *,
    token: str | None = None,
    segmenter: Segmenter | None = None,
    loopback_only: bool | None = None,
) -> Starlette:
    """The web app. ``loopback_only`` (default: no token) refuses non-loopback Host headers."""
    guard = Guard(token)
    web = Web(config, guard, segmenter)
    strict_host = token is None if loopback_only is None else loopback_only

    def guarded(
        handler: Callable[..., Response], *, post: bool = False, open_: bool = False
    ) -> Endpoint:
        async def endpoint(request: Request) -> Response:
            host = request.headers.get("host", "")
            name = urllib.parse.urlsplit("//" + host).hostname or ""
            new_session = SESSION_COOKIE not in request.cookies
            request.state.session = request.cookies.get(SESSION_COOKIE) or secrets.token_urlsafe(24)
            if strict_host and not is_loopback(name):
                response: Response = Response(
                    f"unknown host {host!r}: this server answers to 127.0.0.1 and localhost only\n",
                    status_code=421,
                    media_type="text/plain",
                )
            elif (
                not open_
                and guard.token is not None
                and request.headers.get("authorization")
                and guard.throttled(_client(request), time.monotonic())
            ):  # a token guessed too often from this address: not even checked
                response = Response(
                    "too many wrong tokens: wait a minute\n",
                    status_code=429,
                    media_type="text/plain",
                )
            elif not open_ and not guard.authorized(request):
                if request.headers.get("authorization"):  # a wrong Bearer token
                    guard.failed(_client(request), time.monotonic())
                response = _ask_login(request)
            elif post:
                response = await _post(request, web, handler, new_session)
            else:
                response = await run_in_threadpool(handler, request)
            for k, v in HEADERS.items():
                response.headers.setdefault(k, v)
            if new_session:
                response.set_cookie(
                    SESSION_COOKIE,
                    request.state.session,
                    httponly=True,
                    samesite="strict",
                    secure=request.url.scheme == "https",
                )
            return response

        return endpoint

    def login_page(request: Request) -> Response:
        if guard.token is None:
            return RedirectResponse("/", status_code=303)
        nxt = _safe_next(request.query_params.get("next"))
        return web.page(request, "login.html.j2", next=nxt, problem=None)

    def login_post(request: Request, form: Mapping[str, str]) -> Response:
        nxt = _safe_next(form.get("next"))
        if guard.token is None:
            return RedirectResponse(nxt, status_code=303)
        client = _client(request)
        now = time.monotonic()
        if guard.throttled(client, now):
            return web.page(
                request,
                "login.html.j2",
                next=nxt,
                status=429,
                problem="too many wrong tokens: wait a minute",
            )
        given = form.get("token", "").encode()
        if not hmac.compare_digest(given, guard.token.encode()):
            guard.failed(client, now)
            return web.page(request, "login.html.j2", next=nxt, status=403, problem="wrong token")
        response = RedirectResponse(nxt, status_code=303)
        response.set_cookie(
            AUTH_COOKIE,
            guard.login_cookie(),
            max_age=AUTH_DAYS * 86400,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )
        return response

    routes = [
        Route("/", guarded(web.home)),
        Route("/search", guarded(web.search)),
        Route(
            "/day/{day}",
            guarded(lambda r: RedirectResponse(f"/day/{r.path_params['day']}/", status_code=301)),
        ),
        Route("/day/{day}/", guarded(web.day)),
        Route("/day/{day}/index.html", guarded(lambda r: RedirectResponse("/", status_code=303))),
        Route("/day/{day}/articles/{key}.html", guarded(web.day_article)),
        # The rest of the archive's relative links, as they resolve under /day/<day>/.
        Route("/day/{day}/topics/{id}/{d}.html", guarded(web.day_topic)),
        Route("/day/{day}/topics/{id}.html", guarded(lambda r: _to("/topic/", r, "id"))),
        Route("/day/{day}/feeds/{id}.xml", guarded(lambda r: _to("/feeds/", r, "id", ".xml"))),
        Route("/day/{day}/{d}.html", guarded(web.day_file)),
        Route("/topic/{id}", guarded(web.topic)),
        Route("/feeds/{id}.xml", guarded(web.feed)),
        # A feed's links, relative to /feeds/<id>.xml as to the archive's feeds/<id>.xml.
        Route("/topics/{id}.html", guarded(lambda r: _to("/topic/", r, "id"))),
        Route("/articles/{key}.html", guarded(lambda r: _to("/article/", r, "key"))),
        Route("/article/{id}", guarded(web.article)),
        Route("/label", guarded(web.label, post=True), methods=["POST"]),
        # No icon: an empty answer, so a browser logs no failed request (no login needed).
        Route("/favicon.ico", guarded(lambda r: Response(status_code=204), open_=True)),
        Route("/login", guarded(login_page, open_=True)),
        Route("/login", guarded(login_post, post=True, open_=True), methods=["POST"]),
    ]
    app = Starlette(routes=routes)
    app.state.web = web
    return app


async def _post(
    request: Request, web: Web, handler: Callable[..., Response], new: bool
) -> Response:
    """A form post, after the cross-site checks: same origin, a form body, the
    session's CSRF token."""
    why = _same_origin(request)
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    body = await request.body()
    form = {k: v[-1] for k, v in urllib.parse.parse_qs(body.decode("utf-8", "replace")).items()}
    if why is None and kind != "application/x-www-form-urlencoded":
        why = f"the body is {kind or 'of no type'}, not a form"
    if why is None and (
        new
        or not hmac.compare_digest(
            form.get("csrf", "").encode(), web.guard.csrf(request.state.session).encode()
        )
    ):
        why = "its form token does not belong to this browser's session (reload the page)"
    if why is not None:
        log.warning("refused a post to %s: %s", request.url.path, why)
        return web.error(request, 403, f"refused: {why}")
    return await run_in_threadpool(handler, request, form)


def _client(request: Request) -> str:
    """The address a request comes from (wrong tokens are counted per address)."""
    return request.client.host if request.client else "?"


def _ask_login(request: Request) -> Response:
    if request.method == "GET" and "text/html" in request.headers.get("accept", ""):
        target = "/login?next=" + urllib.parse.quote(_here(request), safe="")
        return RedirectResponse(target, status_code=303)
    return Response(
        f"a token is needed: send 'Authorization: Bearer <{TOKEN_ENV}>' or log in at /login\n",
        status_code=401,
        media_type="text/plain",
        headers={"WWW-Authenticate": 'Bearer realm="watcher"'},
    )


# --- running it ------------------------------------------------------------------------------


def listen(host: str, port: int) -> socket.socket:
    """A listening socket, or WatcherError saying why not."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise WatcherError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}; choose another --port "
            "or --host"
        ) from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/"


def serve(config: Config, sock: socket.socket, token: str | None) -> None:
    """Run the app on ``sock`` until SIGINT or SIGTERM, then return (exit code 0)."""
    import uvicorn  # deferred: only `watcher serve` needs the server

    class Server(uvicorn.Server):
        # Our handlers, not uvicorn's: it re-raises the signal after shutting down,
        # and `watcher serve` should end like `watcher run`, cleanly with code 0.
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield

        def install_signal_handlers(self) -> None:  # uvicorn before 0.29
            pass

    app = create_app(config, token=token)
    server = Server(
        uvicorn.Config(
            app, log_level="warning", access_log=False, server_header=False, proxy_headers=False
        )
    )

    def stop(signum: int, _frame: object) -> None:
        log.info("watcher serve: %s, stopping", signal.Signals(signum).name)
        server.should_exit = True

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, stop)
    server.run(sockets=[sock])

"""`watcher serve`: a real uvicorn server on 127.0.0.1 (a free port, in a thread) over a
real store scanned from the seeds, asked over HTTP; the security checks by their
messages; and a real headless Chromium (Debian's, driven over the DevTools
protocol: no driver, no download) that opens a day, searches, opens a hit, labels
it and finds the label on the topic page, at 375 and 1280 px, with no horizontal
overflow and no console errors. ``WATCHER_UPDATE_GOLDEN=1`` also writes the
screenshots into docs/ (docs/screenshot-search-375.png …)."""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import html
import http.client
import json
import os
import re
import select
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from tests.conftest import CORPUS, dedent
from watcher import cli, pipeline, web
from watcher.config import Config
from watcher.errors import WatcherError
from watcher.matcher import Matcher
from watcher.models import Article
from watcher.store import Store

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
UPDATE = os.environ.get("WATCHER_UPDATE_GOLDEN") == "1"
TOKEN = "s3cret-token-for-tests-0123"
NOW = dt.datetime(2026, 11, 22, 1, 0, tzinfo=dt.UTC)

TOPICS = dedent(
    """
    - id: renewal
      name: 城市更新
      description: 城市更新与老旧小区改造
      query: 城市更新 OR 老旧小区
    - id: safety
      name: 安全生产
      query: 安全生产
    """
)

# A story printed twice (a reprint): the digest lists it once, with "also in".
STORY = (
    "本报讯 长沙市今年将改造老旧小区三百个，惠及居民十万户，改造内容包括加装电梯、"
    "管网更新和停车设施建设，市住建局表示将在年底前全部完工并接受居民评议。"
)


@pytest.fixture
def cfg(make_config: Callable[..., Config], seeded_inbox: Path) -> Config:
    return _stored(make_config())


@pytest.fixture
def busy(make_config: Callable[..., Config], seeded_inbox: Path) -> Config:
    """As ``cfg``, the seeds in the digest too, which lists one story per topic and
    counts the rest; with a sample of 新闻联播 days beside them when the corpus is
    there (the issue's "seeds and a corpus sample")."""
    for day in sorted((CORPUS / "xwlb_cctv_news").glob("*"))[::100][:20]:
        shutil.copy(day, seeded_inbox / day.name)
    return _stored(make_config(digest={"max_per_topic": 1}), seen=NOW - dt.timedelta(hours=1))


def _stored(cfg: Config, seen: dt.datetime | None = None) -> Config:
    """The seeds and a reprinted story scanned, matched and digested; the seeds are
    read now (after the digest) unless ``seen`` says when."""
    (cfg.watchlists / "topics.yaml").write_text(TOPICS, encoding="utf-8")
    topics = pipeline.load_topics(cfg)
    with Store(cfg.state) as store:
        if seen is None:
            pipeline.scan(cfg, store, topics=topics)
        else:
            pipeline.scan(cfg, store, topics=topics, clock=lambda: seen)
        copies = [
            Article(0, "长沙改造三百个老旧小区", STORY, newspaper="长沙晚报", page="A03",
                    date=dt.date(2026, 11, 21)),
            Article(1, "长沙今年改造老旧小区三百个", STORY + "（转载）", newspaper="湖南日报",
                    page="05", date=dt.date(2026, 11, 21)),
        ]  # fmt: skip
        matcher = Matcher(topics, pipeline.segmenter_for(cfg))
        store.add_document(
            sha256="d" * 64, path=str(cfg.inbox / "reprint.txt"), size=1, mtime_ns=1,
            encoding="utf-8", articles=copies, now=NOW,
            matches=[matcher.match(a) for a in copies],
        )  # fmt: skip
        pipeline.digest_day(cfg, store, topics, _day(cfg), clock=lambda: NOW)
    return cfg


def _day(cfg: Config) -> dt.date:
    return NOW.astimezone(cfg.tz).date()


# --- a server in a thread, a small HTTP client -------------------------------------------


@contextlib.contextmanager
def serving(cfg: Config, token: str | None = None, **kw: Any) -> Iterator[str]:
    """The app on a free port of 127.0.0.1; yields its base URL."""
    app = web.create_app(cfg, token=token, **kw)
    sock = web.listen("127.0.0.1", 0)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise AssertionError("the server did not start within 15 s")
        time.sleep(0.02)
    try:
        yield web.url_of(sock).rstrip("/")
    finally:
        server.should_exit = True
        thread.join(15)
        sock.close()


@dataclass
class Reply:
    status: int
    headers: http.client.HTTPMessage
    text: str

    @property
    def location(self) -> str | None:
        return self.headers.get("location")


class Client:
    """HTTP with a cookie jar; every request bounded by a timeout."""

    def __init__(self, base: str) -> None:
        parts = urllib.parse.urlsplit(base)
        self.base = base
        self.host, self.port = parts.hostname or "", parts.port or 80
        self.cookies: dict[str, str] = {}

    def request(
        self, method: str, path: str, body: str | None = None, headers: dict[str, str] | None = None
    ) -> Reply:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=15)
        sent = dict(headers or {})
        if self.cookies:
            sent.setdefault("Cookie", "; ".join(f"{k}={v}" for k, v in self.cookies.items()))
        conn.request(method, path, body=body.encode() if body is not None else None, headers=sent)
        resp = conn.getresponse()
        text = resp.read().decode("utf-8")
        for value in resp.headers.get_all("set-cookie") or []:
            name, _, rest = value.partition("=")
            self.cookies[name] = rest.split(";", 1)[0]
        conn.close()
        return Reply(resp.status, resp.headers, text)

    def get(self, path: str, **headers: str) -> Reply:
        return self.request("GET", path, headers=headers)

    def post(self, path: str, form: dict[str, str], **headers: str) -> Reply:
        h = {"Content-Type": "application/x-www-form-urlencoded", "Origin": self.base, **headers}
        return self.request("POST", path, urllib.parse.urlencode(form), h)


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', page)
    assert found, "no CSRF token in the page"
    return found.group(1)


def _ids(cfg: Config) -> dict[str, str]:
    with Store(cfg.state) as store:
        return {r.article.headline[:8]: r.id for r in store.articles()}


def _text(page: str) -> str:
    """The page's text, tags removed (for asserting what a reader sees)."""
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", page)))


# --- pages -------------------------------------------------------------------------------------


def test_home_lists_topics_and_days(cfg: Config) -> None:
    with serving(cfg) as base:
        r = Client(base).get("/")
    assert r.status == 200
    assert f'href="/day/{_day(cfg).isoformat()}/"' in r.text
    assert 'href="/topic/renewal"' in r.text and "城市更新与老旧小区改造" in r.text
    assert r.headers["content-security-policy"] == web.CSP
    assert r.headers["x-frame-options"] == "DENY"
    assert "<script" not in r.text


def test_the_day_is_the_stored_digest_and_its_links_lead_to_article_pages(cfg: Config) -> None:
    day = _day(cfg).isoformat()
    with serving(cfg) as base:
        c = Client(base)
        assert c.get(f"/day/{day}").location == f"/day/{day}/"
        r = c.get(f"/day/{day}/")
        assert r.status == 200
        assert 'class="webnav"' in r.text and "WATCHER 日报" in r.text
        link = re.search(r'href="(articles/[^"]+\.html)"', r.text)
        assert link
        r2 = c.get(f"/day/{day}/{link.group(1)}")
        assert r2.status == 303 and r2.location and r2.location.startswith("/article/")
        assert c.get(r2.location).status == 200
        assert c.get(f"/day/{day}/index.html").location == "/"
        missing = c.get("/day/2001-01-01/")
        assert missing.status == 404 and "no digest was produced on 2001-01-01" in missing.text
        assert "'someday' is not a day (YYYY-MM-DD)" in _text(c.get("/day/someday/").text)


def test_the_days_more_link_lists_every_item_of_the_topic_that_day(busy: Config) -> None:
    day = _day(busy).isoformat()
    with Store(busy.state) as store:
        stored = pipeline.stored_digest(store, _day(busy))
    assert stored is not None
    section = next(s for s in stored.sections if s.id == "renewal")
    assert section.more > 0  # the digest lists one story and counts the rest
    with serving(busy) as base:
        c = Client(base)
        page = c.get(f"/day/{day}/").text
        more = re.search(r'另有 \d+ 篇未列出 · <a href="(topics/renewal/[^"]+\.html)">', page)
        assert more and more.group(1) == f"topics/renewal/{day}.html"
        r = c.get(f"/day/{day}/{more.group(1)}")
        assert r.status == 200 and 'class="webnav"' in r.text
        shown = [
            html.unescape(h)
            for h in re.findall(r'<h3 class="headline"><a [^>]+>([^<]+)</a>', r.text)
        ]
        assert shown == [i.headline for i in section.items]  # every item, the reprint too
        # Its links are the archive's, relative; under /day/<day>/ they all lead somewhere.
        links = re.findall(r'href="([^"#]+)"', r.text)
        assert f"../../articles/{section.items[-1].key}.html" in links
        assert "../renewal.html" in links and "../../feeds/renewal.xml" in links
        here = f"/day/{day}/{more.group(1)}"
        answers = {
            "../renewal.html": "/topic/renewal",
            f"../../{day}.html": f"/day/{day}/",
            "../../index.html": "/",
            "../../feeds/renewal.xml": "/feeds/renewal.xml",
            f"../../articles/{section.items[0].key}.html": (
                f"/article/{section.items[0].key}?day={day}"
            ),
        }
        for link, target in answers.items():
            r2 = c.get(urllib.parse.urljoin(here, link))
            assert (r2.status, r2.location) == (303, target), link
            assert c.get(target).status == 200
        # Unknown days and topics, by message.
        nope = c.get(f"/day/{day}/topics/nope/{day}.html")
        assert nope.status == 404
        assert f"the digest of {day} has no topic &#39;nope&#39;" in nope.text
        gone = c.get(f"/day/{day}/topics/renewal/2001-01-01.html")
        assert gone.status == 404 and "no digest was produced on 2001-01-01" in gone.text
        bad = c.get(f"/day/{day}/topics/renewal/someday.html")
        assert bad.status == 404 and "&#39;someday&#39; is not a day (YYYY-MM-DD)" in bad.text
        assert c.get(f"/day/{day}/someday.html").status == 404
        assert c.get("/day/x/topics/renewal/{day}.html").status == 404


HREF = re.compile(r'(?:href|src|action)="([^"]*)"')


def test_every_link_in_every_page_leads_somewhere(busy: Config) -> None:
    """Crawl the app from / (bounded): no internal link answers 404, or any error."""
    broken, seen, todo = [], {"/"}, ["/"]
    deadline = time.monotonic() + 240
    with serving(busy) as base:
        c = Client(base)
        while todo and len(seen) <= 400 and time.monotonic() < deadline:
            path = todo.pop(0)
            r = c.get(path)
            hops = 0
            while r.status in (301, 303) and r.location and hops < 5:
                r, hops = c.get(urllib.parse.urljoin(path, r.location)), hops + 1
            if r.status != 200:
                broken.append((path, r.status))
                continue
            kind = r.headers.get("content-type", "")
            if not kind.startswith(("text/html", "application/atom+xml")):
                continue
            for link in HREF.findall(r.text):
                link = html.unescape(link).split("#", 1)[0]
                if not link or link.startswith(("data:", "mailto:")) or "://" in link:
                    continue
                target = urllib.parse.urljoin(path, link)
                if target == "/label" or target in seen:  # /label takes posts only
                    continue
                seen.add(target)
                todo.append(target)
    assert not todo, f"the crawl did not finish: {len(seen)} links, {len(todo)} left"
    assert broken == []
    visited = " ".join(seen)
    for kind in ("/day/", "/topics/renewal/", "/topic/", "/article/", "/feeds/renewal.xml",
                 "/articles/", "/search"):  # fmt: skip
        assert kind in visited, kind
    assert len(seen) > 30


def test_search_ranks_highlights_and_filters(cfg: Config) -> None:
    with serving(cfg) as base:
        c = Client(base)
        r = c.get("/search?q=" + urllib.parse.quote("城市更新 AND 长沙"))
        assert r.status == 200
        assert (
            "共 1 篇" in r.text
            and "<mark>城市更新</mark>" in r.text
            and "<mark>长沙</mark>" in r.text
        )
        r = c.get("/search?" + urllib.parse.urlencode({"q": "老旧小区", "paper": "长沙晚报"}))
        assert "共 1 篇" in r.text and "长沙改造三百个老旧小区" in _text(r.text)
        r = c.get("/search?" + urllib.parse.urlencode(
            {"q": "老旧小区 OR 城市更新", "topic": "renewal", "since": "2026-11-21",
             "until": "2026-11-21"}))  # fmt: skip
        assert "共 2 篇" in r.text
        r = c.get("/search?" + urllib.parse.urlencode({"q": "没有的词"}))
        assert "没有找到「没有的词」" in r.text


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"q": '城市更新 AND "长沙'}, "bad query: unterminated quote at column 10"),
        ({"q": "长沙", "since": "yesterday"}, "'yesterday' is not a date; write it as YYYY-MM-DD"),
        ({"q": "长沙", "since": "2026-02-02", "until": "2026-01-01"},
         "the start 2026-02-02 is after the end 2026-01-01"),
        ({"q": "长沙", "topic": "nope"}, "no topic 'nope'"),
        ({"q": "长沙", "paper": "人民日报"}, "no stored article is from the newspaper '人民日报'"),
    ],
)  # fmt: skip
def test_search_errors_are_shown_by_message(
    cfg: Config, params: dict[str, str], message: str
) -> None:
    with serving(cfg) as base:
        r = Client(base).get("/search?" + urllib.parse.urlencode(params))
    assert r.status == 400
    assert message in _text(r.text)


def test_a_query_error_marks_its_column(cfg: Config) -> None:
    with serving(cfg) as base:
        r = Client(base).get("/search?" + urllib.parse.urlencode({"q": '城市更新 AND "长沙'}))
    assert "<code>城市更新 AND <mark>&#34;</mark>长沙" in r.text


def test_article_page_marks_hits_and_names_the_reprint_sources(cfg: Config) -> None:
    ids = _ids(cfg)
    one, two = ids["长沙改造三百个老"], ids["长沙今年改造老旧"]
    with serving(cfg) as base:
        c = Client(base)
        r = c.get(f"/article/{one}")
        assert r.status == 200
        assert "<mark>老旧小区</mark>" in r.text
        # The other copy, found from the stored digest's "also in":
        assert f'<a href="/article/{two}">湖南日报 05：长沙今年改造老旧小区三百个</a>' in r.text
        r = c.get(f"/article/{one}?q=" + urllib.parse.quote("加装电梯"))
        assert "<mark>加装电梯</mark>" in r.text and "<mark>老旧小区</mark>" not in r.text
        missing = c.get("/article/0000000000000000-9")
        assert (
            missing.status == 404
            and "no stored article &#39;0000000000000000-9&#39;" in missing.text
        )


def test_every_article_shows_its_paper_date_and_page(cfg: Config) -> None:
    # Seed 001 (a saved web page) names no page: its article page, search hit and
    # topic page say 版次不详, as the digest does, never just the byline.
    with Store(cfg.state) as store:
        [web_page] = [r for r in store.articles() if "001_" in r.file]
    a = web_page.article
    assert a.page is None
    with serving(cfg) as base:
        c = Client(base)
        article = _text(c.get(f"/article/{web_page.id}").text)
        hit = _text(c.get("/search?q=" + urllib.parse.quote(a.headline[:6])).text)
    paper = a.newspaper or "001_3b49a103faae7710.txt"
    arrived = web_page.first_seen.astimezone(cfg.tz).date()  # the scan's real time
    when = a.date.isoformat() if a.date else f"{arrived}收录"
    for page in (article, hit):
        assert f"{paper} · {when} · 版次不详 · {a.byline}" in page


def test_topic_page_trend_labels_and_matches(cfg: Config) -> None:
    with serving(cfg) as base:
        c = Client(base)
        r = c.get("/topic/renewal")
        assert r.status == 200
        assert "检索式：" in r.text and "城市更新 OR 老旧小区" in r.text
        assert '<svg class="chart"' in r.text and "每年匹配篇数" in r.text  # 2021 … 2026
        assert "尚无标注" in r.text
        assert c.get("/topic/nope").status == 404


def test_trend_chart_by_day_month_and_year() -> None:
    d = dt.date
    daily = web.trend_chart([(d(2026, 1, 1), 3), (d(2026, 1, 5), 7)])
    assert daily is not None and daily.unit == "日" and len(daily.bars) == 5 and daily.top == 10
    assert [t[1] for t in daily.ticks] == ["2026-01-01", "2026-01-03", "2026-01-05"]
    monthly = web.trend_chart([(d(2025, 11, 3), 1), (d(2026, 2, 1), 12)])
    assert monthly is not None and monthly.unit == "月" and monthly.top == 20
    assert [b.label for b in monthly.bars] == ["2025-11", "2025-12", "2026-01", "2026-02"]
    yearly = web.trend_chart([(d(2017, 1, 1), 1), (d(2026, 1, 1), 1)])
    assert yearly is not None and yearly.unit == "年" and len(yearly.bars) == 10
    assert web.trend_chart([]) is None


def test_html_in_articles_is_escaped(cfg: Config) -> None:
    with Store(cfg.state) as store:
        store.add_document(
            sha256="f" * 64, path="/x/f.txt", size=1, mtime_ns=1, encoding="utf-8",
            articles=[Article(0, "<script>alert(1)</script>城市更新", "<img src=x onerror=alert(1)>")],
            now=NOW,
        )  # fmt: skip
    with serving(cfg) as base:
        r = Client(base).get("/article/ffffffffffffffff-0")
        s = Client(base).get("/search?q=" + urllib.parse.quote("城市更新"))
    assert "<script>" not in r.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in r.text
    assert "<img src=x" not in r.text and "&lt;img src=x onerror=alert(1)&gt;" in r.text
    assert "<script>" not in s.text


# --- labels and cross-site posts ---------------------------------------------------------


def test_a_label_posted_in_the_browser_is_the_label_watcher_label_records(
    cfg: Config, capsys: pytest.CaptureFixture[str]
) -> None:
    target = _ids(cfg)["长沙改造三百个老"]
    with serving(cfg) as base:
        c = Client(base)
        page = c.get(f"/article/{target}")
        assert 'name="verdict" value="yes"' in page.text
        r = c.post("/label", {"csrf": _csrf(page.text), "article": target, "topic": "renewal",
                              "verdict": "yes", "next": f"/article/{target}"})  # fmt: skip
        assert (r.status, r.location) == (303, f"/article/{target}")
        again = c.get(f"/article/{target}")
        assert 'class="on-yes"' in again.text
        topic = c.get("/topic/renewal")
        assert f'data-label="{target}">相关</span>' in topic.text
        assert "准确率 1.00" in topic.text
        # Changing one's mind replaces the label.
        c.post("/label", {"csrf": _csrf(page.text), "article": target, "topic": "renewal",
                          "verdict": "no"})  # fmt: skip
    with Store(cfg.state) as store:
        ((label, _),) = store.labels("renewal")
    assert (label.article, label.relevant) == (target, False)
    with pytest.raises(SystemExit):
        cli.main(["--config", str(cfg.path), "--log-level", "ERROR", "labels"])
    out = capsys.readouterr().out
    assert f"{target}  renewal  no " in out


def test_the_topic_page_shows_what_watcher_tune_proposes(
    cfg: Config, capsys: pytest.CaptureFixture[str]
) -> None:
    # One topic per file, so that tune can propose an edit of it; the labels say the
    # topic misses the stories about 安全生产 and wrongly has one of its own.
    (cfg.watchlists / "topics.yaml").unlink()
    renewal, safety = TOPICS.split("- id: safety")
    (cfg.watchlists / "renewal.yaml").write_text(renewal, encoding="utf-8")
    (cfg.watchlists / "safety.yaml").write_text("- id: safety" + safety, encoding="utf-8")
    with Store(cfg.state) as store:
        rows = list(store.articles())
        matched = {(d, i) for d, i, m in store.matches() if m.topic_id == "renewal"}
        wanted = [r for r in rows if "安全生产" in r.article.body][:4]
        unwanted = next(r for r in rows if (r.doc_sha256, r.article.index) in matched)
        for r in wanted:
            store.set_label(r.doc_sha256, r.article.index, "renewal", True, NOW)
        store.set_label(unwanted.doc_sha256, unwanted.article.index, "renewal", False, NOW)
    assert len(wanted) >= 2
    with pytest.raises(SystemExit):
        cli.main(["--config", str(cfg.path), "--log-level", "ERROR", "tune", "renewal"])
    printed = capsys.readouterr().out
    diff = printed[printed.index("--- ") :].rstrip("\n")
    words = re.findall(r"^    (\S+)  \d+ / \d+$", printed, re.M)
    assert words and "+context: [" in diff
    with serving(cfg) as base:
        page = html.unescape(Client(base).get("/topic/renewal").text)
    assert all(f'<span class="chip">{w}</span>' in page for w in words)
    shown = re.search(r'<pre class="diff">(.*?)</pre>', page, re.S)
    assert shown is not None
    # The same edit, named by the file's name rather than its path under watchlists/.
    assert shown.group(1).rstrip("\n") == diff


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"Origin": None, "Referer": None},
         "refused: the request carries neither an Origin nor a Referer header"),
        ({"Origin": "http://evil.example"},
         "refused: it comes from http://evil.example, not from this site"),
        ({"Origin": None, "Referer": "http://evil.example/page"},
         "refused: it comes from http://evil.example, not from this site"),
        ({"Content-Type": "application/json"}, "refused: the body is application/json, not a form"),
        ({"csrf": "0" * 40},
         "refused: its form token does not belong to this browser&#39;s session (reload the page)"),
        ({"Cookie": ""},
         "refused: its form token does not belong to this browser&#39;s session (reload the page)"),
    ],
)  # fmt: skip
def test_cross_site_label_posts_are_refused(
    cfg: Config, change: dict[str, str | None], message: str
) -> None:
    target = _ids(cfg)["长沙改造三百个老"]
    with serving(cfg) as base:
        c = Client(base)
        token = _csrf(c.get(f"/article/{target}").text)
        form = {"csrf": token, "article": target, "topic": "renewal", "verdict": "yes"}
        headers = {"Content-Type": "application/x-www-form-urlencoded", "Origin": base}
        cookie = "; ".join(f"{k}={v}" for k, v in c.cookies.items())
        headers["Cookie"] = cookie
        for key, value in change.items():
            if key == "csrf":
                form["csrf"] = str(value)
            elif value is None:
                headers.pop(key, None)
            else:
                headers[key] = value
        if headers.get("Cookie") == "":
            headers.pop("Cookie")
            c.cookies.clear()
        r = c.request("POST", "/label", urllib.parse.urlencode(form), headers)
    assert r.status == 403
    assert message in r.text
    with Store(cfg.state) as store:
        assert store.labels() == []


@pytest.mark.parametrize(
    ("form", "status", "message"),
    [
        ({"topic": "nope", "verdict": "yes"}, 400, "no topic &#39;nope&#39;"),
        ({"topic": "renewal", "verdict": "maybe"}, 400, "the verdict must be yes or no"),
        ({"topic": "renewal", "verdict": "yes", "article": "0000000000000000-1"}, 404,
         "no stored article &#39;0000000000000000-1&#39;"),
    ],
)  # fmt: skip
def test_bad_label_posts(cfg: Config, form: dict[str, str], status: int, message: str) -> None:
    target = _ids(cfg)["长沙改造三百个老"]
    with serving(cfg) as base:
        c = Client(base)
        token = _csrf(c.get(f"/article/{target}").text)
        r = c.post("/label", {"csrf": token, "article": target, **form})
    assert (r.status, message in r.text) == (status, True)


def test_a_label_post_goes_back_only_to_this_site(cfg: Config) -> None:
    target = _ids(cfg)["长沙改造三百个老"]
    with serving(cfg) as base:
        c = Client(base)
        token = _csrf(c.get(f"/article/{target}").text)
        for bad in ("//evil.example/x", "http://evil.example/", "/\\evil.example"):
            r = c.post("/label", {"csrf": token, "article": target, "topic": "renewal",
                                  "verdict": "yes", "next": bad})  # fmt: skip
            assert r.location == f"/article/{target}"


def test_only_loopback_host_names_are_answered(cfg: Config) -> None:
    with serving(cfg) as base:
        c = Client(base)
        r = c.get("/", Host="attacker.example")
        assert r.status == 421
        assert r.text == (
            "unknown host 'attacker.example': this server answers to 127.0.0.1 and localhost only\n"
        )
        assert c.get("/", Host=f"localhost:{c.port}").status == 200


# --- the token ----------------------------------------------------------------------------------


def test_with_a_token_every_request_needs_it(cfg: Config) -> None:
    with serving(cfg, token=TOKEN) as base:
        c = Client(base)
        r = c.get("/search?q=x")
        assert r.status == 401
        assert r.headers["www-authenticate"] == 'Bearer realm="watcher"'
        assert r.text == (
            "a token is needed: send 'Authorization: Bearer <WATCHER_SERVE_TOKEN>' or log in "
            "at /login\n"
        )
        assert c.get("/", Authorization="Bearer wrong-token-0000000000").status == 401
        assert c.get("/", Authorization=f"Bearer {TOKEN}").status == 200
        # Any Host is fine once the token guards it.
        assert c.get("/", Authorization=f"Bearer {TOKEN}", Host="watcher.lan").status == 200
        # A browser is sent to the login page, and back after it.
        r = c.get("/topic/renewal", Accept="text/html")
        assert (r.status, r.location) == (303, "/login?next=%2Ftopic%2Frenewal")
        page = c.get("/login?next=%2Ftopic%2Frenewal")
        assert page.status == 200 and 'type="password"' in page.text
        wrong = c.post("/login", {"csrf": _csrf(page.text), "token": "nope",
                                  "next": "/topic/renewal"})  # fmt: skip
        assert wrong.status == 403 and "wrong token" in wrong.text
        ok = c.post("/login", {"csrf": _csrf(page.text), "token": TOKEN, "next": "/topic/renewal"})
        assert (ok.status, ok.location) == (303, "/topic/renewal")
        assert "HttpOnly" in (ok.headers["set-cookie"] or "")
        assert "SameSite=strict" in (ok.headers["set-cookie"] or "")
        assert c.get("/topic/renewal").status == 200  # the login cookie
        forged = Client(base)
        forged.cookies[web.AUTH_COOKIE] = "nonce.0123"
        assert forged.get("/").status == 401


def test_wrong_tokens_are_throttled(cfg: Config) -> None:
    with serving(cfg, token=TOKEN) as base:
        c = Client(base)
        token = _csrf(c.get("/login").text)
        codes = [c.post("/login", {"csrf": token, "token": f"guess{n}"}).status for n in range(7)]
    assert codes == [403] * web.LOGIN_TRIES + [429, 429]


def test_wrong_bearer_tokens_are_throttled_too(cfg: Config) -> None:
    with serving(cfg, token=TOKEN) as base:
        c = Client(base)
        codes = [
            c.request("GET", "/", headers={"Authorization": f"Bearer guess{n}"}).status
            for n in range(web.LOGIN_TRIES + 1)
        ]
        # Not even the right token is checked from that address for a minute, nor a
        # login typed there (one count for both), so guessing cannot go on.
        right = c.request("GET", "/", headers={"Authorization": f"Bearer {TOKEN}"})
        browser = Client(base)
        login = browser.post("/login", {"csrf": _csrf(browser.get("/login").text), "token": TOKEN})
        home = browser.get("/")
    assert codes == [401] * web.LOGIN_TRIES + [429]
    assert (right.status, right.text) == (429, "too many wrong tokens: wait a minute\n")
    assert login.status == 429 and home.status in (303, 401)


def test_a_login_post_from_another_site_is_refused(cfg: Config) -> None:
    with serving(cfg, token=TOKEN) as base:
        c = Client(base)
        token = _csrf(c.get("/login").text)
        r = c.post("/login", {"csrf": token, "token": TOKEN}, Origin="http://evil.example")
    assert r.status == 403 and web.AUTH_COOKIE not in c.cookies


@pytest.mark.parametrize(
    ("host", "token", "message"),
    [
        ("0.0.0.0", None, "refusing to serve on 0.0.0.0: any machine that reaches it could read "
         "the store. Set WATCHER_SERVE_TOKEN to a secret token (at least 16 characters) that "
         "browsers must give, or serve on 127.0.0.1 (the default) behind your own proxy"),
        ("192.168.1.5", "short", "WATCHER_SERVE_TOKEN is too short (5 characters; at least 16); "
         "make one with: python3 -c 'import secrets; print(secrets.token_urlsafe(24))'"),
    ],
)  # fmt: skip
def test_check_bind_refuses(host: str, token: str | None, message: str) -> None:
    with pytest.raises(WatcherError) as info:
        web.check_bind(host, token)
    assert str(info.value) == message


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "localhost", "127.8.9.10"])
def test_loopback_needs_no_token(host: str) -> None:
    web.check_bind(host, None)
    web.check_bind("0.0.0.0", TOKEN)


def test_cli_serve_refuses_to_expose_the_store(
    cfg: Config, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(web.TOKEN_ENV, raising=False)
    with pytest.raises(SystemExit) as done:
        cli.main(["--config", str(cfg.path), "serve", "--host", "0.0.0.0"])
    assert done.value.code == 1
    assert capsys.readouterr().err.startswith("error: refusing to serve on 0.0.0.0: ")


def test_cli_serve_says_when_the_port_is_taken(
    cfg: Config, capsys: pytest.CaptureFixture[str]
) -> None:
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    port = taken.getsockname()[1]
    try:
        with pytest.raises(SystemExit) as done:
            cli.main(["--config", str(cfg.path), "serve", "--port", str(port)])
    finally:
        taken.close()
    assert done.value.code == 1
    err = capsys.readouterr().err
    assert err == (
        f"error: cannot listen on 127.0.0.1:{port}: Address already in use; choose another "
        "--port or --host\n"
    )


def test_watcher_serve_runs_and_stops_on_sigterm(cfg: Config) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "watcher", "--config", str(cfg.path), "--log-level", "WARNING",
         "serve", "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=cfg.path.parent,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], 30)
        assert ready, "watcher serve printed nothing within 30 s"
        line = proc.stdout.readline().decode()
        found = re.match(r"serving (.+) at (http://127\.0\.0\.1:\d+/) \(Ctrl-C to stop\)$", line)
        assert found, line
        assert found.group(1) == str(cfg.state)
        deadline = time.monotonic() + 15
        while True:
            try:
                r = Client(found.group(2).rstrip("/")).get("/")
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        assert r.status == 200
        proc.terminate()
        assert proc.wait(15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)


# --- a real browser -------------------------------------------------------------------------------


def find_chromium() -> str | None:
    named = os.environ.get("WATCHER_CHROMIUM")
    if named:
        return shutil.which(named) or (named if Path(named).is_file() else None)
    for name in ("/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


class WebSocket:
    """The client side of RFC 6455, as much as the DevTools protocol needs."""

    def __init__(self, url: str, timeout: float) -> None:
        parts = urllib.parse.urlsplit(url)
        self.sock = socket.create_connection((parts.hostname, parts.port), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            f"GET {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionError("DevTools closed the connection during the handshake")
            head += chunk
        if b" 101 " not in head.split(b"\r\n", 1)[0]:
            raise ConnectionError(head.decode(errors="replace"))
        self.buffer = head.split(b"\r\n\r\n", 1)[1]

    def _exactly(self, n: int) -> bytes:
        while len(self.buffer) < n:
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                raise ConnectionError("DevTools closed the connection")
            self.buffer += chunk
        out, self.buffer = self.buffer[:n], self.buffer[n:]
        return out

    def send(self, text: str) -> None:
        data = text.encode()
        n = len(data)
        head = bytearray([0x81])
        if n < 126:
            head.append(0x80 | n)
        elif n < 1 << 16:
            head += bytes([0x80 | 126]) + n.to_bytes(2, "big")
        else:
            head += bytes([0x80 | 127]) + n.to_bytes(8, "big")
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
        self.sock.sendall(bytes(head) + mask + masked)

    def recv(self) -> str:
        parts: list[bytes] = []
        while True:
            b0, b1 = self._exactly(2)
            n = b1 & 0x7F
            if n == 126:
                n = int.from_bytes(self._exactly(2), "big")
            elif n == 127:
                n = int.from_bytes(self._exactly(8), "big")
            payload = self._exactly(n)
            opcode = b0 & 0x0F
            if opcode == 0x8:
                raise ConnectionError("DevTools closed the connection")
            if opcode == 0x9:  # ping
                continue
            parts.append(payload)
            if b0 & 0x80:
                return b"".join(parts).decode()


class Browser:
    """Headless Chromium over the DevTools protocol: one page, bounded waits."""

    def __init__(self, binary: str, profile: Path) -> None:
        self.proc = subprocess.Popen(
            [binary, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
             "--no-first-run", "--no-default-browser-check", "--disable-extensions",
             "--hide-scrollbars", "--remote-debugging-port=0", f"--user-data-dir={profile}",
             "--lang=zh-CN", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip
        url = self._devtools_url(60)
        self.ws = WebSocket(url, timeout=60)
        self.next_id = 0
        self.events: list[dict[str, Any]] = []
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})[
            "sessionId"
        ]
        for domain in ("Page", "Runtime", "Log"):
            self.call(f"{domain}.enable", session=True)

    def _devtools_url(self, timeout: float) -> str:
        assert self.proc.stderr is not None
        deadline = time.monotonic() + timeout
        seen = b""
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.proc.stderr], [], [], 1)
            if ready:
                chunk = os.read(self.proc.stderr.fileno(), 4096)
                if not chunk:
                    break
                seen += chunk
                found = re.search(rb"DevTools listening on (ws://\S+)", seen)
                if found:
                    return found.group(1).decode()
        raise AssertionError(f"chromium gave no DevTools address: {seen[-500:]!r}")

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.ws.sock.close()
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)

    def call(
        self, method: str, params: dict[str, Any] | None = None, *, session: bool = False
    ) -> dict[str, Any]:
        self.next_id += 1
        msg: dict[str, Any] = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = self.session
        self.ws.send(json.dumps(msg))
        while True:
            reply = json.loads(self.ws.recv())
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise AssertionError(f"{method}: {reply['error']}")
                return dict(reply.get("result", {}))
            self.events.append(reply)

    def wait(self, event: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while not any(e.get("method") == event for e in self.events):
            if time.monotonic() > deadline:
                raise AssertionError(f"no {event} within {timeout} s")
            self.events.append(json.loads(self.ws.recv()))
        self.events = [e for e in self.events if e.get("method") != event or self._keep(e)]

    @staticmethod
    def _keep(e: dict[str, Any]) -> bool:
        return e.get("method") in ("Runtime.consoleAPICalled", "Runtime.exceptionThrown",
                                   "Log.entryAdded")  # fmt: skip

    def js(self, expression: str) -> Any:
        r = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True},
                      session=True)  # fmt: skip
        if "exceptionDetails" in r:
            raise AssertionError(f"{expression}: {r['exceptionDetails']}")
        return r["result"].get("value")

    def goto(self, url: str) -> None:
        self._loads(lambda: self.call("Page.navigate", {"url": url}, session=True))

    def click(self, selector: str) -> None:
        self._loads(lambda: self.js(f"document.querySelector({json.dumps(selector)}).click()"))

    def _loads(self, action: Callable[[], object]) -> None:
        self.events = [e for e in self.events if self._keep(e)]
        action()
        self.wait("Page.loadEventFired")

    def width(self, px: int, height: int = 900) -> None:
        self.call("Emulation.setDeviceMetricsOverride",
                  {"width": px, "height": height, "deviceScaleFactor": 1, "mobile": px < 600},
                  session=True)  # fmt: skip

    def overflow(self) -> int:
        """How many CSS pixels the page is wider than the window."""
        return int(self.js("document.documentElement.scrollWidth - window.innerWidth"))

    def screenshot(self, path: Path, px: int) -> None:
        height = int(self.js("document.documentElement.scrollHeight"))
        self.width(px, min(max(height, 600), 4000))
        shot = self.call("Page.captureScreenshot", {"format": "png"}, session=True)
        path.write_bytes(base64.b64decode(shot["data"]))
        self.width(px)

    def errors(self) -> list[str]:
        out = []
        for e in self.events:
            p = e.get("params", {})
            if e.get("method") == "Runtime.exceptionThrown":
                out.append(str(p.get("exceptionDetails", {}).get("text")))
            elif e.get("method") == "Runtime.consoleAPICalled" and p.get("type") == "error":
                out.append(str(p.get("args")))
            elif e.get("method") == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
                out.append(f"{p['entry'].get('text')} {p['entry'].get('url', '')}")
        return out


CHROMIUM = find_chromium()


@pytest.mark.skipif(
    CHROMIUM is None,
    reason="no Chromium binary (tried /usr/bin/chromium, chromium, chromium-browser, "
    "google-chrome; apt-get install chromium, or set WATCHER_CHROMIUM)",
)
@pytest.mark.parametrize("px", [375, 1280])
def test_in_a_browser_day_search_hit_label_topic(busy: Config, tmp_path: Path, px: int) -> None:
    assert CHROMIUM is not None
    cfg = busy
    shots = DOCS if UPDATE else tmp_path
    day = _day(cfg).isoformat()
    with Store(cfg.state) as store:
        stored = pipeline.stored_digest(store, _day(cfg))
    assert stored is not None
    renewal = next(s for s in stored.sections if s.id == "renewal")
    with serving(cfg) as base:
        browser = Browser(CHROMIUM, tmp_path / "profile")
        try:
            browser.width(px)
            # Open a day.
            browser.goto(base + "/")
            assert browser.overflow() <= 0
            browser.click('a.day-link[href^="/day/"]')
            assert browser.js("location.pathname") == f"/day/{day}/"
            assert browser.js("document.querySelector('h1.date').textContent").startswith("2026年")
            assert browser.overflow() <= 0
            # Follow "另有 N 篇" to the topic's full list of the day.
            browser.click(f'td.more a[href="topics/renewal/{day}.html"]')
            assert browser.js("location.pathname") == f"/day/{day}/topics/renewal/{day}.html"
            headlines = "[...document.querySelectorAll('h3.headline')].map(h => h.textContent)"
            assert browser.js(headlines) == [i.headline for i in renewal.items]
            assert len(renewal.items) > renewal.count - renewal.more
            assert browser.overflow() <= 0
            browser.goto(base + f"/day/{day}/")
            # Search from the bar on top.
            browser.click('.webnav a[href="/search"]')
            browser.js("document.querySelector('input[name=q]').value = '城市更新 AND 长沙'")
            browser.click("form.searchform button[type=submit]")
            assert browser.js("document.querySelectorAll('td.item').length") == 1
            assert browser.js("document.querySelector('.snippet mark').textContent") in (
                "城市更新", "长沙")  # fmt: skip
            assert browser.overflow() <= 0
            browser.screenshot(shots / f"screenshot-search-{px}.png", px)
            # Open the hit, label it relevant to 城市更新.
            browser.click("td.item h3.headline a")
            ident = browser.js("location.pathname").removeprefix("/article/")
            assert browser.js("document.querySelectorAll('.body mark').length") > 0
            assert browser.overflow() <= 0
            browser.click('form.labelrow button[data-topic="renewal"][value="yes"]')
            assert browser.js("location.pathname") == f"/article/{ident}"
            assert browser.js("document.querySelector('button.on-yes').dataset.topic") == "renewal"
            browser.screenshot(shots / f"screenshot-article-{px}.png", px)
            # The label is on the topic page.
            browser.goto(base + "/topic/renewal")
            label = f"document.querySelector('[data-label=\"{ident}\"]').textContent"
            assert browser.js(label) == "相关"
            assert browser.overflow() <= 0
            browser.screenshot(shots / f"screenshot-topic-{px}.png", px)
            assert browser.errors() == []
        finally:
            browser.close()
    with Store(cfg.state) as store:
        assert [(lb.article, lb.topic_id, lb.relevant) for lb, _ in store.labels()] == [
            (ident, "renewal", True)
        ]


def test_every_stored_match_is_reachable_from_the_topic_pages(
    cfg: Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(web, "PER_PAGE", 2)  # several pages per topic
    with Store(cfg.state) as store:
        stored = {(f"{d[:16]}-{i}", m.topic_id) for d, i, m in store.matches()}
    reached = set()
    with serving(cfg) as base:
        c = Client(base)
        for topic in {t for _, t in stored}:
            for page in range(1, len(stored) + 2):  # a pager that never ends fails
                r = c.get(f"/topic/{topic}?page={page}")
                section = r.text.split("匹配文章", 1)[1]
                ids = re.findall(
                    r'<h3 class="headline"><a href="/article/([0-9a-f]{16}-\d+)"', section
                )
                reached |= {(i, topic) for i in ids}
                if f"page={page + 1}" not in section:
                    break
            else:
                pytest.fail(f"topic {topic}: more pages than matches")
    assert reached == stored and len(stored) > 4

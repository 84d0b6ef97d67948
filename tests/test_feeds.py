"""Atom feeds (watcher/feeds.py): parsed back with feedparser (what feed readers use),
from hand-made digests, hostile text, and a real store scanned from the seeds with
the archive written by the pipeline and served by a real uvicorn server."""

from __future__ import annotations

import dataclasses
import datetime as dt
import posixpath
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

import feedparser
import pytest

from tests.conftest import dedent
from tests.test_render import BASE_URL, full_digest
from tests.test_web import Client, serving
from watcher import feeds, pipeline
from watcher.archive import feed_file
from watcher.config import Config
from watcher.matcher import Matcher
from watcher.models import Article, Digest
from watcher.store import Store

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
DAY1 = dt.datetime(2026, 11, 21, 1, 0, tzinfo=dt.UTC)
DAY2 = dt.datetime(2026, 11, 22, 1, 0, tzinfo=dt.UTC)


def parse(text: str) -> Any:
    parsed = feedparser.parse(text.encode("utf-8"))
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    assert parsed.version == "atom10"
    return parsed


def feed_of(d: Digest, topic_id: str) -> feeds.Feed:
    section = next(s for s in d.sections if s.id == topic_id)
    got = tuple(feeds.entries(d, topic_id))
    return feeds.Feed(topic_id, section.name, section.description, got, d.produced_at)


# --- the document -----------------------------------------------------------------------------


def test_entries_round_trip_headline_date_link_id_and_paper() -> None:
    d = full_digest()
    feed = feed_of(d, "urban-renewal")
    section = next(s for s in d.sections if s.id == "urban-renewal")
    assert len(feed.entries) == len(section.items) == 4  # the three stories and the reprint
    parsed = parse(feeds.atom(feed))
    f = parsed.feed
    assert f.id == feeds.feed_id("urban-renewal") and f.id.startswith("urn:uuid:")
    assert f.title == "城市更新 · watcher 日报"
    assert f.language == "zh-CN"
    assert {(ln.rel, ln.type, ln.href) for ln in f.links} == {
        ("self", "application/atom+xml", "urban-renewal.xml"),
        ("alternate", "text/html", "../topics/urban-renewal.html"),
    }
    assert f.updated_parsed is not None
    assert [e.id for e in parsed.entries] == [feeds.entry_id(i.key) for i in section.items]
    assert len({e.id for e in parsed.entries}) == 4
    for e, item in zip(parsed.entries, section.items, strict=True):
        assert e.title == item.headline
        assert e.link == f"../articles/{item.key}.html"
        assert e.author == (item.newspaper or item.file)
        assert item.snippet in e.summary
        assert dt.datetime.fromisoformat(e.updated) == d.produced_at
        if item.date is None:
            assert "published" not in e
        else:  # midnight of the paper's day, in the digest's time zone
            assert dt.datetime.fromisoformat(e.published).date() == item.date
        assert [t.term for t in e.tags] == ["urban-renewal"]
    assert any(i.date for i in section.items)  # the date branch is exercised


def test_links_are_absolute_under_base_url() -> None:
    d = full_digest()
    parsed = parse(feeds.atom(feed_of(d, "safety"), base_url=BASE_URL + "/"))
    hrefs = {ln.rel: ln.href for ln in parsed.feed.links}
    assert hrefs == {
        "self": f"{BASE_URL}/feeds/safety.xml",
        "alternate": f"{BASE_URL}/topics/safety.html",
    }
    keys = [i.key for i in next(s for s in d.sections if s.id == "safety").items]
    assert [e.link for e in parsed.entries] == [f"{BASE_URL}/articles/{k}.html" for k in keys]


def test_hostile_text_is_escaped_and_still_parses() -> None:
    evil = "<script>alert(1)</script> & &amp; ]]> \x00\x01\x08\x0b\x0c\x1b[31m\x7f\ufffe 🙂 \u202e"
    d = full_digest()
    section = d.sections[0]
    item = dataclasses.replace(
        section.items[0], headline="安全 " + evil, newspaper=evil, snippet=evil, byline=evil
    )
    d = dataclasses.replace(
        d,
        sections=(dataclasses.replace(section, items=(item,), name=evil, description=evil),),
    )
    text = feeds.atom(feed_of(d, section.id), base_url="https://x.example/a?b=1&c=<2>")
    assert "<script>" not in text and "\x00" not in text and "\x1b" not in text
    parsed = parse(text)
    (e,) = parsed.entries
    # C0 controls and U+FFFE are gone; DEL and the bidi override shown as U+FFFD.
    shown = "<script>alert(1)</script> & &amp; ]]> [31m\ufffd 🙂 \ufffd"
    assert e.title == "安全 " + shown
    assert e.author == shown
    assert shown in e.summary
    assert parsed.feed.title == f"{shown} · watcher 日报"
    assert parsed.feed.subtitle == shown
    assert e.link == "https://x.example/a?b=1&c=<2>/articles/a9c89bb65670a872-3.html"


def test_ids_and_text_are_stable_across_renders() -> None:
    d = full_digest()
    first = feeds.atom(feed_of(d, "urban-renewal"))
    assert feeds.atom(feed_of(full_digest(), "urban-renewal")) == first
    # A renamed topic, another base_url: the same ids.
    renamed = dataclasses.replace(feed_of(d, "urban-renewal"), name="旧城改造")
    other = parse(feeds.atom(renamed, base_url=BASE_URL))
    assert [e.id for e in other.entries] == [e.id for e in parse(first).entries]
    assert other.feed.id == parse(first).feed.id
    assert feeds.entry_id("a9c89bb65670a872-3") == feeds.entry_id("a9c89bb65670a872-3")
    assert feeds.entry_id("a9c89bb65670a872-3") != feeds.entry_id("a9c89bb65670a872-2")


def test_an_empty_feed_is_valid() -> None:
    empty = feeds.Feed("flood", "防汛抗洪", None, (), feeds.EPOCH)
    parsed = parse(feeds.atom(empty))
    assert parsed.entries == [] and parsed.feed.updated == "1970-01-01T00:00:00Z"


# --- from a real store: the archive's files and watcher serve ---------------------------------


@pytest.fixture
def cfg(make_config: Callable[..., Config], seeded_inbox: Path) -> Config:
    """The seeds scanned and digested on 2026-11-21, then a reprinted story read and
    digested on 2026-11-22: two digests, the newer one with two renewal items."""
    cfg = make_config(digest={"feed_entries": 3})
    (cfg.watchlists / "topics.yaml").write_text(TOPICS, encoding="utf-8")
    topics = pipeline.load_topics(cfg)
    story = (
        "本报讯 长沙市今年将改造老旧小区三百个，惠及居民十万户，改造内容包括加装电梯、"
        "管网更新和停车设施建设，市住建局表示将在年底前全部完工并接受居民评议。"
    )
    with Store(cfg.state) as store:
        pipeline.scan(cfg, store, topics=topics, clock=lambda: DAY1)
        pipeline.digest_day(cfg, store, topics, DAY1.astimezone(cfg.tz).date(), clock=lambda: DAY1)
        copies = [
            Article(0, "长沙改造三百个老旧小区", story, newspaper="长沙晚报", page="A03",
                    date=dt.date(2026, 11, 21)),
            Article(1, "长沙今年改造老旧小区三百个", story + "（转载）", newspaper="湖南日报",
                    page="05", date=dt.date(2026, 11, 22)),
        ]  # fmt: skip
        matcher = Matcher(topics, pipeline.segmenter_for(cfg))
        later = DAY1 + dt.timedelta(hours=12)
        store.add_document(
            sha256="e" * 64, path=str(cfg.inbox / "reprint.txt"), size=1, mtime_ns=1,
            encoding="utf-8", articles=copies, now=later,
            matches=[matcher.match(a) for a in copies],
        )  # fmt: skip
        pipeline.digest_day(cfg, store, topics, DAY2.astimezone(cfg.tz).date(), clock=lambda: DAY2)
    return cfg


def _digests(cfg: Config) -> list[Digest]:
    with Store(cfg.state) as store:
        days = [d for d, _ in store.digest_days()]
        return [d for d in (pipeline.stored_digest(store, day) for day in days) if d]


def test_the_archive_has_a_feed_per_topic_with_the_latest_entries(cfg: Config) -> None:
    out = cfg.digest.out_dir
    newest, oldest = _digests(cfg)
    assert newest.day > oldest.day
    for section in newest.sections:
        path = out / feed_file(section.id)
        parsed = parse(path.read_text(encoding="utf-8"))
        # Newest digest first, each in its order; at most feed_entries (3).
        expected = [i for d in (newest, oldest) for s in d.sections if s.id == section.id
                    for i in s.items][:3]  # fmt: skip
        assert [e.id for e in parsed.entries] == [feeds.entry_id(i.key) for i in expected]
        assert [e.title for e in parsed.entries] == [i.headline for i in expected]
        for e in parsed.entries:  # every link leads to a page the archive holds
            target = posixpath.normpath(posixpath.join("feeds", e.link))
            assert (out / target).is_file(), e.link
        alternate = next(ln.href for ln in parsed.feed.links if ln.rel == "alternate")
        assert (out / posixpath.normpath(posixpath.join("feeds", alternate))).is_file()
    renewal = parse((out / feed_file("renewal")).read_text(encoding="utf-8"))
    assert len(renewal.entries) == 3  # two from the newer digest, one of the older's
    assert dt.datetime.fromisoformat(renewal.entries[0].updated) == DAY2
    assert dt.datetime.fromisoformat(renewal.entries[2].updated) == DAY1
    assert dt.datetime.fromisoformat(renewal.feed.updated) == DAY2
    # The archive's pages name the feed in <head>.
    link = '<link rel="alternate" type="application/atom+xml" title="城市更新 · Atom" href="{}">'
    day = newest.day.isoformat()
    pages = {
        "topics/renewal.html": "../feeds/renewal.xml",
        f"topics/renewal/{day}.html": "../../feeds/renewal.xml",
        f"{day}.html": "feeds/renewal.xml",
        "index.html": "feeds/renewal.xml",
    }
    for page, href in pages.items():
        assert link.format(href) in (out / page).read_text(encoding="utf-8"), page


def test_writing_again_gives_the_same_feed(cfg: Config) -> None:
    out = cfg.digest.out_dir
    before = (out / feed_file("renewal")).read_bytes()
    (newest, _) = _digests(cfg)
    with Store(cfg.state) as store:
        pipeline.write_reports(cfg, store, newest, pipeline.renderer_for(cfg))
    assert (out / feed_file("renewal")).read_bytes() == before
    assert not [p for p in (out / "feeds").iterdir() if p.name.startswith(".")]


def test_serve_answers_the_archives_feed(cfg: Config) -> None:
    out = cfg.digest.out_dir
    with serving(cfg) as base:
        c = Client(base)
        for topic in ("renewal", "safety"):
            r = c.get(f"/feeds/{topic}.xml")
            assert r.status == 200
            assert r.headers["content-type"] == "application/atom+xml; charset=utf-8"
            assert r.text == (out / feed_file(topic)).read_text(encoding="utf-8")
            # The feed's relative links resolve to pages of the web app.
            parsed = parse(r.text)
            for href in [e.link for e in parsed.entries] + [ln.href for ln in parsed.feed.links]:
                path = urllib.parse.urljoin(f"/feeds/{topic}.xml", href)
                r2 = c.get(path)
                if r2.status == 303:
                    assert r2.location
                    r2 = c.get(r2.location)
                assert r2.status == 200, (href, r2.status)
        missing = c.get("/feeds/nope.xml")
        assert missing.status == 404
        assert "no topic &#39;nope&#39;, so no feed (the topics: renewal, safety)" in missing.text
        page = c.get("/topic/renewal").text
        assert (
            '<link rel="alternate" type="application/atom+xml" title="城市更新 · Atom" '
            'href="/feeds/renewal.xml">'
        ) in page
        assert '<a href="/feeds/renewal.xml">订阅（Atom）</a>' in page


def test_serve_gives_the_archives_feed_with_base_url(
    cfg: Config, make_config: Callable[..., Config]
) -> None:
    url = "https://reports.example.org/w"
    with_url = make_config(digest={"feed_entries": 3, "base_url": url})
    (newest, _) = _digests(cfg)
    with Store(with_url.state) as store:
        pipeline.write_reports(with_url, store, newest, pipeline.renderer_for(with_url))
    written = (with_url.digest.out_dir / feed_file("renewal")).read_text(encoding="utf-8")
    assert f'href="{url}/articles/' in written
    with serving(with_url) as base:
        assert Client(base).get("/feeds/renewal.xml").text == written


def test_a_topic_without_a_digest_has_an_empty_feed(
    make_config: Callable[..., Config],
) -> None:
    cfg = make_config()
    (cfg.watchlists / "topics.yaml").write_text(TOPICS, encoding="utf-8")
    with Store(cfg.state):
        pass
    with serving(cfg) as base:
        r = Client(base).get("/feeds/safety.xml")
    assert r.status == 200
    parsed = parse(r.text)
    assert parsed.entries == [] and parsed.feed.title == "安全生产 · watcher 日报"

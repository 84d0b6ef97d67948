"""Atom feeds: each topic's latest matched articles as an Atom 1.0 document.

The archive writes ``feeds/<id>.xml`` next to its pages, and ``watcher serve``
answers ``/feeds/<id>.xml`` with the same text: both gather the entries from the
stored digests (:func:`from_store`) and render them with :func:`atom`, a pure
function of the entries and the archive's ``base_url``.

* An entry is one matched article of one digest (every item, the reprints too;
  an article is in one digest only). Newest digest first, each digest's items
  in its order (best first), at most ``digest.feed_entries`` of them.
* Ids are ``urn:uuid:`` names (UUID version 5) of the article's stable id
  (``a9c89bb65670a872-3``) and of the topic id, so they never change when the
  feed is rendered again, moved or served from elsewhere.
* ``published`` is the paper's date (midnight in the digest's time zone; left
  out when the page shows none), ``updated`` the cut-off of the digest that
  listed it (when it arrived in the archive). The feed's ``updated`` is its
  newest entry's, so the document changes only when its entries do.
* Links go to the archive's pages: under ``base_url`` when it is set, else
  relative to ``feeds/<id>.xml`` (``../articles/<key>.html``), which a feed
  reader resolves against the feed's own address.
* Document text is untrusted: the XML serializer escapes it, and characters XML
  cannot carry (C0 controls, unpaired surrogates, U+FFFE/U+FFFF) are removed;
  other control and bidi characters are replaced as on every page.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass
from xml.etree import ElementTree as ET

from watcher import __version__
from watcher import digest as digest_mod
from watcher.archive import article_file, feed_file, public_url, relative, topic_file
from watcher.display import clean, source
from watcher.models import Digest, DigestItem
from watcher.store import Store

ATOM = "http://www.w3.org/2005/Atom"
MEDIA_TYPE = "application/atom+xml"
# The namespace of every id watcher's feeds give: fixed, so ids stay the same forever.
ID_SPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:watcher:atom")
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)

# What XML 1.0 cannot carry at all (even as a character reference).
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


@dataclass(frozen=True)
class FeedEntry:
    """One matched article as its feed shows it."""

    item: DigestItem
    day: dt.date  # the digest that listed it
    arrived: dt.datetime  # that digest's cut-off: when it entered the archive
    timezone: str  # the digest's time zone (for the paper's date)


@dataclass(frozen=True)
class Feed:
    """A topic's feed: its latest entries, newest first."""

    topic_id: str
    name: str
    description: str | None
    entries: tuple[FeedEntry, ...]
    updated: dt.datetime  # the newest entry's arrival; without entries, the newest digest's


def entry_id(key: str) -> str:
    """The Atom id of an article: ``urn:uuid:`` of its stable id."""
    return f"urn:uuid:{uuid.uuid5(ID_SPACE, 'article:' + key)}"


def feed_id(topic_id: str) -> str:
    """The Atom id of a topic's feed."""
    return f"urn:uuid:{uuid.uuid5(ID_SPACE, 'topic:' + topic_id)}"


def entries(d: Digest, topic_id: str) -> list[FeedEntry]:
    """Every item of the topic in one digest, in the digest's order (stories best
    first, then their reprints)."""
    section = next((s for s in d.sections if s.id == topic_id), None)
    if section is None:
        return []
    return [FeedEntry(i, d.day, d.produced_at, d.timezone) for i in section.items]


def from_store(
    store: Store, topics: Sequence[tuple[str, str, str | None]], limit: int
) -> list[Feed]:
    """The feeds of ``topics`` ((id, name, description); the name and description of
    the newest digest holding the topic win) from the stored digests, newest first,
    each with at most ``limit`` entries.

    Only digests in which some topic still short of ``limit`` matched anything are
    read (the stored per-topic counts tell), so a quiet topic does not make every
    request read every digest.
    """
    days = store.digest_days()
    found: dict[str, list[FeedEntry]] = {tid: [] for tid, _, _ in topics}
    names = {tid: (name, description) for tid, name, description in topics}
    newest: dt.datetime | None = None
    for n, (day, counts) in enumerate(days):
        short = [t for t, got in found.items() if len(got) < limit]
        if not short:
            break
        if n and not any(counts.get(t, 0) for t in short):
            continue  # the newest is read anyway, for the names
        text = store.digest(day)
        if text is None:
            continue
        d = digest_mod.from_json(text)
        if newest is None:
            newest = d.produced_at
            for s in d.sections:
                if s.id in names:
                    names[s.id] = (s.name, s.description)
        for t in short:
            found[t].extend(entries(d, t)[: limit - len(found[t])])
    out = []
    for tid, _, _ in topics:
        got = tuple(found[tid])
        updated = max((e.arrived for e in got), default=newest or EPOCH)
        out.append(Feed(tid, names[tid][0], names[tid][1], got, updated))
    return out


# ------------------------------------------------------------------------ Atom


def _text(value: str) -> str:
    """Document text as XML can carry it."""
    return clean(_NOT_XML.sub("", value))


def _when(moment: dt.datetime) -> str:
    """RFC 3339, as Atom wants it (a naive time is taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    text = moment.replace(microsecond=0).isoformat()
    return text.removesuffix("+00:00") + "Z" if text.endswith("+00:00") else text


def _published(e: FeedEntry) -> str | None:
    if e.item.date is None:
        return None
    try:
        zone: dt.tzinfo = zoneinfo.ZoneInfo(e.timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone = dt.UTC
    return _when(dt.datetime.combine(e.item.date, dt.time(0), tzinfo=zone))


def _add(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    el = ET.SubElement(parent, tag, {k: _text(v) for k, v in attrs.items()})
    if text is not None:
        el.text = _text(text)
    return el


def atom(feed: Feed, *, base_url: str | None = None) -> str:
    """The feed as an Atom 1.0 document (UTF-8 text, XML declaration included).

    Links are absolute under ``base_url`` (the archive's public URL), else relative
    to ``feeds/<id>.xml``.
    """
    here = feed_file(feed.topic_id)
    base = base_url.rstrip("/") if base_url else None

    def href(path: str) -> str:
        return public_url(base, path) or relative(here, path)

    root = ET.Element("feed", {"xmlns": ATOM, "xml:lang": "zh-CN"})
    _add(root, "id", feed_id(feed.topic_id))
    _add(root, "title", f"{feed.name} · watcher 日报")
    if feed.description:
        _add(root, "subtitle", feed.description)
    _add(root, "updated", _when(feed.updated))
    _add(root, "link", rel="self", type=MEDIA_TYPE, href=href(here))
    _add(root, "link", rel="alternate", type="text/html", href=href(topic_file(feed.topic_id)))
    _add(root, "generator", "watcher", version=__version__)
    for e in feed.entries:
        i = e.item
        entry = _add(root, "entry")
        _add(entry, "id", entry_id(i.key))
        _add(entry, "title", i.headline)
        _add(entry, "link", rel="alternate", type="text/html", href=href(article_file(i.key)))
        published = _published(e)
        if published is not None:
            _add(entry, "published", published)
        _add(entry, "updated", _when(e.arrived))
        author = _add(entry, "author")
        _add(author, "name", source(i, e.day)[0])  # the paper (else the file name)
        _add(entry, "category", term=feed.topic_id, label=feed.name)
        summary = " · ".join(p for p in (*source(i, e.day), i.byline) if p)
        _add(entry, "summary", f"{summary}\n{i.snippet}" if i.snippet else summary)
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, "unicode") + "\n"

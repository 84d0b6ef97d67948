"""Search over every stored article, in the watchlist query language.

Two stages. The **index** (SQLite FTS5, kept by the store) narrows: each article's
headline and body are folded (``segment.fold``: traditional → simplified,
full-width → half-width, ASCII lower case) and cut into runs of letters, digits
and ideographs; a run becomes its overlapping character bigrams (``城市更新`` →
``城市 市更 更新``), a one-character run itself. A query term becomes the FTS5
phrase of its own bigrams, so a two-character word is one token and any longer
term a phrase; ``title:`` terms ask the headline column. (On PostgreSQL the same
tokens, as a GIN-indexed tsvector, answer the same expression: ``store._pg_match``.)
The **Matcher** then
decides: the query runs as a one-topic watchlist over the candidates, with the
word-boundary check, ``title:``, NEAR and NOT exactly as a topic would.

The index expression only ever narrows (an upper bound of the query, like the
Matcher's own ``_upper_bound``): NOT and one-character terms are left out of it
(a term's one-character edge run too: it may be the end of a longer run in the
text), NEAR is AND, and an OR with an unconstrained branch is unconstrained. A
query with no term the index can look up (``水``) reads every article in the
filters.

Ranking, in two stages as retrieval systems do: the index orders the candidates
by bm25 (headline ×3; term rarity, length normalisation), and the Matcher checks
them ``POOL`` at a time; within each block its accepted articles are ranked by the
Matcher's score (0–100: the digest's salience — headline, lead, density,
saturating — of word-checked hits) plus up to ``BM25_POINTS`` for bm25 relative to
the block's best, so bm25 breaks near-ties and rewards rare terms, but never
outweighs a headline hit. Blocks follow each other, so pages are slices of one
order. A query with more than ``COMMON`` candidates (``中国``) takes them the last
indexed first: bm25 over 25,000 rows alone costs 20 ms.

Why not jieba at scan time: segmenting is ~330 articles/s (bench/match_corpus.py),
160 s for the 52k-article corpus; bigrams take ~14,000 articles/s.
"""

from __future__ import annotations

import functools
import json
import logging
import operator
import re
import tempfile
import time
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from watcher import rules
from watcher.errors import ConfigError, RuleError
from watcher.matcher import Matcher
from watcher.models import Match
from watcher.segment import Segmenter, fold
from watcher.store import ArticleFilter, Candidate, Store, StoredArticle
from watcher.watchlists import Topic, load_watchlists

log = logging.getLogger(__name__)

INDEX_CHUNK = 2000  # articles indexed per transaction
# A scan indexes the articles waiting for the index when they are at most this many: the
# daemon's scans of a few new pages keep the index current, while a bulk import (the
# first scan of an archive) leaves them all to the first search, which catches up.
# Indexing costs more than splitting (bigram tokens and FTS5's segment merges: 2-3x the
# splitter's time), so a scan that built the index of a 52k-article archive would take
# about three times as long (and spread over the next scans, it would slow each of them).
SCAN_INDEX = INDEX_CHUNK
POOL = 50  # candidates the Matcher checks per block
BM25_POINTS = 20.0  # what the best bm25 of a block adds to the Matcher's score
MAX_ROUNDS = 20  # at most POOL × MAX_ROUNDS candidates checked for a page of up to 333
COMMON = 5000  # more candidates than this: taken the last indexed first, not by bm25

# Letters, digits and ideographs (\w without "_"): what the index keeps.
_RUN = re.compile(r"[^\W_]+")


class QueryError(RuleError):
    """A search query that does not parse; the message names the column."""

    def __init__(self, message: str, query: str, column: int | None) -> None:
        super().__init__(message)
        self.query = query
        self.column = column


# --- the index text ----------------------------------------------------------------


def _bigrams(run: str) -> str:
    return " ".join(map(operator.add, run[:-1], run[1:])) if len(run) > 1 else run


def index_text(text: str) -> str:
    """The index tokens of ``text``: bigrams of each folded run, space-separated."""
    return " ".join(_bigrams(run) for run in _RUN.findall(fold(text)))


def index_tokens(headline: str, body: str) -> tuple[str, str]:
    """The index text of an article's two columns."""
    return index_text(headline), index_text(body)


def catch_up(
    store: Store,
    *,
    should_stop: Callable[[], bool] | None = None,
    chunk: int = INDEX_CHUNK,
    limit: int | None = None,
) -> int:
    """Index every stored article not yet in the search index, ``chunk`` per
    transaction; returns how many. A large backlog (a store from before search) is
    announced in the log, with the time it took. With ``limit`` (a scan), a backlog
    larger than that is left alone, with a log line: the first search indexes it."""
    backlog = store.search_backlog(None if limit is None else limit + 1)
    if not backlog:
        return 0
    if limit is not None and backlog > limit:
        log.info(
            "search index of %s: more than %d stored articles wait for the index (what a "
            "scan indexes at most); the first search indexes them",
            store.path,
            limit,
        )
        return 0
    big = backlog > chunk
    if big:
        log.info(
            "search index of %s: indexing %d stored articles not in it yet (a store from "
            "before search, or a scan cut short), %d at a time",
            store.path,
            backlog,
            chunk,
        )
    started = time.perf_counter()
    done = _index(store, should_stop, chunk)
    if big:
        store.optimize_search_index()
        log.info(
            "search index of %s: %d articles indexed in %.1fs",
            store.path,
            done,
            time.perf_counter() - started,
        )
    return done


def _index(store: Store, should_stop: Callable[[], bool] | None, chunk: int) -> int:
    done = 0
    while should_stop is None or not should_stop():
        n = store.index_pending(index_tokens, chunk)
        done += n
        if n < chunk:
            break
    return done


# --- the query ---------------------------------------------------------------------


def _phrase(term: rules.Term) -> str | None:
    """The FTS5 phrase a term's occurrences always contain, or None (no constraint)."""
    runs = _RUN.findall(fold(term.text))
    tokens: list[str] = []
    for n, run in enumerate(runs):
        if len(run) == 1 and (n == 0 or n == len(runs) - 1):
            # A one-character run at an edge of the term may be the end or start of a
            # longer run in the text, which the index holds as bigrams only.
            continue
        tokens.append(_bigrams(run))
    if not tokens:
        return None
    phrase = '"' + " ".join(tokens) + '"'
    return f"title : {phrase}" if term.field == "title" else phrase


def expression(node: rules.Node) -> str | None:
    """The FTS5 expression every article satisfying ``node`` satisfies (an upper
    bound), or None when the index cannot narrow it."""
    if isinstance(node, rules.Term):
        return _phrase(node)
    if isinstance(node, rules.Near):
        return expression(rules.And((node.left, node.right)))
    if isinstance(node, rules.Not):
        return None
    parts = [expression(c) for c in node.children]
    if isinstance(node, rules.And):
        kept = [p for p in parts if p is not None]
        if not kept:
            return None
        return kept[0] if len(kept) == 1 else "(" + " AND ".join(kept) + ")"
    if any(p is None for p in parts):
        return None  # one branch the index cannot see: it could be any article
    joined = [p for p in parts if p is not None]
    return joined[0] if len(joined) == 1 else "(" + " OR ".join(joined) + ")"


@dataclass(frozen=True)
class SearchQuery:
    """A parsed query: the one-topic watchlist the Matcher runs, and the index's part."""

    text: str
    topic: Topic
    expression: str | None  # None: every article (in the filters) is read


def parse_query(text: str) -> SearchQuery:
    """Parse a query in the watchlist language; QueryError naming the column if bad."""
    return _parse(text)


@functools.lru_cache(maxsize=256)
def _parse(text: str) -> SearchQuery:
    if not text.strip():
        raise QueryError("empty query: give a word, a phrase or a watchlist query", text, None)
    try:
        rules.parse(text)
    except RuleError as exc:
        raise _query_error(str(exc), text) from None
    topic = _one_topic(text)
    return SearchQuery(text, topic, expression(topic.query))


def _one_topic(text: str) -> Topic:
    """The query as a topic, loaded as a watchlist file is (the same checks)."""
    with tempfile.TemporaryDirectory(prefix="watcher-search-") as tmp:
        path = Path(tmp) / "search.yaml"
        path.write_text(f"id: search\nquery: {_yaml_string(text)}\n", encoding="utf-8")
        try:
            (topic,) = load_watchlists(path)
        except ConfigError as exc:
            problem = next(iter(exc.problems), str(exc))
            # "…/search.yaml:2: query: <message>": the message is the user's business.
            message = re.sub(r"^.*?:\d+: query: ", "", problem)
            raise _query_error(message, text) from None
    return topic


def _query_error(message: str, text: str) -> QueryError:
    found = re.search(r"column (\d+)", message)
    column = int(found.group(1)) if found else None
    shown = " ".join(text.splitlines())
    out = f"bad query: {message}\n  {shown}"
    if column is not None:
        out += "\n  " + " " * _width(shown[: column - 1]) + "^"
    return QueryError(out, text, column)


def _width(text: str) -> int:
    """Terminal columns of ``text`` (a CJK character takes two)."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


# YAML double-quoted scalars: JSON's escapes, plus \\u for what YAML may not hold raw.
_UNPRINTABLE = re.compile("[^\t\n\r\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _yaml_string(text: str) -> str:
    quoted = json.dumps(text, ensure_ascii=False)
    return _UNPRINTABLE.sub(lambda m: f"\\u{ord(m.group()):04x}", quoted)


# --- searching -----------------------------------------------------------------------


@dataclass(frozen=True)
class SearchHit:
    """An article the query holds for, with the Matcher's match and the ranking."""

    article: StoredArticle
    match: Match
    bm25: float  # FTS5's bm25 (more negative: better); 0.0 without the index
    rank: float  # what the hits are sorted by (see the module docstring)

    @property
    def title_marks(self) -> tuple[tuple[int, int], ...]:
        """Hit ranges in the headline."""
        return _ranges(self.match, "title")

    @property
    def body_marks(self) -> tuple[tuple[int, int], ...]:
        """Hit ranges in the body."""
        return _ranges(self.match, "body")


def _ranges(m: Match, field_: str) -> tuple[tuple[int, int], ...]:
    spans = sorted({(h.start, h.end) for h in m.hits if h.field == field_})
    out: list[tuple[int, int]] = []
    for s, e in spans:
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return tuple(out)


@dataclass(frozen=True)
class SearchResults:
    """One page of results and what it took to find them."""

    query: SearchQuery
    hits: tuple[SearchHit, ...]
    offset: int
    found: int  # articles the query was found to hold for (all of them if ``exact``)
    candidates: int  # articles the index proposed (an upper bound of the total)
    checked: int  # candidates the Matcher read
    scanned: bool  # no index expression: every article in the filters was read
    seconds: float
    filters: ArticleFilter = field(default_factory=ArticleFilter)

    @property
    def exact(self) -> bool:
        """Every candidate was checked: ``found`` is the total."""
        return self.checked >= self.candidates

    @property
    def estimate(self) -> int:
        """The total: exact, or the share found among those checked times the candidates."""
        if self.exact or not self.checked:
            return self.found
        return max(self.found, round(self.candidates * self.found / self.checked))


def search(
    store: Store,
    segmenter: Segmenter,
    query: SearchQuery | str,
    *,
    filters: ArticleFilter | None = None,
    limit: int = 20,
    offset: int = 0,
) -> SearchResults:
    """The ``offset``…``offset + limit`` best articles for ``query`` in ``filters``.

    Candidates come in blocks of ``POOL``, best bm25 first (the last indexed first for
    a query with more than ``COMMON`` candidates); the Matcher checks each block, and
    its accepted articles are ranked within the block. Blocks follow each other, so
    every page is a slice of one order however many blocks a page needed.
    """
    started = time.perf_counter()
    filters = filters or ArticleFilter()
    q = parse_query(query) if isinstance(query, str) else query
    catch_up(store)
    matcher = _matcher(q.topic, segmenter)
    everything = store.count_candidates(q.expression)  # cheap: the index's own count
    by_rank = everything <= COMMON
    ranked: list[SearchHit] = []
    checked = 0
    exhausted = False
    cap = max(POOL * MAX_ROUNDS, 3 * (offset + limit))  # a long page may check more
    while len(ranked) < offset + limit and checked < cap:
        block = store.search_candidates(
            q.expression, filters, limit=POOL, offset=checked, by_rank=by_rank
        )
        checked += len(block)
        accepted = []
        for c in block:
            found = matcher.match(c.stored.article)
            if found:
                accepted.append((c, found[0]))
        ranked += _rank(accepted)
        if len(block) < POOL:
            exhausted = True
            break
    if exhausted:
        candidates = checked
    elif filters == ArticleFilter():
        candidates = everything
    else:
        candidates = store.count_candidates(q.expression, filters)
    return SearchResults(
        query=q,
        hits=tuple(ranked[offset : offset + limit]),
        offset=offset,
        found=len(ranked),
        candidates=max(candidates, checked),
        checked=checked,
        scanned=q.expression is None,
        seconds=time.perf_counter() - started,
        filters=filters,
    )


def _rank(hits: Sequence[tuple[Candidate, Match]]) -> list[SearchHit]:
    """One block's accepted articles, best first: the Matcher's score plus up to
    BM25_POINTS for bm25 against the block's best; then the newer; then the id."""
    best = max((-c.bm25 for c, _ in hits), default=0.0)
    out = [
        SearchHit(
            article=c.stored,
            match=m,
            bm25=c.bm25,
            rank=round(m.score + (BM25_POINTS * -c.bm25 / best if best > 0 else 0.0), 2),
        )
        for c, m in hits
    ]
    out.sort(
        key=lambda h: (
            -h.rank,
            -(h.article.article.date.toordinal() if h.article.article.date else 0),
            h.article.id,
        )
    )
    return out


@functools.lru_cache(maxsize=64)
def _matcher_for(topic: Topic, segmenter: Segmenter) -> Matcher:
    return Matcher([topic], segmenter)


def _matcher(topic: Topic, segmenter: Segmenter) -> Matcher:
    try:
        return _matcher_for(topic, segmenter)
    except TypeError:  # an unhashable topic or segmenter: no cache
        return Matcher([topic], segmenter)


def highlight(
    query: SearchQuery | str, article: StoredArticle, segmenter: Segmenter
) -> Match | None:
    """The query's match in one article (for marking it on the article's page)."""
    q = parse_query(query) if isinstance(query, str) else query
    found = _matcher(q.topic, segmenter).match(article.article)
    return found[0] if found else None

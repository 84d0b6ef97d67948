"""Re-matching stored articles after a watchlist edit: an edit of a few terms matches
again only the articles holding one of them, and leaves the store exactly as matching
every article with the edited topics would.

The store: the seed pages and, when ``../shared/corpus`` is present, 60 新闻联播 days,
scanned with the five bundled topics. Edits are drawn by a seeded generator (terms
added from the other topics' vocabulary and from NEAR and ``title:`` forms, removed,
moved between anchors and context, boosts set and changed, ignored words added and
removed, one to five topics at a time), and after each the matches table is compared,
row for row, with a fresh Matcher of the edited topics run over every stored article.
"""

from __future__ import annotations

import logging
import random
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import CORPUS, ROOT, seed_files
from watcher import pipeline
from watcher.config import Config
from watcher.matcher import SCORE_MARGIN, Matcher
from watcher.segment import Segmenter
from watcher.store import Store
from watcher.watchlists import Topic, load_watchlists, rule_edit

BUNDLED = ROOT / "config" / "watchlists"
DAYS = 60


def _bundled() -> dict[str, dict[str, Any]]:
    return {
        p.name: yaml.safe_load(p.read_text(encoding="utf-8"))
        for p in sorted(BUNDLED.glob("*.yaml"))
    }


def _write(folder: Path, specs: dict[str, dict[str, Any]]) -> list[Topic]:
    for old in folder.glob("*.yaml"):
        old.unlink()
    for name, spec in specs.items():
        (folder / name).write_text(yaml.safe_dump(spec, allow_unicode=True), encoding="utf-8")
    return load_watchlists(folder)


@pytest.fixture(scope="module")
def segmenter(tmp_path_factory: pytest.TempPathFactory) -> Segmenter:
    return Segmenter(tmp_path_factory.mktemp("jieba"))


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A state holding the seeds (and corpus days) scanned with the bundled topics."""
    base = tmp_path_factory.mktemp("rematch")
    inbox = base / "inbox"
    inbox.mkdir()
    for f in seed_files():
        shutil.copy(f, inbox / f.name)
    days = sorted((CORPUS / "xwlb_china_data_2017_2021").glob("*.md"))
    for f in random.Random(14).sample(days, min(DAYS, len(days))):
        shutil.copy(f, inbox / f.name)
    (base / "watchlists").mkdir()
    topics = _write(base / "watchlists", _bundled())
    (base / "watcher.yaml").write_text(
        "inbox: inbox\nstate: state/watcher.db\nwatchlists: watchlists\n"
        "scan:\n  settle_seconds: 0\n",
        encoding="utf-8",
    )
    from watcher.config import load_config

    cfg = load_config(base / "watcher.yaml")
    with Store(cfg.state) as store:
        pipeline.scan(cfg, store, topics=topics)
    yield cfg.state


def _workspace(state: Path, tmp_path: Path) -> tuple[Path, Path, dict[str, dict[str, Any]]]:
    """A copy of the stored state, a watchlists folder, and the bundled topics to edit."""
    copy = tmp_path / "watcher.db"
    with Store(state) as source:
        source.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    shutil.copy(state, copy)
    folder = tmp_path / "watchlists"
    folder.mkdir()
    return copy, folder, _bundled()


def _table(store: Store) -> set[tuple[Any, ...]]:
    """The matches table, without the versions (a match an edit of other terms could not
    change keeps the version that made it: see _versions)."""
    return {(d, i, m.topic_id, m.score, m.terms, m.hits, m.clause, m.snippet, m.marks)
            for d, i, m in store.matches()}  # fmt: skip


def _truth(store: Store, topics: list[Topic], segmenter: Segmenter) -> set[tuple[Any, ...]]:
    matcher = Matcher(topics, segmenter)
    return {
        (d, a.index, m.topic_id, m.score, m.terms, m.hits, m.clause, m.snippet, m.marks)
        for d, a in store.rematch_articles("", "g")
        for m in matcher.match(a)
    }  # fmt: skip


def _versions(store: Store) -> dict[tuple[str, int, str], str]:
    return {(d, i, m.topic_id): m.topic_version for d, i, m in store.matches()}


_POOL = ["项目", "安全", "改造", "检查", "防汛", "乡村", "投资", "企业", "隐患", "建设",
         "项目 NEAR 开工", "title:检查", "title:项目", "发展 NEAR/8 产业", "城市", "农业"]  # fmt: skip


def _edit(spec: dict[str, Any], rng: random.Random, vocabulary: list[str]) -> str:
    """One term-level edit of ``spec``, in place; what it did."""
    anchors, context = spec.setdefault("anchors", []), spec.setdefault("context", [])
    present = set(anchors) | set(context)
    kind = rng.choice(["add", "add", "remove", "move", "boost", "ignore", "unignore"])
    if kind == "add":
        # Half the time a common word: an edit that changes many articles' matches.
        source = _POOL if rng.random() < 0.5 else vocabulary
        term = rng.choice([t for t in source if t not in present] or ["农机"])
        into = anchors if rng.random() < 0.4 else context
        into.insert(rng.randrange(len(into) + 1), term)
        return f"add {term}"
    if kind == "remove" and len(anchors) + len(context) > 2:
        pick = rng.choice(anchors + context)
        (anchors if pick in anchors else context).remove(pick)
        spec["boost"] = {k: v for k, v in (spec.get("boost") or {}).items() if k != pick}
        return f"remove {pick}"
    if kind == "move" and anchors and context:
        if rng.random() < 0.5:
            term = anchors.pop(rng.randrange(len(anchors)))
            context.append(term)
        else:
            term = context.pop(rng.randrange(len(context)))
            anchors.append(term)
        return f"move {term}"
    if kind == "boost" and anchors + context:
        term = rng.choice(anchors + context)
        spec.setdefault("boost", {})[term] = rng.choice([0.5, 1.5, 2.0, 3.0])
        return f"boost {term}"
    ignore = spec.setdefault("ignore", [])
    if kind == "unignore" and ignore:
        return f"unignore {ignore.pop(rng.randrange(len(ignore)))}"
    longer = [t + s for t in anchors + context if " " not in t and ":" not in t
              for s in ("工作", "会议", "项目")]  # fmt: skip
    word = rng.choice(longer)
    written = rng.choice([word, f"title:{word}", f"“{word}”"])  # as users write them
    if all(word not in w for w in ignore):
        ignore.append(written)
    return f"ignore {written}"


def _again(caplog: pytest.LogCaptureFixture) -> tuple[int, int]:
    """(articles read, matched again) of the last re-match logged."""
    lines = [
        r.getMessage() for r in caplog.records if "stored articles re-matched" in r.getMessage()
    ]
    m = re.search(r"(\d+) articles read, (\d+) matched again", lines[-1])
    assert m, lines
    return int(m[1]), int(m[2])


def test_term_edits_rematch_only_the_articles_holding_a_term_and_store_what_matching_all_would(
    stored: Path, tmp_path: Path, segmenter: Segmenter, caplog: pytest.LogCaptureFixture
) -> None:
    state, folder, specs = _workspace(stored, tmp_path)
    vocabulary = sorted(
        {t for s in specs.values() for t in s.get("anchors", []) + s.get("context", [])}
    )
    rng = random.Random(2026)
    partial = 0
    with Store(state) as store, caplog.at_level(logging.INFO, "watcher.pipeline"):
        total = store.counts()["articles"]
        assert _table(store) == _truth(store, _write(folder, specs), segmenter)
        history = {t.id: {t.version} for t in _write(folder, specs)}
        for round_ in range(10):
            names = rng.sample(sorted(specs), rng.randint(1, 5))
            done = [f"{n}: {_edit(specs[n], rng, vocabulary)}" for n in names]
            before = _versions(store)
            topics = _write(folder, specs)
            redone = pipeline.sync_topics(store, topics, segmenter)
            assert sorted(redone) == sorted(t.id for t in topics if t.file.endswith(tuple(names)))
            read, again = _again(caplog)
            partial += again < read
            assert _table(store) == _truth(store, topics, segmenter), (round_, done)
            # Each row: made by the current rules, or kept from before as it was.
            current = {t.id: t.version for t in topics}
            for key, version in _versions(store).items():
                assert version == current[key[2]] or version == before.get(key), (key, version)
                assert version in history[key[2]] | {current[key[2]]}
            for t in topics:
                history[t.id].add(t.version)
    assert partial >= 8  # the edits above are term edits: most re-read only a few articles
    assert total > 0


def test_edits_of_regions_lead_context_and_the_query_match_again_what_they_can_change(
    stored: Path, tmp_path: Path, segmenter: Segmenter, caplog: pytest.LogCaptureFixture
) -> None:
    """Each edit in turn, the store then as matching every article makes it: narrowing
    ones read only the stored matches and near misses, widening ones the articles
    naming a place or context term, the rest every article."""
    state, folder, specs = _workspace(stored, tmp_path)
    spec = specs["04-rural.yaml"]
    with Store(state) as store, caplog.at_level(logging.INFO, "watcher.pipeline"):
        every = sum(1 for _ in store.rematch_articles("", "g"))
        edits: list[tuple[str, Any, str]] = [
            ("regions", ["湖南", "长沙"], "stored"),  # (from none)
            ("regions", ["湖南"], "stored"),
            ("regions", ["湖南", "株洲"], "some"),
            ("lead_context", True, "some"),  # (rural's is false)
            ("lead_context", False, "stored"),
            ("regions", [], "every"),
            ("query", "乡村振兴 OR 农村", "every"),  # written where it was derived
        ]
        for key, value, reads in edits:
            rows = len([r for r in _table(store) | _near(store) if r[2] == "rural"])
            spec[key] = value
            topics = _write(folder, specs)
            assert pipeline.sync_topics(store, topics, segmenter) == ["rural"]
            read, again = _again(caplog)
            assert _table(store) == _truth(store, topics, segmenter), (key, value)
            assert _near(store) == _near_truth(store, topics, segmenter), (key, value)
            if reads == "stored":
                assert again == read == rows, (key, value)  # of rows stored before
            elif reads == "some":
                assert 0 < again < read == every, (key, value)
            else:
                assert again == read == every, (key, value)


def _rewrite(spec: dict[str, Any], rng: random.Random, words: list[str]) -> str:
    """One edit of ``spec``'s exclusion, written query or min_score, in place; what it did."""
    kind = rng.choice(["exclude", "exclude", "unexclude", "query", "raise", "lower"])
    word = rng.choice(words)
    if kind == "raise":  # the matches under it are dropped, the others kept as stored
        spec["min_score"] = spec.get("min_score", 0) + rng.choice([0.5, 2, 5, 12])
        return f"min_score {spec['min_score']}"
    if kind == "lower":  # the near misses over it join, the others kept as stored
        spec["min_score"] = max(0, spec.get("min_score", 0) - rng.choice([0.5, 2, 5, 12]))
        return f"min_score {spec['min_score']}"
    if kind == "query" and "query" in spec:
        a, b, c = rng.sample(words, 3)
        spec["query"] = rng.choice([f"{a} OR {b}", f"({a} OR {b}) AND {c}",
                                    f"({a} OR {b}) -{c}", f"{a} NEAR/10 {b}"])  # fmt: skip
        return f"query {spec['query']}"
    old = spec.get("exclude")
    if kind == "unexclude" and old and " OR " in old:
        spec["exclude"] = old.rsplit(" OR ", 1)[0]
        return f"unexclude {old.rsplit(' OR ', 1)[1]}"
    added = rng.choice([word, f"title:{word}", f"({word} -{rng.choice(words)})"])
    spec["exclude"] = f"{old} OR {added}" if old else added
    return f"exclude {added}"


def test_rewritten_exclusions_and_queries_and_new_scores_rematch_only_the_articles_they_touch(
    stored: Path, tmp_path: Path, segmenter: Segmenter, caplog: pytest.LogCaptureFixture
) -> None:
    state, folder, specs = _workspace(stored, tmp_path)
    # Two topics gate on a written query (the bundled ones derive theirs): set up first.
    specs["03-flood.yaml"]["query"] = "防汛 OR 汛期 OR 洪水"
    specs["05-investment.yaml"]["query"] = "(项目 OR 投资) AND NOT 招聘"
    words = sorted({t for t in _POOL if " " not in t and ":" not in t} | {"会议", "防汛", "汛期"})
    rng = random.Random(1410)
    with Store(state) as store, caplog.at_level(logging.INFO, "watcher.pipeline"):
        pipeline.sync_topics(store, _write(folder, specs), segmenter)
        changed = 0
        for round_ in range(10):
            names = rng.sample(sorted(specs), rng.randint(1, 3))
            done = [f"{n}: {_rewrite(specs[n], rng, words)}" for n in names]
            truth_before = _table(store)
            topics = _write(folder, specs)
            assert pipeline.sync_topics(store, topics, segmenter)
            _, again = _again(caplog)
            # Only the articles holding a rewritten rule's term (or, for a raised
            # min_score, matched under it; for a lowered one, missed over it: an edit of
            # min_score alone reads only those).
            assert again < store.counts()["articles"], done
            assert _table(store) == _truth(store, topics, segmenter), (round_, done)
            changed += _table(store) != truth_before
    assert changed >= 4  # the rewrites changed what matched, most rounds


def test_an_edit_undone_before_its_rematch_ended_is_redone_whole(
    stored: Path, tmp_path: Path, segmenter: Segmenter
) -> None:
    """Edit A re-matched a few chunks, then the watchlist went back: those chunks hold
    A's matches, so the topic is matched again everywhere, not taken as unchanged."""
    state, folder, specs = _workspace(stored, tmp_path)
    original = _write(folder, specs)
    specs["04-rural.yaml"]["anchors"].insert(0, "发展")
    edited = _write(folder, specs)
    rural = [t for t in edited if t.id == "rural"]
    with Store(state) as store:
        job, wanted = pipeline.rematch_job(rural)
        bounds = pipeline.rematch_bounds(store.counts()["articles"], 50)
        chunks = store.rematch_chunks(job, wanted, bounds)  # every article, as an old one did
        matcher = Matcher(rural, segmenter)
        for chunk in chunks[: len(chunks) // 2]:
            found = [(d, a.index, m) for d, a in store.rematch_articles(chunk.lo, chunk.hi)
                     for m in matcher.match(a)]  # fmt: skip
            assert store.store_rematch_chunk(chunk, wanted, found, _now()) is False
        assert store.unfinished_rematches() == {"rural": rural[0].version}
        assert pipeline.sync_topics(store, original, segmenter) == ["rural"]
        assert _table(store) == _truth(store, original, segmenter)
        assert store.unfinished_rematches() == {}


def _near(store: Store) -> set[tuple[Any, ...]]:
    """The near_misses table, without the versions."""
    rows = store.db.execute("SELECT doc_sha256, idx, topic_id, score FROM near_misses")
    return {tuple(r) for r in rows}


def _near_truth(store: Store, topics: list[Topic], segmenter: Segmenter) -> set[tuple[Any, ...]]:
    matcher = Matcher(topics, segmenter)
    return {
        (d, a.index, n.topic_id, n.score)
        for d, a in store.rematch_articles("", "g")
        for n in matcher.assess(a)[1]
    }


def test_a_lowered_min_score_rematches_only_the_near_misses_over_it(
    stored: Path, tmp_path: Path, segmenter: Segmenter, caplog: pytest.LogCaptureFixture
) -> None:
    """min_score raised to 45 (the matches under it become near misses), then lowered
    step by step to 0, every topic at once or one alone, each step landing on or beside
    a stored near miss's score (its rounding edge): the matches and near misses are
    those of matching every article, and only the near misses are read again."""
    state, folder, specs = _workspace(stored, tmp_path)
    rng = random.Random(15)
    with Store(state) as store, caplog.at_level(logging.INFO, "watcher.pipeline"):
        topics = _write(folder, specs)
        assert store.near_missed_topics() == {t.id for t in topics}  # made by the scan
        assert _near(store) == _near_truth(store, topics, segmenter)
        first, missed = len(_table(store)), len(_near(store))
        for spec in specs.values():
            spec["min_score"] = 45
        topics = _write(folder, specs)
        pipeline.sync_topics(store, topics, segmenter)
        assert _near(store) == _near_truth(store, topics, segmenter)
        assert len(_near(store)) > missed  # the matches under 45 joined them
        rounds = 0
        while _near(store):
            assert rounds < 12
            near = sorted(_near(store))
            ids = sorted({row[2] for row in near})
            chosen = ids if rounds % 2 == 0 else [rng.choice(ids)]
            for spec in specs.values():
                if spec["id"] in chosen:
                    under = [r[3] for r in near if r[2] == spec["id"]]
                    edge = rng.choice(under) + rng.choice([-0.05, 0.0, 0.04, 0.05])
                    low = round(edge, 4) if rounds < 6 else 0
                    spec["min_score"] = max(0, min(low, spec["min_score"] - 0.5))
            # Read again: the near misses, and the matches within SCORE_MARGIN of a
            # new min_score (read as for a raised one).
            most = len(near) + sum(
                1 for row in _table(store) if row[3] < _specs_min(specs, row[2]) + SCORE_MARGIN
            )
            topics = _write(folder, specs)
            assert sorted(pipeline.sync_topics(store, topics, segmenter)) == chosen
            read, again = _again(caplog)
            # The near misses, no more, and nothing else read.
            assert 0 < again == read <= most < store.counts()["articles"], rounds
            assert _table(store) == _truth(store, topics, segmenter), (rounds, chosen)
            assert _near(store) == _near_truth(store, topics, segmenter), (rounds, chosen)
            rounds += 1
        assert rounds >= 2 and len(_table(store)) > first  # all in at 0, more than at 20


def _specs_min(specs: dict[str, dict[str, Any]], topic_id: str) -> float:
    """A topic's min_score in ``specs``."""
    return float(next(s.get("min_score", 0) for s in specs.values() if s["id"] == topic_id))


def _now() -> Any:
    import datetime as dt

    return dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(("before", "after", "terms"), [
    ({"anchors": ["安全生产"], "context": ["隐患"]},
     {"anchors": ["安全生产", "危化品"], "context": ["隐患"]}, {"危化品"}),
    ({"anchors": ["安全生产"], "context": ["隐患", "督办"]},
     {"anchors": ["安全生产", "隐患"], "context": ["督办"]}, {"隐患"}),
    ({"anchors": ["安全生产"], "context": ["项目 NEAR 开工"]},
     {"anchors": ["安全生产"], "context": []}, {"项目", "开工"}),
    ({"anchors": ["安全生产"], "context": ["隐患"]},
     {"anchors": ["安全生产"], "context": ["隐患"], "boost": {"隐患": 2}}, {"隐患"}),
    ({"anchors": ["安全生产"], "context": ["隐患"]},
     {"anchors": ["安全生产"], "context": ["隐患"], "ignore": ["安全生产月"]}, {"安全生产月"}),
    ({"anchors": ["安全生产"], "context": ["隐患"]},
     {"anchors": ["安全生产"], "context": ["隐患"], "name": "安全"}, set()),
    ({"anchors": ["安全生产", "危化品"], "context": ["隐患"]},
     {"anchors": ["危化品", "安全生产"], "context": ["隐患"]}, None),  # the why-line's order
    # A raised min_score: no term, the matches under it are read again (SCORE_MARGIN).
    ({"anchors": ["安全生产"], "context": ["隐患"], "min_score": 20},
     {"anchors": ["安全生产"], "context": ["隐患"], "min_score": 30}, set()),
    ({"anchors": ["安全生产"], "context": ["隐患"], "min_score": 20},
     {"anchors": ["安全生产"], "context": ["隐患", "督办"], "min_score": 25}, {"督办"}),
    ({"anchors": ["安全生产"], "context": ["隐患"], "min_score": 30},
     {"anchors": ["安全生产"], "context": ["隐患"], "min_score": 20}, None),  # (see below)
    # An exclusion or a written query rewritten: all the old and new one's terms.
    ({"anchors": ["安全生产"], "context": ["隐患"]},
     {"anchors": ["安全生产"], "context": ["隐患"], "exclude": "招聘"}, {"招聘"}),
    ({"anchors": ["安全生产"], "exclude": "招聘 OR title:广告"},
     {"anchors": ["安全生产"], "exclude": "招聘 AND NOT 公告"}, {"招聘", "广告", "公告"}),
    ({"anchors": ["安全生产"], "exclude": "招聘"}, {"anchors": ["安全生产"]}, {"招聘"}),
    ({"query": "暗访 AND 安全生产"}, {"query": "暗访 AND (安全生产 OR 隐患)"},
     {"暗访", "安全生产", "隐患"}),
    ({"query": "暗访 AND 安全生产", "anchors": ["督查"]},
     {"query": "暗访 AND NOT 演练", "anchors": ["督查"], "exclude": "招聘"},
     {"暗访", "安全生产", "演练", "招聘"}),
    # Only the top-level OR branches added or removed (review): the kept ones decide
    # alone where the others' terms are absent.
    ({"anchors": ["安全生产"], "exclude": "招聘 OR (title:会见 -title:脱贫) OR 广告"},
     {"anchors": ["安全生产"], "exclude": "招聘 OR (title:会见 -title:脱贫) OR 广告 OR 冷链物流"},
     {"冷链物流"}),
    ({"anchors": ["安全生产"], "exclude": "招聘 OR 广告"},
     {"anchors": ["安全生产"], "exclude": "广告 OR 招聘"}, set()),
    ({"anchors": ["安全生产"], "exclude": "招聘 OR (广告 OR 公告)"},
     {"anchors": ["安全生产"], "exclude": "招聘 OR 广告"}, {"公告"}),
    ({"query": "防汛 OR 汛期"}, {"query": "防汛 OR 汛期 OR 洪水"}, {"洪水"}),
    ({"query": "防汛 OR 汛期 OR 洪水"}, {"query": "防汛 OR 洪水"}, {"汛期"}),
    ({"query": "防汛 OR 汛期"}, {"query": "汛期 OR 防汛"}, None),  # the why-line's order
    ({"query": "防汛 OR 汛期", "anchors": ["水位"]},
     {"query": "(防汛 OR 汛期) AND 水位", "anchors": ["水位"]}, {"防汛", "汛期", "水位"}),
    # A query written where it was derived: the anchors no longer make the query.
    ({"anchors": ["安全生产"]}, {"anchors": ["安全生产"], "query": "安全生产"}, None),
    ({"anchors": ["安全生产"], "context": ["隐患"]},
     {"anchors": ["安全生产"], "context": ["隐患"], "lead_context": False}, set()),
    # lead_context is no test where anchors and context count for nothing.
    ({"query": "安全生产"}, {"query": "安全生产", "lead_context": False}, set()),
    ({"query": "暗访 AND 安全生产"},
     {"query": "暗访 AND 安全生产", "boost": {"暗访": 2}}, {"暗访"}),
    # The first anchor of a query-only topic, or its last: what counts changes (review).
    ({"query": '"安全生产"'}, {"query": '"安全生产"', "anchors": ["防汛"]}, None),
    ({"query": '"安全生产"', "anchors": ["防汛"]}, {"query": '"安全生产"'}, None),
    ({"query": '"安全生产"', "anchors": ["防汛"]},
     {"query": '"安全生产"', "anchors": ["防汛", "抗旱"]}, {"抗旱"}),
    # Ignored words as the matcher reads them: ``title:`` and quotes are syntax (review).
    ({"anchors": ['"招商"']}, {"anchors": ['"招商"'], "ignore": ["title:招商银行"]}, {"招商银行"}),
    ({"anchors": ['"招商"']}, {"anchors": ['"招商"'], "ignore": ["“招商银行”"]}, {"招商银行"}),
])  # fmt: skip
def test_rule_edit_names_what_an_edit_can_change(
    tmp_path: Path, before: dict[str, Any], after: dict[str, Any], terms: set[str] | None
) -> None:
    folder = tmp_path / "w"
    folder.mkdir()
    (old,) = _write(folder, {"a.yaml": {"id": "t", **before}})
    (new,) = _write(folder, {"a.yaml": {"id": "t", **after}})
    found = rule_edit(old.rules, new.rules)
    assert (None if found is None else set(found.terms)) == terms
    # lead_context turned off where anchors or context count: the stored matches and
    # near misses, no term.
    off = old.lead_context and not new.lead_context and bool(new.anchors or new.context)
    assert found is None or found.stored == off
    # With the near misses stored, a lowered min_score is an edit of no terms (the
    # re-match reads the near misses over it); nothing else changes.
    lowered = new.min_score < old.min_score
    found = rule_edit(old.rules, new.rules, near_misses=True)
    assert (None if found is None else set(found.terms)) == (set() if lowered else terms)


def _expand(*names: str) -> set[str]:
    from watcher import regions

    return set(regions.expand(names))


@pytest.mark.parametrize(("before", "after", "terms", "stored"), [
    ({}, {"regions": ["湘潭"]}, set(), True),
    ({"regions": ["湘潭", "株洲"]}, {"regions": ["湘潭"]}, set(), True),
    ({"regions": ["湘潭"]}, {"regions": ["湘潭", "株洲"]}, _expand("株洲"), False),
    ({"regions": ["湘潭"]}, {"regions": ["株洲"]}, _expand("湘潭") ^ _expand("株洲"), False),
    ({"regions": ["湘潭"]}, {}, None, False),  # the last region removed
    ({"regions": ["湘潭", "株洲"]}, {"regions": ["株洲", "湘潭"]}, set(), False),  # a set
    ({"lead_context": True}, {"lead_context": False}, set(), True),
    ({"lead_context": False}, {"lead_context": True}, {"隐患", "项目", "开工"}, False),
    ({"lead_context": False}, {"lead_context": True, "context": ["隐患"]},
     {"隐患", "项目", "开工"}, False),  # (the context removed is edited too)
    ({"min_score": 20}, {"min_score": 10, "regions": ["湘潭"]}, set(), True),
])  # fmt: skip
def test_regions_and_lead_context_edits_name_what_they_can_change(
    tmp_path: Path,
    before: dict[str, Any],
    after: dict[str, Any],
    terms: set[str] | None,
    stored: bool,
) -> None:
    base = {"anchors": ["安全生产"], "context": ["隐患", "项目 NEAR 开工"]}
    folder = tmp_path / "w"
    folder.mkdir()
    (old,) = _write(folder, {"a.yaml": {"id": "t", **base, **before}})
    (new,) = _write(folder, {"a.yaml": {"id": "t", **base, **after}})
    found = rule_edit(old.rules, new.rules, near_misses=True)
    assert (None if found is None else (set(found.terms), found.stored)) == (
        None if terms is None else (terms, stored)
    )
    # Without the near misses stored: the same, but for a lowered min_score.
    lowered = new.min_score < old.min_score
    assert rule_edit(old.rules, new.rules) == (None if lowered else found)


def test_rules_are_kept_with_the_matches_and_hash_to_the_version(
    make_config: Callable[..., Config], segmenter: Segmenter
) -> None:
    import hashlib

    cfg = make_config()
    (cfg.watchlists / "a.yaml").write_text("- id: t\n  anchors: [安全生产]\n", encoding="utf-8")
    topics = load_watchlists(cfg.watchlists)
    with Store(cfg.state) as store:
        pipeline.sync_topics(store, topics, segmenter)
        ((version, rules),) = store.topic_rules().values()
    assert version == topics[0].version == hashlib.sha256(rules.encode()).hexdigest()[:16]
    assert rules == topics[0].rules


def _terms_edited(specs: dict[str, dict[str, Any]]) -> None:
    specs["01-safety.yaml"]["context"].insert(3, "检查")
    specs["04-rural.yaml"]["anchors"].remove("驻村")


def _scores_lowered(specs: dict[str, dict[str, Any]]) -> None:
    for name in ("01-safety.yaml", "04-rural.yaml"):
        specs[name]["min_score"] = 5


@pytest.mark.parametrize("edit", [_terms_edited, _scores_lowered])
def test_an_edit_on_either_back_end_stores_what_matching_all_would(
    make_config: Callable[..., Config],
    seeded_inbox: Path,
    state: Path | str,
    segmenter: Segmenter,
    caplog: pytest.LogCaptureFixture,
    edit: Callable[[dict[str, dict[str, Any]]], None],
) -> None:
    cfg = make_config(state=state)
    specs = _bundled()
    topics = _write(cfg.watchlists, specs)
    with Store(cfg.state) as store, caplog.at_level(logging.INFO, "watcher.pipeline"):
        pipeline.scan(cfg, store, topics=topics, segmenter=segmenter)
        assert _near(store) == _near_truth(store, topics, segmenter) != set()
        edit(specs)
        edited = _write(cfg.watchlists, specs)
        assert pipeline.sync_topics(store, edited, segmenter) == ["rural", "safety"]
        read, again = _again(caplog)
        assert 0 < again <= read and again < store.counts()["articles"]
        assert _table(store) == _truth(store, edited, segmenter)
        assert _table(store) != _truth(store, topics, segmenter)  # the edit changed matches
        assert _near(store) == _near_truth(store, edited, segmenter)


def test_a_rematch_begun_before_schema_15_does_not_vouch_for_the_near_misses(
    stored: Path, tmp_path: Path, segmenter: Segmenter, caplog: pytest.LogCaptureFixture
) -> None:
    """A job an older watcher began (four fields a topic) and this one finishes: its
    first chunks kept no near misses, so the next lowered min_score matches every
    article again (review)."""
    import json

    state, folder, specs = _workspace(stored, tmp_path)
    specs["04-rural.yaml"]["query"] = "乡村振兴 OR 农村 OR 乡村"  # every article again
    rural = [t for t in _write(folder, specs) if t.id == "rural"]
    with Store(state) as store, caplog.at_level(logging.INFO, "watcher.pipeline"):
        with store.transaction():  # as schema 15's migration leaves an older state
            store.db.execute("DELETE FROM near_misses")
            store.db.execute("UPDATE topics SET near_misses = 0")
        job, wanted = pipeline.rematch_job(rural)
        chunks = store.rematch_chunks(job, wanted, pipeline.rematch_bounds(500, 50))
        with store.transaction():
            old = json.dumps([[*t, None] for t in wanted], ensure_ascii=False)
            store.db.execute("UPDATE rematch_chunks SET topics = ?", (old,))
        matcher = Matcher(rural, segmenter)
        for chunk in chunks[: len(chunks) // 2]:  # as the older watcher did them
            found = [(d, a.index, m) for d, a in store.rematch_articles(chunk.lo, chunk.hi)
                     for m in matcher.match(a)]  # fmt: skip
            assert store.store_rematch_chunk(chunk, wanted, found, _now()) is False
        topics = _write(folder, specs)
        assert pipeline.sync_topics(store, topics, segmenter) == ["rural"]  # the rest
        assert store.near_missed_topics() == set()
        specs["04-rural.yaml"]["min_score"] -= 5
        topics = _write(folder, specs)
        assert pipeline.sync_topics(store, topics, segmenter) == ["rural"]
        read, again = _again(caplog)
        assert again == read == sum(1 for _ in store.rematch_articles("", "g"))
        assert _table(store) == _truth(store, topics, segmenter)
        assert store.near_missed_topics() == {"rural"}


@pytest.mark.parametrize("many", [False, True])
def test_term_watch_finds_the_topics_whose_terms_occur_as_the_matcher_folds_them(
    many: bool,
) -> None:
    from watcher import matcher
    from watcher.pages import split_page
    from watcher.readers import read_bytes
    from watcher.segment import fold

    terms = {"a": ["安全生产", "ＡＢＣ"], "b": ["城市更新", "乡村"]}  # a full-width term folds
    if many:  # past _FEW_TERMS: one automaton pass instead of a test per term
        terms["c"] = [f"不存在的词{n}" for n in range(matcher._FEW_TERMS)] + ["项目"]
    watch = matcher.TermWatch(terms)
    seen = 0
    for f in seed_files():
        for article in split_page(read_bytes(f, f.read_bytes()).text):
            text = fold(article.headline + "\n" + article.body)
            want = {t for t, words in terms.items() if any(fold(w) in text for w in words)}
            got = watch.topics_in(article)
            assert got == (want if article.kind == "article" else set()), article.headline
            seen += bool(got)
    assert seen >= 5


def _context_added(specs: dict[str, dict[str, Any]], n: int) -> str:
    specs["03-flood.yaml"]["context"].insert(0, f"堤防{n}")
    return "flood"


def _score_lowered(specs: dict[str, dict[str, Any]], n: int) -> str:
    specs["04-rural.yaml"]["min_score"] -= 3
    return "rural"


@pytest.mark.parametrize(("older", "edit"), [
    # Schema 14's migration leaves no rules beside the versions: a term edit.
    (["UPDATE topics SET rules = NULL"], _context_added),
    # Schema 15's leaves no near misses: a lowered min_score.
    (["DELETE FROM near_misses", "UPDATE topics SET near_misses = 0"], _score_lowered),
])  # fmt: skip
def test_a_state_from_an_older_schema_matches_every_article_once(
    stored: Path,
    tmp_path: Path,
    segmenter: Segmenter,
    caplog: pytest.LogCaptureFixture,
    older: list[str],
    edit: Callable[[dict[str, dict[str, Any]], int], str],
) -> None:
    """The first edit matches every article again, and makes what the next one needs."""
    state, folder, specs = _workspace(stored, tmp_path)
    with Store(state) as store, caplog.at_level(logging.INFO, "watcher.pipeline"):
        with store.transaction():
            for statement in older:
                store.db.execute(statement)
        every = sum(1 for _ in store.rematch_articles("", "g"))
        for round_ in range(2):
            topic = edit(specs, round_)
            topics = _write(folder, specs)
            assert pipeline.sync_topics(store, topics, segmenter) == [topic]
            read, again = _again(caplog)
            assert (again == read == every) is (round_ == 0)  # then it is kept
            assert _table(store) == _truth(store, topics, segmenter)
        # The near misses of the topics matched everywhere, and of no other.
        made = {t.id for t in topics} if topic == "flood" else {"rural"}
        assert store.near_missed_topics() == made
        assert _near(store) == {r for r in _near_truth(store, topics, segmenter) if r[2] in made}


@pytest.mark.parametrize(("before", "after"), [
    ({"query": '"安全生产"'}, {"query": '"安全生产"', "anchors": ["防汛"]}),
    ({"query": '"安全生产"', "anchors": ["防汛"]}, {"query": '"安全生产"'}),
    ({"anchors": ["乡村振兴", "安全生产"]},
     {"anchors": ["乡村振兴", "安全生产"], "ignore": ["“乡村振兴战略”", "title:安全生产工作"]}),
    # A branch that is a double negation (review: it had made no candidate at all).
    ({"query": "文化 OR NOT NOT 改造"}, {"query": "文化"}),
])  # fmt: skip
def test_edits_the_review_found_store_what_matching_all_would(
    make_config: Callable[..., Config],
    seeded_inbox: Path,
    segmenter: Segmenter,
    before: dict[str, Any],
    after: dict[str, Any],
) -> None:
    cfg = make_config()
    old = _write(cfg.watchlists, {"a.yaml": {"id": "t", **before}})
    with Store(cfg.state) as store:
        pipeline.scan(cfg, store, topics=old, segmenter=segmenter)
        new = _write(cfg.watchlists, {"a.yaml": {"id": "t", **after}})
        assert pipeline.sync_topics(store, new, segmenter) == ["t"]
        assert _table(store) == _truth(store, new, segmenter)
        assert _table(store) != _truth(store, old, segmenter)  # the edit changed matches


# --- a differential check of rule_edit, with a generator of its own ----------------
# (after a reviewer's fuzz: topic pairs with one or two combined edits; every article
# holding none of the terms rule_edit names, and, for an edit of stored rows, neither
# matched nor nearly matched before, must match alike under both).

_WORDS = ["项目", "安全", "改造", "检查", "防汛", "乡村", "投资", "企业", "隐患", "建设",
          "发展", "产业", "城市", "农业", "会议", "经济", "合作", "脱贫", "生态", "创新",
          "改革", "文化", "教育", "安全生产", "扶贫", "防控", "工作", "湖南", "长沙"]  # fmt: skip


def _branch(rng: random.Random) -> str:
    a, b, c = rng.sample(_WORDS, 3)
    return rng.choice([a, a, f"title:{a}", f"({a} AND {b})", f"({a} -{b})", f"{a} NEAR/10 {b}",
                       f'"{a}{b}"', f"(NOT NOT {a})", f"({a} AND NOT ({b} OR {c}))",
                       f"(({a} OR {b}) AND {c})", f"({a} OR ({b} OR {c}))"])  # fmt: skip


def _entry(rng: random.Random) -> str:
    a, b = rng.sample(_WORDS, 2)
    return rng.choice([a, a, f"title:{a}", f"{a} NEAR/8 {b}", f'"{a}"'])


def _spec(rng: random.Random) -> dict[str, Any]:
    spec: dict[str, Any] = {"id": "t", "anchors": [], "context": []}
    for _ in range(rng.randint(0, 3)):
        spec[rng.choice(["anchors", "context"])].append(_entry(rng))
    if rng.random() < 0.6 or not (spec["anchors"] or spec["context"]):
        spec["_q"] = [_branch(rng) for _ in range(rng.randint(1, 3))]
    if rng.random() < 0.7:
        spec["_x"] = [_branch(rng) for _ in range(rng.randint(1, 3))]
    if rng.random() < 0.4:
        spec["min_score"] = rng.choice([5, 10, 20, 40])
    if rng.random() < 0.3:
        spec["regions"] = rng.choice(_REGIONS)
    if rng.random() < 0.3:
        spec["lead_context"] = False
    return spec


_REGIONS = [["湖南"], ["长沙"], ["株洲", "湘潭"], ["衡阳"], ["长沙", "岳阳", "常德"]]


def _edit_spec(
    spec: dict[str, Any], rng: random.Random, scores: list[float], missed: list[float]
) -> None:
    for _ in range(rng.randint(1, 2)):
        kind = rng.choice(["_x", "_x", "_q", "_q", "min", "add", "drop", "regions", "lead"])
        if kind in ("_x", "_q") and (spec.get(kind) or kind == "_x"):
            branches = list(spec.get(kind) or [])
            if rng.random() < 0.5 or not branches:
                branches.insert(rng.randint(0, len(branches)), _branch(rng))
            elif len(branches) > 1:
                branches.pop(rng.randrange(len(branches)))
            else:
                branches[0] = _branch(rng)
            spec[kind] = branches
        elif kind == "min":
            # To a stored match's rounding edge (raised), a near miss's (lowered), or
            # down a step.
            pick = rng.choice([scores, missed, []])
            if pick:
                edge = rng.choice(pick) + rng.choice([-0.05, -0.049, 0.0, 0.04, 0.05, 0.06, 0.15])
            else:
                edge = spec.get("min_score", 0) - rng.choice([1, 5, 15])
            spec["min_score"] = max(0, round(edge, 4))
        elif kind == "regions":  # narrowed, widened, or moved (removing all: None)
            was = list(spec.get("regions") or [])
            spec["regions"] = rng.choice(
                [was[:-1] or rng.choice(_REGIONS), [*was, "郴州"], rng.choice(_REGIONS)]
            )
        elif kind == "lead":
            spec["lead_context"] = not spec.get("lead_context", True)
        elif kind == "add":
            spec[rng.choice(["anchors", "context"])].append(_entry(rng))
        elif kind == "drop" and spec["anchors"] + spec["context"]:
            where = rng.choice([k for k in ("anchors", "context") if spec[k]])
            spec[where].pop(rng.randrange(len(spec[where])))


def _topic(folder: Path, spec: dict[str, Any]) -> Topic | None:
    out = {k: v for k, v in spec.items() if not k.startswith("_")}
    out["anchors"] = list(dict.fromkeys(out["anchors"]))
    out["context"] = [e for e in dict.fromkeys(out["context"]) if e not in out["anchors"]]
    for key, rule in (("query", "_q"), ("exclude", "_x")):
        if spec.get(rule):
            out[key] = " OR ".join(spec[rule])
    try:
        return _write(folder, {"a.yaml": out})[0]
    except Exception:  # a pair the generator made invalid (a boost, an empty topic)
        return None


def test_random_edits_never_change_an_article_holding_none_of_the_edited_terms(
    tmp_path: Path, segmenter: Segmenter
) -> None:
    from watcher.matcher import TermWatch
    from watcher.pages import split_page
    from watcher.readers import read_bytes

    files = seed_files() + sorted((CORPUS / "xwlb_china_data_2017_2021").glob("*.md"))[::200]
    articles = [a for f in files for a in split_page(read_bytes(f, f.read_bytes()).text)
                if a.kind == "article"]  # fmt: skip
    rng = random.Random(2212)
    pairs = compared = lowered = narrowed = widened = 0
    for _ in range(100):
        spec = _spec(rng)
        old = _topic(tmp_path, spec)
        if old is None:
            continue
        before = [Matcher([old], segmenter).assess(a) for a in articles]
        edited = yaml.safe_load(yaml.safe_dump(spec, allow_unicode=True))
        _edit_spec(
            edited, rng, [m.score for ms, _ in before for m in ms],
            [n.score for _, ns in before for n in ns],
        )  # fmt: skip
        new = _topic(tmp_path, edited)
        edit = None if new is None else rule_edit(old.rules, new.rules, near_misses=True)
        if new is None or edit is None:
            continue
        pairs += 1
        lowered += new.min_score < old.min_score
        narrowed += edit.stored
        widened += not set(new.regions) <= set(old.regions) and bool(old.regions)
        terms = edit.terms
        watch, after = TermWatch({"t": terms}), Matcher([new], segmenter)
        for a, (was, missed) in zip(articles, before, strict=True):
            if (
                watch.topics_in(a)
                or (edit.stored and (was or missed))
                or any(m.score < new.min_score + SCORE_MARGIN for m in was)
                or any(n.score >= new.min_score - SCORE_MARGIN for n in missed)
            ):
                continue  # matched again by the re-match
            compared += 1
            now, near = after.assess(a)
            assert [(m.score, m.terms, m.hits, m.clause, m.snippet, m.marks) for m in was] == [
                (m.score, m.terms, m.hits, m.clause, m.snippet, m.marks) for m in now
            ], (spec, edited, sorted(terms), a.headline)
            assert [n.score for n in missed] == [n.score for n in near], (spec, edited)
    assert pairs >= 30 and compared > 1000, (pairs, compared)
    assert lowered >= 3 and narrowed >= 3 and widened >= 3, (lowered, narrowed, widened)

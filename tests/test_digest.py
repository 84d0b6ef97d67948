"""Building the digest: reprints, ranking, windows (exactly once), stored content."""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import ROOT, SEEDS
from tests.test_render import GOLDEN, hostile_digest, seed_digest
from watcher import digest as digest_mod
from watcher import pipeline
from watcher.config import Config
from watcher.digest import containment, reprint_groups, shingles
from watcher.models import Article, Digest
from watcher.pages import split_page
from watcher.segment import Segmenter
from watcher.store import Store
from watcher.watchlists import load_watchlists


def seed_articles() -> list[Article]:
    out = []
    for path in sorted(SEEDS.glob("*.txt")):
        out += split_page(path.read_text(encoding="utf-8"), today=dt.date(2026, 11, 21))
    return out


def text(a: Article) -> str:
    return a.headline + "\n" + a.body


# --- reprints ----------------------------------------------------------------------


def edited_copies(a: Article) -> dict[str, str]:
    """Ways another paper prints the same story."""
    paras = a.body.split("\n")
    sentences = a.body.split("。")
    changed = "。".join(
        s + "，记者补充了细节" if n % 4 == 1 else s for n, s in enumerate(sentences)
    )  # a few sentences changed
    return {
        "reflowed": a.headline + "\n" + a.body.replace("\n", "").replace("，", ", "),
        "sentences changed": a.headline + "\n" + changed,
        "paragraph cut": a.headline + "\n" + "\n".join(paras[: max(1, len(paras) // 2)]),
        "new headline": "另一个标题：" + a.headline[:6] + "\n" + a.body,
        "truncated": a.headline + "\n" + a.body[: len(a.body) // 3],
    }


@pytest.mark.parametrize("kind", ["reflowed", "sentences changed", "paragraph cut",
                                  "new headline", "truncated"])  # fmt: skip
def test_edited_copies_of_a_seed_story_are_grouped_with_it(kind: str) -> None:
    arts = [a for a in seed_articles() if a.kind == "article" and a.chars > 300]
    for a in arts:
        copy = edited_copies(a)[kind]
        groups = reprint_groups([text(x) for x in arts] + [copy])
        together = next(g for g in groups if len(arts) in g)
        assert together == [arts.index(a), len(arts)], (kind, a.headline)


def test_different_seed_stories_are_never_grouped() -> None:
    arts = seed_articles()
    groups = reprint_groups([text(a) for a in arts])
    assert all(len(g) == 1 for g in groups)
    worst = max(
        containment(shingles(text(a)), shingles(text(b)))
        for a, b in itertools.combinations([a for a in arts if a.chars > 100], 2)
    )
    assert worst < 0.2  # far below the 0.6 threshold


# --- the digest of a day --------------------------------------------------------------


@pytest.fixture(scope="module")
def segmenter(tmp_path_factory: pytest.TempPathFactory) -> Segmenter:
    return Segmenter(tmp_path_factory.mktemp("jieba"))


def _setup(cfg: Config) -> None:
    import shutil

    for f in (ROOT / "config" / "watchlists").glob("*.yaml"):
        shutil.copy(f, cfg.watchlists / f.name)


T0 = dt.datetime(2026, 11, 20, 22, 0, tzinfo=dt.UTC)  # 06:00 on the 21st in Shanghai


def test_each_matched_article_is_in_exactly_one_digest(
    make_config: Callable[..., Config], seeded_inbox: Path, segmenter: Segmenter
) -> None:
    cfg = make_config()
    _setup(cfg)
    topics = load_watchlists(cfg.watchlists)
    day1, day2 = dt.date(2026, 11, 21), dt.date(2026, 11, 22)
    with Store(cfg.state) as store:
        pipeline.scan(cfg, store, topics=topics, segmenter=segmenter, clock=lambda: T0)
        d1, new = pipeline.produce_digest(
            cfg, store, topics, day1, clock=lambda: T0 + dt.timedelta(hours=2)
        )
        assert new and d1.total == 27 and d1.since is None  # 19 articles, some under two topics
        assert [s.count for s in d1.sections] == [2, 4, 2, 8, 11]
        safety = d1.sections[0].items[0]
        assert safety.headline.startswith("毛伟明在湘潭暗访检查安全生产工作")
        urban = d1.sections[1].items[0]
        assert urban.other_topics == ("招商引资与重大项目",)
        assert d1.stats.documents == 5 and d1.stats.articles == 26
        assert d1.subject == (
            "【watcher】2026年11月21日 日报：安全生产检查 2 · 城市更新 4 · 防汛抗洪 2 · "
            "乡村振兴 8 · 招商引资与重大项目 11"
        )
        # Asking again gives the stored digest, even after more articles arrive.
        page = SEEDS / "000_a9c89bb65670a872.txt"
        copy = cfg.inbox / "later.txt"
        copy.write_text(page.read_text(encoding="utf-8") + "\n\n新增一段。\n", encoding="utf-8")
        os.utime(copy, (1_600_000_000, 1_600_000_000))
        later = T0 + dt.timedelta(hours=5)
        pipeline.scan(cfg, store, topics=topics, segmenter=segmenter, clock=lambda: later)
        again, new = pipeline.produce_digest(cfg, store, topics, day1, clock=lambda: later)
        assert not new and again == d1
        # The next day's digest holds only what arrived after the cut-off.
        d2, _ = pipeline.produce_digest(
            cfg, store, topics, day2, clock=lambda: later + dt.timedelta(days=1)
        )
        assert d2.since == d1.produced_at
        assert d2.total == 7  # the later copy's four stories: 1 + 3 + 2 + 1 topics
        assert d2.stats.documents == 1
        trend = d2.sections[3].trend
        assert len(trend) == 14 and trend[-2:] == (8, 1)
        assert d2.sections[3].average == 8.0


def test_reprints_collapse_into_one_item_with_also_in(
    make_config: Callable[..., Config], seeded_inbox: Path, segmenter: Segmenter
) -> None:
    cfg = make_config()
    _setup(cfg)
    topics = load_watchlists(cfg.watchlists)
    # Another paper prints the 湘潭 safety story on its A03.
    story = split_page((SEEDS / "000_a9c89bb65670a872.txt").read_text(encoding="utf-8"))[3]
    (cfg.inbox / "reprint.txt").write_text(
        "株洲日报\nA03\n2026年6月18日 星期四\n\n" + story.headline + "\n\n本报讯 "
        + story.body.replace("\n", "\n\n")[: len(story.body) * 2 // 3] + "\n",
        encoding="utf-8",
    )  # fmt: skip
    os.utime(cfg.inbox / "reprint.txt", (1_600_000_000, 1_600_000_000))
    with Store(cfg.state) as store:
        pipeline.scan(cfg, store, topics=topics, segmenter=segmenter, clock=lambda: T0)
        d, _ = pipeline.produce_digest(cfg, store, topics, dt.date(2026, 11, 21), clock=lambda: T0)
    item = d.sections[0].items[0]  # the inspection; a flood-season tour mentions safety too
    assert item.headline.startswith("毛伟明在湘潭暗访检查安全生产工作")
    assert d.sections[0].count == 2
    # Scored on salience, the shorter reprint leads its group; the original is "also in".
    assert (item.newspaper, item.also_in) == ("株洲日报", ("三湘都市报",))


def test_digest_round_trips_through_json(
    make_config: Callable[..., Config], seeded_inbox: Path, segmenter: Segmenter
) -> None:
    cfg = make_config()
    _setup(cfg)
    topics = load_watchlists(cfg.watchlists)
    with Store(cfg.state) as store:
        pipeline.scan(cfg, store, topics=topics, segmenter=segmenter, clock=lambda: T0)
        d, _ = pipeline.produce_digest(cfg, store, topics, dt.date(2026, 11, 21), clock=lambda: T0)
    assert digest_mod.from_json(digest_mod.to_json(d)) == d


def first_digest() -> Digest:
    """The first digest (no previous cut-off), made at a UTC instant as the pipeline's clock
    gives it, with control characters and markup in every text."""
    return dataclasses.replace(
        hostile_digest(),
        produced_at=dt.datetime(2026, 11, 20, 23, 30, 5, 123456, tzinfo=dt.UTC),
        since=None,
    )


@pytest.mark.parametrize(
    ("name", "made"), [("digest-v1.json", seed_digest), ("digest-v1-first.json", first_digest)]
)
def test_digests_stored_before_msgspec_still_decode(name: str, made: Callable[[], Digest]) -> None:
    # The stored text of digests already in users' databases: captured from the
    # hand-written to_json that msgspec replaced (commit c454de3; json.dumps with
    # sort_keys, "+00:00" offsets, spaces after separators, "\u001b" escapes).
    # Never regenerated: these files are the old format itself.
    stored = (GOLDEN / name).read_text(encoding="utf-8")
    d = digest_mod.from_json(stored)
    assert d == made()
    assert d.produced_at.utcoffset() == made().produced_at.utcoffset()
    item = d.sections[0].items[0]
    assert isinstance(item.terms, tuple) and isinstance(item.terms[0], tuple)
    assert isinstance(item.marks[0], tuple) and isinstance(d.stats.failures[0], tuple)
    assert digest_mod.from_json(digest_mod.to_json(d)) == d


def test_stored_form_round_trips() -> None:
    d = seed_digest()
    text = digest_mod.to_json(d)
    assert digest_mod.from_json(text) == d
    assert json.loads(text)["produced_at"] == "2026-11-21T07:30:00+08:00"
    assert list(json.loads(text)) == sorted(json.loads(text))  # keys sorted, as before


def test_max_per_topic_counts_the_rest(
    make_config: Callable[..., Config], seeded_inbox: Path, segmenter: Segmenter
) -> None:
    cfg = make_config()
    (cfg.path).write_text(cfg.path.read_text() + "digest:\n  max_per_topic: 2\n")
    from watcher.config import load_config

    cfg = load_config(cfg.path)
    _setup(cfg)
    topics = load_watchlists(cfg.watchlists)
    with Store(cfg.state) as store:
        pipeline.scan(cfg, store, topics=topics, segmenter=segmenter, clock=lambda: T0)
        d, _ = pipeline.produce_digest(cfg, store, topics, dt.date(2026, 11, 21), clock=lambda: T0)
    invest = d.sections[4]
    assert (len(invest.items), invest.more, invest.count) == (2, 9, 11)
    scores = [i.score for i in invest.items]
    assert scores == sorted(scores, reverse=True)


def test_large_windows_find_the_same_reprints_with_lsh_ensemble(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    arts = [a for a in seed_articles() if a.kind == "article" and a.chars > 300]
    texts = [text(a) for a in arts]
    copies = [edited_copies(a)["truncated"] for a in arts[:4]]
    exact = reprint_groups(texts + copies)
    monkeypatch.setattr(digest_mod, "EXACT_UP_TO", 3)  # force the MinHash path
    assert reprint_groups(texts + copies) == exact
    assert sum(1 for g in exact if len(g) == 2) == 4

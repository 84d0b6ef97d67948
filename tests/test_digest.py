"""Building the digest: reprints, ranking, windows (exactly once), stored content."""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import json
import os
import posixpath
import random
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import CORPUS, ROOT, SEEDS
from tests.test_render import GOLDEN, hostile_digest, seed_digest
from watcher import digest as digest_mod
from watcher import pipeline
from watcher.config import Config, load_config
from watcher.digest import containment, reprint_groups, shingles
from watcher.display import change, history_days, listed, reprints
from watcher.models import Article, Digest, DigestStats, TopicSection
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
        assert new and d1.total == 25 and d1.since is None  # 18 articles, some under two topics
        assert [s.count for s in d1.sections] == [2, 4, 2, 7, 10]
        safety = d1.sections[0].items[0]
        assert safety.headline.startswith("毛伟明在湘潭暗访检查安全生产工作")
        urban = d1.sections[1].items[0]
        assert urban.other_topics == ("招商引资与重大项目",)
        assert d1.stats.documents == 5 and d1.stats.articles == 26
        assert d1.subject == (
            "【watcher】2026年11月21日 日报：安全生产检查 2 · 城市更新 4 · 防汛抗洪 2 · "
            "乡村振兴 7 · 招商引资与重大项目 10"
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
        assert len(trend) == 14 and trend[-2:] == (7, 1)
        assert d2.sections[3].average == 7.0


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
    # Every story is kept (the archive lists them all); the digest shows the best two.
    assert (len(invest.items), invest.more, invest.count) == (10, 8, 10)
    assert [i.key for i in listed(invest)] == [i.key for i in invest.items[:2]]
    assert reprints(invest) == ()
    scores = [i.score for i in invest.items]
    assert scores == sorted(scores, reverse=True)


def all_pairs_groups(texts: list[str]) -> list[list[int]]:
    """The definition itself: every pair checked, groups closed under containment."""
    sets = [shingles(t) if len(t) >= digest_mod.MIN_CHARS else set() for t in texts]
    parent = list(range(len(texts)))

    def root(i: int) -> int:
        while parent[i] != i:
            i = parent[i]
        return i

    for i, j in itertools.combinations(range(len(texts)), 2):
        if containment(sets[i], sets[j]) >= digest_mod.CONTAINMENT:
            a, b = root(i), root(j)
            parent[max(a, b)] = min(a, b)
    groups: dict[int, list[int]] = {}
    for i in range(len(texts)):
        groups.setdefault(root(i), []).append(i)
    return sorted(groups.values(), key=lambda g: g[0])


def test_prefix_filtering_finds_exactly_the_pairs_of_the_definition() -> None:
    arts = [a for a in seed_articles() if a.kind == "article" and a.chars > 300]
    texts = [text(a) for a in arts]
    copies = [edited_copies(a)[kind] for a in arts for kind in ("truncated", "paragraph cut")]
    assert reprint_groups(texts + copies) == all_pairs_groups(texts + copies)
    assert sum(1 for g in reprint_groups(texts + copies) if len(g) == 3) == len(arts)


def test_a_large_window_groups_as_the_definition_does() -> None:
    # 600 texts: stories stitched from seed sentences (they share many 4-grams, as
    # a day's reports on one meeting do), a copy of every tenth cut to 60 %, copies
    # of copies, and texts at the size boundaries (exactly the threshold, short ones).
    rnd = random.Random(5)
    sentences = [s for a in seed_articles() for s in a.body.split("。") if len(s) > 15]
    texts = ["。".join(rnd.sample(sentences, rnd.randint(2, 12))) for _ in range(500)]
    texts += [t[: len(t) * 3 // 5] for t in texts[::10]]
    texts += [t[: len(t) * 4 // 5] + "。另有补充" for t in texts[500:540]]
    texts += [t[:59] for t in texts[:10]]  # below MIN_CHARS: never grouped
    groups = reprint_groups(texts)
    assert groups == all_pairs_groups(texts)
    assert len(texts) == 600 and sum(len(g) - 1 for g in groups) >= 90


def test_needed_is_the_least_count_the_check_accepts() -> None:
    for n in range(1, 2000):
        k = digest_mod._needed(n)
        assert k / n >= digest_mod.CONTAINMENT and (k - 1) / n < digest_mod.CONTAINMENT, n


def test_reprints_of_a_story_follow_the_stories_in_its_section(
    make_config: Callable[..., Config], seeded_inbox: Path, segmenter: Segmenter
) -> None:
    cfg = make_config()
    _setup(cfg)
    topics = load_watchlists(cfg.watchlists)
    story = split_page((SEEDS / "000_a9c89bb65670a872.txt").read_text(encoding="utf-8"))[3]
    for n, (paper, page) in enumerate((("株洲日报", "A03"), ("衡阳日报", "A02"))):
        (cfg.inbox / f"reprint{n}.txt").write_text(
            f"{paper}\n{page}\n2026年6月18日 星期四\n\n{story.headline}\n\n本报讯 "
            + story.body.replace("\n", "\n\n")[: len(story.body) * (3 - n) // 4] + "\n",
            encoding="utf-8",
        )  # fmt: skip
        os.utime(cfg.inbox / f"reprint{n}.txt", (1_600_000_000, 1_600_000_000))
    with Store(cfg.state) as store:
        pipeline.scan(cfg, store, topics=topics, segmenter=segmenter, clock=lambda: T0)
        d, _ = pipeline.produce_digest(cfg, store, topics, dt.date(2026, 11, 21), clock=lambda: T0)
    safety = d.sections[0]
    assert safety.count == 2 and len(safety.items) == 4
    lead = safety.items[0]
    copies = reprints(safety)
    assert [c.headline for c in copies] == [lead.headline] * 2
    assert {lead.key, *(c.key for c in copies)} == {
        i.key for i in safety.items if i.headline == lead.headline
    }
    labels = {lead.newspaper, *(c.newspaper for c in copies)}
    assert labels == {"三湘都市报", "株洲日报", "衡阳日报"}
    # Each copy names the others, as the lead does.
    for item in (lead, *copies):
        assert len(item.also_in) == 2 and item.newspaper not in " ".join(item.also_in)
    assert digest_mod.from_json(digest_mod.to_json(d)) == d


def _section_of(history: dict[dt.date, dict[str, int]], count: int = 3) -> TopicSection:
    topic = load_watchlists(ROOT / "config" / "watchlists")[0]
    day = dt.date(2026, 11, 21)
    d = digest_mod.build_digest(
        day=day,
        timezone="Asia/Shanghai",
        produced_at=dt.datetime(2026, 11, 20, 23, 30, tzinfo=dt.UTC),
        since=None,
        topics=[topic],
        candidates=[],
        history=history,
        stats=DigestStats(0, 0, ()),
    )
    return d.sections[0]


def test_days_without_a_digest_are_no_digest_in_the_trend() -> None:
    day = dt.date(2026, 11, 21)
    first = _section_of({})
    assert first.trend == (-1,) * 13 + (0,) and first.average == 0.0
    assert history_days(first) == 0 and change(first) == "暂无历史"
    # Two digests in the week before (one of them before the topic existed), one older.
    history = {
        day - dt.timedelta(days=1): {"safety": 4},
        day - dt.timedelta(days=3): {"flood": 2},
        day - dt.timedelta(days=5): {"safety": 2},
        day - dt.timedelta(days=10): {"safety": 9},
    }
    s = _section_of(history)
    assert s.trend == (-1, -1, -1, 9, -1, -1, -1, -1, 2, -1, -1, -1, 4, 0)
    assert s.average == 3.0 and history_days(s) == 2
    assert change(s) == "↓ 较前2日均值 −3.0"


# --- every match reachable (issue 15), on the whole 新闻联播 corpus ---------------------

CORPUS_FOLDERS = ("xwlb_china_data_2017_2021", "xwlb_cctv_news")
HREF = re.compile(r'href="([^"#]+)(?:#[^"]*)?"')


def _crawl(out: Path, start: str) -> set[str]:
    """Every archive file reachable from ``start`` by following relative links."""
    seen, todo = {start}, [start]
    while todo:
        here = todo.pop()
        path = out / here
        assert path.is_file(), f"{here} is linked but missing"
        if path.suffix != ".html":
            continue
        for link in HREF.findall(path.read_text(encoding="utf-8")):
            if "://" in link:
                continue
            target = posixpath.normpath(posixpath.join(posixpath.dirname(here), link))
            assert not target.startswith(".."), f"{here} links outside the archive: {link}"
            if target not in seen:
                seen.add(target)
                todo.append(target)
    return seen


@pytest.mark.slow
@pytest.mark.corpus
@pytest.mark.skipif(
    not all((CORPUS / f).is_dir() for f in CORPUS_FOLDERS),
    reason=f"corpus not found at {CORPUS} (optional; see ../shared/corpus/README.md)",
)
def test_every_match_of_the_corpus_is_reachable_from_the_digests_and_the_archive(
    tmp_path: Path, segmenter: Segmenter
) -> None:
    # The 3,510 transcripts arrive in four batches, one digest after each.
    inbox, out = tmp_path / "inbox", tmp_path / "reports"
    inbox.mkdir()
    (tmp_path / "watchlists").mkdir()
    for f in (ROOT / "config" / "watchlists").glob("*.yaml"):
        shutil.copy(f, tmp_path / "watchlists" / f.name)
    base_url = "https://reports.example.org/watcher"
    cfg_path = tmp_path / "watcher.yaml"
    cfg_path.write_text(
        "inbox: inbox\nstate: state/watcher.db\nwatchlists: watchlists\nlog_level: WARNING\n"
        f"scan:\n  settle_seconds: 0\ndigest:\n  out_dir: reports\n  base_url: {base_url}\n",
        encoding="utf-8",
    )
    cfg = load_config(cfg_path)
    topics = load_watchlists(cfg.watchlists)
    files = sorted(p for f in CORPUS_FOLDERS for p in (CORPUS / f).glob("*.md"))
    batches = [files[k::4] for k in range(4)]
    digests = []
    with Store(cfg.state) as store:
        for k, batch in enumerate(batches):
            folder = inbox / f"batch{k}"
            folder.mkdir()
            for f in batch:
                shutil.copy(f, folder / f.name)
                os.utime(folder / f.name, (1_600_000_000, 1_600_000_000))
            now = T0 + dt.timedelta(days=k)
            pipeline.scan(cfg, store, topics=topics, segmenter=segmenter, clock=lambda n=now: n)
            day = dt.date(2026, 11, 21) + dt.timedelta(days=k)
            run = pipeline.digest_day(cfg, store, topics, day, clock=lambda n=now: n)
            digests.append(run.digest)
        ids = {t.id for t in topics}
        matched = {
            (f"{d[:16]}-{i}", m.topic_id) for d, i, m in store.matches() if m.topic_id in ids
        }
    assert len(files) == 3510 and len(matched) > 5000

    # The archive: from index.html, through the topics' pages, to every article.
    reached_files = _crawl(out, "index.html")
    reached = set()
    for name in reached_files:
        parts = name.split("/")
        if len(parts) == 3 and parts[0] == "topics":  # topics/<id>/<day>.html
            page = (out / name).read_text(encoding="utf-8")
            keys = re.findall(
                r'<h3 class="headline"><a href="\.\./\.\./articles/([^"]+)\.html"', page
            )
            reached |= {(key, parts[1]) for key in keys}
    assert reached == matched
    articles = {n for n in reached_files if n.startswith("articles/")}
    assert articles == {f"articles/{k}.html" for k, _ in matched}
    # The JSON of the days carries every match too.
    in_json = set()
    for d in digests:
        data = json.loads((out / f"{d.day.isoformat()}.json").read_text(encoding="utf-8"))
        in_json |= {(i["key"], s["id"]) for s in data["sections"] for i in s["items"]}
    assert in_json == matched
    # The e-mail and the chat messages: their links lead into the archive, and every
    # topic with more than the digest lists links to its page of the day.
    renderer = pipeline.renderer_for(cfg)
    for d in digests:
        email = renderer.email(d)
        chat = "\n".join(renderer.chat(d, "dingtalk"))
        for text in (email.html, email.text, chat):
            for url in re.findall(re.escape(base_url) + r"/([^\s\"()<>]+)", text):
                assert (out / url).is_file(), url
        for s in d.sections:
            if s.more:
                page = f"{base_url}/topics/{s.id}/{d.day.isoformat()}.html"
                assert page in email.html and page in email.text and page in chat

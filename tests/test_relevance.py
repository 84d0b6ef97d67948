"""The relevance benchmark (bench/relevance.py): split, figures, the old model."""

from __future__ import annotations

import importlib.util
import math
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

from tests.conftest import CORPUS, ROOT, SEEDS
from watcher.matcher import Matcher
from watcher.models import Article
from watcher.pages import split_page
from watcher.segment import Segmenter
from watcher.watchlists import Topic, load_watchlists


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("relevance", ROOT / "bench" / "relevance.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["relevance"] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


relevance = _load()
needs_corpus = pytest.mark.skipif(
    not (CORPUS / "xwlb_cctv_news").is_dir(),
    reason=f"corpus not found at {CORPUS} (optional; see ../shared/corpus/README.md)",
)


@pytest.fixture(scope="module")
def segmenter(tmp_path_factory: pytest.TempPathFactory) -> Segmenter:
    return Segmenter(tmp_path_factory.mktemp("jieba"))


@pytest.fixture
def topic(tmp_path: Path) -> Callable[..., Topic]:
    def make(**fields: object) -> Topic:
        lines = ["id: t", *(f"{k}: {v}" for k, v in fields.items())]
        path = tmp_path / "t.yaml"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        (t,) = load_watchlists(path)
        return t

    return make


def test_the_split_is_fixed_and_halves_every_topics_positives() -> None:
    labels = relevance.load_labels()
    dev, held = relevance.split(labels)
    assert (len(labels), len(dev), len(held)) == (770, 390, 380)
    assert dev.isdisjoint(held) and dev | held == set(labels)
    assert relevance.split(labels) == (dev, held)  # seeded: the same every run
    cores = [
        (sum(labels[i][t] == "core" for i in dev), sum(labels[i][t] == "core" for i in held))
        for t in relevance.TOPICS
    ]
    assert cores == [(23, 20), (32, 27), (48, 43), (44, 41), (49, 45)]


def test_figures_count_mention_neither_way_and_rank_pairs() -> None:
    labels = {
        "a": {"t": "core"},
        "b": {"t": "core"},
        "c": {"t": "none"},
        "d": {"t": "none"},
        "e": {"t": "mention"},
    }
    scores = {"a": {"t": 80.0}, "b": {}, "c": {"t": 40.0}, "d": {}, "e": {"t": 10.0}}
    f = relevance.figures("t", labels, labels, scores)
    assert (f.tp, f.fp, f.fn) == (1, 1, 1)
    assert (f.precision, f.recall, f.f1) == (0.5, 0.5, 0.5)
    # Pairs (core, none): a>c, a>d, b<c, b=d (half): 2.5 of 4.
    assert (f.right_pairs, f.pairs, f.ranking) == (2.5, 4, 0.625)
    total = f + f
    assert (total.tp, total.pairs, total.ranking) == (2, 8, 0.625)


def test_the_old_model_scores_as_the_old_matcher_did(
    segmenter: Segmenter, topic: Callable[..., Topic]
) -> None:
    # The old matcher's own test values: Σ boost × min(1 + ln tf, 3), tf = 3 × headline
    # hits + body hits.
    old = relevance.OldModel([topic(query="暗访 OR 检查", boost="{暗访: 2}")], segmenter)

    def score(body: str, headline: str = "标题") -> float | None:
        return old(Article(index=0, headline=headline, body=body)).get("t")

    assert score("暗访。") == 2.0
    assert score("正文。", headline="暗访") == pytest.approx(2 * (1 + math.log(3)))
    assert score("暗访。" * 50) == 6.0  # 2 × the saturation cap of 3
    assert score("暗访。检查。") == 3.0
    assert score("正文。") is None
    strict = relevance.OldModel([topic(query="暗访", min_score=2.5)], segmenter)
    assert strict(Article(index=0, headline="标题", body="暗访。")) == {}
    # An occurrence inside a longer matched term counts for the longer one; and one
    # occurrence served both sides of AND, as it did then.
    both = relevance.OldModel([topic(query="安全隐患 AND 隐患")], segmenter)
    assert both(Article(index=0, headline="标题", body="家具存在安全隐患。")) == {"t": 1.0}


@pytest.mark.skipif(not (ROOT / ".git").exists(), reason="not a git checkout")
def test_the_old_watchlists_come_from_git(tmp_path: Path) -> None:
    folder = relevance.old_watchlists(tmp_path)
    topics = load_watchlists(folder)
    assert [t.id for t in topics] == list(relevance.TOPICS)
    assert [t.min_score for t in topics] == [5, 5, 4, 4, 10]
    assert all(t.written_query and not t.anchors for t in topics)


@needs_corpus
@pytest.mark.corpus
def test_every_labelled_item_is_found_as_the_splitter_cuts_it() -> None:
    items = relevance.load_items(CORPUS)
    # Every batch's items: the first, the second (development since round 2), the fresh.
    labelled = {item for batch in relevance._batches() for item in relevance.load_labels(batch)}
    assert set(items) == labelled
    assert items["20220104-11"].headline == "国内联播快讯"
    assert items["seed-000-03"].headline.startswith("毛伟明在湘潭暗访检查安全生产工作")


@needs_corpus
@pytest.mark.corpus
def test_general_news_is_read_from_both_samples() -> None:
    news = relevance.general_news(CORPUS)
    assert len(news) == 1200
    assert sum(name.startswith("sogoucs:") for name, _ in news) == 200


# --- the bundled topics on the seed pages ------------------------------------------

# What an analyst of each topic wants from the seed pages: every (article, topic)
# labelled ``core`` in bench/labels/labels.jsonl (ids seed-NNN-II). The labels also
# call the 工伤预防 banner of the 衡阳 安委办 (004 #7) safety core; it is an
# advertisement, and ads and photo captions are nobody's topic.
WANTED = {
    ("000", 0): {"rural"},  # 习近平 on 东西部协作 (east–west anti-poverty cooperation)
    ("000", 1): {"flood", "investment"},  # 沈晓明 in 岳阳: flood season, projects
    ("000", 2): {"urban-renewal", "investment"},  # 133 areas, 2478 projects, 2215亿元
    ("000", 3): {"safety"},  # 毛伟明在湘潭暗访检查安全生产工作
    ("001", 0): {"investment"},  # provincial leaders push projects and 产业链招商
    ("002", 3): {"rural"},  # 2.4万名驻村干部
    ("003", 1): {"investment"},  # 长株潭: joint projects
    ("003", 3): {"investment"},  # China Mobile's data-centre project
    ("003", 4): {"investment"},  # 国开行 strategic cooperation, 1000亿元 financing
    ("003", 5): {"investment"},  # 长江环保集团 projects
    ("003", 6): {"rural"},  # 淥口: 32 village work teams, poverty alleviation
    ("003", 8): {"investment"},  # 芦淞区 project map
    ("004", 0): {"investment"},  # 衡阳 delegation to 苏州: 招商引资, 产业合作
    ("004", 1): {"urban-renewal"},  # city governance: 老旧小区改造, 城市更新
    ("004", 4): {"investment"},  # 石鼓区 "投资促进", 招商引资, 产业项目
    ("004", 5): {"rural"},  # 精准发力绘就乡村振兴美好图景
    ("004", 6): {"rural"},  # 村规民约
}


def seed_articles() -> list[tuple[tuple[str, int], Article]]:
    return [
        ((path.name[:3], a.index), a)
        for path in sorted(SEEDS.glob("*.txt"))
        for a in split_page(path.read_text(encoding="utf-8"), today=relevance.SEED_TODAY)
    ]


def test_the_wanted_seed_articles_are_the_core_labels() -> None:
    labels = relevance.load_labels()
    kinds = {key: a.kind for key, a in seed_articles()}
    core = {
        key: {t for t in relevance.TOPICS if labels[f"seed-{key[0]}-{key[1]:02d}"][t] == "core"}
        for key in kinds
    }
    core = {key: topics for key, topics in core.items() if topics and kinds[key] == "article"}
    assert core == WANTED
    assert sum(map(len, WANTED.values())) == 19


def test_bundled_topics_find_every_seed_article_an_analyst_wants(segmenter: Segmenter) -> None:
    labels = relevance.load_labels()
    matcher = Matcher(load_watchlists(ROOT / "config" / "watchlists"), segmenter)
    got = {key: {m.topic_id: m.score for m in matcher.match(a)} for key, a in seed_articles()}
    for key, topics in WANTED.items():
        assert topics <= set(got[key]), (key, got[key])
    # Whatever else matches is a passing mention (acceptable either way), never an
    # article labelled ``none`` for the topic.
    for (page, index), found in got.items():
        label = labels[f"seed-{page}-{index:02d}"]
        for topic in set(found) - WANTED.get((page, index), set()):
            assert label[topic] == "mention", (page, index, topic, found[topic])
    # The photo caption and the public-service banner are in no topic.
    others = [(key, a.kind) for key, a in seed_articles() if a.kind != "article"]
    assert others == [(("004", 2), "photo"), (("004", 7), "ad")]
    assert all(not got[key] for key, _ in others)

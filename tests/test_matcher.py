"""Matching articles against topics: words, operators, scores, explanations, re-matching."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import ROOT, SEEDS, dedent
from watcher import pipeline
from watcher.config import Config
from watcher.matcher import Matcher
from watcher.models import Article
from watcher.pages import split_page
from watcher.segment import Segmenter
from watcher.store import Store
from watcher.watchlists import Topic, load_watchlists


@pytest.fixture(scope="module")
def segmenter(tmp_path_factory: pytest.TempPathFactory) -> Segmenter:
    return Segmenter(tmp_path_factory.mktemp("jieba"))


@pytest.fixture
def topic(tmp_path: Path) -> Callable[..., Topic]:
    """A single topic from YAML keyword arguments."""

    def make(**fields: object) -> Topic:
        lines = [f"id: {fields.pop('id', 't')}"]
        for k, v in fields.items():
            lines.append(f"{k}: {v}")
        path = tmp_path / "t.yaml"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        (t,) = load_watchlists(path)
        return t

    return make


def art(body: str, headline: str = "标题") -> Article:
    return Article(index=0, headline=headline, body=body)


def matches(segmenter: Segmenter, t: Topic, a: Article) -> bool:
    return bool(Matcher([t], segmenter).match(a))


# --- the bundled topics on the seed pages ----------------------------------------

EXPECTED = {
    ("000", 1): ["flood"],  # 沈晓明 inspects flood defences before the second rain period
    ("000", 2): ["urban-renewal", "investment"],  # 133 areas, 2478 projects, 2215亿元
    ("000", 3): ["safety"],  # 毛伟明在湘潭暗访检查安全生产工作
    ("001", 0): ["investment"],  # provincial leaders push projects and 产业链招商
    ("002", 3): ["rural"],  # 2.4万名驻村干部
    ("003", 4): ["investment"],  # 国开行 strategic cooperation, 1000亿元 financing
    ("003", 6): ["rural"],  # 淥口: 32 village work teams, poverty alleviation
    ("004", 0): ["investment"],  # 衡阳 delegation to 苏州: 招商引资, 产业合作
    ("004", 4): ["investment"],  # 石鼓区 "投资促进", 招商引资, 产业项目
    ("004", 5): ["rural"],  # 精准发力绘就乡村振兴美好图景
}


def test_bundled_topics_pick_the_right_seed_articles(segmenter: Segmenter) -> None:
    topics = load_watchlists(ROOT / "config" / "watchlists")
    matcher = Matcher(topics, segmenter)
    got = {}
    for path in sorted(SEEDS.glob("*.txt")):
        for a in split_page(path.read_text(encoding="utf-8"), today=dt.date(2026, 11, 21)):
            found = matcher.match(a)
            if found:
                got[(path.name[:3], a.index)] = [m.topic_id for m in found]
    assert got == EXPECTED


def test_the_safety_inspection_explains_itself(segmenter: Segmenter) -> None:
    topics = load_watchlists(ROOT / "config" / "watchlists")
    page = next(SEEDS.glob("000_*.txt")).read_text(encoding="utf-8")
    a = split_page(page)[3]
    (m,) = Matcher(topics, segmenter).match(a)
    assert m.topic_id == "safety" and m.score > 20
    assert m.term_counts["安全生产"] == 9 and m.term_counts["暗访"] == 3
    assert "隐患" in m.term_counts and "煤矿" not in m.term_counts  # 煤矿 inside 非煤矿山
    assert m.clause.startswith("(安全生产 OR 风险隐患")
    assert len(m.snippet) <= 125
    marked = [m.snippet[s:e] for s, e in m.marks]
    assert "排查" in marked and "整治" in marked
    assert any(h.field == "title" and h.term == "暗访" for h in m.hits)


# --- words, not substrings ----------------------------------------------------------


@pytest.mark.parametrize(
    ("term", "text", "hit"),
    [
        ("市长", "游客在南京市长江大桥上拍照。", False),
        ("沙市", "长沙市今天发布通知。", False),
        ("和服", "为居民提供和服务员一样的待遇。", False),
        ("AI", "THE TRAINING CENTRE OPENED.", False),
        ("安全", "坚决打好安全生产翻身仗。", True),
        ("更新", "湖南城市更新资源集中发布。", True),
        ("市长", "副市长出席会议。", True),
        ("AI", "发展AI产业。", True),
        ('"长江大"', "游客在南京市长江大桥上拍照。", True),  # a phrase is a substring
    ],
)
def test_bare_terms_match_words_only(
    segmenter: Segmenter, topic: Callable[..., Topic], term: str, text: str, hit: bool
) -> None:
    assert matches(segmenter, topic(query=f"'{term}'"), art(text)) is hit


def test_traditional_and_full_width_forms_match(
    segmenter: Segmenter, topic: Callable[..., Topic]
) -> None:
    t = topic(query="安全生产 AND AI")
    assert matches(segmenter, t, art("堅決打好安全生產翻身仗，發展ＡＩ產業。"))


def test_near_title_exclude(segmenter: Segmenter, topic: Callable[..., Topic]) -> None:
    near = topic(query="暗访 NEAR/5 煤矿")
    assert matches(segmenter, near, art("暗访了一家煤矿。"))
    assert not matches(segmenter, near, art("暗访了化工企业、砂石场和另外一家煤矿。"))
    same = topic(query="暗访 NEAR 煤矿")
    assert matches(segmenter, same, art("暗访了化工企业、砂石场和另外一家煤矿。"))
    assert not matches(segmenter, same, art("今天暗访。明天去煤矿。"))
    title = topic(query="title:暗访")
    assert matches(segmenter, title, art("正文。", headline="省长暗访煤矿"))
    assert not matches(segmenter, title, art("省长暗访煤矿。"))
    excl = topic(query="安全生产", exclude="招聘 OR 广告")
    assert not matches(segmenter, excl, art("安全生产岗位招聘。"))
    assert matches(segmenter, excl, art("安全生产检查。"))


def test_regions_include_the_places_inside(
    segmenter: Segmenter, topic: Callable[..., Topic]
) -> None:
    t = topic(query="安全生产", regions="[湘潭]")
    assert matches(segmenter, t, art("在湘乡白云石矿检查安全生产。"))
    assert matches(segmenter, t, art("湘潭市安全生产检查。"))
    assert not matches(segmenter, t, art("株洲市安全生产检查。"))


def test_scores_rank_headline_hits_higher_saturate_and_boost(
    segmenter: Segmenter, topic: Callable[..., Topic]
) -> None:
    t = topic(query="暗访 OR 检查", boost="{暗访: 2}")
    m = Matcher([t], segmenter)
    (body,) = m.match(art("暗访。"))
    (title,) = m.match(art("正文。", headline="暗访"))
    (many,) = m.match(art("暗访。" * 50))
    (two,) = m.match(art("暗访。检查。"))
    assert body.score == 2.0
    assert title.score > body.score
    assert many.score == 6.0  # 2 × the saturation cap of 3
    assert two.score == 3.0
    assert not Matcher([topic(query="暗访", min_score=2.5)], segmenter).match(art("暗访。"))


def test_snippet_marks_hits_inside_the_best_sentence(
    segmenter: Segmenter, topic: Callable[..., Topic]
) -> None:
    t = topic(query="暗访 OR 隐患")
    body = "今天天气很好。省长暗访企业，发现隐患三处。其他内容。"
    (m,) = Matcher([t], segmenter).match(art(body))
    assert m.snippet == "省长暗访企业，发现隐患三处。其他内容。"
    assert [m.snippet[s:e] for s, e in m.marks] == ["暗访", "隐患"]
    assert m.clause == "暗访 OR 隐患"


def test_no_terms_no_segmentation(segmenter: Segmenter, topic: Callable[..., Topic]) -> None:
    fresh = Segmenter(None)
    Matcher([topic(query="暗访")], fresh).match(art("今天天气很好。"))
    assert not fresh.loaded  # jieba is loaded only when a candidate needs checking


# --- stored matches, re-matched only when a watchlist changes ------------------------


def test_scan_stores_matches_and_rematches_only_changed_topics(
    make_config: Callable[..., Config], seeded_inbox: Path, segmenter: Segmenter
) -> None:
    cfg = make_config()
    (cfg.watchlists / "a.yaml").write_text(
        dedent("""
            - id: safety
              query: 暗访 AND 安全生产
            - id: rural
              query: 驻村
        """),
        encoding="utf-8",
    )
    t0 = dt.datetime(2026, 11, 21, 1, 0, tzinfo=dt.UTC)
    topics = load_watchlists(cfg.watchlists)
    with Store(cfg.state) as store:
        report = pipeline.scan(cfg, store, topics=topics, segmenter=segmenter, clock=lambda: t0)
        assert report.matched == 3
        by_topic = {tid: {(d, i) for d, i, m in store.matches() if m.topic_id == tid}
                    for tid in ("safety", "rural")}  # fmt: skip
        assert len(by_topic["safety"]) == 1 and len(by_topic["rural"]) == 2
        assert pipeline.sync_topics(store, topics, segmenter) == []
    (cfg.watchlists / "a.yaml").write_text(
        "- id: safety\n  query: 暗访 AND 安全生产\n- id: rural\n  query: 驻村 OR 乡村振兴\n",
        encoding="utf-8",
    )
    topics = load_watchlists(cfg.watchlists)
    with Store(cfg.state) as store:
        assert pipeline.sync_topics(store, topics, segmenter) == ["rural"]
        heads = {(r.doc_sha256, r.article.index): r.article.headline for r in store.articles()}
        rural = sorted(heads[(d, i)][:6] for d, i, _ in store.matches(topic_id="rural"))
        assert rural == sorted(
            ["严把“四关”", "我市与国开行", "激浊扬清的“", "湘赣携手 “", "精准发力绘就"]
        )
        assert pipeline.sync_topics(store, topics[:1], segmenter) == []
        assert store.matches(topic_id="rural") == []  # removed topic: matches dropped

"""Matching articles against topics: words, operators, scores, explanations, re-matching."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import ROOT, SEEDS, dedent
from watcher import pipeline
from watcher.config import Config
from watcher.matcher import Matcher, salience, score, stories, weight
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

# What an analyst wants from the seed pages: tests/test_relevance.py.


def test_the_safety_inspection_explains_itself(segmenter: Segmenter) -> None:
    topics = load_watchlists(ROOT / "config" / "watchlists")
    page = next(SEEDS.glob("000_*.txt")).read_text(encoding="utf-8")
    a = split_page(page)[3]
    (m,) = Matcher(topics, segmenter).match(a)
    assert m.topic_id == "safety" and m.score == 97.1
    assert m.terms == (
        ("安全生产", 9), ("非煤矿山", 1), ("危险化学品", 1),
        ("风险隐患", 4), ("隐患", 1), ("矿山", 1), ("暗访", 3),
    )  # fmt: skip
    # 煤矿 inside 非煤矿山 and 隐患 inside 风险隐患 count for the longer term only.
    assert m.clause == (
        "anchors: 安全生产 ×9 (headline), 非煤矿山, 危险化学品; "
        "context: 风险隐患 ×4 (headline), 隐患, 矿山, 暗访 ×3 (headline)"
    )
    assert m.snippet.startswith("…记、省长毛伟明在湘潭市暗访检查化工企业和非煤矿山安全生产工作。")
    assert len(m.snippet) == 122
    marked = [m.snippet[s:e] for s, e in m.marks]
    assert marked == ["暗访", "非煤矿山安全生产", "安全生产", "风险隐患", "安全生产"]
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


@pytest.mark.parametrize(
    "query", ["NOT NOT 改造", "文化 OR NOT NOT 改造", "NOT (NOT 改造 AND NOT 文化)"]
)
def test_a_double_negation_holds_where_its_term_occurs(
    segmenter: Segmenter, topic: Callable[..., Topic], query: str
) -> None:
    # Review: such a query had no clause to be posted under, so it was never a
    # candidate and matched nothing, even an article holding every term.
    assert matches(segmenter, topic(query=f"'{query}'"), art("老旧小区改造全面启动。"))
    assert not matches(segmenter, topic(query=f"'{query}'"), art("今天天气晴。"))


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


# --- the score: salience on 0–100 ------------------------------------------------------


def test_salience_and_score_formulas() -> None:
    assert salience(headline=True, lead=False, body_hits=0, chars=800) == pytest.approx(0.6)
    assert salience(False, True, 0, 800) == pytest.approx(0.35)
    # One body hit per 1,000 characters: 1 − e^(−1/3); the same hit in 200 characters
    # counts as in 300 (MIN_CHARS).
    assert salience(False, False, 1, 1000) == pytest.approx(1 - math.exp(-1 / 3))
    assert salience(False, False, 1, 200) == salience(False, False, 1, 300)
    assert salience(False, False, 1, 300) == pytest.approx(1 - math.exp(-10 / 9))
    assert salience(True, True, 3, 600) == pytest.approx(1 - 0.4 * 0.65 * math.exp(-5 / 3))
    assert weight("anchor") == 0.8 and weight("context") == 0.4
    assert weight("anchor", 2) == pytest.approx(0.96)  # a boost: 1 − (1 − 0.8)²
    assert weight("context", 0.5) == pytest.approx(1 - 0.6**0.5)
    assert score([]) == 0.0
    assert score([0.5, 0.5]) == pytest.approx(75.0)
    assert score([0.9, 0.9]) == pytest.approx(99.0)  # each term adds; 100 is never passed


def test_scores_weigh_headline_and_lead_over_repetition_and_saturate(
    segmenter: Segmenter, topic: Callable[..., Topic]
) -> None:
    m = Matcher([topic(anchors="[暗访]")], segmenter)
    half = "会议听取了工作汇报，研究部署了下一阶段的各项任务。" * 40  # 1,000 characters
    (deep,) = m.match(art(half + "省长暗访企业。" + half))
    (lead,) = m.match(art("省长暗访企业。" + half * 2))
    (head,) = m.match(art(half * 2, headline="省长暗访企业"))
    (many,) = m.match(art(half + "省长暗访企业。" * 30 + half))
    assert (deep.score, lead.score, head.score, many.score) == (12.2, 36.0, 48.0, 79.1)
    # 30 hits saturate near the anchor's weight (80): repetition is not salience.
    (boosted,) = Matcher([topic(anchors="[暗访]", boost="{暗访: 2}")], segmenter).match(
        art(half + "省长暗访企业。" + half)
    )
    assert boosted.score == 14.7  # 0.96 instead of 0.8 of the same salience


def test_a_long_text_mentioning_the_topic_in_passing_ranks_below_a_short_one_about_it(
    segmenter: Segmenter, topic: Callable[..., Topic]
) -> None:
    t = topic(anchors="[防汛, 度汛]", context="[暴雨, 水位, 堤防]")
    m = Matcher([t], segmenter)
    paragraph = (
        "会议听取了关于经济运行、民生保障和改革发展情况的汇报，研究部署了下一阶段的重点工作。"
    )
    policy = "\n".join(
        [paragraph] * 100 + ["要做好防汛准备，应对暴雨天气。"] + [paragraph] * 150
    )  # 11,000 characters, one sentence on floods
    report = (
        "连日暴雨，湘江长沙站水位持续上涨。\n"
        "市防汛指挥部启动防汛四级应急响应，组织人员巡查堤防，确保安全度汛。\n" + paragraph * 3
    )
    (long,) = m.match(art(policy, headline="国务院常务会议部署下半年经济工作"))
    (short,) = m.match(art(report, headline="长沙启动防汛应急响应"))
    assert len(policy) > 10 * len(report)
    assert (long.score, short.score) == (3.7, 96.3)
    assert long.clause == "anchors: 防汛; context: 暴雨"
    assert short.clause == "anchors: 防汛 ×3 (headline), 度汛; context: 暴雨, 水位, 堤防"


def test_min_score_is_on_the_same_scale(segmenter: Segmenter, topic: Callable[..., Topic]) -> None:
    text = art("会议听取了工作汇报。" * 40 + "省长暗访企业。")
    assert [x.score for x in Matcher([topic(anchors="[暗访]")], segmenter).match(text)] == [44.7]
    assert not Matcher([topic(anchors="[暗访]", min_score=45)], segmenter).match(text)


def test_what_min_score_alone_keeps_out_is_a_near_miss_with_its_score(
    segmenter: Segmenter, topic: Callable[..., Topic]
) -> None:
    """assess(): the match min_score 0 would make, as a near miss; an article another
    rule keeps out is none (a lowered min_score cannot let it in)."""
    text = art("会议听取了工作汇报。" * 40 + "省长暗访企业。")
    high = topic(id="high", anchors="[暗访]", min_score=45)
    low = topic(id="low", anchors="[暗访]", min_score=44.7)
    excluded = topic(id="x", anchors="[暗访]", exclude="企业", min_score=45)
    absent = topic(id="y", anchors="[督查]", min_score=45)
    found, missed = Matcher([high, low, excluded, absent], segmenter).assess(text)
    assert [m.topic_id for m in found] == ["low"]
    assert [(n.topic_id, n.topic_version, n.score) for n in missed] == [
        ("high", high.version, 44.7)
    ]
    short = art("省长暗访企业。")  # scores over 45: a match, no near miss
    found, missed = Matcher([high], segmenter).assess(short)
    assert [m.topic_id for m in found] == ["high"] and missed == []
    assert found == Matcher([high], segmenter).match(short)


# --- anchors and context -------------------------------------------------------------------

FILLER = "会议听取了工作汇报，研究部署了下一阶段的各项任务。" * 8  # 200 characters, no terms


@pytest.mark.parametrize(
    ("headline", "body", "matched"),
    [
        ("标题", FILLER + "今年开展防汛演练。", True),  # one anchor, however deep
        ("标题", FILLER + "今天有暴雨。", False),  # one context term, deep in the text
        ("暴雨来袭", FILLER, True),  # one in the headline
        ("标题", "今天有暴雨。" + FILLER, True),  # one in the lead (the first sentence)
        ("标题", FILLER + "今天有暴雨，江河水位上涨。", True),  # two, close together
        ("标题", FILLER + "今天有暴雨。" + FILLER + "江河水位上涨。", False),  # far apart
        ("标题", FILLER + "暴雨。又是暴雨。" + FILLER, False),  # the same one twice
    ],
)
def test_an_anchor_is_enough_context_terms_need_company_or_a_prominent_place(
    segmenter: Segmenter, topic: Callable[..., Topic], headline: str, body: str, matched: bool
) -> None:
    t = topic(anchors="[防汛]", context="[暴雨, 水位]")
    assert matches(segmenter, t, art(body, headline=headline)) is matched


@pytest.mark.parametrize(
    ("headline", "body", "matched"),
    [
        ("暴雨来袭", FILLER, False),  # alone in the headline: not enough
        ("标题", "今天有暴雨。" + FILLER, False),  # alone in the lead: not enough
        ("暴雨来袭", FILLER + FILLER + "江河水位上涨。", True),  # with another, anywhere
        ("标题", FILLER + "今天有暴雨，江河水位上涨。", True),  # two close together
    ],
)
def test_lead_context_false_asks_for_two_context_terms(
    segmenter: Segmenter, topic: Callable[..., Topic], headline: str, body: str, matched: bool
) -> None:
    t = topic(anchors="[防汛]", context="[暴雨, 水位]", lead_context="false")
    assert matches(segmenter, t, art(body, headline=headline)) is matched


def test_a_word_twice_is_not_two_context_terms(
    segmenter: Segmenter, topic: Callable[..., Topic]
) -> None:
    # A consumer-product story: 安全隐患 in the headline, 隐患 in the text.
    t = topic(context="[安全隐患, 隐患, 安全检查]", lead_context="false")
    assert not matches(
        segmenter, t, art(FILLER + "这些隐患不容忽视。", headline="卫浴洁具是否存在安全隐患")
    )
    assert matches(
        segmenter, t, art(FILLER + "开展安全检查。", headline="卫浴洁具是否存在安全隐患")
    )


@pytest.mark.parametrize(
    ("body", "matched"),
    [
        (FILLER + "开展风险隐患排查。", False),  # 风险隐患 and 隐患排查 share 隐患
        (FILLER + "秋粮播种面积稳中略增。", False),  # 秋粮播种: two terms touching, one compound
        (FILLER + "秋粮长势良好，播种面积稳中略增。", True),  # apart: two pieces of evidence
        (FILLER + "排查风险隐患，做好隐患排查。", True),
    ],
)
def test_overlapping_or_touching_context_hits_are_one_piece_of_evidence(
    segmenter: Segmenter, topic: Callable[..., Topic], body: str, matched: bool
) -> None:
    t = topic(context="[风险隐患, 隐患排查, 秋粮, 播种]", lead_context="false")
    assert matches(segmenter, t, art(body)) is matched


def test_why_names_the_anchors_and_context_that_counted(
    segmenter: Segmenter, topic: Callable[..., Topic]
) -> None:
    t = topic(anchors="[防汛, 抗洪]", context="[暴雨, 水位]", query="防汛 OR 暴雨 OR 招商")
    (m,) = Matcher([t], segmenter).match(
        art("市里部署防汛工作。暴雨过后，防汛人员巡查。", headline="防汛部署")
    )
    assert m.clause == "anchors: 防汛 ×3 (headline); context: 暴雨"
    assert m.terms == (("防汛", 3), ("暴雨", 1))


def test_the_snippet_holds_an_anchor(segmenter: Segmenter, topic: Callable[..., Topic]) -> None:
    t = topic(anchors="[防汛]", context="[暴雨, 水位, 堤防]")
    body = "今天暴雨，水位上涨，堤防告急。" + FILLER + "市里启动防汛应急响应。" + FILLER
    (m,) = Matcher([t], segmenter).match(art(body))
    assert m.snippet == "市里启动防汛应急响应。会议听取了工作汇报，研究部署了下一阶段的各项任务。"
    assert [m.snippet[s:e] for s, e in m.marks] == ["防汛"]
    # Without an anchor, the sentence with the most context terms.
    (c,) = Matcher([topic(context="[暴雨, 水位, 堤防]")], segmenter).match(art(body))
    assert (
        c.snippet
        == "今天暴雨，水位上涨，堤防告急。会议听取了工作汇报，研究部署了下一阶段的各项任务。"
    )
    assert [c.snippet[s:e] for s, e in c.marks] == ["暴雨", "水位", "堤防"]


def test_ignored_words_are_not_the_topics_terms(
    segmenter: Segmenter, topic: Callable[..., Topic]
) -> None:
    t = topic(anchors="[招商]", ignore="[招商银行]")
    assert not matches(segmenter, t, art("招商银行发布年报。"))
    assert matches(segmenter, t, art("开展产业链招商。"))
    assert matches(segmenter, t, art("招商银行发布年报，各地开展招商。"))


def test_a_near_entry_counts_where_both_terms_are_close(
    segmenter: Segmenter, topic: Callable[..., Topic]
) -> None:
    t = topic(context="[董事长 NEAR 座谈, 项目建设]", lead_context="false")
    m = Matcher([t], segmenter)
    (hit,) = m.match(art("市委书记与集团董事长一行座谈。" + FILLER + "推动数据中心项目建设。"))
    assert hit.clause == "context: 董事长 NEAR 座谈, 项目建设"
    assert [hit.snippet[s:e] for s, e in hit.marks] == ["董事长", "座谈"]
    assert not m.match(art("集团董事长出席。" + FILLER + "座谈会召开。推动项目建设。"))


def test_one_occurrence_counts_once_for_a_near_entry_and_a_term(
    segmenter: Segmenter, topic: Callable[..., Topic]
) -> None:
    # A pair with a term inside a longer counted one is that one again.
    t = topic(anchors="[老旧小区改造]", context="[老旧小区 NEAR 改造, 完成投资, 投资 NEAR 亿元]")
    m = Matcher([t], segmenter)
    (hit,) = m.match(art("今年推进城镇老旧小区改造。"))
    assert hit.clause == "anchors: 老旧小区改造"
    # 完成投资50亿元 is one context term, not two: with lead_context false, not enough.
    two = topic(context="[完成投资, 投资 NEAR 亿元, 开工]", lead_context="false")
    assert not Matcher([two], segmenter).match(art(FILLER + "全年完成投资50亿元。"))
    (hit,) = Matcher([two], segmenter).match(art(FILLER + "完成投资50亿元，新项目开工。"))
    assert hit.clause == "context: 完成投资, 开工"
    # A term's occurrence that is one of a pair's two counts for the pair only.
    pair = topic(anchors="[老旧小区 NEAR 更新]", context="[老旧小区, 加装电梯]")
    (hit,) = Matcher([pair], segmenter).match(art("对老旧小区进行设备更新。"))
    assert hit.clause == "anchors: 老旧小区 NEAR 更新"
    (hit,) = Matcher([pair], segmenter).match(
        art("对老旧小区进行设备更新。另一个老旧小区加装电梯。")
    )
    assert hit.clause == "anchors: 老旧小区 NEAR 更新; context: 老旧小区, 加装电梯"
    # More evidence never unmatches: an anchor stays beside a context pair.
    ranked = topic(
        anchors="[老旧小区]", context="[老旧小区 NEAR 更新, 加装电梯]", lead_context="false"
    )
    (hit,) = Matcher([ranked], segmenter).match(art(FILLER + "对老旧小区进行设备更新。"))
    assert hit.clause == "anchors: 老旧小区; context: 老旧小区 NEAR 更新"
    # A pair across two sub-stories of a roundup takes nothing from either.
    across = topic(anchors="[老旧小区, 老旧小区 NEAR/30 更新]")
    roundup = art(
        "城区改造\n今年全市共改造老旧小区120个。\n设备更新\n全市推进大规模设备更新行动。",
        headline="国内新闻快讯",
    )
    (hit,) = Matcher([across], segmenter).match(roundup)
    assert hit.clause == "sub-story 1: anchors: 老旧小区"


def test_photos_and_ads_are_never_matched(
    segmenter: Segmenter, topic: Callable[..., Topic]
) -> None:
    t = topic(anchors="[安全生产]")
    text = "凝心聚力抓好安全生产。"
    assert matches(segmenter, t, art(text))
    for kind in ("photo", "ad"):
        assert not Matcher([t], segmenter).match(
            Article(index=0, headline="标题", body=text, kind=kind)
        )


# --- AND needs two occurrences -------------------------------------------------------------


def test_one_occurrence_does_not_satisfy_both_sides_of_and(
    segmenter: Segmenter, topic: Callable[..., Topic]
) -> None:
    t = topic(query="安全隐患 AND 隐患")
    assert not matches(segmenter, t, art("儿童家具存在安全隐患。"))
    assert matches(segmenter, t, art("儿童家具存在安全隐患，另有消防隐患。"))
    both = topic(query="(安全生产 OR 安全隐患) AND (检查 OR 隐患)")
    assert not matches(segmenter, both, art("儿童家具存在安全隐患。"))
    assert matches(segmenter, both, art("抓好安全生产，排查安全隐患。"))


# --- roundups: matched per sub-story ------------------------------------------------------

ROUNDUP = (
    "央视网消息（新闻联播）：\n"
    "甲地开展安全生产大检查\n"
    "甲地今天开展安全生产大检查，发现隐患十处，当场整改。\n"
    "乙地招聘会举行\n"
    "乙地今天举办招聘会，提供岗位三千个。\n"
)


def test_stories_of_a_roundup() -> None:
    text = "国内联播快讯\n" + ROUNDUP
    parts = [
        (s.number, [text[a:b] for a, b in s.heads], text[s.body[0] : s.body[1]])
        for s in stories("国内联播快讯", ROUNDUP)
    ]
    assert parts == [
        (1, ["国内联播快讯", "甲地开展安全生产大检查"], "甲地今天开展安全生产大检查，发现隐患十处，当场整改。"),
        (2, ["国内联播快讯", "乙地招聘会举行"], "乙地今天举办招聘会，提供岗位三千个。"),
    ]  # fmt: skip
    numbered = "（1）甲地开展安全生产检查。\n记者现场看到隐患。\n（2）乙地举办招聘会。"
    text = "简讯\n" + numbered
    assert [text[s.body[0] : s.body[1]] for s in stories("简讯", numbered)] == [
        "（1）甲地开展安全生产检查。\n记者现场看到隐患。",
        "（2）乙地举办招聘会。",
    ]
    # An ordinary headline: the article is one story.
    (whole,) = stories("甲地开展安全生产大检查", ROUNDUP)
    assert whole.number == 0


def test_a_roundup_is_matched_story_by_story(
    segmenter: Segmenter, topic: Callable[..., Topic]
) -> None:
    excluded = topic(anchors="[安全生产]", exclude="招聘")
    (m,) = Matcher([excluded], segmenter).match(art(ROUNDUP, headline="国内联播快讯"))
    assert m.clause == "sub-story 1: anchors: 安全生产 ×2 (headline)"
    assert (
        m.snippet == "甲地开展安全生产大检查：甲地今天开展安全生产大检查，发现隐患十处，当场整改。"
    )
    assert [m.snippet[s:e] for s, e in m.marks] == ["安全生产", "安全生产"]
    # The same text as one article: the exclusion is in it, so it is dropped.
    assert not Matcher([excluded], segmenter).match(art(ROUNDUP, headline="各地动态"))
    # AND holds within one sub-story, not across two.
    across = topic(query="安全生产 AND 招聘会")
    assert not matches(segmenter, across, art(ROUNDUP, headline="国内联播快讯"))
    assert matches(segmenter, across, art(ROUNDUP, headline="各地动态"))
    within = topic(query="安全生产 AND 隐患")
    assert matches(segmenter, within, art(ROUNDUP, headline="国内联播快讯"))


def test_context_terms_in_a_roundup_are_asked_of_each_sub_story(
    segmenter: Segmenter, topic: Callable[..., Topic]
) -> None:
    roundup = art(ROUNDUP, headline="国内联播快讯")
    # A context term in a sub-story's title is in that story's headline.
    (m,) = Matcher([topic(context="[招聘会]")], segmenter).match(roundup)
    assert m.clause == "sub-story 2: context: 招聘会 ×2 (headline)"
    # lead_context: false wants a second term in the same sub-story: 整改 is in the
    # first, 招聘会 in the second. Settled on the candidates, without jieba.
    fresh = Segmenter(None)
    apart = topic(context="[招聘会, 整改]", lead_context="false")
    assert Matcher([apart], fresh).match(roundup) == []
    assert not fresh.loaded
    together = topic(context="[招聘会, 岗位]", lead_context="false")
    (m,) = Matcher([together], segmenter).match(roundup)
    assert m.clause == "sub-story 2: context: 招聘会 ×2 (headline), 岗位"


def test_title_terms_in_a_roundup_look_at_the_sub_storys_own_title(
    segmenter: Segmenter, topic: Callable[..., Topic]
) -> None:
    roundup = art(ROUNDUP, headline="国内联播快讯")
    # An exclusion on the title drops the sub-story titled 乙地招聘会举行, not the other.
    assert not matches(segmenter, topic(anchors="[岗位]", exclude="title:招聘会"), roundup)
    (m,) = Matcher([topic(anchors="[安全生产, 岗位]", exclude="title:招聘会")], segmenter).match(
        roundup
    )
    assert m.clause == "sub-story 1: anchors: 安全生产 ×2 (headline)"
    # A title: term of a query (or an anchor) holds in that story's title, which is its
    # headline as for the score and the why-line.
    (m,) = Matcher([topic(query="title:招聘会")], segmenter).match(roundup)
    assert m.clause == "sub-story 2: title:招聘会"
    assert m.snippet == "乙地招聘会举行：乙地今天举办招聘会，提供岗位三千个。"
    (m,) = Matcher([topic(anchors="[title:招聘会]")], segmenter).match(roundup)
    assert m.clause == "sub-story 2: anchors: title:招聘会 (headline)"
    assert matches(segmenter, topic(query="title:安全生产 AND 隐患"), roundup)
    assert not matches(segmenter, topic(query="title:整改"), roundup)  # in the text only
    # One sub-story's title is no headline of another: 岗位 is in the second story.
    assert not matches(segmenter, topic(query="title:安全生产 AND 岗位"), roundup)
    # The title's 招聘会 is one occurrence, whether asked as title:招聘会 or 招聘会.
    assert matches(segmenter, topic(query="title:招聘会 AND 招聘会"), roundup)
    assert not matches(segmenter, topic(query="title:招聘会 AND 招聘会 AND 招聘会"), roundup)
    # As in any headline, NEAR does not pair the title with the text below it.
    assert not matches(segmenter, topic(query="举行 NEAR/5 今天"), roundup)
    assert matches(segmenter, topic(query="举行 NEAR/5 今天"), art(ROUNDUP, headline="各地动态"))
    # The roundup's own headline still counts for each sub-story.
    assert matches(segmenter, topic(query="title:快讯"), roundup)
    # Under an ordinary headline those lines are text: title: looks at the headline only.
    plain = art(ROUNDUP, headline="各地动态")
    assert matches(segmenter, topic(anchors="[岗位]", exclude="title:招聘会"), plain)
    for query in ("title:招聘会", "title:安全生产 AND 隐患", "title:招聘会 AND 招聘会"):
        assert not matches(segmenter, topic(query=query), plain), query
    assert not matches(segmenter, topic(anchors="[title:招聘会]"), plain)


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


def test_shared_occurrences_are_what_each_topic_would_find_alone(
    segmenter: Segmenter, topic: Callable[..., Topic]
) -> None:
    # Per article, a word's occurrences and term hits are made once and shared by
    # every topic counting them, and so is a snippet showing the same occurrences for
    # the same wanted terms; a topic none of whose words holds another skips the
    # covering test; one context term where two are asked for ends a topic before its
    # words are checked. Each topic must still get what it gets matched on its own.
    bundled = load_watchlists(ROOT / "config" / "watchlists")
    extra = [
        topic(id="dup", query="安全生产 AND (安全生产 OR 检查)"),  # one term twice
        topic(id="flat", anchors="[安全生产, 检查组]", context="[督导, 隐患 NEAR 整改]"),
        topic(id="same", anchors="[安全生产]"),  # flat's occurrences, other roles
        topic(id="roles", anchors="[督导]", context="[安全生产, 检查组]"),
        topic(
            id="lone",
            anchors="[暴雨]",
            context="[安全生产, 隐患 NEAR 整改, 检查]",
            lead_context="false",
        ),
    ]
    every = bundled + extra
    together = Matcher(every, segmenter)
    alone = {t.id: Matcher([t], segmenter) for t in every}
    seen = 0
    for page in sorted(SEEDS.glob("*.txt")):
        for a in split_page(page.read_text(encoding="utf-8")):
            got = together.match(a)
            assert got == [m for t in every for m in alone[t.id].match(a)], a.headline
            seen += len(got)
    assert seen >= 10


def test_topics_counting_the_same_occurrences_differently_get_their_own_snippets(
    segmenter: Segmenter, topic: Callable[..., Topic]
) -> None:
    # A snippet is shared by topics showing the same occurrences for the same wanted
    # terms; here the anchor of one is the other's context term.
    first = topic(id="first", anchors="[安全生产]", context="[督导]")
    second = topic(id="second", anchors="[督导]", context="[安全生产]")
    a = art("安全生产形势总体平稳，安全生产责任层层落实。省里派人督导。", headline="会议召开")
    together = Matcher([first, second], segmenter).match(a)
    alone = [m for t in (first, second) for m in Matcher([t], segmenter).match(a)]
    assert together == alone
    assert [m.topic_id for m in together] == ["first", "second"]
    assert together[0].snippet.startswith("安全生产")
    assert together[1].snippet == "省里派人督导。"

"""Splitting pages into articles: the five seed pages, asserted exactly, and the rules.

The expected splits below are what a careful reader sees on each page (the
seeds are real Hunan newspaper pages, copied from ../shared/seeds/).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from tests.conftest import SEEDS, dedent
from watcher.models import Article
from watcher.pages import reprint_source, split_page

TODAY = dt.date(2026, 11, 21)
D = dt.date


def split_seed(name: str) -> list[Article]:
    path = next(SEEDS.glob(f"{name}_*.txt"))
    return split_page(path.read_text(encoding="utf-8"), today=TODAY)


# (kind, kicker, headline, subtitle, newspaper, date, page, byline, dateline, continued)
EXPECTED: dict[str, list[tuple[object, ...]]] = {
    # 三湘都市报, Markdown-style headings, no masthead: the date comes from the
    # datelines ("6月17日讯"), its year from "today" (the page names 十五五开局之年).
    "000": [
        (
            "article",
            None,
            "习近平对常态化做好东西部协作工作作出重要指示强调 总结运用闽宁协作等有益经验 "
            "推动全体人民共同富裕迈出坚实步伐",
            None,
            "三湘都市报",
            D(2026, 6, 17),
            None,
            "据新华社",
            None,
            None,
        ),
        (
            "article",
            None,
            "沈晓明赴岳阳市调研并参加省人大代表小组主题活动强调 以正确政绩观引领推动高质量发展",
            None,
            "三湘都市报",
            D(2026, 6, 17),
            None,
            "湖南日报全媒体记者 刘燕娟",
            "三湘都市报6月17日讯",
            None,
        ),
        (
            "article",
            None,
            "133大片区、2478个项目！ 湖南城市更新资源(项目)集中发布 全省城市更新领域 预计带动投资万亿元",
            None,
            "三湘都市报",
            D(2026, 6, 17),
            None,
            "全媒体记者 卜岚 通讯员 曹馨誉",
            "三湘都市报6月17日讯",
            None,
        ),
        (
            "article",
            None,
            "毛伟明在湘潭暗访检查安全生产工作 穿透式监管 闭环式整改 持续推动风险隐患动态清零",
            None,
            "三湘都市报",
            D(2026, 6, 17),
            None,
            "湖南日报全媒体记者 孙敏坚",
            "三湘都市报6月17日讯",
            None,
        ),
    ],
    # A web page: breadcrumb, share buttons and "相关稿件" footer around one article.
    "001": [
        (
            "article",
            None,
            "湖南省委书记省长带队,省领导赴市州密集督导",
            None,
            None,
            None,
            None,
            "文 |周帙恒",
            None,
            None,
        ),
    ],
    # 三湘都市报 A02 要闻, 2021-05-08: a kicker above "# …", sub-headings "## …"
    # inside the first story, then three more stories each closed by a byline.
    "002": [
        (
            "article",
            "江西·湖南两省合作发展交流座谈会在南昌举行 许达哲刘奇毛伟明易炼红等出席",
            "乘势而上，不断开创省际合作新局面",
            None,
            "三湘都市报",
            D(2021, 5, 8),
            "A02",
            "湖南日报·新湖南客户端 记者 冒蓁 刘笑雪",
            None,
            None,
        ),
        (
            "article",
            None,
            "一路前行 唱响红色江山",
            None,
            "三湘都市报",
            D(2021, 5, 8),
            "A02",
            "湖南日报·新湖南客户端 记者 田超; 三湘都市报记者李成辉 摄影报道",
            None,
            None,
        ),
        (
            "article",
            None,
            "湘赣携手 “情牵红土地”",
            None,
            "三湘都市报",
            D(2021, 5, 8),
            "A02",
            "记者 丁鹏志",
            None,
            None,
        ),
        (
            "article",
            None,
            "严把“四关”，让驻村干部“驻”村更“助”村 湖南选派2.4万名干部 接续奋战乡村振兴",
            None,
            "三湘都市报",
            D(2021, 5, 8),
            "A02",
            "记者 李成辉",
            "本报5月7日讯",
            None,
        ),
    ],
    # 株洲日报 front page, 2021-06-04, masthead date spread over three lines.
    "003": [
        (
            "article",
            None,
            "习近平向上海合作组织民间友好论坛致贺信",
            None,
            "株洲日报",
            D(2021, 6, 4),
            "01",
            None,
            "新华社电",
            None,
        ),
        (
            "article",
            None,
            "“十同”行动 拥抱长株潭一体化",
            "打造长江经济带最具增长潜力的都市圈，逐步构建连通三市的地铁环线网，打造“3+N”先进产业集群",
            "株洲日报",
            D(2021, 6, 4),
            "01",
            "记者/廖喜张",
            "株洲日报·掌上株洲讯",
            None,
        ),
        (
            "article",
            None,
            "团省委书记李志超来株调研 推动共青团少先队工作提质增效",
            None,
            "株洲日报",
            D(2021, 6, 4),
            "01",
            "记者/陈正明",
            "株洲日报·掌上株洲讯",
            None,
        ),
        (
            "article",
            "曹慧泉与中国移动湖南公司丘文辉一行座谈",
            "深化务实合作 加快数字化建设",
            None,
            "株洲日报",
            D(2021, 6, 4),
            "01",
            "记者/胡文洁",
            "株洲日报·掌上株洲讯",
            None,
        ),
        (
            "article",
            None,
            "我市与国开行湖南省分行签订战略合作框架协议",
            "曹慧泉阳卫国与袁建良座谈并见证签约",
            "株洲日报",
            D(2021, 6, 4),
            "01",
            "记者/胡文洁",
            "株洲日报·掌上株洲讯",
            None,
        ),
        (
            "article",
            None,
            "曹慧泉与长江环保集团董事长赵峰一行座谈",
            None,
            "株洲日报",
            D(2021, 6, 4),
            "01",
            "记者/罗欣",
            "株洲日报·掌上株洲讯",
            None,
        ),
        (
            "article",
            None,
            "激浊扬清的“淥口担当”",
            "——“淥口发展这五年”系列报道·政治生态篇",
            "株洲日报",
            D(2021, 6, 4),
            "01",
            "株洲日报·掌上株洲记者/邰怡敏 通讯员/朱刚 田富",
            None,
            None,
        ),
        (
            "article",
            None,
            "第四届全国网络媒体看株洲大型采访活动启动 50余家网媒“大咖”感受株洲范",
            None,
            "株洲日报",
            D(2021, 6, 4),
            "01",
            "记者/罗欣",
            "株洲日报·掌上株洲讯",
            None,
        ),
        (
            "article",
            "奋斗百年路 启航新征程 学党史 悟思想 办实事 开新局",
            "看芦淞区如何绘制“三张图” 下好“一盘棋”",
            None,
            "株洲日报",
            D(2021, 6, 4),
            "01",
            "株洲日报·掌上株洲记者/杨凌凌 通讯员/罗金鹏",
            None,
            None,
        ),
    ],
    # 衡阳日报 front page, 2021-10-29: a photo standing alone between two
    # stories, a commentary, a story continued on page 6, a public-service ad.
    "004": [
        (
            "article",
            None,
            "加强两地交流合作 携手互促联动发展",
            "秦国文率队赴苏州考察学习 吴庆文会见",
            "衡阳日报",
            D(2021, 10, 29),
            "01",
            "记者 彭斌",
            "本报讯",
            None,
        ),
        (
            "article",
            None,
            "一张蓝图绘到底 一棒接着一棒干 推动城市治理体系和治理能力现代化",
            "衡阳市城市治理专题研讨会暨“船山论坛(第51期)”举行 朱健出席并讲话",
            "衡阳日报",
            D(2021, 10, 29),
            "01",
            "记者 罗文鹏",
            "本报讯",
            None,
        ),
        (
            "photo",
            None,
            "高新区柘里渡小学组织3至11岁学生在老师的陪护下进行新冠疫苗集中接种,接种现场…",
            None,
            "衡阳日报",
            D(2021, 10, 29),
            "01",
            "见习记者 王皓永 摄",
            None,
            None,
        ),
        (
            "article",
            None,
            "一以贯之坚持全面从严治党",
            None,
            "衡阳日报",
            D(2021, 10, 29),
            "01",
            "本报评论员",
            None,
            None,
        ),
        (
            "article",
            None,
            "强化中心意识 做好集聚文章 打造城区品质提升的典范",
            "朱健到石鼓区专题调度“五好”园区建设、“投资促进”工作 推进“三强一化”建设现代化新衡阳 "
            "——全面贯彻市第十二次党代会精神",
            "衡阳日报",
            D(2021, 10, 29),
            "01",
            "记者 罗文鹏",
            "本报讯",
            None,
        ),
        (
            "article",
            None,
            "精准发力绘就乡村振兴美好图景",
            "农村基层工作者和农民群众积极为即将召开的省第十二次党代会建言献策",
            "衡阳日报",
            D(2021, 10, 29),
            "01",
            "记者 许珂",
            "本报讯",
            None,
        ),
        (
            "article",
            "蒸湘区中平村:",
            "“规”出乡村新面貌 “约”出社会新风尚",
            None,
            "衡阳日报",
            D(2021, 10, 29),
            "01",
            "本报记者 邹红辉",
            None,
            "下转第六版",
        ),
        (
            "ad",
            None,
            "工伤预防★三年行动",
            None,
            "衡阳日报",
            D(2021, 10, 29),
            "01",
            None,
            None,
            None,
        ),
    ],
}


def _shape(a: Article) -> tuple[object, ...]:
    return (a.kind, a.kicker, a.headline, a.subtitle, a.newspaper, a.date, a.page,
            a.byline, a.dateline, a.continued)  # fmt: skip


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_seed_page_splits_as_a_reader_sees_it(name: str) -> None:
    got = [_shape(a) for a in split_seed(name)]
    assert got == EXPECTED[name]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_articles_are_numbered_in_page_order(name: str) -> None:
    assert [a.index for a in split_seed(name)] == list(range(len(EXPECTED[name])))


def _bodies() -> str:
    return "\n".join(a.body for name in EXPECTED for a in split_seed(name))


@pytest.mark.parametrize(
    "joined",
    [
        "坚守初心，同舟共济",  # 003: "坚" / "守初心" across a column break
        "考察湖南重要讲话精神",  # 004
        "坚持高标准定位",  # 004
        "国投集团提出了相关合作请求",  # 003: short line ending mid-word
        "株洲青少年和共青团各项工作",  # 003: short line ending with 和
        "使命“两个驱动”",  # 004: short line with 、
        "全面推动城市治理体系和治理能力现代化。",  # 004: three broken lines
        "小区配套设施一应俱全",  # 004: 配/套 split, decided by the dictionary
        "有禁必止!",  # 004
        "观念互通、作风互鉴",  # 000
        "临一云川高空风能",  # 000
        "置换盘活存量资源，牢牢守住",  # 000
    ],
)
def test_paragraphs_broken_mid_sentence_are_rejoined(joined: str) -> None:
    assert joined in _bodies()


@pytest.mark.parametrize(
    "subheading",
    [
        "打造长江经济带最具增长潜力的都市圈",  # 003 sub-headings inside a story
        "逐步构建连通三市的地铁环线网",
        "树立鲜明导向，锻造忠诚干净担当的队伍",
        "学“史”明志，绘制一张“学习图”",
        "全省城市更新领域预计带动投资约1万亿元",  # 000 "### …" inside a story
        "在133个重点更新片区中，长沙市占据49个",
        "湘赣一家亲，今朝情更浓",  # 002 "## …" before the story's byline
        "时间表",  # 001
        "稳经济一揽子政策落地实施",
    ],
)
def test_sub_headings_stay_inside_their_story_on_a_line_of_their_own(subheading: str) -> None:
    assert f"\n{subheading}\n" in _bodies()


def test_furniture_and_share_text_are_not_in_any_article() -> None:
    text = _bodies() + "".join(a.headline for n in EXPECTED for a in split_seed(n))
    for junk in ("扫码看本报", "分享到微信朋友圈", "相关稿件", "第22623期", "今日八版",
                 "新闻热线", "城区天气", "编辑/熊佩凤", "图片·新闻", "作者:周帙恒"):  # fmt: skip
        assert junk not in text


def test_the_photo_caption_is_not_glued_to_the_story_before_it() -> None:
    arts = split_seed("004")
    assert "新冠疫苗" not in arts[1].body
    assert arts[2].body.startswith("10月28日,高新区柘里渡小学")
    assert arts[1].body.endswith("市领导刘丽华、段志刚、黄立、伍清明、朱春光参加。")


def test_captions_between_headline_and_lead_belong_to_their_story() -> None:
    art = split_seed("003")[7]
    assert art.captions == ("网媒“大咖”聚焦株洲轨道交通产业。株洲日报·掌上株洲记者/谢妙妮 摄",)
    assert art.body.startswith("6月3日，第四届全国网络媒体看株洲大型采访活动启动。")


def test_web_page_captions_are_kept_apart_from_the_text() -> None:
    art = split_seed("001")[0]
    assert len(art.captions) == 5
    assert all(c.endswith("摄") for c in art.captions)
    assert "唐俊 摄" not in art.body
    assert art.section == "湖南要闻"


def test_dateline_gives_the_event_day_with_the_year_of_the_masthead() -> None:
    arts = split_seed("004")
    assert arts[1].event_date == D(2021, 10, 28)
    assert split_seed("002")[3].event_date == D(2021, 5, 7)
    assert split_seed("003")[0].event_date == D(2021, 6, 3)  # "新华社电 6月3日，"


def test_body_starts_after_the_dateline_and_byline() -> None:
    art = split_seed("004")[0]
    assert art.body.startswith("立足新发展阶段、贯彻新发展理念")
    assert art.lead.startswith("立足新发展阶段") and len(art.lead) == 100


# --- rules on small pages ---------------------------------------------------


def test_masthead_date_must_agree_with_its_weekday() -> None:
    page = dedent("""
        株洲日报
        2021年6月

        4

        星期六

        头条新闻标题

        本报讯（记者 张三） 今天，一件事发生了。这是正文。
    """)
    (art,) = split_page(page)
    assert art.date is None  # 2021-06-04 was a Friday: the masthead is misread


def test_markdown_items_split_one_per_block_and_the_summary_is_not_an_article() -> None:
    page = dedent("""
        # 《新闻联播》（20220101）

        ## 新闻摘要

        1.第一条新闻；

        2.第二条新闻；

        3.第三条新闻；

        ## 详细新闻

        ### 第一条新闻

        **央视网消息**（新闻联播）：第一条的正文。

        ### 第二条新闻

        第二条的正文，没有电头。

        **小标题不是新文章**

        还是第二条。

        ### 第三条新闻

        第三条的正文。
    """)
    arts = split_page(page)
    assert [a.headline for a in arts] == ["第一条新闻", "第二条新闻", "第三条新闻"]
    assert {a.newspaper for a in arts} == {"新闻联播"}
    assert {a.date for a in arts} == {D(2022, 1, 1)}
    assert arts[0].body == "第一条的正文。"
    assert arts[0].dateline == "央视网消息（新闻联播）"
    assert "还是第二条。" in arts[1].body


def test_a_page_without_any_structure_is_one_article() -> None:
    page = "一个标题\n\n第一段正文。\n\n第二段正文。\n"
    (art,) = split_page(page)
    assert art.headline == "一个标题"
    assert art.body == "第一段正文。\n第二段正文。"


def test_empty_page_has_no_articles() -> None:
    assert split_page("") == []
    assert split_page("\n\n  \n") == []


def test_continuation_marker_closes_the_story() -> None:
    page = dedent("""
        标题一

        本报讯（记者 甲） 正文开始，未完。(下转第六版)

        标题二

        本报讯（记者 乙） 另一篇正文。
    """)
    a, b = split_page(page)
    assert a.continued == "下转第六版"
    assert a.body == "正文开始，未完。"
    assert b.continued is None and b.headline == "标题二"


def test_a_dateline_year_is_never_in_the_future() -> None:
    page = "标题\n\n本报12月30日讯 正文。\n"
    (art,) = split_page(page, today=D(2027, 1, 2))
    assert art.event_date == D(2026, 12, 30)
    (art,) = split_page(page)  # no page date and no today: the year is unknown
    assert art.event_date is None and art.date is None


def test_sentences_that_merely_contain_news_words_are_not_datelines() -> None:
    page = dedent("""
        标题

        本报讯 正文第一段。

        据哈萨克斯坦总统网站发布的消息，局势稳定。

        我国首座潮光互补型电站并网发电
    """)
    (art,) = split_page(page)
    assert "据哈萨克斯坦总统网站发布的消息" in art.body


def test_html_reader_output_splits_like_markdown(tmp_path: Path) -> None:
    from watcher.readers import read_bytes

    html = (
        "<html><body><nav>首页 &gt; 新闻</nav><article><h1>网页标题</h1>"
        "<p>本报讯（记者 王五） 网页正文第一段。</p><p>第二段。</p></article>"
        "<footer>版权所有</footer></body></html>"
    ).encode()
    text = read_bytes(tmp_path / "x.html", html)
    (art,) = split_page(text.text)
    assert art.headline == "网页标题"
    assert art.byline == "记者 王五"
    assert art.body == "网页正文第一段。\n第二段。"


# --- headline precedence (pages._headline) ------------------------------------

LEAD = "本报讯（记者 张三） 今天，一件事发生了。第二句。"


@pytest.mark.parametrize("markup", ["plain", "markdown"])
def test_a_heading_wins_over_the_short_lines_around_it(markup: str) -> None:
    page = f"引题一行\n\n# 主标题\n\n副标题一行\n\n{LEAD}\n"
    (art,) = split_page(page, markup=markup)
    assert (art.kicker, art.headline, art.subtitle) == ("引题一行", "主标题", "副标题一行")


def test_a_bold_repeat_of_the_heading_is_not_its_subtitle() -> None:
    (art,) = split_page(f"# 主标题\n\n**主标题**\n\n{LEAD}\n", markup="markdown")
    assert (art.kicker, art.headline, art.subtitle) == (None, "主标题", None)


def test_the_headline_block_wins_over_the_first_sentence() -> None:
    (art,) = split_page(f"省委召开常委会议：\n主标题\n副标题\n\n{LEAD}\n")
    assert (art.kicker, art.headline, art.subtitle) == ("省委召开常委会议：", "主标题", "副标题")
    assert art.body == "今天，一件事发生了。第二句。"


def test_without_a_headline_block_the_first_sentence_is_the_headline() -> None:
    (art,) = split_page(f"{LEAD}\n")
    assert (art.kicker, art.headline, art.subtitle) == (None, "今天，一件事发生了", None)


def test_orphan_short_lines_are_headed_by_their_first_line() -> None:
    page = f"主标题\n\n{LEAD}\n\n■记者 张三\n\n招聘启事\n\n诚聘销售人员若干名\n"
    story, ad = split_page(page)
    assert story.headline == "主标题"
    assert (ad.kind, ad.headline, ad.body) == ("ad", "招聘启事", "诚聘销售人员若干名")


def test_orphan_text_is_headed_by_its_first_sentence_without_the_day() -> None:
    page = f"主标题\n\n{LEAD}\n\n■记者 张三\n\n6月3日，市民在公园里散步。天气晴好。\n"
    _, item = split_page(page)
    assert (item.kind, item.kicker, item.headline) == ("article", None, "市民在公园里散步")
    assert item.body == "6月3日，市民在公园里散步。天气晴好。"


def test_a_long_first_sentence_is_cut_to_forty_characters() -> None:
    sentence = "这是一个非常长的句子" * 5
    (art,) = split_page(f"本报讯（记者 张三） {sentence}。\n")
    assert art.headline == sentence[:39] + "…"


def test_the_precedence_ladder_from_heading_to_nothing() -> None:
    from watcher.pages import Draft, Line, _headline

    d = Draft(
        head=[Line("引题："), Line("主题")], heading=Line("标题", level=1), sub=[Line("副题")]
    )
    assert _headline(d, "正文第一句。") == ("引题： 主题", "标题", "副题")
    d.heading, d.sub = None, []  # a block without a heading: _split_head picks its headline
    assert _headline(d, "正文第一句。") == ("引题：", "主题", None)
    d.head = []
    assert _headline(d, "正文第一句。第二句。") == (None, "正文第一句", None)
    assert _headline(d, "") is None


def test_text_with_no_headline_is_one_article_headed_by_its_first_sentence() -> None:
    text = "这是第一句话。" + "后面的内容很长，" * 30 + "完。"
    [art] = split_page(text)
    assert art.headline == "这是第一句话"
    assert art.body == text and art.kind == "article"
    # One long line with no sentence end: the headline is cut at 40 characters.
    [long] = split_page("字" * 300)
    assert long.headline == "字" * 39 + "…" and long.body == "字" * 300


def test_a_huge_single_line_page_is_kept() -> None:
    text = "安全生产检查，" * 150_000  # about 1 MB on one line
    [art] = split_page(text)
    assert len(art.body) == len(text) and art.headline.startswith("安全生产检查")


# --- layouts other tools make -----------------------------------------------------------

LABELLED = """\
三湘都市报
2021年5月8日 星期六
{label}
江西·湖南两省合作发展交流座谈会在南昌举行
乘势而上，不断开创省际合作新局面
本报讯（记者 张三） 5月6日至7日，湖南省党政代表团赴江西省考察学习。
"""


@pytest.mark.parametrize(
    ("label", "page", "section"),
    [
        ("第A02版：要闻", "A02", "要闻"),
        ("A02版：要闻", "A02", "要闻"),
        ("A02 要闻", "A02", "要闻"),
        ("第3版", "3", None),
    ],
)
def test_a_page_label_after_the_date_is_a_page_fact_not_a_headline(
    label: str, page: str, section: str | None
) -> None:
    (art,) = split_page(LABELLED.format(label=label))
    assert (art.headline, art.newspaper, art.page, art.section) == (
        "乘势而上，不断开创省际合作新局面",
        "三湘都市报",
        page,
        section,
    )


def test_a_page_label_on_the_date_line_or_a_masthead_in_a_table_row() -> None:
    for masthead in (
        "三湘都市报\n2021年5月8日 星期六 第A02版：要闻",
        "三湘都市报 | 2021年5月8日 | A02 要闻",
    ):
        text = LABELLED.replace("三湘都市报\n2021年5月8日 星期六\n{label}", masthead)
        (art,) = split_page(text)
        assert (art.newspaper, art.date, art.page) == ("三湘都市报", D(2021, 5, 8), "A02")


def test_a_masthead_in_heading_styles_gives_page_facts_not_articles() -> None:
    text = dedent("""
        # 衡阳日报

        ## 2021年10月29日 星期五

        # 衡阳日报社

        # 加强两地交流合作

        本报讯 (记者 彭斌) 10月27日至28日，市委书记秦国文率队赴苏州考察学习。
    """)
    (art,) = split_page(text, markup="markdown")
    assert (art.headline, art.newspaper, art.date) == (
        "加强两地交流合作",
        "衡阳日报",
        D(2021, 10, 29),
    )


def test_prose_and_a_byline_in_heading_styles_are_read_by_their_shape() -> None:
    text = dedent("""
        # 加强两地交流合作

        本报讯 (记者 彭斌) 10月27日至28日，市委书记秦国文率队赴苏州考察学习。

        # 在27日晚的会见中，吴庆文代表苏州市委、市政府对衡阳市考察团的到来表示欢迎，并简要介绍了苏州经济社会发展情况。

        ## ■湖南日报全媒体记者 刘燕娟
    """)
    (art,) = split_page(text, markup="markdown")
    assert art.headline == "加强两地交流合作"
    assert art.body.endswith("介绍了苏州经济社会发展情况。")
    assert art.byline == "记者 彭斌; 湖南日报全媒体记者 刘燕娟"


def test_the_masthead_wins_over_a_dateline_naming_another_paper() -> None:
    text = (
        LABELLED.replace("{label}\n", "")
        .replace("本报讯（记者 张三）", "株洲日报·掌上株洲讯(记者/廖喜张)")
        .replace("三湘都市报\n", "湖南日报\n")
    )
    (art,) = split_page(text)
    assert (art.newspaper, art.dateline) == ("湖南日报", "株洲日报·掌上株洲讯")
    # The other paper is the story's source, for reprint attribution.
    assert reprint_source(art.dateline, art.newspaper) == "株洲日报"
    assert reprint_source("本报讯", "湖南日报") is None
    assert reprint_source("湖南日报5月7日讯", "湖南日报") is None


def test_a_dateline_naming_another_paper_is_the_source_not_the_paper() -> None:
    page = dedent(
        """
        湖南日报
        2026年6月17日 星期三
        第A03版：要闻

        # 株洲加快建设现代化产业体系

        株洲日报·掌上株洲讯（记者 李明）6月16日，株洲市召开推进会，部署现代化产业体系建设工作，
        一批产业项目开工建设。会议强调要抓好项目落实。
        """
    )
    [art] = split_page(page, markup="markdown")
    assert (art.newspaper, art.date, art.page) == ("湖南日报", dt.date(2026, 6, 17), "A03")
    assert (art.source, art.dateline) == ("株洲日报", "株洲日报·掌上株洲讯")

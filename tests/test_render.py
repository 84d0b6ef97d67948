"""Rendering a digest: golden files, untrusted text, chat splitting, the archive.

The fixture digest is built by hand from the seed pages: headlines, bylines,
snippets, hit ranges and bodies are what the splitter and matcher produce for
them (``seeds/000…`` 安全生产/城市更新, ``002…`` and ``004…`` 乡村振兴, ``003…``
招商引资). Set ``WATCHER_UPDATE_GOLDEN=1`` to rewrite ``tests/golden/``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import difflib
import json
import os
import re
import warnings
from pathlib import Path

import pytest

from watcher.archive import TopicDay, relative, write_archive
from watcher.deliveries import SERVICES
from watcher.display import change, md_escape, segments, spark, text_width, wrap
from watcher.models import Digest, DigestItem, DigestStats, TopicSection
from watcher.render import TEMPLATES, EmailParts, Renderer

CHAT_SERVICES = tuple(SERVICES)
CHAT_LIMITS = {kind: service.limit for kind, service in SERVICES.items()}

GOLDEN = Path(__file__).resolve().parent / "golden"
UPDATE = os.environ.get("WATCHER_UPDATE_GOLDEN") == "1"
BASE_URL = "https://reports.example.org/watcher"
TZ = dt.timezone(dt.timedelta(hours=8))
DAY = dt.date(2026, 11, 21)

SAFETY_BODY = (
    "17日，省委副书记、省长毛伟明在湘潭市暗访检查化工企业和非煤矿山安全生产工作。他强调，要深入贯彻习近平总书记关于安全生产的重要论述，坚持人民至上、生命至上，加强穿透式全过程监管，强化全链条闭环式整改，持续推动风险隐患动态清零，坚决打好安全生产翻身仗，保障人民群众生命财产安全和社会大局稳定。\n"
    "副省长王一鸥，省政府秘书长王卫安参加。危险化学品安全是安全生产的重中之重。毛伟明一行先后来到兴湘氟化工和奕嘉新材料公司，抽查人员进出登记台账，深入企业车间一线，现场察看重大危险源管控、应急处置预案等措施落实情况。暗访检查发现，兴湘氟化工公司存在设备陈旧锈蚀严重、装置设置不符合规范要求等问题，奕嘉新材料公司存在人员特殊作业防护不到位、风险防范措施未落实等问题。毛伟明逐项交办隐患问题并强调，安全生产“一失万无”，须臾不可放松。要始终把安全和环保放在首位，从严落实企业主体责任，强化一线操作人员安全培训，抓紧老旧装置更新改造和生产工艺优化升级，加快推动置换盘活存量资源，牢牢守住安全底线，向高端化、智能化、绿色化方向迈进。\n"
    "在湘乡白云石矿，毛伟明一行直奔作业现场、直查关键点位，现场指出运输道路坡度设计不符合规范、边坡防护设施缺失、风险警示标识不到位等问题。毛伟明强调，要常态化运用“人防+技防”手段，持续提升露天矿山钻、爆、挖、运、破等环节的机械化、自动化水平，保障好夏季高温作业人员健康安全。\n"
    "检查中，毛伟明强调，要推进“超常规”排查整治。按照“有力度、有深度、有成效”的总要求，深入开展安全生产风险隐患大排查大整治，全面落实“三查一曝光两闭环”举措，确保风险隐患“清仓见底、动态清零”。要落实“不一样”监管执法，严格落实打非治违“四个一律”刚性要求，加强全过程监管执法，坚决杜绝“以罚代管”，全面强化“行刑衔接”，强化穿透式追溯追查，全面推广安全生产“吹哨人”制度，完善群众举报奖励机制。要强化“全链条”责任落实，严格落实属地管理责任、部门监管责任和企业主体责任，特别是要把企业实际控制人、最终受益人、幕后操控人责任真正压实到位；建立健全各级领导包保机制，健全全员安全生产责任制，做到“人人讲安全、个个会应急”。"
)
SAFETY_BODY_MARKS = (
    (19, 23), (28, 36), (56, 60), (97, 99), (104, 108), (117, 121), (165, 170), (173, 177),
    (252, 256), (333, 335), (341, 345), (594, 596), (612, 616), (641, 649), (650, 652),
    (653, 655), (675, 679), (701, 703), (730, 732), (769, 773), (880, 884),
)  # fmt: skip
RURAL_BODY = (
    "备受关注的湖南省第十二次党代会即将召开,围绕全面推进乡村振兴战略、促进农业稳定发展和农民增收、补齐农村基础设施建设短板等话题,我市广大农村基层工作者和农民群众纷纷建言献策。\n"
    "“乡村振兴就是要让百姓更有幸福感和获得感,让村庄更美、产业更旺、村民更富。我相信,省第十二次党代会将带领广大农民群众迈向更加美好的未来。”在农村一线工作多年的市农业技术服务中心专家廖晓君建议,要抢抓发展机遇,精准发力,积极发展集约化、设施化、高投入、高产出、多功能的都市型农业;依托当地农业金字招牌、国家农产品地标品牌,积极发展县域特色种植;依托当地生态屏障,发挥自然资源优势,积极发展县域特色养殖,鼓励适宜地区发展高山养殖、林下养殖、稻田养殖;立足农民增收,合理布局农村特色产业,力争成片打造、整体推进,积极拓展农业功能,大力发展休闲观光农业。\n"
    "半山腰的易地扶贫搬迁安置房宽敞明亮,小区配套设施一应俱全……近年来,耒阳市长坪乡潭湖村发生了翻天覆地的变化。村党支部书记王小珉坦言,这一切得益于脱贫攻坚和乡村振兴的完美接力。他给省党代会建言,加强农村基层党组织建设,大力引进人才,积极做好培育乡土人才、致富带头人和新型职业农民工作,发挥好他们在乡村振兴中的带动作用;要积极探索村级集体经济经济发展路径,通过因地制宜发展特色产业,不断壮大村集体产业,增加村集体收入,让村民不断享受发展的红利。\n"
    "“在充满机遇的新时代背景下,即将召开的省第十二次党代会令人瞩目。”衡东县兴旺农作物种植专业合作社负责人刘文涛对乡村振兴充满信心。他期待省里能出台更多更好的政策措施,让农业成为有奔头的产业,以产业振兴带动乡村振兴。建议因地制宜制定产业发展规划,进一步优化产业布局和主导产业,打造“一村一品”的发展格局;加大对新型经营主体在资金项目、金融保险、用地用电等方面的政策支持力度,推进企业和农民合作社,引导农户与新型经营主体间加强合作,提升生产经营组织化程度,壮大产业发展规模。"
)
RURAL_BODY_MARKS = (
    (26, 30), (88, 92), (433, 437), (438, 442), (508, 512), (637, 641), (677, 681), (683, 687),
)  # fmt: skip

URBAN_HEADLINE = (
    "133大片区、2478个项目！ 湖南城市更新资源(项目)集中发布 全省城市更新领域 预计带动投资万亿元"
)
URBAN_SNIPPET = "据了解，省博物馆及周边地区老旧片区更新改造集中示范区总投资达24亿元，其中湘见·东风路文化街区将重点推进妇女儿童中心低效楼宇改造利用、烈士公园西南界面环境提升、省体育局低效用地改造、体育馆路慢行系统优化、抱树巷商业街更新改造等项目。"


def avg7(trend: tuple[int, ...]) -> float:
    """Mean of the 7 days before today, as the digest builder computes it."""
    return sum(trend[-8:-1]) / 7


def section(
    id: str,
    name: str,
    description: str,
    items: tuple[DigestItem, ...],
    trend: tuple[int, ...],
    more: int = 0,
) -> TopicSection:
    return TopicSection(
        id=id,
        name=name,
        description=description,
        items=items,
        more=more,
        count=trend[-1],
        average=avg7(trend),
        trend=trend,
    )


def seed_digest() -> Digest:
    """The digest of 2026-11-21 over the seed pages, with every feature in use."""
    safety = DigestItem(
        key="a9c89bb65670a872-3",
        headline="毛伟明在湘潭暗访检查安全生产工作 穿透式监管 闭环式整改 持续推动风险隐患动态清零",
        kicker=None,
        newspaper="三湘都市报",
        date=None,
        page=None,
        byline="湖南日报全媒体记者 孙敏坚",
        file="000_a9c89bb65670a872.txt",
        score=25.11,
        terms=(
            ("安全生产", 9),
            ("风险隐患", 4),
            ("危险化学品", 1),
            ("非煤矿山", 1),
            ("检查", 4),
            ("暗访", 3),
            ("执法", 2),
            ("整治", 2),
            ("排查", 2),
            ("整改", 2),
            ("隐患", 1),
        ),
        why="(安全生产 OR 风险隐患 OR 危险化学品 OR 非煤矿山 OR 煤矿) AND (检查 OR 暗访 OR 执法 OR 整治 OR 排查 OR 整改 OR 隐患)",
        snippet="按照“有力度、有深度、有成效”的总要求，深入开展安全生产风险隐患大排查大整治，全面落实“三查一曝光两闭环”举措，确保风险隐患“清仓见底、动态清零”。",
        marks=((24, 32), (33, 35), (36, 38), (58, 62)),
        also_in=("株洲日报 A01", "衡阳日报 A02"),
        body=SAFETY_BODY,
        body_marks=SAFETY_BODY_MARKS,
    )
    urban = DigestItem(
        key="a9c89bb65670a872-2",
        headline=URBAN_HEADLINE,
        kicker=None,
        newspaper="三湘都市报",
        date=None,
        page=None,
        byline="全媒体记者 卜岚 通讯员 曹馨誉",
        file="000_a9c89bb65670a872.txt",
        score=16.62,
        terms=(
            ("城市更新", 6),
            ("老旧小区改造", 2),
            ("城中村整治", 2),
            ("历史文化街区", 2),
            ("老旧片区", 1),
            ("低效用地", 1),
            ("低效楼宇", 1),
            ("工业遗存", 2),
        ),
        why="城市更新 OR 老旧小区改造 OR 老旧小区 OR 城中村整治 OR 城中村 OR 历史文化街区 OR 老旧片区 OR 低效用地 OR 低效楼宇 OR 工业遗存",
        snippet=URBAN_SNIPPET,
        marks=((13, 17), (58, 62), (84, 88)),
        other_topics=("招商引资与重大项目",),
    )
    urban_invest = dataclasses.replace(
        urban,
        score=15.19,
        terms=(("投资", 6), ("总投资", 4), ("项目", 14), ("产业", 5), ("亿元", 8)),
        why="(投资 OR 总投资) AND (项目 OR 产业 OR 亿元)",
        snippet="记者从会上了解到，本次湖南集中推出133个重点更新片区、2478个近期实施项目，项目总投资达2215亿元，涉及老旧小区改造、城中村整治、历史文脉保护、城市基建升级等民生及产业领域。",
        marks=((37, 39), (40, 45), (50, 52), (85, 87)),
        other_topics=("城市更新",),
    )
    bank = DigestItem(
        key="d65d7219c5d4165d-4",
        headline="我市与国开行湖南省分行签订战略合作框架协议",
        kicker="曹慧泉阳卫国与袁建良座谈并见证签约",
        newspaper="株洲日报",
        date=dt.date(2021, 6, 4),
        page="01",
        byline="记者/胡文洁",
        file="003_d65d7219c5d4165d.txt",
        score=17.61,
        terms=(
            ("签约", 1),
            ("战略合作", 3),
            ("框架协议", 3),
            ("融资", 2),
            ("项目", 3),
            ("产业", 2),
            ("园区", 1),
            ("企业", 3),
            ("亿元", 1),
        ),
        why="(签约 OR 战略合作 OR 框架协议 OR 融资) AND (项目 OR 产业 OR 园区 OR 企业 OR 亿元)",
        snippet="国开行湖南省分行将全面加强在株洲在城市更新、产业发展、园区升级、民生项目等方面的对接合作，助力株洲经济社会高质量发展。希望株洲一如既往地关心支持分行在株业务开展及项目建设。",
        marks=((22, 24), (27, 29), (34, 36), (81, 83)),
    )
    village = DigestItem(
        key="bacc19f7ba9f701f-3",
        headline="严把“四关”，让驻村干部“驻”村更“助”村 湖南选派2.4万名干部 接续奋战乡村振兴",
        kicker=None,
        newspaper="三湘都市报",
        date=dt.date(2021, 5, 8),
        page="A02",
        byline="记者 李成辉",
        file="002_bacc19f7ba9f701f.txt",
        score=18.26,
        terms=(
            ("乡村振兴", 4),
            ("乡村全面振兴", 1),
            ("驻村", 16),
            ("驻村帮扶", 2),
            ("第一书记", 2),
            ("脱贫攻坚", 3),
            ("巩固拓展脱贫攻坚成果", 2),
        ),
        why="乡村振兴 OR 乡村全面振兴 OR 驻村 OR 驻村帮扶 OR 第一书记 OR 脱贫攻坚 OR 巩固拓展脱贫攻坚成果",
        snippet="根据党中央关于建立常态化驻村工作机制的部署安排，在取得脱贫攻坚全面胜利后，我省继续选派24021名机关企事业单位干部组成10253支工作队开展驻村帮扶工作。",
        marks=((12, 14), (27, 31), (71, 75)),
    )
    hengyang = DigestItem(
        key="788e42c87815a943-5",
        headline="精准发力绘就乡村振兴美好图景",
        kicker=None,
        newspaper="衡阳日报",
        date=dt.date(2021, 10, 29),
        page="01",
        byline="记者 许珂",
        file="004_788e42c87815a943.txt",
        score=8.0,
        terms=(("乡村振兴", 7), ("脱贫攻坚", 1), ("产业振兴", 1)),
        why="乡村振兴 OR 脱贫攻坚 OR 产业振兴",
        snippet="村党支部书记王小珉坦言,这一切得益于脱贫攻坚和乡村振兴的完美接力。他给省党代会建言,加强农村基层党组织建设,大力引进人才,积极做好培育乡土人才、致富带头人和新型职业农民工作,发挥好他们在乡村振兴中的带动作用;",
        marks=((18, 22), (23, 27), (93, 97)),
        body=RURAL_BODY,
        body_marks=RURAL_BODY_MARKS,
    )
    return Digest(
        day=DAY,
        timezone="Asia/Shanghai",
        produced_at=dt.datetime(2026, 11, 21, 7, 30, tzinfo=TZ),
        since=dt.datetime(2026, 11, 20, 7, 30, tzinfo=TZ),
        sections=(
            section(
                "safety",
                "安全生产检查",
                "暗访检查、隐患排查整治、执法问责、事故通报",
                (safety,),
                (0, 1, 0, 0, 2, 1, 0, 0, 1, 0, 0, 2, 0, 1),
            ),
            section(
                "urban-renewal",
                "城市更新",
                "城市更新项目、老旧小区改造、城中村改造、历史街区保护与片区开发",
                (urban,),
                (3, 5, 4, 8, 6, 2, 7, 9, 5, 6, 4, 8, 5, 15),
                more=14,
            ),
            section(
                "flood",
                "防汛抗洪",
                "汛期部署、强降雨应对、堤防巡查、抢险救灾",
                (),
                (2, 4, 1, 0, 0, 3, 1, 0, 0, 1, 0, 0, 0, 0),
            ),
            section(
                "rural",
                "乡村振兴",
                "乡村振兴战略、驻村帮扶、巩固拓展脱贫攻坚成果、农业农村现代化",
                (village, hengyang),
                (1, 2, 3, 2, 1, 2, 2, 1, 2, 3, 2, 2, 2, 2),
            ),
            section(
                "investment",
                "招商引资与重大项目",
                "招商引资、项目签约、重大项目和产业项目建设、战略合作与融资",
                (bank, urban_invest),
                (4, 3, 5, 2, 4, 6, 3, 4, 2, 5, 3, 4, 6, 2),
            ),
        ),
        stats=DigestStats(
            documents=5,
            articles=26,
            failures=(
                ("inbox/2026-11-21/衡阳日报_A03.pdf", "unsupported file type .pdf"),
                ("inbox/2026-11-21/株洲日报_A05.txt", "empty file"),
            ),
        ),
        notices=(
            "已有 2 天没有新文档进入收件箱（最后一份：2026-11-19 06:12）",
            "watchlists/05-investment.yaml:9: boost 中的“融资”不在 query 里，未生效",
        ),
    )


def seed_days() -> list[tuple[dt.date, dict[str, int]]]:
    d = seed_digest()
    return [
        (
            dt.date(2026, 11, 19),
            {"安全生产检查": 0, "城市更新": 5, "乡村振兴": 2, "招商引资与重大项目": 6},
        ),
        (DAY, {s.name: s.count for s in d.sections}),
        (dt.date(2026, 11, 20), {"安全生产检查": 0, "城市更新": 0, "乡村振兴": 0}),
    ]


def hostile_digest() -> Digest:
    """Document text that tries HTML, template and Markdown injection."""
    evil = "<script>alert(1)</script> {{ 7*7 }} {% if %} </table> &amp; [x](javascript:alert(1)) **b** \x1b[31m"
    base = seed_digest()
    item = dataclasses.replace(
        base.sections[0].items[0],
        key="evil-1",
        headline="安全生产 " + evil,
        kicker=evil,
        byline=evil,
        newspaper=evil,
        snippet="安全生产 " + evil,
        marks=((0, 4), (10, 16)),
        body="安全生产\n" + evil + "\n" + evil,
        body_marks=((0, 4), (5, 13)),
        also_in=(evil,),
        other_topics=(evil,),
        why=evil,
        terms=((evil, 2),),
        file="inbox/" + evil + ".txt",
    )
    sec = dataclasses.replace(base.sections[0], items=(item,), description=evil)
    return dataclasses.replace(
        base,
        sections=(sec,),
        notices=(evil,),
        stats=dataclasses.replace(base.stats, failures=((evil, evil),)),
    )


# ------------------------------------------------------------------- golden files


def check_golden(name: str, actual: str) -> None:
    path = GOLDEN / name
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(actual.encode("utf-8"))
        warnings.warn(f"golden file regenerated: tests/golden/{name}", stacklevel=2)
        return
    assert path.exists(), f"tests/golden/{name} is missing; run with WATCHER_UPDATE_GOLDEN=1"
    expected = path.read_bytes().decode("utf-8")
    if actual != expected:
        diff = "\n".join(
            list(
                difflib.unified_diff(
                    expected.splitlines(), actual.splitlines(), "golden", "actual", lineterm=""
                )
            )[:80]
        )
        pytest.fail(
            f"{name} differs from tests/golden/{name} "
            f"(WATCHER_UPDATE_GOLDEN=1 rewrites it if the change is intended):\n{diff}"
        )


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer(base_url=BASE_URL)


def test_golden_email(renderer: Renderer) -> None:
    parts = renderer.email(seed_digest())
    assert isinstance(parts, EmailParts)
    assert parts.subject == seed_digest().subject
    check_golden("email.html", parts.html)
    check_golden("email.txt", parts.text)


def test_golden_page_markdown_json(renderer: Renderer) -> None:
    d = seed_digest()
    check_golden("page.html", renderer.page(d))
    check_golden("digest.md", renderer.markdown(d))
    check_golden("digest.json", renderer.json(d))


def test_golden_article_and_index(renderer: Renderer) -> None:
    d = seed_digest()
    check_golden("article.html", renderer.article(d, d.sections[0].items[0]))
    check_golden("index.html", renderer.index(seed_days()))


@pytest.mark.parametrize("service", CHAT_SERVICES)
def test_golden_chat(renderer: Renderer, service: str) -> None:
    messages = renderer.chat(seed_digest(), service, limit=CHAT_LIMITS[service])
    assert all(len(m.encode("utf-8")) <= CHAT_LIMITS[service] for m in messages)
    n = len(messages)
    check_golden(
        f"chat-{service}.txt",
        "".join(f"===== message {k}/{n} =====\n{m}\n" for k, m in enumerate(messages, 1)),
    )


# ---------------------------------------------------------------- what it shows


def test_email_shows_everything(renderer: Renderer) -> None:
    d = seed_digest()
    html = renderer.email(d).html
    text = renderer.email(d).text
    for out in (html, text):
        assert "2026年11月21日 星期六" in out
        assert "毛伟明在湘潭暗访检查安全生产工作" in out
        assert "株洲日报 A01、衡阳日报 A02" in out
        assert "同时属于" in out and "招商引资与重大项目" in out
        assert "另有 14 篇" in out
        assert "今日无匹配" in out  # the empty topic 防汛抗洪
        assert "安全生产×9" in out and "风险隐患×4" in out
        assert "inbox/2026-11-21/衡阳日报_A03.pdf" in out
        assert "已有 2 天没有新文档" in out
        assert f"{BASE_URL}/articles/a9c89bb65670a872-3.html" in out
    # Count and change against the 7-day average; the trend as SVG and as text.
    assert "↑ 较7日均值 +0.6" in html and "持平" in html and "↓ 较7日均值 −1.9" in html
    assert html.count("<svg") == 5 and html.count("<title>") == 6  # 5 charts + <head>
    assert spark(d.sections[1].trend) in html
    assert "安全生产×9 · 风险隐患×4" in text
    assert "<mark" in html and "<style" in html  # the @media rules stay
    assert 'style="' in html  # inlined
    assert html.index('<meta charset="utf-8">') < 200
    assert "<script" not in html


def test_email_without_base_url_has_no_dead_links() -> None:
    parts = Renderer().email(seed_digest())
    assert "articles/" not in parts.html and "articles/" not in parts.text
    assert "在浏览器中查看" not in parts.html
    assert 'href="#t-safety"' in parts.html  # in-message anchors still work


def test_page_links_are_relative(renderer: Renderer) -> None:
    page = renderer.page(seed_digest())
    assert 'href="articles/a9c89bb65670a872-3.html"' in page
    assert 'href="index.html"' in page
    assert BASE_URL not in page
    assert "▁" not in page  # the page shows SVG charts only


def test_article_page(renderer: Renderer) -> None:
    d = seed_digest()
    urban = d.sections[1].items[0]
    html = renderer.article(d, urban)
    assert 'href="../2026-11-21.html"' in html
    # Listed under two topics: both topics' terms are shown.
    assert "城市更新×6" in html and "总投资×4" in html
    assert "全文未收录" in html  # no body: the snippet stands in
    safety = renderer.article(d, d.sections[0].items[0])
    assert safety.count("<mark>") == len(d.sections[0].items[0].body_marks)
    assert safety.count("<p>") == 4  # paragraphs kept


def test_empty_digest_renders(renderer: Renderer) -> None:
    d = seed_digest()
    empty = dataclasses.replace(
        d,
        sections=tuple(
            dataclasses.replace(s, items=(), more=0, count=0, trend=(*s.trend[:-1], 0))
            for s in d.sections
        ),
        notices=(),
    )
    assert empty.subject.endswith("今日无匹配")
    parts = renderer.email(empty)
    for out in (parts.html, parts.text, renderer.page(empty), renderer.markdown(empty)):
        assert "今日无匹配文章" in out
        assert "本期读入 5 份文档" in out
    assert renderer.chat(empty, "wecom", limit=4000)[0].count("今日无匹配文章") == 1
    nothing = dataclasses.replace(empty, sections=())
    assert "今日无匹配文章" in renderer.email(nothing).html
    json.loads(renderer.json(nothing))


def test_json_schema(renderer: Renderer) -> None:
    data = json.loads(renderer.json(seed_digest()))
    assert list(data) == [
        "version", "day", "timezone", "produced_at", "since", "subject", "total",
        "sections", "stats", "notices",
    ]  # fmt: skip
    assert data["day"] == "2026-11-21" and data["produced_at"] == "2026-11-21T07:30:00+08:00"
    sec = data["sections"][0]
    assert list(sec) == [
        "id", "name", "description", "count", "average", "trend", "more", "items",
        "shown", "history", "url",
    ]  # fmt: skip
    assert (sec["shown"], sec["history"]) == (1, 7)
    assert sec["url"] == f"{BASE_URL}/topics/safety/2026-11-21.html"
    item = sec["items"][0]
    assert list(item) == [
        "key", "headline", "kicker", "newspaper", "date", "page", "byline", "file", "score",
        "terms", "why", "snippet", "marks", "also_in", "other_topics", "url", "reprint",
    ]  # fmt: skip
    assert item["reprint"] is False
    assert item["terms"]["安全生产"] == 9 and item["marks"][0] == [24, 32]
    assert item["snippet"][24:32] == "安全生产风险隐患"
    assert item["url"] == f"{BASE_URL}/articles/a9c89bb65670a872-3.html"
    assert data["sections"][2]["items"] == [] and data["sections"][1]["more"] == 14
    assert data["stats"]["failures"][1] == {
        "file": "inbox/2026-11-21/株洲日报_A05.txt",
        "reason": "empty file",
    }
    assert Renderer().json(seed_digest()).count('"url": "articles/') == 6


# ---------------------------------------------------------------- untrusted text


def test_untrusted_text_is_inert(renderer: Renderer) -> None:
    d = hostile_digest()
    htmls = {
        "email": renderer.email(d).html,
        "page": renderer.page(d),
        "article": renderer.article(d, d.sections[0].items[0]),
        "index": renderer.index([(DAY, {"<script>alert(1)</script>": 1})]),
    }
    for name, html in htmls.items():
        assert "<script" not in html.lower(), name
        assert "&lt;script&gt;" in html, name
        assert "49" not in re.sub(r"<[^>]*>", "", html), name  # {{ 7*7 }} not evaluated
        assert html.count("<table") == html.count("</table>"), name
        assert "\x1b" not in html, name
        if name != "index":
            assert "{{ 7*7 }}" in html and "{% if %}" in html, name
            assert "&amp;amp;" in html, name  # "&amp;" shown as typed
            assert 'href="javascript' not in html, name
    text = renderer.email(d).text
    assert "{{ 7*7 }}" in text and "<script>alert(1)</script>" in text and "\x1b" not in text
    md = renderer.markdown(d)
    assert "\\<script\\>" in md and "\\[x\\](javascript" in md and "\\&amp;" in md
    assert "{{ 7\\*7 }}" in md
    for service in CHAT_SERVICES:
        for message in renderer.chat(d, service, limit=4000):
            assert "<script" not in message and "\x1b" not in message
            assert "{{ 7" in message
            if service == "slack":  # every <…> is one of our links; [x](…) means nothing
                assert all(part.startswith("https://") for part in message.split("<")[1:])
            else:
                assert "[x](" not in message and "](javascript" not in message
    data = json.loads(renderer.json(d))
    assert data["sections"][0]["items"][0]["headline"] == d.sections[0].items[0].headline


def test_bad_marks_are_tolerated() -> None:
    assert segments("安全生产检查", ((4, 99), (-3, 2), (1, 3), (5, 5))) == [
        ("安全生", True),
        ("产", False),
        ("检查", True),
    ]


def test_text_helpers() -> None:
    assert text_width("安全ab") == 6
    lines = wrap("深入开展安全生产风险隐患大排查大整治，" * 6, 40, 4).split("\n")
    assert all(text_width(line.strip()) <= 38 for line in lines)
    assert not any(line.strip().startswith("，") for line in lines)
    url = "https://example.org/" + "a" * 100
    assert all(text_width(line) <= 72 for line in wrap(url, 72).split("\n"))
    assert md_escape("1. <b>*x*</b> | a_b") == "1\\. \\<b\\>\\*x\\*\\</b\\> \\| a\\_b"
    sec = seed_digest().sections
    assert [change(s) for s in sec] == [
        "↑ 较7日均值 +0.6", "↑ 较7日均值 +8.7", "↓ 较7日均值 −0.3", "持平", "↓ 较7日均值 −1.9",
    ]  # fmt: skip
    assert spark((0, 1, 2, 4, 8)) == "▁▂▃▅█"


# ------------------------------------------------------------------------- chat


def long_digest(n: int = 40) -> Digest:
    base = seed_digest()
    template = base.sections[0].items[0]
    items = tuple(
        dataclasses.replace(
            template,
            key=f"{i:016x}-{i}",
            headline=f"第{i}号 毛伟明在湘潭暗访检查安全生产工作 穿透式监管 闭环式整改 持续推动风险隐患动态清零",
            also_in=(),
        )
        for i in range(n)
    )
    half = n // 2
    return dataclasses.replace(
        base,
        sections=(
            dataclasses.replace(base.sections[0], items=items[:half], count=half),
            dataclasses.replace(base.sections[3], items=items[half:], count=n - half),
            dataclasses.replace(base.sections[4]),
        ),
    )


@pytest.mark.parametrize("service", CHAT_SERVICES)
def test_chat_splits_between_items(renderer: Renderer, service: str) -> None:
    d = long_digest()
    messages = renderer.chat(d, service, limit=2048)
    n = len(messages)
    assert n >= 4
    for k, message in enumerate(messages, 1):
        assert len(message.encode("utf-8")) <= 2048
        first = message.split("\n", 1)[0]
        assert d.subject.replace("【watcher】", "") in first
        assert first.endswith(f"({k}/{n})*") or first.endswith(f"({k}/{n})**")
    joined = "\n".join(messages)
    for s in d.sections[:2]:
        for item in s.items:
            assert joined.count(item.headline) == 1, item.headline
    assert "（续）" in joined  # a section running on names itself again
    # Topic routing: only the chosen sections, and the header counts only them.
    routed = renderer.chat(d, service, topics={"rural"}, limit=2048)
    text = "\n".join(routed)
    assert "乡村振兴" in text and "安全生产检查" not in text and "招商引资" not in text
    assert all(d.sections[1].items[0].headline not in m for m in routed[1:]) or len(routed) > 1


def test_chat_flavours(renderer: Renderer) -> None:
    d = seed_digest()
    slack = renderer.chat(d, "slack", limit=CHAT_LIMITS["slack"])[0]
    assert f"<{BASE_URL}/articles/a9c89bb65670a872-3.html|毛伟明在湘潭" in slack
    assert slack.startswith("*【watcher】2026年11月21日 日报") and "**" not in slack
    md = renderer.chat(d, "dingtalk", limit=CHAT_LIMITS["dingtalk"])[0]
    assert (
        f"[毛伟明在湘潭暗访检查安全生产工作 穿透式监管 闭环式整改 持续推动风险隐患动态清零]({BASE_URL}/articles/"
        in md
    )
    assert "**安全生产风险隐患**" in md
    assert "今日无匹配" in md and "另有 14 篇" in md
    plain = Renderer().chat(d, "wecom", limit=4000)
    assert all("http" not in m for m in plain)
    assert "**毛伟明在湘潭" in plain[0]
    with pytest.raises(ValueError):
        renderer.chat(d, "telegram", limit=4000)
    with pytest.raises(ValueError):
        renderer.chat(d, "telegram")
    with pytest.raises(ValueError):
        renderer.chat(d, "wecom", limit=10)


@pytest.mark.parametrize("service", CHAT_SERVICES)
def test_chat_limit_defaults_to_the_services(renderer: Renderer, service: str) -> None:
    d = long_digest(200)
    messages = renderer.chat(d, service)
    assert messages == renderer.chat(d, service, limit=SERVICES[service].limit)
    assert all(len(m.encode("utf-8")) <= SERVICES[service].limit for m in messages)


def test_chat_oversized_item_is_cut(renderer: Renderer) -> None:
    d = seed_digest()
    huge = dataclasses.replace(
        d.sections[0].items[0],
        snippet="安全生产" * 400,
        marks=tuple((i * 4, i * 4 + 4) for i in range(0, 400, 3)),
    )
    d = dataclasses.replace(d, sections=(dataclasses.replace(d.sections[0], items=(huge,)),))
    for service in CHAT_SERVICES:
        messages = renderer.chat(d, service, limit=600)
        assert all(len(m.encode()) <= 600 for m in messages)
        cut = [m for m in messages if "毛伟明" in m]
        assert len(cut) == 1 and "…" in cut[0]
        bold = "*" if service == "slack" else "**"
        body = cut[0].split("\n", 1)[1]
        assert body.count(bold) % 2 == 0  # no dangling emphasis


# ---------------------------------------------------------------------- archive


def test_write_archive(tmp_path: Path, renderer: Renderer) -> None:
    d = seed_digest()
    out = tmp_path / "reports"
    written = write_archive(d, renderer, out, seed_days())
    names = sorted(str(p.relative_to(out)) for p in written)
    topics = ("safety", "urban-renewal", "flood", "rural", "investment")
    assert names == sorted(
        [
            "2026-11-21.html",
            "2026-11-21.md",
            "2026-11-21.json",
            "index.html",
            "articles/a9c89bb65670a872-3.html",
            "articles/a9c89bb65670a872-2.html",
            "articles/bacc19f7ba9f701f-3.html",
            "articles/788e42c87815a943-5.html",
            "articles/d65d7219c5d4165d-4.html",
            *(f"topics/{t}.html" for t in topics),
            *(f"topics/{t}/2026-11-21.html" for t in topics),
        ]
    )
    assert all(p.is_file() for p in written)
    assert (out / "2026-11-21.html").read_text(encoding="utf-8") == renderer.page(d)
    index = (out / "index.html").read_text(encoding="utf-8")
    assert (
        index.index("2026-11-21.html")
        < index.index("2026-11-20.html")
        < index.index("2026-11-19.html")
    )
    # Re-rendering replaces the day's files (and the index learns a day it lacked).
    changed = dataclasses.replace(d, notices=("重新生成",))
    write_archive(changed, renderer, out, [])
    assert "重新生成" in (out / "2026-11-21.html").read_text(encoding="utf-8")
    assert "2026-11-21.html" in (out / "index.html").read_text(encoding="utf-8")
    leftovers = [p for p in out.rglob("*") if p.name.startswith(".") or p.suffix == ".tmp"]
    assert leftovers == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["reports"]


@pytest.mark.parametrize("key", ["../x", "a/b", "..", ".hidden", "a\\b", "", "x" * 200, "ü"])
def test_write_archive_rejects_unsafe_keys(tmp_path: Path, renderer: Renderer, key: str) -> None:
    d = seed_digest()
    bad = dataclasses.replace(d.sections[0].items[0], key=key)
    d = dataclasses.replace(d, sections=(dataclasses.replace(d.sections[0], items=(bad,)),))
    out = tmp_path / "out"
    with pytest.raises(ValueError):
        write_archive(d, renderer, out, [])
    assert not out.exists() or list(out.rglob("*")) == []
    assert sorted(p.name for p in tmp_path.iterdir()) in ([], ["out"])


def test_write_archive_refuses_symlinked_articles(tmp_path: Path, renderer: Renderer) -> None:
    out = tmp_path / "out"
    out.mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (out / "articles").symlink_to(elsewhere)
    with pytest.raises(ValueError):
        write_archive(seed_digest(), renderer, out, [])
    assert list(elsewhere.iterdir()) == []


def test_failed_write_leaves_no_temp_file(
    tmp_path: Path, renderer: Renderer, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(src: object, dst: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        write_archive(seed_digest(), renderer, tmp_path, [])
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


# --------------------------------------------------------------------- overrides


def test_template_override(tmp_path: Path) -> None:
    (tmp_path / "email.txt.j2").write_text(
        "自定义：{{ subject }} / {{ digest.sections|length }} 个专题\n", encoding="utf-8"
    )
    (tmp_path / "style.css").write_text("h1.date { color: #123456; }\n", encoding="utf-8")
    r = Renderer(tmp_path)
    parts = r.email(seed_digest())
    assert parts.text == f"自定义：{seed_digest().subject} / 5 个专题\n"
    assert "#123456" in parts.html
    # Templates not overridden still come from the package.
    assert "毛伟明在湘潭" in r.page(seed_digest())
    assert "WATCHER" in Renderer(tmp_path / "missing").page(seed_digest())


def test_no_match_topic_line_and_unique_links(renderer: Renderer) -> None:
    html = renderer.page(seed_digest())
    assert re.search(r'id="t-flood".*?今日无匹配', html, re.DOTALL)
    assert html.count('href="articles/a9c89bb65670a872-2.html"') == 2  # listed under two topics


def test_a_long_failure_list_is_capped_in_every_output() -> None:
    d = seed_digest()
    many = tuple((f"inbox/empty-{n:05d}.txt", "empty file") for n in range(10_000))
    d = dataclasses.replace(d, stats=dataclasses.replace(d.stats, failures=many))
    renderer = Renderer()
    email = renderer.email(d)
    for text in (renderer.page(d), renderer.markdown(d), email.text, email.html):
        assert "empty-00019.txt" in text and "empty-00020.txt" not in text
        assert "另有 9980 个文件未列出，完整列表见 2026-11-21.json" in text
    assert len(json.loads(renderer.json(d))["stats"]["failures"]) == 10_000


def test_temporaries_of_a_killed_writer_are_swept(tmp_path: Path, renderer: Renderer) -> None:
    out = tmp_path / "reports"
    (out / "articles").mkdir(parents=True)
    stale = out / "articles" / ".a9c89bb65670a872-3.html.0f1e2d3c4b5a.tmp"
    fresh = out / ".2026-11-21.html.aabbccddeeff.tmp"  # a writer at work right now
    for tmp in (stale, fresh):
        tmp.write_text("half a page")
    old = stale.stat().st_mtime - 2 * 3600
    os.utime(stale, (old, old))
    write_archive(seed_digest(), renderer, out, [])
    assert not stale.exists() and fresh.exists()


# ------------------------------------------------------- nothing hidden (issue 15)


def _copy(item: DigestItem, n: int, **changes: object) -> DigestItem:
    return dataclasses.replace(item, key=f"{n:016x}-{n}", **changes)  # type: ignore[arg-type]


GOVERNOR = DigestItem(
    key="3b49a103faae7710-0",
    headline="湖南省委书记省长带队,省领导赴市州密集督导",
    kicker=None,
    newspaper=None,
    date=None,
    page=None,
    byline="文 |周帙恒",
    file="/srv/watcher/inbox/2026-11-21/001_3b49a103faae7710.txt",
    score=6.5,
    terms=(("安全生产", 2), ("督导", 3)),
    why="安全生产 AND 督导",
    snippet="省领导赴市州密集督导安全生产工作。",
    marks=((10, 14),),
    body="省领导赴市州密集督导安全生产工作。\n各地迅速行动。",
    body_marks=((10, 14),),
)


def full_digest() -> Digest:
    """A digest as build_digest makes it now: every story kept (the digest lists the
    first two of urban renewal), a reprint after the stories, a topic with no history,
    an item whose page shows no paper, date or page, failures with server paths."""
    base = seed_digest()
    urban = base.sections[1].items[0]
    second = _copy(urban, 1, headline="长沙老旧小区改造开工", score=12.0, also_in=())
    third = _copy(urban, 2, headline="株洲城中村整治启动", score=9.5, other_topics=())
    reprint = _copy(
        urban, 3, newspaper="株洲日报", page="A03", date=dt.date(2026, 11, 20),
        also_in=("三湘都市报",), score=15.0,
    )  # fmt: skip
    urban_section = dataclasses.replace(
        base.sections[1], items=(urban, second, third, reprint), count=3, more=1
    )
    safety = dataclasses.replace(
        base.sections[0],
        items=(*base.sections[0].items, GOVERNOR),
        count=2,
        trend=(-1,) * 13 + (2,),
        average=2.0,
    )
    return dataclasses.replace(
        base,
        sections=(safety, urban_section, *base.sections[2:]),
        stats=dataclasses.replace(
            base.stats,
            failures=(("/srv/watcher/inbox/2026-11-21/衡阳日报_A03.pdf", "scanned PDF"),),
        ),
    )


def test_golden_topic_pages(renderer: Renderer) -> None:
    d = full_digest()
    check_golden("topic-day.html", renderer.topic_day(d, "urban-renewal"))
    days = [
        TopicDay(dt.date(2026, 11, 21), 3, True),
        TopicDay(dt.date(2026, 11, 20), 0, True),
        TopicDay(dt.date(2026, 11, 19), 5, False),  # written by an older version
    ]
    check_golden("topic.html", renderer.topic("urban-renewal", "城市更新", "城市更新项目", days))


def test_the_digest_lists_the_best_and_links_all_the_rest(renderer: Renderer) -> None:
    d = full_digest()
    url = f"{BASE_URL}/topics/urban-renewal/2026-11-21.html"
    email = renderer.email(d)
    for out in (email.html, email.text):
        assert "长沙老旧小区改造开工" in out and "株洲城中村整治启动" not in out
        assert "另有 1 篇未列出" in out and url in out
    assert f'<a href="{url}">查看全部 3 篇及 1 篇转载 →</a>' in email.html
    assert f"全部 3 篇及 1 篇转载：{url}" in email.text
    page = renderer.page(d)
    assert '<a href="topics/urban-renewal/2026-11-21.html">查看全部 3 篇及 1 篇转载 →</a>' in page
    assert '<a class="topic-link" href="topics/urban-renewal.html">往期</a>' in page
    md = renderer.markdown(d)
    assert (
        "另有 1 篇未列出 · [查看全部 3 篇及 1 篇转载](topics/urban-renewal/2026-11-21.html)" in md
    )
    chat = "\n".join(renderer.chat(d, "dingtalk"))
    assert f"另有 1 篇未列出 · [查看全部 3 篇及 1 篇转载]({url})" in chat
    assert "株洲城中村整治启动" not in chat
    # Without base_url: no link, the archive's file named instead.
    plain = Renderer()
    where = "另有 1 篇未列出，全部（含 1 篇转载）见存档 topics/urban-renewal/2026-11-21.html"
    assert where in plain.email(d).html and where in "\n".join(plain.chat(d, "wecom"))
    assert (
        "    另有 1 篇未列出\n    全部（含 1 篇转载）见存档 topics/urban-renewal/2026-11-21.html\n"
        in plain.email(d).text
    )
    # The JSON carries every item: the stories, then the reprint.
    data = json.loads(renderer.json(d))["sections"][1]
    assert [(i["headline"][:6], i["reprint"]) for i in data["items"]] == [
        ("133大片区", False), ("长沙老旧小区", False), ("株洲城中村整", False), ("133大片区", True),
    ]  # fmt: skip
    assert (data["count"], data["shown"], data["more"], data["url"]) == (3, 2, 1, url)


def test_the_topic_day_page_lists_every_item(renderer: Renderer) -> None:
    d = full_digest()
    html = renderer.topic_day(d, "urban-renewal")
    keys = re.findall(r'<h3 class="headline"><a href="\.\./\.\./articles/([^"]+)\.html"', html)
    assert keys == [i.key for i in d.sections[1].items]
    assert html.index("株洲城中村整治启动") < html.index("转载与其他版本")
    assert "株洲日报 · 2026-11-20 · A03版" in html.split("转载与其他版本")[1]
    assert 'href="../../2026-11-21.html"' in html and 'href="../urban-renewal.html"' in html
    assert 'href="../../index.html"' in html
    # A digest stored by an older version kept only the listed items: said so.
    old = renderer.topic_day(seed_digest(), "urban-renewal")
    assert "只保存了日报列出的 1 篇，其余 14 篇未保存" in old
    with pytest.raises(KeyError):
        renderer.topic_day(d, "nonexistent")


def test_every_item_shows_its_paper_date_and_page(renderer: Renderer) -> None:
    d = full_digest()
    shown = "001_3b49a103faae7710.txt · 2026-11-21收录 · 版次不详 · 文 |周帙恒"
    email = renderer.email(d)
    outputs = {
        "email": email.html,
        "text": email.text,
        "page": renderer.page(d),
        "topic": renderer.topic_day(d, "safety"),
        "article": renderer.article(d, GOVERNOR),
    }
    for name, out in outputs.items():
        assert shown in out, name
    assert "001\\_3b49a103faae7710.txt · 2026-11-21收录 · 版次不详 · 文 \\|周帙恒" in (
        renderer.markdown(d)
    )
    for service in CHAT_SERVICES:
        chat = "\n".join(renderer.chat(d, service))
        assert "001＿3b49a103faae7710.txt 2026-11-21收录 版次不详" in chat, service
    # Known facts are shown as they are.
    assert "株洲日报 · 2021-06-04 · 01版 · 记者/胡文洁" in outputs["page"]


def test_no_server_path_in_email_or_chat(renderer: Renderer) -> None:
    d = full_digest()
    for r in (renderer, Renderer()):
        email = r.email(d)
        outs = [email.html, email.text] + [m for s in CHAT_SERVICES for m in r.chat(d, s)]
        for out in outs:
            assert "/srv/" not in out
        assert "衡阳日报_A03.pdf" in email.html and "衡阳日报_A03.pdf" in email.text
    assert "/srv/" not in renderer.article(d, GOVERNOR)


def test_no_history_yet_instead_of_no_change(renderer: Renderer) -> None:
    d = full_digest()
    safety = d.sections[0]
    assert change(safety) == "暂无历史" and spark(safety.trend) == "·" * 13 + "█"
    page = renderer.page(d)
    assert '<span class="new">暂无历史</span>' in page
    assert "安全生产检查 近14天每日篇数（11月8日至11月21日），最后一项为今日：无日报、" in page
    assert "<title>11月8日 无日报</title>" in page
    text = renderer.email(d).text
    assert re.search(r"安全生产检查\s+2 篇\s+暂无历史\s+·{13}█", text)
    assert "| 安全生产检查 | 2 | 暂无历史 |" in renderer.markdown(d)
    assert "**安全生产检查** · 2 篇 · 暂无历史" in renderer.chat(d, "wecom")[0]


def test_the_trend_chart_has_a_scale_and_dates(renderer: Renderer) -> None:
    page = renderer.page(seed_digest())
    # 城市更新: 3 … 15, from 11/8 to today.
    urban = page.split('aria-label="城市更新')[1].split("</td>")[0]
    assert '<text x="12" y="7">15</text><text x="12" y="24">0</text>' in urban
    assert '<span class="axis">11/8–11/21</span>' in urban
    assert "<title>11月21日 15 篇</title>" in urban
    email = renderer.email(seed_digest()).html
    assert re.search(r'<span class="axis"[^>]*>11/8–11/21 · 最高 15</span>', email)
    assert "<title>11月21日" not in email  # no per-bar tooltips in the e-mail


def test_article_pages_clean_the_digest_once(
    renderer: Renderer, monkeypatch: pytest.MonkeyPatch
) -> None:
    import watcher.render as render_mod

    d = full_digest()
    pages = renderer.articles(d)
    calls = []
    real = render_mod.clean_digest

    def counting(digest: Digest) -> Digest:
        calls.append(1)
        return real(digest)

    monkeypatch.setattr(render_mod, "clean_digest", counting)
    fresh = Renderer(base_url=BASE_URL)
    # Every page written from one digest: it is cleaned once for all of them.
    assert fresh.articles(d) == pages
    fresh.page(d), fresh.markdown(d), fresh.json(d)
    for s in d.sections:
        fresh.topic_day(d, s.id)
    assert len(calls) == 1
    fresh.page(dataclasses.replace(d, notices=()))  # another digest is cleaned anew
    assert len(calls) == 2
    keys = [k for k, _ in pages]
    assert keys == list(dict.fromkeys(i.key for s in d.sections for i in s.items))
    assert len(keys) == 9  # the reprint and the items past the listed ones too
    items = {i.key: i for s in d.sections for i in s.items}
    for key, html in pages:
        assert html == renderer.article(d, items[key])


def test_write_archive_has_every_item_and_topic_pages(tmp_path: Path, renderer: Renderer) -> None:
    d = full_digest()
    out = tmp_path / "reports"
    past = dt.date(2026, 11, 19)
    (out / "topics" / "safety").mkdir(parents=True)
    (out / "topics" / "safety" / "2026-11-19.html").write_text("written before")
    # The store keeps counts by topic id; a topic since removed keeps its id.
    days = [(past, {"safety": 1, "urban-renewal": 5, "gone": 2})]
    write_archive(d, renderer, out, days)
    for item in (GOVERNOR, *d.sections[1].items):
        assert (out / "articles" / f"{item.key}.html").is_file()
    index = (out / "index.html").read_text(encoding="utf-8")
    assert "安全生产检查 1\u00a0· 城市更新 5\u00a0· gone 2" in index
    assert '<a href="topics/urban-renewal.html">城市更新</a>' in index
    history = (out / "topics" / "safety.html").read_text(encoding="utf-8")
    assert '<a class="day-link" href="safety/2026-11-21.html">' in history
    assert '<a class="day-link" href="safety/2026-11-19.html">' in history
    urban = (out / "topics" / "urban-renewal.html").read_text(encoding="utf-8")
    # No page of that topic and day from older versions: the day's digest instead.
    assert '<a class="day-link" href="../2026-11-19.html#t-urban-renewal">' in urban
    flood = (out / "topics" / "flood.html").read_text(encoding="utf-8")
    assert "共 1 期日报、0 篇" in flood  # not watched on the 19th
    assert (out / "topics" / "flood" / "2026-11-21.html").is_file()


def test_email_inline_css_repeats_style_css() -> None:
    def rules(css: str) -> dict[str, dict[str, str]]:
        css = re.sub(r"/\*.*?\*/", "", css, flags=re.DOTALL).split("@media")[0]
        out: dict[str, dict[str, str]] = {}
        for selectors, body in re.findall(r"([^{}]+)\{([^{}]*)\}", css):
            decls = dict(
                (k.strip(), v.strip())
                for k, _, v in (d.partition(":") for d in body.split(";") if d.strip())
            )
            for sel in selectors.split(","):
                out.setdefault(sel.strip(), {}).update(decls)
        return out

    full = rules((TEMPLATES / "style.css").read_text(encoding="utf-8"))
    inline = rules((TEMPLATES / "email-inline.css").read_text(encoding="utf-8"))
    assert len(inline) >= 10
    for selector, decls in inline.items():
        for prop, value in decls.items():
            assert full[selector][prop] == value, (selector, prop)


def test_an_email_of_fifty_items_stays_under_gmails_clip() -> None:
    base = seed_digest()
    kinds = [i for s in base.sections for i in s.items][:5]
    sections = tuple(
        dataclasses.replace(
            s,
            items=tuple(_copy(kinds[(n + k) % 5], 100 * n + k) for k in range(12)),
            count=12,
            more=2,
        )
        for n, s in enumerate(base.sections)
    )
    d = dataclasses.replace(base, sections=sections)
    parts = Renderer(base_url=BASE_URL).email(d)
    size = len(parts.html.encode("utf-8"))
    assert parts.html.count('<td class="item"') == 50
    assert size < 100_000, size
    # Only the few inlined rules: no copy of the font stack per element.
    assert parts.html.count("PingFang SC") == 1


@pytest.mark.parametrize(
    ("here", "target", "link"),
    [
        ("2026-11-21.html", "articles/k-1.html", "articles/k-1.html"),
        ("articles/k-1.html", "2026-11-21.html", "../2026-11-21.html"),
        ("topics/safety.html", "topics/safety/2026-11-21.html", "safety/2026-11-21.html"),
        ("topics/safety/2026-11-21.html", "topics/safety.html", "../safety.html"),
        ("topics/safety/2026-11-21.html", "articles/k-1.html", "../../articles/k-1.html"),
        ("topics/safety.html", "2026-11-20.html", "../2026-11-20.html"),
        ("topics/a/2026-11-21.html", "topics/b/2026-11-21.html", "../b/2026-11-21.html"),
    ],
)
def test_relative_links(here: str, target: str, link: str) -> None:
    assert relative(here, target) == link

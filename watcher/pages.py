"""Split a page of text into articles with their metadata (a pure function).

A newspaper page arrives as OCR text: a masthead, then articles each made of a
headline block (kicker / headline / subtitle lines), a lead that opens with a
dateline (``本报讯 (记者 彭斌)``) or a byline, body paragraphs broken wherever
a column ended, sometimes a closing byline (``■记者 丁鹏志``), captions,
advertisements and continuation markers. Markdown pages (and HTML, which the
reader turns into markdown headings) mark headlines with ``#``.

The splitter works on lines in three passes:

1. *classify* each line by its shape (furniture, heading, dateline lead,
   byline, caption, body, short line);
2. find *anchors* — leads and top bylines, whose headline block is the run of
   short lines just before them, and markdown headings — and walk the page
   once, cutting an article at each anchor and closing it at a byline or a
   continuation marker;
3. *repair* each article's body, rejoining paragraphs broken mid-sentence.

Everything here is pure: the only outside input is ``today``, used to guess
the year of a dateline when the page does not print one.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from dataclasses import dataclass, field, replace

from watcher import segment
from watcher.models import Article, Page

# --- line shapes -----------------------------------------------------------

TERMINAL = "。！？!?…；;"
CLOSERS = "”’」』)）"
SENTENCE_PUNCT = re.compile(r"[。！？!?；;]")
# A line ending in one of these is mid-sentence for sure.
FUNCTION_END = set("和与及的在对把被将为从向以等并或而且之其、，,")
WEEKDAYS = "一二三四五六日"

HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*$")
PAPER_NAME = re.compile(r"^[\u4e00-\u9fff]{2,8}(?:日报|晚报|都市报|商报|时报|早报|快报|周报|新闻)$")
PAGE_NO = re.compile(r"^(?:[A-Z]{1,2}\d{1,2}|第?\d{1,2}版|\d{2})$")
SECTION_NAMES = re.compile(
    r"^(?:要闻|综合|时政|经济|财经|社会|民生|国际|国内|评论|文化|文体|体育|副刊|专版|专题|"
    r"地方|本地|城事|区县|视点|焦点|深度|法治|教育|健康|科技|农业|产经|新闻)$"
)
DATE_FULL = re.compile(
    r"(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日(?:\s*星期([一二三四五六日天]))?"
)
DATE_YM = re.compile(r"^(\d{4})\s*年\s*(\d{1,2})\s*月$")
DATE_COMPACT = re.compile(r"(?<!\d)(20\d{2}|19\d{2})(\d{2})(\d{2})(?!\d)")
WEEKDAY_LINE = re.compile(r"^星期([一二三四五六日天])$")
BREADCRUMB = re.compile(r"^(?:首页|当前位置[:：]?|您的位置[:：]?)\s*[>＞›»/]")

FURNITURE = re.compile(
    "|".join(
        f"(?:{p})"
        for p in (
            r"^更多精彩报道$",
            r"扫码看本报|扫一扫|扫码关注|长按识别",
            r"^分享到",
            r"^打开微信",
            r"^(?:首页|当前位置|您的位置)",
            r"^第\s*\d+\s*[期号]$",
            r"^今日\s*[\d一二三四五六七八九十]+\s*版$",
            r"国内统一连续出版物号|国际标准连续出版物号|^CN\s*\d",
            r"^中共.{1,14}(?:主管|主办)",
            r"^.{0,8}天气[:：]",
            r"^[\u4e00-\u9fff]{0,6}热线[:：]?\s*[\d\-]+$",
            r"^(?:官方网站|网址|邮编|地址|电话|传真)[:：]",
            r"^[A-Z][A-Za-z .]{0,30}$",
            r"^星期[一二三四五六日天]$",
            r"^(?:农历)?[甲乙丙丁戊己庚辛壬癸][子丑寅卯辰巳午未申酉戌亥]年.{2,6}$",
            r"^(?:编辑|责编|责任编辑|图编|美编|校对|版式|组版|审读)\s*[/:：]",
            r"^作者[:：].{0,20}编辑[:：]",
            r"^(?:责任)?编辑[:：]\s*\S{2,4}$",
            r"^查看原文$",
            r"^[(（]?(?:发布|更新)时间[:：]",
            r"^(?:返回|打印|关闭|收藏|字号)(?:\s|$)",
            r"^出版$",
            r"^[\u4e00-\u9fff]{2,10}报社$",
            r"^\d{4}\s*年\s*\d{1,2}\s*月(?:\s*\d{1,2}\s*日)?(?:\s*星期.)?(?:\s*(?:农历)?\S{0,12})?$",
            r"^\d{1,2}$",
        )
    )
)
FOOTER = re.compile(r"^(?:相关稿件|相关新闻|相关阅读|相关文章|延伸阅读|推荐阅读)$")
LABEL = re.compile(r"^(?:图片[·・]?新闻|链接|相关链接|新闻链接|图片报道|图说)$")
TOC_HEADING = re.compile(r"^(?:新闻摘要|本期(?:节目)?主要内容|目录|要目|今日导读|本期导读)[:：]?$")
LIST_ITEM = re.compile(r"^(?:\d{1,2}[.、．]|[（(]\d{1,2}[)）])")
CONTINUATION = re.compile(r"^[(（]\s*((?:下转|转|上接|接)第?\s*[\w\d]{1,6}\s*[版页])\s*[)）]$")
CONTINUATION_TAIL = re.compile(
    r"^(.*?\S)\s*([(（]\s*(?:下转|转)第?\s*[\w\d]{1,6}\s*[版页]\s*[)）])$"
)

# Datelines: "本报讯", "本报5月7日讯", "三湘都市报6月17日讯", "株洲日报·掌上株洲讯",
# "新华社电", "新华社北京6月3日电", "央视网消息（新闻联播）：".
DATELINE = re.compile(
    r"^(?P<src>本报|新华社|中新社|人民网|新华网|央视网|"
    r"[\u4e00-\u9fff·]{1,14}?(?:报|社|网|台|客户端|掌上[\u4e00-\u9fff]{2,4}|融媒体?中心|新闻))"
    r"(?P<loc>[\u4e00-\u9fff]{0,6}?)"
    r"(?:(?P<m>\d{1,2})月(?P<d>\d{1,2})日)?"
    r"(?P<kind>讯|电|消息(?=\s*[(（:：]))"
    # What follows a dateline: a space, the byline in brackets, a colon, a quote or the day.
    r"(?=\s|[(（:：“\"]|\d)"
    r"\s*(?:[(（](?P<by>[^()（）]{1,40})[)）])?"
    r"\s*[:：]?\s*"
)
TOP_BYLINE = re.compile(
    r"^■?\s*(?:(?:本报|特约)评论员$|(?:本报(?:见习)?记者|本报通讯员|"
    r"[\u4e00-\u9fff·]{2,16}(?:记者|通讯员)\s*/)\s*\S)"
)
BYLINE = re.compile(
    r"^(?:■\s*\S.*|(?:文|图|文/图|文图|文\s*图)\s*[|｜/:：]\s*\S.*|据新华社.*|"
    r"(?:本报)?(?:全媒体)?(?:见习)?记者\s*[\u4e00-\u9fff]{2,4}(?:\s+[\u4e00-\u9fff]{2,4})*|"
    r"(?:通讯员|特约记者)\s*\S.*)$"
)
MEDIA_LINE = re.compile(r"^[\u4e00-\u9fff·]{2,16}(?:客户端|日报|都市报|晚报|新闻网)$")
# A photo credit: "记者 唐俊 摄", "三湘都市报记者李成辉 摄影报道" (not "启动拍摄").
CREDIT = re.compile(r"(?:\s(?:摄影?报道|摄影|摄)|(?:记者|通讯员)[/]?[\u4e00-\u9fff]{2,4}摄)$")
INLINE_BYLINE = re.compile(r"^(.*[。！？!?”])\s*(■\s*\S.{1,40})$")
BANNER_PHRASE_MAX = 4
EVENT_END = re.compile(
    r"(?:座谈|会见|会谈|出席|讲话|举行|签约|调研|考察|致辞|主持|参加|召开|陪同|致贺信|见证签约)$"
)

# Line kinds.
F, H, LEAD, TOPBY, BY, CREDITLINE = "furniture", "heading", "lead", "topby", "byline", "credit"
CAPTION, CONT, FOOT, LAB, BODY, SHORT = "caption", "cont", "footer", "label", "body", "short"


@dataclass
class Line:
    text: str
    level: int = 0  # markdown heading level, 0 for ordinary lines
    gap: bool = True  # a blank line came before it
    kind: str = BODY


# --- the public function -----------------------------------------------------


def split_page(
    text: str,
    *,
    markup: str = "plain",
    today: dt.date | None = None,
    known: Page | None = None,
) -> list[Article]:
    """Cut a page's text into its articles, in reading order.

    With ``markup="markdown"`` (Markdown and HTML sources) headings mark the
    articles when the page has any: a dateline inside a heading's block is
    that article's lead, never the start of another article. ``known`` holds
    what the file's metadata says (a web page's site and date); the page's own
    masthead wins where it says otherwise.
    """
    lines = _prepare(text)
    if not lines:
        return []
    for i in range(len(lines)):
        lines[i].kind = _classify(lines, i)
    _mark_toc(lines)
    anchors = _find_anchors(lines)
    if markup == "markdown" and any(ln.kind == H for ln in lines):
        anchors = {k: a for k, a in anchors.items() if a.heading is not None}
    if not anchors and not any(ln.kind == H for ln in lines):
        anchors = _leadless_anchor(lines)
    drafts = _walk(lines, anchors)
    first = min(anchors) if anchors else len(lines)
    first = min([first, *(i for i, ln in enumerate(lines) if ln.kind == H)])
    page = _page_facts(lines[:first], lines, drafts)
    if known is not None:
        page = Page(
            newspaper=page.newspaper or known.newspaper,
            date=page.date or known.date,
            page=page.page or known.page,
            section=page.section or known.section,
        )
    return _finish(drafts, page, today)


# --- pass 0: normalise -------------------------------------------------------


def _prepare(text: str) -> list[Line]:
    text = re.sub(r"<!--.*?-->", "", text, flags=re.S)
    out: list[Line] = []
    gap = True
    for raw in text.split("\n"):
        s = raw.replace("\u3000", " ").replace("\xa0", " ").replace("**", "")
        s = re.sub(r"\s+", " ", s.replace("\u200b", "")).strip()
        if not s:
            gap = True
            continue
        m = HEADING.match(s)
        if m:
            out.append(Line(m.group(2).strip(), level=len(m.group(1)), gap=gap))
        else:
            # A closing byline or continuation marker glued to the end of a
            # paragraph gets a line of its own, so it is classified as such.
            pieces = []
            m2 = INLINE_BYLINE.match(s)
            if m2 and len(m2.group(1)) > 4:
                pieces = [m2.group(1), m2.group(2)]
            else:
                m3 = CONTINUATION_TAIL.match(s)
                pieces = [m3.group(1), m3.group(2)] if m3 else [s]
            for k, p in enumerate(pieces):
                out.append(Line(p, gap=gap if k == 0 else False))
        gap = False
    return out


# --- pass 1: classify lines -----------------------------------------------


def _is_short(s: str) -> bool:
    return len(s) <= 64 and not SENTENCE_PUNCT.search(s)


def _classify(lines: list[Line], i: int) -> str:
    ln = lines[i]
    s = ln.text
    if ln.level:
        return H
    if FOOTER.match(s):
        return FOOT
    if LABEL.match(s):
        return LAB
    if CONTINUATION.match(s):
        return CONT
    if (m := DATELINE.match(s)) and len(s) > m.end() + 1:
        return LEAD
    if len(s) <= 60 and not SENTENCE_PUNCT.search(s):
        prev = _prev_kind(lines, i)
        if TOP_BYLINE.match(s) and prev in (SHORT, H, CAPTION):
            return TOPBY
        if CREDIT.search(s):
            return CREDITLINE
        if BYLINE.match(s) or TOP_BYLINE.match(s):
            return BY
        nxt = lines[i + 1].text if i + 1 < len(lines) else ""
        if MEDIA_LINE.match(s) and (BYLINE.match(nxt) or CREDIT.search(nxt)) and prev == BODY:
            return BY
    if len(s) <= 60 and FURNITURE.search(s):
        return F
    if CREDIT.search(s) and len(s) <= 200 and SENTENCE_PUNCT.search(s):
        return CAPTION
    return SHORT if _is_short(s) else BODY


def _prev_kind(lines: list[Line], i: int) -> str | None:
    return lines[i - 1].kind if i > 0 else None


def _mark_toc(lines: list[Line]) -> None:
    """A heading introducing a list of the day's headlines is not an article."""
    for i, ln in enumerate(lines):
        if ln.kind != H:
            continue
        end = next((j for j in range(i + 1, len(lines)) if lines[j].kind == H), len(lines))
        block = lines[i + 1 : end]
        if not block:
            continue
        items = sum(1 for b in block if LIST_ITEM.match(b.text))
        listing = len(block) >= 4 and items >= 0.6 * len(block)
        if TOC_HEADING.search(ln.text) or (listing and not any(b.kind == LEAD for b in block)):
            for b in [ln, *block]:
                b.kind = F


# --- pass 2: anchors and the walk ------------------------------------------


@dataclass
class Anchor:
    start: int  # first line of the headline block
    lead: int | None  # the dateline / top-byline line, if any
    heading: int | None = None  # a markdown heading inside the block


def _find_anchors(lines: list[Line]) -> dict[int, Anchor]:
    anchors: dict[int, Anchor] = {}
    for i, ln in enumerate(lines):
        if ln.kind not in (LEAD, TOPBY):
            continue
        start, heading, j, taken = i, None, i - 1, 0
        while j >= 0 and taken < 6:
            k = lines[j].kind
            if k == SHORT and (heading is None or taken < 2):
                start, taken = j, taken + 1
            elif k == CAPTION and heading is None:
                pass  # the article's own photo, printed between headline and lead
            elif k == H and heading is None:
                start, heading = j, j
            else:
                break
            j -= 1
        if heading is None and start == i and ln.kind == TOPBY:
            continue
        anchors[start] = Anchor(start, i, heading)
    return anchors


def _leadless_anchor(lines: list[Line]) -> dict[int, Anchor]:
    """A page with no datelines, bylines or headings holds one article (a web
    page): its headline is the first short line after the chrome."""
    for i, ln in enumerate(lines):
        if ln.kind == SHORT and not PAPER_NAME.match(ln.text):
            return {i: Anchor(i, None)}
    return {}


@dataclass
class Draft:
    """An article being assembled during the walk."""

    head: list[Line] = field(default_factory=list)
    heading: Line | None = None
    sub: list[Line] = field(default_factory=list)  # subtitle lines under a heading
    lead: Line | None = None
    body: list[Line] = field(default_factory=list)
    bylines: list[str] = field(default_factory=list)
    captions: list[str] = field(default_factory=list)
    continued: str | None = None
    level: int = 0
    closed: bool = False
    kind: str = "article"


def _walk(lines: list[Line], anchors: dict[int, Anchor]) -> list[Draft]:
    drafts: list[Draft] = []
    orphans: list[int] = []
    cur: Draft | None = None
    skip_to_anchor = False

    def flush_orphans() -> None:
        nonlocal orphans
        # Orphans before the first article are the masthead, already read for facts.
        if orphans and (drafts or cur is not None):
            item = _orphan_item([lines[k] for k in orphans])
            if item:
                drafts.append(item)
        orphans = []

    def start(d: Draft) -> None:
        nonlocal cur, skip_to_anchor
        if cur is not None:
            drafts.append(cur)
        flush_orphans()
        cur, skip_to_anchor = d, False

    i = 0
    while i < len(lines):
        ln = lines[i]
        a = anchors.get(i)
        if a is not None and a.heading is None and a.lead is not None and _awaits_lead(cur):
            # Lines under a heading, then the dateline: still the heading's story.
            assert cur is not None
            for b in [*cur.body, *lines[a.start : a.lead]]:
                (cur.captions.append(b.text) if b.kind == CAPTION else cur.sub.append(b))
            cur.body, cur.lead = [], lines[a.lead]
            i = a.lead + 1
            continue
        if a is not None:
            block = lines[a.start : a.lead if a.lead is not None else a.start + 1]
            d = Draft(lead=lines[a.lead] if a.lead is not None else None)
            for b in block:
                if b.kind == CAPTION:
                    d.captions.append(b.text)
                elif b.kind == H:
                    d.heading, d.level = b, b.level
                else:
                    # Above the heading: kicker; below it (a PDF's smaller deck): subtitle.
                    (d.sub if d.heading is not None else d.head).append(b)
            start(d)
            i = (a.lead if a.lead is not None else a.start) + 1
            continue
        k = ln.kind
        if skip_to_anchor and k != H:
            i += 1
            continue
        if k == H:
            if _is_section_title(lines, i):
                i += 1
                continue
            if cur is None or cur.closed or skip_to_anchor or (cur.level and ln.level <= cur.level):
                d = Draft(heading=ln, level=ln.level)
                # Short lines just above a heading are its kicker.
                kick: list[Line] = []
                while (
                    orphans
                    and orphans[-1] == i - 1 - len(kick)  # directly above, nothing between
                    and lines[orphans[-1]].kind == SHORT
                    and not PAPER_NAME.match(lines[orphans[-1]].text)
                    and len(kick) < 2
                ):
                    kick.insert(0, lines[orphans.pop()])
                d.head = kick
                start(d)
            else:
                cur.body.append(ln)  # a sub-heading inside the story
        elif k in (F, LAB):
            pass
        elif k == FOOT:
            if cur is not None:
                cur.closed = True
            skip_to_anchor = True
        elif k == CONT:
            if cur is not None and not cur.closed:
                m = CONTINUATION.match(ln.text)
                marker = m.group(1).replace(" ", "") if m else ln.text
                if marker.startswith(("下转", "转")):
                    cur.continued, cur.closed = marker, True
        elif k in (BY, TOPBY):
            if cur is not None and not cur.closed:
                cur.bylines.append(ln.text)
                # "湖南日报·新湖南客户端" / "记者 田超": the byline may span lines.
                if not (i + 1 < len(lines) and lines[i + 1].kind in (BY, CREDITLINE)):
                    cur.closed = True
        elif k == CREDITLINE:
            if cur is not None and not cur.closed and len(_paragraphs(cur)) > 1:
                # A photo credit after a story's last paragraph: that paragraph
                # is a caption standing alone, not part of the story.
                cap = cur.body.pop()
                photo = Draft(body=[cap], bylines=[ln.text], kind="photo", closed=True)
                drafts.append(cur)
                cur = photo
            elif cur is not None:
                cur.bylines.append(ln.text)
                cur.closed = True
            else:
                orphans.append(i)
        elif k == CAPTION:
            if cur is not None and not cur.closed:
                cur.captions.append(ln.text)
            else:
                orphans.append(i)
        else:  # BODY, SHORT, LEAD/TOPBY outside anchors
            if cur is None or cur.closed:
                orphans.append(i)
            elif k == LEAD and _awaits_lead(cur):
                cur.sub.extend(cur.body)
                cur.body, cur.lead = [], ln
            else:
                cur.body.append(ln)
        i += 1
    if cur is not None:
        drafts.append(cur)
        cur = None
    flush_orphans()
    return drafts


def _awaits_lead(d: Draft | None) -> bool:
    """A heading's story with nothing but short lines so far, and no dateline yet."""
    return (
        d is not None
        and d.heading is not None
        and d.lead is None
        and not d.closed
        and not any(SENTENCE_PUNCT.search(b.text) for b in d.body)
    )


def _paragraphs(d: Draft) -> list[Line]:
    return [b for b in d.body if not b.level]


def _is_section_title(lines: list[Line], i: int) -> bool:
    """A heading followed directly by another heading titles a page or section."""
    nxt = next((ln for ln in lines[i + 1 :] if ln.kind not in (F, LAB)), None)
    return nxt is None or (nxt.kind == H and nxt.level > lines[i].level)


def _orphan_item(lines: list[Line]) -> Draft | None:
    """Lines between two articles that belong to neither.

    Two or more short lines make a stand-alone item (an advertisement or a
    public notice); text with sentences makes a headline-less article.
    """
    if not lines:
        return None
    if all(ln.kind in (SHORT, CREDITLINE) for ln in lines):
        if len(lines) < 2:
            return None
        return Draft(head=[lines[0]], body=lines[1:], kind="ad", closed=True)
    return Draft(body=list(lines), closed=True)


# --- headline blocks --------------------------------------------------------


def _split_head(head: list[Line]) -> tuple[str | None, str, str | None]:
    """(kicker, headline, subtitle) from the lines of a headline block."""
    texts = [ln.text for ln in head]
    if not texts:
        return None, "", None
    secondary = [False] * len(texts)
    banner = [_is_banner(t) for t in texts]
    for k in range(len(texts)):
        # Lines printed together with a slogan banner belong to the banner.
        if not banner[k] and not head[k].gap and k > 0 and banner[k - 1]:
            banner[k] = True
        if not banner[k] and k + 1 < len(texts) and banner[k + 1] and not head[k + 1].gap:
            banner[k] = True
    for k, t in enumerate(texts):
        if banner[k] or t.startswith("——") or t.endswith((":", "：")) or EVENT_END.search(t):
            secondary[k] = True
        elif k > 0 and k + 1 < len(texts) and texts[k + 1].startswith("——"):
            secondary[k] = True  # a series title with its "——" line
    main = next((k for k in range(len(texts)) if not secondary[k]), None)
    if main is None:
        main = next((k for k in range(len(texts)) if not texts[k].startswith("——")), 0)
    kicker = " ".join(texts[:main]) or None
    subtitle = " ".join(texts[main + 1 :]) or None
    return kicker, texts[main], subtitle


def _is_banner(text: str) -> bool:
    parts = text.split()
    return len(parts) >= 3 and all(len(p) <= BANNER_PHRASE_MAX for p in parts)


# --- pass 3: repair bodies ------------------------------------------------------


def _ends_sentence(s: str) -> bool:
    if s.endswith(("——", "……")):
        return True
    last = s[-1]
    if last in TERMINAL or last in ":：":
        return True
    if last in CLOSERS:
        # "…。”" ends a sentence; so does a line that is one whole quotation.
        return (len(s) > 1 and s[-2] in TERMINAL) or s[0] in "“「『(（"
    return False


def _should_join(p: str, q: str) -> bool:
    if _ends_sentence(p):
        return False
    if q[0] in "，。、；：,.;:！？!?”’）)":
        return True
    if len(p) >= 25 or SENTENCE_PUNCT.search(p):
        return True
    if p[-1] in FUNCTION_END or "、" in p or "；" in p:
        return True
    if len(q) <= 12 and q[-1] in TERMINAL:
        return True
    # Ambiguous: a sub-heading, or a short line broken mid-word?
    return segment.spans_word(p, q)


def _repair(body: list[Line]) -> list[str]:
    """Paragraph texts with OCR line breaks rejoined; sub-headings kept apart."""
    out: list[str] = []
    joinable = False
    for ln in body:
        if ln.level:
            out.append(ln.text)
            joinable = False
            continue
        if out and joinable and _should_join(out[-1], ln.text):
            out[-1] = out[-1] + ln.text
        else:
            out.append(ln.text)
        joinable = True
    return out


# --- page facts and final assembly ---------------------------------------------


def _page_facts(prelude: list[Line], lines: list[Line], drafts: list[Draft]) -> Page:
    texts = [ln.text for ln in prelude]
    newspaper = next((t for t in texts if PAPER_NAME.match(t)), None)
    date = _masthead_date(texts)
    page = section = None
    for k, t in enumerate(texts):
        if page is None and PAGE_NO.match(t) and not t.isdigit():
            page = t
            if k + 1 < len(texts) and SECTION_NAMES.match(texts[k + 1]):
                section = texts[k + 1]
        if section is None and SECTION_NAMES.match(t):
            section = t
        if BREADCRUMB.match(t):
            crumbs = [c.strip() for c in re.split(r"[>＞›»]", t) if c.strip()]
            section = crumbs[-1] if len(crumbs) > 1 else section
    if page is None and any(re.match(r"^今日\s*[\d一二三四五六七八九十]+\s*版$", t) for t in texts):
        page = "01"  # only the front page carries "今日N版" under the masthead
    # Page titles given as headings: "# 《新闻联播》（20220101）".
    for ln in lines:
        if ln.level and ln.kind in (H, F):
            m = re.search(r"《([^》]{2,12})》", ln.text)
            if m and newspaper is None and _is_section_title(lines, lines.index(ln)):
                newspaper = m.group(1)
            if date is None:
                m2 = DATE_COMPACT.search(ln.text) or DATE_FULL.search(ln.text)
                if m2 and _is_section_title(lines, lines.index(ln)):
                    date = _safe_date(int(m2.group(1)), int(m2.group(2)), int(m2.group(3)))
        if ln.level:
            break
    if newspaper is None:
        # No masthead: the paper that most datelines name, e.g. "三湘都市报6月17日讯".
        names = Counter(
            n for d in drafts if d.lead is not None and (n := _dateline_paper(d.lead.text))
        )
        if names:
            newspaper = names.most_common(1)[0][0]
    return Page(newspaper=newspaper, date=date, page=page, section=section)


def _masthead_date(texts: list[str]) -> dt.date | None:
    for k, t in enumerate(texts):
        m = DATE_FULL.search(t)
        if m:
            d = _safe_date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
            if d and (not m.group(4) or _weekday_ok(d, m.group(4))):
                return d
        m = DATE_YM.match(t)
        if m and k + 1 < len(texts) and texts[k + 1].isdigit():
            # A masthead date set in type of different sizes: "2021年6月" / "4" / "星期五".
            d = _safe_date(int(m.group(1)), int(m.group(2)), int(texts[k + 1]))
            wd = WEEKDAY_LINE.match(texts[k + 2]) if k + 2 < len(texts) else None
            if d and (wd is None or _weekday_ok(d, wd.group(1))):
                return d
    return None


def _weekday_ok(d: dt.date, name: str) -> bool:
    return WEEKDAYS[d.weekday()] == name or (name == "天" and d.weekday() == 6)


def _safe_date(y: int, m: int, d: int) -> dt.date | None:
    try:
        return dt.date(y, m, d)
    except ValueError:
        return None


def _dateline_paper(lead: str) -> str | None:
    m = DATELINE.match(lead)
    if not m:
        return None
    src = m.group("src").split("·")[0]
    return src if PAPER_NAME.match(src) else None


def _event_date(month: int, day: int, page: Page, today: dt.date | None) -> dt.date | None:
    """The year of "6月17日讯" is the page's; without one, the latest year that
    does not put the day in the future."""
    ref = page.date or today
    if ref is None:
        return None
    for year in (ref.year, ref.year - 1):
        d = _safe_date(year, month, day)
        if d is not None and d <= ref + dt.timedelta(days=1):
            return d
    return None


def _finish(drafts: list[Draft], page: Page, today: dt.date | None) -> list[Article]:
    articles: list[Article] = []
    for d in drafts:
        art = _assemble(d, page, today, len(articles))
        if art is not None:
            articles.append(art)
    if page.date is None:
        # No masthead date: an undated item takes the day most datelines name.
        days = Counter(a.event_date for a in articles if a.event_date)
        if days:
            common = days.most_common(1)[0][0]
            articles = [a if a.date else replace(a, date=common) for a in articles]
    return articles


def _join_bylines(parts: list[str]) -> str | None:
    """One byline string; a media name on its own line runs into the next."""
    out: list[str] = []
    for raw in parts:
        b = raw.lstrip("■ ").strip()
        if not b or b in out:
            continue
        if out and MEDIA_LINE.match(out[-1]):
            out[-1] = f"{out[-1]} {b}"
        else:
            out.append(b)
    return "; ".join(out) or None


def _assemble(d: Draft, page: Page, today: dt.date | None, index: int) -> Article | None:
    kicker, headline, subtitle = _split_head(d.head)
    if d.heading is not None:
        kicker = " ".join(ln.text for ln in d.head) or None
        headline = d.heading.text
        # A repeat of the headline in bold under it is not a subtitle.
        subtitle = " ".join(ln.text for ln in d.sub if ln.text != headline) or None
    body_lines = list(d.body)
    dateline = byline = None
    event = None
    newspaper = page.newspaper
    if d.lead is not None:
        m = DATELINE.match(d.lead.text)
        if m:
            dateline = m.group(0).strip()
            # In "央视网消息（新闻联播）" the brackets name a programme, not a reporter.
            if m.group("by") and m.group("kind") != "消息":
                dateline = d.lead.text[: m.start("by") - 1].strip()
                d.bylines.insert(0, m.group("by").strip())
            dateline = dateline.rstrip(":： ")
            rest = d.lead.text[m.end() :].strip()
            # "本报5月7日讯" names the day in the dateline; "新华社电 6月3日，" just after it.
            md = (m.group("m"), m.group("d")) if m.group("m") else None
            if md is None and (m2 := re.match(r"(\d{1,2})月(\d{1,2})日", rest)):
                md = (m2.group(1), m2.group(2))
            if md:
                event = _event_date(int(md[0]), int(md[1]), page, today)
            paper = _dateline_paper(d.lead.text)
            newspaper = paper or newspaper
            if rest:
                body_lines.insert(0, Line(rest))
        else:  # a top byline: "■本报记者 邹红辉"
            d.bylines.insert(0, d.lead.text)
    paragraphs = _repair(body_lines)
    if d.kind == "ad":
        paragraphs = [ln.text for ln in body_lines]
    body = "\n".join(paragraphs)
    if not headline:
        if not body:
            return None
        headline = _headline_from_text(body)
    if not body and not d.captions and d.kind == "article":
        return None
    byline = _join_bylines(d.bylines)
    return Article(
        index=index,
        headline=headline,
        body=body,
        kicker=kicker,
        subtitle=subtitle,
        newspaper=newspaper,
        date=page.date or event,
        event_date=event,
        page=page.page,
        section=page.section,
        byline=byline,
        dateline=dateline,
        continued=d.continued,
        captions=tuple(d.captions),
        kind=d.kind,
    )


def _headline_from_text(body: str, limit: int = 40) -> str:
    """A stand-in headline for a caption or a headline-less item: its first sentence."""
    first = re.split(r"[。！？!?\n]", body, maxsplit=1)[0]
    first = re.sub(r"^\d{1,2}月\d{1,2}日[,，]?\s*", "", first)
    return first if len(first) <= limit else first[: limit - 1] + "…"

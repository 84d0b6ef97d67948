"""Split a page of text into articles with their metadata (a pure function).

A newspaper page arrives as OCR text: a masthead, then articles each made of a
headline block (kicker / headline / subtitle lines), a lead that opens with a
dateline (``本报讯 (记者 彭斌)``) or a byline, body paragraphs broken wherever
a column ended, sometimes a closing byline (``■记者 丁鹏志``), captions,
advertisements and continuation markers. Markdown pages (and HTML, which the
reader turns into markdown headings) mark headlines with ``#``.

The splitter works on lines:

1. *normalise* the text into :class:`Line` objects (:func:`_prepare`);
2. *classify* each line by its shape into a :class:`LineKind` (furniture,
   heading, dateline lead, byline, caption, body, short line, ...);
3. find *anchors* — leads and top bylines, whose headline block is the run of
   short lines just before them — and walk the page once (:class:`Walker`),
   cutting an article at each anchor or markdown heading and closing it at a
   byline, a footer or a continuation marker;
4. *assemble* each article: :func:`_headline` decides its headline, and the
   body is repaired, rejoining paragraphs broken mid-sentence.

Everything here is pure: besides the text, the only inputs are ``today``, used
to guess the year of a dateline when the page does not print one, and what the
file's metadata says about the page (``known``).
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from enum import Enum, auto
from typing import ClassVar, NamedTuple

from watcher import segment
from watcher.models import Article, ArticleKind, Page

# --- line shapes -----------------------------------------------------------

TERMINAL = "。！？!?…；;"
CLOSERS = "”’」』)）"
SENTENCE_PUNCT = re.compile(r"[。！？!?；;]")
# A line ending in one of these is mid-sentence for sure.
FUNCTION_END = set("和与及的在对把被将为从向以等并或而且之其、，,")
WEEKDAYS = "一二三四五六日"

HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*$")
PAPER_NAME = re.compile(r"^[\u4e00-\u9fff]{2,8}(?:日报|晚报|都市报|商报|时报|早报|快报|周报|新闻)$")
# A paper's name as a masthead prints it ("…新闻" is also what sections are called).
MASTHEAD_PAPER = re.compile(r"^[\u4e00-\u9fff]{2,8}(?:日报|晚报|都市报|商报|时报|早报|快报|周报)$")
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
# A page label: "第A01版：要闻", "A01版：要闻", "第3版", "A01 要闻" (bare, only with a
# section name, so that "G20 峰会" stays a headline).
PAGE_LABEL = re.compile(
    r"^(?:第\s*(?P<p1>[A-Z]{0,2}\d{1,2})\s*版|(?P<p2>[A-Z]{0,2}\d{1,2})\s*版)"
    r"(?:\s*[:：]?\s*(?P<s1>[\u4e00-\u9fff]{2,6}))?$"
    r"|^(?P<p3>[A-Z]{1,2}\d{1,2})\s*[:：]?\s*(?P<s3>[\u4e00-\u9fff]{2,4})$"
)
BREADCRUMB = re.compile(r"^(?:首页|当前位置[:：]?|您的位置[:：]?)\s*[>＞›»/]")

# Page furniture, anchored at the start of the line (tried with match) ...
_FURNITURE_AT_START = (
    r"^更多精彩报道$",
    r"^分享到",
    r"^打开微信",
    r"^(?:首页|当前位置|您的位置)",
    r"^第\s*\d+\s*[期号]$",
    r"^今日\s*[\d一二三四五六七八九十]+\s*版$",
    r"^CN\s*\d",
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
    # A masthead's date, not a sentence starting with one ("2026年11月1日起施行。").
    r"^\d{4}\s*年\s*\d{1,2}\s*月(?:\s*\d{1,2}\s*日)?(?:\s*星期.)?"
    r"(?:\s*(?:农历)?[^\s。！？；]{0,12})?$",
    r"^\d{1,2}$",
)
# ... and anywhere in it (searched for: literal words, which the engine finds fast).
_FURNITURE_ANYWHERE = (
    r"扫码看本报|扫一扫|扫码关注|长按识别",
    r"国内统一连续出版物号|国际标准连续出版物号",
)
FURNITURE = re.compile("|".join(f"(?:{p})" for p in _FURNITURE_AT_START + _FURNITURE_ANYWHERE))
_FURNITURE_START = re.compile("|".join(f"(?:{p})" for p in _FURNITURE_AT_START))
_FURNITURE_WORDS = re.compile("|".join(_FURNITURE_ANYWHERE))

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
# A byline by its shape alone, whatever its type: "■湖南日报全媒体记者 刘燕娟", "文|周帙恒".
SIGNED = re.compile(
    r"^(?:■\s*\S.{1,40}|(?:文|图|文/图)\s*[|｜/:：]\s*\S.{1,30}|"
    r"(?:本报)?(?:全媒体)?(?:见习)?记者\s*[\u4e00-\u9fff]{2,4}(?:\s+[\u4e00-\u9fff]{2,4})*)$"
)
MEDIA_LINE = re.compile(r"^[\u4e00-\u9fff·]{2,16}(?:客户端|日报|都市报|晚报|新闻网)$")
# A photo credit: "记者 唐俊 摄", "三湘都市报记者李成辉 摄影报道", "记者 唐俊摄" (a PDF line
# wrapped before 摄 keeps no space), not "启动拍摄".
CREDIT = re.compile(r"(?:\s(?:摄影?报道|摄影|摄)|(?:记者|通讯员)[/ ]?[\u4e00-\u9fff]{2,4}摄)$")
INLINE_BYLINE = re.compile(r"^(.*[。！？!?”])\s*(■\s*\S.{1,40})$")
BANNER_PHRASE_MAX = 4
EVENT_END = re.compile(
    r"(?:座谈|会见|会谈|出席|讲话|举行|签约|调研|考察|致辞|主持|参加|召开|陪同|致贺信|见证签约)$"
)


def is_furniture(s: str) -> bool:
    """``FURNITURE.search(s)`` as a truth value: the anchored patterns matched at the
    start alone, instead of at every position of the line."""
    return _FURNITURE_START.match(s) is not None or _FURNITURE_WORDS.search(s) is not None


class LineKind(Enum):
    """What a line is, judged from its shape and its neighbours."""

    FURNITURE = auto()  # masthead, folio, share text: never in an article
    HEADING = auto()  # a markdown "#" heading
    LEAD = auto()  # a lead opening with a dateline: "本报讯（记者 彭斌）…"
    TOP_BYLINE = auto()  # a byline under the headline block: "■本报记者 邹红辉"
    BYLINE = auto()  # a closing byline: "■记者 丁鹏志"
    CREDIT = auto()  # a photo credit: "记者 唐俊 摄"
    CAPTION = auto()  # a sentence with a photo credit at its end
    CONTINUATION = auto()  # "(下转第2版)", "（上接1版）"
    FOOTER = auto()  # "相关新闻": what follows belongs to no article
    LABEL = auto()  # "图片新闻": a column label, not a headline
    BODY = auto()  # text with sentences
    SHORT = auto()  # a short line without sentence punctuation: headline material

    # Members are singletons: hashed by identity, in C, instead of by Enum's own
    # __hash__ (Python code run for every look-up of the walk's handler table).
    __hash__ = object.__hash__


@dataclass(slots=True)
class Line:
    """One non-blank line of the page, as the splitter sees it."""

    text: str  # never empty: _prepare drops blank lines
    level: int = 0  # markdown heading level, 0 for ordinary lines
    gap: bool = True  # a blank line came before it
    kind: LineKind = LineKind.BODY
    dateline: re.Match[str] | None = None  # DATELINE's match, when it is a lead


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
    # Classified in order (a line's kind may depend on the one before); the headings
    # and the leads noted on the way, so later steps need not walk every line again.
    heads: list[int] = []
    leads: list[int] = []
    for i, ln in enumerate(lines):
        kind = ln.kind = _classify(lines, i)
        if kind is LineKind.HEADING:
            heads.append(i)
        elif kind is LineKind.LEAD or kind is LineKind.TOP_BYLINE:
            leads.append(i)
    _mark_toc(lines, heads)  # may make some of them furniture
    headings = [i for i in heads if lines[i].kind is LineKind.HEADING]
    anchors = _find_anchors(lines, [i for i in leads if lines[i].kind in _ANCHORING])
    if markup == "markdown" and headings:
        anchors = {k: a for k, a in anchors.items() if a.heading is not None}
    if not anchors and not headings:
        anchors = _leadless_anchor(lines)
    drafts = Walker(lines, anchors).walk()
    first = min([*anchors, *headings, len(lines)])
    page = _page_facts(lines[:first], lines, drafts)
    if known is not None:
        page = Page(
            newspaper=page.newspaper or known.newspaper,
            date=page.date or known.date,
            page=page.page or known.page,
            section=page.section or known.section,
        )
    return _finish(drafts, page, today) or _whole_page(lines, page, today)


def _whole_page(lines: list[Line], page: Page, today: dt.date | None) -> list[Article]:
    """Text that shows no headline, dateline or byline (one long paragraph) is one
    article headed by its first sentence, never silently dropped."""
    body = [ln for ln in lines if ln.kind in (LineKind.BODY, LineKind.SHORT)]
    art = _assemble(Draft(body=body), page, today, 0) if body else None
    return [art] if art is not None else []


# --- normalise -------------------------------------------------------------------


_COMMENT = re.compile(r"<!--.*?-->", re.S)
# Runs of whitespace within a line (not the line break) become one space each; a lone
# space is left alone rather than replaced by itself (most of the matches otherwise).
_SPACES = re.compile(r"[^\S\n]{2,}|[^\S\n ]")


def _prepare(text: str) -> list[Line]:
    # Whole-text passes, in the order a line was once cleaned on its own (none of them
    # touches a line break, so each line comes out the same), then one walk of the lines.
    if "<!--" in text:
        text = _COMMENT.sub("", text)
    text = text.replace("\u3000", " ").replace("\xa0", " ").replace("**", "")
    text = text.replace("\u200b", "")
    out: list[Line] = []
    gap = True
    # Every whitespace character but the space is unprintable: a line without one and
    # without two spaces in a row has nothing for _SPACES (which never takes a line
    # break), and most pages have no such line at all.
    odd = "  " in text or not text.replace("\n", "").isprintable()
    for raw in text.split("\n"):
        if odd and ("  " in raw or not raw.isprintable()):
            raw = _SPACES.sub(" ", raw)
        s = raw.strip()
        if not s:
            gap = True
            continue
        m = HEADING.match(s) if s[0] == "#" else None
        if m and not is_prose(m.group(2).strip()) and not SIGNED.match(m.group(2).strip()):
            out.append(Line(m.group(2).strip(), level=len(m.group(1)), gap=gap))
        else:
            # A paragraph of running text in a heading style (a Word user's mistake, a lead
            # set in display type), or a byline set in bold, is what its shape says.
            if m:
                s = m.group(2).strip()
            if "■" in s or (s[-1] in ")）" and "转" in s):  # _pieces' own guards
                for k, p in enumerate(_pieces(s)):
                    out.append(Line(p, gap=gap if k == 0 else False))
            else:
                out.append(Line(s, 0, gap))  # (text, level, gap): positional, the common case
        gap = False
    return out


_PROSE_END = re.compile(r"。[”’」』)）]*$")


def is_prose(s: str) -> bool:
    """Whether a line styled as a heading is a paragraph of running text: a long
    sentence ending in 。, or two sentences or more (headlines end in ！ or ？ often)."""
    if len(s) >= 30 and _PROSE_END.search(s):
        return True
    return len(s) >= 40 and len(SENTENCE_PUNCT.findall(s)) >= 2


def masthead_pieces(s: str) -> list[str]:
    """The pieces of a masthead line: cells of a table row, words set apart by spaces."""
    return [p for p in _MASTHEAD_SPLIT.split(s) if p]


_MASTHEAD_SPLIT = re.compile(r"\s*[|｜]\s*|\s+")


def _several_pieces(s: str) -> bool:
    """``len(masthead_pieces(s)) > 1`` for a line's text, without splitting a line that
    has no separator (the only whitespace _prepare leaves in a line is the space)."""
    return (" " in s or "|" in s or "｜" in s) and len(masthead_pieces(s)) > 1


def _page_label(s: str) -> re.Match[str] | None:
    """``PAGE_LABEL.match(s)``, tried only on text starting as a label does: 第, a
    capital letter or a digit."""
    c = s[:1]
    if c == "第" or "A" <= c <= "Z" or c.isdecimal():
        return PAGE_LABEL.match(s)
    return None


def is_masthead(s: str) -> bool:
    """Whether a heading is a masthead: a page label, or only page facts and furniture
    (paper, date, page, section, issue number…) with the paper's name or the full date
    among them, whatever style it was set in."""
    if _page_label(s):
        return True
    if "报" not in s and "年" not in s:
        return False  # no paper's name (…报) and no full date (…年…月…日) among the pieces
    pieces = masthead_pieces(s)
    named = any(MASTHEAD_PAPER.match(p) or DATE_FULL.fullmatch(p) for p in pieces)
    return named and all(_fact_piece(p) for p in pieces)


def _fact_piece(p: str) -> bool:
    return bool(
        MASTHEAD_PAPER.match(p)
        or PAGE_LABEL.match(p)
        or PAGE_NO.match(p)
        or SECTION_NAMES.match(p)
        or DATE_FULL.fullmatch(p)
        or WEEKDAY_LINE.match(p)
        or (len(p) <= 30 and is_furniture(p))
    )


def _pieces(s: str) -> list[str]:
    """A closing byline or continuation marker glued to the end of a paragraph
    gets a line of its own, so it is classified as such."""
    # Guards: the patterns need a ■, or a closing bracket at the end and a 转.
    m = INLINE_BYLINE.match(s) if "■" in s else None
    if m and len(m.group(1)) > 4:
        return [m.group(1), m.group(2)]
    m = CONTINUATION_TAIL.match(s) if s[-1] in ")）" and "转" in s else None
    return [m.group(1), m.group(2)] if m else [s]


# --- classify lines ----------------------------------------------------------


def _is_short(s: str) -> bool:
    return len(s) <= 64 and not SENTENCE_PUNCT.search(s)


def _classify(lines: list[Line], i: int) -> LineKind:
    ln = lines[i]
    s = ln.text
    if ln.level:
        # A masthead in a heading style (the paper's name in Word's Title, a date in
        # display type) gives page facts, not an article.
        return LineKind.FURNITURE if is_masthead(s) else LineKind.HEADING
    # Cheap guards first, each a condition its pattern cannot match without (the
    # patterns are tried in the same order, so the kinds are the same).
    n = len(s)
    if n == 4 and FOOTER.match(s):
        return LineKind.FOOTER
    if n <= 5 and LABEL.match(s):
        return LineKind.LABEL
    if s[0] in "(（" and CONTINUATION.match(s):
        return LineKind.CONTINUATION
    c = s[0]
    if ((c == "第" or "A" <= c <= "Z" or c.isdecimal()) and PAGE_LABEL.match(s)) or (
        # is_masthead's own guard first: no 报 and no 年, no masthead.
        ("报" in s or "年" in s) and _several_pieces(s) and is_masthead(s)
    ):
        # A page label, or page facts set on one line or as a table row.
        return LineKind.FURNITURE
    if _dateline_kind(s) and (m := DATELINE.match(s)) and n > m.end() + 1:
        ln.dateline = m
        return LineKind.LEAD
    if n > 64:  # a long line: body text, or a caption ending in its photo's credit
        if n <= 200 and _credited(s) and SENTENCE_PUNCT.search(s):
            return LineKind.CAPTION
        return LineKind.BODY
    punct = SENTENCE_PUNCT.search(s) is not None
    if n <= 60 and not punct and (kind := _signature(lines, i)):
        return kind
    if n <= 60 and is_furniture(s):
        return LineKind.FURNITURE
    if punct and n <= 200 and _credited(s):
        return LineKind.CAPTION
    return LineKind.SHORT if n <= 64 and not punct else LineKind.BODY


# What a dateline's kind (讯, 电, 消息) needs: one of them within the first
# characters — source (≤ 20), place (≤ 6) and day (≤ 6) come before it.
_DATELINE_REACH = 40


def _dateline_kind(s: str) -> bool:
    """Whether 讯, 电 or 消息 stands within the first ``_DATELINE_REACH`` characters
    (three substring tests: faster than one search of an alternation)."""
    head = s[:_DATELINE_REACH]
    return "讯" in head or "电" in head or "消息" in head


def _credited(s: str) -> bool:
    """``CREDIT.search(s)``, tried only on lines ending as a credit can (摄, 摄影, 报道)."""
    return s.endswith(("摄", "摄影", "报道")) and CREDIT.search(s) is not None


def _signature(lines: list[Line], i: int) -> LineKind | None:
    """The kind of a short line that signs a story: a byline or a photo credit."""
    s = lines[i].text
    prev = lines[i - 1].kind if i > 0 else None
    # Guards: a top byline names a 记者, 通讯员 or 评论员; a byline starts as one does.
    top = ("记者" in s or "通讯员" in s or "评论员" in s) and TOP_BYLINE.match(s) is not None
    if top and prev in (LineKind.SHORT, LineKind.HEADING, LineKind.CAPTION):
        return LineKind.TOP_BYLINE
    if _credited(s):
        return LineKind.CREDIT
    if top or _byline(s):
        return LineKind.BYLINE
    # A media name above a byline or credit: "湖南日报·新湖南客户端" / "记者 田超".
    if prev is LineKind.BODY and s.endswith(_MEDIA_ENDS) and MEDIA_LINE.match(s):
        nxt = lines[i + 1].text if i + 1 < len(lines) else ""
        if _byline(nxt) or _credited(nxt):
            return LineKind.BYLINE
    return None


_MEDIA_ENDS = ("客户端", "日报", "都市报", "晚报", "新闻网")  # how MEDIA_LINE ends


def _byline(s: str) -> bool:
    """``BYLINE.match(s)``, tried only on lines starting as a byline can."""
    return s[:1] in _BYLINE_STARTS and BYLINE.match(s) is not None


_BYLINE_STARTS = set("■文图据本全见记通特")  # the first characters BYLINE allows


def _mark_toc(lines: list[Line], headings: list[int]) -> None:
    """A heading introducing a list of the day's headlines is not an article
    (``headings``: the indexes of the heading lines, in order)."""
    for i, end in zip(headings, [*headings[1:], len(lines)], strict=False):
        ln = lines[i]
        block = lines[i + 1 : end]
        if not block:
            continue
        # The cheap tests first: a list needs four lines and no lead.
        if TOC_HEADING.search(ln.text) or (
            len(block) >= 4
            and not any(b.kind is LineKind.LEAD for b in block)
            and sum(1 for b in block if LIST_ITEM.match(b.text)) >= 0.6 * len(block)
        ):
            for b in [ln, *block]:
                b.kind = LineKind.FURNITURE


# --- anchors and the walk ----------------------------------------------------------


@dataclass
class Anchor:
    """Where an article starts: its headline block and the lead below it."""

    start: int  # first line of the headline block
    lead: int | None  # the dateline / top-byline line, if any
    heading: int | None = None  # a markdown heading inside the block


_ANCHORING = (LineKind.LEAD, LineKind.TOP_BYLINE)  # the kinds of line an anchor is found at


def _find_anchors(lines: list[Line], leads: list[int]) -> dict[int, Anchor]:
    """The anchors of the page whose lines of a kind in ``_ANCHORING`` are ``leads``."""
    anchors: dict[int, Anchor] = {}
    for i in leads:
        ln = lines[i]
        start, heading, j, taken = i, None, i - 1, 0
        while j >= 0 and taken < 6:
            k = lines[j].kind
            if k is LineKind.SHORT and (heading is None or taken < 2):
                start, taken = j, taken + 1
            elif k is LineKind.CAPTION and heading is None:
                pass  # the article's own photo, printed between headline and lead
            elif k is LineKind.HEADING and heading is None:
                start, heading = j, j
            else:
                break
            j -= 1
        if heading is None and start == i and ln.kind is LineKind.TOP_BYLINE:
            continue  # a byline with no headline above it starts nothing
        anchors[start] = Anchor(start, i, heading)
    return anchors


def _leadless_anchor(lines: list[Line]) -> dict[int, Anchor]:
    """A page with no datelines, bylines or headings holds one article (a web
    page): its headline is the first short line after the chrome."""
    for i, ln in enumerate(lines):
        if ln.kind is LineKind.SHORT and not PAPER_NAME.match(ln.text):
            return {i: Anchor(i, None)}
    return {}


@dataclass
class Draft:
    """An article being assembled during the walk.

    ``head``, ``heading`` and ``sub`` are the lines that may make its headline;
    :func:`_headline` decides which.
    """

    head: list[Line] = field(default_factory=list)  # headline block / kicker lines
    heading: Line | None = None
    sub: list[Line] = field(default_factory=list)  # subtitle lines under a heading
    lead: Line | None = None
    body: list[Line] = field(default_factory=list)
    bylines: list[str] = field(default_factory=list)
    captions: list[str] = field(default_factory=list)
    continued: str | None = None
    level: int = 0
    closed: bool = False
    kind: ArticleKind = "article"


class Walker:
    """One pass over a page's classified lines, cutting it into drafts.

    An anchor opens an article with its headline block; any other line goes to
    the method for its kind. Lines outside any open article are *orphans*:
    when the next article opens they become an item of their own.
    """

    def __init__(self, lines: list[Line], anchors: dict[int, Anchor]) -> None:
        self.lines = lines
        self.anchors = anchors
        self.drafts: list[Draft] = []
        self.orphans: list[int] = []  # indexes into lines
        self.cur: Draft | None = None
        # After a footer ("相关新闻") the lines are links to other stories:
        # skipped up to the next anchor or heading.
        self.skipping = False

    def walk(self) -> list[Draft]:
        """The page's drafts in reading order."""
        i = 0
        while i < len(self.lines):
            anchor = self.anchors.get(i)
            if anchor is not None:
                i = self._anchor(anchor)
                continue
            kind = self.lines[i].kind
            if not self.skipping or kind is LineKind.HEADING:
                self._HANDLERS[kind](self, i)
            i += 1
        if self.cur is not None:
            self.drafts.append(self.cur)
        self._flush_orphans()
        return self.drafts

    # --- opening and closing drafts ---

    def _open(self) -> Draft | None:
        """The current draft if it still takes lines."""
        return self.cur if self.cur is not None and not self.cur.closed else None

    def _start(self, d: Draft) -> None:
        if self.cur is not None:
            self.drafts.append(self.cur)
        self._flush_orphans()
        self.cur, self.skipping = d, False

    def _flush_orphans(self) -> None:
        # Orphans before the first article are the masthead, already read for facts.
        if self.orphans and (self.drafts or self.cur is not None):
            item = _orphan_item([self.lines[k] for k in self.orphans])
            if item:
                self.drafts.append(item)
        self.orphans = []

    def _anchor(self, a: Anchor) -> int:
        """Open the article an anchor starts; return the index of the next line."""
        cur = self.cur
        if a.heading is None and a.lead is not None and cur is not None and _awaits_lead(cur):
            # Lines under a heading, then the dateline: still the heading's story.
            for b in [*cur.body, *self.lines[a.start : a.lead]]:
                if b.kind is LineKind.CAPTION:
                    cur.captions.append(b.text)
                else:
                    cur.sub.append(b)
            cur.body, cur.lead = [], self.lines[a.lead]
            return a.lead + 1
        end = a.lead if a.lead is not None else a.start + 1
        d = Draft(lead=self.lines[a.lead] if a.lead is not None else None)
        for b in self.lines[a.start : end]:
            if b.kind is LineKind.CAPTION:
                d.captions.append(b.text)
            elif b.kind is LineKind.HEADING:
                d.heading, d.level = b, b.level
            else:
                # Above the heading: kicker; below it (a PDF's smaller deck): subtitle.
                (d.sub if d.heading is not None else d.head).append(b)
        self._start(d)
        return (a.lead if a.lead is not None else a.start) + 1

    # --- one method per line kind ---

    def _heading(self, i: int) -> None:
        ln, cur = self.lines[i], self.cur
        if _is_section_title(self.lines, i):
            return
        if cur is None or cur.closed or self.skipping or (cur.level and ln.level <= cur.level):
            kicker = self._kicker_above(i)
            self._start(Draft(head=kicker, heading=ln, level=ln.level))
        else:
            cur.body.append(ln)  # a sub-heading inside the story

    def _kicker_above(self, i: int) -> list[Line]:
        """Up to two short orphan lines directly above heading ``i``: its kicker."""
        kick: list[Line] = []
        while (
            self.orphans
            and self.orphans[-1] == i - 1 - len(kick)  # directly above, nothing between
            and self.lines[self.orphans[-1]].kind is LineKind.SHORT
            and not PAPER_NAME.match(self.lines[self.orphans[-1]].text)
            and len(kick) < 2
        ):
            kick.insert(0, self.lines[self.orphans.pop()])
        return kick

    def _furniture(self, i: int) -> None:
        """Furniture and column labels belong to no article."""

    def _footer(self, i: int) -> None:
        if self.cur is not None:
            self.cur.closed = True
        self.skipping = True

    def _continuation(self, i: int) -> None:
        d = self._open()
        m = CONTINUATION.match(self.lines[i].text)
        if d is not None and m is not None:
            marker = m.group(1).replace(" ", "")
            # "(下转第2版)" ends the story on this page; "(上接第1版)" only says where it began.
            if marker.startswith(("下转", "转")):
                d.continued, d.closed = marker, True

    def _byline(self, i: int) -> None:
        d = self._open()
        if d is None:
            return
        d.bylines.append(self.lines[i].text)
        # "湖南日报·新湖南客户端" / "记者 田超": the byline may span lines.
        nxt = self.lines[i + 1].kind if i + 1 < len(self.lines) else None
        if nxt not in (LineKind.BYLINE, LineKind.CREDIT):
            d.closed = True

    def _credit(self, i: int) -> None:
        cur = self.cur
        if cur is None:
            self.orphans.append(i)
        elif not cur.closed and len(_paragraphs(cur)) > 1:
            # A photo credit after a story's last paragraph: that paragraph
            # is a caption standing alone, not part of the story.
            cap = cur.body.pop()
            self.drafts.append(cur)
            self.cur = Draft(body=[cap], bylines=[self.lines[i].text], kind="photo", closed=True)
        else:
            cur.bylines.append(self.lines[i].text)
            cur.closed = True

    def _caption(self, i: int) -> None:
        d = self._open()
        if d is None:
            self.orphans.append(i)
        else:
            d.captions.append(self.lines[i].text)

    def _lead(self, i: int) -> None:
        """A dateline that is no anchor: in markdown, one under a heading."""
        d = self._open()
        if d is not None and _awaits_lead(d):
            d.sub.extend(d.body)
            d.body, d.lead = [], self.lines[i]
        else:
            self._text(i)

    def _text(self, i: int) -> None:
        d = self._open()
        if d is None:
            self.orphans.append(i)
        else:
            d.body.append(self.lines[i])

    _HANDLERS: ClassVar[dict[LineKind, Callable[[Walker, int], None]]] = {
        LineKind.HEADING: _heading,
        LineKind.FURNITURE: _furniture,
        LineKind.LABEL: _furniture,
        LineKind.FOOTER: _footer,
        LineKind.CONTINUATION: _continuation,
        LineKind.BYLINE: _byline,
        LineKind.TOP_BYLINE: _byline,  # one that starts no article signs the last one
        LineKind.CREDIT: _credit,
        LineKind.CAPTION: _caption,
        LineKind.LEAD: _lead,
        LineKind.BODY: _text,
        LineKind.SHORT: _text,
    }


def _awaits_lead(d: Draft) -> bool:
    """A heading's story with nothing but short lines so far, and no dateline yet."""
    return (
        d.heading is not None
        and d.lead is None
        and not d.closed
        and not any(SENTENCE_PUNCT.search(b.text) for b in d.body)
    )


def _paragraphs(d: Draft) -> list[Line]:
    return [b for b in d.body if not b.level]


# A page's title: a programme or paper in 《》 and the day, "《新闻联播》（20220101）".
PAGE_TITLE = re.compile(r"^《[^》]{2,12}》\s*[(（]?\s*(?:\d{8}|\d{4}\s*年[^)）]{3,8}日)\s*[)）]?$")


def _is_section_title(lines: list[Line], i: int) -> bool:
    """A heading followed directly by another heading titles a page or section; a
    heading naming a programme and its day titles the page whatever follows it."""
    if PAGE_TITLE.match(lines[i].text):
        return True
    nxt = next(
        (
            lines[k]
            for k in range(i + 1, len(lines))  # not a copy of the rest of the page
            if lines[k].kind not in (LineKind.FURNITURE, LineKind.LABEL)
        ),
        None,
    )
    return nxt is None or (nxt.kind is LineKind.HEADING and nxt.level > lines[i].level)


def _orphan_item(lines: list[Line]) -> Draft | None:
    """Lines between two articles that belong to neither.

    Two or more short lines make a stand-alone item (an advertisement or a
    public notice) headed by its first line; text with sentences makes a
    headline-less article.
    """
    if all(ln.kind in (LineKind.SHORT, LineKind.CREDIT) for ln in lines):
        if len(lines) < 2:
            return None
        return Draft(head=[lines[0]], body=lines[1:], kind="ad", closed=True)
    return Draft(body=list(lines), closed=True)


# --- headlines -------------------------------------------------------------------


class Headline(NamedTuple):
    """An article's headline with the lines printed above and below it."""

    kicker: str | None
    text: str
    subtitle: str | None


def _headline(d: Draft, body: str) -> Headline | None:
    """The one place that decides a draft's kicker, headline and subtitle.

    The walk only collects candidate lines; the first of these that the draft
    has wins:

    1. a markdown ``#`` heading: its text is the headline; the lines above it
       (short lines of the dateline's block, or short orphan lines directly
       above it) are the kicker, and the lines between it and the dateline the
       subtitle, less a bold repeat of the headline;
    2. a headline block of short lines without a heading — the lines above a
       dateline or top byline, the first short line of a page with no
       structure, or the first of a run of short orphan lines (an
       advertisement): :func:`_split_head` picks the headline, the lines
       before it are the kicker and those after it the subtitle;
    3. the body's first sentence, less a leading day ("6月3日，") and cut to
       40 characters: a photo standing alone, text between articles, a
       dateline with nothing above it;
    4. none when the draft has no body either: it is no article.
    """
    if d.heading is not None:
        text = d.heading.text
        # Most drafts have neither kicker nor subtitle lines: no join for them.
        kicker = (" ".join([ln.text for ln in d.head]) or None) if d.head else None
        sub = (" ".join([ln.text for ln in d.sub if ln.text != text]) or None) if d.sub else None
        return Headline(kicker, text, sub)
    block = _split_head(d.head)
    if block.text:
        return block
    return Headline(None, _headline_from_text(body), None) if body else None


def _split_head(head: list[Line]) -> Headline:
    """(kicker, headline, subtitle) from the lines of a headline block."""
    texts = [ln.text for ln in head]
    if not texts:
        return Headline(None, "", None)
    secondary = [False] * len(texts)
    banner = [_is_banner(t) for t in texts]
    for k in range(len(texts)):
        # Phrases printed together with a slogan banner belong to the banner.
        phrases = _is_phrases(texts[k])
        if phrases and not banner[k] and not head[k].gap and k > 0 and banner[k - 1]:
            banner[k] = True
        if phrases and not banner[k] and k + 1 < len(texts) and banner[k + 1]:
            banner[k] = not head[k + 1].gap
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
    return Headline(kicker, texts[main], subtitle)


def _is_banner(text: str) -> bool:
    parts = text.split()
    return len(parts) >= 3 and all(len(p) <= BANNER_PHRASE_MAX for p in parts)


def _is_phrases(text: str) -> bool:
    """Short phrases set apart by spaces ("奋斗百年路 启航新征程"), as a banner's lines are."""
    parts = text.split()
    return len(parts) >= 2 and all(len(p) <= 2 + BANNER_PHRASE_MAX for p in parts)


def _headline_from_text(body: str, limit: int = 40) -> str:
    """A stand-in headline for a caption or a headline-less item: its first sentence."""
    first = re.split(r"[。！？!?\n]", body, maxsplit=1)[0]
    first = re.sub(r"^\d{1,2}月\d{1,2}日[,，]?\s*", "", first)
    return first if len(first) <= limit else first[: limit - 1] + "…"


# --- repair bodies -------------------------------------------------------------


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
    return _spans_word(p[-2:], q[:2])


@functools.lru_cache(maxsize=4096)  # ≈ 1.3 MB; a third of the corpus's questions repeat
def _spans_word(left: str, right: str) -> bool:
    """``segment.spans_word`` of two line ends, which it alone looks at (the last two
    characters of the one, the first two of the other): cached, since pages repeat them."""
    return segment.spans_word(left, right)


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


# --- page facts --------------------------------------------------------------------


def _page_facts(prelude: list[Line], lines: list[Line], drafts: list[Draft]) -> Page:
    """Newspaper, date, page and section: the masthead's, else a page-title heading's
    (newspaper and date), else the datelines' (newspaper)."""
    texts = [ln.text for ln in prelude]
    # Failing whole lines, their pieces: a masthead set as a table row, or run into one
    # line, reads "株洲日报 … 2021年6月 4 星期五 … A02 要闻".
    pieces = [p for t in texts for p in masthead_pieces(t)]
    page, section = _folio(texts)
    if page is None:
        page, section = _folio(pieces)[0], section or _folio(pieces)[1]
    title_paper, title_date = _title_facts(lines)
    # A masthead set as a table row or on one line: "三湘都市报 | 2021年5月8日 | A02 要闻".
    papers = (p for t in texts for p in masthead_pieces(t) if MASTHEAD_PAPER.match(p))
    newspaper = next((t for t in texts if PAPER_NAME.match(t)), None) or next(papers, None)
    newspaper = newspaper or title_paper
    if newspaper is None:
        # No masthead: the paper that most datelines name, e.g. "三湘都市报6月17日讯".
        names = Counter(
            n for d in drafts if d.lead is not None and (n := _paper_of(_dateline_of(d.lead)))
        )
        if names:
            newspaper = names.most_common(1)[0][0]
    date = _masthead_date(texts) or _masthead_date(pieces) or title_date
    return Page(newspaper=newspaper, date=date, page=page, section=section)


def _folio(texts: list[str]) -> tuple[str | None, str | None]:
    """(page number, section) from the masthead's lines or a web page's breadcrumb."""
    page = section = None
    for t in texts:
        # A label on a line of its own, in a table cell, or after the date.
        cells = [c for c in re.split(r"\s*[|｜]\s*|\s+(?=第)", t) if c]
        for label in filter(None, map(PAGE_LABEL.match, cells)):
            page = page or label.group("p1") or label.group("p2") or label.group("p3")
            section = section or label.group("s1") or label.group("s3")
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
    return page, section


def _title_facts(lines: list[Line]) -> tuple[str | None, dt.date | None]:
    """(newspaper, date) from a page title given as the first heading:
    "# 《新闻联播》（20220101）"."""
    i = next((k for k, ln in enumerate(lines) if ln.level), None)
    if i is None or not _is_section_title(lines, i):
        return None, None
    text = lines[i].text
    m = re.search(r"《([^》]{2,12})》", text)
    m2 = DATE_COMPACT.search(text) or DATE_FULL.search(text)
    date = _safe_date(int(m2.group(1)), int(m2.group(2)), int(m2.group(3))) if m2 else None
    return (m.group(1) if m else None), date


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


def reprint_source(dateline: str | None, newspaper: str | None) -> str | None:
    """The paper a story's dateline names when it is not the page's own: the source a
    reprint is attributed to ("株洲日报" for "株洲日报·掌上株洲讯" on a 湖南日报 page)."""
    paper = _dateline_paper(f"{dateline} ") if dateline else None
    return paper if paper and paper != newspaper else None


@functools.lru_cache(maxsize=4096)
def _dateline_paper(lead: str) -> str | None:
    # Cached: every story of a programme has the same dateline ("央视网消息（新闻联播）").
    return _paper_of(DATELINE.match(lead))


def _dateline_of(ln: Line) -> re.Match[str] | None:
    """``DATELINE.match`` of a line's text, kept from classifying it when it is a lead."""
    return ln.dateline if ln.dateline is not None else DATELINE.match(ln.text)


def _paper_of(m: re.Match[str] | None) -> str | None:
    """The newspaper a dateline's match names (its source, when that is a paper)."""
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


# --- final assembly ------------------------------------------------------------


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


class Dateline(NamedTuple):
    text: str  # "本报5月7日讯", "新华社北京6月3日电"
    reporter: str | None  # the name in its brackets: "本报讯 (记者 彭斌)"
    event: dt.date | None  # the day it names, in the dateline or just after it
    paper: str | None  # the newspaper it names: "三湘都市报6月17日讯"
    rest: str  # the lead's text after the dateline


_DAY_AT_START = re.compile(r"(\d{1,2})月(\d{1,2})日")


def _read_dateline(ln: Line, page: Page, today: dt.date | None) -> Dateline | None:
    lead, m = ln.text, _dateline_of(ln)
    if not m:
        return None
    text, reporter = m.group(0).strip(), None
    # In "央视网消息（新闻联播）" the brackets name a programme, not a reporter.
    if m.group("by") and m.group("kind") != "消息":
        text, reporter = lead[: m.start("by") - 1].strip(), m.group("by").strip()
    rest = lead[m.end() :].strip()
    # "本报5月7日讯" names the day in the dateline; "新华社电 6月3日，" just after it.
    md = (m.group("m"), m.group("d")) if m.group("m") else None
    if md is None and (m2 := _DAY_AT_START.match(rest)):
        md = (m2.group(1), m2.group(2))
    event = _event_date(int(md[0]), int(md[1]), page, today) if md else None
    return Dateline(text.rstrip(":： "), reporter, event, _paper_of(m), rest)


def _assemble(d: Draft, page: Page, today: dt.date | None, index: int) -> Article | None:
    body_lines = list(d.body)
    bylines = list(d.bylines)
    dateline = event = None
    newspaper = page.newspaper
    if d.lead is not None:
        found = _read_dateline(d.lead, page, today)
        if found is None:  # a top byline: "■本报记者 邹红辉"
            bylines.insert(0, d.lead.text)
        else:
            dateline, event = found.text, found.event
            # The masthead says whose page this is; a dateline naming another paper
            # ("株洲日报·掌上株洲讯" on a 湖南日报 page) says where the story came from.
            newspaper = newspaper or found.paper
            if found.reporter is not None:
                bylines.insert(0, found.reporter)
            if found.rest:
                body_lines.insert(0, Line(found.rest))
    # An advertisement's lines are kept as printed, never rejoined.
    paragraphs = [ln.text for ln in body_lines] if d.kind == "ad" else _repair(body_lines)
    body = "\n".join(paragraphs)
    head = _headline(d, body)
    if head is None or (not body and not d.captions and d.kind == "article"):
        return None
    return Article(
        index=index,
        headline=head.text,
        body=body,
        kicker=head.kicker,
        subtitle=head.subtitle,
        newspaper=newspaper,
        date=page.date or event,
        event_date=event,
        page=page.page,
        section=page.section,
        byline=_join_bylines(bylines),
        dateline=dateline,
        continued=d.continued,
        captions=tuple(d.captions),
        kind=d.kind,
        source=reprint_source(dateline, newspaper),
    )

"""HTML pages → text: trafilatura's article for a news page, else the visible text.

A saved news page holds one article among the site's chrome; trafilatura
(:mod:`watcher.webpage`, the ``watcher[html]`` extra) finds it. An e-paper page holds
several articles, and a page may be read without trafilatura: then the page's visible
text is what this module's own parser collects, headings as markdown ``#`` lines and
menus, footers, share bars and hidden elements left out, for the splitter to cut up.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from html.parser import HTMLParser
from pathlib import Path

from watcher import webpage
from watcher.encoding import decode_html
from watcher.errors import ReadError
from watcher.models import Page, Text
from watcher.pages import MASTHEAD_PAPER, is_masthead, split_page
from watcher.reading import DEFAULT_LIMITS, NO_VISIBLE_TEXT, Limits

logger = logging.getLogger(__name__)


# --- the visible text ------------------------------------------------------------------

# Elements whose content is never article text (<form> is handled as a soft skip below).
_SKIP_TAGS = frozenset(
    {"script", "style", "noscript", "template", "svg", "math", "iframe", "object", "canvas"}
    | {"head", "title", "nav", "header", "footer", "aside", "button", "select", "textarea"}
)
# Chrome containers are dropped by tag, role or id/class word, but a <form> or a classed
# element may wrap the whole page (ASP.NET pages wrap <body> in one <form>; a wrapper may
# be "has-sidebar"): such "soft" skips are undone at the end tag if they held real content.
_SOFT_SKIP_TAGS = frozenset({"form"})
_CHROME_WORDS = re.compile(
    r"nav|menu|breadcrumb|share|footer|sidebar|comment|related|toolbar|login|copyright"
    r"|advert|(?:^|[-_])ads?(?:[-_]|$)"
)
_CHROME_ROLES = frozenset({"navigation", "banner", "contentinfo", "complementary", "search"})
_NEVER_CHROME = frozenset({"html", "body", "main"})
_VOID_TAGS = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param"}
    | {"source", "track", "wbr"}
)
_PARAGRAPH_TAGS = frozenset(
    {"p", "div", "section", "article", "main", "blockquote", "pre", "table", "ul", "ol"}
    | {"dl", "figure", "figcaption", "address", "hr", "center", "fieldset", "details"}
    | {"summary"}
)
_LINE_TAGS = frozenset({"br", "li", "tr", "dt", "dd", "caption"})
_CELL_TAGS = frozenset({"td", "th"})
_HEADINGS = {f"h{level}": level for level in range(1, 7)}
# E-paper sites often set a story's headline in a classed block, not a heading element:
# <div class="title">, <p class="art-title">, <div class="headline">. A class naming a
# kicker or deck (subtitle, pretitle, sub-title) is no headline.
_HEADLINE_CLASS = re.compile(r"^(?:[a-z]+[-_])?(?:title|headline|biaoti)$")
_NOT_HEADLINE_CLASS = re.compile(r"sub|pre|fu|yin|deck|kicker|page|site|logo|nav|list")
_HEADLINE_BLOCKS = frozenset({"div", "p", "span", "td", "strong", "b", "a"})
# A new <p>/<li>/… closes an open one of the same kind (no end tags needed in HTML).
_SELF_CLOSING_SIBLINGS = frozenset({"p", "li", "dt", "dd", "tr", "td", "th", "option"})

# A soft-skipped element is kept if it wraps an <h1>, or 3+ <p> with 200+ characters.
_KEEP_MIN_PARAGRAPHS = 3
_KEEP_MIN_CHARS = 200

_CJK = "\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef"
# Source line breaks between two CJK characters are not spaces (CSS Text segment breaks).
_CJK_SEGMENT_BREAK = re.compile(rf"(?<=[{_CJK}])[ \t\r\f]*\n\s*(?=[{_CJK}])")
_HTML_SPACE = re.compile(r"[ \t\n\r\f]+")
_LINE_SPACE = re.compile(r"[ \t\f\xa0]+")


def _squash(text: str) -> str:
    """One line of text with every run of spaces (&nbsp; included) made one space."""
    return _LINE_SPACE.sub(" ", _HTML_SPACE.sub(" ", text)).strip()


# <meta> names giving a page's site and publication date, most specific first.
_SITE_META = ("og:site_name", "application-name", "source", "sitename")
_DATE_META = (
    "article:published_time",
    "publishdate",
    "pubdate",
    "publish_date",
    "og:release_date",
    "date",
    "dc.date",
)


class _Open:
    """An open element on the parser's stack."""

    __slots__ = ("hard", "headline", "mark", "soft", "tag")

    def __init__(self, tag: str, *, hard: bool = False, soft: bool = False) -> None:
        self.tag = tag
        self.hard = hard
        self.soft = soft
        self.headline = False  # a classed block that holds a story's headline
        self.mark: tuple[int, int, int] = (0, 0, 0)  # output length, h1s, <p>s at start


class _VisibleText(HTMLParser):
    """Collects a page's visible article text as markdown-style lines."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.title: str | None = None
        self.meta: dict[str, str] = {}
        self.articles = 0  # <article> elements: two or more make an e-paper page
        self.h1s = 0
        self.paragraphs = 0
        self._stack: list[_Open] = []
        self._hidden = 0  # open hard-skipped elements
        self._heading: tuple[int, list[str]] | None = None
        self._title_parts: list[str] | None = None
        self._pre = 0

    # - structure -

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "meta":
            named = dict(attrs)
            key = (named.get("property") or named.get("name") or "").lower()
            if key and named.get("content"):
                self.meta.setdefault(key, named["content"] or "")
        elif tag == "article":
            self.articles += 1
        if tag in _VOID_TAGS:
            if not self._hidden:
                if tag == "br":
                    self._break("\n")
                elif tag == "hr":
                    self._break("\n\n")
            return
        if tag in _SELF_CLOSING_SIBLINGS and self._stack and self._stack[-1].tag == tag:
            self._close(len(self._stack) - 1)
        hard, soft = self._skip_kind(tag, dict(attrs))
        element = _Open(tag, hard=hard, soft=soft)
        element.mark = (len(self.out), self.h1s, self.paragraphs)
        self._stack.append(element)
        if hard:
            self._hidden += 1
            if tag == "title" and self.title is None and self._only_head_hidden():
                self._title_parts = []
            return
        if self._hidden:
            return
        if tag in _HEADINGS:
            self._break("\n\n")
            self._heading = (_HEADINGS[tag], [])
        elif tag in _HEADLINE_BLOCKS and self._heading is None and _headline_class(attrs):
            self._break("\n\n")
            self._heading, element.headline = (1, []), True
        elif tag == "p":
            self.paragraphs += 1
            self._break("\n\n")
        elif tag == "pre":
            self._pre += 1
            self._break("\n\n")
        elif tag in _PARAGRAPH_TAGS:
            self._break("\n\n")
        elif tag in _LINE_TAGS:
            self._line()
        elif tag in _CELL_TAGS:
            self._emit(" ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        # <br/> is one line break, not a <br> and a stray </br> (two breaks).
        self.handle_starttag(tag, attrs)
        if tag not in _VOID_TAGS:
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        for index in range(len(self._stack) - 1, -1, -1):
            if self._stack[index].tag == tag:
                self._close(index)
                return
        # A stray end tag: ignored, as browsers do (but </br> still breaks a line).
        if tag == "br" and not self._hidden:
            self._break("\n")

    def _close(self, index: int) -> None:
        """Close the element at ``index`` and everything opened inside it."""
        while len(self._stack) > index:
            element = self._stack.pop()
            if element.hard:
                self._hidden -= 1
                if element.tag == "title" and self._title_parts is not None:
                    self.title = _squash("".join(self._title_parts))
                    self._title_parts = None
                continue
            if self._hidden:
                continue
            tag = element.tag
            if (tag in _HEADINGS or element.headline) and self._heading is not None:
                level, parts = self._heading
                self._heading = None
                heading = _squash("".join(parts))
                if heading:
                    self.h1s += level == 1
                    self._emit("#" * level + " " + heading)
                self._break("\n\n")
            elif tag == "pre":
                self._pre -= 1
                self._break("\n\n")
            elif tag in _PARAGRAPH_TAGS:
                self._break("\n\n")
            elif tag in _LINE_TAGS:
                self._line()
            if element.soft and not self._worth_keeping(element):
                del self.out[element.mark[0] :]
                self.h1s, self.paragraphs = element.mark[1], element.mark[2]

    def _skip_kind(self, tag: str, attrs: dict[str, str | None]) -> tuple[bool, bool]:
        """Return (hard, soft): whether the element is dropped outright or on probation."""
        if tag == "header":
            # An <article>'s own <header> holds its headline and byline; a page's is chrome.
            return not any(open_.tag == "article" for open_ in self._stack), False
        if tag in _SOFT_SKIP_TAGS:
            return False, True
        if tag in _SKIP_TAGS or "hidden" in attrs:
            return True, False
        style = (attrs.get("style") or "").replace(" ", "").lower()
        if "display:none" in style or "visibility:hidden" in style:
            return True, False
        if tag in _NEVER_CHROME:
            return False, False
        if (attrs.get("role") or "").lower() in _CHROME_ROLES:
            return False, True
        names = f"{attrs.get('id') or ''} {attrs.get('class') or ''}".lower().split()
        return False, any(_CHROME_WORDS.search(name) for name in names)

    def _worth_keeping(self, element: _Open) -> bool:
        """Whether a soft-skipped element turned out to wrap the article."""
        start, h1s, paragraphs = element.mark
        if self.h1s > h1s:
            return True
        chars = sum(len(piece.strip()) for piece in self.out[start:])
        return self.paragraphs - paragraphs >= _KEEP_MIN_PARAGRAPHS and chars >= _KEEP_MIN_CHARS

    def _only_head_hidden(self) -> bool:
        # <title> inside <svg> names a drawing, not the page.
        return all(open_.tag in ("head", "title") for open_ in self._stack if open_.hard)

    # - text -

    def handle_data(self, data: str) -> None:
        if self._title_parts is not None:
            self._title_parts.append(data)
            return
        if self._hidden or not data:
            return
        if self._pre:
            # <pre> keeps its line breaks; runs of spaces are still collapsed below.
            self._emit(data)
            return
        data = _HTML_SPACE.sub(" ", _CJK_SEGMENT_BREAK.sub("", data))
        if self._heading is not None:
            self._heading[1].append(data)
        else:
            self._emit(data)

    def _emit(self, piece: str) -> None:
        self.out.append(piece)

    def _break(self, newlines: str) -> None:
        if self._heading is not None:
            self._heading[1].append(" ")  # a <br> inside a heading
        else:
            self.out.append(newlines)

    def _line(self) -> None:
        """Start a new line unless one was just started (<li> and </li> make one break)."""
        if self._heading is not None:
            self._heading[1].append(" ")
            return
        for piece in reversed(self.out):
            if piece.strip(" "):
                if piece.rstrip(" ").endswith("\n"):
                    return
                break
        else:
            return  # nothing emitted yet: no break needed
        self.out.append("\n")

    def page_facts(self) -> Page:
        """The site name and publication date the page's ``<meta>`` tags give, and what
        its ``<title>`` tells of the page: a paper's name, a date, a page label."""
        site = next((self.meta[k] for k in _SITE_META if self.meta.get(k)), None)
        hint = _title_facts(self.title or "")
        day = None
        for key in _DATE_META:
            m = re.match(r"\s*(\d{4})-(\d{1,2})-(\d{1,2})", self.meta.get(key, ""))
            if m:
                try:
                    day = dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
                except ValueError:
                    continue
                break
        return Page(
            newspaper=" ".join(site.split()) if site else hint.newspaper,
            date=day or hint.date,
            page=hint.page,
            section=hint.section,
        )

    def text(self, *, title: bool = True) -> str:
        """The collected text: trimmed lines, paragraphs separated by one blank line.

        With ``title``, a page with no headline of its own is headed by its <title>
        (a single-article page), unless the title only names the paper and page.
        """
        lines = (_LINE_SPACE.sub(" ", line).strip() for line in "".join(self.out).split("\n"))
        text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
        named = self.title and (_title_facts(self.title).page or is_masthead(self.title))
        if title and not self.h1s and self.title and not named:
            text = f"# {self.title}\n\n{text}".rstrip()
        return text


# --- the reader ------------------------------------------------------------------------


def read_html(data: bytes, path: Path, limits: Limits = DEFAULT_LIMITS) -> Text:
    """HTML: a news page's article (trafilatura), or an e-paper page's visible text.

    A page with two or more ``<article>`` elements or ``<h1>`` headlines holds several
    articles: its visible text, headings as markdown ``#`` lines, is split like a text
    page. A page with one article is handed to trafilatura when it is installed
    (``watcher[html]``), which drops the site's chrome and finds the date and source;
    without it, or when it finds nothing, the built-in visible-text reading is used.
    """
    html, encoding = decode_html(data)
    parser = _VisibleText()
    parser.feed(html)
    parser.close()
    known = parser.page_facts()
    visible = parser.text(title=False)
    single = parser.articles < 2 and parser.h1s < 2 and not _several_stories(visible)
    if single and webpage.available():
        # Line breaks in the source between two Chinese characters are not spaces
        # (CSS Text); trafilatura would keep them as spaces.
        heads = re.findall(r"^# (.+)$", visible, flags=re.M)
        own = heads[0] if len(heads) == 1 else None
        found = webpage.extract_article(_CJK_SEGMENT_BREAK.sub("", html), own)
        if found is not None:
            text, facts = found
            # The source: the site's name, else a "来源：湖南日报" line under the headline
            # (which trafilatura drops with the rest of the info line).
            source = facts.newspaper or known.newspaper or _source_line(parser.text())
            page = Page(newspaper=source, date=facts.date or known.date)
            return Text(text=text, encoding=encoding, markup="markdown", page=page)
        logger.debug("%s: trafilatura found no article; using the visible text", path)
    # The <title> heads a page with one story; on an e-paper page it names the page.
    text = parser.text() if single else visible
    if not text.strip():
        raise ReadError(NO_VISIBLE_TEXT)
    has_facts = known.newspaper or known.date or known.page
    return Text(text=text, encoding=encoding, markup="markdown", page=known if has_facts else None)


def _headline_class(attrs: list[tuple[str, str | None]]) -> bool:
    names = " ".join(v or "" for k, v in attrs if k == "class").lower().split()
    return any(_HEADLINE_CLASS.match(n) and not _NOT_HEADLINE_CLASS.search(n) for n in names)


def _several_stories(text: str) -> bool:
    """Whether a page's visible text holds several stories rather than one, judged by
    how the splitter cuts it (headings, datelines, bylines): a page with one <h1> and
    its other stories under <h2>s, or under classed divs, is an e-paper page."""
    stories = [
        a for a in split_page(text, markup="markdown") if a.kind == "article" and a.chars >= 100
    ]
    return len(stories) >= 2


_TITLE_LABEL = re.compile(r"第\s*([A-Z]{0,2}\d{1,2})\s*版(?:\s*[:：]\s*([\u4e00-\u9fff]{2,6}))?")
_TITLE_DATE = re.compile(r"(\d{4})\s*[年\-/.]\s*(\d{1,2})\s*[月\-/.]\s*(\d{1,2})")


def _title_facts(title: str) -> Page:
    """What a page's <title> says about the page ("三湘都市报 - 2021年05月08日 - 第A02版：
    要闻"): a hint for page facts, never an article."""
    label = _TITLE_LABEL.search(title)
    day = None
    if m := _TITLE_DATE.search(title):
        try:
            day = dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        except ValueError:
            day = None
    paper = next(
        (p for p in re.split(r"[\s\-_|｜—–·:：]+", title) if MASTHEAD_PAPER.match(p)), None
    )
    return Page(
        newspaper=paper,
        date=day,
        page=label.group(1) if label else None,
        section=label.group(2) if label else None,
    )


_SOURCE = re.compile(r"(?:来源|來源|稿源)\s*[:：]\s*([\u4e00-\u9fff·A-Za-z]{2,20})")


def _source_line(text: str) -> str | None:
    """The source a news page names near its top ("来源：湖南日报"), if any."""
    for line in text.split("\n")[:30]:
        if m := _SOURCE.search(line):
            return m.group(1)
    return None

"""The readers stage: file bytes → text, picked by file suffix (as Pelican's readers).

Chinese pages arrive as UTF-8, GBK/GB18030, UTF-16 or, rarely, Big5, often without any
label saying which. ``decode`` tries the unambiguous answers first and a statistical guess
last, because detectors alone misread short GBK snippets (half of 10-character GBK texts
come out as Korean cp949). Every reader returns a :class:`~watcher.models.Text`.

Text, Markdown and HTML are read here. PDF (:mod:`watcher.pdf`) and DOCX
(:mod:`watcher.word`) are parsed by third-party code, in a child process with memory and
time limits (:mod:`watcher.sandbox`); a one-article web page goes to trafilatura
(:mod:`watcher.webpage`). Each of those packages is optional: a reader whose package is
missing fails with a message naming the extra to install (``pip install 'watcher[pdf]'``).

Adding a reader is one function and one line in :data:`READERS` (plus :data:`OPTIONAL`
when it needs a package, and :data:`CONTAINED` when it should run in the child process).
"""

from __future__ import annotations

import codecs
import datetime as dt
import importlib
import importlib.util
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import TYPE_CHECKING

from watcher import webpage
from watcher.errors import ReadError
from watcher.models import Page, Text

if TYPE_CHECKING:
    from watcher.sandbox import Worker

logger = logging.getLogger(__name__)

Reader = Callable[[bytes, Path], Text]

EMPTY = "empty file"
NO_VISIBLE_TEXT = "no visible text"
BINARY_NUL = "binary file (contains NUL bytes)"
BINARY_CONTROL = "binary file (too many control bytes)"
UNDECODABLE = "cannot decode: not valid UTF-8, UTF-16 or GB18030"

# UTF-32 LE's BOM starts with UTF-16 LE's, so the longer marks must be tried first.
_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)

# Control bytes that never occur in text; tab, LF, CR and form feed (OCR page breaks) do.
_CONTROL_BYTES = bytes(b for b in range(32) if b not in b"\t\n\r\f") + b"\x7f"
_MAX_CONTROL_SHARE = 0.05

# A UTF-16 guess without a BOM must give almost only characters a Chinese page uses.
_MIN_UTF16_PLAUSIBLE = 0.95

# Below this share of common characters a GB18030 reading is suspected to be Big5.
_MIN_GB2312_SHARE = 0.7

# Used only after strict UTF-8 and GB18030 failed: the detector may pick among these alone.
_DETECTOR_ENCODINGS = ["big5", "cp950", "big5hkscs", "gb18030", "utf_16", "utf_32"]

_C0_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def decode(data: bytes) -> tuple[str, str]:
    """Decode file bytes to clean text; return ``(text, encoding_name)`` or raise ReadError.

    Order: byte order mark; strict UTF-8; UTF-16 without BOM when nearly every character
    it gives is one a Chinese page uses; strict GB18030 (never GB2312: pages labelled so
    hold GBK-only characters), or Big5 when that reading is clearly better; finally
    charset-normalizer, limited to Chinese encodings. NULs or many control bytes outside
    UTF-16/32 mean a binary file.
    """
    if not data:
        raise ReadError(EMPTY)
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return _finish(data.decode(encoding)), encoding
            except UnicodeDecodeError:
                raise ReadError(
                    f"cannot decode: starts with a {encoding} byte order mark "
                    f"but is not valid {encoding}"
                ) from None
    if b"\0" in data:
        # NULs are normal only in UTF-16 (ASCII characters have a zero byte); else binary.
        wide = _sniff_utf16(data)
        if wide is None:
            raise ReadError(BINARY_NUL)
        return _finish(wide[0]), wide[1]
    controls = _too_many_controls(data)
    if not controls:
        try:
            return _finish(data.decode("utf-8")), "utf-8"
        except UnicodeDecodeError:
            pass
    # UTF-16 of CJK text has no NUL bytes but many control bytes (U+4E09 is 09 4E), and
    # GB18030 would decode most of it, so it is recognised here, before both verdicts.
    wide = _sniff_utf16(data)
    if wide is not None:
        return _finish(wide[0]), wide[1]
    if controls:
        raise ReadError(BINARY_CONTROL)
    try:
        text = data.decode("gb18030")
    except UnicodeDecodeError:
        pass
    else:
        big5 = _big5_instead(text, data)
        if big5 is not None:
            return _finish(big5), "big5hkscs"
        return _finish(text), "gb18030"
    damaged = _damaged(data)
    if damaged is not None:
        return damaged
    guessed = _detect(data)
    if guessed is not None:
        return _finish(guessed[0]), guessed[1]
    raise ReadError(UNDECODABLE)


# A page is read despite a few bad bytes (a damaged download, one bad sector):
# losing a character or two beats losing the page. More damage than this means
# the encoding guess is wrong, and the file fails.
MAX_BAD_SHARE = 0.001


def _damaged(data: bytes) -> tuple[str, str] | None:
    """UTF-8 or GB18030 text with a few undecodable bytes, each shown as U+FFFD."""
    for encoding in ("utf-8", "gb18030"):
        text = data.decode(encoding, errors="replace")
        bad = text.count("\ufffd") - data.decode(encoding, errors="ignore").count("\ufffd")
        # Only real pages (1,000+ characters) get the benefit of the doubt.
        if len(text) >= 1000 and 0 < bad <= max(1, len(text) * MAX_BAD_SHARE):
            logger.warning("decoded as %s with %d undecodable byte(s) replaced", encoding, bad)
            return _finish(text), f"{encoding} ({bad} bad bytes replaced)"
    return None


def _finish(text: str) -> str:
    """Normalise newlines, drop a BOM and control characters; reject blank text."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").removeprefix("\ufeff")
    text = _C0_CONTROLS.sub("", text)
    if not text.strip():
        raise ReadError(EMPTY)
    return text


def _too_many_controls(data: bytes) -> bool:
    """Whether too many bytes are controls that no text file contains."""
    controls = len(data) - len(data.translate(None, _CONTROL_BYTES))
    return controls / len(data) > _MAX_CONTROL_SHARE


def _is_plausible(char: str) -> bool:
    """Whether a character is one a Chinese news page is made of.

    Hangul, Yi, kana, rare ideographs (extension A) and private-use characters are left
    out on purpose: they are what GBK or Big5 bytes turn into when misread as UTF-16 or
    as each other.
    """
    code = ord(char)
    return (
        0x20 <= code < 0x7F
        or char in "\n\r\t"
        or 0xA0 <= code <= 0xFF  # ·, ×, é in names
        or 0x2000 <= code <= 0x206F  # general punctuation: —, …, “”
        or 0x2100 <= code <= 0x27BF  # symbols: ℃, ①, →, ■, ★
        or 0x3000 <= code <= 0x303F  # CJK punctuation: 。、「」
        or 0x3200 <= code <= 0x33FF  # enclosed and squared CJK: ㈠, ㎡
        or 0x4E00 <= code <= 0x9FFF  # CJK unified ideographs
        or 0xFE30 <= code <= 0xFE4F  # vertical forms: ︰
        or 0xFF00 <= code <= 0xFFEF  # full-width forms: ，：（）
    )


def _plausible_share(text: str) -> float:
    return sum(map(_is_plausible, text)) / len(text) if text else 0.0


def _sniff_utf16(data: bytes) -> tuple[str, str] | None:
    """Return ``(text, codec)`` if the BOM-less data is clearly UTF-16, else None."""
    if len(data) % 2:
        return None
    best: tuple[float, int, str, str] | None = None
    for codec in ("utf-16-le", "utf-16-be"):
        try:
            text = data.decode(codec)
        except UnicodeDecodeError:
            continue
        share = _plausible_share(text)
        # Both byte orders can look plausible ("\0A" is "A" one way, the ideograph U+4100
        # the other); the reading with more common characters (GB2312, ASCII) is the text.
        score = (_gb2312_count(text), share, text, codec)
        if share >= _MIN_UTF16_PLAUSIBLE and (best is None or score[:2] > best[:2]):
            best = score
    if best is None:
        return None
    logger.debug("no BOM, but the data reads as %s (%.0f%% plausible)", best[3], best[1] * 100)
    return best[2], best[3]


def _big5_instead(gb_text: str, data: bytes) -> str | None:
    """Return the Big5 reading when a strict GB18030 reading looks like misread Big5.

    GB18030 accepts nearly every byte pair, so Big5 files decode "successfully" into
    rare ideographs, kana and private-use characters, while real GBK text is mostly
    common simplified characters (GB2312), even with the odd 淥 or 勠.
    """
    wide = [char for char in gb_text if not char.isascii()]
    if len(wide) < 2:
        return None
    # Punctuation counts as common whatever its code point (GBK's — is U+2014, GB2312's
    # U+2015); letters must be GB2312 hanzi, which is what misread Big5 rarely gives.
    common = sum(1 for char in wide if _is_plausible(char) and not char.isalpha())
    common += _gb2312_count(
        "".join(char for char in wide if _is_plausible(char) and char.isalpha())
    )
    if common / len(wide) >= _MIN_GB2312_SHARE:
        return None
    try:
        big5_text = data.decode("big5hkscs")
    except UnicodeDecodeError:
        return None
    if _plausible_share(big5_text) < _MIN_UTF16_PLAUSIBLE:
        return None
    logger.debug(
        "strict GB18030 gave %d of %d uncommon characters; Big5 reads cleanly",
        len(wide) - common,
        len(wide),
    )
    return big5_text


def _gb2312_count(text: str) -> int:
    """How many characters of ``text`` are in GB2312 (ASCII and common simplified hanzi)."""
    return len(text.encode("gb2312", "ignore").decode("gb2312"))


def _detect(data: bytes) -> tuple[str, str] | None:
    """Last resort: charset-normalizer, allowed to pick only among Chinese encodings."""
    # Imported here: it is slow to import and needed only for rare, damaged files.
    from charset_normalizer import from_bytes

    match = from_bytes(data, cp_isolation=_DETECTOR_ENCODINGS).best()
    if match is None:
        return None
    logger.debug("charset-normalizer guessed %s", match.encoding)
    return str(match), match.encoding


# --- HTML -------------------------------------------------------------------------------

_DECLARED_CHARSET = re.compile(
    rb"""<meta[^>]*?charset\s*=\s*["']?\s*([a-z0-9_.:-]+)"""
    rb"""|<\?xml[^>]*?encoding\s*=\s*["']([a-z0-9_.:-]+)""",
    re.IGNORECASE,
)

# Pages labelled GB2312 routinely contain GBK-only characters (淥, 勠); GB18030 is the
# superset of all of them, as browsers (WHATWG Encoding) treat these labels as well.
_CHARSET_ALIASES = {
    "gb2312": "gb18030",
    "gb_2312": "gb18030",
    "gb_2312-80": "gb18030",
    "csgb2312": "gb18030",
    "euc-cn": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "cp936": "gb18030",
    "chinese": "gb18030",
    "big5": "big5hkscs",
    "big5-hkscs": "big5hkscs",
    "x-x-big5": "big5hkscs",
}


def _declared_codec(data: bytes) -> str | None:
    """The codec a ``<meta charset>`` or XML declaration in the first 2 KB names, if known."""
    found = _DECLARED_CHARSET.search(data[:2048])
    if found is None:
        return None
    label = (found.group(1) or found.group(2)).decode("ascii").lower()
    try:
        codec = codecs.lookup(_CHARSET_ALIASES.get(label, label)).name
    except LookupError:
        logger.debug("unknown charset label %r; detecting instead", label)
        return None
    # A page readable as ASCII is not UTF-16/32, whatever it claims (browsers agree).
    return None if codec.startswith(("utf-16", "utf-32")) else codec


def _decode_html(data: bytes) -> tuple[str, str]:
    """Decode HTML: BOM first, then a declared charset that decodes strictly, else decode()."""
    if not data or b"\0" in data or any(data.startswith(bom) for bom, _ in _BOMS):
        return decode(data)
    codec = _declared_codec(data)
    if codec is None:
        return decode(data)
    # Single-byte charsets accept any bytes, so a mislabelled Chinese page would turn into
    # mojibake; for those the label only breaks a tie that decode() cannot settle.
    if _accepts_any_byte(codec):
        try:
            return decode(data)
        except ReadError as exc:
            if str(exc) != UNDECODABLE:
                raise
    if _too_many_controls(data):
        raise ReadError(BINARY_CONTROL)
    try:
        return _finish(data.decode(codec)), codec
    except UnicodeDecodeError:
        logger.debug("page says %s but is not valid %s; detecting instead", codec, codec)
        return decode(data)


def _accepts_any_byte(codec: str) -> bool:
    """Whether (nearly) every non-ASCII byte alone is a character: Latin-1, cp1252, KOI8…"""
    return sum(_decodes(bytes([byte]), codec) for byte in range(0x80, 0x100)) > 100


def _decodes(data: bytes, codec: str) -> bool:
    try:
        data.decode(codec)
    except UnicodeDecodeError:
        return False
    return True


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

    __slots__ = ("hard", "mark", "soft", "tag")

    def __init__(self, tag: str, *, hard: bool = False, soft: bool = False) -> None:
        self.tag = tag
        self.hard = hard
        self.soft = soft
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
            if tag in _HEADINGS and self._heading is not None:
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
        """The site name and publication date the page's ``<meta>`` tags give."""
        site = next((self.meta[k] for k in _SITE_META if self.meta.get(k)), None)
        day = None
        for key in _DATE_META:
            m = re.match(r"\s*(\d{4})-(\d{1,2})-(\d{1,2})", self.meta.get(key, ""))
            if m:
                try:
                    day = dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
                except ValueError:
                    continue
                break
        return Page(newspaper=" ".join(site.split()) if site else None, date=day)

    def text(self) -> str:
        """The collected text: trimmed lines, paragraphs separated by one blank line."""
        lines = (_LINE_SPACE.sub(" ", line).strip() for line in "".join(self.out).split("\n"))
        text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
        if not self.h1s and self.title:
            text = f"# {self.title}\n\n{text}".rstrip()
        return text


def html_to_text(html: str) -> str:
    """The visible text of an HTML document, with markdown ``#`` headings."""
    parser = _VisibleText()
    parser.feed(html)
    parser.close()
    return parser.text()


# --- Markdown ---------------------------------------------------------------------------

_COMMENT_LINE = re.compile(r"^[ \t]*<!--.*?-->[ \t]*(?:\n|\Z)", re.MULTILINE | re.DOTALL)
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_IMAGE = re.compile(r"!\[[^\]\n]*\]\([^)\n]*\)")
_IMAGE_LINE = re.compile(rf"^[ \t]*(?:{_IMAGE.pattern}[ \t]*)+(?:\n|\Z)", re.MULTILINE)
_LINK = re.compile(r"\[([^\]\n]*)\]\([^)\n]*\)")
_BOLD_STARS = re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*")
# Underscores must hug letters, so a fill-in blank "______" is left alone.
_BOLD_UNDERSCORES = re.compile(r"__(?=[^_\s])([^_\n]+?)(?<=[^_\s])__")


def markdown_to_text(text: str) -> str:
    """Strip the markdown the splitter does not want: comments, links, images, bold."""
    text = _COMMENT.sub("", _COMMENT_LINE.sub("", text))
    text = _IMAGE.sub("", _IMAGE_LINE.sub("", text))
    text = _LINK.sub(r"\1", text)
    text = _BOLD_STARS.sub(r"\1", text).replace("**", "")
    text = _BOLD_UNDERSCORES.sub(r"\1", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip("\n")


# --- readers and registry ---------------------------------------------------------------


@dataclass(frozen=True)
class Limits:
    """Bounds on reading one binary document (from the ``scan:`` config section)."""

    max_pdf_pages: int = 100
    max_unzipped_mb: float = 200.0
    memory_mb: int = 1024
    timeout: float = 120.0
    # Parse PDF and DOCX in a child process (see watcher.sandbox); off only in tests
    # of the parsers themselves.
    isolate: bool = True


DEFAULT_LIMITS = Limits()


def read_plain(data: bytes, path: Path) -> Text:
    """Plain text: decoded and cleaned, otherwise untouched (``#`` headings included)."""
    text, encoding = decode(data)
    return Text(text=text, encoding=encoding, markup="plain")


def read_markdown(data: bytes, path: Path) -> Text:
    """Markdown: comments, link targets, images and bold markers removed."""
    text, encoding = decode(data)
    text = markdown_to_text(text)
    if not text.strip():
        raise ReadError(NO_VISIBLE_TEXT)
    return Text(text=text, encoding=encoding, markup="markdown")


def read_html(data: bytes, path: Path) -> Text:
    """HTML: a news page's article (trafilatura), or an e-paper page's visible text.

    A page with two or more ``<article>`` elements or ``<h1>`` headlines holds several
    articles: its visible text, headings as markdown ``#`` lines, is split like a text
    page. A page with one article is handed to trafilatura when it is installed
    (``watcher[html]``), which drops the site's chrome and finds the date and source;
    without it, or when it finds nothing, the built-in visible-text reading is used.
    """
    html, encoding = _decode_html(data)
    parser = _VisibleText()
    parser.feed(html)
    parser.close()
    known = parser.page_facts()
    single = parser.articles < 2 and parser.h1s < 2
    if single and webpage.available():
        # Line breaks in the source between two Chinese characters are not spaces
        # (CSS Text); trafilatura would keep them as spaces.
        found = webpage.extract_article(_CJK_SEGMENT_BREAK.sub("", html))
        if found is not None:
            text, facts = found
            # The source: the site's name, else a "来源：湖南日报" line under the headline
            # (which trafilatura drops with the rest of the info line).
            source = facts.newspaper or known.newspaper or _source_line(parser.text())
            page = Page(newspaper=source, date=facts.date or known.date)
            return Text(text=text, encoding=encoding, markup="markdown", page=page)
        logger.debug("%s: trafilatura found no article; using the visible text", path)
    text = parser.text()
    if not text.strip():
        raise ReadError(NO_VISIBLE_TEXT)
    has_facts = known.newspaper or known.date
    return Text(text=text, encoding=encoding, markup="markdown", page=known if has_facts else None)


_SOURCE = re.compile(r"(?:来源|來源|稿源)\s*[:：]\s*([\u4e00-\u9fff·A-Za-z]{2,20})")


def _source_line(text: str) -> str | None:
    """The source a news page names near its top ("来源：湖南日报"), if any."""
    for line in text.split("\n")[:30]:
        if m := _SOURCE.search(line):
            return m.group(1)
    return None


def read_pdf(data: bytes, path: Path, limits: Limits = DEFAULT_LIMITS) -> Text:
    """PDF: text in reading order across columns, headlines found by type size."""
    from watcher import pdf

    return pdf.read_pdf(data, path, max_pages=limits.max_pdf_pages)


def read_docx(data: bytes, path: Path, limits: Limits = DEFAULT_LIMITS) -> Text:
    """DOCX: paragraphs, heading styles as ``#`` headings, tables as lines."""
    from watcher import word

    return word.read_docx(data, path, max_unzipped_mb=limits.max_unzipped_mb)


READERS: dict[str, Reader] = {
    ".txt": read_plain,
    ".md": read_markdown,
    ".markdown": read_markdown,
    ".html": read_html,
    ".htm": read_html,
    ".xhtml": read_html,
    ".pdf": read_pdf,
    ".docx": read_docx,
}

# Readers that run in the child process (watcher.sandbox), by these names: PDF and DOCX
# always (third-party parsers of binary formats), HTML above HTML_IN_PROCESS bytes
# (trafilatura's time grows faster than the page: 3.6 s for 1 MB, 28 s for 6 MB).
CONTAINED: dict[str, Callable[[bytes, Path, Limits], Text]] = {
    "read_pdf": read_pdf,
    "read_docx": read_docx,
    "read_html": lambda data, path, limits: read_html(data, path),
}
HTML_IN_PROCESS = 512 * 1024

# The optional packages a reader needs: (module, package, extra, what files).
OPTIONAL: dict[Reader, tuple[str, str, str, str]] = {
    read_pdf: ("pdfminer", "pdfminer.six", "pdf", "PDF"),
    read_docx: ("docx", "python-docx", "docx", "DOCX"),
}


def needs(kind: str, package: str, extra: str) -> str:
    """The message for a reader whose optional package is missing."""
    return (
        f"reading {kind} files needs the optional package {package}: pip install 'watcher[{extra}]'"
    )


def reader_for(path: Path) -> Reader | None:
    """The reader for a file's suffix (case-insensitive), or None for unknown types."""
    return READERS.get(path.suffix.lower())


def unavailable(path: Path) -> str | None:
    """Why the reader for ``path`` cannot run here (a missing package), or None."""
    reason = needs_reason(path)
    if reason is None:
        return None
    module = OPTIONAL[reader_for(path)][0]  # type: ignore[index]
    return reason if importlib.util.find_spec(module) is None else None


def formats() -> list[str]:
    """What each file type is read with here, for ``watcher check``."""
    html = (
        "article extraction with trafilatura"
        if webpage.available()
        else "built-in (pip install 'watcher[html]' for article extraction)"
    )
    out = [".txt .md: yes", f".html .htm: {html}"]
    for suffix in (".pdf", ".docx"):
        missing = unavailable(Path(f"x{suffix}"))
        out.append(f"{suffix}: " + ("yes" if missing is None else f"no, {missing.split(': ')[-1]}"))
    return out


def needs_reason(path: Path) -> str | None:
    """The failure reason recorded for ``path`` when its reader's package is missing."""
    reader = reader_for(path)
    if reader not in OPTIONAL:
        return None
    _, package, extra, kind = OPTIONAL[reader]
    return needs(kind, package, extra)


def read_bytes(
    path: Path, data: bytes, limits: Limits = DEFAULT_LIMITS, worker: Worker | None = None
) -> Text:
    """Read a file's bytes with the reader its suffix selects; raise ReadError on failure.

    PDF and DOCX are read in a child process: ``worker``'s when given (a scan keeps one
    for all its files), else a new one for this file; ``limits.isolate=False`` reads
    them in this process.
    """
    reader = reader_for(path)
    if reader is None:
        suffix = path.suffix.lower()
        raise ReadError(
            f"unsupported file type {suffix!r}" if suffix else "unsupported file type (no suffix)"
        )
    missing = unavailable(path)
    if missing is not None:
        raise ReadError(missing)
    name = reader.__name__
    contained = name in CONTAINED and (reader is not read_html or len(data) > HTML_IN_PROCESS)
    if contained:
        if worker is not None and limits.isolate:
            text = worker.read(name, data, path)
        elif limits.isolate:
            from watcher import sandbox

            text = sandbox.run(name, data, path, limits)
        else:
            text = CONTAINED[name](data, path, limits)
    else:
        text = reader(data, path)
    logger.debug("%s: read %d characters as %s", path, len(text.text), text.encoding)
    return text

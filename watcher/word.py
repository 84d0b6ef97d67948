"""The DOCX reader: a Word document's body as plain text with ``#`` headings.

The only module that imports python-docx (an optional dependency, imported when a file is
read). python-docx opens the package and checks that it is a Word document; the body is
then walked as XML, because ``Document.iter_inner_content()`` skips everything wrapped in
another element: content controls (``w:sdt``), ``w:customXml``, tracked insertions
(``w:ins``) and text boxes.

What the splitter (:func:`watcher.pages.split_page`) gets:

* one block per paragraph, blocks separated by a blank line; a soft line break inside a
  paragraph is a single newline, a page or column break starts a new block, a tab is a
  space; otherwise the text is kept exactly (no spaces between Chinese characters);
* headings as ``#`` lines: style Title or Heading 1 is ``#``, Heading N is N ``#``
  (at most 6), as is an outline level set on the paragraph or its style (Chinese Word's
  "标题 1" is "heading 1" inside the file; WPS may write "标题 1" or only an outline level);
  a heading's soft-broken lines (a two-line banner headline) are joined by a space; a
  Subtitle is an ordinary line, which the splitter takes as the headline's subtitle;
* a headline formatted by hand is a ``#`` heading too: a paragraph with no heading style,
  every non-blank run bold, at least 1.3 times the document's most common font size
  (counted by characters), at most 64 characters and without a 。;
* a table as one line per row, cells joined by `` | ``, merged cells once, nested tables
  flattened into their cell; a 1×1 table is a frame around text and is read as text;
* text boxes (newspaper layouts put whole articles in them) after the paragraph that
  anchors them, each paragraph its own block, in the file's order, not by their place on
  the page; deleted revisions, hidden text, field codes, pinyin guides, footnotes,
  headers and footers are not read.
"""

from __future__ import annotations

import io
import logging
import re
import zipfile
import zlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from watcher.errors import ReadError
from watcher.models import Text
from watcher.reading import EMPTY, NO_VISIBLE_TEXT, Package

if TYPE_CHECKING:
    from lxml.etree import _Element

logger = logging.getLogger(__name__)

# What this module needs installed; the registry (watcher.readers) looks it up first.
PYTHON_DOCX = Package(module="docx", name="python-docx", extra="docx", kind="DOCX")

ENCRYPTED_OR_DOC = (
    "password-protected (encrypted) Word file, or an old binary .doc: "
    "save it as an unprotected .docx"
)
DAMAGED = "damaged DOCX: {}"
NOT_WORD = "not a Word document: {}"
TOO_BIG = "DOCX unpacks to {size:.0f} MB, more than the {limit:g} MB allowed"
ZIP_BOMB = (
    "DOCX looks like a zip bomb: {name} unpacks to {size:.0f} MB from {packed:.0f} KB "
    "({ratio:.0f}:1, more than {max_ratio}:1 allowed)"
)

# Encrypted Office files and pre-2007 .doc files are OLE compound files, not ZIPs.
CFB_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
# Text compresses about 10:1 and even repetitive XML stays far below 200:1; deflate's
# limit is about 1030:1, which bombs use. Small parts are let through: they cannot hurt.
MAX_RATIO = 200
RATIO_MIN_BYTES = 1 << 20
MB = 1 << 20

HEADING_RATIO = 1.3  # a hand-made headline's size against the body text's
HEADING_MAX_CHARS = 64  # as long as a headline gets (two rows of a banner headline)
MAX_HEADING_LEVEL = 6
BODY, SUBTITLE = 0, -1  # paragraph roles besides heading levels 1…6
WORD_DEFAULT_SIZE = 20  # half-points: Word's size when neither styles nor defaults say

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
MC = "{http://schemas.openxmlformats.org/markup-compatibility/2006}"
XML_P, XML_TBL, XML_R, XML_T = W + "p", W + "tbl", W + "r", W + "t"
XML_SDT, XML_SDT_CONTENT, XML_TXBX = W + "sdt", W + "sdtContent", W + "txbxContent"
XML_ALTERNATE, XML_CHOICE, XML_FALLBACK = MC + "AlternateContent", MC + "Choice", MC + "Fallback"
# Wrappers around paragraphs and tables in a body, a cell or a text box.
BLOCK_WRAPPERS = frozenset({XML_SDT_CONTENT, W + "customXml", W + "ins", W + "moveTo"})
# Inside a paragraph: properties, deleted text and field codes, never visible text.
INLINE_SKIP = frozenset(
    {W + "pPr", W + "rPr", W + "sdtPr", W + "sdtEndPr", W + "del", W + "moveFrom"}
    | {W + "customXmlPr", W + "smartTagPr", W + "fldData"}
)
HEADING_NAME = re.compile(r"(?:heading|标题)([1-9])")
TITLE_NAMES = frozenset({"title", "标题"})
SUBTITLE_NAMES = frozenset({"subtitle", "副标题"})
OFF = frozenset({"0", "false", "off"})


def read_docx(data: bytes, path: Path, *, max_unzipped_mb: float = 200) -> Text:
    """DOCX: the body's text in reading order, headings as ``#`` lines (see module doc)."""
    docx = _import_docx()
    from lxml import etree

    _check_package(data, max_unzipped_mb)
    try:
        document = docx.Document(io.BytesIO(data))
    except KeyError as exc:
        # The package names a part that the ZIP lacks.
        missing = str(exc.args[0] if exc.args else exc)
        if "word/document.xml" in missing:
            raise ReadError(NOT_WORD.format("no word/document.xml in the package")) from None
        if "relationship" in missing:
            raise ReadError(NOT_WORD.format("the package names no main document")) from None
        raise ReadError(DAMAGED.format(missing)) from None
    except ValueError as exc:
        # python-docx: "file '…' is not a Word file, content type is '…'".
        if "content type" in str(exc):
            kind = str(exc).rpartition("content type is ")[2]
            raise ReadError(NOT_WORD.format(f"its main part is {kind}")) from None
        raise ReadError(DAMAGED.format(exc)) from None
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as exc:
        raise ReadError(DAMAGED.format(exc)) from None
    except (docx.exceptions.PythonDocxError, docx.opc.exceptions.OpcError) as exc:
        raise ReadError(DAMAGED.format(exc)) from None
    except etree.XMLSyntaxError as exc:
        raise ReadError(DAMAGED.format(f"broken XML: {exc}")) from None
    styles = _Styles(document.styles.element)
    walker = _Walker(styles)
    body = document.element.find(W + "body")
    if body is not None:
        walker.blocks(body)
    text = "\n\n".join(walker.render())
    if not text.strip():
        raise ReadError(NO_VISIBLE_TEXT)
    logger.debug("%s: %d paragraphs and tables", path, len(walker.items))
    return Text(text=text, encoding="docx", markup="plain")


def _import_docx() -> ModuleType:
    """python-docx, or a ReadError naming the package to install."""
    try:
        import docx
        import docx.exceptions
        import docx.opc.exceptions
    except ImportError:
        raise ReadError(PYTHON_DOCX.missing) from None
    return docx


# --- the package ----------------------------------------------------------------------


def _check_package(data: bytes, max_unzipped_mb: float) -> None:
    """Refuse what is not a DOCX, or would unpack to too much, before anything is parsed."""
    if not data:
        raise ReadError(EMPTY)
    if data.startswith(CFB_MAGIC):
        raise ReadError(ENCRYPTED_OR_DOC)
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as package:
            infos = package.infolist()
    except (zipfile.BadZipFile, ValueError, EOFError, OSError) as exc:
        if data.startswith(b"PK"):
            raise ReadError(DAMAGED.format("not a complete ZIP package (cut short?)")) from exc
        raise ReadError(NOT_WORD.format(_what_instead(data))) from None
    names = {info.filename for info in infos}
    other = _other_office_format(names)
    if other:
        raise ReadError(NOT_WORD.format(other))
    if any(info.flag_bits & 0x1 for info in infos):
        raise ReadError(ENCRYPTED_OR_DOC)
    # zipfile stops reading a part at the size the directory declares (and then fails its
    # CRC check), so the declared sizes bound what python-docx can unpack into memory.
    total = sum(info.file_size for info in infos)
    if total > max_unzipped_mb * MB:
        raise ReadError(TOO_BIG.format(size=total / MB, limit=max_unzipped_mb))
    for info in infos:
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > RATIO_MIN_BYTES and ratio > MAX_RATIO:
            raise ReadError(
                ZIP_BOMB.format(
                    name=info.filename,
                    size=info.file_size / MB,
                    packed=info.compress_size / 1024,
                    ratio=ratio,
                    max_ratio=MAX_RATIO,
                )
            )


def _what_instead(data: bytes) -> str:
    """What a file with a .docx name that is not a ZIP package probably is."""
    head = data[:64].lstrip().lower()
    if head.startswith(b"{\\rtf"):
        return "an RTF file with a .docx name; save it as .docx"
    if head.startswith((b"<html", b"<!doctype", b"mime-version")):
        return "a web page with a .docx name; save it as .docx"
    return "not a ZIP package; save it as .docx"


def _other_office_format(names: set[str]) -> str | None:
    """The name of another ZIP-based office format, if the package is one."""
    if "word/document.xml" in names:
        return None
    if "xl/workbook.xml" in names:
        return "an Excel workbook (.xlsx) with a .docx name"
    if "ppt/presentation.xml" in names:
        return "a PowerPoint file (.pptx) with a .docx name"
    if "content.xml" in names and "mimetype" in names:
        return "an OpenDocument file (.odt) with a .docx name; save it as .docx"
    if "[Content_Types].xml" not in names:
        return "a ZIP archive without a Word document inside"
    return None


# --- styles ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _RunFormat:
    bold: bool | None = None
    size: int | None = None  # half-points, as Word stores w:sz
    hidden: bool | None = None

    def over(self, base: _RunFormat) -> _RunFormat:
        """These properties where set, else ``base``'s."""
        return _RunFormat(
            bold=base.bold if self.bold is None else self.bold,
            size=base.size if self.size is None else self.size,
            hidden=base.hidden if self.hidden is None else self.hidden,
        )


class _Styles:
    """The paragraph roles and run formats that a document's styles give."""

    def __init__(self, root: _Element | None) -> None:
        self._by_id: dict[str, _Element] = {}
        self._default_paragraph: str | None = None
        self._default_format = _RunFormat(size=WORD_DEFAULT_SIZE)
        self._cache: dict[tuple[str | None, str | None], _RunFormat] = {}
        if root is None:
            return
        for style in root.iterchildren(W + "style"):
            style_id = style.get(W + "styleId")
            if style_id is None:
                continue
            self._by_id[style_id] = style
            if style.get(W + "type") == "paragraph" and _on(style.get(W + "default"), False):
                self._default_paragraph = style_id
        defaults = root.find(f"{W}docDefaults/{W}rPrDefault/{W}rPr")
        self._default_format = _run_format(defaults).over(self._default_format)

    def paragraph_style(self, p_pr: _Element | None) -> str | None:
        style = _val(p_pr, "pStyle")
        return style if style in self._by_id else self._default_paragraph

    def role(self, style_id: str | None) -> int:
        """Heading level 1…6 a paragraph style gives, or BODY, or SUBTITLE."""
        for style in self._chain(style_id):
            role = _style_role(style)
            if role is not None:
                return role
        return BODY

    def run_format(self, paragraph_style: str | None, run_style: str | None) -> _RunFormat:
        """Bold, size and hidden as defaults, paragraph style and character style set them."""
        key = (paragraph_style, run_style)
        if key not in self._cache:
            fmt = self._default_format
            for style_id in (paragraph_style, run_style):
                for style in reversed(list(self._chain(style_id))):
                    fmt = _run_format(style.find(W + "rPr")).over(fmt)
            self._cache[key] = fmt
        return self._cache[key]

    def _chain(self, style_id: str | None) -> Iterator[_Element]:
        """A style and the styles it is based on, most specific first (cycles cut)."""
        seen: set[str] = set()
        while style_id is not None and style_id not in seen and style_id in self._by_id:
            seen.add(style_id)
            style = self._by_id[style_id]
            yield style
            style_id = _val(style, "basedOn")


def _style_role(style: _Element) -> int | None:
    """What one style says about a paragraph's role, or None when it says nothing."""
    for raw in (_val(style, "name"), style.get(W + "styleId")):
        name = re.sub(r"\s+", "", raw or "").lower()
        if name in TITLE_NAMES:
            return 1
        if name in SUBTITLE_NAMES:
            return SUBTITLE
        heading = HEADING_NAME.fullmatch(name)
        if heading:
            return min(int(heading.group(1)), MAX_HEADING_LEVEL)
    return _outline_role(style.find(W + "pPr"))


def _outline_role(p_pr: _Element | None) -> int | None:
    """The role an outline level gives: ``w:outlineLvl`` 0 is level 1, 9 is body text."""
    level = _val(p_pr, "outlineLvl")
    if level is None or not level.isdigit():
        return None
    return BODY if int(level) >= 9 else min(int(level) + 1, MAX_HEADING_LEVEL)


def _run_format(r_pr: _Element | None) -> _RunFormat:
    if r_pr is None:
        return _RunFormat()
    bold = r_pr.find(W + "b")
    hidden = r_pr.find(W + "vanish")
    size = _val(r_pr, "sz")
    return _RunFormat(
        bold=None if bold is None else _on(bold.get(W + "val")),
        size=int(size) if size is not None and size.isdigit() else None,
        hidden=None if hidden is None else _on(hidden.get(W + "val")),
    )


def _val(parent: _Element | None, tag: str) -> str | None:
    """The ``w:val`` of a child element, e.g. ``_val(p_pr, "pStyle")``."""
    if parent is None:
        return None
    child = parent.find(W + tag)
    return None if child is None else child.get(W + "val")


def _on(value: str | None, default: bool = True) -> bool:
    """An on/off attribute: present without a value means on."""
    return default if value is None else value.lower() not in OFF


# --- the body -------------------------------------------------------------------------


@dataclass
class _Paragraph:
    pieces: list[list[str]] = field(default_factory=lambda: [[]])  # split at page breaks
    role: int = BODY
    runs: list[tuple[int, _RunFormat]] = field(default_factory=list)  # visible chars, format

    def texts(self) -> list[str]:
        return ["".join(piece) for piece in self.pieces]


@dataclass
class _Table:
    rows: list[list[str]]  # the cells' texts, each on one line


class _Walker:
    """Collects a body's paragraphs and tables in reading order, text boxes included."""

    def __init__(self, styles: _Styles) -> None:
        self.styles = styles
        self.items: list[_Paragraph | _Table] = []
        self.sizes: Counter[int] = Counter()  # characters per font size

    def blocks(self, container: _Element) -> None:
        for child in container:
            if child.tag == XML_P:
                self.paragraph(child)
            elif child.tag == XML_TBL:
                self.table(child)
            elif child.tag == XML_SDT:
                content = child.find(XML_SDT_CONTENT)
                if content is not None:
                    self.blocks(content)
            elif child.tag in BLOCK_WRAPPERS:
                self.blocks(child)

    def paragraph(self, p: _Element) -> None:
        p_pr = p.find(W + "pPr")
        style = self.styles.paragraph_style(p_pr)
        role = _outline_role(p_pr)
        para = _Paragraph(role=self.styles.role(style) if role is None else role)
        boxes: list[_Element] = []
        self._inline(p, para, style, boxes)
        self.items.append(para)
        for box in boxes:
            self.blocks(box)

    def _inline(
        self, parent: _Element, para: _Paragraph, style: str | None, boxes: list[_Element]
    ) -> None:
        for child in parent:
            if child.tag == XML_R:
                self._run(child, para, style, boxes)
            elif child.tag == XML_ALTERNATE:
                self._inline(_choice(child), para, style, boxes)
            elif child.tag not in INLINE_SKIP:
                # Hyperlinks, insertions, inline content controls, smart tags, fields.
                self._inline(child, para, style, boxes)

    def _run(self, r: _Element, para: _Paragraph, style: str | None, boxes: list[_Element]) -> None:
        r_pr = r.find(W + "rPr")
        fmt = _run_format(r_pr).over(self.styles.run_format(style, _val(r_pr, "rStyle")))
        if fmt.hidden:
            return
        visible = 0
        for child in r:
            tag = child.tag
            if tag == XML_T:
                # itertext: text after an (unexpanded) entity reference is the entity's tail.
                text = "".join(child.itertext())
                para.pieces[-1].append(text)
                visible += len("".join(text.split()))
            elif tag in (W + "tab", W + "ptab"):
                para.pieces[-1].append(" ")
            elif tag == W + "br" and child.get(W + "type") in ("page", "column"):
                para.pieces.append([])
            elif tag in (W + "br", W + "cr"):
                para.pieces[-1].append("\n")
            elif tag == W + "noBreakHyphen":
                para.pieces[-1].append("-")
            elif tag == W + "ruby":
                # Pinyin over characters: the characters are the text, not the guide.
                base = child.find(W + "rubyBase")
                if base is not None:
                    self._inline(base, para, style, boxes)
            elif tag not in INLINE_SKIP:
                _find_boxes(child, boxes)
        if visible:
            para.runs.append((visible, fmt))
            self.sizes[fmt.size or WORD_DEFAULT_SIZE] += visible

    def table(self, tbl: _Element) -> None:
        cells = [[tc for tc in _children(tr, W + "tc")] for tr in _children(tbl, W + "tr")]
        if len(cells) == 1 and len(cells[0]) == 1:
            # A one-cell table is a frame around text, not data: read it as text.
            self.blocks(cells[0][0])
            return
        rows = []
        for row in cells:
            texts = [self._cell_text(tc) for tc in row if not _merged_away(tc)]
            if any(texts):
                rows.append([text for text in texts if text])
        if rows:
            self.items.append(_Table(rows))

    def _cell_text(self, tc: _Element) -> str:
        """A cell's text on one line; nested tables and text boxes are flattened into it."""
        outer, self.items = self.items, []
        try:
            self.blocks(tc)
            parts = [
                " ".join(" ".join(row) for row in item.rows)
                if isinstance(item, _Table)
                else " ".join(item.texts())
                for item in self.items
            ]
        finally:
            self.items = outer
        return " ".join(" ".join(parts).split())

    def render(self) -> list[str]:
        """The text blocks, headings marked; hand-made headlines found now all sizes are known."""
        body_size = max(self.sizes.items(), key=lambda kv: (kv[1], -kv[0]))[0] if self.sizes else 0
        blocks: list[str] = []
        for item in self.items:
            if isinstance(item, _Table):
                blocks.append("\n".join(" | ".join(row) for row in item.rows))
                continue
            level = item.role
            if level == BODY and _hand_made_headline(item, body_size):
                level = 1
            for text in item.texts():
                if not text.strip():
                    continue
                if level > 0:
                    # A banner headline printed on two lines is one headline.
                    blocks.append("#" * level + " " + " ".join(text.split()))
                else:
                    blocks.append(_trim_blank_lines(text))
        return blocks


def _hand_made_headline(para: _Paragraph, body_size: int) -> bool:
    """Bold throughout, 1.3× the body size or more, short and not a sentence."""
    text = "".join(para.texts()).strip()
    return (
        bool(para.runs)
        and body_size > 0
        and len(text) <= HEADING_MAX_CHARS
        and "。" not in text
        and all(fmt.bold for _, fmt in para.runs)
        and all((fmt.size or 0) >= HEADING_RATIO * body_size for _, fmt in para.runs)
    )


def _choice(alternate: _Element) -> _Element:
    """The first ``mc:Choice`` of an ``mc:AlternateContent`` (its fallback repeats it)."""
    for tag in (XML_CHOICE, XML_FALLBACK):
        found = alternate.find(tag)
        if found is not None:
            return found
    return alternate


def _find_boxes(element: _Element, boxes: list[_Element]) -> None:
    """Collect the outermost text boxes inside a drawing, picture or object."""
    if element.tag == XML_TXBX:
        boxes.append(element)
        return
    if element.tag == XML_ALTERNATE:
        element = _choice(element)
    for child in element:
        _find_boxes(child, boxes)


def _children(parent: _Element, tag: str) -> Iterator[_Element]:
    """Children with ``tag``, also those wrapped in content controls or custom XML."""
    for child in parent:
        if child.tag == tag:
            yield child
        elif child.tag == XML_SDT:
            content = child.find(XML_SDT_CONTENT)
            if content is not None:
                yield from _children(content, tag)
        elif child.tag in BLOCK_WRAPPERS:
            yield from _children(child, tag)


def _merged_away(tc: _Element) -> bool:
    """Whether a cell continues a merge begun in the cell above or to the left."""
    tc_pr = tc.find(W + "tcPr")
    if tc_pr is None:
        return False
    for tag in ("vMerge", "hMerge"):
        merge = tc_pr.find(W + tag)
        if merge is not None and merge.get(W + "val", "continue") == "continue":
            return True
    return False


def _trim_blank_lines(text: str) -> str:
    """A paragraph without blank lines at its start or end (soft breaks around it)."""
    lines = text.split("\n")
    while lines and not lines[0].strip():
        lines.pop(0)
    while lines and not lines[-1].strip():
        lines.pop()
    return "\n".join(lines)

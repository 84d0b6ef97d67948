"""Turn a seed page's text into the other documents watcher must read.

Tests feed a seed (OCR text of a newspaper page) through these generators and
check that the PDF / DOCX / HTML readers give back the same articles as the
text does. The documents are typeset the way a person would make them: a PDF
page in balanced columns with paragraphs broken across columns and pages, a
Word file with headings and soft line breaks, e-paper and news-site HTML with
the site chrome a reader must drop. There are also broken documents (scans,
passwords, bombs, truncations) for the readers' error paths.

Everything is deterministic: the same text gives the same bytes, except the
encrypted files, whose salts are random by design.

Third-party libraries are imported inside the functions that need them, so a
test of one format can ``pytest.importorskip`` just its own library.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import html
import io
import itertools
import random
import re
import shutil
import subprocess
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from watcher.models import Article
from watcher.pages import (
    BREADCRUMB,
    DATE_FULL,
    HEADING,
    PAGE_NO,
    PAPER_NAME,
    SECTION_NAMES,
    is_prose,
    split_page,
)

if TYPE_CHECKING:
    from reportlab.pdfgen.canvas import Canvas

# --- typography (points) ----------------------------------------------------

PAGE_W, PAGE_H = 595.2755905511812, 841.8897637795277  # A4 portrait
MARGIN = 42.0
GUTTER = 16.0
FONT = "STSong-Light"  # Adobe's built-in Chinese CID font: every viewer has it, nothing embedded
# role -> (font size, leading)
TYPE_SIZES: dict[str, tuple[float, float]] = {
    "body": (10.5, 16.0),
    "h1": (20.0, 26.0),
    "display": (14.0, 19.0),
    "h2": (13.5, 18.0),
}
# Deeper sub-headings (###…) are set a size smaller than ## ones, as print does; the
# reader ranks sub-heading sizes into levels.
SUBHEAD_SIZES: dict[int, tuple[float, float]] = {3: (12.5, 17.0)}
# Leading as a multiple of the size, per role, as the sizes above have it.
LEADINGS = {
    **{role: leading / size for role, (size, leading) in TYPE_SIZES.items()},
    "h3": SUBHEAD_SIZES[3][1] / SUBHEAD_SIZES[3][0],
}
GAP_FACTOR = 0.6  # extra space above a block's first line, in leadings
INDENT_EMS = 2  # prose paragraphs open with a two-character indent, as Chinese papers do
FURNITURE_SIZE = 9.0  # running header and folio
HEADER_Y = PAGE_H - 28
FOOTER_Y = 24.0
RULE_WIDTH = 0.5  # hairline drawn between stories

PROSE_PUNCT = "。！？；"
DATE_LINE = re.compile(r"\d{4}\s*年\s*\d{1,2}\s*月")
DOCX_DATE = dt.datetime(2021, 1, 1, 0, 0, 0)
ZIP_DATE = (2021, 1, 1, 0, 0, 0)
MIB = 1 << 20

DEFAULT_SITE = "湖南日报数字报"
NAV = ("首页", "要闻", "时政", "经济", "社会", "文化", "教育", "健康", "视频", "专题")
SIDEBAR_PAGES = ("第01版：要闻", "第02版：要闻", "第03版：时政", "第04版：经济", "第05版：社会")
RELATED = (
    ("https://example.com/news/1001.html", "全省经济运行情况新闻发布会召开"),
    ("https://example.com/news/1002.html", "一图读懂今年以来我省重点项目建设"),
    ("https://example.com/news/1003.html", "评论：以实干担当推动高质量发展"),
)
SHARE_LABEL = "分享到微信朋友圈"
SHARE_HINT = "打开微信,点击 “ 发现 ” ,使用 “ 扫一扫 ” 即可将网页分享至朋友圈。"
EDITOR_LINE = re.compile(r"^作者[:：].{0,20}编辑[:：]")
BYLINE_LABEL = re.compile(r"^(?:文|图|文/图)\s*[|｜/:：]\s*")
RELATED_LINE = re.compile(r"^(?:相关稿件|相关新闻|相关阅读|推荐阅读)$")


# --- the model of a source page ---------------------------------------------


@dataclass(frozen=True)
class SourceLine:
    """One non-blank source line: its text without ``#`` marks, and its role.

    ``role`` is "h1", "display" (kicker / subtitle), "h2" or "body"; ``level``
    keeps the markdown heading level (0 for unmarked lines) so that ``###``
    sub-heads survive re-emission.
    """

    text: str
    role: str
    level: int = 0


@dataclass(frozen=True)
class Block:
    """A run of consecutive non-blank lines; blank lines separate blocks."""

    lines: tuple[SourceLine, ...]
    gap_before: bool


def parse_source(text: str) -> list[Block]:
    """Blocks of the page with each line's typographic role.

    Unmarked lines say nothing about headlines, so ``split_page`` is asked
    which lines were headlines, kickers and subtitles: a typesetter prints
    those big and that is all we borrow from the splitter.
    """
    raw: list[list[tuple[str, int]]] = []
    cur: list[tuple[str, int]] = []
    for line in text.splitlines():
        s = line.strip()
        if not s:
            if cur:
                raw.append(cur)
                cur = []
            continue
        m = HEADING.match(s)
        cur.append((m.group(2).strip(), len(m.group(1))) if m else (s, 0))
    if cur:
        raw.append(cur)

    flat = [_norm(t) for block in raw for t, _ in block]
    articles = [a for a in split_page(text) if a.kind == "article"]
    # Unmarked headlines are printed big on marked pages too (a 新闻联播 day with one
    # story headed by bold lines instead of ###); marked lines keep their level.
    heads = _matching(flat, [a.headline for a in articles])
    displays = _matching(flat, [t for a in articles for t in (a.kicker, a.subtitle) if t])

    blocks: list[Block] = []
    i = 0
    for block in raw:
        lines = []
        for t, level in block:
            if level == 1 or (not level and i in heads):
                role = "h1"
            elif level:
                role = "h2"
            elif i in displays:
                role = "display"
            else:
                role = "body"
            lines.append(SourceLine(t, role, level))
            i += 1
        # Blocks only ever end at blank lines, so every block but the first
        # follows one; the first counts as following the page's top edge.
        blocks.append(Block(tuple(lines), gap_before=True))
    return blocks


def _norm(s: str) -> str:
    """A line as ``split_page`` sees it (same clean-up as pages._prepare)."""
    s = s.replace("\u3000", " ").replace("\xa0", " ").replace("**", "").replace("\u200b", "")
    return re.sub(r"\s+", " ", s).strip()


def _matching(lines: list[str], targets: Iterable[str | None]) -> set[int]:
    """Indexes of lines that make up a target, alone or joined by spaces with neighbours."""
    hit: set[int] = set()
    for t in targets:
        if not t:
            continue
        for i in range(len(lines)):
            acc, j = lines[i], i
            while len(acc) < len(t) and t.startswith(acc) and j + 1 < len(lines):
                j += 1
                acc = f"{acc} {lines[j]}"
            if acc == t:
                hit.update(range(i, j + 1))
    return hit


def _is_prose(text: str) -> bool:
    """Running text rather than furniture, a byline or a caption."""
    return len(text) >= 20 or any(p in text for p in PROSE_PUNCT)


def _clean(text: str) -> str:
    """Text as printed: markdown bold marks are not ink."""
    return text.replace("**", "")


# STSong-Light's UniGB-UCS2-H CMap has no code for U+00B7 (the "·" of "湖南日报·新湖南")
# and draws nothing extractable for it; GB2312's middle dot is U+30FB there, whose
# glyph pdfminer and poppler both map back to U+00B7.
_PDF_CHARS = str.maketrans({"·": "・", "\xa0": " "})


def _pdf_text(text: str) -> str:
    return _clean(text).translate(_PDF_CHARS)


def _all_lines(blocks: list[Block]) -> list[SourceLine]:
    return [ln for b in blocks for ln in b.lines]


# --- Markdown -------------------------------------------------------------------


def to_markdown(text: str) -> bytes:
    """The page re-emitted as Markdown, headlines marked with ``#``."""
    out = []
    for block in parse_source(text):
        rows = []
        for ln in block.lines:
            if ln.role == "h1":
                rows.append(f"# {ln.text}")
            elif ln.role == "h2":
                rows.append(f"{'#' * ln.level} {ln.text}")
            else:
                rows.append(ln.text)
        out.append("\n".join(rows))
    return ("\n\n".join(out) + "\n").encode("utf-8")


# --- PDF ------------------------------------------------------------------------


@dataclass(frozen=True)
class PdfLayout:
    """How a PDF page is typeset: sizes, columns, headline rows, masthead.

    The defaults are the project's own typesetting (headlines at 1.9× the body size,
    rows filled to the full measure, the masthead as plain lines in the columns);
    :func:`draw_layout` draws others.
    """

    columns: int = 1
    gutter: float = GUTTER
    body: float = TYPE_SIZES["body"][0]
    leading: float = TYPE_SIZES["body"][1] / TYPE_SIZES["body"][0]  # body leading / size
    head: float = TYPE_SIZES["h1"][0]
    deck: float = TYPE_SIZES["display"][0]  # kickers and decks
    subheads: tuple[float, float] = (TYPE_SIZES["h2"][0], SUBHEAD_SIZES[3][0])  # ##, ###
    deck_display: bool = True  # kickers and decks in display type, else at body size
    head_bold: bool = False  # headlines drawn twice a hair apart (a fake bold)
    sub_bold: bool = False  # sub-headings too
    head_rows: str = "fill"  # "fill": wrapped at the measure; "ragged": broken anywhere
    centred: bool = False  # headline blocks centred rather than set left
    lead_display: bool = False  # a story's first paragraph in the deck's type
    hanging: bool = False  # punctuation at a row's end hangs into the margin
    masthead: str = "columns"  # "columns" (with the body), "plain", "display", "table"
    running_header: str | None = None
    wrap_seed: int = 0  # where ragged headlines break

    def size(self, role: str, level: int = 0) -> tuple[float, float]:
        """(font size, leading) of a role."""
        if role == "h1":
            return self.head, self.head * LEADINGS["h1"]
        if role == "display" and self.deck_display:
            return self.deck, self.deck * LEADINGS["display"]
        if role == "h2":
            size = self.subheads[0 if level < 3 else 1]
            return size, size * LEADINGS["h2" if level < 3 else "h3"]
        return self.body, self.body * self.leading


@dataclass(frozen=True)
class _Row:
    """One printed line of a paragraph."""

    text: str
    size: float
    leading: float
    indent: float
    space: float  # extra space above, dropped at the top of a page or column
    bold: bool = False
    centre: float | None = None  # the row is centred in a measure this wide


def _register_font() -> None:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont

    if FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(FONT))


@cache
def _unit_width(ch: str) -> float:
    from reportlab.pdfbase import pdfmetrics

    return pdfmetrics.stringWidth(ch, FONT, 1000) / 1000


# Punctuation a typesetter lets hang past the measure rather than start a row with it.
HANGING = "，。、；：！？”’）》」』"


def _wrap(text: str, width: float, size: float, indent: float, hanging: bool = False) -> list[str]:
    """Break a paragraph into rows no wider than ``width``, anywhere (Chinese has no spaces).

    A space where the break falls stays at the end of the row it follows,
    hanging into the margin, so a reader that joins rows keeps it; with
    ``hanging``, so does punctuation that would otherwise open a row.
    """
    rows: list[str] = []
    cur: list[str] = []
    used = indent
    for ch in text:
        w = _unit_width(ch) * size
        over = used + w > width + 1e-6
        # One punctuation mark may hang past the measure, never two.
        hangs = ch == " " or (hanging and ch in HANGING and used <= width + 1e-6)
        if cur and not hangs and over:
            rows.append("".join(cur))
            cur, used = [], 0.0
        cur.append(ch)
        used += w
    if cur:
        rows.append("".join(cur))
    return rows


def _ragged(text: str, rng: random.Random) -> list[str]:
    """A headline broken into one to three rows where an editor might break it:
    at its spaces when it has them and the draw says so, else anywhere."""
    n = min(rng.choice((1, 2, 2, 3)), max(1, len(text) // 3))
    spaces = [k + 1 for k, ch in enumerate(text) if ch == " "]
    # Never inside a number or a word of Latin letters: "2021" is not broken as "20/21".
    places = [k for k in range(2, len(text) - 1) if not (_alnum(text[k - 1]) and _alnum(text[k]))]
    if spaces and rng.random() < 0.5:
        cuts = sorted(rng.sample(spaces, min(n - 1, len(spaces))))
    else:
        cuts = sorted(rng.sample(places, min(n - 1, len(places))))
    return [text[a:b] for a, b in itertools.pairwise([0, *cuts, len(text)]) if text[a:b].strip()]


def _alnum(ch: str) -> bool:
    return ch.isascii() and ch.isalnum()


def _rows(
    lines: list[tuple[SourceLine, bool]],
    width: float,
    layout: PdfLayout = PdfLayout(),
    rng: random.Random | None = None,
) -> list[_Row]:
    """The printed rows of a band; each source line is one paragraph."""
    out: list[_Row] = []
    lead_due = False
    for ln, opens_block in lines:
        role = ln.role
        if role == "body" and lead_due and layout.lead_display and _is_prose(ln.text):
            role = "lead"
        lead_due = ln.role == "h1" or (lead_due and ln.role != "body")
        size, leading = layout.size("display" if role == "lead" else role, ln.level)
        if role == "lead" and not layout.deck_display:
            size, leading = layout.deck, layout.deck * LEADINGS["display"]
        text = _pdf_text(ln.text)
        prose = role in ("body", "lead") and _is_prose(text)
        indent = INDENT_EMS * size if prose else 0.0
        space = GAP_FACTOR * leading if opens_block else 0.0
        bold = (layout.head_bold and role == "h1") or (layout.sub_bold and role == "h2")
        centre = width if layout.centred and role in ("h1", "display") else None
        pieces = [text]
        if role == "h1" and layout.head_rows == "ragged" and rng is not None:
            pieces = _ragged(text, rng)
        first = True
        for piece in pieces:
            for row in _wrap(piece, width, size, indent if first else 0.0, layout.hanging):
                out.append(
                    _Row(
                        row,
                        size,
                        leading,
                        indent if first else 0.0,
                        space if first else 0.0,
                        bold,
                        centre,
                    )
                )
                first = False
    return out


def _masthead_lines(blocks: list[Block]) -> int:
    """How many lines open the page before its first story: the masthead."""
    n = 0
    for ln in _all_lines(blocks):
        if ln.role != "body" or _is_prose(_clean(ln.text)):
            break
        n += 1
    return n


def _bands(
    blocks: list[Block], masthead: int = 0
) -> list[tuple[str, list[tuple[SourceLine, bool]]]]:
    """Maximal runs of headline lines ("head") and of body/h2 lines ("body"); the first
    ``masthead`` lines make a band of their own ("mast")."""
    bands: list[tuple[str, list[tuple[SourceLine, bool]]]] = []
    n = 0
    for block in blocks:
        for k, ln in enumerate(block.lines):
            kind = "head" if ln.role in ("h1", "display") else "body"
            if n < masthead:
                kind = "mast"
            n += 1
            item = (ln, k == 0 and block.gap_before)
            if bands and bands[-1][0] == kind:
                bands[-1][1].append(item)
            else:
                bands.append((kind, [item]))
    return bands


def _fill(rows: list[_Row], height: float, columns: int) -> tuple[list[list[_Row]], int]:
    """Greedily pour rows into up to ``columns`` columns of ``height``; (columns, rows placed)."""
    cols: list[list[_Row]] = [[]]
    used = 0.0
    for n, r in enumerate(rows):
        need = r.leading + (r.space if cols[-1] else 0.0)
        if cols[-1] and used + need > height + 1e-6:
            if len(cols) == columns:
                return cols, n
            cols.append([])
            used, need = 0.0, r.leading
        cols[-1].append(r)
        used += need
    return cols, len(rows)


def _column_height(col: list[_Row]) -> float:
    return sum(r.leading + (r.space if k else 0.0) for k, r in enumerate(col))


class _Typesetter:
    """Lays bands down the pages of a reportlab canvas."""

    def __init__(self, c: Canvas, layout: PdfLayout) -> None:
        self.c = c
        self.layout = layout
        self.header = layout.running_header
        self.page = 0
        self.top = PAGE_H - MARGIN
        self.bottom = MARGIN
        self.y = self.top
        self._new_page(first=True)

    def _new_page(self, first: bool = False) -> None:
        if not first:
            self.c.showPage()
        self.page += 1
        self.y = self.top
        if self.header is not None:
            self.c.setFont(FONT, FURNITURE_SIZE)
            self.c.drawString(MARGIN, HEADER_Y, _pdf_text(self.header))
            self.c.drawCentredString(PAGE_W / 2, FOOTER_Y, f"— {self.page} —")

    @property
    def at_top(self) -> bool:
        return self.y >= self.top - 1e-6

    def _draw(self, r: _Row, x: float, top: float) -> None:
        # Centre the glyphs in the line's leading; 0.88 em is the CJK ascent.
        baseline = top - (r.leading - r.size) / 2 - 0.88 * r.size
        self.c.setFont(FONT, r.size)
        if r.centre is not None:
            used = sum(_unit_width(ch) for ch in r.text.rstrip()) * r.size
            x += max(0.0, (r.centre - used) / 2)
        self.c.drawString(x + r.indent, baseline, r.text)
        if r.bold:
            # The poor man's bold of many layout programs: the same text again, 0.3 pt on.
            self.c.drawString(x + r.indent + 0.3, baseline, r.text)

    def _open_band(self, rows: list[_Row], rule: bool) -> None:
        """Leave the band's opening space unless at the top of a page.

        A headline band gets a hairline rule in that space, separating stories
        as papers do; it is a graphic and carries no text.
        """
        if self.at_top or not rows[0].space:
            return
        if rule:
            self.c.setLineWidth(RULE_WIDTH)
            rule_y = self.y - rows[0].space * 0.4
            self.c.line(MARGIN, rule_y, PAGE_W - MARGIN, rule_y)
        self.y -= rows[0].space

    def head(self, rows: list[_Row], keep_with: float) -> None:
        """A full-width headline band; ``keep_with`` is how much of what follows must fit too."""
        total = _column_height(rows) + rows[0].space + keep_with
        if not self.at_top and self.y - total < self.bottom:
            self._new_page()
        self._open_band(rows, rule=True)
        for k, r in enumerate(rows):
            need = r.leading + (r.space if k else 0.0)
            if self.y - need < self.bottom and not self.at_top:
                self._new_page()
                need = r.leading
            self._draw(r, MARGIN, self.y - need + r.leading)
            self.y -= need

    def cells(self, cells: list[list[_Row]], width: float) -> None:
        """A masthead set as a one-row table: cells side by side in ruled boxes."""
        pad = 4.0
        height = max(_column_height(cell) for cell in cells) + 2 * pad
        self.c.setLineWidth(RULE_WIDTH)
        for n, cell in enumerate(cells):
            x = MARGIN + n * width
            self.c.rect(x, self.y - height, width, height, stroke=1, fill=0)
            top = self.y - pad
            for k, r in enumerate(cell):
                if k:
                    top -= r.space
                self._draw(r, x + pad, top)
                top -= r.leading
        self.y -= height + 6.0

    def body(self, rows: list[_Row], columns: int) -> None:
        """A body band in balanced columns, continued on new pages as needed."""
        gutter = self.layout.gutter
        width = (PAGE_W - 2 * MARGIN - (columns - 1) * gutter) / columns
        if self.y - rows[0].space - self.bottom < rows[0].leading:
            self._new_page()
        self._open_band(rows, rule=False)
        while rows:
            avail = self.y - self.bottom
            cols, placed = _fill(rows, avail, columns)
            if placed == len(rows):
                # Balance: the shortest column height that still takes every row.
                lo, hi = max(r.leading for r in rows), avail
                while hi - lo > 0.5:
                    mid = (lo + hi) / 2
                    if _fill(rows, mid, columns)[1] == len(rows):
                        hi = mid
                    else:
                        lo = mid
                cols, placed = _fill(rows, hi, columns)
            if placed == 0:
                self._new_page()
                continue
            for n, col in enumerate(cols):
                x = MARGIN + n * (width + gutter)
                top = self.y
                for k, r in enumerate(col):
                    if k:
                        top -= r.space
                    self._draw(r, x, top)
                    top -= r.leading
            self.y -= max(_column_height(col) for col in cols)
            rows = rows[placed:]
            if rows:
                self._new_page()


def _masthead_rows(
    lines: list[tuple[SourceLine, bool]], width: float, layout: PdfLayout
) -> list[_Row]:
    """The masthead's rows: the paper's name in display type when the layout says so."""
    out: list[_Row] = []
    for ln, opens in lines:
        text = _pdf_text(ln.text)
        size, leading = layout.body, layout.body * layout.leading
        centre = None
        if layout.masthead == "display" and PAPER_NAME.match(_norm(ln.text)):
            size, leading, centre = layout.head * 1.6, layout.head * 2.0, width
        elif layout.masthead == "display" and DATE_LINE.search(_norm(ln.text)):
            size, leading = layout.deck, layout.deck * LEADINGS["display"]
        space = GAP_FACTOR * leading if opens and out else 0.0
        for k, row in enumerate(_wrap(text, width, size, 0.0)):
            out.append(_Row(row, size, leading, 0.0, space if k == 0 else 0.0, False, centre))
    return out


def _render_pdf(text: str, layout: PdfLayout = PdfLayout(), encrypt: Any = None) -> bytes:
    from reportlab.pdfgen.canvas import Canvas

    _register_font()
    blocks = parse_source(text)
    buf = io.BytesIO()
    # invariant=1 fixes the creation date and document ID: same text, same bytes.
    c = Canvas(buf, pagesize=(PAGE_W, PAGE_H), invariant=1, encrypt=encrypt)
    title = next((ln.text for ln in _all_lines(blocks) if ln.role == "h1"), None)
    if title:
        c.setTitle(_clean(title))
    c.setAuthor("watcher tests")
    c.setCreator("watcher tests docgen")
    c.setFillGray(0)

    rng = random.Random(layout.wrap_seed)
    setter = _Typesetter(c, layout)
    columns = layout.columns
    full = PAGE_W - 2 * MARGIN
    width = (full - (columns - 1) * layout.gutter) / columns
    masthead = 0 if layout.masthead == "columns" else _masthead_lines(blocks)
    bands = _bands(blocks, masthead)
    for n, (kind, lines) in enumerate(bands):
        if kind == "mast" and layout.masthead == "table":
            # Three cells, each a run of the masthead's lines in reading order.
            per = -(-len(lines) // 3)
            groups = [lines[k : k + per] for k in range(0, len(lines), per)]
            cell = full / len(groups)
            setter.cells([_masthead_rows(g, cell - 8.0, layout) for g in groups], cell)
        elif kind == "mast":
            setter.head(_masthead_rows(lines, full, layout), 0.0)
        elif kind == "head":
            rows = _rows(lines, full, layout, rng)
            # Keep a headline with at least two lines of its story.
            nxt = bands[n + 1] if n + 1 < len(bands) else None
            keep = 2 * layout.body * layout.leading if nxt and nxt[0] == "body" else 0.0
            setter.head(rows, keep)
        else:
            setter.body(_rows(lines, width, layout, rng), columns)
    c.showPage()
    c.save()
    return buf.getvalue()


def to_pdf(text: str, columns: int = 1, running_header: str | None = None) -> bytes:
    """The page typeset as a newspaper PDF: headlines across, body in balanced columns."""
    return _render_pdf(text, PdfLayout(columns=columns, running_header=running_header))


# --- DOCX -----------------------------------------------------------------------


def _docx_groups(lines: Iterable[SourceLine], soft: bool = True) -> Iterator[list[SourceLine]]:
    """Lines of a block that share one Word paragraph: same role, prose body alone
    (every line alone without ``soft`` line breaks)."""
    group: list[SourceLine] = []
    for ln in lines:
        alone = not soft or (ln.role == "body" and _is_prose(_clean(ln.text)))
        if group and (alone or _is_prose_group(group) or _key(group[0]) != _key(ln)):
            yield group
            group = []
        group.append(ln)
    if group:
        yield group


def _is_prose_group(group: list[SourceLine]) -> bool:
    return group[0].role == "body" and _is_prose(_clean(group[0].text))


def _key(ln: SourceLine) -> tuple[str, int]:
    return ln.role, ln.level if ln.role == "h2" else 0


def _add_runs(paragraph: Any, text: str) -> None:
    """``**bold**`` in the source becomes a bold run, as an editor would have typed it."""
    for k, part in enumerate(text.split("**")):
        if part:
            paragraph.add_run(part).bold = True if k % 2 else None


def _fixed_zip(data: bytes) -> bytes:
    """The same zip with every entry dated ZIP_DATE, so saving twice gives the same bytes."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=ZIP_DATE)
            fixed.compress_type = zipfile.ZIP_DEFLATED
            dst.writestr(fixed, src.read(info))
    return out.getvalue()


def to_docx(text: str, table: list[list[str]] | None = None) -> bytes:
    """The page as a Word document: headings, subtitles, soft-broken short lines."""
    from docx import Document

    doc = Document()
    blocks = parse_source(text)
    # python-docx looks a style name up through the whole styles part on every
    # paragraph (~3 ms each); resolve each name to its id once instead.
    style_ids: dict[str, str | None] = {"Normal": None}
    for block in blocks:
        for group in _docx_groups(block.lines):
            role = group[0].role
            name = {
                "h1": "Heading 1",
                "h2": f"Heading {min(group[0].level, 9)}",
                "display": "Subtitle",
            }.get(role, "Normal")
            if name not in style_ids:
                style_ids[name] = doc.styles[name].style_id
            p = doc.add_paragraph()
            if style_ids[name]:
                p._p.style = style_ids[name]
            for k, ln in enumerate(group):
                if k:
                    p.add_run().add_break()  # a soft line break (<w:br/>), not a new paragraph
                _add_runs(p, ln.text)
    if table:
        t = doc.add_table(rows=len(table), cols=max(len(r) for r in table))
        t.style = "Table Grid"
        for r, row in enumerate(table):
            for k, cell in enumerate(row):
                t.cell(r, k).text = cell
    cp = doc.core_properties
    cp.author = cp.last_modified_by = "watcher tests"
    cp.created = cp.modified = DOCX_DATE
    cp.revision = 1
    cp.title = _clean(next((ln.text for ln in _all_lines(blocks) if ln.role == "h1"), ""))
    buf = io.BytesIO()
    doc.save(buf)
    return _fixed_zip(buf.getvalue())


# --- HTML -----------------------------------------------------------------------

_STYLE = """body{font-family:"Microsoft YaHei",sans-serif;margin:0;color:#222}
header{background:#b40000;color:#fff;padding:8px 24px}header .logo{font-size:24px}
nav a{color:#fff;margin-right:12px}.breadcrumb{padding:6px 24px;color:#666}
.layout{display:flex}.sidebar{width:200px;padding:0 12px}.content{flex:1;padding:0 24px}
.subtitle{font-size:18px;color:#444}figure{margin:12px 0}figcaption{color:#666}
footer{border-top:1px solid #ccc;padding:12px;text-align:center;color:#888}"""

_SCRIPT = """var _hmt = _hmt || [];
(function () {
  var hm = document.createElement("script");
  hm.src = "https://hm.example.com/hm.js?0123456789abcdef";
  document.body.appendChild(hm);
  console.log("页面加载完成");
})();"""


def _e(text: str) -> str:
    return html.escape(_clean(text), quote=True)


def _inline(text: str) -> str:
    """Escaped text with ``**bold**`` as <strong>."""
    parts = text.split("**")
    return "".join(
        f"<strong>{html.escape(p)}</strong>" if k % 2 else html.escape(p)
        for k, p in enumerate(parts)
    )


def _chrome_top(site: str, breadcrumb: str) -> list[str]:
    nav = "".join(f'<a href="/{k}.html">{html.escape(n)}</a>' for k, n in enumerate(NAV))
    return [
        f'<header><div class="logo">{html.escape(site)}</div><nav>{nav}</nav></header>',
        f'<div class="breadcrumb">{breadcrumb}</div>',
    ]


def _chrome_bottom() -> list[str]:
    items = "".join(f'<li><a href="{u}">{html.escape(t)}</a></li>' for u, t in RELATED)
    return [
        f'<div class="related"><h3>相关稿件</h3><ul>{items}</ul></div>',
        "<footer><p>Copyright © 2024 湖南日报社 版权所有 未经授权禁止转载</p>"
        '<p><a href="https://beian.miit.gov.cn/">湘ICP备12001508号-1</a></p></footer>',
        f"<script>\n{_SCRIPT}\n</script>",
    ]


def _page(title: str, head_extra: list[str], body: list[str]) -> bytes:
    doc = [
        "<!DOCTYPE html>",
        '<html lang="zh-CN">',
        "<head>",
        '<meta charset="utf-8">',
        f"<title>{html.escape(title)}</title>",
        *head_extra,
        f"<style>\n{_STYLE}\n</style>",
        "</head>",
        "<body>",
        *body,
        "</body>",
        "</html>",
    ]
    return ("\n".join(doc) + "\n").encode("utf-8")


def _body_elements(lines: list[SourceLine]) -> list[str]:
    """One block's lines as HTML: short body lines share a <p> via <br>, prose gets its own."""
    out: list[str] = []
    run: list[str] = []

    def flush() -> None:
        if run:
            out.append(f"<p>{'<br>'.join(run)}</p>")
            run.clear()

    for ln in lines:
        if ln.role == "body" and not _is_prose(_clean(ln.text)):
            run.append(_inline(ln.text))
            continue
        flush()
        if ln.role == "h1":
            out.append(f"<h1>{_inline(ln.text)}</h1>")
        elif ln.role == "h2":
            out.append(f"<h{min(ln.level, 6)}>{_inline(ln.text)}</h{min(ln.level, 6)}>")
        elif ln.role == "display":
            out.append(f'<p class="subtitle">{_inline(ln.text)}</p>')
        else:
            out.append(f"<p>{_inline(ln.text)}</p>")
    flush()
    return out


def _epaper_parts(text: str) -> tuple[list[list[SourceLine]], list[list[list[SourceLine]]]]:
    """The page cut as an e-paper system cuts it: the masthead's blocks, and each story
    as the runs of its lines that share a source block."""
    blocks = parse_source(text)
    lines = _all_lines(blocks)
    # Each story in its own <article>, as e-paper systems print them; a story headed by a
    # "##" line (seeds 000 and 002) starts one too, a sub-heading inside a story does not.
    heads = {_norm(a.headline) for a in split_page(text) if a.kind == "article"}
    starts = [
        ln.role in ("h1", "display") or (ln.role == "h2" and _norm(ln.text) in heads)
        for ln in lines
    ]
    if not any(starts):
        # No headline at all: the content starts at the first heading, else at the top.
        starts = [ln.role == "h2" for ln in lines]
    first = starts.index(True) if any(starts) else 0

    masthead: list[list[SourceLine]] = []
    articles: list[list[list[SourceLine]]] = []
    i = 0
    for block in blocks:
        pre = [ln for k, ln in enumerate(block.lines) if i + k < first]
        if pre:
            masthead.append(pre)
        # Split the rest of the block where each headline run starts an <article>.
        seg: list[SourceLine] = []
        for k, ln in enumerate(block.lines):
            n = i + k
            if n < first:
                continue
            opens = n == first or (starts[n] and not starts[n - 1])
            if opens:
                if seg:
                    articles[-1].append(seg)
                    seg = []
                articles.append([])
            seg.append(ln)
        if seg:
            articles[-1].append(seg)
        i += len(block.lines)
    return masthead, articles


def _page_title(text: str, site: str) -> str:
    """A page's <title> as an e-paper site writes it, true to what the page shows."""
    facts = next(iter(split_page(text)), None)
    label = f" - 第{facts.page}版" if facts and facts.page else ""
    section = f"：{facts.section}" if label and facts and facts.section else ""
    return f"{site}{label}{section}"


def to_html_epaper(text: str, site: str = DEFAULT_SITE) -> bytes:
    """A multi-article e-paper page with the site chrome a reader must drop."""
    masthead, articles = _epaper_parts(text)
    content = ['<main class="content">']
    if masthead:
        content += ['<div class="masthead">']
        content += [f"<p>{'<br>'.join(_inline(ln.text) for ln in pre)}</p>" for pre in masthead]
        content += ["</div>"]
    for art in articles:
        content += ["<article>", *(e for seg in art for e in _body_elements(seg)), "</article>"]
    content += ['<div class="share">分享到：微信 微博 QQ空间</div>', "</main>"]
    return _page(_page_title(text, site), [], _epaper_chrome(site, content))


def _epaper_chrome(site: str, content: list[str]) -> list[str]:
    """An e-paper page's body: the site's header, the page list beside the content, footer."""
    sidebar = "".join(
        f'<li><a href="node_{k + 1:02d}.html">{t}</a></li>' for k, t in enumerate(SIDEBAR_PAGES)
    )
    return [
        *_chrome_top(site, "首页 &gt; 数字报 &gt; 第01版"),
        '<div class="layout">',
        f'<aside class="sidebar"><h3>版面导航</h3><ul>{sidebar}</ul></aside>',
        *content,
        "</div>",
        *_chrome_bottom(),
    ]


# What a site's print style sheet does: chrome hidden, each story set in columns under
# a headline spanning them (its kicker and deck too), sub-headings inside the columns.
PRINT_CSS = """
@page { size: A4; margin: 15mm }
header, nav, aside, footer, .share, .breadcrumb, .related, .sidebar { display: none !important }
body { font-family: "Noto Serif CJK SC", "Noto Sans CJK SC", serif; font-size: 10.5pt;
       line-height: 1.5; margin: 0 }
.masthead p { text-indent: 0; margin: 0 }
article { column-count: COLUMNS; column-gap: 16pt; column-fill: balance; margin-top: 14pt }
article > h1, article > .subtitle, article > h2:first-child, article > .subtitle + h2 {
    column-span: all; margin: 4pt 0; text-indent: 0 }
article > h1 { font-size: 20pt; line-height: 1.3 }
article > .subtitle { font-size: 14pt }
article > h2:first-child, article > .subtitle + h2 { font-size: 20pt; line-height: 1.3 }
article h2, article h3 { font-size: 13.5pt; margin: 6pt 0 }
article h3 { font-size: 12.5pt }
p { margin: 0; text-indent: 2em; text-align: justify }
"""


def to_html_print(text: str, columns: int = 2) -> bytes:
    """The e-paper page with a print style sheet: printed by a browser, a newspaper PDF."""
    page = to_html_epaper(text).decode("utf-8")
    css = PRINT_CSS.replace("COLUMNS", str(columns))
    return page.replace("</head>", f"<style>{css}</style>\n</head>", 1).encode("utf-8")


def _iso_published(published: str) -> str:
    when = dt.datetime.strptime(published, "%Y-%m-%d %H:%M")
    return when.replace(tzinfo=dt.timezone(dt.timedelta(hours=8))).isoformat()


def to_html_article(
    text: str,
    site: str = "湖南日报",
    published: str = "2024-11-14 08:30",
    url: str = "https://www.hunantoday.example/news/202411/14/12345.html",
) -> bytes:
    """A single-article news page as saved from a news site (for one-article pages)."""
    articles = split_page(text)
    art = next((a for a in articles if a.kind == "article"), articles[0] if articles else None)
    lines = _all_lines(parse_source(text))
    norm = [_norm(ln.text) for ln in lines]
    captions = _matching(norm, art.captions if art else ())
    headline = art.headline if art else ""
    at = next((k for k, ln in enumerate(lines) if ln.role == "h1"), None)
    if at is None:
        at = next((k for k, t in enumerate(norm) if t == headline), -1)
    if at >= 0:
        headline = _clean(lines[at].text)

    breadcrumb, share, editor = "首页 &gt; 新闻", [SHARE_LABEL, SHARE_HINT], None
    pre: list[str] = []
    body: list[str] = []
    pic = 0
    for k, ln in enumerate(lines):
        t = norm[k]
        # Web chrome the seed kept as text goes back to the chrome it came from.
        if BREADCRUMB.match(t) or t.startswith("首页"):
            breadcrumb = " &gt; ".join(html.escape(p.strip()) for p in t.split(">"))
        elif t.startswith("分享到"):
            share[0] = t
        elif t.startswith("打开微信"):
            share[1] = t
        elif EDITOR_LINE.match(t):
            editor = t
        elif RELATED_LINE.match(t) or k == at:
            continue
        elif k in captions:
            pic += 1
            body.append(
                f'<figure><img src="p{pic}.jpg" alt=""><figcaption>{_e(ln.text)}'
                "</figcaption></figure>"
            )
        else:
            (pre if k < at else body).extend(_body_elements([ln]))

    # The author meta holds the name only, without the printed "文 |" label.
    author = BYLINE_LABEL.sub("", art.byline) if art and art.byline else site
    meta = [
        f'<link rel="canonical" href="{html.escape(url)}">',
        f'<meta property="og:title" content="{html.escape(headline)}">',
        f'<meta property="og:site_name" content="{html.escape(site)}">',
        f'<meta property="og:url" content="{html.escape(url)}">',
        f'<meta property="article:published_time" content="{_iso_published(published)}">',
        f'<meta name="author" content="{html.escape(author)}">',
    ]
    page = [
        *_chrome_top(site, breadcrumb),
        f'<div class="share"><span>{html.escape(share[0])}</span>'
        f"<p>{html.escape(share[1])}</p></div>",
        '<main class="content">',
        "<article>",
        *pre,
        f"<h1>{html.escape(headline)}</h1>",
        f'<div class="info">来源：{html.escape(site)} {html.escape(published)}</div>',
        *body,
        "</article>",
        *([f'<div class="editor">{html.escape(editor)}</div>'] if editor else []),
        "</main>",
        *_chrome_bottom(),
    ]
    return _page(f"{headline}_{site}", meta, page)


# --- layout variants --------------------------------------------------------------
#
# The documents above are typeset one way. Other tools and sites set the same page
# differently; a variant is one such way, drawn from seeded random choices, so that a
# variant's name (family and number) always makes the same bytes. Every variant of a page
# must give the articles of its text.

FAMILIES = ("text", "html", "docx", "pdf", "chromium", "soffice")
# The program a family needs besides Python packages (Debian: chromium, libreoffice-writer).
PROGRAMS = {"chromium": "chromium", "soffice": "soffice"}
PAGE_LABELS = ("第{page}版：{section}", "{page}版：{section}", "{page} {section}")


@dataclass(frozen=True)
class TextLayout:
    """A text page as other OCR tools and sites save it."""

    label: str | None = None  # a PAGE_LABELS pattern, set where the masthead names the page
    label_at: str = "after-date"  # "after-date", "date-line" (on the date's line), "top"
    crlf: bool = False
    indent: bool = False  # prose opens with two ideographic spaces
    blank_lines: bool = True


@dataclass(frozen=True)
class HtmlLayout:
    """A page saved from an e-paper site."""

    heads: str = "h1"  # "h1" every story, "h1-h2" the first h1 and the rest h2, "h2", "div"
    wrap: str = "article"  # each story in an <article>, a <div class="news">, or nothing
    title: str = "page"  # <title>: "page" (site and page label) or "headline"
    meta: bool = False  # <meta> with the page's paper and date, description, keywords
    masthead: str = "plain"  # "plain", "h1" (the paper's name as the page's h1), "table"


@dataclass(frozen=True)
class DocxLayout:
    """A Word file made by an editor: styles used as Word users use them."""

    head: str = "Heading 1"  # "Heading 1", "Title", "hand" (bold and big in Normal)
    deck: str = "Subtitle"  # "Subtitle", "Normal", "bold"
    masthead: str = "plain"  # "plain", "title" (the paper's name in Title), "table"
    prose_headings: int = 0  # how many prose paragraphs carry a Heading style by mistake
    soft_breaks: bool = True  # short lines of a block share a paragraph
    body_half_points: int = 21
    head_ratio: float = 1.9
    wrap_seed: int = 0


@dataclass(frozen=True)
class ChromiumLayout:
    """An e-paper page printed to PDF by Chromium from a print style sheet."""

    columns: int = 2
    head_ratio: float = 1.9
    deck_ratio: float = 1.33
    head_weight: int = 700
    centred: bool = False
    gutter: float = 16.0
    masthead: str = "plain"  # "plain", "display"


Layout = TextLayout | HtmlLayout | DocxLayout | PdfLayout | ChromiumLayout


@dataclass(frozen=True)
class Variant:
    """One drawn layout of one family: ``pdf-007`` is always the same layout."""

    family: str
    number: int
    layout: Layout

    @property
    def name(self) -> str:
        return f"{self.family}-{self.number:03d}"

    @property
    def suffix(self) -> str:
        """The suffix of the file the variant makes."""
        return {"text": ".txt", "html": ".html", "docx": ".docx"}.get(self.family, ".pdf")

    def describe(self) -> str:
        """The drawn choices that differ from the family's defaults, for the matrix."""
        default = type(self.layout)()
        return " ".join(
            f"{f.name}={_short(getattr(self.layout, f.name))}"
            for f in dataclasses.fields(self.layout)
            if getattr(self.layout, f.name) != getattr(default, f.name) and f.name != "wrap_seed"
        )


def _short(value: object) -> str:
    return f"{value:.2f}" if isinstance(value, float) else str(value).replace(" ", "")


def draw(family: str, number: int) -> Variant:
    """The ``number``-th layout of a family, drawn from a generator seeded by both."""
    rng = random.Random(f"{family}:{number}")
    layout: Layout
    if family == "text":
        layout = TextLayout(
            label=rng.choice((None, *PAGE_LABELS)),
            label_at=rng.choice(("after-date", "date-line", "top")),
            crlf=rng.random() < 0.5,
            indent=rng.random() < 0.5,
            blank_lines=rng.random() < 0.5,
        )
    elif family == "html":
        layout = HtmlLayout(
            heads=rng.choice(("h1", "h1-h2", "h2", "div")),
            wrap=rng.choice(("article", "div", "none")),
            title=rng.choice(("page", "headline")),
            meta=rng.random() < 0.5,
            masthead=rng.choice(("plain", "h1", "table")),
        )
    elif family in ("docx", "soffice"):
        layout = DocxLayout(
            head=rng.choice(("Heading 1", "Title", "hand")),
            deck=rng.choice(("Subtitle", "Normal", "bold")),
            masthead=rng.choice(("plain", "title", "table")),
            prose_headings=rng.choice((0, 0, 1, 2, 3)),
            soft_breaks=rng.random() < 0.5,
            body_half_points=rng.choice((20, 21, 22, 24)),
            head_ratio=round(rng.uniform(1.3, 2.2), 2),
            wrap_seed=rng.randrange(1 << 30),
        )
    elif family == "pdf":
        body = rng.choice((9.0, 10.0, 10.5, 11.0))
        ratio = rng.uniform(1.3, 2.2)
        bold = rng.random() < 0.15
        head = body if bold else round(body * ratio, 2)
        deck = round(body * 1.12 + 0.1, 2)
        step = max((head - deck) / 3.6, 0.6) if not bold else 0.7
        sub3, sub2 = round(deck + step, 2), round(deck + 2 * step, 2)
        if bold:
            # Bold headlines at the body size: kickers and decks in text type, sub-headings
            # bold and a little smaller.
            sub2, sub3 = round(body * 0.95, 2), round(body * 0.92, 2)
        gutter = rng.choice((round(body * 0.9, 1), 12.0, 18.0, 26.0))
        hanging = rng.random() < 0.5
        if hanging:
            # A comma hanging into the gutter takes half a character of it: papers that
            # hang punctuation keep their gutters wider than that.
            gutter = max(gutter, round(body * 1.5, 1))
        layout = PdfLayout(
            columns=rng.choice((1, 2, 3)),
            gutter=gutter,
            body=body,
            leading=rng.choice((1.4, 1.5, 1.6)),
            head=head,
            deck=deck,
            subheads=(sub2, sub3),
            deck_display=rng.random() < 0.7 and not bold,
            sub_bold=bold,
            head_bold=bold or rng.random() < 0.3,
            head_rows=rng.choice(("fill", "ragged", "ragged")),
            centred=rng.random() < 0.4,
            lead_display=rng.random() < 0.25,
            hanging=hanging,
            masthead=rng.choice(("columns", "plain", "display", "table")),
            wrap_seed=rng.randrange(1 << 30),
        )
    elif family == "chromium":
        layout = ChromiumLayout(
            columns=rng.choice((1, 2, 3)),
            head_ratio=round(rng.uniform(1.3, 2.2), 2),
            deck_ratio=round(rng.uniform(1.1, 1.25), 2),
            head_weight=rng.choice((400, 700, 700)),
            centred=rng.random() < 0.4,
            gutter=rng.choice((9.0, 16.0, 24.0)),
            masthead=rng.choice(("plain", "display")),
        )
    else:
        raise ValueError(f"unknown layout family {family!r}")
    return Variant(family, number, layout)


def variants(family: str, count: int, start: int = 0) -> list[Variant]:
    return [draw(family, n) for n in range(start, start + count)]


class ProducerMissing(Exception):
    """The program a variant family prints with is not installed."""


def render(variant: Variant, text: str, workdir: Path | None = None) -> bytes:
    """The bytes of ``text`` laid out as ``variant`` (Chromium and LibreOffice need a
    ``workdir``; :class:`ProducerMissing` when the program is absent)."""
    layout = variant.layout
    if isinstance(layout, TextLayout):
        return to_text_variant(text, layout)
    if isinstance(layout, HtmlLayout):
        return to_html_saved(text, layout)
    if isinstance(layout, PdfLayout):
        return _render_pdf(text, layout)
    if isinstance(layout, DocxLayout):
        data = to_docx_styled(text, layout)
        return data if variant.family == "docx" else _soffice_pdf(data, _workdir(workdir))
    return _chromium_pdf(to_html_print_styled(text, layout), _workdir(workdir))


def _workdir(workdir: Path | None) -> Path:
    if workdir is None:
        raise ValueError("this variant is printed by a program and needs a working folder")
    return workdir


# - text -


def _page_facts_of(text: str) -> tuple[str | None, str | None]:
    """(page, section) the text page's masthead gives, as the splitter reads them."""
    art = next(iter(split_page(text)), None)
    return (art.page, art.section) if art else (None, None)


def to_text_variant(text: str, layout: TextLayout) -> bytes:
    """The page as other tools save text: a page label, CRLF, indents, no blank lines."""
    blocks = parse_source(text)
    page, section = _page_facts_of(text)
    mast = _masthead_lines(blocks)
    rows: list[str] = []
    n = 0
    label = None
    if layout.label and page:
        label = layout.label.format(page=page, section=section or "要闻")
    date_at = None
    for block in blocks:
        if rows and layout.blank_lines:
            rows.append("")
        for ln in block.lines:
            raw = ln.text if not ln.level else f"{'#' * ln.level} {ln.text}"
            if label and n < mast and (PAGE_NO.match(_norm(raw)) or SECTION_NAMES.match(raw)):
                n += 1
                continue  # the label replaces the masthead's own page and section lines
            if layout.indent and ln.role == "body" and _is_prose(raw) and n >= mast:
                raw = "\u3000\u3000" + raw
            if n < mast and date_at is None and DATE_LINE.search(raw):
                date_at = len(rows)
            rows.append(raw)
            n += 1
    if label and date_at is None and layout.label_at != "top":
        label = None  # no date to put it after: the page is left as it was
    if label and layout.label_at == "top":
        rows.insert(0, label)
    elif label and date_at is not None:
        if layout.label_at == "date-line" and DATE_FULL.search(rows[date_at]):
            rows[date_at] = f"{rows[date_at]} {label}"
        else:
            at = date_at + 1
            # After the whole date: "2021年6月" / "4" / "星期五" is one date.
            while at < len(rows) and re.fullmatch(r"\d{1,2}|星期.|", rows[at]):
                at += 1
            rows.insert(at, label)
    end = "\r\n" if layout.crlf else "\n"
    return (end.join(rows) + end).encode("utf-8")


# - HTML -


def to_html_saved(text: str, layout: HtmlLayout, site: str = DEFAULT_SITE) -> bytes:
    """An e-paper page as saved from the browser: <title>, <meta>, nav, footer, and the
    stories in headings or classed divs, wrapped per story or not at all."""
    masthead, articles = _epaper_parts(text)
    split = split_page(text)
    heads = {_norm(a.headline) for a in split if a.kind == "article"}
    facts = next(iter(split), None)
    paper = facts.newspaper if facts else None
    content = ['<main class="content">']
    if masthead:
        mast = [ln for pre in masthead for ln in pre]
        if layout.masthead == "table":
            cells = "".join(f"<td>{_inline(ln.text)}</td>" for ln in mast)
            content += [f'<table class="masthead"><tr>{cells}</tr></table>']
        else:
            content += ['<div class="masthead">']
            for ln in mast:
                tag = "h1" if layout.masthead == "h1" and PAPER_NAME.match(_norm(ln.text)) else "p"
                content += [f"<{tag}>{_inline(ln.text)}</{tag}>"]
            content += ["</div>"]
    for k, art in enumerate(articles):
        inner: list[str] = []
        opened = False
        for seg in art:
            elements, opened = _story_elements(seg, layout, k == 0, heads, opened)
            inner += elements
        if layout.wrap == "article":
            content += ["<article>", *inner, "</article>"]
        elif layout.wrap == "div":
            content += ['<div class="news">', *inner, "</div>"]
        else:
            content += inner
    content += ['<div class="share">分享到：微信 微博 QQ空间</div>', "</main>"]
    head = next((a.headline for a in split if a.kind == "article"), "")
    title = _page_title(text, site) if layout.title == "page" else f"{head}_{site}"
    meta: list[str] = []
    if layout.meta:
        meta += [
            f'<meta name="description" content="{html.escape(head)}">',
            f'<meta name="keywords" content="{html.escape(site)},数字报,电子版">',
        ]
        if paper:
            meta.append(f'<meta property="og:site_name" content="{html.escape(paper)}">')
        if facts and facts.date:
            meta.append(f'<meta name="publishdate" content="{facts.date.isoformat()}">')
    return _page(title, meta, _epaper_chrome(site, content))


def _story_elements(
    lines: list[SourceLine], layout: HtmlLayout, first: bool, heads: set[str], opened: bool
) -> tuple[list[str], bool]:
    """One story's run of lines, headed the way the layout heads stories (a heading that
    heads no story, a page's or section's title, stays a heading element), and whether
    the story's headline has been set by the end of it."""
    if layout.heads == "h1":
        return _body_elements(lines), True
    out: list[str] = []
    for ln in lines:
        story = _norm(ln.text) in heads and ln.role in ("h1", "h2")
        opened = opened or story
        if layout.heads == "div" and ln.role in ("h1", "h2") and not story and not opened:
            out.extend(_body_elements([ln]))
        elif story and layout.heads == "div":
            # A story's headline, whether the text marked it "#" or "##".
            out.append(f'<div class="title">{_inline(ln.text)}</div>')
        elif ln.role == "h1":
            level = 1 if layout.heads == "h1-h2" and first else 2
            out.append(f"<h{level}>{_inline(ln.text)}</h{level}>")
        elif ln.role == "display" and layout.heads == "div":
            out.append(f'<div class="subtitle">{_inline(ln.text)}</div>')
        elif ln.role == "h2" and layout.heads == "div":
            out.append(f"<p><strong>{_inline(ln.text)}</strong></p>")
        elif ln.role == "h2":
            # Sub-headings one level under the story's own headline.
            level = min(ln.level + 1, 6)
            out.append(f"<h{level}>{_inline(ln.text)}</h{level}>")
        else:
            out.extend(_body_elements([ln]))
    return out, opened


# - DOCX -


def to_docx_styled(text: str, layout: DocxLayout) -> bytes:
    """The page as an editor styles it in Word: the masthead in Title or a table, the
    headline in a Heading style, Title, or bold big Normal text, and some prose paragraphs
    wrongly in a Heading style."""
    from docx import Document
    from docx.shared import Pt

    doc = Document()
    normal = doc.styles["Normal"]
    normal.font.size = Pt(layout.body_half_points / 2)
    blocks = parse_source(text)
    mast = _masthead_lines(blocks)
    rng = random.Random(layout.wrap_seed)
    # Paragraphs an editor might restyle: whole sentences of running text (a line the
    # OCR broke mid-sentence, a caption or a quotation is not one).
    prose = [
        k
        for k, ln in enumerate(_all_lines(blocks))
        if k >= mast and ln.role == "body" and is_prose(_norm(_clean(ln.text)))
    ]
    # Not a story's only paragraph: an editor restyles one of many.
    misstyled = set(rng.sample(prose[1:], min(layout.prose_headings, max(len(prose) - 1, 0))))
    style_ids: dict[str, str | None] = {"Normal": None}

    def paragraph(style: str) -> Any:
        if style not in style_ids:
            style_ids[style] = doc.styles[style].style_id
        p = doc.add_paragraph()
        if style_ids[style]:
            p._p.style = style_ids[style]
        return p

    big = Pt(round(layout.body_half_points * layout.head_ratio) / 2)
    n = 0
    mast_lines: list[SourceLine] = []
    for block in blocks:
        for group in _docx_groups(block.lines, layout.soft_breaks):
            role = group[0].role
            if n < mast:
                mast_lines.extend(group)
                n += len(group)
                if n >= mast:
                    _docx_masthead(doc, mast_lines, layout, paragraph)
                continue
            if role == "h1":
                style = {"hand": "Normal"}.get(layout.head, layout.head)
            elif role == "h2":
                style = f"Heading {min(group[0].level, 9)}"
            elif role == "display":
                style = "Subtitle" if layout.deck == "Subtitle" else "Normal"
            elif n in misstyled:
                style = rng.choice(("Heading 1", "Heading 2"))
            else:
                style = "Normal"
            p = paragraph(style)
            for k, ln in enumerate(group):
                if k:
                    p.add_run().add_break()
                if role == "h1" and layout.head == "hand":
                    run = p.add_run(_clean(ln.text))
                    run.bold, run.font.size = True, big
                elif role == "display" and layout.deck == "bold":
                    p.add_run(_clean(ln.text)).bold = True
                else:
                    _add_runs(p, ln.text)
            n += len(group)
    cp = doc.core_properties
    cp.author = cp.last_modified_by = "watcher tests"
    cp.created = cp.modified = DOCX_DATE
    cp.revision = 1
    buf = io.BytesIO()
    doc.save(buf)
    return _fixed_zip(buf.getvalue())


def _docx_masthead(
    doc: Any, lines: list[SourceLine], layout: DocxLayout, paragraph: Callable[[str], Any]
) -> None:
    """The masthead: plain lines, the paper's name in the Title style, or a table."""
    if layout.masthead == "table":
        per = -(-len(lines) // 3)
        cells = [lines[k : k + per] for k in range(0, len(lines), per)]
        t = doc.add_table(rows=1, cols=len(cells))
        for k, cell in enumerate(cells):
            t.cell(0, k).text = "\n".join(_clean(ln.text) for ln in cell)
        return
    for ln in lines:
        named = PAPER_NAME.match(_norm(ln.text))
        p = paragraph("Title" if layout.masthead == "title" and named else "Normal")
        _add_runs(p, ln.text)


# - printed by programs -


def to_html_print_styled(text: str, layout: ChromiumLayout) -> bytes:
    """The e-paper page with a print style sheet drawn from the layout."""
    page = to_html_epaper(text).decode("utf-8")
    body = 10.5
    css = (
        PRINT_CSS.replace("COLUMNS", str(layout.columns))
        .replace("column-gap: 16pt", f"column-gap: {layout.gutter}pt")
        .replace("font-size: 20pt", f"font-size: {body * layout.head_ratio:.1f}pt")
        .replace(
            "article > .subtitle { font-size: 14pt }",
            f"article > .subtitle {{ font-size: {body * layout.deck_ratio:.1f}pt }}",
        )
    )
    sub = body * (1 + (layout.head_ratio - 1) * 0.55)
    css = css.replace("font-size: 13.5pt", f"font-size: {sub:.1f}pt").replace(
        "article h3 { font-size: 12.5pt }", f"article h3 {{ font-size: {sub - 0.8:.1f}pt }}"
    )
    css += f"\narticle > h1, article > h2:first-child {{ font-weight: {layout.head_weight} }}"
    if layout.centred:
        css += "\narticle > h1, article > .subtitle { text-align: center }"
    if layout.masthead == "display":
        # The paper's name in display type, as a masthead sets it.
        name = html.escape(running_header_for(text, default=""))
        if name:
            page = page.replace(f"<p>{name}</p>", f'<p class="paper">{name}</p>', 1)
        css += "\n.masthead .paper { font-size: 28pt; text-align: center }"
    return page.replace("</head>", f"<style>{css}</style>\n</head>", 1).encode("utf-8")


def _chromium_pdf(page: bytes, workdir: Path) -> bytes:
    found = shutil.which(PROGRAMS["chromium"])
    if found is None:
        raise ProducerMissing("no chromium to print PDFs with (Debian: apt-get install chromium)")
    src, out = workdir / "page.html", workdir / "page.pdf"
    src.write_bytes(page)
    out.unlink(missing_ok=True)
    cmd = [found, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
           "--disable-background-networking", "--disable-component-update",
           "--disable-extensions", "--run-all-compositor-stages-before-draw",
           f"--user-data-dir={workdir / 'profile'}", "--no-pdf-header-footer",
           f"--print-to-pdf={out}", src.as_uri()]  # fmt: skip
    for _ in range(2):  # a busy machine now and then loses a first start
        subprocess.run(cmd, capture_output=True, timeout=120, check=False)
        if out.is_file():
            return out.read_bytes()
    raise RuntimeError("chromium printed no PDF")


def _soffice_pdf(docx: bytes, workdir: Path) -> bytes:
    found = shutil.which(PROGRAMS["soffice"])
    if found is None:
        raise ProducerMissing(
            "no soffice to convert DOCX with (Debian: apt-get install libreoffice-writer-nogui)"
        )
    src = workdir / "page.docx"
    src.write_bytes(docx)
    out = workdir / "page.pdf"
    out.unlink(missing_ok=True)
    cmd = [found, "--headless", "--norestore", f"-env:UserInstallation={(workdir / 'lo').as_uri()}",
           "--convert-to", "pdf", "--outdir", str(workdir), str(src)]  # fmt: skip
    subprocess.run(cmd, capture_output=True, timeout=180, check=False)
    if not out.is_file():
        raise RuntimeError("soffice converted nothing")
    return out.read_bytes()


def corpus_days(corpus: Path, count: int, seed: int = 0) -> list[Path]:
    """A seeded sample of 新闻联播 days from both corpus folders (none when absent)."""
    days = sorted(corpus.glob("xwlb_*/*.md"))
    return sorted(random.Random(seed).sample(days, min(count, len(days)))) if days else []


# --- everything for one seed ------------------------------------------------------


def running_header_for(text: str, default: str = DEFAULT_SITE) -> str:
    """The newspaper's name from the masthead, for the PDF's running header."""
    for ln in _all_lines(parse_source(text)):
        if ln.role == "body" and PAPER_NAME.match(_norm(ln.text)):
            return _norm(ln.text)
    return default


def all_formats(name: str, text: str) -> dict[str, bytes]:
    """File name -> bytes of every format made from one seed."""
    stem = name.removesuffix(".txt")
    one = len(split_page(text)) == 1
    return {
        f"{stem}.md": to_markdown(text),
        f"{stem}.html": to_html_article(text) if one else to_html_epaper(text),
        f"{stem}.1col.pdf": to_pdf(text, 1),
        f"{stem}.2col.pdf": to_pdf(text, 2, running_header=running_header_for(text)),
        f"{stem}.3col.pdf": to_pdf(text, 3),
        f"{stem}.docx": to_docx(text),
    }


# --- scans: pages as images ----------------------------------------------------------

SCAN_DPI = 200


def page_images(pdf: bytes, dpi: int = SCAN_DPI) -> list[Any]:
    """A PDF's pages as greyscale images (Pillow), rendered by PDFium at ``dpi``: what a
    scanner gives for a printed page, without its noise."""
    import pypdfium2

    document = pypdfium2.PdfDocument(pdf)
    try:
        return [page.render(scale=dpi / 72).to_pil().convert("L") for page in document]
    finally:
        document.close()


def to_image(pdf: bytes, fmt: str = "TIFF", dpi: int = SCAN_DPI) -> bytes:
    """A PDF as one image file at ``dpi`` (a multi-page TIFF, or a PNG/JPEG of page 1)."""
    images = page_images(pdf, dpi)
    buf = io.BytesIO()
    if fmt == "TIFF":
        images[0].save(
            buf,
            "TIFF",
            dpi=(dpi, dpi),
            save_all=True,
            append_images=images[1:],
            compression="tiff_deflate",
        )
    else:
        images[0].save(buf, fmt, dpi=(dpi, dpi))
    return buf.getvalue()


def to_scanned_pdf(pdf: bytes, dpi: int = SCAN_DPI) -> bytes:
    """A PDF's pages as a PDF of page images at ``dpi`` and no text layer (a scanned copy)."""
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen.canvas import Canvas

    buf = io.BytesIO()
    c = Canvas(buf, pagesize=(PAGE_W, PAGE_H), invariant=1)
    for image in page_images(pdf, dpi):
        c.drawImage(ImageReader(image), 0, 0, PAGE_W, PAGE_H)
        c.showPage()
    c.save()
    return buf.getvalue()


# --- broken documents ---------------------------------------------------------------


def scanned_reason() -> str:
    """What reading :func:`scanned_pdf` fails with here: without watcher[ocr], that it
    needs OCR; with a RapidOCR (3 or 1.4), or without one the tesseract program, that OCR found no text
    on it (its bars are no characters); else what to install."""
    import importlib.util

    from watcher import ocr, pdf

    if importlib.util.find_spec("pytesseract") is None:
        return pdf.SCANNED
    if any(importlib.util.find_spec(m) is not None for m in (ocr.RAPIDOCR_V6, ocr.RAPIDOCR)):
        return ocr.NOTHING_FOUND
    listed = (
        subprocess.run(["tesseract", "--list-langs"], capture_output=True, text=True).stdout
        if shutil.which("tesseract")
        else ""
    )
    if not listed:
        return ocr.NO_TESSERACT
    return ocr.NOTHING_FOUND if ocr.LANGUAGE in listed.split() else ocr.NO_MODEL


def scanned_pdf() -> bytes:
    """A one-page 'scan': a grey raster image of text-like bars and no text at all."""
    from reportlab.pdfgen.canvas import Canvas

    buf = io.BytesIO()
    c = Canvas(buf, pagesize=(PAGE_W, PAGE_H), invariant=1)
    try:
        # Pillow ships with reportlab 4+, so the page carries a real image XObject.
        from PIL import Image, ImageDraw
        from reportlab.lib.utils import ImageReader

        img = Image.new("L", (420, 594), 236)
        draw = ImageDraw.Draw(img)
        for row in range(40, 560, 14):
            for col, x in enumerate((30, 150, 270)):
                draw.rectangle((x, row, x + 110 - (row * 7 + col * 13) % 40, row + 7), fill=70)
        c.drawImage(ImageReader(img), 0, 0, PAGE_W, PAGE_H)
    except ImportError:
        # No Pillow: grey filled rectangles stand in for the raster; still no text.
        c.setFillGray(0.3)
        for y in range(60, 800, 20):
            for x in (42, 222, 402):
                c.rect(x, y, 150, 9, stroke=0, fill=1)
    c.showPage()
    c.save()
    return buf.getvalue()


def encrypted_pdf(text: str) -> bytes:
    """The one-column PDF of ``text`` behind the user password "secret"."""
    from reportlab.lib.pdfencrypt import StandardEncryption

    enc = StandardEncryption("secret", ownerPassword="owner-secret", canPrint=0)
    with _encryptable_cid_strings():
        return _render_pdf(text, encrypt=enc)


@contextmanager
def _encryptable_cid_strings() -> Iterator[None]:
    """Make reportlab encrypt the CID font's /Registry and /Ordering strings.

    reportlab writes them as raw ``(Adobe)`` text that skips encryption, so a
    reader given the right password decrypts them to garbage, loses the font
    and extracts ``(cid:NNNN)``; as PDFString objects they are encrypted.
    """
    from reportlab.pdfbase._cidfontdata import CIDFontInfo
    from reportlab.pdfbase.pdfdoc import PDFString

    info = CIDFontInfo[FONT]["DescendantFonts"][0]["CIDSystemInfo"]
    saved = dict(info)
    info["Registry"], info["Ordering"] = (
        PDFString(v.strip("()")) for v in (saved["Registry"], saved["Ordering"])
    )
    try:
        yield
    finally:
        info.update(saved)


def many_pages_pdf(n: int) -> bytes:
    """``n`` pages, each with one short line of text."""
    from reportlab.pdfgen.canvas import Canvas

    _register_font()
    buf = io.BytesIO()
    c = Canvas(buf, pagesize=(PAGE_W, PAGE_H), invariant=1)
    for i in range(1, n + 1):
        c.setFont(FONT, TYPE_SIZES["body"][0])
        # Mid-page: a line in the margin repeated on every page is a running head.
        c.drawString(MARGIN, PAGE_H / 2, f"这是第{i}版的正文。")
        c.showPage()
    c.save()
    return buf.getvalue()


def flate_bomb_pdf(mb: int) -> bytes:
    """A valid one-page PDF whose content stream inflates to ``mb`` MiB (mostly spaces).

    Written by hand so the stream never exists uncompressed: a 1,000 MiB bomb
    is about 1 MiB and takes well under a second to make.
    """
    prefix = b"BT /F1 12 Tf 72 720 Td (flate bomb) Tj ET\n"
    stream = _deflate_repeated(prefix, b" " * MIB, mb)  # whitespace between operators is valid
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
        b"/Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    return _pdf_file(objects)


def _pdf_file(objects: list[bytes]) -> bytes:
    """A PDF file of these objects (1 0 R is the catalog), with its cross-reference table."""
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for n, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % n + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    out.writelines(b"%010d 00000 n \n" % off for off in offsets)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\n" % (len(objects) + 1))
    out.write(b"startxref\n%d\n%%%%EOF\n" % xref)
    return out.getvalue()


def unmapped_font_pdf() -> bytes:
    """A page of text in a CID font with no ToUnicode map: glyph numbers, no characters."""
    content = b"BT /F1 12 Tf 72 720 Td <0001000200030004000500060007> Tj ET"
    return _pdf_file(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
            b"/Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>",
            b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
            b"<< /Type /Font /Subtype /Type0 /BaseFont /Embedded /Encoding /Identity-H "
            b"/DescendantFonts [6 0 R] >>",
            b"<< /Type /Font /Subtype /CIDFontType2 /BaseFont /Embedded /CIDSystemInfo "
            b"<< /Registry (Adobe) /Ordering (Identity) /Supplement 0 >> "
            b"/FontDescriptor 7 0 R /DW 1000 >>",
            b"<< /Type /FontDescriptor /FontName /Embedded /Flags 4 /FontBBox [0 0 1000 1000] "
            b"/ItalicAngle 0 /Ascent 880 /Descent -120 /CapHeight 700 /StemV 80 >>",
        ]
    )


def no_pages_pdf() -> bytes:
    """A well-formed PDF whose page tree is empty."""
    return _pdf_file(
        [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [] /Count 0 >>"]
    )


def _deflate_repeated(prefix: bytes, chunk: bytes, n: int) -> bytes:
    """zlib data inflating to ``prefix + chunk * n``, deflating the chunk only once.

    After a full flush deflate output never refers back past the flush point,
    so one chunk's flushed bytes can be repeated; only the Adler-32 checksum
    has to see every byte, and it is cheap.
    """
    raw = zlib.compressobj(9, zlib.DEFLATED, -15)  # raw deflate: we write the zlib frame
    head = raw.compress(prefix) + raw.flush(zlib.Z_FULL_FLUSH)
    piece = raw.compress(chunk) + raw.flush(zlib.Z_FULL_FLUSH)
    tail = raw.flush()  # the final, empty block
    adler = zlib.adler32(prefix)
    for _ in range(n):
        adler = zlib.adler32(chunk, adler)
    return b"\x78\xda" + head + piece * n + tail + adler.to_bytes(4, "big")


def truncated(data: bytes, keep: float = 0.5) -> bytes:
    """The first ``keep`` fraction of a file, as a download cut short leaves it."""
    return data[: int(len(data) * keep)]


_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" '
    'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/word/document.xml" ContentType="application/'
    'vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>'
    "</Types>"
)
_ROOT_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/officeDocument" Target="word/document.xml"/>'
    "</Relationships>"
)
_DOC_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"/>'
)
_DOC_HEAD = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    b'<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
    b"<w:body>"
)
_DOC_TAIL = b"<w:sectPr/></w:body></w:document>"
_DOC_PARA = "<w:p><w:r><w:t>压缩炸弹测试段落。</w:t></w:r></w:p>".encode()


def zip_bomb_docx(uncompressed_mb: int) -> bytes:
    """A .docx whose ``word/document.xml`` inflates to about ``uncompressed_mb`` MiB.

    The XML is streamed into the zip chunk by chunk, so memory stays at the
    compressed size (about 1/1000 of the inflated one).
    """
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for name, data in (
            ("[Content_Types].xml", _CONTENT_TYPES),
            ("_rels/.rels", _ROOT_RELS),
            ("word/_rels/document.xml.rels", _DOC_RELS),
        ):
            info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
        info = zipfile.ZipInfo("word/document.xml", date_time=ZIP_DATE)
        info.compress_type = zipfile.ZIP_DEFLATED
        target = uncompressed_mb * MIB
        chunk = _DOC_PARA * (MIB // len(_DOC_PARA))
        # zipfile needs to know up front when an entry will pass 2 GiB.
        with zf.open(info, "w", force_zip64=target > (1 << 31) - MIB) as f:
            f.write(_DOC_HEAD)
            written = len(_DOC_HEAD) + len(_DOC_TAIL)
            while written + len(chunk) <= target:
                f.write(chunk)
                written += len(chunk)
            rest = (target - written) // len(_DOC_PARA)
            f.write(_DOC_PARA * max(rest, 0))
            f.write(_DOC_TAIL)
    return out.getvalue()


def encrypted_docx(docx_bytes: bytes, password: str = "secret") -> bytes:
    """A real password-protected Word file (ECMA-376 agile encryption in an OLE container)."""
    from msoffcrypto.format.ooxml import OOXMLFile

    out = io.BytesIO()
    OOXMLFile(io.BytesIO(docx_bytes)).encrypt(password, out)
    return out.getvalue()


# --- comparing what comes back ----------------------------------------------------------

# The day the comparisons read pages on: datelines without a year take it from here.
READ_DAY = dt.date(2026, 11, 21)
FIELDS = (
    "kind",
    "kicker",
    "headline",
    "subtitle",
    "body",
    "byline",
    "dateline",
    "newspaper",
    "date",
    "page",
    "continued",
)


def comparable(article: Article) -> tuple[object, ...]:
    """What must come out the same whatever the format (whitespace aside)."""
    return tuple(
        re.sub(r"\s+", "", v) if isinstance(v := getattr(article, f), str) else v for f in FIELDS
    )


def source_text(name: str, data: bytes) -> str:
    """The text a page's variants are made from: the file as watcher reads it (a
    Markdown day without its link targets and comments)."""
    from watcher.readers import read_bytes

    return read_bytes(Path(name), data).text


def read_articles(name: str, data: bytes) -> list[Article]:
    """The articles watcher reads from a file's bytes (in this process)."""
    from watcher.readers import read_bytes
    from watcher.reading import Limits

    text = read_bytes(Path(name), data, Limits(isolate=False))
    return split_page(text.text, markup=text.markup, today=READ_DAY, known=text.page)


def difference(got: list[Article], want: list[Article]) -> str | None:
    """None when the articles are the same, else the first difference in a few words."""
    a, b = [comparable(x) for x in got], [comparable(x) for x in want]
    if a == b:
        return None
    heads = [x[2] for x in a], [x[2] for x in b]
    if len(a) != len(b):
        extra = [h for h in heads[0] if h not in heads[1]]
        lost = [h for h in heads[1] if h not in heads[0]]
        return (
            f"{len(a)} articles, not {len(b)}"
            + (f"; extra {_clip(extra[0])}" if extra else "")
            + (f"; lost {_clip(lost[0])}" if lost else "")
        )
    for k, (x, y) in enumerate(zip(a, b, strict=True)):
        for field, u, v in zip(FIELDS, x, y, strict=True):
            if u != v:
                return f"#{k} {field}: {_clip(u)} for {_clip(v)}"
    return "differs"  # pragma: no cover - some field differs above


def _clip(value: object, n: int = 24) -> str:
    s = str(value)
    return repr(s if len(s) <= n else s[: n - 1] + "…")

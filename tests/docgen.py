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

import datetime as dt
import html
import io
import re
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from watcher.pages import BREADCRUMB, HEADING, PAPER_NAME, split_page

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
GAP_FACTOR = 0.6  # extra space above a block's first line, in leadings
INDENT_EMS = 2  # prose paragraphs open with a two-character indent, as Chinese papers do
FURNITURE_SIZE = 9.0  # running header and folio
HEADER_Y = PAGE_H - 28
FOOTER_Y = 24.0
RULE_WIDTH = 0.5  # hairline drawn between stories

PROSE_PUNCT = "。！？；"
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
class _Row:
    """One printed line of a paragraph."""

    text: str
    size: float
    leading: float
    indent: float
    space: float  # extra space above, dropped at the top of a page or column


def _register_font() -> None:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont

    if FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(FONT))


@cache
def _unit_width(ch: str) -> float:
    from reportlab.pdfbase import pdfmetrics

    return pdfmetrics.stringWidth(ch, FONT, 1000) / 1000


def _wrap(text: str, width: float, size: float, indent: float) -> list[str]:
    """Break a paragraph into rows no wider than ``width``, anywhere (Chinese has no spaces).

    A space where the break falls stays at the end of the row it follows,
    hanging into the margin, so a reader that joins rows keeps it.
    """
    rows: list[str] = []
    cur: list[str] = []
    used = indent
    for ch in text:
        w = _unit_width(ch) * size
        if cur and ch != " " and used + w > width + 1e-6:
            rows.append("".join(cur))
            cur, used = [], 0.0
        cur.append(ch)
        used += w
    if cur:
        rows.append("".join(cur))
    return rows


def _rows(lines: list[tuple[SourceLine, bool]], width: float) -> list[_Row]:
    """The printed rows of a band; each source line is one paragraph."""
    out: list[_Row] = []
    for ln, opens_block in lines:
        size, leading = TYPE_SIZES[ln.role]
        if ln.role == "h2" and ln.level >= 3:
            size, leading = SUBHEAD_SIZES[3]
        text = _pdf_text(ln.text)
        indent = INDENT_EMS * size if ln.role == "body" and _is_prose(text) else 0.0
        space = GAP_FACTOR * leading if opens_block else 0.0
        for k, row in enumerate(_wrap(text, width, size, indent)):
            out.append(
                _Row(row, size, leading, indent if k == 0 else 0.0, space if k == 0 else 0.0)
            )
    return out


def _bands(blocks: list[Block]) -> list[tuple[str, list[tuple[SourceLine, bool]]]]:
    """Maximal runs of headline lines ("head") and of body/h2 lines ("body")."""
    bands: list[tuple[str, list[tuple[SourceLine, bool]]]] = []
    for block in blocks:
        for k, ln in enumerate(block.lines):
            kind = "head" if ln.role in ("h1", "display") else "body"
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

    def __init__(self, c: Canvas, running_header: str | None) -> None:
        self.c = c
        self.header = running_header
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
        self.c.drawString(x + r.indent, baseline, r.text)

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

    def body(self, rows: list[_Row], columns: int) -> None:
        """A body band in balanced columns, continued on new pages as needed."""
        width = (PAGE_W - 2 * MARGIN - (columns - 1) * GUTTER) / columns
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
                x = MARGIN + n * (width + GUTTER)
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


def _render_pdf(
    text: str, columns: int = 1, running_header: str | None = None, encrypt: Any = None
) -> bytes:
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

    setter = _Typesetter(c, running_header)
    width = (PAGE_W - 2 * MARGIN - (columns - 1) * GUTTER) / columns
    bands = _bands(blocks)
    for n, (kind, lines) in enumerate(bands):
        if kind == "head":
            rows = _rows(lines, PAGE_W - 2 * MARGIN)
            # Keep a headline with at least two lines of its story.
            nxt = bands[n + 1] if n + 1 < len(bands) else None
            keep = 2 * TYPE_SIZES["body"][1] if nxt and nxt[0] == "body" else 0.0
            setter.head(rows, keep)
        else:
            setter.body(_rows(lines, width), columns)
    c.showPage()
    c.save()
    return buf.getvalue()


def to_pdf(text: str, columns: int = 1, running_header: str | None = None) -> bytes:
    """The page typeset as a newspaper PDF: headlines across, body in balanced columns."""
    return _render_pdf(text, columns, running_header)


# --- DOCX -----------------------------------------------------------------------


def _docx_groups(lines: Iterable[SourceLine]) -> Iterator[list[SourceLine]]:
    """Lines of a block that share one Word paragraph: same role, prose body alone."""
    group: list[SourceLine] = []
    for ln in lines:
        alone = ln.role == "body" and _is_prose(_clean(ln.text))
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


def to_html_epaper(text: str, site: str = DEFAULT_SITE) -> bytes:
    """A multi-article e-paper page with the site chrome a reader must drop."""
    from watcher.pages import split_page

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

    masthead: list[str] = []
    articles: list[list[str]] = []
    i = 0
    for block in blocks:
        pre = [ln for k, ln in enumerate(block.lines) if i + k < first]
        if pre:
            masthead.append(f"<p>{'<br>'.join(_inline(ln.text) for ln in pre)}</p>")
        # Split the rest of the block where each headline run starts an <article>.
        seg: list[SourceLine] = []
        for k, ln in enumerate(block.lines):
            n = i + k
            if n < first:
                continue
            opens = n == first or (starts[n] and not starts[n - 1])
            if opens:
                if seg:
                    articles[-1].extend(_body_elements(seg))
                    seg = []
                articles.append([])
            seg.append(ln)
        if seg:
            articles[-1].extend(_body_elements(seg))
        i += len(block.lines)

    content = ['<main class="content">']
    if masthead:
        content += ['<div class="masthead">', *masthead, "</div>"]
    for art in articles:
        content += ["<article>", *art, "</article>"]
    content += ['<div class="share">分享到：微信 微博 QQ空间</div>', "</main>"]
    sidebar = "".join(
        f'<li><a href="node_{k + 1:02d}.html">{t}</a></li>' for k, t in enumerate(SIDEBAR_PAGES)
    )
    body = [
        *_chrome_top(site, "首页 &gt; 数字报 &gt; 第01版"),
        '<div class="layout">',
        f'<aside class="sidebar"><h3>版面导航</h3><ul>{sidebar}</ul></aside>',
        *content,
        "</div>",
        *_chrome_bottom(),
    ]
    return _page(f"{site} - 第01版：要闻", [], body)


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


# --- broken documents ---------------------------------------------------------------


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
        return _render_pdf(text, 1, None, encrypt=enc)


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

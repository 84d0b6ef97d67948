"""PDF pages → text, with pdfminer.six (the only module that imports it).

pdfminer gives every character with its position, font and size, and maps CJK CID fonts
(Adobe-GB1) back to Unicode. Its own grouping of characters into boxes is skipped
(``laparams=None``, which is also faster): characters are gathered into lines here and
handed to :mod:`watcher.layout`, which knows newspaper columns.

Limits are checked before any page is laid out: encryption, the page count, truncation.
Memory and time are bounded by running this in a child process (:mod:`watcher.sandbox`).
"""

from __future__ import annotations

import functools
import io
import itertools
import logging
import re
import unicodedata
from pathlib import Path
from typing import Any

from watcher import layout, ocr
from watcher.errors import ReadError
from watcher.layout import TextLine
from watcher.models import Text
from watcher.reading import NO_VISIBLE_TEXT, Package

log = logging.getLogger(__name__)
# pdfminer warns about every font descriptor it has to guess at; that is not news to a user.
logging.getLogger("pdfminer").setLevel(logging.ERROR)

# A page without a text layer is read by OCR (watcher.ocr) when watcher[ocr] is installed.
SCANNED = "no text layer (scanned image); reading it needs OCR: pip install 'watcher[ocr]'"
ENCRYPTED = "encrypted PDF: it needs a password to open; save an unprotected copy"
TRUNCATED = "damaged PDF: the file is cut short (no %%EOF at its end); was the copy complete?"
NO_UNICODE = "the PDF's fonts have no Unicode mapping, so its text cannot be recovered"

# What this module needs installed; the registry (watcher.readers) looks it up first.
PDFMINER = Package(module="pdfminer", name="pdfminer.six", extra="pdf", kind="PDF")

# Characters further apart than this many of their own widths are in different lines
# (columns); gutters are wider (a narrow one is under a character), word spaces narrower.
_SPLIT_GAP = 0.7
# The same character again less than this share of its own width further on is overprint.
_OVERPRINT = 0.3
# Full-width punctuation draws its ink in the left half of its box: a comma hanging past
# the measure reaches half a character into the gutter, not a whole one.
_PUNCTUATION = frozenset("，。、；：！？”’）》」』】〕〉］｝")
_INK = 0.5
# Wider than this share of a character between two letters is a word space.
_WORD_GAP = 0.25
# Above this share of unmapped glyphs, "(cid:123)" is all pdfminer can give.
_MAX_UNMAPPED = 0.2


def read_pdf(data: bytes, path: Path, *, max_pages: int = 100, timeout: float = 120.0) -> Text:
    """The text of a PDF, in reading order, headlines marked by type size.

    Pages with images and no text (scans) are read by OCR when watcher[ocr] is installed
    (each page given ``timeout`` seconds); without it, a PDF with no text at all fails.
    """
    try:
        from pdfminer.converter import PDFPageAggregator
        from pdfminer.pdfinterp import PDFPageInterpreter, PDFResourceManager
    except ImportError:
        raise ReadError(PDFMINER.missing) from None
    document = _open(data)
    pages = _pages(document, max_pages)
    resources = PDFResourceManager(caching=True)
    device = PDFPageAggregator(resources, laparams=None)
    interpreter = PDFPageInterpreter(resources, device)
    lines: list[list[TextLine]] = []
    heights: list[float] = []
    images = chars = unmapped = 0
    scanned: list[int] = []
    for number, page in enumerate(pages):
        try:
            interpreter.process_page(page)
        except MemoryError:
            raise  # the sandbox says how much memory was allowed
        except Exception as exc:  # pdfminer raises many kinds on a broken page
            raise ReadError(f"damaged PDF: page {number + 1}: {_describe(exc)}") from None
        result = device.get_result()
        _, y0, _, y1 = result.bbox
        found, page_images = _glyphs(result)
        images += page_images
        if page_images and not found:
            scanned.append(number)
        chars += len(found)
        unmapped += sum(1 for g in found if g[0].startswith("(cid:"))
        lines.append(_lines(found, number, top=y1))
        heights.append(y1 - y0)
    if scanned and ocr.PYTESSERACT.installed():
        try:
            read = ocr.read_scanned_pdf(data, path, pages=scanned, timeout=timeout)
        except ReadError as exc:
            if not chars:
                raise
            # Pages with text are still worth having; the scanned ones are named.
            log.warning("%s: %d scanned pages left out: %s", path, len(scanned), exc)
            read = [[] for _ in scanned]
        for number, found_lines in zip(scanned, read, strict=True):
            lines[number] = found_lines
        if not any(lines):
            raise ReadError(ocr.NOTHING_FOUND)
        chars += sum(len(ln.text) for number in scanned for ln in lines[number])
    elif not chars:
        raise ReadError(SCANNED if images else NO_VISIBLE_TEXT)
    if unmapped > chars * _MAX_UNMAPPED:
        raise ReadError(NO_UNICODE)
    text = layout.to_text(lines, heights)
    if not text:
        raise ReadError(NO_VISIBLE_TEXT)
    log.debug("%s: %d pages, %d characters", path, len(pages), chars)
    return Text(text=text, encoding="pdf", markup="plain")


def _open(data: bytes) -> Any:
    """Parse the PDF's structure; refuse encrypted and cut-short files."""
    from pdfminer.pdfdocument import PDFDocument, PDFEncryptionError, PDFPasswordIncorrect
    from pdfminer.pdfparser import PDFParser

    if not data.lstrip()[:5].startswith(b"%PDF"):
        raise ReadError("not a PDF file (it does not start with %PDF)")
    # Every PDF ends with %%EOF; without it the file was cut short (a copy or download
    # stopped), and pdfminer would guess its way through what is left.
    if b"%%EOF" not in data[-2048:]:
        raise ReadError(TRUNCATED)
    try:
        return PDFDocument(PDFParser(io.BytesIO(data)))
    except (PDFPasswordIncorrect, PDFEncryptionError):
        raise ReadError(ENCRYPTED) from None
    except MemoryError:
        raise
    except Exception as exc:
        raise ReadError(f"damaged PDF: {_describe(exc)}") from None


def _pages(document: Any, max_pages: int) -> list[Any]:
    from pdfminer.pdfpage import PDFPage

    try:
        pages = []
        for page in PDFPage.create_pages(document):
            pages.append(page)
            if len(pages) > max_pages:
                raise ReadError(
                    f"PDF has more than {max_pages} pages; raise scan.max_pdf_pages to read it"
                )
    except (ReadError, MemoryError):
        raise
    except Exception as exc:
        raise ReadError(f"damaged PDF: {_describe(exc)}") from None
    if not pages:
        raise ReadError("damaged PDF: it has no pages")
    return pages


# PDF fonts often map a character's glyph to the CJK radical that looks the same, so
# 工 comes out as ⼯ (U+2F2F) and 民 as ⺠ (U+2EA0): the text looks right and matches
# nothing. Kangxi radicals and compatibility ideographs decompose (NFKC); the CJK Radicals
# Supplement does not, so its pairs are taken from Unicode's EquivalentUnifiedIdeograph.txt
# (U+2E81..U+2EF3; U+2E80 and U+2E9A have no equivalent).
_RADICAL_SUPPLEMENT = (
    "⺁厂⺂乛⺃乚⺄乙⺅亻⺆冂⺇𠘨⺈刀⺉刂⺊卜⺋㔾⺌小⺍小⺎兀⺏尣⺐尢"
    "⺑𡯂⺒巳⺓幺⺔彑⺕彐⺖忄⺗心⺘扌⺙攵⺛旡⺜日⺝月⺞歺⺟母⺠民⺡氵"
    "⺢氺⺣灬⺤爫⺥爫⺦丬⺧牛⺨犭⺩王⺪𤴔⺫目⺬示⺭礻⺮𥫗⺯糹⺰纟⺱罓"
    "⺲罒⺳㓁⺴冗⺵𦉫⺶羊⺷𦍌⺸𦍋⺹耂⺺肀⺻聿⺼肉⺽𦥑⺾艹⺿艹⻀艹⻁虎"
    "⻂衤⻃覀⻄西⻅见⻆角⻇𧢲⻈讠⻉贝⻊𧾷⻋车⻌辶⻍辶⻎辶⻏邑⻐钅⻑長"
    "⻒镸⻓长⻔门⻕𨸏⻖阝⻗雨⻘青⻙韦⻚页⻛风⻜飞⻝食⻞𩙿⻟飠⻠饣⻡𩠐"
    "⻢马⻣骨⻤鬼⻥鱼⻦鸟⻧卤⻨麦⻩黄⻪黾⻫斉⻬齐⻭歯⻮齿⻯竜⻰龙⻱龜"
    "⻲亀⻳龟"
)


# A Kangxi radical is the traditional form (⼾ is 戶), but in a simplified font its glyph is
# the one 户 is drawn with: that is the character the page showed. These 22 radicals'
# NFKC forms are traditional; their simplified forms (OpenCC t2s, checked by a test) are
# written out so that reading a PDF does not load OpenCC.
KANGXI_SIMPLIFIED = (
    "⼾户⾒见⾙贝⾞车⾧长⾨门⾱韦⾴页⾵风⾶飞⾺马⾾斗⿂鱼⿃鸟⿄卤⿆麦⿈黄⿌黾⿑齐⿒齿⿓龙⿔龟"
)


@functools.cache
def _ideograph_table() -> dict[int, str]:
    pairs = zip(_RADICAL_SUPPLEMENT[::2], _RADICAL_SUPPLEMENT[1::2], strict=True)
    table = {ord(a): b for a, b in pairs}
    for code in range(0x2F00, 0x2FD6):
        table[code] = unicodedata.normalize("NFKC", chr(code))
    table.update(
        {ord(a): b for a, b in zip(KANGXI_SIMPLIFIED[::2], KANGXI_SIMPLIFIED[1::2], strict=True)}
    )
    # Dashes: a font's horizontal bar for the Chinese dash ——, and a browser's two- and
    # three-em dash glyphs for —— and ———.
    table[0x2015] = "\u2014"
    table[0x2E3A] = "\u2014" * 2
    table[0x2E3B] = "\u2014" * 3
    for code in range(0xF900, 0xFB00):
        unified = unicodedata.normalize("NFKC", chr(code))
        if len(unified) == 1 and unified != chr(code):
            table[code] = unified
    return table


def unify_ideographs(text: str) -> str:
    """Radicals, compatibility forms and dash glyphs a PDF font gave → the text's characters."""
    return text.translate(_ideograph_table())


def _describe(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


# A glyph: (text, x0, y0, x1, y1, size, bold font) in PDF coordinates (y grows upwards).
Glyph = tuple[str, float, float, float, float, float, bool]

# Font names of bold faces: "NotoSerifCJKsc-Bold", "SimHei", "FZHTK--GBK1-0" (方正黑体),
# "STSong-Light,Bold" (a viewer's synthetic bold). Chinese papers set headlines in 黑体.
_BOLD_FONT = re.compile(r"bold|black|heavy|semibold|demi|hei|黑|,b$|-b$|w[6-9]$", re.I)


def _glyphs(container: Any) -> tuple[list[Glyph], int]:
    """Upright characters of a laid-out page (figures included) and how many images."""
    from pdfminer.layout import LTChar, LTContainer, LTImage

    found: list[Glyph] = []
    images = 0

    def walk(node: Any) -> None:
        nonlocal images
        for item in node:
            if isinstance(item, LTChar):
                # Rotated text (spine lines, watermarks) is not part of the reading order.
                if item.upright and item.get_text().strip("\x00"):
                    bold = _is_bold_font(item.fontname)
                    found.append(
                        (item.get_text(), item.x0, item.y0, item.x1, item.y1, item.size, bold)
                    )
            elif isinstance(item, LTImage):
                images += 1
            elif isinstance(item, LTContainer):
                walk(item)

    walk(container)
    return found, images


@functools.cache
def _is_bold_font(name: str) -> bool:
    # A subset font's name starts with six letters and "+": "ABCDEF+SimHei".
    return bool(_BOLD_FONT.search(name.partition("+")[2] or name))


def _lines(glyphs: list[Glyph], page: int, top: float) -> list[TextLine]:
    """Characters → lines: same baseline, split where a gap is wider than a character.

    A line is bold when most of its characters are in a bold face or drawn twice a hair
    apart (the poor man's bold of many layout programs).
    """
    rows: list[list[Glyph]] = []
    for glyph in sorted(glyphs, key=lambda g: (-round(g[2], 1), g[1])):
        if rows and abs(rows[-1][0][2] - glyph[2]) <= 0.3 * glyph[5]:
            rows[-1].append(glyph)
        else:
            rows.append([glyph])
    out: list[TextLine] = []
    for row in rows:
        row.sort(key=lambda g: g[1])
        piece: list[Glyph] = []
        spacing: list[float] = []  # the white between the piece's glyph boxes
        twice = 0
        for glyph in row:
            if piece:
                last = piece[-1]
                width = last[3] - last[1]
                if glyph[0] == last[0] and glyph[1] - last[1] < _OVERPRINT * width:
                    twice += 1
                    continue  # drawn twice, a hair apart: a bold or shadow effect
                gap = glyph[1] - _ink_end(last)
                # A justified line spaced out letter by letter (to fit a long date or
                # number) goes on while the white is the spacing of its last letters.
                spaced = len(spacing) >= 2 and all(
                    abs(glyph[1] - last[3] - white) < 0.15 * last[5] for white in spacing[-2:]
                )
                spacing.append(glyph[1] - last[3])
                change = abs(glyph[5] - last[5]) / (max(glyph[5], last[5]) or 1.0)
                # Type of another size after white space is another line (a heading's
                # last row on a text line's baseline in the next column): a large change
                # splits even without it.
                size_change = change > 0.3 or (change > 0.1 and gap > _WORD_GAP * last[5])
                if (gap > _SPLIT_GAP * max(glyph[5], last[5]) and not spaced) or size_change:
                    out.append(_line(piece, page, top, twice))
                    piece, spacing, twice = [], [], 0
            piece.append(glyph)
        if piece:
            out.append(_line(piece, page, top, twice))
    return [ln for ln in out if ln.text.strip()]


def _ink_end(glyph: Glyph) -> float:
    """Where a glyph's ink ends: its box's end, or half-way for full-width punctuation."""
    if glyph[0] in _PUNCTUATION:
        return glyph[1] + _INK * (glyph[3] - glyph[1])
    return glyph[3]


def _line(glyphs: list[Glyph], page: int, top: float, twice: int = 0) -> TextLine:
    sizes: dict[float, int] = {}
    for g in glyphs:
        sizes[g[5]] = sizes.get(g[5], 0) + 1
    parts = [glyphs[0][0]]
    for last, glyph in itertools.pairwise(glyphs):
        # Words placed apart without a space glyph; Chinese never gets one.
        gap = glyph[1] - last[3]
        letters = last[0].isascii() or glyph[0].isascii()
        spaced = last[0].isspace() or glyph[0].isspace()
        if gap > _WORD_GAP * glyph[5] and letters and not spaced:
            parts.append(" ")
        parts.append(glyph[0])
    text = unify_ideographs("".join(parts))
    return TextLine(
        text=text,
        x0=min(g[1] for g in glyphs),
        top=top - max(g[4] for g in glyphs),
        # The ink's end: hanging punctuation must not make a line look wider than the
        # measure, or close a gutter.
        x1=max(_ink_end(g) for g in glyphs),
        bottom=top - min(g[2] for g in glyphs),
        size=max(sizes, key=lambda s: sizes[s]),
        page=page,
        bold=2 * (twice + sum(1 for g in glyphs if g[6])) > len(glyphs),
    )

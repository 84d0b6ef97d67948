"""Layout analysis for PDF pages: positioned lines → text in reading order (pure).

A newspaper page is set in *bands*: a headline across the page, then its story in two or
three columns, then the next headline… Reading order is recovered by a recursive X-Y cut:

1. a headline (a row of headline type with nothing beside it) opens a new band, even when
   its words are too short to reach over every column below;
2. otherwise columns are cut apart at gutters no line crosses;
3. otherwise the region is cut between rows, and consecutive rows are glued back together
   while they fit the same columns. The glue keeps a two-column story whole when both
   columns happen to have a paragraph gap at the same height — the case where a plain
   X-Y cut interleaves them.

Within a column, lines become paragraphs: a line joins the one above when that line runs
to the column's right edge and this one is not indented (Chinese text is set without
spaces, so a wrapped line is joined with none); a paragraph also runs on from the bottom of
one column or page to the top of the next. Type size marks headings: lines set at
``HEADLINE_RATIO`` × the body size or more become ``# headline``; a line in between that
stands alone inside a story becomes a ``## sub-heading``, while one next to a headline
(a kicker or a deck) stays a plain line, which the splitter reads as such.

Coordinates are PDF points measured from the top-left of the page.
"""

from __future__ import annotations

import dataclasses
import itertools
import re
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

# Lines set at this many times the body size or larger are headlines when the page shows
# no smaller headline size of its own (see _headline_size).
HEADLINE_RATIO = 1.6
# From this up: display type (a headline, a kicker, a deck, a sub-heading).
DISPLAY_RATIO = 1.1
# Bold type ranks above regular type of its size and below the next size (sizes are
# compared in half points); it is display type even at the body size (a bold headline, a
# bold sub-heading).
BOLD_STEP = 0.25
# A gap between two columns is at least this many body-size characters wide.
GUTTER_CHARS = 0.8
# A "column" narrower than this many body characters, this close to the next, is the
# stray tail of a paragraph beside indented lines.
NARROW_CHARS = 3.0
# White space across a region taller than this many body sizes parts two stories.
STORY_GAP = 1.7
# White space under a line narrower than this many of its sizes is line spacing (the
# next line of its paragraph), not the space before another block.
LINE_SPACING = 0.8
# A line starting this many of its characters right of its column's edge is indented.
INDENT_CHARS = 0.8
# A line ending within this many of its characters of the column's right edge is full.
FULL_CHARS = 1.5
# A line that stops mid-sentence this many characters short of the measure still runs on.
KEPT_CHARS = 3.0
# Page margins (share of the page height) where running heads and folios live.
MARGIN_SHARE = 0.07

_FOLIO = re.compile(r"^[-—–\s]*(?:第\s*)?\d{1,4}\s*(?:页|版)?[-—–\s]*$|^\d{1,4}\s*/\s*\d{1,4}$")
_DIGITS = re.compile(r"\d+")
_SENTENCE_END = re.compile(r"[。！？!?][”’」』)）]*$")


@dataclass(frozen=True)
class TextLine:
    """One line of text as printed: its characters, box and type size."""

    text: str
    x0: float
    top: float
    x1: float
    bottom: float
    size: float
    page: int = 0
    bold: bool = False

    @property
    def weight(self) -> float:
        """The size the line ranks at: its size in half points, bold a quarter above."""
        return _key(self.size) + (BOLD_STEP if self.bold else 0.0)


@dataclass(frozen=True)
class Scale:
    """A page's type sizes: its body size, and the size its headlines start at."""

    body: float
    headline: float

    def display(self, size: float, bold: bool = False) -> bool:
        """Whether type of this weight (TextLine.weight) is display type rather than text.

        Compared in the weight's half points: a deck at 1.11× a 10.5 pt body is 11.7 pt,
        which ranks as 11.5, not under 11.55.
        """
        return size >= _key(DISPLAY_RATIO * self.body) or (bold and size >= 0.9 * self.body)

    def is_headline(self, size: float) -> bool:
        return _rank(size) >= _rank(self.headline)


@dataclass(frozen=True)
class Column:
    """Lines read top to bottom, with the column's left and right edges."""

    lines: tuple[TextLine, ...]
    left: float
    right: float
    # Below white space across its region (another story): no paragraph runs on into it.
    after_space: bool = False
    # Whether ``right`` is where several of its own lines end (see _measure).
    measured: bool = False


def to_text(pages: Sequence[Sequence[TextLine]], page_heights: Sequence[float]) -> str:
    """The text of a document's pages in reading order, headings marked with ``#``."""
    pages = _drop_running_heads(pages, page_heights)
    every = [line for page in pages for line in page]
    if not every:
        return ""
    body = _body_size(every)
    scale = Scale(body, _headline_size(pages, Scale(body, HEADLINE_RATIO * body)))
    columns = [col for page in pages if page for col in _order(list(page), _right(page), scale)]
    columns = _shared_measures(columns)
    paragraphs = _paragraphs(columns, scale, _normal_spacing(columns))
    return "\n".join(_render(paragraphs, scale)).strip()


def _headline_size(pages: Sequence[Sequence[TextLine]], scale: Scale) -> float:
    """The size the page's headlines are set in, judged by the page itself.

    Display lines stacked one under the other (a kicker, a headline, a deck, a lead in
    display type) make a block, and the largest type of a block in several sizes is its
    headline; the size most such blocks are headed in (the larger one on a tie) is the
    page's headline size. A page whose display blocks all have one size shows nothing to
    compare with; then a fixed HEADLINE_RATIO of the body size (smaller heads are ranked
    as ``##`` headings, which the splitter takes for headlines above a dateline).
    """
    tops: Counter[float] = Counter()
    for page in pages:
        shown = sorted(
            (ln for ln in page if scale.display(ln.weight, ln.bold)), key=lambda ln: ln.top
        )
        # Blocks by vertical adjacency (a block's own spacing, not a story's) and
        # horizontal overlap: found on the page, before any reading order.
        block_of = list(range(len(shown)))
        for i, a in enumerate(shown):
            for j in range(i + 1, len(shown)):
                b = shown[j]
                if b.top - a.bottom > 1.5 * max(a.size, b.size):
                    break
                if min(a.x1, b.x1) > max(a.x0, b.x0):
                    block_of[_root(block_of, j)] = _root(block_of, i)
        blocks: defaultdict[int, set[float]] = defaultdict(set)
        for i, ln in enumerate(shown):
            blocks[_root(block_of, i)].add(ln.weight)
        tops.update(max(sizes) for sizes in blocks.values() if len(sizes) > 1)
    if not tops:
        return HEADLINE_RATIO * scale.body
    return max(tops, key=lambda size: (tops[size], size))


def _display_runs(paragraphs: list[_Paragraph], scale: Scale) -> list[range]:
    """Runs of consecutive paragraphs in display type."""
    runs = []
    k = 0
    while k < len(paragraphs):
        if not scale.display(paragraphs[k].size, paragraphs[k].bold):
            k += 1
            continue
        end = k
        while end < len(paragraphs) and scale.display(paragraphs[end].size, paragraphs[end].bold):
            end += 1
        runs.append(range(k, end))
        k = end
    return runs


# --- running heads and folios ------------------------------------------------------


def _drop_running_heads(
    pages: Sequence[Sequence[TextLine]], heights: Sequence[float]
) -> list[list[TextLine]]:
    """Drop page numbers, and lines in the margins repeated on most pages (running heads)."""

    def in_margin(line: TextLine) -> bool:
        height = heights[line.page] if line.page < len(heights) else 0.0
        return bool(height) and (
            line.bottom < height * MARGIN_SHARE or line.top > height * (1 - MARGIN_SHARE)
        )

    def key(line: TextLine) -> tuple[str, int]:
        # The same words at the same height: a masthead line that happens to read like
        # the running head sits elsewhere on its page.
        return _DIGITS.sub("#", line.text.strip()), round(line.top / 4)

    repeated: Counter[tuple[str, int]] = Counter()
    for page in pages:
        repeated.update({key(ln) for ln in page if in_margin(ln)})
    many = max(2, (len(pages) + 1) // 2)

    def furniture(line: TextLine) -> bool:
        return in_margin(line) and bool(
            _FOLIO.match(line.text.strip()) or (len(pages) > 1 and repeated[key(line)] >= many)
        )

    out = []
    for page in pages:
        marks = [furniture(ln) for ln in page]
        # A line on the same row as text that is not furniture is text itself: the top
        # row of the columns (a story's "（发布时间：… 19:27:" repeats but for its digits).
        text = [ln for ln, mark in zip(page, marks, strict=True) if not mark] if any(marks) else []
        out.append(
            [
                ln
                for ln, mark in zip(page, marks, strict=True)
                if not mark or any(min(ln.bottom, t.bottom) > max(ln.top, t.top) for t in text)
            ]
        )
    return out


# --- reading order ----------------------------------------------------------------


def _right(lines: Iterable[TextLine]) -> float:
    return max((ln.x1 for ln in lines), default=0.0)


def _body_size(lines: Iterable[TextLine]) -> float:
    """The size most characters are set in (rounded to half a point)."""
    sizes: Counter[float] = Counter()
    for ln in lines:
        sizes[round(ln.size * 2) / 2] += len(ln.text.strip())
    return sizes.most_common(1)[0][0] or 10.0


def _root(parent: list[int], i: int) -> int:
    """The representative of ``i``'s set in a union-find forest (paths halved)."""
    while parent[i] != i:
        parent[i] = parent[parent[i]]
        i = parent[i]
    return i


def _order(lines: list[TextLine], right: float, scale: Scale) -> list[Column]:
    """The columns of a page in reading order (recursive X-Y cut; see the module doc).

    The recursion runs on an explicit stack: a crafted page can nest regions deeper
    than Python's call stack.
    """
    out: list[Column] = []
    pending: list[tuple[list[TextLine], float, bool]] = [(lines, right, False)]
    while pending:
        region, edge, after_space = pending.pop()
        parts = _cut(region, edge, scale)
        if isinstance(parts, Column):
            out.append(dataclasses.replace(parts, after_space=after_space))
        else:
            # A region's first part starts where the region did.
            parts[0] = (parts[0][0], parts[0][1], parts[0][2] or after_space)
            pending.extend(reversed(parts))
    return out


def _cut(
    lines: list[TextLine], right: float, scale: Scale
) -> Column | list[tuple[list[TextLine], float, bool]]:
    """One step of the cut: a region's parts in reading order, or the column it is."""
    body = scale.body
    rows = _rows(lines)
    heads = _headline_rows(rows, scale)
    # A headline block in one piece ends where a row not in it starts: the story's
    # first rows are not glued to the headline's column (a browser starts a story's
    # second column at the top of its box, beside the headline's last row). Headlines
    # side by side stay with the columns under them.
    starts = [k for k in sorted(heads) if k - 1 not in heads]
    ends = []
    for k in starts:
        end = next(j for j in itertools.count(k) if j not in heads)
        block = [ln for row in rows[k:end] for ln in row]
        if end < len(rows) and len(_vertical_split(block, body * GUTTER_CHARS)) == 1:
            ends.append(end)
    cuts = sorted({k for k in starts if k} | set(ends))
    if cuts:
        # A headline with nothing beside it opens a new band, even when its words are too
        # short to reach over all the columns below (where a vertical cut would pass).
        # Beside a column of text it is not a row of its own, so not in ``heads``.
        return [
            ([ln for row in rows[a:b] for ln in row], right, False)
            for a, b in itertools.pairwise([0, *cuts, len(rows)])
        ]
    # White space across the whole region deeper than any paragraph gap parts two
    # stories, even where both are set in the same columns (a browser prints each
    # story as columns of its own): cut there before cutting columns apart.
    # Not under a row of display type over text: a headline stands over white space
    # above its own story. (A headline whose story is beside it, in the next column, or
    # a section title at the foot of a column beside text, stands over the next story.)
    apart = [
        k
        for k in range(1, len(rows))
        if min(ln.top for ln in rows[k]) - max(ln.bottom for ln in rows[k - 1]) > STORY_GAP * body
        and not _over_its_story(rows[k - 1], rows[k:], scale)
    ]
    if apart:
        return [
            ([ln for row in rows[a:b] for ln in row], right, a > 0)
            for a, b in itertools.pairwise([0, *apart, len(rows)])
        ]
    groups = _vertical_split(lines, body * GUTTER_CHARS)
    if len(groups) > 1:
        parts = []
        for k, group in enumerate(groups):
            # A column's right edge is where the next one starts, less a gutter: a column
            # of short lines (a masthead) has no full line to show it.
            edge = right
            if k + 1 < len(groups):
                edge = max(_right(group), min(ln.x0 for ln in groups[k + 1]) - 1.5 * body)
            parts.append((group, edge, False))
        return parts
    strips: list[_Strip] = []
    for k, row in enumerate(rows):
        if strips and strips[-1].fits(row, body, headline=k in heads):
            strips[-1].add(row)
        else:
            strips.append(_Strip(row, body * GUTTER_CHARS))
    if len(strips) == 1:
        ordered = _one_per_row(sorted(lines, key=lambda ln: (ln.top, ln.x0)))
        measure = _measure(ordered)
        return Column(
            tuple(ordered),
            min(ln.x0 for ln in lines),
            right if measure is None else min(measure, right),
            measured=measure is not None,
        )
    return [(strip.lines, right, False) for strip in strips]


def _over_its_story(row: list[TextLine], below: list[list[TextLine]], scale: Scale) -> bool:
    """Whether a row is display type over white space over its own story: text of the
    next row under it, and no other headline starting beside that text (a browser
    starts a story's second column at the top of its box, above its headline's first
    row in the first column)."""
    if not all(scale.display(ln.weight, ln.bold) for ln in row):
        return False
    top = min(ln.top for ln in below[0])
    near = [ln for r in below[:3] for ln in r if ln.top - top < 1.5 * ln.size]
    if any(scale.display(ln.weight, ln.bold) for ln in near):
        return False
    return any(min(a.x1, b.x1) > max(a.x0, b.x0) for a in row for b in below[0])


def _one_per_row(lines: list[TextLine]) -> list[TextLine]:
    """A column's lines with pieces of one row made one line again.

    A justified line's letter spacing can open a gap wider than a gutter
    (``（发布时间：`` … ``2017-02-01``), so the PDF reader cut it in two; inside one
    column, two pieces side by side in the same type on the same baseline are one line.
    """
    out: list[TextLine] = []
    for ln in lines:
        last = out[-1] if out else None
        if (
            last is not None
            and last.page == ln.page
            and abs(last.top - ln.top) < 0.2 * ln.size
            and abs(last.size - ln.size) < 0.05 * ln.size
            and last.bold == ln.bold
            and ln.x0 >= last.x1
        ):
            out[-1] = dataclasses.replace(
                last,
                text=_join(last.text, ln.text),
                x1=ln.x1,
                top=min(last.top, ln.top),
                bottom=max(last.bottom, ln.bottom),
            )
        else:
            out.append(ln)
    return out


def _shared_measures(columns: list[Column]) -> list[Column]:
    """Columns too short to show their measure take that of the column they stand in.

    A column of two or three lines (the end of a story at the top of a page, a tail on a
    last page) has the measure the same column has where it is longer (the narrowest
    measured column of the document whose span holds all its lines) rather than the end
    of the page's text.
    """
    measured = [c for c in columns if c.measured]
    out = []
    for col in columns:
        if not col.measured:
            x0, x1 = col.left, max(ln.x1 for ln in col.lines)
            size = statistics.median(ln.size for ln in col.lines)
            holding = [c for c in measured if c.left - size <= x0 and x1 <= c.right + 0.5 * size]
            if holding:
                best = min(holding, key=lambda c: c.right - c.left)
                # Within a full line's slack of each other, the wider (a ragged measure
                # is found a little short); further apart, the measure found.
                close = abs(best.right - col.right) <= FULL_CHARS * size
                col = dataclasses.replace(
                    col, right=max(col.right, best.right) if close else best.right
                )
        out.append(col)
    return out


def _measure(lines: Sequence[TextLine]) -> float | None:
    """A column's right edge: the furthest point several of its lines reach.

    Not its widest line's end: one line of punctuation hanging into the margin would make
    every full line look short. Nor the next column's start: a wide gutter would. Full
    lines of Chinese type end within a character of the measure, so the widest end that
    a quarter of the lines come within 0.6 of a character of, two of them exactly, is
    it; a column without such lines (a masthead of short lines) has none.
    """
    ends = sorted((ln.x1 for ln in lines if len(ln.text.strip()) > 3), reverse=True)
    if len(ends) < 2:
        return None
    size = statistics.median(ln.size for ln in lines)
    left = min(ln.x0 for ln in lines)
    for x in ends:
        if ends[0] - x > 2.5 * size or x - left < 6 * size:
            break
        # Two of them end exactly there (a justified line ends on the measure, one
        # ending in punctuation up to half a character short of it): two short lines
        # that end near each other by chance do not make a measure.
        exact = sum(1 for e in ends if x - 0.15 * size <= e <= x)
        near = sum(1 for e in ends if x - 0.6 * size <= e <= x)
        if exact >= 2 and near >= 0.25 * len(ends):
            return x + 0.5
    return None


class _Strip:
    """Rows glued together, with the horizontal extent of their columns kept up to date
    (recomputing it for every row made a long column quadratic)."""

    def __init__(self, row: list[TextLine], min_gap: float) -> None:
        self.lines: list[TextLine] = []
        self.spans: list[tuple[float, float]] = []  # sorted, at least min_gap apart
        self.min_gap = min_gap
        self.add(row)

    def add(self, row: list[TextLine]) -> None:
        for ln in row:
            self.lines.append(ln)
            x0, x1 = ln.x0, ln.x1
            keep = []
            for a, b in self.spans:
                if a - x1 < self.min_gap and x0 - b < self.min_gap:  # touching: merge
                    x0, x1 = min(x0, a), max(x1, b)
                else:
                    keep.append((a, b))
            keep.append((x0, x1))
            self.spans = sorted(keep)

    def fits(self, row: list[TextLine], body: float, *, headline: bool) -> bool:
        """Whether a row continues this strip: the same columns, no line over a gutter.

        A one-column strip takes only one-column rows; a many-column strip takes any row
        none of whose lines bridges a gap between its columns (an indented first line
        narrows a gutter, so a line reaching into it does not count as bridging it).
        """
        columns = _merge_narrow(self.spans, self.min_gap)
        if len(columns) == 1:
            # A row beside the strip rather than under it (a centred title over a line
            # set left) would make two columns of one.
            (a, b), x0, x1 = columns[0], min(ln.x0 for ln in row), max(ln.x1 for ln in row)
            return len(_vertical_split(row, self.min_gap)) == 1 and min(b, x1) > max(a, x0)
        if headline:
            # A headline block under columns starts the next story, however narrow it is.
            return False
        gutters = [(a[1], b[0]) for a, b in itertools.pairwise(columns)]
        return not any(ln.x0 < left and ln.x1 > rgt for ln in row for left, rgt in gutters)


def _merge_narrow(spans: list[tuple[float, float]], min_gap: float) -> list[tuple[float, float]]:
    """Spans that are a stray tail beside indented lines joined to the column they are in.

    A span narrower than ``NARROW_CHARS`` characters whose left edge is at most that far
    left of the next span's is the one-character tail of a paragraph, left of the
    indented first lines around it ("富" under "株洲日报·掌上株洲记者/…田"), not a
    column. A narrow span anywhere else (a column of short lines) stays a column.
    """
    reach = NARROW_CHARS * min_gap / GUTTER_CHARS
    out = list(spans)
    k = 0
    while k + 1 < len(out):
        a, b = out[k]
        c, d = out[k + 1]
        if b - a < reach and c - a <= reach:
            out[k : k + 2] = [(a, max(b, d))]
        else:
            k += 1
    return out


def _vertical_split(lines: list[TextLine], min_gap: float) -> list[list[TextLine]]:
    """Split at every vertical gap at least ``min_gap`` wide that no line crosses, but not
    between a paragraph's stray tail and its indented neighbours (see _merge_narrow)."""
    spans = sorted(lines, key=lambda ln: ln.x0)
    groups: list[list[TextLine]] = []
    reach = float("-inf")
    for ln in spans:
        if groups and ln.x0 - reach < min_gap:
            groups[-1].append(ln)
            reach = max(reach, ln.x1)
        else:
            groups.append([ln])
            reach = ln.x1
    merged = _merge_narrow([(min(ln.x0 for ln in g), _right(g)) for g in groups], min_gap)
    if len(merged) == len(groups):
        return groups
    out: list[list[TextLine]] = [[] for _ in merged]
    for group in groups:
        left = min(ln.x0 for ln in group)
        k = next(i for i, (a, b) in enumerate(merged) if a <= left <= b)
        out[k].extend(group)
    return out


def _rows(lines: list[TextLine]) -> list[list[TextLine]]:
    """Split at every horizontal gap that no line crosses, top to bottom."""
    spans = sorted(lines, key=lambda ln: ln.top)
    rows: list[list[TextLine]] = []
    reach = float("-inf")
    for ln in spans:
        # Boxes of lines set solid may overlap by a hair; that is not one row.
        if rows and ln.top < reach - 0.25 * ln.size:
            rows[-1].append(ln)
            reach = max(reach, ln.bottom)
        else:
            rows.append([ln])
            reach = ln.bottom
    return rows


def _headline_rows(rows: list[list[TextLine]], scale: Scale) -> set[int]:
    """Rows of headline blocks: runs of display-type rows with a headline among them.

    A kicker or deck is set smaller than its headline but belongs with it; a display
    line alone between body rows is a sub-heading and stays in its column.
    """
    display = [all(scale.display(ln.weight, ln.bold) for ln in row) for row in rows]
    out: set[int] = set()
    k = 0
    while k < len(rows):
        if not display[k]:
            k += 1
            continue
        end = k
        while end < len(rows) and display[end]:
            end += 1
        # Bold words a text line ran on into (a bold byline wrapped at the measure) are
        # that paragraph's, not the top of the headline block below them.
        while k < end and k > 0 and not display[k - 1] and _runs_on(rows[k - 1], rows[k]):
            k += 1
        block = [ln for row in rows[k:end] for ln in row]
        if any(scale.is_headline(ln.weight) for ln in block) and not _continued(
            block, [ln for j in (k - 1, end) if 0 <= j < len(rows) for ln in rows[j]]
        ):
            out.update(range(k, end))
        k = end
    return out


def _runs_on(above: list[TextLine], row: list[TextLine]) -> bool:
    """Whether every line of a row is the next line of a text line just above it: the
    same size, under it, at no more than line spacing (a story's headline stands apart)."""
    return all(
        any(
            abs(a.size - ln.size) < 0.1 * ln.size
            and min(a.x1, ln.x1) > max(a.x0, ln.x0)
            and ln.top - a.bottom < LINE_SPACING * ln.size
            for a in above
        )
        for ln in row
    )


def _continued(block: list[TextLine], around: list[TextLine]) -> bool:
    """Whether a headline block goes on in the rows just above or below it, beside text
    in another column: it is a headline set in a column, whose other rows have a
    paragraph gap beside them by chance, not one across the page."""
    return any(a.weight == b.weight and abs(a.x0 - b.x0) <= a.size for a in around for b in block)


# --- paragraphs -------------------------------------------------------------------


@dataclass
class _Paragraph:
    lines: list[TextLine]
    text: str
    size: float  # the first line's weight (TextLine.weight)
    gap: bool  # white space (not just a new line) before it
    bold: bool = False


def _key(size: float) -> float:
    return round(size * 2) / 2


def _rank(weight: float) -> float:
    """A weight (TextLine.weight) or size as a rank: quarter points, bold kept apart."""
    return round(weight * 4) / 4


def _normal_spacing(columns: Sequence[Column]) -> dict[float, float]:
    """The usual white space between two lines of one paragraph, per type size."""
    seen: defaultdict[float, list[float]] = defaultdict(list)
    for col in columns:
        for a, b in zip(col.lines, col.lines[1:], strict=False):
            white = b.top - a.bottom
            # Only white space that can be line spacing; wider is a paragraph gap.
            if _key(a.size) == _key(b.size) and -0.5 * a.size < white < 1.2 * a.size:
                seen[_key(a.size)].append(white)
    return {size: statistics.median(gaps) for size, gaps in seen.items()}


def _paragraphs(
    columns: Sequence[Column], scale: Scale, spacing: dict[float, float]
) -> list[_Paragraph]:
    out: list[_Paragraph] = []
    prev: TextLine | None = None
    prev_col: Column | None = None
    for col in columns:
        for k, line in enumerate(col.lines):
            # A trailing space is kept: a line wrapped after a space joins with one.
            text = line.text.lstrip()
            if not text.strip():
                continue
            indented = line.x0 - col.left >= INDENT_CHARS * line.size
            same_size = prev is not None and abs(prev.size - line.size) < 0.1 * line.size
            if same_size and prev is not None and prev.bold != line.bold:
                # A change of weight starts a new paragraph (a bold sub-heading), unless
                # the last line ran full into this one: bold words wrapped mid-sentence.
                # A paragraph's bold first line that fills the measure is a heading of
                # that length (text runs on into bold words, or bold words wrap on).
                assert prev_col is not None
                heading = prev.bold and bool(out) and out[-1].lines == [prev]
                same_size = (
                    not heading
                    and _is_full(prev, prev_col)
                    and not _SENTENCE_END.search(prev.text.rstrip())
                )
            if prev is None or not same_size:
                joined, gap = False, True
            elif k == 0:
                # The top of a new column or page: the paragraph runs on if the last one
                # ended full, not at the end of a sentence, and this one is not indented.
                # (A line after a full stop may be the next item: "查看原文", a byline.
                # Broken there by mistake, a paragraph loses nothing but a line break.)
                assert prev_col is not None
                ends = _SENTENCE_END.search(prev.text.rstrip()) or col.after_space
                joined = _is_full(prev, prev_col) and not indented and not ends
                # A headline broken across a column or page runs on however short its
                # row: display type of one size and weight on both sides.
                display = scale.display(line.weight, line.bold) and prev.weight == line.weight
                joined = joined or (display and not ends)
                gap = True
            else:
                white = line.top - prev.bottom
                usual = spacing.get(_key(line.size), 0.5 * line.size)
                gap = white > usual + 0.4 * line.size
                joined = not gap and not indented and _is_full(prev, col, kept=True)
                display = scale.display(line.weight, line.bold) and prev.weight == line.weight
                if not gap and display and _aligned(prev, line):
                    # Display rows in one size and weight, set close and aligned, are one
                    # headline (or deck) however ragged its rows: a headline is broken
                    # where its sense breaks, not where the measure ends.
                    joined = joined or not _SENTENCE_END.search(prev.text.rstrip())
            if joined and out:
                out[-1].lines.append(line)
                out[-1].text = _join(out[-1].text, line.text)
            else:
                out.append(_Paragraph([line], text, line.weight, gap or indented, line.bold))
            prev, prev_col = line, col
    return out


def _aligned(a: TextLine, b: TextLine) -> bool:
    """Whether two rows share a left edge or a centre (a centred headline's rows)."""
    size = max(a.size, b.size)
    return abs(a.x0 - b.x0) <= size or abs((a.x0 + a.x1) - (b.x0 + b.x1)) / 2 <= size


def _is_full(line: TextLine, col: Column, kept: bool = False) -> bool:
    """Whether a line runs to its column's measure (so its paragraph goes on).

    With ``kept`` (the next line right under it), one that stops mid-sentence may end up
    to KEPT_CHARS short: a line breaker that keeps characters together (no opening
    quote at a line's end: ``的“``) moves them on.
    """
    if line.x1 >= col.right - FULL_CHARS * line.size:
        return True
    return (
        kept
        and line.x1 >= col.right - KEPT_CHARS * line.size
        and not _SENTENCE_END.search(line.text.rstrip())
    )


def _join(left: str, right: str) -> str:
    """Join a wrapped line to the next: no space between Chinese, one between words.

    Only the characters at the join are looked at (a paragraph grows line by line).
    """
    if left.endswith(" "):
        return left.rstrip() + " " + right.lstrip()
    right = right.lstrip()
    if left and right and _word_end(left) and _latin(right[0]):
        return f"{left} {right}"
    return left + right


def _latin(ch: str) -> bool:
    """A letter or digit of an alphabetic script (not CJK): words are spaced."""
    return ch.isalnum() and ord(ch) < 0x2E80


def _word_end(text: str) -> bool:
    """Whether ``text`` ends a word: a Latin letter or digit, perhaps with punctuation
    after it ("said," or "(2021)."), but not Chinese followed by an ASCII comma."""
    k = len(text) - 1
    while k >= 0 and len(text) - k <= 3 and text[k] in _WORD_PUNCT:
        k -= 1
    return k >= 0 and _latin(text[k])


_WORD_PUNCT = frozenset(",.;:!?)]\"'%")


def _render(paragraphs: list[_Paragraph], scale: Scale) -> list[str]:
    """Paragraphs as lines of text: headings marked, a blank line where space was.

    In a run of display paragraphs the largest type heads it and the rest is its kicker
    or deck (plain lines); a head in headline size is a ``#`` headline, one below it (a
    sub-heading in a story, a section title over its first item, a story headed in a
    sub-heading's size) a ``##``, ``###`` … heading ranked by size.
    """
    heads: set[int] = set()
    alone: set[int] = set()
    near: set[int] = set()
    for run in _display_runs(paragraphs, scale):
        top = max(_rank(paragraphs[i].size) for i in run)
        # The largest type of a block heads it; the rest is its kicker or deck. Below
        # the headline size, the block's head is a sub-heading (or a story headed in
        # a sub-heading's size), ranked with them.
        (heads if scale.is_headline(top) else alone).update(
            i for i in run if _rank(paragraphs[i].size) == top
        )
        near |= {i for i in run if _rank(paragraphs[i].size) != top}
    # Sub-heading sizes, largest first, are levels ##, ###, …
    ranks = sorted({_rank(paragraphs[i].size) for i in alone}, reverse=True)
    # Next to a headline but in a size the page uses for its sub-headings, a line is one
    # of them (a page title over its first item), not that headline's deck.
    headings = alone | {i for i in near if _rank(paragraphs[i].size) in ranks}
    out: list[str] = []
    for i, para in enumerate(paragraphs):
        text = " ".join(para.text.split())
        if i in heads:
            text = f"# {text}"
        elif i in headings:
            text = "#" * min(2 + ranks.index(_rank(para.size)), 6) + f" {text}"
        if out and (para.gap or text.startswith("#") or out[-1].startswith("#")):
            out.append("")
        out.append(text)
    return out

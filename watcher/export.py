"""``watcher export``: the stored matches as CSV, Excel (xlsx) or JSON Lines.

One row per (article, topic) match, newest publication date first, then best
score, with the fields of :data:`FIELDS`. The three formats carry the same text:

* CSV is UTF-8 with a byte-order mark (without it Excel reads Chinese as
  mojibake); a cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a
  carriage return gets a leading ``'`` so a spreadsheet does not run it as a
  formula (CSV has no other way to say "this is text").
* xlsx (openpyxl) has a bold, frozen header row with a filter; every text cell
  is typed as text, so nothing becomes a formula and nothing needs escaping;
  ``date`` is a date cell and ``score`` a number. Characters XML cannot hold
  become U+FFFD; a text longer than Excel's 32,767 characters per cell is cut
  (and counted in the summary).
* JSON Lines: one object per row, the text as it is.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import json
import os
import re
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import astuple, dataclass, fields
from pathlib import Path
from typing import IO, Any

from watcher.errors import WatcherError
from watcher.store import ArticleFilter, Store

FORMATS = ("csv", "xlsx", "jsonl")
EXCEL_CELL = 32767  # characters Excel holds in one cell
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# What XML 1.0 (and so xlsx) cannot hold: C0 controls but tab, newline, return.
_ILLEGAL_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


@dataclass(frozen=True)
class ExportRow:
    """One matched article for one topic, as exported (the column order)."""

    id: str
    topic: str
    score: float
    newspaper: str | None
    date: dt.date | None
    page: str | None
    headline: str
    byline: str | None
    file: str
    snippet: str
    body: str


FIELDS = tuple(f.name for f in fields(ExportRow))


@dataclass(frozen=True)
class Written:
    """What an export wrote."""

    rows: int
    cut: int = 0  # xlsx cells cut to EXCEL_CELL characters


def export_rows(store: Store, where: ArticleFilter | None = None) -> Iterator[ExportRow]:
    """The stored matches in ``where`` (a topic, publication dates), as rows."""
    for stored, m in store.matched_articles(where or ArticleFilter()):
        a = stored.article
        yield ExportRow(
            id=stored.id,
            topic=m.topic_id,
            score=m.score,
            newspaper=a.newspaper,
            date=a.date,
            page=a.page,
            headline=a.headline,
            byline=a.byline,
            file=stored.file,
            snippet=m.snippet,
            body=a.body,
        )


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.date) else value


def write_jsonl(rows: Iterable[ExportRow], out: IO[str]) -> Written:
    n = 0
    for row in rows:
        out.write(json.dumps(dict(zip(FIELDS, map(_plain, astuple(row)), strict=True)),
                             ensure_ascii=False) + "\n")  # fmt: skip
        n += 1
    return Written(n)


def csv_cell(value: Any) -> str:
    """A value as CSV text: None empty, dates ISO, formula-looking text defused."""
    if value is None:
        return ""
    if isinstance(value, str):
        return "'" + value if value.startswith(_FORMULA_START) else value
    return str(_plain(value))


def write_csv(rows: Iterable[ExportRow], out: IO[str]) -> Written:
    """CSV with a header row; ``out`` should be opened with newline="" (csv's rule)."""
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow(FIELDS)
    n = 0
    for row in rows:
        writer.writerow([csv_cell(v) for v in astuple(row)])
        n += 1
    return Written(n)


def write_xlsx(rows: Iterable[ExportRow], out: IO[bytes]) -> Written:
    try:
        from openpyxl import Workbook
        from openpyxl.cell import WriteOnlyCell
        from openpyxl.styles import Font
    except ModuleNotFoundError:
        raise WatcherError(
            "--format xlsx needs the optional package openpyxl: pip install 'watcher[xlsx]'"
        ) from None
    book = Workbook(write_only=True)
    sheet = book.create_sheet("matches")
    widths = {"id": 20, "topic": 14, "score": 8, "newspaper": 14, "date": 12, "page": 6,
              "headline": 48, "byline": 20, "file": 30, "snippet": 60, "body": 80}  # fmt: skip
    for n, name in enumerate(FIELDS):
        sheet.column_dimensions[chr(ord("A") + n)].width = widths[name]
    sheet.freeze_panes = "A2"
    bold = Font(bold=True)
    header = []
    for name in FIELDS:
        cell = WriteOnlyCell(sheet, value=name)
        cell.font = bold
        header.append(cell)
    sheet.append(header)
    count = cut = 0
    for row in rows:
        cells = []
        for value in astuple(row):
            if isinstance(value, str):
                text = _ILLEGAL_XML.sub("\ufffd", value)
                if len(text) > EXCEL_CELL:
                    text = text[: EXCEL_CELL - 1] + "…"
                    cut += 1
                cell = WriteOnlyCell(sheet, value=text)
                cell.data_type = "s"  # text, even when it starts with "="
            else:
                cell = WriteOnlyCell(sheet, value=value)
                if isinstance(value, dt.date):
                    cell.number_format = "yyyy-mm-dd"
            cells.append(cell)
        sheet.append(cells)
        count += 1
    sheet.auto_filter.ref = f"A1:{chr(ord('A') + len(FIELDS) - 1)}{count + 1}"
    book.save(out)
    return Written(count, cut)


def export(store: Store, fmt: str, where: ArticleFilter | None, out: IO[Any]) -> Written:
    """Write the matches in ``where`` to ``out`` (text for csv/jsonl, bytes for xlsx)."""
    rows = export_rows(store, where)
    if fmt == "csv":
        return write_csv(rows, out)
    if fmt == "jsonl":
        return write_jsonl(rows, out)
    if fmt == "xlsx":
        return write_xlsx(rows, out)
    raise ValueError(f"unknown export format {fmt!r}")  # pragma: no cover - click checks


def export_file(store: Store, fmt: str, where: ArticleFilter | None, path: Path) -> Written:
    """Write an export to ``path`` atomically: a reader never sees half a file."""
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise WatcherError(f"cannot write {path}: the folder {folder} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    try:
        if fmt == "xlsx":
            with os.fdopen(fd, "wb") as fh:
                done = export(store, fmt, where, fh)
        else:
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
                done = export(store, fmt, where, fh)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # as an ordinary new file (mkstemp makes it 0600)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return done

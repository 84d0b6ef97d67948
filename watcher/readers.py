"""The readers stage: file bytes → text, with the reader the file's suffix selects.

One :class:`Reader` record per format (as Pelican's readers carry their own file
extensions) says which suffixes it reads, with what function, which optional package it
cannot work without, and whether it runs in the child process of :mod:`watcher.sandbox`.
Every reader returns a :class:`~watcher.models.Text`.

Text and Markdown are read here, after :func:`watcher.encoding.decode`; HTML by
:mod:`watcher.htmltext`; PDF (:mod:`watcher.pdf`), DOCX (:mod:`watcher.word`) and page
images (:mod:`watcher.ocr`, Tesseract) by third-party code, in the child process with
memory and time limits. A reader whose
package is missing fails with a message naming the extra to install
(``pip install 'watcher[pdf]'``).

Adding a format is one function and one record in :data:`READERS`.
"""

from __future__ import annotations

import logging
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from watcher import ocr, pdf, sandbox, webpage, word
from watcher.encoding import decode
from watcher.errors import ReadError
from watcher.htmltext import read_html
from watcher.models import Text
from watcher.reading import DEFAULT_LIMITS, NO_VISIBLE_TEXT, Limits, Package

logger = logging.getLogger(__name__)

# Limits and DEFAULT_LIMITS live in watcher.reading (so that the reader process can use
# them); the pipeline and the CLI know them from here.
__all__ = [
    "DEFAULT_LIMITS",
    "HTML_IN_PROCESS",
    "READERS",
    "Limits",
    "ReadFunction",
    "Reader",
    "formats",
    "markdown_to_text",
    "named",
    "needs_reason",
    "read_bytes",
    "read_docx",
    "read_html",
    "read_image",
    "read_markdown",
    "read_pdf",
    "read_plain",
    "reader_for",
    "unavailable",
]

# A file's bytes, its path (for messages) and the bounds (which only PDF and DOCX use).
ReadFunction = Callable[[bytes, Path, Limits], Text]


@dataclass(frozen=True)
class Reader:
    """How one format is read: its suffixes, its function, its package, where it runs."""

    name: str  # the format, as the reader process is asked for it
    suffixes: tuple[str, ...]  # lower case, with the dot
    read: ReadFunction
    package: Package | None = None  # an optional package it cannot work without
    isolate: bool = False  # read in the reader process, under its memory and time limits
    in_process_up_to: int | None = None  # … except files up to this many bytes

    def isolated(self, size: int) -> bool:
        """Whether a file of ``size`` bytes is read in the reader process."""
        return self.isolate and (self.in_process_up_to is None or size > self.in_process_up_to)

    def unavailable(self) -> str | None:
        """Why this reader cannot run here (its package is not installed), or None."""
        if self.package is None or self.package.installed():
            return None
        return self.package.missing


# --- the readers -----------------------------------------------------------------------


def read_plain(data: bytes, path: Path, limits: Limits = DEFAULT_LIMITS) -> Text:
    """Plain text: decoded and cleaned, otherwise untouched (``#`` headings included)."""
    text, encoding = decode(data)
    return Text(text=text, encoding=encoding, markup="plain")


def read_markdown(data: bytes, path: Path, limits: Limits = DEFAULT_LIMITS) -> Text:
    """Markdown: comments, link targets, images and bold markers removed."""
    text, encoding = decode(data)
    text = markdown_to_text(text)
    if not text.strip():
        raise ReadError(NO_VISIBLE_TEXT)
    return Text(text=text, encoding=encoding, markup="markdown")


_COMMENT_LINE = re.compile(r"^[ \t]*<!--.*?-->[ \t]*(?:\n|\Z)", re.MULTILINE | re.DOTALL)
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_IMAGE = re.compile(r"!\[[^\]\n]*\]\([^)\n]*\)")
_IMAGE_LINE = re.compile(rf"^[ \t]*(?:{_IMAGE.pattern}[ \t]*)+(?:\n|\Z)", re.MULTILINE)
_LINK = re.compile(r"\[([^\]\n]*)\]\([^)\n]*\)")
_BOLD_STARS = re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*")
# Underscores must hug letters, so a fill-in blank "______" is left alone.
_BOLD_UNDERSCORES = re.compile(r"__(?=[^_\s])([^_\n]+?)(?<=[^_\s])__")
# What replaces each match above: its group 1, as r"\1" would, without expanding a
# template in Python for every match (the corpus has 18 links a page).
_FIRST_GROUP = operator.methodcaller("group", 1)


def markdown_to_text(text: str) -> str:
    """Strip the markdown the splitter does not want: comments, links, images, bold."""
    # Each pass guarded by what its pattern cannot match without (the patterns have no
    # literal prefix, so even a search for nothing walks the whole text in the engine).
    if "<!--" in text:
        text = _COMMENT.sub("", _COMMENT_LINE.sub("", text))
    if "![" in text:
        text = _IMAGE.sub("", _IMAGE_LINE.sub("", text))
    if "](" in text:
        text = _LINK.sub(_FIRST_GROUP, text)
    if "**" in text:
        text = _BOLD_STARS.sub(_FIRST_GROUP, text).replace("**", "")
    if "__" in text:
        text = _BOLD_UNDERSCORES.sub(_FIRST_GROUP, text)
    if "\n\n\n" in text:
        text = _BLANK_LINES.sub("\n\n", text)
    return text.strip("\n")


_BLANK_LINES = re.compile(r"\n{3,}")


def read_pdf(data: bytes, path: Path, limits: Limits = DEFAULT_LIMITS) -> Text:
    """PDF: text in reading order across columns, headlines found by type size."""
    return pdf.read_pdf(data, path, max_pages=limits.max_pdf_pages, timeout=limits.timeout)


def read_image(data: bytes, path: Path, limits: Limits = DEFAULT_LIMITS) -> Text:
    """A page image (a scan or a photo of a page): OCR, then the layout pass of PDF."""
    return ocr.read_image(data, path, timeout=limits.timeout)


def read_docx(data: bytes, path: Path, limits: Limits = DEFAULT_LIMITS) -> Text:
    """DOCX: paragraphs, heading styles as ``#`` headings, tables as lines."""
    return word.read_docx(data, path, max_unzipped_mb=limits.max_unzipped_mb)


# --- the registry ----------------------------------------------------------------------

# trafilatura's time grows faster than the page (3.6 s for 1 MB, 28 s for 6 MB), so a
# page larger than this is read in the reader process, under its time and memory limits.
HTML_IN_PROCESS = 512 * 1024

# PDF, DOCX and images are parsed by third-party code, always in the reader process.
READERS: tuple[Reader, ...] = (
    Reader("text", (".txt",), read_plain),
    Reader("markdown", (".md", ".markdown"), read_markdown),
    Reader(
        "html",
        (".html", ".htm", ".xhtml"),
        read_html,
        isolate=True,
        in_process_up_to=HTML_IN_PROCESS,
    ),
    Reader("pdf", (".pdf",), read_pdf, package=pdf.PDFMINER, isolate=True),
    Reader("docx", (".docx",), read_docx, package=word.PYTHON_DOCX, isolate=True),
    Reader(
        "image",
        (".png", ".jpg", ".jpeg", ".tif", ".tiff"),
        read_image,
        package=ocr.PYTESSERACT,
        isolate=True,
    ),
)

_BY_SUFFIX = {suffix: reader for reader in READERS for suffix in reader.suffixes}
_BY_NAME = {reader.name: reader for reader in READERS}


def reader_for(path: Path) -> Reader | None:
    """The reader for a file's suffix (case-insensitive), or None for unknown types."""
    return _BY_SUFFIX.get(path.suffix.lower())


def named(name: str) -> Reader:
    """The reader a reader process is asked for by name; KeyError for an unknown one."""
    return _BY_NAME[name]


def unavailable(path: Path) -> str | None:
    """Why the reader for ``path`` cannot run here (a missing package), or None."""
    reader = reader_for(path)
    return None if reader is None else reader.unavailable()


def needs_reason(path: Path) -> str | None:
    """The failure reason recorded for ``path`` when its reader's package is missing."""
    reader = reader_for(path)
    return None if reader is None or reader.package is None else reader.package.missing


def formats() -> list[str]:
    """What each file type is read with here, for ``watcher check``."""
    html = (
        "article extraction with trafilatura"
        if webpage.available()
        else "built-in (pip install 'watcher[html]' for article extraction)"
    )
    out = [".txt .md: yes", f".html .htm: {html}"]
    for reader in READERS:
        if reader.package is not None:
            verdict = "yes" if reader.unavailable() is None else f"no, {reader.package.install}"
            out.append(f"{' '.join(reader.suffixes)}: {verdict}")
    return out


def read_bytes(
    path: Path, data: bytes, limits: Limits = DEFAULT_LIMITS, worker: sandbox.Worker | None = None
) -> Text:
    """Read a file's bytes with the reader its suffix selects; raise ReadError on failure.

    A reader that runs isolated runs in a child process: ``worker``'s when given (a scan
    keeps one for all its files), else a new one for this file; ``limits.isolate=False``
    reads in this process.
    """
    reader = reader_for(path)
    if reader is None:
        suffix = path.suffix.lower()
        raise ReadError(
            f"unsupported file type {suffix!r}" if suffix else "unsupported file type (no suffix)"
        )
    missing = reader.unavailable()
    if missing is not None:
        raise ReadError(missing)
    if not reader.isolated(len(data)) or not limits.isolate:
        text = reader.read(data, path, limits)
    elif worker is not None:
        text = worker.read(reader.name, data, path)
    else:
        text = sandbox.run(reader.name, data, path, limits)
    logger.debug("%s: read %d characters as %s", path, len(text.text), text.encoding)
    return text

"""A saved news web page → its article, with trafilatura (the only module importing it).

trafilatura finds a page's main text by its structure and text density, and drops what
surrounds it: menus, breadcrumbs, share buttons, "相关稿件" lists, footers. It also reads
the headline, the publication date (htmldate looks at meta tags, the URL and the text) and
the site's name. Its XML output keeps headings, paragraphs, lists and tables apart, which
is turned here into the markdown-style text the splitter reads.

Used only for pages holding one article; an e-paper page with several is split like a
text page (see :func:`watcher.htmltext.read_html`).
"""

from __future__ import annotations

import datetime as dt
import functools
import importlib.util
import logging
import re
import xml.etree.ElementTree as ET

from watcher.models import Page

log = logging.getLogger(__name__)

# Main text shorter than this is more likely a misreading than the article.
_MIN_CHARS = 50


def available() -> bool:
    """Whether trafilatura can be used (the ``watcher[html]`` extra, installed whole)."""
    return _importable()


@functools.cache
def _importable() -> bool:
    # Imported, not just looked up: an install missing one of its own dependencies
    # (lxml_html_clean) fails only on import, and every page would fail with it.
    try:
        import trafilatura  # noqa: F401
    except ImportError as exc:
        if importlib.util.find_spec("trafilatura") is not None:
            log.warning(
                "trafilatura is installed but cannot be imported (%s); HTML pages are read "
                "with the built-in reader. Reinstall: pip install 'watcher[html]'",
                exc,
            )
        return False
    return True


def extract_article(html: str, headline: str | None = None) -> tuple[str, Page] | None:
    """``(markdown text, page facts)`` of a one-article page, or None if none was found.

    ``headline`` is the page's own (its one headline element): trafilatura, finding no
    ``<h1>``, would take the ``<title>``, which names the site or page as often as the story.
    """
    import trafilatura

    try:
        found = trafilatura.extract(
            html,
            output_format="xml",
            with_metadata=True,
            include_comments=False,
            include_tables=True,
            include_images=False,
            include_formatting=True,
            include_links=False,
            deduplicate=False,
            # Without it, a short article page falls back to "all the text", menus included.
            favor_precision=True,
            # Dates from markup only (meta tags, <time>, the URL): a guess from the text
            # took a footer's "© 2024" for 2024-01-01.
            date_extraction_params={"extensive_search": False, "original_date": True},
        )
    except Exception as exc:  # trafilatura/lxml on hostile markup: fall back, don't fail
        log.debug("trafilatura failed: %s: %s", type(exc).__name__, exc)
        return None
    if not found:
        return None
    try:
        root = ET.fromstring(found)
    except ET.ParseError:
        return None
    main = root.find("main")
    if main is None:
        return None
    blocks = list(_blocks(main))
    if sum(len(b) for b in blocks) < _MIN_CHARS:
        return None
    title = " ".join((headline or root.get("title") or "").split())
    if title and not any(b.lstrip("#").strip() == title for b in blocks[:3]):
        blocks.insert(0, f"# {title}")
    elif title:
        # The page's own headline, whatever level the site gave it, is the article's.
        blocks = [f"# {title}" if b.lstrip("#").strip() == title else b for b in blocks]
    page = Page(newspaper=_clean(root.get("sitename")), date=_date(root.get("date")))
    return "\n\n".join(blocks), page


def _blocks(node: ET.Element) -> list[str]:
    """trafilatura's XML elements as markdown-style paragraphs, in order."""
    out: list[str] = []
    for child in node:
        tag = child.tag
        if tag == "head":
            level = int((child.get("rend") or "h2").lstrip("h") or 2)
            text = _text(child)
            if text:
                out.append("#" * min(max(level, 1), 6) + " " + text)
        elif tag in ("p", "quote", "code"):
            text = _text(child, keep_breaks=True)
            if text:
                out.append(text)
        elif tag == "list":
            items = [_text(item) for item in child.iter("item")]
            if any(items):
                out.append("\n".join(item for item in items if item))
        elif tag == "table":
            rows = []
            for row in child.iter("row"):
                cells = [_text(cell) for cell in row.findall("cell")]
                rows.append(" | ".join(cell for cell in cells if cell))
            if any(rows):
                out.append("\n".join(row for row in rows if row))
        elif len(child):
            out.extend(_blocks(child))
        else:
            text = _text(child)
            if text:
                out.append(text)
    return out


def _text(node: ET.Element, *, keep_breaks: bool = False) -> str:
    """An element's text with runs of spaces collapsed; ``<lb/>`` kept as a line break."""
    lines = _flat(node).split("\n") if keep_breaks else [_flat(node)]
    return "\n".join(" ".join(line.split()) for line in lines if line.strip())


def _flat(node: ET.Element) -> str:
    parts = [node.text or ""]
    for child in node:
        parts.append("\n" if child.tag == "lb" else _flat(child))
        parts.append(child.tail or "")
    return "".join(parts)


def _clean(name: str | None) -> str | None:
    name = " ".join((name or "").split())
    return name or None


_ISO_DAY = re.compile(r"^(\d{4})-(\d{2})-(\d{2})")


def _date(value: str | None) -> dt.date | None:
    m = _ISO_DAY.match(value or "")
    if not m:
        return None
    try:
        return dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        return None

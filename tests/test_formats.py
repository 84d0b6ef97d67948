"""The same pages as Markdown, HTML, PDF (one to three columns) and DOCX give the same
articles and the same digest as their text.

The documents are made from the seed pages by tests/docgen.py (reportlab for PDF,
python-docx for DOCX, HTML with a news site's chrome) and read through the real
pipeline: the scan, the child-process readers, the splitter, the matcher, the digest.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import importlib.util
import os
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests import docgen
from tests.conftest import ROOT, seed_files
from tests.test_browser import CHROMIUM, chromium
from watcher import pipeline
from watcher.config import Config
from watcher.display import stories
from watcher.models import Article, Digest
from watcher.pages import split_page
from watcher.readers import read_bytes
from watcher.segment import Segmenter
from watcher.store import Store
from watcher.watchlists import load_watchlists

pytest.importorskip("pdfminer")
pytest.importorskip("docx")
pytest.importorskip("reportlab")
pytest.importorskip("trafilatura")

FORMATS = (".md", ".html", ".1col.pdf", ".2col.pdf", ".3col.pdf", ".docx")
T0 = dt.datetime(2026, 11, 20, 22, 0, tzinfo=dt.UTC)
DAY = dt.date(2026, 11, 21)
# The one-article web page states its site and date in <meta>; its text does not.
WEB_FACTS = ("湖南日报", dt.date(2024, 11, 14))


@pytest.fixture(scope="module")
def segmenter(tmp_path_factory: pytest.TempPathFactory) -> Segmenter:
    return Segmenter(tmp_path_factory.mktemp("jieba"))


@pytest.fixture(scope="module")
def documents() -> dict[str, bytes]:
    """Every seed in every format, by file name."""
    out: dict[str, bytes] = {}
    for seed in seed_files():
        out[seed.name] = seed.read_bytes()
        out.update(docgen.all_formats(seed.name, seed.read_text(encoding="utf-8")))
    return out


def _squeeze(text: str | None) -> str | None:
    return None if text is None else re.sub(r"\s+", "", text)


def _same(article: Article) -> tuple[object, ...]:
    """What must come out the same whatever the format (whitespace aside)."""
    return (
        article.kind,
        _squeeze(article.kicker),
        _squeeze(article.headline),
        _squeeze(article.subtitle),
        _squeeze(article.body),
        _squeeze(article.byline),
        _squeeze(article.dateline),
        article.newspaper,
        article.date,
        article.page,
        article.continued,
    )


def _articles(name: str, data: bytes) -> list[Article]:
    text = read_bytes(Path(name), data)
    return split_page(text.text, markup=text.markup, today=DAY, known=text.page)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("seed", [p.name for p in seed_files()], ids=lambda n: n[:3])
def test_each_format_gives_the_articles_of_the_text(
    documents: dict[str, bytes], seed: str, fmt: str
) -> None:
    want = [_same(a) for a in _articles(seed, documents[seed])]
    name = seed.removesuffix(".txt") + fmt
    got = _articles(name, documents[name])
    if fmt == ".html" and len(got) == 1 and len(want) == 1:
        # A news page's metadata adds the source and date its text leaves out.
        assert (got[0].newspaper, got[0].date) == WEB_FACTS
        assert want[0][7:9] == (None, None)
        got = [dataclasses.replace(got[0], newspaper=None, date=None)]
    assert [_same(a) for a in got] == want


def _config(make_config: Callable[..., Config], tmp_path: Path, name: str) -> Config:
    """One more config beside the test's own, with its own inbox and state."""
    (tmp_path / f"{name}-inbox").mkdir()
    return make_config(f"{name}.yaml", inbox=f"{name}-inbox", state=f"{name}-state/w.db")


def _inbox(cfg: Config, documents: dict[str, bytes], names: list[str]) -> None:
    for f in (ROOT / "config" / "watchlists").glob("*.yaml"):
        shutil.copy(f, cfg.watchlists / f.name)
    for name in names:
        (cfg.inbox / name).write_bytes(documents[name])
        # Written before the test's clock, so the scan finds them settled.
        os.utime(cfg.inbox / name, (T0.timestamp() - 3600,) * 2)


def _digest(cfg: Config, segmenter: Segmenter) -> Digest:
    topics = load_watchlists(cfg.watchlists)
    with Store(cfg.state) as store:
        report = pipeline.scan(cfg, store, topics=topics, segmenter=segmenter, clock=lambda: T0)
        assert report.failed == 0, report.failures
        digest, _ = pipeline.produce_digest(
            cfg, store, topics, DAY, clock=lambda: T0 + dt.timedelta(hours=1)
        )
    return digest


def _shown(digest: Digest) -> list[tuple[object, ...]]:
    """A digest as a reader sees it, less the file names and document ids."""
    out: list[tuple[object, ...]] = [(digest.subject, digest.stats.articles)]
    for section in digest.sections:
        out.append((section.id, section.count, section.more))
        for item in section.items:
            facts = (item.newspaper, item.date)
            if item.file.endswith(".html") and facts == WEB_FACTS:
                facts = (None, None)  # the page's <meta>; checked per article above
            out.append(
                (
                    _squeeze(item.headline),
                    _squeeze(item.kicker),
                    *facts,
                    item.page,
                    _squeeze(item.byline),
                    item.score,
                    item.terms,
                    item.why,
                    _squeeze(item.body),
                    item.other_topics,
                )
            )
    return out


def _text_digest(
    make_config: Callable[..., Config],
    tmp_path: Path,
    documents: dict[str, bytes],
    segmenter: Segmenter,
) -> Digest:
    cfg = _config(make_config, tmp_path, "text")
    _inbox(cfg, documents, [p.name for p in seed_files()])
    return _digest(cfg, segmenter)


@pytest.mark.slow
def test_a_mixed_inbox_gives_the_digest_of_the_text_pages(
    make_config: Callable[..., Config],
    tmp_path: Path,
    documents: dict[str, bytes],
    segmenter: Segmenter,
) -> None:
    want = _shown(_text_digest(make_config, tmp_path, documents, segmenter))
    assert want[0][0] == (
        "【watcher】2026年11月21日 日报：安全生产检查 2 · 城市更新 4 · 防汛抗洪 2 · "
        "乡村振兴 7 · 招商引资与重大项目 10"
    )
    seeds = [p.name.removesuffix(".txt") for p in seed_files()]
    # Each page in another format, twice over, so every format carries every kind of page.
    for turn in (0, 3):
        cfg = _config(make_config, tmp_path, f"mixed{turn}")
        names = [stem + FORMATS[(k + turn) % len(FORMATS)] for k, stem in enumerate(seeds)]
        _inbox(cfg, documents, names)
        assert _shown(_digest(cfg, segmenter)) == want, names


@pytest.mark.slow
def test_all_formats_of_every_page_in_one_inbox_are_grouped_as_reprints(
    make_config: Callable[..., Config],
    tmp_path: Path,
    documents: dict[str, bytes],
    segmenter: Segmenter,
) -> None:
    text = _text_digest(make_config, tmp_path, documents, segmenter)
    cfg = _config(make_config, tmp_path, "all")
    _inbox(cfg, documents, list(documents))
    digest = _digest(cfg, segmenter)
    assert digest.stats.documents == len(documents) == 35
    # Seven copies of each story (text and six formats) are grouped as one story: the
    # counts and the stories shown are those of the text pages alone.
    assert [s.count for s in digest.sections] == [s.count for s in text.sections]
    shown = [[_squeeze(i.headline) for i in stories(s)] for s in digest.sections]
    assert shown == [[_squeeze(i.headline) for i in stories(s)] for s in text.sections]


def _cjk_font() -> bool:
    """Whether fontconfig knows a Chinese font (Debian: fonts-noto-cjk) for Chromium."""
    found = shutil.which("fc-list")
    if found is None:
        return False
    listed = subprocess.run(
        [found, ":lang=zh", "family"], capture_output=True, text=True, timeout=60, check=False
    )
    return bool(listed.stdout.strip())


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="no Chromium binary to print PDFs with")
@pytest.mark.skipif(not _cjk_font(), reason="no Chinese font for Chromium (fonts-noto-cjk)")
@pytest.mark.parametrize("seed", [p.name for p in seed_files()], ids=lambda n: n[:3])
def test_a_pdf_printed_by_chromium_gives_the_articles_of_the_text(
    tmp_path: Path, seed: str, documents: dict[str, bytes]
) -> None:
    # A second PDF producer: Skia, embedded subset OpenType (Noto CJK) fonts, justified
    # text, CSS columns. Its fonts name radicals for shared glyphs (⼯ for 工, ⼾ for 户,
    # ⸺ for ——), which the reader maps back.
    source = (ROOT / "seeds" / seed).read_text(encoding="utf-8")
    page = tmp_path / "page.html"
    page.write_bytes(docgen.to_html_print(source, columns=2))
    pdf = tmp_path / "page.pdf"
    done = chromium(tmp_path, "--no-pdf-header-footer", f"--print-to-pdf={pdf}", page.as_uri())
    assert pdf.is_file(), done.stderr[-2000:]

    want = [_same(a) for a in _articles(seed, documents[seed])]
    got = [_same(a) for a in _articles("page.pdf", pdf.read_bytes())]
    assert got == want


@pytest.mark.slow
def test_broken_documents_fail_with_their_reasons_and_the_scan_goes_on(
    make_config: Callable[..., Config], documents: dict[str, bytes]
) -> None:
    cfg = make_config(scan={"max_pdf_pages": 20, "read_memory_mb": 256})
    pdf = documents["004_788e42c87815a943.1col.pdf"]
    docx = documents["004_788e42c87815a943.docx"]
    broken = {
        "scanned.pdf": docgen.scanned_pdf(),
        "encrypted.pdf": docgen.encrypted_pdf("加密的一页。"),
        "truncated.pdf": docgen.truncated(pdf),
        "bomb.pdf": docgen.flate_bomb_pdf(1000),
        "long.pdf": docgen.many_pages_pdf(21),
        "encrypted.docx": docgen.encrypted_docx(docx),
        "truncated.docx": docgen.truncated(docx),
        "bomb.docx": docgen.zip_bomb_docx(210),
    }
    for name, data in {"good.pdf": pdf, "good.docx": docx, **broken}.items():
        (cfg.inbox / name).write_bytes(data)
        os.utime(cfg.inbox / name, (T0.timestamp() - 3600,) * 2)
    with Store(cfg.state) as store:
        report = pipeline.scan(cfg, store, clock=lambda: T0)
    reasons = {Path(path).name: reason for path, reason in report.failures}
    assert (report.new, report.failed) == (2, len(broken))
    assert {k: v for k, v in reasons.items() if not k.startswith("bomb.docx")} == {
        "scanned.pdf": docgen.scanned_reason(),
        "encrypted.pdf": "encrypted PDF: it needs a password to open; save an unprotected copy",
        "truncated.pdf": "damaged PDF: the file is cut short (no %%EOF at its end); "
        "was the copy complete?",
        "bomb.pdf": "needs more than 256 MB of memory to read (scan.read_memory_mb); "
        "the file may be a decompression bomb",
        "long.pdf": "PDF has more than 20 pages; raise scan.max_pdf_pages to read it",
        "encrypted.docx": "password-protected (encrypted) Word file, or an old binary .doc: "
        "save it as an unprotected .docx",
        "truncated.docx": "damaged DOCX: not a complete ZIP package (cut short?)",
    }
    assert re.fullmatch(
        r"DOCX unpacks to \d+ MB, more than the 200 MB allowed", reasons["bomb.docx"]
    )
    # A failed file is read again once it changes: here, the whole download arrives.
    (cfg.inbox / "truncated.pdf").write_bytes(pdf + b"\n")
    os.utime(cfg.inbox / "truncated.pdf", (T0.timestamp() - 60,) * 2)
    with Store(cfg.state) as store:
        again = pipeline.scan(cfg, store, clock=lambda: T0)
    assert (again.new, again.failed, again.unchanged) == (1, 0, 9)


def test_a_pdf_failed_for_want_of_pdfminer_is_read_once_it_is_installed(
    make_config: Callable[..., Config], documents: dict[str, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = make_config()
    (cfg.inbox / "page.pdf").write_bytes(documents["004_788e42c87815a943.1col.pdf"])
    os.utime(cfg.inbox / "page.pdf", (T0.timestamp() - 3600,) * 2)
    real = importlib.util.find_spec
    with monkeypatch.context() as patch:
        patch.setattr(
            importlib.util, "find_spec", lambda name, *a: None if name == "pdfminer" else real(name)
        )
        with Store(cfg.state) as store:
            first = pipeline.scan(cfg, store, clock=lambda: T0)
        assert first.failures == (
            (
                str(cfg.inbox / "page.pdf"),
                "reading PDF files needs the optional package pdfminer.six: "
                "pip install 'watcher[pdf]'",
            ),
        )
        with Store(cfg.state) as store:  # still missing: not retried, not counted again
            assert pipeline.scan(cfg, store, clock=lambda: T0).unchanged == 1
    with Store(cfg.state) as store:  # "installed": the unchanged file is read now
        after = pipeline.scan(cfg, store, clock=lambda: T0)
    assert (after.new, after.failed, after.articles) == (1, 0, 8)

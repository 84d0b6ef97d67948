"""Reading PDF files: real PDFs drawn with reportlab (tests/docgen.py), read by pdfminer
in a child process with limits, and every way one can fail."""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path

import pytest

from tests import docgen
from tests.conftest import seed_files
from watcher import pdf
from watcher.errors import ReadError
from watcher.models import Text
from watcher.readers import Limits, read_bytes

pytest.importorskip("pdfminer")
pytest.importorskip("reportlab")

PATH = Path("page.pdf")
DIRECT = Limits(isolate=False)


def _seed(stem: str) -> str:
    return next(p for p in seed_files() if p.name.startswith(stem)).read_text(encoding="utf-8")


def test_headlines_are_marked_by_type_size_and_columns_read_in_order() -> None:
    text = read_bytes(PATH, docgen.to_pdf(_seed("004"), columns=2), DIRECT)
    assert (text.encoding, text.markup) == ("pdf", "plain")
    lines = text.text.split("\n")
    # Headlines are set at 20 pt over 10.5 pt body text; decks at 14 pt stay plain lines.
    assert "# 加强两地交流合作 携手互促联动发展" in lines
    assert "秦国文率队赴苏州考察学习 吴庆文会见" in lines
    # A paragraph broken across the two columns comes back whole, with no space inserted.
    assert any(ln.startswith("本报讯 (记者 彭斌) 立足新发展阶段、贯彻新发展理念") for ln in lines)


def test_running_heads_and_page_numbers_are_dropped() -> None:
    data = docgen.to_pdf(_seed("003"), columns=2, running_header="株洲日报")
    text = read_bytes(PATH, data, DIRECT).text
    assert "— 2 —" not in text and "— 1 —" not in text
    # The masthead's own "株洲日报" stays; the header repeated on every page does not.
    assert text.split("\n").count("株洲日报") == 1


def test_every_character_of_a_seed_comes_back() -> None:
    source = _seed("002")
    text = read_bytes(PATH, docgen.to_pdf(source, columns=3), DIRECT).text
    squeeze = str.maketrans("", "", " \n\t#\u00a0")
    want = "".join(ln.lstrip("#") for ln in source.split("\n")).translate(squeeze)
    assert text.translate(squeeze) == want


def test_a_scanned_page_has_no_text_layer() -> None:
    with pytest.raises(ReadError) as err:
        read_bytes(PATH, docgen.scanned_pdf())
    # Read by OCR where watcher[ocr] and tesseract are installed (tests/test_ocr.py).
    assert str(err.value) == docgen.scanned_reason()


def test_an_encrypted_pdf_needs_a_password() -> None:
    with pytest.raises(ReadError) as err:
        read_bytes(PATH, docgen.encrypted_pdf(_seed("004")))
    assert str(err.value) == pdf.ENCRYPTED


def test_a_truncated_pdf_is_refused() -> None:
    whole = docgen.to_pdf(_seed("004"))
    with pytest.raises(ReadError) as err:
        read_bytes(PATH, docgen.truncated(whole, 0.5))
    assert str(err.value) == pdf.TRUNCATED


def test_a_file_that_is_not_a_pdf() -> None:
    with pytest.raises(ReadError) as err:
        read_bytes(PATH, "这不是PDF文件".encode())
    assert str(err.value) == "not a PDF file (it does not start with %PDF)"


def test_a_damaged_cross_reference_is_reported() -> None:
    whole = docgen.to_pdf(_seed("004"))
    # Keep the ends (%PDF and %%EOF), scramble the objects in between.
    middle = len(whole) // 3
    broken = whole[:middle] + b"\x00garbage" * 200 + whole[-600:]
    with pytest.raises(ReadError) as err:
        read_bytes(PATH, broken)
    assert str(err.value).startswith(("damaged PDF", "no visible text"))


def test_too_many_pages_are_refused_before_any_is_read() -> None:
    data = docgen.many_pages_pdf(12)
    assert "这是第12版的正文。" in read_bytes(PATH, data, Limits(max_pdf_pages=12)).text
    with pytest.raises(ReadError) as err:
        read_bytes(PATH, data, Limits(max_pdf_pages=11))
    assert str(err.value) == "PDF has more than 11 pages; raise scan.max_pdf_pages to read it"


def test_a_flate_bomb_runs_out_of_its_memory_allowance_not_ours() -> None:
    bomb = docgen.flate_bomb_pdf(1000)  # 1 MB on disk, 1,000 MB inflated
    started = time.monotonic()
    with pytest.raises(ReadError) as err:
        read_bytes(PATH, bomb, Limits(memory_mb=256))
    assert str(err.value) == (
        "needs more than 256 MB of memory to read (scan.read_memory_mb); "
        "the file may be a decompression bomb"
    )
    assert time.monotonic() - started < 30


def test_a_small_flate_stream_reads_normally() -> None:
    # The bomb's shape at 5 MB is a valid PDF: the limit, not the format, stops the big one.
    text = read_bytes(PATH, docgen.flate_bomb_pdf(5), Limits(memory_mb=256))
    assert text.text == "flate bomb"


def test_a_slow_read_is_given_up_after_the_timeout() -> None:
    with pytest.raises(ReadError) as err:
        read_bytes(PATH, docgen.to_pdf(_seed("003"), columns=3), Limits(timeout=0.05))
    assert str(err.value) == (
        "gave up after 0.05 s (scan.read_timeout): the file takes too long to read"
    )


def test_without_pdfminer_the_error_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "pdfminer" else real(name)
    )
    with pytest.raises(ReadError) as err:
        read_bytes(PATH, docgen.to_pdf(_seed("004")))
    assert str(err.value) == (
        "reading PDF files needs the optional package pdfminer.six: pip install 'watcher[pdf]'"
    )


def test_radicals_a_font_names_for_shared_glyphs_are_mapped_back() -> None:
    # Kangxi radicals (NFKC, then the simplified form the glyph shows), the radicals
    # supplement (Unicode's EquivalentUnifiedIdeograph), compatibility ideographs, dashes.
    assert (
        pdf.unify_ideographs("⼯作⼈⺠ ⾸⻚ 客⼾端 ⻩河 ⻓沙") == "工作人民 首页 客户端 黄河 长沙"
    )
    assert pdf.unify_ideographs("醴陵―湘东 ⸺ 又一⸻") == "醴陵—湘东 —— 又一———"
    assert pdf.unify_ideographs("\uf92c") == "郎"
    # Ordinary text, traditional characters and full-width punctuation are left alone.
    text = "淥口区，國務院：“１２３”"
    assert pdf.unify_ideographs(text) == text


def test_the_written_out_kangxi_table_is_what_opencc_says() -> None:
    import unicodedata

    from watcher.segment import fold  # OpenCC's t2s, character by character

    want = ""
    for code in range(0x2F00, 0x2FD6):
        unified = unicodedata.normalize("NFKC", chr(code))
        if fold(unified) != unified:
            want += chr(code) + fold(unified)
    assert want == pdf.KANGXI_SIMPLIFIED


def test_text_drawn_twice_for_a_bold_effect_is_read_once() -> None:
    import io

    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen.canvas import Canvas

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    buf = io.BytesIO()
    page = Canvas(buf, invariant=1)
    page.setFont("STSong-Light", 20)
    for dx, dy in ((0, 0), (0.4, 0), (0, 0.4)):  # "fake bold": the headline three times
        page.drawString(60 + dx, 700 + dy, "新闻联播 hello 头条")
    page.setFont("STSong-Light", 10.5)
    page.drawString(60, 660, "正文第一行，新闻联播今日播出。")
    page.save()
    text = read_bytes(PATH, buf.getvalue(), DIRECT).text
    # ("ll": the same letter again, a letter's width on, is not overprint.)
    assert text == "# 新闻联播 hello 头条\n\n正文第一行，新闻联播今日播出。"


def test_a_font_without_unicode_mapping_is_reported() -> None:
    with pytest.raises(ReadError) as err:
        read_bytes(PATH, docgen.unmapped_font_pdf())
    assert str(err.value) == (
        "the PDF's fonts have no Unicode mapping, so its text cannot be recovered"
    )


def test_a_pdf_without_pages_is_damaged() -> None:
    with pytest.raises(ReadError) as err:
        read_bytes(PATH, docgen.no_pages_pdf())
    assert str(err.value) == "damaged PDF: it has no pages"


def test_what_the_reader_process_says_about_a_reader_that_crashed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from watcher import reader_process, readers
    from watcher.sandbox import Failed

    def deep(data: bytes, path: Path, limits: Limits) -> Text:
        raise RecursionError

    def bug(data: bytes, path: Path, limits: Limits) -> Text:
        raise KeyError("Resources")

    monkeypatch.setattr(readers, "named", lambda name: readers.Reader(name, (".pdf",), deep))
    assert reader_process._answer("pdf", b"", "a.pdf", Limits()) == Failed(
        error="the file nests too deeply to read (a damaged or hostile file)"
    )
    monkeypatch.setattr(readers, "named", lambda name: readers.Reader(name, (".pdf",), bug))
    # An unexpected error ends that worker (its state is unknown) and fails this file.
    assert reader_process._answer("pdf", b"", "a.pdf", Limits()) == Failed(
        error="internal error: KeyError: 'Resources'", fatal=True
    )


def _glyph(ch: str, x0: float, size: float = 10.0, width: float = 10.0) -> pdf.Glyph:
    return (ch, x0, 700.0, x0 + width, 700.0 + size, size, False)


def test_a_letter_spaced_justified_line_is_one_line() -> None:
    # "更新时间：2026-05-" justified in a narrow column: 7 pt between letters, and the
    # colon's ink ends half-way, which left more white before the date than a gutter.
    glyphs = [_glyph(ch, 400 + 17 * k) for k, ch in enumerate("更新时间：")]
    glyphs += [_glyph(ch, 485 + 6 * k, width=6) for k, ch in enumerate("2026-05-")]
    # (A word space before the digits, as between any Chinese and Latin placed apart.)
    assert [ln.text for ln in pdf._lines(glyphs, 0, top=800)] == ["更新时间： 2026-05-"]


def test_a_gutter_still_splits_a_line_of_normal_spacing() -> None:
    glyphs = [_glyph(ch, 40 + 10 * k) for k, ch in enumerate("左栏文字")]
    glyphs += [_glyph(ch, 89 + 10 * k) for k, ch in enumerate("右栏文字")]
    assert [ln.text for ln in pdf._lines(glyphs, 0, top=800)] == ["左栏文字", "右栏文字"]


def test_type_of_another_size_after_white_space_is_another_line() -> None:
    # A heading's last row in the next column on a text line's baseline.
    glyphs = [_glyph(ch, 40 + 10.5 * k, size=10.5, width=10.5) for k, ch in enumerate("陈")]
    glyphs += [_glyph(ch, 59 + 14.5 * k, size=14.5, width=14.5) for k, ch in enumerate("新路子")]
    assert [ln.text for ln in pdf._lines(glyphs, 0, top=800)] == ["陈", "新路子"]


def test_full_width_closing_punctuation_ends_its_ink_half_way() -> None:
    # A headline's closing 】 hanging into a narrow gutter must not reach the next
    # column's line (chromium-010 on 20211110 read two columns as one row).
    for mark in "，。）》」』】〕〉］｝":
        assert pdf._ink_end((mark, 100.0, 0.0, 110.0, 10.0, 10.0, False)) < 110.0, mark
    for glyph in ("城", "A", "【", "（"):
        assert pdf._ink_end((glyph, 100.0, 0.0, 110.0, 10.0, 10.0, False)) == 110.0, glyph


def test_glyphs_of_size_zero_make_a_line_not_an_error() -> None:
    # A zero font size or text matrix gives glyphs of size 0 (seen in the wild).
    glyphs = [(ch, float(x), 0.0, float(x), 0.0, 0.0, False) for x, ch in enumerate("城市更新")]
    lines = pdf._lines(glyphs, 0, 100.0)
    assert "".join(line.text for line in lines).replace(" ", "") == "城市更新"

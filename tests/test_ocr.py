"""Scanned pages read by OCR (watcher.ocr): seed stories printed to PDF with reportlab,
rendered to images at 200 dpi by PDFium, read back in the reader process by the engine
installed (RapidOCR 3 with PP-OCRv6 from watcher[ocr], else RapidOCR 1.4 with PP-OCRv4,
else the real tesseract), and by Tesseract on its own. The tests that need an engine skip
without it."""

from __future__ import annotations

import importlib.util
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

from tests import docgen
from tests.conftest import seed_files
from watcher import ocr
from watcher.errors import ReadError
from watcher.pages import split_page
from watcher.readers import Limits, read_bytes, reader_for, unavailable

DIRECT = Limits(isolate=False)


def _tesseract_with_chinese() -> bool:
    if shutil.which("tesseract") is None:
        return False
    listed = subprocess.run(["tesseract", "--list-langs"], capture_output=True, text=True)
    return ocr.LANGUAGE in listed.stdout.split()


_PRINTING = bool(importlib.util.find_spec("pypdfium2") and importlib.util.find_spec("reportlab"))
_TESSERACT = bool(_tesseract_with_chinese() and importlib.util.find_spec("pytesseract"))
_EXTRA = bool(importlib.util.find_spec("pytesseract"))
_V6 = _EXTRA and all(importlib.util.find_spec(m) for m in ocr.ENGINES["ppocrv6"])
_RAPIDOCR = bool(_EXTRA and (_V6 or importlib.util.find_spec(ocr.RAPIDOCR)))

needs_ocr = pytest.mark.skipif(
    not (_PRINTING and (_TESSERACT or _RAPIDOCR)),
    reason="needs watcher[ocr] (RapidOCR), or tesseract with chi_sim "
    "(apt install tesseract-ocr tesseract-ocr-chi-sim)",
)
needs_v6 = pytest.mark.skipif(
    not (_PRINTING and _V6), reason="needs watcher[ocr] (rapidocr 3 and onnxruntime)"
)
needs_tesseract = pytest.mark.skipif(
    not (_PRINTING and _TESSERACT),
    reason="needs tesseract with chi_sim (apt install tesseract-ocr tesseract-ocr-chi-sim) "
    "and watcher[ocr]",
)


def _stories(stem: str, count: int) -> str:
    """The masthead and first ``count`` stories of a seed page, as its text."""
    text = next(p for p in seed_files() if p.name.startswith(stem)).read_text(encoding="utf-8")
    articles = split_page(text, today=docgen.READ_DAY)
    last = articles[count - 1].body.strip().split("\n")[-1]
    return text[: text.index(last) + len(last)] + "\n"


def _squeeze(text: str) -> str:
    return "".join(text.replace("#", "").split())


def _accuracy(truth: str, got: str) -> float:
    """1 − Levenshtein distance / length, whitespace and # markers ignored."""
    a, b = _squeeze(truth), _squeeze(got)
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (ca != cb))
    return 1 - row[-1] / len(a)


@pytest.fixture(scope="module")
def printed() -> tuple[bytes, str]:
    """Two stories of seed 004 as a one-column PDF, and the text its text layer gives."""
    data = docgen.to_pdf(_stories("004", 2), 1)
    return data, read_bytes(Path("page.pdf"), data, DIRECT).text


@needs_ocr
@pytest.mark.slow
def test_a_page_image_is_read_by_ocr_in_the_reader_process(printed: tuple[bytes, str]) -> None:
    data, truth = printed
    image = docgen.to_image(data, "TIFF")  # one frame a page
    text = read_bytes(Path("scan.tif"), image)  # default limits: in the reader process
    assert (text.encoding, text.markup) == ("ocr", "plain")
    # Measured 99.5 % by RapidOCR (PP-OCRv4 and v6), 98–99 % by Tesseract on these
    # stories (bench/ocr.py measures every seed).
    assert _accuracy(truth, text.text) > (0.98 if _RAPIDOCR else 0.95)
    # The headlines are set in display type: the layout pass marks them by their size.
    want = [a.headline for a in split_page(truth, today=docgen.READ_DAY)]
    got = [a.headline for a in split_page(text.text, today=docgen.READ_DAY)]
    assert [_squeeze(h or "") for h in got] == [_squeeze(h or "") for h in want]


@needs_tesseract
@pytest.mark.slow
def test_tesseract_reads_a_page_too(
    printed: tuple[bytes, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    data, truth = printed
    image = docgen.to_image(data, "TIFF")
    monkeypatch.setattr(ocr, "ENGINE", "tesseract")
    text = read_bytes(Path("scan.tif"), image, DIRECT)  # in this process: ENGINE holds
    assert _accuracy(truth, text.text) > 0.95
    assert any(ln.startswith("# ") for ln in text.text.split("\n"))


@needs_ocr
@pytest.mark.slow
def test_a_pdf_page_without_a_text_layer_is_read_by_ocr(
    printed: tuple[bytes, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    data, truth = printed
    scan = docgen.to_scanned_pdf(data)
    with monkeypatch.context() as without_ocr:  # images only: no text but by OCR
        real = importlib.util.find_spec
        without_ocr.setattr(
            importlib.util, "find_spec", lambda n, *a: None if n == "pytesseract" else real(n)
        )
        with pytest.raises(ReadError, match="no text layer"):
            read_bytes(Path("scan.pdf"), scan, DIRECT)
    text = read_bytes(Path("scan.pdf"), scan)
    assert _accuracy(truth, text.text) > 0.95


@needs_ocr
def test_a_scan_of_no_text_says_so() -> None:
    with pytest.raises(ReadError) as err:
        read_bytes(Path("scan.pdf"), docgen.scanned_pdf(), DIRECT)
    assert str(err.value) == "no text layer (scanned image), and OCR found no text on it"


@needs_tesseract
def test_without_the_tesseract_program_the_message_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    image = docgen.to_image(docgen.scanned_pdf(), "PNG")
    monkeypatch.setattr(ocr, "ENGINE", "tesseract")
    monkeypatch.setenv("PATH", "/nonexistent")  # pytesseract looks the program up on it
    with pytest.raises(ReadError) as err:
        read_bytes(Path("scan.png"), image, DIRECT)
    assert str(err.value) == (
        "OCR needs the tesseract program with its chi_sim model: "
        "apt install tesseract-ocr tesseract-ocr-chi-sim"
    )


@needs_tesseract
def test_when_no_engine_can_read_every_reason_is_given(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Both RapidOCRs refused (as with too little scan.read_memory_mb), and no tesseract
    # program to fall back on: the first reason is the one to fix, so it comes first.
    def refuse(name: str) -> None:
        raise ReadError(f"OCR engine {ocr.LABELS[name]} cannot be loaded: failed to map segment")

    image = docgen.to_image(docgen.scanned_pdf(), "PNG")
    monkeypatch.setattr(ocr, "installed_engines", lambda: ["ppocrv6", "rapidocr", "tesseract"])
    monkeypatch.setattr(ocr, "_rapid", refuse)
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(ReadError) as err:
        read_bytes(Path("scan.png"), image, DIRECT)
    assert str(err.value) == (
        "OCR engine RapidOCR 3 (PP-OCRv6) cannot be loaded: failed to map segment; "
        "and OCR engine RapidOCR 1.4 (PP-OCRv4) cannot be loaded: failed to map segment; "
        "and Tesseract cannot read instead: OCR needs the tesseract program with its "
        "chi_sim model: apt install tesseract-ocr tesseract-ocr-chi-sim"
    )


@needs_v6
def test_when_pp_ocrv6_cannot_be_loaded_the_next_engine_reads(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    real = ocr._rapid

    def refuse_v6(name: str = "ppocrv6") -> object:
        if name == "ppocrv6":
            raise ReadError("OCR engine RapidOCR 3 (PP-OCRv6) cannot be loaded: out of memory")
        return real(name)

    monkeypatch.setattr(ocr, "_rapid", refuse_v6)
    nxt = "rapidocr" if importlib.util.find_spec(ocr.RAPIDOCR) else "tesseract"
    if nxt == "tesseract" and not _TESSERACT:
        pytest.skip("needs RapidOCR 1.4 or tesseract with chi_sim to fall back on")
    assert ocr.installed_engines()[0] == "ppocrv6"
    with caplog.at_level("WARNING", logger="watcher.ocr"):
        assert ocr._choose() == nxt
    assert caplog.messages == [
        "OCR engine RapidOCR 3 (PP-OCRv6) cannot be loaded: out of memory; "
        f"reading with {ocr.LABELS[nxt]} instead"
    ]


@needs_v6
@pytest.mark.slow
def test_pp_ocrv6_reads_characters_pp_ocrv4_has_not(monkeypatch: pytest.MonkeyPatch) -> None:
    # 帙 (in a byline of seed 001) is not among PP-OCRv4's 6,623 characters; PP-OCRv6's
    # dictionary of 18,708 holds it, and traditional forms such as 淥 too.
    text = "株洲日报\n2021年6月3日\n\n# 城市更新资源集中发布\n\n记者 周帙恒 通讯员 李明\n\n全省城市更新领域预计带动投资。\n"
    image = docgen.to_image(docgen.to_pdf(text, 1), "PNG")
    monkeypatch.setattr(ocr, "ENGINE", "ppocrv6")
    # Loaded afresh, with RapidOCR's downloader and the network refused: all it needs
    # ships in its wheel.
    from rapidocr.utils.download_file import DownloadFile

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("RapidOCR tried to download")

    monkeypatch.setattr(ocr, "_RAPID", {})
    monkeypatch.setattr(ocr, "_FAILED", {})
    monkeypatch.setattr(DownloadFile, "run", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    got = read_bytes(Path("scan.png"), image, DIRECT).text
    assert "周帙恒" in _squeeze(got)
    assert "城市更新资源集中发布" in _squeeze(got)


@needs_v6
@pytest.mark.slow
def test_lines_are_read_with_white_above_and_below(monkeypatch: pytest.MonkeyPatch) -> None:
    # Read from the detector's box with a tenth of its height of margin, 门 crowded
    # against the crop's edge was read as 内 (22 of 26 times on the seed pages; all 5 here).
    body = "气象部门预报，有关部门要加强监管，各部门深入基层，把服务送到家门口。"
    text = f"株洲日报\n2021年6月3日\n\n# 各部门扎实推进为民办实事\n\n{body}\n"
    image = docgen.to_image(docgen.to_pdf(text, 1), "PNG")
    monkeypatch.setattr(ocr, "ENGINE", "ppocrv6")
    got = _squeeze(read_bytes(Path("scan.png"), image, DIRECT).text)
    assert body in got
    assert "各部门扎实推进为民办实事" in got


@needs_v6
@pytest.mark.slow
@pytest.mark.parametrize("columns", [1, 2])
def test_a_headline_is_read_as_the_recogniser_is_surest(
    columns: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Seed 003's headline: read at the body's framing alone, PP-OCRv6 took its 淥 for
    # 渌 (the simplified form) on this page in both layouts (and with a shorter last
    # sentence in neither: which form wins turns on how the pixels fall).
    head = "激浊扬清的“淥口担当”"
    text = (
        f"株洲日报\n2021年6月4日\n\n# {head}\n\n——“淥口发展这五年”系列报道·政治生态篇\n\n"
        "2016年来，淥口区主要经济指标均实现快速增长，绩效评估连续5年获评全市一类（优秀），"
        "基层党建述职考核连续位居前列。\n"
    )
    image = docgen.to_image(docgen.to_pdf(text, columns), "PNG")
    monkeypatch.setattr(ocr, "ENGINE", "ppocrv6")
    got = read_bytes(Path("scan.png"), image, DIRECT).text
    assert [a.headline for a in split_page(got, today=docgen.READ_DAY)] == [head]


def test_display_lines_keep_the_surest_of_their_readings() -> None:
    np = pytest.importorskip("numpy")
    heights: list[int] = []

    class Recogniser:
        """Reads a crop by its height: surest of the one framed at 0.4."""

        def __call__(self, pixels: object, **steps: object) -> tuple[object, None]:
            height = pixels.shape[0]  # type: ignore[attr-defined]
            heights.append(height)
            return [(f"读{height}", 0.9 if height == round(28 / 0.4) else 0.7)], None

    crop = np.full((36, 400), 255, dtype=np.uint8)
    crop[4:32, 10:390] = 0
    assert ocr._recognise_line(Recogniser(), crop, 0) == f"读{round(28 / ocr.LINE_SHARE)}"
    assert heights == [round(28 / ocr.LINE_SHARE)]  # body type: read once
    heights.clear()
    assert ocr._recognise_line(Recogniser(), crop, 0, ocr.DISPLAY_SHARES) == "读70"
    assert heights == [round(28 / share) for share in ocr.DISPLAY_SHARES]


def test_a_line_is_framed_in_white_to_its_share_of_the_height() -> None:
    np = pytest.importorskip("numpy")
    crop = np.full((36, 200), 255, dtype=np.uint8)
    crop[4:32, 10:190] = 0  # ink 28 px high in a crop 36 px high
    framed = ocr._framed(crop)
    assert framed.shape == (round(28 / ocr.LINE_SHARE), 200)
    ink = ocr._ink(framed)
    assert ink is not None and ink[3] - ink[1] == 28
    above, below = ink[1], framed.shape[0] - ink[3]
    assert abs(above - below) <= 1  # the crop's own margins were alike
    loose = np.full((80, 200), 255, dtype=np.uint8)
    loose[30:50, 10:190] = 0  # already more white than LINE_SHARE asks: kept
    assert ocr._framed(loose) is loose
    blank = np.full((36, 200), 255, dtype=np.uint8)
    assert ocr._framed(blank) is blank


@needs_v6
def test_pp_ocrv6_models_come_from_its_wheel_and_none_is_downloaded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Named by path, a model that is not there is an error: RapidOCR 3 would otherwise
    # fetch the models its table names from a model hub.
    monkeypatch.setattr(ocr, "_RAPID", {})
    monkeypatch.setattr(ocr, "_FAILED", {})
    monkeypatch.setattr(ocr, "V6_MODELS", ("PP-OCRv6_det_small.onnx", "missing_rec.onnx"))
    monkeypatch.setattr(ocr, "ENGINE", "ppocrv6")
    with pytest.raises(ReadError) as err:
        ocr._choose()
    assert str(err.value).startswith(
        "OCR engine RapidOCR 3 (PP-OCRv6) cannot be loaded: its wheel has no missing_rec.onnx"
    )
    # The process remembers why: the next image does not load it again.
    monkeypatch.setattr(ocr, "_load_v6", lambda: pytest.fail("loaded twice"))
    with pytest.raises(ReadError) as again:
        ocr._choose()
    assert str(again.value) == str(err.value)


def test_a_line_found_by_two_strips_is_kept_once() -> None:
    # The detector runs on strips 480 px tall overlapping by 120: a page 800 px tall is
    # read as rows 0-480 and, the last strip a whole one, 320-800. A line at rows 410-430
    # is found by both, boxed a little differently: its middle at 421 in the first strip
    # and at 419 in the second. Each strip's own half of the overlap (up to 420, from 420)
    # would have lost it.
    np = pytest.importorskip("numpy")

    class Detector:
        def __call__(self, pixels: object, **steps: object) -> tuple[object, None]:
            top = int(pixels[0, 0])  # type: ignore[index]  # each row holds its number
            boxes = {0: [(100, 20, 40), (100, 411, 431)], 320: [(100, 89, 109), (300, 420, 440)]}
            return [
                [(x, y0), (x + 500, y0), (x + 500, y1), (x, y1)] for x, y0, y1 in boxes[top]
            ], None

    rows = np.repeat(np.arange(800, dtype=np.int32)[:, None], 4, axis=1)
    boxes = ocr._detect(Detector(), rows, 0, deadline=float("inf"))
    assert boxes == [(100, 20, 601, 41), (100, 411, 601, 432), (300, 740, 801, 761)]


def test_without_the_extra_images_and_scanned_pdfs_name_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pytest.importorskip("reportlab")
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "pytesseract" else real(name)
    )
    missing = (
        "reading image files needs the optional package pytesseract: pip install 'watcher[ocr]'"
    )
    assert unavailable(Path("page.JPG")) == missing
    with pytest.raises(ReadError) as err:
        read_bytes(Path("page.png"), b"\x89PNG\r\n\x1a\n")
    assert str(err.value) == missing
    with pytest.raises(ReadError) as err:
        read_bytes(Path("scan.pdf"), docgen.scanned_pdf(), DIRECT)
    assert str(err.value) == (
        "no text layer (scanned image); reading it needs OCR: pip install 'watcher[ocr]'"
    )


@pytest.mark.parametrize("name", ["a.png", "b.jpg", "c.JPEG", "d.tif", "e.tiff"])
def test_page_images_are_read_by_the_image_reader(name: str) -> None:
    reader = reader_for(Path(name))
    assert reader is not None and reader.name == "image" and reader.isolate


def test_a_damaged_image_fails_with_its_reason() -> None:
    pytest.importorskip("PIL")
    with pytest.raises(ReadError) as err:
        ocr.read_image(b"\x89PNG\r\n\x1a\n\x00\x00", Path("cut.png"))
    assert str(err.value) == "damaged image: not a PNG, JPEG or TIFF file that can be opened"


def _tsv(*words: tuple[str, int, int, int, int, int]) -> dict[str, list[object]]:
    """Tesseract's TSV as pytesseract's dict: (text, line, left, top, width, height)."""
    keys = ("text", "line_num", "left", "top", "width", "height")
    out: dict[str, list[object]] = {k: [w[i] for w in words] for i, k in enumerate(keys)}
    out["block_num"] = [1] * len(words)
    out["par_num"] = [1] * len(words)
    out["conf"] = [90] * len(words)
    return out


def test_words_become_lines_sized_by_their_characters_and_cut_at_gutters() -> None:
    # 200 dpi: 10 pt type is 27.8 px a character. Row 1 is two columns' lines side by
    # side (a gutter of 2.5 characters); boxes are taller than the type (a quote mark).
    found = _tsv(
        ("本报讯", 1, 100, 100, 83, 40),
        ("今天上午", 1, 186, 100, 111, 40),
        ("湖南", 1, 380, 100, 55, 40),
        ("日报", 1, 438, 100, 55, 40),
        ("大字标题", 2, 100, 200, 300, 60),
        ("5G", 3, 100, 300, 28, 30),
        ("network", 3, 140, 300, 90, 30),
    )
    lines = ocr._lines(found, 72 / 200, page=0)
    assert [ln.text for ln in lines] == ["本报讯今天上午", "湖南日报", "大字标题", "5G network"]
    body, right, head, _latin = lines
    assert body.size == right.size and 9 < body.size < 11
    assert head.size > 1.5 * body.size
    assert body.x1 < right.x0 and head.top > body.bottom


def _page(*rows: tuple[int, int, int, int]) -> object:
    """A white page with black bars (left, top, right, bottom) for "ink", as numpy."""
    np = pytest.importorskip("numpy")
    page = np.full((120, 900), 255, dtype=np.uint8)
    for left, top, right, bottom in rows:
        page[top:bottom, left:right] = 0
    return page


def test_a_found_line_is_cut_at_a_gutter_not_between_characters() -> None:
    # Characters 28 px high with 4 px between them, then a 60 px gutter, then more.
    chars = [(10 + 32 * k, 40, 38 + 32 * k, 68) for k in range(8)]
    right = [(330 + 32 * k, 40, 358 + 32 * k, 68) for k in range(6)]
    pieces = ocr._pieces(_page(*chars, *right), body=28.0)
    assert pieces == [(0, 264), (328, 900)]  # 2 px of margin either side of the ink
    # Past a gutter in the margin the box was widened by: a neighbour's character.
    assert ocr._pieces(_page(*chars, *right), body=28.0, found=(0.0, 300.0)) == [(0, 264)]
    # A box two lines high (two columns' lines a line apart) is judged by the body size.
    tall = [(10, 10, 262, 38), (322, 60, 600, 88)]
    assert len(ocr._pieces(_page(*tall), body=28.0)) == 2
    assert len(ocr._pieces(_page(*tall), body=0.0)) == 1  # by its own height: no gutter


def test_ink_measured_sizes_snap_to_the_sizes_of_long_lines() -> None:
    def line(text: str, size: float) -> object:
        return ocr.TextLine(text=text, x0=0, top=0, x1=size * len(text), bottom=size, size=size)

    lines = [
        line("中共中央总书记国家主席", 10.49),
        line("中央军委主席习近平近日", 10.52),
        line("湖南城市更新资源集中发布", 13.5),
        line("全省城市更新领域预计带动", 12.5),
        line("通、", 11.2),  # short: side bearings make it look larger
        line("实步伐", 12.8),
        line("大字", 20.0),  # no long line near its size: kept
    ]
    sizes = [ln.size for ln in ocr._snap_to_long_lines(lines)]
    assert sizes == [10.5, 10.5, 13.5, 12.5, 10.5, 12.5, 20.0]


def test_rapidocr_out_of_memory_is_a_memory_error() -> None:
    class Engine:
        def __call__(self, *args: object, **kwargs: object) -> object:
            raise RuntimeError("Non-zero status code returned: std::bad_alloc")

    with pytest.raises(MemoryError):
        ocr._run(Engine(), b"", 0, use_rec=False)

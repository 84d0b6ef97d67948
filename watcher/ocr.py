"""Scanned pages → text by OCR (the only module that imports rapidocr,
rapidocr_onnxruntime, pytesseract, Pillow and pypdfium2).

A page image (``.png``, ``.jpg``, ``.tif``) or a PDF page without a text layer (rendered
with PDFium) is recognised by the best engine installed that loads (ENGINES):

- **RapidOCR 3** (``rapidocr`` with ``onnxruntime``): PaddleOCR's PP-OCRv6 small
  detection and recognition models (18,708 characters, traditional forms among them),
  shipped inside the wheel and run by ONNX Runtime on the CPU.
- **RapidOCR 1.4** (``rapidocr-onnxruntime``): the same pipeline with PP-OCRv4's Chinese
  models (6,623 characters).
- **Tesseract** with its ``chi_sim`` model (Debian's packages, through ``pytesseract``):
  words with their boxes (its TSV output), gathered into lines here.

RapidOCR finds text lines, and each line is read alone. Either way the lines, with a type
size measured from their boxes, go through the same layout pass as a PDF's
(:mod:`watcher.layout`): columns, bands, headlines by size. The engines' own reading
order is not used.

Runs in the reader process (:mod:`watcher.sandbox`), under its memory limit (the
``tesseract`` program inherits it); each page is given the file's time limit.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib.util
import io
import itertools
import logging
import os
import re
import statistics
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from watcher import layout
from watcher.errors import ReadError
from watcher.layout import TextLine
from watcher.models import Text
from watcher.reading import NO_VISIBLE_TEXT, Package

log = logging.getLogger(__name__)

# What OCR needs installed: the binding (and with it, in the same extra, Pillow and
# pypdfium2), and the program with its Chinese model from the system's packages.
PYTESSERACT = Package(module="pytesseract", name="pytesseract", extra="ocr", kind="image")
# RapidOCR 3 (the ``rapidocr`` package, run by ``onnxruntime``), with the PP-OCRv6 small
# models its wheel ships; and RapidOCR 1.4 (``rapidocr-onnxruntime``), PP-OCRv4.
RAPIDOCR_V6 = "rapidocr"
RAPIDOCR = "rapidocr_onnxruntime"
V6_MODELS = ("PP-OCRv6_det_small.onnx", "PP-OCRv6_rec_small.onnx")
# The engines, best first: each one's modules must be installed for it to be tried.
ENGINES = {
    "ppocrv6": (RAPIDOCR_V6, "onnxruntime"),
    "rapidocr": (RAPIDOCR,),
    "tesseract": ("pytesseract",),
}
# The engine to use: one of ENGINES, or None for the best one installed that loads.
ENGINE: str | None = None
LABELS = {
    "ppocrv6": "RapidOCR 3 (PP-OCRv6)",
    "rapidocr": "RapidOCR 1.4 (PP-OCRv4)",
    "tesseract": "Tesseract",
}
LANGUAGE = "chi_sim"
NO_TESSERACT = (
    "OCR needs the tesseract program with its chi_sim model: "
    "apt install tesseract-ocr tesseract-ocr-chi-sim"
)
NO_MODEL = (
    f"tesseract has no {LANGUAGE} model (Simplified Chinese): apt install tesseract-ocr-chi-sim"
)
DAMAGED_IMAGE = "damaged image: not a PNG, JPEG or TIFF file that can be opened"
NOTHING_FOUND = "no text layer (scanned image), and OCR found no text on it"

# Scanned PDF pages are rendered at this resolution for Tesseract.
RENDER_DPI = 300
# An image that does not say its resolution is taken to be a scan at this one.
DEFAULT_DPI = 200
# Tesseract reads type best at about this many pixels per character (x-height and cap
# height around 20–30 px); smaller body type is scaled up to it.
TARGET_PIXELS = 32.0
# Fully automatic page segmentation, words' spacing as printed.
CONFIG = "--oem 1 --psm 3 -c preserve_interword_spaces=1"
# Words Tesseract is less sure of than this (0–100) are left out; -1 marks rows that are
# no words. Dropping even unsure words (under 30) lost more characters than it saved.
MIN_CONFIDENCE = 0.0
# Words further apart than this many characters are in different columns.
SPLIT_GAP = 1.2
# A gap of a whole character (or more) between Chinese characters is a space; justified
# lines spread their characters up to half a character apart.
CJK_SPACE = 1.0
# A wider gap than this share of a character between two letters is a word space.
WORD_GAP = 0.25
# A page without long Chinese words to measure: type size per box height.
INK_SHARE = 0.65
# A character box whose middle is this share of ink is a solid ■.
SOLID = 0.9
# Lines this many times the page's usual size or larger are read again, one by one.
REREAD = 1.25
# How they are read: each as a single line.
REREAD_CONFIG = "--oem 1 --psm 7 -c preserve_interword_spaces=1"
# Lines in type smaller than this share of the page's usual size are specks and rules.
SPECK = 0.5
# Sizes within this share of each other are one size (see _snap_sizes).
SIZE_TOLERANCE = 0.12

_HALF_INK = frozenset("，。、；：！？”’）》」』")


def read_image(data: bytes, path: Path, *, timeout: float = 120.0) -> Text:
    """The text of a page image (every frame of a multi-page TIFF), by OCR."""
    image_module = _pillow()
    try:
        with image_module.open(io.BytesIO(data)) as img:
            frames = list(_frames(img))
    except image_module.DecompressionBombError as exc:
        raise ReadError(f"image too large to read: {exc}") from None
    except image_module.UnidentifiedImageError:
        raise ReadError(DAMAGED_IMAGE) from None
    except MemoryError:
        raise
    except Exception as exc:  # Pillow raises many kinds on a damaged file
        # Without object addresses ("<_io.BytesIO object at 0x…>"): the same file must
        # fail with the same words every time.
        said = re.sub(r"\s*<[^<>]* at 0x[0-9a-f]+>", "", str(exc))
        raise ReadError(f"damaged image: {type(exc).__name__}: {said}") from None
    pages = [(frame, dpi) for frame, dpi in frames]
    return _to_text(pages, path, timeout)


def read_scanned_pdf(
    data: bytes, path: Path, *, pages: list[int] | None = None, timeout: float = 120.0
) -> list[list[TextLine]]:
    """Lines of a PDF's pages (all, or those numbered in ``pages``) rendered and read by OCR."""
    try:
        import pypdfium2
    except ImportError:
        raise ReadError(PYTESSERACT.missing) from None
    engine = _choose()
    try:
        document = pypdfium2.PdfDocument(data)
    except pypdfium2.PdfiumError as exc:
        raise ReadError(f"damaged PDF: {exc}") from None
    try:
        numbers = range(len(document)) if pages is None else pages
        out = []
        for number in numbers:
            page = document[number]
            try:
                # Grey, and the bitmap freed at once: the reader process has a memory limit.
                bitmap = page.render(scale=RENDER_DPI / 72, grayscale=True)
                image = bitmap.to_pil().copy()
                bitmap.close()
            finally:
                page.close()
            out.append(recognise(image, RENDER_DPI, number, timeout=timeout, engine=engine))
            del image
        return out
    finally:
        document.close()


def _pillow() -> Any:
    try:
        from PIL import Image
    except ImportError:
        raise ReadError(PYTESSERACT.missing) from None
    return Image


def _frames(img: Any) -> Iterator[tuple[Any, float]]:
    """Each frame of an image (a TIFF may hold several pages) with its resolution."""
    from PIL import ImageSequence

    for frame in ImageSequence.Iterator(img):
        dpi = frame.info.get("dpi", (DEFAULT_DPI, DEFAULT_DPI))[0] or DEFAULT_DPI
        # Some programs write 1 or 72 for "unknown"; no newspaper page is scanned so.
        yield frame.copy(), float(dpi) if dpi >= 100 else float(DEFAULT_DPI)


def _to_text(pages: list[tuple[Any, float]], path: Path, timeout: float) -> Text:
    engine = _choose()
    lines = [
        recognise(image, dpi, k, timeout=timeout, engine=engine)
        for k, (image, dpi) in enumerate(pages)
    ]
    heights = [image.height * 72 / dpi for image, dpi in pages]
    if not any(lines):
        raise ReadError(NO_VISIBLE_TEXT)
    text = layout.to_text(lines, heights)
    if not text:
        raise ReadError(NO_VISIBLE_TEXT)
    log.debug("%s: %d pages read by OCR", path, len(pages))
    return Text(text=text, encoding="ocr", markup="plain")


def installed_engines() -> list[str]:
    """The engines to try, in order: ``ENGINE`` alone, else those of ENGINES whose
    modules are installed, best first, Tesseract last in any case (without it, the
    message says what to install)."""
    if ENGINE:
        return [ENGINE]
    found = importlib.util.find_spec
    return [
        name
        for name, modules in ENGINES.items()
        if name == "tesseract" or all(found(m) is not None for m in modules)
    ]


def installed_engine() -> str:
    """The engine a page would be read with when it loads: the first of
    :func:`installed_engines`."""
    return installed_engines()[0]


def _choose() -> str:
    """The first engine of :func:`installed_engines` that can run here; refuses, with
    every reason (the first is the one to fix) and the packages to install, when none can."""
    reasons: list[str] = []
    for name in installed_engines():
        try:
            if name == "tesseract":
                _tesseract_ready()
            else:
                _rapid(name)
        except ReadError as exc:
            # RapidOCR's libraries and models need some 400 MB of the reader process's
            # address space (scan.read_memory_mb): with less, the next engine reads
            # (Tesseract is a program of its own), unless one was asked for by name.
            # RapidOCR's reasons name it; Tesseract's say what to install.
            if not reasons or name != "tesseract":
                reasons.append(f"and {exc}" if reasons else str(exc))
            else:
                reasons.append(f"and Tesseract cannot read instead: {exc}")
            continue
        if reasons:
            log.warning("%s; reading with %s instead", reasons[0], LABELS[name])
        return name
    raise ReadError("; ".join(reasons))


def _tesseract_ready() -> None:
    """Refuse, saying what to install, when Tesseract cannot read Chinese here."""
    try:
        import pytesseract
    except ImportError:
        raise ReadError(PYTESSERACT.missing) from None
    try:
        languages = pytesseract.get_languages(config="")
    except (pytesseract.TesseractNotFoundError, OSError):
        raise ReadError(NO_TESSERACT) from None
    if LANGUAGE not in languages:
        raise ReadError(NO_MODEL)


def recognise(
    image: Any, dpi: float, page: int, *, timeout: float = 120.0, engine: str | None = None
) -> list[TextLine]:
    """The lines OCR finds on one page image, in points from its top-left corner."""
    name = engine or _choose()
    gray = image.convert("L")
    if name != "tesseract":
        return _rapid_lines(gray, dpi, page, timeout, name)
    return _tesseract_lines(gray, dpi, page, timeout)


def _tesseract_lines(gray: Any, dpi: float, page: int, timeout: float) -> list[TextLine]:
    """The lines Tesseract finds on a page.

    Display lines (headlines, decks) are read a second time, each alone and scaled to
    the body type's pixel size: the page pass reads large type worse
    (常 as 毅, 闽宁 as 音字) than the same line read alone at text size.
    """
    original = gray
    scale = _upscale(gray, dpi)
    if scale > 1:
        gray = gray.resize((round(gray.width * scale), round(gray.height * scale)), 3)
    found = _tesseract(gray, CONFIG, page, timeout)
    lines = _lines(found, 72.0 / (dpi * scale), page, gray)
    return _reread_display(original, lines, 72.0 / dpi, page, timeout)


def _tesseract(image: Any, config: str, page: int, timeout: float) -> dict[str, list[Any]]:
    import pytesseract

    # One thread: the reader process shares the machine with the scan that started it.
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")
    try:
        found: dict[str, list[Any]] = pytesseract.image_to_data(
            image,
            lang=LANGUAGE,
            config=config,
            output_type=pytesseract.Output.DICT,
            timeout=timeout,
        )
    except RuntimeError as exc:  # pytesseract's timeout
        raise ReadError(f"OCR of page {page + 1} took longer than {timeout:g} s") from exc
    except pytesseract.TesseractError as exc:
        raise ReadError(f"OCR failed on page {page + 1}: {exc.message}") from None
    return found


def _reread_display(
    gray: Any, lines: list[TextLine], points: float, page: int, timeout: float
) -> list[TextLine]:
    """Display lines read again at the body's pixel size (see :func:`recognise`)."""
    import dataclasses

    if not lines:
        return lines
    body = statistics.median(ln.size for ln in lines for _ in ln.text)
    shown = [k for k, ln in enumerate(lines) if ln.size >= REREAD * body and len(ln.text) > 1]
    if not shown:
        return lines
    target = TARGET_PIXELS  # pixels a character, as body type is read
    out = list(lines)
    for k in shown:
        ln = lines[k]
        em = ln.size / points
        box = (
            max(0, round(ln.x0 / points - 0.18 * em)),
            max(0, round(ln.top / points - 0.15 * em)),
            min(gray.width, round(ln.x1 / points + 0.18 * em)),
            min(gray.height, round(ln.bottom / points + 0.15 * em)),
        )
        factor = target / em
        crop = gray.crop(box)
        crop = crop.resize(
            (max(1, round(crop.width * factor)), max(1, round(crop.height * factor))), 3
        )
        found = _tesseract(crop, REREAD_CONFIG, page, timeout)
        got: list[Word] = []
        for i, text in enumerate(found["text"]):
            word = str(text).strip()
            if word and float(found["conf"][i]) >= MIN_CONFIDENCE:
                left, top = float(found["left"][i]), float(found["top"][i])
                width, height = float(found["width"][i]), float(found["height"][i])
                got.append((word, left, top, left + width, top + height))
        if got:
            got.sort(key=lambda w: w[1])
            out[k] = dataclasses.replace(ln, text=_line(got, target, 1.0, page).text)
    return out


def _upscale(gray: Any, dpi: float) -> float:
    """How much to enlarge a page so that its body type reaches TARGET_PIXELS."""
    # Newspaper body type is 9–10.5 pt: at 200 dpi that is 25–29 px a character.
    body_px = 10.0 * dpi / 72
    return max(1.0, min(2.0, TARGET_PIXELS / body_px))


Word = tuple[str, float, float, float, float]  # text, left, top, right, bottom (pixels)


def _lines(
    found: dict[str, list[Any]], points: float, page: int, image: Any = None
) -> list[TextLine]:
    """Tesseract's words (TSV rows) → lines, split where a gap is a gutter.

    With the page ``image``, a word's first character drawn as a solid block of ink is
    the ■ that opens bylines (the model reads it as 国 or 口).
    """
    rows: dict[tuple[int, int, int], list[Word]] = {}
    for k, text in enumerate(found["text"]):
        word = str(text).strip()
        if not word or float(found["conf"][k]) < MIN_CONFIDENCE:
            continue
        left, top = float(found["left"][k]), float(found["top"][k])
        right, bottom = left + float(found["width"][k]), top + float(found["height"][k])
        key = (int(found["block_num"][k]), int(found["par_num"][k]), int(found["line_num"][k]))
        if image is not None and _solid(image, left, top, min(right, left + bottom - top), bottom):
            word = "■" + word[1:]
        rows.setdefault(key, []).append((word, left, top, right, bottom))
    ratio = _em_per_height(rows.values())
    out: list[TextLine] = []
    for words in rows.values():
        words.sort(key=lambda w: w[1])
        # Tesseract's rows rarely cross a gutter: the whole row measures its type.
        em = _em("".join(w[0] for w in words), words[-1][3] - words[0][1], _height(words) * ratio)
        piece: list[Word] = []
        for box in words:
            if piece and box[1] - piece[-1][3] > SPLIT_GAP * em:
                out.append(_line(piece, em, points, page))
                piece = []
            piece.append(box)
        if piece:
            out.append(_line(piece, em, points, page))
    if out:
        # Specks and hairline rules read as a letter or two in tiny "type".
        usual = statistics.median(ln.size for ln in out)
        out = [ln for ln in out if ln.size >= SPECK * usual]
    return _snap_sizes(out)


def _solid(image: Any, left: float, top: float, right: float, bottom: float) -> bool:
    """Whether the box's middle is almost all ink (a ■, not a character's strokes)."""
    w, h = right - left, bottom - top
    if w < 12 or h < 12:  # dots (……) and specks: no character's size
        return False
    # The middle half of the first character's box: strokes leave white there.
    box = (int(left + w / 4), int(top + h / 4), int(right - w / 4), int(bottom - h / 4))
    region = image.crop(box)
    dark = sum(region.point(lambda v: 255 if v < 128 else 0).histogram()[255:])
    return dark >= SOLID * region.width * region.height


def _em_per_height(rows: Iterable[list[Word]]) -> float:
    """How a page's type size compares with its word boxes' height (Tesseract's boxes
    take in some of the line spacing), from words of four or more Chinese characters."""
    ratios = [
        (w[3] - w[1]) / _units(w[0]) / (w[4] - w[2])
        for words in rows
        for w in words
        if _units(w[0]) >= 4 and w[4] > w[2] and not w[0].isascii()
    ]
    return statistics.median(ratios) if ratios else INK_SHARE


def _height(words: list[Word]) -> float:
    """A row's box height in pixels: its tallest word's (one character's box is only its
    ink; a longer word's takes in the row's ascent and descent)."""
    return max(w[4] - w[2] for w in words)


def _units(text: str) -> float:
    """A text's width in ems: a Chinese character one, a Latin letter or digit a half;
    full-width punctuation at its end inks only its left half."""
    units = sum(0.5 if ch.isascii() else 1.0 for ch in text if not ch.isspace())
    return units - 0.5 if text and text[-1] in _HALF_INK else units


def _em(text: str, width: float, em: float) -> float:
    """A line's type size in pixels, from its width and its characters.

    Chinese type is square and set solid, so a line of n characters is about n ems wide
    (Latin letters and digits half an em; full-width punctuation at the end inks only
    its left half). Boxes' heights are no size: quotes, brackets and descenders stretch
    them, and 一 is flat. A single character keeps ``em``, from its height.
    """
    units = _units(text)
    # Latin capitals are wider than half an em: a line mostly in Latin letters
    # ("HENGYANG DAILY") would measure large; it keeps its height's size.
    wide = sum(1 for ch in text if not ch.isascii() and not ch.isspace())
    return em if units < 2 or wide < units / 2 else width / units


def _line(words: list[Word], em: float, points: float, page: int) -> TextLine:
    parts = [words[0][0]]
    for last, word in itertools.pairwise(words):
        # Chinese is set without spaces, and Tesseract's "words" are not words: only a
        # gap as wide as a space shows one (a headline's two halves); Latin words are
        # spaced at a narrower gap.
        latin = last[0][-1].isascii() and word[0][0].isascii()
        gap = word[1] - last[3]
        if gap > (WORD_GAP if latin else CJK_SPACE) * em:
            parts.append(" ")
        parts.append(word[0])
    top = min(w[2] for w in words)
    text = "".join(parts)
    x0, x1 = min(w[1] for w in words), max(w[3] for w in words)
    return TextLine(
        text=text,
        x0=min(w[1] for w in words) * points,
        top=top * points,
        x1=max(w[3] for w in words) * points,
        bottom=max(w[4] for w in words) * points,
        size=round(_em(text, x1 - x0, em) * points, 1),
        page=page,
    )


def _snap_sizes(lines: list[TextLine]) -> list[TextLine]:
    """Sizes measured from boxes vary by a pixel or two from line to line; sizes within
    SIZE_TOLERANCE of each other are one size (the median of the group, by characters),
    so the layout pass sees one body size and distinct display sizes."""
    import dataclasses

    order = sorted(lines, key=lambda ln: ln.size)
    groups: list[list[TextLine]] = []
    for ln in order:
        if groups and ln.size <= groups[-1][0].size * (1 + SIZE_TOLERANCE):
            groups[-1].append(ln)
        else:
            groups.append([ln])
    size_of: dict[int, float] = {}
    for group in groups:
        weighted = [ln.size for ln in group for _ in range(max(1, len(ln.text)))]
        size = round(statistics.median(weighted), 1)
        size_of.update({id(ln): size for ln in group})
    return [dataclasses.replace(ln, size=size_of[id(ln)]) for ln in lines]


# --- RapidOCR ---------------------------------------------------------------------

# Text is found on the page scaled so that 10 pt type is this many pixels: the detector
# finds lines of small type as well, and at full size it took twice the time and memory.
# At 16 pixels it joined lines of two columns a line apart into one box 3 times a page.
DET_PIXELS = 20.0
# ... in strips this tall (pixels at that scale), which overlap by this much (more than
# a headline's height), to bound its memory: reading a 200 dpi page peaked at 400 MB
# resident (600 MB in strips of 768).
STRIP = 480
OVERLAP = 120
# A line this much inside a longer one is a part of it found again.
NESTED = 0.5
# Lines the recogniser is less sure of than this (0–1) are left out: RapidOCR's own 0.5
# let a bar of a picture through as "1" (0.58).
MIN_SCORE = 0.6
# A line is read with white above and below, its ink this share of the crop's height
# (the recogniser scales a crop to 48 px high): the detector's box, widened by MARGIN,
# left ink at 0.65-0.75 of it, and 门 crowded against the edge was read as 内 (22 times
# on the seed pages). bench/ocr.py, characters wrong on the seeds / 4 新闻联播 days:
# 107 / 84 as found, 90 / - at 0.6, 79 / 61 at 0.55, 79 / 63 at 0.5; at 0.45 and 0.4 a
# headline's last character, alone on its row, was lost.
LINE_SHARE = 0.5
# Display lines (ink REREAD times the body's or taller: headlines, decks), few on a
# page, are read at each of these shares, and the reading the recogniser is surest of
# (its score) is kept. Which of two near forms a model takes can turn on a pixel: by
# its CTC output PP-OCRv6 weighs 淥 against 渌 at 0.3-0.6 each in every scan of seed
# 003, and which wins changes with the share, the page's layout and the resolution.
DISPLAY_SHARES = (0.5, 0.45, 0.4, 0.35)
# The framings (body lines', display lines') each engine's recogniser is read with: both
# measured for PP-OCRv6; PP-OCRv4 reads the detector's box best as it is (framed at 0.5
# it fell from 99.47 to 97.22 % on seeds 003 and 004, bench/ocr.py --engine rapidocr).
FRAMINGS: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {
    "ppocrv6": ((LINE_SHARE,), DISPLAY_SHARES),
    "rapidocr": ((1.0,), (1.0,)),
}
# A line is padded to a multiple of this many of the recogniser's input pixels (it scales
# lines to 48 px high): ONNX Runtime prepares each new input shape anew, slowly.
WIDTH_STEP = 160
PADDED_FROM = 4

# Boxes found on the reduced page are widened by this share of their height above and
# below, and by half a character and more at either end.
MARGIN = 0.1
SIDE_MARGIN = 0.6
# Lines of this many characters or more measure the page's type sizes, and sizes
# within this share of each other are one (see _snap_to_long_lines).
LONG_LINE = 8
INK_TOLERANCE = 0.02
ROW_TOLERANCE = 0.25
# A found "line" of a character or two whose ink box is darker than this is a picture:
# lines of type ink at most 0.28 of theirs on a seed page (■据新华社 more, for its ■),
# the bars of docgen's scan 0.41–0.49.
SOLID_LINE = 0.35
# Pixels darker than this are ink.
INK = 128

_RAPID: dict[str, Any] = {}
# Why an engine could not be loaded, kept for the process (one scan's reader process):
# not tried again for every image, nor warned about again.
_FAILED: dict[str, ReadError] = {}


def _rapid(name: str = "ppocrv6") -> Any:
    """A RapidOCR engine (``ppocrv6`` or ``rapidocr``, see ENGINES), loaded once per
    process; its models ship in its wheel, and nothing is downloaded."""
    if name in _FAILED:
        raise _FAILED[name]
    if name not in _RAPID:
        # The reader process's memory limit counts address space. One thread for OpenBLAS
        # (loaded with OpenCV): a buffer for each of its threads took 180 MB; one malloc
        # heap for all threads: ONNX Runtime's and OpenCV's reserved 64 MB each (320 MB).
        os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
        _one_malloc_heap()
        label = LABELS[name]
        try:
            engine = _load_v6() if name == "ppocrv6" else _load_v4()
        except Exception as exc:  # ImportError; MemoryError ("failed to map segment");
            # ReadError (a model missing from the wheel); ONNX Runtime's own kinds
            failed = _FAILED[name] = ReadError(f"OCR engine {label} cannot be loaded: {exc}")
            raise failed from None
        _RAPID[name] = engine
    return _RAPID[name]


def _load_v4() -> Any:
    from rapidocr_onnxruntime import RapidOCR

    # One thread: the reader process shares the machine with the scan that started it.
    # The detector enlarges a strip shorter than its limit_side_len (736) to it.
    return RapidOCR(intra_op_num_threads=1, inter_op_num_threads=1, det_limit_side_len=STRIP // 2)


def _load_v6() -> Any:
    """RapidOCR 3 with the PP-OCRv6 models of its wheel, named by path: given none, it
    would resolve (and download) models by its own table."""
    import rapidocr

    models = Path(rapidocr.__file__ or ".").parent / "models"
    det, rec = (models / name for name in V6_MODELS)
    for model in (det, rec):
        if not model.is_file():
            raise ReadError(f"its wheel has no {model.name} (in {models})")
    engine = rapidocr.RapidOCR(
        params={
            "Global.use_cls": False,
            "Global.log_level": "error",
            "Det.model_path": str(det),
            "Rec.model_path": str(rec),
            "Det.limit_side_len": STRIP // 2,
            "EngineConfig.onnxruntime.intra_op_num_threads": 1,
            "EngineConfig.onnxruntime.inter_op_num_threads": 1,
        }
    )
    return _AsV4(engine)


class _AsV4:
    """RapidOCR 3 answering as RapidOCR 1.4 does: ``(boxes, _)`` when only detecting,
    ``([(text, score)], _)`` when only recognising, ``(None, _)`` when nothing is found."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine

    def __call__(
        self, pixels: Any, *, use_cls: bool = False, use_det: bool = True, use_rec: bool = True
    ) -> tuple[Any, None]:
        out = self.engine(pixels, use_det=use_det, use_cls=use_cls, use_rec=use_rec)
        if not use_rec:
            boxes = getattr(out, "boxes", None)
            return (None if boxes is None or not len(boxes) else list(boxes)), None
        texts = getattr(out, "txts", None)
        return (list(zip(texts, out.scores, strict=True)) if texts else None), None


def _one_malloc_heap() -> None:
    """glibc's mallopt(M_ARENA_MAX, 1), where there is glibc (see :func:`_rapid`)."""
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError, AttributeError):  # another C library: no matter
        ctypes.CDLL("libc.so.6").mallopt(-8, 1)  # M_ARENA_MAX is -8


def _rapid_lines(
    gray: Any, dpi: float, page: int, timeout: float, name: str = "ppocrv6"
) -> list[TextLine]:
    """The lines RapidOCR finds on a page: lines found on a reduced copy, each read alone
    from the page at full size."""
    import numpy as np

    engine = _rapid(name)
    deadline = time.monotonic() + timeout
    pixels = np.asarray(gray)
    scale = min(1.0, DET_PIXELS / (10.0 * dpi / 72))
    small = gray.resize((max(1, round(gray.width * scale)), max(1, round(gray.height * scale))), 3)
    boxes = _detect(engine, np.asarray(small), page, deadline)
    points = 72.0 / dpi
    crops = []
    for x0, y0, x1, y1 in boxes:
        # A margin around the box: found on the reduced page, it may clip a stroke, and
        # it leaves out punctuation at a line's ends (。 after the last character, “
        # before the first). At the ends, a quarter of the box's width at most: white
        # beside one character makes the recogniser unsure (兴 at 0.52 with half a
        # character each side).
        margin = MARGIN * (y1 - y0) / scale
        side = min(SIDE_MARGIN * (y1 - y0), 0.25 * (x1 - x0)) / scale
        left, top = max(0, int(x0 / scale - side)), max(0, int(y0 / scale - margin))
        right = min(gray.width, int(x1 / scale + side) + 1)
        bottom = min(gray.height, int(y1 / scale + margin) + 1)
        crop = pixels[top:bottom, left:right]
        ink = _ink(crop)
        if ink is not None:
            found = (x0 / scale - left, x1 / scale - left)  # the box, in the crop
            crops.append((crop, left, top, ink[3] - ink[1], found))
    # A gutter is judged by the body type's size (most lines' ink height), not a box's
    # own height: a box joining two lines of two columns a line apart is two lines high.
    body = statistics.median(c[3] for c in crops) if crops else 0.0
    out = []
    for crop, left, top, _, found in crops:
        if time.monotonic() > deadline:
            raise ReadError(f"OCR of page {page + 1} took longer than {timeout:g} s")
        for a, b in _pieces(crop, body, found):
            line = _read_piece(
                engine, crop[:, a:b], left + a, top, points, page, body, FRAMINGS[name]
            )
            if line is not None:
                out.append(line)
    if out:
        usual = statistics.median(ln.size for ln in out)
        out = [ln for ln in out if ln.size >= SPECK * usual]
    return _snap_to_long_lines(_without_overlapped(out))


def _snap_to_long_lines(lines: list[TextLine]) -> list[TextLine]:
    """Sizes measured from ink are exact to a few hundredths on a long line, and less so on
    a short one (its first and last characters' side bearings): the sizes of long lines,
    within INK_TOLERANCE of each other, are the page's sizes, and every line takes the
    nearest one within SIZE_TOLERANCE of its own."""
    import dataclasses

    long = sorted(ln.size for ln in lines for _ in ln.text if len(ln.text) >= LONG_LINE)
    groups: list[list[float]] = []
    for size in long:
        if groups and size <= groups[-1][-1] * (1 + INK_TOLERANCE):
            groups[-1].append(size)
        else:
            groups.append([size])
    sizes = [round(statistics.median(g), 1) for g in groups]
    out = []
    for ln in lines:
        near = min(sizes, key=lambda size: abs(size - ln.size), default=ln.size)
        if abs(near - ln.size) <= SIZE_TOLERANCE * near:
            ln = dataclasses.replace(ln, size=near)
        out.append(ln)
    return [_size_of_row_above(ln, out) for ln in out]


def _size_of_row_above(line: TextLine, lines: list[TextLine]) -> TextLine:
    """A short line set close under a long one at its left edge (a paragraph's or a
    headline's last row: 通、 or the 兴 of 乡村振兴) is in that line's type when its own
    measure is within ROW_TOLERANCE: a character or two measure their ink, not their type
    (兴 inks nine tenths of its height)."""
    import dataclasses

    if len(line.text.strip()) >= LONG_LINE:
        return line
    above = [
        ln
        for ln in lines
        if len(ln.text.strip()) >= LONG_LINE
        and ln.bottom <= line.top < ln.bottom + ln.size
        and abs(ln.x0 - line.x0) <= ln.size
    ]
    if not above:
        return line
    row = max(above, key=lambda ln: ln.bottom)
    if abs(row.size - line.size) > ROW_TOLERANCE * row.size:
        return line
    return dataclasses.replace(line, size=row.size)


def _detect(engine: Any, pixels: Any, page: int, deadline: float) -> list[tuple[int, ...]]:
    """Text lines' boxes (left, top, right, bottom) found on a page, strip by strip: a
    box belongs to the strip its middle is in, away from the overlap's far half, give or
    take a quarter of the overlap; one found again by the next strip is left out."""
    height = pixels.shape[0]
    step = STRIP - OVERLAP
    out: list[tuple[int, ...]] = []
    start = 0
    # The same line found by two strips is not boxed alike: its middle in one may fall
    # past the first's end and before the second's start (a line of seed 003 was lost so).
    slack = OVERLAP / 4
    while True:
        if time.monotonic() > deadline:
            raise ReadError(f"OCR of page {page + 1} took longer than the time allowed")
        last = start + STRIP >= height
        # The last strip is a whole one, reaching up into the one before: a sliver of
        # page would be enlarged by the detector to its minimum side.
        top = max(0, height - STRIP) if last else start
        found = _run(engine, pixels[top : top + STRIP], page, use_rec=False)
        low = start + OVERLAP / 2 - slack if start else float("-inf")
        high = float("inf") if last else start + step + OVERLAP / 2 + slack
        earlier = len(out)
        for quad in found or []:
            xs, ys = [p[0] for p in quad], [p[1] + top for p in quad]
            box = (int(min(xs)), int(min(ys)), int(max(xs)) + 1, int(max(ys)) + 1)
            if low <= (box[1] + box[3]) / 2 < high and not any(
                _same_box(box, other) for other in out[:earlier]
            ):
                out.append(box)
        if last:
            return out
        start += step


def _same_box(a: tuple[int, ...], b: tuple[int, ...]) -> bool:
    """Two boxes (left, top, right, bottom) of one line: they overlap by more than half
    of the smaller's height and of its width."""
    width = min(a[2], b[2]) - max(a[0], b[0])
    height = min(a[3], b[3]) - max(a[1], b[1])
    return width > 0.5 * min(a[2] - a[0], b[2] - b[0]) and height > 0.5 * min(
        a[3] - a[1], b[3] - b[1]
    )


def _without_overlapped(lines: list[TextLine]) -> list[TextLine]:
    """Lines less those mostly inside a longer one: the detector may find a line's opening
    quote again on its own, and its widened box then reads the next character too."""

    def area(ln: TextLine) -> float:
        return max(0.0, ln.x1 - ln.x0) * max(0.0, ln.bottom - ln.top)

    def inside(small: TextLine, big: TextLine) -> bool:
        width = min(small.x1, big.x1) - max(small.x0, big.x0)
        height = min(small.bottom, big.bottom) - max(small.top, big.top)
        return width > 0 and height > 0 and width * height >= NESTED * area(small)

    return [
        ln
        for ln in lines
        if not any(o is not ln and len(o.text) > len(ln.text) and inside(ln, o) for o in lines)
    ]


def _pieces(
    crop: Any, body: float, found: tuple[float, float] = (0.0, float("inf"))
) -> list[tuple[int, int]]:
    """A found line cut where white wider than SPLIT_GAP characters runs through it (the
    detector may join a headline row to the body line beside it across a gutter, or
    two columns' lines a line apart); characters are measured by the line's ink height,
    at most 1.5 body lines' height. Ink beyond such white in the margin the box was
    widened by (``found`` is the box, in the crop) is a neighbour's character."""
    import numpy as np

    ink = _ink(crop)
    if ink is None:
        return []
    gap = SPLIT_GAP * min(ink[3] - ink[1], 1.5 * body or float("inf"))
    cols = np.flatnonzero((crop < INK).any(axis=0))
    out, start = [], int(cols[0])
    for before, after in itertools.pairwise(cols.tolist()):
        if after - before > gap:
            out.append((start, before + 1))
            start = after
    out.append((start, int(cols[-1]) + 1))
    first, last = out[0], out[-1]
    kept = [p for p in out if found[0] <= (p[0] + p[1]) / 2 <= found[1]] or out
    # Each piece with a margin of white; the line's first and last keep the box's own.
    return [
        (0 if p is first else max(0, p[0] - 2), crop.shape[1] if p is last else p[1] + 2)
        for p in kept
    ]


def _read_piece(
    engine: Any,
    crop: Any,
    left: int,
    top: int,
    points: float,
    page: int,
    body: float = 0.0,
    framings: tuple[tuple[float, ...], tuple[float, ...]] = FRAMINGS["ppocrv6"],
) -> TextLine | None:
    """One piece of a found line, read: its box is its ink, as a PDF's glyphs' boxes (and
    Tesseract's words) are; its size follows from its width and its characters. A piece
    whose ink is REREAD times ``body`` (the body type's ink height) or taller is display
    type, read at each of the display framings of ``framings`` (see FRAMINGS)."""
    ink = _ink(crop)
    if ink is None:
        return None
    ix0, iy0, ix1, iy1 = ink
    display = bool(body) and iy1 - iy0 >= REREAD * body
    text = _recognise_line(engine, crop, page, framings[1] if display else framings[0])
    if not text:
        return None
    if len(text) <= 2 and (crop[iy0:iy1, ix0:ix1] < INK).mean() > SOLID_LINE:
        return None  # bars of a picture read as "1": no character or two are so dark
    em = _em(text, ix1 - ix0, float(iy1 - iy0))
    if iy1 - iy0 > 1.5 * em:
        # Taller than its characters are wide: strokes of a line above or below came
        # into the box (one joining two columns' lines). The line is its main band of ink.
        iy0, iy1 = _main_band(crop[:, ix0:ix1], em)
    return TextLine(
        text=text,
        x0=(left + ix0) * points,
        top=(top + iy0) * points,
        x1=(left + ix1) * points,
        bottom=(top + iy1) * points,
        size=round(em * points, 1),
        page=page,
    )


def _main_band(crop: Any, em: float) -> tuple[int, int]:
    """The rows (top, bottom) of the band of ink with the most ink in a crop; bands are
    parted by white a tenth of a character high or more."""
    import numpy as np

    per_row = (crop < INK).sum(axis=1)
    rows = np.flatnonzero(per_row)
    bands: list[list[int]] = [[int(rows[0]), int(rows[0])]]
    for row in rows[1:].tolist():
        if row - bands[-1][1] > max(2.0, 0.1 * em):
            bands.append([row, row])
        else:
            bands[-1][1] = row
    top, bottom = max(bands, key=lambda b: int(per_row[b[0] : b[1] + 1].sum()))
    return top, bottom + 1


def _ink(crop: Any) -> tuple[int, int, int, int] | None:
    """The box of the dark pixels in a crop (left, top, right, bottom), or None."""
    import numpy as np

    dark = crop < INK
    cols, rows = np.flatnonzero(dark.any(axis=0)), np.flatnonzero(dark.any(axis=1))
    if not len(cols):
        return None
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1


def _run(engine: Any, pixels: Any, page: int, **steps: bool) -> Any:
    """What RapidOCR finds (angle classification is not used: pages are upright)."""
    try:
        found, _ = engine(pixels, use_cls=False, **steps)
    except Exception as exc:  # ONNX Runtime raises its own kinds
        if "bad_alloc" in str(exc):  # out of the reader process's memory
            raise MemoryError(str(exc)) from None
        raise ReadError(f"OCR failed on page {page + 1}: {type(exc).__name__}: {exc}") from None
    return found


def _recognise_line(
    engine: Any, crop: Any, page: int, shares: tuple[float, ...] = (LINE_SHARE,)
) -> str:
    """One line's text, read alone (framed in white to each of ``shares``, and padded with
    white to a common width): the reading with the best score."""
    import numpy as np

    if crop.shape[0] < 4 or crop.shape[1] < 4:
        return ""
    best: tuple[str, float] | None = None
    for share in shares:
        framed = _framed(crop, share)
        height, width = framed.shape
        step = height * WIDTH_STEP / 48
        if width >= PADDED_FROM * step:
            # Short lines are not padded: white beside one character is read as another.
            padded = int(-(-width // step) * step)
            framed = np.pad(framed, ((0, 0), (0, max(0, padded - width))), constant_values=255)
        found = _run(engine, framed, page, use_det=False)
        if found and (best is None or float(found[0][1]) > best[1]):
            best = (str(found[0][0]), float(found[0][1]))
    if best is None or best[1] < MIN_SCORE:
        return ""
    return _DASHES.sub("—", best[0].strip())


def _framed(crop: Any, share: float = LINE_SHARE) -> Any:
    """A line's crop with white added above and below, alike, until its ink is ``share``
    of its height (a crop with more white already is kept as it is)."""
    import numpy as np

    ink = _ink(crop)
    if ink is None:
        return crop
    extra = round((ink[3] - ink[1]) / share) - crop.shape[0]
    if extra <= 0:
        return crop
    above = extra // 2
    return np.pad(crop, ((above, extra - above), (0, 0)), constant_values=255)


# The model reads a dash (——) in Chinese text as full-width hyphens (－－).
_DASHES = re.compile(r"(?<=[\u2e80-\uffff])－|－(?=[\u2e80-\uffff])")

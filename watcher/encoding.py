"""File bytes → text: which encoding a Chinese page is in, when nothing says so.

Chinese pages arrive as UTF-8, GBK/GB18030, UTF-16 or, rarely, Big5, often without any
label saying which. :func:`decode` tries the unambiguous answers first and a statistical
guess last, because detectors alone misread short GBK snippets (half of 10-character GBK
texts come out as Korean cp949). :func:`decode_html` first believes what a page's
``<meta charset>`` says, where that is safe.
"""

from __future__ import annotations

import codecs
import logging
import re

from watcher.errors import ReadError
from watcher.reading import EMPTY

logger = logging.getLogger(__name__)

BINARY_NUL = "binary file (contains NUL bytes)"
BINARY_CONTROL = "binary file (too many control bytes)"
UNDECODABLE = "cannot decode: not valid UTF-8, UTF-16 or GB18030"

# UTF-32 LE's BOM starts with UTF-16 LE's, so the longer marks must be tried first.
_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)

# Control bytes that never occur in text; tab, LF, CR and form feed (OCR page breaks) do.
_CONTROL_BYTES = bytes(b for b in range(32) if b not in b"\t\n\r\f") + b"\x7f"
_MAX_CONTROL_SHARE = 0.05

# A UTF-16 guess without a BOM must give almost only characters a Chinese page uses.
_MIN_UTF16_PLAUSIBLE = 0.95

# Below this share of common characters a GB18030 reading is suspected to be Big5.
_MIN_GB2312_SHARE = 0.7

# Used only after strict UTF-8 and GB18030 failed: the detector may pick among these alone.
_DETECTOR_ENCODINGS = ["big5", "cp950", "big5hkscs", "gb18030", "utf_16", "utf_32"]

_C0_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def decode(data: bytes) -> tuple[str, str]:
    """Decode file bytes to clean text; return ``(text, encoding_name)`` or raise ReadError.

    Order: byte order mark; strict UTF-8; UTF-16 without BOM when nearly every character
    it gives is one a Chinese page uses; strict GB18030 (never GB2312: pages labelled so
    hold GBK-only characters), or Big5 when that reading is clearly better; finally
    charset-normalizer, limited to Chinese encodings. NULs or many control bytes outside
    UTF-16/32 mean a binary file.
    """
    if not data:
        raise ReadError(EMPTY)
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return _finish(data.decode(encoding)), encoding
            except UnicodeDecodeError:
                raise ReadError(
                    f"cannot decode: starts with a {encoding} byte order mark "
                    f"but is not valid {encoding}"
                ) from None
    if b"\0" in data:
        # NULs are normal only in UTF-16 (ASCII characters have a zero byte); else binary.
        wide = _sniff_utf16(data)
        if wide is None:
            raise ReadError(BINARY_NUL)
        return _finish(wide[0]), wide[1]
    count = _controls(data)
    controls = count / len(data) > _MAX_CONTROL_SHARE
    if not controls:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            pass
        else:
            # In UTF-8 a control character is its own byte: none, nothing to drop.
            return _finish(text, controls=count > 0 or b"\f" in data), "utf-8"
    # UTF-16 of CJK text has no NUL bytes but many control bytes (U+4E09 is 09 4E), and
    # GB18030 would decode most of it, so it is recognised here, before both verdicts.
    wide = _sniff_utf16(data)
    if wide is not None:
        return _finish(wide[0]), wide[1]
    if controls:
        raise ReadError(BINARY_CONTROL)
    try:
        text = data.decode("gb18030")
    except UnicodeDecodeError:
        pass
    else:
        big5 = _big5_instead(text, data)
        if big5 is not None:
            return _finish(big5), "big5hkscs"
        return _finish(text), "gb18030"
    damaged = _damaged(data)
    if damaged is not None:
        return damaged
    guessed = _detect(data)
    if guessed is not None:
        return _finish(guessed[0]), guessed[1]
    raise ReadError(UNDECODABLE)


# A page is read despite a few bad bytes (a damaged download, one bad sector):
# losing a character or two beats losing the page. More damage than this means
# the encoding guess is wrong, and the file fails.
MAX_BAD_SHARE = 0.001


def _damaged(data: bytes) -> tuple[str, str] | None:
    """UTF-8 or GB18030 text with a few undecodable bytes, each shown as U+FFFD."""
    for encoding in ("utf-8", "gb18030"):
        text = data.decode(encoding, errors="replace")
        bad = text.count("\ufffd") - data.decode(encoding, errors="ignore").count("\ufffd")
        # Only real pages (1,000+ characters) get the benefit of the doubt.
        if len(text) >= 1000 and 0 < bad <= max(1, len(text) * MAX_BAD_SHARE):
            logger.warning("decoded as %s with %d undecodable byte(s) replaced", encoding, bad)
            return _finish(text), f"{encoding} ({bad} bad bytes replaced)"
    return None


def _finish(text: str, *, controls: bool = True) -> str:
    """Normalise newlines, drop a BOM and control characters (``controls=False``: the
    caller knows there are none); reject blank text."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").removeprefix("\ufeff")
    if controls:
        text = _C0_CONTROLS.sub("", text)
    if not text.strip():
        raise ReadError(EMPTY)
    return text


def _controls(data: bytes) -> int:
    """How many bytes are controls that no text file contains."""
    return len(data) - len(data.translate(None, _CONTROL_BYTES))


def _is_plausible(char: str) -> bool:
    """Whether a character is one a Chinese news page is made of.

    Hangul, Yi, kana, rare ideographs (extension A) and private-use characters are left
    out on purpose: they are what GBK or Big5 bytes turn into when misread as UTF-16 or
    as each other.
    """
    code = ord(char)
    return (
        0x20 <= code < 0x7F
        or char in "\n\r\t"
        or 0xA0 <= code <= 0xFF  # ·, ×, é in names
        or 0x2000 <= code <= 0x206F  # general punctuation: —, …, “”
        or 0x2100 <= code <= 0x27BF  # symbols: ℃, ①, →, ■, ★
        or 0x3000 <= code <= 0x303F  # CJK punctuation: 。、「」
        or 0x3200 <= code <= 0x33FF  # enclosed and squared CJK: ㈠, ㎡
        or 0x4E00 <= code <= 0x9FFF  # CJK unified ideographs
        or 0xFE30 <= code <= 0xFE4F  # vertical forms: ︰
        or 0xFF00 <= code <= 0xFFEF  # full-width forms: ，：（）
    )


def _plausible_share(text: str) -> float:
    return sum(map(_is_plausible, text)) / len(text) if text else 0.0


def _sniff_utf16(data: bytes) -> tuple[str, str] | None:
    """Return ``(text, codec)`` if the BOM-less data is clearly UTF-16, else None."""
    if len(data) % 2:
        return None
    best: tuple[int, float, str, str] | None = None
    for codec in ("utf-16-le", "utf-16-be"):
        try:
            text = data.decode(codec)
        except UnicodeDecodeError:
            continue
        share = _plausible_share(text)
        # Both byte orders can look plausible ("\0A" is "A" one way, the ideograph U+4100
        # the other); the reading with more common characters (GB2312, ASCII) is the text.
        score = (_gb2312_count(text), share, text, codec)
        if share >= _MIN_UTF16_PLAUSIBLE and (best is None or score[:2] > best[:2]):
            best = score
    if best is None:
        return None
    logger.debug("no BOM, but the data reads as %s (%.0f%% plausible)", best[3], best[1] * 100)
    return best[2], best[3]


def _big5_instead(gb_text: str, data: bytes) -> str | None:
    """Return the Big5 reading when a strict GB18030 reading looks like misread Big5.

    GB18030 accepts nearly every byte pair, so Big5 files decode "successfully" into
    rare ideographs, kana and private-use characters, while real GBK text is mostly
    common simplified characters (GB2312), even with the odd 淥 or 勠.
    """
    wide = [char for char in gb_text if not char.isascii()]
    if len(wide) < 2:
        return None
    # Punctuation counts as common whatever its code point (GBK's — is U+2014, GB2312's
    # U+2015); letters must be GB2312 hanzi, which is what misread Big5 rarely gives.
    common = sum(1 for char in wide if _is_plausible(char) and not char.isalpha())
    common += _gb2312_count(
        "".join(char for char in wide if _is_plausible(char) and char.isalpha())
    )
    if common / len(wide) >= _MIN_GB2312_SHARE:
        return None
    try:
        big5_text = data.decode("big5hkscs")
    except UnicodeDecodeError:
        return None
    if _plausible_share(big5_text) < _MIN_UTF16_PLAUSIBLE:
        return None
    logger.debug(
        "strict GB18030 gave %d of %d uncommon characters; Big5 reads cleanly",
        len(wide) - common,
        len(wide),
    )
    return big5_text


def _gb2312_count(text: str) -> int:
    """How many characters of ``text`` are in GB2312 (ASCII and common simplified hanzi)."""
    return len(text.encode("gb2312", "ignore").decode("gb2312"))


def _detect(data: bytes) -> tuple[str, str] | None:
    """Last resort: charset-normalizer, allowed to pick only among Chinese encodings."""
    # Imported here: it is slow to import and needed only for rare, damaged files.
    from charset_normalizer import from_bytes

    match = from_bytes(data, cp_isolation=_DETECTOR_ENCODINGS).best()
    if match is None:
        return None
    logger.debug("charset-normalizer guessed %s", match.encoding)
    return str(match), match.encoding


# --- HTML: the charset a page declares -------------------------------------------------

_DECLARED_CHARSET = re.compile(
    rb"""<meta[^>]*?charset\s*=\s*["']?\s*([a-z0-9_.:-]+)"""
    rb"""|<\?xml[^>]*?encoding\s*=\s*["']([a-z0-9_.:-]+)""",
    re.IGNORECASE,
)

# Pages labelled GB2312 routinely contain GBK-only characters (淥, 勠); GB18030 is the
# superset of all of them, as browsers (WHATWG Encoding) treat these labels as well.
_CHARSET_ALIASES = {
    "gb2312": "gb18030",
    "gb_2312": "gb18030",
    "gb_2312-80": "gb18030",
    "csgb2312": "gb18030",
    "euc-cn": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "cp936": "gb18030",
    "chinese": "gb18030",
    "big5": "big5hkscs",
    "big5-hkscs": "big5hkscs",
    "x-x-big5": "big5hkscs",
}


def _declared_codec(data: bytes) -> str | None:
    """The codec a ``<meta charset>`` or XML declaration in the first 2 KB names, if known."""
    found = _DECLARED_CHARSET.search(data[:2048])
    if found is None:
        return None
    label = (found.group(1) or found.group(2)).decode("ascii").lower()
    try:
        codec = codecs.lookup(_CHARSET_ALIASES.get(label, label)).name
    except LookupError:
        logger.debug("unknown charset label %r; detecting instead", label)
        return None
    # A page readable as ASCII is not UTF-16/32, whatever it claims (browsers agree).
    return None if codec.startswith(("utf-16", "utf-32")) else codec


def decode_html(data: bytes) -> tuple[str, str]:
    """Decode HTML: BOM first, then a declared charset that decodes strictly, else decode()."""
    if not data or b"\0" in data or any(data.startswith(bom) for bom, _ in _BOMS):
        return decode(data)
    codec = _declared_codec(data)
    if codec is None:
        return decode(data)
    # Single-byte charsets accept any bytes, so a mislabelled Chinese page would turn into
    # mojibake; for those the label only breaks a tie that decode() cannot settle.
    if _accepts_any_byte(codec):
        try:
            return decode(data)
        except ReadError as exc:
            if str(exc) != UNDECODABLE:
                raise
    if _controls(data) / len(data) > _MAX_CONTROL_SHARE:
        raise ReadError(BINARY_CONTROL)
    try:
        return _finish(data.decode(codec)), codec
    except UnicodeDecodeError:
        logger.debug("page says %s but is not valid %s; detecting instead", codec, codec)
        return decode(data)


def _accepts_any_byte(codec: str) -> bool:
    """Whether (nearly) every non-ASCII byte alone is a character: Latin-1, cp1252, KOI8…"""
    return sum(_decodes(bytes([byte]), codec) for byte in range(0x80, 0x100)) > 100


def _decodes(data: bytes, codec: str) -> bool:
    try:
        data.decode(codec)
    except UnicodeDecodeError:
        return False
    return True

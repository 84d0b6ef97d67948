"""watcher.encoding on its own: bytes → (text, codec), without a reader around it.

The seed pages in every encoding are read in tests/test_readers.py; these are the short,
exact cases at this module's edge: what each function returns and the messages it fails
with. Sample sentences are from seed 003 (湖南日报) and a Taiwanese weather notice.
"""

from __future__ import annotations

import codecs

import pytest

from watcher.encoding import (
    BINARY_CONTROL,
    BINARY_NUL,
    UNDECODABLE,
    decode,
    decode_html,
)
from watcher.errors import ReadError
from watcher.reading import EMPTY

# 淥 and 勠 are GBK-only: not in GB2312, which pages often claim.
RARE = "《水经注》记载，淥水出醴陵县东，流入湘江。全县上下勠力同心，共建美好家园。"
TRADITIONAL = "臺灣新聞報導：今天臺北市天氣晴朗。"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (RARE.encode("gb18030"), (RARE, "gb18030")),
        (RARE.encode("gbk"), (RARE, "gb18030")),
        (RARE.encode("utf-8"), (RARE, "utf-8")),
        (codecs.BOM_UTF8 + RARE.encode("utf-8"), (RARE, "utf-8-sig")),
        (RARE.encode("utf-16-le"), (RARE, "utf-16-le")),
        (codecs.BOM_UTF16_BE + RARE.encode("utf-16-be"), (RARE, "utf-16")),
        (TRADITIONAL.encode("big5"), (TRADITIONAL, "big5hkscs")),
        # A four-byte GB18030 sequence (U+00A0, absent from GBK) and Windows line ends.
        ("标题\xa0一\r\n正文".encode("gb18030"), ("标题\xa0一\n正文", "gb18030")),
    ],
    ids=["gb18030", "gbk", "utf-8", "utf-8-bom", "utf-16-le", "utf-16-bom", "big5", "4-byte"],
)
def test_decode(data: bytes, expected: tuple[str, str]) -> None:
    assert decode(data) == expected


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", EMPTY),
        (" \n\t".encode("gb18030"), EMPTY),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", BINARY_NUL),
        (bytes(range(1, 9)) * 20, BINARY_CONTROL),
        ("中文".encode("gb18030") + b"\x81\x30\x81", UNDECODABLE),
    ],
    ids=["empty", "blank", "png", "controls", "cut-short"],
)
def test_decode_fails_with(data: bytes, message: str) -> None:
    with pytest.raises(ReadError) as err:
        decode(data)
    assert str(err.value) == message


def test_the_messages() -> None:
    assert (EMPTY, BINARY_NUL, BINARY_CONTROL, UNDECODABLE) == (
        "empty file",
        "binary file (contains NUL bytes)",
        "binary file (too many control bytes)",
        "cannot decode: not valid UTF-8, UTF-16 or GB18030",
    )


@pytest.mark.parametrize(
    ("page", "codec", "expected"),
    [
        # GB2312 and GBK labels mean GB18030, as browsers read them.
        (f'<meta charset="gb2312"><p>{RARE}</p>', "gb18030", "gb18030"),
        (f'<?xml version="1.0" encoding="GBK"?><p>{RARE}</p>', "gbk", "gb18030"),
        # A label the bytes contradict, or a single-byte one, loses to detection.
        (f'<meta charset="utf-8"><p>{RARE}</p>', "gbk", "gb18030"),
        (f'<meta charset="iso-8859-1"><p>{RARE}</p>', "gbk", "gb18030"),
        ('<meta charset="iso-8859-1"><p>Café crème</p>', "latin-1", "iso8859-1"),
        # A page readable as ASCII is not UTF-16; an unknown label is ignored.
        ('<meta charset="utf-16"><p>plain</p>', "ascii", "utf-8"),
        ('<meta charset="klingon"><p>中文</p>', "utf-8", "utf-8"),
        (f'<meta charset="big5"><p>{TRADITIONAL}</p>', "big5", "big5hkscs"),
    ],
)
def test_decode_html_believes_a_declared_charset_where_safe(
    page: str, codec: str, expected: str
) -> None:
    assert decode_html(page.encode(codec)) == (page, expected)

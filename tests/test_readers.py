"""Tests for watcher.readers and the readers behind it (watcher.encoding, watcher.htmltext):
decoding real pages in every encoding they arrive in, the registry, Markdown and HTML.

Samples are the seed newspaper pages in ``seeds/`` (UTF-8 text of real Chinese papers),
re-encoded here; the Markdown sample imitates the 《新闻联播》 transcripts in
``../shared/corpus/xwlb_cctv_news`` (comment markers and "查看原文" links included).
"""

from __future__ import annotations

import ast
import codecs
import datetime as dt
import importlib.util
import logging
import random
import sys
from pathlib import Path

import pytest

from watcher import webpage
from watcher.encoding import decode
from watcher.errors import ReadError
from watcher.models import Page, Text
from watcher.readers import (
    HTML_IN_PROCESS,
    READERS,
    Reader,
    formats,
    named,
    needs_reason,
    read_bytes,
    read_docx,
    read_html,
    read_image,
    read_markdown,
    read_pdf,
    read_plain,
    reader_for,
    unavailable,
)
from watcher.reading import Package

ROOT = Path(__file__).resolve().parent.parent
SEEDS = sorted((ROOT / "seeds").glob("*.txt"))
CORPUS = ROOT.parent / "shared" / "corpus"

RARE = "《水经注》记载，淥水出醴陵县东，流入湘江。全县上下勠力同心，共建美好家园。"
TRADITIONAL = "臺灣新聞報導：今天臺北市天氣晴朗，氣溫攝氏二十八度。市政府表示，將繼續推動交通建設。"


def seed_text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def gbk_safe(text: str) -> str:
    """The seed with its no-break spaces made plain: GBK has no U+00A0 (GB18030 has)."""
    return text.replace("\xa0", " ")


def message(excinfo: pytest.ExceptionInfo[ReadError]) -> str:
    return str(excinfo.value)


def test_seeds_are_present() -> None:
    assert len(SEEDS) == 5


# --- decode: every encoding a seed page may arrive in -----------------------------------


@pytest.mark.parametrize("seed", SEEDS, ids=lambda p: p.stem)
class TestSeedEncodings:
    def test_utf8(self, seed: Path) -> None:
        assert decode(seed.read_bytes()) == (seed_text(seed), "utf-8")

    def test_gbk_twin_is_identical(self, seed: Path) -> None:
        text = gbk_safe(seed_text(seed))
        utf8_twin, _ = decode(text.encode("utf-8"))
        assert decode(text.encode("gbk")) == (utf8_twin, "gb18030")

    def test_gb18030(self, seed: Path) -> None:
        text = seed_text(seed)
        assert decode(text.encode("gb18030")) == (text, "gb18030")

    def test_utf8_with_bom(self, seed: Path) -> None:
        text = seed_text(seed)
        assert decode(codecs.BOM_UTF8 + text.encode("utf-8")) == (text, "utf-8-sig")

    @pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
    def test_utf16_with_bom(self, seed: Path, codec: str) -> None:
        text = seed_text(seed)
        data = "\ufeff".encode(codec) + text.encode(codec)
        assert decode(data) == (text, "utf-16")

    @pytest.mark.parametrize("codec", ["utf-32-le", "utf-32-be"])
    def test_utf32_with_bom(self, seed: Path, codec: str) -> None:
        text = seed_text(seed)
        data = "\ufeff".encode(codec) + text.encode(codec)
        assert decode(data) == (text, "utf-32")

    @pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
    def test_utf16_without_bom(self, seed: Path, codec: str) -> None:
        text = seed_text(seed)
        assert decode(text.encode(codec)) == (text, codec)

    @pytest.mark.parametrize("newline", ["\r\n", "\r"])
    @pytest.mark.parametrize("codec", ["utf-8", "gbk"])
    def test_old_line_endings_become_newlines(self, seed: Path, newline: str, codec: str) -> None:
        text = gbk_safe(seed_text(seed))
        decoded, _ = decode(text.replace("\n", newline).encode(codec))
        assert decoded == text

    def test_ten_character_gbk_snippets(self, seed: Path) -> None:
        # Statistical detectors call half of such snippets Korean; every one must come back.
        text = gbk_safe(seed_text(seed))
        snippets = [text[i : i + 10] for i in range(0, len(text) - 10, 10)]
        snippets = [s for s in snippets if s.strip() and not s.isascii()]
        assert len(snippets) > 200
        wrong = [s for s in snippets if decode(s.encode("gbk")) != (s, "gb18030")]
        assert wrong == []

    @pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
    def test_ten_character_utf16_snippets_without_bom(self, seed: Path, codec: str) -> None:
        text = seed_text(seed)
        snippets = [text[i : i + 10] for i in range(0, len(text) - 10, 10)]
        snippets = [s for s in snippets if s.strip() and not s.isascii()]
        wrong = [s for s in snippets if decode(s.encode(codec)) != (s, codec)]
        assert wrong == []


@pytest.mark.parametrize("codec", ["gb18030", "gbk"])
def test_characters_outside_gb2312_survive(codec: str) -> None:
    # Real pages contain 淥 and 勠, which GB2312 lacks; decoding must never use GB2312.
    assert decode(RARE.encode(codec)) == (RARE, "gb18030")


def test_gb18030_four_byte_characters() -> None:
    text = "欧元符号€与韩文한글、藏文བོད，都在GB18030中。"
    assert decode(text.encode("gb18030")) == (text, "gb18030")


@pytest.mark.parametrize("text", [TRADITIONAL, TRADITIONAL[:10], "繁體中文"])
def test_big5_is_not_read_as_gbk(text: str) -> None:
    # GB18030 decodes Big5 bytes without error, into rare characters and kana.
    assert decode(text.encode("big5")) == (text, "big5hkscs")


def test_traditional_text_in_gbk_stays_gbk() -> None:
    assert decode(TRADITIONAL.encode("gbk")) == (TRADITIONAL, "gb18030")


def test_control_characters_are_dropped() -> None:
    body = "正文第一段。\n" * 30
    data = ("标题\x07\x1b[0m\x0c\n\t" + body).encode("utf-8")
    assert decode(data) == ("标题[0m\n\t" + body, "utf-8")


def test_gb18030_byte_order_mark_is_dropped() -> None:
    # GB18030 spells U+FEFF as 84 31 95 33; no codec strips it, so decode() must.
    assert decode("\ufeff标题\n正文".encode("gb18030")) == ("标题\n正文", "gb18030")


# --- decode: errors ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b" \n\t\r\n  ",
        codecs.BOM_UTF8,
        codecs.BOM_UTF8 + b"\r\n",
        " \n ".encode("utf-16"),
        "\u3000\u3000\n".encode("gbk"),
        b"\x07" + b" \n" * 20,
    ],
    ids=["zero-bytes", "whitespace", "bom-only", "bom-newline", "utf16", "ideographic", "bell"],
)
def test_empty(data: bytes) -> None:
    with pytest.raises(ReadError) as excinfo:
        decode(data)
    assert message(excinfo) == "empty file"


def test_png_is_binary() -> None:
    rng = random.Random(20240617)
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(rng.randrange(256) for _ in range(4000))
    with pytest.raises(ReadError) as excinfo:
        decode(png)
    assert message(excinfo) == "binary file (contains NUL bytes)"


def test_text_with_a_nul_byte_is_binary() -> None:
    data = gbk_safe(seed_text(SEEDS[0])).encode("gbk") + b"\x00"
    with pytest.raises(ReadError) as excinfo:
        decode(data)
    assert message(excinfo) == "binary file (contains NUL bytes)"


def test_control_bytes_are_binary() -> None:
    data = bytes(range(1, 32)) * 20 + "中文".encode("gbk")
    with pytest.raises(ReadError) as excinfo:
        decode(data)
    assert message(excinfo) == "binary file (too many control bytes)"


@pytest.mark.parametrize("extra", [b"", b"x"], ids=["even", "odd"])
def test_gbk_with_one_damaged_byte_is_read_with_a_replacement(extra: bytes) -> None:
    data = bytearray(gbk_safe(seed_text(SEEDS[0])).encode("gbk") + extra)
    data[len(data) // 2] = 0x80  # not a character, nor a lead byte, in any Chinese encoding
    text, encoding = decode(bytes(data))
    # One byte lost: one replacement, or two where it was the trail byte of a pair.
    assert encoding in ("gb18030 (1 bad bytes replaced)", "gb18030 (2 bad bytes replaced)")
    assert 1 <= text.count("\ufffd") <= 2


def test_badly_damaged_gbk_is_undecodable() -> None:
    data = bytearray(gbk_safe(seed_text(SEEDS[0])).encode("gbk"))
    for n in range(100, len(data), 97):
        data[n] = 0x80  # about 1% of the bytes: not a damaged page but a wrong guess
    with pytest.raises(ReadError) as excinfo:
        decode(bytes(data))
    assert message(excinfo) == "cannot decode: not valid UTF-8, UTF-16 or GB18030"


def test_truncated_gb18030_is_undecodable() -> None:
    with pytest.raises(ReadError) as excinfo:
        decode("中文".encode("gb18030") + b"\x81\x30\x81")
    assert message(excinfo) == "cannot decode: not valid UTF-8, UTF-16 or GB18030"


def test_bom_with_invalid_data() -> None:
    with pytest.raises(ReadError) as excinfo:
        decode(codecs.BOM_UTF8 + "中文".encode("gbk"))
    assert message(excinfo) == (
        "cannot decode: starts with a utf-8-sig byte order mark but is not valid utf-8-sig"
    )


# --- registry ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "reader"),
    [
        ("page.txt", read_plain),
        ("PAGE.TXT", read_plain),
        ("a.md", read_markdown),
        ("a.markdown", read_markdown),
        ("a.html", read_html),
        ("a.HTM", read_html),
        ("a.xhtml", read_html),
        ("a.PDF", read_pdf),
        ("a.docx", read_docx),
    ],
)
def test_reader_for(name: str, reader: object) -> None:
    found = reader_for(Path("inbox") / name)
    assert found is not None and found.read is reader


@pytest.mark.parametrize("name", ["scan.gif", "page.doc", "README", ".md", "page.txt.bak"])
def test_reader_for_unknown_types(name: str) -> None:
    assert reader_for(Path(name)) is None


def test_registry_keys_are_lower_case_suffixes() -> None:
    suffixes = [suffix for reader in READERS for suffix in reader.suffixes]
    assert all(key.startswith(".") and key == key.lower() for key in suffixes)
    assert len(suffixes) == len(set(suffixes))


def test_the_registry_has_one_record_per_format() -> None:
    pdfminer = Package(module="pdfminer", name="pdfminer.six", extra="pdf", kind="PDF")
    docx = Package(module="docx", name="python-docx", extra="docx", kind="DOCX")
    tesseract = Package(module="pytesseract", name="pytesseract", extra="ocr", kind="image")
    assert list(READERS) == [
        Reader("text", (".txt",), read_plain),
        Reader("markdown", (".md", ".markdown"), read_markdown),
        Reader(
            "html", (".html", ".htm", ".xhtml"), read_html, isolate=True, in_process_up_to=524288
        ),
        Reader("pdf", (".pdf",), read_pdf, package=pdfminer, isolate=True),
        Reader("docx", (".docx",), read_docx, package=docx, isolate=True),
        Reader(
            "image",
            (".png", ".jpg", ".jpeg", ".tif", ".tiff"),
            read_image,
            package=tesseract,
            isolate=True,
        ),
    ]
    assert named("pdf") is READERS[3]
    with pytest.raises(KeyError):
        named("read_pdf")


@pytest.mark.parametrize(
    ("name", "size", "isolated"),
    [
        ("text", 10 << 20, False),
        ("markdown", 10 << 20, False),
        ("html", HTML_IN_PROCESS, False),
        ("html", HTML_IN_PROCESS + 1, True),
        ("pdf", 0, True),
        ("docx", 1, True),
    ],
)
def test_which_files_are_read_in_the_reader_process(name: str, size: int, isolated: bool) -> None:
    assert named(name).isolated(size) is isolated


def test_what_a_missing_package_is_reported_as() -> None:
    assert needs_reason(Path("a.pdf")) == (
        "reading PDF files needs the optional package pdfminer.six: pip install 'watcher[pdf]'"
    )
    assert needs_reason(Path("a.DOCX")) == (
        "reading DOCX files needs the optional package python-docx: pip install 'watcher[docx]'"
    )
    assert needs_reason(Path("a.png")) == (
        "reading image files needs the optional package pytesseract: pip install 'watcher[ocr]'"
    )
    assert needs_reason(Path("a.html")) is None and needs_reason(Path("a.gif")) is None


def test_formats_lists_every_format(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)
    monkeypatch.setattr(webpage, "available", lambda: False)
    assert formats() == [
        ".txt .md: yes",
        ".html .htm: built-in (pip install 'watcher[html]' for article extraction)",
        ".pdf: no, pip install 'watcher[pdf]'",
        ".docx: no, pip install 'watcher[docx]'",
        ".png .jpg .jpeg .tif .tiff: no, pip install 'watcher[ocr]'",
    ]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("scan.GIF", "unsupported file type '.gif'"),
        ("README", "unsupported file type (no suffix)"),
    ],
)
def test_read_bytes_unknown_type(name: str, expected: str) -> None:
    with pytest.raises(ReadError) as excinfo:
        read_bytes(Path(name), "正文".encode())
    assert message(excinfo) == expected


def test_read_bytes_empty() -> None:
    with pytest.raises(ReadError) as excinfo:
        read_bytes(Path("page.md"), b"")
    assert message(excinfo) == "empty file"


def test_missing_optional_dependency_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "docx" else real(name)
    )
    assert unavailable(Path("a.DOCX")) == (
        "reading DOCX files needs the optional package python-docx: pip install 'watcher[docx]'"
    )
    with pytest.raises(ReadError) as excinfo:
        read_bytes(Path("a.docx"), b"PK\x03\x04")
    assert message(excinfo) == unavailable(Path("a.docx"))
    assert unavailable(Path("a.pdf")) is None and unavailable(Path("a.txt")) is None


# --- plain text -------------------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS, ids=lambda p: p.stem)
def test_plain_seed_gbk(seed: Path) -> None:
    text = gbk_safe(seed_text(seed))
    assert read_bytes(seed, text.encode("gbk")) == Text(text, "gb18030", "plain")


def test_plain_text_is_untouched() -> None:
    text = "# 标题\r\n\r\n**■本报记者 张三**\r\n正文[链接](http://x)。<!-- 注释 -->\r\n"
    result = read_bytes(Path("page.txt"), text.encode("gbk"))
    assert result == Text(text.replace("\r\n", "\n"), "gb18030", "plain")


# --- markdown ---------------------------------------------------------------------------

MARKDOWN = """\
# 《新闻联播》（20220120）

### 习近平同白俄罗斯总统就中白建交30周年互致贺电

<!--repaste.body.begin-->

![](https://p1.img.cctvpic.com/photo.jpg)

**央视网消息**（新闻联播）：2022年1月20日，国家主席习近平同白俄罗斯总统__卢卡申科__互致贺电。
详见[央视网](https://news.cctv.com "央视网")报道 ![图](a.png)。

<!--repaste.body.end-->

<!--
多行注释
-->
[查看原文](https://tv.cctv.com/2022/01/20/VIDEg1OVug9ZvCpt8Gpm3YPt220120.shtml)

填空：姓名______
"""

MARKDOWN_TEXT = """\
# 《新闻联播》（20220120）

### 习近平同白俄罗斯总统就中白建交30周年互致贺电

央视网消息（新闻联播）：2022年1月20日，国家主席习近平同白俄罗斯总统卢卡申科互致贺电。
详见央视网报道 。

查看原文

填空：姓名______"""


@pytest.mark.parametrize("codec", ["utf-8", "gbk", "utf-16"])
def test_markdown(codec: str) -> None:
    result = read_bytes(Path("20220120.md"), MARKDOWN.encode(codec))
    assert result.text == MARKDOWN_TEXT
    assert result.markup == "markdown"


def test_markdown_with_nothing_visible() -> None:
    with pytest.raises(ReadError) as excinfo:
        read_bytes(Path("a.md"), b"<!--repaste.body.begin-->\n\n<!--repaste.body.end-->\n")
    assert message(excinfo) == "no visible text"


@pytest.mark.corpus
def test_corpus_markdown_has_no_markup_left() -> None:
    folder = CORPUS / "xwlb_cctv_news"
    if not folder.is_dir():
        pytest.skip("../shared/corpus is absent")
    for path in sorted(folder.glob("*.md"))[:20]:
        text = read_bytes(path, path.read_bytes()).text
        assert "<!--" not in text and "](" not in text and "**" not in text, path.name
        assert "\n### " in text, path.name


# --- HTML -------------------------------------------------------------------------------

NEWS_PAGE = """\
<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="gbk">
<title>长沙地铁6号线东延段开通运营_湖南日报网</title>
<style>body { font-family: "宋体"; } .title { font-size: 24px; }</style>
<script type="text/javascript">
  var _hmt = _hmt || [];
  document.write("<p>脚本里的文字</p>");
</script>
</head>
<body>
<nav class="topbar"><a href="/">首页</a> | <a href="/news/">新闻</a> | <a href="/p/">图片</a>
</nav>
<header id="header"><h1 class="logo"><a href="/">湖南日报网</a></h1></header>
<div class="breadcrumb">您的位置：<a href="/">首页</a> &gt; <a href="/news/">新闻</a>
  &gt; 湖南要闻</div>
<div class="main-content">
  <h1 class="title">长沙地铁6号线东延段
    开通运营</h1>
  <div class="info">2022-06-28 08:30&nbsp;&nbsp;来源：湖南日报&nbsp;&nbsp;作者：记者 张三</div>
  <div class="article-body">
    <p>&nbsp;&nbsp;&nbsp;&nbsp;6月28日上午，长沙地铁6号线东延段正式开通运营，
    线路全长约5.7公里，设车站3座。</p>
    <p>　　市民李女士说：&ldquo;以后去机场<b>方便多了</b>。&rdquo;<br>
    记者 李四 摄</p>
    <h2>换乘 &amp; 票价</h2>
    <p>起步票价2&#20803;，在黄花机场站可换乘磁浮快线，单程&lt;30分钟。</p>
  </div>
  <div class="share-bar">分享到：<a>微信</a><a>微博</a><a>QQ空间</a></div>
  <div id="related-news"><h3>相关新闻</h3><ul><li>长沙地铁5号线开通</li></ul></div>
  <form class="search"><input type="text" name="q"><button>搜索</button></form>
</div>
<aside class="sidebar"><h3>热点排行</h3><ol><li>新闻一</li><li>新闻二</li></ol></aside>
<footer><p>Copyright &copy; 湖南日报社 版权所有</p></footer>
<noscript>请启用JavaScript</noscript>
</body>
</html>
"""

NEWS_TEXT = """\
# 长沙地铁6号线东延段开通运营

2022-06-28 08:30 来源：湖南日报 作者：记者 张三

6月28日上午，长沙地铁6号线东延段正式开通运营，线路全长约5.7公里，设车站3座。

市民李女士说：“以后去机场方便多了。”
记者 李四 摄

## 换乘 & 票价

起步票价2元，在黄花机场站可换乘磁浮快线，单程<30分钟。"""


def test_html_news_page_in_gbk_without_trafilatura(monkeypatch: pytest.MonkeyPatch) -> None:
    # The built-in reading, used when watcher[html] is not installed.
    monkeypatch.setattr(webpage, "available", lambda: False)
    result = read_bytes(Path("news.html"), NEWS_PAGE.encode("gbk"))
    assert result == Text(NEWS_TEXT, "gb18030", "markdown")


def test_html_news_page_in_gbk_with_trafilatura() -> None:
    pytest.importorskip("trafilatura")
    result = read_bytes(Path("news.html"), NEWS_PAGE.encode("gbk"))
    # trafilatura drops the info line ("2022-06-28 08:30 来源：湖南日报 作者：…").
    assert result.text == "\n\n".join(
        block for block in NEWS_TEXT.split("\n\n") if not block.startswith("2022-06-28")
    )
    # The date from the info line; the source from its "来源：" (the page has no og:site_name).
    assert result.page == Page(newspaper="湖南日报", date=dt.date(2022, 6, 28))
    assert result.encoding == "gb18030"


def test_html_site_and_date_from_meta_tags(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(webpage, "available", lambda: False)
    page = (
        '<head><meta property="og:site_name" content=" 株洲日报 ">'
        '<meta name="publishdate" content="2021-06-04 07:00"></head>'
        "<body><h1>标题</h1><p>正文。</p></body>"
    )
    result = read_bytes(Path("a.html"), page.encode())
    assert result.page == Page(newspaper="株洲日报", date=dt.date(2021, 6, 4))


def test_html_with_two_articles_is_an_e_paper_page_split_like_text() -> None:
    # trafilatura would keep one story; two <article>s mean the page is read whole.
    page = (
        "<html><body><nav>首页 要闻</nav>"
        + "".join(
            f"<article><h1>第{n}篇标题</h1>"
            + f"<p>第{n}篇正文，足够长的一段话。</p>" * 8
            + "</article>"
            for n in (1, 2)
        )
        + "</body></html>"
    )
    text = read_bytes(Path("epaper.html"), page.encode()).text
    assert text.count("# 第") == 2 and "首页" not in text


@pytest.mark.parametrize(
    "declaration",
    [
        '<meta http-equiv="Content-Type" content="text/html; charset=gb2312" />',
        "<meta charset=GB_2312-80>",
        "<meta charset='x-gbk'>",
    ],
)
def test_html_gb2312_label_reads_gbk_characters(declaration: str) -> None:
    page = f"<html><head>{declaration}</head><body><p>{RARE}</p></body></html>"
    assert read_bytes(Path("a.htm"), page.encode("gb18030")) == Text(RARE, "gb18030", "markdown")


def test_html_wrong_label_falls_back_to_detection() -> None:
    page = f'<meta charset="utf-8"><p>{RARE}</p>'
    assert read_bytes(Path("a.html"), page.encode("gbk")).encoding == "gb18030"


def test_html_latin1_label_does_not_turn_utf8_into_mojibake() -> None:
    page = f'<meta charset="iso-8859-1"><p>{RARE}</p>'
    assert read_bytes(Path("a.html"), page.encode("utf-8")) == Text(RARE, "utf-8", "markdown")


def test_html_bom_beats_the_label() -> None:
    page = f'<meta charset="gbk"><p>{RARE}</p>'
    data = codecs.BOM_UTF8 + page.encode("utf-8")
    assert read_bytes(Path("a.html"), data) == Text(RARE, "utf-8-sig", "markdown")


def test_html_utf16() -> None:
    page = f"<p>{RARE}</p>"
    assert read_bytes(Path("a.html"), page.encode("utf-16")).text == RARE


def test_xhtml_xml_declaration() -> None:
    page = f'<?xml version="1.0" encoding="GBK"?><html><body><p>{RARE}</p></body></html>'
    assert read_bytes(Path("a.xhtml"), page.encode("gbk")).encoding == "gb18030"


def test_html_title_is_the_headline_only_without_h1() -> None:
    page = "<title>标题 &amp; 副题</title><p>第一段<br/>第二行</p><p>第二段</p>"
    assert read_bytes(Path("a.html"), page.encode()).text == (
        "# 标题 & 副题\n\n第一段\n第二行\n\n第二段"
    )


def test_html_entities() -> None:
    page = "<p>A&amp;B &lt;C&gt; &quot;D&quot; &#x4E2D;&#25991; &yen;5&nbsp;元 &mdash; 完</p>"
    assert read_bytes(Path("a.html"), page.encode()).text == 'A&B <C> "D" 中文 ¥5 元 — 完'


def test_html_structure() -> None:
    page = """<body><h3>小标题<br>第二行</h3>
    <ul><li>甲<li>乙</ul>
    <table><tr><td>姓名</td><td>得分</td></tr><tr><td>张三<td>98</table>
    <blockquote>引文</blockquote><pre>第一行
第二行</pre>
    <div hidden>隐藏</div><span style="display: none">不见</span>
    <div class="head-line">头条仍在</div><div class="ad-box">广告</div>
    <svg><title>图标</title></svg><h4>  </h4></body>"""
    assert read_bytes(Path("a.html"), page.encode()).text == (
        "### 小标题 第二行\n\n甲\n乙\n\n姓名 得分\n张三 98\n\n引文\n\n第一行\n第二行\n\n头条仍在"
    )


def test_html_article_header_is_kept() -> None:
    page = (
        "<header><h1>网站名</h1></header><article><header><h1>文章标题</h1>"
        "<p>记者 王五</p></header><p>正文。</p><footer>责任编辑：赵六</footer></article>"
    )
    assert read_bytes(Path("a.html"), page.encode()).text == "# 文章标题\n\n记者 王五\n\n正文。"


def test_html_page_wrapped_in_a_form_is_kept() -> None:
    # ASP.NET pages put the whole body in one <form>; a login form is still dropped.
    page = (
        '<body><form id="aspnetForm"><div class="has-sidebar"><h1>标题</h1><p>正文。</p></div>'
        '<div class="sidebar"><p>侧栏</p></div></form>'
        '<form class="login"><p>用户名</p><p>密码</p><p>登录</p></form></body>'
    )
    assert read_bytes(Path("a.aspx.html"), page.encode()).text == "# 标题\n\n正文。"


def test_html_with_nothing_visible() -> None:
    page = "<html><head><script>var a = 1;</script></head><body><nav>首页</nav></body></html>"
    with pytest.raises(ReadError) as excinfo:
        read_bytes(Path("a.html"), page.encode())
    assert message(excinfo) == "no visible text"


def test_html_binary() -> None:
    with pytest.raises(ReadError) as excinfo:
        read_bytes(Path("a.html"), b'<meta charset="gbk">\x00\x01\x02\x00' * 10)
    assert message(excinfo) == "binary file (contains NUL bytes)"


def test_a_page_with_a_few_damaged_bytes_is_still_read() -> None:
    from tests.conftest import seed_files

    text = seed_files()[3].read_text(encoding="utf-8")
    data = bytearray(text.encode("gb18030"))
    data[500:501] = b"\xff"  # one byte of a two-byte character destroyed
    decoded, encoding = decode(bytes(data))
    assert encoding.startswith("gb18030 (") and encoding.endswith("bad bytes replaced)")
    assert decoded.count("\ufffd") <= 2
    assert decoded[:100] == text[:100]
    assert decoded[-200:] == text[-200:]
    assert abs(len(decoded) - len(text)) <= 1


def test_a_trafilatura_that_cannot_be_imported_leaves_the_built_in_reader(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # Installed but broken (a missing dependency of its own): pages are still read.
    pytest.importorskip("trafilatura")
    for name in [m for m in sys.modules if m.split(".")[0] in ("trafilatura", "justext")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "justext", None)  # importing trafilatura now fails
    webpage._importable.cache_clear()
    # An earlier CLI test may have raised the root logger's level: ask for warnings here.
    caplog.set_level(logging.WARNING, logger="watcher.webpage")
    try:
        result = read_bytes(Path("news.html"), NEWS_PAGE.encode("gbk"))
        assert result == Text(NEWS_TEXT, "gb18030", "markdown")
        assert "trafilatura is installed but cannot be imported" in caplog.text
    finally:
        webpage._importable.cache_clear()


# --- the import graph -------------------------------------------------------------------

READER_MODULES = (
    "reading",
    "encoding",
    "htmltext",
    "webpage",
    "pdf",
    "layout",
    "word",
    "sandbox",
    "readers",
    "reader_process",
)


def _watcher_imports(module: str) -> set[str]:
    """The watcher modules ``module`` imports anywhere (in functions too)."""
    tree = ast.parse((ROOT / "watcher" / f"{module}.py").read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            names = [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        # "from watcher import pdf", "from watcher.pdf import x", "import watcher.pdf"
        found |= {name.split(".")[1] for name in names if name.startswith("watcher.")}
    return {name for name in found if (ROOT / "watcher" / f"{name}.py").exists()} - {module}


def test_the_readers_import_graph_has_no_cycles() -> None:
    graph: dict[str, set[str]] = {}
    todo = list(READER_MODULES)
    while todo:
        module = todo.pop()
        if module not in graph:
            graph[module] = _watcher_imports(module)
            todo += graph[module]

    def reachable(start: str) -> set[str]:
        seen: set[str] = set()
        todo = list(graph[start])
        while todo:
            module = todo.pop()
            if module not in seen:
                seen.add(module)
                todo += graph[module]
        return seen

    assert [module for module in READER_MODULES if module in reachable(module)] == []
    # The format readers and the sandbox sit below the registry, never beside it.
    assert {m for m in READER_MODULES if "readers" in graph[m]} == {"reader_process"}
    assert graph["reading"] == set()

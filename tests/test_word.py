"""Reading DOCX files: real documents built with python-docx, and every way one can fail.

The documents are made here, in memory. What python-docx cannot make (text boxes, content
controls, tracked changes) is added as XML of the shape Word writes, cut down to the
elements the reader looks at.
"""

from __future__ import annotations

import io
import re
import struct
import sys
import time
import tracemalloc
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import SEEDS
from watcher.errors import ReadError
from watcher.pages import split_page
from watcher.readers import read_bytes
from watcher.word import read_docx

docx = pytest.importorskip("docx")
from docx.document import Document  # noqa: E402
from docx.enum.style import WD_STYLE_TYPE  # noqa: E402
from docx.enum.text import WD_BREAK  # noqa: E402
from docx.oxml import parse_xml  # noqa: E402
from docx.shared import Pt  # noqa: E402

PATH = Path("page.docx")
NS = (
    'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" '
    'xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006" '
    'xmlns:wp="http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing" '
    'xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" '
    'xmlns:wps="http://schemas.microsoft.com/office/word/2010/wordprocessingShape" '
    'xmlns:v="urn:schemas-microsoft-com:vml"'
)
BODY = "本报讯 今年以来，我市持续推进城市更新，改造老旧小区128个，惠及居民3.2万户。"


def make_docx(build: Callable[[Document], None]) -> bytes:
    """A .docx file made by ``build(document)`` on a fresh python-docx document."""
    document = docx.Document()
    build(document)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def read(build: Callable[[Document], None]) -> str:
    return read_docx(make_docx(build), PATH).text


def add_xml(document: Document, xml: str) -> None:
    """Put a block-level element (paragraph, content control) at the end of the body."""
    document.element.body.sectPr.addprevious(parse_xml(xml.replace("NS", NS, 1)))


def rezip(data: bytes, *, drop: tuple[str, ...] = (), put: dict[str, bytes] | None = None):
    """The same package with some parts left out or replaced."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as old, zipfile.ZipFile(out, "w") as new:
        for info in old.infolist():
            if info.filename not in drop:
                body = (put or {}).get(info.filename, old.read(info.filename))
                new.writestr(info.filename, body, zipfile.ZIP_DEFLATED)
    return out.getvalue()


def read_error(data: bytes, **kwargs: float) -> str:
    with pytest.raises(ReadError) as caught:
        read_docx(data, PATH, **kwargs)
    return str(caught.value)


# --- headings ---------------------------------------------------------------------------


def test_heading_styles_become_hashes_and_a_subtitle_a_plain_line() -> None:
    def build(d: Document) -> None:
        d.add_heading("全市经济运行总体平稳", 0)  # style Title
        d.add_paragraph("一季度地区生产总值增长5.6%", style="Subtitle")
        for level in (1, 2, 3, 9):
            d.add_heading(f"第{level}级标题", level)
        d.add_paragraph(BODY)

    assert read(build) == (
        "# 全市经济运行总体平稳\n\n一季度地区生产总值增长5.6%\n\n# 第1级标题\n\n## 第2级标题"
        f"\n\n### 第3级标题\n\n###### 第9级标题\n\n{BODY}"
    )


def test_outline_levels_and_chinese_style_names_make_headings() -> None:
    def build(d: Document) -> None:
        add_xml(
            d,
            '<w:p NS><w:pPr><w:outlineLvl w:val="1"/></w:pPr><w:r><w:t>直设大纲</w:t></w:r></w:p>',
        )
        custom = d.styles.add_style("报道标题", WD_STYLE_TYPE.PARAGRAPH)
        custom.element.get_or_add_pPr().append(parse_xml(f'<w:outlineLvl {NS} w:val="0"/>'))
        d.add_paragraph("自定义样式", style=custom)
        wps = d.styles.add_style("标题 3", WD_STYLE_TYPE.PARAGRAPH)  # WPS: only a name
        wps.style_id = "3"
        d.add_paragraph("中文样式名", style=wps)
        derived = d.styles.add_style("文章主题", WD_STYLE_TYPE.PARAGRAPH)
        derived.base_style = d.styles["Heading 2"]
        d.add_paragraph("基于标题二", style=derived)
        add_xml(  # outline level 9 is body text, whatever the style says
            d,
            '<w:p NS><w:pPr><w:pStyle w:val="Heading1"/><w:outlineLvl w:val="9"/></w:pPr>'
            "<w:r><w:t>大纲正文级</w:t></w:r></w:p>",
        )

    assert read(build) == (
        "## 直设大纲\n\n# 自定义样式\n\n### 中文样式名\n\n## 基于标题二\n\n大纲正文级"
    )


def test_a_banner_headline_on_two_lines_is_one_heading() -> None:
    def build(d: Document) -> None:
        run = d.add_heading("加强两地交流合作", 1).runs[0]
        run.add_break()
        d.paragraphs[-1].add_run("携手互促联动发展")

    assert read(build) == "# 加强两地交流合作 携手互促联动发展"


def test_a_bold_big_short_paragraph_is_a_hand_made_headline() -> None:
    def big_bold(d: Document, text: str, *, bold: bool = True, size: float = 22) -> None:
        run = d.add_paragraph().add_run(text)
        run.bold, run.font.size = bold, Pt(size)

    def build(d: Document) -> None:
        big_bold(d, "手工排版的大标题")
        big_bold(d, "加粗但字号不够大", size=12)
        big_bold(d, "字号大但没有加粗", bold=False)
        big_bold(d, "这是一句完整的话。")
        big_bold(d, "很长" * 33)
        mixed = d.add_paragraph()
        mixed.add_run("半句加粗").bold = True
        mixed.add_run("半句不加粗").font.size = Pt(22)
        for _ in range(3):
            d.add_paragraph(BODY).runs[0].font.size = Pt(10.5)

    assert read(build).split("\n\n")[:6] == [
        "# 手工排版的大标题",
        "加粗但字号不够大",
        "字号大但没有加粗",
        "这是一句完整的话。",
        "很长" * 33,
        "半句加粗半句不加粗",
    ]


# --- paragraphs and breaks ----------------------------------------------------------------


def test_soft_breaks_page_breaks_tabs_and_empty_paragraphs() -> None:
    def build(d: Document) -> None:
        p = d.add_paragraph("第一行")
        p.add_run().add_break()
        p.add_run("第二行\t有制表符")
        p.add_run("分页前").add_break(WD_BREAK.PAGE)
        p.add_run("分页后")
        d.add_paragraph("")
        d.add_paragraph("   ")
        d.add_paragraph("末段")

    assert read(build) == "第一行\n第二行 有制表符分页前\n\n分页后\n\n末段"


def test_chinese_text_is_kept_exactly() -> None:
    text = "“十五五”开局之年，株洲市GDP增长6.1%——全省第一（数据来源：统计局）。　　二〇二六年"

    def build(d: Document) -> None:
        p = d.add_paragraph()
        for piece in re.findall(".{1,7}", text):  # many runs, as Word's revision ids make
            p.add_run(piece)

    assert read(build) == text


def test_deleted_hidden_and_field_code_text_is_left_out() -> None:
    def build(d: Document) -> None:
        add_xml(
            d,
            '<w:p NS><w:r><w:t xml:space="preserve">保留 </w:t></w:r>'
            '<w:del w:id="1" w:author="a"><w:r><w:delText>删除</w:delText></w:r></w:del>'
            '<w:ins w:id="2" w:author="a"><w:r><w:t>插入</w:t></w:r></w:ins>'
            "<w:r><w:rPr><w:vanish/></w:rPr><w:t>隐藏</w:t></w:r>"
            '<w:r><w:fldChar w:fldCharType="begin"/></w:r>'
            "<w:r><w:instrText>PAGE</w:instrText></w:r>"
            '<w:r><w:fldChar w:fldCharType="separate"/></w:r><w:r><w:t>3</w:t></w:r>'
            '<w:r><w:fldChar w:fldCharType="end"/></w:r>'
            "<w:r><w:ruby><w:rubyPr/><w:rt><w:r><w:t>lǜ</w:t></w:r></w:rt>"
            "<w:rubyBase><w:r><w:t>绿</w:t></w:r></w:rubyBase></w:ruby></w:r></w:p>",
        )

    assert read(build) == "保留 插入3绿"


def test_headers_and_footers_are_not_read() -> None:
    def build(d: Document) -> None:
        d.sections[0].header.paragraphs[0].text = "衡阳日报 2021年10月29日"
        d.sections[0].footer.paragraphs[0].text = "第 1 页"
        d.add_paragraph(BODY)

    assert read(build) == BODY


# --- tables, content controls, text boxes ----------------------------------------------------


def test_table_rows_are_lines_with_merged_cells_once_and_nested_tables_flattened() -> None:
    def build(d: Document) -> None:
        d.add_paragraph("表前")
        table = d.add_table(rows=3, cols=3)
        for (row, col), text in {
            (0, 0): "序号  单位",
            (0, 2): "整改\n情况",
            (1, 0): "1",
            (1, 1): "市住建局",
            (1, 2): "已完成",
            (2, 0): "2",
            (2, 1): "市应急局",
        }.items():
            table.cell(row, col).text = text
        table.cell(0, 0).merge(table.cell(0, 1))  # across: one cell with a span
        table.cell(1, 2).merge(table.cell(2, 2))  # down: the cell below continues it
        inner = table.cell(2, 1).add_table(rows=1, cols=2)
        inner.cell(0, 0).text = "嵌套"
        inner.cell(0, 1).text = "表格"
        d.add_paragraph("表后")

    assert read(build) == (
        "表前\n\n序号 单位 | 整改 情况\n1 | 市住建局 | 已完成\n2 | 市应急局 嵌套 表格\n\n表后"
    )


def test_a_one_cell_table_is_a_frame_read_as_text() -> None:
    def build(d: Document) -> None:
        cell = d.add_table(rows=1, cols=1).cell(0, 0)
        cell.paragraphs[0].text = "编者按"
        cell.add_paragraph(BODY)

    assert read(build) == f"编者按\n\n{BODY}"


def test_content_controls_are_read_in_place() -> None:
    def build(d: Document) -> None:
        d.add_paragraph("控件前")
        add_xml(
            d,
            "<w:sdt NS><w:sdtPr><w:alias w:val='正文'/></w:sdtPr><w:sdtContent>"
            "<w:p><w:r><w:t>块级控件里的段落</w:t></w:r></w:p></w:sdtContent></w:sdt>",
        )
        add_xml(
            d,
            "<w:p NS><w:r><w:t>日期：</w:t></w:r><w:sdt><w:sdtPr/><w:sdtContent>"
            "<w:r><w:t>2026年11月21日</w:t></w:r></w:sdtContent></w:sdt></w:p>",
        )

    assert read(build) == "控件前\n\n块级控件里的段落\n\n日期：2026年11月21日"


TEXT_BOX_RUN = """<w:r><mc:AlternateContent>
<mc:Choice Requires="wps"><w:drawing><wp:anchor><wp:docPr id="1" name="文本框 1"/>
<a:graphic><a:graphicData uri="http://schemas.microsoft.com/office/word/2010/wordprocessingShape">
<wps:wsp><wps:txbx><w:txbxContent>
<w:p><w:pPr><w:pStyle w:val="Heading1"/></w:pPr><w:r><w:t>框里的标题</w:t></w:r></w:p>
<w:p><w:r><w:t>框里的正文。</w:t></w:r></w:p>
</w:txbxContent></wps:txbx><wps:bodyPr/></wps:wsp></a:graphicData></a:graphic>
</wp:anchor></w:drawing></mc:Choice>
<mc:Fallback><w:pict><v:shape><v:textbox><w:txbxContent>
<w:p><w:pPr><w:pStyle w:val="Heading1"/></w:pPr><w:r><w:t>框里的标题</w:t></w:r></w:p>
<w:p><w:r><w:t>框里的正文。</w:t></w:r></w:p>
</w:txbxContent></v:textbox></v:shape></w:pict></mc:Fallback>
</mc:AlternateContent></w:r>"""


def test_text_boxes_follow_their_anchor_paragraph_once() -> None:
    def build(d: Document) -> None:
        add_xml(d, f"<w:p NS><w:r><w:t>锚段落</w:t></w:r>{TEXT_BOX_RUN}</w:p>")
        d.add_paragraph("下一段")

    assert read(build) == "锚段落\n\n# 框里的标题\n\n框里的正文。\n\n下一段"


# --- a real page --------------------------------------------------------------------------


def test_a_seed_page_as_docx_splits_like_its_text() -> None:
    """Seed 004 (衡阳日报 page 1): each block a paragraph, its headlines Heading 1."""
    path = next(SEEDS.glob("004_*.txt"))
    seed = read_bytes(path, path.read_bytes())
    expected = split_page(seed.text, markup=seed.markup)
    headlines = {a.headline for a in expected if a.kind == "article"}

    def build(d: Document) -> None:
        for block in re.split(r"\n\s*\n", seed.text.strip()):
            paragraph = d.add_paragraph(style="Heading 1" if block in headlines else None)
            for k, line in enumerate(block.split("\n")):
                run = paragraph.add_run(line)
                if k < block.count("\n"):
                    run.add_break()

    text = read_docx(make_docx(build), path.with_suffix(".docx"))
    got = split_page(text.text, markup=text.markup)

    def squeeze(s: str) -> str:
        return "".join(s.split())

    assert len(headlines) == 6
    assert [(a.headline, squeeze(a.body)) for a in got] == [
        (a.headline, squeeze(a.body)) for a in expected
    ]


# --- errors -------------------------------------------------------------------------------


def test_an_encrypted_docx_is_refused_with_what_to_do() -> None:
    ooxml = pytest.importorskip("msoffcrypto.format.ooxml")
    encrypted = io.BytesIO()
    ooxml.OOXMLFile(io.BytesIO(make_docx(lambda d: d.add_paragraph(BODY)))).encrypt(
        "secret", encrypted
    )
    assert read_error(encrypted.getvalue()) == (
        "password-protected (encrypted) Word file, or an old binary .doc: "
        "save it as an unprotected .docx"
    )


def test_an_old_binary_doc_is_refused_with_what_to_do() -> None:
    # A .doc is an OLE compound file: this header, then 512-byte sectors.
    doc = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504) + "正文".encode("utf-16-le")
    assert read_error(doc).startswith("password-protected (encrypted) Word file, or an old")


def test_a_file_that_is_no_zip_is_not_a_word_document() -> None:
    assert read_error("普通文本".encode()) == (
        "not a Word document: not a ZIP package; save it as .docx"
    )
    assert read_error(b"{\\rtf1\\ansi hello}") == (
        "not a Word document: an RTF file with a .docx name; save it as .docx"
    )
    assert read_error(b"") == "empty file"


def test_a_truncated_docx_is_damaged() -> None:
    data = make_docx(lambda d: d.add_paragraph(BODY))
    assert read_error(data[: len(data) // 2]) == (
        "damaged DOCX: not a complete ZIP package (cut short?)"
    )


def test_a_corrupt_part_is_damaged() -> None:
    data = make_docx(lambda d: d.add_paragraph(BODY))
    broken = rezip(data, put={"word/document.xml": b"<w:document><w:body>"})
    assert read_error(broken).startswith("damaged DOCX: broken XML: ")
    assert read_error(rezip(data, drop=("word/styles.xml",))) == (
        "damaged DOCX: There is no item named 'word/styles.xml' in the archive"
    )


def test_a_package_without_a_document_part_is_not_a_word_document() -> None:
    data = make_docx(lambda d: d.add_paragraph(BODY))
    assert read_error(rezip(data, drop=("word/document.xml",))) == (
        "not a Word document: no word/document.xml in the package"
    )


@pytest.mark.parametrize(
    ("part", "what"),
    [
        ("xl/workbook.xml", "an Excel workbook (.xlsx) with a .docx name"),
        ("ppt/presentation.xml", "a PowerPoint file (.pptx) with a .docx name"),
    ],
)
def test_a_renamed_office_file_is_not_a_word_document(part: str, what: str) -> None:
    package = io.BytesIO()
    with zipfile.ZipFile(package, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr(part, "<root/>")
    assert read_error(package.getvalue()) == f"not a Word document: {what}"


def test_a_document_without_text_has_no_visible_text() -> None:
    data = make_docx(lambda d: (d.add_paragraph(""), d.add_table(rows=2, cols=2)))
    assert read_error(data) == "no visible text"


def test_without_python_docx_the_error_says_what_to_install(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "docx", None)  # import docx now raises ImportError
    assert read_error(b"PK") == (
        "reading DOCX files needs the optional package python-docx: pip install 'watcher[docx]'"
    )


def test_an_entity_bomb_is_not_expanded() -> None:
    entities = "".join(
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)
    )  # lol9 would be 10⁹ "lol"s: 3 GB
    bomb = (
        f'<?xml version="1.0"?><!DOCTYPE w:document [<!ENTITY lol0 "lol">{entities}]>'
        f"<w:document {NS}><w:body><w:p><w:r><w:t>前&lol9;后</w:t></w:r></w:p>"
        "<w:p><w:r><w:t>正文</w:t></w:r></w:p></w:body></w:document>"
    )
    data = rezip(make_docx(lambda d: None), put={"word/document.xml": bomb.encode()})
    tracemalloc.start()
    try:
        try:
            text = read_docx(data, PATH).text
        except ReadError as exc:
            text = str(exc)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # libxml2 refuses the amplification outright; were it let through, the reference
    # would stay a reference (python-docx parses with resolve_entities=False).
    assert text.startswith("damaged DOCX: broken XML") or text == "前&lol9;后\n\n正文"
    assert peak < 20 * 2**20


# --- zip bombs ------------------------------------------------------------------------------

MIB = 2**20
BOMB_HEAD = (
    f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<w:document {NS}>'
    "<w:body><w:p><w:r><w:t>炸弹</w:t></w:r></w:p>"
).encode()
BOMB_TAIL = b"</w:body></w:document>"
CONTENT_TYPES = (
    b'<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
    b'content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-'
    b'package.relationships+xml"/><Override PartName="/word/document.xml" ContentType="'
    b'application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>'
    b"</Types>"
)
RELS = (
    b'<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/'
    b'2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/'
    b'officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/>'
    b"</Relationships>"
)


def zip_bomb(filler_mib: int, chunk: int = MIB) -> bytes:
    """A minimal DOCX whose document.xml is ``filler_mib`` chunks of spaces between elements.

    Deflating 300 MB takes seconds, so the spaces are compressed once and the compressed
    block repeated: after a full flush a deflate block depends on nothing before it.
    Only the CRC is computed over all the data (a fraction of a second).
    """
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = deflate.compress(BOMB_HEAD) + deflate.flush(zlib.Z_FULL_FLUSH)
    filler = b" " * chunk
    block = deflate.compress(filler) + deflate.flush(zlib.Z_FULL_FLUSH)
    tail = deflate.compress(BOMB_TAIL) + deflate.flush()
    crc = zlib.crc32(BOMB_HEAD)
    for _ in range(filler_mib):
        crc = zlib.crc32(filler, crc)
    crc = zlib.crc32(BOMB_TAIL, crc)
    size = len(BOMB_HEAD) + filler_mib * chunk + len(BOMB_TAIL)
    parts = [
        ("[Content_Types].xml", zlib.crc32(CONTENT_TYPES), len(CONTENT_TYPES), CONTENT_TYPES, 0),
        ("_rels/.rels", zlib.crc32(RELS), len(RELS), RELS, 0),
        ("word/document.xml", crc, size, head + block * filler_mib + tail, 8),
    ]
    out, directory = bytearray(), bytearray()
    for name, crc32, raw_size, packed, method in parts:
        encoded = name.encode()
        fields = (20, 0, method, 0, 0x21, crc32, len(packed), raw_size, len(encoded))
        directory += struct.pack(
            "<4s2H2H2H3L3H2H2L", b"PK\1\2", 20, *fields, 0, 0, 0, 0, 0, len(out)
        )
        directory += encoded
        out += struct.pack("<4sH2H2H3L2H", b"PK\3\4", *fields, 0) + encoded + packed
    end = struct.pack(
        "<4s4H2LH", b"PK\5\6", 0, 0, len(parts), len(parts), len(directory), len(out), 0
    )
    return bytes(out + directory + end)


def measure(data: bytes, **kwargs: float) -> tuple[str, float, int]:
    """The error message, the seconds and the peak bytes allocated reading ``data``."""
    tracemalloc.start()
    start = time.perf_counter()
    try:
        message = read_error(data, **kwargs)
        seconds = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return message, seconds, peak


def test_the_bomb_builder_makes_a_docx_python_docx_reads() -> None:
    # Half a MiB of filler stays under both limits, so it is read like any document.
    assert read_docx(zip_bomb(1, chunk=MIB // 2), PATH).text == "炸弹"


@pytest.fixture(scope="module")
def bomb() -> bytes:
    """300 MB of XML in 305 KB."""
    return zip_bomb(300)


def test_a_zip_bomb_is_refused_by_its_declared_size_before_unpacking(bomb: bytes) -> None:
    assert len(bomb) < MIB
    message, seconds, peak = measure(bomb)
    assert message == "DOCX unpacks to 300 MB, more than the 200 MB allowed"
    assert seconds < 0.5
    assert peak < 4 * MIB


def test_a_zip_bomb_within_the_size_limit_is_refused_by_its_ratio(bomb: bytes) -> None:
    message, seconds, peak = measure(bomb, max_unzipped_mb=1000)
    assert message == (
        "DOCX looks like a zip bomb: word/document.xml unpacks to 300 MB from 304 KB "
        "(1009:1, more than 200:1 allowed)"
    )
    assert seconds < 0.5
    assert peak < 4 * MIB


def test_a_saved_web_page_with_a_docx_name_says_so() -> None:
    assert read_error(b"<!DOCTYPE html><html><body>saved page</body></html>") == (
        "not a Word document: a web page with a .docx name; save it as .docx"
    )


def _rewritten(data: bytes, name: str, change: Callable[[bytes], bytes]) -> bytes:
    """The package ``data`` with its part ``name`` passed through ``change``."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for item in src.infolist():
            body = src.read(item.filename)
            dst.writestr(item, change(body) if item.filename == name else body)
    return out.getvalue()


def test_a_package_whose_main_part_is_not_a_word_document_says_what_it_is() -> None:
    # A real .docx whose main part is declared a Word template: python-docx refuses it
    # by its content type.
    data = _rewritten(
        make_docx(lambda d: d.add_paragraph("正文")),
        "[Content_Types].xml",
        lambda xml: xml.replace(
            b"wordprocessingml.document.main+xml", b"wordprocessingml.template.main+xml"
        ),
    )
    message = read_error(data)
    assert message.startswith("not a Word document: its main part is ")
    assert "template.main+xml" in message


def test_a_package_that_names_no_main_document() -> None:
    empty = (
        b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        b'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/'
        b'relationships"></Relationships>'
    )
    data = _rewritten(make_docx(lambda d: d.add_paragraph("正文")), "_rels/.rels", lambda _: empty)
    assert read_error(data) == "not a Word document: the package names no main document"

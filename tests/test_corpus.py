"""The 新闻联播 transcripts in ../shared/corpus: one article per ``### title`` block.

Skipped when the corpus is absent (it is never copied into the project).
"""

from __future__ import annotations

import re

import pytest

from tests.conftest import CORPUS
from watcher.pages import split_page
from watcher.readers import read_bytes

FOLDERS = ["xwlb_cctv_news", "xwlb_china_data_2017_2021"]

pytestmark = [
    pytest.mark.corpus,
    pytest.mark.skipif(
        not all((CORPUS / f).is_dir() for f in FOLDERS),
        reason=f"corpus not found at {CORPUS} (optional; see ../shared/corpus/README.md)",
    ),
]


def _expected_headlines(raw: str) -> list[str]:
    """``### `` headings whose block holds some text (a few are empty placeholders)."""
    blocks = re.split(r"^### ", raw, flags=re.M)[1:]
    out = []
    for block in blocks:
        title, _, rest = block.partition("\n")
        rest = re.sub(r"<!--.*?-->|\[查看原文\]\([^)]*\)|CONTENT NOTFOUND|\*\*", "", rest)
        rest = re.split(r"^#{1,3} ", rest, flags=re.M)[0]
        if rest.strip() and title.strip() != "TITLE NOTFOUND":
            out.append(" ".join(title.replace("\xa0", " ").replace("\u3000", " ").split()))
    return out


@pytest.mark.slow
@pytest.mark.parametrize("folder", FOLDERS)
def test_every_daily_file_splits_into_its_items(folder: str) -> None:
    files = sorted((CORPUS / folder).glob("*.md"))
    assert len(files) > 1500
    mismatches = []
    articles = 0
    for path in files:
        data = path.read_bytes()
        text = read_bytes(path, data)
        got = [a.headline for a in split_page(text.text, markup=text.markup)]
        articles += len(got)
        expected = _expected_headlines(data.decode("utf-8"))
        if got != expected:
            mismatches.append((path.name, len(expected), len(got)))
    assert mismatches == []
    assert articles > 24_000


def test_the_summary_section_is_not_an_article() -> None:
    path = CORPUS / "xwlb_cctv_news" / "20220101.md"
    text = read_bytes(path, path.read_bytes())
    arts = split_page(text.text, markup=text.markup)
    raw = path.read_text(encoding="utf-8")
    assert len(arts) == raw.count("\n### ")
    assert all("本期节目主要内容" not in a.body for a in arts)
    assert {a.newspaper for a in arts} == {"新闻联播"}
    assert {str(a.date) for a in arts} == {"2022-01-01"}

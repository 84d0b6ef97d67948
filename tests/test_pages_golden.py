"""The splitter's output on a sample of real text, against a golden file.

The golden (``tests/golden/split-corpus.json``) holds, for each page, a hash of
every field of every article the splitter gave before it was made faster
(guards in front of its regexes, whole-text normalisation): a speed-up must
change no article. Pages: the seed pages, every fifth 新闻联播 day of
``../shared/corpus`` (Markdown), and THUCNews and Sogou news as plain text,
alone and five to a page. The corpus part is skipped when the corpus is absent.
Regenerate with ``WATCHER_UPDATE_GOLDEN=1`` (only when a change of output is meant).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import CORPUS, SEEDS
from watcher.pages import split_page
from watcher.readers import read_bytes

GOLDEN = Path(__file__).parent / "golden" / "split-corpus.json"
UPDATE = os.environ.get("WATCHER_UPDATE_GOLDEN") == "1"
TODAY = dt.date(2026, 12, 1)
XWLB = ("xwlb_cctv_news", "xwlb_china_data_2017_2021")


def _pages() -> Iterator[tuple[str, str, str]]:
    """(name, text, markup) of every page of the sample that is present."""
    for path in sorted(SEEDS.glob("*.txt")):
        yield f"seeds/{path.name}", path.read_text(encoding="utf-8"), "plain"
    for folder in XWLB:
        for path in sorted((CORPUS / folder).glob("*.md"))[::5]:
            text = read_bytes(path, path.read_bytes())
            yield f"{folder}/{path.name}", text.text, text.markup
    thuc = CORPUS / "thucnews_cnews_sample" / "cnews.test.txt"
    if thuc.is_file():
        stories = [ln.partition("\t")[2] for ln in thuc.read_text(encoding="utf-8").splitlines()]
        yield from _plain("thucnews", stories[:600])
    sogou = CORPUS / "sogoucs_smarty_sample" / "news_sohusite_xml.smarty.dat"
    if sogou.is_file():
        raw = sogou.read_text(encoding="utf-8", errors="replace")
        titles = re.findall(r"<contenttitle>(.*?)</contenttitle>", raw)
        bodies = re.findall(r"<content>(.*?)</content>", raw)
        stories = [f"{t}\n\n{b}" for t, b in zip(titles, bodies, strict=False) if b.strip()]
        yield from _plain("sogou", stories[:400])


def _plain(name: str, stories: list[str]) -> Iterator[tuple[str, str, str]]:
    for n, story in enumerate(stories):
        yield f"{name}/{n}", story, "plain"
    for n in range(0, len(stories), 5):
        yield f"{name}/page{n}", "\n\n".join(stories[n : n + 5]), "plain"


def _digest(text: str, markup: str) -> str:
    articles = split_page(text, markup=markup, today=TODAY)
    rows = [dataclasses.asdict(a) for a in articles]
    blob = json.dumps(rows, ensure_ascii=False, sort_keys=True, default=str)
    return f"{len(articles)}:{hashlib.sha256(blob.encode()).hexdigest()[:24]}"


@pytest.mark.slow
def test_split_output_unchanged_on_the_sample() -> None:
    got = {name: _digest(text, markup) for name, text, markup in _pages()}
    if UPDATE:
        GOLDEN.write_text(json.dumps(got, indent=0, sort_keys=True) + "\n", encoding="utf-8")
    want = json.loads(GOLDEN.read_text(encoding="utf-8"))
    present = {k: v for k, v in want.items() if k in got}
    if not (CORPUS / XWLB[0]).is_dir():
        assert all(k.startswith("seeds/") for k in got)
    assert len(present) == len(got), sorted(set(got) - set(want))[:5]
    differ = sorted(k for k in got if got[k] != present[k])
    assert not differ, f"{len(differ)} pages split differently, e.g. {differ[:5]}"

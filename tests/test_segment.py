"""Word occurrences (Segmenter.is_word_at), folding, and the dictionary trie against jieba.

The trie is built once for the module (about 1 s) and every test that segments
shares that Segmenter; jieba's own tokenizer is loaded once as the reference
(another second). jieba's HMM is booby-trapped for the whole module, so any test
that reached it would fail. The equality tests hold every boundary decision the
Segmenter makes (cuts, DAG routes, parts, words across a point) to jieba's own,
on the seed pages always and on a seeded sample of ../shared/corpus when it is
there; ``bench/startup.py --equality`` runs them over the whole 新闻联播 folder.
"""

from __future__ import annotations

import itertools
import logging
import random
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

import jieba
import jieba.finalseg
import pytest

from tests.conftest import CORPUS, ROOT, seed_files
from watcher import segment
from watcher.segment import Segmenter, fold


def _no_hmm(*args: object, **kwargs: object) -> None:
    raise AssertionError("jieba's HMM was used")


@pytest.fixture(autouse=True, scope="module")
def hmm_trap() -> Iterator[None]:
    """Make jieba's HMM word guesser fail loudly for every test here."""
    mp = pytest.MonkeyPatch()
    mp.setattr(jieba.finalseg, "cut", _no_hmm)
    yield
    mp.undo()


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory, hmm_trap: None) -> tuple[Segmenter, Path]:
    """A warmed Segmenter, loaded while the temp folder points at an empty sentinel.

    Returns the Segmenter and that sentinel folder, which must still be empty.
    """
    cache_dir = tmp_path_factory.mktemp("state") / "jieba"
    sentinel = tmp_path_factory.mktemp("shared_tmp")
    saved = tempfile.tempdir
    tempfile.tempdir = str(sentinel)
    try:
        seg = Segmenter(cache_dir)
        seg.warm()
    finally:
        tempfile.tempdir = saved
    return seg, sentinel


@pytest.fixture(scope="module")
def seg(loaded: tuple[Segmenter, Path]) -> Segmenter:
    return loaded[0]


@pytest.fixture(scope="module")
def seeds() -> str:
    """All seed pages, folded, one after another."""
    return "\n\n".join(fold(f.read_text(encoding="utf-8")) for f in seed_files())


def occurs(seg: Segmenter, term: str, text: str, nth: int = 0) -> bool:
    """Fold both, find the nth occurrence of ``term`` in ``text`` and ask the Segmenter."""
    t, w = fold(text), fold(term)
    at = -1
    for _ in range(nth + 1):
        at = t.find(w, at + 1)
        assert at >= 0, f"{term!r} occurs fewer than {nth + 1} times in {text!r}"
    return seg.is_word_at(t, at, at + len(w))


# --- fold ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "folded"),
    [
        ("ＡＩ", "ai"),
        ("ＡＩ芯片", "ai芯片"),
        ("１５Ｇ", "15g"),
        ("（二）", "(二)"),  # U+FF08/U+FF09 are in the full-width ASCII block
        ("，；：！？", ",;:!?"),
        ("中国\u3000湖南", "中国 湖南"),
        ("國務院", "国务院"),
        ("長沙", "长沙"),
        ("淥口區", "渌口区"),
        ("TRAINING", "training"),
        ("5G基站", "5g基站"),
        ("。、“”《》", "。、“”《》"),  # CJK punctuation outside the FF01-FF5E block stays
        ("İstanbul ÄÖ", "İstanbul ÄÖ"),  # non-ASCII letters keep their case (and length)
        ("乾隆", "干隆"),  # per character: no phrase context, by design
        ("", ""),
    ],
)
def test_fold(raw: str, folded: str) -> None:
    assert fold(raw) == folded


def test_fold_keeps_length_and_is_idempotent_on_every_seed_page() -> None:
    for path in seed_files():
        raw = path.read_text(encoding="utf-8")
        once = fold(raw)
        assert len(once) == len(raw), path.name
        assert fold(once) == once, path.name


def test_fold_maps_every_character_to_one_character() -> None:
    table = segment._fold_table()
    assert all(len(v) == 1 for v in table.values())
    assert all(ord(v) not in table for v in table.values())  # chains resolved


def test_fold_is_the_table_for_every_character() -> None:
    # The fast path finds the characters present with a regular expression (below
    # U+10000) and falls back to a set test when a text holds a character above it.
    table = segment._fold_table()
    chars = "".join(sorted(map(chr, table)))
    astral = [c for c in chars if c > "\uffff"]
    texts = [chars, "長沙ＡＩ，國務院：" * 3, "no folding here", "", "😀長沙", *astral[:20]]
    texts += [chars[i : i + 7] + "汉字" for i in range(0, len(chars), 7)]
    for text in texts:
        assert fold(text) == text.translate(table), text[:10]


def test_fold_does_not_load_jieba() -> None:
    fresh = Segmenter(None)
    fold("長沙ＡＩ")
    assert not fresh.loaded


# --- loading ---------------------------------------------------------------------


def test_constructing_does_not_load_the_dictionary(tmp_path: Path) -> None:
    lazy = Segmenter(tmp_path / "cache")
    assert not lazy.loaded
    assert not (tmp_path / "cache").exists()
    # An all-ASCII term is settled by rule (a) alone: still nothing loaded.
    assert lazy.is_word_at("ai chips", 0, 2)
    assert not lazy.is_word_at("training", 2, 4)
    assert not lazy.loaded
    assert "not loaded" in repr(lazy)


def test_cache_file_lands_in_cache_dir_not_in_the_temp_folder(
    loaded: tuple[Segmenter, Path],
) -> None:
    seg, sentinel = loaded
    assert seg.loaded
    assert seg.cache_dir is not None
    assert [p.name for p in seg.cache_dir.iterdir()] == [cache_file(seg.cache_dir).name]
    assert re.fullmatch(r"jieba-dict-[0-9a-f]{16}\.bin", cache_file(seg.cache_dir).name)
    assert list(sentinel.iterdir()) == []


def test_without_a_cache_dir_nothing_is_written(tmp_path: Path) -> None:
    saved = tempfile.tempdir
    tempfile.tempdir = str(tmp_path)
    try:
        uncached = Segmenter()
        assert uncached.is_word_at("副市长", 1, 3)  # loads on first need
    finally:
        tempfile.tempdir = saved
    assert uncached.loaded
    assert list(tmp_path.iterdir()) == []


def test_the_global_tokenizer_is_left_alone(seg: Segmenter) -> None:
    assert seg.frequency("岳阳") == segment._EXTRA_FREQ
    assert "岳阳" not in jieba.dt.FREQ or not jieba.dt.FREQ["岳阳"]


def test_a_cached_dictionary_loads_without_jieba(loaded: tuple[Segmenter, Path]) -> None:
    """The start-up promise: from the cache file, a decision imports no jieba."""
    code = (
        "import sys; from pathlib import Path; from watcher.segment import Segmenter; "
        f"s = Segmenter(Path({str(loaded[0].cache_dir)!r})); "
        "assert s.is_word_at('南京市长江大桥', 3, 7) and not s.is_word_at('南京市长江大桥', 2, 4); "
        "print('jieba' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "False", out.stderr


# --- the cache file -------------------------------------------------------------------


def cache_file(folder: Path) -> Path:
    (path,) = folder.glob("jieba-dict-*.bin")
    return path


def cache_name(extra: Sequence[tuple[str, int]] = segment._EXTRA) -> str:
    key = segment._dict_key(segment._jieba_dict_file().read_bytes(), extra)
    return f"jieba-dict-{key.hex()[:16]}.bin"


@pytest.fixture(scope="module")
def built(seg: Segmenter) -> bytes:
    """The bytes of a good cache file: the one the module's Segmenter built."""
    assert seg.cache_dir is not None
    return cache_file(seg.cache_dir).read_bytes()


def _flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0x40]) + data[at + 1 :]


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (lambda d: d[: len(d) // 2], "truncated: {half} bytes of {size}"),
        (lambda d: d[:40], "truncated: 40 bytes, less than its header"),
        (lambda d: b"", "truncated: 0 bytes, less than its header"),
        (lambda d: d + b"\0", "{size_1} bytes where {size} were written"),
        (lambda d: _flip(d, len(d) - 100), "checksum mismatch"),  # inside the trie
        (lambda d: _flip(d, 200), "checksum mismatch"),  # inside the counts
        (lambda d: _flip(d, 50), "checksum mismatch"),  # the total, in the header
        (lambda d: b"\0" * len(d), "not a watcher dictionary file"),  # a crash before fsync
        (lambda d: d[:12] + bytes(32) + d[44:], "built from another dictionary"),
    ],
)
def test_a_damaged_cache_file_is_refused(
    built: bytes, damage: Callable[[bytes], bytes], reason: str
) -> None:
    key = built[12:44]
    segment._WordDict(built, key)  # the undamaged file is fine
    with pytest.raises(segment._BadCache) as caught:
        segment._WordDict(damage(built), key)
    size = len(built)
    assert str(caught.value) == reason.format(size=size, half=size // 2, size_1=size + 1)


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (lambda d: d[:-1], "truncated: {size_1} bytes of {size}"),
        (lambda d: _flip(d, 100_000), "checksum mismatch"),
    ],
)
def test_a_damaged_cache_file_is_rebuilt(
    tmp_path: Path,
    built: bytes,
    damage: Callable[[bytes], bytes],
    reason: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="watcher.segment")
    path = tmp_path / cache_name()
    path.write_bytes(damage(built))
    seg = Segmenter(tmp_path)
    assert seg.cut("南京市长江大桥") == ["南京市", "长江大桥"]
    reason = reason.format(size=len(built), size_1=len(built) - 1)
    assert f"{path}: {reason}; rebuilding it" in caplog.text
    assert path.read_bytes() == built
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temp file left


def test_the_cache_file_is_built_once_then_reused_as_it_is(tmp_path: Path, built: bytes) -> None:
    (tmp_path / f"jieba-{jieba.__version__}.cache").write_bytes(b"marshal")  # watcher 0.1's
    (tmp_path / "other.db").write_bytes(b"keep")
    Segmenter(tmp_path).warm()
    path = cache_file(tmp_path)
    assert path.read_bytes() == built  # deterministic: every builder writes the same bytes
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name, "other.db"]
    stamp = path.stat().st_mtime_ns
    Segmenter(tmp_path).warm()
    assert path.stat().st_mtime_ns == stamp


def test_a_changed_dictionary_or_extra_words_make_a_new_file(
    tmp_path: Path, built: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The key is the dictionary's content and the extra words, not a date or a version."""
    source = segment._jieba_dict_file().read_bytes()
    edited = tmp_path / "dict.txt"
    edited.write_bytes(source + "市长江 100000000 n\n".encode())
    key = segment._dict_key(source, segment._EXTRA)
    assert segment._dict_key(edited.read_bytes(), segment._EXTRA) != key
    assert segment._dict_key(source, ()) != key
    assert segment._dict_key(source, (("岳阳", 2), *segment._EXTRA[1:])) != key

    folder = tmp_path / "cache"
    folder.mkdir()
    (folder / cache_name()).write_bytes(built)  # the file of the dictionary before the edit
    monkeypatch.setattr(segment, "_jieba_dict_file", lambda: edited)
    seg = Segmenter(folder)
    assert seg.cut("南京市长江大桥") == ["南京", "市长江", "大桥"]
    assert seg.frequency("市长江") == 100000000
    assert len(list(folder.glob("jieba-dict-*.bin"))) == 2


def test_an_unwritable_cache_folder_leaves_the_dictionary_in_memory(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="watcher.segment")
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    seg = Segmenter(blocker / "cache")
    assert seg.cut("南京市长江大桥") == ["南京市", "长江大桥"]
    assert "cannot write the dictionary cache" in caplog.text


# Each child waits for the go file, then loads (so builds) the dictionary.
_BUILD_AT_ONCE = """
import sys, time
from pathlib import Path
from watcher import segment
folder = Path(sys.argv[1])
(folder.parent / f"ready-{sys.argv[2]}").touch()
while not (folder.parent / "go").exists():
    time.sleep(0.005)
words, source = segment._load_words(folder, segment._EXTRA)
print(source.endswith("(built)"), "/".join(words.cut("南京市长江大桥")))
"""


@pytest.mark.slow
def test_processes_building_the_cache_at_once_do_not_break_each_other(
    tmp_path: Path, built: bytes
) -> None:
    n = 3
    folder = tmp_path / "cache"
    children = [
        subprocess.Popen(
            [sys.executable, "-c", _BUILD_AT_ONCE, str(folder), str(i)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        for i in range(n)
    ]
    while len(list(tmp_path.glob("ready-*"))) < n and all(c.poll() is None for c in children):
        time.sleep(0.01)
    (tmp_path / "go").touch()
    outs = [c.communicate(timeout=120)[0].split() for c in children]
    assert [c.returncode for c in children] == [0] * n
    assert [out[1] for out in outs] == ["南京市/长江大桥"] * n
    assert sum(out[0] == "True" for out in outs) >= 2  # several really built it at once
    assert [p.name for p in folder.iterdir()] == [cache_file(folder).name]  # no temp file left
    assert cache_file(folder).read_bytes() == built


# --- the required outcomes --------------------------------------------------------


@pytest.mark.parametrize(
    ("term", "text", "expected"),
    [
        ("市长", "南京市长江大桥", False),
        ("沙市", "长沙市", False),
        ("和服", "提供和服务员", False),
        ("AI", "TRAINING", False),
        ("安全", "安全生产", True),
        ("更新", "城市更新", True),
        ("市长", "副市长", True),
        ("市长", "市长表示", True),
        ("长江", "长江大保护", True),
        ("长江", "南京市长江大桥", True),
        ("湘潭", "湘潭市", True),
        ("安全生产", "坚决打好安全生产翻身仗", True),
        ("穿透式监管", "穿透式监管", True),
        ("城市更新", "湖南城市更新资源", True),
        ("老旧小区改造", "老旧小区改造", True),
        ("AI", "AI芯片", True),
        ("AI", "发展AI产业", True),
    ],
)
def test_required_outcomes(seg: Segmenter, term: str, text: str, expected: bool) -> None:
    assert occurs(seg, term, text) is expected


@pytest.mark.parametrize(
    ("term", "text", "expected"),
    [
        # a character split off a two-character word never counts
        ("和服", "和服务", False),
        ("市长", "南京市长江边", False),
        ("市长", "市长江", False),
        # parts, and parts of parts
        ("市长", "南京市长", True),
        ("局长", "公安局长", True),
        ("岳阳", "岳阳市", True),
        ("岳阳", "湖南岳阳", True),
        ("湖南", "湖南岳阳", True),
        # ASCII edges: letters and digits only glue to letters and digits
        ("5G", "15G", False),
        ("5G", "5GHz", False),
        ("5G", "5G基站", True),
        ("5G", "(5G)", True),
        ("AI", "AI", True),
        ("AI", "MAIL", False),
        ("AI芯片", "国产AI芯片", True),
        ("AI芯片", "RAI芯片", False),
        ("IGBT", "中车时代半导体IGBT模块", True),
        ("ＡＩ", "发展ai产业", True),  # full-width term, half-width text
        ("國務院", "国务院常务会议", True),  # traditional term, simplified text
    ],
)
def test_more_outcomes(seg: Segmenter, term: str, text: str, expected: bool) -> None:
    assert occurs(seg, term, text) is expected


def test_a_hit_in_a_longer_text_is_judged_by_its_own_clause(seg: Segmenter) -> None:
    text = "长沙市占据49个，南京市长江大桥通车，副市长表示。"
    assert occurs(seg, "市长", text, nth=0) is False
    assert occurs(seg, "市长", text, nth=1) is True
    assert occurs(seg, "沙市", text) is False


def test_bad_offsets_are_refused(seg: Segmenter) -> None:
    for start, end in [(2, 2), (3, 1), (-1, 1), (0, 9)]:
        with pytest.raises(ValueError):
            seg.is_word_at("副市长", start, end)


def test_window_stops_at_clause_punctuation_and_line_breaks_and_40_characters() -> None:
    text = "甲乙，丙丁戊\n己庚"
    assert Segmenter._clause(text, 3, 5) == (3, 6)
    long = "城" * 100
    assert Segmenter._clause(long, 50, 52) == (10, 92)
    assert Segmenter._clause(long, 5, 7) == (0, 47)


def whole_clause_rule(seg: Segmenter, text: str, start: int, end: int) -> bool:
    """is_word_at's rule as its docstring states it, cutting the whole clause window
    (as jieba would) for every end that needs a cut: no runs of characters left out,
    no point skipped where every route passes."""
    ascii_start, ascii_end = text[start].isascii(), text[end - 1].isascii()
    ascii_start = ascii_start and text[start].isalnum()
    ascii_end = ascii_end and text[end - 1].isalnum()
    if ascii_start and start > 0 and text[start - 1].isascii() and text[start - 1].isalnum():
        return False
    if ascii_end and end < len(text) and text[end].isascii() and text[end].isalnum():
        return False
    lo, hi = Segmenter._clause(text, start, end)
    window = text[lo:hi]
    cuts = list(itertools.accumulate((len(t) for t in seg.cut(window)), initial=0))

    def good(p: int) -> bool:
        if p in cuts:
            return True
        i = next(n for n, c in enumerate(cuts) if c > p)
        token, q, depth = window[cuts[i - 1] : cuts[i]], p - cuts[i - 1], 1
        while True:
            parts = list(itertools.accumulate((len(t) for t in seg.parts(token)), initial=0))
            if q in parts:
                k = parts.index(q)
                return parts[k] - parts[k - 1] >= 2 or parts[k + 1] - parts[k] >= 2
            k = next(n for n, c in enumerate(parts) if c > q)
            a, b = parts[k - 1], parts[k]
            if b - a < 3 or depth >= 3:
                return False
            token, q, depth = token[a:b], q - a, depth + 1

    return (ascii_start or good(start - lo)) and (ascii_end or good(end - lo))


def test_word_checks_equal_the_rule_on_the_whole_clause(seg: Segmenter, seeds: str) -> None:
    """The checks cut only the runs of characters holding a hit's ends, from the last
    point before it that no word runs across: the same answers as cutting the whole
    clause, for every hit of 2–5 characters at 4,000 seeded places of the seed pages."""
    rnd = random.Random(14)
    hits = []
    for _ in range(4000):
        start = rnd.randrange(len(seeds) - 6)
        end = start + rnd.randint(2, 5)
        if "\n" not in seeds[start:end]:
            hits.append((start, end))
    differ = [
        seeds[s:e]
        for s, e in hits
        if seg.is_word_at(seeds, s, e) != whole_clause_rule(seg, seeds, s, e)
    ]
    assert len(hits) > 3000
    assert differ == []
    assert sum(seg.is_word_at(seeds, s, e) for s, e in hits) > 300  # both answers occur


# --- real sentences from the seed pages ---------------------------------------------

# (term, a fragment quoted verbatim from a seed page, expected). The check runs on
# the whole folded seed text, so the window is the real clause around the hit.
SEED_CASES = [
    ("安全生产", "毛伟明在湘潭暗访检查安全生产工作", True),
    ("暗访", "毛伟明在湘潭暗访检查安全生产工作", True),
    ("湘潭", "毛伟明在湘潭暗访检查安全生产工作", True),
    ("穿透式监管", "安全生产工作 穿透式监管 闭环式", True),
    ("安全生产", "非煤矿山安全生产工作", True),
    ("湘潭", "省长毛伟明在湘潭市暗访检查", True),
    ("隐患", "持续推动风险隐患动态清零", True),
    ("隐患", "全面排查风险隐患", True),
    ("乡村振兴", "合力推进乡村振兴", True),
    ("乡村振兴", "接续奋战乡村振兴", True),
    ("招商引资", "要在招商引资上再发力", True),
    ("城市更新", "湖南城市更新资源(项目)集中发布", True),
    ("城中村", "老旧小区改造、城中村整治", True),
    ("老旧小区改造", "老旧小区改造、城中村整治", True),
    ("衡阳", "省委秘书长秦国文赴衡阳市督导", True),
    ("衡阳市", "省委秘书长秦国文赴衡阳市督导", True),
    ("岳阳", "走进湖南岳阳绿色化工产业园", True),
    ("湖南", "走进湖南岳阳绿色化工产业园", True),
    ("市委", "岳阳市委书记谢卫江参加", True),
    ("市委", "长沙市委书记吴桂英", True),
    ("株洲", "携手株洲打造更多典型5G应用场景", True),
    ("5G", "携手株洲打造更多典型5G应用场景", True),
    ("李殿勋", "省委副书记李殿勋赴株洲督导", True),
    ("渌口", "激浊扬清的“淥口担当”", True),  # the page prints the traditional 淥
    ("长沙市", "在133个重点更新片区中，长沙市占据49个", True),
    ("沙市", "在133个重点更新片区中，长沙市占据49个", False),
    ("实习", "两省深入贯彻落实习近平总书记", False),
    ("市政", "市委、市政府将高度关注青年团体", False),
    ("家主", "国家主席习近平向上海合作组织", False),
    ("志在", "甘肃省负责同志在会上发言", False),
    ("西部", "常态化做好东西部协作工作", False),
    ("四五", "“十四五”期间，全省累计开工城市", False),
    ("合规", "不符合规范要求", False),
    ("流产", "现代物流产业链", False),
    ("AI", "ZHUZHOU DAILY", False),
    ("市委", "中共衡阳市委员会主管", False),
]


@pytest.mark.parametrize(("term", "fragment", "expected"), SEED_CASES)
def test_seed_sentences(
    seg: Segmenter, seeds: str, term: str, fragment: str, expected: bool
) -> None:
    fragment, term = fold(fragment), fold(term)
    at = seeds.find(fragment)
    assert at >= 0, f"{fragment!r} is not on any seed page"
    start = at + fragment.index(term)
    assert seg.is_word_at(seeds, start, start + len(term)) is expected


@pytest.mark.parametrize(
    ("term", "count"),
    [
        ("安全生产", 11),
        ("隐患", 7),
        ("暗访", 3),
        ("乡村振兴", 15),
        ("招商引资", 2),
        ("城市更新", 8),
        ("城中村", 2),
        ("湘潭", 12),
        ("株洲", 85),
        ("衡阳", 31),
        ("岳阳", 15),
        ("长江", 17),
    ],
)
def test_every_seed_occurrence_of_a_watch_term_is_a_word(
    seg: Segmenter, seeds: str, term: str, count: int
) -> None:
    starts = [m.start() for m in re.finditer(re.escape(term), seeds)]
    assert len(starts) == count
    missed = [seeds[s - 8 : s + 8] for s in starts if not seg.is_word_at(seeds, s, s + len(term))]
    assert missed == []


def test_checks_are_fast_enough_on_the_seed_pages(seg: Segmenter, seeds: str) -> None:
    """Thousands of candidate hits in well under a second (no timing assert: CI is noisy)."""
    hits = [
        (m.start(), m.end())
        for term in ("安全", "生产", "发展", "建设", "市长", "市委", "项目", "城市", "产业")
        for m in re.finditer(term, seeds)
    ]
    assert len(hits) > 500
    verdicts = [seg.is_word_at(seeds, s, e) for s, e in hits]
    assert sum(verdicts) > len(verdicts) * 0.8


# --- the dictionary: no HMM, no watchlist words, extra words that override nothing ------


def test_the_hmm_trap_is_armed(reference: Reference) -> None:
    with pytest.raises(AssertionError, match="HMM"):
        reference.tokenizer.lcut("省委副书记李殿勋", HMM=True)


def test_names_are_not_split_by_invented_words(seg: Segmenter) -> None:
    tokens = seg.cut("省委副书记李殿勋赴株洲督导")
    at = tokens.index("李")
    assert tokens[at : at + 3] == ["李", "殿", "勋"]  # HMM would say 李殿/勋
    assert occurs(seg, "李殿勋", "省委副书记李殿勋赴株洲督导")
    assert "湖电排" not in seg.cut("沈晓明来到岳阳县麻塘垸白泥湖电排闸堤段")
    assert "以省" not in seg.cut("并以省人大代表身份参加所在的岳阳市第一代表小组主题活动")


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("南京市长江大桥", ["南京市", "长江大桥"]),
        ("长沙市", ["长沙市"]),
        ("湖南岳阳", ["湖南", "岳阳"]),
        ("岳阳市", ["岳阳市"]),
        ("岳阳楼", ["岳阳楼"]),
    ],
)
def test_segmentation(seg: Segmenter, text: str, tokens: list[str]) -> None:
    assert seg.cut(text) == tokens


@pytest.mark.parametrize(
    ("token", "parts"),
    [
        ("安全生产", ["安全", "生产"]),
        ("副市长", ["副", "市长"]),
        ("长沙市", ["长沙", "市"]),
        ("长江大桥", ["长江", "大桥"]),
        ("岳阳市", ["岳阳", "市"]),
        ("服务", ["服", "务"]),
    ],
)
def test_parts(seg: Segmenter, token: str, parts: list[str]) -> None:
    assert seg.parts(token) == parts


def test_extra_words_change_nothing_but_their_own_cuts(
    seg: Segmenter, plain: Reference, seeds: str
) -> None:
    """The seed pages cut exactly as with jieba's own dictionary wherever no extra word occurs."""
    extra = re.compile("|".join(segment._EXTRA_WORDS))
    clauses = [c for c in re.split(r"[。！？；，、：,.;:!?\s]+", seeds) if c]
    touched = 0
    for clause in clauses:
        if extra.search(clause):
            touched += 1
            continue
        assert seg.cut(clause) == plain.tokenizer.lcut(clause, HMM=False), clause
    assert 0 < touched < len(clauses) // 10
    # Every dictionary word that contains an extra word still cuts whole.
    for word, freq in plain.tokenizer.FREQ.items():
        if freq and extra.search(word) and word not in segment._EXTRA_WORDS:
            assert seg.cut(word) == [word], word


def test_extra_words_rank_below_every_dictionary_word(plain: Reference) -> None:
    assert min(f for f in plain.tokenizer.FREQ.values() if f) > segment._EXTRA_FREQ


# --- every boundary decision equals jieba's ---------------------------------------------


class Reference:
    """jieba's own answers, from a private ``jieba.Tokenizer`` plus ``extra`` words (no cache)."""

    def __init__(self, extra: Sequence[tuple[str, int]] = segment._EXTRA) -> None:
        tok = jieba.Tokenizer()
        tok.FREQ, tok.total = tok.gen_pfdict(tok.get_dict_file())
        tok.initialized = True
        for word, freq in extra:
            tok.add_word(word, freq=freq)
        self.tokenizer = tok

    def parts(self, token: str) -> list[str]:
        """The Segmenter's parts rule, on jieba's own get_DAG and calc."""
        n = len(token)
        dag = self.tokenizer.get_DAG(token)
        dag[0] = [x for x in dag[0] if x != n - 1] or [0]
        route: dict[int, tuple[float, int]] = {}
        self.tokenizer.calc(token, dag, route)
        cuts = [0]
        while cuts[-1] < n:
            cuts.append(route[cuts[-1]][1] + 1)
        return [token[a:b] for a, b in itertools.pairwise(cuts)]

    def crossed(self, text: str) -> list[int]:
        """Every p with a dictionary word ``text[i:j]``, ``i < p < j``, by jieba's prefix walk."""
        freq, n = self.tokenizer.FREQ, len(text)
        out = set()
        for i in range(n):
            j = i + 1
            while j <= n and text[i:j] in freq:
                if freq[text[i:j]]:
                    out.update(range(i + 1, j))
                j += 1
        return sorted(out)


def differences(seg: Segmenter, ref: Reference, texts: Iterable[str]) -> Iterator[str]:
    """Every text where the Segmenter decides a boundary otherwise than jieba, with the first
    difference: the cut, the best route (get_DAG + calc), the parts of any token, a word
    across a point."""
    words = seg._load()
    tok = ref.tokenizer
    for text in texts:
        cut = seg.cut(text)
        if cut != (want := tok.lcut(text, HMM=False)):
            yield f"cut {text!r}: {cut} != {want}"
            continue
        dag = tok.get_DAG(text)
        route: dict[int, tuple[float, int]] = {}
        tok.calc(text, dag, route)
        if words.route(text) != [route[k][1] for k in range(len(text))]:
            yield f"route {text!r}"
            continue
        bad = [t for t in set(cut) if len(t) > 1 and seg.parts(t) != ref.parts(t)]
        if bad:
            yield f"parts {bad[0]!r}: {seg.parts(bad[0])} != {ref.parts(bad[0])}"
            continue
        crossed = [p for p in range(len(text)) if words.crosses(text, p)]
        if crossed != (want_crossed := ref.crossed(text)):
            yield f"crossed {text!r}: {crossed} != {want_crossed}"


def sentences(text: str, rnd: random.Random) -> Iterator[str]:
    """Each line, raw and folded, and a random stretch of it as a hit's window may start
    and end anywhere."""
    for line in text.splitlines():
        if not line.strip():
            continue
        folded = fold(line)
        yield line
        if folded != line:
            yield folded
        if len(folded) > 4:
            a = rnd.randrange(len(folded) - 2)
            yield folded[a : a + rnd.randint(2, 80)]


def corpus_items(folder: Path) -> Iterator[str]:
    """The ``### `` items of the 新闻联播 day files, in file order."""
    for path in sorted(folder.glob("*.md")):
        yield from re.split(r"^### ", path.read_text(encoding="utf-8"), flags=re.M)[1:]


@pytest.fixture(scope="module")
def reference() -> Reference:
    return Reference()


@pytest.fixture(scope="module")
def plain() -> Reference:
    """jieba exactly as it comes: ``jieba.Tokenizer()``, no extra words."""
    return Reference(extra=())


@pytest.fixture(scope="module")
def plain_seg(tmp_path_factory: pytest.TempPathFactory) -> Segmenter:
    """A Segmenter over jieba's dictionary alone (its trie built without the extra words)."""
    seg = Segmenter(tmp_path_factory.mktemp("plain"))
    seg._words, _ = segment._load_words(seg.cache_dir, ())
    return seg


def test_every_dictionary_count_and_the_total_equal_jiebas(
    seg: Segmenter, plain_seg: Segmenter, reference: Reference, plain: Reference
) -> None:
    for mine, ref in ((seg, reference), (plain_seg, plain)):
        words = mine._load()
        assert words.total == ref.tokenizer.total
        assert [w for w, f in ref.tokenizer.FREQ.items() if mine.frequency(w) != f] == []
        assert words.words == sum(1 for f in ref.tokenizer.FREQ.values() if f)
        assert words.longest == max(len(w) for w in ref.tokenizer.FREQ)
    assert seg.frequency("南京市长") == 0  # a prefix of 南京市长江大桥 only
    assert seg.frequency("没有这个词") == 0


def test_every_boundary_decision_on_the_seed_pages_equals_jiebas(
    seg: Segmenter, plain_seg: Segmenter, reference: Reference, plain: Reference
) -> None:
    texts = [s for f in seed_files() for s in sentences(f.read_text("utf-8"), random.Random(14))]
    assert len(texts) > 700
    assert list(differences(seg, reference, texts)) == []
    assert list(differences(plain_seg, plain, texts)) == []


@pytest.mark.corpus
@pytest.mark.skipif(
    not (CORPUS / "xwlb_cctv_news").is_dir(),
    reason=f"corpus not found at {CORPUS} (optional; see ../shared/corpus/README.md)",
)
def test_every_boundary_decision_on_a_corpus_sample_equals_jiebas(
    seg: Segmenter, plain_seg: Segmenter, reference: Reference, plain: Reference
) -> None:
    """100 items drawn (seeded) from the 新闻联播 transcripts; all ~24k: bench/startup.py."""
    rnd = random.Random(14)
    items = rnd.sample(list(corpus_items(CORPUS / "xwlb_cctv_news")), 100)
    texts = [s for item in items for s in sentences(item, rnd)]
    assert list(differences(seg, reference, texts)) == []
    assert list(differences(plain_seg, plain, texts)) == []


# --- the splitter's helpers still work ---------------------------------------------


def test_is_word_and_spans_word_unchanged() -> None:
    assert segment.is_word("小区")
    assert not segment.is_word("区配")
    assert segment.spans_word("小区配", "套设施")
    assert not segment.spans_word("", "套设施")


def test_crosses_answers_alike_when_its_caches_start_afresh(
    seg: Segmenter, seeds: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # crosses() keeps pairs' reaches and answers by the characters around a point;
    # bounded caches that clear themselves must not change an answer.
    words = seg._load()
    text = seeds[:3000]
    want = [words.crosses(text, p) for p in range(len(text))]
    assert any(want) and not all(want)
    monkeypatch.setattr(segment, "_PAIR_CACHE", 3)
    monkeypatch.setattr(segment, "_CROSSING_CACHE", 5)
    words._pair_reach.clear()
    words._crossing.clear()
    assert [words.crosses(text, p) for p in range(len(text))] == want
    assert len(words._pair_reach) <= 3 and len(words._crossing) <= 5

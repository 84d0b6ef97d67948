"""Word knowledge from jieba; the only module that imports jieba.

Three services live here:

* :func:`is_word` / :func:`spans_word` — the page splitter's cheap question "is
  this string a dictionary word?", used to tell an OCR line broken mid-word
  (``小区配`` / ``套设施``) from a sub-heading followed by a new paragraph.
  Loading jieba's dictionary as a set takes a fraction of a second and is done
  once, lazily, only when a page has such an ambiguous line.
* :func:`fold` — the length-preserving normalisation that the matcher applies to
  both watchlist terms and article text (width, traditional → simplified, ASCII
  case), so offsets found in folded text are offsets in the original.
* :class:`Segmenter` — decides whether a substring hit is a real *word*
  occurrence (``市长`` in ``副市长`` yes, in ``南京市长江大桥`` no) by cutting
  text exactly as ``jieba.Tokenizer().lcut(text, HMM=False)`` would.

jieba's dictionary is held as a compact trie (:class:`_WordDict`) in a cache
file that loads in milliseconds, without importing jieba; jieba itself is
imported only to build that file, from its own parse of its dict.txt.
"""

from __future__ import annotations

import array
import bisect
import contextlib
import functools
import hashlib
import importlib.util
import io
import itertools
import logging
import math
import os
import re
import secrets
import struct
import sys
import threading
import time
import zlib
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

log = logging.getLogger(__name__)

# Rare dictionary entries are often segmentation artefacts; a join across a
# line break should rest on a word people actually use.
_MIN_FREQ = 3


def _import_jieba() -> ModuleType:
    """Import jieba (only a dictionary build needs it), and silence its own stderr handler."""
    import jieba as jieba_module

    # jieba attaches a DEBUG-level stderr handler to its logger at import time;
    # a daemon's stderr is no place for "Building prefix dict…" chatter. We log
    # the load ourselves at INFO.
    jieba_module.setLogLevel(logging.WARNING)
    return jieba_module


def is_word(text: str) -> bool:
    """True if ``text`` is a (multi-character) word in jieba's dictionary."""
    return len(text) >= 2 and default().frequency(text) >= _MIN_FREQ


def spans_word(left: str, right: str) -> bool:
    """True if a dictionary word runs across the boundary between two strings."""
    if not left or not right:
        return False
    candidates = {left[-1:] + right[:1], left[-2:] + right[:1], left[-1:] + right[:2]}
    return any(len(c) >= 2 and is_word(c) for c in candidates)


# --- fold --------------------------------------------------------------------

# Code points handed to OpenCC when the table is built: CJK radicals, symbols
# and punctuation, Extension A, the URO, compatibility ideographs and forms, and
# the supplementary ideographic planes: ~100k characters, converted in one ~50 ms call.
_CJK_RANGES = (
    (0x2E80, 0x9FFF),
    (0xF900, 0xFAFF),
    (0xFE30, 0xFE4F),
    (0x20000, 0x323AF),
)


def _t2s_table() -> dict[int, str]:
    """Traditional → simplified, one character to one character, from OpenCC."""
    import opencc  # deferred: only folding needs it

    converter = opencc.OpenCC("t2s.json")
    chars = [chr(c) for lo, hi in _CJK_RANGES for c in range(lo, hi + 1)]
    # One call for every character: newline-separated, so no phrase rule
    # (乾隆 stays 乾隆) can join two of them; each converts as it would alone.
    converted = converter.convert("\n".join(chars)).split("\n")
    if len(converted) != len(chars):  # pragma: no cover - would be an OpenCC bug
        raise RuntimeError("OpenCC changed the number of lines while converting characters")
    # A one-to-many conversion would break offsets; OpenCC's t2s has none, but
    # such a character is better left alone than allowed to shift the text.
    return {ord(a): b for a, b in zip(chars, converted, strict=True) if a != b and len(b) == 1}


@functools.cache
def _fold_table() -> dict[int, str]:
    table = _t2s_table()
    for c in range(0xFF01, 0xFF5F):  # full-width ASCII block ！…～
        table[c] = chr(c - 0xFEE0)
    table[0x3000] = " "  # ideographic space
    # ASCII only: str.lower() would turn "İ" into two characters.
    for c in range(ord("A"), ord("Z") + 1):
        table[c] = chr(c + 32)
    for c, v in table.items():
        # Follow chains (薴 → 苧 → 苎; full-width Ａ → A → a) so that folding
        # folded text changes nothing: terms and texts may be folded twice.
        seen = {c}
        while ord(v) in table and ord(v) not in seen:
            seen.add(ord(v))
            v = table[ord(v)]
        table[c] = v
    log.debug("fold table: %d entries", len(table))
    return table


def fold(text: str) -> str:
    """Normalise ``text`` for matching, keeping its length (so offsets carry over).

    Full-width ASCII (U+FF01–U+FF5E) becomes ASCII, U+3000 a space,
    traditional characters simplified ones (OpenCC's t2s, character by
    character: ``國務院`` → ``国务院``), and ASCII letters lower case.
    ``len(fold(s)) == len(s)`` always; every other character is unchanged.
    """
    keys, targets, simple = _fold_chars()
    if not simple:
        return text.translate(_fold_table())
    # A few str.replace passes over the characters present beat translate's
    # per-character look-ups about 2×; results are identical because every
    # target is a fixed point (checked in _fold_chars). Which are present: the
    # regular expression's character class scans the string in C, where a set
    # test would make a str of each character (3× slower); it holds the
    # characters below U+10000 (a class with any above cannot be a look-up table),
    # so a text with one of those takes the set test.
    if _ABOVE_BMP.search(text) is None:
        present: Iterable[str] = set(_fold_pattern().findall(text))
    else:
        present = keys.intersection(text)
    for ch in present:
        text = text.replace(ch, targets[ch])
    return text


_ABOVE_BMP = re.compile("[\U00010000-\U0010ffff]")


@functools.cache
def _fold_pattern() -> re.Pattern[str]:
    """A character class of the folded characters below U+10000."""
    keys = sorted(k for k in _fold_chars()[0] if k <= "\uffff")
    return re.compile("[" + "".join(re.escape(k) for k in keys) + "]")


@functools.cache
def _fold_chars() -> tuple[frozenset[str], dict[str, str], bool]:
    table = _fold_table()
    targets = {chr(k): v for k, v in table.items()}
    keys = frozenset(targets)
    simple = all(v not in keys for v in targets.values())
    return keys, targets, simple


# --- jieba's dictionary as a trie ------------------------------------------------

# jieba 0.42's patterns for its accurate mode, copied so that cutting needs no
# jieba import: runs of these characters are cut by the dictionary; whitespace
# is kept as it is; anything else stands alone, one character a token. Single
# ASCII letters and digits cut apart by the route are glued back together.
_RE_HAN = re.compile(r"([\u4e00-\u9fd5a-zA-Z0-9+#&\._%\-]+)")
_RE_SKIP = re.compile(r"(\r\n|\s)")
_RE_ENG = re.compile(r"[a-zA-Z0-9]")
_RE_NOT_HAN = re.compile(r"[^\u4e00-\u9fd5a-zA-Z0-9+#&\._%\-]")
_HAN_ASCII = frozenset("+#&._%-")


def _in_block(ch: str) -> bool:
    """Is ``ch`` one of _RE_HAN's characters (those jieba cuts by the dictionary)?"""
    if "\u4e00" <= ch <= "\u9fd5":
        return True
    return ch.isascii() and (ch.isalnum() or ch in _HAN_ASCII)


def _block_start(text: str, lo: int, start: int) -> int:
    """Where the run of _RE_HAN characters that ends at or holds ``start`` begins,
    but not before ``lo``."""
    while start > lo and _in_block(text[start - 1]):
        start -= 1
    return start


# The cache file: this header; the word counts, a native uint32 array indexed by
# the word trie's key ids; the word trie; the pair trie (each trie starting at a
# multiple of 8, as marisa reads 8-byte fields); for each pair (by the pair trie's
# key ids) two bytes: the most characters any word holding the pair has before it,
# and after it. Header: magic, CRC-32 of every byte after it, key, total of all
# counts, longest word (in characters), number of words, sizes of the two tries,
# number of pairs.
_MAGIC = b"WJDICT\x00\x02"
_HEADER = struct.Struct("<8sI32sQIIIII")
_CHECKED_FROM = 12  # the CRC covers the file from here, header fields included
# Part of the key: a new layout, or another byte order or int size (the counts
# are a native array), must never read an old file.
_FORMAT = f"watcher jieba-dict 2 {sys.byteorder} I{array.array('I').itemsize}"


_CROSSING_CACHE = 16_384  # answers kept by crosses() (a few MB) before starting afresh
_PAIR_CACHE = 65_536  # pairs' reaches kept by crosses() (a few MB) before starting afresh


class _BadCache(Exception):
    """A cache file that must not be used (truncated, corrupt, another dictionary)."""


def _aligned(offset: int) -> int:
    return offset + (-offset % 8)


def _layout(words: int, words_size: int, pairs_size: int, pairs: int) -> tuple[int, int, int, int]:
    """Where the word trie, the pair trie and the pairs' reaches start, and where the file ends."""
    words_at = _aligned(_HEADER.size + 4 * words)
    pairs_at = _aligned(words_at + words_size)
    reach_at = pairs_at + pairs_size
    return words_at, pairs_at, reach_at, reach_at + 2 * pairs


class _WordDict:
    """jieba's prefix dictionary, answering jieba's questions with jieba's answers.

    jieba keeps every word with its count plus every prefix of a word with
    count 0 (so its walk along a sentence knows when to stop), and the sum of
    all counts. Here only the words with a count are kept, in a marisa trie
    whose prefix search is that walk; their counts in an array indexed by the
    trie's key ids; the total in the header. A second trie holds every pair
    of adjacent characters inside a word, so that "does a word run across this
    point?" is mostly answered by one look-up.
    """

    def __init__(self, data: bytes, key: bytes) -> None:
        """Check ``data`` (a whole cache file) and use it in place; :class:`_BadCache` if unfit."""
        import marisa_trie  # deferred: only a loaded dictionary needs it

        if len(data) < _HEADER.size:
            raise _BadCache(f"truncated: {len(data)} bytes, less than its header")
        fields = _HEADER.unpack_from(data)
        magic, crc, file_key, total, longest, words, words_size, pairs_size, pairs = fields
        if magic != _MAGIC:
            raise _BadCache("not a watcher dictionary file")
        if file_key != key:
            raise _BadCache("built from another dictionary")
        words_at, pairs_at, reach_at, size = _layout(words, words_size, pairs_size, pairs)
        if len(data) < size:
            raise _BadCache(f"truncated: {len(data)} bytes of {size}")
        if len(data) > size:
            raise _BadCache(f"{len(data)} bytes where {size} were written")
        view = memoryview(data)
        # marisa trusts its input, and a damaged trie could crash the process or
        # answer wrongly, so every byte is checked (under a millisecond).
        if zlib.crc32(view[_CHECKED_FROM:]) != crc:
            raise _BadCache("checksum mismatch")
        self._data = data  # the tries and the counts are views into it
        self._trie: Any = marisa_trie.Trie()
        self._trie.map(view[words_at : words_at + words_size])
        self._pairs: Any = marisa_trie.Trie()
        self._pairs.map(view[pairs_at:reach_at])
        self._freqs = view[_HEADER.size : _HEADER.size + 4 * words].cast("I")
        self._reach = view[reach_at:size]
        if len(self._trie) != words:
            raise _BadCache(f"trie holds {len(self._trie)} words, header says {words}")
        if len(self._pairs) != pairs:
            raise _BadCache(f"pair trie holds {len(self._pairs)} pairs, header says {pairs}")
        # crosses() answers by the few characters around a point that can matter,
        # and the same few characters recur across texts: answers kept by them.
        self._crossing: dict[tuple[str, int], bool] = {}
        # The pair trie's answer, as (before, after) or None, kept by pair: one dict
        # look-up where marisa's get and two reads of the reach bytes were.
        self._pair_reach: dict[str, tuple[int, int] | None] = {}
        self.words = words
        self.total = total
        self.longest = longest
        self._logtotal = math.log(total)
        # jieba scores a step over a character that is no word as count 1.
        self._unknown = math.log(1) - self._logtotal

    def frequency(self, word: str) -> int:
        """jieba's count for ``word``; 0 for a mere prefix or no word."""
        i = self._trie.get(word)
        return 0 if i is None else self._freqs[i]

    def weight(self, word: str) -> float:
        """jieba's score of a step over ``word``: log(count or 1) - log(total)."""
        i = self._trie.get(word)
        return self._unknown if i is None else math.log(self._freqs[i]) - self._logtotal

    def route(self, sentence: str, *, whole: bool = True) -> list[int]:
        """jieba's get_DAG and calc in one pass: for each start, where the best route's word ends.

        The same floating-point sums in the same order as jieba's; of equal
        scores the longer word wins, as jieba's ``max`` over (score, end) has
        it. ``whole=False`` leaves out the word that is the whole sentence.
        """
        prefixes = self._trie.iter_prefixes_with_ids
        freqs, logtotal, longest, log = self._freqs, self._logtotal, self.longest, math.log
        n = len(sentence)
        score = [0.0] * (n + 1)
        ends = list(range(n))  # a start that no word begins at steps one character
        for k in range(n - 1, -1, -1):
            best = -math.inf
            for w, i in prefixes(sentence[k : k + longest]):  # shortest first
                x = k + len(w) - 1
                s = log(freqs[i]) - logtotal + score[x + 1]
                if s >= best and (whole or k or x != n - 1):
                    best, ends[k] = s, x
            if best == -math.inf:
                # The one-character step, scored as jieba scores it: by the
                # character's own count when only the whole was left out.
                step = self._unknown if whole or k else self.weight(sentence[:1])
                best = step + score[k + 1]
            score[k] = best
        return ends

    def cut(self, text: str) -> Iterator[str]:
        """``jieba.Tokenizer.cut(text, cut_all=False, HMM=False)``, token for token."""
        for block in _RE_HAN.split(text):
            if not block:
                continue
            if _RE_HAN.match(block):
                yield from self._cut_block(block)
                continue
            for piece in _RE_SKIP.split(block):
                if _RE_SKIP.match(piece):
                    yield piece
                else:
                    yield from piece

    def _cut_block(self, block: str) -> Iterator[str]:
        ends = self.route(block)
        x, n, buf = 0, len(block), ""
        while x < n:
            y = ends[x] + 1
            word = block[x:y]
            if len(word) == 1 and _RE_ENG.match(word):
                buf += word
            else:
                if buf:
                    yield buf
                    buf = ""
                yield word
            x = y
        if buf:
            yield buf

    def _reach_of(self, chars: str) -> tuple[int, int] | None:
        """How far words holding the pair ``chars`` reach before and after it (None:
        no word holds it), from the pair trie, kept for the next time."""
        pair = self._pairs.get(chars)
        reach = None if pair is None else (self._reach[2 * pair], self._reach[2 * pair + 1])
        if len(self._pair_reach) >= _PAIR_CACHE:
            self._pair_reach.clear()
        self._pair_reach[chars] = reach
        return reach

    def crosses(self, text: str, p: int) -> bool:
        """Does some word ``text[i:j]`` with ``i < p < j`` exist?"""
        if p <= 0 or p >= len(text):
            return False
        # Such a word holds the pair of characters around p, and most pairs
        # met at a hit's edge are inside no word at all.
        chars = text[p - 1 : p + 1]
        try:
            reach = self._pair_reach[chars]
        except KeyError:
            reach = self._reach_of(chars)
        if reach is None:
            return False
        # No word holding the pair starts more than ``before`` characters ahead
        # of it or ends more than ``after`` past it: only that stretch matters.
        before, after = reach
        lo, hi = max(0, p - 1 - before), min(len(text), p + 1 + after)
        key = (text[lo:hi], p - lo)
        known = self._crossing.get(key)
        if known is not None:
            return known
        prefixes = self._trie.prefixes
        answer = False
        for i in range(p - 1, lo - 1, -1):
            found = prefixes(text[i:hi])  # shortest first
            if found and len(found[-1]) > p - i:
                answer = True
                break
        if len(self._crossing) >= _CROSSING_CACHE:
            self._crossing.clear()
        self._crossing[key] = answer
        return answer


def _jieba_dict_file() -> Path:
    """jieba's bundled dict.txt, found without importing jieba."""
    spec = importlib.util.find_spec("jieba")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("jieba is not installed", name="jieba")
    return Path(next(iter(spec.submodule_search_locations))) / "dict.txt"


def _dict_key(source: bytes, extra: Sequence[tuple[str, int]]) -> bytes:
    """What a cache file is built from: the format, jieba's dict.txt and the extra words."""
    h = hashlib.sha256(_FORMAT.encode())
    h.update(hashlib.sha256(source).digest())
    h.update(repr(tuple(extra)).encode())
    return h.digest()


def _build(source: bytes, extra: Sequence[tuple[str, int]], key: bytes) -> bytes:
    """A cache file's bytes: jieba's own parse of ``source`` plus ``extra``, as a trie."""
    import marisa_trie

    jieba_module = _import_jieba()
    tokenizer = jieba_module.Tokenizer()
    # jieba's own parser and add_word, so counts, duplicate lines and the total
    # are exactly jieba's.
    tokenizer.FREQ, tokenizer.total = tokenizer.gen_pfdict(io.BytesIO(source))
    tokenizer.initialized = True  # else add_word would load (and cache) the dictionary
    for word, freq in extra:
        tokenizer.add_word(word, freq=freq)
    counts = {w: f for w, f in tokenizer.FREQ.items() if f > 0}
    words = marisa_trie.Trie(counts.keys())
    reach: dict[str, tuple[int, int]] = {}  # pair → most characters before it, after it
    for w in counts:
        for k in range(len(w) - 1):
            before, after = reach.get(w[k : k + 2], (0, 0))
            reach[w[k : k + 2]] = (max(before, k), max(after, len(w) - k - 2))
    pairs = marisa_trie.Trie(reach)
    reaches = bytearray(2 * len(pairs))
    for pair, i in pairs.iteritems():
        reaches[2 * i : 2 * i + 2] = bytes(reach[pair])  # words are far below 256 characters
    freqs = array.array("I", bytes(4 * len(words)))
    for word, i in words.iteritems():
        freqs[i] = counts[word]
    words_blob, pairs_blob = words.tobytes(), pairs.tobytes()
    words_at, pairs_at, reach_at, size = _layout(
        len(words), len(words_blob), len(pairs_blob), len(pairs)
    )
    fields = (key, tokenizer.total, max(map(len, counts)), len(words))
    out = bytearray(size)
    _HEADER.pack_into(out, 0, _MAGIC, 0, *fields, len(words_blob), len(pairs_blob), len(pairs))
    out[_HEADER.size : _HEADER.size + 4 * len(words)] = freqs.tobytes()
    out[words_at : words_at + len(words_blob)] = words_blob
    out[pairs_at:reach_at] = pairs_blob
    out[reach_at:] = reaches
    struct.pack_into("<I", out, len(_MAGIC), zlib.crc32(memoryview(out)[_CHECKED_FROM:]))
    return bytes(out)


def _write_atomic(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data``: readers, and other writers, see a whole file or none."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            # Else a crash soon after the rename could leave a name with no data.
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _load_words(cache_dir: Path | None, extra: Sequence[tuple[str, int]]) -> tuple[_WordDict, str]:
    """The dictionary from its cache file in ``cache_dir``, built first if missing or unfit.

    Returns it and where it came from. The file is named by its key (a hash of
    jieba's dict.txt and ``extra``), so a changed dictionary is a new file. It
    is written atomically, so processes building it at once each write a whole,
    identical file, and the last rename wins. A file that fails its checks is
    rebuilt; one that cannot be written leaves the dictionary in memory.
    """
    dict_file = _jieba_dict_file()
    source = dict_file.read_bytes()
    key = _dict_key(source, extra)
    if cache_dir is None:
        return _WordDict(_build(source, extra, key), key), f"{dict_file} (no cache folder given)"
    path = cache_dir / f"jieba-dict-{key.hex()[:16]}.bin"
    try:
        # Read, not mapped: the checksum touches every page anyway, and a file
        # truncated in place under a mapping would kill the process (SIGBUS).
        return _WordDict(path.read_bytes(), key), str(path)
    except FileNotFoundError:
        pass
    except (OSError, _BadCache) as exc:
        log.warning("%s: %s; rebuilding it", path, exc)
    data = _build(source, extra, key)
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        _write_atomic(path, data)
    except OSError as exc:
        log.warning("%s: cannot write the dictionary cache (%s); using it from memory", path, exc)
        return _WordDict(data, key), f"{dict_file} (not cached)"
    # The tokenizer cache of watcher 0.1 (9 MB), read by nothing now.
    for old in cache_dir.glob("jieba-*.cache"):
        with contextlib.suppress(OSError):
            old.unlink()
    return _WordDict(data, key), f"{path} (built)"


# --- word occurrences ----------------------------------------------------------

# A clause ends at sentence or clause punctuation or a line break (text is folded,
# so full-width ，；：！？ have become ASCII). Quotes and brackets are not listed:
# jieba never joins across them anyway.
_CLAUSE_BREAKS = frozenset("。！？；，、：…,.;:!?\n\r\u2028\u2029")
# How far the window may reach from the hit on each side.
_REACH = 40
# Re-segmentation levels: a token's parts, then parts of parts of 3+ characters.
_MAX_DEPTH = 3

# Hunan place names that jieba's dictionary lacks, or holds only as the prefix
# of a longer entry (岳阳 of 岳阳市): without them 湖南岳阳 cuts as 湖/南岳/阳 and
# 岳阳市 has no part 岳阳. They are not watchlist terms and never will be: the
# segmentation of a text must not depend on what the watchlists hold.
_EXTRA_WORDS = (
    "岳阳",
    "开福",
    "岳塘",
    "雨湖",
    "芦淞",
    "石峰",
    "渌口",
    "珠晖",
    "雁峰",
    "蒸湘",
    "北塔",
    "云溪",
    "赫山",
    "苏仙",
    "娄星",
)
# Below every entry of jieba's dictionary (its rarest words have 2), so an extra
# word wins only where the alternative strands single characters (岳/阳), never
# against an existing word over the same characters: 南京市/长江大桥 and
# 长沙市 cut as before.
_EXTRA_FREQ = 1
_EXTRA = tuple((word, _EXTRA_FREQ) for word in _EXTRA_WORDS)


def _ascii_alnum(ch: str) -> bool:
    return ch.isascii() and ch.isalnum()


class Segmenter:
    """Decides whether a substring hit is a word occurrence; one per process.

    Cuts as a private ``jieba.Tokenizer`` with the extra words added would
    (HMM off), over jieba's dictionary held as a trie (:class:`_WordDict`),
    loaded lazily on first need from its cache file in ``cache_dir`` (built
    there from jieba's dict.txt the first time). With ``cache_dir=None`` no
    file is written anywhere: the trie is built in memory on each load, which
    takes about a second. HMM is never used: its guesses invent words (以省,
    湖电排) and split names (李殿/勋).
    """

    def __init__(self, cache_dir: Path | None = None, *, cache_size: int = 8192) -> None:
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self._words: _WordDict | None = None
        self._lock = threading.Lock()
        # The same clause is checked for many terms (and the same token is
        # re-segmented for many clauses), so both are memoised by string.
        self._cuts = functools.lru_cache(maxsize=cache_size)(self._window_cuts)
        self._parts = functools.lru_cache(maxsize=cache_size)(self._part_cuts)

    def __repr__(self) -> str:
        state = "loaded" if self.loaded else "not loaded"
        return f"<Segmenter cache_dir={self.cache_dir} {state}>"

    @property
    def loaded(self) -> bool:
        """True once the dictionary is in memory."""
        return self._words is not None

    def warm(self) -> None:
        """Load the dictionary now (a daemon calls this before forking workers)."""
        self._load()

    def _load(self) -> _WordDict:
        words = self._words
        if words is not None:
            return words
        with self._lock:
            if self._words is None:
                started = time.perf_counter()
                self._words, source = _load_words(self.cache_dir, _EXTRA)
                log.info(
                    "loaded jieba's dictionary (%d words) from %s in %.3f s",
                    self._words.words,
                    source,
                    time.perf_counter() - started,
                )
            return self._words

    def frequency(self, word: str) -> int:
        """The word's count in the dictionary (0 for a mere prefix or no word)."""
        return self._load().frequency(word)

    def cut(self, text: str) -> list[str]:
        """jieba's accurate-mode tokens for ``text``, HMM off (for checks and debugging)."""
        return list(self._load().cut(text))

    def parts(self, token: str) -> list[str]:
        """The parts ``token`` is built from: jieba's best route that is not the token itself."""
        cuts = self._parts(token)
        return [token[a:b] for a, b in itertools.pairwise(cuts)]

    def is_word_at(self, text: str, start: int, end: int) -> bool:
        """Is ``text[start:end]`` a word occurrence? ``text`` is already folded.

        The rule, applied to each end of the hit on its own:

        a. An end whose character (the term's first character at ``start``,
           its last at ``end``) is an ASCII letter or digit is good when the
           character outside it is not one (``ai`` not in ``training``, ``5g``
           not in ``15g``). An all-ASCII term is judged by this alone, without
           loading jieba.
        b. Any other end is judged by jieba (accurate mode, HMM off) on a
           window: from the hit out to the nearest sentence or clause
           punctuation (。！？；，、：… and ASCII ,.;:!?) or line break on each
           side, at most 40 characters each way. The end is good if it falls on
           a token boundary (so a hit may span several tokens: 穿透/式/监管).
           If it falls inside a token, the token is split into the parts it is
           built from — jieba's best route through the token that does not use
           the whole token as one word (安全生产 → 安全/生产, 副市长 → 副/市长,
           长沙市 → 长沙/市) — and the end is good if it falls between two
           parts of which at least one has two or more characters. (A cut
           between two lone characters is no cut between parts: every
           two-character word splits that way, 服务 → 服/务, and 和服 is not a
           word in 和/服务.) An end inside a part of three or more characters
           is looked for the same way in that part's own parts, at most two
           levels below the token.

        The hit is a word when both ends are good: 市长 is one in 副市长 and
        市长表示 but not in 南京市/长江大桥 (its end cuts 长江), 沙市 not in
        长沙市 (长/沙 are not parts). The dictionary is jieba's own plus a few
        Hunan place names it lacks (岳阳 …) at a frequency below all of its
        words; watchlist terms are never added, so how a text is cut does not
        depend on what the watchlists hold.
        """
        if not 0 <= start < end <= len(text):
            raise ValueError(f"bad hit {start}:{end} in a text of length {len(text)}")
        ascii_start = _ascii_alnum(text[start])
        ascii_end = _ascii_alnum(text[end - 1])
        if ascii_start and start > 0 and _ascii_alnum(text[start - 1]):
            return False
        if ascii_end and end < len(text) and _ascii_alnum(text[end]):
            return False
        if ascii_start and ascii_end:
            return True

        # Fast path: where no dictionary word runs across an end, no cut of any
        # window can put a token across it, so the end is a token boundary.
        # Most hits are settled here without segmenting anything.
        crosses = (self._words or self._load()).crosses
        start_sure = ascii_start or not crosses(text, start)
        end_sure = ascii_end or not crosses(text, end)
        if start_sure and end_sure:
            return True

        lo, hi = self._clause(text, start, end)
        # jieba cuts each run of _RE_HAN characters on its own: the runs holding
        # the hit's ends are all that decides (the same tokens, the same sums).
        lo = _block_start(text, lo, start)
        stop = _RE_NOT_HAN.search(text, end, hi)
        if stop is not None:
            hi = stop.start()
        lo = self._forced_cut(text, lo, start, start_sure and not ascii_start)
        window = text[lo:hi]
        cuts = self._cuts(window)
        s, e = start - lo, end - lo
        return (start_sure or self._end_ok(window, cuts, s, s, e)) and (
            end_sure or self._end_ok(window, cuts, e, s, e)
        )

    # --- internals -------------------------------------------------------------

    def _crossed(self, text: str, p: int) -> bool:
        """Does some dictionary word ``text[i:j]`` with ``i < p < j`` exist?"""
        return self._load().crosses(text, p)

    def _forced_cut(self, text: str, lo: int, start: int, free: bool) -> int:
        """Where the window may begin instead of ``lo``: the last point ``q <= start``
        that every cut of ``text[lo:]`` passes through (``free``: ``start`` is one).

        jieba's route through a block is decided from its end backwards; at a point no
        dictionary word runs across, every route through the block passes, so the
        tokens from there on are the same whether the block begins there or earlier,
        with the same sums (a start's score depends only on what lies after it). The
        one exception is jieba gluing lone ASCII letters and digits: a point between
        two of them is not taken.
        """
        for q in range(start, lo, -1):
            if _ascii_alnum(text[q - 1]) and _ascii_alnum(text[q]):
                continue
            if (free and q == start) or not self._crossed(text, q):
                return q
        return lo

    @staticmethod
    def _clause(text: str, start: int, end: int) -> tuple[int, int]:
        """The window around a hit: out to clause punctuation, at most _REACH each side."""
        lo, floor = start, max(0, start - _REACH)
        while lo > floor and text[lo - 1] not in _CLAUSE_BREAKS:
            lo -= 1
        hi, ceiling = end, min(len(text), end + _REACH)
        while hi < ceiling and text[hi] not in _CLAUSE_BREAKS:
            hi += 1
        return lo, hi

    def _window_cuts(self, window: str) -> tuple[int, ...]:
        """Token boundaries of ``window``, 0 and len included."""
        cuts = [0]
        for token in self._load().cut(window):
            cuts.append(cuts[-1] + len(token))
        return tuple(cuts)

    def _part_cuts(self, token: str) -> tuple[int, ...]:
        """Boundaries of ``token``'s best route through jieba's DAG without the whole-token edge."""
        # The route without the word that is the whole token; a token that is
        # no word at all still steps over its first character, as jieba does.
        ends = self._load().route(token, whole=False)
        cuts = [0]
        while cuts[-1] < len(token):
            cuts.append(ends[cuts[-1]] + 1)
        return tuple(cuts)

    def _end_ok(self, window: str, cuts: tuple[int, ...], p: int, s: int, e: int) -> bool:
        """Rule (b) for one end ``p`` of the hit ``window[s:e]``."""
        i = bisect.bisect_left(cuts, p)
        if cuts[i] == p:
            return True
        a, b = cuts[i - 1], cuts[i]
        return self._inside_ok(window[a:b], p - a, 1)

    def _inside_ok(self, token: str, p: int, depth: int) -> bool:
        """Does offset ``p`` (strictly inside ``token``) fall between two of its parts?"""
        cuts = self._parts(token)
        i = bisect.bisect_left(cuts, p)
        if cuts[i] == p:
            # A cut between two lone characters is no cut between parts: every
            # two-character word re-segments that way (服务 → 服/务).
            return cuts[i] - cuts[i - 1] >= 2 or cuts[i + 1] - cuts[i] >= 2
        a, b = cuts[i - 1], cuts[i]
        if b - a >= 3 and depth < _MAX_DEPTH:
            return self._inside_ok(token[a:b], p - a, depth + 1)
        return False


_DEFAULT: Segmenter | None = None


def default(cache_dir: Path | None = None) -> Segmenter:
    """The process's shared Segmenter, so the splitter and the matcher keep one
    jieba dictionary in memory between them. The first caller's ``cache_dir``
    wins."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = Segmenter(cache_dir)
    return _DEFAULT

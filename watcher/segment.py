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
  occurrence (``市长`` in ``副市长`` yes, in ``南京市长江大桥`` no), with its own
  lazily loaded jieba tokenizer.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import logging
import threading
import time
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import jieba

log = logging.getLogger(__name__)

# Rare dictionary entries are often segmentation artefacts; a join across a
# line break should rest on a word people actually use.
_MIN_FREQ = 3


def _import_jieba() -> ModuleType:
    """Import jieba on first need, and silence its own stderr handler."""
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
    # target is a fixed point (checked in _fold_chars).
    for ch in keys.intersection(text):
        text = text.replace(ch, targets[ch])
    return text


@functools.cache
def _fold_chars() -> tuple[frozenset[str], dict[str, str], bool]:
    table = _fold_table()
    targets = {chr(k): v for k, v in table.items()}
    keys = frozenset(targets)
    simple = all(v not in keys for v in targets.values())
    return keys, targets, simple


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


def _ascii_alnum(ch: str) -> bool:
    return ch.isascii() and ch.isalnum()


class Segmenter:
    """Decides whether a substring hit is a word occurrence; one per process.

    Owns a private ``jieba.Tokenizer`` (the global one's cache lives in a
    shared temp folder and its users may add words), loaded lazily on first
    need, with its cache file in ``cache_dir``. With ``cache_dir=None`` no cache
    file is written anywhere: the dictionary is parsed from jieba's dict.txt
    on each load. HMM is never used: its guesses invent words (以省, 湖电排)
    and split names (李殿/勋).
    """

    def __init__(self, cache_dir: Path | None = None, *, cache_size: int = 8192) -> None:
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self._tokenizer: jieba.Tokenizer | None = None
        self._lock = threading.Lock()
        # The same clause is checked for many terms (and the same token is
        # re-segmented for many clauses), so both are memoised by string.
        self._cuts = functools.lru_cache(maxsize=cache_size)(self._window_cuts)
        self._parts = functools.lru_cache(maxsize=cache_size)(self._part_cuts)
        self._max_len: int | None = None

    def __repr__(self) -> str:
        state = "loaded" if self.loaded else "not loaded"
        return f"<Segmenter cache_dir={self.cache_dir} {state}>"

    @property
    def loaded(self) -> bool:
        """True once the dictionary is in memory."""
        return self._tokenizer is not None

    def warm(self) -> None:
        """Load the dictionary now (a daemon calls this before forking workers)."""
        self._load()

    def _load(self) -> jieba.Tokenizer:
        tokenizer = self._tokenizer
        if tokenizer is not None:
            return tokenizer
        with self._lock:
            if self._tokenizer is not None:
                return self._tokenizer
            jieba_module = _import_jieba()
            started = time.perf_counter()
            tokenizer = jieba_module.Tokenizer()
            if self.cache_dir is None:
                # Tokenizer.initialize() would write jieba.cache to the shared
                # temp folder; build the same prefix dictionary without it.
                tokenizer.FREQ, tokenizer.total = tokenizer.gen_pfdict(tokenizer.get_dict_file())
                tokenizer.initialized = True
                source = "jieba's dict.txt (no cache folder given)"
            else:
                self.cache_dir.mkdir(parents=True, exist_ok=True)
                tokenizer.tmp_dir = str(self.cache_dir)
                # Versioned: jieba trusts a cache of the bundled dictionary
                # without comparing dates, so an upgrade must not reuse it.
                tokenizer.cache_file = f"jieba-{jieba_module.__version__}.cache"
                tokenizer.initialize()
                source = str(self.cache_dir / tokenizer.cache_file)
            for word in _EXTRA_WORDS:
                tokenizer.add_word(word, freq=_EXTRA_FREQ)
            log.info(
                "loaded jieba dictionary (%d entries) from %s in %.2f s",
                len(tokenizer.FREQ),
                source,
                time.perf_counter() - started,
            )
            self._tokenizer = tokenizer
            return tokenizer

    def frequency(self, word: str) -> int:
        """The word's count in the dictionary (0 for a mere prefix or no word)."""
        return int(self._load().FREQ.get(word, 0))

    def cut(self, text: str) -> list[str]:
        """jieba's accurate-mode tokens for ``text``, HMM off (for checks and debugging)."""
        return self._load().lcut(text, cut_all=False, HMM=False)

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
        start_sure = ascii_start or not self._crossed(text, start)
        end_sure = ascii_end or not self._crossed(text, end)
        if start_sure and end_sure:
            return True

        lo, hi = self._clause(text, start, end)
        window = text[lo:hi]
        cuts = self._cuts(window)
        s, e = start - lo, end - lo
        return (start_sure or self._end_ok(window, cuts, s, s, e)) and (
            end_sure or self._end_ok(window, cuts, e, s, e)
        )

    # --- internals -------------------------------------------------------------

    def _crossed(self, text: str, p: int) -> bool:
        """Does some dictionary word ``text[i:j]`` with ``i < p < j`` exist?

        jieba's prefix dictionary holds every prefix of every word (with
        frequency 0), so the walk from each start stops as soon as no word
        can continue.
        """
        if p <= 0 or p >= len(text):
            return False
        freq = self._load().FREQ
        n = len(text)
        for i in range(max(0, p - self._longest() + 1), p):
            # A word from i across p starts with text[i:p+1]: one look-up
            # rules out most starts.
            j = p + 1
            f = freq.get(text[i:j])
            while f is not None:
                if f:
                    return True
                j += 1
                if j > n:
                    break
                f = freq.get(text[i:j])
        return False

    def _longest(self) -> int:
        if self._max_len is None:
            self._max_len = max(len(w) for w in self._load().FREQ)
        return self._max_len

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
        for token in self._load().cut(window, cut_all=False, HMM=False):
            cuts.append(cuts[-1] + len(token))
        return tuple(cuts)

    def _part_cuts(self, token: str) -> tuple[int, ...]:
        """Boundaries of ``token``'s best route through jieba's DAG without the whole-token edge."""
        tokenizer = self._load()
        n = len(token)
        dag = tokenizer.get_DAG(token)
        # DAG[0] lists where words starting at 0 end; dropping n-1 removes the
        # token itself. A token that is no word at all still keeps its first
        # character as a one-character step, as jieba does for unknown text.
        dag[0] = [x for x in dag[0] if x != n - 1] or [0]
        route: dict[int, tuple[float, int]] = {}
        tokenizer.calc(token, dag, route)
        cuts = [0]
        while cuts[-1] < n:
            cuts.append(route[cuts[-1]][1] + 1)
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

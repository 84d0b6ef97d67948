"""Word knowledge from jieba; the only module that imports jieba.

Splitting needs a cheap question answered — "is this string a dictionary
word?" — to tell an OCR line broken mid-word (``小区配`` / ``套设施``) from a
sub-heading followed by a new paragraph. Loading jieba's dictionary as a set
takes a fraction of a second and is done once, lazily, only when a page has
such an ambiguous line.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path

log = logging.getLogger(__name__)

# Rare dictionary entries are often segmentation artefacts; a join across a
# line break should rest on a word people actually use.
_MIN_FREQ = 3


@functools.cache
def _dictionary() -> frozenset[str]:
    import jieba  # deferred: importing is cheap, but keep start-up lean

    path = Path(jieba.__file__).with_name("dict.txt")
    words = set()
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            parts = line.split(" ")
            if len(parts) >= 2 and len(parts[0]) >= 2 and int(parts[1]) >= _MIN_FREQ:
                words.add(parts[0])
    log.debug("loaded %d words from %s", len(words), path)
    return frozenset(words)


def is_word(text: str) -> bool:
    """True if ``text`` is a (multi-character) word in jieba's dictionary."""
    return text in _dictionary()


def spans_word(left: str, right: str) -> bool:
    """True if a dictionary word runs across the boundary between two strings."""
    if not left or not right:
        return False
    candidates = {left[-1:] + right[:1], left[-2:] + right[:1], left[-1:] + right[:2]}
    return any(len(c) >= 2 and is_word(c) for c in candidates)

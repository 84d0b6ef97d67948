"""How far two careful readers agree: the second reading against the first.

    python bench/labels/agreement.py

``second/labels.jsonl`` holds a second, independent reading of 128 items of the
four batches (per batch 24 drawn from the items the first reader gave a ``core``
for some topic, 8 from the rest, by a seeded generator), by a reader who saw only
the guide, not the first labels or the notes. Per topic it prints the two
readers' ``core`` counts, the items on which one said ``core`` and the other
``none`` (the disagreements that would move the benchmark's P and R; ``mention``
counts neither way there), F1 of the second reading against the first, and the
share of identical labels.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

LABELS = Path(__file__).resolve().parent
BATCHES = ("", "fresh", "fresh3", "fresh4")
TOPICS = ("safety", "urban-renewal", "flood", "rural", "investment")


def _read(path: Path) -> dict[str, dict[str, str]]:
    out = {}
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            rec = json.loads(line)
            out[rec.pop("id")] = rec
    return out


def main() -> int:
    first: dict[str, dict[str, str]] = {}
    for batch in BATCHES:
        first.update(_read(LABELS / batch / "labels.jsonl"))
    second = _read(LABELS / "second" / "labels.jsonl")
    print(f"{len(second)} items read twice")
    print(f"{'topic':14} core 1st 2nd | core→none none→core |   F1 | same label")
    pooled = [0, 0, 0]
    for topic in TOPICS:
        pairs = [(first[i][topic], second[i][topic]) for i in second]
        both = sum(p == ("core", "core") for p in pairs)
        lost = sum(p == ("core", "none") for p in pairs)
        added = sum(p == ("none", "core") for p in pairs)
        pooled = [pooled[0] + both, pooled[1] + lost, pooled[2] + added]
        f1 = 2 * both / (2 * both + lost + added) if both + lost + added else 1.0
        cores = [sum(p[k] == "core" for p in pairs) for k in (0, 1)]
        same = sum(a == b for a, b in pairs)
        print(
            f"{topic:14} {cores[0]:8} {cores[1]:3} | {lost:9} {added:9} | {f1:.2f} | "
            f"{same}/{len(pairs)}"
        )
    both, lost, added = pooled
    pooled_f1 = 2 * both / (2 * both + lost + added) if both + lost + added else 1.0
    print(f"{'micro':14} F1 {pooled_f1:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

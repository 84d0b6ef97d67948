"""Draw a second, fresh batch of items for the relevance benchmark (never tuned on).

    python bench/labels/fresh_sample.py [--corpus ../shared/corpus] > bench/labels/fresh/items.jsonl
    python bench/labels/fresh_sample.py --batch 3 > bench/labels/fresh3/items.jsonl
    python bench/labels/fresh_sample.py --batch 4 > bench/labels/fresh4/items.jsonl
    python bench/labels/fresh_sample.py --batch 5 > bench/labels/fresh5/items.jsonl

Drawn after the bundled topics were tuned, so that it measures them on items nobody
looked at while writing them: the same corpus, the same item cutting and the same
wide word nets as ``sample.py``, a different seed, and no item of the first batch:

- ``fresh:random``: 120 items spread over the months of 2022–2026;
- ``fresh:broad:<topic>``: 30 items per bundled topic whose text holds a word of the
  topic's wide net (``sample.BROAD``).

``--batch 3`` draws a third batch the same way (another seed, none of the items of
the batches before it), with 40 more items from the narrower work-safety net
(``sample.TOPUP``), since work safety is rare in a national programme; ``--batch 4``
a fourth, with 40 more from the work-safety net and 30 from the urban-renewal one;
``--batch 5`` a fifth the same way.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from sample import FOLDER, ROOT, draw

SEEDS = {2: 20261205, 3: 20261207, 4: 20261209, 5: 20261211}
FOLDERS = {2: "fresh", 3: "fresh3", 4: "fresh4", 5: "fresh5"}
# Extra items from the narrower nets (``sample.TOPUP``) of topics a random draw rarely
# reaches: work safety in a national programme; urban renewal, of which batch 3 had
# only four core items.
TOPUPS = {
    2: {},
    3: {"safety": 40},
    4: {"safety": 40, "urban-renewal": 30},
    5: {"safety": 40, "urban-renewal": 30},
}
RANDOM_ITEMS = 120
BROAD_ITEMS = 30


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus")
    ap.add_argument("--batch", type=int, choices=sorted(SEEDS), default=2)
    args = ap.parse_args(argv)
    folder = args.corpus / FOLDER
    if not folder.is_dir():
        print(f"corpus not found: {folder}", file=sys.stderr)
        return 1
    taken: set[tuple[str, int]] = set()
    labels = ROOT / "bench" / "labels"
    earlier = [labels] + [labels / FOLDERS[b] for b in SEEDS if b < args.batch]
    for batch in earlier:
        with (batch / "items.jsonl").open(encoding="utf-8") as fh:
            for line in fh:
                rec = json.loads(line)
                taken.add((rec["file"], rec["item"]))
    for rec in draw(
        folder,
        SEEDS[args.batch],
        random_items=RANDOM_ITEMS,
        broad_items=BROAD_ITEMS,
        topup=TOPUPS[args.batch],
        taken=frozenset(taken),
        label="fresh:",
    ):
        print(json.dumps(rec, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())

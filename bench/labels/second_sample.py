"""Draw the items of the second reading (``second/``) and print them for the reader.

    python bench/labels/second_sample.py [--corpus ../shared/corpus] > shard.txt

Per batch, 24 items drawn from those the first reader gave ``core`` for some topic
and 8 from the rest (seeded; no seed-page articles), shuffled, each printed as
``=== ITEM <id>`` and its ``###`` item from the corpus.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

from sample import ROOT, items

SEED = 20261201
LABELS = ROOT / "bench" / "labels"
BATCHES = ("", "fresh", "fresh3", "fresh4")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus")
    args = ap.parse_args(argv)
    rnd = random.Random(SEED)
    chosen = []
    for batch in BATCHES:
        with (LABELS / batch / "items.jsonl").open(encoding="utf-8") as fh:
            recs = {r["id"]: r for r in map(json.loads, fh)}
        with (LABELS / batch / "labels.jsonl").open(encoding="utf-8") as fh:
            labs = [r for r in map(json.loads, fh) if r["id"] in recs]
        pos = [r["id"] for r in labs if "core" in r.values()]
        rest = [r["id"] for r in labs if "core" not in r.values()]
        chosen += [recs[i] for i in rnd.sample(pos, 24) + rnd.sample(rest, 8)]
    rnd.shuffle(chosen)
    for rec in chosen:
        title, text = {n: (t, x) for n, t, x in items(args.corpus / rec["file"])}[rec["item"]]
        print(f"=== ITEM {rec['id']}\n### {title}\n{text}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

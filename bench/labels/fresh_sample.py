"""Draw a second, fresh batch of items for the relevance benchmark (never tuned on).

    python bench/labels/fresh_sample.py [--corpus ../shared/corpus] > bench/labels/fresh/items.jsonl
    python bench/labels/fresh_sample.py --batch 3 > bench/labels/fresh3/items.jsonl

Drawn after the bundled topics were tuned, so that it measures them on items nobody
looked at while writing them: the same corpus, the same item cutting and the same
wide word nets as ``sample.py``, a different seed, and no item of the first batch:

- ``fresh:random``: 120 items spread over the months of 2022–2026;
- ``fresh:broad:<topic>``: 30 items per bundled topic whose text holds a word of the
  topic's wide net (``sample.BROAD``).

``--batch 3`` draws a third batch the same way (another seed, none of the items of
the batches before it), with 40 more items from the narrower work-safety net
(``sample.TOPUP``), since work safety is rare in a national programme.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections import defaultdict
from pathlib import Path

from sample import BROAD, FOLDER, ROOT, TOPUP, items, sha1

SEEDS = {2: 20261205, 3: 20261207}
FOLDERS = {2: "fresh", 3: "fresh3"}
SAFETY_TOPUP = {2: 0, 3: 40}
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
    taken = set()
    labels = ROOT / "bench" / "labels"
    earlier = [labels] + [labels / FOLDERS[b] for b in SEEDS if b < args.batch]
    for batch in earlier:
        with (batch / "items.jsonl").open(encoding="utf-8") as fh:
            for line in fh:
                rec = json.loads(line)
                taken.add((rec["file"], rec["item"]))
    rnd = random.Random(SEEDS[args.batch])
    by_month: dict[str, list[tuple[str, int, str, str]]] = defaultdict(list)
    every: list[tuple[str, int, str, str]] = []
    for path in sorted(folder.glob("2*.md")):
        for n, title, text in items(path):
            key = (f"{FOLDER}/{path.name}", n)
            if title.startswith("TITLE NOTFOUND") or key in taken:
                continue
            row = (key[0], n, title, text)
            by_month[path.name[:6]].append(row)
            every.append(row)
    chosen: dict[tuple[str, int], str] = {}
    months = sorted(by_month)
    per_month = max(1, RANDOM_ITEMS // len(months))
    for month in months:
        for row in rnd.sample(by_month[month], min(per_month, len(by_month[month]))):
            chosen.setdefault((row[0], row[1]), "fresh:random")
    rows = {(r[0], r[1]): r for r in every}
    for topic, words in BROAD.items():
        vocab = words.split()
        pool = [
            r for r in every if (r[0], r[1]) not in chosen and any(w in r[2] + r[3] for w in vocab)
        ]
        for row in rnd.sample(pool, min(BROAD_ITEMS, len(pool))):
            chosen[(row[0], row[1])] = f"fresh:broad:{topic}"
    vocab = TOPUP["safety"][0].split()
    pool = [r for r in every if (r[0], r[1]) not in chosen and any(w in r[2] + r[3] for w in vocab)]
    for row in rnd.sample(pool, min(SAFETY_TOPUP[args.batch], len(pool))):
        chosen[(row[0], row[1])] = "fresh:topup:safety"
    for key in sorted(chosen):
        file, n, title, text = rows[key]
        rec = {
            "id": f"{file.split('/')[1][:8]}-{n:02d}",
            "file": file,
            "item": n,
            "title": title,
            "sha1": sha1(text),
            "pool": chosen[key],
        }
        print(json.dumps(rec, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The layout-variation matrix: every seed page (and some 新闻联播 days) in many drawn
layouts per family, each compared with the articles of its text.

    python bench/layouts.py [--count 20] [--families pdf,docx] [--corpus 4] [--details]

Prints one row per family and page: how many variants gave the text's articles, and for
the others the variant, its drawn choices and the first difference. Families whose
program (chromium, soffice) is missing are reported as skipped.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests import docgen  # noqa: E402
from tests.conftest import CORPUS, seed_files  # noqa: E402


def pages(corpus: int) -> list[tuple[str, bytes]]:
    """(file name, bytes) of the seed pages and of ``corpus`` 新闻联播 days."""
    out = [(p.name, p.read_bytes()) for p in seed_files()]
    out += [(p.name, p.read_bytes()) for p in docgen.corpus_days(CORPUS, corpus)]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=20, help="variants per family")
    parser.add_argument("--start", type=int, default=0, help="first variant number")
    parser.add_argument("--families", default=",".join(docgen.FAMILIES))
    parser.add_argument("--corpus", type=int, default=4, help="新闻联播 days besides the seeds")
    parser.add_argument("--details", action="store_true", help="every differing variant")
    args = parser.parse_args()
    started = time.perf_counter()
    total = equal = 0
    matrix: dict[tuple[str, str], str] = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for family in args.families.split(","):
            drawn = docgen.variants(family, args.count, args.start)
            for name, data in pages(args.corpus):
                want = docgen.read_articles(name, data)
                text = docgen.source_text(name, data)
                ok, bad = 0, []
                t0 = time.perf_counter()
                for variant in drawn:
                    try:
                        made = docgen.render(variant, text, work)
                    except docgen.ProducerMissing as exc:
                        print(f"{family:9} {name[:12]:12} skipped: {exc}")
                        break
                    got = docgen.read_articles("page" + variant.suffix, made)
                    why = docgen.difference(got, want)
                    if why is None:
                        ok += 1
                    else:
                        bad.append((variant, why))
                else:
                    n = len(drawn)
                    total, equal = total + n, equal + ok
                    matrix[family, name[:12]] = f"{ok}/{n}"
                    secs = time.perf_counter() - t0
                    print(f"{family:9} {name[:12]:12} {ok:3}/{n} equal  ({secs:.1f} s)")
                    reasons: defaultdict[str, list[str]] = defaultdict(list)
                    for variant, why in bad:
                        reasons[why].append(variant.name)
                    shown = bad if args.details else []
                    for variant, why in shown:
                        print(f"    {variant.name}: {why}  [{variant.describe()}]")
                    if not args.details:
                        for why, names in sorted(reasons.items(), key=lambda kv: -len(kv[1])):
                            print(f"    {len(names):3}× {why}  (e.g. {names[0]})")
                    continue
                matrix[family, name[:12]] = "skipped"
                break
    secs = time.perf_counter() - started
    _table(matrix)
    print(f"\n{equal}/{total} variants equal to their text page, {secs:.0f} s")


def _table(matrix: dict[tuple[str, str], str]) -> None:
    """The matrix: a row per family, a column per page, variants equal / drawn."""
    families = list(dict.fromkeys(f for f, _ in matrix))
    names = list(dict.fromkeys(n for _, n in matrix))
    print("\n| family | " + " | ".join(names) + " |")
    print("|---|" + "---|" * len(names))
    for family in families:
        cells = (matrix.get((family, n), "") for n in names)
        print(f"| {family} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()

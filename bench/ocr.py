"""OCR of scanned pages: every seed page printed to PDF, rendered to images at 200 dpi
and read back by OCR (watcher.ocr, in the reader process as a scan reads it).

    python bench/ocr.py [--columns 1,2] [--dpi 200] [--corpus 0] [--seeds 001,003]
                        [--engine scan,rapidocr,tesseract]

For each page and layout: character accuracy (1 − edit distance / length, whitespace and
``#`` markers ignored) against the text the PDF's own text layer gives, headlines found
(spaces ignored; and folded as matching and search fold text: variant forms such as
淥/渌 and widths made one), and whether the articles equal those of the text page. By default the
engine a scan would use (the first of watcher.ocr.ENGINES installed: RapidOCR 3 with
PP-OCRv6, RapidOCR 1.4 with PP-OCRv4, Tesseract with chi_sim) in the reader process
("scan"); ``--engine`` names engines to run side by side: ``scan``, or ``ppocrv6``,
``rapidocr`` and ``tesseract``, each in this process (the reader process picks its own).
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests import docgen  # noqa: E402
from tests.conftest import CORPUS, seed_files  # noqa: E402
from watcher import ocr  # noqa: E402
from watcher.pages import split_page  # noqa: E402
from watcher.readers import read_bytes  # noqa: E402
from watcher.reading import Limits  # noqa: E402
from watcher.segment import fold  # noqa: E402


def distance(a: str, b: str) -> int:
    """Levenshtein distance, one row at a time (numpy keeps a 10,000-character page fast)."""
    import numpy as np

    codes = np.frombuffer(b.encode("utf-32-le"), dtype=np.uint32)
    index = np.arange(len(b) + 1)
    row = index.copy()
    for i, ch in enumerate(a, 1):
        best = np.minimum(row[:-1] + (codes != ord(ch)), row[1:] + 1)
        # Insertions run along the row: cur[j] = min over k <= j of (v[k] + j - k).
        row = np.minimum.accumulate(np.concatenate(([i], best)) - index) + index
    return int(row[-1])


def squeeze(text: str) -> str:
    return re.sub(r"\s+", "", text.replace("#", ""))


def errors(truth: str, got: str) -> list[tuple[str, str]]:
    """What the OCR text has in place of the truth's characters, difference by difference."""
    import difflib

    a, b = squeeze(truth), squeeze(got)
    ops = difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes()
    return [(a[i:j], b[k:m]) for op, i, j, k, m in ops if op != "equal"]


def accuracy(truth: str, got: str) -> float:
    a, b = squeeze(truth), squeeze(got)
    return 1 - distance(a, b) / max(1, len(a))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--columns", default="1,2")
    parser.add_argument("--dpi", type=int, default=docgen.SCAN_DPI)
    parser.add_argument("--corpus", type=int, default=0, help="新闻联播 days besides the seeds")
    parser.add_argument("--seeds", default="", help="only seeds whose names start so: 001,003")
    parser.add_argument("--pdf", action="store_true", help="also as a scanned PDF")
    parser.add_argument("--errors", type=int, default=0, help="print the N commonest errors")
    parser.add_argument(
        "--engine", default="scan", help="engines side by side: scan, ppocrv6, rapidocr, tesseract"
    )
    args = parser.parse_args()
    wanted = tuple(s for s in args.seeds.split(",") if s)
    pages = [(p.name, p.read_bytes()) for p in seed_files() if p.name.startswith(wanted or "")]
    pages += [(p.name, p.read_bytes()) for p in docgen.corpus_days(CORPUS, args.corpus)]
    for name in args.engine.split(","):
        engine = None if name == "scan" else name
        ocr.ENGINE = engine
        # The reader process picks its own engine: a named one runs here.
        limits = Limits(timeout=600, isolate=engine is None)
        run(pages, args, limits, engine or f"{ocr.installed_engine()} in the reader process")


def run(
    pages: list[tuple[str, bytes]], args: argparse.Namespace, limits: Limits, label: str
) -> None:
    """One engine over every page and layout: a table, then the totals."""
    total_chars = total_errors = heads_ok = heads_all = equal = docs = heads_folded = 0
    total_secs = 0.0
    seen: Counter[tuple[str, str]] = Counter()
    print(f"\n{label}\n")
    print("| page | layout | characters | accuracy | headlines | articles | s |")
    print("|---|---|---|---|---|---|---|")
    for name, data in pages:
        text = docgen.source_text(name, data)
        want = docgen.read_articles(name, data)
        for columns in (int(c) for c in args.columns.split(",")):
            pdf = docgen.to_pdf(text, columns)
            truth = read_bytes(Path("page.pdf"), pdf, Limits(isolate=False)).text
            kinds = [("tif", docgen.to_image(pdf, "TIFF", args.dpi))]
            if args.pdf:
                kinds.append(("pdf", docgen.to_scanned_pdf(pdf, args.dpi)))
            for kind, scan in kinds:
                t0 = time.perf_counter()
                got = read_bytes(Path(f"page.{kind}"), scan, limits)
                secs = time.perf_counter() - t0
                total_secs += secs
                arts = split_page(got.text, markup=got.markup, today=docgen.READ_DAY)
                score = accuracy(truth, got.text)
                if args.errors:
                    seen.update(errors(truth, got.text))
                n = len(squeeze(truth))
                total_chars += n
                total_errors += round((1 - score) * n)
                found = {squeeze(a.headline or "") for a in arts}
                heads = sum(1 for a in want if squeeze(a.headline or "") in found)
                heads_ok, heads_all = heads_ok + heads, heads_all + len(want)
                folded = {fold(h) for h in found}
                heads_folded += sum(1 for a in want if fold(squeeze(a.headline or "")) in folded)
                why = docgen.difference(arts, want)
                equal += why is None
                docs += 1
                print(
                    f"| {name[:12]} | {columns} col {kind} | {n} | {score:.2%} | "
                    f"{heads}/{len(want)} | {'equal' if why is None else why[:60]} | {secs:.0f} |",
                    flush=True,
                )
    print(
        f"\n{label}: {docs} scans at {args.dpi} dpi: character accuracy "
        f"{1 - total_errors / max(1, total_chars):.2%} of {total_chars} characters; "
        f"headlines {heads_ok}/{heads_all} ({heads_folded} folded); "
        f"articles equal to the text page {equal}/{docs}; "
        f"{total_secs:.0f} s reading"
    )
    for (want, read), count in seen.most_common(args.errors):
        print(f"  {count:4d} × {want or '∅'} → {read or '∅'}")


if __name__ == "__main__":
    main()

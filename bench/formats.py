"""Extraction time per page for each format, against reading the same page as text.

Every seed page is made into Markdown, HTML, PDF (one, two and three columns) and DOCX
by tests/docgen.py, then read and split as the scan does. Printed per format: the time
per newspaper page (one seed) and per PDF page as a scan reads them (one reader process
for all files), the ratio to the text reader measured in the same run, the same with a
new process per file and with none, and whether the articles equal those of the text.

    python bench/formats.py [--repeat 5]
    python bench/formats.py --corpus 50     # articles only, for 50 days of 新闻联播
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests import docgen  # noqa: E402
from watcher.pages import split_page  # noqa: E402
from watcher.readers import Limits, read_bytes  # noqa: E402
from watcher.sandbox import Worker  # noqa: E402

FORMATS = (".txt", ".md", ".html", ".docx", ".1col.pdf", ".2col.pdf", ".3col.pdf")


def _key(article: object) -> tuple[str, str]:
    squeeze = lambda s: re.sub(r"\s+", "", s or "")  # noqa: E731
    return squeeze(article.headline), squeeze(article.body)  # type: ignore[attr-defined]


def _read(name: str, data: bytes, limits: Limits, worker: Worker | None = None) -> list[object]:
    text = read_bytes(Path(name), data, limits, worker)
    return split_page(text.text, markup=text.markup, known=text.page)


def _pdf_pages(data: bytes) -> int:
    return data.count(b"/Type /Page\n") or len(re.findall(rb"/Type\s*/Page[^s]", data))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=5, help="timed rounds (median is shown)")
    parser.add_argument(
        "--corpus",
        type=int,
        default=0,
        metavar="N",
        help="also compare articles for N 新闻联播 days from ../shared/corpus (no timing)",
    )
    args = parser.parse_args()
    if args.corpus:
        compare_corpus(args.corpus)
        return
    seeds = sorted((ROOT / "seeds").glob("*.txt"))
    docs: dict[str, dict[str, bytes]] = {fmt: {} for fmt in FORMATS}
    for seed in seeds:
        made = docgen.all_formats(seed.name, seed.read_text(encoding="utf-8"))
        docs[".txt"][seed.name] = seed.read_bytes()
        for fmt in FORMATS[1:]:
            docs[fmt][seed.stem + fmt] = made[seed.stem + fmt]
    want = {
        seed.stem: [_key(a) for a in _read(seed.name, seed.read_bytes(), Limits())]
        for seed in seeds
    }
    _read(seeds[0].name, seeds[0].read_bytes(), Limits())  # jieba loaded before timing

    rows = []
    for fmt in FORMATS:
        pages = sum(_pdf_pages(d) for d in docs[fmt].values()) if fmt.endswith(".pdf") else 0
        timings = {}
        for label in ("worker", "process per file", "in-process"):
            rounds = []
            for _ in range(args.repeat):
                started = time.perf_counter()
                # A scan keeps one worker process for all its files, started at the first.
                with Worker(Limits()) as worker:
                    for name, data in docs[fmt].items():
                        if label == "worker":
                            _read(name, data, Limits(), worker)
                        elif label == "process per file":
                            _read(name, data, Limits())
                        else:
                            _read(name, data, Limits(isolate=False))
                rounds.append(time.perf_counter() - started)
            timings[label] = statistics.median(rounds) / len(seeds)
        same = total = 0
        for name, data in docs[fmt].items():
            got = [_key(a) for a in _read(name, data, Limits(isolate=False))]
            ref = want[name.split(".")[0]]
            total += len(ref)
            if len(got) == len(ref):
                same += sum(1 for a, b in zip(got, ref, strict=True) if a == b)
        rows.append((fmt, timings, pages, same, total))

    base = rows[0][1]["in-process"]
    print(
        f"{len(seeds)} newspaper pages, median of {args.repeat} rounds; "
        f"baseline: .txt read + split = {base * 1000:.1f} ms per page\n"
    )
    print(
        f"{'format':<11} {'ms/page':>8} {'× text':>7} {'ms/PDF page':>12} "
        f"{'new process':>12} {'in-process':>11} {'articles = text':>16}"
    )
    for fmt, t, pages, same, total in rows:
        pdf_page = f"{t['worker'] * len(seeds) / pages * 1000:.1f}" if pages else "—"
        print(
            f"{fmt:<11} {t['worker'] * 1000:8.1f} {t['worker'] / base:7.1f} {pdf_page:>12} "
            f"{t['process per file'] * 1000:12.1f} {t['in-process'] * 1000:11.1f}  "
            f"{same:>6}/{total}"
        )
    print(
        "\nms/page: what a scan spends per newspaper page (PDF and DOCX in its one reader"
        "\nprocess, started at the first file); new process: one reader process per file;"
        "\nin-process: no child process at all."
    )


def compare_corpus(n: int, seed: int = 7) -> None:
    """For ``n`` days of 新闻联播 (a fixed sample), how many give the text's articles in
    each format; lists the days that do not."""
    import random

    corpus = ROOT.parent / "shared" / "corpus"
    days = sorted(corpus.glob("xwlb_*/*.md"))
    if not days:
        sys.exit(f"no corpus at {corpus}")
    sample = random.Random(seed).sample(days, min(n, len(days)))
    same: dict[str, int] = {}
    differ: dict[str, list[str]] = {}
    with Worker(Limits()) as worker:
        for day in sample:
            text = read_bytes(day, day.read_bytes())
            want = [_key(a) for a in split_page(text.text, markup=text.markup)]
            # The documents are made from the text the Markdown reader gives (links and
            # bold marks gone), as a paper's own files would carry it.
            made = docgen.all_formats(day.stem + ".txt", text.text)
            for fmt in FORMATS[1:]:
                got = [
                    _key(a) for a in _read(day.stem + fmt, made[day.stem + fmt], Limits(), worker)
                ]
                if got == want:
                    same[fmt] = same.get(fmt, 0) + 1
                else:
                    differ.setdefault(fmt, []).append(day.stem)
    print(
        f"{len(sample)} days of 新闻联播 (sample seed {seed}): days whose articles equal the text"
    )
    for fmt in FORMATS[1:]:
        print(f"{fmt:<11} {same.get(fmt, 0):>4}/{len(sample)}  {' '.join(differ.get(fmt, []))}")


if __name__ == "__main__":
    main()

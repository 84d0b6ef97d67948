"""Extraction time per page for each format, against reading the same page as text.

Every seed page is made into Markdown, HTML, PDF (one, two and three columns) and DOCX
by tests/docgen.py, then read and split as the scan does. Printed per format: the time
per newspaper page (one seed) and per PDF page, the ratio to the text reader measured in
the same run, the time without the child process (the sandbox's cost), and whether the
articles equal those of the text.

    python bench/formats.py [--repeat 5]
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

FORMATS = (".txt", ".md", ".html", ".docx", ".1col.pdf", ".2col.pdf", ".3col.pdf")


def _key(article: object) -> tuple[str, str]:
    squeeze = lambda s: re.sub(r"\s+", "", s or "")  # noqa: E731
    return squeeze(article.headline), squeeze(article.body)  # type: ignore[attr-defined]


def _read(name: str, data: bytes, limits: Limits) -> list[object]:
    text = read_bytes(Path(name), data, limits)
    return split_page(text.text, markup=text.markup, known=text.page)


def _pdf_pages(data: bytes) -> int:
    return data.count(b"/Type /Page\n") or len(re.findall(rb"/Type\s*/Page[^s]", data))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=5, help="timed rounds (median is shown)")
    args = parser.parse_args()
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
        for label, limits in (("isolated", Limits()), ("in-process", Limits(isolate=False))):
            rounds = []
            for _ in range(args.repeat):
                started = time.perf_counter()
                for name, data in docs[fmt].items():
                    _read(name, data, limits)
                rounds.append(time.perf_counter() - started)
            timings[label] = statistics.median(rounds)
        same = total = 0
        for name, data in docs[fmt].items():
            got = [_key(a) for a in _read(name, data, Limits(isolate=False))]
            ref = want[name.split(".")[0]]
            total += len(ref)
            same += (
                sum(1 for a, b in zip(got, ref, strict=False) if a == b)
                if len(got) == len(ref)
                else 0
            )
        rows.append((fmt, timings, pages, same, total))

    base = rows[0][1]["in-process"] / len(seeds)
    print(
        f"{len(seeds)} newspaper pages, median of {args.repeat} rounds; "
        "baseline: .txt read + split "
        f"= {base * 1000:.1f} ms per page\n"
    )
    print(
        f"{'format':<11} {'ms/page':>8} {'× text':>7} {'ms/PDF page':>12} {'in-process':>11} "
        f"{'articles = text':>16}"
    )
    for fmt, t, pages, same, total in rows:
        per_page = (
            t["isolated"] / len(seeds)
            if fmt in (".docx",) or fmt.endswith(".pdf")
            else t["in-process"] / len(seeds)
        )
        pdf_page = f"{t['isolated'] / pages * 1000:.1f}" if pages else "—"
        print(
            f"{fmt:<11} {per_page * 1000:8.1f} {per_page / base:7.1f} {pdf_page:>12} "
            f"{t['in-process'] / len(seeds) * 1000:10.1f}  {same:>6}/{total}"
        )
    print(
        "\nms/page: what the scan spends per newspaper page (PDF and DOCX in the child process);"
        "\nin-process: the same read without the child process."
    )


if __name__ == "__main__":
    main()

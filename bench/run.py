"""The benchmark suite of issue 14: one table, each row next to its floor or baseline.

    python bench/run.py [--against REV] [--runs 3] [--only scan_corpus,...]
                        [--corpus ../shared/corpus]

Every module named in ``SUITE`` (one line each) is a benchmark of its own
(``python bench/<name>.py`` still works alone). A module that defines
``rows(ctx: Context) -> list[Row]`` gives rows of the one table: each row's figure
is the minimum of ``ctx.runs`` fresh-process runs, and its floor or baseline is
measured in the same run, interleaved with it, so the ratio holds on a shared
machine even when the seconds drift. A module without ``rows`` is run as it is and
its own output printed after the table. Rows that need ``../shared/corpus`` say
"skipped" when it is absent.

``--against REV`` checks out REV into a temporary ``git worktree`` and the rows
that support it (the scan's) measure that version side by side, with the same
benchmark code, interleaved run by run.

Adding a row: write ``rows(ctx)`` in the bench module, add its name to ``SUITE``.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent

# One line per bench module, in the order of the table.
SUITE = [
    "scan_corpus",  # first scan (workers 1 and 2, against REV), rescan
    "startup",  # start-up and peak memory (its own table)
    "match_corpus",  # the match step against naive jieba (its own table)
    "digest",  # grouping, build, article pages, e-mail size (its own table)
    "rescan",  # unchanged rescan of 100k files, a pruned one of 1M, against plain Python
    "topics500",  # the match step at 505 topics, against 5 topics and the Aho-Corasick pass alone
    "rematch",  # re-matching the stored corpus after editing 5 topics, against 1
    "rss",  # peak RSS of run --once, scan, match on the seeds, against bare python and jieba
]


@dataclass(frozen=True)
class Row:
    """One line of the table: a figure and what it is compared with, from one run."""

    what: str
    now: str  # the figure, with its unit
    against: str = ""  # the floor or baseline, as measured in the same run
    ratio: str = ""  # e.g. "2.4x faster"
    note: str = ""  # bytes read, memory, the load, what was skipped


@dataclass(frozen=True)
class Context:
    """What every bench module's ``rows`` gets."""

    corpus: Path
    runs: int
    root: Path  # the package measured now (this checkout)
    against: Path | None = None  # a worktree of ``rev``, when --against was given
    rev: str | None = None

    def python(
        self, script: str, *args: str, package: Path | None = None, timeout: float = 1800
    ) -> str:
        """Run ``bench/<script>`` in a fresh process importing ``package``'s watcher (this
        checkout's by default); its standard output."""
        env = dict(os.environ, PYTHONPATH=str(package or self.root))
        done = subprocess.run(
            [sys.executable, str(BENCH / script), *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"bench/{script} {' '.join(args)} failed:\n{done.stderr[-2000:]}")
        return done.stdout

    def json(self, script: str, *args: str, package: Path | None = None) -> dict[str, float]:
        """The last line of a ``--json`` run, parsed."""
        out = self.python(script, *args, "--json", package=package).strip().splitlines()
        return dict(json.loads(out[-1])) if out and out[-1].startswith("{") else {}


def load() -> str:
    """The load averages, as ``uptime`` shows them (the machine may be shared)."""
    one, five, fifteen = os.getloadavg()
    return f"load {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} CPUs"


@contextlib.contextmanager
def worktree(rev: str) -> Iterator[Path]:
    """REV checked out in a temporary git worktree, removed afterwards."""
    tmp = Path(tempfile.mkdtemp(prefix="watcher-bench-"))
    path = tmp / "tree"
    subprocess.run(
        ["git", "-C", str(ROOT), "worktree", "add", "--detach", "--quiet", str(path), rev],
        check=True,
    )
    try:
        yield path
    finally:
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(path)], check=False
        )
        shutil.rmtree(tmp, ignore_errors=True)


def table(rows: Sequence[Row]) -> str:
    lines = [
        "| what | now | floor / baseline (same run) | ratio | notes |",
        "|---|---|---|---|---|",
    ]
    lines += [f"| {r.what} | {r.now} | {r.against} | {r.ratio} | {r.note} |" for r in rows]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", metavar="REV", help="measure REV side by side")
    parser.add_argument("--runs", type=int, default=3, help="runs per row (the minimum)")
    parser.add_argument("--only", help="comma-separated bench modules (default: all)")
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus")
    args = parser.parse_args(argv)
    names = args.only.split(",") if args.only else SUITE
    unknown = sorted(set(names) - set(SUITE))
    if unknown:
        parser.error(f"unknown bench module(s) {', '.join(unknown)}; known: {', '.join(SUITE)}")
    sys.path.insert(0, str(BENCH))
    rows: list[Row] = []
    printed: list[tuple[str, str]] = []
    before = load()
    with contextlib.ExitStack() as stack:
        against = stack.enter_context(worktree(args.against)) if args.against else None
        ctx = Context(args.corpus, args.runs, ROOT, against, args.against)
        for name in names:
            module = importlib.import_module(name)
            make = getattr(module, "rows", None)
            if make is not None:
                rows += make(ctx)
            else:
                printed.append((name, ctx.python(f"{name}.py")))
    print(table(rows))
    print(f"\nbefore: {before}; after: {load()}; min of {args.runs} runs")
    for name, out in printed:
        print(f"\n## bench/{name}.py (its own table)\n\n{out.rstrip()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

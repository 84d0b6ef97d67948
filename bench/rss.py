"""Benchmark: peak memory of whole watcher processes on the seeds (issue 14).

    python bench/rss.py [-n 3]

Each row is a fresh process (minimum of N) with its peak resident set (``VmHWM``,
read by the process itself as it exits), on a fresh state in a temporary folder
over the five seed pages and the bundled watchlists:

* ``watcher run --once``: scan, match, digest, reports (the digest half's imports
  included), with jieba's dictionary cache already built — and its very first run,
  which builds that cache;
* ``watcher scan`` and ``watcher match`` of the seeds, which import neither jinja2
  nor the e-mail and HTTP code;
* the floor, measured in the same run: the interpreter with nothing imported, and
  the baseline of ``import jieba; jieba.initialize()`` (jieba's own dictionary).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from run import Row as SuiteRow  # bench/run.py's row, defined once

ROOT = Path(__file__).resolve().parent.parent

_HWM = """
import atexit, sys
def _hwm():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            print("VmHWM", int(line.split()[1]) / 1024, file=sys.stderr)
atexit.register(_hwm)
"""
WATCHER = _HWM + "from watcher.cli import main\nmain(sys.argv[1:])\n"
JIEBA = _HWM + "import jieba\njieba.setLogLevel(60)\njieba.initialize()\n"
BARE = _HWM


@dataclass(frozen=True)
class Row:
    """One process's peak RSS, with the bare interpreter's from the same run."""

    name: str
    rss_mb: float
    floor_mb: float
    target: str

    def line(self) -> str:
        return f"| {self.name} | {self.rss_mb:.1f} | {self.floor_mb:.1f} | {self.target} |"

    def suite(self) -> SuiteRow:
        return SuiteRow(
            f"peak RSS: {self.name}",
            f"{self.rss_mb:.1f} MB",
            f"bare python {self.floor_mb:.1f} MB",
            "",
            f"target {self.target}",
        )


HEADER = "| process | peak RSS MB | bare python MB | target |\n|---|---|---|---|"


def _peak(code: str, *args: str, cwd: Path, env: dict[str, str]) -> float:
    done = subprocess.run(
        [sys.executable, "-c", code, *args], cwd=cwd, env=env, capture_output=True,
        text=True, timeout=600,
    )  # fmt: skip
    for line in done.stderr.splitlines():
        if line.startswith("VmHWM "):
            return float(line.split()[1])
    raise RuntimeError(f"no VmHWM from {args}: {done.stderr[-2000:]}")


def rows(ctx: Any) -> list[SuiteRow]:
    """The rows for ``bench/run.py`` (``ctx.runs`` fresh processes each)."""
    return [r.suite() for r in measure(ctx.runs) if not r.name.startswith("floor")]


def measure(runs: int = 3) -> list[Row]:
    out: list[tuple[str, float, str]] = []
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with tempfile.TemporaryDirectory(prefix="watcher-rss-") as tmpdir:
        tmp = Path(tmpdir)
        inbox = tmp / "inbox"
        shutil.copytree(ROOT / "seeds", inbox, ignore=shutil.ignore_patterns("*.md"))
        config = tmp / "watcher.yaml"

        def fresh() -> None:  # a new state; the dictionary cache beside it stays
            for p in (tmp / "state").glob("watcher.db*"):
                p.unlink()
            shutil.rmtree(tmp / "reports", ignore_errors=True)

        config.write_text(
            f"inbox: {inbox}\nstate: {tmp / 'state' / 'watcher.db'}\n"
            f"watchlists: {ROOT / 'config' / 'watchlists'}\nlog_level: WARNING\n"
            f"scan:\n  settle_seconds: 0\ndigest:\n  out_dir: {tmp / 'reports'}\n",
            encoding="utf-8",
        )
        c = ["--config", str(config)]
        first = _peak(WATCHER, *c, "run", "--once", cwd=tmp, env=env)  # builds the cache

        def best(*args: str, code: str = WATCHER) -> float:
            got = []
            for _ in range(runs):
                fresh()
                got.append(_peak(code, *args, cwd=tmp, env=env))
            return min(got)

        out.append(("`watcher run --once`", best(*c, "run", "--once"), "≤ 70 MB"))
        out.append(("`watcher run --once`, first run (builds the dictionary cache)", first, "—"))
        out.append(("`watcher scan`", best(*c, "scan"), "—"))
        out.append(("`watcher match seeds`", best(*c, "match", str(inbox)), "—"))
        out.append(("baseline: `import jieba; jieba.initialize()`", best(code=JIEBA), "—"))
        bare = best(code=BARE)
        out.append(("floor: bare python", bare, "—"))
    return [Row(name, mb, bare, target) for name, mb, target in out]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--runs", type=int, default=3)
    args = parser.parse_args()
    print(HEADER)
    for row in measure(args.runs):
        print(row.line(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

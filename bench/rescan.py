"""Benchmark: rescans of big inboxes, against a plain-Python floor (issue 14).

    python bench/rescan.py [--files 100000] [--pruned-files 1000000] [--folders 1000] [-n 3]

Builds inboxes of empty ``.dat`` files in date folders (``2026/12/01/…``) in a
temporary folder, lets watcher record them (a ``.dat`` file is skipped unread, so
what is timed is the listing and the comparison, not the reading), and times, each
in a fresh process, minimum of N:

* the floor: ``os.scandir`` of every folder, ``entry.stat()`` of every file and one
  dict look-up comparing ``(size, mtime_ns)`` with what a previous walk saw (the
  dict built before the clock starts), in plain Python;
* ``pipeline.scan`` of the unchanged inbox (``--files``, no pruning), the whole scan
  call: stamps from SQLite, listing, comparison, the scan's own rows;
* with ``scan.prune_unchanged_folders``, ``pipeline.scan`` of ``--pruned-files``
  files in ``--folders`` folders after one new file was added to one folder (a
  different folder each time).

Each row gives seconds and peak RSS of its process (``VmHWM``) and the ratio to
the floor of the same inbox measured in the same run. The 100,000-file state is
made by a real first scan; the big one by loading the rows such a scan records
(``files``: path, size, mtime, status ``skipped``, "unknown type") straight into the
store, since a first scan records them one transaction each.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from run import Row as SuiteRow

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Row:
    """One benchmark figure with the floor it is compared with (same run)."""

    name: str
    seconds: float
    rss_mb: float
    floor: float
    target: str

    @property
    def ratio(self) -> float:
        return self.seconds / self.floor if self.floor else float("nan")

    def line(self) -> str:
        return (
            f"| {self.name} | {self.seconds:.3f} | {self.floor:.3f} | {self.ratio:.2f}× "
            f"| {self.rss_mb:.0f} | {self.target} |"
        )

    def suite(self) -> SuiteRow:
        return SuiteRow(
            f"rescan: {self.name}",
            f"{self.seconds:.3f} s",
            f"plain-Python floor {self.floor:.3f} s",
            f"{self.ratio:.2f}× the floor",
            f"peak RSS {self.rss_mb:.0f} MB; target {self.target}",
        )


HEADER = (
    "| rescan | seconds | floor s | × floor | peak RSS MB | target |\n|---|---|---|---|---|---|"
)


def _dates(n: int) -> list[str]:
    start = dt.date(2024, 1, 1)
    return [(start + dt.timedelta(days=i)).strftime("%Y/%m/%d") for i in range(n)]


def build_tree(inbox: Path, files: int, folders: int) -> list[Path]:
    """``files`` empty ``.dat`` files spread over ``folders`` date folders."""
    per = max(1, files // folders)
    made: list[Path] = []
    flags = os.O_CREAT | os.O_WRONLY | os.O_EXCL
    left = files
    for day in _dates(folders):
        folder = inbox / day
        folder.mkdir(parents=True, exist_ok=True)
        base = str(folder)
        for i in range(min(per, left)):
            os.close(os.open(f"{base}/page-{i:05d}.dat", flags, 0o644))
        left -= min(per, left)
        made.append(folder)
    return made


def _config(tmp: Path, inbox: Path, state: Path, prune: bool) -> Path:
    path = tmp / f"{inbox.name}.yaml"
    (tmp / "watchlists").mkdir(exist_ok=True)
    path.write_text(
        f"inbox: {inbox}\nstate: {state}\nwatchlists: {tmp / 'watchlists'}\n"
        "log_level: WARNING\nscan:\n  settle_seconds: 0\n"
        f"  prune_unchanged_folders: {'true' if prune else 'false'}\n",
        encoding="utf-8",
    )
    return path


def load_rows(state: Path, inbox: Path) -> int:
    """Record every file of ``inbox`` as a scan records an unknown type, in bulk."""
    from watcher.paths import safe_text
    from watcher.store import Store

    now = dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")
    rows = []
    for folder, _dirs, names in os.walk(inbox):
        for name in names:
            path = f"{folder}/{name}"
            st = os.lstat(path)
            rows.append(
                (safe_text(path), st.st_size, st.st_mtime_ns, None, "skipped", "unknown type", now)
            )
    with Store(state) as store, store.transaction():
        cols = ["path", "size", "mtime_ns", "sha256", "status", "reason", "seen_at"]
        store.load_rows("files", cols, rows)
    return len(rows)


# --- the measured processes ------------------------------------------------------


def peak_rss_mb() -> float:
    """This process's peak resident set (VmHWM): unlike ``ru_maxrss``, which Linux
    carries over from the parent across fork and exec, it is this program's own."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child_floor(inbox: str) -> dict[str, float]:
    def walk(folder: str, seen: dict[str, tuple[int, int]], out: list[int]) -> None:
        with os.scandir(folder) as it:
            for entry in it:
                if entry.is_dir(follow_symlinks=False):
                    walk(entry.path, seen, out)
                else:
                    st = entry.stat(follow_symlinks=False)
                    if seen.get(entry.path) != (st.st_size, st.st_mtime_ns):
                        out.append(1)

    stamps: dict[str, tuple[int, int]] = {}
    for folder, _dirs, names in os.walk(inbox):
        for name in names:
            st = os.lstat(f"{folder}/{name}")
            stamps[f"{folder}/{name}"] = (st.st_size, st.st_mtime_ns)
    t0 = time.perf_counter()
    changed: list[int] = []
    walk(inbox, stamps, changed)
    return {"seconds": time.perf_counter() - t0, "changed": len(changed)}


def child_scan(config: str) -> dict[str, float]:
    from watcher import pipeline
    from watcher.config import load_config
    from watcher.store import Store

    cfg = load_config(Path(config))
    with Store(cfg.state) as store:
        t0 = time.perf_counter()
        report = pipeline.scan(cfg, store)
        seconds = time.perf_counter() - t0
    return {"seconds": seconds, "unchanged": report.unchanged, "skipped": report.skipped}


def _run(*args: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", *args],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    ).stdout
    return dict(json.loads(out.strip().splitlines()[-1]))


def _best(runs: int, *args: str, before: object = None) -> dict[str, float]:
    best: dict[str, float] | None = None
    for _ in range(runs):
        if callable(before):
            before()
        got = _run(*args)
        if best is None or got["seconds"] < best["seconds"]:
            best = got
    assert best is not None
    return best


def rows(ctx: Any) -> list[SuiteRow]:
    """The rows for ``bench/run.py`` (``ctx.runs`` runs each)."""
    return [r.suite() for r in measure(runs=ctx.runs) if not r.name.startswith("floor")]


def measure(
    files: int = 100_000,
    pruned_files: int = 1_000_000,
    folders: int = 1000,
    runs: int = 3,
    tmp_root: str | None = None,
) -> list[Row]:
    """Build the inboxes, measure, and return the rows (see the module docstring)."""
    out: list[Row] = []
    with tempfile.TemporaryDirectory(dir=tmp_root, prefix="watcher-rescan-") as tmpdir:
        tmp = Path(tmpdir)
        if files:
            inbox = tmp / "inbox"
            build_tree(inbox, files, max(1, files // 1000))
            state = tmp / "plain.db"
            cfg = _config(tmp, inbox, state, prune=False)
            first = _run("scan", str(cfg))  # the real first scan records every file
            assert first["skipped"] == files, first
            floor = _best(runs, "floor", str(inbox))
            scan = _best(runs, "scan", str(cfg))
            assert scan["unchanged"] == files, scan
            out.append(
                Row(
                    f"unchanged, {files:,} files",
                    scan["seconds"],
                    scan["rss"],
                    floor["seconds"],
                    "≤ 2× floor, ≤ 80 MB",
                )
            )
            out.append(
                Row(
                    f"floor, {files:,} files", floor["seconds"], floor["rss"], floor["seconds"], "—"
                )
            )
        if pruned_files:
            inbox = tmp / "dated"
            made = build_tree(inbox, pruned_files, folders)
            state = tmp / "pruned.db"
            cfg = _config(tmp, inbox, state, prune=True)
            load_rows(state, inbox)
            floor = _best(runs, "floor", str(inbox))
            full = _run("scan", str(cfg))  # lists everything, remembers the folders
            time.sleep(2.1)  # past inbox.SETTLE_NS: the folders just written are remembered
            _run("scan", str(cfg))
            which = iter(range(len(made)))

            def touch_one() -> None:
                folder = made[next(which) * 7 % len(made)]
                (folder / f"new-{time.time_ns()}.dat").write_bytes(b"")

            pruned = _best(runs, "scan", str(cfg), before=touch_one)
            n = len(made)
            out.append(
                Row(
                    f"pruned, {pruned_files:,} files in {n:,} folders, 1 changed",
                    pruned["seconds"],
                    pruned["rss"],
                    floor["seconds"],
                    "≤ 0.5 s",
                )
            )
            out.append(
                Row(
                    f"first pruned listing, {pruned_files:,} files (all listed)",
                    full["seconds"],
                    full["rss"],
                    floor["seconds"],
                    "—",
                )
            )
            out.append(
                Row(
                    f"floor, {pruned_files:,} files",
                    floor["seconds"],
                    floor["rss"],
                    floor["seconds"],
                    "—",
                )
            )
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--pruned-files", type=int, default=1_000_000)
    parser.add_argument("--folders", type=int, default=1000)
    parser.add_argument("-n", "--runs", type=int, default=3)
    parser.add_argument("--tmp", default=None, help="where to build the inboxes")
    parser.add_argument("--child", nargs=2, metavar=("MODE", "ARG"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        mode, arg = args.child
        got = child_floor(arg) if mode == "floor" else child_scan(arg)
        got["rss"] = peak_rss_mb()
        print(json.dumps(got))
        return 0
    print(HEADER)
    for row in measure(args.files, args.pruned_files, args.folders, args.runs, args.tmp):
        print(row.line(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

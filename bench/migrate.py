"""Benchmark and check: ``watcher migrate`` of the whole corpus state into PostgreSQL.

    python bench/migrate.py [--corpus ../shared/corpus]

On a copy of the two 新闻联播 folders (3,510 files, ~52k articles): a first scan
into SQLite with the bundled watchlists, a digest and a label; then ``watcher
migrate --to postgresql://…`` into a fresh database of a throw-away server (as
bench/workers.py starts one), timed against the scan that built the state (same
run); then ``watcher articles --format jsonl``, ``watcher labels`` and a search on
both back ends, which must be identical. Exits 1 on any difference. Skips (exit 0,
with a message) without the corpus, psycopg or the server programs.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from workers import ROOT, _config, _createdb, _env, postgres, ready


def watcher(config: Path, *args: str) -> tuple[float, str]:
    """Run one watcher command; its wall time and standard output."""
    cmd = [sys.executable, "-m", "watcher", f"--config={config}", *args]
    t0 = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, env=_env(), timeout=3600)
    if done.returncode != 0:
        raise RuntimeError(f"watcher {' '.join(args)} failed: {done.stderr[-2000:]}")
    return time.perf_counter() - t0, done.stdout


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus")
    args = parser.parse_args()
    folders = ready(args.corpus)
    if folders is None:
        return 0
    print(f"machine: {os.cpu_count()} cores; load average before: {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory(prefix="watcher-bench-") as tmpdir:
        tmp = Path(tmpdir)
        inbox = tmp / "inbox"
        for f in folders:
            shutil.copytree(f, inbox / f.name)
        watchlists = tmp / "watchlists"
        shutil.copytree(ROOT / "config" / "watchlists", watchlists)
        lite = _config(tmp / "lite", inbox, watchlists, str(tmp / "lite" / "watcher.db"))
        scan, _ = watcher(lite, "scan", "--no-progress")
        watcher(lite, "digest")
        _, listed = watcher(lite, "articles", "--format", "jsonl")
        first = listed.splitlines()[0]
        article = first.split('"id": "', 1)[1].split('"', 1)[0]
        watcher(lite, "label", article, "urban-renewal", "yes")
        pgdir = Path(tempfile.mkdtemp(prefix="watcher-bench-pg-"))
        try:
            with postgres(pgdir) as port:
                url = _createdb(port, "migrated")
                moved, report = watcher(lite, "migrate", "--to", url)
                pg = _config(tmp / "pg", inbox, watchlists, url)
                same = []
                for what in (("articles", "--format", "jsonl"), ("labels",)):
                    a, b = watcher(lite, *what)[1], watcher(pg, *what)[1]
                    same.append((what[0], a == b, len(a.splitlines())))
                # Search: the same hits (PostgreSQL has no bm25, so the order and the
                # rank may differ; the Matcher's score decides relevance on both).
                query = ("search", "城市更新 OR 乡村振兴", "--format", "jsonl", "--limit", "100000")
                hits = [
                    {json.loads(line)["id"] for line in watcher(c, *query)[1].splitlines()}
                    for c in (lite, pg)
                ]
                same.append(("search (the hits)", hits[0] == hits[1], len(hits[0])))
        finally:
            shutil.rmtree(pgdir, ignore_errors=True)
    print(report.rstrip())
    print(
        f"\nfirst scan into SQLite {scan:.1f} s; migrate into PostgreSQL {moved:.1f} s "
        f"({moved / scan:.2f}x the scan; load average now {os.getloadavg()[0]:.1f})"
    )
    for what, equal, lines in same:
        print(f"  watcher {what}: {lines} lines, {'identical' if equal else 'DIFFERENT'}")
    return 0 if all(equal for _, equal, _ in same) else 1


if __name__ == "__main__":
    sys.exit(main())

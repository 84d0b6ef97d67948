"""Benchmark: scan the 新闻联播 corpus twice and compare with a plain read of it.

    python bench/scan_corpus.py [--corpus ../shared/corpus] [--workers N|auto] [--warm]

Prints files, articles, seconds for the first scan and the rescan, the bytes
the process read during each (from /proc/self/io), peak memory, and ratios
against a baseline measured in the same run: reading and decoding every file
without splitting or storing it. Skips cleanly when the corpus is absent.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

from watcher import pipeline
from watcher.config import load_config
from watcher.store import Store

FOLDERS = ("xwlb_cctv_news", "xwlb_china_data_2017_2021")
ROOT = Path(__file__).resolve().parent.parent


def _rchar() -> int:
    """Bytes this process has read through read() calls so far (Linux)."""
    try:
        for line in Path("/proc/self/io").read_text().splitlines():
            if line.startswith("rchar:"):
                return int(line.split()[1])
    except OSError:
        pass
    return -1


def _config(tmp: Path, inbox: Path, state: Path, workers: str | None = None) -> Path:
    path = tmp / f"{inbox.name}.yaml"
    # No workers key unless asked: the same file is read by versions without it.
    extra = f"  workers: {workers}\n" if workers is not None else ""
    path.write_text(
        f"inbox: {inbox}\nstate: {state}\nwatchlists: {tmp}\nlog_level: WARNING\n"
        f"scan:\n  settle_seconds: 0\n{extra}",
        encoding="utf-8",
    )
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus")
    parser.add_argument("--workers", help="scan.workers (absent: the version's default)")
    parser.add_argument(
        "--warm",
        action="store_true",
        help="make the state's dictionary cache before timing (a one-off per state)",
    )
    args = parser.parse_args()
    folders = [args.corpus / f for f in FOLDERS]
    if not all(f.is_dir() for f in folders):
        print(f"skipped: corpus not found under {args.corpus}")
        return 0

    # Baseline: read and decode every file, nothing else.
    t0 = time.perf_counter()
    nbytes = 0
    for folder in folders:
        for path in sorted(folder.glob("*.md")):
            data = path.read_bytes()
            data.decode("utf-8")
            nbytes += len(data)
    baseline = time.perf_counter() - t0

    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        state = tmp / "state.db"
        configs = [load_config(_config(tmp, f, state, args.workers)) for f in folders]
        if args.warm:
            pipeline.segmenter_for(configs[0]).warm()
        results = []
        for label in ("first scan", "rescan"):
            r0, t0 = _rchar(), time.perf_counter()
            files = articles = new = unchanged = 0
            for cfg in configs:
                with Store(cfg.state) as store:
                    rep = pipeline.scan(cfg, store)
                files += rep.new + rep.unchanged + rep.duplicate + rep.failed
                articles += rep.articles
                new += rep.new
                unchanged += rep.unchanged
            results.append((label, time.perf_counter() - t0, _rchar() - r0, files, new, unchanged,
                            articles))  # fmt: skip
        with Store(state) as store:
            stored = store.counts()

    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"corpus: {len(folders)} folders, {nbytes / 1e6:.1f} MB")
    print(f"baseline (read + decode every file): {baseline:.2f} s")
    for label, secs, read, files, new, unchanged, arts in results:
        print(
            f"{label:>10}: {secs:6.2f} s  ratio to baseline {secs / baseline:6.2f}x  "
            f"files {files} (new {new}, unchanged {unchanged})  articles added {arts}  "
            f"bytes read {read / 1e6:.1f} MB"
        )
    print(f"stored: {stored['documents']} documents, {stored['articles']} articles")
    print(f"peak memory (max RSS): {peak_mb:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())

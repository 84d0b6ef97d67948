"""Benchmark: scan the 新闻联播 corpus twice and compare with a plain read of it.

    python bench/scan_corpus.py [--corpus ../shared/corpus] [--workers N|auto] [--warm]
                                [--topics]

Prints files, articles, seconds for the first scan and the rescan, the bytes
the process read during each (from /proc/self/io), peak memory, and ratios
against a baseline measured in the same run: reading and decoding every file
without splitting or storing it. Skips cleanly when the corpus is absent.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

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


def _config(
    tmp: Path, inbox: Path, state: Path, workers: str | None = None, topics: bool = False
) -> Path:
    path = tmp / f"{inbox.name}.yaml"
    # No workers key unless asked: the same file is read by versions without it.
    extra = f"  workers: {workers}\n" if workers is not None else ""
    watchlists = tmp  # no topic: the scan alone
    if topics:  # the bundled topics: the match step in the scan too
        watchlists = tmp / "watchlists"
        if not watchlists.exists():
            shutil.copytree(ROOT / "config" / "watchlists", watchlists)
    path.write_text(
        f"inbox: {inbox}\nstate: {state}\nwatchlists: {watchlists}\nlog_level: WARNING\n"
        f"scan:\n  settle_seconds: 0\n{extra}",
        encoding="utf-8",
    )
    return path


def measure(
    corpus: Path, workers: str | None = None, warm: bool = False, topics: bool = False
) -> dict[str, float]:
    """One fresh process's figures: the baseline, the first scan and the rescan of the
    corpus into a new store (seconds, bytes read, files, articles), and peak RSS;
    ``topics``: matched with the bundled watchlists as it is scanned."""
    folders = [corpus / f for f in FOLDERS]
    # Baseline: read and decode every file, nothing else.
    t0 = time.perf_counter()
    nbytes = 0
    for folder in folders:
        for path in sorted(folder.glob("*.md")):
            data = path.read_bytes()
            data.decode("utf-8")
            nbytes += len(data)
    out: dict[str, float] = {"baseline": time.perf_counter() - t0, "mb": nbytes / 1e6}
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        state = tmp / "state.db"
        configs = [load_config(_config(tmp, f, state, workers, topics)) for f in folders]
        if warm:  # in a process of its own: building the cache costs memory once
            code = (
                "import sys; from watcher import pipeline; from watcher.config import "
                "load_config; pipeline.segmenter_for(load_config(sys.argv[1])).warm()"
            )
            subprocess.run([sys.executable, "-c", code, str(configs[0].path)], check=True)
        for label in ("first", "rescan"):
            r0, t0, c0 = _rchar(), time.perf_counter(), time.process_time()
            files = articles = new = unchanged = 0
            for cfg in configs:
                with Store(cfg.state) as store:
                    found = pipeline.load_topics(cfg) if topics else ()
                    rep = pipeline.scan(cfg, store, topics=found)
                files += rep.new + rep.unchanged + rep.duplicate + rep.failed
                articles += rep.articles
                new += rep.new
                unchanged += rep.unchanged
            out |= {
                label: time.perf_counter() - t0,
                f"{label}_cpu": time.process_time() - c0,  # this process only
                f"{label}_read_mb": (_rchar() - r0) / 1e6,
                f"{label}_files": files,
                f"{label}_new": new,
                f"{label}_unchanged": unchanged,
                f"{label}_articles": articles,
            }
        with Store(state) as store:
            stored = store.counts()
    out["documents"], out["articles"] = stored["documents"], stored["articles"]
    # The scanning process's own (workers are the fork server's children, not counted).
    out["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def rows(ctx: Any) -> list[Any]:
    """bench/run.py's rows: the first scan with workers 1 (against ``ctx.rev`` when
    given) and 2 (against 1), both again with the bundled topics, and the rescan; each
    the minimum of ``ctx.runs`` fresh processes, interleaved, the dictionary cache made
    before timing (``--warm``); the CPU figures the minimum of the runs as well."""
    from run import Row

    if not all((ctx.corpus / f).is_dir() for f in FOLDERS):
        return [Row("first scan of the corpus", "skipped", note=f"no corpus at {ctx.corpus}")]
    jobs: dict[str, tuple[Path | None, tuple[str, ...]]] = {
        "1": (None, ("--workers", "1")),
        "2": (None, ("--workers", "2")),
        "1t": (None, ("--workers", "1", "--topics")),
        "2t": (None, ("--workers", "2", "--topics")),
    }
    if ctx.against is not None:
        jobs["old"] = (ctx.against, ())  # its own default: it may not know scan.workers
    runs: dict[str, list[dict[str, float]]] = {k: [] for k in jobs}
    for _ in range(ctx.runs):
        for key, (package, extra) in jobs.items():
            args = ("--warm", "--corpus", str(ctx.corpus), *extra)
            runs[key].append(ctx.json("scan_corpus.py", *args, package=package))
    best = {k: min(v, key=lambda r: r["first"]) for k, v in runs.items()}
    rescan = {k: min(r["rescan"] for r in v) for k, v in runs.items()}
    # CPU: the minimum of the runs too, each side's own (not the CPU of the fastest run).
    cpus = {k: min(r["first_cpu"] for r in v) for k, v in runs.items() if "first_cpu" in v[0]}
    for k, r in best.items():
        if k in cpus:
            r["first_cpu"] = cpus[k]
    one, two = best["1"], best["2"]

    def note(r: dict[str, float]) -> str:
        cpu = f"CPU {r['first_cpu']:.2f} s" if "first_cpu" in r else ""
        return (
            f"{r['first_articles']:.0f} articles; read {r['first_read_mb']:.0f} MB; "
            f"{cpu} and RSS {r['rss_mb']:.0f} MB of the scanning process"
        )

    out = []
    if "old" in best:
        old = best["old"]
        out.append(
            Row(
                f"first scan of the corpus ({one['first_files']:.0f} files), workers: 1",
                f"{one['first']:.2f} s",
                f"{ctx.rev}: {old['first']:.2f} s ({note(old)})",
                f"{old['first'] / one['first']:.2f}x faster"
                + (
                    f" (CPU {old['first_cpu'] / one['first_cpu']:.2f}x)"
                    if "first_cpu" in old
                    else ""
                ),
                note(one),
            )
        )
    else:
        out.append(
            Row(
                f"first scan of the corpus ({one['first_files']:.0f} files), workers: 1",
                f"{one['first']:.2f} s",
                f"read + decode {one['baseline']:.2f} s",
                f"{one['first'] / one['baseline']:.0f}x the floor",
                note(one) + "; --against REV for the old version",
            )
        )
    out.append(
        Row(
            "first scan of the corpus, workers: 2",
            f"{two['first']:.2f} s",
            f"workers: 1 {one['first']:.2f} s",
            f"{one['first'] / two['first']:.2f}x faster",
            note(two),
        )
    )
    topics1, topics2 = best["1t"], best["2t"]
    out.append(
        Row(
            "first scan of the corpus with the 5 bundled topics (matched as read), workers: 1",
            f"{topics1['first']:.2f} s",
            f"without topics {one['first']:.2f} s",
            f"{topics1['first'] / one['first']:.2f}x the time",
            note(topics1),
        )
    )
    out.append(
        Row(
            "first scan of the corpus with the 5 bundled topics, workers: 2",
            f"{topics2['first']:.2f} s",
            f"workers: 1 {topics1['first']:.2f} s",
            f"{topics1['first'] / topics2['first']:.2f}x faster",
            note(topics2),
        )
    )
    out.append(
        Row(
            f"rescan of the {one['rescan_unchanged']:.0f} unchanged files",
            f"{rescan['1']:.2f} s",
            f"read + decode every file {one['baseline']:.2f} s"
            + (f"; {ctx.rev}: {rescan['old']:.2f} s" if "old" in rescan else ""),
            f"{rescan['1'] / one['baseline']:.2f}x the read",
            f"read {one['rescan_read_mb']:.1f} MB",
        )
    )
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus")
    parser.add_argument("--workers", help="scan.workers (absent: the version's default)")
    parser.add_argument(
        "--warm",
        action="store_true",
        help="make the state's dictionary cache before timing (a one-off per state)",
    )
    parser.add_argument(
        "--topics", action="store_true", help="match with the bundled watchlists as it scans"
    )
    parser.add_argument("--json", action="store_true", help="one JSON object (for bench/run.py)")
    args = parser.parse_args()
    if not all((args.corpus / f).is_dir() for f in FOLDERS):
        print(f"skipped: corpus not found under {args.corpus}")
        return 0
    r = measure(args.corpus, args.workers, args.warm, args.topics)
    if args.json:
        print(json.dumps(r))
        return 0
    print(f"corpus: {len(FOLDERS)} folders, {r['mb']:.1f} MB")
    print(f"baseline (read + decode every file): {r['baseline']:.2f} s")
    for label, name in (("first", "first scan"), ("rescan", "rescan")):
        print(
            f"{name:>10}: {r[label]:6.2f} s  ratio to baseline {r[label] / r['baseline']:6.2f}x  "
            f"files {r[label + '_files']:.0f} (new {r[label + '_new']:.0f}, unchanged "
            f"{r[label + '_unchanged']:.0f})  articles added {r[label + '_articles']:.0f}  "
            f"bytes read {r[label + '_read_mb']:.1f} MB"
        )
    print(f"stored: {r['documents']:.0f} documents, {r['articles']:.0f} articles")
    print(f"peak memory (max RSS) of the scanning process: {r['rss_mb']:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())

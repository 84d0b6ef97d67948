"""Benchmark: start-up to the first word decision, and peak memory (issue 14).

    python bench/startup.py [-n 5] [--before REV] [--equality] [--corpus ../shared/corpus]

Each row is a fresh process, run N times (the minimum is shown), with its
cache file already written unless the row says otherwise:

* jieba's own load: ``jieba.Tokenizer().initialize()`` from its marshal cache,
  then one cut — the baseline every ratio is taken against, measured in the
  same run;
* the prototype of issue 14: the same cache read with ``marshal.loads(f.read())``;
* the Segmenter before (``watcher/segment.py`` of ``REV``, by default the last
  revision before the trie, in a temporary copy of today's package) and now,
  each asked one ``is_word_at`` that needs the dictionary;
* both Segmenters on their first run ever, when they build their cache file;
* ``watcher match seeds/000*.txt``, the whole process, before and now.

"first decision" is timed inside the process, from before its first import to
the answer; "process" is the whole process as its parent sees it; "peak RSS"
is the process's maximum resident set.

``--equality`` also runs the long check of tests/test_segment.py: every
boundary decision (cut, best route, parts of every token, a word across every
point) on every ``###`` item of ``xwlb_cctv_news``, raw and folded, equals
jieba's own, for jieba's dictionary alone and with watcher's extra words.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SENTENCE = "南京市长江大桥"

# The bodies of the measured processes; {cache} and {pkg} are filled in.
_PROLOGUE = "import time\nstarted = time.perf_counter()\n"
_EPILOGUE = """
import json, resource
print(json.dumps({"first": time.perf_counter() - started,
                  "rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""
JIEBA_LOAD = """
import jieba
jieba.setLogLevel(60)
tok = jieba.Tokenizer()
tok.tmp_dir, tok.cache_file = {cache!r}, "jieba.cache"
tok.initialize()
assert tok.lcut({sentence!r}, HMM=False) == ["南京市", "长江大桥"]
"""
JIEBA_LOADS = """
import marshal, os, jieba
jieba.setLogLevel(60)
tok = jieba.Tokenizer()
with open(os.path.join({cache!r}, "jieba.cache"), "rb") as f:
    tok.FREQ, tok.total = marshal.loads(f.read())
tok.initialized = True
assert tok.lcut({sentence!r}, HMM=False) == ["南京市", "长江大桥"]
"""
SEGMENTER = """
import sys
sys.path.insert(0, {pkg!r})
from pathlib import Path
from watcher.segment import Segmenter
assert Segmenter(Path({cache!r})).is_word_at({sentence!r}, 2, 4) is False
"""


@dataclass(frozen=True)
class Run:
    first: float  # seconds to the first decision, inside the process
    wall: float  # seconds of the whole process, seen from outside
    rss: float  # MiB, peak


def once(body: str, fresh: Path | None = None, **fill: str) -> Run:
    """One fresh process running ``body``; with ``fresh``, a folder emptied first (a
    first run ever, building its cache there)."""
    code = _PROLOGUE + body.format(sentence=SENTENCE, **fill) + _EPILOGUE
    if fresh is not None:
        shutil.rmtree(fresh, ignore_errors=True)
        fresh.mkdir(parents=True)
    t0 = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    wall = time.perf_counter() - t0
    got = json.loads(out.stdout.strip().splitlines()[-1])
    return Run(got["first"], wall, got["rss"])


def match_once(pkg: Path, home: Path) -> Run:
    """``watcher match seeds/000*.txt`` as a whole process; no config, so the
    Segmenter's cache is in the user cache folder (``XDG_CACHE_HOME``)."""
    seeds = sorted(str(p) for p in (ROOT / "seeds").glob("000*.txt"))
    argv = ["match", "--watchlists", str(ROOT / "config" / "watchlists"), *seeds]
    code = (
        f"import resource, sys\nsys.path.insert(0, {str(pkg)!r})\n"
        f"from watcher.cli import main\ntry:\n    main({argv!r})\nfinally:\n"
        "    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024\n"
        "    print('RSS', rss, file=sys.stderr)\n"
    )
    home.mkdir(parents=True, exist_ok=True)
    # Not the working folder itself: the cache's watcher/ folder would shadow the package.
    env = {**os.environ, "XDG_CACHE_HOME": str(home / "xdg")}
    t0 = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=home, env=env, capture_output=True, text=True
    )
    wall = time.perf_counter() - t0
    if out.returncode:
        raise SystemExit(f"watcher match failed:\n{out.stderr}")
    return Run(math.nan, wall, float(out.stderr.rsplit("RSS ", 1)[1]))


def segmenter(pkg: Path, cache: Path, *, fresh: bool = False) -> Callable[[], Run]:
    """A job: the Segmenter of ``pkg`` asked one decision, its cache in ``cache``."""
    return lambda: once(SEGMENTER, cache if fresh else None, cache=str(cache), pkg=str(pkg))


def interleaved(jobs: dict[str, Callable[[], Run]], n: int) -> dict[str, Run]:
    """The minimum of ``n`` runs of each job, taken in rounds (one run of every job a
    round) so that a busy spell of the machine weighs on all rows alike."""
    runs: dict[str, list[Run]] = {name: [] for name in jobs}
    for _ in range(n):
        for name, job in jobs.items():
            runs[name].append(job())
    return {
        name: Run(*(min(getattr(r, f) for r in rs) for f in ("first", "wall", "rss")))
        for name, rs in runs.items()
    }


def before_revision() -> str:
    """The newest revision of watcher/segment.py that did not use the trie."""
    revs = subprocess.run(
        ["git", "log", "--format=%H", "--", "watcher/segment.py"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    for rev in revs:
        if "marisa_trie" not in show(rev, "watcher/segment.py"):
            return rev
    raise SystemExit("no revision of watcher/segment.py without the trie")


def show(rev: str, path: str) -> str:
    return subprocess.run(
        ["git", "show", f"{rev}:{path}"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout


def package_copy(dest: Path, segment_source: str | None = None) -> Path:
    """Today's package in ``dest``, with another segment.py if given."""
    shutil.copytree(
        ROOT / "watcher", dest / "watcher", ignore=shutil.ignore_patterns("__pycache__")
    )
    if segment_source is not None:
        (dest / "watcher" / "segment.py").write_text(segment_source, encoding="utf-8")
    return dest


def table(rows: Sequence[tuple[str, Run]], base: Run) -> None:
    print(
        f"{'':44} {'first decision':>14} {'× faster':>9} {'process':>9} {'peak RSS':>10} "
        f"{'× baseline':>10}"
    )
    for name, r in rows:
        first = "" if math.isnan(r.first) else f"{r.first * 1000:.1f} ms"
        faster = "" if math.isnan(r.first) else f"{base.first / r.first:.1f}×"
        print(
            f"{name:44} {first:>14} {faster:>9} {r.wall * 1000:6.0f} ms {r.rss:6.1f} MiB "
            f"{r.rss / base.rss:9.2f}×"
        )


# --- the long equality check ------------------------------------------------------


def _check_chunk(args: tuple[list[str], int]) -> tuple[int, int, list[str]]:
    """One worker's share: texts checked, characters, and the differences found."""
    items, seed = args
    from tests.test_segment import Reference, differences, sentences
    from watcher import segment
    from watcher.segment import Segmenter

    rnd = random.Random(seed)
    texts = [s for item in items for s in sentences(item, rnd)]
    with tempfile.TemporaryDirectory() as tmp:
        seg, plain_seg = Segmenter(Path(tmp) / "a"), Segmenter(Path(tmp) / "b")
        plain_seg._words, _ = segment._load_words(plain_seg.cache_dir, ())
        found = list(differences(seg, Reference(), texts))
        found += list(differences(plain_seg, Reference(extra=()), texts))
    return len(texts), sum(map(len, texts)), found


def equality(corpus: Path) -> int:
    sys.path.insert(0, str(ROOT))
    from tests.test_segment import corpus_items

    items = list(corpus_items(corpus / "xwlb_cctv_news"))
    workers = os.cpu_count() or 1
    chunks = [(items[i::workers], i) for i in range(workers)]
    t0 = time.perf_counter()
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        results = pool.map(_check_chunk, chunks)
    texts = sum(r[0] for r in results)
    chars = sum(r[1] for r in results)
    found = [d for r in results for d in r[2]]
    print(
        f"\nequality: {len(items)} items of xwlb_cctv_news, {texts} texts (lines raw and "
        f"folded, and a random stretch of each), {chars / 1e6:.1f} M characters, each cut "
        f"with and without the extra words: {len(found)} differences from jieba "
        f"({time.perf_counter() - t0:.0f} s)"
    )
    for d in found[:10]:
        print("  ", d)
    return 1 if found else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=5, help="runs per row (the minimum is shown)")
    parser.add_argument("--before", help="revision of watcher/segment.py to compare with")
    parser.add_argument("--equality", action="store_true", help="also the long equality check")
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus")
    args = parser.parse_args()
    rev = args.before or before_revision()

    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        before = package_copy(tmp / "before", show(rev, "watcher/segment.py"))
        after = package_copy(tmp / "after")
        jcache, cold = str(tmp / "jieba"), tmp / "cold"
        (tmp / "jieba").mkdir()
        jobs: dict[str, Callable[[], Run]] = {
            "jieba: Tokenizer().initialize() (baseline)": lambda: once(JIEBA_LOAD, cache=jcache),
            "jieba: marshal.loads(f.read()) (prototype)": lambda: once(JIEBA_LOADS, cache=jcache),
            f"Segmenter before ({rev[:7]})": segmenter(before, before / "cache"),
            "Segmenter now (trie)": segmenter(after, after / "cache"),
            f"Segmenter before ({rev[:7]}), first run": segmenter(before, cold, fresh=True),
            "Segmenter now, first run (builds its file)": segmenter(after, cold, fresh=True),
            "watcher match seeds/000*.txt before": lambda: match_once(before, tmp / "home-before"),
            "watcher match seeds/000*.txt now": lambda: match_once(after, tmp / "home-after"),
        }
        interleaved(jobs, 1)  # writes every cache file (and __pycache__) once
        rows = interleaved(jobs, args.n)
        print(f"start-up to the first word decision: fresh processes, min of {args.n}\n")
        table(list(rows.items()), next(iter(rows.values())))
        files = sorted((after / "cache").iterdir())
        print(f"\nnow: {', '.join(f'{p.name} {p.stat().st_size / 1e6:.1f} MB' for p in files)}")
        print(f"before: {', '.join(p.name for p in sorted((before / 'cache').iterdir()))}")

    if args.equality:
        if not (args.corpus / "xwlb_cctv_news").is_dir():
            print(f"equality skipped: corpus not found under {args.corpus}")
            return 0
        return equality(args.corpus)
    return 0


if __name__ == "__main__":
    sys.exit(main())

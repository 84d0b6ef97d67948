"""Benchmark: re-matching the stored corpus after editing 1 and 5 topics (issue 14).

    python bench/rematch.py [--corpus ../shared/corpus] [--state PATH] [-n 3]
                            [--check] [--profile N] [--dump FILE] [--json] [--cpu]

The store: one ``watcher scan`` of the two 新闻联播 folders (3,510 files, ~52k
articles) with the five bundled topics, into ``--state`` (kept and reused when it
exists) or a temporary file. Then, in this one process, ``pipeline.sync_topics``
after editing the first bundled topic and after editing all five, the two taking
turns ``-n`` times; min of each, and the ratio 5/1 from this run, for five kinds of
edit (each time a new one):

* beyond terms: a query written where the topic derived it from its anchors and
  context (their OR), or dropped again (each time back or forth), so every stored
  article is matched again;
* of terms: a context term added (from ``ADDED``), so only the articles holding it
  are matched again (then undone, untimed);
* of an exclusion: a word from ``ADDED`` excluded, so only the articles holding it
  are matched again (then undone, untimed);
* ``min_score`` raised by 5: only the stored matches under it are matched again
  (then undone, untimed);
* ``min_score`` lowered by 5: only the stored near misses over it are matched again
  (then undone, untimed).

``--check`` compares the matches table after every re-match with matching every
stored article by the edited topics;
``--profile N`` prints cProfile's top functions of one re-match of N topics;
``--dump FILE`` writes the matches table (without versions and times) after the
runs, to compare two checkouts' output.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from run import Row as SuiteRow  # noqa: E402 (bench/run.py's row, defined once)

from watcher import pipeline  # noqa: E402
from watcher.config import load_config  # noqa: E402
from watcher.store import Store  # noqa: E402

FOLDERS = ("xwlb_cctv_news", "xwlb_china_data_2017_2021")
# Wall time by default; ``--cpu``: this process's CPU time (a shared machine).
CLOCK = time.perf_counter


def build(corpus: Path, folder: Path) -> Path:
    """The config of a store holding the corpus scanned with the bundled topics."""
    folder.mkdir(parents=True, exist_ok=True)
    inbox = folder / "inbox"
    if not inbox.exists():
        for f in FOLDERS:
            shutil.copytree(corpus / f, inbox / f)
    watchlists = folder / "watchlists"
    if not watchlists.exists():
        shutil.copytree(ROOT / "config" / "watchlists", watchlists)
    cfg = folder / "watcher.yaml"
    cfg.write_text(
        f"inbox: {inbox}\nstate: {folder / 'watcher.db'}\nwatchlists: {watchlists}\n"
        f"log_level: WARNING\ndigest:\n  out_dir: {folder / 'reports'}\n"
        "scan:\n  settle_seconds: 0\n",
        encoding="utf-8",
    )
    if not (folder / "watcher.db").exists():
        subprocess.run(
            [sys.executable, "-m", "watcher", f"--config={cfg}", "scan", "--no-progress"],
            check=True,
            capture_output=True,
            timeout=3600,
        )
    return cfg


def dump(state: Path) -> list[tuple[Any, ...]]:
    """The matches table, without the topic versions and times."""
    db = sqlite3.connect(state)
    try:
        return db.execute(
            "SELECT doc_sha256, idx, topic_id, score, terms, hits, clause, snippet, marks "
            "FROM matches ORDER BY doc_sha256, idx, topic_id"
        ).fetchall()
    finally:
        db.close()


class Watchlists:
    """The state's watchlists as YAML mappings, edited and loaded from a folder of
    their own (the bench never writes the state's watchlists)."""

    def __init__(self, config: Any, folder: Path) -> None:
        import yaml

        self.yaml, self.folder = yaml, folder
        self.source = {
            p.name: yaml.safe_load(p.read_text(encoding="utf-8"))
            for p in sorted(Path(config.watchlists).glob("*.yaml"))
        }

        self.current = json.loads(json.dumps(self.source))

    def load(self, specs: dict[str, Any] | None = None) -> list[Any]:
        """Write ``specs`` (the bundled ones: back to the start) and load them."""
        from watcher.watchlists import load_watchlists

        self.current = json.loads(json.dumps(specs or self.source))
        for name, spec in self.current.items():
            text = self.yaml.safe_dump(spec, allow_unicode=True)
            (self.folder / name).write_text(text, encoding="utf-8")
        return load_watchlists(self.folder)

    def edited(self, n: int, edit: Any) -> list[Any]:
        """The topics as now, with ``edit(spec)`` applied to the first ``n`` of them."""
        specs = json.loads(json.dumps(self.current))
        for name in list(specs)[:n]:
            edit(specs[name])
        return self.load(specs)


def _timed(store: Store, topics: list[Any], segmenter: Any, n: int, best: dict[int, float]) -> None:
    """``sync_topics`` after an edit of ``n`` topics, its time kept in ``best[n]`` if lower."""
    t0 = CLOCK()
    redone = pipeline.sync_topics(store, topics, segmenter)
    best[n] = min(best[n], CLOCK() - t0)
    assert len(redone) == n, redone


def _check(store: Store, topics: list[Any], segmenter: Any, what: str) -> None:
    """The matches table is what matching every stored article with ``topics`` gives."""
    from watcher.matcher import Matcher

    matcher = Matcher(topics, segmenter)
    truth = {(d, a.index, m.topic_id, m.score, m.clause, m.snippet)
             for d, a in store.rematch_articles("", "g")
             for m in matcher.match(a)}  # fmt: skip
    got = {(d, i, m.topic_id, m.score, m.clause, m.snippet)
           for d, i, m in store.matches()}  # fmt: skip
    assert got == truth, f"{what}: {len(got ^ truth)} rows differ"


def measure(cfg: Path, runs: int, profile: int = 0, check: bool = False) -> dict[str, float]:
    """Min seconds of ``sync_topics`` after an edit beyond terms (a query written or
    dropped: every article is matched again) of 1 and of 5 topics, taking turns;
    ``check``: the matches table after each is what matching every article gives."""
    config = load_config(cfg)
    segmenter = pipeline.segmenter_for(config)
    best = {1: float("inf"), 5: float("inf")}

    def beyond(spec: dict[str, Any]) -> None:
        if spec.pop("query", None) is None:
            spec["query"] = " OR ".join(spec.get("anchors", []) + spec.get("context", []))

    with tempfile.TemporaryDirectory(prefix="watcher-edit-") as tmp:
        lists = Watchlists(config, Path(tmp))
        topics = lists.load()
        with Store(config.state) as store:
            # A kept state may hold matches of an older watcher: brought up to date first.
            pipeline.sync_topics(store, topics, segmenter)
            articles = store.counts()["articles"]
        with Store(config.state) as store:
            for _ in range(runs):
                for n in (1, 5):
                    edited = lists.edited(n, beyond)
                    _timed(store, edited, segmenter, n, best)
                    if check:
                        _check(store, edited, segmenter, f"lead_context of {n}")
            if profile:
                changed = lists.edited(profile, beyond)
                prof = cProfile.Profile()
                prof.enable()
                pipeline.sync_topics(store, changed, segmenter)
                prof.disable()
                pstats.Stats(prof).sort_stats("cumulative").print_stats(30)
                pstats.Stats(prof).sort_stats("tottime").print_stats(25)
            pipeline.sync_topics(store, topics, segmenter)  # back to the scanned versions
    return {"one": best[1], "five": best[5], "articles": articles}


# Words an analyst might add to a watchlist, none a bundled topic's term, each in
# 0.10–1.82 % of the 52,441 stored articles (counted in the bench's state: 53 to 1,107;
# a term edit re-matches only the articles holding the edited terms).
ADDED = ["冷链物流", "地质灾害", "产业园区", "农村电商", "交通安全", "技术改造", "集体经济",
         "乡村旅游", "营商环境", "新能源汽车", "基础设施建设", "食品安全", "城市群", "生态保护",
         "水利工程", "数字经济", "保障性住房", "防疫", "电网", "中小企业"]  # fmt: skip


def measure_terms(cfg: Path, runs: int, check: bool = False) -> dict[str, float]:
    """Min seconds of ``sync_topics`` after adding a context term to 1 topic and to 5,
    and after excluding a word in 1 topic and in 5, each taking turns (each run new
    words); ``check``: the matches table after each is what matching every stored
    article with the edited topics gives."""
    words = iter(ADDED * (2 * runs + 4))

    def add(spec: dict[str, Any]) -> None:
        spec["context"] = [next(words), *spec.get("context", [])]

    def exclude(spec: dict[str, Any]) -> None:
        word = next(words)
        spec["exclude"] = f"{spec['exclude']} OR {word}" if spec.get("exclude") else word

    def raise_score(spec: dict[str, Any]) -> None:
        spec["min_score"] = spec.get("min_score", 0) + 5

    def lower_score(spec: dict[str, Any]) -> None:
        spec["min_score"] = max(0, spec.get("min_score", 0) - 5)

    terms = _measure_edit(cfg, runs, add, check)
    excluded = _measure_edit(cfg, runs, exclude, check)
    raised = _measure_edit(cfg, runs, raise_score, check)
    lowered = _measure_edit(cfg, runs, lower_score, check)
    return {"terms_one": terms[1], "terms_five": terms[5], "excl_one": excluded[1],
            "excl_five": excluded[5], "raised_one": raised[1], "raised_five": raised[5],
            "lowered_one": lowered[1], "lowered_five": lowered[5],
            "checked": terms[0] + excluded[0] + raised[0] + lowered[0]}  # fmt: skip


def _measure_edit(cfg: Path, runs: int, edit: Any, check: bool) -> dict[int, float]:
    """Min seconds of ``sync_topics`` after ``edit`` of 1 topic and of 5, taking turns,
    each edit undone (untimed) before the next; key 0: how many were checked."""
    config = load_config(cfg)
    segmenter = pipeline.segmenter_for(config)
    best = {0: 0.0, 1: float("inf"), 5: float("inf")}
    with tempfile.TemporaryDirectory(prefix="watcher-edit-") as tmp, Store(config.state) as store:
        lists = Watchlists(config, Path(tmp))
        original = lists.load()
        pipeline.sync_topics(store, original, segmenter)  # rules kept (an older state: none)
        for _ in range(runs):
            for n in (1, 5):
                edited = lists.edited(n, edit)
                _timed(store, edited, segmenter, n, best)
                if check:
                    _check(store, edited, segmenter, f"{n} edited")
                    best[0] += 1
                pipeline.sync_topics(store, lists.load(), segmenter)  # undone, untimed
    return best


def rows(ctx: Any) -> list[SuiteRow]:
    """The row for ``bench/run.py`` (``ctx.runs`` turns)."""
    if not all((ctx.corpus / f).is_dir() for f in FOLDERS):
        return [SuiteRow("re-match 5 vs 1 edited topics", "skipped", note="no corpus")]
    got = ctx.json("rematch.py", f"--corpus={ctx.corpus}", f"-n{ctx.runs}")
    return [
        SuiteRow(
            f"re-match after adding a term to 5 topics ({got['articles']:,.0f} stored articles)",
            f"{got['terms_five']:.2f} s",
            f"to 1 topic {got['terms_one']:.2f} s",
            f"{got['terms_five'] / got['terms_one']:.2f}× one topic",
            "target ≤ 1.3×; only the articles holding an edited term are matched again",
        ),
        SuiteRow(
            "re-match after excluding a word in 5 topics",
            f"{got['excl_five']:.2f} s",
            f"in 1 topic {got['excl_one']:.2f} s",
            f"{got['excl_five'] / got['excl_one']:.2f}× one topic",
            "target ≤ 1.3×; only the articles holding a term of an OR branch added or "
            "removed are matched again (so for a rewritten written query)",
        ),
        SuiteRow(
            "re-match after raising min_score by 5 in 5 topics",
            f"{got['raised_five']:.2f} s",
            f"in 1 topic {got['raised_one']:.2f} s",
            f"{got['raised_five'] / got['raised_one']:.2f}× one topic",
            "target ≤ 1.3×; only the stored matches under the new min_score (+ 0.1) are "
            "read and matched again",
        ),
        SuiteRow(
            "re-match after lowering min_score by 5 in 5 topics",
            f"{got['lowered_five']:.2f} s",
            f"in 1 topic {got['lowered_one']:.2f} s",
            f"{got['lowered_five'] / got['lowered_one']:.2f}× one topic",
            "target ≤ 1.3×; only the stored near misses over the new min_score (− 0.1) "
            "are read and matched again",
        ),
        SuiteRow(
            "re-match after an edit beyond terms, 5 topics (every article matched again)",
            f"{got['five']:.2f} s",
            f"1 topic {got['one']:.2f} s",
            f"{got['five'] / got['one']:.2f}× one topic",
            "a query written where it was derived, or dropped (so for the last region "
            "removed, a new matcher version): every candidate of each changed topic "
            "matched again",
        ),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus")
    parser.add_argument("--state", type=Path, help="folder of a store to build or reuse")
    parser.add_argument("-n", type=int, default=3)
    parser.add_argument("--profile", type=int, default=0)
    parser.add_argument("--dump", type=Path)
    parser.add_argument("--check", action="store_true", help="compare the matches each time")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--cpu", action="store_true", help="time by CPU time, not wall time")
    args = parser.parse_args()
    if args.cpu:
        global CLOCK
        CLOCK = time.process_time
    if not all((args.corpus / f).is_dir() for f in FOLDERS):
        print(f"skipped: corpus not found under {args.corpus}")
        return 0
    with tempfile.TemporaryDirectory(prefix="watcher-rematch-") as tmp:
        folder = args.state or Path(tmp)
        cfg = build(args.corpus, folder)
        got = measure(cfg, args.n, args.profile, args.check)
        got |= measure_terms(cfg, args.n, args.check)
        if args.dump:
            args.dump.write_text(json.dumps(dump(folder / "watcher.db"), ensure_ascii=False))
    if args.json:
        print(json.dumps(got))
    else:
        print(
            f"re-match of {got['articles']:,.0f} stored articles, min of {args.n}: "
            f"every article (an edit beyond terms): 1 topic {got['one']:.2f} s, "
            f"5 topics {got['five']:.2f} s, 5/1 {got['five'] / got['one']:.2f}×; "
            f"a term added: 1 topic {got['terms_one']:.2f} s, 5 topics "
            f"{got['terms_five']:.2f} s, 5/1 {got['terms_five'] / got['terms_one']:.2f}×; "
            f"a word excluded: 1 topic {got['excl_one']:.2f} s, 5 topics "
            f"{got['excl_five']:.2f} s, 5/1 {got['excl_five'] / got['excl_one']:.2f}×; "
            f"min_score raised: 1 topic {got['raised_one']:.2f} s, 5 topics "
            f"{got['raised_five']:.2f} s, 5/1 {got['raised_five'] / got['raised_one']:.2f}×; "
            f"min_score lowered: 1 topic {got['lowered_one']:.2f} s, 5 topics "
            f"{got['lowered_five']:.2f} s, 5/1 {got['lowered_five'] / got['lowered_one']:.2f}×"
            + (f" ({got['checked']:.0f} term edits checked)" if args.check else "")
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark: several workers on one PostgreSQL state against one on SQLite.

    python bench/workers.py [--corpus ../shared/corpus] [--skip-scans]

On a copy of the two 新闻联播 folders (3,510 files, ~52k articles), in one run:

* the first scan with one ``watcher scan`` process on SQLite (the baseline), then
  with 1, 2 and 3 processes at once on one PostgreSQL database (a fresh one each);
* re-matching the stored archive after a watchlist edit (a changed topic), with 1
  and then 3 processes at once, and 5 changed topics with 1; each minus an unchanged
  rescan measured in the same run, so the figure is the re-match's own.

Every figure is wall time of real processes, with a ratio to the baseline measured in
the same run. A PostgreSQL server is started for the run (initdb + pg_ctl in a
temporary folder, loopback, fsync off as in the tests); without the server programs
or psycopg, or without the corpus, the benchmark says so and skips.
"""

from __future__ import annotations

import argparse
import glob
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

FOLDERS = ("xwlb_cctv_news", "xwlb_china_data_2017_2021")
ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "bench"
REPEAT = 3  # re-match figures: min of this many edits
ROUNDS = 2  # first scans: min of this many, the set-ups taking turns


def _pg_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    versions = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return versions[-1] if versions else None


@contextmanager
def postgres(folder: Path) -> Iterator[int]:
    """A throw-away PostgreSQL server on a loopback port (as tests/conftest.py starts
    one); yields the port."""
    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    if initdb is None or pg_ctl is None:
        raise RuntimeError("the PostgreSQL server programs are missing: apt-get install postgresql")
    run_as: list[str] = []
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postgres")
        os.chown(folder, owner.pw_uid, owner.pw_gid)
        run_as = ["runuser", "-u", "postgres", "--"]
    pwfile = folder / "pw"
    pwfile.write_text(PASSWORD + "\n")
    if run_as:
        os.chown(pwfile, owner.pw_uid, owner.pw_gid)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    data = folder / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    subprocess.run(
        [*run_as, initdb, "-D", str(data), "-U", "watcher", "-E", "UTF8", "--locale=C",
         f"--pwfile={pwfile}", "--auth-host=scram-sha-256", "--auth-local=trust"],
        check=True, capture_output=True, env=env, timeout=120,
    )  # fmt: skip
    options = (
        f"-c listen_addresses=127.0.0.1 -p {port} -c unix_socket_directories={folder} "
        "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    )
    subprocess.run(
        [*run_as, pg_ctl, "-D", str(data), "-l", str(folder / "log"), "-o", options, "-w", "start"],
        check=True, capture_output=True, env=env, timeout=120,
    )  # fmt: skip
    try:
        yield port
    finally:
        subprocess.run(
            [*run_as, pg_ctl, "-D", str(data), "-m", "fast", "-w", "stop"],
            capture_output=True, env=env, timeout=120,
        )  # fmt: skip


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    env["WATCHER_PG_PASSWORD"] = PASSWORD
    return env


def _config(folder: Path, inbox: Path, watchlists: Path, state: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "watcher.yaml"
    path.write_text(
        f"inbox: {inbox}\nstate: {state}\nwatchlists: {watchlists}\nlog_level: WARNING\n"
        f"digest:\n  out_dir: {folder / 'reports'}\nscan:\n  settle_seconds: 0\n",
        encoding="utf-8",
    )
    return path


def scans(config: Path, n: int) -> float:
    """Wall time of ``n`` ``watcher scan`` processes started at once, all finished."""
    cmd = [sys.executable, "-m", "watcher", f"--config={config}", "scan", "--no-progress"]
    t0 = time.perf_counter()
    procs = [
        subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env())
        for _ in range(n)
    ]
    for p in procs:
        _out, err = p.communicate(timeout=3600)
        if p.returncode != 0:
            raise RuntimeError(f"watcher scan failed: {err.decode()[-2000:]}")
    return time.perf_counter() - t0


def _createdb(port: int, name: str) -> str:
    import psycopg

    url = f"postgresql://watcher@127.0.0.1:{port}/{{}}"
    with psycopg.connect(url.format("postgres"), password=PASSWORD, autocommit=True) as c:
        c.execute(f"CREATE DATABASE {name}")
    return url.format(name)


def _counts(config: Path) -> tuple[int, int]:
    from watcher.config import load_config
    from watcher.store import Store

    with Store(load_config(config).state) as store:
        c = store.counts()
    return c["documents"], c["articles"]


def _edit(watchlists: Path, n: int, mark: str) -> None:
    """Change ``n`` topics: one file of ``n`` topics of common words (a realistic
    matching load), each a new version (an exclusion that occurs nowhere: ``mark``)."""
    words = ["城市", "安全生产", "乡村振兴", "科技创新", "生态环境", "疫情防控", "改革开放"]
    lines = []
    for i in range(n):
        query = f"{words[i % len(words)]} OR {words[(i + 1) % len(words)]}"
        lines += [f"- id: bench-{i}", f"  query: {query}", f"  exclude: 无此词{mark}"]
    (watchlists / "90-bench.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")


def ready(corpus: Path) -> list[Path] | None:
    """The corpus folders, or None (having said why) when the corpus, psycopg or the
    PostgreSQL server programs are missing."""
    folders = [corpus / f for f in FOLDERS]
    if not all(f.is_dir() for f in folders):
        print(f"skipped: corpus not found under {corpus}")
        return None
    try:
        import psycopg  # noqa: F401
    except ImportError:
        print("skipped: psycopg is not installed (pip install 'watcher[postgres]')")
        return None
    if _pg_bin("initdb") is None:
        print("skipped: the PostgreSQL server programs are missing (apt-get install postgresql)")
        return None
    return folders


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus")
    args = parser.parse_args()
    folders = ready(args.corpus)
    if folders is None:
        return 0
    os.environ["WATCHER_PG_PASSWORD"] = PASSWORD  # this process reads the states too
    print(f"machine: {os.cpu_count()} cores; load average before: {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory(prefix="watcher-bench-") as tmpdir:
        tmp = Path(tmpdir)
        inbox = tmp / "inbox"
        for f in folders:
            shutil.copytree(f, inbox / f.name)
        watchlists = tmp / "watchlists"
        shutil.copytree(ROOT / "config" / "watchlists", watchlists)
        # A folder of its own: the server's user must reach it (not inside ours, 0700).
        pgdir = Path(tempfile.mkdtemp(prefix="watcher-bench-pg-"))
        with postgres(pgdir) as port:
            warm = _config(tmp / "warm", inbox, watchlists, str(tmp / "warm" / "watcher.db"))
            scans(warm, 1)  # jieba's cache and the page cache, not counted
            cache = tmp / "warm" / "cache"
            # Rounds of the four set-ups in turn, each on a fresh state: min per set-up,
            # so a load that comes and goes (a shared machine) weighs on all alike.
            setups = [("SQLite, 1 process", 0)] + [
                (f"PostgreSQL, {n} process{'es' if n > 1 else ''}", n) for n in (1, 2, 3)
            ]
            best: dict[str, float] = {}
            made = 0
            for _ in range(ROUNDS):
                for label, n in setups:
                    made += 1
                    folder = tmp / f"state{made}"
                    state = str(folder / "watcher.db") if n == 0 else _createdb(port, f"b{made}")
                    cfg = _config(folder, inbox, watchlists, state)
                    shutil.copytree(cache, folder / "cache")
                    secs = scans(cfg, max(n, 1))
                    print(f"  ({label}: {secs:.1f} s)", flush=True)
                    best[label] = min(best.get(label, secs), secs)
                    if n == 0:
                        lite = cfg
                        docs, arts = _counts(cfg)
                    else:
                        assert _counts(cfg) == (docs, arts), (_counts(cfg), docs, arts)
                        last = cfg
            base = best[setups[0][0]]
            rows = list(best.items())
            print(f"\nfirst scan of {docs} documents, {arts} articles, min of {ROUNDS} "
                  f"(load average now {os.getloadavg()[0]:.1f}):")  # fmt: skip
            for label, secs in rows:
                rate = f"{docs / secs:6.0f} docs/s  {arts / secs:6.0f} articles/s"
                print(f"  {label:<26} {secs:7.1f} s  {rate}  {base / secs:5.2f}x the SQLite one")

            # Re-matching the archive after an edit, minus an unchanged rescan.
            rescans = {c: min(scans(c, 1) for _ in range(2)) for c in (lite, last)}
            results = []
            edits = 0
            for label, cfg, topics, procs in (
                ("SQLite, 1 changed topic, 1 process", lite, 1, 1),
                ("SQLite, 5 changed topics, 1 process", lite, 5, 1),
                ("PostgreSQL, 1 changed topic, 1 process", last, 1, 1),
                ("PostgreSQL, 1 changed topic, 3 processes", last, 1, 3),
                ("PostgreSQL, 5 changed topics, 1 process", last, 5, 1),
                ("PostgreSQL, 5 changed topics, 3 processes", last, 5, 3),
            ):
                times = []
                for _ in range(REPEAT):  # each time a new edit: a new version to re-match
                    edits += 1
                    _edit(watchlists, topics, f"甲{edits}")
                    times.append(scans(cfg, procs) - rescans[cfg])
                results.append((label, min(times)))
            floor = f"SQLite {rescans[lite]:.1f} s, PostgreSQL {rescans[last]:.1f} s"
            load = os.getloadavg()[0]
            print(f"\nre-matching {arts} stored articles (min of {REPEAT}, each minus an "
                  f"unchanged rescan: {floor}; load average now {load:.1f}):")  # fmt: skip
            for label, secs in results:
                print(f"  {label:<42} {secs:7.1f} s")
            ratio = lambda a, b: results[a][1] / results[b][1]  # noqa: E731
            print(f"  5 vs 1 changed topics: SQLite {ratio(1, 0):.2f}x, PostgreSQL "
                  f"{ratio(4, 2):.2f}x; 3 vs 1 processes: 1 topic {ratio(3, 2):.2f}x, "
                  f"5 topics {ratio(5, 4):.2f}x")  # fmt: skip
            _search(lite, last)
        shutil.rmtree(pgdir, ignore_errors=True)
    return 0


def _search(lite: Path, pg: Path) -> None:
    """One search on each back end (the index built by the scans): the same hits; the
    time of the first page, min of 3."""
    from watcher import pipeline, search
    from watcher.config import load_config
    from watcher.store import Store

    query = "城市更新 OR 乡村振兴"
    segmenter = pipeline.segmenter_for(load_config(lite))
    print(f"\nsearch {query!r}, first page (min of 3):")
    for label, config in (("SQLite (FTS5)", lite), ("PostgreSQL (GIN index)", pg)):
        with Store(load_config(config).state) as store:
            best = float("inf")
            for _ in range(3):
                t0 = time.perf_counter()
                found = search.search(store, segmenter, query)
                best = min(best, time.perf_counter() - t0)
        print(f"  {label:<24} {best * 1000:7.0f} ms  {found.estimate} found, "
              f"{found.candidates} candidates")  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())

"""scan.workers: the scan in worker processes stores exactly what the serial scan stores.

Two states scan the same inbox, one with ``workers: 1`` and one with ``workers: 2``;
their reports, ``watcher articles --format jsonl`` and matches must be equal. The
inbox: the seed pages, a sample of 新闻联播 days from ``../shared/corpus`` when it is
present, a DOCX (read in the sandboxed reader process, in its turn), a copy of a page
under another name, an unknown type and a file that cannot be read.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import shutil
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests import docgen
from tests.conftest import CORPUS, ROOT, Run, seed_files
from watcher import parallel, pipeline
from watcher.config import Config
from watcher.errors import ConfigError
from watcher.models import ScanReport
from watcher.store import Store

NOW = dt.datetime(2026, 12, 1, 8, 0, tzinfo=dt.UTC)
XWLB = CORPUS / "xwlb_cctv_news"


def _clock() -> dt.datetime:
    return NOW


def _inbox(root: Path, corpus_every: int) -> Path:
    inbox = root / "inbox"
    inbox.mkdir()
    seeds = seed_files()
    for f in seeds:
        shutil.copy(f, inbox / f.name)
    if corpus_every and XWLB.is_dir():
        sample = inbox / "xwlb"
        sample.mkdir()
        for f in sorted(XWLB.glob("*.md"))[::corpus_every]:
            shutil.copy(f, sample / f.name)
    shutil.copy(seeds[0], inbox / "copy-of-first.txt")  # a duplicate
    (inbox / "notes.xyz").write_text("not a page", encoding="utf-8")
    (inbox / "page.docx").write_bytes(docgen.to_docx(seeds[1].read_text(encoding="utf-8")))
    locked = inbox / "locked.txt"
    locked.write_text("本报讯 一篇读不到的稿子。", encoding="utf-8")
    locked.chmod(0)
    for dirpath, _, names in os.walk(inbox):
        for name in names:
            os.utime(Path(dirpath) / name, (1_600_000_000, 1_600_000_000))
    return inbox


def _config(make_config: Callable[..., Config], inbox: Path, workers: int | str) -> Config:
    cfg = make_config(
        f"w{workers}.yaml",
        inbox=inbox,
        state=f"state-{workers}/watcher.db",
        scan={"workers": workers},
    )
    for f in (ROOT / "config" / "watchlists").glob("*.yaml"):
        shutil.copy(f, cfg.watchlists / f.name)
    return cfg


def _scan(cfg: Config) -> ScanReport:
    with Store(cfg.state) as store:
        return pipeline.scan(cfg, store, topics=pipeline.load_topics(cfg), clock=_clock)


def _stored(cfg: Config, run: Run) -> tuple[list[dict[str, object]], list[Any], list[Any]]:
    """The articles as exported, the matches, and the near misses (see Matcher.assess)."""
    code, out, err = run("articles", "--format", "jsonl", config=cfg.path)
    assert code == 0, err
    rows = [json.loads(line) for line in out.splitlines()]
    with Store(cfg.state) as store:
        docs = {r.doc_sha256 for r in store.articles()}
        matches = sorted(
            (d, i, f"{m.topic_id}:{m.score}:{len(m.hits)}") for d, i, m in store.matches_for(docs)
        )
        near = sorted(
            tuple(r)
            for r in store.db.execute("SELECT doc_sha256, idx, topic_id, score FROM near_misses")
        )
    return rows, matches, near


@pytest.mark.parametrize("corpus_every", [0, 40])
def test_two_workers_store_what_one_stores(
    make_config: Callable[..., Config],
    tmp_path: Path,
    run: Run,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    corpus_every: int,
) -> None:
    if corpus_every and not XWLB.is_dir():
        pytest.skip(f"corpus not found at {CORPUS}")
    monkeypatch.setattr(parallel, "MIN_FILES", 2)  # a pool even for the seeds alone
    inbox = _inbox(tmp_path, corpus_every)
    one, two = _config(make_config, inbox, 1), _config(make_config, inbox, 2)
    with caplog.at_level(logging.INFO, logger="watcher.pipeline"):
        first = _scan(one), _scan(two)
    pooled = f"scan of {inbox}: reading in 2 processes (this one and 1 worker)"
    assert [r.getMessage() for r in caplog.records].count(pooled) == 1
    assert first[0] == first[1]
    assert first[0].new >= 6 and first[0].duplicate == 1 and first[0].skipped == 1
    if os.geteuid() != 0:  # root reads a mode-0 file
        assert [p for p, _ in first[0].failures] == ["locked.txt"]
    assert _stored(one, run) == _stored(two, run)
    assert _stored(two, run)[2] or not corpus_every  # near misses made in the worker too
    # A second scan: unchanged everywhere, in both.
    again = _scan(one), _scan(two)
    assert again[0] == again[1] and again[0].new == 0


def test_a_stop_request_ends_the_pooled_scan_at_the_next_file(
    make_config: Callable[..., Config], tmp_path: Path, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(parallel, "MIN_FILES", 2)
    inbox = _inbox(tmp_path, 0)
    cfg = _config(make_config, inbox, 2)
    done: list[int] = []  # progress is told how many more files are done
    with Store(cfg.state) as store:
        report = pipeline.scan(
            cfg,
            store,
            clock=_clock,
            progress=done.append,
            should_stop=lambda: sum(done) >= 3,
        )
    assert sum(done) == 3
    assert report.new + report.duplicate + report.failed + report.skipped == 3
    # The next scan takes the rest, and the state ends as a serial scan leaves it.
    _scan(cfg)
    serial = _config(make_config, inbox, 1)
    _scan(serial)
    assert _stored(cfg, run)[0] == _stored(serial, run)[0]


def test_workers_is_auto_or_a_whole_number(make_config: Callable[..., Config]) -> None:
    assert make_config(scan={"workers": "auto"}).scan.workers == "auto"
    assert parallel.count("auto") == len(os.sched_getaffinity(0))
    assert make_config(scan={"workers": 3}).scan.workers == 3
    assert make_config().scan.workers == 1
    for bad, message in [
        (0, "scan.workers: must be at least 1, got 0"),
        ("fast", "scan.workers: expected auto or a whole number >= 1, got 'fast'"),
        (1.5, "scan.workers: expected a whole number, got '1.5'"),
    ]:
        with pytest.raises(ConfigError) as exc:
            make_config(scan={"workers": bad})
        assert message in str(exc.value)


def _children(pid: int) -> list[int]:
    """The live child processes of ``pid``: not a zombie an earlier pool left for its
    fork server to reap (killing one of those kills no worker of this scan)."""
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            state, parent = stat.rpartition(")")[2].split()[:2]
            if int(parent) == pid and state not in ("Z", "X"):
                out.append(int(entry.name))
    return out


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc (Linux)")
def test_a_worker_killed_mid_scan_leaves_its_files_to_the_scanning_process(
    make_config: Callable[..., Config],
    tmp_path: Path,
    run: Run,
    caplog: pytest.LogCaptureFixture,
) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    seeds = [f.read_text(encoding="utf-8") for f in seed_files()]
    for n in range(300):  # distinct contents: every file is a new document
        page = inbox / f"page{n:03}.txt"
        page.write_text(seeds[n % len(seeds)] + f"\n\n第{n}号公告。\n", encoding="utf-8")
        os.utime(page, (1_600_000_000, 1_600_000_000))
    pooled, serial = _config(make_config, inbox, 2), _config(make_config, inbox, 1)
    killed: list[int] = []

    def kill_a_worker(_info: object) -> None:
        if killed:
            return
        workers = [w for c in _children(os.getpid()) for w in _children(c)]
        if workers:
            os.kill(workers[0], signal.SIGKILL)
            killed.append(workers[0])

    with Store(pooled.state) as store, caplog.at_level(logging.WARNING, "watcher.pipeline"):
        topics = pipeline.load_topics(pooled)
        report = pipeline.scan(pooled, store, topics=topics, clock=_clock, progress=kill_a_worker)
    assert killed and report.new == 300 and report.failed == 0
    warned = [r.getMessage() for r in caplog.records if "scan workers failed" in r.getMessage()]
    assert len(warned) == 1 and warned[0].endswith("; reading the rest in this process")
    assert not [w for c in _children(os.getpid()) for w in _children(c)]  # none left behind
    _scan(serial)
    assert _stored(pooled, run) == _stored(serial, run)


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc (Linux)")
def test_a_pool_that_does_not_answer_is_killed_and_its_files_read_here(
    make_config: Callable[..., Config],
    tmp_path: Path,
    run: Run,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # No wait at all: the first chunk's task, just sent to the workers, has not
    # answered, as a hung pool would not (each chunk takes a second: a warm fork
    # server's workers answer within the scan's short wait). The scan waits for the
    # first worker to be up (else it may read every file itself meanwhile).
    monkeypatch.setattr(parallel, "MIN_FILES", 2)
    monkeypatch.setattr(parallel, "TASK_TIMEOUT", 0.0)
    monkeypatch.setattr(parallel.Pool, "ready", lambda self: self._started.wait(60))
    monkeypatch.setattr(pipeline, "_read_in_worker", _slow_read)  # sent by name
    inbox = _inbox(tmp_path, 40)
    pooled, serial = _config(make_config, inbox, 2), _config(make_config, inbox, 1)
    with caplog.at_level(logging.WARNING, "watcher.pipeline"):
        report = _scan(pooled)
    warned = [r.getMessage() for r in caplog.records if "scan workers" in r.getMessage()]
    assert warned == ["scan workers hung (no answer in 0 s); reading the rest in this process"]
    _as_serial(pooled, serial, run, report)


def _slow_read(chunk: list[tuple[object, dt.date]]) -> object:
    """In a worker (where pipeline's own is not replaced): a chunk read a second late."""
    import time

    time.sleep(1.0)
    return pipeline._read_in_worker(chunk)  # type: ignore[arg-type]


def _as_serial(pooled: Config, serial: Config, run: Run, report: ScanReport) -> None:
    """No worker left behind, and the report and store of the serial scan."""
    assert not [w for c in _children(os.getpid()) for w in _children(c)]
    assert report == _scan(serial)
    assert _stored(pooled, run) == _stored(serial, run)


def test_two_workers_on_postgresql_store_what_one_stores_on_sqlite(
    make_config: Callable[..., Config],
    tmp_path: Path,
    run: Run,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    pg_url: str,
) -> None:
    # The shared state claims each file in the scanning process, in the serial order,
    # while the pool reads ahead: the same store as one SQLite process makes.
    monkeypatch.setattr(parallel, "MIN_FILES", 2)
    inbox = _inbox(tmp_path, 40)
    serial = _config(make_config, inbox, 1)
    pooled = make_config("pg.yaml", inbox=inbox, state=pg_url, scan={"workers": 2})
    for f in (ROOT / "config" / "watchlists").glob("*.yaml"):
        shutil.copy(f, pooled.watchlists / f.name)
    with caplog.at_level(logging.INFO, logger="watcher.pipeline"):
        assert _scan(pooled) == _scan(serial)
    assert f"scan of {inbox}: reading in 2 processes (this one and 1 worker)" in caplog.messages
    assert _stored(pooled, run) == _stored(serial, run)
    again = _scan(pooled)
    assert again.new == 0 and again.failed == _scan(serial).failed


def test_a_short_wait_on_a_worker_keeps_the_batch_and_a_long_one_commits_it() -> None:
    """The scanning process waits QUICK_ANSWER seconds on a chunk with its batch open
    (a commit per short wait tripled a first scan's commits); longer, it commits first."""
    import concurrent.futures
    import threading
    import time

    release = threading.Event()
    with concurrent.futures.ThreadPoolExecutor(2) as threads:
        quick = threads.submit(time.sleep, pipeline.QUICK_ANSWER / 10)
        slow = threads.submit(release.wait, 10)
        assert pipeline._answered(quick)  # done within the grace: the batch stays open
        began = time.monotonic()
        assert not pipeline._answered(slow)  # not done: the caller commits, then waits
        waited = time.monotonic() - began
        release.set()
        assert pipeline.QUICK_ANSWER * 0.9 <= waited < 5
        assert slow.result(timeout=5) is True


@pytest.mark.skipif(not hasattr(__import__("fcntl"), "F_GETPIPE_SZ"), reason="Linux pipes")
def test_the_results_pipe_holds_a_chunks_result_so_a_worker_need_not_wait_to_write() -> None:
    import fcntl

    limit = int(Path("/proc/sys/fs/pipe-max-size").read_text()) if os.geteuid() else 1 << 30
    with parallel.Pool(1, _noop, ()) as pool:
        writer = pool._pool._result_queue._writer  # type: ignore[attr-defined]
        got = fcntl.fcntl(writer.fileno(), fcntl.F_GETPIPE_SZ)
        assert got >= min(parallel.RESULTS_PIPE, limit) and got > 65536
        assert pool.submit(len, "本报讯").result(timeout=60) == 3


def _noop() -> None:
    pass


def _hang(*_args: object) -> None:
    """A worker set-up that does not end (as one stuck on a dead mount would not)."""
    import time

    time.sleep(120)


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc (Linux)")
def test_workers_that_do_not_start_are_killed_and_the_scan_reads_here(
    make_config: Callable[..., Config],
    tmp_path: Path,
    run: Run,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A first worker that never starts holds none of the scan's work: the scan reads
    everything itself, says so once, and leaves no process behind (review: closing
    the pool used to wait for the start for ever)."""
    import time

    monkeypatch.setattr(parallel, "MIN_FILES", 2)
    monkeypatch.setattr(parallel, "START_TIMEOUT", 2.0)
    monkeypatch.setattr(pipeline, "_worker_start", _hang)  # sent to the pool by name
    inbox = _inbox(tmp_path, 40)
    pooled, serial = _config(make_config, inbox, 2), _config(make_config, inbox, 1)
    began = time.monotonic()
    with caplog.at_level(logging.WARNING, "watcher.pipeline"):
        report = _scan(pooled)
    assert time.monotonic() - began < 60
    warned = [m for m in caplog.messages if "scan workers" in m]
    assert warned in (
        ["scan workers did not start in 2 s; reading the rest in this process"],
        [],  # read through before the 2 s were up: the start was dropped at the end
    ), warned
    _as_serial(pooled, serial, run, report)


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc (Linux)")
def test_closing_a_pool_still_starting_does_not_wait_for_it_and_ends_its_worker() -> None:
    """Closed while its first worker is being spawned (review: the kill found no
    process yet, and the hung worker kept the interpreter from exiting)."""
    import time

    pool = parallel.Pool(1, _hang, ())
    began = time.monotonic()
    pool.close()
    assert time.monotonic() - began < 10
    pool._boot.join(30)
    assert not pool._boot.is_alive() and not pool.hung_at_start
    for _ in range(50):  # the kill lands within moments: at most 5 s
        if not [w for c in _children(os.getpid()) for w in _children(c)]:
            break
        time.sleep(0.1)
    assert not [w for c in _children(os.getpid()) for w in _children(c)]


def test_files_are_read_here_in_turn_while_the_workers_start(
    make_config: Callable[..., Config],
    tmp_path: Path,
    run: Run,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The first worker's start (the fork server importing the pipeline) is not waited
    for: the scanning process reads the first files itself, then hands the rest out."""
    import threading

    monkeypatch.setattr(parallel, "MIN_FILES", 2)
    inbox = _inbox(tmp_path, 40)
    pooled, serial = _config(make_config, inbox, 2), _config(make_config, inbox, 1)
    taken: list[str] = []
    go = threading.Event()
    start = parallel.Pool._start_first

    def slow_start(self: parallel.Pool) -> None:
        go.wait(60)  # the workers start once the scan has taken five files here
        start(self)

    def progress(n: int) -> None:  # called first with the unchanged files' count
        taken.append("x")
        if len(taken) == 6:  # five files done here
            go.set()

    monkeypatch.setattr(parallel.Pool, "_start_first", slow_start)
    with Store(pooled.state) as store, caplog.at_level(logging.DEBUG, "watcher.pipeline"):
        topics = pipeline.load_topics(pooled)
        report = pipeline.scan(pooled, store, topics=topics, clock=_clock, progress=progress)
    started = [m for m in caplog.messages if m.startswith("scan workers started")]
    assert started and int(started[0].split("; ")[1].split()[0]) >= 5, started
    assert not [m for m in caplog.messages if "scan workers failed" in m]
    assert report == _scan(serial)
    assert _stored(pooled, run) == _stored(serial, run)


def test_this_process_and_the_worker_share_the_reading(
    make_config: Callable[..., Config],
    tmp_path: Path,
    run: Run,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """workers: 2 is two reading processes, this one and one worker: the worker is given
    chunks from the far end of the window, this process reads from its turn on."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    texts = [f.read_text(encoding="utf-8") for f in seed_files() if f.suffix == ".txt"]
    for n in range(64):  # 8 chunks, each file its own content
        (inbox / f"page-{n:02d}.txt").write_text(
            texts[n % len(texts)] + f"\n本报讯 第{n}期。\n", encoding="utf-8"
        )
        os.utime(inbox / f"page-{n:02d}.txt", (1_600_000_000, 1_600_000_000))
    pooled, serial = _config(make_config, inbox, 2), _config(make_config, inbox, 1)
    # The worker up before the first file is taken, so that both have work from the start.
    monkeypatch.setattr(parallel.Pool, "ready", lambda self: self._started.wait(60) or True)
    # (the root logger's level: the workers take theirs from it)
    with Store(pooled.state) as store, caplog.at_level(logging.DEBUG):
        report = pipeline.scan(pooled, store, topics=pipeline.load_topics(pooled), clock=_clock)
    reads = [(r.getMessage().split(": read (")[0], r.process) for r in caplog.records
             if ": read (" in r.getMessage()]  # fmt: skip
    assert len(reads) == 64 and len({path for path, _ in reads}) == 64  # each once
    here = sorted(path for path, pid in reads if pid == os.getpid())
    assert here and len({pid for _, pid in reads}) == 2, reads
    # This process reads from its turn on, the worker from the far end: this process's
    # files come before the worker's, but for where they met.
    order = sorted(path for path, _ in reads)
    assert order.index(here[0]) == 0
    assert report.new == 64
    _as_serial(pooled, serial, run, report)

"""Several ``watcher run`` workers on one PostgreSQL state, as real processes: each
document stored once, the articles of a single SQLite run, the stored archive
re-matched in chunks they share, the digest made once and on time by whichever
worker leads, each e-mail sent once — with workers SIGKILLed mid-scan, before the
digest (the leader) and mid-delivery. Plus heartbeats renewing leases, in-process.

The server is the ``pg_server`` fixture's (initdb + pg_ctl, loopback); without it or
psycopg the tests skip. Select them with ``pytest -m workers``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.conftest import PG_PASSWORD, ROOT, seed_files, wait_until
from tests.servers import HOST, START_TIMEOUT, RecordingHandler, SmtpServer, free_port

pytestmark = [pytest.mark.workers, pytest.mark.slow]

TZ = "Asia/Shanghai"
FILES = 300
RECIPIENTS = [f"analyst{i}@example.com" for i in range(4)]
SMTP_DELAY = 1.5  # seconds the server takes to accept each message: a send to kill


def clock_in(seconds: float) -> tuple[str, dt.datetime]:
    """The local time ``seconds`` from now (HH:MM:SS in TZ), and that moment."""
    t = (dt.datetime.now(ZoneInfo(TZ)) + dt.timedelta(seconds=seconds)).replace(microsecond=0)
    return t.strftime("%H:%M:%S"), t


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    env["WATCHER_PG_PASSWORD"] = PG_PASSWORD
    return env


def watcher(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "watcher", f"--config={config}", "--log-level=WARNING", *args],
        capture_output=True, text=True, timeout=300, env=_env(),
    )  # fmt: skip


def articles_by_id(config: Path) -> list[dict[str, Any]]:
    """``watcher articles --format jsonl`` without the first-seen times, by id (files
    named inside the inbox: the two runs have inboxes of their own)."""
    out = watcher(config, "articles", "--format", "jsonl")
    assert out.returncode == 0, out.stderr
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    for row in rows:
        row.pop("first_seen")
        row["file"] = str(Path(row["file"]).relative_to(config.parent))
    return sorted(rows, key=lambda r: str(r["id"]))


def make_inbox(inbox: Path, n: int) -> None:
    """``n`` distinct pages: the seeds, each copy with a line of its own, settled."""
    seeds = seed_files()
    inbox.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        seed = seeds[i % len(seeds)]
        path = inbox / f"{i:03d}_{seed.name}"
        path.write_bytes(seed.read_bytes() + f"\n\n（本版编号 {i}）\n".encode())
        os.utime(path, (1_600_000_000, 1_600_000_000))


EXTRA_TOPICS = """\
- id: extra-city
  name: 城市
  query: 城市 OR 项目
- id: extra-safety
  name: 安全
  query: 安全生产 AND 检查
"""


class SlowHandler(RecordingHandler):
    """Takes ``delay`` seconds to accept a message, counting those begun, so a test can
    kill the sender while it waits for the reply (the message is kept all the same)."""

    def __init__(self, delay: float) -> None:
        super().__init__()
        self.delay = delay
        self.begun = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.changed:
            self.begun += 1
            self.changed.notify_all()
        await asyncio.sleep(self.delay)
        return await super().handle_DATA(server, session, envelope)


@pytest.fixture
def slow_smtp() -> Iterator[tuple[SmtpServer, SlowHandler]]:
    from aiosmtpd.controller import Controller

    handler = SlowHandler(SMTP_DELAY)
    controller = Controller(handler, hostname=HOST, port=free_port(), ready_timeout=START_TIMEOUT)
    controller.start()
    try:
        yield SmtpServer(HOST, controller.port, handler, controller), handler
    finally:
        controller.stop()


class Cluster:
    """Workers (``watcher run`` processes) on one config; logs in the folder."""

    def __init__(self, root: Path, config: Path, url: str) -> None:
        self.root = root
        self.config = config
        self.url = url
        self.procs: dict[int, subprocess.Popen[bytes]] = {}
        self.logs: list[Path] = []

    def start(self) -> int:
        log = self.root / f"worker{len(self.logs)}.log"
        self.logs.append(log)
        proc = subprocess.Popen(
            [sys.executable, "-m", "watcher", "--config", str(self.config),
             "--log-level", "INFO", "run"],
            stdout=subprocess.DEVNULL, stderr=log.open("wb"), cwd=self.root, env=_env(),
        )  # fmt: skip
        self.procs[proc.pid] = proc
        wait_until("a worker to start", lambda: "started" in log.read_text(errors="replace"), 60)
        return proc.pid

    def kill(self, pid: int) -> None:
        """SIGKILL, and reap it: a zombie would still look alive to its neighbours."""
        proc = self.procs.pop(pid)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)

    def alive(self) -> list[int]:
        return [pid for pid, p in self.procs.items() if p.poll() is None]

    def log_text(self) -> str:
        return "".join(p.read_text(encoding="utf-8", errors="replace") for p in self.logs)

    def query(self, sql: str, *args: object) -> list[tuple[Any, ...]]:
        import psycopg

        with psycopg.connect(self.url, password=PG_PASSWORD, autocommit=True) as conn:
            return list(conn.execute(sql, args or None).fetchall())

    def one(self, sql: str, *args: object) -> Any:
        return self.query(sql, *args)[0][0]

    def holder_pid(self, lease_like: str) -> int | None:
        rows = self.query(
            "SELECT holder FROM leases WHERE name LIKE %s AND expires > %s ORDER BY name",
            lease_like, dt.datetime.now(dt.UTC).isoformat(),
        )  # fmt: skip
        for (holder,) in rows:
            pid = int(holder.rpartition(":")[2])
            if pid in self.procs:
                return pid
        return None

    def stop_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)


def write_config(path: Path, state: str, smtp_port: int, digest_at: str) -> None:
    path.write_text(
        f"""inbox: inbox
state: {state}
watchlists: watchlists
timezone: {TZ}
scan:
  settle_seconds: 0
schedule:
  scan_every: 1s
  digest_at: "{digest_at}"
  retry_after: 1s
  heartbeat: 1s
  lease: 4s
digest:
  out_dir: reports
email:
  enabled: true
  host: {HOST}
  port: {smtp_port}
  from: watcher@example.com
  to: [{", ".join(RECIPIENTS)}]
  timeout: 10
""",
        encoding="utf-8",
    )


def test_three_workers_share_an_inbox_a_rematch_and_the_digest_and_survive_kills(
    tmp_path: Path, pg_url: str, slow_smtp: tuple[SmtpServer, SlowHandler]
) -> None:
    smtp, handler = slow_smtp
    # The reference: one SQLite run over the same inbox, before and after the edit.
    lite_root, pg_root = tmp_path / "lite", tmp_path / "pg"
    for root in (lite_root, pg_root):
        make_inbox(root / "inbox", FILES)
        shutil.copytree(ROOT / "config" / "watchlists", root / "watchlists")
    lite = lite_root / "watcher.yaml"
    write_config(lite, "state/watcher.db", smtp.port, "23:59:59")
    assert watcher(lite, "scan", "--no-progress").returncode == 0
    before = articles_by_id(lite)
    (lite_root / "watchlists" / "90-extra.yaml").write_text(EXTRA_TOPICS, encoding="utf-8")
    assert watcher(lite, "scan", "--no-progress").returncode == 0
    after = articles_by_id(lite)
    assert before != after

    config = pg_root / "watcher.yaml"
    write_config(config, pg_url, smtp.port, "23:59:59")
    assert watcher(config, "check").returncode == 0  # and the schema made, once
    cluster = Cluster(pg_root, config, pg_url)
    try:
        for _ in range(3):
            cluster.start()
        # SIGKILL a worker while it holds a file: another reads that file.
        wait_until("documents stored", lambda: cluster.one("SELECT count(*) FROM documents") > 20,
                   120)  # fmt: skip
        reading = wait_until("a worker reading a file", lambda: cluster.holder_pid("file:%"), 60)
        cluster.kill(reading)
        cluster.start()  # its replacement, as systemd's Restart= would
        wait_until(
            f"all {FILES} files stored",
            lambda: cluster.one("SELECT count(*) FROM files WHERE status = 'ok'") == FILES,
            240,
        )
        assert cluster.one("SELECT count(*) FROM documents WHERE status = 'ok'") == FILES
        assert cluster.one("SELECT count(*) FROM files WHERE status != 'ok'") == 0
        assert articles_by_id(config) == before  # the same ids, texts and matches

        # A watchlist edit: two new topics, re-matched in chunks by the workers.
        (pg_root / "watchlists" / "90-extra.yaml").write_text(EXTRA_TOPICS, encoding="utf-8")
        wait_until(
            "the re-match to finish",
            lambda: cluster.one(
                "SELECT count(*) FROM topics WHERE topic_id IN ('extra-city', 'extra-safety')"
            ) == 2,
            120,
        )  # fmt: skip
        chunks = cluster.query("SELECT n, done_by FROM rematch_chunks ORDER BY n")
        assert len(chunks) == 16 and all(by for _, by in chunks), chunks  # each done once
        assert articles_by_id(config) == after

        # The digest a little ahead; its leader is SIGKILLed before it is due.
        at, due = clock_in(16)
        write_config(config, pg_url, smtp.port, at)
        time.sleep(3)  # every worker reloads at its next scan (1s)
        leader = wait_until("a leader", lambda: cluster.holder_pid("leader"), 10)
        cluster.kill(leader)
        successor = wait_until(
            "another leader", lambda: cluster.holder_pid("leader"), 10
        )  # fmt: skip
        assert successor != leader
        assert dt.datetime.now(ZoneInfo(TZ)) < due, "machine too slow: the kill came too late"
        # It makes the digest on time and sends; SIGKILL it during its second e-mail.
        wait_until("the second e-mail in flight", lambda: handler.begun >= 2, 40)
        sender = cluster.holder_pid("leader")
        claimed = cluster.query(
            "SELECT claimed_by, channel FROM deliveries WHERE status = 'pending' "
            "AND claimed_by IS NOT NULL"
        )
        assert [int(c.rpartition(":")[2]) for c, _ in claimed] == [sender], claimed
        in_flight = claimed[0][1]
        assert sender is not None
        cluster.kill(sender)
        # The last worker leads, and sends the rest (the one in flight again).
        wait_until(
            "every delivery sent",
            lambda: (
                cluster.one("SELECT count(*) FROM deliveries WHERE status = 'sent'")
                == len(RECIPIENTS)
            ),
            60,
        )
        time.sleep(2 * SMTP_DELAY + 1)  # a further copy, were there one, would have come
        mails = smtp.mails
        [(produced,)] = cluster.query("SELECT produced_at FROM digests")
        status = json.loads(watcher(config, "status", "--format", "json").stdout)
    finally:
        cluster.stop_all()
    made = dt.datetime.fromisoformat(produced)
    assert due <= made < due + dt.timedelta(seconds=10), (due, made)  # once, on time
    got = Counter(r for m in mails for r in m.rcpt_tos)
    assert set(got) == set(RECIPIENTS)
    twice = [r for r, n in got.items() if n > 1]
    # The documented SMTP window: the message being sent when its sender was killed may
    # arrive twice, under one Message-ID; every other one exactly once.
    assert twice in ([], [in_flight.removeprefix("email:")]), (got, in_flight)
    assert max(got.values()) <= 2
    for r in twice:
        ids = {m.message["Message-ID"] for m in mails if r in m.rcpt_tos}
        assert len(ids) == 1, ids
    # watcher status sees the workers through the state: one alive and leading, the
    # three killed ones gone (their heartbeats stopped; their processes are no more).
    alive = [w for w in status["workers"] if w["alive"]]
    assert len(alive) == 1 and status["leader"] == alive[0]["worker"], status["workers"]
    assert len([w for w in status["workers"] if not w["alive"]]) == 3
    assert status["daemon"] != "not running"


def test_a_heartbeat_renews_the_leases_of_its_worker_and_a_silent_one_loses_them(
    make_config: Callable[..., Any], pg_url: str
) -> None:
    """A slow document (longer than the lease) is not taken over while its holder beats;
    a worker on another machine that stopped beating loses its claims once they expire."""
    from watcher import pipeline
    from watcher.store import Store

    cfg = make_config(state=pg_url)
    cfg.path.write_text(
        cfg.path.read_text() + "schedule:\n  heartbeat: 1s\n  lease: 3s\n", encoding="utf-8"
    )
    from watcher.config import load_config

    cfg = load_config(cfg.path)
    elsewhere = "otherhost:1"  # not this machine: only its heartbeat says it lives
    with Store(cfg.state) as store, pipeline.Heartbeat(cfg):
        now = dt.datetime.now(dt.UTC)
        store.heartbeat(elsewhere, now, 3.0, started=now)
        assert store.take_lease("doc:slow", pipeline.WORKER, now, pipeline._lease(900), _yes)
        assert store.take_lease("doc:other", elsewhere, now, 3.0, _yes)
        day = now.date()
        channels = [
            ("email:a@example.com", "k1", "pending"),
            ("email:b@example.com", "k2", "pending"),
        ]
        assert store.add_digest(day, now, None, {}, "{}", channels)
        assert store.claim_delivery(day, "email:a@example.com", now, pipeline.WORKER, _yes, 3.0)
        assert store.claim_delivery(day, "email:b@example.com", now, elsewhere, _yes, 3.0)
        time.sleep(4.5)  # beyond both leases: ours was renewed, theirs was not
        later = dt.datetime.now(dt.UTC)
        assert not store.take_lease("doc:slow", elsewhere, later, 3.0, _yes)
        assert store.take_lease("doc:other", pipeline.WORKER, later, 3.0, _yes)
        # A slow send: its holder beats, so it keeps it; the silent one's is taken over.
        assert not store.claim_delivery(day, "email:a@example.com", later, elsewhere, _yes, 3.0)
        assert store.claim_delivery(day, "email:b@example.com", later, pipeline.WORKER, _yes, 3.0)
        listed = {w.holder: w for w in store.workers(later)}
        assert listed[pipeline.WORKER].holds == (
            "doc:other",
            "doc:slow",
            f"delivery:{day}:email:a@example.com",
            f"delivery:{day}:email:b@example.com",
        )
        assert listed[pipeline.WORKER].expires > later > listed[elsewhere].expires
        assert [s.alive for s in pipeline.workers(store, later)] == [True, False]
    with Store(cfg.state) as store:  # stopped: its row and its leases are gone
        assert store.lease_holder("doc:slow", dt.datetime.now(dt.UTC)) is None
        assert [w.holder for w in store.workers(dt.datetime.now(dt.UTC))] == [elsewhere]


def _yes(_holder: str) -> bool:
    return True


def test_a_rematch_is_shared_chunk_by_chunk_and_recorded_by_the_last(
    make_config: Callable[..., Any],
    seeded_inbox: Path,
    state: Path | str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """On both back ends: the chunks another worker holds are left to it, the rest done
    here; the new versions are recorded only when the last chunk is, by whoever does it;
    and the result is what matching every stored article afresh gives."""
    from watcher import pipeline
    from watcher.matcher import Matcher
    from watcher.store import Store
    from watcher.watchlists import load_watchlists

    monkeypatch.setattr(pipeline, "REMATCH_CHUNK", 2)  # the seeds' 26 articles: 16 chunks
    cfg = make_config(state=state)
    for f in (ROOT / "config" / "watchlists").glob("*.yaml"):
        shutil.copy(f, cfg.watchlists / f.name)
    segmenter = pipeline.segmenter_for(cfg)
    t0 = dt.datetime(2026, 11, 21, 8, 0, tzinfo=dt.UTC)
    with Store(cfg.state) as store:
        topics = load_watchlists(cfg.watchlists)
        pipeline.scan(cfg, store, topics=topics, segmenter=segmenter, clock=lambda: t0)
        (cfg.watchlists / "90-extra.yaml").write_text(EXTRA_TOPICS, encoding="utf-8")
        topics = load_watchlists(cfg.watchlists)
        changed = [t for t in topics if t.id.startswith("extra-")]
        job, wanted = pipeline.rematch_job(changed)
        # A worker on another machine holds chunk 3 (its lease runs 60 s).
        assert store.take_lease(f"rematch:{job}:3", "otherhost:1", t0, 60, _yes)
        assert pipeline.sync_topics(store, topics, segmenter, clock=lambda: t0) == []
        assert "extra-city" not in store.topic_versions()
        assert [c.n for c in store.rematch_chunks(job, wanted, [])] == [3]  # 15 done here
        t1 = t0 + dt.timedelta(seconds=61)  # it went silent: its chunk is free
        redone = pipeline.sync_topics(store, topics, segmenter, clock=lambda: t1)
        assert redone == ["extra-city", "extra-safety"]
        assert pipeline.sync_topics(store, topics, segmenter, clock=lambda: t1) == []
        versions = store.topic_versions()
        assert all(versions[t.id] == t.version for t in changed)
        fresh = Matcher(changed, segmenter)
        expected = sorted(
            (row.doc_sha256, row.article.index, m.topic_id, m.score)
            for row in store.articles()
            for m in fresh.match(row.article)
        )
        got = sorted(
            (d, i, m.topic_id, m.score) for d, i, m in store.matches() if m.topic_id in versions
            and m.topic_id.startswith("extra-")
        )  # fmt: skip
        assert got == expected and expected


def test_a_leader_stopped_with_sigterm_hands_over_at_once_and_leaves_no_claim(
    tmp_path: Path, pg_url: str
) -> None:
    make_inbox(tmp_path / "inbox", 5)
    shutil.copytree(ROOT / "config" / "watchlists", tmp_path / "watchlists")
    config = tmp_path / "watcher.yaml"
    write_config(config, pg_url, free_port(), "23:59:59")
    cluster = Cluster(tmp_path, config, pg_url)
    try:
        first = cluster.start()
        wait_until("the first worker to lead", lambda: cluster.holder_pid("leader") == first, 20)
        second = cluster.start()
        proc = cluster.procs.pop(first)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        # It gave its lease back: the other leads at its next beat, not after 4 s.
        started = time.monotonic()
        wait_until("the second to lead", lambda: cluster.holder_pid("leader") == second, 10)
        assert time.monotonic() - started < 3
        holders = {h for (h,) in cluster.query("SELECT holder FROM leases")}
        assert all(not h.endswith(f":{first}") for h in holders), holders
        workers = [h for (h,) in cluster.query("SELECT holder FROM workers")]
        assert [int(h.rpartition(":")[2]) for h in workers] == [second]
    finally:
        cluster.stop_all()

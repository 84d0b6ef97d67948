"""`watcher run` as a real process: scans, the digest on time, kills, catch-up, reloads.

Each test starts the daemon as a subprocess on a temporary inbox with a local
SMTP server (aiosmtpd), drives it through its files and signals, and waits
for effects with bounded polls.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.conftest import ROOT, seed_files, wait_until
from tests.servers import RecordingHandler, SmtpServer, smtp_server
from watcher.pages import split_page

pytestmark = pytest.mark.slow


def _zone() -> str:
    """A time zone where it is now between 02:00 and 21:00, so that "an hour from now"
    and "a minute ago" are both today (at 23:30 in Shanghai an hour ahead is tomorrow,
    and today's digest time would already have passed)."""
    for name in ("Asia/Shanghai", "Europe/London", "America/New_York"):
        if 2 <= dt.datetime.now(ZoneInfo(name)).hour < 21:
            return name
    raise AssertionError("unreachable: the three zones' days overlap")


TZ = _zone()
HEADLINES = [
    "毛伟明在湘潭暗访检查安全生产工作",
    "133大片区、2478个项目！",
    "严把“四关”，让驻村干部“驻”村更“助”村",
]


def clock_in(seconds: float) -> str:
    """The local time (HH:MM:SS in TZ) ``seconds`` from now."""
    t = dt.datetime.now(ZoneInfo(TZ)) + dt.timedelta(seconds=seconds)
    return t.strftime("%H:%M:%S")


class Env:
    """A temporary installation: config, inbox, watchlists, reports, logs."""

    def __init__(self, root: Path, smtp: SmtpServer) -> None:
        self.root = root
        self.smtp = smtp
        self.inbox = root / "inbox"
        self.inbox.mkdir()
        shutil.copytree(ROOT / "config" / "watchlists", root / "watchlists")
        self.config = root / "watcher.yaml"
        self.db = root / "state" / "watcher.db"
        self.procs: list[subprocess.Popen[bytes]] = []
        self.logs: list[Path] = []

    def write_config(self, digest_at: str, scan_every: str = "1s") -> None:
        self.config.write_text(
            f"""inbox: inbox
state: state/watcher.db
watchlists: watchlists
timezone: {TZ}
scan:
  settle_seconds: 1
schedule:
  scan_every: {scan_every}
  digest_at: "{digest_at}"
  retry_after: 1s
digest:
  out_dir: reports
email:
  enabled: true
  host: {self.smtp.host}
  port: {self.smtp.port}
  security: none
  from: watcher 日报 <watcher@example.com>
  to: [analyst@example.com]
  timeout: 5
""",
            encoding="utf-8",
        )

    def start(self) -> subprocess.Popen[bytes]:
        log = self.root / f"run{len(self.logs)}.log"
        self.logs.append(log)
        proc = subprocess.Popen(
            [sys.executable, "-m", "watcher", "--config", str(self.config), "run"],
            stdout=subprocess.DEVNULL,
            stderr=log.open("wb"),
            cwd=self.root,
        )
        self.procs.append(proc)
        wait_until("the daemon to start", lambda: "started" in self.log_text(), 30)
        return proc

    def log_text(self) -> str:
        return "".join(p.read_text(encoding="utf-8", errors="replace") for p in self.logs)

    def stop(self, proc: subprocess.Popen[bytes], timeout: float = 5.0) -> int:
        proc.send_signal(signal.SIGTERM)
        return proc.wait(timeout=timeout)

    def query(self, sql: str) -> list[tuple[object, ...]]:
        if not self.db.exists():
            return []
        con = sqlite3.connect(self.db, timeout=5)
        try:
            return con.execute(sql).fetchall()
        except sqlite3.OperationalError:
            return []
        finally:
            con.close()

    def count(self, sql: str) -> int:
        rows = self.query(sql)
        return int(rows[0][0]) if rows else 0

    def drop_seeds(self) -> None:
        for f in seed_files():
            shutil.copy(f, self.inbox / f.name)

    def cleanup(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait(timeout=10)


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    with smtp_server() as smtp:
        e = Env(tmp_path, smtp)
        try:
            yield e
        finally:
            e.cleanup()


def headlines_in(mail_text: str) -> list[str]:
    return [h for h in HEADLINES if h in mail_text]


def body_text(message: object) -> str:
    part = message.get_body(preferencelist=("plain",))  # type: ignore[attr-defined]
    return str(part.get_content())


def test_daemon_scans_sends_the_digest_once_and_stops_cleanly(env: Env) -> None:
    # Far enough ahead for every page (one written slowly) to be read before it.
    digest_time = time.monotonic() + 15
    env.write_config(digest_at=clock_in(15))
    proc = env.start()
    seeds = seed_files()
    for f in seeds[1:]:
        shutil.copy(f, env.inbox / f.name)
    # One page arrives slowly, in chunks: it must be read once, whole.
    data = seeds[0].read_bytes()
    with (env.inbox / seeds[0].name).open("wb") as fh:
        for n in range(0, len(data), len(data) // 4 + 1):
            fh.write(data[n : n + len(data) // 4 + 1])
            fh.flush()
            time.sleep(0.4)
    wait_until("26 articles", lambda: env.count("SELECT count(*) FROM articles") == 26, 30)
    assert time.monotonic() < digest_time, "machine too slow: pages read after the digest time"
    [mail] = env.smtp.wait_for(1, timeout=40)
    msg = mail.message
    assert msg["Subject"].startswith("【watcher】")
    assert headlines_in(body_text(msg)) == HEADLINES
    assert env.count("SELECT count(*) FROM documents") == 5
    time.sleep(2.5)  # more scan ticks and a digest time that has passed: nothing more
    assert len(env.smtp.mails) == 1
    started = time.monotonic()
    assert env.stop(proc) == 0
    assert time.monotonic() - started < 5
    assert "stopped" in env.log_text()
    assert env.count("SELECT count(*) FROM deliveries WHERE status = 'sent'") == 1


def test_a_second_daemon_on_the_same_state_refuses_to_start(env: Env) -> None:
    env.write_config(digest_at="23:59:59")
    proc = env.start()
    other = subprocess.run(
        [sys.executable, "-m", "watcher", "--config", str(env.config), "run"],
        capture_output=True, text=True, timeout=60, cwd=env.root,
    )  # fmt: skip
    assert other.returncode == 1
    assert "another watcher run is already using" in other.stderr
    assert f"pid {proc.pid}" in other.stderr
    status = subprocess.run(
        [sys.executable, "-m", "watcher", "--config", str(env.config), "status"],
        capture_output=True, text=True, timeout=60, cwd=env.root,
    )  # fmt: skip
    assert status.returncode == 0, status.stderr
    assert f"daemon:       pid {proc.pid} on " in status.stdout
    assert "next scan:    - (daemon not running)" not in status.stdout
    assert env.stop(proc) == 0
    after = subprocess.run(
        [sys.executable, "-m", "watcher", "--config", str(env.config), "status"],
        capture_output=True, text=True, timeout=60, cwd=env.root,
    )  # fmt: skip
    assert "daemon:       not running" in after.stdout


def test_missed_digest_is_delivered_at_start(env: Env) -> None:
    env.write_config(digest_at=clock_in(3600))  # far ahead: not due while it runs
    env.drop_seeds()
    proc = env.start()
    wait_until("the scan", lambda: env.count("SELECT count(*) FROM articles") == 26, 30)
    assert env.stop(proc) == 0
    assert env.smtp.mails == []
    # The digest time passes while the daemon is down.
    env.write_config(digest_at=clock_in(-5))
    env.start()
    [mail] = env.smtp.wait_for(1, timeout=40)
    assert headlines_in(body_text(mail.message)) == HEADLINES


def test_killed_mid_scan_then_restarted_loses_nothing(env: Env) -> None:
    env.write_config(digest_at=clock_in(3600))
    texts = [f.read_text(encoding="utf-8") for f in seed_files()]
    expected = 0
    for i in range(150):
        page = texts[i % 5] + f"\n\n附注{i}。\n"
        (env.inbox / f"p{i:03d}.txt").write_text(page, encoding="utf-8")
        expected += len(split_page(page))
    past = time.time() - 60
    for f in env.inbox.iterdir():
        os.utime(f, (past, past))
    proc = env.start()
    wait_until("some documents", lambda: env.count("SELECT count(*) FROM documents") >= 10, 60)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    stored = env.count("SELECT count(*) FROM documents")
    assert stored < 150, "the scan finished before it could be killed"
    env.start()
    wait_until("all documents", lambda: env.count("SELECT count(*) FROM documents") == 150, 120)
    assert env.count("SELECT count(*) FROM articles") == expected
    dupes = env.count(
        "SELECT count(*) FROM (SELECT doc_sha256, idx FROM articles GROUP BY 1, 2 HAVING count(*) > 1)"
    )
    assert dupes == 0


class SlowHandler(RecordingHandler):
    """Takes its time over DATA, as a busy server would: the daemon can be killed mid-send."""

    def __init__(self, delay: float) -> None:
        super().__init__()
        self.delay = delay
        self.calls = 0

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        self.calls += 1
        if self.calls == 1:
            await asyncio.sleep(self.delay)
        return await super().handle_DATA(server, session, envelope)


def test_killed_mid_delivery_then_restarted_sends_one_message(env: Env) -> None:
    slow = SlowHandler(delay=6.0)
    env.smtp.handler = slow
    env.smtp.controller.handler = slow
    env.write_config(digest_at=clock_in(4))
    env.drop_seeds()
    proc = env.start()
    wait_until("a delivery attempt", lambda: slow.calls >= 1, 40)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    assert env.count("SELECT count(*) FROM deliveries WHERE status = 'sent'") == 0
    env.start()
    wait_until("the delivery", lambda: env.count(
        "SELECT count(*) FROM deliveries WHERE status = 'sent'") == 1, 40)  # fmt: skip
    time.sleep(7)  # let the first, interrupted transaction run out
    mails = env.smtp.mails
    # Every copy the server kept is the same message (one Message-ID), so a
    # receiver files it once; at most the one interrupted copy plus the resend.
    assert 1 <= len(mails) <= 2
    assert len({m.message["Message-ID"] for m in mails}) == 1
    assert headlines_in(body_text(mails[-1].message)) == HEADLINES


def test_a_broken_watchlist_keeps_the_last_good_one_until_fixed(env: Env) -> None:
    env.write_config(digest_at=clock_in(3600))
    proc = env.start()
    safety = env.root / "watchlists" / "01-safety.yaml"
    good = safety.read_text(encoding="utf-8")
    safety.write_text("id: safety\nquery: [暗访\n", encoding="utf-8")
    wait_until("the error report", lambda: "configuration not reloaded" in env.log_text(), 20)
    assert f"{safety}:3:1: YAML syntax error" in env.log_text()
    env.drop_seeds()
    wait_until("matches", lambda: env.count(
        "SELECT count(*) FROM matches WHERE topic_id = 'safety'") == 2, 30)  # fmt: skip
    # Fixed, with a threshold: the new version is used and stored articles re-matched
    # (the flood-season tour that mentions safety scores under 50).
    floor = re.sub(r"(?m)^min_score: .*\n", "", good) + "min_score: 50\n"
    safety.write_text(floor, encoding="utf-8")
    wait_until("the reload", lambda: "configuration fixed" in env.log_text(), 20)
    wait_until("re-matching", lambda: env.count(
        "SELECT count(*) FROM matches WHERE topic_id = 'safety'") == 1, 30)  # fmt: skip
    assert env.stop(proc) == 0

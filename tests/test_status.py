"""``watcher status`` for monitoring: exit codes, and the daemon's state shown even when
the config is broken or the inbox is missing."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator

import pytest

from tests.conftest import ROOT, Run
from watcher.config import Config
from watcher.daemon import Lock
from watcher.store import Store


@pytest.fixture
def cfg(make_config: Callable[..., Config]) -> Config:
    cfg = make_config()
    for f in (ROOT / "config" / "watchlists").glob("*.yaml"):
        shutil.copy(f, cfg.watchlists / f.name)
    with Store(cfg.state):
        pass
    return cfg


@pytest.fixture
def running(cfg: Config) -> Iterator[Lock]:
    """This process holds the daemon's lock, as a running daemon would."""
    lock = Lock(cfg.state)
    lock.acquire()
    yield lock
    lock.release()


def test_not_running_is_exit_3(run: Run, cfg: Config) -> None:
    code, out, _ = run("status", config=cfg.path)
    assert code == 3 and "daemon:       not running" in out


def test_running_and_well_is_exit_0(run: Run, cfg: Config, running: Lock) -> None:
    code, out, _ = run("status", config=cfg.path)
    assert code == 0, out
    assert out.startswith("daemon:       pid ")


def test_an_alarm_is_exit_1(run: Run, cfg: Config, running: Lock) -> None:
    shutil.rmtree(cfg.inbox)  # the inbox vanished (an unmounted share)
    code, out, _ = run("status", config=cfg.path)
    assert code == 1
    assert f"ALARM:        收件箱无法读取（{cfg.inbox}）：No such file or directory" in out
    code, out, _ = run("status", "--format", "json", config=cfg.path)
    info = json.loads(out)
    assert code == 1 and info["exit_code"] == 1 and info["daemon"].startswith("pid ")


def test_a_broken_config_still_shows_the_daemon_and_is_exit_4(
    run: Run, cfg: Config, running: Lock
) -> None:
    cfg.path.write_text(cfg.path.read_text() + "schedule:\n  scan_every: soon\n")
    code, out, _ = run("status", config=cfg.path)
    assert code == 4
    lines = out.splitlines()
    assert lines[0].startswith("daemon:       pid ")
    assert lines[1] == (
        f"config error: {cfg.path}:7: schedule.scan_every: expected a duration such as "
        "30s, 10m or 1h, got 'soon'"
    )
    code, out, _ = run("status", "--format", "json", config=cfg.path)
    info = json.loads(out)
    assert code == 4 and info["daemon"].startswith("pid ") and len(info["config_errors"]) == 1


def test_a_broken_watchlist_is_exit_4(run: Run, cfg: Config, running: Lock) -> None:
    (cfg.watchlists / "09-bad.yaml").write_text("id: bad\nquery: (安全\n", encoding="utf-8")
    code, out, _ = run("status", config=cfg.path)
    assert code == 4
    assert "config error: " in out and "09-bad.yaml:2: query:" in out


def test_workers_on_other_machines_are_shown_from_the_shared_state(
    run: Run, make_config: Callable[..., Config], pg_url: str
) -> None:
    import datetime as dt

    from watcher import pipeline

    cfg = make_config(state=pg_url)
    now = dt.datetime.now(dt.UTC)
    with Store(cfg.state) as store:
        assert store.take_lease("leader", "db-a:42", now, 60, lambda _: True)
        store.heartbeat("db-a:42", now, 60, started=now - dt.timedelta(hours=1), doing="scan")
        # One whose machine went down two minutes ago: gone, still listed for a day.
        store.heartbeat("db-b:7", now - dt.timedelta(seconds=120), 60, started=now)
    code, out, _ = run("status", config=cfg.path)
    assert code == 0, out
    assert out.startswith("daemon:       1 worker(s) on db-a\n")
    lines = out.splitlines()
    at = lines.index("workers:      1 alive")
    assert lines[at + 1].startswith("  db-a pid 42 (leader): scan, last heartbeat ")
    assert lines[at + 1].endswith(", holds leader")
    assert lines[at + 2].startswith("  db-b pid 7: gone, last heartbeat ")
    code, out, _ = run("status", "--format", "json", config=cfg.path)
    info = json.loads(out)
    assert info["leader"] == "db-a:42"
    assert [(w["worker"], w["alive"], w["holds"]) for w in info["workers"]] == [
        ("db-a:42", True, ["leader"]),
        ("db-b:7", False, []),
    ]
    with Store(cfg.state) as store:  # db-a stops beating: after its lease, not running
        later = now + dt.timedelta(seconds=61)
        assert [w.alive for w in pipeline.workers(store, later)] == [False, False]
        store.forget_worker("db-a:42")
    code, out, _ = run("status", config=cfg.path)
    assert code == 3 and "daemon:       not running" in out

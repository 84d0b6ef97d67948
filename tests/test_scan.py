"""Scanning an inbox: idempotence, changes, renames, half-written and broken files."""

from __future__ import annotations

import datetime as dt
import os
import pathlib
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import seed_files
from watcher import pipeline
from watcher.config import Config
from watcher.models import FileInfo
from watcher.store import Store

OLD = 1_600_000_000  # an mtime long settled


def _put(inbox: Path, name: str, data: bytes, mtime: float = OLD) -> Path:
    path = inbox / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    os.utime(path, (mtime, mtime))
    return path


def _scan(cfg: Config) -> pipeline.ScanReport:
    with Store(cfg.state) as store:
        return pipeline.scan(cfg, store)


def _articles(cfg: Config) -> list[tuple[str, int, str]]:
    with Store(cfg.state) as store:
        return [(r.doc_sha256, r.article.index, r.article.headline) for r in store.articles()]


@pytest.fixture
def cfg(make_config: Callable[..., Config], seeded_inbox: Path) -> Config:
    return make_config()


def test_first_scan_reads_every_seed(cfg: Config) -> None:
    report = _scan(cfg)
    assert (report.new, report.unchanged, report.failed, report.articles) == (5, 0, 0, 26)
    assert len(_articles(cfg)) == 26


def test_rescan_of_an_unchanged_folder_reads_no_file_and_adds_nothing(
    cfg: Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    _scan(cfg)
    before = _articles(cfg)
    reads: list[Path] = []
    real = pathlib.Path.read_bytes

    def counting(self: Path) -> bytes:
        reads.append(self)
        return real(self)

    monkeypatch.setattr(pathlib.Path, "read_bytes", counting)
    report = _scan(cfg)
    assert reads == []
    assert (report.new, report.unchanged, report.articles) == (0, 5, 0)
    assert _articles(cfg) == before


def test_renamed_or_copied_file_is_not_counted_twice(cfg: Config) -> None:
    _scan(cfg)
    first = seed_files()[0].name
    os.rename(cfg.inbox / first, cfg.inbox / "renamed.txt")
    (cfg.inbox / "sub").mkdir()
    shutil.copy2(cfg.inbox / "renamed.txt", cfg.inbox / "sub" / "copy.txt")
    report = _scan(cfg)
    assert (report.new, report.duplicate, report.articles) == (0, 2, 0)
    assert len(_articles(cfg)) == 26


def test_changed_file_is_read_again(cfg: Config) -> None:
    _scan(cfg)
    path = cfg.inbox / seed_files()[2].name
    text = path.read_text(encoding="utf-8").replace("乘势而上", "乘风破浪")
    _put(cfg.inbox, path.name, text.encode("utf-8"), mtime=OLD + 10)
    report = _scan(cfg)
    assert (report.new, report.unchanged, report.articles) == (1, 4, 4)
    assert any(h == "乘风破浪，不断开创省际合作新局面" for _, _, h in _articles(cfg))


def test_file_still_being_written_waits_for_the_next_scan(
    make_config: Callable[..., Config],
) -> None:
    cfg = make_config(scan={"settle_seconds": 60})
    _put(cfg.inbox, "fresh.txt", seed_files()[0].read_bytes(), mtime=time.time())
    _put(cfg.inbox, "upload.txt.part", b"partial", mtime=OLD)
    _put(cfg.inbox, "draft.txt~", b"backup", mtime=OLD)
    report = _scan(cfg)
    assert (report.new, report.waiting, report.skipped) == (0, 1, 0)
    os.utime(cfg.inbox / "fresh.txt", (OLD, OLD))
    assert _scan(cfg).new == 1


def test_gbk_copy_of_a_seed_yields_the_same_articles(make_config: Callable[..., Config]) -> None:
    cfg = make_config()
    text = seed_files()[3].read_text(encoding="utf-8")
    _put(cfg.inbox, "utf8.txt", text.encode("utf-8"))
    _put(cfg.inbox, "gbk.txt", text.encode("gb18030"))
    _scan(cfg)
    with Store(cfg.state) as store:
        by_file: dict[str, list[str]] = {}
        for r in store.articles():
            by_file.setdefault(Path(r.file).name, []).append(r.article.body)
    assert by_file["gbk.txt"] == by_file["utf8.txt"]


def test_broken_files_are_recorded_skipped_and_retried_when_changed(
    make_config: Callable[..., Config],
) -> None:
    cfg = make_config()
    _put(cfg.inbox, "empty.txt", b"")
    _put(cfg.inbox, "binary.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    _put(cfg.inbox, "corrupt.txt", "正文".encode() + b"\xff\x80\xff\x80 abc \xff\x80")
    _put(cfg.inbox, "picture.gif", b"GIF89a")
    _put(cfg.inbox, "good.txt", seed_files()[0].read_bytes())
    report = _scan(cfg)
    assert (report.new, report.failed, report.skipped) == (1, 3, 1)
    assert dict((Path(p).name, r) for p, r in report.failures) == {
        "binary.txt": "binary file (contains NUL bytes)",
        "corrupt.txt": "cannot decode: not valid UTF-8, UTF-16 or GB18030",
        "empty.txt": "empty file",
    }
    again = _scan(cfg)  # unchanged failures are not re-read or re-reported
    assert (again.failed, again.unchanged) == (0, 5)
    with Store(cfg.state) as store:
        assert len(store.failures()) == 3
    _put(cfg.inbox, "empty.txt", seed_files()[1].read_bytes(), mtime=OLD + 5)
    fixed = _scan(cfg)
    assert (fixed.new, fixed.failed) == (1, 0)
    with Store(cfg.state) as store:
        assert [Path(p).name for p, _ in store.failures()] == ["binary.txt", "corrupt.txt"]


def test_a_file_larger_than_the_limit_is_recorded_as_failed(
    make_config: Callable[..., Config],
) -> None:
    cfg = make_config(scan={"max_file_mb": 0.001})
    _put(cfg.inbox, "big.txt", seed_files()[3].read_bytes())
    report = _scan(cfg)
    assert report.failures == ((str(cfg.inbox / "big.txt"), "too large (0 MB > scan.max_file_mb)"),)


@pytest.mark.slow
def test_a_huge_file_is_read_without_stopping_the_scan(make_config: Callable[..., Config]) -> None:
    cfg = make_config(scan={"max_file_mb": 64})  # above the default of 50
    page = seed_files()[3].read_bytes()
    copies = 50 * 1024 * 1024 // len(page) + 1
    with (cfg.inbox / "huge.txt").open("wb") as fh:
        for i in range(copies):
            fh.write(page.replace("今日8版".encode(), f"今日8版 {i}".encode()))
    os.utime(cfg.inbox / "huge.txt", (OLD, OLD))
    _put(cfg.inbox, "small.txt", seed_files()[0].read_bytes())
    report = _scan(cfg)
    assert (cfg.inbox / "huge.txt").stat().st_size >= 50 * 1024 * 1024
    assert (report.new, report.failed) == (2, 0)
    assert report.articles > copies * 8


# --- crash safety: a real process killed mid-scan -------------------------------


def _many_pages(inbox: Path, n: int) -> None:
    seeds = [f.read_text(encoding="utf-8") for f in seed_files()]
    for i in range(n):
        # Distinct bytes per file (so none is a duplicate), same structure.
        text = seeds[i % len(seeds)] + f"\n\n编号{i}的附注。\n"
        _put(inbox, f"page{i:04d}.txt", text.encode("utf-8"))


def _snapshot(db: Path) -> list[tuple[object, ...]]:
    con = sqlite3.connect(db)
    try:
        return con.execute(
            "SELECT d.path, a.idx, a.headline, a.body, a.date FROM articles a "
            "JOIN documents d ON d.sha256 = a.doc_sha256 ORDER BY d.path, a.idx"
        ).fetchall()
    finally:
        con.close()


@pytest.mark.slow
def test_killed_scan_then_rescan_equals_a_clean_run(
    make_config: Callable[..., Config], tmp_path: Path
) -> None:
    cfg = make_config()
    _many_pages(cfg.inbox, 400)
    env = {**os.environ, "WATCHER_CONFIG": str(cfg.path)}
    cmd = [sys.executable, "-m", "watcher", "--log-level", "WARNING", "scan", "--no-progress"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    stored = 0
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if cfg.state.exists():
                try:
                    con = sqlite3.connect(cfg.state, timeout=1)
                    stored = con.execute("SELECT count(*) FROM documents").fetchone()[0]
                    con.close()
                except sqlite3.OperationalError:
                    stored = 0
            if stored >= 20:
                break
            time.sleep(0.02)
        assert proc.poll() is None, "the scan finished before it could be killed"
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=10)
    assert 20 <= stored < 400
    resumed = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    assert "failed" in resumed.stdout and " 0 failed" in resumed.stdout

    clean_cfg = make_config(name="clean.yaml", state="clean/watcher.db")
    with Store(clean_cfg.state) as store:
        pipeline.scan(clean_cfg, store, clock=lambda: dt.datetime.now(dt.UTC))
    assert _snapshot(cfg.state) == _snapshot(clean_cfg.state)
    assert len(_snapshot(cfg.state)) > 400


def _lock_free(state: Path) -> bool:
    """Whether another connection could take SQLite's write lock right now."""
    other = sqlite3.connect(state, timeout=0)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError:
        return False
    finally:
        other.close()


@pytest.mark.parametrize(("size", "aged", "free"), [
    (pipeline.QUICK_IN_BATCH + 1, False, True),   # a big file: the batch commits first
    (1_000, False, False),                         # a small one joins the young batch
    (1_000, True, True),                           # ... unless the batch is old already
])  # fmt: skip
def test_a_batch_does_not_hold_the_write_lock_over_slow_reading(
    tmp_path: Path, size: int, aged: bool, free: bool
) -> None:
    state = tmp_path / "w.db"
    now = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
    seen: list[bool] = []

    def process(data: bytes) -> pipeline.Processed:
        seen.append(_lock_free(state))
        return pipeline.Processed(failure="unreadable")

    with Store(state) as store, store.batch(units=100, seconds=0.05 if aged else 3600):
        first = FileInfo(tmp_path / "a.txt", "a.txt", 10, 1)
        pipeline._store_one(store, first, "a" * 64, b"x", now, lambda: now, process)
        assert not _lock_free(state)  # the batch holds the first file's record
        time.sleep(0.06 if aged else 0)
        info = FileInfo(tmp_path / "b.txt", "b.txt", size, 1)
        pipeline._store_one(store, info, "b" * 64, b"y", now, lambda: now, process)
    assert seen[1] is free
    with Store(state) as store:  # both recorded, whichever way the batch went
        assert store.file_state(first.key) is not None and store.file_state(info.key) is not None

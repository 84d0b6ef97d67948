"""An inbox that fights back: file names that are not UTF-8 or hold newlines, symbolic
links out of the inbox, FIFOs, link loops, failures fixed without touching the file,
and files deleted after they failed."""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import seed_files
from watcher import cli, pipeline
from watcher.config import Config
from watcher.paths import safe_text
from watcher.store import Store

OLD = 1_600_000_000
T0 = dt.datetime(2026, 11, 21, tzinfo=dt.UTC)


def _put(path: Path, data: bytes, mtime: float = OLD) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    os.utime(path, (mtime, mtime), follow_symlinks=False)
    return path


def _scan(cfg: Config, at: dt.datetime = T0) -> pipeline.ScanReport:
    with Store(cfg.state) as store:
        return pipeline.scan(cfg, store, clock=lambda: at)


def _stored_paths(cfg: Config) -> list[str]:
    with Store(cfg.state) as store:
        return sorted(store.file_states())


@pytest.fixture
def cfg(make_config: Callable[..., Config]) -> Config:
    return make_config()


def test_a_name_that_is_not_utf8_is_read_stored_and_shown(
    cfg: Config, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = Path(os.fsdecode(bytes(cfg.inbox) + b"/a\xff.txt"))
    _put(bad, seed_files()[0].read_bytes())
    _put(cfg.inbox / "b.txt", seed_files()[1].read_bytes())  # sorts after it
    report = _scan(cfg)
    assert (report.new, report.failed) == (2, 0)
    assert _stored_paths(cfg) == [f"{cfg.inbox}/a\\xff.txt", f"{cfg.inbox}/b.txt"]
    assert _scan(cfg).unchanged == 2  # and it is recognised the next time
    with pytest.raises(SystemExit) as done:
        cli.main(["--config", str(cfg.path), "articles"])
    assert done.value.code == 0
    assert "a\\xff.txt" in capsys.readouterr().out


def test_a_newline_in_a_name_cannot_forge_a_log_line(
    cfg: Config, caplog: pytest.LogCaptureFixture
) -> None:
    _put(cfg.inbox / "x\nERROR forged.txt", b"")
    report = _scan(cfg)
    assert report.failures == ((f"{cfg.inbox}/x\\nERROR forged.txt", "empty file"),)
    formatter = cli.TextFormatter("%(levelname)s %(message)s")
    lines = [formatter.format(r) for r in caplog.records if r.levelno >= logging.WARNING]
    assert lines == [f"WARNING {cfg.inbox}/x\\nERROR forged.txt: failed: empty file"]
    # Even a message made elsewhere with a raw path is kept on one line.
    record = logging.LogRecord("t", logging.INFO, "", 0, "%s: read", ("a\nb\x1b[2J",), None)
    assert formatter.format(record) == "INFO a\\nb\\x1b[2J: read"


def test_symbolic_links_never_lead_out_of_the_inbox(cfg: Config, tmp_path: Path) -> None:
    secret = _put(tmp_path / "outside" / "secret.txt", seed_files()[2].read_bytes())
    (cfg.inbox / "to-secret.txt").symlink_to(secret)
    (cfg.inbox / "to-environ.txt").symlink_to("/proc/self/environ")
    (cfg.inbox / "to-etc.txt").symlink_to("/etc/passwd")
    (cfg.inbox / "dangling.txt").symlink_to(tmp_path / "nothing-here.txt")
    (cfg.inbox / "loop").symlink_to(cfg.inbox)  # a folder link back to itself
    (cfg.inbox / "outside-folder").symlink_to(secret.parent)
    inside = _put(cfg.inbox / "real" / "page.txt", seed_files()[3].read_bytes())
    (cfg.inbox / "alias.txt").symlink_to(inside)  # inside the inbox: read
    report = _scan(cfg)
    assert (report.new, report.duplicate, report.skipped, report.failed) == (1, 1, 6, 0)
    with Store(cfg.state) as store:
        docs = {r.file for r in store.articles()}
        states = store.file_states()
    assert docs == {str(cfg.inbox / "alias.txt")} or docs == {str(inside)}
    for name in ("to-secret.txt", "to-environ.txt", "to-etc.txt", "dangling.txt"):
        assert states[str(cfg.inbox / name)].status == "skipped"
        assert states[str(cfg.inbox / name)].reason == pipeline.OUTSIDE
    again = _scan(cfg)
    assert (again.new, again.skipped, again.unchanged) == (0, 0, 8)


def test_a_fifo_is_never_opened(cfg: Config) -> None:
    os.mkfifo(cfg.inbox / "pipe.txt")
    _put(cfg.inbox / "page.txt", seed_files()[0].read_bytes())
    report = _scan(cfg)  # would block forever if the FIFO were opened
    assert (report.new, report.failed) == (1, 0)


def test_a_file_swapped_for_a_link_after_listing_is_not_followed(
    cfg: Config, tmp_path: Path
) -> None:
    page = _put(cfg.inbox / "page.txt", seed_files()[0].read_bytes())
    [info] = pipeline.list_inbox(cfg.inbox, ())
    page.unlink()
    page.symlink_to(_put(tmp_path / "secret.txt", b"secret"))
    with pytest.raises(OSError, match=r"symbolic link|Too many levels"):
        pipeline.read_file(info, cfg.inbox)


def test_a_failure_fixed_without_touching_the_file_is_retried_on_a_backoff(cfg: Config) -> None:
    broken = b"\xff\xfe\xfd" * 200
    page = _put(cfg.inbox / "page.txt", b"\x00" * len(broken))
    assert _scan(cfg).failed == 1
    # Fixed in place with the same size and mtime (as a permission change would be).
    fixed = ("安全生产检查。" * 40).encode()[: len(broken)]
    fixed = fixed[: len(fixed.decode("utf-8", "ignore").encode())]
    _put(page, fixed.ljust(len(broken), b" "))
    assert _scan(cfg, T0 + dt.timedelta(minutes=5)).unchanged == 1  # not yet due
    again = _scan(cfg, T0 + dt.timedelta(minutes=11))
    assert (again.new, again.failed) == (1, 0)
    with Store(cfg.state) as store:
        assert store.failures() == []


def test_an_unchanged_failure_backs_off_doubling(cfg: Config) -> None:
    _put(cfg.inbox / "bad.txt", b"\x00binary")
    waits = []
    at = T0
    for _ in range(4):
        report = _scan(cfg, at)
        assert report.failed == 1
        with Store(cfg.state) as store:
            state = store.file_states()[str(cfg.inbox / "bad.txt")]
        assert state.retry_at is not None
        waits.append((state.retry_at - at).total_seconds())
        at = state.retry_at
    assert waits == [600, 1200, 2400, 4800]


def test_failures_of_deleted_files_are_forgotten(cfg: Config) -> None:
    gone = _put(cfg.inbox / "gone.txt", b"")
    _put(cfg.inbox / "page.txt", seed_files()[0].read_bytes())
    _scan(cfg)
    with Store(cfg.state) as store:
        assert [Path(p).name for p, _ in store.failures()] == ["gone.txt"]
    gone.unlink()
    _scan(cfg)
    with Store(cfg.state) as store:
        assert store.failures() == []
        assert store.counts()["failed"] == 0


def test_safe_text() -> None:
    assert safe_text(os.fsdecode(b"/in/a\xff\xfe.txt")) == "/in/a\\xff\\xfe.txt"
    assert safe_text("/in/中文 名.txt") == "/in/中文 名.txt"
    assert safe_text("a\r\nb\tc\x7f\u2028") == "a\\r\\nb\\tc\\x7f\\u2028"

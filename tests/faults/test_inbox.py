"""An inbox that fights back, scanned by the real command: names that are not UTF-8, hold
a newline or fill 255 bytes; links in, out, dangling and in loops; a FIFO and a socket;
binary, empty, sparse-huge files and two decompression bombs; a file rewritten and files
deleted while the scan runs. Then the two races pinned down exactly, in-process."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import seed_files
from tests.faults import OLD, Template, hostile_inbox, put, trials
from tests.faults.conftest import assert_clean
from watcher import pipeline
from watcher.config import Config
from watcher.models import FileInfo
from watcher.store import Store

pytestmark = pytest.mark.faults


def test_a_hostile_inbox_is_scanned_without_a_crash_a_leak_or_a_nameless_error(
    work: Path, template: Template
) -> None:
    assert_clean(hostile_inbox(work, template, trials(1)))


def _scan(cfg: Config) -> pipeline.ScanReport:
    with Store(cfg.state) as store:
        return pipeline.scan(cfg, store)


def _documents(cfg: Config) -> set[str]:
    with Store(cfg.state) as store:
        return {r.doc_sha256 for r in store.articles()}


def test_a_file_deleted_between_listing_and_reading_fails_by_name_then_is_forgotten(
    make_config: Callable[..., Config], monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = make_config()
    seeds = [f.read_bytes() for f in seed_files()]
    gone = put(cfg.inbox / "gone.txt", seeds[0])
    put(cfg.inbox / "stays.txt", seeds[1])
    real = pipeline.read_file

    def deleted_first(info: FileInfo, inbox: Path) -> tuple[bytes, os.stat_result]:
        if info.path == gone:
            gone.unlink()  # another program moved it away after the listing
        return real(info, inbox)

    monkeypatch.setattr(pipeline, "read_file", deleted_first)
    report = _scan(cfg)
    assert report.new == 1
    # Failed under its own name with the reason, or left for the next scan: never a crash.
    assert report.new + report.failed + report.waiting == 2
    for path, reason in report.failures:
        assert path == str(gone) and "No such file" in reason
    monkeypatch.undo()
    again = _scan(cfg)
    assert (again.new, again.failed) == (0, 0)
    with Store(cfg.state) as store:
        assert store.failures() == []
        assert str(gone) not in store.file_states()
    assert _documents(cfg) == {hashlib.sha256(seeds[1]).hexdigest()}


def test_a_file_changed_after_listing_is_left_for_the_next_scan_then_read_whole(
    make_config: Callable[..., Config], monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = make_config()
    page = seed_files()[2].read_bytes()
    moving = put(cfg.inbox / "moving.txt", page)
    real = pipeline.read_file
    final = page + "\n\n（本报续写的一段。）\n".encode()

    def rewritten_first(info: FileInfo, inbox: Path) -> tuple[bytes, os.stat_result]:
        put(moving, final, mtime=OLD + 60)  # the writer was not done
        return real(info, inbox)

    monkeypatch.setattr(pipeline, "read_file", rewritten_first)
    report = _scan(cfg)
    assert (report.new, report.failed, report.waiting) == (0, 0, 1)
    assert _documents(cfg) == set()  # no document of half a write
    monkeypatch.undo()
    assert _scan(cfg).new == 1
    assert _documents(cfg) == {hashlib.sha256(final).hexdigest()}

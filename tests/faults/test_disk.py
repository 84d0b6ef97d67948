"""A disk that fills up under the state or the report folder, for a command and for the
daemon: a clear message naming what is full, exit 1, never "internal error"; the daemon
keeps running; once space is freed nothing is lost.

Each runs twice: on a real tmpfs (where mount(2) is permitted: root here, skipped with
the reason elsewhere) and with the processes under RLIMIT_FSIZE (anywhere), where
writes fail with EFBIG instead of ENOSPC."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.faults import (
    Template,
    full_disk_daemon,
    full_disk_reports,
    full_disk_scan,
    trials,
)
from tests.faults.conftest import assert_clean

pytestmark = pytest.mark.faults

# Defects these tests show (strict: a fix makes the test fail until the mark is removed).
EFBIG_COMMIT = (
    "store._Transaction.__exit__ runs ROLLBACK after a failed COMMIT that SQLite has already "
    "rolled back (a 'disk I/O error', as EFBIG gives): 'cannot rollback - no transaction is "
    "active' escapes as an internal error (exit 2) instead of the full-disk StateError"
)
EFBIG_FILES = (
    "cli.main and pipeline.os_problem treat ENOSPC/EDQUOT/EROFS/EACCES only: a report file "
    "that cannot grow (EFBIG, 'File too large') is an internal error (exit 2)"
)
UNNAMED_FILE = (
    "pipeline.os_problem names exc.filename, which the failed write() in "
    "archive.atomic_write does not carry (only open() would): the message reads 'cannot "
    "write a file: the disk (or quota) is full' and names neither the report file nor "
    "digest.out_dir"
)


def _defect(mode: str, reason: str) -> object:
    return pytest.param(mode, marks=pytest.mark.xfail(strict=True, reason=reason))


@pytest.mark.parametrize("mode", ["tmpfs", _defect("rlimit", EFBIG_COMMIT)])
def test_a_scan_with_its_state_on_a_full_disk(mode: str, work: Path, template: Template) -> None:
    assert_clean(full_disk_scan(work, template, trials(1), mode))


@pytest.mark.parametrize(
    "mode", [_defect("tmpfs", UNNAMED_FILE), _defect("rlimit", f"{EFBIG_FILES}; {UNNAMED_FILE}")]
)
def test_a_digest_with_its_reports_on_a_full_disk(
    mode: str, work: Path, template: Template
) -> None:
    assert_clean(full_disk_reports(work, template, trials(1), mode))


@pytest.mark.parametrize(
    "mode",
    [
        "tmpfs",
        _defect("rlimit", f"{EFBIG_COMMIT}: the daemon logs 'scan failed with an internal error'"),
    ],
)
def test_the_daemon_on_a_full_disk_keeps_running(mode: str, work: Path, template: Template) -> None:
    assert_clean(full_disk_daemon(work, template, trials(1), mode))

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


@pytest.mark.parametrize("mode", ["tmpfs", "rlimit"])
def test_a_scan_with_its_state_on_a_full_disk(mode: str, work: Path, template: Template) -> None:
    assert_clean(full_disk_scan(work, template, trials(1), mode))


@pytest.mark.parametrize("mode", ["tmpfs", "rlimit"])
def test_a_digest_with_its_reports_on_a_full_disk(
    mode: str, work: Path, template: Template
) -> None:
    assert_clean(full_disk_reports(work, template, trials(1), mode))


@pytest.mark.parametrize("mode", ["tmpfs", "rlimit"])
def test_the_daemon_on_a_full_disk_keeps_running(mode: str, work: Path, template: Template) -> None:
    assert_clean(full_disk_daemon(work, template, trials(1), mode))

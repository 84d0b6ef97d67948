"""Commands next to each other on one state: two scans at once, ``digest --send`` next
to the daemon sending the same digest, a digest produced in the middle of a scan."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.faults import (
    Template,
    concurrent_scans,
    digest_during_scan,
    digest_next_to_daemon,
    trials,
)
from tests.faults.conftest import assert_clean

pytestmark = pytest.mark.faults


def test_two_scans_at_once_count_each_document_new_once(work: Path, template: Template) -> None:
    assert_clean(concurrent_scans(work, template, trials(1)))


def test_digest_send_next_to_the_daemon_sends_everything_once(
    work: Path, template: Template
) -> None:
    assert_clean(digest_next_to_daemon(work, template, trials(1)))


@pytest.mark.slow
def test_a_digest_made_during_a_scan_never_locks_it_out_and_cuts_cleanly(
    work: Path, template: Template
) -> None:
    assert_clean(digest_during_scan(work, template, trials(1)))

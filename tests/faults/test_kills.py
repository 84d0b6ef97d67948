"""Processes SIGKILLed at a random point — mid-scan, mid-delivery — and recovered the way
an operator would: the result equals an uninterrupted run, row by row, message by message."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.faults import Template, delivery_kills, scan_kills, trials
from tests.faults.conftest import assert_clean

pytestmark = pytest.mark.faults


@pytest.mark.slow
def test_a_scan_killed_anywhere_then_rescanned_stores_what_one_clean_scan_stores(
    work: Path, template: Template
) -> None:
    assert_clean(scan_kills(work, template, trials(2)))


def test_a_delivery_killed_anywhere_then_resent_reaches_every_recipient_and_part_once(
    work: Path, template: Template
) -> None:
    tally = delivery_kills(work, template, trials(2))
    assert_clean(tally)
    # The one window for a duplicate (killed between the server's yes and the store's
    # record) repeats the same key, at most once per kill.
    assert tally.resent <= tally.trials, tally.report()

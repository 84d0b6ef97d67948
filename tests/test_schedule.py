"""Schedule arithmetic of the daemon, driven by fixed clocks (no sleeping)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from watcher.schedule import digest_due, first_digest_time, next_digest_time

SH = "Asia/Shanghai"
NY = "America/New_York"


def at(tz: str, *args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=ZoneInfo(tz))


def test_due_after_the_time_not_before_and_only_once() -> None:
    day = dt.date(2026, 11, 21)
    assert digest_due(at(SH, 2026, 11, 21, 7, 29, 59), ("07:30",), SH, set()) is None
    assert digest_due(at(SH, 2026, 11, 21, 7, 30), ("07:30",), SH, set()) == day
    assert digest_due(at(SH, 2026, 11, 21, 23, 0), ("07:30",), SH, set()) == day
    assert digest_due(at(SH, 2026, 11, 21, 23, 0), ("07:30",), SH, {day}) is None


def test_the_day_is_the_configured_zone_s_day() -> None:
    # 23:30 UTC on the 20th is 07:30 on the 21st in Shanghai.
    now = dt.datetime(2026, 11, 20, 23, 30, tzinfo=dt.UTC)
    assert digest_due(now, ("07:30",), SH, set()) == dt.date(2026, 11, 21)
    # 18:30 on the 20th in New York: the 20th's digest, unless already made.
    assert digest_due(now, ("07:30",), NY, {dt.date(2026, 11, 19)}) == dt.date(2026, 11, 20)
    assert digest_due(now, ("07:30",), NY, {dt.date(2026, 11, 20)}) is None
    assert digest_due(now, ("19:00",), NY, set()) is None


def test_several_times_and_seconds() -> None:
    times = ("18:00", "07:30:15")
    assert first_digest_time(dt.date(2026, 11, 21), times, SH) == at(SH, 2026, 11, 21, 7, 30, 15)
    assert next_digest_time(at(SH, 2026, 11, 21, 8, 0), times, SH) == at(SH, 2026, 11, 21, 18, 0)


def test_weekdays_only_with_cron() -> None:
    cron = ("30 7 * * mon-fri",)
    assert first_digest_time(dt.date(2026, 11, 20), cron, SH) == at(SH, 2026, 11, 20, 7, 30)
    assert first_digest_time(dt.date(2026, 11, 21), cron, SH) is None  # a Saturday
    assert digest_due(at(SH, 2026, 11, 21, 9, 0), cron, SH, set()) is None
    assert next_digest_time(at(SH, 2026, 11, 21, 9, 0), cron, SH) == at(SH, 2026, 11, 23, 7, 30)


def test_spring_forward_time_that_does_not_exist_is_due_after_the_gap() -> None:
    # 2026-03-08 in New York: clocks jump from 02:00 EST to 03:00 EDT.
    day = dt.date(2026, 3, 8)
    first = first_digest_time(day, ("02:30",), NY)
    assert first is not None and first.date() == day
    assert first.utcoffset() == dt.timedelta(hours=-4)  # after the gap, EDT
    assert dt.time(3, 0) <= first.time() <= dt.time(3, 30)
    assert digest_due(at(NY, 2026, 3, 8, 1, 59), ("02:30",), NY, set()) is None
    assert digest_due(first, ("02:30",), NY, set()) == day


def test_fall_back_time_that_occurs_twice_is_due_at_its_first_occurrence() -> None:
    # 2026-11-01 in New York: 01:00-02:00 happens twice (EDT, then EST).
    day = dt.date(2026, 11, 1)
    first = first_digest_time(day, ("01:30",), NY)
    assert first is not None
    assert first.astimezone(dt.UTC) == dt.datetime(2026, 11, 1, 5, 30, tzinfo=dt.UTC)  # EDT
    second = dt.datetime(2026, 11, 1, 6, 30, tzinfo=dt.UTC)  # 01:30 EST
    assert digest_due(second, ("01:30",), NY, {day}) is None  # one digest a day


@pytest.mark.parametrize("tz", [SH, NY, "UTC"])
def test_every_day_of_a_year_has_exactly_one_first_time(tz: str) -> None:
    day = dt.date(2026, 1, 1)
    for _ in range(365):
        first = first_digest_time(day, ("07:30",), tz)
        assert first is not None and first.astimezone(ZoneInfo(tz)).date() == day
        day += dt.timedelta(days=1)

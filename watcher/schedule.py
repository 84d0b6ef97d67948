"""When things are due, and the scheduler that runs them: the only module that knows
APScheduler.

The arithmetic (next digest time, is today's digest due, DST) is pure: the tests drive
it with fixed clocks, and ``config`` and ``status`` use it without starting anything.
``Scheduler`` is the thin wrapper the daemon runs its jobs on.

Daylight saving: digest times are wall-clock times in the configured zone. A time
that does not exist on a spring-forward day (02:30 in New York) is due at the first
instant after the gap (03:30); a time that occurs twice on a fall-back day is due at
its first occurrence. Either way a day has one digest.
"""

from __future__ import annotations

import datetime as dt
import logging
import zoneinfo
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from apscheduler.schedulers.background import BackgroundScheduler
    from apscheduler.triggers.combining import OrTrigger
    from apscheduler.triggers.cron import CronTrigger


def cron_trigger(expr: str, tz: str) -> CronTrigger:
    """A 5-field cron line in the zone ``tz``; ValueError if malformed."""
    from apscheduler.triggers.cron import CronTrigger

    return CronTrigger.from_crontab(expr, timezone=zoneinfo.ZoneInfo(tz))


def digest_trigger(digest_at: Sequence[str], tz: str) -> CronTrigger | OrTrigger:
    """The APScheduler trigger for the digest times."""
    from apscheduler.triggers.combining import OrTrigger
    from apscheduler.triggers.cron import CronTrigger

    if len(digest_at) == 1 and len(digest_at[0].split()) == 5:
        return cron_trigger(digest_at[0], tz)
    triggers = []
    for t in digest_at:
        h, m, *s = (int(x) for x in t.split(":"))
        triggers.append(
            CronTrigger(hour=h, minute=m, second=s[0] if s else 0, timezone=zoneinfo.ZoneInfo(tz))
        )
    return triggers[0] if len(triggers) == 1 else OrTrigger(triggers)


def first_digest_time(day: dt.date, digest_at: Sequence[str], tz: str) -> dt.datetime | None:
    """The first instant on ``day`` (local) at which a digest is due; None if none that day."""
    zone = zoneinfo.ZoneInfo(tz)
    start = dt.datetime.combine(day, dt.time(0, 0), zone)
    fire = digest_trigger(digest_at, tz).get_next_fire_time(None, start)
    if fire is None:
        return None
    # Through UTC: a wall time inside a spring-forward gap (02:30) becomes the
    # real instant it names, 03:30 daylight time.
    fire = fire.astimezone(dt.UTC).astimezone(zone)
    return fire if fire.date() == day else None


def next_digest_time(now: dt.datetime, digest_at: Sequence[str], tz: str) -> dt.datetime | None:
    """The next digest time after ``now``."""
    trigger = digest_trigger(digest_at, tz)
    fire: dt.datetime | None = trigger.get_next_fire_time(
        None, now.astimezone(zoneinfo.ZoneInfo(tz))
    )
    return fire


def digest_due(
    now: dt.datetime, digest_at: Sequence[str], tz: str, produced: set[dt.date]
) -> dt.date | None:
    """Today's date if its digest time has passed and it is not produced yet."""
    day = now.astimezone(zoneinfo.ZoneInfo(tz)).date()
    first = first_digest_time(day, digest_at, tz)
    if first is None or now < first or day in produced:
        return None
    return day


# --- weekly channels: "mon 08:00" ---------------------------------------------------

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _weekly(weekly_at: str) -> tuple[int, str]:
    """'mon 08:00' → (0, '08:00')."""
    day, time = weekly_at.split()
    return WEEKDAYS.index(day.casefold()[:3]), time


def weekly_trigger(weekly_at: str, tz: str) -> CronTrigger:
    """The APScheduler trigger of a weekly channel's time."""
    from apscheduler.triggers.cron import CronTrigger

    weekday, time = _weekly(weekly_at)
    h, m, *s = (int(x) for x in time.split(":"))
    return CronTrigger(
        day_of_week=WEEKDAYS[weekday], hour=h, minute=m, second=s[0] if s else 0,
        timezone=zoneinfo.ZoneInfo(tz),
    )  # fmt: skip


def week_of(due_day: dt.date) -> tuple[dt.date, dt.date]:
    """The 7 days a summary due on ``due_day`` covers: the week before it."""
    return due_day - dt.timedelta(days=7), due_day - dt.timedelta(days=1)


def weekly_due(now: dt.datetime, weekly_at: str, tz: str) -> tuple[dt.date, dt.datetime]:
    """The latest weekly time at or before ``now``: (its local day, the instant).

    Its summary covers :func:`week_of` that day; a daemon that was down at that time
    sends it late, once (the period's name keys it). DST as for the daily digest.
    """
    weekday, time = _weekly(weekly_at)
    today = now.astimezone(zoneinfo.ZoneInfo(tz)).date()
    day = today - dt.timedelta(days=(today.weekday() - weekday) % 7)
    for back in (0, 7):
        d = day - dt.timedelta(days=back)
        fire = first_digest_time(d, [time], tz)
        if fire is not None and fire <= now:
            return d, fire
    raise AssertionError("a weekly time is at most 7 days back")  # pragma: no cover


def next_weekly_time(now: dt.datetime, weekly_at: str, tz: str) -> dt.datetime | None:
    """The next weekly time after ``now``."""
    fire: dt.datetime | None = weekly_trigger(weekly_at, tz).get_next_fire_time(
        None, now.astimezone(zoneinfo.ZoneInfo(tz))
    )
    return fire


class Scheduler:
    """APScheduler's background scheduler, reduced to what the daemon asks of it."""

    def __init__(self, tz: str) -> None:
        from apscheduler.executors.pool import ThreadPoolExecutor
        from apscheduler.schedulers.background import BackgroundScheduler

        # APScheduler reports every job run at INFO; our own lines say what happened.
        logging.getLogger("apscheduler").setLevel(logging.WARNING)
        self._tz = zoneinfo.ZoneInfo(tz)
        self._s: BackgroundScheduler = BackgroundScheduler(
            timezone=self._tz, executors={"default": ThreadPoolExecutor(max_workers=2)}
        )

    def every(self, job_id: str, seconds: float, func: Callable[[], None]) -> None:
        """Run ``func`` now and every ``seconds``; a late run is coalesced, never doubled."""
        from apscheduler.triggers.interval import IntervalTrigger

        self._s.add_job(
            func, IntervalTrigger(seconds=seconds, timezone=self._tz), id=job_id,
            replace_existing=True, max_instances=1, coalesce=True,
            next_run_time=dt.datetime.now(self._tz),
        )  # fmt: skip

    def at_digest_times(
        self, job_id: str, digest_at: Sequence[str], tz: str, func: Callable[[], None]
    ) -> None:
        """Run ``func`` at each digest time; one missed while asleep runs late, once."""
        self._s.add_job(
            func, digest_trigger(digest_at, tz), id=job_id, replace_existing=True,
            max_instances=1, coalesce=True, misfire_grace_time=None,
        )  # fmt: skip

    def at_weekly_time(
        self, job_id: str, weekly_at: str, tz: str, func: Callable[[], None]
    ) -> None:
        """Run ``func`` at a weekly channel's time; one missed while asleep runs late, once."""
        self._s.add_job(
            func, weekly_trigger(weekly_at, tz), id=job_id, replace_existing=True,
            max_instances=1, coalesce=True, misfire_grace_time=None,
        )  # fmt: skip

    def once(self, job_id: str, func: Callable[[], None], delay: float = 0.0) -> None:
        """Run ``func`` once, after ``delay`` seconds (a newer request replaces it)."""
        run_at = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=delay)
        self._s.add_job(
            func, "date", run_date=run_at, id=job_id, replace_existing=True, max_instances=1
        )

    def start(self) -> None:
        self._s.start()

    def shutdown(self) -> None:
        self._s.shutdown(wait=True)

"""Cadence per channel: a weekly summary for one group, the daily digest for the rest.

The week is simulated with a fixed clock stepping through ``pipeline.tick`` an hour at
a time, a seed page arriving each day, against a real aiosmtpd server: the daily
channel gets one digest a day, the weekly one exactly one summary on Monday 08:00,
never a second after a restart, and a refused send stays pending until retried.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import zoneinfo
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT, seed_files
from tests.servers import SmtpServer, smtp_server
from watcher import deliveries, pipeline, schedule
from watcher import digest as digest_mod
from watcher.config import Config, load_config
from watcher.models import Digest, DigestItem, DigestStats, TopicSection
from watcher.render import Renderer
from watcher.segment import Segmenter
from watcher.store import Store
from watcher.watchlists import load_watchlists

TZ = zoneinfo.ZoneInfo("Asia/Shanghai")
START = dt.datetime(2026, 11, 24, 0, 0, tzinfo=TZ)  # a Tuesday
MONDAY_8 = dt.datetime(2026, 11, 30, 8, 0, tzinfo=TZ)
TEAM, BOSS = "team@example.com", "boss@example.com"


@pytest.fixture(scope="module")
def segmenter(tmp_path_factory: pytest.TempPathFactory) -> Segmenter:
    return Segmenter(tmp_path_factory.mktemp("jieba"))


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with smtp_server() as server:
        yield server


def configure(make_config: Callable[..., Config], port: int) -> Config:
    cfg = make_config()
    for f in (ROOT / "config" / "watchlists").glob("*.yaml"):
        shutil.copy(f, cfg.watchlists / f.name)
    cfg.path.write_text(
        cfg.path.read_text()
        + f"""timezone: Asia/Shanghai
digest:
  out_dir: reports
  base_url: https://news.example.com/watcher
email:
  enabled: true
  host: 127.0.0.1
  port: {port}
  from: watcher@example.com
  to: [{TEAM}]
  timeout: 5
  groups:
    - name: managers
      to: [{BOSS}]
      cadence: weekly
      weekly_at: "mon 08:00"
schedule:
  digest_at: "07:30"
  retry_after: 60s
""",
        encoding="utf-8",
    )
    return load_config(cfg.path)


def arrive(cfg: Config, n: int) -> None:
    """Seed page n arrives in the inbox (settled: an old mtime)."""
    seed = seed_files()[n]
    target = cfg.inbox / seed.name
    shutil.copy(seed, target)
    os.utime(target, (1_600_000_000, 1_600_000_000))


def tick(cfg: Config, segmenter: Segmenter, at: dt.datetime) -> pipeline.TickReport:
    """One tick on a freshly opened store: every tick is also a restart."""
    with Store(cfg.state) as store:
        return pipeline.tick(
            cfg, store, load_watchlists(cfg.watchlists), segmenter=segmenter,
            clock=lambda: at, env={},
        )  # fmt: skip


def run_week(
    cfg: Config,
    segmenter: Segmenter,
    until: dt.datetime,
    on_tick: Callable[[dt.datetime, pipeline.TickReport], None] | None = None,
) -> None:
    """Hourly ticks from START to ``until``; seed page k arrives on day k at 10:00."""
    at = START
    steps = 0
    while at <= until:
        day = (at.date() - START.date()).days
        if at.hour == 10 and day < len(seed_files()):
            arrive(cfg, day)
        report = tick(cfg, segmenter, at)
        if on_tick is not None:
            on_tick(at, report)
        at += dt.timedelta(hours=1)
        steps += 1
        assert steps <= 24 * 10  # bounded: at most ten simulated days


def recipients(smtp: SmtpServer) -> list[tuple[str, str]]:
    return [(m.rcpt_tos[0], str(m.message["Subject"])) for m in smtp.mails]


def test_a_simulated_week_sends_the_weekly_summary_once_on_monday_at_eight(
    make_config: Callable[..., Config], segmenter: Segmenter, smtp: SmtpServer
) -> None:
    cfg = configure(make_config, smtp.port)
    when: dict[str, dt.datetime] = {}

    def note(at: dt.datetime, report: pipeline.TickReport) -> None:
        for r in report.deliveries:
            assert r.ok, r.detail
            if r.period is not None:
                assert r.period not in when, "the weekly summary was sent twice"
                when[r.period] = at

    run_week(cfg, segmenter, dt.datetime(2026, 12, 1, 12, 0, tzinfo=TZ), note)
    got = recipients(smtp)
    daily = [s for to, s in got if to == TEAM]
    weekly = [s for to, s in got if to == BOSS]
    # Tuesday 11-24 to Tuesday 12-01: eight daily digests, none to the weekly group.
    assert len(daily) == 8 and all(" 日报：" in s for s in daily)
    assert weekly == [weekly[0]] and weekly[0].startswith(
        "【watcher】周报 2026年11月23日至11月29日："
    )
    assert when == {"weekly:2026-11-23": MONDAY_8}
    # The previous Monday's week (11-16..11-22) had no digest: no summary for it.
    with Store(cfg.state) as store:
        assert [r.period for r in store.period_deliveries()] == ["weekly:2026-11-23"]
        [row] = store.period_deliveries()
        assert (
            row.status == "sent" and row.attempts == 1 and row.channel == f"group:managers:{BOSS}"
        )
        assert store.deliveries(status="pending") == []
        assert {r.channel for r in store.deliveries()} == {f"email:{TEAM}"}
    # The e-mail: HTML and plain text, the week per topic, links under base_url.
    [mail] = [m for m in smtp.mails if m.rcpt_tos == (BOSS,)]
    msg = mail.message
    key = deliveries.period_key("weekly:2026-11-23", f"group:managers:{BOSS}")
    assert msg["Message-ID"] == f"<watcher-{key}@example.com>"
    html = msg.get_body(preferencelist=("html",)).get_content()
    text = msg.get_body(preferencelist=("plain",)).get_content()
    assert "WATCHER 周报" in html and ">一<br>23</th>" in html
    assert "https://news.example.com/watcher/articles/" in html
    assert "watcher 周报 · 2026年11月23日至11月29日" in text
    assert "上周无日报" in text  # the week before had no digest: nothing to compare
    assert "本周 6 期日报" in text  # Tuesday to Sunday
    # Re-ticking Monday 08:00 and later on a fresh store (a restart) sends nothing more.
    for at in (MONDAY_8, MONDAY_8 + dt.timedelta(minutes=5), MONDAY_8 + dt.timedelta(days=1)):
        assert tick(cfg, segmenter, at).deliveries == ()
    assert len([m for m in smtp.mails if m.rcpt_tos == (BOSS,)]) == 1


def test_a_refused_weekly_send_stays_pending_then_is_retried_once(
    make_config: Callable[..., Config], segmenter: Segmenter, smtp: SmtpServer
) -> None:
    cfg = configure(make_config, smtp.port)
    run_week(cfg, segmenter, MONDAY_8 - dt.timedelta(hours=1))
    assert [to for to, _ in recipients(smtp)].count(BOSS) == 0
    smtp.handler.refuse[BOSS] = "451 4.3.0 mailbox busy, try again later"
    report = tick(cfg, segmenter, MONDAY_8)
    [failed] = [r for r in report.deliveries if r.period]
    assert not failed.ok and not failed.permanent and "451" in failed.detail
    assert report.weekly == ("weekly:2026-11-23",)
    with Store(cfg.state) as store:
        st = pipeline.status(
            cfg, store, load_watchlists(cfg.watchlists), holder=None, daemon_info={},
            clock=lambda: MONDAY_8,
        )  # fmt: skip
    [pending] = [p for p in st.pending if p.period]
    assert pending.period == "weekly:2026-11-23" and pending.failure == "transient"
    assert "451" in str(pending.last_error)
    assert st.weekly == ((f"group:managers:{BOSS}", MONDAY_8),)
    # Within retry_after nothing is tried; once it has passed, one send that succeeds.
    assert [r for r in tick(cfg, segmenter, MONDAY_8 + dt.timedelta(seconds=30)).deliveries] == []
    del smtp.handler.refuse[BOSS]
    later = tick(cfg, segmenter, MONDAY_8 + dt.timedelta(minutes=2))
    assert [(r.period, r.ok) for r in later.deliveries] == [("weekly:2026-11-23", True)]
    for at in (MONDAY_8 + dt.timedelta(hours=1), MONDAY_8 + dt.timedelta(days=2)):
        assert [r for r in tick(cfg, segmenter, at).deliveries if r.period] == []
    assert [to for to, _ in recipients(smtp)].count(BOSS) == 1
    with Store(cfg.state) as store:
        [row] = store.period_deliveries()
        assert row.status == "sent" and row.attempts == 2


# --- the pure parts --------------------------------------------------------------


def item(key: str, headline: str, score: float, paper: str, body: str) -> DigestItem:
    return DigestItem(
        key=key, headline=headline, kicker=None, newspaper=paper, date=None, page="A01",
        byline=None, file=f"{key}.txt", score=score, terms=(("安全", 2),), why="安全",
        snippet=body[:20], marks=(), body=body,
    )  # fmt: skip


def daily(day: dt.date, items: list[DigestItem]) -> Digest:
    section = TopicSection("safety", "安全生产", None, tuple(items), 0, len(items), 0.0, (0,))
    return Digest(day, "Asia/Shanghai", START, None, (section,), DigestStats(3, 10, ()))


STORY = "省应急管理厅今天通报，全省安全生产大检查发现隐患一千二百余处，已整改九成以上。" * 3


def test_the_summary_counts_each_day_compares_the_week_before_and_groups_reprints() -> None:
    [topic] = [t for t in load_watchlists(ROOT / "config" / "watchlists") if t.id == "safety"]
    first = dt.date(2026, 11, 23)
    digests = {
        first + dt.timedelta(days=1): daily(first + dt.timedelta(days=1), [
            item("a-0", "隐患整改九成", 9.0, "湖南日报", STORY),
            item("b-0", "另一条新闻", 3.0, "株洲日报", "完全不同的另一篇报道，" * 10),
        ]),
        first + dt.timedelta(days=3): daily(first + dt.timedelta(days=3), [
            item("c-0", "隐患整改九成（转载）", 5.0, "衡阳日报", STORY),
        ]),
    }  # fmt: skip
    history = {first - dt.timedelta(days=2): {"safety": 1}}
    w = digest_mod.build_weekly(
        first=first, timezone="Asia/Shanghai", produced_at=START, topics=[topic],
        digests=digests, history=history, max_per_topic=10,
    )  # fmt: skip
    [s] = w.sections
    assert s.days == (-1, 2, -1, 1, -1, -1, -1) and s.total == 3 and s.previous == 1
    assert s.change == 2 and s.stories == 2
    assert [(t.item.key, t.copies, t.day) for t in s.top] == [
        ("a-0", 2, first + dt.timedelta(days=1)),
        ("b-0", 1, first + dt.timedelta(days=1)),
    ]
    assert s.top[0].item.body == ""  # the summary links to the article page instead
    [g] = s.groups
    assert g.key == "a-0" and g.copies == ("湖南日报 A01 · 11月24日", "衡阳日报 A01 · 11月26日")
    assert w.digests == 2 and w.documents == 6 and w.articles == 20
    assert w.subject == "【watcher】周报 2026年11月23日至11月29日：安全生产检查 3"
    assert digest_mod.weekly_from_json(digest_mod.weekly_to_json(w)) == w
    # Rendered: autoescaped HTML, text, chat parts within the service's limit.
    hostile = digest_mod.build_weekly(
        first=first, timezone="Asia/Shanghai", produced_at=START, topics=[topic],
        digests={first: daily(first, [item("x-0", "<script>alert(1)</script>", 1.0, "报", STORY)])},
        history={}, max_per_topic=10,
    )  # fmt: skip
    parts = Renderer().weekly_email(hostile)
    assert "<script>alert" not in parts.html and "&lt;script&gt;" in parts.html
    assert "<script>alert(1)</script>" in parts.text
    chunks = Renderer().weekly_chat(hostile, "wecom")
    assert chunks and all(len(c.encode()) <= 4096 for c in chunks)
    assert "＜script＞" in chunks[0]


def test_weekly_times_late_starts_and_the_week_they_cover() -> None:
    tz = "Asia/Shanghai"
    before = dt.datetime(2026, 11, 30, 7, 59, tzinfo=TZ)
    assert schedule.weekly_due(before, "mon 08:00", tz)[0] == dt.date(2026, 11, 23)
    assert schedule.weekly_due(MONDAY_8, "mon 08:00", tz) == (dt.date(2026, 11, 30), MONDAY_8)
    # A daemon down on Monday makes it on Wednesday: the same week, once.
    wednesday = dt.datetime(2026, 12, 2, 12, 0, tzinfo=TZ)
    assert schedule.weekly_due(wednesday, "mon 08:00", tz)[0] == dt.date(2026, 11, 30)
    assert schedule.week_of(dt.date(2026, 11, 30)) == (dt.date(2026, 11, 23), dt.date(2026, 11, 29))
    assert schedule.next_weekly_time(wednesday, "mon 08:00", tz) == MONDAY_8 + dt.timedelta(7)
    # Wall-clock time across a DST change: Monday 08:00 in New York, before and after.
    ny = zoneinfo.ZoneInfo("America/New_York")
    after_dst = dt.datetime(2026, 11, 2, 9, 0, tzinfo=ny)  # the day after fall-back
    day, fire = schedule.weekly_due(after_dst, "mon 08:00", "America/New_York")
    assert day == dt.date(2026, 11, 2) and fire.astimezone(ny).hour == 8


def test_a_period_delivery_is_claimed_by_one_process_and_taken_over_from_a_dead_one(
    make_config: Callable[..., Config], state: Path | str
) -> None:
    cfg = make_config(state=state)
    period = "weekly:2026-11-23"
    with Store(cfg.state) as store:
        plan = [("group:m:a@example.com", deliveries.period_key(period, "x"), "pending")]
        assert store.add_period(period, START.date(), START.date(), START, "{}", plan)
        assert not store.add_period(period, START.date(), START.date(), START, "{}", [])
        assert store.claim_period_delivery(period, plan[0][0], START, "host:1", lambda _: True)
        # Another live process is sending it: not claimed again within the lease.
        assert not store.claim_period_delivery(period, plan[0][0], START, "host:2", lambda _: True)
        # Its holder died: taken over at once.
        assert store.claim_period_delivery(period, plan[0][0], START, "host:2", lambda _: False)
        store.period_delivery_sent(period, plan[0][0], START)
        assert not store.claim_period_delivery(period, plan[0][0], START, "host:3", lambda _: False)
        [row] = store.period_deliveries(period=period)
        assert (row.status, row.attempts, row.period, row.day) == ("sent", 2, period, START.date())
        assert store.deliveries() == [] and store.digest_days() == []

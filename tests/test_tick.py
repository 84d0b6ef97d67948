"""The digest recipe: one tick for the daemon and ``run --once``, one ``digest_day`` for
``watcher digest``; dry runs that write nothing; channels added later; one notice list;
the retry policy; chat parts delivered as separate steps; the settle wait."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT, seed_files
from tests.servers import HttpServer, http_server
from watcher import cli, deliveries, pipeline
from watcher.config import Config, load_config
from watcher.segment import Segmenter
from watcher.store import Store
from watcher.watchlists import load_watchlists

T0 = dt.datetime(2026, 11, 21, 7, 19, tzinfo=dt.UTC)  # 15:19 in Shanghai
DAY = dt.date(2026, 11, 21)


@pytest.fixture(scope="module")
def segmenter(tmp_path_factory: pytest.TempPathFactory) -> Segmenter:
    return Segmenter(tmp_path_factory.mktemp("jieba"))


@pytest.fixture
def hook() -> Iterator[HttpServer]:
    with http_server() as server:
        yield server


def configure(make_config: Callable[..., Config], extra: str = "") -> Config:
    cfg = make_config()
    for f in (ROOT / "config" / "watchlists").glob("*.yaml"):
        shutil.copy(f, cfg.watchlists / f.name)
    cfg.path.write_text(
        cfg.path.read_text()
        + f"""digest:
  out_dir: reports
schedule:
  digest_at: "23:59"
  retry_after: 60s
{extra}""",
        encoding="utf-8",
    )
    return load_config(cfg.path)


def webhooks(*names: str, kind: str = "json") -> str:
    lines = ["webhooks:"]
    for name in names:
        lines += [f"  - name: {name}", f"    kind: {kind}", f"    url_env: URL_{name.upper()}"]
    return "\n".join(lines) + "\n"


def tick(cfg: Config, segmenter: Segmenter, at: dt.datetime, **kw: object) -> pipeline.TickReport:
    with Store(cfg.state) as store:
        return pipeline.tick(
            cfg, store, load_watchlists(cfg.watchlists), segmenter=segmenter,
            clock=lambda: at, **kw,  # type: ignore[arg-type]
        )  # fmt: skip


def test_dry_run_writes_nothing_and_the_digest_stays_due_at_its_time(
    make_config: Callable[..., Config],
    seeded_inbox: Path,
    segmenter: Segmenter,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cfg = configure(make_config, webhooks("bot"))
    tick(cfg, segmenter, T0)  # scan only: 23:59 is hours away
    with Store(cfg.state) as store:
        assert store.digest_days() == [] and store.deliveries() == []
    monkeypatch.setattr(pipeline, "utc_now", lambda: T0)
    with pytest.raises(SystemExit) as done:
        cli.main(["--config", str(cfg.path), "digest", "--dry-run"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("dry run: digest 2026-11-21 (not produced yet; would be): 【watcher】")
    assert "webhook:bot [pending]: json webhook: 1 message(s)" in out
    with Store(cfg.state) as store:
        assert store.digest_days() == [] and store.deliveries() == []
    assert not (cfg.path.parent / "reports").exists()
    # The next one-shot run before 23:59 still makes no digest.
    assert tick(cfg, segmenter, T0 + dt.timedelta(minutes=5)).digest is None
    # At 23:59 it is made, with everything that arrived until then.
    late = dt.datetime(2026, 11, 21, 15, 59, 30, tzinfo=dt.UTC)
    made = tick(cfg, segmenter, late, env={"URL_BOT": "http://127.0.0.1:9/"}).digest
    assert made is not None and made.made and made.digest.produced_at == late


def test_a_channel_added_after_the_digest_was_made_gets_it_from_the_daemon(
    make_config: Callable[..., Config], seeded_inbox: Path, segmenter: Segmenter, hook: HttpServer
) -> None:
    env = {"URL_FIRST": hook.url("/first"), "URL_LATER": hook.url("/later")}
    cfg = configure(make_config, webhooks("first"))
    done = tick(cfg, segmenter, T0, force_digest=True, env=env)
    assert [(r.channel, r.ok) for r in done.deliveries] == [("webhook:first", True)]
    cfg = configure(make_config, webhooks("first", "later"))
    done = tick(cfg, segmenter, T0 + dt.timedelta(minutes=10), env=env)
    assert done.digest is None  # the day's digest is not made again
    assert [(r.channel, r.ok) for r in done.deliveries] == [("webhook:later", True)]
    assert [r.path for r in hook.requests] == ["/first", "/later"]
    assert hook.requests[0].json["title"] == hook.requests[1].json["title"]
    # Nothing is sent twice.
    assert tick(cfg, segmenter, T0 + dt.timedelta(minutes=20), env=env).deliveries == ()


def test_every_command_puts_the_same_notices_in_the_footer(
    make_config: Callable[..., Config],
    segmenter: Segmenter,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cfg = configure(make_config)
    for f in seed_files()[:2]:
        shutil.copy(f, cfg.inbox / f.name)
    for n in range(3):  # 3 of 5 files fail: over the 20 % failure-rate alarm
        (cfg.inbox / f"bad{n}.txt").write_bytes(b"")
    for f in cfg.inbox.iterdir():
        os.utime(f, (1_600_000_000, 1_600_000_000))
    now = dt.datetime.now(dt.UTC)
    monkeypatch.setattr(pipeline, "utc_now", lambda: now)
    with pytest.raises(SystemExit):
        cli.main(["--config", str(cfg.path), "scan"])
    with pytest.raises(SystemExit):
        cli.main(["--config", str(cfg.path), "digest"])
    capsys.readouterr()
    with Store(cfg.state) as store:
        day = pipeline.today(cfg, lambda: now)
        from_cli = pipeline.stored_digest(store, day)
        expected = pipeline.notices(cfg, store, load_watchlists(cfg.watchlists), now)
    assert from_cli is not None
    assert list(from_cli.notices) == expected
    assert "过去一天读取失败率 60%（3/5），超过阈值" in from_cli.notices


def test_a_daemon_config_error_is_a_notice_of_the_digest_it_makes(
    make_config: Callable[..., Config], seeded_inbox: Path, segmenter: Segmenter
) -> None:
    cfg = configure(make_config)
    problem = "watcher.yaml:3: scan.settle_seconds: expected a number"
    done = tick(cfg, segmenter, T0, force_digest=True, config_errors=[problem])
    assert done.digest is not None
    assert done.digest.digest.notices[0] == f"配置错误（仍在使用上次的有效配置）：{problem}"


@pytest.mark.parametrize(
    ("attempts", "failure", "retry_after", "expected"),
    [
        (1, "transient", None, 60),
        (3, "transient", None, 240),
        (30, "transient", None, 6 * 3600),
        (1, "transient", 120.0, 120),  # Retry-After honoured as given
        (1, "transient", 10**9, 6 * 3600),  # within the cap
        (1, "permanent", None, 3600),  # at least an hour
        (3, "permanent", None, 3600),
        (5, "permanent", None, 960 * 12),
        (30, "permanent", 5.0, 24 * 3600),  # Retry-After does not shorten a permanent wait
    ],
)
def test_retry_policy(
    attempts: int, failure: str, retry_after: float | None, expected: float
) -> None:
    assert deliveries.retry_wait(attempts, failure, 60.0, retry_after) == expected  # type: ignore[arg-type]


def test_retry_after_is_honoured_and_permanent_errors_wait_longer(
    make_config: Callable[..., Config], seeded_inbox: Path, segmenter: Segmenter, hook: HttpServer
) -> None:
    env = {"URL_SLOW": hook.url("/slow"), "URL_GONE": hook.url("/gone")}
    cfg = configure(make_config, webhooks("slow", "gone"))
    hook.reply(404, {"error": "no such hook"})  # 'gone' sorts first
    hook.reply(429, {"error": "slow down"}, headers={"Retry-After": "120"})
    tick(cfg, segmenter, T0, force_digest=True, env=env)
    with Store(cfg.state) as store:
        rows = {r.channel: r for r in store.deliveries()}
    slow, gone = rows["webhook:slow"], rows["webhook:gone"]
    assert slow.failure == "transient" and slow.next_attempt == T0 + dt.timedelta(seconds=120)
    assert gone.failure == "permanent" and gone.next_attempt == T0 + dt.timedelta(hours=1)
    with Store(cfg.state) as store:
        st = pipeline.status(cfg, store, [], holder=None, daemon_info={}, clock=lambda: T0)
    assert [d.failure for d in st.failing] == ["permanent", "transient"]


def test_a_failed_part_is_retried_alone(
    make_config: Callable[..., Config], seeded_inbox: Path, segmenter: Segmenter, hook: HttpServer
) -> None:
    # WeCom's 4096-byte messages split the seed digest into several parts.
    env = {"URL_TEAM": hook.url("/team")}
    cfg = configure(make_config, webhooks("team", kind="wecom"))
    hook.reply()
    hook.reply(200, {"errcode": 45009, "errmsg": "api freq out of limit"})
    done = tick(cfg, segmenter, T0, force_digest=True, env=env)
    assert [r.ok for r in done.deliveries] == [False]
    with Store(cfg.state) as store:
        [row] = store.deliveries()
    assert row.parts_sent == 1 and row.status == "pending" and row.failure == "transient"
    done = tick(cfg, segmenter, T0 + dt.timedelta(minutes=5), env=env)
    assert [r.ok for r in done.deliveries] == [True]
    assert "(parts 2–" in done.deliveries[0].detail
    posted = [r.json["markdown"]["content"] for r in hook.requests]
    parts = len(posted) - 1  # the second was refused once and posted again
    assert parts >= 2
    assert posted[1] == posted[2]  # only the refused part was posted again
    assert len(set(posted)) == parts  # every other part exactly once
    assert [
        p.split("\n")[0].endswith(f"({n}/{parts})**")
        for n, p in zip([1, 2, *range(2, parts + 1)], posted, strict=True)
    ] == [True] * len(posted)


def test_a_one_shot_scan_waits_for_files_still_being_written(
    make_config: Callable[..., Config], segmenter: Segmenter, caplog: pytest.LogCaptureFixture
) -> None:
    cfg = make_config(scan={"settle_seconds": 1})
    shutil.copy(seed_files()[0], cfg.inbox / "fresh.txt")  # mtime: now
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        time.sleep(seconds)

    with Store(cfg.state) as store, caplog.at_level("INFO"):
        report = pipeline.scan(cfg, store, segmenter=segmenter, settle=True, sleep=sleep)
    assert report.new == 1 and report.waiting == 0
    assert len(slept) == 1 and 0 < slept[0] <= 1.05
    assert "to finish being written" in caplog.text and "scan.settle_seconds" in caplog.text


def test_a_summary_that_leaves_files_says_why_and_which_key(
    make_config: Callable[..., Config], segmenter: Segmenter
) -> None:
    cfg = make_config(scan={"settle_seconds": 3600})
    shutil.copy(seed_files()[0], cfg.inbox / "fresh.txt")
    with Store(cfg.state) as store:
        report = pipeline.scan(cfg, store, segmenter=segmenter)  # the daemon's scan: no wait
    assert report.waiting == 1
    assert report.summary() == (
        "0 new, 0 unchanged, 0 failed, 1 left for the next scan (still being written: changed "
        "within scan.settle_seconds, or changed while read); 0 articles added"
    )


def test_a_stored_digest_that_cannot_become_an_email_fails_permanently_and_clearly(
    make_config: Callable[..., Config], seeded_inbox: Path, segmenter: Segmenter
) -> None:
    from tests.servers import smtp_server

    with smtp_server() as smtp:
        cfg = configure(
            make_config,
            "email:\n  enabled: true\n  host: 127.0.0.1\n"
            f"  port: {smtp.port}\n  from: watcher@example.com\n  to: [a@example.com]\n",
        )
        tick(cfg, segmenter, T0, scan_inbox=True)
        with Store(cfg.state) as store:
            topics = load_watchlists(cfg.watchlists)
            made, _ = pipeline.produce_digest(cfg, store, topics, DAY, clock=lambda: T0)
            # A digest stored by an older watcher with a newline in a topic name (no
            # longer accepted by check) is fixed content: it can never become a Subject.
            broken = made.sections[0].__class__(
                **{**made.sections[0].__dict__, "name": "安全\r\n生产", "count": 1}
            )
            bad = made.__class__(**{**made.__dict__, "sections": (broken, *made.sections[1:])})
            store.db.execute(
                "UPDATE digests SET content = ? WHERE day = ?",
                (pipeline.digest_mod.to_json(bad), DAY.isoformat()),
            )
            [result] = pipeline.deliver(
                cfg, store, pipeline.renderer_for(cfg), clock=lambda: T0, env={}
            )
            [row] = store.deliveries()
        assert not result.ok and result.permanent
        assert result.detail.startswith(f"the digest of {DAY} cannot be sent as e-mail: ")
        assert row.failure == "permanent" and row.status == "pending"
        assert smtp.mails == []

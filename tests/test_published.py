"""``watcher digest --published D [--until E]``: a digest of the articles published in a
range (by the paper's date), whenever they were read, in its own folder of the archive,
delivered once per channel keyed by the range, never touching the daily digests."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.servers import HttpServer, http_server
from watcher import cli, pipeline
from watcher import digest as digest_mod
from watcher.config import Config, load_config
from watcher.models import Article, DigestStats, Match
from watcher.store import Store
from watcher.watchlists import load_watchlists

T0 = dt.datetime(2026, 11, 21, 7, 19, tzinfo=dt.UTC)  # 15:19 in Shanghai


@pytest.fixture
def hook() -> Iterator[HttpServer]:
    with http_server() as server:
        yield server


@pytest.fixture
def cfg(make_config: Callable[..., Config], seeded_inbox: Path, state: Path | str) -> Config:
    """The seeds' config on each back end (SQLite, PostgreSQL), with one json webhook."""
    cfg = make_config(state=state)
    for f in (ROOT / "config" / "watchlists").glob("*.yaml"):
        shutil.copy(f, cfg.watchlists / f.name)
    cfg.path.write_text(
        cfg.path.read_text()
        + """digest:
  out_dir: reports
schedule:
  digest_at: "23:59"
  retry_after: 60s
webhooks:
  - {name: bot, kind: json, url_env: URL_BOT}
""",
        encoding="utf-8",
    )
    return load_config(cfg.path)


Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, cfg: Config) -> Run:
    monkeypatch.setattr(pipeline, "utc_now", lambda: T0)

    def invoke(*args: str) -> tuple[int, str, str]:
        with pytest.raises(SystemExit) as done:
            cli.main(["--config", str(cfg.path), *args])
        out, err = capsys.readouterr()
        return int(done.value.code or 0), out, err

    return invoke


def test_a_past_publication_day_is_a_digest_of_its_own_without_touching_the_daily_ones(
    run: Run, cfg: Config
) -> None:
    assert run("scan")[0] == 0  # (the scan stamps the real time: it is read after T0)
    now = dt.datetime.now(dt.UTC)
    topics = load_watchlists(cfg.watchlists)
    with Store(cfg.state) as store:  # what today's daily digest would be
        before = pipeline.preview(cfg, store, topics, now.date(), clock=lambda: now).digest
    assert before.total
    code, out, _ = run("digest", "--published", "2021-06-04")
    assert code == 0
    assert out.startswith("made digest of published 2021-06-04: 【watcher】见报 2021年6月4日：")
    folder = cfg.path.parent / "reports" / "published" / "2021-06-04_2021-06-04"
    assert f"  report: {folder / '2021-06-04.html'}\n" in out
    page = (folder / "2021-06-04.html").read_text(encoding="utf-8")
    assert "WATCHER 见报日期" in page and '<h1 class="date">2021年6月4日</h1>' in page
    assert "收录见报日期在 2021年6月4日 的文章，不论何时读入" in page
    data = json.loads((folder / "2021-06-04.json").read_text(encoding="utf-8"))
    items = [i for s in data["sections"] for i in s["items"]]
    assert items and {i["date"] for i in items} == {"2021-06-04"}
    assert not (cfg.path.parent / "reports" / "2021-06-04.html").exists()
    with Store(cfg.state) as store:  # no daily digest, no delivery, nothing stored
        assert store.digest_days() == [] and store.deliveries() == []
        assert store.period_deliveries() == []
        after, made = pipeline.produce_digest(cfg, store, topics, now.date(), clock=lambda: now)
    assert made and after.sections == before.sections and after.since is None


def test_a_range_covers_every_day_in_it_and_lists_them_per_day(run: Run, cfg: Config) -> None:
    run("scan")
    code, out, _ = run("digest", "--published", "2021-05-01", "--until", "2021-06-30")
    assert code == 0 and "见报 2021年5月1日至6月30日：" in out
    folder = cfg.path.parent / "reports" / "published" / "2021-05-01_2021-06-30"
    data = json.loads((folder / "2021-06-30.json").read_text(encoding="utf-8"))
    dates = {i["date"] for s in data["sections"] for i in s["items"]}
    assert dates == {"2021-05-08", "2021-06-04"}  # 衡阳日报 (10-29) and undated pages: not in it
    # Per publication day in the summary (the last 14 days of the range).
    assert all(len(s["trend"]) == 14 for s in data["sections"])
    text = (folder / "2021-06-30.md").read_text(encoding="utf-8")
    assert text.startswith("# watcher 见报日期 · 2021年5月1日至6月30日\n")


def test_send_delivers_once_per_channel_keyed_by_the_range(
    run: Run, cfg: Config, hook: HttpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("URL_BOT", hook.url("/bot"))
    run("scan")
    code, out, _ = run("digest", "--published", "2021-06-04", "--dry-run")
    assert code == 0
    assert out.startswith("dry run: published 2021-06-04 (not sent yet): 【watcher】见报")
    assert "  webhook:bot [pending]: json webhook: 1 message(s)" in out
    assert not (cfg.path.parent / "reports").exists() and hook.requests == []
    hook.reply(500, {"error": "busy"})
    code, out, err = run("digest", "--published", "2021-06-04", "--send")
    assert code == 1 and "webhook:bot: failed: webhook json (127.0.0.1): HTTP 500" in out
    assert err == (
        "error: 1 delivery failed and stay pending; they are retried by the daemon and the "
        "next --send\n"
    )
    code, out, _ = run("status")  # the pending delivery, named by its range
    assert (
        "  published:2021-06-04_2021-06-04 webhook:bot: 1 attempts, next 2026-11-21 15:20:00 CST, "
        "last error (transient): webhook json (127.0.0.1): HTTP 500" in out
    )
    code, out, _ = run("status", "--format", "json")
    [pending] = json.loads(out)["pending_deliveries"]
    assert pending["period"] == "published:2021-06-04_2021-06-04" and pending["day"] == "2021-06-04"
    assert json.loads(out)["next_weekly"] == []
    code, out, _ = run("digest", "--published", "2021-06-04", "--send")
    assert code == 0 and out.startswith("stored digest of published 2021-06-04:")
    assert "  webhook:bot: sent: 1 message(s) to json webhook bot\n" in out
    first, second = hook.wait_for(2)
    assert first.json == second.json and first.json["title"].startswith("【watcher】见报")
    assert first.headers["idempotency-key"] == second.headers["idempotency-key"]
    # A second --send of the same range sends nothing, and says so.
    code, out, _ = run("digest", "--published", "2021-06-04", "--send")
    assert code == 0
    assert out.endswith(
        "  nothing to deliver: every channel already has the digest of 2021-06-04\n"
    )
    code, out, _ = run("digest", "--published", "2021-06-04", "--dry-run")
    assert "(sent before; stored)" in out and "webhook:bot [sent]" in out
    assert len(hook.requests) == 2
    # --force sends it again, under a new key; the daily sequence never saw any of it.
    code, out, _ = run("digest", "--published", "2021-06-04", "--send", "--force")
    assert code == 0 and "webhook:bot: sent" in out
    third = hook.wait_for(3)[2]
    assert third.headers["idempotency-key"] != first.headers["idempotency-key"]
    with Store(cfg.state) as store:
        assert store.digest_days() == [] and store.deliveries() == []
        assert [r.period for r in store.period_deliveries()] == ["published:2021-06-04_2021-06-04"]
    # The daemon's tick delivers the day's digest as before, to the same channel.
    tick = dt.datetime(2026, 11, 21, 15, 59, 30, tzinfo=dt.UTC)
    with Store(cfg.state) as store:
        done = pipeline.tick(
            cfg, store, load_watchlists(cfg.watchlists), clock=lambda: tick, scan_inbox=False
        )
    assert [(r.channel, r.period, r.ok) for r in done.deliveries] == [("webhook:bot", None, True)]
    assert hook.wait_for(4)[3].json["title"].startswith("【watcher】2026年11月21日 日报")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--published", "2021-13-01"],
            "Error: Invalid value for --published: '2021-13-01' is not a date; write it as "
            "YYYY-MM-DD\n",
        ),
        (
            ["--published", "2021-06-04", "--until", "June 5"],
            "Error: Invalid value for --until: 'June 5' is not a date; write it as YYYY-MM-DD\n",
        ),
        (
            ["--published", "2021-06-04", "--until", "2021-06-01"],
            "error: --until 2021-06-01 is before --published 2021-06-04; give the first day "
            "first\n",
        ),
        (
            ["--published", "1999-01-01", "--until", "1999-01-31"],
            "error: no stored article was published between 1999-01-01 and 1999-01-31 (by the "
            "paper's date, else the dateline's); 'watcher articles --date D' lists a day's "
            "articles\n",
        ),
        (
            ["--until", "2021-06-04"],
            "Error: --until needs --published (the first day of the range)\n",
        ),
        (
            ["--published", "2021-06-04", "--date", "2021-06-04"],
            "Error: --date and --published cannot be combined; give one\n",
        ),
    ],
)
def test_bad_ranges_are_user_errors_that_say_what_to_do(
    run: Run, cfg: Config, args: list[str], message: str
) -> None:
    run("scan")
    code, _, err = run("digest", *args)
    assert code == 1 and err.endswith(message)
    assert not (cfg.path.parent / "reports").exists()


def test_an_article_without_a_paper_date_is_placed_on_its_datelines_day() -> None:
    [topic] = [t for t in load_watchlists(ROOT / "config" / "watchlists") if t.id == "safety"]
    body = "本报6月3日讯 全省安全生产大检查今天开始，检查组分赴各地。" * 4
    article = Article(0, "安全生产大检查开始", body, event_date=dt.date(2021, 6, 3))
    match = Match("safety", "v", 5.0, (("安全生产", 4),), (), "安全生产", body[:40], ())
    c = digest_mod.Candidate("ab" * 32, "x.txt", article, T0, (match,))
    d = digest_mod.build_published(
        first=dt.date(2021, 6, 1), last=dt.date(2021, 6, 4), timezone="Asia/Shanghai",
        produced_at=T0, topics=[topic], candidates=[c], stats=DigestStats(1, 1, ()),
    )  # fmt: skip
    [s] = d.sections
    assert [i.date for i in s.items] == [dt.date(2021, 6, 3)]
    assert s.trend == (0, 0, 1, 0) and s.count == 1  # one value per day of the range
    assert d.day == dt.date(2021, 6, 4) and d.published_from == dt.date(2021, 6, 1)
    assert d.subject == "【watcher】见报 2021年6月1日至6月4日：安全生产检查 1"
    assert digest_mod.from_json(digest_mod.to_json(d)) == d
    daily = dataclasses.replace(d, published_from=None)
    assert daily.subject.startswith("【watcher】2021年6月4日 日报：")

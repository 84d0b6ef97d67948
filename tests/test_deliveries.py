"""Delivery through the pipeline: pending on failure, retried, never twice, never blocking."""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.servers import HttpServer, free_port, http_server, smtp_server
from watcher import cli, pipeline
from watcher.config import Config, load_config
from watcher.segment import Segmenter
from watcher.store import Store
from watcher.watchlists import load_watchlists

T0 = dt.datetime(2026, 11, 21, 0, 0, tzinfo=dt.UTC)  # 08:00 in Shanghai
DAY = dt.date(2026, 11, 21)


@pytest.fixture(scope="module")
def segmenter(tmp_path_factory: pytest.TempPathFactory) -> Segmenter:
    return Segmenter(tmp_path_factory.mktemp("jieba"))


@pytest.fixture
def hook() -> Iterator[HttpServer]:
    with http_server() as server:
        yield server


def configure(make_config: Callable[..., Config], smtp_port: int, extra: str = "") -> Config:
    cfg = make_config()
    for f in (ROOT / "config" / "watchlists").glob("*.yaml"):
        shutil.copy(f, cfg.watchlists / f.name)
    cfg.path.write_text(
        cfg.path.read_text()
        + f"""digest:
  out_dir: reports
email:
  enabled: true
  host: 127.0.0.1
  port: {smtp_port}
  from: watcher@example.com
  to: [analyst@example.com]
  timeout: 3
schedule:
  retry_after: 60s
{extra}""",
        encoding="utf-8",
    )
    return load_config(cfg.path)


def produce(cfg: Config, segmenter: Segmenter) -> None:
    topics = load_watchlists(cfg.watchlists)
    with Store(cfg.state) as store:
        pipeline.scan(cfg, store, topics=topics, segmenter=segmenter, clock=lambda: T0)
        pipeline.produce_digest(cfg, store, topics, DAY, clock=lambda: T0)


def deliver(cfg: Config, at: dt.datetime, env: dict[str, str] | None = None) -> list[str]:
    with Store(cfg.state) as store:
        results = pipeline.deliver(
            cfg, store, pipeline.renderer_for(cfg), clock=lambda: at, env=env or {}
        )
    return [f"{r.channel}:{'ok' if r.ok else 'failed'}" for r in results]


def rows(cfg: Config) -> dict[str, dict[str, object]]:
    with Store(cfg.state) as store:
        return {r.channel: r for r in store.deliveries(day=DAY)}


def test_server_down_leaves_it_pending_then_it_is_delivered_once(
    make_config: Callable[..., Config], seeded_inbox: Path, segmenter: Segmenter
) -> None:
    with smtp_server() as smtp:
        port = smtp.port
    cfg = configure(make_config, port)  # nothing listens on the port now
    produce(cfg, segmenter)
    assert deliver(cfg, T0) == ["email:analyst@example.com:failed"]
    row = rows(cfg)["email:analyst@example.com"]
    assert row.status == "pending" and row.attempts == 1
    assert "connection refused" in str(row.last_error)
    assert deliver(cfg, T0 + dt.timedelta(seconds=30)) == []  # backing off: not yet
    with smtp_server() as smtp:
        cfg = configure(make_config, smtp.port)
        assert deliver(cfg, T0 + dt.timedelta(seconds=61)) == ["email:analyst@example.com:ok"]
        assert deliver(cfg, T0 + dt.timedelta(hours=1)) == []
        [mail] = smtp.wait_for(1)
        msg = mail.message
        assert msg["Subject"] == (
            "【watcher】2026年11月21日 日报：安全生产检查 2 · 城市更新 4 · 防汛抗洪 2 · "
            "乡村振兴 7 · 招商引资与重大项目 10"
        )
        text = msg.get_body(preferencelist=("plain",)).get_content()
        html = msg.get_body(preferencelist=("html",)).get_content()
        for headline in ("毛伟明在湘潭暗访检查安全生产工作", "精准发力绘就乡村振兴美好图景"):
            assert headline in text and headline in html
        assert (
            msg["Message-ID"]
            == f"<watcher-{rows(cfg)['email:analyst@example.com'].key}@example.com>"
        )
    assert rows(cfg)["email:analyst@example.com"].status == "sent"


def test_a_failing_webhook_never_blocks_email_and_is_retried(
    make_config: Callable[..., Config], seeded_inbox: Path, segmenter: Segmenter, hook: HttpServer
) -> None:
    with smtp_server() as smtp:
        extra = (
            "webhooks:\n  - name: bot\n    kind: json\n    url_env: BOT_URL\n    topics: [safety]\n"
        )
        cfg = configure(make_config, smtp.port, extra)
        produce(cfg, segmenter)
        env = {"BOT_URL": hook.url("/hook")}
        hook.reply(500, {"error": "busy"})
        assert deliver(cfg, T0, env) == ["email:analyst@example.com:ok", "webhook:bot:failed"]
        assert "500" in str(rows(cfg)["webhook:bot"].last_error)
        assert deliver(cfg, T0 + dt.timedelta(seconds=61), env) == ["webhook:bot:ok"]
        first, second = hook.requests
        body = second.json
        assert first.json == body  # the retry sends the same message under the same key
        assert first.headers["idempotency-key"] == second.headers["idempotency-key"]
        assert body["title"].startswith("【watcher】2026年11月21日 日报：安全生产检查 2")
        assert "毛伟明在湘潭暗访检查安全生产工作" in body["markdown"]
        assert "城市更新" not in body["title"]  # routed: only the safety topic
        assert len(smtp.mails) == 1


def test_a_refused_webhook_is_reported_and_stays_pending(
    make_config: Callable[..., Config], seeded_inbox: Path, segmenter: Segmenter, hook: HttpServer
) -> None:
    extra = "webhooks:\n  - name: bot\n    kind: wecom\n    url_env: BOT_URL\n"
    cfg = configure(make_config, free_port(), extra.replace("email", "x"))
    cfg.path.write_text(cfg.path.read_text().replace("enabled: true", "enabled: false"))
    cfg = load_config(cfg.path)
    produce(cfg, segmenter)
    hook.reply(200, {"errcode": 93000, "errmsg": "invalid webhook url"})
    assert deliver(cfg, T0, {"BOT_URL": hook.url("/cgi-bin/webhook/send?key=SECRET")}) == [
        "webhook:bot:failed"
    ]
    error = str(rows(cfg)["webhook:bot"].last_error)
    assert "93000" in error and "SECRET" not in error
    assert rows(cfg)["webhook:bot"].status == "pending"


def test_cli_digest_dry_run_send_and_force(
    make_config: Callable[..., Config],
    seeded_inbox: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def run(*args: str) -> tuple[int, str, str]:
        with pytest.raises(SystemExit) as info:
            cli.main(["--config", str(cfg.path), "--log-level", "WARNING", *args])
        out, err = capsys.readouterr()
        return int(info.value.code or 0), out, err

    with smtp_server() as smtp:
        cfg = configure(make_config, smtp.port)
        assert run("scan")[0] == 0
        code, out, _ = run("digest", "--dry-run")
        assert (
            code == 0
            and "email:analyst@example.com [pending]: e-mail to analyst@example.com" in out
        )
        assert smtp.mails == []
        code, out, _ = run("digest", "--send")
        assert code == 0 and "email:analyst@example.com: sent" in out
        code, out, _ = run("digest", "--send")
        assert "nothing to deliver" in out
        code, out, _ = run("digest", "--send", "--force")
        assert "email:analyst@example.com: sent" in out
        mails = smtp.wait_for(2)
        assert mails[0].message["Message-ID"] != mails[1].message["Message-ID"]
        assert (cfg.digest.out_dir / "index.html").exists()
        assert (cfg.digest.out_dir / f"{pipeline.today(cfg)}.json").exists()
        code, _, err = run("digest", "--date", "2020-01-01")
        assert code == 1 and "no digest was produced on 2020-01-01" in err


def test_a_refused_recipient_does_not_make_the_others_get_it_twice(
    make_config: Callable[..., Config], seeded_inbox: Path, segmenter: Segmenter
) -> None:
    with smtp_server(refuse={"nobody@example.com": "550 5.1.1 no such user"}) as smtp:
        cfg = configure(make_config, smtp.port)
        cfg.path.write_text(
            cfg.path.read_text().replace(
                "to: [analyst@example.com]", "to: [analyst@example.com, nobody@example.com]"
            )
        )
        cfg = load_config(cfg.path)
        produce(cfg, segmenter)
        assert deliver(cfg, T0) == [
            "email:analyst@example.com:ok",
            "email:nobody@example.com:failed",
        ]
        refused = rows(cfg)["email:nobody@example.com"]
        assert "550" in str(refused.last_error) and refused.failure == "permanent"
        # A permanent error waits far longer than a transient one (an hour at least).
        assert refused.next_attempt is not None and refused.next_attempt >= T0 + dt.timedelta(
            hours=1
        )
        assert deliver(cfg, T0 + dt.timedelta(minutes=2)) == []
        assert deliver(cfg, T0 + dt.timedelta(hours=2)) == ["email:nobody@example.com:failed"]
        assert [m.rcpt_tos for m in smtp.mails] == [("analyst@example.com",)]


def test_an_unexpected_error_on_one_channel_does_not_stop_the_others(
    make_config: Callable[..., Config], seeded_inbox: Path, segmenter: Segmenter
) -> None:
    with smtp_server() as smtp:
        extra = "webhooks:\n  - name: bot\n    kind: json\n    url_env: BOT_URL\n"
        cfg = configure(make_config, smtp.port, extra)
        produce(cfg, segmenter)
        results = deliver(cfg, T0, {"BOT_URL": "not a url"})
        assert results == ["email:analyst@example.com:ok", "webhook:bot:failed"]
        assert rows(cfg)["webhook:bot"].status == "pending"
        assert len(smtp.mails) == 1

"""Delivery against real local servers: aiosmtpd for e-mail, an HTTP server for bots."""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import hashlib
import hmac
import itertools
import logging
import re
import socket
import threading
import time
import traceback
import urllib.parse
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest

from tests.servers import (
    HOST,
    HttpServer,
    SmtpServer,
    TlsFiles,
    TlsUnavailable,
    free_port,
    http_server,
    silent_listener,
    smtp_server,
    tls_files,
)
from watcher.config import EmailConfig, WebhookConfig
from watcher.deliver import (
    PermanentDeliveryError,
    TransientDeliveryError,
    build_email,
    message_id,
    post_webhook,
    send_email,
)
from watcher.deliveries import SERVICES
from watcher.errors import DeliveryError

LIMITS = {kind: service.limit for kind, service in SERVICES.items()}

SUBJECT = "株洲日报 监测日报 2026年11月21日：城市更新、防汛"
TEXT = "今日命中 3 篇。\n\n1. 【城市更新】老旧小区改造启动\n   株洲日报 第2版\n"
HTML = "<h1>监测日报</h1><p>今日命中 3 篇。</p><ul><li>老旧小区改造启动</li></ul>"
SENDER = "watcher 日报 <watcher@example.com>"
TO = ("张三 <zhangsan@example.com>", "li@example.org")
KEY = "2026-11-21:email"
DATE = dt.datetime(2026, 11, 21, 7, 30, tzinfo=dt.timezone(dt.timedelta(hours=8)))


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """A proxy from the environment must not intercept requests to 127.0.0.1."""
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("no_proxy", "*")


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    try:
        return tls_files(tmp_path_factory.mktemp("tls"))
    except TlsUnavailable as exc:
        pytest.skip(str(exc))


@pytest.fixture
def hook() -> Iterator[HttpServer]:
    with http_server() as server:
        yield server


def _settings(port: int, **overrides: object) -> EmailConfig:
    values: dict[str, object] = {
        "enabled": True,
        "host": HOST,
        "port": port,
        "security": "none",
        "sender": SENDER,
        "to": TO,
        "timeout": 5.0,
    }
    values.update(overrides)
    return EmailConfig(**values)  # type: ignore[arg-type]


def _digest(key: str = KEY) -> EmailMessage:
    return build_email(SUBJECT, HTML, TEXT, sender=SENDER, to=TO, key=key, date=DATE)


def _crlf(text: str) -> str:
    """Text parts travel in canonical CRLF form; compare content, not line ends."""
    return text.replace("\r\n", "\n")


# ------------------------------------------------------------------ building


def test_message_id_is_deterministic_and_valid() -> None:
    assert message_id("abc", "example.com") == "<watcher-abc@example.com>"
    assert message_id(KEY, "example.com") == message_id(KEY, "example.com")
    assert message_id("a:b", "example.com") != message_id("a-b", "example.com")
    # Characters a Message-ID cannot hold are escaped, injectively ("=" too).
    assert message_id("a:b", "x.org") == "<watcher-a=3Ab@x.org>"
    assert message_id("a=3Ab", "x.org") != message_id("a:b", "x.org")
    assert message_id("日报", "例子.中国") == "<watcher-=E6=97=A5=E6=8A=A5@xn--fsqu00a.xn--fiqs8s>"
    assert message_id("k", "") == "<watcher-k@localhost>"
    for key in ("a..b", "end.", "sp ace", 'q"uote', "<x>", "2026-11-21:wecom:1"):
        assert re.fullmatch(
            r"<watcher-[A-Za-z0-9=_+\-]+(\.[A-Za-z0-9=_+\-]+)*@[a-z0-9.\-]+>",
            message_id(key, "example.com"),
        )


def test_build_email_parses_back_exactly() -> None:
    raw = _digest().as_bytes()
    assert raw.isascii(), "7-bit clean: no raw UTF-8 in headers or bodies"
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998
    assert b"=?utf-8?" in raw  # RFC 2047 encoded words for subject and names

    from email import policy
    from email.parser import BytesParser

    msg = BytesParser(policy=policy.default).parsebytes(raw)
    assert msg["Subject"] == SUBJECT
    assert msg["From"].addresses[0].display_name == "watcher 日报"
    assert msg["From"].addresses[0].addr_spec == "watcher@example.com"
    assert [a.display_name for a in msg["To"].addresses] == ["张三", ""]
    assert [a.addr_spec for a in msg["To"].addresses] == ["zhangsan@example.com", "li@example.org"]
    assert msg["Message-ID"] == "<watcher-2026-11-21=3Aemail@example.com>"
    assert msg["X-Watcher-Key"] == KEY
    assert msg["Date"].datetime == DATE
    assert msg.get_content_type() == "multipart/alternative"
    plain, html = msg.iter_parts()
    assert plain.get_content_type() == "text/plain"
    assert html.get_content_type() == "text/html"
    for part in (plain, html):
        assert part.get_content_charset() == "utf-8"
        assert part["Content-Transfer-Encoding"] in ("base64", "quoted-printable")
    assert _crlf(plain.get_content()) == TEXT
    assert _crlf(html.get_content()).rstrip("\n") == HTML


def test_build_email_keeps_long_lines_within_998() -> None:
    long_html = "<p>" + "城市更新" * 2000 + "</p>"  # one 24 kB line
    raw = build_email(
        SUBJECT, long_html, "a" * 3000, sender=SENDER, to=TO, key=KEY, date=DATE
    ).as_bytes()
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998


def test_build_email_rejects_a_non_address() -> None:
    with pytest.raises(ValueError, match="not an e-mail address"):
        build_email(SUBJECT, HTML, TEXT, sender="nobody", to=TO, key=KEY, date=DATE)


# -------------------------------------------------------------------- SMTP


def _assert_digest_received(smtp: SmtpServer, rcpt: tuple[str, ...]) -> None:
    [mail] = smtp.wait_for(1)
    assert mail.mail_from == "watcher@example.com"
    assert mail.rcpt_tos == rcpt
    msg = mail.message
    assert msg["Subject"] == SUBJECT
    assert msg["Message-ID"] == message_id(KEY, "example.com")
    assert msg["X-Watcher-Key"] == KEY
    plain = msg.get_body(("plain",))
    html = msg.get_body(("html",))
    assert plain is not None and html is not None
    assert plain.get_content_charset() == html.get_content_charset() == "utf-8"
    assert _crlf(plain.get_content()) == TEXT
    assert "老旧小区改造启动" in html.get_content()


def test_send_plain_smtp_delivers_intact_chinese_digest(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="watcher.deliver")
    with smtp_server() as smtp:
        send_email(_digest(), _settings(smtp.port), password=None)
        _assert_digest_received(smtp, ("zhangsan@example.com", "li@example.org"))
    assert "sent <watcher-2026-11-21=3Aemail@example.com> to 2 recipient(s)" in caplog.text


def test_explicit_recipients_replace_the_headers() -> None:
    with smtp_server() as smtp:
        send_email(_digest(), _settings(smtp.port), password=None, recipients=["topic@example.net"])
        [mail] = smtp.wait_for(1)
    assert mail.rcpt_tos == ("topic@example.net",)
    assert "zhangsan@example.com" in mail.message["To"]  # headers unchanged


def test_starttls(tls: TlsFiles) -> None:
    with smtp_server(tls=tls, starttls=True, require_starttls=True) as smtp:
        settings = _settings(smtp.port, security="starttls")
        send_email(_digest(), settings, password=None, context=tls.client_context())
        _assert_digest_received(smtp, ("zhangsan@example.com", "li@example.org"))


def test_starttls_with_an_untrusted_certificate_is_permanent(tls: TlsFiles) -> None:
    with smtp_server(tls=tls, starttls=True) as smtp:
        settings = _settings(smtp.port, security="starttls")
        with pytest.raises(PermanentDeliveryError, match="certificate verification failed"):
            send_email(_digest(), settings, password=None)  # default context: CA unknown
        assert smtp.mails == []


def test_starttls_not_offered_is_permanent() -> None:
    with smtp_server() as smtp:
        settings = _settings(smtp.port, security="starttls")
        with pytest.raises(PermanentDeliveryError, match=r"STARTTLS.*email\.security"):
            send_email(_digest(), settings, password=None)


def test_implicit_tls(tls: TlsFiles) -> None:
    with smtp_server(tls=tls, implicit_tls=True) as smtp:
        settings = _settings(smtp.port, security="ssl")
        send_email(_digest(), settings, password=None, context=tls.client_context())
        _assert_digest_received(smtp, ("zhangsan@example.com", "li@example.org"))


def test_auth_success_over_plain_smtp() -> None:
    with smtp_server(auth={"watcher": "secret"}, auth_require_tls=False) as smtp:
        settings = _settings(smtp.port, username="watcher", password_env="WATCHER_SMTP_PASSWORD")
        send_email(_digest(), settings, password="secret")
        [mail] = smtp.wait_for(1)
    assert mail.login == "watcher"


def test_auth_success_after_starttls(tls: TlsFiles) -> None:
    with smtp_server(tls=tls, starttls=True, auth={"watcher": "s3cret"}) as smtp:
        settings = _settings(
            smtp.port, security="starttls", username="watcher", password_env="WATCHER_SMTP_PASSWORD"
        )
        send_email(_digest(), settings, password="s3cret", context=tls.client_context())
        [mail] = smtp.wait_for(1)
    assert mail.login == "watcher"


def test_auth_refused_is_permanent_and_names_the_env_var() -> None:
    with smtp_server(auth={"watcher": "right"}, auth_require_tls=False) as smtp:
        settings = _settings(smtp.port, username="watcher", password_env="WATCHER_SMTP_PASSWORD")
        with pytest.raises(PermanentDeliveryError) as info:
            send_email(_digest(), settings, password="wrong")
        assert smtp.mails == []
    message = str(info.value)
    assert "authentication refused (535" in message
    assert "$WATCHER_SMTP_PASSWORD" in message
    assert "wrong" not in message
    assert info.value.permanent


def test_auth_not_offered_before_tls_is_permanent() -> None:
    # aiosmtpd's default: AUTH only after STARTTLS, so plain SMTP cannot log in.
    with smtp_server(auth={"watcher": "pw"}) as smtp:
        settings = _settings(smtp.port, username="watcher", password_env="WATCHER_SMTP_PASSWORD")
        with pytest.raises(PermanentDeliveryError, match="AUTH"):
            send_email(_digest(), settings, password="pw")


def test_missing_password_is_permanent_and_names_the_env_var() -> None:
    settings = _settings(free_port(), username="watcher", password_env="WATCHER_SMTP_PASSWORD")
    with pytest.raises(PermanentDeliveryError, match=r"set \$WATCHER_SMTP_PASSWORD"):
        send_email(_digest(), settings, password=None)


def test_server_down_is_transient() -> None:
    port = free_port()  # nothing listens there
    with pytest.raises(TransientDeliveryError) as info:
        send_email(_digest(), _settings(port), password=None)
    assert str(info.value) == f"smtp 127.0.0.1:{port}: connection refused (server down?)"
    assert isinstance(info.value, DeliveryError) and not info.value.permanent


def test_silent_server_times_out_as_transient() -> None:
    with silent_listener() as port:
        started = time.monotonic()
        with pytest.raises(TransientDeliveryError, match=r"timed out"):
            send_email(_digest(), _settings(port, timeout=1.0), password=None)
        assert time.monotonic() - started < 5


def test_refused_recipient_is_listed_and_the_others_get_it() -> None:
    refuse = {"li@example.org": "550 5.1.1 no such user"}
    with smtp_server(refuse=refuse) as smtp:
        with pytest.raises(PermanentDeliveryError) as info:
            send_email(_digest(), _settings(smtp.port), password=None)
        [mail] = smtp.wait_for(1)
    assert mail.rcpt_tos == ("zhangsan@example.com",)
    assert "li@example.org (550 5.1.1 no such user)" in str(info.value)
    assert "delivered to 1 other recipient(s)" in str(info.value)
    assert info.value.refused == {"li@example.org": (550, "5.1.1 no such user")}


def test_all_recipients_greylisted_is_transient() -> None:
    refuse = {
        a: "450 4.2.0 greylisted, try later" for a in ("zhangsan@example.com", "li@example.org")
    }
    with smtp_server(refuse=refuse) as smtp:
        with pytest.raises(TransientDeliveryError, match="greylisted") as info:
            send_email(_digest(), _settings(smtp.port), password=None)
        assert smtp.mails == []
    assert set(info.value.refused) == {"zhangsan@example.com", "li@example.org"}


# ---------------------------------------------------------------- webhooks

SECRET_TOKEN = "tok3n5ecretABCDEF"  # stands for the bot key embedded in real URLs
NOW = 1_763_686_800.123  # 2025-11-21 01:00:00.123 UTC, the injected signing clock


def _post(hook: HttpServer, kind: str, markdown: str = "## 今日\n- 条目一", **kw: object) -> None:
    options: dict[str, object] = {
        "title": "监测日报",
        "secret": None,
        "key": "2026-11-21:wecom:1",
        "timeout": 5.0,
        "now": lambda: NOW,
    }
    options.update(kw)
    url = str(options.pop("url", hook.url(f"/hook/{SECRET_TOKEN}?key={SECRET_TOKEN}")))
    post_webhook(kind, url, markdown, **options)  # type: ignore[arg-type]


def test_limits_cover_every_configurable_kind() -> None:
    import dataclasses

    kind_field = next(f for f in dataclasses.fields(WebhookConfig) if f.name == "kind")
    choices = kind_field.metadata["watcher.option"].kind.choices
    assert set(LIMITS) == set(choices)
    assert LIMITS["wecom"] == 4096
    assert all(limit > 0 for limit in LIMITS.values())


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("wecom", {"msgtype": "markdown", "markdown": {"content": "## 今日\n- 条目一"}}),
        (
            "dingtalk",
            {"msgtype": "markdown", "markdown": {"title": "监测日报", "text": "## 今日\n- 条目一"}},
        ),
        (
            "feishu",
            {
                "msg_type": "interactive",
                "card": {
                    "config": {"wide_screen_mode": True},
                    "header": {"title": {"tag": "plain_text", "content": "监测日报"}},
                    "elements": [{"tag": "markdown", "content": "## 今日\n- 条目一"}],
                },
            },
        ),
        ("slack", {"text": "## 今日\n- 条目一"}),
        (
            "json",
            {"title": "监测日报", "markdown": "## 今日\n- 条目一", "key": "2026-11-21:wecom:1"},
        ),
    ],
)
def test_payload_shape(hook: HttpServer, kind: str, expected: dict[str, object]) -> None:
    hook.reply(200, "ok" if kind == "slack" else None)
    _post(hook, kind)
    [req] = hook.requests
    assert req.method == "POST"
    assert req.path == f"/hook/{SECRET_TOKEN}"
    assert req.query == {"key": SECRET_TOKEN}  # the URL is used as given
    assert req.headers["content-type"] == "application/json; charset=utf-8"
    assert req.headers["idempotency-key"] == "2026-11-21%3Awecom%3A1"
    assert req.json == expected
    assert "条目一".encode() in req.body  # raw UTF-8, not \\u escapes


def test_dingtalk_signature(hook: HttpServer) -> None:
    secret = "SECabc123"
    _post(hook, "dingtalk", secret=secret)
    [req] = hook.requests
    timestamp = "1763686800123"  # milliseconds from the injected clock
    expected = base64.b64encode(
        hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256).digest()
    ).decode()
    assert req.query == {"key": SECRET_TOKEN, "timestamp": timestamp, "sign": expected}
    assert f"sign={urllib.parse.quote_plus(expected)}" in req.raw_query  # URL-encoded once
    assert req.json == {
        "msgtype": "markdown",
        "markdown": {"title": "监测日报", "text": "## 今日\n- 条目一"},
    }


def test_dingtalk_signature_on_a_url_without_query(hook: HttpServer) -> None:
    _post(hook, "dingtalk", secret="s", url=hook.url("/robot/send"))
    [req] = hook.requests
    assert set(req.query) == {"timestamp", "sign"}


def test_feishu_signature(hook: HttpServer) -> None:
    secret = "feishu-secret"
    _post(hook, "feishu", secret=secret)
    [req] = hook.requests
    body = req.json
    assert body["timestamp"] == "1763686800"  # seconds, as a string
    key = f"1763686800\n{secret}".encode()
    assert body["sign"] == base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()
    assert body["msg_type"] == "interactive"
    assert req.query == {"key": SECRET_TOKEN}


def test_json_signature_header(hook: HttpServer) -> None:
    _post(hook, "json", secret="shared")
    [req] = hook.requests
    expected = hmac.new(b"shared", req.body, hashlib.sha256).hexdigest()
    assert req.headers["x-watcher-signature"] == f"sha256={expected}"


def _failure(
    hook: HttpServer, kind: str, status: int, body: object, **headers: str
) -> DeliveryError:
    hook.reply(status, body, headers=headers)
    with pytest.raises(DeliveryError) as info:
        _post(hook, kind)
    return info.value


@pytest.mark.parametrize(
    ("kind", "status", "body", "transient", "words"),
    [
        ("wecom", 500, "upstream broke", True, "HTTP 500"),
        ("slack", 503, "busy", True, "HTTP 503"),
        ("json", 429, {"error": "slow down"}, True, "HTTP 429"),
        ("wecom", 400, {"errcode": 40008}, False, "HTTP 400"),
        ("slack", 404, "no_service", False, "HTTP 404"),
        ("json", 403, "forbidden", False, "HTTP 403"),
        ("wecom", 200, {"errcode": 93000, "errmsg": "invalid webhook url"}, False, "error 93000"),
        ("wecom", 200, {"errcode": 45009, "errmsg": "api freq out of limit"}, True, "45009"),
        ("dingtalk", 200, {"errcode": 310000, "errmsg": "sign not match"}, False, "310000"),
        ("dingtalk", 200, {"errcode": 130101, "errmsg": "send too fast"}, True, "130101"),
        ("feishu", 200, {"code": 19021, "msg": "sign match fail"}, False, "19021"),
        ("feishu", 200, {"code": 11232, "msg": "frequency limited"}, True, "11232"),
        ("feishu", 200, {"StatusCode": 9499, "StatusMessage": "Bad Request"}, False, "9499"),
        ("wecom", 200, "<html>portal</html>", False, "unexpected reply"),
    ],
)
def test_failure_classification(
    hook: HttpServer, kind: str, status: int, body: object, transient: bool, words: str
) -> None:
    error = _failure(hook, kind, status, body)
    assert isinstance(error, TransientDeliveryError if transient else PermanentDeliveryError)
    assert words in str(error)
    assert str(error).startswith(f"webhook {kind} (127.0.0.1): ")
    assert len(hook.requests) == 1  # exactly one attempt; retrying is the orchestrator's job


def test_retry_after_is_passed_on(hook: HttpServer) -> None:
    error = _failure(hook, "slack", 429, "rate_limited", **{"Retry-After": "30"})
    assert isinstance(error, TransientDeliveryError)
    assert error.retry_after == 30.0


def test_redirect_is_not_followed(hook: HttpServer) -> None:
    error = _failure(hook, "json", 302, "", Location=hook.url("/elsewhere"))
    assert isinstance(error, PermanentDeliveryError)
    assert "redirected" in str(error)
    assert len(hook.requests) == 1


def test_success_on_any_2xx_for_generic_json(hook: HttpServer) -> None:
    hook.reply(204, b"")
    _post(hook, "json")
    assert len(hook.requests) == 1


def test_service_down_is_transient() -> None:
    port = free_port()
    with pytest.raises(TransientDeliveryError, match="connection refused"):
        post_webhook(
            "wecom",
            f"http://{HOST}:{port}/send?key={SECRET_TOKEN}",
            "x",
            title="t",
            secret=None,
            key="k",
            timeout=2,
        )


def test_slow_service_times_out_as_transient(hook: HttpServer) -> None:
    hook.reply(200, None, delay=5)
    started = time.monotonic()
    with pytest.raises(TransientDeliveryError, match="timed out"):
        _post(hook, "wecom", timeout=0.5)
    assert time.monotonic() - started < 4


def test_oversized_message_is_refused_before_sending(hook: HttpServer) -> None:
    too_big = "字" * (LIMITS["wecom"] // 3 + 1)  # 3 bytes a character in UTF-8
    with pytest.raises(PermanentDeliveryError, match="over the 4096-byte limit"):
        _post(hook, "wecom", markdown=too_big)
    assert hook.requests == []
    _post(hook, "wecom", markdown="字" * (LIMITS["wecom"] // 3))  # just fits
    assert len(hook.requests) == 1


def test_the_url_never_reaches_messages_or_logs(
    hook: HttpServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    errors: list[BaseException] = []
    # The service echoing the URL back must not leak it either.
    echo = f"bad url {hook.url(f'/hook/{SECRET_TOKEN}?key={SECRET_TOKEN}')}"
    for status, body in [(500, echo), (400, echo), (200, {"errcode": 1, "errmsg": echo})]:
        hook.reply(status, body)
        with pytest.raises(DeliveryError) as info:
            _post(hook, "wecom", secret="unused")
        errors.append(info.value)
    with pytest.raises(DeliveryError) as info:
        post_webhook(
            "dingtalk",
            f"http://{HOST}:{free_port()}/robot/send?access_token={SECRET_TOKEN}",
            "x",
            title="t",
            secret="SECx",
            key="k",
            timeout=2,
        )
    errors.append(info.value)
    with pytest.raises(DeliveryError) as info:
        _post(hook, "wecom", url=f"http://{HOST}:notaport/send?key={SECRET_TOKEN}")
    errors.append(info.value)
    _post(hook, "wecom")  # a success logs too
    for error in errors:
        shown = "".join(traceback.format_exception(error))
        assert SECRET_TOKEN not in shown, shown
    assert SECRET_TOKEN not in caplog.text
    assert "webhook wecom (127.0.0.1): delivered 2026-11-21:wecom:1" in caplog.text
    assert "***" in str(errors[0])


def test_unknown_kind_and_bad_scheme_are_permanent() -> None:
    with pytest.raises(PermanentDeliveryError, match="unknown webhook kind"):
        post_webhook("telegram", "https://x", "m", title="t", secret=None, key="k", timeout=1)
    with pytest.raises(PermanentDeliveryError, match="https://"):
        post_webhook("json", "file:///etc/passwd", "m", title="t", secret=None, key="k", timeout=1)


def test_tls_files_are_reused(tls: TlsFiles, tmp_path: Path) -> None:
    again = tls_files(tls.cert.parent)
    assert again == tls
    assert again.cert.read_bytes().startswith(b"-----BEGIN CERTIFICATE-----")


@contextlib.contextmanager
def _trickler(greeting: bytes, stop_after: float = 30.0) -> Iterator[int]:
    """A TCP server on 127.0.0.1 that answers every connection one byte a second
    (after reading whatever the client sends): each read succeeds, none ends."""
    server = socket.create_server((HOST, 0))
    server.settimeout(0.2)
    port = server.getsockname()[1]
    done = threading.Event()

    def serve(conn: socket.socket) -> None:
        conn.settimeout(0.05)
        started = time.monotonic()
        try:
            for byte in itertools.cycle(greeting):
                if done.is_set() or time.monotonic() - started > stop_after:
                    break
                with contextlib.suppress(TimeoutError):
                    conn.recv(65536)
                conn.sendall(bytes([byte]))
                done.wait(1.0)
        except OSError:
            pass
        finally:
            conn.close()

    def accept() -> None:
        while not done.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield port
    finally:
        done.set()
        server.close()
        thread.join(5)


def test_a_trickling_smtp_server_cannot_stretch_the_timeout() -> None:
    # A greeting that never ends, one byte a second: every read returns in time.
    with _trickler(b"220-slow greeting line " * 100) as port:
        started = time.monotonic()
        with pytest.raises(TransientDeliveryError) as info:
            send_email(_digest(), _settings(port, timeout=2.0), password=None)
        took = time.monotonic() - started
    assert str(info.value) == (
        f"smtp 127.0.0.1:{port}: no complete answer within 2s (timed out; email.timeout "
        "bounds the whole attempt)"
    )
    assert took < 4


def test_a_trickling_webhook_cannot_stretch_the_timeout() -> None:
    reply = b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + b"{" * 1000
    with _trickler(reply) as port:
        started = time.monotonic()
        with pytest.raises(TransientDeliveryError) as info:
            post_webhook(
                "json", f"http://{HOST}:{port}/hook", "text", title="t", secret=None,
                key="k-1", timeout=2.0,
            )  # fmt: skip
        took = time.monotonic() - started
    assert str(info.value) == (
        f"webhook json ({HOST}): no complete answer within 2s (timed out; the webhook's "
        "timeout bounds the whole attempt)"
    )
    assert took < 4


def test_retry_after_in_seconds_or_as_an_http_date() -> None:
    from watcher.deliver import _retry_after

    now = 1_800_000_000.0  # 2027-01-15T08:00:00Z
    assert _retry_after("120", lambda: now) == 120
    assert _retry_after("Fri, 15 Jan 2027 08:02:00 GMT", lambda: now) == 120
    assert _retry_after("Fri, 15 Jan 2027 07:00:00 GMT", lambda: now) == 0  # already past
    assert _retry_after("soon", lambda: now) is None and _retry_after(None) is None

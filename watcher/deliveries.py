"""Where a digest goes and how often to try: channels, delivery keys, the retry policy
and the one table of chat services.

Knowledge kept once: a chat service's byte limit, Markdown flavour, payload format,
how its 200 replies report errors and which of its codes mean "slow down" live in
:data:`SERVICES` and nowhere else; ``chat`` packs messages by it and ``deliver``
posts by it. Nothing here does I/O.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import hashlib
import hmac
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from watcher.models import Digest, WeeklyDigest

if TYPE_CHECKING:
    from watcher.config import Config, WebhookConfig

Flavour = Literal["markdown", "slack"]
Failure = Literal["transient", "permanent"]

# ------------------------------------------------------------------ chat services


def _sign_dingtalk(url: str, secret: str, now: Callable[[], float]) -> str:
    """Append DingTalk's timestamp (ms) and HMAC-SHA256 sign to the URL's query."""
    timestamp = str(int(now() * 1000))
    digest = hmac.new(
        secret.encode("utf-8"), f"{timestamp}\n{secret}".encode(), hashlib.sha256
    ).digest()
    sign = base64.b64encode(digest).decode("ascii")
    query = urllib.parse.urlencode({"timestamp": timestamp, "sign": sign})
    sep = "" if url.endswith(("?", "&")) else "&" if "?" in url else "?"
    return f"{url}{sep}{query}"


def feishu_sign(secret: str, timestamp: str) -> str:
    """Feishu's signature: HMAC-SHA256 keyed with ``"{timestamp}\\n{secret}"`` over nothing."""
    key = f"{timestamp}\n{secret}".encode()
    return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode("ascii")


# A payload builder: (url, markdown, title, secret, key, now) → (url to post to, JSON body)
Payload = Callable[
    [str, str, str, "str | None", str, Callable[[], float]], tuple[str, dict[str, Any]]
]


def _wecom(url: str, md: str, title: str, secret: str | None, key: str, now: Any) -> Any:
    return url, {"msgtype": "markdown", "markdown": {"content": md}}


def _dingtalk(url: str, md: str, title: str, secret: str | None, key: str, now: Any) -> Any:
    body = {"msgtype": "markdown", "markdown": {"title": title, "text": md}}
    return (_sign_dingtalk(url, secret, now) if secret else url), body


def _feishu(url: str, md: str, title: str, secret: str | None, key: str, now: Any) -> Any:
    # An interactive card is the custom-bot message that renders Markdown
    # (headings, lists, links); "post" rich text takes structured runs instead.
    card = {
        "config": {"wide_screen_mode": True},
        "header": {"title": {"tag": "plain_text", "content": title}},
        "elements": [{"tag": "markdown", "content": md}],
    }
    signed: dict[str, Any] = {}
    if secret:
        timestamp = str(int(now()))
        signed = {"timestamp": timestamp, "sign": feishu_sign(secret, timestamp)}
    return url, {**signed, "msg_type": "interactive", "card": card}


def _slack(url: str, md: str, title: str, secret: str | None, key: str, now: Any) -> Any:
    return url, {"text": md}


def _json(url: str, md: str, title: str, secret: str | None, key: str, now: Any) -> Any:
    return url, {"title": title, "markdown": md, "key": key}


def _errcode(reply: Any) -> tuple[int, str] | None:
    """WeCom and DingTalk: ``{"errcode": 0, "errmsg": "ok"}``."""
    if not isinstance(reply, dict) or not isinstance(reply.get("errcode"), int):
        return None
    return reply["errcode"], str(reply.get("errmsg", ""))


def _feishu_code(reply: Any) -> tuple[int, str] | None:
    """Feishu: ``{"code": 0, "msg": "success"}``; older replies ``StatusCode``/``StatusMessage``."""
    if not isinstance(reply, dict):
        return None
    code = reply.get("code", reply.get("StatusCode"))
    msg = reply.get("msg", reply.get("StatusMessage", ""))
    return (code, str(msg)) if isinstance(code, int) else None


@dataclass(frozen=True)
class ChatService:
    """Everything watcher knows about one chat service.

    ``limit`` is the largest Markdown message in UTF-8 bytes (``chat`` splits the
    digest into parts no larger); ``reply_code`` reads the error code a service
    reports inside an HTTP 200 reply (None: the HTTP status is the whole answer);
    ``slow_down`` are the codes that mean "too many messages, try later".
    """

    kind: str
    limit: int
    flavour: Flavour
    payload: Payload
    reply_code: Callable[[Any], tuple[int, str] | None] | None = None
    slow_down: frozenset[int] = frozenset()
    signs: bool = False  # the secret signs requests (else it is unused)


# Sources for the limits (checked 2025):
# - wecom: 群机器人配置说明, markdown.content "最长不超过4096个字节，必须是utf8编码"
#   (developer.work.weixin.qq.com/document/path/91770; errcode 40058 beyond).
# - dingtalk: the robot rejects bodies over 20000 bytes (errcode 460101 "body 大小不合法;
#   请保持大小在 20000bytes 以内"); the limit covers the whole JSON body, so the text
#   keeps 2000 bytes of room for the title, the JSON wrapper and escaped newlines.
# - feishu: 自定义机器人使用指南 says the request body must stay within 20 KB (code 9499
#   otherwise); the card wrapper and signature need room, hence 18000.
# - slack: incoming webhooks truncate text beyond 40,000 characters; a character is at
#   least one byte, so 40000 bytes is always within it.
# - json: our own generic format; 100 kB is plenty and safe for any receiver.
SERVICES: dict[str, ChatService] = {
    s.kind: s
    for s in (
        # 45009 api freq out of limit; -1 system busy
        ChatService("wecom", 4096, "markdown", _wecom, _errcode, frozenset({45009, -1})),
        # 130101 / 410100: send too fast (old and new code)
        ChatService(
            "dingtalk", 18000, "markdown", _dingtalk, _errcode, frozenset({130101, 410100}), True
        ),
        # 11232: frequency limited (100/min, 5/s per bot)
        ChatService("feishu", 18000, "markdown", _feishu, _feishu_code, frozenset({11232}), True),
        ChatService("slack", 40000, "slack", _slack),
        ChatService("json", 100000, "markdown", _json, signs=True),
    )
}

# ------------------------------------------------------------------------ channels


@dataclass(frozen=True)
class Channel:
    """Somewhere a digest goes: the e-mail list, a per-topic list, a group, a chat bot.

    ``cadence`` 'daily' gets every daily digest; 'weekly' gets instead one summary of
    the 7 days before ``weekly_at`` ("mon 08:00"), and no daily digest.
    """

    name: str  # 'email:<to>', 'email:<topic>:<to>', 'group:<group>:<to>', 'webhook:<name>'
    kind: str  # 'email' or a chat service's kind
    topics: frozenset[str] | None = None  # None: every topic
    recipients: tuple[str, ...] = ()
    webhook: WebhookConfig | None = None
    cadence: str = "daily"
    weekly_at: str | None = None  # with cadence 'weekly'


def channels(config: Config) -> list[Channel]:
    """The delivery channels the config names, in a stable order."""
    out: list[Channel] = []
    if config.email.enabled:
        # One delivery per recipient: a retry after one address was refused
        # never sends the others a second copy.
        for address in config.email.to:
            out.append(Channel(f"email:{address}", "email", None, (address,)))
        for topic_id, addresses in config.email.topics:
            for address in addresses:
                out.append(
                    Channel(
                        f"email:{topic_id}:{address}", "email", frozenset([topic_id]), (address,)
                    )
                )
    for group in config.email.groups:
        topics = frozenset(group.topics) if group.topics else None
        weekly = group.weekly_at if group.cadence == "weekly" else None
        for address in group.to:
            out.append(
                Channel(
                    f"group:{group.name}:{address}",
                    "email",
                    topics,
                    (address,),
                    cadence=group.cadence,
                    weekly_at=weekly,
                )
            )
    for hook in config.webhooks:
        topics = frozenset(hook.topics) if hook.topics else None
        weekly = hook.weekly_at if hook.cadence == "weekly" else None
        out.append(
            Channel(
                f"webhook:{hook.name}",
                hook.kind,
                topics,
                webhook=hook,
                cadence=hook.cadence,
                weekly_at=weekly,
            )
        )
    return out


def daily_channels(config: Config) -> list[Channel]:
    """The channels that get every daily digest."""
    return [ch for ch in channels(config) if ch.cadence == "daily"]


def weekly_channels(config: Config) -> list[Channel]:
    """The channels that get a weekly summary instead."""
    return [ch for ch in channels(config) if ch.cadence == "weekly"]


def delivery_key(day: dt.date, channel: str, salt: str = "") -> str:
    """The idempotency key of one (day, channel) delivery: the same on every retry."""
    return hashlib.sha256(f"{day.isoformat()}|{channel}|{salt}".encode()).hexdigest()[:24]


# ------------------------------------------------------------------------- periods
#
# A digest over a period rather than one day has its own name, which keys its stored
# content and its deliveries (apart from the daily ones, so the daily sequence never
# sees it): the weekly summary of 7 days, and the digest of a range of publication days.


def weekly_period(first: dt.date) -> str:
    """The name of the weekly summary of the 7 days from ``first``: 'weekly:2026-11-23'."""
    return f"weekly:{first.isoformat()}"


def published_period(first: dt.date, last: dt.date) -> str:
    """The name of the digest of publication days ``first``..``last``:
    'published:2024-07-15_2024-07-21' (also its folder in the archive)."""
    return f"published:{first.isoformat()}_{last.isoformat()}"


def period_key(period: str, channel: str, salt: str = "") -> str:
    """The idempotency key of one (period, channel) delivery: the same on every retry,
    never the same as a daily delivery's."""
    return hashlib.sha256(f"{period}|{channel}|{salt}".encode()).hexdigest()[:24]


def part_key(key: str, part: int) -> str:
    """The key of part ``part`` (1-based) of a chat delivery split into several messages."""
    return f"{key}-{part}"


def only_topics(d: Digest, topics: frozenset[str] | None) -> Digest:
    """The digest as a channel routed to some topics sees it."""
    if topics is None:
        return d
    return dataclasses.replace(d, sections=tuple(s for s in d.sections if s.id in topics))


def only_weekly_topics(w: WeeklyDigest, topics: frozenset[str] | None) -> WeeklyDigest:
    """The weekly summary as a channel routed to some topics sees it."""
    if topics is None:
        return w
    return dataclasses.replace(w, sections=tuple(s for s in w.sections if s.id in topics))


def plan(config: Config, d: Digest) -> list[tuple[str, str, str]]:
    """(channel, key, status) for every channel: ``skipped`` when the channel's view of
    the digest is empty and ``digest.send_empty`` is off, else ``pending``."""
    out = []
    for ch in daily_channels(config):
        empty = only_topics(d, ch.topics).total == 0
        status = "skipped" if empty and not config.digest.send_empty else "pending"
        out.append((ch.name, delivery_key(d.day, ch.name), status))
    return out


# ---------------------------------------------------------------------- retry policy

MAX_TRANSIENT_WAIT = 6 * 3600.0
MIN_PERMANENT_WAIT = 3600.0
MAX_PERMANENT_WAIT = 24 * 3600.0
PERMANENT_FACTOR = 12  # a permanent error waits this many times longer than a transient one


def retry_wait(
    attempts: int, failure: Failure, base: float, retry_after: float | None = None
) -> float:
    """Seconds to wait before the next attempt, after ``attempts`` failed ones.

    Transient errors (server down, timeout, 4xx SMTP, HTTP 5xx/429, a rate-limit code)
    back off from ``schedule.retry_after``, doubling, up to 6 hours; a server's
    ``Retry-After`` is honoured as given (within those 6 hours). Permanent errors
    (550/554, HTTP 404, an invalid-webhook code, a certificate failure) need a human
    and are retried far less often: twelve times the transient wait, at least an hour,
    at most a day — so a fix is still picked up without a restart.
    """
    doubling = base * 2 ** max(0, attempts - 1)
    if failure == "permanent":
        return min(max(doubling * PERMANENT_FACTOR, MIN_PERMANENT_WAIT), MAX_PERMANENT_WAIT)
    if retry_after is not None:
        return min(max(retry_after, 1.0), MAX_TRANSIENT_WAIT)
    return min(doubling, MAX_TRANSIENT_WAIT)


def plan_period(
    config: Config, period: str, d: Digest | WeeklyDigest, chosen: list[Channel]
) -> list[tuple[str, str, str]]:
    """(channel, key, status) of a period's digest for the ``chosen`` channels, skipped
    as :func:`plan` skips them (an empty view with ``digest.send_empty`` off)."""
    out = []
    for ch in chosen:
        if isinstance(d, WeeklyDigest):
            empty = only_weekly_topics(d, ch.topics).total == 0
        else:
            empty = only_topics(d, ch.topics).total == 0
        status = "skipped" if empty and not config.digest.send_empty else "pending"
        out.append((ch.name, period_key(period, ch.name), status))
    return out

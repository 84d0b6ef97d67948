"""Delivery of a rendered digest: e-mail over SMTP and chat-bot webhooks.

Only the standard library is used (``smtplib``, ``urllib.request``). Every
function sends one thing and either returns (delivered) or raises a
:class:`DeliveryError` subclass that says whether waiting may help:

* :class:`TransientDeliveryError` — server down, timeout, SMTP 4xx, HTTP 5xx or
  429, a service's rate-limit code: retry soon.
* :class:`PermanentDeliveryError` — refused login, unknown recipient, HTTP 4xx,
  a service error code that will not heal by itself: tell the user; the
  orchestrator still retries, but less often.

Exactly-once is the orchestrator's job (it keys each delivery); this module
helps by making the e-mail Message-ID a function of the key, by sending an
``Idempotency-Key`` header, and by never reporting a failure after the server
has accepted a message (a failed SMTP QUIT after a 250 is ignored).

Webhook URLs embed the bot's key, so they never reach a log line or an error
message: both name the channel kind and host only.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import http.client
import json
import logging
import smtplib
import socket
import ssl
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, getaddresses, parseaddr, parsedate_to_datetime
from typing import Any

from watcher.config import EmailConfig
from watcher.deliveries import SERVICES, ChatService
from watcher.errors import DeliveryError

log = logging.getLogger(__name__)

_MAX_REPLY = 64 * 1024  # bytes of a webhook reply we read; replies are tiny JSON
_SNIPPET = 200  # characters of a reply quoted in an error message


# ----------------------------------------------------------------------- errors


class _ClassifiedDeliveryError(DeliveryError):
    """A delivery error that knows whether waiting may help.

    ``refused`` maps the e-mail recipients that did not get the message to the
    server's ``(code, reply)``: when some recipients did get it, a retry should
    go to these addresses only, or the others receive it twice.
    """

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        refused: Mapping[str, tuple[int, str]] | None = None,
    ) -> None:
        super().__init__(message, retry_after=retry_after)
        self.refused: dict[str, tuple[int, str]] = dict(refused or {})


class TransientDeliveryError(_ClassifiedDeliveryError):
    """Server down, timeout, 4xx SMTP reply, HTTP 5xx/429, rate limit: retry later."""

    permanent = False


class PermanentDeliveryError(_ClassifiedDeliveryError):
    """Refused login, bad recipient, HTTP 4xx, bot error code: needs a human."""

    permanent = True


# -------------------------------------------------------------------- deadlines


class Deadline:
    """Ends an attempt that runs past its whole time budget by shutting its sockets.

    A socket timeout bounds each read, not the attempt: a server sending one byte
    every few seconds would hold a send for ever. A timer thread shuts down every
    socket the attempt opened once ``seconds`` have passed; the blocked read then
    fails at once, and ``expired`` tells the caller why.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.expired = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def __enter__(self) -> Deadline:
        self._timer.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._timer.cancel()

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.append(sock)
            if self.expired:
                _shut(sock)

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            for sock in self._sockets:
                _shut(sock)


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):  # already closed
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


# ----------------------------------------------------------------------- e-mail

# Characters kept as they are in the Message-ID's left part; anything else
# (including "=") becomes =HH per UTF-8 byte, so different keys never collide
# and the result is always a valid RFC 5322 dot-atom.
_ID_SAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_+")


def _id_part(key: str) -> str:
    out: list[str] = []
    for i, ch in enumerate(key):
        # A dot is fine between other characters, not at the end or doubled.
        dot_ok = ch == "." and i + 1 < len(key) and key[i + 1] != "." and i > 0
        if ch in _ID_SAFE or dot_ok:
            out.append(ch)
        else:
            out.extend(f"={b:02X}" for b in ch.encode("utf-8"))
    return "".join(out)


def _id_domain(domain: str) -> str:
    domain = domain.strip().strip("[]").rstrip(".")
    try:
        ascii_domain = domain.encode("idna").decode("ascii") if domain else ""
    except UnicodeError:
        ascii_domain = ""
    safe = all(
        part and all(c.isalnum() or c == "-" for c in part) for part in ascii_domain.split(".")
    )
    return ascii_domain.lower() if ascii_domain and safe else "localhost"


def message_id(key: str, domain: str) -> str:
    """The Message-ID for idempotency key ``key``: ``<watcher-{key}@{domain}>``.

    The same key always gives the same id, so a message re-sent after an
    ambiguous failure is recognisable as a duplicate (Gmail, for one, drops
    it). Characters not allowed in a Message-ID are escaped as ``=HH``.
    """
    return f"<watcher-{_id_part(key)}@{_id_domain(domain)}>"


_POLICY = SMTP.clone(cte_type="7bit")


def _address(text: str) -> Address:
    """Parse ``"显示名 <a@b.c>"`` or ``"a@b.c"`` into an Address (raises ValueError)."""
    name, addr = parseaddr(text)
    if "@" not in addr:
        raise ValueError(f"not an e-mail address: {text!r}")
    return Address(display_name=name, addr_spec=addr)


def build_email(
    subject: str,
    html: str,
    text: str,
    *,
    sender: str,
    to: Sequence[str],
    key: str,
    date: datetime,
) -> EmailMessage:
    """Build the digest e-mail: multipart/alternative, text/plain then text/html.

    Both parts are UTF-8 (base64 or quoted-printable, chosen by the email
    package, so no line exceeds 998 octets); the Subject and any Chinese display
    names are RFC 2047-encoded by the SMTP policy. ``date`` should be aware.
    """
    from_addr = _address(sender)
    # cte_type 7bit: never send raw 8-bit bodies (smtplib does not negotiate
    # 8BITMIME); the email package then picks quoted-printable or base64.
    msg = EmailMessage(policy=_POLICY)
    msg["Subject"] = subject
    msg["From"] = from_addr
    msg["To"] = tuple(_address(a) for a in to)
    msg["Date"] = format_datetime(date)
    msg["Message-ID"] = message_id(key, from_addr.domain)
    msg["X-Watcher-Key"] = key
    # RFC 3834: stops vacation auto-replies from answering a robot.
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(text, subtype="plain", charset="utf-8")
    msg.add_alternative(html, subtype="html", charset="utf-8")
    return msg


def _where(settings: EmailConfig) -> str:
    return f"smtp {settings.host}:{settings.port}"


def _reply_text(reply: bytes | str) -> str:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    return " ".join(text.split())


def _by_code(code: int, message: str) -> _ClassifiedDeliveryError:
    """SMTP 4xx (and odd replies, code -1) are temporary; 5xx are not."""
    if 500 <= code < 600:
        return PermanentDeliveryError(message)
    return TransientDeliveryError(message)


def _refused_error(
    where: str, refused: Mapping[str, tuple[int, bytes | str]], delivered: int
) -> _ClassifiedDeliveryError:
    details = {addr: (code, _reply_text(reply)) for addr, (code, reply) in refused.items()}
    listed = "; ".join(f"{a} ({c} {r})" for a, (c, r) in sorted(details.items()))
    tail = f"; delivered to {delivered} other recipient(s)" if delivered else ""
    message = f"{where}: recipient(s) refused: {listed}{tail}"
    # Greylisting and full mailboxes answer 4xx: those recipients may accept later.
    if all(400 <= code < 500 for code, _ in details.values()):
        return TransientDeliveryError(message, refused=details)
    return PermanentDeliveryError(message, refused=details)


def _smtp_error(
    exc: BaseException, settings: EmailConfig, timeout: float
) -> _ClassifiedDeliveryError:
    """Turn an smtplib/socket/ssl exception into a classified, readable error."""
    where = _where(settings)
    env = f"${settings.password_env}" if settings.password_env else "email.password_env"
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        reply = f"{exc.smtp_code} {_reply_text(exc.smtp_error)}"
        if exc.smtp_code == 454:  # "temporary authentication failure"
            return TransientDeliveryError(f"{where}: authentication failed for now ({reply})")
        return PermanentDeliveryError(
            f"{where}: authentication refused ({reply}); check username and the password in {env}"
        )
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return _refused_error(where, exc.recipients, 0)
    if isinstance(exc, smtplib.SMTPSenderRefused):
        reply = f"{exc.smtp_code} {_reply_text(exc.smtp_error)}"
        return _by_code(exc.smtp_code, f"{where}: sender {exc.sender} refused ({reply})")
    if isinstance(exc, smtplib.SMTPConnectError):
        reply = f"{exc.smtp_code} {_reply_text(exc.smtp_error)}"
        return _by_code(exc.smtp_code, f"{where}: server refused the connection ({reply})")
    if isinstance(exc, smtplib.SMTPResponseException):
        reply = f"{exc.smtp_code} {_reply_text(exc.smtp_error)}"
        return _by_code(exc.smtp_code, f"{where}: server said {reply}")
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        hint = ""
        if "STARTTLS" in str(exc):
            hint = "; check email.security and email.port"
        elif "AUTH" in str(exc):
            hint = "; it may offer login only after STARTTLS (email.security: starttls)"
        return PermanentDeliveryError(f"{where}: {exc}{hint}")
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        if "timed out" in str(exc):
            return TransientDeliveryError(f"{where}: no answer within {timeout:g}s (timed out)")
        return TransientDeliveryError(f"{where}: server closed the connection ({exc})")
    if isinstance(exc, smtplib.SMTPException):
        # e.g. "No suitable authentication method found."
        return PermanentDeliveryError(f"{where}: {exc}")
    if isinstance(exc, ssl.SSLCertVerificationError):
        return PermanentDeliveryError(
            f"{where}: TLS certificate verification failed ({exc.verify_message})"
        )
    if isinstance(exc, ssl.SSLError):
        return PermanentDeliveryError(
            f"{where}: TLS failed ({exc.reason or exc}); check email.security and email.port"
        )
    if isinstance(exc, ConnectionRefusedError):
        return TransientDeliveryError(f"{where}: connection refused (server down?)")
    if isinstance(exc, TimeoutError):
        return TransientDeliveryError(f"{where}: no answer within {timeout:g}s (timed out)")
    if isinstance(exc, socket.gaierror):
        return TransientDeliveryError(f"{where}: cannot resolve host name ({exc.strerror})")
    return TransientDeliveryError(f"{where}: {type(exc).__name__}: {exc}")


def _recipients(msg: EmailMessage) -> list[str]:
    fields = [str(v) for name in ("To", "Cc", "Bcc") for v in msg.get_all(name, [])]
    return [addr for _, addr in getaddresses(fields) if addr]


def _close(client: smtplib.SMTP) -> None:
    """QUIT politely; the message is already accepted, so no error may escape."""
    try:
        client.quit()
    except (smtplib.SMTPException, OSError):
        client.close()


def send_email(
    msg: EmailMessage,
    settings: EmailConfig,
    *,
    password: str | None,
    recipients: Sequence[str] | None = None,
    context: ssl.SSLContext | None = None,
) -> None:
    """Send ``msg`` through the server in ``settings``; raise a DeliveryError on failure.

    ``recipients`` overrides the envelope (default: the To/Cc/Bcc headers).
    ``context`` replaces the default TLS context (tests trust their own CA).
    ``password`` comes from the caller, who reads ``$settings.password_env``.
    """
    where = _where(settings)
    if settings.username and password is None:
        env = settings.password_env
        fix = f"set ${env}" if env else "set email.password_env and that environment variable"
        raise PermanentDeliveryError(
            f"{where}: a password is needed for user {settings.username!r}; {fix}"
        )
    if settings.security not in ("none", "starttls", "ssl"):
        raise PermanentDeliveryError(f"{where}: unknown security {settings.security!r}")
    to_addrs = list(recipients) if recipients is not None else _recipients(msg)
    if not to_addrs:
        raise PermanentDeliveryError(f"{where}: the message has no recipients")
    if settings.username and settings.security == "none":
        log.warning("%s: logging in without TLS sends the password in clear text", where)

    timeout = settings.timeout
    tls = context
    if tls is None and settings.security != "none":
        tls = ssl.create_default_context()  # verifies the certificate and host name
    client: smtplib.SMTP | None = None
    with Deadline(timeout) as deadline:
        try:
            client = _smtp_client(settings, timeout, tls, deadline)
            refused = _transact(client, settings, password, tls, msg, to_addrs)
        except (smtplib.SMTPException, OSError) as exc:
            if client is not None:
                client.close()
            if deadline.expired:
                raise TransientDeliveryError(
                    f"{where}: no complete answer within {timeout:g}s (timed out; "
                    "email.timeout bounds the whole attempt)"
                ) from None
            raise _smtp_error(exc, settings, timeout) from exc
        except UnicodeError as exc:
            # smtplib encodes AUTH credentials and plain addresses as ASCII.
            if client is not None:
                client.close()
            reason = getattr(exc, "reason", exc)  # UnicodeEncodeError's
            raise PermanentDeliveryError(f"{where}: cannot encode for SMTP: {reason}") from None
        _close(client)  # accepted: a QUIT cut short by the deadline changes nothing
    if refused:
        raise _refused_error(where, refused, len(to_addrs) - len(refused))
    log.info("%s: sent %s to %d recipient(s)", where, msg["Message-ID"], len(to_addrs))


def _smtp_client(
    settings: EmailConfig, timeout: float, tls: ssl.SSLContext | None, deadline: Deadline
) -> smtplib.SMTP:
    """A connected client whose socket the deadline can close."""
    base = smtplib.SMTP_SSL if settings.security == "ssl" else smtplib.SMTP

    class Client(base):  # type: ignore[valid-type,misc]
        def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
            sock: socket.socket = super()._get_socket(host, port, timeout)
            deadline.watch(sock)
            return sock

    if settings.security == "ssl":
        client: smtplib.SMTP = Client(timeout=timeout, context=tls)
    else:
        client = Client(timeout=timeout)
    client._host = settings.host  # type: ignore[attr-defined]  # STARTTLS checks the name
    code, reply = client.connect(settings.host, settings.port)
    if code != 220:  # as smtplib does when given the host: a 421 greeting says why
        client.close()
        raise smtplib.SMTPConnectError(code, reply)
    return client


def _transact(
    client: smtplib.SMTP,
    settings: EmailConfig,
    password: str | None,
    tls: ssl.SSLContext | None,
    msg: EmailMessage,
    to_addrs: Sequence[str],
) -> dict[str, tuple[int, bytes]]:
    """STARTTLS, login and the message; returns the refused recipients."""
    if settings.security == "starttls":
        client.starttls(context=tls)
        client.ehlo()  # capabilities change after STARTTLS (AUTH appears)
    if settings.username:
        assert password is not None  # checked by the caller
        client.login(settings.username, password)
    refused: dict[str, tuple[int, bytes]] = client.send_message(msg, to_addrs=list(to_addrs))
    return refused


# --------------------------------------------------------------------- webhooks


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Refuse redirects: urllib would turn the POST into a body-less GET."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def _watched(base: type[http.client.HTTPConnection], deadline: Deadline) -> Any:
    class Connection(base):  # type: ignore[valid-type,misc]
        def connect(self) -> None:
            super().connect()
            deadline.watch(self.sock)

    return Connection


class _WatchedHTTP(urllib.request.HTTPHandler):
    """http:// with every connection's socket under the deadline."""

    def __init__(self, deadline: Deadline) -> None:
        super().__init__()
        self._connection = _watched(http.client.HTTPConnection, deadline)

    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(self._connection, req)


class _WatchedHTTPS(urllib.request.HTTPSHandler):
    """https:// with every connection's socket under the deadline."""

    def __init__(self, deadline: Deadline) -> None:
        super().__init__()
        self._connection = _watched(http.client.HTTPSConnection, deadline)

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        context = self._context  # type: ignore[attr-defined]  # set by HTTPSHandler
        return self.do_open(self._connection, req, context=context)


def _host(url: str) -> str:
    try:
        return urllib.parse.urlsplit(url).hostname or "?"
    except ValueError:
        return "?"


def _secrets_in(url: str) -> list[str]:
    """Parts of a URL that may be credentials: query values and long path segments."""
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return [url]
    found = [url, parts.query]
    found += [v for _, v in urllib.parse.parse_qsl(parts.query, keep_blank_values=True)]
    found += [seg for seg in parts.path.split("/") if len(seg) >= 8]
    return sorted({s for s in found if len(s) >= 4}, key=len, reverse=True)


def _redact(text: str, secrets: Sequence[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, "***")
    return text


def _retry_after(value: str | None, now: Callable[[], float] = time.time) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delay-seconds or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None  # unreadable: the orchestrator's backoff will do
    if when.tzinfo is None:  # RFC 9110 dates are GMT
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now())


def _check_reply(service: ChatService, label: str, body: str, secrets: Sequence[str]) -> None:
    """Raise if a 2xx reply still reports an error (WeCom, DingTalk, Feishu do)."""
    if service.reply_code is None:
        return  # slack and json: the status code is the answer
    try:
        reply = json.loads(body)
    except ValueError:
        reply = None
    found = service.reply_code(reply)
    if found is None:
        snippet = _redact(body[:_SNIPPET], secrets)
        raise PermanentDeliveryError(
            f"{label}: unexpected reply, not the service's JSON: {snippet}"
        )
    code, msg = found
    if code == 0:
        return
    message = f"{label}: service error {code}: {_redact(msg, secrets)[:_SNIPPET]}"
    if code in service.slow_down:
        raise TransientDeliveryError(message + " (rate limit; retry later)")
    raise PermanentDeliveryError(message)


def _http_error(
    label: str,
    status: int,
    reason: str,
    body: str,
    retry_after: float | None,
    secrets: Sequence[str],
) -> _ClassifiedDeliveryError:
    snippet = " ".join(_redact(body, secrets).split())[:_SNIPPET]
    message = f"{label}: HTTP {status} {reason}".rstrip() + (f": {snippet}" if snippet else "")
    if status in (408, 425, 429) or status >= 500:
        return TransientDeliveryError(message, retry_after=retry_after)
    if 300 <= status < 400:
        message += " (redirected; check the webhook URL)"
    return PermanentDeliveryError(message)


def _read_error_body(error: urllib.error.HTTPError) -> str:
    """The body of an error reply, if it can be read; the status already decides."""
    try:
        return error.read(_MAX_REPLY).decode("utf-8", "replace")
    except (OSError, http.client.HTTPException):
        return ""


def post_webhook(
    kind: str,
    url: str,
    markdown: str,
    *,
    title: str,
    secret: str | None,
    key: str,
    timeout: float,
    now: Callable[[], float] = time.time,
) -> None:
    """POST one Markdown message to a chat bot; raise a DeliveryError on failure.

    ``kind`` is wecom, dingtalk, feishu, slack or json. ``secret`` signs the
    request for DingTalk (URL query) and Feishu (body) and, for json, adds an
    ``X-Watcher-Signature: sha256=<hex HMAC of the body>`` header. ``now``
    gives the signing time (injected by tests). The URL never appears in logs
    or error messages.
    """
    label = f"webhook {kind} ({_host(url)})"
    service = SERVICES.get(kind)
    if service is None:
        raise PermanentDeliveryError(f"{label}: unknown webhook kind")
    size = len(markdown.encode("utf-8"))
    if size > service.limit:
        raise PermanentDeliveryError(
            f"{label}: message is {size} bytes, over the {service.limit}-byte limit "
            "(it should have been split)"
        )
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise PermanentDeliveryError(f"{label}: the URL must start with https:// or http://")
    target, payload = service.payload(url, markdown, title, secret, key, now)
    secrets = _secrets_in(target) + _secrets_in(url)
    # ensure_ascii=False: Chinese stays 3 bytes a character instead of 6 (\uXXXX),
    # which keeps the request within the services' byte limits.
    data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": "watcher",
        "Idempotency-Key": urllib.parse.quote(key, safe=""),
    }
    if kind == "json" and secret:
        mac = hmac.new(secret.encode("utf-8"), data, hashlib.sha256).hexdigest()
        headers["X-Watcher-Signature"] = f"sha256={mac}"
    elif secret and not service.signs:
        log.debug("%s: this kind has no signing; the secret is not used", label)

    with Deadline(timeout) as deadline:
        body = _post(target, data, headers, timeout, deadline, label, secrets)
    _check_reply(service, label, body, secrets)
    log.info("%s: delivered %s (%d bytes)", label, key, size)


def _post(
    target: str,
    data: bytes,
    headers: Mapping[str, str],
    timeout: float,
    deadline: Deadline,
    label: str,
    secrets: Sequence[str],
) -> str:
    """POST and read the reply (its body), within the deadline; raise a classified error."""
    opener = urllib.request.build_opener(
        _NoRedirect, _WatchedHTTP(deadline), _WatchedHTTPS(deadline)
    )
    try:
        request = urllib.request.Request(target, data=data, headers=dict(headers), method="POST")
        with opener.open(request, timeout=timeout) as response:
            # Not guarded: a reply cut short is not proof of delivery (OSError below).
            return str(response.read(_MAX_REPLY).decode("utf-8", "replace"))
    except urllib.error.HTTPError as exc:
        with exc:
            err_body = _read_error_body(exc)
        retry = _retry_after(exc.headers.get("Retry-After") if exc.headers else None)
        # "from None": the HTTPError carries the URL; nothing new in its text.
        raise _http_error(label, exc.code, str(exc.reason), err_body, retry, secrets) from None
    except urllib.error.URLError as exc:
        if deadline.expired:
            raise TransientDeliveryError(
                f"{label}: no complete answer within {timeout:g}s (timed out; the "
                "webhook's timeout bounds the whole attempt)"
            ) from None
        raise _network_error(label, exc.reason, timeout, secrets) from None
    except (ValueError, http.client.InvalidURL):
        raise PermanentDeliveryError(f"{label}: the webhook URL is not valid") from None
    except (OSError, http.client.HTTPException) as exc:
        if deadline.expired:
            raise TransientDeliveryError(
                f"{label}: no complete answer within {timeout:g}s (timed out; the "
                "webhook's timeout bounds the whole attempt)"
            ) from None
        raise _network_error(label, exc, timeout, secrets) from None


def _network_error(
    label: str, reason: object, timeout: float, secrets: Sequence[str]
) -> _ClassifiedDeliveryError:
    if isinstance(reason, ssl.SSLCertVerificationError):
        return PermanentDeliveryError(
            f"{label}: TLS certificate verification failed ({reason.verify_message})"
        )
    if isinstance(reason, str):  # urllib's own complaints, e.g. "no host given"
        return PermanentDeliveryError(f"{label}: {_redact(reason, secrets)}")
    if isinstance(reason, ConnectionRefusedError):
        return TransientDeliveryError(f"{label}: connection refused (service down?)")
    if isinstance(reason, TimeoutError):
        return TransientDeliveryError(f"{label}: no answer within {timeout:g}s (timed out)")
    if isinstance(reason, socket.gaierror):
        return TransientDeliveryError(f"{label}: cannot resolve host name ({reason.strerror})")
    text = _redact(str(reason), secrets)
    return TransientDeliveryError(f"{label}: {type(reason).__name__}: {text}")

"""Real local servers for delivery tests: SMTP (aiosmtpd), HTTP, and a silent socket.

Everything listens on 127.0.0.1 only, on a free port, and every wait is
bounded. Typical use::

    with smtp_server() as smtp:                     # plain SMTP
        ...send to smtp.host, smtp.port...
        [mail] = smtp.wait_for(1)                   # ReceivedMail, parsed
    with smtp_server(tls=tls_files(tmp_path), starttls=True) as smtp: ...
    with smtp_server(auth={"user": "secret"}, auth_require_tls=False) as smtp: ...

    with http_server() as hook:                     # scripted HTTP replies
        hook.reply(500, {"errcode": -1})            # next request gets a 500
        ...POST to hook.url("/send?key=abc")...
        [req] = hook.requests                       # Recorded: method, path, query, json...

    with silent_listener() as port: ...             # accepts TCP, never speaks

TLS needs a throwaway certificate: :func:`tls_files` makes one with the
``cryptography`` package when installed, else with the ``openssl`` command,
and raises :class:`TlsUnavailable` (tests skip) when neither exists.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import select
import shutil
import socket
import ssl
import subprocess
import threading
import time
import urllib.parse
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

HOST = "127.0.0.1"
START_TIMEOUT = 10.0  # seconds a server may take to start or stop
WAIT_TIMEOUT = 5.0  # default wait for expected traffic


def free_port() -> int:
    """A TCP port with nothing listening on it right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


# -------------------------------------------------------------------------- TLS


class TlsUnavailable(RuntimeError):
    """Neither the cryptography package nor the openssl command is available."""


@dataclass(frozen=True)
class TlsFiles:
    """A self-signed certificate for 127.0.0.1/localhost and its key (PEM files)."""

    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.cert, self.key)
        return ctx

    def client_context(self) -> ssl.SSLContext:
        """A verifying client context that trusts this certificate only."""
        return ssl.create_default_context(cafile=str(self.cert))


def _cert_with_cryptography(cert: Path, key: Path) -> bool:
    try:
        import datetime as dt
        import ipaddress

        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID
    except ImportError:
        return False
    private = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address(HOST))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(private, hashes.SHA256())
    )
    key.write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return True


def _cert_with_openssl(cert: Path, key: Path) -> bool:
    exe = shutil.which("openssl")
    if exe is None:
        return False
    command = [
        exe, "req", "-x509", "-nodes", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
        "-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=localhost",
        "-addext", f"subjectAltName=DNS:localhost,IP:{HOST}",
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, timeout=60, check=False)
    return done.returncode == 0 and cert.exists() and key.exists()


def tls_files(directory: Path) -> TlsFiles:
    """Create (or reuse) a throwaway certificate in ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    files = TlsFiles(directory / "cert.pem", directory / "key.pem")
    if files.cert.exists() and files.key.exists():
        return files
    if _cert_with_cryptography(files.cert, files.key) or _cert_with_openssl(files.cert, files.key):
        return files
    raise TlsUnavailable("TLS tests need the cryptography package or the openssl command")


# ------------------------------------------------------------------------- SMTP


@dataclass(frozen=True)
class ReceivedMail:
    """One message the SMTP server accepted: envelope and parsed content."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes
    login: str | None  # the AUTH user, if the client logged in

    @property
    def message(self) -> EmailMessage:
        parsed = BytesParser(policy=policy.default).parsebytes(self.data)
        assert isinstance(parsed, EmailMessage)
        return parsed


class RecordingHandler:
    """aiosmtpd handler that keeps every accepted message; can refuse recipients.

    ``refuse`` maps an address to the reply its RCPT gets, e.g.
    ``{"nobody@example.com": "550 5.1.1 no such user"}``.
    """

    def __init__(self, refuse: Mapping[str, str] | None = None) -> None:
        self.refuse = dict(refuse or {})
        self.mails: list[ReceivedMail] = []
        self.changed = threading.Condition()

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        login = session.login_data  # set by aiosmtpd after a successful AUTH
        mail = ReceivedMail(
            mail_from=str(envelope.mail_from),
            rcpt_tos=tuple(envelope.rcpt_tos),
            data=bytes(envelope.original_content or envelope.content or b""),
            login=login.decode("utf-8") if isinstance(login, bytes) else login,
        )
        with self.changed:
            self.mails.append(mail)
            self.changed.notify_all()
        return "250 OK"


def _authenticator(users: Mapping[str, str]) -> Callable[..., AuthResult]:
    def check(
        server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if isinstance(auth_data, LoginPassword):
            user = auth_data.login.decode("utf-8")
            ok = users.get(user) == auth_data.password.decode("utf-8")
            return AuthResult(success=ok, handled=False, auth_data=auth_data)
        return AuthResult(success=False, handled=False)

    return check


@dataclass
class SmtpServer:
    """A running aiosmtpd server; ``mails`` grows as messages arrive."""

    host: str
    port: int
    handler: RecordingHandler
    controller: Controller = field(repr=False)

    @property
    def mails(self) -> list[ReceivedMail]:
        with self.handler.changed:
            return list(self.handler.mails)

    def wait_for(self, count: int, timeout: float = WAIT_TIMEOUT) -> list[ReceivedMail]:
        """Wait (bounded) until ``count`` messages have arrived; return them all."""
        deadline = time.monotonic() + timeout
        with self.handler.changed:
            while len(self.handler.mails) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"expected {count} message(s) within {timeout}s, "
                        f"got {len(self.handler.mails)}"
                    )
                self.handler.changed.wait(left)
            return list(self.handler.mails)


def _stop_bounded(stop: Callable[[], object], what: str) -> None:
    """Run a stop function that has no timeout of its own, but wait for it only so long."""
    worker = threading.Thread(target=stop, name=f"stop {what}", daemon=True)
    worker.start()
    worker.join(START_TIMEOUT)
    if worker.is_alive():
        raise RuntimeError(f"{what} did not stop within {START_TIMEOUT}s")


@contextlib.contextmanager
def smtp_server(
    *,
    tls: TlsFiles | None = None,
    starttls: bool = False,
    implicit_tls: bool = False,
    require_starttls: bool = False,
    auth: Mapping[str, str] | None = None,
    auth_require_tls: bool = True,
    refuse: Mapping[str, str] | None = None,
) -> Iterator[SmtpServer]:
    """Run an aiosmtpd server on 127.0.0.1 for the ``with`` block.

    ``starttls`` offers STARTTLS with ``tls``; ``implicit_tls`` speaks TLS from
    the first byte (SMTP_SSL). ``auth`` maps users to passwords and enables
    AUTH PLAIN/LOGIN (offered before TLS only with ``auth_require_tls=False``).
    """
    if (starttls or implicit_tls) and tls is None:
        raise ValueError("starttls/implicit_tls need tls=tls_files(...)")
    handler = RecordingHandler(refuse)
    params: dict[str, Any] = {"auth_require_tls": auth_require_tls}
    if starttls:
        assert tls is not None
        params.update(tls_context=tls.server_context(), require_starttls=require_starttls)
    if auth is not None:
        params["authenticator"] = _authenticator(auth)
    last_error: Exception | None = None
    # free_port() can race with another process grabbing the port: try a few.
    for _attempt in range(5):
        port = free_port()
        # ssl_context makes aiosmtpd speak TLS from the first byte (implicit TLS).
        implicit = tls.server_context() if implicit_tls and tls is not None else None
        controller = Controller(
            handler,
            hostname=HOST,
            port=port,
            ready_timeout=START_TIMEOUT,
            ssl_context=implicit,
            **params,
        )
        try:
            controller.start()
        except OSError as exc:
            last_error = exc
            continue
        break
    else:
        raise RuntimeError(f"could not start the SMTP server: {last_error}")
    try:
        yield SmtpServer(HOST, port, handler, controller)
    finally:
        _stop_bounded(controller.stop, "SMTP server")


@contextlib.contextmanager
def silent_listener() -> Iterator[int]:
    """A port that accepts TCP connections (kernel backlog) but never says a word."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        s.listen(8)
        yield int(s.getsockname()[1])


# ------------------------------------------------------------------------- HTTP


@dataclass(frozen=True)
class Reply:
    """A scripted HTTP response; a dict/list body is sent as JSON."""

    status: int = 200
    body: Any = field(default_factory=lambda: dict(DEFAULT_REPLY))
    headers: Mapping[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to wait before answering (cut short on stop)


# Satisfies every kind: WeCom/DingTalk read errcode, Feishu reads code.
DEFAULT_REPLY: dict[str, Any] = {"errcode": 0, "errmsg": "ok", "code": 0, "msg": "success"}


@dataclass(frozen=True)
class Recorded:
    """One request the HTTP server received."""

    method: str
    path: str  # without the query
    query: dict[str, str]  # decoded; the last value wins for repeated names
    raw_query: str
    headers: dict[str, str]  # names lower-cased
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8")) if self.body else None


class HttpServer:
    """A ThreadingHTTPServer whose replies are scripted and whose requests are kept."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.default = Reply()
        self._replies: deque[Reply] = deque()
        self._lock = threading.Condition()
        self._stopping = threading.Event()
        self._server = ThreadingHTTPServer((HOST, 0), self._handler_class())
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def url(self, path: str = "/") -> str:
        return f"http://{HOST}:{self.port}{path}"

    def reply(
        self,
        status: int = 200,
        body: Any = None,
        *,
        headers: Mapping[str, str] | None = None,
        delay: float = 0.0,
    ) -> None:
        """Queue the reply for the next request (later calls for later requests)."""
        queued = Reply(
            status,
            dict(DEFAULT_REPLY) if body is None else body,
            dict(headers or {}),
            delay,
        )
        with self._lock:
            self._replies.append(queued)

    def wait_for(self, count: int, timeout: float = WAIT_TIMEOUT) -> list[Recorded]:
        """Wait (bounded) until ``count`` requests have arrived; return them all."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while len(self.requests) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"expected {count} request(s) within {timeout}s, got {len(self.requests)}"
                    )
                self._lock.wait(left)
            return list(self.requests)

    def _next(self, recorded: Recorded) -> Reply:
        with self._lock:
            self.requests.append(recorded)
            self._lock.notify_all()
            return self._replies.popleft() if self._replies else self.default

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(min(length, 10_000_000)) if length else b""
                parts = urllib.parse.urlsplit(self.path)
                recorded = Recorded(
                    method=self.command,
                    path=parts.path,
                    query=dict(urllib.parse.parse_qsl(parts.query, keep_blank_values=True)),
                    raw_query=parts.query,
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=body,
                )
                scripted = owner._next(recorded)
                if scripted.delay:
                    owner._stopping.wait(min(scripted.delay, 60.0))
                if isinstance(scripted.body, bytes):
                    payload, ctype = scripted.body, "application/octet-stream"
                elif isinstance(scripted.body, str):
                    payload, ctype = scripted.body.encode("utf-8"), "text/plain; charset=utf-8"
                else:
                    payload = json.dumps(scripted.body, ensure_ascii=False).encode("utf-8")
                    ctype = "application/json; charset=utf-8"
                try:
                    self.send_response(scripted.status)
                    self.send_header("Content-Type", ctype)
                    self.send_header("Content-Length", str(len(payload)))
                    for name, value in scripted.headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:
                    pass  # the client gave up (a timeout test); nothing to tell it

            do_POST = _serve
            do_GET = _serve
            do_PUT = _serve

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep test output clean

        return Handler

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        _stop_bounded(self._server.shutdown, "HTTP server")
        self._server.server_close()
        self._thread.join(START_TIMEOUT)


@contextlib.contextmanager
def http_server() -> Iterator[HttpServer]:
    """Run a scripted HTTP server on 127.0.0.1 for the ``with`` block."""
    server = HttpServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


# ------------------------------------------------------------ servers that misbehave
#
# For tests/faults: servers that refuse, hang, trickle or fail one request in a
# script, and keep what a real service would have *accepted* apart from what it
# merely received (a post whose reply never got out is not a delivery).


@dataclass
class Connection:
    """One TCP connection a scripted server accepted (times from ``time.monotonic``)."""

    opened: float
    closed: float | None = None  # when the peer went away, or the server hung up
    received: bytes = b""

    @property
    def held(self) -> float | None:
        """Seconds the connection lasted, or None while it is open."""
        return None if self.closed is None else self.closed - self.opened


# What a scripted server does with one connection (the socket, its record, the stop flag).
Behaviour = Callable[[socket.socket, Connection, threading.Event], None]

MAX_HOLD = 60.0  # no scripted connection outlives this, whatever the script says


def _peer_gone(conn: socket.socket, seconds: float) -> bool:
    """Wait up to ``seconds`` for the peer to close (or reset); True if it did."""
    try:
        readable, _, _ = select.select([conn], [], [], max(seconds, 0.0))
        if not readable:
            return False
        return conn.recv(65536) == b""
    except OSError:
        return True


def hold_until_closed(
    conn: socket.socket, record: Connection, stop: threading.Event, limit: float = MAX_HOLD
) -> None:
    """Keep the connection open, saying nothing, until the peer closes it (or ``limit``)."""
    deadline = record.opened + limit
    while not stop.is_set() and time.monotonic() < deadline:
        if _peer_gone(conn, 0.05):
            return


def trickle_bytes(
    conn: socket.socket, record: Connection, stop: threading.Event, data: bytes, interval: float
) -> bool:
    """Send ``data`` one byte every ``interval`` seconds; False if the peer left first."""
    for n in range(len(data)):
        if stop.is_set() or time.monotonic() - record.opened > MAX_HOLD:
            return False
        try:
            conn.sendall(data[n : n + 1])
        except OSError:
            return False
        step = time.monotonic() + interval
        while (left := step - time.monotonic()) > 0:
            if stop.is_set() or _peer_gone(conn, min(left, 0.05)):
                return False
    return True


def hang() -> Behaviour:
    """Accept, then never say a word (unlike :func:`silent_listener`, it sees the peer leave)."""
    return hold_until_closed


def greet_and_close(line: bytes) -> Behaviour:
    """Say one line (an SMTP ``554`` greeting, say), then hang up."""

    def behave(conn: socket.socket, record: Connection, stop: threading.Event) -> None:
        with contextlib.suppress(OSError):
            conn.sendall(line)

    return behave


def trickle(data: bytes, interval: float) -> Behaviour:
    """Send ``data`` one byte every ``interval`` seconds, then wait for the peer to leave."""

    def behave(conn: socket.socket, record: Connection, stop: threading.Event) -> None:
        if trickle_bytes(conn, record, stop, data, interval):
            hold_until_closed(conn, record, stop)

    return behave


class ScriptedTcpServer:
    """Accepts TCP connections on 127.0.0.1 and plays ``behaviour`` on each, in a thread.

    ``connections`` records every connection with when it opened and closed, so a test
    can tell how long a client held on.
    """

    def __init__(self, behaviour: Behaviour) -> None:
        self.behaviour = behaviour
        self.connections: list[Connection] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((HOST, 0))
        self._sock.listen(32)
        self._sock.settimeout(0.05)
        self.port = int(self._sock.getsockname()[1])
        self._threads: list[threading.Thread] = []
        self._acceptor = threading.Thread(target=self._accept, name="scripted tcp", daemon=True)

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            record = Connection(time.monotonic())
            with self._lock:
                self.connections.append(record)
            worker = threading.Thread(
                target=self._serve, args=(conn, record), name="scripted conn", daemon=True
            )
            self._threads.append(worker)
            worker.start()

    def _serve(self, conn: socket.socket, record: Connection) -> None:
        try:
            conn.settimeout(None)
            self.behaviour(conn, record, self._stop)
        except OSError:
            pass
        finally:
            if record.closed is None:
                record.closed = time.monotonic()
            with contextlib.suppress(OSError):
                conn.close()

    def start(self) -> None:
        self._acceptor.start()

    def stop(self) -> None:
        self._stop.set()
        self._acceptor.join(START_TIMEOUT)
        self._sock.close()
        for worker in self._threads:
            worker.join(START_TIMEOUT)

    def __enter__(self) -> ScriptedTcpServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


@dataclass(frozen=True)
class Act:
    """What a :class:`FaultHttpServer` does with one request.

    ``reply``: answer ``status`` with ``body`` (JSON unless bytes/str) and ``headers``
    after ``delay`` seconds; ``hang``: read the request, never answer; ``trickle``: send
    the reply one byte every ``interval`` seconds; ``close``: hang up without a word.
    """

    kind: str = "reply"
    status: int = 200
    body: Any = field(default_factory=lambda: dict(DEFAULT_REPLY))
    headers: Mapping[str, str] = field(default_factory=dict)
    delay: float = 0.0
    interval: float = 1.0


def _reports_error(body: Any) -> bool:
    """A 2xx body that still says no (WeCom/DingTalk ``errcode``, Feishu ``code``)."""
    if not isinstance(body, dict):
        return False
    return any(isinstance(body.get(k), int) and body[k] != 0 for k in ("errcode", "code"))


@dataclass
class Exchange:
    """One request a FaultHttpServer received, what it did, and whether it was accepted:
    a 2xx reply with no error code, written in full (what a real service delivers)."""

    request: Recorded
    act: Act
    connection: Connection
    accepted: bool = False


class FaultHttpServer:
    """An HTTP/1.1 server on raw sockets whose replies are scripted per path.

    ``script("/hook", Act(status=500), Act())`` makes the next request to ``/hook`` get a
    500 and the one after it a 200; unscripted requests get ``Act()`` (200, ok).
    """

    def __init__(self) -> None:
        self.exchanges: list[Exchange] = []
        self._scripts: dict[str, deque[Act]] = {}
        self._lock = threading.Condition()
        self._tcp = ScriptedTcpServer(self._serve)
        self.port = self._tcp.port

    def url(self, path: str = "/") -> str:
        return f"http://{HOST}:{self.port}{path}"

    def script(self, path: str, *acts: Act) -> None:
        """Queue what the next requests to ``path`` get (replacing what was queued)."""
        with self._lock:
            self._scripts[path] = deque(acts)

    def accepted(self, path: str | None = None) -> list[Recorded]:
        """The requests (to ``path``, or any) that a real service would have delivered."""
        with self._lock:
            return [
                e.request
                for e in self.exchanges
                if e.accepted and (path is None or e.request.path == path)
            ]

    def received(self, path: str | None = None) -> list[Exchange]:
        with self._lock:
            return [e for e in self.exchanges if path is None or e.request.path == path]

    def wait_for(self, count: int, timeout: float = WAIT_TIMEOUT) -> list[Exchange]:
        """Wait (bounded) until ``count`` requests have been answered or given up."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while sum(e.connection.closed is not None for e in self.exchanges) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"expected {count} finished request(s) within {timeout}s")
                self._lock.wait(min(left, 0.05))
            return list(self.exchanges)

    def _read_request(self, conn: socket.socket, record: Connection) -> Recorded | None:
        conn.settimeout(START_TIMEOUT)
        deadline = record.opened + MAX_HOLD  # a client sending slowly is not waited for ever
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk or len(data) > 1_000_000 or time.monotonic() > deadline:
                return None
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, target, _version = lines[0].split(" ", 2)
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length") or 0)
        while len(body) < min(length, 10_000_000):
            chunk = conn.recv(65536)
            if not chunk or time.monotonic() > deadline:
                return None
            body += chunk
        record.received = data
        parts = urllib.parse.urlsplit(target)
        return Recorded(
            method=method,
            path=parts.path,
            query=dict(urllib.parse.parse_qsl(parts.query, keep_blank_values=True)),
            raw_query=parts.query,
            headers=headers,
            body=body,
        )

    def _serve(self, conn: socket.socket, record: Connection, stop: threading.Event) -> None:
        request = self._read_request(conn, record)
        if request is None:
            return
        with self._lock:
            queue = self._scripts.get(request.path)
            act = queue.popleft() if queue else Act()
            exchange = Exchange(request, act, record)
            self.exchanges.append(exchange)
        try:
            if act.kind == "hang":
                hold_until_closed(conn, record, stop)
            # "close" hangs up at once; a delay cut short by a stop answers nothing.
            elif act.kind != "close" and not (act.delay and stop.wait(min(act.delay, MAX_HOLD))):
                payload = _http_reply(act)
                if act.kind == "trickle":
                    done = trickle_bytes(conn, record, stop, payload, act.interval)
                else:
                    conn.sendall(payload)
                    done = True
                ok = done and 200 <= act.status < 300 and not _reports_error(act.body)
                exchange.accepted = ok
                if act.kind == "trickle" and done:
                    hold_until_closed(conn, record, stop, limit=1.0)
        finally:
            record.closed = time.monotonic()
            with self._lock:
                self._lock.notify_all()

    def start(self) -> None:
        self._tcp.start()

    def stop(self) -> None:
        self._tcp.stop()


def _http_reply(act: Act) -> bytes:
    if isinstance(act.body, bytes):
        payload, ctype = act.body, "application/octet-stream"
    elif isinstance(act.body, str):
        payload, ctype = act.body.encode("utf-8"), "text/plain; charset=utf-8"
    else:
        payload = json.dumps(act.body, ensure_ascii=False).encode("utf-8")
        ctype = "application/json; charset=utf-8"
    try:
        reason = HTTPStatus(act.status).phrase
    except ValueError:  # a status code of no standard (a test of odd replies)
        reason = ""
    lines = [
        f"HTTP/1.1 {act.status} {reason}".rstrip(),
        f"Content-Type: {ctype}",
        f"Content-Length: {len(payload)}",
        "Connection: close",
        *(f"{k}: {v}" for k, v in act.headers.items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + payload


@contextlib.contextmanager
def fault_http_server() -> Iterator[FaultHttpServer]:
    """Run a :class:`FaultHttpServer` on 127.0.0.1 for the ``with`` block."""
    server = FaultHttpServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


HANG_UP = "421 4.4.2 hanging up"  # a DATA reply of FaultySmtpHandler: drop the connection


class FaultySmtpHandler(RecordingHandler):
    """A RecordingHandler that also fails DATA by script and can take its time.

    ``refuse`` (RCPT replies per address) is the parent's; ``data_replies`` maps a
    recipient to the replies its next DATA commands get (``"452 4.3.1 …"``, or
    :data:`HANG_UP` to drop the connection instead of answering), one per transaction;
    ``data_delay`` seconds pass before a DATA is accepted. ``attempts`` counts every
    DATA, accepted or not.
    """

    def __init__(
        self,
        refuse: Mapping[str, str] | None = None,
        data_replies: Mapping[str, Sequence[str]] | None = None,
        data_delay: float = 0.0,
    ) -> None:
        super().__init__(refuse)
        self.data_replies = {k: deque(v) for k, v in (data_replies or {}).items()}
        self.data_delay = data_delay
        self.attempts = 0

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.attempts += 1
        for address in envelope.rcpt_tos:
            queued = self.data_replies.get(address)
            if queued:
                reply = queued.popleft()
                if reply == HANG_UP and server.transport is not None:
                    server.transport.close()  # the message was never accepted
                return reply
        if self.data_delay:
            await asyncio.sleep(self.data_delay)
        return await super().handle_DATA(server, session, envelope)


@contextlib.contextmanager
def smtp_server_with(handler: RecordingHandler) -> Iterator[SmtpServer]:
    """Run a plain aiosmtpd server on 127.0.0.1 with this handler for the ``with`` block."""
    last_error: Exception | None = None
    for _attempt in range(5):  # free_port() can race with another process: try a few
        port = free_port()
        controller = Controller(handler, hostname=HOST, port=port, ready_timeout=START_TIMEOUT)
        try:
            controller.start()
        except OSError as exc:
            last_error = exc
            continue
        break
    else:
        raise RuntimeError(f"could not start the SMTP server: {last_error}")
    try:
        yield SmtpServer(HOST, port, handler, controller)
    finally:
        _stop_bounded(controller.stop, "SMTP server")


def refuse_all(reply: bytes) -> Behaviour:
    """Greet with ``reply`` (``554 …``) and answer every command with it, as RFC 5321 asks
    of a server that will not serve; QUIT gets ``221`` and the connection closes."""

    def behave(conn: socket.socket, record: Connection, stop: threading.Event) -> None:
        conn.sendall(reply)
        conn.settimeout(0.05)
        pending = b""
        while not stop.is_set() and time.monotonic() - record.opened < MAX_HOLD:
            try:
                chunk = conn.recv(4096)
            except TimeoutError:
                continue
            if not chunk:
                return
            pending += chunk
            while b"\n" in pending:
                line, _, pending = pending.partition(b"\n")
                if line.strip().upper() == b"QUIT":
                    conn.sendall(b"221 2.0.0 bye\r\n")
                    return
                conn.sendall(reply)

    return behave

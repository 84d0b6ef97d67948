"""Run a reader for a binary format in a child process with memory and time limits.

PDF and DOCX files are parsed by third-party code whose memory use follows the file: a
crafted PDF whose page stream inflates to gigabytes, or a page that sends the parser into
a long loop, would take the daemon with it. In a child process an address-space limit
(``RLIMIT_AS``) turns the first into a ``MemoryError`` and a wall-clock timeout ends the
second; either way the parent gets a :class:`~watcher.errors.ReadError` with the reason,
records the file as failed and goes on.

Two ways to use it:

* :func:`run` starts ``python -m watcher.sandbox READER PATH LIMITS`` for one file, its
  bytes on stdin and one JSON object on stdout;
* a :class:`Worker` (what a scan uses) keeps one ``python -m watcher.sandbox --serve
  LIMITS`` child for many files, exchanging length-prefixed frames, so Python and
  pdfminer start once per scan rather than once per file (about 0.4 s each). A worker
  that ran out of memory, timed out or died is replaced for the next file, and every
  ``Worker.RECYCLE`` files anyway.

The limits are set by the child on itself, before it reads anything: ``preexec_fn`` is
unsafe in a parent that runs threads, as the daemon does. Where ``resource`` is missing
(Windows) the child runs without a memory limit, and a worker falls back to :func:`run`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import importlib
import json
import logging
import math
import os
import selectors
import signal
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, NoReturn

from watcher.errors import ReadError, ReaderUnavailable
from watcher.models import Page, Text

if TYPE_CHECKING:
    from watcher.readers import Limits

log = logging.getLogger(__name__)

_FRAME = struct.Struct(">Q")  # every message: its length, then its bytes


def run(reader: str, data: bytes, path: Path, limits: Limits) -> Text:
    """Read ``data`` with ``readers.<reader>`` in a new child process; ReadError on failure."""
    command = [*_child_command(), reader, str(path), json.dumps(dataclasses.asdict(limits))]
    try:
        done = subprocess.run(
            command, input=data, capture_output=True, timeout=limits.timeout, check=False
        )
    except subprocess.TimeoutExpired:
        raise ReadError(_timeout_message(limits)) from None
    except OSError as exc:
        raise ReaderUnavailable(f"cannot start the reader process: {exc}") from None
    try:
        answer = json.loads(done.stdout)
    except ValueError:
        answer = None
    if isinstance(answer, dict) and (done.returncode == 0 or "error" in answer):
        return _text(answer)
    _raise_death(done.returncode, done.stderr, limits)


class Worker:
    """One child process reading PDF, DOCX and large HTML files in turn, started at the
    first one."""

    RECYCLE = 100  # files before a fresh process: memory fragments over many documents

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self._proc: subprocess.Popen[bytes] | None = None
        self._stderr: IO[bytes] | None = None
        self._served = 0

    def __enter__(self) -> Worker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def pid(self) -> int | None:
        """The running child's process id, or None before the first file."""
        return self._proc.pid if self._proc is not None else None

    def read(self, reader: str, data: bytes, path: Path) -> Text:
        """Read ``data`` with ``readers.<reader>`` in the worker; ReadError on failure."""
        if os.name != "posix":  # no select() on pipes: one process per file
            return run(reader, data, path, self.limits)
        try:
            return self._exchange(reader, data, path)
        except _Died:
            # Killed from outside before or while reading (an OOM killer, an operator):
            # once more with a new process. A file that kills it again fails below.
            log.warning("%s: the reader process died; reading it again", path)
        try:
            return self._exchange(reader, data, path)
        except _Died as died:
            _raise_death(died.code, died.stderr, self.limits)

    def _exchange(self, reader: str, data: bytes, path: Path) -> Text:
        proc = self._start()
        assert proc.stdin is not None and proc.stdout is not None
        # Sending counts against the time limit too: a stuck child stops reading its input.
        deadline = time.monotonic() + self.limits.timeout
        try:
            header = json.dumps({"reader": reader, "path": str(path)}).encode()
            _send(proc.stdin.fileno(), _FRAME.pack(len(header)) + header, deadline)
            _send(proc.stdin.fileno(), _FRAME.pack(len(data)), deadline)
            _send(proc.stdin.fileno(), data, deadline)
            answer = json.loads(_receive(proc.stdout.fileno(), deadline))
        except TimeoutError:
            self._discard(kill=True)
            raise ReadError(_timeout_message(self.limits)) from None
        except (OSError, EOFError, ValueError):
            # It ended on its own (a crash) or was killed; let it finish dying first, so
            # its exit code says which.
            code, stderr = self._discard(kill=True, grace=1.0)
            raise _Died(code, stderr) from None
        self._served += 1
        if answer.get("fatal") or self._served >= self.RECYCLE:
            self._discard(kill=False)
        return _text(answer)

    def close(self) -> None:
        """Let the child finish and exit (closing its input ends it)."""
        self._discard(kill=False)

    def _start(self) -> subprocess.Popen[bytes]:
        if self._proc is not None and self._proc.poll() is not None:
            # Ended between files (killed from outside): the next file gets a new one.
            code, _ = self._discard(kill=False)
            log.warning("reader process ended unexpectedly (exit %s); starting another", code)
        if self._proc is None:
            # Closed in _discard, when the process it collects from has ended.
            self._stderr = tempfile.TemporaryFile()  # noqa: SIM115
            try:
                self._proc = subprocess.Popen(
                    [*_child_command(), "--serve", json.dumps(dataclasses.asdict(self.limits))],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=self._stderr,
                    # Its own session: a Ctrl-C meant for `watcher run` must not kill it.
                    start_new_session=True,
                )
            except OSError as exc:
                self._stderr.close()
                self._stderr = None
                raise ReaderUnavailable(f"cannot start the reader process: {exc}") from None
            self._served = 0
            os.set_blocking(self._proc.stdin.fileno(), False)  # type: ignore[union-attr]
            log.debug("reader process %d started", self._proc.pid)
            try:
                # It says it is ready once its limits are set and its imports done; that
                # start-up is not charged to the first file's time.
                _receive(self._proc.stdout.fileno(), time.monotonic() + _START_TIMEOUT)  # type: ignore[union-attr]
            except (TimeoutError, OSError, EOFError):
                code, stderr = self._discard(kill=True, grace=1.0)
                tail = stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or [""]
                raise ReaderUnavailable(
                    f"the reader process did not start (exit {code}): {tail[0]}".rstrip(": ")
                ) from None
        return self._proc

    def _discard(self, *, kill: bool, grace: float = 0.0) -> tuple[int | None, bytes]:
        """Stop the child (after ``grace`` seconds to end by itself, when killing it);
        return its exit code and the end of what it wrote to stderr."""
        proc, self._proc = self._proc, None
        if proc is None:
            return None, b""
        if kill:
            try:
                proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                proc.kill()
        else:
            try:
                assert proc.stdin is not None
                proc.stdin.close()
            except OSError:
                pass
        try:
            code = proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = proc.wait()
        for stream in (proc.stdin, proc.stdout):
            if stream is not None:
                stream.close()
        stderr = b""
        if self._stderr is not None:
            self._stderr.seek(0)
            stderr = self._stderr.read()[-4000:]
            self._stderr.close()
            self._stderr = None
        return code, stderr


class _Died(Exception):
    """The worker process ended without answering."""

    def __init__(self, code: int | None, stderr: bytes) -> None:
        super().__init__(code)
        self.code = code
        self.stderr = stderr


_START_TIMEOUT = 60.0  # seconds for a reader process to start (a cold disk, a busy box)
# Signals that mean someone stopped the reader (an operator, a service manager), not that
# the file killed it: the file is tried again at the next scan.
_OUTSIDE_STOPS = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}


def _child_command() -> list[str]:
    return [sys.executable, "-m", "watcher.sandbox"]


def _send(fd: int, data: bytes, deadline: float) -> None:
    """Write all of ``data`` to a non-blocking pipe by ``deadline``."""
    view = memoryview(data)
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_WRITE)
        while view:
            _wait(selector, deadline)
            try:
                written = os.write(fd, view[: 1 << 20])
            except BlockingIOError:
                continue
            view = view[written:]


def _wait(selector: selectors.BaseSelector, deadline: float) -> None:
    """Until the pipe is ready; TimeoutError once ``deadline`` has passed."""
    wait = deadline - time.monotonic()
    if wait <= 0 or not selector.select(wait):
        raise TimeoutError


def _receive(fd: int, deadline: float) -> bytes:
    """One frame from the child's stdout, waiting until ``deadline`` at most."""
    head = _read_exactly(fd, _FRAME.size, deadline)
    return _read_exactly(fd, _FRAME.unpack(head)[0], deadline)


def _read_exactly(fd: int, size: int, deadline: float) -> bytes:
    chunks: list[bytes] = []
    left = size
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        while left:
            _wait(selector, deadline)
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                raise EOFError
            chunks.append(chunk)
            left -= len(chunk)
    return b"".join(chunks)


def _text(answer: dict[str, Any]) -> Text:
    if "error" in answer:
        raise ReadError(str(answer["error"]))
    facts = answer.get("page")
    page = None
    if facts:
        day = facts.get("date")
        page = Page(
            newspaper=facts.get("newspaper"),
            date=dt.date.fromisoformat(day) if day else None,
            page=facts.get("page"),
            section=facts.get("section"),
        )
    return Text(
        text=answer["text"], encoding=answer["encoding"], markup=answer["markup"], page=page
    )


def _timeout_message(limits: Limits) -> str:
    return (
        f"gave up after {limits.timeout:g} s (scan.read_timeout): the file takes too long to read"
    )


def _memory_message(memory_mb: int) -> str:
    return (
        f"needs more than {memory_mb} MB of memory to read (scan.read_memory_mb); "
        "the file may be a decompression bomb"
    )


def _raise_death(code: int | None, stderr: bytes, limits: Limits) -> NoReturn:
    """The ReadError for a reader process that ended without answering."""
    if code is not None and code < 0:
        try:
            sig = signal.Signals(-code)
        except ValueError:
            raise ReadError(f"the reader process was killed (signal {-code})") from None
        if sig in _OUTSIDE_STOPS:
            raise ReaderUnavailable(f"the reader process was stopped ({sig.name})")
        if sig.name in ("SIGALRM", "SIGXCPU"):  # its own time limits, set in _limit_self
            raise ReadError(_timeout_message(limits))
        raise ReadError(f"the reader process was killed ({sig.name})")
    if b"MemoryError" in stderr:
        raise ReadError(_memory_message(limits.memory_mb))
    tail = stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no output"]
    raise ReadError(f"the reader process failed (exit {code}): {tail[0]}")


# --- the child's side ------------------------------------------------------------------


def _limit_self(memory_mb: int, cpu_seconds: float | None) -> None:
    try:
        import resource
    except ImportError:  # Windows: no rlimits; the parent's timeout still applies
        return
    size = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (size, size))
    if cpu_seconds is not None:
        seconds = int(cpu_seconds) + 1
        resource.setrlimit(resource.RLIMIT_CPU, (seconds, seconds + 1))


def _answer(reader: str, data: bytes, path: str, limits: Limits) -> dict[str, object]:
    """Read one file; its text, or its error (``fatal``: this process should not go on)."""
    from watcher import readers

    try:
        text = readers.CONTAINED[reader](data, Path(path), limits)
    except ReadError as exc:
        return {"error": str(exc)}
    except MemoryError:
        return {"error": _memory_message(limits.memory_mb), "fatal": True}
    except RecursionError:
        return {"error": "the file nests too deeply to read (a damaged or hostile file)"}
    except Exception as exc:  # one strange document must not end the worker
        return {"error": f"internal error: {type(exc).__name__}: {exc}", "fatal": True}
    answer: dict[str, object] = {
        "text": text.text,
        "encoding": text.encoding,
        "markup": text.markup,
    }
    if text.page is not None:
        facts = text.page
        answer["page"] = {
            "newspaper": facts.newspaper,
            "date": facts.date.isoformat() if facts.date else None,
            "page": facts.page,
            "section": facts.section,
        }
    return answer


def _child(argv: list[str]) -> int:
    """``READER PATH LIMITS``: read stdin once, answer with one JSON object."""
    from watcher.readers import Limits

    reader, path, raw_limits = argv
    limits = Limits(**json.loads(raw_limits))
    # One file per process: a CPU limit backs up the parent's wall-clock timeout.
    _limit_self(limits.memory_mb, limits.timeout)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    answer = _answer(reader, sys.stdin.buffer.read(), path, limits)
    # UTF-8 whatever the console's encoding (cp1252 on a Windows service).
    sys.stdout.buffer.write(json.dumps(answer, ensure_ascii=False).encode("utf-8"))
    return 0


def _serve(raw_limits: str) -> int:
    """``--serve LIMITS``: answer frames until stdin closes."""
    from watcher import readers  # imported before saying "ready"

    for module in ("watcher.pdf", "pdfminer.pdfinterp", "watcher.word", "docx"):
        with contextlib.suppress(ImportError):  # what the first file would pay for
            importlib.import_module(module)

    limits = readers.Limits(**json.loads(raw_limits))
    # No CPU limit (it would add up over the files) but an alarm per file: the parent
    # times each file, and this bounds one that outlives its parent (an orphan).
    _limit_self(limits.memory_mb, None)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    source, sink = sys.stdin.buffer, sys.stdout.buffer

    def say(answer: dict[str, object]) -> None:
        reply = json.dumps(answer, ensure_ascii=False).encode("utf-8")
        sink.write(_FRAME.pack(len(reply)) + reply)
        sink.flush()

    say({"ready": True})
    while True:
        head = source.read(_FRAME.size)
        if len(head) < _FRAME.size:
            return 0  # the parent closed our input (or is gone): done
        request = json.loads(source.read(_FRAME.unpack(head)[0]))
        (size,) = _FRAME.unpack(source.read(_FRAME.size))
        data = source.read(size)
        if hasattr(signal, "alarm"):
            signal.alarm(math.ceil(limits.timeout) + 5)
        answer = _answer(request["reader"], data, request["path"], limits)
        if hasattr(signal, "alarm"):
            signal.alarm(0)
        del data
        say(answer)
        if answer.get("fatal"):
            return 1


if __name__ == "__main__":
    if sys.argv[1:2] == ["--serve"]:
        sys.exit(_serve(sys.argv[2]))
    sys.exit(_child(sys.argv[1:]))

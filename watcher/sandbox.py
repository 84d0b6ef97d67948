"""Run a reader for a binary format in a child process with memory and time limits.

PDF and DOCX files are parsed by third-party code whose memory use follows the file: a
crafted PDF whose page stream inflates to gigabytes, or a page that sends the parser into
a long loop, would take the daemon with it. In a child process an address-space limit
(``RLIMIT_AS``) turns the first into a ``MemoryError`` and a wall-clock timeout ends the
second; either way the parent gets a :class:`~watcher.errors.ReadError` with the reason,
records the file as failed and goes on.

Two ways to use it:

* :func:`run` starts ``python -m watcher.reader_process READER PATH LIMITS`` for one
  file, its bytes on stdin and one answer on stdout;
* a :class:`Worker` (what a scan uses) keeps one ``python -m watcher.reader_process
  --serve LIMITS`` child for many files, exchanging length-prefixed frames, so Python and
  pdfminer start once per scan rather than once per file (about 0.4 s each). A worker
  that ran out of memory, timed out or died is replaced for the next file, and every
  ``Worker.RECYCLE`` files anyway.

This module is the parent's side and the protocol both sides speak: the typed messages
below, as JSON, decoded by msgspec, so a garbled answer is caught where it arrives. The
child's side is :mod:`watcher.reader_process`. The limits are set by the child on itself,
before it reads anything: ``preexec_fn`` is unsafe in a parent that runs threads, as the
daemon does. Where ``resource`` is missing (Windows) the child runs without a memory
limit, and a worker falls back to :func:`run`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import selectors
import signal
import struct
import subprocess
import sys
import tempfile
import time
import weakref
from pathlib import Path
from typing import IO, NoReturn

import msgspec

from watcher.errors import ReadError, ReaderUnavailable
from watcher.models import Text
from watcher.reading import Limits

log = logging.getLogger(__name__)

FRAME = struct.Struct(">Q")  # every message to and from a worker: its length, then its bytes


class Request(msgspec.Struct, frozen=True):
    """What a worker is asked: read the file that follows with this reader."""

    reader: str  # a name in the registry, watcher.readers.READERS
    path: str


class Read(msgspec.Struct, frozen=True, tag="read"):
    """The answer for a file that was read."""

    text: Text


class Failed(msgspec.Struct, frozen=True, tag="failed"):
    """The answer for a file that could not be read (``fatal``: the process must end)."""

    error: str
    fatal: bool = False


Answer = Read | Failed
_ANSWER = msgspec.json.Decoder(Answer)


def run(reader: str, data: bytes, path: Path, limits: Limits) -> Text:
    """Read ``data`` with the reader named ``reader`` in a new child process; ReadError on
    failure."""
    command = [*_child_command(), reader, str(path), msgspec.json.encode(limits).decode()]
    try:
        done = subprocess.run(
            command, input=data, capture_output=True, timeout=limits.timeout, check=False
        )
    except subprocess.TimeoutExpired:
        raise ReadError(_timeout_message(limits)) from None
    except OSError as exc:
        raise ReaderUnavailable(f"cannot start the reader process: {exc}") from None
    answer: Answer | None
    try:
        answer = _ANSWER.decode(done.stdout)
    except msgspec.DecodeError:  # no answer, or not one: how it ended says why
        answer = None
    if isinstance(answer, Failed) or (answer is not None and done.returncode == 0):
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
        self._stopping = False

    def __enter__(self) -> Worker:
        _LIVE.add(self)
        return self

    def __exit__(self, exc_type: object, *_: object) -> None:
        _LIVE.discard(self)
        # Leaving on an error (Ctrl-C included) must not wait for a long read.
        self._discard(kill=exc_type is not None)

    def stop(self) -> None:
        """End the read in hand at once (SIGTERM to the daemon): the child is killed and
        the file is left for the next scan. Safe to call from another thread."""
        self._stopping = True
        proc = self._proc
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(OSError):
                proc.kill()

    @property
    def pid(self) -> int | None:
        """The running child's process id, or None before the first file."""
        return self._proc.pid if self._proc is not None else None

    def read(self, reader: str, data: bytes, path: Path) -> Text:
        """Read ``data`` with the reader named ``reader`` in the worker; ReadError on failure."""
        if os.name != "posix":  # no select() on pipes: one process per file
            return run(reader, data, path, self.limits)
        try:
            return self._exchange(reader, data, path)
        except _Died:
            if self._stopping:
                raise ReaderUnavailable(STOPPED) from None
            # Killed from outside before or while reading (an OOM killer, an operator):
            # once more with a new process. A file that kills it again fails below.
            log.warning("%s: the reader process died; reading it again", path)
        try:
            return self._exchange(reader, data, path)
        except _Died as died:
            if self._stopping:
                raise ReaderUnavailable(STOPPED) from None
            _raise_death(died.code, died.stderr, self.limits)

    def _exchange(self, reader: str, data: bytes, path: Path) -> Text:
        proc = self._start()
        assert proc.stdin is not None and proc.stdout is not None
        # Sending counts against the time limit too: a stuck child stops reading its input.
        deadline = time.monotonic() + self.limits.timeout
        try:
            header = msgspec.json.encode(Request(reader=reader, path=str(path)))
            _send(proc.stdin.fileno(), FRAME.pack(len(header)) + header, deadline)
            _send(proc.stdin.fileno(), FRAME.pack(len(data)), deadline)
            _send(proc.stdin.fileno(), data, deadline)
            answer = _ANSWER.decode(_receive(proc.stdout.fileno(), deadline))
        except TimeoutError:
            self._discard(kill=True)
            raise ReadError(_timeout_message(self.limits)) from None
        except (OSError, EOFError, msgspec.DecodeError):
            # It ended on its own (a crash), was killed, or sent what is no answer (its
            # output garbled as it died); let it finish dying first, so its exit code
            # says which.
            code, stderr = self._discard(kill=True, grace=1.0)
            raise _Died(code, stderr) from None
        self._served += 1
        if (isinstance(answer, Failed) and answer.fatal) or self._served >= self.RECYCLE:
            self._discard(kill=False)
        return _text(answer)

    def close(self) -> None:
        """Let the child finish and exit (closing its input ends it)."""
        self._discard(kill=False)

    def _start(self) -> subprocess.Popen[bytes]:
        if self._stopping:
            raise ReaderUnavailable(STOPPED)
        if self._proc is not None and self._proc.poll() is not None:
            # Ended between files (killed from outside): the next file gets a new one.
            code, _ = self._discard(kill=False)
            log.warning("reader process ended unexpectedly (exit %s); starting another", code)
        if self._proc is None:
            # Closed in _discard, when the process it collects from has ended.
            self._stderr = tempfile.TemporaryFile()  # noqa: SIM115
            try:
                self._proc = subprocess.Popen(
                    [*_child_command(), "--serve", msgspec.json.encode(self.limits).decode()],
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


STOPPED = "watcher is stopping; the file is read at the next scan"
# The workers of this process, so a stop request reaches the read in hand.
_LIVE: weakref.WeakSet[Worker] = weakref.WeakSet()


def stop_all() -> None:
    """Stop every reader process of this process at once (see ``Worker.stop``)."""
    for worker in list(_LIVE):
        worker.stop()


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
    return [sys.executable, "-m", "watcher.reader_process"]


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
    head = _read_exactly(fd, FRAME.size, deadline)
    return _read_exactly(fd, FRAME.unpack(head)[0], deadline)


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


def _text(answer: Answer) -> Text:
    if isinstance(answer, Failed):
        raise ReadError(answer.error)
    return answer.text


def _timeout_message(limits: Limits) -> str:
    return (
        f"gave up after {limits.timeout:g} s (scan.read_timeout): the file takes too long to read"
    )


def memory_message(memory_mb: int) -> str:
    """What a file that needed more than ``memory_mb`` is failed with."""
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
        raise ReadError(memory_message(limits.memory_mb))
    tail = stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no output"]
    raise ReadError(f"the reader process failed (exit {code}): {tail[0]}")

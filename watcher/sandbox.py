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

import dataclasses
import json
import logging
import os
import selectors
import signal
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from watcher.errors import ReadError
from watcher.models import Text

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
        raise ReadError(f"cannot start the reader process: {exc}") from None
    try:
        answer = json.loads(done.stdout)
    except ValueError:
        answer = None
    if isinstance(answer, dict) and (done.returncode == 0 or "error" in answer):
        return _text(answer)
    raise ReadError(_death_message(done.returncode, done.stderr, limits))


class Worker:
    """One child process reading PDF and DOCX files in turn, started at the first one."""

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
            raise ReadError(str(died)) from None

    def _exchange(self, reader: str, data: bytes, path: Path) -> Text:
        proc = self._start()
        assert proc.stdin is not None and proc.stdout is not None
        deadline = time.monotonic() + self.limits.timeout
        try:
            header = json.dumps({"reader": reader, "path": str(path)}).encode()
            proc.stdin.write(_FRAME.pack(len(header)) + header + _FRAME.pack(len(data)))
            proc.stdin.write(data)
            proc.stdin.flush()
            answer = json.loads(_receive(proc.stdout.fileno(), deadline))
        except TimeoutError:
            self._discard(kill=True)
            raise ReadError(_timeout_message(self.limits)) from None
        except (OSError, EOFError, ValueError):
            code, stderr = self._discard(kill=True)
            raise _Died(_death_message(code, stderr, self.limits)) from None
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
            self._proc = subprocess.Popen(
                [*_child_command(), "--serve", json.dumps(dataclasses.asdict(self.limits))],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=self._stderr,
            )
            self._served = 0
            log.debug("reader process %d started", self._proc.pid)
        return self._proc

    def _discard(self, *, kill: bool) -> tuple[int | None, bytes]:
        """Stop the child; return its exit code and the end of what it wrote to stderr."""
        proc, self._proc = self._proc, None
        if proc is None:
            return None, b""
        if kill:
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


def _child_command() -> list[str]:
    return [sys.executable, "-m", "watcher.sandbox"]


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
            wait = deadline - time.monotonic()
            if wait <= 0 or not selector.select(wait):
                raise TimeoutError
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                raise EOFError
            chunks.append(chunk)
            left -= len(chunk)
    return b"".join(chunks)


def _text(answer: dict[str, Any]) -> Text:
    if "error" in answer:
        raise ReadError(str(answer["error"]))
    return Text(text=answer["text"], encoding=answer["encoding"], markup=answer["markup"])


def _timeout_message(limits: Limits) -> str:
    return (
        f"gave up after {limits.timeout:g} s (scan.read_timeout): the file takes too long to read"
    )


def _memory_message(memory_mb: int) -> str:
    return (
        f"needs more than {memory_mb} MB of memory to read (scan.read_memory_mb); "
        "the file may be a decompression bomb"
    )


def _death_message(code: int | None, stderr: bytes, limits: Limits) -> str:
    if code is not None and code < 0:
        if -code == getattr(signal, "SIGXCPU", None):
            return f"gave up: the reader used more than {limits.timeout:g} s of CPU"
        return f"the reader process was killed ({signal.Signals(-code).name})"
    if b"MemoryError" in stderr:
        return _memory_message(limits.memory_mb)
    tail = stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no output"]
    return f"the reader process failed (exit {code}): {tail[0]}"


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
    return {"text": text.text, "encoding": text.encoding, "markup": text.markup}


def _child(argv: list[str]) -> int:
    """``READER PATH LIMITS``: read stdin once, answer with one JSON object."""
    from watcher.readers import Limits

    reader, path, raw_limits = argv
    limits = Limits(**json.loads(raw_limits))
    # One file per process: a CPU limit backs up the parent's wall-clock timeout.
    _limit_self(limits.memory_mb, limits.timeout)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    answer = _answer(reader, sys.stdin.buffer.read(), path, limits)
    sys.stdout.write(json.dumps(answer, ensure_ascii=False))
    return 0


def _serve(raw_limits: str) -> int:
    """``--serve LIMITS``: answer frames until stdin closes."""
    from watcher.readers import Limits

    limits = Limits(**json.loads(raw_limits))
    # No CPU limit: it would add up over the files; the parent times each one.
    _limit_self(limits.memory_mb, None)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    source, sink = sys.stdin.buffer, sys.stdout.buffer
    while True:
        head = source.read(_FRAME.size)
        if len(head) < _FRAME.size:
            return 0  # the parent closed our input: done
        request = json.loads(source.read(_FRAME.unpack(head)[0]))
        (size,) = _FRAME.unpack(source.read(_FRAME.size))
        data = source.read(size)
        answer = _answer(request["reader"], data, request["path"], limits)
        del data
        reply = json.dumps(answer, ensure_ascii=False).encode("utf-8")
        sink.write(_FRAME.pack(len(reply)) + reply)
        sink.flush()
        if answer.get("fatal"):
            return 1


if __name__ == "__main__":
    if sys.argv[1:2] == ["--serve"]:
        sys.exit(_serve(sys.argv[2]))
    sys.exit(_child(sys.argv[1:]))

"""The reader process: the child's side of :mod:`watcher.sandbox`.

It sets its own memory limit (and, for one file, a CPU limit) before it reads anything,
reads with the registry's readers (:mod:`watcher.readers`) and answers in the messages
:mod:`watcher.sandbox` defines. Started as

* ``python -m watcher.reader_process READER PATH LIMITS``: one file on stdin, one answer
  on stdout;
* ``python -m watcher.reader_process --serve LIMITS``: a "ready" frame, then a request
  and the file's bytes in, one answer out, until its input closes.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import math
import signal
import sys
from pathlib import Path

import msgspec

from watcher import readers
from watcher.errors import ReadError
from watcher.reading import Limits
from watcher.sandbox import FRAME, Answer, Failed, Read, Request, memory_message


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


def _answer(reader: str, data: bytes, path: str, limits: Limits) -> Answer:
    """Read one file; its text, or its error (``fatal``: this process should not go on)."""
    try:
        return Read(text=readers.named(reader).read(data, Path(path), limits))
    except ReadError as exc:
        return Failed(error=str(exc))
    except MemoryError:
        return Failed(error=memory_message(limits.memory_mb), fatal=True)
    except RecursionError:
        return Failed(error="the file nests too deeply to read (a damaged or hostile file)")
    except Exception as exc:  # one strange document must not end the worker
        return Failed(error=f"internal error: {type(exc).__name__}: {exc}", fatal=True)


def _once(argv: list[str]) -> int:
    """``READER PATH LIMITS``: read stdin once, answer with one JSON object."""
    reader, path, raw_limits = argv
    limits = msgspec.json.decode(raw_limits, type=Limits)
    # One file per process: a CPU limit backs up the parent's wall-clock timeout.
    _limit_self(limits.memory_mb, limits.timeout)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    answer = _answer(reader, sys.stdin.buffer.read(), path, limits)
    # UTF-8 whatever the console's encoding (cp1252 on a Windows service).
    sys.stdout.buffer.write(msgspec.json.encode(answer))
    return 0


def _serve(raw_limits: str) -> int:
    """``--serve LIMITS``: answer frames until stdin closes."""
    for module in ("pdfminer.pdfinterp", "docx"):
        with contextlib.suppress(ImportError):  # what the first file would pay for
            importlib.import_module(module)

    limits = msgspec.json.decode(raw_limits, type=Limits)
    # No CPU limit (it would add up over the files) but an alarm per file: the parent
    # times each file, and this bounds one that outlives its parent (an orphan).
    _limit_self(limits.memory_mb, None)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    source, sink = sys.stdin.buffer, sys.stdout.buffer
    requests = msgspec.json.Decoder(Request)

    def say(message: object) -> None:
        reply = msgspec.json.encode(message)
        sink.write(FRAME.pack(len(reply)) + reply)
        sink.flush()

    say({"ready": True})
    while True:
        head = source.read(FRAME.size)
        if len(head) < FRAME.size:
            return 0  # the parent closed our input (or is gone): done
        request = requests.decode(source.read(FRAME.unpack(head)[0]))
        (size,) = FRAME.unpack(source.read(FRAME.size))
        data = source.read(size)
        if hasattr(signal, "alarm"):
            signal.alarm(math.ceil(limits.timeout) + 5)
        answer = _answer(request.reader, data, request.path, limits)
        if hasattr(signal, "alarm"):
            signal.alarm(0)
        del data
        say(answer)
        if isinstance(answer, Failed) and answer.fatal:
            return 1


if __name__ == "__main__":
    if sys.argv[1:2] == ["--serve"]:
        sys.exit(_serve(sys.argv[2]))
    sys.exit(_once(sys.argv[1:]))

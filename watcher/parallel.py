"""A pool of worker processes for the scan's per-file work (``scan.workers``).

The pipeline decides what runs where: workers read, hash, decode, split and match
files, and hand back plain results; the scanning process alone writes the store, in
the order of the serial scan. This module only knows processes:

* ``forkserver`` workers, not ``fork``: the daemon runs threads (APScheduler) and
  holds database connections, neither of which survives a fork safely; a worker
  starts from a server that imported the pipeline once;
* workers ignore SIGINT (a Ctrl-C reaches the whole process group; the scanning
  process stops at the next file and ends the pool) but not SIGTERM, which is how a
  broken pool is ended (a worker killed while holding the task queue's lock would
  leave the others waiting on it for ever); a SIGTERM to the whole group (systemd)
  ends the workers at once and the scanning process at its next file;
* a script that runs a scan with workers must start with the usual
  ``if __name__ == "__main__":`` guard, as any program using multiprocessing: the
  workers import the main module;
* log records made in a worker travel back with its result and are handled by the
  scanning process's loggers, in file order, as if the work had been done there.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import multiprocessing
import os
import signal
import threading
from collections.abc import Callable
from concurrent.futures import CancelledError, Future, ProcessPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")
log = logging.getLogger(__name__)

# A pool pays from this many files to read on: starting it costs about 0.3 s.
MIN_FILES = 16
# How long the scanning process waits for one chunk's task before it takes the pool
# for hung and reads the rest itself (a chunk is read in seconds; a worker killed at
# the wrong moment can leave ProcessPoolExecutor waiting for ever).
TASK_TIMEOUT = 300.0
# How long the first worker may take to start (the fork server's imports, the
# worker's set-up: a second or so) before the pool is taken for hung and killed.
START_TIMEOUT = 300.0


def count(setting: int | str) -> int:
    """How many workers ``scan.workers`` asks for: ``auto`` is the CPUs this process
    may run on."""
    if setting == "auto":
        try:
            return max(1, len(os.sched_getaffinity(0)))
        except AttributeError:  # pragma: no cover - not Linux
            return max(1, os.cpu_count() or 1)
    return max(1, int(setting))


class _Collect(logging.Handler):
    """A worker's log records, kept to be sent back with the result."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        # Made picklable: the message formatted, a traceback as text.
        if record.exc_info:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        record.msg, record.args, record.exc_info = record.getMessage(), None, None
        self.records.append(record)


_COLLECT: _Collect | None = None


def _start(level: int, init: Callable[..., None], args: tuple[Any, ...]) -> None:
    global _COLLECT
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # the daemon's handler is not ours
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    _COLLECT = _Collect()
    root.addHandler(_COLLECT)
    root.setLevel(level)
    init(*args)


def _ready() -> None:
    """The first task: the worker is up once it has run it."""


def collected() -> list[logging.LogRecord]:
    """In a worker: the log records made since the last call (none elsewhere)."""
    if _COLLECT is None:
        return []
    records, _COLLECT.records = _COLLECT.records, []
    return records


def replay(records: list[logging.LogRecord]) -> None:
    """Hand a worker's log records to this process's loggers."""
    for record in records:
        logger = logging.getLogger(record.name)
        if logger.isEnabledFor(record.levelno):
            logger.handle(record)


# The size asked for the results pipe: a few chunks' results (Linux allows up to 1 MiB
# without privileges: /proc/sys/fs/pipe-max-size).
RESULTS_PIPE = 1 << 20


def _widen_results_pipe(pool: ProcessPoolExecutor) -> None:
    """Let a worker write a chunk's result (~200 KB) into the pipe at once and go on.

    With the default 64 KiB pipe a worker blocks in the write until the scanning
    process's result thread has read the rest, and that thread waits for the GIL
    held by the thread writing the store: two workers lost about 0.7 s so in a scan
    of the corpus. Best effort: the queue is the executor's own (no public way to
    size it), and a pipe that cannot be widened stays as it is.
    """
    queue = getattr(pool, "_result_queue", None)
    writer = getattr(queue, "_writer", None)
    with contextlib.suppress(AttributeError, OSError, ValueError):
        fcntl.fcntl(writer.fileno(), fcntl.F_SETPIPE_SZ, RESULTS_PIPE)  # type: ignore[union-attr]


class Pool:
    """``workers`` processes, each set up once by ``init(*args)``."""

    def __init__(self, workers: int, init: Callable[..., None], args: tuple[Any, ...]) -> None:
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["watcher.pipeline"])
        level = logging.getLogger().getEffectiveLevel()
        self.workers = workers
        self._killed = False
        self._pool = ProcessPoolExecutor(
            workers, mp_context=ctx, initializer=_start, initargs=(level, init, args)
        )
        _widen_results_pipe(self._pool)
        # The executor's own dict, filled as it spawns (shutdown() drops the attribute).
        got = getattr(self._pool, "_processes", None)
        self._processes = got if got is not None else {}
        # Starting the first worker means starting the fork server, which imports the
        # pipeline (~0.3 s, the scanning process blocked on it): done by a thread, so
        # that the scanning process reads files itself meanwhile (see ready()).
        self._started = threading.Event()
        self.hung_at_start = False  # the first worker did not start in START_TIMEOUT
        self._boot = threading.Thread(target=self._start_first, name="scan-pool-start",
                                      daemon=True)  # fmt: skip
        self._boot.start()

    def _start_first(self) -> None:
        try:
            first = self._pool.submit(_ready)
            if self._killed:  # closed while the worker was being spawned
                self.kill()
            first.exception(timeout=START_TIMEOUT)
        except TimeoutError:  # hung (its set-up, say): nothing of the scan's is in it
            self.hung_at_start = True
            self.kill()
        except Exception as exc:  # a broken pool: the next submit says so
            log.debug("scan workers did not start (%s)", exc)
        finally:
            self._started.set()

    def ready(self) -> bool:
        """Whether the first worker has started (or failed to): until then, work sent
        would wait for it."""
        return self._started.is_set()

    def submit(self, fn: Callable[..., T], *args: Any) -> Future[T]:
        """Run ``fn(*args)`` in a worker."""
        return self._pool.submit(fn, *args)

    def settled(self, task: Future[Any]) -> bool:
        """Wait for ``task`` up to TASK_TIMEOUT; False if it did not end: then the pool is
        hung, and its workers are killed (every task not done fails)."""
        try:
            task.exception(timeout=TASK_TIMEOUT)
        except TimeoutError:
            self.kill()
            return False
        except CancelledError:  # it ended (a Ctrl-C goes through)
            pass
        return True

    def kill(self) -> None:
        """End the workers at once (a hung pool)."""
        # ProcessPoolExecutor has no public way to end its processes without waiting.
        for process in list(self._processes.values()):
            process.kill()
        self._killed = True

    def close(self) -> None:
        """Drop the work not started and end the workers (the one in hand finishes; a
        killed pool is not waited for, nor one still starting: it holds no work)."""
        if not self.ready():
            self.kill()
        self._pool.shutdown(wait=not self._killed, cancel_futures=True)
        self._boot.join(timeout=None if not self._killed else 1.0)

    def __enter__(self) -> Pool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

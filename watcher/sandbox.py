"""Run a reader for a binary format in a child process with memory and time limits.

PDF and DOCX files are parsed by third-party code whose memory use follows the file: a
crafted PDF whose page stream inflates to gigabytes, or a page that sends the parser into
a long loop, would take the daemon with it. In a child process an address-space limit
(``RLIMIT_AS``) turns the first into a ``MemoryError`` and a wall-clock timeout ends the
second; either way the parent gets a :class:`~watcher.errors.ReadError` with the reason,
records the file as failed and goes on.

The child is ``python -m watcher.sandbox READER PATH LIMITS``, with the file's bytes on
stdin and one JSON object on stdout. The limits are set by the child on itself, before it
reads anything: ``preexec_fn`` is unsafe in a parent that runs threads, as the daemon does.
Where ``resource`` is missing (Windows) the child runs without a memory limit.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import signal
import subprocess
import sys
from pathlib import Path

from watcher.errors import ReadError
from watcher.models import Text

log = logging.getLogger(__name__)


def run(reader: str, data: bytes, path: Path, limits: object) -> Text:
    """Read ``data`` with ``readers.<reader>`` in a child process; raise ReadError on failure."""
    from watcher.readers import Limits

    assert isinstance(limits, Limits)
    command = [
        sys.executable,
        "-m",
        "watcher.sandbox",
        reader,
        str(path),
        json.dumps(dataclasses.asdict(limits)),
    ]
    try:
        done = subprocess.run(
            command, input=data, capture_output=True, timeout=limits.timeout, check=False
        )
    except subprocess.TimeoutExpired:
        raise ReadError(
            f"gave up after {limits.timeout:g} s (scan.read_timeout): the file takes too long "
            "to read"
        ) from None
    except OSError as exc:
        raise ReadError(f"cannot start the reader process: {exc}") from None
    for line in done.stderr.decode("utf-8", "replace").splitlines()[-20:]:
        log.debug("%s: reader: %s", path, line)
    try:
        answer = json.loads(done.stdout)
    except ValueError:
        answer = None
    if isinstance(answer, dict) and "error" in answer:
        raise ReadError(str(answer["error"]))
    if done.returncode == 0 and isinstance(answer, dict):
        return Text(text=answer["text"], encoding=answer["encoding"], markup=answer["markup"])
    if done.returncode < 0:
        name = signal.Signals(-done.returncode).name
        if -done.returncode == getattr(signal, "SIGXCPU", None):
            raise ReadError(f"gave up: the reader used more than {limits.timeout:g} s of CPU")
        raise ReadError(f"the reader process was killed ({name})")
    if b"MemoryError" in done.stderr:
        raise ReadError(_memory_message(limits.memory_mb))
    tail = done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no output"]
    raise ReadError(f"the reader process failed (exit {done.returncode}): {tail[0]}")


def _memory_message(memory_mb: int) -> str:
    return (
        f"needs more than {memory_mb} MB of memory to read (scan.read_memory_mb); "
        "the file may be a decompression bomb"
    )


def _limit_self(memory_mb: int, timeout: float) -> None:
    try:
        import resource
    except ImportError:  # Windows: no rlimits; the parent's timeout still applies
        return
    size = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (size, size))
    seconds = int(timeout) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (seconds, seconds + 1))


def _child(argv: list[str]) -> int:
    """The child's side: read stdin with the named reader, answer with one JSON object."""
    from watcher import readers

    reader, path, raw_limits = argv
    limits = readers.Limits(**json.loads(raw_limits))
    _limit_self(limits.memory_mb, limits.timeout)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    data = sys.stdin.buffer.read()
    try:
        text = readers.CONTAINED[reader](data, Path(path), limits)
        answer: dict[str, object] = {
            "text": text.text,
            "encoding": text.encoding,
            "markup": text.markup,
        }
    except ReadError as exc:
        answer = {"error": str(exc)}
    except MemoryError:
        answer = {"error": _memory_message(limits.memory_mb)}
    except RecursionError:
        answer = {"error": "the file nests too deeply to read (a damaged or hostile file)"}
    sys.stdout.write(json.dumps(answer, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(_child(sys.argv[1:]))

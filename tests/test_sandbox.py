"""The reader process: one per scan, replaced when a file kills it, bounded in time and
memory. Real child processes reading real PDFs (made by tests/docgen.py)."""

from __future__ import annotations

import datetime as dt
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import msgspec
import pytest

from tests import docgen
from tests.conftest import seed_files
from watcher import pipeline, sandbox
from watcher.config import Config
from watcher.errors import ReadError, ReaderUnavailable
from watcher.models import Page, Text
from watcher.readers import HTML_IN_PROCESS, Limits, read_bytes
from watcher.sandbox import Worker
from watcher.store import Store

pytest.importorskip("pdfminer")
pytest.importorskip("reportlab")
pytestmark = pytest.mark.skipif(os.name != "posix", reason="the worker needs POSIX pipes")

PDF = Path("page.pdf")


@pytest.fixture(scope="module")
def page() -> bytes:
    return docgen.to_pdf(seed_files()[4].read_text(encoding="utf-8"), columns=2)


def test_one_process_reads_many_files(page: bytes) -> None:
    with Worker(Limits()) as worker:
        first = read_bytes(PDF, page, worker.limits, worker)
        pid = worker.pid
        second = read_bytes(PDF, page, worker.limits, worker)
        assert worker.pid == pid and pid is not None
    assert first == second == read_bytes(PDF, page, Limits(isolate=False))
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # closing the worker ended (and reaped) its process


def test_after_a_bomb_the_next_file_gets_a_fresh_process(page: bytes) -> None:
    with Worker(Limits(memory_mb=256)) as worker:
        with pytest.raises(ReadError) as err:
            worker.read("pdf", docgen.flate_bomb_pdf(1000), PDF)
        assert str(err.value).startswith("needs more than 256 MB of memory to read")
        assert worker.pid is None  # that process is gone
        assert "# 加强两地交流合作 携手互促联动发展" in worker.read("pdf", page, PDF).text


def test_a_file_over_the_time_limit_is_given_up_and_the_next_is_read(page: bytes) -> None:
    with Worker(Limits(timeout=0.05)) as worker:
        with pytest.raises(ReadError) as err:
            worker.read("pdf", page, PDF)
        assert str(err.value) == (
            "gave up after 0.05 s (scan.read_timeout): the file takes too long to read"
        )
        assert worker.pid is None
        worker.limits = Limits(timeout=60)
        assert worker.read("pdf", page, PDF).encoding == "pdf"


def test_a_process_killed_between_files_is_replaced(page: bytes) -> None:
    with Worker(Limits()) as worker:
        worker.read("pdf", page, PDF)
        old = worker.pid
        assert old is not None
        os.kill(old, signal.SIGKILL)
        assert worker.read("pdf", page, PDF).encoding == "pdf"
        assert worker.pid not in (None, old)


def test_a_process_killed_while_reading_is_replaced_and_the_file_read_again() -> None:
    # A 500 MB page stream takes the reader a second or more to inflate: time to kill it.
    slow = docgen.flate_bomb_pdf(500)
    with Worker(Limits(memory_mb=4096)) as worker:
        worker.read("pdf", docgen.flate_bomb_pdf(1), PDF)
        pid = worker.pid
        assert pid is not None
        killer = threading.Timer(0.3, os.kill, (pid, signal.SIGKILL))
        killer.start()
        try:
            assert worker.read("pdf", slow, PDF).text == "flate bomb"
        finally:
            killer.cancel()
        assert worker.pid not in (None, pid)


def test_a_file_that_ends_the_process_every_time_fails_with_what_it_said(
    monkeypatch: pytest.MonkeyPatch, page: bytes
) -> None:
    # Says it is ready, then dies on the first file it is given.
    crash = (
        "import json, struct, sys\n"
        "ready = json.dumps({'ready': True}).encode()\n"
        "sys.stdout.buffer.write(struct.pack('>Q', len(ready)) + ready)\n"
        "sys.stdout.flush()\n"
        "sys.stdin.buffer.read(8)\n"
        "sys.stderr.write('Fatal Python error: Segmentation fault')\n"
        "sys.exit(3)\n"
    )
    monkeypatch.setattr(sandbox, "_child_command", lambda: [sys.executable, "-c", crash])
    with Worker(Limits()) as worker, pytest.raises(ReadError) as err:
        worker.read("pdf", page, PDF)
    assert str(err.value) == (
        "the reader process failed (exit 3): Fatal Python error: Segmentation fault"
    )


def test_the_process_is_replaced_every_so_many_files(page: bytes) -> None:
    with Worker(Limits()) as worker:
        worker.RECYCLE = 2
        pids = []
        for _ in range(3):
            worker.read("pdf", page, PDF)
            pids.append(worker.pid)
    assert pids[0] is not None and pids[1] is None and pids[2] not in (None, pids[0])


def test_a_reader_that_cannot_start_is_unavailable_not_a_bad_file(
    monkeypatch: pytest.MonkeyPatch, page: bytes
) -> None:
    monkeypatch.setattr(sandbox, "_child_command", lambda: ["/nonexistent/python"])
    with Worker(Limits()) as worker, pytest.raises(ReaderUnavailable) as err:
        worker.read("pdf", page, PDF)
    assert str(err.value).startswith("cannot start the reader process: ")
    with pytest.raises(ReaderUnavailable):
        sandbox.run("pdf", page, PDF, Limits())


def test_one_file_read_in_a_process_of_its_own(page: bytes) -> None:
    assert sandbox.run("pdf", page, PDF, Limits()) == read_bytes(PDF, page, Limits(isolate=False))
    with pytest.raises(ReadError) as err:
        sandbox.run("pdf", b"%PDF-1.4\n", PDF, Limits())
    assert str(err.value) == (
        "damaged PDF: the file is cut short (no %%EOF at its end); was the copy complete?"
    )


def test_an_answer_comes_back_as_it_was_sent() -> None:
    facts = Page(newspaper="湖南日报", date=dt.date(2021, 10, 29), page="04", section="要闻")
    for text in (Text("# 标题\n\n正文", "gb18030", "markdown", facts), Text("正文", "pdf")):
        answer = sandbox.Read(text=text)
        assert sandbox._ANSWER.decode(msgspec.json.encode(answer)) == answer
    failed = msgspec.json.encode(sandbox.Failed(error="damaged PDF: it has no pages"))
    assert failed == b'{"type":"failed","error":"damaged PDF: it has no pages","fatal":false}'
    with pytest.raises(ReadError) as err:
        sandbox._text(sandbox._ANSWER.decode(failed))
    assert str(err.value) == "damaged PDF: it has no pages"


@pytest.mark.parametrize(
    ("answer", "code", "message"),
    [
        (b"", 0, "the reader process failed (exit 0): no output"),
        (b"Segmentation fault", 0, "the reader process failed (exit 0): no output"),
        (b'{"text": "no type"}', 0, "the reader process failed (exit 0): no output"),
        (b'{"type": "read", "text": {"text": 1}}', 2, "the reader process failed (exit 2): boom"),
        (b'{"type": "failed", "error": "encrypted PDF"}', 2, "encrypted PDF"),
    ],
)
def test_a_process_that_answers_no_answer_fails_by_how_it_ended(
    monkeypatch: pytest.MonkeyPatch, answer: bytes, code: int, message: str
) -> None:
    child = (
        "import sys\n"
        "sys.stdin.buffer.read()\n"
        f"sys.stdout.buffer.write({answer!r})\n"
        f"sys.stderr.write('boom' if {code} else '')\n"
        f"sys.exit({code})\n"
    )
    monkeypatch.setattr(sandbox, "_child_command", lambda: [sys.executable, "-c", child])
    with pytest.raises(ReadError) as err:
        sandbox.run("pdf", b"%PDF", PDF, Limits())
    assert type(err.value) is ReadError and str(err.value) == message


def test_a_worker_that_sends_a_garbled_answer_fails_the_file_with_what_it_said(
    monkeypatch: pytest.MonkeyPatch, page: bytes
) -> None:
    # Ready, then it reads the request and the file and answers with what is no answer.
    garbled = (
        "import struct, sys\n"
        "def frame(data):\n"
        "    sys.stdout.buffer.write(struct.pack('>Q', len(data)) + data)\n"
        "    sys.stdout.flush()\n"
        "def receive():\n"
        "    return sys.stdin.buffer.read(struct.unpack('>Q', sys.stdin.buffer.read(8))[0])\n"
        "frame(b'{\"ready\": true}')\n"
        "receive(); receive()\n"
        'frame(b\'{"type": "read"}\')\n'
        "sys.stderr.write('answered before it had read anything')\n"
        "sys.exit(3)\n"
    )
    monkeypatch.setattr(sandbox, "_child_command", lambda: [sys.executable, "-c", garbled])
    with Worker(Limits()) as worker, pytest.raises(ReadError) as err:
        worker.read("pdf", page, PDF)
    assert type(err.value) is ReadError
    assert str(err.value) == (
        "the reader process failed (exit 3): answered before it had read anything"
    )


def test_sending_to_a_stuck_reader_is_bounded_by_the_timeout() -> None:
    # A stopped child reads nothing: writing 20 MB to it must still end at the deadline.
    big = b"%PDF-1.4\n" + b"0" * (20 << 20)
    with Worker(Limits(timeout=2)) as worker:
        worker.read("pdf", docgen.flate_bomb_pdf(1), PDF)
        pid = worker.pid
        assert pid is not None
        os.kill(pid, signal.SIGSTOP)
        started = time.monotonic()
        with pytest.raises(ReadError) as err:
            worker.read("pdf", big, PDF)
        assert time.monotonic() - started < 10
        assert str(err.value).startswith("gave up after 2 s")


@pytest.mark.parametrize(
    ("code", "kind", "message"),
    [
        (-signal.SIGTERM, ReaderUnavailable, "the reader process was stopped (SIGTERM)"),
        (-signal.SIGINT, ReaderUnavailable, "the reader process was stopped (SIGINT)"),
        (-signal.SIGKILL, ReadError, "the reader process was killed (SIGKILL)"),
        (
            -signal.SIGALRM,
            ReadError,
            "gave up after 120 s (scan.read_timeout): the file takes too long to read",
        ),
        (-40, ReadError, "the reader process was killed (signal 40)"),
        (1, ReadError, "the reader process failed (exit 1): no output"),
    ],
)
def test_how_a_reader_process_ended_says_whose_fault_it_was(
    code: int, kind: type[ReadError], message: str
) -> None:
    with pytest.raises(ReadError) as err:
        sandbox._raise_death(code, b"", Limits())
    assert type(err.value) is kind and str(err.value) == message


def test_a_memory_error_on_stderr_is_reported_as_the_memory_limit() -> None:
    with pytest.raises(ReadError) as err:
        sandbox._raise_death(1, b"Traceback...\nMemoryError\n", Limits(memory_mb=300))
    assert str(err.value).startswith("needs more than 300 MB of memory to read")


def test_a_scan_leaves_a_file_it_could_not_start_a_reader_for_to_the_next_scan(
    monkeypatch: pytest.MonkeyPatch, make_config: Callable[..., Config], page: bytes
) -> None:
    cfg = make_config()
    (cfg.inbox / "page.pdf").write_bytes(page)
    os.utime(cfg.inbox / "page.pdf", (1_600_000_000, 1_600_000_000))
    with monkeypatch.context() as patch:
        patch.setattr(sandbox, "_child_command", lambda: ["/nonexistent/python"])
        with Store(cfg.state) as store:
            first = pipeline.scan(cfg, store)
    assert (first.failed, first.new, first.waiting) == (0, 0, 1)
    with Store(cfg.state) as store:
        second = pipeline.scan(cfg, store)
    assert (second.failed, second.new, second.articles) == (0, 1, 8)


def test_a_large_html_page_is_read_in_the_reader_process_with_its_facts() -> None:
    pytest.importorskip("trafilatura")
    seed = seed_files()[1].read_text(encoding="utf-8")  # the one-article web page
    page = docgen.to_html_article(seed)
    # Padding in a comment: the same page, but over the in-process size.
    big = page.replace(b"</body>", b"<!--" + b" " * HTML_IN_PROCESS + b"--></body>")
    with Worker(Limits()) as worker:
        small_text = read_bytes(Path("a.html"), page, worker.limits, worker)
        assert worker.pid is None  # a small page is read here
        big_text = read_bytes(Path("a.html"), big, worker.limits, worker)
        assert worker.pid is not None  # a big one there
    assert big_text == small_text
    assert big_text.page is not None and big_text.page.newspaper == "湖南日报"


def test_stop_ends_the_read_in_hand_at_once_and_leaves_the_file() -> None:
    # SIGTERM to the daemon calls sandbox.stop_all(): a long read must not hold the stop.
    slow = docgen.flate_bomb_pdf(2000)  # several seconds of inflating
    with Worker(Limits(memory_mb=4096, timeout=120)) as worker:
        worker.read("pdf", docgen.flate_bomb_pdf(1), PDF)
        stopper = threading.Timer(0.3, sandbox.stop_all)
        stopper.start()
        started = time.monotonic()
        try:
            with pytest.raises(ReaderUnavailable) as info:
                worker.read("pdf", slow, PDF)
        finally:
            stopper.cancel()
        assert time.monotonic() - started < 3
        assert str(info.value) == sandbox.STOPPED
        with pytest.raises(ReaderUnavailable):  # and no new process is started
            worker.read("pdf", docgen.flate_bomb_pdf(1), PDF)

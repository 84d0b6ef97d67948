"""The fault battery: watcher attacked the ways a production day attacks it.

Every kind of fault is a function below that builds temporary installations
(:class:`Site`), drives the real command line (``python -m watcher``) in
subprocesses against servers on 127.0.0.1 (``tests/servers.py``), recovers the way
an operator would (restart, rescan, ``digest --send``), and returns one
:class:`Tally` per fault kind. ``tests/faults/test_*.py`` run a seeded sample of
few trials (``WATCHER_FAULT_TRIALS`` for more, ``WATCHER_FAULT_SEED`` for another
sample); ``python bench/faults.py`` runs the whole battery and prints the table.

What is counted, per trial (all zeros expected):

* **lost** — a row (document, article, file record, match, topic) or a delivery (an
  e-mail to a recipient, one part of a chat digest) that an uninterrupted run has
  and the faulted run, after recovery, does not.
* **duplicated** — a row the uninterrupted run does not have, or a message accepted
  more than once (SMTP messages per recipient, HTTP posts per part key): a second
  copy under another key, or — where no process was killed — under the same key.
* **crashed** — a process exiting with an internal error (exit code 2, or
  "internal error" with a traceback), killed by a signal nobody sent, hanging past
  its bound, a daemon dying, or a command that should succeed failing (for the
  concurrency kinds: "database is locked").
* **unclear** — an error message for the user that does not name what it concerns:
  for delivery faults the server (``smtp 127.0.0.1:PORT``, ``webhook KIND
  (127.0.0.1)``) and the cause (the reply code, "refused", "timed out"); for the inbox
  the file; for a full disk the full place (the state file or report folder) and
  that it is full.
* **other** — a promise broken that fits no column above: a send outliving its
  timeout by more than :data:`SLACK`; a failed delivery not left pending, wrongly
  classified, or retried against its ``Retry-After`` or permanent wait; a file read
  through a link out of the inbox; a reader process outliving its scan.
* **resent** (shown apart) — the same idempotency key accepted twice after a
  process was *killed*: README's one window for a duplicate (killed after the server
  accepted and before the store recorded it); receivers honouring Message-ID and
  Idempotency-Key file it once.

A server "accepts" what a real service would have delivered: an SMTP message whose
DATA it took, an HTTP post it answered 2xx without an error code, in full.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import email.utils
import functools
import json
import os
import random
import re
import resource
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.conftest import ROOT, seed_files
from tests.servers import (
    HANG_UP,
    HOST,
    Act,
    FaultHttpServer,
    FaultySmtpHandler,
    ScriptedTcpServer,
    SmtpServer,
    fault_http_server,
    free_port,
    greet_and_close,
    hang,
    refuse_all,
    smtp_server_with,
    trickle,
)

TRIALS_ENV = "WATCHER_FAULT_TRIALS"
SEED_ENV = "WATCHER_FAULT_SEED"
DEFAULT_SEED = 20261121
OLD = 1_600_000_000  # an mtime long settled
TIMEOUT = 2.0  # email.timeout and every webhook's timeout in the battery
SLACK = 1.5  # seconds an attempt may outlive its timeout (thread wake-up, a loaded CI)
COMMAND_TIMEOUT = 120.0  # no command of the battery may run longer than this
COLUMNS = ("lost", "duplicated", "crashed", "unclear", "other")


def trials(default: int) -> int:
    """How many trials a kind runs: ``$WATCHER_FAULT_TRIALS`` if set, else ``default``."""
    value = os.environ.get(TRIALS_ENV, "").strip()
    return max(1, int(value)) if value else default


def rng_for(kind: str) -> random.Random:
    """A random source for one kind of fault, seeded from ``$WATCHER_FAULT_SEED``."""
    return random.Random(f"{os.environ.get(SEED_ENV, DEFAULT_SEED)}:{kind}")


# --------------------------------------------------------------------------- tallies


@dataclass
class Tally:
    """What one kind of fault did over its trials; ``notes`` say what each count was."""

    kind: str
    trials: int = 0
    lost: int = 0
    duplicated: int = 0
    crashed: int = 0
    unclear: int = 0
    other: int = 0
    resent: int = 0
    skipped: str | None = None  # why the kind could not run here
    notes: list[str] = field(default_factory=list)
    trace: list[str] = field(default_factory=list)  # what each trial did (for --verbose)

    def count(self, column: str, n: int, note: str) -> None:
        if n:
            setattr(self, column, getattr(self, column) + n)
            self.notes.append(f"{column} +{n}: {note}")

    @property
    def clean(self) -> bool:
        return all(getattr(self, c) == 0 for c in COLUMNS)

    def report(self) -> str:
        counts = ", ".join(f"{c} {getattr(self, c)}" for c in (*COLUMNS, "resent"))
        lines = [f"{self.kind}: {self.trials} trial(s): {counts}", *self.notes]
        return "\n  ".join(lines)


def table(tallies: Iterable[Tally]) -> str:
    """The battery's results as a Markdown table."""
    head = "| kind of fault | trials | lost | duplicated | crashed | unclear errors | other |"
    head += " resent (same key) |"
    out = [head, "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for t in tallies:
        if t.skipped:
            out.append(f"| {t.kind} | skipped: {t.skipped} | | | | | | |")
            continue
        cells = [t.kind, t.trials, *(getattr(t, c) for c in COLUMNS), t.resent]
        out.append("| " + " | ".join(str(c) for c in cells) + " |")
    return "\n".join(out)


# ----------------------------------------------------------------------- processes


@dataclass(frozen=True)
class Run:
    """A finished command: exit code, output, wall time."""

    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str
    elapsed: float
    timed_out: bool = False

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    @property
    def internal_error(self) -> bool:
        """Exit 2, a signal nobody sent, a hang, or "internal error" with a traceback."""
        traceback = "internal error" in self.output and "Traceback" in self.output
        return self.returncode == 2 or self.returncode < 0 or self.timed_out or traceback

    def tail(self, lines: int = 6) -> str:
        text = self.output.strip().splitlines()[-lines:] if lines else []
        return f"exit {self.returncode}{' (timed out)' if self.timed_out else ''}: " + " | ".join(
            text
        )


def internal_error_in(text: str) -> bool:
    return "internal error" in text or "Traceback" in text


def _finish(
    proc: subprocess.Popen[str], argv: Sequence[str], started: float, timeout: float
) -> Run:
    timed_out = False
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        proc.kill()
        out, err = proc.communicate(timeout=30)
    return Run(tuple(argv), proc.returncode, out, err, time.monotonic() - started, timed_out)


def noon_zone(now: dt.datetime | None = None) -> str:
    """A fixed-offset zone where it is about noon: no trial straddles a digest day."""
    now = now or dt.datetime.now(dt.UTC)
    offset = max(-12, min(14, round(12 - now.hour - now.minute / 60)))
    if offset == 0:
        return "UTC"
    return f"Etc/GMT{'-' if offset > 0 else '+'}{abs(offset)}"  # POSIX signs are inverted


def clock_in(tz: str, seconds: float) -> str:
    """The local time ``seconds`` from now in ``tz``, as HH:MM:SS."""
    from zoneinfo import ZoneInfo

    return (dt.datetime.now(ZoneInfo(tz)) + dt.timedelta(seconds=seconds)).strftime("%H:%M:%S")


# --------------------------------------------------------------------------- sites

VOLATILE = frozenset({"first_seen", "seen_at", "matched_at", "retry_at"})
TABLES = ("documents", "articles", "files", "matches", "topics")


class Site:
    """A temporary installation: config, inbox, watchlists, state, reports, logs.

    ``state_from`` copies a prepared state file (seeds already scanned); ``cache``
    links the jieba cache folder of another site, so no site builds its own.
    """

    def __init__(
        self,
        root: Path,
        *,
        tz: str,
        inbox: Path | None = None,
        state_dir: Path | None = None,
        out_dir: Path | None = None,
        cache: Path | None = None,
        state_from: Path | None = None,
    ) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.inbox = inbox or root / "inbox"
        self.inbox.mkdir(parents=True, exist_ok=True)
        self.watchlists = root / "watchlists"
        if not self.watchlists.exists():
            shutil.copytree(ROOT / "config" / "watchlists", self.watchlists)
        self.state = (state_dir or root / "state") / "watcher.db"
        self.state.parent.mkdir(parents=True, exist_ok=True)
        self.out_dir = out_dir or root / "reports"
        self.tz = tz
        self.config = root / "watcher.yaml"
        self.env: dict[str, str] = {}
        self.email: dict[str, Any] | None = None
        self.webhooks: list[dict[str, Any]] = []
        self.scan: dict[str, Any] = {"settle_seconds": 0, "read_memory_mb": 256}
        self.schedule: dict[str, Any] = {
            "scan_every": "1s",
            "digest_at": "23:59:59",
            "retry_after": "1s",
        }
        if cache is not None:
            (self.state.parent / "cache").symlink_to(cache, target_is_directory=True)
        if state_from is not None:
            for suffix in ("", "-wal", "-shm"):
                src = Path(f"{state_from}{suffix}")
                if src.exists():
                    shutil.copy2(src, f"{self.state}{suffix}")
        self._n = 0
        self.write_config()

    # --- configuration -----------------------------------------------------------

    def mail_to(self, port: int, recipients: Sequence[str], **extra: Any) -> None:
        self.email = {
            "enabled": True,
            "host": HOST,
            "port": port,
            "security": "none",
            "from": "watcher 日报 <watcher@example.com>",
            "to": list(recipients),
            "timeout": TIMEOUT,
            **extra,
        }
        self.write_config()

    def hook(self, name: str, kind: str, url: str, **extra: Any) -> str:
        """Add a webhook (its URL in the environment, as in production); returns its env name."""
        env = "URL_" + re.sub(r"[^A-Z0-9]", "_", name.upper())
        self.env[env] = url
        self.webhooks.append(
            {"name": name, "kind": kind, "url_env": env, "timeout": TIMEOUT, **extra}
        )
        self.write_config()
        return env

    def write_config(self) -> None:
        lines = [
            f"inbox: {json.dumps(str(self.inbox))}",
            f"state: {json.dumps(str(self.state))}",
            f"watchlists: {json.dumps(str(self.watchlists))}",
            f"timezone: {self.tz}",
            "log_level: INFO",
            "scan:",
            *(f"  {k}: {json.dumps(v)}" for k, v in self.scan.items()),
            "schedule:",
            *(f"  {k}: {json.dumps(v)}" for k, v in self.schedule.items()),
            "digest:",
            f"  out_dir: {json.dumps(str(self.out_dir))}",
        ]
        if self.email is not None:
            lines.append("email:")
            lines += [f"  {k}: {json.dumps(v, ensure_ascii=False)}" for k, v in self.email.items()]
        if self.webhooks:
            lines.append("webhooks:")
            lines += [f"  - {json.dumps(h, ensure_ascii=False)}" for h in self.webhooks]
        self.config.write_text("\n".join(lines) + "\n", encoding="utf-8")

    # --- commands -----------------------------------------------------------------

    def argv(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "watcher", "--config", str(self.config), *args]

    def proc_env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("WATCHER_", "URL_"))}
        return {**env, "PYTHONUNBUFFERED": "1", **self.env, **(extra or {})}

    def cli(
        self,
        *args: str,
        timeout: float = COMMAND_TIMEOUT,
        env: dict[str, str] | None = None,
        preexec: Callable[[], None] | None = None,
    ) -> Run:
        """Run one command to its end (bounded by ``timeout``)."""
        proc = self.start(*args, env=env, preexec=preexec, pipe=True)
        run = _finish(proc, self.argv(*args), time.monotonic(), timeout)
        self._n += 1  # kept for a post-mortem of a failed trial
        (self.root / f"cmd{self._n}.txt").write_text(
            f"$ {' '.join(args)}\n{run.tail(0)}\n{run.output}", encoding="utf-8"
        )
        return run

    def start(
        self,
        *args: str,
        env: dict[str, str] | None = None,
        preexec: Callable[[], None] | None = None,
        pipe: bool = False,
    ) -> subprocess.Popen[str]:
        """Start a command; its output goes to pipes, or to ``logN.out``/``logN.err``."""
        if pipe:
            out: Any = subprocess.PIPE
            err: Any = subprocess.PIPE
        else:
            self._n += 1
            out = (self.root / f"log{self._n}.out").open("w")
            err = (self.root / f"log{self._n}.err").open("w")
        try:
            return subprocess.Popen(
                self.argv(*args),
                stdout=out,
                stderr=err,
                text=True,
                errors="replace",
                cwd=self.root,
                env=self.proc_env(env),
                preexec_fn=preexec,  # only for the full-disk emulation (no threads here)
            )
        finally:
            if not pipe:
                out.close()
                err.close()

    def logs(self) -> str:
        """Everything the started (not piped) commands wrote."""
        return "".join(
            p.read_text(encoding="utf-8", errors="replace")
            for n in range(1, self._n + 1)
            for p in (self.root / f"log{n}.out", self.root / f"log{n}.err")
            if p.exists()
        )

    # --- the state ----------------------------------------------------------------

    def query(self, sql: str, args: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        if not self.state.exists():
            return []
        con = sqlite3.connect(self.state, timeout=10)
        try:
            return con.execute(sql, args).fetchall()
        except sqlite3.OperationalError:
            return []  # not created yet (a process killed before its first migration)
        finally:
            con.close()

    def count(self, sql: str, args: Sequence[object] = ()) -> int:
        rows = self.query(sql, args)
        return int(rows[0][0]) if rows and rows[0][0] is not None else 0

    def snapshot(self, tables: Sequence[str] = TABLES) -> Counter[tuple[Any, ...]]:
        return snapshot(self.state, tables)

    def deliveries(self) -> dict[str, dict[str, Any]]:
        """The delivery rows by channel (today's, the only day a battery makes)."""
        con = sqlite3.connect(self.state, timeout=10)
        con.row_factory = sqlite3.Row
        try:
            return {r["channel"]: dict(r) for r in con.execute("SELECT * FROM deliveries")}
        finally:
            con.close()


def snapshot(db: Path, tables: Sequence[str] = TABLES) -> Counter[tuple[Any, ...]]:
    """Every row of the stored tables, volatile columns (times) left out; new columns
    count automatically."""
    rows: Counter[tuple[Any, ...]] = Counter()
    if not db.exists():
        return rows
    con = sqlite3.connect(db, timeout=10)
    try:
        for table_name in tables:
            cur = con.execute(f"SELECT * FROM {table_name}")
            keep = [i for i, d in enumerate(cur.description) if d[0] not in VOLATILE]
            for row in cur:
                rows[(table_name, *(row[i] for i in keep))] += 1
    finally:
        con.close()
    return rows


def compare_rows(
    tally: Tally,
    expected: Counter[tuple[Any, ...]],
    got: Counter[tuple[Any, ...]],
    what: str,
) -> None:
    """Lost: rows the uninterrupted run has and this one lacks; duplicated: the reverse."""
    missing, extra = expected - got, got - expected

    def show(rows: Counter[tuple[Any, ...]]) -> str:
        shown = ["(" + ", ".join(str(v)[:40] for v in row[:4]) + ", …)" for row in list(rows)[:3]]
        by_table = Counter(row[0] for row in rows.elements())
        return f"{dict(by_table)} e.g. {'; '.join(shown)}"

    tally.count("lost", sum(missing.values()), f"{what}: rows missing: {show(missing)}")
    tally.count(
        "duplicated", sum(extra.values()), f"{what}: rows not in the clean run: {show(extra)}"
    )


# --------------------------------------------------------------------------- pages


def seed_texts() -> list[str]:
    return [f.read_text(encoding="utf-8") for f in seed_files()]


def put(path: Path, data: bytes, mtime: float = OLD) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    os.utime(path, (mtime, mtime))
    return path


def _docx(text: str) -> bytes | None:
    try:
        from tests import docgen

        return docgen.to_docx(text)
    except ImportError:  # python-docx missing: the page stays text
        return None


def write_pages(
    inbox: Path, n: int, rng: random.Random, *, tag: str = "p", mixed: bool = True
) -> None:
    """``n`` distinct pages made from the seeds (a few as Markdown, HTML and DOCX, in
    sub-folders), plus, when ``mixed``, a copy, an empty file and a picture."""
    from tests import docgen

    texts = seed_texts()
    for i in range(n):
        text = texts[i % len(texts)] + f"\n\n{tag}附注{i}：编号{rng.randrange(10**9)}。\n"
        folder = inbox / (f"day{i % 3}" if mixed else "")
        data, suffix = text.encode("utf-8"), ".txt"
        if mixed and i % 17 == 3:
            data, suffix = docgen.to_markdown(text), ".md"
        elif mixed and i % 23 == 5:
            data, suffix = docgen.to_html_epaper(text), ".html"
        elif mixed and i % 37 == 7 and (docx := _docx(text)) is not None:
            data, suffix = docx, ".docx"
        put(folder / f"{tag}{i:04d}{suffix}", data)
    if mixed:
        first = sorted(inbox.rglob(f"{tag}0000.*"))[0]
        put(inbox / "copies" / f"{tag}-copy{first.suffix}", first.read_bytes())
        put(inbox / f"{tag}-empty.txt", b"")
        put(inbox / f"{tag}-picture.png", b"\x89PNG\r\n\x1a\n")


@dataclass(frozen=True)
class Template:
    """A site whose inbox holds the five seeds, scanned once: its state file and jieba
    cache are copied or linked by the sites of the battery."""

    site: Site

    @property
    def cache(self) -> Path:
        return self.site.state.parent / "cache"

    @property
    def state(self) -> Path:
        return self.site.state

    @property
    def inbox(self) -> Path:
        return self.site.inbox

    @property
    def tz(self) -> str:
        return self.site.tz


def make_template(work: Path) -> Template:
    site = Site(work / "template", tz=noon_zone())
    for f in seed_files():
        put(site.inbox / f.name, f.read_bytes())
    run = site.cli("scan", "--no-progress")
    if run.returncode != 0 or site.count("SELECT count(*) FROM documents") != 5:
        raise RuntimeError(f"the template scan of the seeds failed: {run.tail(20)}")
    return Template(site)


def seeded_site(template: Template, root: Path, **kw: Any) -> Site:
    """A site whose state holds the scanned seeds (sharing the template's inbox)."""
    return Site(
        root, tz=template.tz, inbox=template.inbox, cache=template.cache,
        state_from=template.state, **kw,
    )  # fmt: skip


# ------------------------------------------------------------- kill at a random point


def _children(pid: int) -> list[Any]:
    try:
        import psutil

        return list(psutil.Process(pid).children(recursive=True))
    except Exception:  # psutil missing, or the process already gone
        return []


def kill_when(
    proc: subprocess.Popen[str], when: Callable[[], bool], limit: float
) -> tuple[bool, list[Any]]:
    """SIGKILL ``proc`` once ``when()`` holds (polled every 5 ms, at most ``limit`` s).
    Returns (killed, its child processes at that moment); False if it ended first."""
    deadline = time.monotonic() + limit
    while proc.poll() is None and time.monotonic() < deadline and not when():
        time.sleep(0.005)
    if proc.poll() is not None:
        return False, []
    children = _children(proc.pid)
    with contextlib.suppress(ProcessLookupError):
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    return True, children


def after(seconds: float) -> Callable[[], bool]:
    end = time.monotonic() + seconds
    return lambda: time.monotonic() >= end


def then(check: Callable[[], bool], delay: float) -> Callable[[], bool]:
    """Holds ``delay`` seconds after ``check`` first held."""
    since: list[float] = []

    def held() -> bool:
        if not since and check():
            since.append(time.monotonic())
        return bool(since) and time.monotonic() >= since[0] + delay

    return held


def orphans(children: Iterable[Any], grace: float = 10.0) -> list[int]:
    """Child processes of a killed command still running after ``grace`` seconds (killed
    then, by their pid: they were started by this battery)."""
    deadline = time.monotonic() + grace
    left = list(children)
    while left and time.monotonic() < deadline:
        left = [c for c in left if _running(c)]
        if left:
            time.sleep(0.1)
    for c in left:
        with contextlib.suppress(Exception):
            c.kill()
    return [c.pid for c in left]


def _running(child: Any) -> bool:
    try:
        return bool(child.is_running() and child.status() != "zombie")
    except Exception:
        return False


SCAN_LINE = re.compile(r"scan: (\d+) new, (\d+) unchanged")


def scanned_new(run: Run) -> int:
    m = SCAN_LINE.search(run.stdout)
    return int(m.group(1)) if m else 0


def scan_kills(work: Path, template: Template, n_trials: int, pages: int = 40) -> Tally:
    """``watcher scan`` SIGKILLed once or twice at a random point (a random time over its
    run, or as the k-th document is stored), then run again: the store must equal that
    of one uninterrupted scan, row by row."""
    tally = Tally("scan: SIGKILL at a random point, then rescan")
    rng = rng_for(tally.kind)
    inbox = work / "scan-kills" / "inbox"
    write_pages(inbox, pages, rng)
    ref = Site(work / "scan-kills" / "clean", tz=template.tz, inbox=inbox, cache=template.cache)
    clean = ref.cli("scan", "--no-progress")
    if clean.returncode != 0 or clean.internal_error:
        tally.count("crashed", 1, f"the uninterrupted scan failed: {clean.tail()}")
        return tally
    expected, t_clean = ref.snapshot(), clean.elapsed
    documents = ref.count("SELECT count(*) FROM documents WHERE status = 'ok'")
    for trial in range(n_trials):
        tally.trials += 1
        site = Site(
            work / "scan-kills" / f"trial{trial}", tz=template.tz, inbox=inbox,
            cache=template.cache,
        )  # fmt: skip
        points = []
        for _kill in range(rng.choice((1, 1, 2))):
            proc = site.start("scan", "--no-progress")
            if rng.random() < 0.3:
                at = rng.uniform(0.0, t_clean)
                killed, kids = kill_when(proc, after(at), COMMAND_TIMEOUT)
                points.append(f"at {at:.2f}s")
            else:
                k = rng.randrange(0, documents)

                def stored(k: int = k, site: Site = site) -> bool:
                    return site.count("SELECT count(*) FROM documents WHERE status = 'ok'") > k

                killed, kids = kill_when(proc, stored, COMMAND_TIMEOUT)
                points.append(f"after document {k + 1}")
            if not killed:
                points[-1] += " (had finished)"
            left = orphans(kids)
            tally.count(
                "other",
                len(left),
                f"trial {trial}: reader process(es) {left} outlived the killed scan",
            )
        again = site.cli("scan", "--no-progress")
        where = f"trial {trial} (killed {', '.join(points)})"
        tally.trace.append(where)
        if again.internal_error or again.returncode != 0:
            tally.count("crashed", 1, f"{where}: the rescan failed: {again.tail()}")
        compare_rows(tally, expected, site.snapshot(), where)
    return tally


# ----------------------------------------------------------------- deliveries, counted


def mail_and_posts(
    smtps: Iterable[SmtpServer], hooks: Iterable[FaultHttpServer]
) -> Counter[tuple[str, str, str]]:
    """What the servers accepted: ("mail", recipient, Message-ID) and ("post", path,
    Idempotency-Key), with how many times."""
    got: Counter[tuple[str, str, str]] = Counter()
    for smtp in smtps:
        for mail in smtp.mails:
            for rcpt in mail.rcpt_tos:
                got[("mail", rcpt, str(mail.message["Message-ID"]))] += 1
    for hook in hooks:
        for req in hook.accepted():
            got[("post", req.path, req.headers.get("idempotency-key", ""))] += 1
    return got


def compare_deliveries(
    tally: Tally,
    expected: Counter[tuple[str, str, str]],
    got: Counter[tuple[str, str, str]],
    what: str,
    *,
    killed: bool,
) -> None:
    """Lost: an expected message (recipient or part key) never accepted. Duplicated: a
    message accepted under a key the clean run did not use, or twice under one key —
    except after a kill, where a same-key repeat is the documented window (resent)."""
    lost = [k for k in expected if got[k] == 0]
    tally.count("lost", len(lost), f"{what}: never accepted: {lost[:4]}")
    strangers = [k for k in got if k not in expected]
    tally.count(
        "duplicated",
        sum(got[k] for k in strangers),
        f"{what}: accepted under new keys: {strangers[:4]}",
    )
    repeats = {k: got[k] - 1 for k in got if k in expected and got[k] > 1}
    if killed:
        tally.count(
            "resent", sum(repeats.values()), f"{what}: same key accepted again: {list(repeats)[:4]}"
        )
    else:
        tally.count(
            "duplicated", sum(repeats.values()), f"{what}: accepted twice: {list(repeats)[:4]}"
        )


RECIPIENTS = ("analyst@example.com", "editor@example.com", "desk@example.com")


@contextlib.contextmanager
def delivery_site(
    template: Template, root: Path, *, data_delay: float = 0.0
) -> Iterator[tuple[Site, SmtpServer, FaultHttpServer]]:
    """A seeded site delivering by e-mail to three recipients and to two chat bots (a
    WeCom bot that gets the digest in several parts, and a generic JSON hook)."""
    with (
        smtp_server_with(FaultySmtpHandler(data_delay=data_delay)) as smtp,
        fault_http_server() as http,
    ):
        site = seeded_site(template, root)
        site.mail_to(smtp.port, RECIPIENTS)
        site.hook("team", "wecom", http.url("/team"))
        site.hook("tool", "json", http.url("/tool"))
        yield site, smtp, http


def delivery_kills(work: Path, template: Template, n_trials: int) -> Tally:
    """``watcher digest --send`` or ``watcher run --once --digest-now`` SIGKILLed at a
    random point (a random time, or just after the k-th message was accepted), then
    ``watcher digest --send``: every recipient and every chat part gets the digest once."""
    tally = Tally("delivery: SIGKILL at a random point, then digest --send")
    rng = rng_for(tally.kind)
    with delivery_site(template, work / "delivery-kills" / "clean") as (ref, smtp, http):
        clean = ref.cli("digest", "--send")
        expected = mail_and_posts([smtp], [http])
    if clean.returncode != 0 or clean.internal_error:
        tally.count("crashed", 1, f"the uninterrupted digest --send failed: {clean.tail()}")
        return tally
    rows = {c: (r["key"], r["status"], r["parts_sent"]) for c, r in ref.deliveries().items()}
    t_clean, total = clean.elapsed, sum(expected.values())
    commands = (("digest", "--send"), ("run", "--once", "--digest-now"))
    for trial in range(n_trials):
        tally.trials += 1
        root = work / "delivery-kills" / f"trial{trial}"
        delay = rng.choice((0.0, 0.05))
        with delivery_site(template, root, data_delay=delay) as (site, smtp, http):
            command = rng.choice(commands)
            proc = site.start(*command)
            if rng.random() < 0.4:
                at = rng.uniform(0.0, t_clean)
                killed, _ = kill_when(proc, after(at), COMMAND_TIMEOUT)
                point = f"at {at:.2f}s"
            else:
                k = rng.randrange(0, total)
                extra = rng.uniform(0.0, 0.02)

                def got_k(
                    k: int = k, smtp: SmtpServer = smtp, http: FaultHttpServer = http
                ) -> bool:
                    return len(smtp.handler.mails) + len(http.accepted()) > k  # cheap: no parsing

                killed, _ = kill_when(proc, then(got_k, extra), COMMAND_TIMEOUT)
                point = f"after message {k + 1} (+{extra * 1000:.0f} ms)"
            where = f"trial {trial} ({' '.join(command)} killed {point})"
            if not killed:
                where += " (had finished)"
            tally.trace.append(where)
            time.sleep(delay * 2 + 0.05)  # a DATA in progress at the kill ends server-side
            again = site.cli("digest", "--send")
            if again.internal_error or again.returncode != 0:
                tally.count("crashed", 1, f"{where}: digest --send failed: {again.tail()}")
            got = mail_and_posts([smtp], [http])
            compare_deliveries(tally, expected, got, where, killed=killed)
            now = {
                c: (r["key"], r["status"], r["parts_sent"]) for c, r in site.deliveries().items()
            }
            wrong = {c: now.get(c) for c in rows if now.get(c) != rows[c]}
            tally.count(
                "lost", len(wrong), f"{where}: delivery rows unlike the clean run's: {wrong}"
            )
            days = [d for (d,) in site.query("SELECT day FROM digests")]
            tally.count("duplicated", max(0, len(days) - 1), f"{where}: {len(days)} digests stored")
            reports = [f"{d}.{ext}" for d in days for ext in ("html", "json", "md")] + [
                "index.html"
            ]
            missing = [n for n in reports if not (site.out_dir / n).is_file()]
            tally.count("lost", len(missing), f"{where}: report files missing: {missing}")
    return tally


# ------------------------------------------------------------------- server faults


@dataclass
class Fault:
    """One misbehaving server and what watcher must make of it."""

    kind: str
    failure: str  # the classification expected: 'transient' or 'permanent'
    causes: tuple[str, ...]  # what the error message must say, besides the server
    channel: str  # the delivery channel it hits
    server: str  # how messages must name the server
    retry_after: float | None = None  # the wait the server asked for
    held: Callable[[], list[float | None]] | None = None  # how long each attempt held it
    early: float = 0.5  # how much sooner than asked the retry may be scheduled
    parts_sent: int | None = None  # chat parts that must be recorded as posted


def check_failed(tally: Tally, f: Fault, site: Site, run: Run, where: str) -> None:
    """After the faulted send: the delivery is pending, classified, timed and explained."""
    if run.internal_error:
        tally.count("crashed", 1, f"{where}: {' '.join(run.argv[4:])}: {run.tail()}")
    row = site.deliveries().get(f.channel)
    if row is None:
        tally.count("lost", 1, f"{where}: no delivery row for {f.channel}")
        return
    if row["status"] != "pending":
        tally.count("other", 1, f"{where}: status {row['status']!r} after the failure, not pending")
        return
    error = row["last_error"] or ""
    if row["failure"] != f.failure:
        tally.count(
            "other", 1, f"{where}: classified {row['failure']!r}, not {f.failure!r}: {error}"
        )
    missing = [w for w in (f.server, *f.causes) if w not in error]
    if missing:
        tally.count("unclear", 1, f"{where}: error {error!r} does not say {missing}")
    shown = [ln for ln in run.stdout.splitlines() if f.channel + ":" in ln and "failed" in ln]
    if not shown or f.server not in shown[0]:
        tally.count(
            "unclear", 1, f"{where}: the command's output does not show the error: {run.tail()}"
        )
    if run.returncode != 1:
        tally.count("other", 1, f"{where}: exit {run.returncode} after a failed delivery, not 1")
    last = dt.datetime.fromisoformat(row["last_attempt"])
    wait = (dt.datetime.fromisoformat(row["next_attempt"]) - last).total_seconds()
    base = f.retry_after if f.retry_after is not None else 1.0  # schedule.retry_after
    if f.failure == "permanent":
        if wait < 3600 - 1:
            tally.count(
                "other", 1, f"{where}: a permanent error retried after {wait:.0f}s, not ≥ 1 h"
            )
    elif not base - f.early <= wait <= base + TIMEOUT + 3:
        tally.count("other", 1, f"{where}: next attempt in {wait:.1f}s, expected ≈ {base:g}s")
    if f.parts_sent is not None and row["parts_sent"] != f.parts_sent:
        tally.count("other", 1, f"{where}: parts_sent {row['parts_sent']}, expected {f.parts_sent}")
    if f.held is not None:
        held = f.held()
        if not held or any(h is None or h > TIMEOUT + SLACK for h in held):
            shown_held = ", ".join(f"{h:.1f}s" if h is not None else "still open" for h in held)
            tally.count(
                "other",
                1,
                f"{where}: the attempt held the server {shown_held}; timeout {TIMEOUT:g}s",
            )


def one_copy(tally: Tally, got: Counter[tuple[str, str, str]], who: str, where: str) -> None:
    """``who`` (a recipient or a chat path) was accepted exactly one message."""
    mine = [(k, n) for k, n in got.items() if k[1] == who]
    copies = sum(n for _, n in mine)
    if copies == 0:
        tally.count("lost", 1, f"{where}: {who} never got the digest")
    elif copies > 1:
        ids = [k[2][:40] for k, _ in mine]
        tally.count("duplicated", copies - 1, f"{where}: {who} got {copies} copies ({ids})")


SMTP_CONNECTION_FAULTS = (
    ("smtp: connection refused", "transient", ("refused",)),
    ("smtp: 554 greeting, then 554 to everything", "permanent", ("554",)),
    ("smtp: 421 greeting, then hangs up", "transient", ("421",)),
    ("smtp: hangs (accepts, never speaks)", "transient", ("timed out",)),
    ("smtp: trickles its greeting (a byte a second)", "transient", ("timed out",)),
)
# (kind, failure, causes, recipient, RCPT reply, DATA reply)
SMTP_RECIPIENT_FAULTS = (
    ("smtp: 550 unknown recipient", "permanent", ("550",), "gone@example.com",
     "550 5.1.1 no such user", None),
    ("smtp: 451 greylisted recipient", "transient", ("451",), "grey@example.com",
     "451 4.7.1 greylisted, try again later", None),
    # The channel names the recipient; a refusal at DATA concerns the message, not an address.
    ("smtp: 452 at DATA", "transient", ("452",), "full@example.com",
     None, "452 4.3.1 insufficient system storage"),
    ("smtp: hangs up during DATA", "transient", ("closed",), "drop@example.com",
     None, HANG_UP),
)  # fmt: skip


def smtp_faults(work: Path, template: Template, n_trials: int) -> list[Tally]:
    """SMTP servers that refuse connections, greet with 554 or 421, hang, trickle, refuse
    one recipient at RCPT or DATA or hang up during DATA, all at once (one site each, run
    in parallel): each failure is left pending, classified, explained and bounded by
    email.timeout; once the servers are healthy, ``digest --send`` delivers to every
    recipient exactly once, and the recipient that never failed gets no second copy."""
    tallies = {k[0]: Tally(k[0]) for k in (*SMTP_CONNECTION_FAULTS, *SMTP_RECIPIENT_FAULTS)}
    rng = rng_for("smtp faults")
    for trial in range(n_trials):
        base = work / "smtp-faults" / f"trial{trial}"
        interval = rng.uniform(0.6, 1.4)
        behaviours = {
            SMTP_CONNECTION_FAULTS[1][0]: refuse_all(b"554 5.3.2 no mail service here\r\n"),
            SMTP_CONNECTION_FAULTS[2][0]: greet_and_close(b"421 4.3.2 shutting down\r\n"),
            SMTP_CONNECTION_FAULTS[3][0]: hang(),
            SMTP_CONNECTION_FAULTS[4][0]: trickle(b"220 " + b"slow " * 60 + b"\r\n", interval),
        }
        handler = FaultySmtpHandler(
            refuse={r[3]: r[4] for r in SMTP_RECIPIENT_FAULTS if r[4]},
            data_replies={r[3]: [r[5]] for r in SMTP_RECIPIENT_FAULTS if r[5]},
        )
        with contextlib.ExitStack() as stack:
            healthy = stack.enter_context(smtp_server_with(FaultySmtpHandler()))
            shared = stack.enter_context(smtp_server_with(handler))
            sites: list[tuple[Site, list[Fault]]] = []
            for n, (kind, failure, causes) in enumerate(SMTP_CONNECTION_FAULTS):
                tcp = None
                if kind in behaviours:
                    tcp = stack.enter_context(ScriptedTcpServer(behaviours[kind]))
                    port = tcp.port
                else:
                    port = free_port()  # nothing listens there
                site = seeded_site(template, base / f"conn{n}")
                site.mail_to(port, [f"conn{n}@example.com"])
                fault = Fault(
                    kind, failure, causes, f"email:conn{n}@example.com", f"smtp {HOST}:{port}",
                    held=_held(tcp) if "timed out" in causes else None,
                )  # fmt: skip
                sites.append((site, [fault]))
            rsite = seeded_site(template, base / "recipients")
            rsite.mail_to(shared.port, ["ok@example.com", *(r[3] for r in SMTP_RECIPIENT_FAULTS)])
            server = f"smtp {HOST}:{shared.port}"
            faults = [
                Fault(
                    kind, failure, (*causes, rcpt) if at_rcpt else causes, f"email:{rcpt}", server
                )
                for kind, failure, causes, rcpt, at_rcpt, _ in SMTP_RECIPIENT_FAULTS
            ]
            sites.append((rsite, faults))
            runs = parallel([(s, ("digest", "--send")) for s, _ in sites])
            for (site, fs), run in zip(sites, runs, strict=True):
                for f in fs:
                    tallies[f.kind].trials += 1
                    check_failed(tallies[f.kind], f, site, run, f"trial {trial}")
            # The servers are healthy again: every pending delivery goes out, once.
            handler.refuse.clear()
            handler.data_replies.clear()
            for site, _ in sites[:-1]:
                assert site.email is not None
                site.mail_to(healthy.port, site.email["to"])
            runs = parallel([(s, ("digest", "--send")) for s, _ in sites])
            got = mail_and_posts([healthy, shared], [])
            for (_site, fs), run in zip(sites, runs, strict=True):
                for f in fs:
                    where = f"trial {trial}, once healthy"
                    if run.internal_error or run.returncode != 0:
                        tallies[f.kind].count("crashed", 1, f"{where}: digest --send: {run.tail()}")
                    one_copy(tallies[f.kind], got, f.channel.split(":", 1)[1], where)
            one_copy(tallies[SMTP_RECIPIENT_FAULTS[0][0]], got, "ok@example.com",
                     f"trial {trial}, the recipient that never failed")  # fmt: skip
    return list(tallies.values())


def _held(tcp: ScriptedTcpServer | None) -> Callable[[], list[float | None]]:
    return lambda: [c.held for c in tcp.connections] if tcp is not None else []


# (name, kind, failure, causes, retry_after, bounded)
HTTP_FAULTS = (
    ("refused", "json", "transient", ("refused",), None, False),
    ("hangs", "json", "transient", ("timed out",), None, True),
    ("trickles", "json", "transient", ("timed out",), None, True),
    ("drops", "json", "transient", ("closed",), None, False),
    ("http500", "json", "transient", ("500",), None, False),
    ("http503", "json", "transient", ("503",), "random", False),
    ("http503date", "json", "transient", ("503",), "date", False),
    ("http429", "json", "transient", ("429",), 120.0, False),
    ("http404", "json", "permanent", ("404",), None, False),
    ("ratelimited", "wecom", "transient", ("45009",), None, False),
    ("badkey", "wecom", "permanent", ("93000",), None, False),
    ("partfails", "wecom", "transient", ("502",), None, False),
)
HTTP_KINDS = {
    "refused": "http: connection refused",
    "hangs": "http: hangs (reads the post, never answers)",
    "trickles": "http: trickles its reply (a byte a second)",
    "drops": "http: closes without a reply",
    "http500": "http: 500",
    "http503": "http: 503 with Retry-After",
    "http503date": "http: 503 with Retry-After as an HTTP date",
    "http429": "http: 429 with Retry-After",
    "http404": "http: 404 (permanent)",
    "ratelimited": "http: 200 with a rate-limit code (WeCom 45009)",
    "badkey": "http: 200 with an error code (WeCom 93000)",
    "partfails": "http: one part of a multi-part digest fails",
}


def http_faults(work: Path, template: Template, n_trials: int) -> list[Tally]:
    """Chat webhooks that refuse, hang, trickle, hang up, answer 5xx/4xx/429 with
    Retry-After or an error code in a 200, or fail one part of a split digest — all in
    one ``digest --send``: each failure stays pending, classified, timed as asked,
    explained and bounded by the webhook's timeout; once healthy, every part of every
    chat digest is accepted exactly once (a split digest only from the part that failed)."""
    tallies = {name: Tally(HTTP_KINDS[name]) for name, *_ in HTTP_FAULTS}
    rng = rng_for("http faults")
    for trial in range(n_trials):
        base = work / "http-faults" / f"trial{trial}"
        with fault_http_server() as clean_http, fault_http_server() as http:
            ref, site = (
                seeded_site(template, base / "clean"),
                seeded_site(template, base / "faulty"),
            )
            envs = {}
            for name, kind, *_ in HTTP_FAULTS:
                ref.hook(name, kind, clean_http.url(f"/{name}"))
                url = (
                    f"http://{HOST}:{free_port()}/{name}"
                    if name == "refused"
                    else http.url(f"/{name}")
                )
                envs[name] = site.hook(name, kind, url)
            clean = ref.cli("digest", "--send")
            if clean.returncode != 0 or clean.internal_error:
                for t in tallies.values():
                    t.count("crashed", 1, f"trial {trial}: the clean digest --send: {clean.tail()}")
                continue
            expected = mail_and_posts([], [clean_http])
            parts = len(clean_http.accepted("/partfails"))
            bad_part = rng.randint(1, parts)
            retry_503 = float(rng.randint(20, 90))
            http.script("/hangs", Act("hang"))
            http.script("/trickles", Act("trickle", interval=rng.uniform(0.6, 1.4)))
            http.script("/drops", Act("close"))
            http.script("/http500", Act(status=500, body={"error": "internal server error"}))
            http.script("/http503", Act(status=503, headers={"Retry-After": f"{retry_503:.0f}"}))
            # RFC 9110 allows a date; it is taken when the reply is made, a second or so early.
            retry_date = float(rng.randint(60, 120))
            when = email.utils.formatdate(time.time() + retry_date, usegmt=True)
            http.script("/http503date", Act(status=503, headers={"Retry-After": when}))
            http.script("/http429", Act(status=429, headers={"Retry-After": "120"}))
            http.script("/http404", Act(status=404, body={"error": "no such hook"}))
            http.script(
                "/ratelimited", Act(body={"errcode": 45009, "errmsg": "api freq out of limit"})
            )
            http.script("/badkey", Act(body={"errcode": 93000, "errmsg": "invalid webhook url"}))
            http.script("/partfails", *[Act()] * (bad_part - 1), Act(status=502))
            run = site.cli("digest", "--send")
            for name, kind, failure, causes, retry_after, bounded in HTTP_FAULTS:
                t = tallies[name]
                t.trials += 1
                path = f"/{name}"

                def held(path: str = path) -> list[float | None]:
                    return [e.connection.held for e in http.received(path)]

                asked = {"random": retry_503, "date": retry_date}.get(str(retry_after), retry_after)
                f = Fault(
                    t.kind, failure, causes, f"webhook:{name}", f"webhook {kind} ({HOST})",
                    retry_after=asked, early=10.0 if retry_after == "date" else 0.5,
                    held=held if bounded else None,
                    parts_sent=bad_part - 1 if name == "partfails" else None,
                )  # fmt: skip
                check_failed(
                    t,
                    f,
                    site,
                    run,
                    f"trial {trial}"
                    + (f" (part {bad_part}/{parts})" if name == "partfails" else ""),
                )
            # Healthy again (the refused one now reaches the server): all goes out, once.
            for name, *_ in HTTP_FAULTS:
                http.script(f"/{name}")
            site.env[envs["refused"]] = http.url("/refused")
            again = site.cli("digest", "--send")
            got = mail_and_posts([], [http])
            for name, *_ in HTTP_FAULTS:
                t = tallies[name]
                where = f"trial {trial}, once healthy"
                if again.internal_error or again.returncode != 0:
                    t.count("crashed", 1, f"{where}: digest --send: {again.tail()}")
                compare_deliveries(
                    t, _only(expected, f"/{name}"), _only(got, f"/{name}"), where, killed=False
                )
    return list(tallies.values())


def _only(found: Counter[tuple[str, str, str]], who: str) -> Counter[tuple[str, str, str]]:
    """The messages accepted for one recipient or chat path."""
    return Counter({k: n for k, n in found.items() if k[1] == who})


def daemon_retries(work: Path, template: Template, n_trials: int) -> Tally:
    """``watcher run`` retries a failed delivery when it is due: a 429's Retry-After as
    given, a 500 after schedule.retry_after, and a 404 (permanent) not for an hour."""
    tally = Tally("daemon: retries when due (Retry-After, backoff); permanent errors wait")
    rng = rng_for(tally.kind)
    for trial in range(n_trials):
        tally.trials += 1
        retry = rng.randint(2, 3)
        where = f"trial {trial} (Retry-After {retry}s)"
        with fault_http_server() as http:
            site = seeded_site(template, work / "daemon-retries" / f"trial{trial}")
            for name in ("busy", "flaky", "gone"):
                site.hook(name, "json", http.url(f"/{name}"))
            http.script("/busy", Act(status=429, headers={"Retry-After": str(retry)}))
            http.script("/flaky", Act(status=500))
            http.script("/gone", Act(status=404))
            made = site.cli("digest")  # produced, its deliveries pending: the daemon sends them
            if made.returncode != 0:
                tally.count("crashed", 1, f"{where}: watcher digest: {made.tail()}")
                continue
            proc = site.start("run")
            try:
                wait_for(lambda: http.accepted("/busy") and http.accepted("/flaky"), retry + 30)
                gone = http.received("/gone")
                if gone:  # watch the permanent one for as long as the busy one waited
                    until = gone[0].connection.opened + retry + 2.0
                    wait_for(lambda until=until: time.monotonic() >= until, retry + 3)
                alive = proc.poll() is None
                stopped = _stop(proc)
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait(timeout=30)
            log = site.logs()
            if not alive or internal_error_in(log):
                tally.count(
                    "crashed",
                    1,
                    f"{where}: the daemon died or logged an internal error: {log[-800:]}",
                )
            if stopped != 0:
                tally.count("crashed", 1, f"{where}: SIGTERM: exit {stopped}, not 0")
            # The daemon looks every schedule.scan_every (1 s): a retry comes at the first
            # look after it is due, plus the time a loaded machine takes.
            for name, low, high in (("busy", retry - 0.3, retry + 3.0), ("flaky", 0.7, 4.0)):
                tries = http.received(f"/{name}")
                if len(http.accepted(f"/{name}")) != 1:
                    tally.count(
                        "lost",
                        1,
                        f"{where}: {name} accepted {len(http.accepted(f'/{name}'))} times",
                    )
                    continue
                gap = tries[1].connection.opened - (tries[0].connection.closed or 0.0)
                if not low <= gap <= high:
                    tally.count(
                        "other",
                        1,
                        f"{where}: {name} retried after {gap:.1f}s, expected {low:.1f}–{high:.1f}s",
                    )
            gone = http.received("/gone")
            if len(gone) != 1:
                tally.count(
                    "other",
                    1,
                    f"{where}: the permanent failure was tried {len(gone)} times within {retry + 2}s",
                )
    return tally


def wait_for(check: Callable[[], object], timeout: float) -> bool:
    """Poll ``check`` until it holds or ``timeout`` passes; whether it held."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return bool(check())


def _stop(proc: subprocess.Popen[str], timeout: float = 15.0) -> int | None:
    """SIGTERM, then the exit code (None if it did not stop within ``timeout``)."""
    if proc.poll() is not None:
        return proc.returncode
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        return None


def start_daemon(
    site: Site, preexec: Callable[[], None] | None = None
) -> subprocess.Popen[str] | None:
    """``watcher run`` started and logging "started" (None, killed, if it did not)."""
    proc = site.start("run", preexec=preexec)
    wait_for(lambda: "watcher run: started" in site.logs() or proc.poll() is not None, 60)
    if proc.poll() is None and "watcher run: started" in site.logs():
        return proc
    if proc.poll() is None:
        proc.kill()
        proc.wait(timeout=30)
    return None


# ----------------------------------------------------------------- a hostile inbox

SECRET = "机密：收件箱外的文件，不得读取。"


def _name255(prefix: str, suffix: str = ".txt") -> str:
    """A file name of exactly 255 bytes (the usual limit), mostly Chinese."""
    room = 255 - len(prefix.encode()) - len(suffix.encode())
    body = "长" * (room // 3) + "x" * (room % 3)
    name = prefix + body + suffix
    assert len(name.encode()) == 255
    return name


class _Churn:
    """Threads that change one file over and over and make files that vanish, while a scan
    runs; every version is remembered (a document of one of them is fine, a mix is not)."""

    def __init__(self, inbox: Path, rng: random.Random, limit: float = 60.0) -> None:
        self.inbox = inbox
        self.rng = random.Random(rng.random())
        self.limit = limit
        self.allowed: set[str] = set()  # sha256 of every version written
        self.moving = inbox / "moving.txt"
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._move, daemon=True),
            threading.Thread(target=self._vanish, daemon=True),
        ]
        self._text = seed_texts()[3]

    def _version(self, tag: str) -> bytes:
        pad = "补" * self.rng.randrange(0, 400)
        data = f"{self._text}\n\n{tag}{pad}。\n".encode()
        import hashlib

        self.allowed.add(hashlib.sha256(data).hexdigest())
        return data

    def _move(self) -> None:
        end, n = time.monotonic() + self.limit, 0
        while not self._stop.is_set() and time.monotonic() < end:
            n += 1
            self.moving.write_bytes(self._version(f"改写第{n}版"))
            self._stop.wait(self.rng.uniform(0.0, 0.01))

    def _vanish(self) -> None:
        end, n = time.monotonic() + self.limit, 0
        while not self._stop.is_set() and time.monotonic() < end:
            n += 1
            path = self.inbox / f"gone-{n:04d}.txt"
            path.write_bytes(self._version(f"转瞬即逝{n}"))
            self._stop.wait(self.rng.uniform(0.0, 0.015))
            path.unlink()

    def __enter__(self) -> _Churn:
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(10)
        for gone in self.inbox.glob("gone-*.txt"):
            gone.unlink()
        put(self.moving, self._version("最终版"))  # settled: read at the next scan
        import hashlib

        self.final = hashlib.sha256(self.moving.read_bytes()).hexdigest()


def build_hostile_inbox(site: Site, outside: Path) -> dict[str, str]:
    """Fill ``site.inbox`` with what fights back; returns {seed sha256: stored name} for
    the five seeds it holds under hostile names."""
    import hashlib

    from tests import docgen

    inbox = site.inbox
    raw = os.fsencode(inbox)
    seeds = [f.read_bytes() for f in seed_files()]
    names = [
        os.fsdecode(raw + b"/bad-\xff\xfe.txt"),  # not UTF-8
        str(inbox / "new\nline.txt"),
        str(inbox / _name255("满")),
        str(inbox / "sub dir" / "名字 有空格.txt"),
        str(inbox / "深" / "层" / _name255("深")),
    ]
    stored = {}
    for name, data in zip(names, seeds, strict=True):
        put(Path(name), data)
        stored[hashlib.sha256(data).hexdigest()] = name
    secret = put(outside / "secret.txt", seeds[2] + f"\n{SECRET}\n".encode())
    links = {
        "alias.txt": Path("sub dir") / "名字 有空格.txt",  # inside: read (a duplicate)
        "to-secret.txt": secret,  # out of the inbox: never read
        "to-outside": outside,  # a folder outside
        "to-passwd.txt": Path("/etc/passwd"),
        "dangling.txt": outside / "nothing-here.txt",
        "loop": Path("."),  # a folder link to the inbox itself
        "self.txt": Path("self.txt"),  # ELOOP
        "ping.txt": Path("pong.txt"),
        "pong.txt": Path("ping.txt"),
    }
    # 251 bytes that are not UTF-8 and ".txt": 255 bytes, escaped to 1,008 characters (a copy).
    put(Path(os.fsdecode(raw + b"/" + b"\xff" * 251 + b".txt")), seeds[0])
    for name, target in links.items():
        (inbox / name).symlink_to(target)
    (inbox / "cycle" / "inner").mkdir(parents=True)
    (inbox / "cycle" / "inner" / "up").symlink_to(Path(".."))  # a folder cycle
    os.mkfifo(inbox / "pipe.txt")
    sock_path = inbox / "sock.txt"
    if len(os.fsencode(sock_path)) < 100:  # AF_UNIX paths are short
        with contextlib.closing(socket.socket(socket.AF_UNIX)) as s:
            s.bind(str(sock_path))
    put(inbox / "binary.txt", b"\x89PNG\r\n\x1a\n\x00\x00" + bytes(range(256)) * 4)
    put(inbox / "empty.txt", b"")
    with (inbox / "huge.txt").open("wb") as fh:  # sparse: over scan.max_file_mb at no cost
        fh.truncate(60 * 1024 * 1024)
    os.utime(inbox / "huge.txt", (OLD, OLD))
    with contextlib.suppress(ImportError):
        import pdfminer  # noqa: F401

        put(inbox / "bomb.pdf", docgen.flate_bomb_pdf(1000))
    with contextlib.suppress(ImportError):
        import docx  # noqa: F401

        put(inbox / "bomb.docx", docgen.zip_bomb_docx(210))
    for p in inbox.rglob("*"):
        with contextlib.suppress(OSError):
            os.utime(p, (OLD, OLD), follow_symlinks=False)
    return stored


# What each broken file must be failed for (any of the words), in the scan's own list.
BROKEN = {
    "binary.txt": ("binary",),
    "empty.txt": ("empty",),
    "huge.txt": ("too large",),
    "bomb.pdf": ("memory", "bomb"),
    "bomb.docx": ("bomb", "compressed", "200:1", "unpacks"),
}
LINKS_OUT = ("to-secret.txt", "to-outside", "to-passwd.txt", "dangling.txt")


def hostile_inbox(work: Path, template: Template, n_trials: int) -> Tally:
    """Names not UTF-8, with a newline or 255 bytes long; links in, out, dangling and in
    loops; a FIFO and a socket; a binary, an empty, a sparse 60 MB file and two bombs; a
    file rewritten and files deleted while the scan runs. ``watcher scan`` twice: no
    crash or hang; the five seeds under their hostile names stored exactly as a clean
    run stores them; nothing read through a link out; every failure names its file."""
    tally = Tally("hostile inbox: names, links, loops, FIFO, bombs, files changed/deleted mid-scan")
    rng = rng_for(tally.kind)
    clean = snapshot(template.state, ("articles",))
    for trial in range(n_trials):
        tally.trials += 1
        root = work / "hostile" / f"trial{trial}"
        site = Site(root, tz=template.tz, cache=template.cache)
        seeds = build_hostile_inbox(site, root / "outside")
        inbox = str(site.inbox)
        with _Churn(site.inbox, rng) as churn:
            first = site.cli("scan", "--no-progress")
        second = site.cli("scan", "--no-progress")
        where = f"trial {trial}"
        for n, run in enumerate((first, second), 1):
            if run.internal_error or run.returncode != 0:
                tally.count("crashed", 1, f"{where}: scan {n}: {run.tail()}")
        # The seeds, whatever their names, exactly as the clean run stored them.
        got = site.snapshot(("articles",))
        compare_rows(
            tally, clean, got - Counter({r: n for r, n in got.items() if r[1] not in seeds}), where
        )
        others = {r[1] for r in got} - set(seeds) - churn.allowed
        if others:
            bodies = site.query("SELECT count(*) FROM articles WHERE instr(body, ?) > 0", (SECRET,))
            read_out = bodies[0][0] if bodies else 0
            tally.count("other", read_out, f"{where}: read through a link out of the inbox")
            tally.count(
                "duplicated",
                len(others),
                f"{where}: documents from no whole file: {sorted(others)[:3]}",
            )
        if churn.final not in {r[1] for r in got}:
            tally.count("lost", 1, f"{where}: moving.txt, once settled, was not read")
        states = {
            p: (st, reason)
            for p, st, reason in site.query("SELECT path, status, reason FROM files")
        }
        for sha, name in seeds.items():
            key = _safe(name)
            if states.get(key, ("",))[0] not in ("ok", "duplicate"):
                tally.count(
                    "lost", 1, f"{where}: {key!r} recorded as {states.get(key)} (sha {sha[:8]})"
                )
        long_bad = _safe(os.fsdecode(os.fsencode(inbox) + b"/" + b"\xff" * 251 + b".txt"))
        if states.get(long_bad, ("",))[0] != "duplicate":
            tally.count(
                "lost", 1, f"{where}: the 255-byte name not UTF-8 is {states.get(long_bad)}"
            )
        for name in LINKS_OUT:
            st = states.get(f"{inbox}/{name}")
            if st is None or st[0] != "skipped":
                tally.count("other", 1, f"{where}: the link out {name} is {st}, not skipped")
        gone = [p for p in states if "/gone-" in p]
        tally.count("other", len(gone), f"{where}: deleted files still recorded: {gone[:3]}")
        # Every failure the scan lists names a file of the inbox, and says why.
        listed = {}
        for line in first.stdout.splitlines():
            if line.startswith("  failed: "):
                path, _, reason = line[len("  failed: ") :].partition(": ")
                listed[path] = reason
                if not path.startswith(inbox + "/") or not reason:
                    tally.count(
                        "unclear", 1, f"{where}: a failure line naming no inbox file: {line!r}"
                    )
        for name, words in BROKEN.items():
            if not (site.inbox / name).exists():
                continue
            reason = listed.get(f"{inbox}/{name}")
            if reason is None or not any(w in reason for w in words):
                tally.count(
                    "unclear", 1, f"{where}: {name} failed with {reason!r}, expected {words}"
                )
        for line in first.stderr.splitlines():
            if (" WARNING " in line or " ERROR " in line) and inbox not in line:
                tally.count("unclear", 1, f"{where}: a warning naming no file: {line[:160]!r}")
    return tally


def _safe(name: str) -> str:
    from watcher.paths import safe_text

    return safe_text(name)


# ------------------------------------------------------------------- a full disk


class DiskUnavailable(RuntimeError):
    """No way to make a small filesystem here (says why)."""


class SmallDisk:
    """A filesystem that can be filled to the last byte and freed again.

    ``tmpfs``: a real tmpfs of ``mb`` MiB (needs root or CAP_SYS_ADMIN: mount(2)); the
    code meets ENOSPC and SQLite's "database or disk is full". ``rlimit`` (no mount
    allowed, as in an unprivileged CI container): a plain folder, and the processes
    under test run with RLIMIT_FSIZE just above the size of its files, so writing
    more fails with EFBIG ("File too large") — what the code meets differs, so only
    the path, not the word "full", is asked of its messages. Both are run where both
    work, so a defect of either shows wherever the suite runs.
    """

    def __init__(self, root: Path, mode: str) -> None:
        self.root = root
        self.mode = mode
        self.limit: int | None = None
        self._filler = root / ".filler"

    @classmethod
    def make(cls, where: Path, mode: str, mb: int = 24) -> SmallDisk:
        where.mkdir(parents=True, exist_ok=True)
        if mode == "rlimit":
            if not hasattr(resource, "prlimit"):
                raise DiskUnavailable("resource.prlimit is not available on this system")
            return cls(where, "rlimit")
        mount = shutil.which("mount")
        if os.geteuid() != 0 or mount is None:
            raise DiskUnavailable("mounting a tmpfs needs root (the rlimit emulation runs instead)")
        done = subprocess.run(
            [mount, "-t", "tmpfs", "-o", f"size={mb}m,mode=0755", "watcher-faults", str(where)],
            capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
        if done.returncode != 0:
            raise DiskUnavailable(f"mount -t tmpfs is not permitted here: {done.stderr.strip()}")
        return cls(where, "tmpfs")

    @property
    def full_words(self) -> tuple[str, ...]:
        """What a message about this disk must say besides the path (any of them)."""
        return ("full", "space") if self.mode == "tmpfs" else ()

    def fill(self, pids: Iterable[int] = (), headroom: int = 64 * 1024) -> None:
        """No room left (tmpfs), or ``headroom`` bytes over its largest file (rlimit)."""
        if self.mode == "tmpfs":
            fd = os.open(self._filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            try:
                for size in (1 << 20, 1 << 12, 1):
                    block = b"\0" * size
                    with contextlib.suppress(OSError):  # ENOSPC: the next, smaller size
                        while os.write(fd, block):
                            pass
            finally:
                os.close(fd)
            return
        sizes = [
            os.lstat(os.path.join(folder, name)).st_size
            for folder, _, names in os.walk(self.root)  # links (the jieba cache) not followed
            for name in names
        ]
        self.limit = max(sizes, default=0) + headroom
        for pid in pids:
            resource.prlimit(pid, resource.RLIMIT_FSIZE, (self.limit, resource.RLIM_INFINITY))

    def free(self, pids: Iterable[int] = ()) -> None:
        if self.mode == "tmpfs":
            self._filler.unlink(missing_ok=True)
            return
        self.limit = None
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                resource.prlimit(pid, resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY,) * 2)

    def preexec(self) -> Callable[[], None] | None:
        """What a process started now must run first (the emulated full disk)."""
        if self.mode != "rlimit" or self.limit is None:
            return None
        limit = self.limit
        return lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY))

    def close(self) -> None:
        if self.mode == "tmpfs":
            umount = shutil.which("umount") or "umount"
            done = subprocess.run(
                [umount, str(self.root)], capture_output=True, timeout=30, check=False
            )
            if done.returncode != 0:
                subprocess.run(
                    [umount, "-l", str(self.root)], capture_output=True, timeout=30, check=False
                )

    def __enter__(self) -> SmallDisk:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _says_full(
    tally: Tally, text: str, places: Sequence[Path], disk: SmallDisk, where: str
) -> None:
    """The message names one of ``places`` and, on a real full disk, that it is full."""
    named = any(str(p) in text for p in places)
    full = not disk.full_words or any(w in text.lower() for w in disk.full_words)
    if not (named and full):
        lines = [ln for ln in text.splitlines() if "error" in ln.lower()][-3:] or text.splitlines()[
            -3:
        ]
        tally.count(
            "unclear", 1,
            f"{where}: no message naming {[str(p) for p in places]}"
            + (f" and saying it is full ({'/'.join(disk.full_words)})" if disk.full_words else "")
            + f": {' | '.join(lines)}",
        )  # fmt: skip


def _complains(site: Site, since: int, proc: subprocess.Popen[str]) -> Callable[[], bool]:
    """Holds once the site's logs have a warning or error past ``since``, or ``proc`` ended."""

    def check() -> bool:
        log = site.logs()[since:].splitlines()
        return proc.poll() is not None or any(" ERROR " in ln or " WARNING " in ln for ln in log)

    return check


def full_disk_scan(work: Path, template: Template, n_trials: int, mode: str = "tmpfs") -> Tally:
    """``watcher scan`` with its state on a full disk: exit 1 with a message naming the
    state file and saying the disk is full, never an internal error; once space is
    freed, a rescan stores everything an uninterrupted scan stores."""
    tally = Tally(f"full disk ({mode}): the state (watcher scan)")
    rng = rng_for(tally.kind)
    for trial in range(n_trials):
        root = work / f"full-state-{mode}" / f"trial{trial}"
        try:
            disk = SmallDisk.make(root / "disk", mode)
        except DiskUnavailable as exc:
            tally.skipped = str(exc)
            return tally
        with disk:
            tally.trials += 1
            where = f"trial {trial} ({disk.mode})"
            site = Site(
                root / "site", tz=template.tz, state_dir=disk.root / "state", cache=template.cache
            )
            for f in seed_files():
                put(site.inbox / f.name, f.read_bytes())
            first = site.cli("scan", "--no-progress")
            if first.returncode != 0:
                tally.count("crashed", 1, f"{where}: the scan with room to spare: {first.tail()}")
                continue
            disk.fill()
            write_pages(site.inbox, rng.randint(20, 40), rng, tag="late", mixed=False)
            full = site.cli("scan", "--no-progress", preexec=disk.preexec())
            if full.internal_error:
                tally.count("crashed", 1, f"{where}: scan on a full disk: {full.tail()}")
            elif full.returncode != 1:
                tally.count(
                    "other", 1, f"{where}: scan on a full disk exited {full.returncode}, not 1"
                )
            _says_full(tally, full.output, (site.state, site.state.parent), disk, where)
            disk.free()
            again = site.cli("scan", "--no-progress")
            if again.internal_error or again.returncode != 0:
                tally.count("crashed", 1, f"{where}: the rescan once freed: {again.tail()}")
            ref = Site(root / "clean", tz=template.tz, inbox=site.inbox, cache=template.cache)
            ref.cli("scan", "--no-progress")
            compare_rows(tally, ref.snapshot(), site.snapshot(), where)
    return tally


def full_disk_reports(work: Path, template: Template, n_trials: int, mode: str = "tmpfs") -> Tally:
    """``watcher digest`` with its report folder on a full disk: exit 1 naming the folder
    and saying it is full; once freed, the same stored digest is written in full."""
    tally = Tally(f"full disk ({mode}): the report folder (watcher digest)")
    for trial in range(n_trials):
        root = work / f"full-reports-{mode}" / f"trial{trial}"
        try:
            disk = SmallDisk.make(root / "disk", mode, mb=4)
        except DiskUnavailable as exc:
            tally.skipped = str(exc)
            return tally
        with disk:
            tally.trials += 1
            where = f"trial {trial} ({disk.mode})"
            site = seeded_site(template, root / "site", out_dir=disk.root / "reports")
            holder = None
            if disk.mode == "rlimit":
                # RLIMIT_FSIZE limits every file a process writes, the state too: the digest
                # is stored first and its files removed, and a connection held open here
                # keeps the state's -wal and -shm in place, so only the report files grow.
                made = site.cli("digest")
                if made.returncode != 0:
                    tally.count("crashed", 1, f"{where}: watcher digest: {made.tail()}")
                    continue
                shutil.rmtree(site.out_dir)
                site.out_dir.mkdir()
                holder = sqlite3.connect(site.state)
                holder.execute("SELECT count(*) FROM digests").fetchall()
            disk.fill(headroom=512)
            try:
                full = site.cli("digest", preexec=disk.preexec())
            finally:
                if holder is not None:
                    holder.close()
            if full.internal_error:
                tally.count("crashed", 1, f"{where}: digest on a full disk: {full.tail()}")
            elif full.returncode != 1:
                tally.count(
                    "other", 1, f"{where}: digest on a full disk exited {full.returncode}, not 1"
                )
            _says_full(tally, full.output, (site.out_dir,), disk, where)
            disk.free()
            again = site.cli("digest")
            if again.internal_error or again.returncode != 0:
                tally.count("crashed", 1, f"{where}: digest once freed: {again.tail()}")
            days = site.query("SELECT day FROM digests")
            tally.count("duplicated", max(0, len(days) - 1), f"{where}: {len(days)} digests stored")
            if days:
                day = days[0][0]
                missing = [n for n in (f"{day}.html", f"{day}.json", f"{day}.md", "index.html")
                           if not (site.out_dir / n).is_file() or (site.out_dir / n).stat().st_size == 0]  # fmt: skip
                tally.count(
                    "lost", len(missing), f"{where}: report files missing once freed: {missing}"
                )
            else:
                tally.count("lost", 1, f"{where}: no digest stored")
    return tally


def full_disk_daemon(work: Path, template: Template, n_trials: int, mode: str = "tmpfs") -> Tally:
    """``watcher run`` whose state and reports fill their disk while pages arrive: it keeps
    running, says what is full (no internal error), and once space is freed stores
    every page; SIGTERM still stops it with exit 0."""
    tally = Tally(f"full disk ({mode}): the daemon keeps running")
    rng = rng_for(tally.kind)
    for trial in range(n_trials):
        root = work / f"full-daemon-{mode}" / f"trial{trial}"
        try:
            disk = SmallDisk.make(root / "disk", mode)
        except DiskUnavailable as exc:
            tally.skipped = str(exc)
            return tally
        with disk:
            tally.trials += 1
            where = f"trial {trial} ({disk.mode})"
            site = Site(
                root / "site", tz=template.tz, state_dir=disk.root / "state",
                out_dir=disk.root / "reports", cache=template.cache,
            )  # fmt: skip
            for f in seed_files():
                put(site.inbox / f.name, f.read_bytes())
            proc = start_daemon(site)
            if proc is None:
                tally.count(
                    "crashed", 1, f"{where}: the daemon did not start: {site.logs()[-800:]}"
                )
                continue
            try:
                if not wait_for(lambda s=site: s.count("SELECT count(*) FROM documents") == 5, 30):
                    tally.count(
                        "crashed", 1, f"{where}: the seeds were not scanned: {site.logs()[-800:]}"
                    )
                    continue
                before = len(site.logs())
                disk.fill(pids=[proc.pid])
                write_pages(site.inbox, rng.randint(10, 25), rng, tag="late", mixed=False)
                # The first scan on the full disk says so; give it a couple more.
                wait_for(_complains(site, before, proc), 15)
                time.sleep(2.0)
                log = site.logs()[before:]
                if proc.poll() is not None:
                    tally.count(
                        "crashed",
                        1,
                        f"{where}: the daemon died on the full disk (exit {proc.returncode})",
                    )
                    continue
                if internal_error_in(log):
                    line = next(
                        ln for ln in log.splitlines() if "internal error" in ln or "Traceback" in ln
                    )
                    tally.count(
                        "crashed", 1, f"{where}: an internal error on the full disk: {line[:200]}"
                    )
                _says_full(tally, log, (site.state, site.state.parent), disk, where)
                disk.free(pids=[proc.pid])
                ref = Site(root / "clean", tz=template.tz, inbox=site.inbox, cache=template.cache)
                ref.cli("scan", "--no-progress")
                want = ref.count("SELECT count(*) FROM documents")
                docs = "SELECT count(*) FROM documents"
                wait_for(lambda s=site, n=want, q=docs: s.count(q) >= n, 30)
                time.sleep(1.5)  # the scan in hand finishes
                stopped = _stop(proc)
                if stopped != 0:
                    tally.count(
                        "crashed", 1, f"{where}: SIGTERM after the full disk: exit {stopped}"
                    )
                compare_rows(tally, ref.snapshot(), site.snapshot(), where)
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait(timeout=30)
    return tally


# ------------------------------------------------------------- concurrent commands


def staggered(
    jobs: Sequence[tuple[Site, Sequence[str], float]], timeout: float = COMMAND_TIMEOUT
) -> list[Run]:
    """Start each command ``delay`` seconds after the first; wait for all; their Runs."""
    started = time.monotonic()
    procs = []
    for site, args, delay in jobs:
        while (left := started + delay - time.monotonic()) > 0:
            time.sleep(min(left, 0.01))
        procs.append((site, args, site.start(*args), site._n, time.monotonic()))
    runs = []
    for site, args, proc, n, t0 in procs:
        timed_out = False
        try:
            proc.wait(timeout=max(1.0, timeout - (time.monotonic() - started)))
        except subprocess.TimeoutExpired:
            timed_out = True
            proc.kill()
            proc.wait(timeout=30)
        out = (site.root / f"log{n}.out").read_text(encoding="utf-8", errors="replace")
        err = (site.root / f"log{n}.err").read_text(encoding="utf-8", errors="replace")
        runs.append(
            Run(
                tuple(site.argv(*args)), proc.returncode, out, err, time.monotonic() - t0, timed_out
            )
        )
    return runs


def parallel(
    jobs: Sequence[tuple[Site, Sequence[str]]], timeout: float = COMMAND_TIMEOUT
) -> list[Run]:
    """Run commands of several sites at once (output to files: no pipe fills up)."""
    return staggered([(site, args, 0.0) for site, args in jobs], timeout)


LOCKED = "database is locked"


def _failed_together(tally: Tally, runs: Sequence[Run], where: str) -> None:
    for run in runs:
        what = " ".join(run.argv[4:])
        if run.internal_error or run.returncode != 0 or LOCKED in run.output:
            tally.count("crashed", 1, f"{where}: {what} next to another command: {run.tail()}")


def concurrent_scans(work: Path, template: Template, n_trials: int, pages: int = 40) -> Tally:
    """Two ``watcher scan`` at once on one state: both succeed, together they count each
    document ``new`` once, and the store equals that of one scan."""
    tally = Tally("two `watcher scan` at once on one state")
    rng = rng_for(tally.kind)
    inbox = work / "two-scans" / "inbox"
    write_pages(inbox, pages, rng)
    ref = Site(work / "two-scans" / "clean", tz=template.tz, inbox=inbox, cache=template.cache)
    clean = ref.cli("scan", "--no-progress")
    expected, new = ref.snapshot(), scanned_new(clean)
    for trial in range(n_trials):
        tally.trials += 1
        site = Site(
            work / "two-scans" / f"trial{trial}", tz=template.tz, inbox=inbox, cache=template.cache
        )
        gap = rng.uniform(0.0, 0.5)
        where = f"trial {trial} (second scan {gap:.2f}s later)"
        runs = staggered(
            [(site, ("scan", "--no-progress"), 0.0), (site, ("scan", "--no-progress"), gap)]
        )
        _failed_together(tally, runs, where)
        counted = sum(scanned_new(r) for r in runs)
        if counted > new:
            tally.count(
                "duplicated", counted - new, f"{where}: {counted} counted new, {new} documents"
            )
        elif counted < new:
            tally.count(
                "lost", new - counted, f"{where}: only {counted} of {new} documents counted new"
            )
        compare_rows(tally, expected, site.snapshot(), where)
    return tally


def digest_next_to_daemon(work: Path, template: Template, n_trials: int) -> Tally:
    """``watcher digest --send`` run next to a daemon whose digest time comes up: every
    recipient and every chat part gets the digest exactly once, both processes fine."""
    tally = Tally("`watcher digest --send` next to a running daemon")
    rng = rng_for(tally.kind)
    with delivery_site(template, work / "next-to-daemon" / "clean") as (ref, smtp, http):
        clean = ref.cli("digest", "--send")
        expected = mail_and_posts([smtp], [http])
    if clean.returncode != 0:
        tally.count("crashed", 1, f"the clean digest --send: {clean.tail()}")
        return tally
    for trial in range(n_trials):
        tally.trials += 1
        offset = rng.uniform(-1.0, 1.0)
        where = f"trial {trial} (the command {offset:+.2f}s from the digest time)"
        root = work / "next-to-daemon" / f"trial{trial}"
        with delivery_site(template, root, data_delay=0.3) as (site, smtp, http):
            http.script("/team", *[Act(delay=0.2)] * 20)
            lead = 4.0
            site.schedule["digest_at"] = clock_in(site.tz, lead)
            site.write_config()
            due = time.monotonic() + lead
            proc = start_daemon(site)
            if proc is None:
                tally.count(
                    "crashed", 1, f"{where}: the daemon did not start: {site.logs()[-800:]}"
                )
                continue
            try:
                while (left := due + offset - time.monotonic()) > 0:
                    time.sleep(min(left, 0.01))
                run = site.cli("digest", "--send")
                channels = len(RECIPIENTS) + 2
                sent = "SELECT count(*) FROM deliveries WHERE status = 'sent'"
                wait_for(lambda s=site, n=channels, q=sent: s.count(q) >= n, 40)
                time.sleep(1.0)  # a late second copy would arrive by now
                alive = proc.poll() is None
                stopped = _stop(proc)
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait(timeout=30)
            _failed_together(tally, [run], where)
            log = site.logs()
            if not alive or stopped != 0 or internal_error_in(log) or LOCKED in log:
                tally.count(
                    "crashed",
                    1,
                    f"{where}: the daemon (alive {alive}, exit {stopped}): {log[-600:]}",
                )
            compare_deliveries(tally, expected, mail_and_posts([smtp], [http]), where, killed=False)
    return tally


def _stored_more(site: Site, proc: subprocess.Popen[str], k: int) -> Callable[[], bool]:
    """Holds once the store has more than ``k`` documents, or ``proc`` ended."""
    return lambda: site.count("SELECT count(*) FROM documents") > k or proc.poll() is not None


def digest_during_scan(work: Path, template: Template, n_trials: int) -> Tally:
    """A digest produced while a scan stores documents (``watcher digest`` started as the
    scan stores its k-th document): the scan never fails with "database is locked", and
    the digest holds exactly the articles first seen up to its cut-off."""
    tally = Tally("a digest produced during a scan")
    rng = rng_for(tally.kind)
    for trial in range(n_trials):
        tally.trials += 1
        site = Site(
            work / "digest-during-scan" / f"trial{trial}", tz=template.tz, cache=template.cache
        )
        write_pages(site.inbox, 40, rng, tag="a", mixed=False)
        first = site.cli("scan", "--no-progress")
        if first.returncode != 0:
            tally.count("crashed", 1, f"trial {trial}: the first scan: {first.tail()}")
            continue
        write_pages(site.inbox, 120, rng, tag="b", mixed=False)
        k = 40 + rng.randrange(0, 60)
        where = f"trial {trial} (digest started at document {k + 1})"
        scan = site.start("scan", "--no-progress")
        wait_for(_stored_more(site, scan, k), COMMAND_TIMEOUT)
        overlapped = scan.poll() is None
        digest = site.cli("digest")
        try:
            scan.wait(timeout=COMMAND_TIMEOUT)
        except subprocess.TimeoutExpired:
            scan.kill()
            scan.wait(timeout=30)
        n = site._n - 1  # the scan's log files (the digest's cmd file came after)
        out = (site.root / f"log{n}.out").read_text(encoding="utf-8", errors="replace")
        err = (site.root / f"log{n}.err").read_text(encoding="utf-8", errors="replace")
        scanned = Run(tuple(site.argv("scan")), scan.returncode, out, err, 0.0)
        tally.trace.append(where + ("" if overlapped else " (the scan had finished)"))
        _failed_together(tally, [scanned, digest], where)
        rows = site.query("SELECT produced_at, content FROM digests")
        if not rows:
            tally.count("lost", 1, f"{where}: no digest stored")
            continue
        cutoff, content = rows[0]
        stats = json.loads(content).get("stats", {})
        want = {
            "articles": site.count(
                "SELECT count(*) FROM articles WHERE first_seen <= ?", (cutoff,)
            ),
            "documents": site.count(
                "SELECT count(*) FROM documents WHERE status = 'ok' AND first_seen <= ?", (cutoff,)
            ),
        }
        for what, should in want.items():
            have = stats.get(what)
            note = f"{where}: the digest counts {have} {what}, {should} first seen by its cut-off"
            if not isinstance(have, int) or have < should:
                tally.count("lost", should - (have if isinstance(have, int) else 0), note)
            elif have > should:
                tally.count("duplicated", have - should, note)
    return tally


# -------------------------------------------------------------------- the battery

Kind = Callable[[Path, Template, int], "Tally | list[Tally]"]

# Every kind with its default number of trials in the test run (CI's fast slice).
BATTERY: tuple[tuple[str, Kind, int], ...] = (
    ("scan-kills", scan_kills, 2),
    ("delivery-kills", delivery_kills, 2),
    ("smtp", smtp_faults, 1),
    ("http", http_faults, 1),
    ("daemon-retries", daemon_retries, 1),
    ("hostile-inbox", hostile_inbox, 1),
    ("full-disk-scan/tmpfs", functools.partial(full_disk_scan, mode="tmpfs"), 1),
    ("full-disk-scan/rlimit", functools.partial(full_disk_scan, mode="rlimit"), 1),
    ("full-disk-reports/tmpfs", functools.partial(full_disk_reports, mode="tmpfs"), 1),
    ("full-disk-reports/rlimit", functools.partial(full_disk_reports, mode="rlimit"), 1),
    ("full-disk-daemon/tmpfs", functools.partial(full_disk_daemon, mode="tmpfs"), 1),
    ("full-disk-daemon/rlimit", functools.partial(full_disk_daemon, mode="rlimit"), 1),
    ("two-scans", concurrent_scans, 1),
    ("digest-next-to-daemon", digest_next_to_daemon, 1),
    ("digest-during-scan", digest_during_scan, 1),
)


def run_kind(kind: Kind, work: Path, template: Template, n: int) -> list[Tally]:
    found = kind(work, template, n)
    return found if isinstance(found, list) else [found]

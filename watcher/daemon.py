"""``watcher run``: the daemon process — lock, signals, hot reload, the file observer.

The state store, not the scheduler's memory, is the source of truth. Every
scan tick and every digest time ask the same questions of the store — is
today's digest due and not yet produced? which deliveries are pending and due
for a retry? — so a restart, a missed time or a refusing SMTP server is
caught up by the next tick, and nothing is produced or sent twice.

Several workers (``watcher run`` on several machines, one PostgreSQL state): each
beats (``pipeline.Heartbeat``: its leases renewed, its row in the state for
``watcher status``) and contests the leader lease at every beat. Every worker scans;
the leader alone makes the digest and sends the deliveries. A leader that stops gives
the lease back; one that dies loses it when it expires (at once on this machine),
and the next worker to beat leads and catches up at once.

Daylight saving: digest times are wall-clock times in the configured zone.
A time that does not exist on a spring-forward day (02:30 in New York) is due
at the first instant after the gap (03:30); a time that occurs twice on a
fall-back day is due at its first occurrence. Either way a day has one digest.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import logging
import os
import re
import signal
import socket
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from watcher import pipeline, sandbox
from watcher.archive import atomic_write
from watcher.config import Config, env_warnings, load_config
from watcher.deliveries import weekly_channels
from watcher.errors import ConfigError, StateError, WatcherError
from watcher.schedule import Scheduler, next_digest_time
from watcher.store import Store, state_url
from watcher.watchlists import Topic, watchlist_files

log = logging.getLogger(__name__)


# --- one instance per state file --------------------------------------------------


class Lock:
    """An exclusive lock next to the state file, naming the process that holds it."""

    def __init__(self, state: Path) -> None:
        self.path = state.with_name(state.name + ".lock")
        self._fh: Any = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fh = self.path.open("a+")
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            fh.seek(0)
            holder = fh.read().strip() or "unknown process"
            fh.close()
            raise StateError(
                f"another watcher run is already using {self.path.with_suffix('')} "
                f"({holder}); stop it first, or point this one at another state file"
            ) from None
        self._fh = fh
        try:
            fh.seek(0)
            fh.truncate()
            fh.write(
                f"pid {os.getpid()} on {socket.gethostname()}, "
                f"started {dt.datetime.now(dt.UTC).isoformat(timespec='seconds')}"
            )
            fh.flush()
        except OSError as exc:
            # Held all the same (the lock is the flock, not the text): a full disk
            # must not stop the daemon, only `status` cannot name it.
            log.warning("cannot write %s: %s; the lock is held", self.path, exc.strerror or exc)

    def release(self) -> None:
        if self._fh is not None:
            # Cleared while still held, so a released lock names nobody.
            with contextlib.suppress(OSError):
                self._fh.seek(0)
                self._fh.truncate()
                self._fh.flush()
            self._fh.close()
            self._fh = None

    def holder(self) -> str | None:
        """Who holds the lock now, or None when nobody does.

        Read from the file, not by trying the lock: a daemon starting at that
        very moment must not find it taken by ``watcher status``.
        """
        try:
            text = self.path.read_text().strip()
        except OSError:
            return None
        m = re.match(r"pid (\d+) on (\S+),", text)
        if m is None:
            return None
        if m.group(2) != socket.gethostname():
            return text  # another machine: believe the file
        return text if pipeline.process_alive(int(m.group(1))) else None


def status_path(config: Config) -> Path:
    """Where the daemon tells ``watcher status`` about its schedule (on this machine)."""
    state = pipeline.local_state(config)
    return state.with_name(state.name + ".daemon.json")


def read_status(config: Config) -> dict[str, Any]:
    """What the daemon last wrote to its status file ({} if nothing readable)."""
    try:
        info = json.loads(status_path(config).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return info if isinstance(info, dict) else {}


# --- the daemon ----------------------------------------------------------------------


@dataclass
class Settings:
    """The last good configuration; an invalid edit keeps the previous one running."""

    config: Config
    topics: list[Topic]
    stamp: tuple[tuple[str, int, int], ...]  # (path, mtime_ns, size) of the files read


def _stamp(config_path: Path, config: Config | None) -> tuple[tuple[str, int, int], ...]:
    files = [config_path]
    if config is not None:
        files += watchlist_files(config.watchlists)
    out = []
    for f in files:
        try:
            st = f.stat()
            out.append((str(f), st.st_mtime_ns, st.st_size))
        except OSError:
            out.append((str(f), 0, 0))
    if config is not None and config.watchlists.is_dir():
        # A watchlist added to or removed from the folder changes the stamp too.
        out.append((str(config.watchlists), config.watchlists.stat().st_mtime_ns, 0))
    return tuple(out)


class Daemon:
    """Scans on an interval, produces and delivers the digest on time, catches up."""

    def __init__(
        self,
        config_path: Path,
        *,
        clock: pipeline.Clock | None = None,
        watch: bool | None = None,
    ) -> None:
        self.config_path = config_path
        # Looked up now, not when this module was imported: a default bound at import
        # keeps whatever pipeline.utc_now was then (a test's fixed clock, for ever).
        self.clock = clock if clock is not None else pipeline.utc_now
        self.stop_event = threading.Event()
        self.errors: list[str] = []  # config problems of the current bad edit, if any
        config = load_config(config_path)
        self.settings = Settings(config, pipeline.load_topics(config), ())
        for warning in env_warnings(config, os.environ):
            log.warning("%s", warning)
        self.settings.stamp = _stamp(config_path, config)
        self.watch = config.schedule.watch if watch is None else watch
        # One daemon per SQLite state; on PostgreSQL any number of workers share it
        # (documents, digests and deliveries are claimed in the database).
        self.shared = state_url(config.state) is not None
        self.lock = Lock(pipeline.local_state(config))
        # One dictionary for the daemon's life: jieba loads once, lazily.
        self.segmenter = pipeline.segmenter_for(config)
        self.scheduler: Scheduler | None = None
        self._job_lock = threading.Lock()  # scans and digests never overlap
        self._observer: Any = None
        # Workers beat (pipeline.Heartbeat) and contest the leader lease: the leader
        # makes and sends the digest, every worker scans. Alone on SQLite, it leads.
        self.heartbeat: pipeline.Heartbeat | None = None
        self.leader = False
        self.doing: str | None = None

    # --- configuration, reloaded at each scan ----------------------------------

    def reload(self) -> None:
        """Take an edited config or watchlist; on a bad edit keep the last good one."""
        stamp = _stamp(self.config_path, self.settings.config)
        if stamp == self.settings.stamp:
            return
        try:
            config = load_config(self.config_path)
            topics = pipeline.load_topics(config)
        except ConfigError as exc:
            problems = exc.problems or [str(exc)]
            if problems != self.errors:
                for p in problems:
                    log.error("configuration not reloaded: %s", p)
            self.errors = problems
            self.settings.stamp = stamp  # report once per edit, not at every tick
            return
        old = self.settings.config
        if config.state != old.state:
            # The lock and every open handle are on the old file: a move of the
            # state needs a restart, never a silent switch.
            problem = (
                f"{self.config_path}: state: changed to {config.state}; restart watcher run "
                f"to use it (still using {old.state})"
            )
            if [problem] != self.errors:
                log.error("configuration not reloaded: %s", problem)
            self.errors = [problem]
            self.settings.stamp = stamp
            return
        self.settings = Settings(config, topics, _stamp(self.config_path, config))
        if self.errors:
            log.info("configuration fixed; the new version is in use")
        self.errors = []
        log.info("reloaded %s and %d topics", self.config_path, len(topics))
        rescheduled = old.schedule != config.schedule or old.timezone != config.timezone
        if rescheduled and self.scheduler is not None and not self.stop_event.is_set():
            self._schedule_jobs()
        if (old.inbox, old.schedule.watch) != (config.inbox, config.schedule.watch):
            self.watch = config.schedule.watch
            if self._observer is not None:
                self._observer.stop()
                self._observer = None
            if self.watch and self.scheduler is not None:
                self._start_watching()

    # --- jobs ---------------------------------------------------------------------------

    def scan_job(self) -> None:
        """Reload the configuration if it changed, then one tick: scan, digest, deliver."""
        self._tick("scan", scan_inbox=True)

    def digest_job(self) -> None:
        """At a digest time (and at start): digest if due, deliver what is pending."""
        self._tick("digest", scan_inbox=False)

    def _tick(self, name: str, *, scan_inbox: bool, force_digest: bool = False) -> None:
        """One job run: never two at once, never after a stop, never fatal."""
        with self._job_lock:
            if self.stop_event.is_set():
                return
            self.doing = name
            try:
                if scan_inbox:
                    self.reload()
                cfg = self.settings.config
                with Store(cfg.state) as store:
                    if self.shared and not self.leader:  # the leader digests and sends
                        if scan_inbox:
                            pipeline.scan(
                                cfg, store, topics=self.settings.topics,
                                segmenter=self.segmenter, clock=self.clock,
                                should_stop=self.stop_event.is_set,
                            )  # fmt: skip
                    else:
                        pipeline.tick(
                            cfg, store, self.settings.topics, segmenter=self.segmenter,
                            clock=self.clock, config_errors=self.errors,
                            scan_inbox=scan_inbox, force_digest=force_digest,
                            should_stop=self.stop_event.is_set, index_backlog=True,
                        )  # fmt: skip
            except WatcherError as exc:
                log.error("%s failed: %s", name, exc)
            except Exception:  # the daemon must outlive any one bad tick
                log.exception("%s failed with an internal error", name)
            finally:
                self.doing = None
            self._write_status()

    def _contest(self, store: Store, now: dt.datetime) -> None:
        """At each heartbeat: take (or keep) the leader lease if nobody live holds it.
        A worker that becomes leader catches up at once: the digest its dead predecessor
        left due, the deliveries it left pending."""
        lease = self.settings.config.schedule.lease
        was = self.leader
        self.leader = store.take_lease(pipeline.LEADER, pipeline.WORKER, now, lease,
                                       pipeline.worker_alive)  # fmt: skip
        if self.leader and not was:
            log.info("%s leads now: it makes and sends the digest", pipeline.WORKER)
            if self.scheduler is not None and not self.stop_event.is_set():
                self.scheduler.once("leader", self.digest_job)
        elif was and not self.leader:
            log.warning("%s lost the leader lease to %s", pipeline.WORKER,
                        store.lease_holder(pipeline.LEADER, now))  # fmt: skip

    # --- running -----------------------------------------------------------------------

    def _acquire(self) -> None:
        """The single-daemon lock, for an SQLite state only."""
        if not self.shared:
            self.lock.acquire()

    def _release(self) -> None:
        if not self.shared:
            self.lock.release()

    def _schedule_jobs(self) -> None:
        assert self.scheduler is not None
        cfg = self.settings.config
        self.scheduler.every("scan", cfg.schedule.scan_every, self.scan_job)
        self.scheduler.at_digest_times(
            "digest", cfg.schedule.digest_at, cfg.timezone, self.digest_job
        )
        # Weekly channels: a tick at each one's time (the scans would find it due too,
        # up to scan_every late).
        for n, at in enumerate(sorted({c.weekly_at for c in weekly_channels(cfg) if c.weekly_at})):
            self.scheduler.at_weekly_time(f"weekly-{n}", at, cfg.timezone, self.digest_job)

    def run_once(self, *, digest_now: bool = False) -> pipeline.TickReport:
        """One tick (waiting out the settle window of files just copied in) and, if due
        or asked for, the digest and its deliveries."""
        self._acquire()
        try:
            cfg = self.settings.config
            with Store(cfg.state) as store:
                report = pipeline.tick(
                    cfg, store, self.settings.topics, segmenter=self.segmenter,
                    clock=self.clock, settle=True, force_digest=digest_now,
                )  # fmt: skip
            self._write_status()
        finally:
            self._release()
        return report

    def run(self) -> int:
        """Run until SIGTERM or SIGINT; exit 0 after finishing the work in hand."""
        self._acquire()
        try:
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, self._on_signal)
            cfg = self.settings.config
            self.heartbeat = pipeline.Heartbeat(
                cfg, clock=self.clock, doing=lambda: self.doing, on_beat=self._contest
            )
            self.heartbeat.start()  # the first beat decides who leads, before any job
            self.scheduler = Scheduler(cfg.timezone)
            self._schedule_jobs()
            self.scheduler.start()
            if self.watch:
                self._start_watching()
            log.info("watcher run: started (pid %d), state %s", os.getpid(), cfg.state)
            # Catch up at start: a digest missed while we were down, pending deliveries.
            self.scheduler.once("catch-up", self.digest_job)
            while not self.stop_event.wait(0.5):
                pass
            log.info("watcher run: stopping")
            if self._observer is not None:
                self._observer.stop()
                self._observer.join(timeout=5)
            # Let the job in hand finish (a scan stops after its current
            # document) before the scheduler shuts down: jobs waiting for their
            # turn then see the stop and return at once.
            with self._job_lock:
                pass
            self.scheduler.shutdown()
            self.heartbeat.stop()  # gives back the leader lease: the next worker leads
            self.heartbeat = None
            self.leader = False
            self._write_status(running=False)
            log.info("watcher run: stopped")
            return 0
        finally:
            if self.heartbeat is not None:
                self.heartbeat.stop()
                self.heartbeat = None
            self._release()

    def _on_signal(self, signum: int, _frame: object) -> None:
        log.info("received %s", signal.Signals(signum).name)
        self.stop_event.set()
        # A PDF being read may take minutes (scan.read_timeout): stop it now; the file
        # is read again at the next start.
        sandbox.stop_all()

    def _start_watching(self) -> None:
        """React to new files within seconds; the periodic scan stays the safety net."""
        try:
            from watchdog.events import FileSystemEventHandler
            from watchdog.observers import Observer
        except ImportError:
            log.warning("schedule.watch is on but the watchdog package is missing; "
                        "install it with: pip install watchdog")  # fmt: skip
            return
        daemon = self

        class Handler(FileSystemEventHandler):
            def on_any_event(self, event: Any) -> None:
                if event.is_directory or daemon.scheduler is None or daemon.stop_event.is_set():
                    return
                # Give the writer time to finish (settle_seconds), then scan once.
                wait = daemon.settings.config.scan.settle_seconds + 1
                daemon.scheduler.once("watch-scan", daemon.scan_job, delay=wait)

        self._observer = Observer()
        self._observer.schedule(Handler(), str(self.settings.config.inbox), recursive=True)
        self._observer.daemon = True
        self._observer.start()
        log.info("watching %s for new files", self.settings.config.inbox)

    def _write_status(self, running: bool = True) -> None:
        cfg = self.settings.config
        now = self.clock()
        info: dict[str, Any] = {
            "pid": os.getpid(),
            "running": running and not self.stop_event.is_set(),
            "updated": now.isoformat(timespec="seconds"),
            "config_errors": self.errors,
            "leader": self.leader,
        }
        if running:
            # Not asked of the scheduler: a job must not call into it, whose
            # shutdown holds its locks while waiting for the jobs.
            info["next_scan"] = (now + dt.timedelta(seconds=cfg.schedule.scan_every)).isoformat()
        nxt = next_digest_time(now, cfg.schedule.digest_at, cfg.timezone)
        info["next_digest"] = nxt.isoformat() if nxt else None
        path = status_path(cfg)
        try:
            atomic_write(path, json.dumps(info, ensure_ascii=False))
        except OSError as exc:  # a full disk: the next tick writes it again
            log.warning("cannot write %s: %s", path, exc.strerror or exc)

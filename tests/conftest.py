"""Shared fixtures: factories for configs, inboxes and stores built on real files."""

from __future__ import annotations

import fcntl
import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import textwrap
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from watcher.config import Config, load_config

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
CORPUS = ROOT.parent / "shared" / "corpus"


def seed_files() -> list[Path]:
    return sorted(SEEDS.glob("*.txt"))


@pytest.fixture
def make_config(tmp_path: Path) -> Callable[..., Config]:
    """Write a config (plus its inbox and watchlists folders) and load it.

    Keyword arguments become top-level YAML keys; ``scan`` takes a dict.
    The inbox settles instantly unless the test says otherwise.
    """

    def factory(name: str = "watcher.yaml", **overrides: object) -> Config:
        (tmp_path / "inbox").mkdir(exist_ok=True)
        (tmp_path / "watchlists").mkdir(exist_ok=True)
        scan = {"settle_seconds": 0, **overrides.pop("scan", {})}  # type: ignore[dict-item]
        top = {"inbox": "inbox", "state": "state/watcher.db", "watchlists": "watchlists"}
        top.update({k: str(v) for k, v in overrides.items()})
        lines = [
            *(f"{k}: {v}" for k, v in top.items()),
            "scan:",
            *(f"  {k}: {v}" for k, v in scan.items()),
        ]
        path = tmp_path / name
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return load_config(path)

    return factory


@pytest.fixture
def seeded_inbox(tmp_path: Path) -> Path:
    """An inbox holding copies of the five seed pages, with settled mtimes."""
    inbox = tmp_path / "inbox"
    inbox.mkdir(exist_ok=True)
    for f in seed_files():
        shutil.copy(f, inbox / f.name)
        os.utime(inbox / f.name, (1_600_000_000, 1_600_000_000))
    return inbox


def dedent(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


# --- a real PostgreSQL server, started by the tests themselves -----------------------

PG_PASSWORD = "watcher-test-password"
APT_POSTGRES = "apt-get install -y postgresql"


def _pg_bin(name: str) -> str | None:
    """A PostgreSQL server program: on PATH, else the newest of Debian's versions."""
    found = shutil.which(name)
    if found:
        return found
    versions = sorted(
        glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    return versions[-1] if versions else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PgServer:
    """A PostgreSQL cluster in a temporary folder, on a loopback port; each test asks
    it for a fresh database with :meth:`database`."""

    port: int
    user: str = "watcher"
    _names: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def url(self, database: str) -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{database}"

    def database(self) -> str:
        """A new, empty database; its URL (the password is in WATCHER_PG_PASSWORD)."""
        import psycopg

        name = f"t{os.getpid()}_{next(self._names)}"
        with psycopg.connect(self.url("postgres"), password=PG_PASSWORD, autocommit=True) as c:
            c.execute(f"CREATE DATABASE {name}")
        return self.url(name)


@pytest.fixture(scope="session")
def built_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel of the working tree, built once per test run (a build compiles the
    matcher: tens of seconds): the wheel test and the deploy test install this one.
    Under pytest-xdist the workers share it: the first builds it, under a lock, in the
    run's common temporary folder; the others wait for it."""
    from tests.test_site import build_wheel

    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # (each worker's base folder is inside the run's)
    folder = root / "built-wheel"
    folder.mkdir(exist_ok=True)
    with (root / "built-wheel.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            found = sorted(folder.glob("watcher-*.whl"))
            return found[0] if found else build_wheel(folder)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """initdb + pg_ctl in a temporary folder, listening on 127.0.0.1 only, with a password
    for TCP (scram-sha-256); stopped at the end. Skips, saying why, when the server
    programs or psycopg are missing. As root, the server runs as the postgres user."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        pytest.skip("psycopg is not installed: pip install -e '.[postgres]'")
    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    if initdb is None or pg_ctl is None:
        pytest.skip(f"the PostgreSQL server programs (initdb, pg_ctl) are missing: {APT_POSTGRES}")
    run_as: list[str] = []
    folder = Path(tempfile.mkdtemp(prefix="watcher-pg-"))
    if os.geteuid() == 0:  # initdb refuses root
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            shutil.rmtree(folder)
            pytest.skip("running as root and there is no postgres user to run the server as")
        os.chown(folder, owner.pw_uid, owner.pw_gid)
        run_as = ["runuser", "-u", "postgres", "--"]
    data = folder / "data"
    pwfile = folder / "pw"
    pwfile.write_text(PG_PASSWORD + "\n")
    if run_as:
        os.chown(pwfile, owner.pw_uid, owner.pw_gid)
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    try:
        subprocess.run(
            [*run_as, initdb, "-D", str(data), "-U", "watcher", "-E", "UTF8", "--locale=C",
             f"--pwfile={pwfile}", "--auth-host=scram-sha-256", "--auth-local=trust"],
            check=True, capture_output=True, env=env, timeout=120,
        )  # fmt: skip
        options = (
            f"-c listen_addresses=127.0.0.1 -p {port} -c unix_socket_directories={folder} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
            "-c max_connections=200"
        )
        subprocess.run(
            [*run_as, pg_ctl, "-D", str(data), "-l", str(folder / "log"), "-o", options,
             "-w", "-t", "60", "start"],
            check=True, capture_output=True, env=env, timeout=120,
        )  # fmt: skip
    except subprocess.CalledProcessError as exc:
        log = (folder / "log").read_text() if (folder / "log").exists() else ""
        shutil.rmtree(folder, ignore_errors=True)
        pytest.fail(f"PostgreSQL did not start: {exc.stderr.decode()}{log}")
    saved = os.environ.get("WATCHER_PG_PASSWORD")
    os.environ["WATCHER_PG_PASSWORD"] = PG_PASSWORD
    try:
        yield PgServer(port)
    finally:
        if saved is None:
            os.environ.pop("WATCHER_PG_PASSWORD", None)
        else:
            os.environ["WATCHER_PG_PASSWORD"] = saved
        subprocess.run(
            [*run_as, pg_ctl, "-D", str(data), "-m", "fast", "-w", "stop"],
            capture_output=True, env=env, timeout=120,
        )  # fmt: skip
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def pg_url(pg_server: PgServer) -> str:
    """The URL of a new, empty PostgreSQL database on the test server."""
    return pg_server.database()


@pytest.fixture(params=["sqlite", "postgresql"])
def state(request: pytest.FixtureRequest, tmp_path: Path) -> Path | str:
    """A fresh state on each back end: an SQLite file path, or a PostgreSQL URL."""
    if request.param == "sqlite":
        return tmp_path / "state" / "watcher.db"
    url: str = request.getfixturevalue("pg_url")
    return url


Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]) -> Run:
    """Run ``watcher --config CONFIG ARGS`` in-process; returns (exit code, stdout, stderr)."""

    def invoke(*args: str, config: Path) -> tuple[int, str, str]:
        from watcher import cli

        with pytest.raises(SystemExit) as done:
            cli.main(["--config", str(config), "--log-level", "ERROR", *args])
        out, err = capsys.readouterr()
        return int(done.value.code or 0), out, err

    return invoke


def wait_until(what: str, check: Callable[[], Any], timeout: float = 30.0) -> Any:
    """Poll ``check`` until it returns something truthy; fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")

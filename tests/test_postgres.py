"""PostgreSQL as the state: the same answers as SQLite, and several workers at once.

Every test runs against a real server that the ``pg_server`` fixture starts itself
(initdb + pg_ctl in a temporary folder, loopback only); without the server programs
or psycopg they skip, saying what to install.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from watcher.config import Config

ROOT = Path(__file__).resolve().parent.parent


def watcher(config: Path, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    """``watcher --config CONFIG ARGS`` in a process of its own."""
    return subprocess.run(
        [sys.executable, "-m", "watcher", f"--config={config}", "--log-level=WARNING", *args],
        capture_output=True, text=True, timeout=timeout, env=_env(),
    )  # fmt: skip


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    return env


def _articles(config: Path) -> list[dict[str, object]]:
    out = watcher(config, "articles", "--format", "jsonl")
    assert out.returncode == 0, out.stderr
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    for row in rows:
        row.pop("first_seen")
    return rows


def test_the_seeds_on_postgresql_give_the_articles_sqlite_gives(
    make_config: Callable[..., Config], seeded_inbox: Path, pg_url: str
) -> None:
    lite = make_config()
    pg = make_config(name="pg.yaml", state=pg_url)
    for cfg in (lite, pg):
        out = watcher(cfg.path, "scan", "--no-progress")
        assert out.returncode == 0, out.stderr
        assert out.stdout.startswith("scan: 5 new, 0 unchanged, 0 failed"), out.stdout
    assert _articles(pg.path) == _articles(lite.path)
    again = watcher(pg.path, "scan", "--no-progress")
    assert again.stdout.startswith("scan: 0 new, 5 unchanged, 0 failed"), again.stdout


def test_search_on_postgresql_is_a_clear_user_error(
    make_config: Callable[..., Config], seeded_inbox: Path, pg_url: str
) -> None:
    pg = make_config(state=pg_url)
    assert watcher(pg.path, "scan", "--no-progress").returncode == 0
    out = watcher(pg.path, "search", "城市")
    assert out.returncode == 1, out.stderr
    assert "search is not available on PostgreSQL yet" in out.stderr
    digest = watcher(pg.path, "digest")
    assert digest.returncode == 0, digest.stderr
    assert watcher(pg.path, "status").returncode in (3, 1)  # no daemon; an alarm at most

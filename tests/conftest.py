"""Shared fixtures: factories for configs, inboxes and stores built on real files."""

from __future__ import annotations

import os
import shutil
import textwrap
from collections.abc import Callable
from pathlib import Path

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

"""Alarms: conditions shown by `watcher status` and at the bottom of the digest."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from pathlib import Path

from tests.conftest import seed_files
from watcher import pipeline
from watcher.config import Config
from watcher.pipeline import alarms
from watcher.store import Store
from watcher.watchlists import load_watchlists

T0 = dt.datetime(2026, 11, 1, 0, 0, tzinfo=dt.UTC)


def _scan(cfg: Config, at: dt.datetime) -> None:
    topics = load_watchlists(cfg.watchlists)
    with Store(cfg.state) as store:
        pipeline.scan(cfg, store, topics=topics, clock=lambda: at)


def test_quiet_inbox_failures_and_silent_topics(
    make_config: Callable[..., Config], tmp_path: Path
) -> None:
    cfg = make_config()
    (cfg.watchlists / "t.yaml").write_text(
        "- id: rural\n  name: 乡村振兴\n  query: 驻村\n"
        "- id: space\n  name: 航天\n  query: 火箭发射\n",
        encoding="utf-8",
    )
    seed = seed_files()[2]  # the 驻村 page
    (cfg.inbox / "a.txt").write_bytes(seed.read_bytes())
    os.utime(cfg.inbox / "a.txt", (1_600_000_000, 1_600_000_000))
    _scan(cfg, T0)
    topics = load_watchlists(cfg.watchlists)
    with Store(cfg.state) as store:
        assert alarms(cfg, store, T0 + dt.timedelta(hours=1), topics) == []
        later = T0 + dt.timedelta(days=3)
        assert alarms(cfg, store, later, topics) == [
            f"已有 3 天没有新文件进入收件箱（{cfg.inbox}）"
        ]
        month = T0 + dt.timedelta(days=31)
        assert "关注主题「航天」已有 30 天以上没有匹配文章" in alarms(cfg, store, month, topics)
        assert "关注主题「乡村振兴」已有 30 天以上没有匹配文章" in alarms(cfg, store, month, topics)
    # A day where most files fail to read.
    for n in range(3):
        (cfg.inbox / f"bad{n}.txt").write_bytes(b"")
        os.utime(cfg.inbox / f"bad{n}.txt", (1_600_000_000, 1_600_000_000))
    (cfg.inbox / "b.txt").write_bytes(seed_files()[0].read_bytes())
    os.utime(cfg.inbox / "b.txt", (1_600_000_000, 1_600_000_000))
    day2 = T0 + dt.timedelta(days=1)
    _scan(cfg, day2)
    with Store(cfg.state) as store:
        found = alarms(cfg, store, day2 + dt.timedelta(hours=1), topics)
    assert found == ["过去一天读取失败率 75%（3/4），超过阈值"]

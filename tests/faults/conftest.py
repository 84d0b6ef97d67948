"""The fault suite's marker and shared fixtures: one work folder and one scanned template
for the whole session (the battery itself is in ``tests/faults/__init__.py``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.faults import Tally, Template, make_template


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "faults: the fault battery (kills, misbehaving servers, hostile inbox, full disk, "
        "concurrent commands); a seeded sample of few trials, WATCHER_FAULT_TRIALS for more",
    )


@pytest.fixture(scope="session")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("faults")


@pytest.fixture(scope="session")
def template(work: Path) -> Template:
    """The five seeds scanned once: their state and jieba cache, for every site."""
    return make_template(work)


def assert_clean(tally: Tally) -> None:
    """Fail with everything the tally noted, unless the kind could not run here."""
    if tally.skipped:
        pytest.skip(f"{tally.kind}: {tally.skipped}")
    assert tally.trials > 0, f"{tally.kind}: no trial ran"
    assert tally.clean, tally.report()

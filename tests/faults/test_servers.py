"""SMTP and chat servers that refuse, hang, trickle, answer 4xx/5xx/429 with Retry-After,
or fail one part of a split digest: every failure stays pending, is classified, timed as
the server asked, explained (server and cause) and bounded by the configured timeout;
once the servers are healthy every recipient and every chat part gets the digest once.

One ``watcher digest --send`` per site exercises every fault at once (the sites run in
parallel); each kind is then asserted on its own."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.faults import (
    HTTP_FAULTS,
    HTTP_KINDS,
    SMTP_CONNECTION_FAULTS,
    SMTP_RECIPIENT_FAULTS,
    Tally,
    Template,
    daemon_retries,
    http_faults,
    smtp_faults,
    trials,
)
from tests.faults.conftest import assert_clean

pytestmark = pytest.mark.faults

# Defects these tests show (remove the entry once fixed: strict, so a fix makes it fail).
DEFECTS: dict[str, str] = {}


def _kinds(kinds: list[str]) -> list[object]:
    return [
        pytest.param(k, marks=pytest.mark.xfail(strict=True, reason=DEFECTS[k]))
        if k in DEFECTS
        else k
        for k in kinds
    ]


SMTP_KINDS = _kinds([k[0] for k in (*SMTP_CONNECTION_FAULTS, *SMTP_RECIPIENT_FAULTS)])
CHAT_KINDS = _kinds([HTTP_KINDS[name] for name, *_ in HTTP_FAULTS])


@pytest.fixture(scope="module")
def smtp_tallies(work: Path, template: Template) -> dict[str, Tally]:
    return {t.kind: t for t in smtp_faults(work, template, trials(1))}


@pytest.fixture(scope="module")
def http_tallies(work: Path, template: Template) -> dict[str, Tally]:
    return {t.kind: t for t in http_faults(work, template, trials(1))}


@pytest.mark.slow  # the module's fixture: a dozen commands over six sites, twice
@pytest.mark.parametrize("kind", SMTP_KINDS)
def test_a_misbehaving_smtp_server(kind: str, smtp_tallies: dict[str, Tally]) -> None:
    assert_clean(smtp_tallies[kind])


@pytest.mark.parametrize("kind", CHAT_KINDS)
def test_a_misbehaving_chat_webhook(kind: str, http_tallies: dict[str, Tally]) -> None:
    assert_clean(http_tallies[kind])


def test_the_daemon_retries_when_due_and_waits_after_a_permanent_error(
    work: Path, template: Template
) -> None:
    assert_clean(daemon_retries(work, template, trials(1)))

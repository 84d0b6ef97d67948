"""One small error hierarchy; the CLI turns these into messages and exit codes."""

from __future__ import annotations


class WatcherError(Exception):
    """Root of every error watcher reports to a user (exit code 1)."""


class ConfigError(WatcherError):
    """The configuration is missing, unreadable or invalid.

    ``problems`` holds one ``file:line: key: message`` string per problem, so a
    user sees every mistake at once instead of fixing them one run at a time.
    """

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = list(problems or [])

    def __str__(self) -> str:
        head = super().__str__()
        if not self.problems:
            return head
        return head + "\n" + "\n".join(f"  {p}" for p in self.problems)


class ReadError(WatcherError):
    """A document could not be read or decoded; the scan records it and moves on."""


class ReaderUnavailable(ReadError):
    """The reader could not run just now (no process could be started, or it was stopped
    from outside); the document is not at fault and is tried again at the next scan."""


class StateError(WatcherError):
    """The state database cannot be opened, is locked, or is from a newer version."""


class RuleError(WatcherError):
    """A watchlist query is malformed."""


class DeliveryError(WatcherError):
    """A digest could not be delivered; the delivery stays pending.

    ``permanent`` says waiting will not help (a refused address, a 404, an invalid
    bot key, a digest that cannot be encoded): it is retried much less often and
    shown as such in ``watcher status``. ``retry_after`` is the wait in seconds a
    server asked for, if it said.
    """

    permanent: bool = False

    def __init__(
        self, message: str, *, permanent: bool | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        if permanent is not None:
            self.permanent = permanent
        self.retry_after = retry_after

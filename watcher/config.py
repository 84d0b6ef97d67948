"""watcher's configuration: the schema of ``watcher.yaml`` and how it is found and loaded.

Each section is a dataclass whose fields are declared with the option framework
of :mod:`watcher.options` (kinds, ``option()``, the YAML walker), so every
problem is reported at once with its line. Checks that need the watchlists
too (:func:`check_references`) or the environment (:func:`env_warnings`) run
after loading, on the line numbers the config keeps of its keys.
"""

from __future__ import annotations

import logging
import re
import zoneinfo
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from watcher.errors import ConfigError

# The framework names below were defined here before watcher.options existed and
# are still imported from watcher.config elsewhere; __all__ keeps them public.
from watcher.options import (
    Boolean,
    Choice,
    Duration,
    Globs,
    Invalid,
    Kind,
    Number,
    OneLine,
    PathType,
    SectionList,
    String,
    StringList,
    Timezone,
    Walk,
    absolute,
    check_one_line,
    closest,
    describe,
    node_line,
    option,
    parse_duration,
    read_section,
    required_option,
    section,
    show_node,
    yaml_tree,
)

if TYPE_CHECKING:
    # watchlists imports this module, so the Topic type is only named for mypy.
    from watcher.watchlists import Topic

__all__ = [
    "DEFAULT_CONFIG",
    "ENV_VAR",
    "AlarmConfig",
    "Boolean",
    "Choice",
    "Config",
    "DigestConfig",
    "Duration",
    "EmailConfig",
    "EmailGroup",
    "Globs",
    "Invalid",
    "Kind",
    "Number",
    "PathType",
    "ScanConfig",
    "ScheduleConfig",
    "SectionList",
    "String",
    "StringList",
    "Timezone",
    "Walk",
    "WebhookConfig",
    "check_references",
    "describe_options",
    "env_warnings",
    "find_config",
    "load_config",
    "node_line",
    "option",
    "parse_duration",
    "read_section",
    "required_option",
    "section",
    "yaml_tree",
]

log = logging.getLogger(__name__)

DEFAULT_CONFIG = Path("config/watcher.yaml")
ENV_VAR = "WATCHER_CONFIG"

_CLOCK = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)(?::([0-5]\d))?$")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_FULL_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
CADENCES = ("daily", "weekly")


# --------------------------------------------------------------------- schema


@dataclass(frozen=True)
class Workers(Kind):
    """``scan.workers``: a whole number of processes (at least 1), or ``auto``."""

    label = "auto or a whole number >= 1"

    def parse(self, node: Node, walk: Walk, key: str) -> Any:
        if isinstance(node, ScalarNode) and node.tag.endswith(":str"):
            return String().parse(node, walk, key)
        return Number(minimum=1, integer=True).parse(node, walk, key)

    def check(self, value: Any, walk: Walk, key: str) -> Any:
        if isinstance(value, str):
            if value.strip().casefold() == "auto":
                return "auto"
            raise Invalid(f"expected auto or a whole number >= 1, got {value!r}")
        return Number(minimum=1, integer=True).check(value, walk, key)


@dataclass(frozen=True, kw_only=True)
class ScanConfig:
    """``scan:`` — how the inbox is scanned."""

    settle_seconds: float = option(
        5.0,
        Number(minimum=0),
        "A file whose size or modification time changed within this many seconds is "
        "still being written; it is left for the next scan.",
    )
    ignore: tuple[str, ...] = option(
        ("*.part", "*.tmp", "*~", ".*"),
        Globs(),
        "Glob patterns matched against file names (not folders); matching files are "
        "skipped. Use [] to read everything.",
    )
    max_file_mb: float = option(
        50.0,
        Number(minimum=0, exclusive_minimum=True),
        "Files bigger than this many megabytes are not read; they are recorded as "
        "failed ('too large').",
    )
    max_pdf_pages: int = option(
        100,
        Number(minimum=1, integer=True),
        "PDFs with more pages than this are not read; they are recorded as failed.",
    )
    read_timeout: float = option(
        120.0,
        Duration(),
        "A PDF or DOCX file that takes longer than this to read is given up and recorded "
        "as failed.",
    )
    read_memory_mb: int = option(
        1024,
        Number(minimum=64, integer=True),
        "Memory (address space) allowed to the process that reads PDF and DOCX files; a "
        "file that needs more (a decompression bomb) is recorded as failed.",
    )
    recursive: bool = option(True, Boolean(), "Also scan the sub-folders of the inbox.")
    prune_unchanged_folders: bool = option(
        False,
        Boolean(),
        "Do not list again a folder whose modification time has not changed since a "
        "listing found all its files unchanged (date-partitioned inboxes). Misses a file "
        "edited in place until the next full listing (scan.full_listing_every).",
    )
    full_listing_every: float = option(
        3600.0,
        Duration(),
        "With prune_unchanged_folders: every folder is listed again at least this often, "
        "so an old file edited in place is read within this long.",
    )
    workers: int | str = option(
        1,
        Workers(),
        "Processes that read, split and match new files at once: a number, or auto (one "
        "per CPU core); the scanning process is one of them, the others are workers. The "
        "scan itself writes the database, in the serial order, so the result is the same "
        "for every value; workers start only for a scan with at least 16 new or changed "
        "files. 1: everything in the scanning process.",
    )


@dataclass(frozen=True)
class DigestTimes(Kind):
    """When the digest is due: "07:30", a list of such times, or a 5-field cron line."""

    label = '"HH:MM", a list of them, or a cron expression'

    def parse(self, node: Node, walk: Walk, key: str) -> Any:
        if isinstance(node, SequenceNode):
            items = StringList().parse(node, walk, key)
        else:
            items = (String().parse(node, walk, key),)
        return self.check(items, walk, key)

    def check(self, value: Any, walk: Walk, key: str) -> Any:
        items = (value,) if isinstance(value, str) else tuple(value)
        if not items:
            raise Invalid('expected at least one time such as "07:30"')
        for item in items:
            if _CLOCK.match(item):
                continue
            if len(item.split()) == 5:
                try:
                    from watcher.schedule import cron_trigger

                    cron_trigger(item, "UTC")
                except ValueError as exc:
                    raise Invalid(f"bad cron expression {item!r}: {exc}") from None
                if len(items) > 1:
                    raise Invalid("a cron expression cannot be mixed with other times")
                continue
            raise Invalid(
                f'expected a time such as "07:30" (quoted) or a cron expression such as '
                f'"30 7 * * mon-fri", got {item!r}'
            )
        return items


@dataclass(frozen=True)
class WeeklyTime(Kind):
    """A weekday and a wall-clock time, "mon 08:00"; stored as written, normalised."""

    label = 'weekday and time such as "mon 08:00"'

    def parse(self, node: Node, walk: Walk, key: str) -> Any:
        return String().parse(node, walk, key)

    def check(self, value: Any, walk: Walk, key: str) -> Any:
        parts = str(value).split()
        if len(parts) != 2:
            raise Invalid(f'expected a weekday and a time such as "mon 08:00", got {value!r}')
        day, time = parts[0].casefold(), parts[1]
        if day in _FULL_DAYS:
            day = WEEKDAYS[_FULL_DAYS.index(day)]
        if day not in WEEKDAYS:
            close = closest(day, (*WEEKDAYS, *_FULL_DAYS))
            hint = f"; did you mean {close!r}?" if close else ""
            raise Invalid(
                f"unknown weekday {parts[0]!r} in {value!r} (one of {', '.join(WEEKDAYS)}){hint}"
            )
        m = _CLOCK.match(time)
        if not m:
            raise Invalid(f'expected a time such as "08:00" after the weekday, got {time!r}')
        return f"{day} {int(m.group(1)):02d}:{m.group(2)}"


def _cadence_option() -> Any:
    return option(
        "daily",
        Choice(CADENCES),
        "daily: every digest (at schedule.digest_at); weekly: one summary of the week "
        "instead, at weekly_at.",
    )


def _weekly_at_option() -> Any:
    return option(
        "mon 08:00",
        WeeklyTime(),
        'With cadence: weekly, when the summary of the 7 days before is sent: "mon 08:00" '
        "(weekday and time in the configured timezone).",
    )


@dataclass(frozen=True)
class Addresses(StringList):
    """E-mail addresses, each with an @ ("Name <a@b>" is fine)."""

    label = "list of e-mail addresses"
    example = "['analyst@example.com']"

    def check_item(self, item: str, walk: Walk, key: str) -> str:
        check_one_line(item, "address")
        if "@" not in item:
            raise Invalid(f"{item!r} is not an e-mail address (it has no @)")
        return item


@dataclass(frozen=True)
class Mapping_(Kind):
    """A mapping of topic id to a list of e-mail addresses."""

    label = "mapping of topic id to addresses"

    def parse(self, node: Node, walk: Walk, key: str) -> Any:
        if not isinstance(node, MappingNode):
            raise Invalid("expected a mapping such as {safety: [a@example.com]}")
        out = []
        for k, v in node.value:
            if not isinstance(k, ScalarNode):
                raise Invalid("keys must be topic ids", node_line(k))
            # Kept for check_references(), which names the line of a topic id that
            # matches no topic.
            walk.lines[f"{key}.{k.value}"] = node_line(k)
            addresses = Addresses().read(v, walk, f"{key}.{k.value}")
            out.append((str(k.value), tuple(addresses)))
        return tuple(out)


@dataclass(frozen=True, kw_only=True)
class DigestConfig:
    """``digest:`` — what the daily digest holds and where its files go."""

    out_dir: Path = option(
        Path("reports"),
        PathType("creatable_folder"),
        "Folder of the report archive: YYYY-MM-DD.html/.md/.json, article pages, index.html.",
    )
    max_per_topic: int = option(
        10,
        Number(minimum=1, integer=True),
        "At most this many articles per topic; the rest are counted.",
    )
    send_empty: bool = option(
        True, Boolean(), "Deliver a short digest on a day with no matches (false: files only)."
    )
    base_url: str | None = option(
        None,
        String(),
        "Public URL of out_dir, so links in e-mails and chat messages open the archive.",
    )
    catch_up_days: int = option(
        7,
        Number(minimum=0, integer=True),
        "At start and at each digest time, undelivered digests of up to this many past days "
        "are delivered, oldest first.",
    )
    feed_entries: int = option(
        50,
        Number(minimum=1, integer=True),
        "Each topic's Atom feed (feeds/<id>.xml in out_dir, /feeds/<id>.xml in watcher serve) "
        "holds its latest this many matched articles.",
    )


@dataclass(frozen=True, kw_only=True)
class EmailGroup:
    """One recipient group under ``email.groups:``."""

    name: str = required_option(OneLine(), "A name for this group, unique, such as 'managers'.")
    to: tuple[str, ...] = required_option(Addresses(), "Who is in the group.")
    topics: tuple[str, ...] = option((), StringList(), "Only these topic ids (default: all).")
    cadence: str = _cadence_option()
    weekly_at: str = _weekly_at_option()


@dataclass(frozen=True, kw_only=True)
class EmailConfig:
    """``email:`` — the SMTP server and who receives the digest."""

    enabled: bool = option(False, Boolean(), "Send the digest by e-mail.")
    host: str = option("localhost", String(), "SMTP server host name.")
    port: int = option(
        25,
        Number(minimum=1, maximum=65535, integer=True),
        "SMTP port (587 for starttls, 465 for ssl).",
    )
    security: str = option("none", Choice(("none", "starttls", "ssl")), "none, starttls or ssl.")
    username: str | None = option(None, String(), "Login name, if the server wants one.")
    password_env: str | None = option(
        None,
        String(),
        "Name of the environment variable holding the password (never the password itself).",
    )
    sender: str = option(
        "watcher@localhost", OneLine(noun="address"), "The From address.", key="from"
    )
    to: tuple[str, ...] = option((), Addresses(), "Who gets the whole digest.")
    topics: tuple[tuple[str, tuple[str, ...]], ...] = option(
        (), Mapping_(), "Per-topic recipients: {topic_id: [addresses]} get that topic only."
    )
    timeout: float = option(30.0, Number(minimum=1), "Seconds to wait for the server.")
    groups: tuple[EmailGroup, ...] = option(
        (),
        SectionList(EmailGroup),
        "Recipient groups with their own topics and cadence (a weekly summary for a manager).",
    )


@dataclass(frozen=True, kw_only=True)
class WebhookConfig:
    """One chat bot or webhook under ``webhooks:``."""

    name: str = required_option(OneLine(), "A name for this channel, unique, such as 'team-wecom'.")
    kind: str = required_option(
        Choice(("wecom", "dingtalk", "feishu", "slack", "json")),
        "wecom, dingtalk, feishu, slack or json (a generic JSON POST).",
    )
    url_env: str = required_option(
        String(), "Name of the environment variable holding the webhook URL (it embeds a key)."
    )
    secret_env: str | None = option(
        None, String(), "Environment variable with the signing secret (DingTalk, Feishu)."
    )
    topics: tuple[str, ...] = option((), StringList(), "Only these topic ids (default: all).")
    timeout: float = option(10.0, Number(minimum=1), "Seconds to wait for the service.")
    cadence: str = _cadence_option()
    weekly_at: str = _weekly_at_option()


@dataclass(frozen=True, kw_only=True)
class ScheduleConfig:
    """``schedule:`` — when ``watcher run`` scans and sends."""

    scan_every: float = option(600.0, Duration(), "How often the inbox is scanned: 30s, 10m, 1h.")
    digest_at: tuple[str, ...] = option(
        ("07:30",),
        DigestTimes(),
        'When the digest is due, in the configured timezone: "07:30", a list, or a cron '
        'expression such as "30 7 * * mon-fri".',
    )
    watch: bool = option(
        False, Boolean(), "Also react to new files within seconds (inotify), besides the scans."
    )
    retry_after: float = option(
        300.0, Duration(), "First wait before retrying a failed delivery; doubles each time."
    )
    heartbeat: float = option(
        30.0,
        Duration(),
        "How often a running worker renews what it holds (a file, the digest, a delivery, a "
        "re-match chunk) and reports itself to watcher status; at most a third of lease.",
    )
    lease: float = option(
        300.0,
        Duration(minimum=3.0),
        "How long a worker's claims outlive its last heartbeat: a worker on another machine "
        "that stops (power cut) loses them after this; one on this machine, at once.",
    )


@dataclass(frozen=True, kw_only=True)
class AlarmConfig:
    """``alarms:`` — conditions surfaced in ``watcher status`` and in the digest."""

    quiet_days: int = option(
        2, Number(minimum=1, integer=True), "Alarm when no new document arrived for this many days."
    )
    failure_rate: float = option(
        0.2,
        Number(minimum=0, maximum=1),
        "Alarm when more than this share of the documents read in a day failed.",
    )
    silent_topic_days: int = option(
        30,
        Number(minimum=1, integer=True),
        "Alarm when a topic matched nothing for this many days.",
    )


class StateType(PathType):
    """The SQLite file, or a PostgreSQL URL (``postgresql://…``), kept as written: no
    path check applies to a URL (``store.state_url`` reads it back)."""

    def parse(self, node: Node, walk: Walk, key: str) -> Any:
        if isinstance(node, ScalarNode) and node.value.strip().startswith(
            ("postgresql://", "postgres://")
        ):
            return node.value.strip()
        return super().parse(node, walk, key)

    def check(self, value: Any, walk: Walk, key: str) -> Any:
        return Path(value) if isinstance(value, str) else super().check(value, walk, key)


@dataclass(frozen=True, kw_only=True)
class Config:
    """The whole configuration; paths are absolute (resolved against the file's folder).

    ``option()``/``section()`` return ``dataclasses.field`` objects, which ruff's
    RUF009 cannot see through; pyproject.toml lists them as immutable calls.
    """

    path: Path  # the config file itself, resolved; not an option
    inbox: Path = option(
        Path("inbox"),
        PathType("folder"),
        "Folder scanned for newspaper pages.",
    )
    state: Path = option(
        Path("state/watcher.db"),
        StateType("creatable_file"),
        "SQLite database file (its folder is created if missing), or "
        "postgresql://user@host:port/db (password from WATCHER_PG_PASSWORD, PGPASSWORD or "
        "~/.pgpass).",
    )
    watchlists: Path = option(
        Path("watchlists"),
        PathType("file_or_folder"),
        "A watchlist YAML file, or a folder of them.",
    )
    timezone: str = option(
        "Asia/Shanghai",
        Timezone(),
        "IANA time zone for dates, the digest day and schedules.",
    )
    scan: ScanConfig = section(ScanConfig, "How the inbox is scanned.")
    log_level: str = option(
        "INFO",
        Choice(("DEBUG", "INFO", "WARNING", "ERROR")),
        "How much is logged: DEBUG, INFO, WARNING or ERROR (any case).",
    )
    digest: DigestConfig = section(DigestConfig, "The daily digest.")
    email: EmailConfig = section(EmailConfig, "Delivery by e-mail.")
    webhooks: tuple[WebhookConfig, ...] = option(
        (), SectionList(WebhookConfig), "Chat bots and webhooks that receive the digest."
    )
    schedule: ScheduleConfig = section(ScheduleConfig, "When watcher run scans and sends.")
    alarms: AlarmConfig = section(AlarmConfig, "When to raise an alarm.")
    # Key path (``webhooks[1].topics[2]``) → line in the file, for the checks made
    # after loading (check_references, env_warnings). Not a setting: two configs
    # that differ only in layout are equal.
    _lines: Mapping[str, int] = field(default_factory=dict, compare=False, repr=False)

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        """The time zone as a ZoneInfo (ZoneInfo caches instances itself)."""
        return zoneinfo.ZoneInfo(self.timezone)


# ---------------------------------------------------------------------- public API


def find_config(explicit: str | Path | None, env: Mapping[str, str]) -> Path:
    """The config file to use: ``--config``, else $WATCHER_CONFIG, else the usual places."""
    if explicit is not None and str(explicit) != "":
        return _must_exist(
            absolute(explicit),
            "--config",
            "Check the path given to --config, or leave --config out to use the default.",
        )
    from_env = env.get(ENV_VAR, "")
    if from_env:
        return _must_exist(
            absolute(from_env),
            ENV_VAR,
            f"Fix or unset {ENV_VAR}, or pass --config PATH.",
        )
    candidates = [absolute(DEFAULT_CONFIG), absolute("watcher.yaml")]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise ConfigError(
        f"No config file at {candidates[0]} or {candidates[1]}. Pass --config PATH, set "
        f"{ENV_VAR}, or run watcher from the project folder that holds {DEFAULT_CONFIG}."
    )


def load_config(path: Path, *, check_paths: bool = True) -> Config:
    """Read and check the YAML config at ``path``; raise ConfigError listing every problem."""
    path = Path(path)
    missing = (
        f"No config file at {absolute(path)}. Pass --config PATH, set {ENV_VAR}, or "
        f"run watcher from the project folder that holds {DEFAULT_CONFIG}."
    )
    with yaml_tree(path, "configuration", check_paths=check_paths, missing=missing) as (
        root,
        walk,
    ):
        if root is not None and not isinstance(root, MappingNode):
            raise ConfigError(
                f"{walk.file}:{node_line(root)}: the configuration must be a mapping of "
                f"'key: value' lines such as 'inbox: inbox', got {show_node(root)}. Write one "
                "setting per line, starting at the left margin."
            )
        line = node_line(root) if root is not None else 1
        # walk.lines is complete when Config() is built: the sections inside are read first.
        extra = {"path": path.resolve(), "_lines": walk.lines}
        config: Config = read_section(Config, root, walk, "", line, extra=extra)
        if config is not None:
            _check_cadences(config, walk)
    log.debug("loaded config %s", path)
    return config


def check_references(config: Config, topics: Sequence[Topic]) -> None:
    """Raise ConfigError if ``webhooks[].topics`` or ``email.topics`` name no topic.

    A misspelt id would silently route nothing to that channel; the watchlists
    are loaded apart from the config, so this runs once both are. Every
    problem is listed in the error's ``problems``, in line order.
    """
    ids = [topic.id for topic in topics]
    known = set(ids)
    listed = f"topics: {', '.join(ids)}" if ids else "the watchlists define no topics"
    problems: list[tuple[int, str]] = []

    def report(key: str, topic_id: str, *where: str) -> None:
        line = _line_of(config, *where, key)
        close = closest(topic_id, ids)
        hint = f"; did you mean {close!r}?" if close else ""
        problems.append(
            (line or 0, f"{_at(config, line)}: {key}: no topic {topic_id!r}{hint} ({listed})")
        )

    for n, hook in enumerate(config.webhooks, 1):
        key = f"webhooks[{n}].topics"
        for i, topic_id in enumerate(hook.topics, 1):
            if topic_id not in known:
                report(key, topic_id, f"{key}[{i}]")
    for topic_id, _ in config.email.topics:
        if topic_id not in known:
            report("email.topics", topic_id, f"email.topics.{topic_id}")
    for n, group in enumerate(config.email.groups, 1):
        key = f"email.groups[{n}].topics"
        for i, topic_id in enumerate(group.topics, 1):
            if topic_id not in known:
                report(key, topic_id, f"{key}[{i}]")
    if problems:
        count = len(problems)
        raise ConfigError(
            f"{config.path}: {count} problem{'' if count == 1 else 's'} in the configuration",
            problems=[message for _, message in sorted(problems, key=lambda p: p[0])],
        )


def env_warnings(config: Config, env: Mapping[str, str]) -> list[str]:
    """One warning per ``*_env`` option whose environment variable is not set (or empty).

    Not errors: ``watcher check`` often runs in a shell that lacks the service's
    secrets. Delivery reads the variables when it sends.
    """
    out: list[str] = []

    def check(key: str, variable: str | None, consequence: str) -> None:
        if variable and not env.get(variable):
            out.append(
                f"{_at(config, _line_of(config, key))}: {key}: environment variable {variable} "
                f"is not set, so {consequence}; set it in the service's environment (with "
                f"deploy/watcher.service: a line {variable}=... in /etc/watcher/secrets.env)"
            )

    email = config.email
    if email.enabled:
        check(
            "email.password_env",
            email.password_env,
            f"e-mail cannot log in as {email.username!r}"
            if email.username
            else "e-mail is sent without a password",
        )
    for n, hook in enumerate(config.webhooks, 1):
        check(
            f"webhooks[{n}].url_env",
            hook.url_env,
            f"webhook {hook.name!r} has no URL and nothing can be sent to it",
        )
        check(
            f"webhooks[{n}].secret_env",
            hook.secret_env,
            f"messages to webhook {hook.name!r} go unsigned, which it refuses if signing is on",
        )
    return out


def describe_options() -> str:
    """Every option with its type, default and docstring, for the README and docs."""
    return describe(Config)


# ----------------------------------------------------------------------- helpers


def _check_cadences(config: Config, walk: Walk) -> None:
    """What one option cannot see alone: ``weekly_at`` without ``cadence: weekly`` (a
    schedule that would silently never apply) and two e-mail groups of one name."""
    entries = [(f"webhooks[{n}]", h.cadence) for n, h in enumerate(config.webhooks, 1)]
    entries += [(f"email.groups[{n}]", g.cadence) for n, g in enumerate(config.email.groups, 1)]
    for prefix, cadence in entries:
        line = walk.lines.get(f"{prefix}.weekly_at")
        if line is not None and cadence != "weekly":
            walk.report(
                line,
                f"{prefix}.weekly_at",
                f"applies only to a weekly channel, but {prefix}.cadence is {cadence!r}; "
                "add 'cadence: weekly' or remove weekly_at",
            )
    seen: dict[str, int] = {}
    for n, group in enumerate(config.email.groups, 1):
        key = f"email.groups[{n}].name"
        line = walk.lines.get(key, 0)
        if group.name in seen:
            walk.report(
                line,
                key,
                f"the group name {group.name!r} is already used by email.groups[{seen[group.name]}]"
                "; give each group its own name",
            )
        seen.setdefault(group.name, n)


def _line_of(config: Config, *keys: str) -> int | None:
    """The line of the first of ``keys`` the file sets (None for a Config built in code)."""
    for key in keys:
        line = config._lines.get(key)
        if line is not None:
            return line
    return None


def _at(config: Config, line: int | None) -> str:
    return f"{config.path}:{line}" if line is not None else str(config.path)


def _must_exist(path: Path, source: str, fix: str) -> Path:
    if path.is_dir():
        raise ConfigError(
            f"{path} (from {source}) is a folder, not a config file. Point {source} at the "
            f"YAML file itself, e.g. {path / 'watcher.yaml'}."
        )
    if not path.exists():
        raise ConfigError(f"No config file at {path} (from {source}). {fix}")
    return path

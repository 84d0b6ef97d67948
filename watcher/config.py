"""Checked configuration: every option declared once, every problem reported at once.

Modelled on mkdocs' ``config_options``. Each setting is a dataclass field made
with :func:`option`, which carries its :class:`Kind` (how the YAML value is read
and checked), its default and its docstring. One generic walker reads the YAML
*node tree* against those declarations, so every problem keeps the line of the
key it belongs to, and adding a section means declaring a dataclass, not
writing validation code::

    @dataclass(frozen=True, kw_only=True)
    class DigestConfig:
        hour: int = option(7, Number(minimum=0, maximum=23, integer=True), "Hour to send.")

    # and in Config:
    digest: DigestConfig = section(DigestConfig, "The daily digest.")
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import logging
import math
import os
import re
import textwrap
import zoneinfo
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from watcher.errors import ConfigError

log = logging.getLogger(__name__)

DEFAULT_CONFIG = Path("config/watcher.yaml")
ENV_VAR = "WATCHER_CONFIG"

_META = "watcher.option"  # dataclass field metadata key holding an OptionSpec
_NULL_TAG = "tag:yaml.org,2002:null"
_STR_TAG = "tag:yaml.org,2002:str"
_MERGE_TAG = "tag:yaml.org,2002:merge"


# --------------------------------------------------------------------------- kinds


class Invalid(Exception):
    """A value is wrong. The message says what is wrong and how to fix it.

    ``line`` overrides the key's line, e.g. for the bad item of a list.
    """

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


class Kind:
    """How one option's YAML value is read (``parse``) and checked (``check``).

    ``parse`` turns a YAML node into a Python value or raises :class:`Invalid`
    for a wrong type; ``check`` validates and normalises a value and is also
    applied to defaults, so a default path is resolved and checked like a
    written one.
    """

    label = "value"  # what describe_options() calls this type

    def parse(self, node: Node, walk: _Walk, key: str) -> Any:
        raise NotImplementedError

    def check(self, value: Any, walk: _Walk, key: str) -> Any:
        return value

    def read(self, node: Node, walk: _Walk, key: str) -> Any:
        """A value written in the file."""
        return self.check(self.parse(node, walk, key), walk, key)

    def read_default(self, default: Any, walk: _Walk, key: str, line: int) -> Any:
        """The value used when the key is absent."""
        return self.check(default, walk, key)

    def show(self, value: Any) -> str:
        """A default as a user would write it in YAML."""
        return _show(value)


@dataclass(frozen=True)
class String(Kind):
    """Text. Any non-empty scalar is taken as the user typed it (``on`` stays ``'on'``)."""

    label = "text"

    def parse(self, node: Node, walk: _Walk, key: str) -> Any:
        if not isinstance(node, ScalarNode) or node.tag == _NULL_TAG:
            raise Invalid(f"expected text, got {_got(node)}")
        return node.value


@dataclass(frozen=True)
class Number(Kind):
    """An int or float, optionally bounded. Quoted numbers are text and rejected."""

    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False  # True: the minimum itself is not allowed
    integer: bool = False

    @property
    def label(self) -> str:  # type: ignore[override]
        text = "whole number" if self.integer else "number"
        if self.minimum is not None:
            text += f" {'>' if self.exclusive_minimum else '>='} {_num(self.minimum)}"
        if self.maximum is not None:
            text += f" <= {_num(self.maximum)}"
        return text

    def parse(self, node: Node, walk: _Walk, key: str) -> Any:
        what = "a whole number" if self.integer else "a number"
        value = walk.construct(node) if isinstance(node, ScalarNode) else None
        if (
            isinstance(value, str)
            and isinstance(node, ScalarNode)
            and node.style is None
            and _float_or_none(value) is not None
        ):
            # PyYAML's YAML 1.1 rules read plain `1e3` as text; it is clearly a number.
            value = _float_or_none(value)
        if isinstance(value, bool) or not isinstance(value, int | float):
            hint = _quoted_hint(node, walk, {"int", "float"})
            raise Invalid(f"expected {what}, got {_got(node)}{hint}")
        if not math.isfinite(value):
            raise Invalid(f"expected a finite number, got {_got(node)}")
        if self.integer:
            if isinstance(value, float) and not value.is_integer():
                raise Invalid(f"expected a whole number, got {_got(node)}")
            return int(value)
        return float(value)

    def check(self, value: Any, walk: _Walk, key: str) -> Any:
        low = self.minimum
        if low is not None and self.exclusive_minimum and value <= low:
            raise Invalid(f"must be greater than {_num(low)}, got {_num(value)}")
        if low is not None and not self.exclusive_minimum and value < low:
            raise Invalid(f"must be at least {_num(low)}, got {_num(value)}")
        if self.maximum is not None and value > self.maximum:
            raise Invalid(f"must be at most {_num(self.maximum)}, got {_num(value)}")
        return value


@dataclass(frozen=True)
class Boolean(Kind):
    """A real YAML boolean: true/false (and YAML 1.1's yes/no/on/off, unquoted)."""

    label = "true or false"

    def parse(self, node: Node, walk: _Walk, key: str) -> Any:
        value = walk.construct(node) if isinstance(node, ScalarNode) else None
        if not isinstance(value, bool):
            hint = _quoted_hint(node, walk, {"bool"})
            raise Invalid(f"expected true or false, got {_got(node)}{hint}")
        return value


@dataclass(frozen=True)
class StringList(Kind):
    """A YAML list of text items, stored as a tuple."""

    label = "list of text"
    example = "['a', 'b']"

    def parse(self, node: Node, walk: _Walk, key: str) -> Any:
        if not isinstance(node, SequenceNode):
            raise Invalid(f"expected a list such as {self.example}, got {_got(node)}")
        items = []
        for number, item in enumerate(node.value, 1):
            if not isinstance(item, ScalarNode) or item.tag == _NULL_TAG:
                raise Invalid(f"item {number} must be text, got {_got(item)}", _line(item))
            items.append(item.value)
        return tuple(items)


@dataclass(frozen=True)
class Globs(StringList):
    """File-name glob patterns (fnmatch); they never see the folder part."""

    label = "list of file-name patterns"
    example = "['*.tmp', '.*']"

    def check(self, value: Any, walk: _Walk, key: str) -> Any:
        for pattern in value:
            if "/" in pattern:
                raise Invalid(
                    f"pattern {pattern!r} contains '/', but patterns are matched against "
                    "file names only; drop the folder part"
                )
        return value


@dataclass(frozen=True)
class Choice(Kind):
    """One of a fixed set of words; matched case-insensitively, stored as declared."""

    choices: tuple[str, ...] = ()
    case_sensitive: bool = False

    @property
    def label(self) -> str:  # type: ignore[override]
        return "one of " + ", ".join(self.choices)

    def parse(self, node: Node, walk: _Walk, key: str) -> Any:
        return String().parse(node, walk, key)

    def check(self, value: Any, walk: _Walk, key: str) -> Any:
        for choice in self.choices:
            if choice == value or (
                not self.case_sensitive and choice.casefold() == value.casefold()
            ):
                return choice
        close = _closest(value, self.choices)
        hint = f"; did you mean {close!r}?" if close else ""
        raise Invalid(f"expected one of {', '.join(self.choices)}, got {value!r}{hint}")


@dataclass(frozen=True)
class Timezone(Kind):
    """An IANA time-zone name that :class:`zoneinfo.ZoneInfo` can load."""

    label = "IANA time zone"

    def parse(self, node: Node, walk: _Walk, key: str) -> Any:
        return String().parse(node, walk, key)

    def check(self, value: Any, walk: _Walk, key: str) -> Any:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
            # Only list the zones on failure: available_timezones() walks tzdata.
            close = _closest(value, sorted(zoneinfo.available_timezones()))
            if close:
                raise Invalid(f"unknown timezone {value!r}; did you mean {close!r}?") from None
            raise Invalid(
                f"unknown timezone {value!r}; use an IANA name such as 'Asia/Shanghai' or 'UTC'"
            ) from None
        return value


PathMust = Literal["folder", "file", "file_or_folder", "creatable_file", "creatable_folder"]


@dataclass(frozen=True)
class PathType(Kind):
    """A filesystem path, ``~`` expanded and resolved against the config file's folder.

    ``must`` says what has to be on disk when paths are checked:
    ``"folder"``/``"file"``/``"file_or_folder"`` must exist and be readable;
    ``"creatable_file"`` need not exist, but its folder must exist or be
    creatable (nothing is created while checking).
    """

    must: PathMust = "file_or_folder"

    @property
    def label(self) -> str:  # type: ignore[override]
        return {
            "folder": "path to an existing folder",
            "file": "path to an existing file",
            "file_or_folder": "path to an existing file or folder",
            "creatable_file": "path to a file (its folder is created when missing)",
            "creatable_folder": "path to a folder (created when missing)",
        }[self.must]

    def parse(self, node: Node, walk: _Walk, key: str) -> Any:
        if not isinstance(node, ScalarNode) or node.tag == _NULL_TAG or not node.value.strip():
            raise Invalid(f"expected a path, got {_got(node)}")
        return Path(node.value)

    def check(self, value: Any, walk: _Walk, key: str) -> Any:
        path = (walk.base / Path(value).expanduser()).resolve()
        if walk.check_paths:
            name = key  # the messages tell the user which key to change
            if self.must == "creatable_file":
                _check_creatable(path, name)
            elif self.must == "creatable_folder":
                if path.exists() and not path.is_dir():
                    raise Invalid(f"{path} is a file; point {name} at a folder")
                _check_creatable(path / "x", name)
            else:
                _check_existing(path, name, self.must)
        return path


def _check_existing(path: Path, key: str, must: PathMust) -> None:
    if must == "folder":
        if not path.exists():
            raise Invalid(
                f"folder {path} does not exist; create it or point {key} at an existing folder"
            )
        if not path.is_dir():
            raise Invalid(f"{path} is not a folder; point {key} at a folder")
        if not os.access(path, os.R_OK | os.X_OK):
            raise Invalid(
                f"folder {path} is not readable; fix its permissions or point {key} "
                "at another folder"
            )
        return
    if not path.exists():
        what = "a file" if must == "file" else "a file or a folder"
        raise Invalid(f"{path} does not exist; create it or point {key} at {what} that exists")
    if must == "file" and not path.is_file():
        raise Invalid(f"{path} is not a file; point {key} at a file")
    if not os.access(path, os.R_OK):
        raise Invalid(f"{path} is not readable; fix its permissions or point {key} elsewhere")


def _check_creatable(path: Path, key: str) -> None:
    if path.is_dir():
        raise Invalid(
            f"{path} is a folder; point {key} at a file inside it, e.g. {path / 'watcher.db'}"
        )
    if path.exists():
        if not os.access(path, os.R_OK | os.W_OK):
            raise Invalid(
                f"file {path} is not writable; fix its permissions or point {key} elsewhere"
            )
        return
    # The folder may be missing (fresh checkout): it will be created on first use,
    # which works when the nearest existing ancestor is a writable folder.
    ancestor = path.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise Invalid(
            f"cannot create folder {path.parent}: {ancestor} is a file; point {key} elsewhere"
        )
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise Invalid(
            f"cannot create {path}: folder {ancestor} is not writable; fix its permissions "
            f"or point {key} elsewhere"
        )


@dataclass(frozen=True)
class Section(Kind):
    """A nested mapping read into the dataclass ``cls`` (whose fields are options)."""

    cls: type = object
    label = "section"

    def read(self, node: Node, walk: _Walk, key: str) -> Any:
        if isinstance(node, ScalarNode) and node.tag == _NULL_TAG:
            # `scan:` with every line below commented out: all defaults.
            return _read_section(self.cls, None, walk, key + ".", _line(node))
        if not isinstance(node, MappingNode):
            raise Invalid(
                f"expected a section of 'key: value' lines indented under {key}:, got {_got(node)}"
            )
        return _read_section(self.cls, node, walk, key + ".", _line(node))

    def read_default(self, default: Any, walk: _Walk, key: str, line: int) -> Any:
        # Read an empty section so the defaults inside are checked too.
        return _read_section(self.cls, None, walk, key + ".", line)


# ------------------------------------------------------------------ declarations


@dataclass(frozen=True)
class OptionSpec:
    """What :func:`option` attaches to a dataclass field."""

    kind: Kind
    doc: str
    required: bool = False
    key: str | None = None  # the YAML key when it differs from the field name


def option(default: Any, kind: Kind, doc: str, *, key: str | None = None) -> Any:
    """Declare one setting: a dataclass field with its kind, default and docstring.

    ``key`` names the YAML key when it cannot be the field name (``from``).
    """
    return field(default=default, metadata={_META: OptionSpec(kind, doc, key=key)})


def required_option(kind: Kind, doc: str) -> Any:
    """Declare a setting that has no default and must be written in the file."""
    return field(metadata={_META: OptionSpec(kind, doc, required=True)})


def section(cls: type, doc: str) -> Any:
    """Declare a nested section read into dataclass ``cls``; absent means all defaults."""
    return field(default_factory=cls, metadata={_META: OptionSpec(Section(cls), doc)})


# ----------------------------------------------------------- digest and delivery


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)\s*$")
_CLOCK = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)(?::([0-5]\d))?$")


def parse_duration(text: str) -> float:
    """'30s', '10m', '1h', '1d' → seconds; ValueError otherwise."""
    m = _DURATION.match(str(text))
    if not m:
        raise ValueError(text)
    return float(m.group(1)) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]


@dataclass(frozen=True)
class Duration(Kind):
    """A duration such as 30s, 10m, 1h or 1d; stored in seconds."""

    minimum: float = 1.0
    label = "duration such as 30s, 10m, 1h"

    def parse(self, node: Node, walk: _Walk, key: str) -> Any:
        text = String().parse(node, walk, key) if isinstance(node, ScalarNode) else None
        return self.check(text, walk, key)

    def check(self, value: Any, walk: _Walk, key: str) -> Any:
        if isinstance(value, int | float):
            seconds = float(value)
        else:
            try:
                seconds = parse_duration(str(value))
            except ValueError:
                raise Invalid(
                    f"expected a duration such as 30s, 10m or 1h, got {value!r}"
                ) from None
        if seconds < self.minimum:
            raise Invalid(f"must be at least {_num(self.minimum)}s, got {value!r}")
        return seconds

    def show(self, value: Any) -> str:
        return f"{_num(value)}s" if isinstance(value, int | float) else str(value)


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


@dataclass(frozen=True)
class DigestTimes(Kind):
    """When the digest is due: "07:30", a list of such times, or a 5-field cron line."""

    label = '"HH:MM", a list of them, or a cron expression'

    def parse(self, node: Node, walk: _Walk, key: str) -> Any:
        if isinstance(node, SequenceNode):
            items = StringList().parse(node, walk, key)
        else:
            items = (String().parse(node, walk, key),)
        return self.check(items, walk, key)

    def check(self, value: Any, walk: _Walk, key: str) -> Any:
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
class Addresses(StringList):
    """E-mail addresses, each with an @ ("Name <a@b>" is fine)."""

    label = "list of e-mail addresses"
    example = "['analyst@example.com']"

    def check(self, value: Any, walk: _Walk, key: str) -> Any:
        for address in value:
            if "@" not in address:
                raise Invalid(f"{address!r} is not an e-mail address (it has no @)")
        return value


@dataclass(frozen=True)
class Mapping_(Kind):
    """A mapping of topic id to a list of e-mail addresses."""

    label = "mapping of topic id to addresses"

    def parse(self, node: Node, walk: _Walk, key: str) -> Any:
        if not isinstance(node, MappingNode):
            raise Invalid("expected a mapping such as {safety: [a@example.com]}")
        out = []
        for k, v in node.value:
            if not isinstance(k, ScalarNode):
                raise Invalid("keys must be topic ids", _line(k))
            addresses = Addresses().read(v, walk, f"{key}.{k.value}")
            out.append((str(k.value), tuple(addresses)))
        return tuple(out)


@dataclass(frozen=True)
class SectionList(Kind):
    """A list of mappings, each read into the dataclass ``cls``."""

    cls: type = object
    label = "list of sections"

    def parse(self, node: Node, walk: _Walk, key: str) -> Any:
        if not isinstance(node, SequenceNode):
            raise Invalid(f"expected a list of entries starting with '- ', got {_got(node)}")
        out = []
        bad = False
        for n, item in enumerate(node.value, 1):
            if not isinstance(item, MappingNode):
                walk.report(_line(item), f"{key}[{n}]", "expected a mapping of 'key: value' lines")
                bad = True
                continue
            value = _read_section(self.cls, item, walk, f"{key}[{n}].", _line(item))
            bad = bad or value is None
            out.append(value)
        return tuple(out) if not bad else ()


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
    sender: str = option("watcher@localhost", String(), "The From address.", key="from")
    to: tuple[str, ...] = option((), Addresses(), "Who gets the whole digest.")
    topics: tuple[tuple[str, tuple[str, ...]], ...] = option(
        (), Mapping_(), "Per-topic recipients: {topic_id: [addresses]} get that topic only."
    )
    timeout: float = option(30.0, Number(minimum=1), "Seconds to wait for the server.")


@dataclass(frozen=True, kw_only=True)
class WebhookConfig:
    """One chat bot or webhook under ``webhooks:``."""

    name: str = required_option(String(), "A name for this channel, unique, such as 'team-wecom'.")
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


@dataclass(frozen=True, kw_only=True)
class Config:
    """The whole configuration; paths are absolute (resolved against the file's folder).

    ``option()``/``section()`` return ``dataclasses.field`` objects, which ruff's
    RUF009 cannot see through; hence the noqa comments.
    """

    path: Path  # the config file itself, resolved; not an option
    inbox: Path = option(
        Path("inbox"),
        PathType("folder"),
        "Folder scanned for newspaper pages.",
    )
    state: Path = option(
        Path("state/watcher.db"),
        PathType("creatable_file"),
        "SQLite database holding articles and scan state; its folder is created if missing.",
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

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        """The time zone as a ZoneInfo (ZoneInfo caches instances itself)."""
        return zoneinfo.ZoneInfo(self.timezone)


# ------------------------------------------------------------------------ walker


@dataclass
class _Walk:
    """State shared while one file is read: where it is and what went wrong."""

    file: str
    base: Path
    check_paths: bool
    loader: yaml.SafeLoader
    problems: list[tuple[int, str]] = field(default_factory=list)

    def report(self, line: int, key: str, message: str) -> None:
        self.problems.append((line, f"{self.file}:{line}: {key}: {message}"))

    def construct(self, node: Node) -> Any:
        """Build the Python value of a node with the safe constructor."""
        try:
            return self.loader.construct_object(node, deep=True)
        except yaml.YAMLError as exc:
            problem = getattr(exc, "problem", None) or str(exc)
            raise Invalid(f"cannot read this value ({problem}); write a plain value") from None


def _options(cls: type) -> dict[str, tuple[dataclasses.Field[Any], OptionSpec]]:
    """YAML key → (field, spec) for every option of ``cls``."""
    out = {}
    for f in dataclasses.fields(cls):
        if _META in f.metadata:
            spec = f.metadata[_META]
            out[spec.key or f.name] = (f, spec)
    return out


def _default_of(f: dataclasses.Field[Any]) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return None


def _pairs(node: MappingNode, walk: _Walk, prefix: str) -> dict[str, tuple[int, Node]]:
    """The mapping's keys (last one wins, as in YAML loaders) with their lines.

    Duplicate keys are reported; ``<<`` merge keys are honoured, and a key written
    next to a merge overrides the merged one without being called a duplicate.
    """
    seen: dict[str, int] = {}
    for key_node, _ in node.value:
        if isinstance(key_node, ScalarNode) and key_node.tag != _MERGE_TAG:
            line = _line(key_node)
            if key_node.value in seen:
                walk.report(
                    line,
                    prefix + key_node.value,
                    f"duplicate key; it is already set on line {seen[key_node.value]}, "
                    "so remove one of them",
                )
            else:
                seen[key_node.value] = line
    try:
        walk.loader.flatten_mapping(node)
    except yaml.YAMLError as exc:
        walk.report(_line(node), prefix.rstrip(".") or "<<", f"bad merge: {exc}")
    pairs: dict[str, tuple[int, Node]] = {}
    for key_node, value_node in node.value:
        if not isinstance(key_node, ScalarNode):
            walk.report(_line(key_node), prefix + "?", "keys must be plain names such as 'inbox'")
            continue
        pairs[key_node.value] = (_line(key_node), value_node)
    return pairs


def _read_section(
    cls: type,
    node: MappingNode | None,
    walk: _Walk,
    prefix: str,
    line: int,
    extra: Mapping[str, Any] | None = None,
) -> Any:
    """Read ``node`` into ``cls``; report problems and return None if there were any."""
    specs = _options(cls)
    before = len(walk.problems)
    values: dict[str, Any] = dict(extra or {})
    pairs = _pairs(node, walk, prefix) if node is not None else {}
    for name, (key_line, value_node) in pairs.items():
        key = prefix + name
        if name not in specs:
            close = _closest(name, specs)
            if close:
                walk.report(key_line, key, f"unknown key; did you mean {close!r}?")
            else:
                walk.report(key_line, key, f"unknown key (valid keys: {', '.join(specs)})")
            continue
        try:
            values[specs[name][0].name] = specs[name][1].kind.read(value_node, walk, key)
        except Invalid as exc:
            walk.report(exc.line or key_line, key, exc.message)
    for name, (f, spec) in specs.items():
        if name in pairs:
            continue
        key = prefix + name
        if spec.required:
            where = f"under {prefix.rstrip('.')}:" if prefix else "to the file"
            walk.report(line, key, f"required key is missing; add '{name}: ...' {where}")
            continue
        default = _default_of(f)
        try:
            values[f.name] = spec.kind.read_default(default, walk, key, line)
        except Invalid as exc:
            note = f"{key} is not set, so its default '{spec.kind.show(default)}' was used"
            walk.report(line, key, f"{exc.message} ({note})")
    if len(walk.problems) > before:
        return None
    return cls(**values)


# ---------------------------------------------------------------------- public API


def find_config(explicit: str | Path | None, env: Mapping[str, str]) -> Path:
    """The config file to use: ``--config``, else $WATCHER_CONFIG, else the usual places."""
    if explicit is not None and str(explicit) != "":
        return _must_exist(
            _absolute(explicit),
            "--config",
            "Check the path given to --config, or leave --config out to use the default.",
        )
    from_env = env.get(ENV_VAR, "")
    if from_env:
        return _must_exist(
            _absolute(from_env),
            ENV_VAR,
            f"Fix or unset {ENV_VAR}, or pass --config PATH.",
        )
    candidates = [_absolute(DEFAULT_CONFIG), _absolute("watcher.yaml")]
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
    with yaml_tree(path, "configuration", check_paths=check_paths) as (root, walk):
        if root is not None and not isinstance(root, MappingNode):
            raise ConfigError(
                f"{walk.file}:{_line(root)}: the configuration must be a mapping of "
                f"'key: value' lines such as 'inbox: inbox', got {_got(root)}. Write one "
                "setting per line, starting at the left margin."
            )
        line = _line(root) if root is not None else 1
        config = _read_section(Config, root, walk, "", line, extra={"path": path.resolve()})
    log.debug("loaded config %s", path)
    return config


@contextmanager
def yaml_tree(
    path: Path, what: str, *, check_paths: bool = True
) -> Iterator[tuple[Node | None, _Walk]]:
    """Open a YAML file as a node tree (``None`` when empty) and a walker.

    Problems the caller reports on the walker are raised together as one
    ConfigError when the block ends. Used for the config and the watchlists.
    """
    file = str(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(
            f"No config file at {_absolute(path)}. Pass --config PATH, set {ENV_VAR}, or "
            f"run watcher from the project folder that holds {DEFAULT_CONFIG}."
            if what == "configuration"
            else f"{_absolute(path)} does not exist."
        ) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{file}: the {what} file is not UTF-8 text (bad byte at offset {exc.start}); "
            "save it as UTF-8."
        ) from None
    except OSError as exc:
        raise ConfigError(
            f"{file}: cannot read the {what} file ({exc.strerror}); check that it is a "
            "readable file."
        ) from None

    loader = yaml.SafeLoader(text)
    try:
        try:
            root = loader.get_single_node()
        except yaml.MarkedYAMLError as exc:
            raise ConfigError(_syntax_message(file, exc)) from None
        except yaml.YAMLError as exc:
            raise ConfigError(
                f"{file}: YAML error: {exc}. Check the file for unusual characters."
            ) from None
        if isinstance(root, ScalarNode) and root.tag == _NULL_TAG:
            root = None  # empty file or only comments
        walk = _Walk(file=file, base=path.resolve().parent, check_paths=check_paths, loader=loader)
        yield root, walk
    finally:
        loader.dispose()
    if walk.problems:
        # Sort by line only: a stable sort keeps same-line problems in declaration order.
        problems = [msg for _, msg in sorted(walk.problems, key=lambda p: p[0])]
        count = len(problems)
        raise ConfigError(
            f"{file}: {count} problem{'' if count == 1 else 's'} in the {what}",
            problems=problems,
        )


def describe_options() -> str:
    """Every option with its type, default and docstring, for the README and docs."""
    lines: list[str] = []
    _describe(Config, "", lines)
    return "\n".join(lines).rstrip() + "\n"


def _describe(cls: type, prefix: str, lines: list[str]) -> None:
    for name, (f, spec) in _options(cls).items():
        key = prefix + name
        wrap = textwrap.wrap(spec.doc, width=76, initial_indent="    ", subsequent_indent="    ")
        if isinstance(spec.kind, Section):
            lines += [f"{key}:  (section)", *wrap, ""]
            _describe(spec.kind.cls, key + ".", lines)
            continue
        default = "required" if spec.required else f"default: {spec.kind.show(_default_of(f))}"
        lines += [f"{key}: {spec.kind.label} ({default})", *wrap, ""]


# ----------------------------------------------------------------------- helpers


def _line(node: Node) -> int:
    return node.start_mark.line + 1


def _absolute(path: str | Path) -> Path:
    """Absolute, ``~`` expanded, without resolving symlinks (it is shown to users)."""
    return Path(os.path.abspath(Path(path).expanduser()))


def _must_exist(path: Path, source: str, fix: str) -> Path:
    if path.is_dir():
        raise ConfigError(
            f"{path} (from {source}) is a folder, not a config file. Point {source} at the "
            f"YAML file itself, e.g. {path / 'watcher.yaml'}."
        )
    if not path.exists():
        raise ConfigError(f"No config file at {path} (from {source}). {fix}")
    return path


def _syntax_message(file: str, exc: yaml.MarkedYAMLError) -> str:
    mark = exc.problem_mark or exc.context_mark
    problem = (exc.problem or exc.context or "cannot parse").rstrip(".")
    where = f"{file}:{mark.line + 1}:{mark.column + 1}" if mark is not None else file
    return (
        f"{where}: YAML syntax error: {problem}. "
        "Check the indentation and quoting around that line."
    )


def _got(node: Node) -> str:
    """How a wrong value is shown in a message."""
    if isinstance(node, MappingNode):
        return "a section of 'key: value' lines"
    if isinstance(node, SequenceNode):
        return "a list"
    if node.tag == _NULL_TAG:
        return "an empty value"
    return repr(node.value)


def _quoted_hint(node: Node, walk: _Walk, kinds: set[str]) -> str:
    """Explain that quotes turned a would-be number/boolean into text."""
    if not isinstance(node, ScalarNode) or node.style not in ("'", '"'):
        return ""
    tag = walk.loader.resolve(ScalarNode, node.value, (True, False))
    if tag.rsplit(":", 1)[-1] in kinds:
        return " (the quotes make it text; remove them)"
    return ""


def _closest(word: str, candidates: Iterable[str]) -> str | None:
    """The candidate most like ``word``, ignoring case, or None if nothing is close."""
    folded = {c.casefold(): c for c in candidates}
    match = difflib.get_close_matches(word.casefold(), list(folded), n=1)
    return folded[match[0]] if match else None


def _float_or_none(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _num(value: float) -> str:
    return f"{value:g}"


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, float):
        return _num(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(json.dumps(str(v), ensure_ascii=False) for v in value) + "]"
    return str(value)


# Public names for other readers of YAML (the watchlists).
Walk = _Walk
read_section = _read_section
node_line = _line

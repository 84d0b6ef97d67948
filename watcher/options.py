"""The option framework: every setting declared once, every problem reported at once.

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

The schema itself (what watcher's config holds) is in :mod:`watcher.config`;
the watchlists are read with the same framework.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
import os
import re
import textwrap
import unicodedata
import zoneinfo
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from watcher.errors import ConfigError

_META = "watcher.option"  # dataclass field metadata key holding an OptionSpec
_NULL_TAG = "tag:yaml.org,2002:null"
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

    label = "value"  # what describe() calls this type

    def parse(self, node: Node, walk: Walk, key: str) -> Any:
        raise NotImplementedError

    def check(self, value: Any, walk: Walk, key: str) -> Any:
        return value

    def read(self, node: Node, walk: Walk, key: str) -> Any:
        """A value written in the file."""
        return self.check(self.parse(node, walk, key), walk, key)

    def read_default(self, default: Any, walk: Walk, key: str, line: int) -> Any:
        """The value used when the key is absent."""
        return self.check(default, walk, key)

    def show(self, value: Any) -> str:
        """A default as a user would write it in YAML."""
        return show_value(value)


@dataclass(frozen=True)
class String(Kind):
    """Text. Any non-empty scalar is taken as the user typed it (``on`` stays ``'on'``)."""

    label = "text"

    def parse(self, node: Node, walk: Walk, key: str) -> Any:
        if not isinstance(node, ScalarNode) or node.tag == _NULL_TAG:
            raise Invalid(f"expected text, got {show_node(node)}")
        return node.value


@dataclass(frozen=True)
class OneLine(String):
    """Text without control characters, for names that end up in headers and one-line output.

    ``noun`` names the thing in the message ("write the name on one line").
    """

    noun: str = "name"
    label = "text on one line"

    def check(self, value: Any, walk: Walk, key: str) -> Any:
        if value is not None:
            check_one_line(value, self.noun)
        return value


def check_one_line(text: str, noun: str) -> None:
    """Raise Invalid if ``text`` holds a control character or a line break.

    A newline in a topic name or a sender breaks every e-mail header it goes
    into; Unicode line and paragraph separators split lines just the same.
    """
    for char in text:
        category = unicodedata.category(char)
        if category in ("Cc", "Zl", "Zp"):
            what = "control character" if category == "Cc" else "line separator"
            raise Invalid(f"contains a {what} (U+{ord(char):04X}); write the {noun} on one line")


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

    def parse(self, node: Node, walk: Walk, key: str) -> Any:
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
            raise Invalid(f"expected {what}, got {show_node(node)}{hint}")
        if not math.isfinite(value):
            raise Invalid(f"expected a finite number, got {show_node(node)}")
        if self.integer:
            if isinstance(value, float) and not value.is_integer():
                raise Invalid(f"expected a whole number, got {show_node(node)}")
            return int(value)
        return float(value)

    def check(self, value: Any, walk: Walk, key: str) -> Any:
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

    def parse(self, node: Node, walk: Walk, key: str) -> Any:
        value = walk.construct(node) if isinstance(node, ScalarNode) else None
        if not isinstance(value, bool):
            hint = _quoted_hint(node, walk, {"bool"})
            raise Invalid(f"expected true or false, got {show_node(node)}{hint}")
        return value


@dataclass(frozen=True)
class StringList(Kind):
    """A YAML list of text items, stored as a tuple.

    Subclasses check items one by one in :meth:`check_item`; every bad item is
    reported, each on its own line.
    """

    label = "list of text"
    example = "['a', 'b']"

    def parse(self, node: Node, walk: Walk, key: str) -> Any:
        if not isinstance(node, SequenceNode):
            raise Invalid(f"expected a list such as {self.example}, got {show_node(node)}")
        items = []
        for number, item in enumerate(node.value, 1):
            if not isinstance(item, ScalarNode) or item.tag == _NULL_TAG:
                raise Invalid(f"item {number} must be text, got {show_node(item)}", node_line(item))
            walk.lines[f"{key}[{number}]"] = node_line(item)
            items.append(item.value)
        return tuple(items)

    def check_item(self, item: str, walk: Walk, key: str) -> str:
        """Check and normalise one item; raise Invalid if it is wrong."""
        return item

    def check(self, value: Any, walk: Walk, key: str) -> Any:
        return tuple(self.check_item(item, walk, key) for item in value)

    def read(self, node: Node, walk: Walk, key: str) -> Any:
        items = self.parse(node, walk, key)
        out = []
        for item, item_node in zip(items, node.value, strict=True):
            try:
                out.append(self.check_item(item, walk, key))
            except Invalid as exc:
                # Reported here rather than raised, so a second bad item is reported
                # too; the problem count makes the enclosing section fail.
                walk.report(exc.line or node_line(item_node), key, exc.message)
        return tuple(out)


@dataclass(frozen=True)
class Globs(StringList):
    """File-name glob patterns (fnmatch); they never see the folder part."""

    label = "list of file-name patterns"
    example = "['*.tmp', '.*']"

    def check_item(self, item: str, walk: Walk, key: str) -> str:
        if "/" in item:
            raise Invalid(
                f"pattern {item!r} contains '/', but patterns are matched against "
                "file names only; drop the folder part"
            )
        return item


@dataclass(frozen=True)
class Choice(Kind):
    """One of a fixed set of words; matched case-insensitively, stored as declared."""

    choices: tuple[str, ...] = ()
    case_sensitive: bool = False

    @property
    def label(self) -> str:  # type: ignore[override]
        return "one of " + ", ".join(self.choices)

    def parse(self, node: Node, walk: Walk, key: str) -> Any:
        return String().parse(node, walk, key)

    def check(self, value: Any, walk: Walk, key: str) -> Any:
        for choice in self.choices:
            if choice == value or (
                not self.case_sensitive and choice.casefold() == value.casefold()
            ):
                return choice
        close = closest(value, self.choices)
        hint = f"; did you mean {close!r}?" if close else ""
        raise Invalid(f"expected one of {', '.join(self.choices)}, got {value!r}{hint}")


@dataclass(frozen=True)
class Timezone(Kind):
    """An IANA time-zone name that :class:`zoneinfo.ZoneInfo` can load."""

    label = "IANA time zone"

    def parse(self, node: Node, walk: Walk, key: str) -> Any:
        return String().parse(node, walk, key)

    def check(self, value: Any, walk: Walk, key: str) -> Any:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
            # Only list the zones on failure: available_timezones() walks tzdata.
            close = closest(value, sorted(zoneinfo.available_timezones()))
            if close:
                raise Invalid(f"unknown timezone {value!r}; did you mean {close!r}?") from None
            raise Invalid(
                f"unknown timezone {value!r}; use an IANA name such as 'Asia/Shanghai' or 'UTC'"
            ) from None
        return value


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)\s*$")


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

    def parse(self, node: Node, walk: Walk, key: str) -> Any:
        text = String().parse(node, walk, key) if isinstance(node, ScalarNode) else None
        return self.check(text, walk, key)

    def check(self, value: Any, walk: Walk, key: str) -> Any:
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

    def parse(self, node: Node, walk: Walk, key: str) -> Any:
        if not isinstance(node, ScalarNode) or node.tag == _NULL_TAG or not node.value.strip():
            raise Invalid(f"expected a path, got {show_node(node)}")
        return Path(node.value)

    def check(self, value: Any, walk: Walk, key: str) -> Any:
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

    def read(self, node: Node, walk: Walk, key: str) -> Any:
        if isinstance(node, ScalarNode) and node.tag == _NULL_TAG:
            # `scan:` with every line below commented out: all defaults.
            return read_section(self.cls, None, walk, key + ".", node_line(node))
        if not isinstance(node, MappingNode):
            raise Invalid(
                f"expected a section of 'key: value' lines indented under {key}:, "
                f"got {show_node(node)}"
            )
        return read_section(self.cls, node, walk, key + ".", node_line(node))

    def read_default(self, default: Any, walk: Walk, key: str, line: int) -> Any:
        # Read an empty section so the defaults inside are checked too.
        return read_section(self.cls, None, walk, key + ".", line)


@dataclass(frozen=True)
class SectionList(Kind):
    """A list of mappings, each read into the dataclass ``cls``."""

    cls: type = object
    label = "list of sections"

    def parse(self, node: Node, walk: Walk, key: str) -> Any:
        if not isinstance(node, SequenceNode):
            raise Invalid(f"expected a list of entries starting with '- ', got {show_node(node)}")
        out = []
        bad = False
        for n, item in enumerate(node.value, 1):
            if not isinstance(item, MappingNode):
                walk.report(
                    node_line(item), f"{key}[{n}]", "expected a mapping of 'key: value' lines"
                )
                bad = True
                continue
            walk.lines[f"{key}[{n}]"] = node_line(item)
            value = read_section(self.cls, item, walk, f"{key}[{n}].", node_line(item))
            bad = bad or value is None
            out.append(value)
        return tuple(out) if not bad else ()


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


# ------------------------------------------------------------------------ walker


@dataclass
class Walk:
    """State shared while one file is read: where it is and what went wrong.

    ``lines`` maps each key path read (``email.topics.safety``,
    ``webhooks[1].topics[2]``) to its line, for checks made after loading.
    """

    file: str
    base: Path
    check_paths: bool
    loader: yaml.SafeLoader
    problems: list[tuple[int, str]] = field(default_factory=list)
    lines: dict[str, int] = field(default_factory=dict)

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


def _pairs(node: MappingNode, walk: Walk, prefix: str) -> dict[str, tuple[int, Node]]:
    """The mapping's keys (last one wins, as in YAML loaders) with their lines.

    Duplicate keys are reported; ``<<`` merge keys are honoured, and a key written
    next to a merge overrides the merged one without being called a duplicate.
    """
    seen: dict[str, int] = {}
    for key_node, _ in node.value:
        if isinstance(key_node, ScalarNode) and key_node.tag != _MERGE_TAG:
            line = node_line(key_node)
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
        walk.report(node_line(node), prefix.rstrip(".") or "<<", f"bad merge: {exc}")
    pairs: dict[str, tuple[int, Node]] = {}
    for key_node, value_node in node.value:
        if not isinstance(key_node, ScalarNode):
            walk.report(
                node_line(key_node), prefix + "?", "keys must be plain names such as 'inbox'"
            )
            continue
        pairs[key_node.value] = (node_line(key_node), value_node)
    return pairs


def read_section(
    cls: type,
    node: MappingNode | None,
    walk: Walk,
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
            close = closest(name, specs)
            if close:
                walk.report(key_line, key, f"unknown key; did you mean {close!r}?")
            else:
                walk.report(key_line, key, f"unknown key (valid keys: {', '.join(specs)})")
            continue
        walk.lines[key] = key_line
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


@contextmanager
def yaml_tree(
    path: Path, what: str, *, check_paths: bool = True, missing: str | None = None
) -> Iterator[tuple[Node | None, Walk]]:
    """Open a YAML file as a node tree (``None`` when empty) and a walker.

    Problems the caller reports on the walker are raised together as one
    ConfigError when the block ends. Used for the config and the watchlists.
    ``missing`` is the message when the file does not exist.
    """
    file = str(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(missing or f"{absolute(path)} does not exist.") from None
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
        walk = Walk(file=file, base=path.resolve().parent, check_paths=check_paths, loader=loader)
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


def describe(cls: type) -> str:
    """Every option of ``cls`` with its type, default and docstring, for the docs."""
    lines: list[str] = []
    _describe(cls, "", lines)
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


def node_line(node: Node) -> int:
    """The 1-based line a node starts on."""
    return node.start_mark.line + 1


def absolute(path: str | Path) -> Path:
    """Absolute, ``~`` expanded, without resolving symlinks (it is shown to users)."""
    return Path(os.path.abspath(Path(path).expanduser()))


def closest(word: str, candidates: Iterable[str]) -> str | None:
    """The candidate most like ``word``, ignoring case, or None if nothing is close."""
    folded = {c.casefold(): c for c in candidates}
    match = difflib.get_close_matches(word.casefold(), list(folded), n=1)
    return folded[match[0]] if match else None


def show_node(node: Node) -> str:
    """How a wrong value is shown in a message."""
    if isinstance(node, MappingNode):
        return "a section of 'key: value' lines"
    if isinstance(node, SequenceNode):
        return "a list"
    if node.tag == _NULL_TAG:
        return "an empty value"
    return repr(node.value)


def show_value(value: Any) -> str:
    """A Python value as a user would write it in YAML."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, float):
        return _num(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(json.dumps(str(v), ensure_ascii=False) for v in value) + "]"
    return str(value)


def _syntax_message(file: str, exc: yaml.MarkedYAMLError) -> str:
    mark = exc.problem_mark or exc.context_mark
    problem = (exc.problem or exc.context or "cannot parse").rstrip(".")
    where = f"{file}:{mark.line + 1}:{mark.column + 1}" if mark is not None else file
    return (
        f"{where}: YAML syntax error: {problem}. "
        "Check the indentation and quoting around that line."
    )


def _quoted_hint(node: Node, walk: Walk, kinds: set[str]) -> str:
    """Explain that quotes turned a would-be number/boolean into text."""
    if not isinstance(node, ScalarNode) or node.style not in ("'", '"'):
        return ""
    tag = walk.loader.resolve(ScalarNode, node.value, (True, False))
    if tag.rsplit(":", 1)[-1] in kinds:
        return " (the quotes make it text; remove them)"
    return ""


def _float_or_none(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _num(value: float) -> str:
    return f"{value:g}"

"""Watchlists: topics users write in YAML, read and checked like the config.

A watchlist file holds one topic (a mapping), several (a list), or a mapping
with a ``topics:`` list. ``watchlists:`` in the config names a file or a
folder of ``*.yaml``/``*.yml`` files, read in name order; that order is the
order of topics in the digest. Every problem in every file is reported at
once as ``file:line: key: message``; a query error also names its column.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from watcher import regions, rules
from watcher.errors import ConfigError, RuleError
from watcher.options import (
    Invalid,
    Kind,
    Number,
    OneLine,
    String,
    StringList,
    Walk,
    node_line,
    option,
    read_section,
    required_option,
    yaml_tree,
)
from watcher.segment import fold

log = logging.getLogger(__name__)

# Bump when matching or scoring changes, so stored matches are recomputed.
MATCHER_VERSION = 1

ID = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
MEANINGFUL = re.compile(r"[0-9a-z\u3400-\u9fff\uf900-\ufaff]")


@dataclass(frozen=True)
class Identifier(Kind):
    """A topic id: lower-case letters, digits, '-' and '_'."""

    label = "identifier"

    def parse(self, node: Node, walk: Walk, key: str) -> Any:
        value = OneLine(noun="id").read(node, walk, key)
        # fullmatch: re's $ would also accept a trailing newline.
        if not ID.fullmatch(value):
            raise Invalid(
                f"must be lower-case letters, digits, '-' or '_' (such as 'safety'), got {value!r}"
            )
        return value


@dataclass(frozen=True)
class Query(Kind):
    """A query in the watchlist language, parsed to check it; kept as text."""

    label = "query"

    def parse(self, node: Node, walk: Walk, key: str) -> Any:
        text = String().parse(node, walk, key) if isinstance(node, ScalarNode) else None
        if text is None:
            raise Invalid("expected a query such as '安全生产 AND (检查 OR 暗访)'")
        try:
            tree = rules.parse(str(text))
        except RuleError as exc:
            raise Invalid(str(exc)) from None
        for term in rules.terms(tree):
            if not MEANINGFUL.search(fold(term.text)):
                raise Invalid(
                    f"term {term.text!r} at column {term.column} can never match: it has no "
                    "letters, digits or Chinese characters"
                )
        return str(text)


@dataclass(frozen=True)
class Boosts(Kind):
    """Per-term ranking weights: a mapping of term to a positive number."""

    label = "mapping of term to weight"

    def parse(self, node: Node, walk: Walk, key: str) -> Any:
        if not isinstance(node, MappingNode):
            raise Invalid("expected a mapping of term to weight, such as {暗访: 2, 隐患: 1.5}")
        out: dict[str, float] = {}
        for k, v in node.value:
            if not isinstance(k, ScalarNode):
                raise Invalid("boost keys must be terms", node_line(k))
            weight = Number(minimum=0, exclusive_minimum=True).read(v, walk, f"{key}.{k.value}")
            out[str(k.value)] = weight
        return tuple(sorted(out.items()))


@dataclass(frozen=True)
class Places(StringList):
    """Region names: places of the table in :mod:`watcher.regions`."""

    label = "list of places in Hunan"
    example = "['湘潭', '浏阳']"

    def check_item(self, item: str, walk: Walk, key: str) -> str:
        if regions.is_known(item):
            return item
        close = regions.suggest(item)
        hint = f"; did you mean {close!r}?" if close else ""
        known = ", ".join(["湖南省", *regions.HUNAN])
        raise Invalid(f"no place {item!r}{hint} (places: {known} and their counties and districts)")


@dataclass(frozen=True, kw_only=True)
class TopicSpec:
    """One topic as written in a watchlist file."""

    id: str = required_option(Identifier(), "Unique id, such as 'safety'.")
    name: str | None = option(None, OneLine(), "Shown in the digest (default: the id).")
    description: str | None = option(
        None, OneLine(noun="description"), "What the topic is about, for people."
    )
    query: str = required_option(Query(), "Which articles belong to the topic.")
    exclude: str | None = option(None, Query(), "Articles satisfying this are dropped.")
    boost: tuple[tuple[str, float], ...] = option((), Boosts(), "Per-term ranking weights.")
    min_score: float = option(0.0, Number(minimum=0), "Articles scoring less are left out.")
    regions: tuple[str, ...] = option(
        (), Places(), "The article must mention one of these places (or a place inside)."
    )


@dataclass(frozen=True)
class Topic:
    """A checked, compiled topic."""

    id: str
    name: str
    description: str | None
    query_text: str
    query: rules.Node
    exclude_text: str | None
    exclude: rules.Node | None
    boost: tuple[tuple[str, float], ...]
    min_score: float
    regions: tuple[str, ...]
    places: tuple[str, ...]  # the regions with the counties and districts inside them
    file: str
    line: int
    version: str  # content hash: stored matches are redone when it changes

    def weight(self, term: str) -> float:
        return dict(self.boost).get(term, 1.0)


def watchlist_files(path: Path) -> list[Path]:
    """The watchlist files under ``path`` (a file or a folder), in name order."""
    if path.is_file():
        return [path]
    if not path.is_dir():
        return []
    return sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())


def load_watchlists(path: Path) -> list[Topic]:
    """Read every topic under ``path``; raise ConfigError listing every problem."""
    topics: list[Topic] = []
    errors: list[str] = []
    seen: dict[str, str] = {}
    for file in watchlist_files(path):
        found, problems = _load_file(file)
        errors += problems
        for topic in found:
            if topic.id in seen:
                errors.append(
                    f"{topic.file}:{topic.line}: id: duplicate topic id {topic.id!r}; it is "
                    f"already used at {seen[topic.id]}, so rename one of them"
                )
                continue
            seen[topic.id] = f"{topic.file}:{topic.line}"
            topics.append(topic)
    if errors:
        raise ConfigError(
            f"{path}: {len(errors)} problem{'' if len(errors) == 1 else 's'} in the watchlists",
            problems=errors,
        )
    return topics


def _load_file(file: Path) -> tuple[list[Topic], list[str]]:
    """The good topics of one file, and the problems with the others."""
    out: list[Topic] = []
    try:
        with yaml_tree(file, "watchlist") as (root, walk):
            for node, prefix in _topic_nodes(root, walk):
                spec = read_section(TopicSpec, node, walk, prefix, node_line(node))
                if spec is not None:
                    topic = _compile(spec, str(file), node_line(node), walk, prefix)
                    if topic is not None:
                        out.append(topic)
    except ConfigError as exc:
        return out, exc.problems or [str(exc)]
    return out, []


def _topic_nodes(root: Node | None, walk: Walk) -> list[tuple[MappingNode, str]]:
    """The mapping node of each topic in a file, with the key prefix for messages."""
    if root is None:
        return []
    items: list[Node]
    if isinstance(root, MappingNode):
        keys = {k.value: v for k, v in root.value if isinstance(k, ScalarNode)}
        if "topics" in keys:
            if len(keys) > 1:
                extra = sorted(set(keys) - {"topics"})
                walk.report(node_line(root), extra[0], "unknown key next to 'topics:'")
            seq = keys["topics"]
            if not isinstance(seq, SequenceNode):
                walk.report(node_line(seq), "topics", "expected a list of topics")
                return []
            items = list(seq.value)
            prefix = "topics[{}]."
        else:
            return [(root, "")]
    elif isinstance(root, SequenceNode):
        items = list(root.value)
        prefix = "[{}]."
    else:
        walk.report(node_line(root), "topic", "expected a topic (id, query …) or a list of them")
        return []
    out = []
    for n, item in enumerate(items, 1):
        if isinstance(item, MappingNode):
            out.append((item, prefix.format(n)))
        else:
            walk.report(node_line(item), prefix.format(n).rstrip("."), "expected a topic mapping")
    return out


def _compile(spec: TopicSpec, file: str, line: int, walk: Walk, prefix: str) -> Topic | None:
    query = rules.parse(spec.query)
    exclude = rules.parse(spec.exclude) if spec.exclude else None
    known = {t.text for t in rules.terms(query)}
    for term, _ in spec.boost:
        if term not in known:
            walk.report(
                line,
                f"{prefix}boost.{term}",
                f"{term!r} is not a term of the query, so its weight would never apply; "
                "add it to the query or remove it",
            )
            return None
    version = hashlib.sha256(
        json.dumps(
            [
                MATCHER_VERSION,
                rules.to_text(query),
                rules.to_text(exclude) if exclude else None,
                spec.boost,
                spec.min_score,
                spec.regions,
            ],
            ensure_ascii=False,
        ).encode()
    ).hexdigest()[:16]
    return Topic(
        id=spec.id,
        name=spec.name or spec.id,
        description=spec.description,
        query_text=spec.query,
        query=query,
        exclude_text=spec.exclude,
        exclude=exclude,
        boost=spec.boost,
        min_score=spec.min_score,
        regions=spec.regions,
        places=regions.expand(spec.regions),
        file=file,
        line=line,
        version=version,
    )

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
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from watcher import regions, rules
from watcher.errors import ConfigError, RuleError
from watcher.models import RuleEdit
from watcher.options import (
    Boolean,
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
# 2: anchors and context, per sub-story matching, 0–100 salience scores.
# 3: overlapping or touching context hits are one piece of evidence.
# 4: ``title:`` terms in a roundup's sub-story look at its own title.
# 5: a NEAR pair with a term inside a longer counted term is left out, and a term
#    occurrence that is one of a pair's two counts for the pair only.
MATCHER_VERSION = 5

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
class Terms(StringList):
    """A list of terms, each written as in a query: word, "phrase", title:word, or
    two of them joined by NEAR (NEAR/n) when only the pair means something."""

    label = "list of terms"
    example = "[城市更新, 老旧小区改造]"
    near = True  # NEAR pairs allowed

    def check_item(self, item: str, walk: Walk, key: str) -> str:
        try:
            node: rules.Node | None = rules.parse(item)
        except RuleError as exc:
            if "must require" not in str(exc):  # "-x" is no term either: said below
                raise Invalid(f"{item!r}: {exc}") from None
            node = None
        if not isinstance(node, rules.Term) and not (self.near and isinstance(node, rules.Near)):
            pair = " or two joined by NEAR" if self.near else ""
            raise Invalid(
                f"{item!r} is not one term{pair}; write each term as an item of its own "
                "(a phrase with spaces in quotes: '\"城中村 改造\"')"
            )
        assert node is not None
        for term in rules.terms(node):
            if not MEANINGFUL.search(fold(term.text)):
                raise Invalid(
                    f"term {term.text!r} can never match: it has no letters, digits or "
                    "Chinese characters"
                )
        return item


@dataclass(frozen=True)
class Words(Terms):
    """Single terms only (the ``ignore:`` list)."""

    near = False


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
    anchors: tuple[str, ...] = option(
        (), Terms(), "Terms that alone make an article (or sub-story) about the topic."
    )
    context: tuple[str, ...] = option(
        (),
        Terms(),
        "Terms that count two or more together, or one in the headline or lead.",
    )
    lead_context: bool = option(
        True,
        Boolean(),
        "One context term in the headline or lead is enough (false: two are always needed).",
    )
    ignore: tuple[str, ...] = option(
        (),
        Words(),
        "Longer words whose occurrences are not the topic's terms (招商银行 is no 招商).",
    )
    query: str | None = option(
        None, Query(), "What must hold besides (or, without anchors and context, instead)."
    )
    exclude: str | None = option(None, Query(), "Articles satisfying this are dropped.")
    boost: tuple[tuple[str, float], ...] = option((), Boosts(), "Per-term ranking weights.")
    min_score: float = option(0.0, Number(minimum=0), "Articles scoring less are left out.")
    regions: tuple[str, ...] = option(
        (), Places(), "The article must mention one of these places (or a place inside)."
    )


@dataclass(frozen=True)
class Topic:
    """A checked, compiled topic.

    ``query`` is what must hold in an article (or a sub-story of a roundup): the
    query as written, or, for a topic written with anchors and context only, any
    of their terms. ``anchors`` and ``context`` are empty for a query-only topic.
    """

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
    anchors: tuple[rules.Term | rules.Near, ...] = ()
    context: tuple[rules.Term | rules.Near, ...] = ()
    ignore: tuple[rules.Term, ...] = ()
    lead_context: bool = True  # one context term in the headline or lead is enough
    written_query: bool = True  # False: query is the OR of anchors and context
    warnings: tuple[str, ...] = ()  # file:line: key: message, for watcher check
    rules: str = ""  # the JSON whose hash is ``version`` (see rule_edit)

    def weight(self, term: str) -> float:
        return dict(self.boost).get(term, 1.0)


def rule_edit(old: str, new: str, *, near_misses: bool = False) -> RuleEdit | None:
    """What an edit from rules ``old`` to ``new`` (two topics' ``rules``) can change:
    the matches of the articles holding one of its terms and, if ``stored``, of the
    articles the topic matched or nearly matched (``models.NearMiss``); None: any
    article's.

    Terms and ignored words added, removed, moved between anchors and context or
    given another boost, where the topic keeps having (or not having) anchors or
    context: an article in which none of them occurs (as the matcher finds
    occurrences: in the folded headline and body) is matched exactly as before,
    since a topic's matches are made of its terms' occurrences alone (scores,
    clauses and snippets included). A changed exclusion or written query: the terms
    of the top-level OR branches added or removed (``_rewritten``; a written query's
    kept branches in their order), since each branch must require a term
    (``rules.parse``), so an article holding none of them is excluded, or passes the
    query, exactly as before.

    A raised ``min_score`` drops only matches under it, a lowered one lets in only
    near misses over it: the re-match reads those too (``matcher.SCORE_MARGIN``), a
    lowered one only where ``near_misses`` says the store holds every article's. An
    edit that can only narrow what matches — regions given to a topic that had none,
    or some removed; ``lead_context`` turned off — is ``stored``: an article that was
    neither failed a test it makes no easier. Regions widened change only the
    articles naming a place added or removed, ``lead_context`` turned on only those
    holding a context term. The last region removed, a new matcher version, a new
    order of the remaining terms, or a query written where it was derived (or the
    other way) is None.
    """
    try:
        a, b = json.loads(old), json.loads(new)
    except ValueError:
        return None
    if not (isinstance(a, list) and isinstance(b, list) and len(a) == len(b) == 11):
        return None
    (version, query, exclude, boost, min_score, places, anchors, context, ignore,
     lead, written) = a  # fmt: skip
    if [version, written] != [b[0], b[10]] or (places and not b[5]):
        return None  # (the last region removed: any candidate may now match)
    if b[4] < min_score and not near_misses:
        return None  # the near misses it lets in are not all stored
    # Regions are tested as a set (any of their places); lead_context only where
    # anchors or context count.
    was, now = set(places), set(b[5])
    regions_narrowed = was != now and now <= (was or now)
    narrowed = regions_narrowed or (lead and not b[9] and bool(b[6] or b[7]))
    # Places added or removed where some were added: the articles naming one, as the
    # matcher finds its places (folded substrings); lead_context turned on: a context
    # term must occur.
    widened = _places(places) ^ _places(b[5]) if was != now and not regions_narrowed else set()
    lifted = list(b[7]) if not lead and b[9] else []
    # An exclusion or written query rewritten: the terms of its OR branches added or
    # removed are edited (a derived query changes with the anchors and context,
    # compared entry by entry below).
    try:
        rewritten = _rewritten(exclude, b[2], ordered=False)
        if written:
            rewritten += _rewritten(query, b[1], ordered=True)
    except _NoTermEdit:
        return None
    # Whether a topic has anchors or context at all decides what counts (a query-only
    # topic counts its query's terms): gaining the first or losing the last is no
    # edit of terms.
    if bool(anchors or context) != bool(b[6] or b[7]):
        return None
    before = [(e, "anchor") for e in anchors] + [(e, "context") for e in context]
    after = [(e, "anchor") for e in b[6]] + [(e, "context") for e in b[7]]
    if len(set(before)) != len(before) or len(set(after)) != len(after):
        return None
    kept = set(before) & set(after)
    # The why-line lists terms in watchlist order: the ones kept must keep theirs.
    if [e for e in before if e in kept] != [e for e in after if e in kept]:
        return None
    changed = {e for e, _ in set(before) ^ set(after)}
    changed |= {term for term, _ in {tuple(x) for x in boost} ^ {tuple(x) for x in b[3]}}
    # Ignored words as the matcher reads them: parsed (``title:`` and quotes are
    # syntax, not text to look for).
    changed |= set(ignore) ^ set(b[8])
    found: set[str] = set()
    try:
        for entry in (*changed, *rewritten, *lifted):
            found.update(t.text for t in rules.terms(rules.parse(entry)))
    except RuleError:
        return None
    return RuleEdit(frozenset(found | widened), stored=bool(narrowed))


def _places(names: list[str]) -> set[str]:
    return set(regions.expand(names))


class _NoTermEdit(Exception):
    """An edit that is not one of terms alone (rule_edit: None)."""


def _rewritten(old: str | None, new: str | None, *, ordered: bool) -> list[str]:
    """The top-level OR branches (canonical text) one of the rules ``old`` and ``new``
    has and the other not. Each branch must require a term (``rules.parse``), so in an
    article holding none of those branches' terms they are all false, and the rule is
    the OR of the branches both keep, before and after. ``ordered``: the kept branches
    keep their order (a query-only topic's why-line lists its terms in query order)."""
    if old == new:
        return []
    try:
        before, after = _branches(old), _branches(new)
    except RuleError:
        raise _NoTermEdit from None
    if len(set(before)) != len(before) or len(set(after)) != len(after):
        raise _NoTermEdit
    kept = set(before) & set(after)
    if ordered and [x for x in before if x in kept] != [x for x in after if x in kept]:
        raise _NoTermEdit
    return sorted(set(before) ^ set(after))


def _branches(rule: str | None) -> list[str]:
    """A rule's top-level OR branches as canonical text (none for no rule); the parser
    flattens nested ORs, ``a OR (b OR c)`` included."""
    if not rule:
        return []
    node = rules.parse(rule)
    return [rules.to_text(n) for n in (node.children if isinstance(node, rules.Or) else [node])]


def topic_warnings(topics: Sequence[Topic]) -> list[str]:
    """What ``watcher check`` should warn about (the topics still load), as
    ``file:line: key: message``: a term of one AND branch containing a term of
    another, an anchor inside a context term or the other way round."""
    return [w for topic in topics for w in topic.warnings]


def topic_file(path: Path, topic: str) -> Path | None:
    """The watchlist file under ``path`` that defines only ``topic`` (an edit is
    proposed for it), or None."""
    for file in watchlist_files(path):
        try:
            found = load_watchlists(file)
        except ConfigError:
            continue
        if [t.id for t in found] == [topic]:
            return file
    return None


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
                _needs_terms(node, walk, prefix)
                spec = read_section(TopicSpec, node, walk, prefix, node_line(node))
                if spec is not None:
                    topic = _compile(spec, str(file), node_line(node), walk, prefix)
                    if topic is not None:
                        out.append(topic)
    except ConfigError as exc:
        return out, exc.problems or [str(exc)]
    return out, []


def _needs_terms(node: MappingNode, walk: Walk, prefix: str) -> None:
    """A topic needs a query, or anchors or context to match by."""
    keys = {k.value for k, _ in node.value if isinstance(k, ScalarNode)}
    if not keys & {"query", "anchors", "context"}:
        where = f"under {prefix.rstrip('.')}:" if prefix else "to the file"
        walk.report(
            node_line(node),
            f"{prefix}query",
            f"required key is missing; add 'query: ...', or 'anchors:' and 'context:' "
            f"lists, {where}",
        )


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
    anchors = tuple(_entry(t) for t in spec.anchors)
    context = tuple(_entry(t) for t in spec.context)
    if spec.query is None and not anchors and not context:
        if walk.lines.get(f"{prefix}anchors") or walk.lines.get(f"{prefix}context"):
            key = "anchors" if walk.lines.get(f"{prefix}anchors") else "context"
            walk.report(
                walk.lines[f"{prefix}{key}"],
                f"{prefix}{key}",
                "is empty, and there is no query: the topic could never match; list its "
                "terms or add 'query: ...'",
            )
        return None  # else _needs_terms() has said so
    for n, item in enumerate(context, 1):
        if item in anchors:
            walk.report(
                walk.lines.get(f"{prefix}context[{n}]", line),
                f"{prefix}context",
                f"{spec.context[n - 1]!r} is an anchor too; a term is either an anchor or "
                "context, so remove it from one of the lists",
            )
            return None
    if spec.query is not None:
        query = rules.parse(spec.query)
        query_text = spec.query
    else:
        query = rules.parse(" OR ".join(f"({e})" for e in spec.anchors + spec.context))
        query_text = rules.to_text(query)
    exclude = rules.parse(spec.exclude) if spec.exclude else None
    known = {t.text for t in rules.terms(query)} | {rules.to_text(e) for e in anchors + context}
    for term, _ in spec.boost:
        if term not in known:
            walk.report(
                line,
                f"{prefix}boost.{term}",
                f"{term!r} is not a term of the query, anchors or context, so its weight would "
                "never apply; add it there or remove it",
            )
            return None
    # What the matches depend on, as JSON: its hash is the version, and the text is
    # kept with the stored matches so an edit can be told apart from the old rules
    # (rule_edit).
    written = json.dumps(
        [
            MATCHER_VERSION,
            rules.to_text(query),
            rules.to_text(exclude) if exclude else None,
            spec.boost,
            spec.min_score,
            spec.regions,
            [rules.to_text(t) for t in anchors],
            [rules.to_text(t) for t in context],
            list(spec.ignore),
            spec.lead_context,
            spec.query is not None,
        ],
        ensure_ascii=False,
    )
    version = hashlib.sha256(written.encode()).hexdigest()[:16]
    return Topic(
        id=spec.id,
        name=spec.name or spec.id,
        description=spec.description,
        query_text=query_text,
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
        rules=written,
        anchors=anchors,
        context=context,
        ignore=tuple(_word(t) for t in spec.ignore),
        lead_context=spec.lead_context,
        written_query=spec.query is not None,
        warnings=tuple(_warnings(spec, anchors, context, file, line, walk, prefix)),
    )


def _entry(text: str) -> rules.Term | rules.Near:
    node = rules.parse(text)
    assert isinstance(node, rules.Term | rules.Near)  # Terms() let nothing else through
    return node


def _word(text: str) -> rules.Term:
    node = rules.parse(text)
    assert isinstance(node, rules.Term)  # Words() let nothing else through
    return node


def _warnings(
    spec: TopicSpec,
    anchors: tuple[rules.Term | rules.Near, ...],
    context: tuple[rules.Term | rules.Near, ...],
    file: str,
    line: int,
    walk: Walk,
    prefix: str,
) -> list[str]:
    out = []
    for key, text in (("query", spec.query), ("exclude", spec.exclude)):
        if text is not None:
            at = walk.lines.get(prefix + key, line)
            out += [
                f"{file}:{at}: {prefix}{key}: {w}"
                for w in rules.overlap_warnings(rules.parse(text))
            ]
    # An occurrence inside a longer term of the topic counts for the longer one only:
    # a context term around an anchor (安全隐患 around 隐患) silences the anchor there.
    for n, c in enumerate(context, 1):
        for a in anchors:
            if not isinstance(a, rules.Term) or not isinstance(c, rules.Term):
                continue  # NEAR pairs cover nothing
            if a.text != c.text and a.text in c.text:
                at = walk.lines.get(f"{prefix}context[{n}]", line)
                out.append(
                    f"{file}:{at}: {prefix}context: anchor {a.text!r} is inside context term "
                    f"{c.text!r}; where {c.text} occurs it counts as context only, not as "
                    "the anchor"
                )
    return out

"""The watchlist query language: parse, evaluate, explain and print queries.

A query is a small boolean language over terms::

    (安全生产 OR 安全检查) AND (检查 OR 暗访) NOT 招聘
    城市更新 | 老旧小区改造 + title:"城中村 改造" -招聘
    应急管理局 NEAR/10 约谈

This module is pure: it never looks at text. Deciding whether a term really
occurs as a word is the matcher's job; :func:`evaluate` only receives, per
term, the hits the matcher has already verified.

Grammar (loosest to tightest binding), as documented in the README::

    query     = or_expr ;
    or_expr   = and_expr , { or_op , and_expr } ;
    and_expr  = unary , { [ and_op ] , unary } ;      (* side by side = AND *)
    unary     = not_op , unary | near_expr ;
    near_expr = primary , [ near_op , term ] ;        (* operands: terms only *)
    primary   = term | "(" , or_expr , ")" ;
    term      = [ "title:" ] , ( word | phrase ) ;
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from watcher.errors import RuleError
from watcher.models import TermHit

__all__ = [
    "And",
    "Near",
    "Node",
    "Not",
    "Or",
    "Term",
    "evaluate",
    "explain",
    "overlap_warnings",
    "parse",
    "positive_terms",
    "terms",
    "to_text",
]


# --- the tree -----------------------------------------------------------------


@dataclass(frozen=True)
class Term:
    """One word or phrase to look for, optionally only in the headline."""

    text: str  # as written (a phrase without its quotes), stripped
    kind: str  # "word" | "phrase"
    field: str = "any"  # "any" | "title"
    # Only for messages: the same term written twice is still the same term.
    # (dataclasses.field in full: the attribute above shadows the bare name.)
    column: int = dataclasses.field(default=0, compare=False)
    # Terms are dictionary keys in every match; hashing their fields each time showed
    # up in profiles, so the hash is computed once.
    _hash: int = dataclasses.field(default=0, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_hash", hash((self.text, self.kind, self.field)))

    def __hash__(self) -> int:
        return self._hash


@dataclass(frozen=True)
class And:
    children: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    children: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    child: Node


@dataclass(frozen=True)
class Near:
    """Both terms within ``distance`` characters, or in one sentence if None."""

    left: Term
    right: Term
    distance: int | None


Node = Term | And | Or | Not | Near

HitSource = Callable[[Term], Sequence[TermHit]]


# --- tokenizer ----------------------------------------------------------------

_OPEN_PARENS = frozenset("(（")
_CLOSE_PARENS = frozenset(")）")
_AND_SIGNS = frozenset("+＋")
_OR_SIGNS = frozenset("|｜")
# Opening quote -> its closing quote. A stray closing “ ” has no partner.
_QUOTES = {'"': '"', "“": "”"}
# Characters that end a bare word. "-" is deliberately absent: inside a word
# (COVID-19, G-20) it is part of the word, and a NOT only where a token starts.
_WORD_ENDS = _OPEN_PARENS | _CLOSE_PARENS | _AND_SIGNS | _OR_SIGNS | frozenset('"“”')
_TITLE_PREFIXES = ("title:", "title：")


@dataclass(frozen=True)
class _Token:
    kind: str  # "term" "(" ")" "and" "or" "not" "near" "end"
    column: int  # 1-based
    name: str = ""  # how error messages name an operator: AND, '+', NEAR/5
    term: Term | None = None
    distance: int | None = None


def _is_word_char(ch: str) -> bool:
    return not ch.isspace() and ch not in _WORD_ENDS


def _read_phrase(query: str, i: int, field_: str, column: int) -> tuple[Term, int]:
    """Read the phrase whose opening quote is at ``i``; return it and the next index."""
    close = query.find(_QUOTES[query[i]], i + 1)
    if close < 0:
        raise RuleError(f"unterminated quote at column {i + 1}")
    text = query[i + 1 : close].strip()
    if not text:
        raise RuleError(f"empty phrase at column {i + 1}")
    return Term(text, "phrase", field_, column), close + 1


def _word_token(query: str, i: int, j: int) -> tuple[_Token, int]:
    """Classify the bare word ``query[i:j]``: operator, title term or word term."""
    word = query[i:j]
    column = i + 1
    if word[:6].lower() in _TITLE_PREFIXES:
        rest = word[6:]
        if not rest and j < len(query) and query[j] in _QUOTES:
            term, end = _read_phrase(query, j, "title", column)
            return _Token("term", column, term=term), end
        # "title:-x" would read as a NOT inside a field; refuse rather than guess.
        if not rest or rest.startswith("-"):
            raise RuleError(f"title: at column {column} needs a term after it")
        return _Token("term", column, term=Term(rest, "word", "title", column)), j
    upper = word.upper()
    if upper in ("AND", "OR", "NOT", "NEAR"):
        return _Token(upper.lower(), column, upper), j
    if upper.startswith("NEAR/"):
        digits = word[5:]
        if not digits.isdecimal() or int(digits) <= 0:
            raise RuleError(
                f"NEAR/{digits} at column {column}: "
                "the distance must be a positive number of characters"
            )
        distance = int(digits)
        return _Token("near", column, f"NEAR/{digits}", distance=distance), j
    return _Token("term", column, term=Term(word, "word", "any", column)), j


def _tokenize(query: str) -> list[_Token]:
    tokens: list[_Token] = []
    i, n = 0, len(query)
    while i < n:
        ch = query[i]
        column = i + 1
        if ch.isspace():  # includes the full-width space U+3000
            i += 1
        elif ch in _OPEN_PARENS:
            tokens.append(_Token("(", column))
            i += 1
        elif ch in _CLOSE_PARENS:
            tokens.append(_Token(")", column))
            i += 1
        elif ch in _AND_SIGNS:
            tokens.append(_Token("and", column, f"'{ch}'"))
            i += 1
        elif ch in _OR_SIGNS:
            tokens.append(_Token("or", column, f"'{ch}'"))
            i += 1
        elif ch == "-":
            # Words swallow their inner hyphens, so a "-" seen here starts a token.
            tokens.append(_Token("not", column, "'-'"))
            i += 1
        elif ch in _QUOTES:
            term, i = _read_phrase(query, i, "any", column)
            tokens.append(_Token("term", column, term=term))
        elif ch == "”":
            raise RuleError(f"unterminated quote at column {column}")
        else:
            j = i
            while j < n and _is_word_char(query[j]):
                j += 1
            token, i = _word_token(query, i, j)
            tokens.append(token)
    return tokens


def _check_parentheses(tokens: list[_Token]) -> None:
    # Checked before parsing so the message names the parenthesis itself rather
    # than whatever operator happens to be left without an operand.
    open_columns: list[int] = []
    for token in tokens:
        if token.kind == "(":
            open_columns.append(token.column)
        elif token.kind == ")":
            if not open_columns:
                raise RuleError(f"unbalanced parenthesis at column {token.column}")
            open_columns.pop()
    if open_columns:
        raise RuleError(f"unbalanced parenthesis at column {open_columns[0]}")


# --- parser -------------------------------------------------------------------


def _and(children: Sequence[Node]) -> Node:
    """An And of ``children``, flattened (AND is associative), unwrapped if single."""
    flat: list[Node] = []
    for child in children:
        flat.extend(child.children if isinstance(child, And) else (child,))
    return flat[0] if len(flat) == 1 else And(tuple(flat))


def _or(children: Sequence[Node]) -> Node:
    """An Or of ``children``, flattened, unwrapped if single."""
    flat: list[Node] = []
    for child in children:
        flat.extend(child.children if isinstance(child, Or) else (child,))
    return flat[0] if len(flat) == 1 else Or(tuple(flat))


def _needs_operand(op: _Token) -> RuleError:
    if op.kind == "not":
        return RuleError(f"{op.name} at column {op.column} needs a term after it")
    return RuleError(f"{op.name} at column {op.column} needs a term on both sides")


class _Parser:
    """Recursive descent over the token list, one method per grammar rule."""

    def __init__(self, tokens: list[_Token], length: int) -> None:
        self.tokens = tokens
        self.end = _Token("end", length + 1)
        self.pos = 0

    def peek(self) -> _Token:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else self.end

    def take(self) -> _Token:
        token = self.peek()
        self.pos += 1
        return token

    def or_expr(self, after: _Token | None) -> Node:
        children = [self.and_expr(after)]
        while self.peek().kind == "or":
            op = self.take()
            children.append(self.and_expr(op))
        return _or(children)

    def and_expr(self, after: _Token | None) -> Node:
        children = [self.unary(after)]
        while True:
            kind = self.peek().kind
            if kind == "and":
                op = self.take()
                children.append(self.unary(op))
            elif kind in ("term", "(", "not"):  # side by side: implicit AND
                children.append(self.unary(None))
            else:
                return _and(children)

    def unary(self, after: _Token | None) -> Node:
        """``after`` is the operator that asked for this operand, for messages."""
        token = self.peek()
        if token.kind == "not":
            self.take()
            return Not(self.unary(token))
        if token.kind in ("term", "("):
            return self.near_expr()
        if token.kind == "near":  # nothing on its left
            raise RuleError(f"{token.name} at column {token.column} needs a term on both sides")
        if after is not None:
            raise _needs_operand(after)
        if token.kind in ("and", "or"):  # nothing on its left
            raise _needs_operand(token)
        raise RuleError(f"unexpected end of query at column {token.column}")  # pragma: no cover

    def near_expr(self) -> Node:
        grouped = self.peek().kind == "("
        left = self.primary()
        if self.peek().kind != "near":
            return left
        op = self.take()
        right = self.peek()
        if grouped or right.kind == "(":
            raise RuleError(
                f"{op.name} at column {op.column} joins terms, not groups; "
                "write (a OR b) NEAR c as a NEAR c OR b NEAR c"
            )
        if right.kind != "term":
            raise RuleError(f"{op.name} at column {op.column} needs a term on both sides")
        self.take()
        assert isinstance(left, Term) and right.term is not None
        following = self.peek()
        if following.kind == "near":
            # Near joins exactly two terms; a chain has no single obvious meaning.
            raise RuleError(
                f"{following.name} at column {following.column} cannot be chained; "
                "write a NEAR b NEAR c as a NEAR b AND b NEAR c"
            )
        return Near(left, right.term, op.distance)

    def primary(self) -> Node:
        token = self.take()
        if token.kind == "term":
            assert token.term is not None
            return token.term
        # token is "(": unary() only calls here for a term or an open parenthesis.
        if self.peek().kind == ")":
            raise RuleError(f"empty parentheses at column {token.column}")
        node = self.or_expr(None)
        self.take()  # the ")" — _check_parentheses guarantees it is there
        return node


def parse(query: str) -> Node:
    """Parse a watchlist query into a tree; raise RuleError on any mistake."""
    tokens = _tokenize(query)
    if not tokens:
        raise RuleError("empty query")
    _check_parentheses(tokens)
    parser = _Parser(tokens, len(query))
    node = parser.or_expr(None)
    leftover = parser.peek()
    if leftover.kind != "end":  # pragma: no cover - the grammar consumes everything
        raise RuleError(f"unexpected {leftover.name or leftover.kind} at column {leftover.column}")
    # Candidates are picked by positive terms; a query that can hold for an
    # article containing none of them would have to be run against everything.
    if not _false_without_positives(node, even=True):
        raise RuleError(
            "the query must require at least one term (it only says what must be absent)"
        )
    return node


def _false_without_positives(node: Node, even: bool) -> bool:
    """Is ``node`` certainly false when no positive term hits?

    ``even`` tells whether ``node`` sits under an even number of NOTs; terms
    under an odd number may or may not hit, so they decide nothing.
    """
    match node:
        case Term() | Near():
            return even
        case Not(child):
            return _true_without_positives(child, not even)
        case And(children):
            return any(_false_without_positives(c, even) for c in children)
        case Or(children):
            return all(_false_without_positives(c, even) for c in children)
    raise TypeError(f"not a query node: {node!r}")


def _true_without_positives(node: Node, even: bool) -> bool:
    """Is ``node`` certainly true when no positive term hits?"""
    match node:
        case Term() | Near():
            return False
        case Not(child):
            return _false_without_positives(child, not even)
        case And(children):
            return all(_true_without_positives(c, even) for c in children)
        case Or(children):
            return any(_true_without_positives(c, even) for c in children)
    raise TypeError(f"not a query node: {node!r}")


# --- walking the tree -----------------------------------------------------------


def _walk_terms(node: Node, even: bool = True) -> Iterator[tuple[Term, bool]]:
    """Every term in order of appearance, with whether it sits under an even number of NOTs."""
    match node:
        case Term():
            yield node, even
        case Near(left, right, _):
            yield left, even
            yield right, even
        case Not(child):
            yield from _walk_terms(child, not even)
        case And(children) | Or(children):
            for child in children:
                yield from _walk_terms(child, even)


def terms(node: Node) -> list[Term]:
    """Distinct terms in order of appearance, those under a NOT included."""
    return list(dict.fromkeys(term for term, _ in _walk_terms(node)))


def positive_terms(node: Node) -> list[Term]:
    """Distinct terms not negated; at least one must hit for a parsed query to be true.

    A term under two NOTs (``NOT NOT a``) counts as positive: it is required.
    """
    return list(dict.fromkeys(term for term, even in _walk_terms(node) if even))


# --- evaluation -------------------------------------------------------------------


class _Hits:
    """Asks the matcher once per distinct term and keeps title terms to the title."""

    def __init__(self, source: HitSource) -> None:
        self.source = source
        self.cache: dict[Term, list[TermHit]] = {}

    def __call__(self, term: Term) -> list[TermHit]:
        found = self.cache.get(term)
        if found is None:
            found = list(self.source(term))
            if term.field == "title":
                found = [h for h in found if h.field == "title"]
            self.cache[term] = found
        return found


def _overlap(a: TermHit, b: TermHit) -> bool:
    """Do two hits share a character? Then they are one occurrence, not two."""
    return a.field == b.field and a.start < b.end and b.start < a.end


def _free(hit: TermHit, used: Sequence[TermHit]) -> bool:
    return not any(_overlap(hit, u) for u in used)


def _near_pairs(
    node: Near, hits: _Hits, used: Sequence[TermHit]
) -> Iterator[tuple[TermHit, TermHit]]:
    """Pairs of distinct, non-overlapping occurrences that are near enough."""
    for a in hits(node.left):
        if not _free(a, used):
            continue
        for b in hits(node.right):
            if a.field != b.field or _overlap(a, b) or not _free(b, used):
                continue
            if node.distance is None:
                if a.sentence == b.sentence:
                    yield a, b
                continue
            first, second = (a, b) if a.start <= b.start else (b, a)
            if second.start - first.end <= node.distance:
                yield a, b


def _eval(node: Node, hits: _Hits) -> bool:
    """The query as a test of which terms occur at all, every hit reusable (NOT exact).

    An upper bound of :func:`evaluate`: where it is false, so is the query.
    """
    match node:
        case Term():
            return bool(hits(node))
        case Near():
            return next(_near_pairs(node, hits, ()), None) is not None
        case Not(child):
            return not _holds(child, hits)
        case And(children):
            return all(_eval(c, hits) for c in children)
        case Or(children):
            return any(_eval(c, hits) for c in children)
    raise TypeError(f"not a query node: {node!r}")


# How many partial assignments the occurrence search may try before it settles for
# the upper bound; real queries on real articles need a few dozen at most.
_SEARCH_STEPS = 20_000


class _TooHard(Exception):
    pass


Taken = tuple[tuple[Term, TermHit], ...]  # the occurrences a solution uses, with their terms


class _Search:
    """Find occurrences for a query such that no occurrence serves twice.

    ``A AND B`` needs an occurrence of A and a different occurrence of B: hits
    that share a character are one occurrence (安全隐患 and the 隐患 inside it),
    so one 安全隐患 does not satisfy ``安全隐患 AND 隐患``. NOT is judged on the
    negated part alone: ``NOT x`` holds when x cannot be satisfied at all.
    """

    def __init__(self, hits: _Hits) -> None:
        self.hits = hits
        self.steps = 0

    def first(self, node: Node) -> Taken | None:
        return next(self.solve(node, ()), None)

    def solve(self, node: Node, used: Taken) -> Iterator[Taken]:
        """Each way of satisfying ``node`` with occurrences not in ``used``."""
        self.steps += 1
        if self.steps > _SEARCH_STEPS:
            raise _TooHard
        taken = [h for _, h in used]
        match node:
            case Term():
                for h in self.hits(node):
                    if _free(h, taken):
                        yield ((node, h),)
            case Near(left, right, _):
                for a, b in _near_pairs(node, self.hits, taken):
                    yield ((left, a), (right, b))
            case Not(child):
                if self.first(child) is None:
                    yield ()
            case And(children):
                yield from self._all(children, used)
            case Or(children):
                for child in children:
                    yield from self.solve(child, used)
            case _:
                raise TypeError(f"not a query node: {node!r}")

    def _all(self, children: Sequence[Node], used: Taken) -> Iterator[Taken]:
        if not children:
            yield ()
            return
        for taken in self.solve(children[0], used):
            for rest in self._all(children[1:], used + taken):
                yield taken + rest


def _conjunctive(node: Node) -> bool:
    """Does the tree hold an AND or a NEAR outside NOT (an operand list that could
    compete for occurrences)?"""
    match node:
        case Term():
            return False
        case Near() | And():
            return True
        case Not():
            return False  # judged on its own by _holds
        case Or(children):
            return any(_conjunctive(c) for c in children)
    raise TypeError(f"not a query node: {node!r}")


def _needs_search(node: Node, hits: _Hits) -> bool:
    """Could reusing an occurrence make a difference? Only if a term the query may use
    twice has a hit, or a hit of one term overlaps a hit of another (隐患 in 安全隐患)."""
    if not _conjunctive(node):
        return False  # OR of terms: any one occurrence is enough
    seen: set[Term] = set()
    for term, even in _walk_terms(node):
        if even and term in seen and hits(term):
            return True
        seen.add(term)
    found = sorted(
        ((h.field, h.start, h.end, t) for t in positive_terms(node) for h in hits(t)),
        key=lambda x: (x[0], x[1]),
    )
    for i, (field_, _, end, term) in enumerate(found):
        for other_field, start, _, other in found[i + 1 :]:
            if other_field != field_ or start >= end:
                break
            if other != term:
                return True
    return False


def _solution(node: Node, hits: _Hits) -> Taken | None:
    """Occurrences satisfying ``node``, one per operand; None if it does not hold.

    Where no occurrence could serve twice (most articles) the answer is the quick
    test's, and the occurrences are not worked out: ``()`` stands for "holds".
    """
    if not _eval(node, hits):
        return None
    if not _needs_search(node, hits):
        return ()
    try:
        return _Search(hits).first(node)
    except _TooHard:  # pragma: no cover - needs hundreds of overlapping hits
        return ()


def _holds(node: Node, hits: _Hits) -> bool:
    return _solution(node, hits) is not None


def evaluate(node: Node, hits: HitSource) -> bool:
    """True if the query holds given ``hits(term)``, the verified hits of each term.

    Every term the query is satisfied with takes an occurrence of its own:
    ``A AND B`` needs two different occurrences (hits sharing a character are one),
    and so does ``A NEAR B``.
    """
    return _holds(node, _Hits(hits))


def _fired(node: Node, hits: _Hits, solution: Taken | None) -> Node | None:
    """The satisfied part of a true ``node``: false OR branches and NOT parts left out.

    ``solution``: occurrences found for the whole query, where it mattered which
    occurrence went where. Then an OR branch is kept only if it holds with
    occurrences the rest of the query did not take.
    """
    match node:
        case Term() | Near():
            return node
        case Not(Not(inner)):  # a double negation is a requirement after all
            return _fired(inner, hits, solution)
        case Not():
            return None
        case And(children):
            kept = [c for c in (_fired(c, hits, solution) for c in children) if c is not None]
            return _and(kept) if kept else None
        case Or(children):
            holding = [c for c in children if _holds(c, hits)]
            if solution:
                mine = set(terms(node))
                rest = tuple(pair for pair in solution if pair[0] not in mine)
                search = _Search(hits)
                holding = [c for c in holding if next(search.solve(c, rest), None) is not None]
            present = [f for f in (_fired(c, hits, solution) for c in holding) if f is not None]
            return _or(present) if present else None
    raise TypeError(f"not a query node: {node!r}")


def explain(node: Node, hits: HitSource) -> str | None:
    """The clause that made the query true, as text; None if it is false.

    For ``(安全生产 OR 安全检查) AND (暗访 OR 整治) NOT 招聘`` with hits for
    安全生产 and 整治 this is ``安全生产 AND 整治``.
    """
    cached = _Hits(hits)
    solution = _solution(node, cached)
    if solution is None:
        return None
    clause = _fired(node, cached, solution)
    # Only a hand-built, purely negative tree gets here with nothing positive.
    return to_text(clause if clause is not None else node)


# --- checks ---------------------------------------------------------------------------


def _branches(node: Node) -> Iterator[tuple[str, tuple[Node, ...]]]:
    """The operand lists whose members must each take an occurrence of their own."""
    match node:
        case Near(left, right, _):
            yield "NEAR", (left, right)
        case Not(child):
            yield from _branches(child)
        case And(children):
            yield "AND", children
            for child in children:
                yield from _branches(child)
        case Or(children):
            for child in children:
                yield from _branches(child)


def overlap_warnings(node: Node) -> list[str]:
    """Where one AND (or NEAR) branch has a term that contains a term of another.

    ``(安全生产 OR 安全隐患) AND (检查 OR 隐患)`` is true for "发现安全隐患" only if
    that one 安全隐患 served both branches, which :func:`evaluate` does not allow:
    the writer probably meant something else. Each message names both terms.
    """
    out: list[str] = []
    for op, children in _branches(node):
        for i, left in enumerate(children):
            for right in children[i + 1 :]:
                for a in terms(left):
                    for b in terms(right):
                        message = _overlap_message(a, b, op)
                        if message is not None and message not in out:
                            out.append(message)
    return out


def _overlap_message(a: Term, b: Term, op: str) -> str | None:
    x, y = a.text.casefold(), b.text.casefold()
    if x == y:
        return (
            f"{_term_text(a)} is on both sides of {op} (columns {a.column} and {b.column}); "
            "one occurrence satisfies only one side, so this needs two"
        )
    if y in x or x in y:
        long, short = (a, b) if y in x else (b, a)
        return (
            f"{_term_text(long)} (column {long.column}) contains {_term_text(short)} "
            f"(column {short.column}) on the other side of {op}; one occurrence of "
            f"{_term_text(long)} satisfies only one side, so the other needs "
            f"{_term_text(short)} elsewhere"
        )
    return None


# --- printing ---------------------------------------------------------------------


def _term_text(term: Term) -> str:
    prefix = "title:" if term.field == "title" else ""
    if term.kind != "phrase":
        return prefix + term.text
    # A phrase holding a straight quote can only have been written in “…”.
    if '"' in term.text:
        return f"{prefix}“{term.text}”"
    return f'{prefix}"{term.text}"'


def to_text(node: Node) -> str:
    """Canonical text: upper-case operators, explicit AND, parentheses wherever
    one operator sits inside another, so the precedence shows at a glance.
    ``parse(to_text(node)) == node`` for every parsed node."""
    match node:
        case Term():
            return _term_text(node)
        case Near(left, right, distance):
            op = "NEAR" if distance is None else f"NEAR/{distance}"
            return f"{_term_text(left)} {op} {_term_text(right)}"
        case Not(child):
            inner = to_text(child)
            return f"NOT ({inner})" if isinstance(child, And | Or | Near) else f"NOT {inner}"
        case And(children):
            return " AND ".join(_operand_text(c) for c in children)
        case Or(children):
            return " OR ".join(_operand_text(c) for c in children)
    raise TypeError(f"not a query node: {node!r}")


def _operand_text(node: Node) -> str:
    # AND inside OR is bracketed although precedence makes it optional: the
    # reader should not need to know the precedence table.
    text = to_text(node)
    return f"({text})" if isinstance(node, And | Or) else text

"""The query language: parsing, precedence, errors, evaluation, explanations."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import pytest

from watcher.errors import RuleError
from watcher.rules import (
    And,
    Near,
    Not,
    Or,
    Term,
    TermHit,
    evaluate,
    explain,
    overlap_warnings,
    parse,
    positive_terms,
    terms,
    to_text,
)

Hits = Callable[[Term], Sequence[TermHit]]


def w(text: str, field: str = "any") -> Term:
    return Term(text, "word", field)


def ph(text: str, field: str = "any") -> Term:
    return Term(text, "phrase", field)


def canon(query: str) -> str:
    return to_text(parse(query))


def given(table: dict[str, list[TermHit]]) -> Hits:
    """Hand-built hits, keyed by the term as to_text prints it (title:x, "a b")."""
    return lambda term: table.get(to_text(term), [])


def found(*texts: str) -> Hits:
    """Every listed term hits once in the headline (so title: terms count), each at a
    place of its own; nothing else hits."""
    return given({t: [TermHit("t", "title", 2 * n, 2 * n + 1, 0)] for n, t in enumerate(texts)})


def article(title: str, body: str) -> Hits:
    """A plain substring matcher standing in for the real word matcher.

    Sentences are counted by 。！？ before the hit, as the matcher does.
    """

    def hits(term: Term) -> list[TermHit]:
        fields = [("title", title)] if term.field == "title" else [("title", title), ("body", body)]
        out = []
        for name, text in fields:
            for m in re.finditer(re.escape(term.text), text):
                sentence = len(re.findall("[。！？]", text[: m.start()]))
                out.append(TermHit("t", name, m.start(), m.end(), sentence))
        return out

    return hits


# --- operators and their shorthand ------------------------------------------------


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("a AND b", And((w("a"), w("b")))),
        ("a + b", And((w("a"), w("b")))),
        ("a+b", And((w("a"), w("b")))),
        ("a ＋ b", And((w("a"), w("b")))),
        ("a b", And((w("a"), w("b")))),
        ("a OR b", Or((w("a"), w("b")))),
        ("a | b", Or((w("a"), w("b")))),
        ("a|b", Or((w("a"), w("b")))),
        ("a｜b", Or((w("a"), w("b")))),
        ("a NOT b", And((w("a"), Not(w("b"))))),
        ("a -b", And((w("a"), Not(w("b"))))),
        ("a AND NOT b", And((w("a"), Not(w("b"))))),
        ("-b a", And((Not(w("b")), w("a")))),
        ("a NEAR b", Near(w("a"), w("b"), None)),
        ("a NEAR/5 b", Near(w("a"), w("b"), 5)),
    ],
)
def test_operators_and_shorthand(query: str, expected: object) -> None:
    assert parse(query) == expected


@pytest.mark.parametrize(
    "query",
    ["a and b", "a And b", "a aNd b", "a AND b"],
)
def test_and_any_case(query: str) -> None:
    assert parse(query) == And((w("a"), w("b")))


@pytest.mark.parametrize("query", ["a or b", "a Or b", "a oR b"])
def test_or_any_case(query: str) -> None:
    assert parse(query) == Or((w("a"), w("b")))


@pytest.mark.parametrize("query", ["a not b", "a Not b", "a nOT b"])
def test_not_any_case(query: str) -> None:
    assert parse(query) == And((w("a"), Not(w("b"))))


@pytest.mark.parametrize(
    ("query", "distance"), [("a near b", None), ("a Near b", None), ("a near/12 b", 12)]
)
def test_near_any_case(query: str, distance: int | None) -> None:
    assert parse(query) == Near(w("a"), w("b"), distance)


def test_single_term() -> None:
    assert parse("  安全生产  ") == w("安全生产")


def test_chains_are_flat() -> None:
    assert parse("a AND b AND c") == And((w("a"), w("b"), w("c")))
    assert parse("a b c") == And((w("a"), w("b"), w("c")))
    assert parse("a | b | c") == Or((w("a"), w("b"), w("c")))
    # Brackets around the same operator add nothing: AND and OR are associative.
    assert parse("(a AND b) AND c") == parse("a AND (b AND c)") == parse("a b c")
    assert parse("(a OR b) OR (c OR d)") == Or((w("a"), w("b"), w("c"), w("d")))
    assert parse("((a))") == w("a")


def test_terms_keep_their_case_and_column() -> None:
    term = parse("x AND COVID-19")
    assert isinstance(term, And)
    assert term.children[1] == w("COVID-19")
    assert term.children[1].column == 7
    # The column is only for messages: equal terms compare equal wherever written.
    assert Term("a", "word", "any", 1) == Term("a", "word", "any", 9)
    assert hash(Term("a", "word", "any", 1)) == hash(Term("a", "word", "any", 9))


# --- precedence -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("a OR b c", "a OR (b AND c)"),
        ("a b OR c", "(a AND b) OR c"),
        ("a OR b AND c", "a OR (b AND c)"),
        ("a AND b OR c AND d", "(a AND b) OR (c AND d)"),
        ("a | b + c", "a OR (b AND c)"),
        ("NOT a b", "NOT a AND b"),
        ("b NOT a OR c", "(b AND NOT a) OR c"),
        ("a OR NOT b c", "a OR (NOT b AND c)"),
        ("NOT a NEAR b c", "NOT (a NEAR b) AND c"),
        ("a NEAR b OR c", "a NEAR b OR c"),
        ("a NEAR/3 b c NEAR d", "a NEAR/3 b AND c NEAR d"),
        ("(a OR b) c", "(a OR b) AND c"),
        ("NOT (a OR b) c", "NOT (a OR b) AND c"),
        ("NOT NOT a", "NOT NOT a"),
        ("--a", "NOT NOT a"),
        ("a -(b | c)", "a AND NOT (b OR c)"),
        ("a OR (b OR c) d", "a OR ((b OR c) AND d)"),
    ],
)
def test_precedence(query: str, expected: str) -> None:
    assert canon(query) == expected


def test_realistic_queries() -> None:
    query = "(安全生产 OR 安全检查 OR 隐患排查) AND (检查 OR 暗访 OR 整治 OR 督查 OR 执法)"
    assert parse(query) == And(
        (
            Or((w("安全生产"), w("安全检查"), w("隐患排查"))),
            Or((w("检查"), w("暗访"), w("整治"), w("督查"), w("执法"))),
        )
    )
    assert canon(query) == query
    # NOT binds tighter than OR: the trailing -招聘 only guards the last branch.
    assert (
        canon("城市更新 | 老旧小区改造 | 城中村改造 -招聘")
        == "城市更新 OR 老旧小区改造 OR (城中村改造 AND NOT 招聘)"
    )
    assert (
        canon("(城市更新 | 老旧小区改造 | 城中村改造) -招聘")
        == "(城市更新 OR 老旧小区改造 OR 城中村改造) AND NOT 招聘"
    )
    assert canon("(安全生产|安全检查)+(检查|暗访)-招聘") == (
        "(安全生产 OR 安全检查) AND (检查 OR 暗访) AND NOT 招聘"
    )


# --- full-width syntax ------------------------------------------------------------------


def test_full_width_syntax() -> None:
    assert canon("（安全生产｜安全检查）＋暗访") == "(安全生产 OR 安全检查) AND 暗访"
    assert canon("安全生产\u3000暗访") == "安全生产 AND 暗访"
    assert parse("“老旧 小区”") == ph("老旧 小区")
    assert canon("（a OR b) (c｜d）") == "(a OR b) AND (c OR d)"
    assert canon("title：暗访") == "title:暗访"


def test_full_width_space_inside_phrase_is_kept() -> None:
    assert parse("“老旧\u3000小区”") == ph("老旧\u3000小区")


# --- hyphens: inside a term vs prefix NOT -------------------------------------------------


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("COVID-19", "COVID-19"),
        ("G-20 峰会", "G-20 AND 峰会"),
        ("新冠 -COVID-19", "新冠 AND NOT COVID-19"),
        ("安全生产 -招聘", "安全生产 AND NOT 招聘"),
        ("-招聘 安全生产", "NOT 招聘 AND 安全生产"),
        ("a (-b)", "a AND NOT b"),
        ("a +-b", "a AND NOT b"),
        ("a |-b c", "a OR (NOT b AND c)"),
        ("(a)-b", "a AND NOT b"),
        ('"a b"-c', '"a b" AND NOT c'),
        ("a - b", "a AND NOT b"),
        ("a-", "a-"),
        ("一带一路-沿线", "一带一路-沿线"),
    ],
)
def test_hyphen(query: str, expected: str) -> None:
    assert canon(query) == expected


# --- phrases ---------------------------------------------------------------------------


def test_phrases() -> None:
    assert parse('"老旧小区 改造"') == ph("老旧小区 改造")
    assert parse('"  padded  "') == ph("padded")
    assert parse('"AND"') == ph("AND")  # quoting makes an operator word a term
    assert parse('"a-b, c（d）！"') == ph("a-b, c（d）！")
    assert parse('"OR | + -"') == ph("OR | + -")
    assert parse('“他说"好"”') == ph('他说"好"')
    assert canon('"x" "y"') == '"x" AND "y"'
    assert canon('abc"d e"') == 'abc AND "d e"'


def test_phrase_and_word_differ() -> None:
    assert parse('"暗访"') != parse("暗访")
    assert terms(parse('"暗访" OR 暗访')) == [ph("暗访"), w("暗访")]


# --- title: ---------------------------------------------------------------------------


def test_title_terms() -> None:
    assert parse("title:暗访") == w("暗访", "title")
    assert parse('title:"安全 生产"') == ph("安全 生产", "title")
    assert parse("title:“安全生产”") == ph("安全生产", "title")
    assert parse("TITLE:暗访") == w("暗访", "title")
    assert canon("title:暗访 OR 督查") == "title:暗访 OR 督查"
    assert canon("title:a NEAR b") == "title:a NEAR b"
    assert canon("NOT title:广告 安全") == "NOT title:广告 AND 安全"
    # Not at a token start, "title:" is part of an ordinary word.
    assert parse("subtitle:x") == w("subtitle:x")


# --- errors -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("", "empty query"),
        ("   \u3000 ", "empty query"),
        ("(安全生产 OR 安全检查 AND 检查", "unbalanced parenthesis at column 1"),
        ("安全生产 AND (检查 OR 暗访", "unbalanced parenthesis at column 10"),
        ("(a OR (b AND c)", "unbalanced parenthesis at column 1"),
        ("((a)", "unbalanced parenthesis at column 1"),
        ("a OR b)", "unbalanced parenthesis at column 7"),
        ("(a) b) (c", "unbalanced parenthesis at column 6"),
        ("（a", "unbalanced parenthesis at column 1"),
        ("a）", "unbalanced parenthesis at column 2"),
        ('安全 "生产', "unterminated quote at column 4"),
        ("安全 “生产", "unterminated quote at column 4"),
        ('安全 “生产"', "unterminated quote at column 4"),
        ("安全 ”生产", "unterminated quote at column 4"),
        ("a AND", "AND at column 3 needs a term on both sides"),
        ("AND a", "AND at column 1 needs a term on both sides"),
        ("a and", "AND at column 3 needs a term on both sides"),
        ("a OR", "OR at column 3 needs a term on both sides"),
        ("OR a", "OR at column 1 needs a term on both sides"),
        ("a AND OR b", "AND at column 3 needs a term on both sides"),
        ("a OR AND b", "OR at column 3 needs a term on both sides"),
        ("(a AND) b", "AND at column 4 needs a term on both sides"),
        ("(OR a)", "OR at column 2 needs a term on both sides"),
        ("a +", "'+' at column 3 needs a term on both sides"),
        ("+a", "'+' at column 1 needs a term on both sides"),
        ("a ＋", "'＋' at column 3 needs a term on both sides"),
        ("a |", "'|' at column 3 needs a term on both sides"),
        ("a || b", "'|' at column 3 needs a term on both sides"),
        ("| a", "'|' at column 1 needs a term on both sides"),
        ("a ｜ ", "'｜' at column 3 needs a term on both sides"),
        ("NOT", "NOT at column 1 needs a term after it"),
        ("a NOT", "NOT at column 3 needs a term after it"),
        ("a not", "NOT at column 3 needs a term after it"),
        ("a -", "'-' at column 3 needs a term after it"),
        ("a (NOT) b", "NOT at column 4 needs a term after it"),
        ("NOT AND a", "NOT at column 1 needs a term after it"),
        ("a NEAR", "NEAR at column 3 needs a term on both sides"),
        ("NEAR a", "NEAR at column 1 needs a term on both sides"),
        ("a AND NEAR b", "NEAR at column 7 needs a term on both sides"),
        ("a NEAR OR b", "NEAR at column 3 needs a term on both sides"),
        ("a NEAR NOT b", "NEAR at column 3 needs a term on both sides"),
        ("a NEAR -b", "NEAR at column 3 needs a term on both sides"),
        ("a near/5", "NEAR/5 at column 3 needs a term on both sides"),
        (
            "a NEAR/0 b",
            "NEAR/0 at column 3: the distance must be a positive number of characters",
        ),
        (
            "a near/0 b",
            "NEAR/0 at column 3: the distance must be a positive number of characters",
        ),
        (
            "a NEAR/x b",
            "NEAR/x at column 3: the distance must be a positive number of characters",
        ),
        (
            "a NEAR/ b",
            "NEAR/ at column 3: the distance must be a positive number of characters",
        ),
        (
            "a NEAR/-3 b",
            "NEAR/-3 at column 3: the distance must be a positive number of characters",
        ),
        (
            "(a OR b) NEAR c",
            "NEAR at column 10 joins terms, not groups; write (a OR b) NEAR c as a NEAR c OR b NEAR c",
        ),
        (
            "a NEAR (b OR c)",
            "NEAR at column 3 joins terms, not groups; write (a OR b) NEAR c as a NEAR c OR b NEAR c",
        ),
        (
            "(a) NEAR/5 b",
            "NEAR/5 at column 5 joins terms, not groups; write (a OR b) NEAR c as a NEAR c OR b NEAR c",
        ),
        (
            "a NEAR b NEAR c",
            "NEAR at column 10 cannot be chained; write a NEAR b NEAR c as a NEAR b AND b NEAR c",
        ),
        ('a ""', "empty phrase at column 3"),
        ('a "  "', "empty phrase at column 3"),
        ("“”", "empty phrase at column 1"),
        ("a ()", "empty parentheses at column 3"),
        ("a （ ）", "empty parentheses at column 3"),
        ("NOT () a", "empty parentheses at column 5"),
        ("title:", "title: at column 1 needs a term after it"),
        ("a title: b", "title: at column 3 needs a term after it"),
        ("title:(a OR b)", "title: at column 1 needs a term after it"),
        ("title:-a", "title: at column 1 needs a term after it"),
        (
            "NOT 广告",
            "the query must require at least one term (it only says what must be absent)",
        ),
        (
            "-a -b",
            "the query must require at least one term (it only says what must be absent)",
        ),
        (
            "-招聘",
            "the query must require at least one term (it only says what must be absent)",
        ),
        (
            "NOT (a AND b)",
            "the query must require at least one term (it only says what must be absent)",
        ),
        (
            "安全 OR NOT 广告",
            "the query must require at least one term (it only says what must be absent)",
        ),
        (
            "(NOT a) OR (NOT b)",
            "the query must require at least one term (it only says what must be absent)",
        ),
        (
            "NOT a NEAR b",
            "the query must require at least one term (it only says what must be absent)",
        ),
    ],
)
def test_errors(query: str, message: str) -> None:
    with pytest.raises(RuleError) as info:
        parse(query)
    assert str(info.value) == message


def test_columns_count_characters_not_bytes() -> None:
    with pytest.raises(RuleError, match=r"^AND at column 6 needs a term on both sides$"):
        parse("安全生产 AND")  # 12 bytes of UTF-8 before AND, 5 characters


def test_quote_error_comes_before_parenthesis_error() -> None:
    # A quote swallows everything up to its partner, parentheses included.
    with pytest.raises(RuleError, match=r"^unterminated quote at column 2$"):
        parse('("a)')
    assert parse('("a)")') == ph("a)")


@pytest.mark.parametrize(
    "query", ["NOT NOT a", "a AND NOT b", "a (b OR NOT c)", "NOT (NOT a OR b)"]
)
def test_queries_that_do_require_a_term(query: str) -> None:
    parse(query)  # no error


# --- terms / positive_terms -----------------------------------------------------------------


def test_terms_in_order_distinct() -> None:
    node = parse('(安全生产 OR title:暗访) AND "老旧 小区" NEAR/5 暗访 NOT 招聘 安全生产')
    assert terms(node) == [
        w("安全生产"),
        w("暗访", "title"),
        ph("老旧 小区"),
        w("暗访"),
        w("招聘"),
    ]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("a", ["a"]),
        ("a -b", ["a"]),
        ("(a OR b) AND (c OR d) NOT e", ["a", "b", "c", "d"]),
        ("a NEAR b NOT c NEAR d", ["a", "b"]),
        ("a NOT (b OR c) d", ["a", "d"]),
        ("NOT NOT a", ["a"]),  # doubly negated: required
        ("x NOT (y NOT z)", ["x", "z"]),
        ("城市更新 | 老旧小区改造 | 城中村改造 -招聘", ["城市更新", "老旧小区改造", "城中村改造"]),
    ],
)
def test_positive_terms(query: str, expected: list[str]) -> None:
    assert [t.text for t in positive_terms(parse(query))] == expected


# --- evaluation -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "present", "expected"),
    [
        ("a", [], False),
        ("a", ["a"], True),
        ("a b", ["a"], False),
        ("a b", ["a", "b"], True),
        ("a | b", ["b"], True),
        ("a | b", [], False),
        ("a -b", ["a"], True),
        ("a -b", ["a", "b"], False),
        ("a OR b c", ["a"], True),
        ("a OR b c", ["b"], False),
        ("a OR b c", ["b", "c"], True),
        ("NOT NOT a", ["a"], True),
        ("NOT NOT a", [], False),
    ],
)
def test_evaluate_boolean(query: str, present: list[str], expected: bool) -> None:
    assert evaluate(parse(query), found(*present)) is expected


def test_evaluate_realistic_article() -> None:
    query = parse("(安全生产 OR 安全检查 OR 隐患排查) AND (检查 OR 暗访 OR 整治 OR 督查 OR 执法)")
    hits = article(
        "市应急管理局开展安全生产暗访",
        "6月17日，市应急管理局对全市危化品企业开展暗访。发现隐患12处。",
    )
    assert evaluate(query, hits)
    assert explain(query, hits) == "安全生产 AND 暗访"
    other = article("夏季招聘会举行", "本次招聘会提供岗位3000个。")
    assert not evaluate(query, other)
    assert explain(query, other) is None


def test_evaluate_exclusion() -> None:
    query = parse("城市更新 | 老旧小区改造 | 城中村改造 -招聘")
    assert evaluate(query, article("老旧小区改造启动", "招聘施工队伍。"))
    assert not evaluate(query, article("城中村改造项目", "招聘施工队伍。"))
    assert evaluate(query, article("城中村改造项目", "今年完成3个。"))


def test_title_terms_only_see_title_hits() -> None:
    query = parse("title:暗访")
    assert evaluate(query, article("安全生产暗访", "正文"))
    assert not evaluate(query, article("安全生产", "开展暗访"))
    # Even a matcher that forgets the field cannot make a body hit count.
    assert not evaluate(query, lambda term: [TermHit("t", "body", 0, 2, 0)])
    assert evaluate(parse("暗访"), lambda term: [TermHit("t", "body", 0, 2, 0)])


def test_phrase_with_punctuation_evaluates() -> None:
    query = parse('"安全生产，重于泰山"')
    assert evaluate(query, article("标题", "我们说：安全生产，重于泰山。"))
    assert not evaluate(query, article("标题", "安全生产重于泰山。"))


def test_hits_asked_once_per_distinct_term() -> None:
    asked: list[Term] = []

    def hits(term: Term) -> list[TermHit]:
        asked.append(term)
        n = "abc".index(term.text)  # a, b and c each at three places of their own
        return [TermHit("t", "body", 10 * k + n, 10 * k + n + 1, 0) for k in range(3)]

    node = parse("(a OR b) AND (a OR c) AND a NEAR b")
    assert evaluate(node, hits)
    assert sorted(t.text for t in asked) == ["a", "b"]


# --- every operand takes an occurrence of its own ---------------------------------------------


@pytest.mark.parametrize(
    ("query", "body_text", "expected"),
    [
        ("安全隐患 AND 隐患", "儿童家具存在安全隐患。", False),  # one occurrence, not two
        ("安全隐患 AND 隐患", "存在安全隐患，另有隐患两处。", True),
        ("安全隐患 AND 隐患", "一处安全隐患，又一处安全隐患。", True),  # two occurrences
        ("(安全生产 OR 安全隐患) AND (检查 OR 隐患)", "发现安全隐患。", False),
        ("(安全生产 OR 安全隐患) AND (检查 OR 隐患)", "抓安全生产，查安全隐患。", True),
        ("安全 AND 生产", "抓安全生产。", True),  # side by side: no character shared
        ("(a OR b) AND (a OR c)", "a", False),
        ("(a OR b) AND (a OR c)", "a a", True),
        ("(a OR b) AND (a OR c)", "a c", True),
        ("安全隐患 NEAR/5 隐患", "存在安全隐患。", False),
        ("x NOT (安全隐患 AND 隐患)", "x 安全隐患", True),  # NOT of what cannot hold
        ("x NOT (安全隐患 AND 隐患)", "x 安全隐患 隐患", False),
    ],
)
def test_and_needs_different_occurrences(query: str, body_text: str, expected: bool) -> None:
    assert evaluate(parse(query), article("标题", body_text)) is expected


def test_explain_follows_the_occurrence_rule() -> None:
    query = parse("(安全生产 OR 安全隐患) AND (检查 OR 隐患)")
    assert explain(query, article("标题", "发现安全隐患。")) is None
    # 隐患 holds on its own, but its one occurrence went to 安全隐患: not shown.
    assert explain(query, article("标题", "发现安全隐患，开展检查。")) == "安全隐患 AND 检查"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("城市更新 OR 更新", []),  # OR branches never compete for an occurrence
        ("安全生产 AND 检查", []),
        (
            "(安全生产 OR 安全隐患) AND (检查 OR 隐患)",
            [
                "安全隐患 (column 10) contains 隐患 (column 27) on the other side of AND; one "
                "occurrence of 安全隐患 satisfies only one side, so the other needs 隐患 elsewhere"
            ],
        ),
        (
            "(a OR b) AND (a OR c)",
            [
                "a is on both sides of AND (columns 2 and 15); one occurrence satisfies only "
                "one side, so this needs two"
            ],
        ),
        (
            "x OR 安全 NEAR/5 title:安全生产",
            [
                "title:安全生产 (column 16) contains 安全 (column 6) on the other side of NEAR; "
                "one occurrence of title:安全生产 satisfies only one side, so the other needs "
                "安全 elsewhere"
            ],
        ),
        (
            "a NOT (投资 AND 总投资)",
            [
                "总投资 (column 15) contains 投资 (column 8) on the other side of AND; one "
                "occurrence of 总投资 satisfies only one side, so the other needs 投资 elsewhere"
            ],
        ),
    ],
)
def test_overlap_warnings(query: str, expected: list[str]) -> None:
    assert overlap_warnings(parse(query)) == expected


# --- NEAR ---------------------------------------------------------------------------------------


def body(start: int, end: int, sentence: int = 0) -> TermHit:
    return TermHit("t", "body", start, end, sentence)


@pytest.mark.parametrize(
    ("a_hits", "b_hits", "expected"),
    [
        ([body(0, 2)], [body(12, 14)], True),  # gap 10 == n
        ([body(0, 2)], [body(13, 15)], False),  # gap 11 > n
        ([body(13, 15)], [body(0, 2)], False),  # order does not matter
        ([body(12, 14)], [body(0, 2)], True),
        ([body(0, 4)], [body(4, 6)], True),  # touching: gap 0
        ([body(0, 4)], [body(2, 6)], False),  # overlapping: one occurrence, not two
        ([body(0, 2), body(100, 102)], [body(50, 52), body(110, 112)], True),  # second pair
        ([body(0, 2)], [TermHit("t", "title", 3, 5, 0)], False),  # different fields never near
        ([TermHit("t", "title", 0, 2, 0)], [TermHit("t", "title", 5, 7, 0)], True),
        ([], [body(0, 2)], False),
        ([body(0, 2)], [], False),
        ([body(0, 2, 0)], [body(5, 7, 1)], True),  # NEAR/n ignores sentences
    ],
)
def test_near_distance(a_hits: list[TermHit], b_hits: list[TermHit], expected: bool) -> None:
    node = parse("安全 NEAR/10 生产")
    assert evaluate(node, given({"安全": a_hits, "生产": b_hits})) is expected


@pytest.mark.parametrize(
    ("a_hits", "b_hits", "expected"),
    [
        ([body(0, 2, 3)], [body(40, 42, 3)], True),  # same sentence, however far
        ([body(0, 2, 3)], [body(4, 6, 4)], False),  # adjacent but next sentence
        ([body(0, 2, 0), body(30, 32, 2)], [body(35, 37, 2)], True),
        (
            [TermHit("t", "title", 0, 2, 0)],
            [body(5, 7, 0)],
            False,
        ),  # sentence 0 of different fields
        ([TermHit("t", "title", 0, 2, 0)], [TermHit("t", "title", 5, 7, 0)], True),
    ],
)
def test_near_same_sentence(a_hits: list[TermHit], b_hits: list[TermHit], expected: bool) -> None:
    node = parse("安全 NEAR 生产")
    assert evaluate(node, given({"安全": a_hits, "生产": b_hits})) is expected


def test_near_realistic() -> None:
    node = parse("应急管理局 NEAR 约谈")
    assert evaluate(node, article("标题", "市应急管理局昨日约谈三家企业。"))
    assert not evaluate(node, article("标题", "市应急管理局昨日召开会议。三家企业被约谈。"))
    close = parse("应急管理局 NEAR/4 约谈")
    assert evaluate(close, article("标题", "市应急管理局昨日约谈三家企业。"))  # gap 2
    assert not evaluate(close, article("标题", "应急管理局昨日下午依法约谈。"))  # gap 6


def test_near_with_title_term_and_phrase() -> None:
    node = parse('title:暗访 NEAR/3 "安全 生产"')
    hits = given(
        {
            "title:暗访": [TermHit("t", "title", 0, 2, 0)],
            '"安全 生产"': [TermHit("t", "title", 4, 9, 0)],
        }
    )
    assert evaluate(node, hits)
    hits = given({"title:暗访": [TermHit("t", "title", 0, 2, 0)], '"安全 生产"': [body(4, 9)]})
    assert not evaluate(node, hits)


def test_near_same_term_needs_two_occurrences() -> None:
    node = parse("暗访 NEAR/5 暗访")
    assert not evaluate(node, given({"暗访": [body(0, 2)]}))
    assert evaluate(node, given({"暗访": [body(0, 2), body(6, 8)]}))


# --- explain ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "present", "expected"),
    [
        (
            "(安全生产 OR 安全检查) AND (检查 OR 暗访 OR 整治) NOT 招聘",
            ["安全生产", "暗访", "整治"],
            "安全生产 AND (暗访 OR 整治)",
        ),
        (
            "(安全生产 OR 安全检查) AND (检查 OR 暗访 OR 整治) NOT 招聘",
            ["招聘", "安全生产", "暗访"],
            None,
        ),
        ("(安全生产 OR 安全检查) AND (检查 OR 暗访 OR 整治)", ["安全检查"], None),
        ("安全生产", ["安全生产"], "安全生产"),
        ("安全生产 -招聘", ["安全生产"], "安全生产"),
        ("城市更新 | 老旧小区改造 | 城中村改造 -招聘", ["城中村改造"], "城中村改造"),
        (
            "城市更新 | 老旧小区改造 | 城中村改造 -招聘",
            ["城市更新", "城中村改造"],
            "城市更新 OR 城中村改造",
        ),
        ("a OR b c", ["b", "c"], "b AND c"),
        ("a OR b c", ["a", "b", "c"], "a OR (b AND c)"),
        ("(a b) OR (c d)", ["a", "b", "c"], "a AND b"),
        ("x (a OR NOT b)", ["x"], "x"),  # only the NOT branch held: nothing to show
        ("x (a OR NOT b)", ["x", "a"], "x AND a"),
        ('title:"老旧 小区" OR 改造', ['title:"老旧 小区"'], 'title:"老旧 小区"'),
        ("NOT NOT a", ["a"], "a"),
    ],
)
def test_explain(query: str, present: list[str], expected: str | None) -> None:
    assert explain(parse(query), found(*present)) == expected


def test_explain_near() -> None:
    node = parse("(应急管理局 NEAR/5 约谈) OR 通报")
    hits = given({"应急管理局": [body(0, 5)], "约谈": [body(7, 9)]})
    assert explain(node, hits) == "应急管理局 NEAR/5 约谈"


def test_explain_hand_built_negative_tree() -> None:
    # parse() refuses these, but explain() still has to say something when true.
    assert explain(Not(w("广告")), found()) == "NOT 广告"
    assert explain(Not(w("广告")), found("广告")) is None


# --- to_text / round trips ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        "安全生产",
        "a AND b",
        "a b c",
        "a OR b OR c",
        "a OR b c",
        "(a OR b) c",
        "NOT a b",
        "a -b",
        "-b a",
        "a +-b",
        "a AND NOT (b OR c)",
        "a AND NOT (b AND c)",
        "NOT NOT a",
        "a NEAR b",
        "a NEAR/7 b",
        "NOT a NEAR b c",
        "(a NEAR/3 b) OR (c NEAR d)",
        "title:a",
        'title:"a b"',
        'title:"a b" NEAR/20 c',
        '"a b"',
        '"a | b"',
        '“他说"好"”',
        '"他说”好”"',
        '"AND"',
        '"title:x"',
        "COVID-19",
        "G-20 -COVID-19",
        "subtitle:x",
        "a-",
        "(安全生产 OR 安全检查 OR 隐患排查) AND (检查 OR 暗访 OR 整治 OR 督查 OR 执法)",
        "(安全生产|安全检查)+(检查|暗访)-招聘",
        "城市更新 | 老旧小区改造 | 城中村改造 -招聘",
        "(城市更新 | 老旧小区改造 | 城中村改造) -招聘",
        "（安全生产｜安全检查）＋暗访　督查",
        "a OR (b AND (c OR (d AND NOT e)))",
        "((a OR b) (c OR d)) OR e",
        "x NOT (y NOT z)",
        "a (b OR NOT c)",
        "title:暗访 OR 应急管理局 NEAR 约谈 -广告",
        "a and b or not c d",
        "a near/05 b",
    ],
)
def test_round_trip(query: str) -> None:
    node = parse(query)
    text = to_text(node)
    assert parse(text) == node
    assert to_text(parse(text)) == text  # canonical text is a fixed point


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("a and b or not c d", "(a AND b) OR (NOT c AND d)"),
        ("a near/05 b", "a NEAR/5 b"),
        ("“安全 生产”", '"安全 生产"'),
        ('“他说"好"”', '“他说"好"”'),
        ("title:“a b”", 'title:"a b"'),
        ("NOT (a NEAR b) c", "NOT (a NEAR b) AND c"),
        ("a -(b c)", "a AND NOT (b AND c)"),
    ],
)
def test_to_text_canonical(query: str, expected: str) -> None:
    assert canon(query) == expected

"""Watchlist files: forms, checks and exact error messages."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import ROOT, dedent
from watcher import rules
from watcher.errors import ConfigError
from watcher.watchlists import load_watchlists, topic_warnings


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(dedent(text), encoding="utf-8")
    return path


def problems(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_watchlists(path)
    return info.value.problems


def test_bundled_watchlists_load_in_file_order() -> None:
    topics = load_watchlists(ROOT / "config" / "watchlists")
    assert [t.id for t in topics] == ["safety", "urban-renewal", "flood", "rural", "investment"]
    assert [t.name for t in topics][:2] == ["安全生产检查", "城市更新"]
    # Written on the anchor/context model; a floor of 20 drops a passing mention in a
    # long text.
    assert all(t.anchors and t.context and not t.written_query for t in topics)
    assert [t.min_score for t in topics] == [20, 20, 20, 20, 20]
    assert [t.lead_context for t in topics] == [False, True, True, False, False]
    assert topic_warnings(topics) == []


def test_one_topic_a_list_or_a_topics_mapping(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", "id: one\nquery: 甲\n")
    write(tmp_path, "b.yaml", "- id: two\n  query: 乙\n- id: three\n  query: 丙\n")
    write(tmp_path, "c.yml", "topics:\n  - id: four\n    query: 丁\n")
    write(tmp_path, "notes.txt", "not a watchlist")
    assert [t.id for t in load_watchlists(tmp_path)] == ["one", "two", "three", "four"]


def test_defaults_and_region_expansion(tmp_path: Path) -> None:
    path = write(tmp_path, "a.yaml", "id: x\nquery: 安全\nregions: [湘潭]\n")
    (topic,) = load_watchlists(path)
    assert topic.name == "x" and topic.min_score == 0 and topic.boost == ()
    assert {"湘潭", "湘潭市", "雨湖区", "湘乡市", "湘乡", "韶山"} <= set(topic.places)


def test_query_error_names_file_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path, "a.yaml", "id: x\nname: 测试\nquery: (安全生产 OR 检查\n")
    assert problems(path) == [f"{path}:3: query: unbalanced parenthesis at column 1"]


def test_every_problem_in_every_file_at_once(tmp_path: Path) -> None:
    a = write(
        tmp_path,
        "a.yaml",
        """
        id: Safety Check
        query: 安全 AND
        min_score: -1
        boots: {安全: 2}
    """,
    )
    b = write(
        tmp_path,
        "b.yaml",
        """
        - id: dup
          query: 甲
        - id: dup
          query: 乙
        - name: 没有id
    """,
    )
    assert problems(tmp_path) == [
        f"{a}:1: id: must be lower-case letters, digits, '-' or '_' (such as 'safety'), got 'Safety Check'",
        f"{a}:2: query: AND at column 4 needs a term on both sides",
        f"{a}:3: min_score: must be at least 0, got -1",
        f"{a}:4: boots: unknown key; did you mean 'boost'?",
        f"{b}:5: [3].query: required key is missing; add 'query: ...', or 'anchors:' and "
        "'context:' lists, under [3]:",
        f"{b}:5: [3].id: required key is missing; add 'id: ...' under [3]:",
        f"{b}:3: id: duplicate topic id 'dup'; it is already used at {b}:1, so rename one of them",
    ]


def test_terms_that_can_never_match_are_rejected(tmp_path: Path) -> None:
    path = write(tmp_path, "a.yaml", 'id: x\nquery: 安全 OR "，，"\n')
    assert problems(path) == [
        f"{path}:2: query: term '，，' at column 7 can never match: it has no letters, digits "
        "or Chinese characters"
    ]


def test_boost_must_name_a_query_term(tmp_path: Path) -> None:
    path = write(tmp_path, "a.yaml", "id: x\nquery: 安全\nboost: {暗访: 2}\n")
    assert problems(path) == [
        f"{path}:1: boost.暗访: '暗访' is not a term of the query, anchors or context, so its "
        "weight would never apply; add it there or remove it"
    ]


def test_yaml_syntax_error_is_reported_with_position(tmp_path: Path) -> None:
    path = write(tmp_path, "a.yaml", "id: x\nquery: [安全\n")
    (message,) = problems(path)
    assert message.startswith(f"{path}:3:1: YAML syntax error: ")


def test_version_changes_with_the_query_only(tmp_path: Path) -> None:
    path = write(tmp_path, "a.yaml", "id: x\nname: 甲\nquery: 安全 OR 检查\n")
    v1 = load_watchlists(path)[0].version
    write(tmp_path, "a.yaml", "id: x\nname: 乙\nquery: 安全  or  检查\n")
    assert load_watchlists(path)[0].version == v1  # same meaning, same version
    write(tmp_path, "a.yaml", "id: x\nquery: 安全 OR 暗访\n")
    assert load_watchlists(path)[0].version != v1


PLACES = (
    "places: 湖南省, 长沙, 株洲, 湘潭, 衡阳, 邵阳, 岳阳, 常德, 张家界, 益阳, 郴州, 永州, 怀化, 娄底, "
    "湘西 and their counties and districts"
)


def test_unknown_places_are_rejected_each_on_its_line(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "a.yaml",
        """
        - id: x
          query: 安全
          regions:
            - 湘潭
            - 雨湖
            - 湘谭
        - id: y
          query: 安全
          regions: [北京]
    """,
    )
    assert problems(path) == [
        f"{path}:5: [1].regions: no place '雨湖'; did you mean '雨湖区'? ({PLACES})",
        # 湘谭 is one character from 湘潭, 湘西, 湘乡 …: no guess.
        f"{path}:6: [1].regions: no place '湘谭' ({PLACES})",
        f"{path}:9: [2].regions: no place '北京' ({PLACES})",
    ]


def test_places_in_every_form_are_known(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "a.yaml",
        "id: x\nquery: 安全\nregions: [湖南, 湖南省, 长沙市, 湘西州, 浏阳, 浏阳市, 雨湖区, 長沙]\n",
    )
    (topic,) = load_watchlists(path)
    # Traditional characters cover the places inside as the simplified name does.
    assert topic.regions[-1] == "長沙" and "芙蓉区" in topic.places


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        (
            'name: "安全\\n检查"',
            "3: name: contains a control character (U+000A); write the name on one line",
        ),
        (
            'name: "安全\\u0007"',
            "3: name: contains a control character (U+0007); write the name on one line",
        ),
        (
            "description: |\n  第一行\n  第二行",
            "3: description: contains a control character (U+000A); write the description on one line",
        ),
    ],
)
def test_control_characters_in_topic_names(tmp_path: Path, line: str, problem: str) -> None:
    path = write(tmp_path, "a.yaml", f"id: x\nquery: 安全\n{line}\n")
    assert problems(path) == [f"{path}:{problem}"]


def test_control_character_in_topic_id(tmp_path: Path) -> None:
    # re's $ matches before a final newline; the id must not slip through with one.
    path = write(tmp_path, "a.yaml", 'id: "safety\\n"\nquery: 安全\n')
    assert problems(path) == [
        f"{path}:1: id: contains a control character (U+000A); write the id on one line"
    ]


def test_bundled_topic_names_are_on_one_line() -> None:
    for topic in load_watchlists(ROOT / "config" / "watchlists"):
        assert topic.name.isprintable() and (topic.description or "").isprintable()


# --- anchors, context, ignore, lead_context ---------------------------------------------


def test_a_topic_of_anchors_and_context(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "a.yaml",
        """
        id: flood
        anchors: [防汛, title:抗洪]
        context:
          - 暴雨
          - 水位 NEAR/10 上涨
          - '"洪 水"'
        ignore: [防汛物资]
        boost: {防汛: 2, 水位 NEAR/10 上涨: 0.5}
        """,
    )
    (topic,) = load_watchlists(path)
    assert [rules.to_text(t) for t in topic.anchors] == ["防汛", "title:抗洪"]
    assert [rules.to_text(t) for t in topic.context] == ["暴雨", "水位 NEAR/10 上涨", '"洪 水"']
    assert [t.text for t in topic.ignore] == ["防汛物资"]
    # Without a query, the topic's query is any of its terms.
    assert not topic.written_query
    assert topic.query_text == '防汛 OR title:抗洪 OR 暴雨 OR 水位 NEAR/10 上涨 OR "洪 水"'
    assert topic.lead_context is True and topic.min_score == 0


def test_errors_in_the_new_keys_name_file_line_and_key(tmp_path: Path) -> None:
    a = write(
        tmp_path,
        "a.yaml",
        """
        id: x
        anchors: 城市更新
        context: [暴雨, 安全 AND 生产, -招聘, "，，"]
        ignore: [a NEAR b]
        lead_context: maybe
        """,
    )
    hint = (
        "write each term as an item of its own (a phrase with spaces in quotes: '\"城中村 改造\"')"
    )
    assert problems(a) == [
        f"{a}:2: anchors: expected a list such as [城市更新, 老旧小区改造], got '城市更新'",
        f"{a}:3: context: '安全 AND 生产' is not one term or two joined by NEAR; {hint}",
        f"{a}:3: context: '-招聘' is not one term or two joined by NEAR; {hint}",
        f"{a}:3: context: term '，，' can never match: it has no letters, digits or Chinese "
        "characters",
        f"{a}:4: ignore: 'a NEAR b' is not one term; {hint}",
        f"{a}:5: lead_context: expected true or false, got 'maybe'",
    ]


def test_a_term_is_an_anchor_or_context_not_both(tmp_path: Path) -> None:
    path = write(tmp_path, "a.yaml", "id: y\nanchors: [防汛, 暴雨]\ncontext:\n  - 水位\n  - 暴雨\n")
    assert problems(path) == [
        f"{path}:5: context: '暴雨' is an anchor too; a term is either an anchor or context, "
        "so remove it from one of the lists"
    ]


def test_a_topic_needs_something_to_match_by(tmp_path: Path) -> None:
    path = write(tmp_path, "a.yaml", "- id: e\n  context: []\n- id: f\n  name: 空\n")
    assert problems(path) == [
        f"{path}:2: [1].context: is empty, and there is no query: the topic could never match; "
        "list its terms or add 'query: ...'",
        f"{path}:3: [2].query: required key is missing; add 'query: ...', or 'anchors:' and "
        "'context:' lists, under [2]:",
    ]


def test_warnings_for_terms_that_hide_each_other(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "a.yaml",
        """
        id: z
        anchors: [隐患, 隐患排查]
        context: [安全隐患, 排查]
        query: (安全生产 OR 安全隐患) AND (检查 OR 隐患)
        exclude: 投资 AND 总投资
        """,
    )
    topics = load_watchlists(path)  # warnings, not errors: the topic loads
    assert topic_warnings(topics) == [
        f"{path}:4: query: 安全隐患 (column 10) contains 隐患 (column 27) on the other side of "
        "AND; one occurrence of 安全隐患 satisfies only one side, so the other needs 隐患 "
        "elsewhere",
        f"{path}:5: exclude: 总投资 (column 8) contains 投资 (column 1) on the other side of AND; "
        "one occurrence of 总投资 satisfies only one side, so the other needs 投资 elsewhere",
        f"{path}:3: context: anchor '隐患' is inside context term '安全隐患'; where 安全隐患 "
        "occurs it counts as context only, not as the anchor",
    ]


def test_version_changes_with_anchors_context_and_their_options(tmp_path: Path) -> None:
    base = "id: x\nanchors: [防汛]\ncontext: [暴雨]\n"
    versions = set()
    for extra in ("", "lead_context: false\n", "ignore: [防汛物资]\n"):
        write(tmp_path, "a.yaml", base + extra)
        versions.add(load_watchlists(tmp_path / "a.yaml")[0].version)
    write(tmp_path, "a.yaml", "id: x\nanchors: [防汛, 度汛]\ncontext: [暴雨]\n")
    versions.add(load_watchlists(tmp_path / "a.yaml")[0].version)
    write(tmp_path, "a.yaml", "id: x\nanchors: [防汛]\ncontext: [暴雨]\nquery: 防汛 OR 暴雨\n")
    versions.add(load_watchlists(tmp_path / "a.yaml")[0].version)
    assert len(versions) == 5  # each edit re-matches the stored articles

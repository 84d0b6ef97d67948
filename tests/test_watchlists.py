"""Watchlist files: forms, checks and exact error messages."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import ROOT, dedent
from watcher.errors import ConfigError
from watcher.watchlists import load_watchlists


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
    assert all(t.min_score > 0 for t in topics)


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
        f"{b}:5: [3].id: required key is missing; add 'id: ...' under [3]:",
        f"{b}:5: [3].query: required key is missing; add 'query: ...' under [3]:",
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
        f"{path}:1: boost.暗访: '暗访' is not a term of the query, so its weight would never "
        "apply; add it to the query or remove it"
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

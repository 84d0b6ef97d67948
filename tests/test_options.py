"""The option framework of watcher.options, on a schema of its own."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from yaml.nodes import MappingNode

import watcher.config
import watcher.options
from watcher.errors import ConfigError
from watcher.options import (
    Invalid,
    OneLine,
    StringList,
    Walk,
    check_one_line,
    describe,
    node_line,
    option,
    read_section,
    required_option,
    yaml_tree,
)


@dataclass(frozen=True)
class Even(StringList):
    """Items that are even numbers written as text."""

    def check_item(self, item: str, walk: Walk, key: str) -> str:
        if int(item) % 2:
            raise Invalid(f"{item} is odd")
        return item


@dataclass(frozen=True, kw_only=True)
class Sample:
    """A schema that is not watcher's."""

    title: str = required_option(OneLine(noun="title"), "A title.")
    subtitle: str | None = option(None, OneLine(), "An optional subtitle.")
    numbers: tuple[str, ...] = option(("2",), Even(), "Even numbers.")


def read(tmp_path: Path, text: str) -> tuple[Sample, dict[str, int]]:
    path = tmp_path / "sample.yaml"
    path.write_text(text, encoding="utf-8")
    with yaml_tree(path, "sample") as (root, walk):
        assert isinstance(root, MappingNode)
        sample = read_section(Sample, root, walk, "", node_line(root))
    return sample, walk.lines


def test_names_moved_out_of_config_are_still_importable_from_it() -> None:
    for name in (
        "Invalid", "Kind", "Number", "String", "StringList", "Walk", "node_line", "option",
        "read_section", "required_option", "section", "yaml_tree", "Duration", "SectionList",
        "parse_duration",
    ):  # fmt: skip
        assert getattr(watcher.config, name) is getattr(watcher.options, name), name


def test_a_schema_of_its_own_with_key_lines(tmp_path: Path) -> None:
    sample, lines = read(tmp_path, "title: 标题\nnumbers:\n  - '4'\n  - '6'\n")
    assert sample == Sample(title="标题", numbers=("4", "6"))
    assert lines == {"title": 1, "numbers": 2, "numbers[1]": 3, "numbers[2]": 4}


def test_every_bad_item_and_control_character_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "sample.yaml"
    with pytest.raises(ConfigError) as info:
        read(tmp_path, 'title: "a\\x1bb"\nnumbers:\n  - "1"\n  - "2"\n  - "3"\n')
    assert info.value.problems == [
        f"{path}:1: title: contains a control character (U+001B); write the title on one line",
        f"{path}:3: numbers: 1 is odd",
        f"{path}:5: numbers: 3 is odd",
    ]


def test_check_one_line_accepts_ordinary_text() -> None:
    check_one_line("watcher 日报 <watcher@localhost>", "address")
    with pytest.raises(Invalid) as info:
        check_one_line("a\u2029b", "name")
    assert info.value.message == ("contains a line separator (U+2029); write the name on one line")


def test_describe_any_schema() -> None:
    assert describe(Sample) == (
        "title: text on one line (required)\n    A title.\n\n"
        "subtitle: text on one line (default: null)\n    An optional subtitle.\n\n"
        'numbers: list of text (default: ["2"])\n    Even numbers.\n'
    )

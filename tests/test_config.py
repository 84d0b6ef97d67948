"""Tests for watcher.config: exact messages, line numbers, path resolution."""

from __future__ import annotations

import dataclasses
import os
import zoneinfo
from collections.abc import Callable
from pathlib import Path

import pytest

from watcher.config import (
    DEFAULT_CONFIG,
    Config,
    DigestConfig,
    ScanConfig,
    WebhookConfig,
    check_references,
    describe_options,
    env_warnings,
    find_config,
    load_config,
)
from watcher.errors import ConfigError
from watcher.watchlists import Topic, load_watchlists

REPO = Path(__file__).resolve().parent.parent

MakeConfig = Callable[..., Path]


@pytest.fixture
def make_config(tmp_path: Path) -> MakeConfig:
    """Write ``text`` to tmp_path/watcher.yaml and create the folders it names.

    ``inbox/`` and ``watchlists/`` (the defaults) are created unless listed in
    ``missing``; ``dirs`` adds more folders under tmp_path.
    """

    def make(text: str, *, dirs: tuple[str, ...] = (), missing: tuple[str, ...] = ()) -> Path:
        for name in ("inbox", "watchlists", *dirs):
            if name not in missing:
                (tmp_path / name).mkdir(parents=True, exist_ok=True)
        path = tmp_path / "watcher.yaml"
        path.write_text(text, encoding="utf-8")
        return path

    return make


def problems_of(path: Path, **kwargs: bool) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config(path, **kwargs)
    return info.value.problems


# ------------------------------------------------------------------ find_config


def test_find_config_missing_explicit_path(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError) as info:
        find_config(missing, {})
    assert str(info.value) == (
        f"No config file at {missing} (from --config). Check the path given to --config, "
        "or leave --config out to use the default."
    )


def test_find_config_nothing_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as info:
        find_config(None, {})
    assert str(info.value) == (
        f"No config file at {tmp_path / 'config' / 'watcher.yaml'} or "
        f"{tmp_path / 'watcher.yaml'}. Pass --config PATH, set WATCHER_CONFIG, or run "
        "watcher from the project folder that holds config/watcher.yaml."
    )


def test_find_config_uses_env_var(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    chosen = tmp_path / "elsewhere.yaml"
    chosen.write_text("")
    assert find_config(None, {"WATCHER_CONFIG": str(chosen)}) == chosen


def test_find_config_env_var_pointing_nowhere(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        find_config(None, {"WATCHER_CONFIG": str(tmp_path / "gone.yaml")})
    assert str(info.value) == (
        f"No config file at {tmp_path / 'gone.yaml'} (from WATCHER_CONFIG). "
        "Fix or unset WATCHER_CONFIG, or pass --config PATH."
    )


def test_find_config_explicit_beats_env_and_relative_is_made_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mine.yaml").write_text("")
    found = find_config("mine.yaml", {"WATCHER_CONFIG": "/does/not/exist.yaml"})
    assert found == tmp_path / "mine.yaml"


def test_find_config_default_locations(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "watcher.yaml").write_text("")
    assert find_config(None, {}) == tmp_path / "watcher.yaml"
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "watcher.yaml").write_text("")
    assert find_config(None, {"WATCHER_CONFIG": ""}) == tmp_path / DEFAULT_CONFIG


def test_find_config_folder_instead_of_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        find_config(tmp_path, {})
    assert str(info.value) == (
        f"{tmp_path} (from --config) is a folder, not a config file. Point --config at the "
        f"YAML file itself, e.g. {tmp_path / 'watcher.yaml'}."
    )


# ------------------------------------------------------------- reading the file


def test_yaml_syntax_error_names_file_line_and_column(make_config: MakeConfig) -> None:
    path = make_config("inbox: inbox\nstate: a: b\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value) == (
        f"{path}:2:9: YAML syntax error: mapping values are not allowed here. "
        "Check the indentation and quoting around that line."
    )
    assert info.value.problems == []


def test_top_level_must_be_a_mapping(make_config: MakeConfig) -> None:
    path = make_config("# settings\n- inbox\n- state\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value) == (
        f"{path}:2: the configuration must be a mapping of 'key: value' lines such as "
        "'inbox: inbox', got a list. Write one setting per line, starting at the left margin."
    )


def test_empty_file_gives_all_defaults(make_config: MakeConfig, tmp_path: Path) -> None:
    config = load_config(make_config("# nothing here yet\n"))
    assert config == Config(
        path=tmp_path / "watcher.yaml",
        inbox=tmp_path / "inbox",
        state=tmp_path / "state" / "watcher.db",
        watchlists=tmp_path / "watchlists",
        timezone="Asia/Shanghai",
        scan=ScanConfig(),
        log_level="INFO",
        digest=DigestConfig(out_dir=tmp_path / "reports"),
    )
    assert config.scan == ScanConfig(
        settle_seconds=5.0, ignore=("*.part", "*.tmp", "*~", ".*"), max_file_mb=50.0
    )
    assert config.scan.recursive is True
    assert config.tz == zoneinfo.ZoneInfo("Asia/Shanghai")
    # Checking must not create anything.
    assert not (tmp_path / "state").exists()


def test_empty_file_still_needs_the_default_folders(
    make_config: MakeConfig, tmp_path: Path
) -> None:
    path = make_config("", missing=("inbox",))
    assert problems_of(path) == [
        f"{path}:1: inbox: folder {tmp_path / 'inbox'} does not exist; create it or point "
        "inbox at an existing folder (inbox is not set, so its default 'inbox' was used)"
    ]


def test_config_is_frozen(make_config: MakeConfig) -> None:
    config = load_config(make_config(""))
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.inbox = Path("/")  # type: ignore[misc]


def test_unsafe_tags_are_never_executed(make_config: MakeConfig, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path = make_config(
        f"scan:\n  settle_seconds: !!python/object/apply:os.system ['touch {marker}']\n"
    )
    assert problems_of(path) == [f"{path}:2: scan.settle_seconds: expected a number, got a list"]
    assert not marker.exists()


# --------------------------------------------------------------------- problems


def test_unknown_top_level_key_with_hint(make_config: MakeConfig) -> None:
    path = make_config("inbox: inbox\ntimezon: UTC\n")
    assert problems_of(path) == [f"{path}:2: timezon: unknown key; did you mean 'timezone'?"]


def test_unknown_key_without_close_match_lists_valid_keys(make_config: MakeConfig) -> None:
    path = make_config("colour: blue\n")
    assert problems_of(path) == [
        f"{path}:1: colour: unknown key "
        "(valid keys: inbox, state, watchlists, timezone, scan, log_level, digest, email, "
        "webhooks, schedule, alarms)"
    ]


def test_unknown_nested_key_with_hint(make_config: MakeConfig) -> None:
    path = make_config("scan:\n  recursive: false\n  setle_seconds: 3\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value) == (
        f"{path}: 1 problem in the configuration\n"
        f"  {path}:3: scan.setle_seconds: unknown key; did you mean 'settle_seconds'?"
    )


@pytest.mark.parametrize(
    ("yaml_text", "problem"),
    [
        ("scan:\n  settle_seconds: abc\n", "2: scan.settle_seconds: expected a number, got 'abc'"),
        (
            "scan:\n  settle_seconds: '5'\n",
            "2: scan.settle_seconds: expected a number, got '5' "
            "(the quotes make it text; remove them)",
        ),
        ("scan:\n  max_file_mb:\n", "2: scan.max_file_mb: expected a number, got an empty value"),
        ("scan:\n  recursive: maybe\n", "2: scan.recursive: expected true or false, got 'maybe'"),
        (
            'scan:\n  recursive: "yes"\n',
            "2: scan.recursive: expected true or false, got 'yes' "
            "(the quotes make it text; remove them)",
        ),
        (
            "scan:\n  ignore: '*.tmp'\n",
            "2: scan.ignore: expected a list such as ['*.tmp', '.*'], got '*.tmp'",
        ),
        (
            "scan:\n  ignore:\n    - '*.tmp'\n    - [a, b]\n",
            "4: scan.ignore: item 2 must be text, got a list",
        ),
        (
            "scan:\n  ignore: ['tmp/*.txt']\n",
            "2: scan.ignore: pattern 'tmp/*.txt' contains '/', but patterns are matched "
            "against file names only; drop the folder part",
        ),
        (
            "scan: fast\n",
            "1: scan: expected a section of 'key: value' lines indented under scan:, got 'fast'",
        ),
        ("timezone: [UTC]\n", "1: timezone: expected text, got a list"),
        ("inbox:\n", "1: inbox: expected a path, got an empty value"),
        (
            "log_level: loud\n",
            "1: log_level: expected one of DEBUG, INFO, WARNING, ERROR, got 'loud'",
        ),
        (
            "log_level: warn\n",
            "1: log_level: expected one of DEBUG, INFO, WARNING, ERROR, got 'warn'; "
            "did you mean 'WARNING'?",
        ),
    ],
)
def test_wrong_types(make_config: MakeConfig, yaml_text: str, problem: str) -> None:
    path = make_config(yaml_text)
    assert problems_of(path) == [f"{path}:{problem}"]


def test_numbers_out_of_range(make_config: MakeConfig) -> None:
    path = make_config("scan:\n  settle_seconds: -1\n  max_file_mb: 0\n")
    assert problems_of(path) == [
        f"{path}:2: scan.settle_seconds: must be at least 0, got -1",
        f"{path}:3: scan.max_file_mb: must be greater than 0, got 0",
    ]


def test_values_are_normalised(make_config: MakeConfig) -> None:
    path = make_config(
        "log_level: debug\n"
        "scan:\n"
        "  settle_seconds: 0\n"
        "  max_file_mb: 1e3\n"  # PyYAML reads plain 1e3 as text; we take it as a number
        "  ignore: []\n"
        "  recursive: off\n"  # YAML 1.1 boolean, accepted as PyYAML parses it
    )
    config = load_config(path)
    assert config.log_level == "DEBUG"
    assert config.scan == ScanConfig(
        settle_seconds=0.0, max_file_mb=1000.0, ignore=(), recursive=False
    )
    assert isinstance(config.scan.settle_seconds, float)


def test_empty_scan_section_means_defaults(make_config: MakeConfig) -> None:
    assert load_config(make_config("scan:\n  # settle_seconds: 5\n")).scan == ScanConfig()


def test_bad_timezone_with_hint(make_config: MakeConfig) -> None:
    path = make_config("timezone: Asia/Shangai\n")
    assert problems_of(path) == [
        f"{path}:1: timezone: unknown timezone 'Asia/Shangai'; did you mean 'Asia/Shanghai'?"
    ]


def test_bad_timezone_without_hint(make_config: MakeConfig) -> None:
    path = make_config("timezone: Qwxz\n")
    assert problems_of(path) == [
        f"{path}:1: timezone: unknown timezone 'Qwxz'; use an IANA name such as "
        "'Asia/Shanghai' or 'UTC'"
    ]


def test_duplicate_key(make_config: MakeConfig) -> None:
    path = make_config("inbox: inbox\nlog_level: INFO\ninbox: inbox\n")
    assert problems_of(path) == [
        f"{path}:3: inbox: duplicate key; it is already set on line 1, so remove one of them"
    ]


def test_merge_keys_override_without_duplicate_complaint(make_config: MakeConfig) -> None:
    path = make_config("scan:\n  <<: {recursive: false, settle_seconds: 1}\n  recursive: true\n")
    assert load_config(path).scan == ScanConfig(settle_seconds=1.0, recursive=True)


# ------------------------------------------------------------------------ paths


def test_missing_inbox_folder(make_config: MakeConfig, tmp_path: Path) -> None:
    path = make_config("# where pages arrive\ninbox: pages\n")
    assert problems_of(path) == [
        f"{path}:2: inbox: folder {tmp_path / 'pages'} does not exist; create it or point "
        "inbox at an existing folder"
    ]


def test_inbox_that_is_a_file(make_config: MakeConfig, tmp_path: Path) -> None:
    path = make_config("inbox: page.txt\n")
    (tmp_path / "page.txt").write_text("x")
    assert problems_of(path) == [
        f"{path}:1: inbox: {tmp_path / 'page.txt'} is not a folder; point inbox at a folder"
    ]


def test_missing_watchlists(make_config: MakeConfig, tmp_path: Path) -> None:
    path = make_config("watchlists: topics.yaml\n")
    assert problems_of(path) == [
        f"{path}:1: watchlists: {tmp_path / 'topics.yaml'} does not exist; create it or "
        "point watchlists at a file or a folder that exists"
    ]


def test_state_folder_may_be_missing_but_creatable(make_config: MakeConfig, tmp_path: Path) -> None:
    config = load_config(make_config("state: ../var/deep/watcher.db\n"))
    assert config.state == tmp_path.parent / "var" / "deep" / "watcher.db"
    assert not (tmp_path.parent / "var").exists()


def test_state_under_a_file_is_rejected(make_config: MakeConfig, tmp_path: Path) -> None:
    path = make_config("state: blocker/db/watcher.db\n")
    (tmp_path / "blocker").write_text("")
    assert problems_of(path) == [
        f"{path}:1: state: cannot create folder {tmp_path / 'blocker' / 'db'}: "
        f"{tmp_path / 'blocker'} is a file; point state elsewhere"
    ]


def test_state_that_is_a_folder(make_config: MakeConfig, tmp_path: Path) -> None:
    path = make_config("state: inbox\n")
    assert problems_of(path) == [
        f"{path}:1: state: {tmp_path / 'inbox'} is a folder; point state at a file inside "
        f"it, e.g. {tmp_path / 'inbox' / 'watcher.db'}"
    ]


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read any folder")
def test_unreadable_inbox(make_config: MakeConfig, tmp_path: Path) -> None:
    path = make_config("inbox: locked\n", dirs=("locked",))
    (tmp_path / "locked").chmod(0)
    try:
        assert problems_of(path) == [
            f"{path}:1: inbox: folder {tmp_path / 'locked'} is not readable; fix its "
            "permissions or point inbox at another folder"
        ]
    finally:
        (tmp_path / "locked").chmod(0o755)


def test_relative_paths_resolve_against_the_config_folder(
    make_config: MakeConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = make_config("inbox: pages/today\nwatchlists: ./watchlists\n", dirs=("pages/today",))
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    config = load_config(Path(os.path.relpath(path)))
    assert config.path == path
    assert config.inbox == tmp_path / "pages" / "today"
    assert config.watchlists == tmp_path / "watchlists"
    assert config.state == tmp_path / "state" / "watcher.db"


def test_absolute_paths_are_kept(make_config: MakeConfig, tmp_path: Path) -> None:
    other = tmp_path / "abs-inbox"
    other.mkdir()
    assert load_config(make_config(f"inbox: {other}\n")).inbox == other


def test_tilde_expands_to_home(
    make_config: MakeConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    (home / "paper").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    config = load_config(make_config("inbox: ~/paper\nstate: ~/.watcher/db.sqlite\n"))
    assert config.inbox == home / "paper"
    assert config.state == home / ".watcher" / "db.sqlite"


def test_check_paths_false_skips_the_filesystem(make_config: MakeConfig, tmp_path: Path) -> None:
    path = make_config("inbox: nowhere\n", missing=("inbox", "watchlists"))
    config = load_config(path, check_paths=False)
    assert config.inbox == tmp_path / "nowhere"


# ------------------------------------------------------------- all at once


def test_several_problems_reported_together_in_line_order(
    make_config: MakeConfig, tmp_path: Path
) -> None:
    path = make_config(
        "timezone: Mars/Olympus\n"  # 1
        "scan:\n"  # 2
        "  max_file_mb: big\n"  # 3
        "  setle_seconds: 3\n"  # 4
        "inbox: nowhere\n"  # 5
        "log_level: chatty\n",  # 6
        missing=("watchlists",),
    )
    with pytest.raises(ConfigError) as info:
        load_config(path)
    error = info.value
    assert str(error).splitlines()[0] == f"{path}: 6 problems in the configuration"
    assert error.problems == [
        f"{path}:1: timezone: unknown timezone 'Mars/Olympus'; use an IANA name such as "
        "'Asia/Shanghai' or 'UTC'",
        f"{path}:1: watchlists: {tmp_path / 'watchlists'} does not exist; create it or point "
        "watchlists at a file or a folder that exists (watchlists is not set, so its default "
        "'watchlists' was used)",
        f"{path}:3: scan.max_file_mb: expected a number, got 'big'",
        f"{path}:4: scan.setle_seconds: unknown key; did you mean 'settle_seconds'?",
        f"{path}:5: inbox: folder {tmp_path / 'nowhere'} does not exist; create it or point "
        "inbox at an existing folder",
        f"{path}:6: log_level: expected one of DEBUG, INFO, WARNING, ERROR, got 'chatty'",
    ]


# ------------------------------------------------------------- shipped config


def test_shipped_config_loads_cleanly() -> None:
    config = load_config(REPO / "config" / "watcher.yaml")
    assert config.inbox == REPO / "seeds"
    assert config.state == REPO / "var" / "watcher.db"
    assert config.watchlists == REPO / "config" / "watchlists"
    assert config.timezone == "Asia/Shanghai"
    assert config.scan == ScanConfig()


def test_describe_options_covers_every_option() -> None:
    text = describe_options()
    for key in (
        "inbox",
        "state",
        "watchlists",
        "timezone",
        "log_level",
        "scan.settle_seconds",
        "scan.ignore",
        "scan.max_file_mb",
        "scan.recursive",
    ):
        assert f"\n{key}: " in f"\n{text}", key
    assert "scan.settle_seconds: number >= 0 (default: 5)" in text
    assert 'scan.ignore: list of file-name patterns (default: ["*.part", "*.tmp", "*~", ".*"])' in (
        text
    )


def test_email_addresses_need_an_at_sign(make_config: MakeConfig) -> None:
    path = make_config("email:\n  to: [analyst@example.com, nobody]\n")
    assert problems_of(path) == [
        f"{path}:2: email.to: 'nobody' is not an e-mail address (it has no @)"
    ]


# ------------------------------------------------------------ control characters


@pytest.mark.parametrize(
    ("yaml_text", "problem"),
    [
        (
            'webhooks:\n  - name: "team\\nwecom"\n    kind: wecom\n    url_env: URL\n',
            "2: webhooks[1].name: contains a control character (U+000A); write the name on "
            "one line",
        ),
        (
            'email:\n  from: "watcher\\r\\nBcc: x@example.com"\n',
            "2: email.from: contains a control character (U+000D); write the address on one line",
        ),
        (
            'email:\n  to:\n    - a@example.com\n    - "b@example.com\\u0085"\n',
            "4: email.to: contains a control character (U+0085); write the address on one line",
        ),
        (
            'email:\n  topics:\n    safety: ["s\\tafety@example.com"]\n',
            "3: email.topics.safety: contains a control character (U+0009); write the address "
            "on one line",
        ),
        (
            'email:\n  from: "watcher\\u2028<w@example.com>"\n',
            "2: email.from: contains a line separator (U+2028); write the address on one line",
        ),
    ],
)
def test_control_characters_in_names_and_addresses(
    make_config: MakeConfig, yaml_text: str, problem: str
) -> None:
    path = make_config(yaml_text)
    assert problems_of(path) == [f"{path}:{problem}"]


def test_every_bad_address_is_reported_on_its_own_line(make_config: MakeConfig) -> None:
    path = make_config('email:\n  to:\n    - nobody\n    - ok@example.com\n    - "a\\nb@c"\n')
    assert problems_of(path) == [
        f"{path}:3: email.to: 'nobody' is not an e-mail address (it has no @)",
        f"{path}:5: email.to: contains a control character (U+000A); write the address on one line",
    ]


# ------------------------------------------------------------ topic references


BUNDLED_IDS = "safety, urban-renewal, flood, rural, investment"


@pytest.fixture(scope="module")
def bundled_topics() -> list[Topic]:
    return load_watchlists(REPO / "config" / "watchlists")


def reference_problems(config: Config, topics: list[Topic]) -> list[str]:
    with pytest.raises(ConfigError) as info:
        check_references(config, topics)
    return info.value.problems


def test_unknown_topic_ids_are_reported_with_their_lines(
    make_config: MakeConfig, bundled_topics: list[Topic]
) -> None:
    path = make_config(
        "webhooks:\n"  # 1
        "  - name: team\n"  # 2
        "    kind: wecom\n"  # 3
        "    url_env: URL\n"  # 4
        "    topics:\n"  # 5
        "      - safety\n"  # 6
        "      - invesment\n"  # 7
        "  - {name: lead, kind: slack, url_env: URL2, topics: [Flood, weather]}\n"  # 8
        "email:\n"  # 9
        "  topics:\n"  # 10
        "    safety: [a@example.com]\n"  # 11
        "    urban_renewal: [b@example.com]\n"  # 12
    )
    config = load_config(path)
    with pytest.raises(ConfigError) as info:
        check_references(config, bundled_topics)
    assert str(info.value).splitlines()[0] == f"{path}: 4 problems in the configuration"
    assert info.value.problems == [
        f"{path}:7: webhooks[1].topics: no topic 'invesment'; did you mean 'investment'? "
        f"(topics: {BUNDLED_IDS})",
        f"{path}:8: webhooks[2].topics: no topic 'Flood'; did you mean 'flood'? "
        f"(topics: {BUNDLED_IDS})",
        f"{path}:8: webhooks[2].topics: no topic 'weather' (topics: {BUNDLED_IDS})",
        f"{path}:12: email.topics: no topic 'urban_renewal'; did you mean 'urban-renewal'? "
        f"(topics: {BUNDLED_IDS})",
    ]


def test_topic_references_without_any_topic(make_config: MakeConfig) -> None:
    path = make_config("email:\n  topics: {safety: [a@example.com]}\n")
    assert reference_problems(load_config(path), []) == [
        f"{path}:2: email.topics: no topic 'safety' (the watchlists define no topics)"
    ]


def test_good_topic_references_pass(make_config: MakeConfig, bundled_topics: list[Topic]) -> None:
    path = make_config(
        "webhooks:\n"
        "  - {name: team, kind: wecom, url_env: URL, topics: [safety, flood]}\n"
        "  - {name: all, kind: json, url_env: URL2}\n"
        "email:\n"
        "  topics: {investment: [a@example.com]}\n"
    )
    check_references(load_config(path), bundled_topics)  # no error


def test_topic_references_of_a_config_built_in_code(tmp_path: Path) -> None:
    config = Config(
        path=tmp_path / "watcher.yaml",
        webhooks=(WebhookConfig(name="t", kind="json", url_env="U", topics=("nope",)),),
    )
    # No file was read, so there is no line to name.
    assert reference_problems(config, []) == [
        f"{tmp_path / 'watcher.yaml'}: webhooks[1].topics: no topic 'nope' "
        "(the watchlists define no topics)"
    ]


def test_line_numbers_do_not_affect_equality(make_config: MakeConfig) -> None:
    one = load_config(make_config("webhooks: [{name: a, kind: json, url_env: U}]\n"))
    two = load_config(make_config("\n\nwebhooks:\n  - {name: a, kind: json, url_env: U}\n"))
    assert one == two
    assert "_lines" not in repr(one)


# ------------------------------------------------------------ environment


ENV_CONFIG = (
    "email:\n"  # 1
    "  enabled: true\n"  # 2
    "  username: watcher\n"  # 3
    "  password_env: WATCHER_SMTP_PASSWORD\n"  # 4
    "webhooks:\n"  # 5
    "  - name: team\n"  # 6
    "    kind: wecom\n"  # 7
    "    url_env: WATCHER_WECOM_URL\n"  # 8
    "  - name: lead\n"  # 9
    "    kind: dingtalk\n"  # 10
    "    url_env: WATCHER_DINGTALK_URL\n"  # 11
    "    secret_env: WATCHER_DINGTALK_SECRET\n"  # 12
)


def test_env_warnings_name_file_line_key_and_variable(make_config: MakeConfig) -> None:
    path = make_config(ENV_CONFIG)
    config = load_config(path)
    fix = "set it in the service's environment (with deploy/watcher.service: a line"
    assert env_warnings(config, {"WATCHER_DINGTALK_URL": "https://x", "WATCHER_WECOM_URL": ""}) == [
        f"{path}:4: email.password_env: environment variable WATCHER_SMTP_PASSWORD is not set, "
        f"so e-mail cannot log in as 'watcher'; {fix} WATCHER_SMTP_PASSWORD=... in "
        "/etc/watcher/secrets.env)",
        f"{path}:8: webhooks[1].url_env: environment variable WATCHER_WECOM_URL is not set, so "
        f"webhook 'team' has no URL and nothing can be sent to it; {fix} WATCHER_WECOM_URL=... "
        "in /etc/watcher/secrets.env)",
        f"{path}:12: webhooks[2].secret_env: environment variable WATCHER_DINGTALK_SECRET is not "
        "set, so messages to webhook 'lead' go unsigned, which it refuses if signing is on; "
        f"{fix} WATCHER_DINGTALK_SECRET=... in /etc/watcher/secrets.env)",
    ]


def test_no_env_warnings_when_everything_is_set(make_config: MakeConfig) -> None:
    config = load_config(make_config(ENV_CONFIG))
    env = dict.fromkeys(
        [
            "WATCHER_SMTP_PASSWORD",
            "WATCHER_WECOM_URL",
            "WATCHER_DINGTALK_URL",
            "WATCHER_DINGTALK_SECRET",
        ],
        "x",
    )
    assert env_warnings(config, env) == []


def test_password_env_is_only_needed_when_email_is_enabled(make_config: MakeConfig) -> None:
    path = make_config("email:\n  enabled: false\n  password_env: WATCHER_SMTP_PASSWORD\n")
    assert env_warnings(load_config(path), {}) == []
    path = make_config("email:\n  enabled: true\n  password_env: WATCHER_SMTP_PASSWORD\n")
    assert env_warnings(load_config(path), {}) == [
        f"{path}:3: email.password_env: environment variable WATCHER_SMTP_PASSWORD is not set, "
        "so e-mail is sent without a password; set it in the service's environment (with "
        "deploy/watcher.service: a line WATCHER_SMTP_PASSWORD=... in /etc/watcher/secrets.env)"
    ]


def test_shipped_config_references_and_environment(bundled_topics: list[Topic]) -> None:
    config = load_config(REPO / "config" / "watcher.yaml")
    check_references(config, bundled_topics)
    assert env_warnings(config, {}) == []  # e-mail is off and there are no webhooks


def test_shipped_config_examples_are_valid_when_uncommented(
    tmp_path: Path, bundled_topics: list[Topic]
) -> None:
    # The commented-out webhooks are what users copy; they must name real topics.
    lines = (REPO / "config" / "watcher.yaml").read_text(encoding="utf-8").splitlines()
    lines = [
        "webhooks:"
        if line == "webhooks: []"
        else line[1:]
        if line.startswith(("#  - ", "#    "))
        else line.replace("  # topics: {", "  topics: {")
        for line in lines
    ]
    path = tmp_path / "watcher.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    config = load_config(path, check_paths=False)
    assert [hook.topics for hook in config.webhooks] == [("safety", "flood"), ()]
    assert config.email.topics == (("safety", ("safety-team@example.com",)),)
    check_references(config, bundled_topics)


# ------------------------------------------------------------ cadence per channel


def test_weekly_channels_and_groups_are_read_and_normalised(
    make_config: MakeConfig, bundled_topics: list[Topic]
) -> None:
    from watcher.deliveries import channels

    path = make_config(
        "email:\n"
        "  enabled: true\n"
        "  to: [team@example.com]\n"
        "  groups:\n"
        "    - name: managers\n"
        "      to: [boss@example.com, deputy@example.com]\n"
        "      topics: [safety]\n"
        "      cadence: Weekly\n"
        '      weekly_at: "Monday 8:00"\n'
        "    - {name: daily-group, to: [d@example.com]}\n"
        "webhooks:\n"
        "  - {name: lead, kind: json, url_env: U, cadence: weekly, weekly_at: FRI 17:30}\n"
        "  - {name: team, kind: json, url_env: U}\n"
    )
    config = load_config(path)
    check_references(config, bundled_topics)
    [managers, daily] = config.email.groups
    assert (managers.cadence, managers.weekly_at) == ("weekly", "mon 08:00")
    assert (daily.cadence, daily.weekly_at) == ("daily", "mon 08:00")  # the default, unused
    assert [(c.name, c.cadence, c.weekly_at) for c in channels(config)] == [
        ("email:team@example.com", "daily", None),
        ("group:managers:boss@example.com", "weekly", "mon 08:00"),
        ("group:managers:deputy@example.com", "weekly", "mon 08:00"),
        ("group:daily-group:d@example.com", "daily", None),
        ("webhook:lead", "weekly", "fri 17:30"),
        ("webhook:team", "daily", None),
    ]
    assert "email.groups: list of sections (default: [])" in describe_options()


def test_bad_cadences_are_reported_with_file_line_key_and_a_hint(
    make_config: MakeConfig,
) -> None:
    path = make_config(
        "email:\n"  # 1
        "  groups:\n"  # 2
        "    - name: managers\n"  # 3
        "      to: [boss@example.com]\n"  # 4
        "      cadence: wekly\n"  # 5
        '      weekly_at: "mnday 08:00"\n'  # 6
        "    - {name: x, to: [x@example.com], weekly_at: mon 08:00}\n"  # 7
        "    - {to: [y@example.com], cadense: weekly}\n"  # 8
        "webhooks:\n"  # 9
        "  - {name: a, kind: json, url_env: U, cadence: weekly, weekly_at: 'mon 25:00'}\n"  # 10
        "  - {name: b, kind: json, url_env: U, cadence: weekly, weekly_at: 'mon'}\n"  # 11
    )
    assert problems_of(path) == [
        f"{path}:5: email.groups[1].cadence: expected one of daily, weekly, got 'wekly'; "
        "did you mean 'weekly'?",
        f"{path}:6: email.groups[1].weekly_at: unknown weekday 'mnday' in 'mnday 08:00' (one of "
        "mon, tue, wed, thu, fri, sat, sun); did you mean 'monday'?",
        f"{path}:8: email.groups[3].cadense: unknown key; did you mean 'cadence'?",
        f"{path}:8: email.groups[3].name: required key is missing; add 'name: ...' under "
        "email.groups[3]:",
        f'{path}:10: webhooks[1].weekly_at: expected a time such as "08:00" after the weekday, '
        "got '25:00'",
        f'{path}:11: webhooks[2].weekly_at: expected a weekday and a time such as "mon 08:00", '
        "got 'mon'",
    ]


def test_weekly_at_without_a_weekly_cadence_and_duplicate_groups_are_problems(
    make_config: MakeConfig,
) -> None:
    path = make_config(
        "email:\n"  # 1
        "  groups:\n"  # 2
        "    - {name: m, to: [a@example.com], weekly_at: 'tue 09:00'}\n"  # 3
        "    - {name: m, to: [b@example.com]}\n"  # 4
        "webhooks:\n"  # 5
        "  - {name: a, kind: json, url_env: U, weekly_at: 'mon 08:00'}\n"  # 6
    )
    assert problems_of(path) == [
        f"{path}:3: email.groups[1].weekly_at: applies only to a weekly channel, but "
        "email.groups[1].cadence is 'daily'; add 'cadence: weekly' or remove weekly_at",
        f"{path}:4: email.groups[2].name: the group name 'm' is already used by "
        "email.groups[1]; give each group its own name",
        f"{path}:6: webhooks[1].weekly_at: applies only to a weekly channel, but "
        "webhooks[1].cadence is 'daily'; add 'cadence: weekly' or remove weekly_at",
    ]


def test_a_group_naming_no_topic_is_reported(
    make_config: MakeConfig, bundled_topics: list[Topic]
) -> None:
    path = make_config(
        "email:\n  groups:\n    - name: m\n      to: [a@example.com]\n      topics: [saftey]\n"
    )
    assert reference_problems(load_config(path), bundled_topics) == [
        f"{path}:5: email.groups[1].topics: no topic 'saftey'; did you mean 'safety'? "
        f"(topics: {BUNDLED_IDS})"
    ]

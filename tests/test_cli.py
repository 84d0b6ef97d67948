"""The command line: messages and exit codes (0 ok, 1 user error, 2 internal error)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from watcher import cli, pipeline
from watcher.config import Config

Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Run:
    """Run ``watcher ARGS`` in-process; returns (exit code, stdout, stderr)."""

    def invoke(*args: str, config: Path | None = None) -> tuple[int, str, str]:
        monkeypatch.delenv("WATCHER_CONFIG", raising=False)
        argv = ([f"--config={config}"] if config else []) + ["--log-level=WARNING", *args]
        with pytest.raises(SystemExit) as info:
            cli.main(argv)
        out, err = capsys.readouterr()
        return int(info.value.code or 0), out, err

    return invoke


@pytest.fixture
def cfg(make_config: Callable[..., Config], seeded_inbox: Path) -> Config:
    return make_config()


def test_check_ok(run: Run, cfg: Config) -> None:
    code, out, _ = run("check", config=cfg.path)
    assert code == 0
    assert out.splitlines()[0] == f"OK: {cfg.path}"


def test_check_reports_every_problem_with_file_and_line(run: Run, tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("inbox: nowhere\ntimezone: Asia/Shangai\nscan:\n  setle_seconds: 3\n")
    (tmp_path / "watchlists").mkdir()
    code, out, err = run("check", config=path)
    assert code == 1 and out == ""
    assert err == (
        f"error: {path}: 3 problems in the configuration\n"
        f"  {path}:1: inbox: folder {tmp_path / 'nowhere'} does not exist; create it or point "
        "inbox at an existing folder\n"
        f"  {path}:2: timezone: unknown timezone 'Asia/Shangai'; did you mean 'Asia/Shanghai'?\n"
        f"  {path}:4: scan.setle_seconds: unknown key; did you mean 'settle_seconds'?\n"
    )


def test_missing_config_is_one_paragraph_not_a_traceback(run: Run, tmp_path: Path) -> None:
    code, _, err = run("scan", config=tmp_path / "none.yaml")
    assert code == 1
    assert err.startswith(f"error: No config file at {tmp_path / 'none.yaml'} (from --config).")
    assert "Traceback" not in err and err.count("\n") == 1


def test_yaml_syntax_error_names_file_line_and_column(run: Run, tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("inbox: inbox\nscan: [unclosed\n")
    code, _, err = run("check", config=path)
    assert code == 1
    assert err.startswith(f"error: {path}:3:1: YAML syntax error: ")
    assert "Traceback" not in err


def test_scan_prints_a_summary_and_the_failures(run: Run, cfg: Config) -> None:
    (cfg.inbox / "empty.txt").write_bytes(b"")
    code, out, _ = run("scan", "--no-progress", config=cfg.path)
    assert code == 0
    assert out == (
        "scan: 5 new, 0 unchanged, 1 failed; 26 articles added\n"
        f"  failed: {cfg.inbox / 'empty.txt'}: empty file\n"
    )
    code, out, _ = run("scan", config=cfg.path)
    assert out == "scan: 0 new, 6 unchanged, 0 failed; 0 articles added\n"


def test_articles_jsonl_has_the_documented_fields(run: Run, cfg: Config) -> None:
    run("scan", config=cfg.path)
    code, out, _ = run("articles", "--format", "jsonl", config=cfg.path)
    assert code == 0
    rows = [json.loads(line) for line in out.splitlines()]
    assert len(rows) == 26
    required = {"file", "index", "headline", "kicker", "newspaper", "date", "page", "byline",
                "continued", "lead", "chars", "first_seen"}  # fmt: skip
    assert all(required <= set(r) for r in rows)
    story = next(r for r in rows if r["headline"].startswith("“规”出乡村新面貌"))
    assert story["file"] == str(cfg.inbox / "004_788e42c87815a943.txt")
    assert (story["newspaper"], story["date"], story["page"]) == ("衡阳日报", "2021-10-29", "01")
    assert story["continued"] is True and story["kicker"] == "蒸湘区中平村:"
    assert story["lead"].startswith("创建全国文明城市") and len(story["lead"]) == 100
    assert isinstance(story["chars"], int)


def test_articles_date_filter_and_text_table(run: Run, cfg: Config) -> None:
    run("scan", config=cfg.path)
    code, out, _ = run("articles", "--date", "2021-06-04", config=cfg.path)
    assert code == 0
    assert "003_d65d7219c5d4165d.txt" in out and "000_" not in out
    assert "激浊扬清的“淥口担当”" in out
    assert out.rstrip().endswith("9 articles")


def test_bad_date_is_a_user_error(run: Run, cfg: Config) -> None:
    code, _, err = run("articles", "--date", "June 4", config=cfg.path)
    assert code == 1
    assert "'June 4' is not a date; write it as YYYY-MM-DD" in err


def test_unknown_option_is_a_user_error(run: Run, cfg: Config) -> None:
    code, _, err = run("scan", "--fast", config=cfg.path)
    assert code == 1
    assert "No such option '--fast'" in err


def test_a_bug_exits_2_with_a_short_message(
    run: Run, cfg: Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_a: object, **_k: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(pipeline, "scan", broken)
    code, _, err = run("scan", config=cfg.path)
    assert code == 2
    assert "internal error: this is a bug in watcher" in err


def test_python_dash_m_and_env_var(cfg: Config, tmp_path: Path) -> None:
    env = {"WATCHER_CONFIG": str(cfg.path), "PATH": "/usr/bin:/bin"}
    proc = subprocess.run(
        [sys.executable, "-m", "watcher", "check"], env=env, capture_output=True, text=True,
        timeout=60, cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"OK: {cfg.path}")

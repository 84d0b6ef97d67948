"""The command line: messages and exit codes (0 ok, 1 user error, 2 internal error)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.servers import free_port
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


def test_check_lists_the_formats_and_what_is_missing(
    run: Run, cfg: Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib.util

    from watcher import webpage

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "docx" else real(name)
    )
    monkeypatch.setattr(webpage, "available", lambda: False)
    code, out, _ = run("check", config=cfg.path)
    assert code == 0
    formats = next(line for line in out.splitlines() if line.startswith("  formats:"))
    pdf = "yes" if real("pdfminer") else "no, pip install 'watcher[pdf]'"
    ocr = "yes" if real("pytesseract") else "no, pip install 'watcher[ocr]'"
    assert formats == (
        "  formats:    .txt .md: yes; "
        ".html .htm: built-in (pip install 'watcher[html]' for article extraction); "
        f".pdf: {pdf}; .docx: no, pip install 'watcher[docx]'; .png .jpg .jpeg .tif .tiff: {ocr}"
    )
    # Which matcher runs: compiled at install, or the source (tests/test_native.py).
    from watcher import matcher

    assert f"  matcher:    {matcher.RUNS}" in out.splitlines()


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


# --- watchlists on the command line ------------------------------------------------


def _bundled(cfg: Config) -> None:
    import shutil

    from tests.conftest import ROOT

    for f in (ROOT / "config" / "watchlists").glob("*.yaml"):
        shutil.copy(f, cfg.watchlists / f.name)


def test_match_jsonl_without_state(run: Run, cfg: Config, tmp_path: Path) -> None:
    _bundled(cfg)
    code, out, _ = run(
        "match", str(cfg.inbox / "000_a9c89bb65670a872.txt"), "--format", "jsonl",
        "--watchlists", str(cfg.watchlists), config=cfg.path,
    )  # fmt: skip
    assert code == 0
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["index"] for r in rows] == [0, 1, 2, 3]
    assert [[t["id"] for t in r["topics"]] for r in rows] == [
        ["rural"],
        ["safety", "flood", "investment"],
        ["urban-renewal", "investment"],
        ["safety"],
    ]
    safety = rows[3]["topics"][0]
    assert safety["name"] == "安全生产检查" and safety["terms"]["暗访"] == 3
    assert {"file", "headline", "newspaper", "date", "page", "byline", "lead", "chars"} <= set(
        rows[3]
    )
    assert not cfg.state.exists()  # match reads and writes no state


def test_match_text_explain(run: Run, cfg: Config) -> None:
    _bundled(cfg)
    code, out, _ = run("match", str(cfg.inbox), "--explain", config=cfg.path)
    assert code == 0
    assert "毛伟明在湘潭暗访检查安全生产工作" in out and "[安全生产检查 97.1]" in out
    assert "why: anchors: 安全生产 ×9 (headline), 非煤矿山, 危险化学品; context:" in out
    assert "【风险隐患】" in out
    assert out.rstrip().endswith("26 articles, 18 matched a topic")


def test_scan_records_matches_and_articles_show_topics(run: Run, cfg: Config) -> None:
    _bundled(cfg)
    code, out, _ = run("scan", config=cfg.path)
    assert out == "scan: 5 new, 0 unchanged, 0 failed; 26 articles added, 18 matched a topic\n"
    code, out, _ = run("articles", "--format", "jsonl", config=cfg.path)
    assert code == 0
    rows = [json.loads(line) for line in out.splitlines()]
    tagged = {r["headline"][:6]: [t["id"] for t in r["topics"]] for r in rows if r["topics"]}
    assert tagged["133大片区"] == ["urban-renewal", "investment"]
    assert len(tagged) == 18


def test_check_reports_watchlist_problems(run: Run, cfg: Config) -> None:
    bad = cfg.watchlists / "bad.yaml"
    bad.write_text("id: x\nquery: (安全生产 OR 检查\nexclude: 招聘 AND\n", encoding="utf-8")
    code, _, err = run("check", config=cfg.path)
    assert code == 1
    assert err == (
        f"error: {cfg.watchlists}: 2 problems in the watchlists\n"
        f"  {bad}:2: query: unbalanced parenthesis at column 1\n"
        f"  {bad}:3: exclude: AND at column 4 needs a term on both sides\n"
    )


def test_try_shows_what_an_edit_adds_and_drops(run: Run, cfg: Config, tmp_path: Path) -> None:
    (cfg.watchlists / "rural.yaml").write_text("id: rural\nquery: 驻村\n", encoding="utf-8")
    run("scan", config=cfg.path)
    edited = tmp_path / "edited.yaml"
    edited.write_text("id: rural\nname: 乡村振兴\nquery: 乡村振兴 -驻村\n", encoding="utf-8")
    code, out, _ = run("try", str(edited), "--days", "30", config=cfg.path)
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "rural (乡村振兴, changed): +3 / −2 articles over 30 days (3 would match)"
    # Each line: sign, [score], date, headline, id.
    shape = re.compile(r"^  ([+−]) \[ *[0-9.]+\] [0-9-]{10} (.+)  [0-9a-f]{16}-[0-9]+$")
    found = [shape.match(line) for line in lines[1:]]
    assert all(found), lines
    assert sorted(f"  {m[1]} {m[2]}" for m in found if m) == sorted(
        [
            "  + 湘赣携手 “情牵红土地”",
            "  + 我市与国开行湖南省分行签订战略合作框架协议",
            "  + 精准发力绘就乡村振兴美好图景",
            "  − 严把“四关”，让驻村干部“驻”村更“助”村 湖南选派2.4万名干部 接续奋战乡村振兴",
            "  − 激浊扬清的“淥口担当”",
        ]
    )


def test_run_once_with_digest_now_then_status(run: Run, cfg: Config) -> None:
    _bundled(cfg)
    code, out, _ = run("run", "--once", "--digest-now", config=cfg.path)
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "scan: 5 new, 0 unchanged, 0 failed; 26 articles added"
    day = lines[1].split()[1].rstrip(":")
    report = cfg.path.parent / "reports" / f"{day}.html"
    assert lines[1] == f"digest {day}: {report}"
    assert report.exists() and (report.parent / "index.html").exists()
    code, out, _ = run("status", config=cfg.path)
    assert code == 3  # for a monitoring check: the daemon is not running
    assert "daemon:       not running" in out
    assert ": 5 new, 0 unchanged, 0 failed, 26 articles" in out
    assert f"inbox:        {cfg.inbox}: 5 files" in out
    assert "pending:      0 deliveries" in out
    code, out, _ = run("status", "--format", "json", config=cfg.path)
    info = json.loads(out)
    assert code == 3 and info["exit_code"] == 3
    assert info["daemon"] == "not running" and info["store"]["articles"] == 26
    assert info["next_digest"] and info["pending_deliveries"] == []


def test_log_format_json(cfg: Config, tmp_path: Path) -> None:
    env = {"WATCHER_CONFIG": str(cfg.path), "PATH": "/usr/bin:/bin"}
    proc = subprocess.run(
        [sys.executable, "-m", "watcher", "--log-format", "json", "--log-level", "INFO", "scan"],
        env=env, capture_output=True, text=True, timeout=60, cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    records = [json.loads(line) for line in proc.stderr.splitlines()]
    assert any(r["message"].startswith("scan of ") for r in records)
    assert {"time", "level", "logger", "message"} <= set(records[0])


def test_report_files_missing_after_a_crash_are_written_again(run: Run, cfg: Config) -> None:
    _bundled(cfg)
    run("run", "--once", "--digest-now", config=cfg.path)
    reports = cfg.path.parent / "reports"
    (page,) = reports.glob("20*.html")
    page.unlink()
    code, out, _ = run("run", "--once", config=cfg.path)
    assert code == 0 and page.exists()
    assert f"digest {page.stem}: {page}" in out


def test_check_connects_to_a_postgresql_state(run: Run, cfg: Config) -> None:
    pytest.importorskip("psycopg")
    port = free_port()  # nothing listens there
    text = cfg.path.read_text(encoding="utf-8").replace(
        "state: state/watcher.db", f"state: postgresql://watcher@127.0.0.1:{port}/watcher"
    )
    cfg.path.write_text(text, encoding="utf-8")
    code, _, err = run("check", config=cfg.path)
    assert code == 1
    assert err.startswith(
        f"error: cannot connect to the state database postgresql://watcher@127.0.0.1:{port}/"
        "watcher: no server answers there; start PostgreSQL or fix the host and port in 'state'"
    )


def test_check_warns_when_a_term_of_one_and_branch_contains_another(run: Run, cfg: Config) -> None:
    topic = cfg.watchlists / "09-overlap.yaml"
    topic.write_text("id: overlap\nquery: 安全隐患 AND 隐患\n", encoding="utf-8")
    code, out, _ = run("check", config=cfg.path)
    assert code == 0
    warnings = [line for line in out.splitlines() if line.startswith("warning: ")]
    assert len(warnings) == 1 and warnings[0].startswith(f"warning: {topic}:2: query: ")
    assert "安全隐患" in warnings[0] and "隐患" in warnings[0]

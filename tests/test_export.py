"""`watcher export`: every field round-trips through csv, openpyxl and JSON Lines, on a
real store scanned from the seeds; filters, formula-looking text, and every error
message."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Callable
from pathlib import Path

import openpyxl
import pytest

from tests.conftest import dedent
from watcher import cli, export, pipeline
from watcher.config import Config
from watcher.models import Article, Match
from watcher.store import ArticleFilter, Store

Run = Callable[..., tuple[int, str, str]]

TOPICS = dedent(
    """
    - id: renewal
      name: 城市更新
      query: 城市更新 OR 老旧小区
    - id: places
      name: 地方
      query: 株洲 OR 衡阳 OR 长沙
    """
)


@pytest.fixture
def cfg(make_config: Callable[..., Config], seeded_inbox: Path) -> Config:
    cfg = make_config()
    (cfg.watchlists / "topics.yaml").write_text(TOPICS, encoding="utf-8")
    with Store(cfg.state) as store:
        pipeline.scan(cfg, store, topics=pipeline.load_topics(cfg))
    return cfg


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]) -> Run:
    def invoke(*args: str, config: Path) -> tuple[int, str, str]:
        with pytest.raises(SystemExit) as done:
            cli.main(["--config", str(config), "--log-level", "ERROR", *args])
        out, err = capsys.readouterr()
        return int(done.value.code or 0), out, err

    return invoke


def _expected(cfg: Config, where: ArticleFilter | None = None) -> list[export.ExportRow]:
    with Store(cfg.state) as store:
        return list(export.export_rows(store, where))


def _as_text(row: export.ExportRow) -> list[str]:
    return [export.csv_cell(v) for v in (getattr(row, f) for f in export.FIELDS)]


def test_rows_are_the_stored_matches_newest_first(cfg: Config) -> None:
    rows = _expected(cfg)
    with Store(cfg.state) as store:
        assert len(rows) == len(store.matches()) > 5
    dates = [r.date for r in rows if r.date]
    assert dates == sorted(dates, reverse=True)
    assert {r.topic for r in rows} == {"renewal", "places"}
    first = rows[0]
    assert first.body and first.snippet and first.headline and first.file.endswith(".txt")


def test_csv_round_trips_every_field(run: Run, cfg: Config, tmp_path: Path) -> None:
    out = tmp_path / "matches.csv"
    code, stdout, err = run("export", "--format", "csv", "--output", str(out), config=cfg.path)
    assert code == 0 and stdout == ""
    rows = _expected(cfg)
    assert err == f"exported {len(rows)} matches to {out}\n"
    raw = out.read_bytes()
    assert raw.startswith("\ufeff".encode())  # Excel reads UTF-8 only with the mark
    with out.open(encoding="utf-8-sig", newline="") as fh:
        table = list(csv.reader(fh))
    assert table[0] == list(export.FIELDS)
    assert table[1:] == [_as_text(r) for r in rows]
    # Chinese and line breaks intact:
    assert any("\n" in row[-1] for row in table[1:])
    assert any("城市更新" in row[6] for row in table[1:])


def test_csv_to_standard_output(run: Run, cfg: Config) -> None:
    code, out, err = run("export", "--format", "csv", "--topic", "renewal", config=cfg.path)
    assert code == 0
    table = list(csv.reader(io.StringIO(out.removeprefix("\ufeff"), newline="")))
    rows = _expected(cfg, ArticleFilter(topic="renewal"))
    assert table[1:] == [_as_text(r) for r in rows] and rows
    assert {row[1] for row in table[1:]} == {"renewal"}
    assert err == f"exported {len(rows)} matches\n"


def test_xlsx_round_trips_every_field(run: Run, cfg: Config, tmp_path: Path) -> None:
    out = tmp_path / "matches.xlsx"
    code, _, err = run("export", "--format", "xlsx", "-o", str(out), config=cfg.path)
    assert code == 0, err
    book = openpyxl.load_workbook(out)
    sheet = book["matches"]
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref is not None and sheet.auto_filter.ref.startswith("A1:K")
    values = list(sheet.iter_rows(values_only=True))
    assert values[0] == export.FIELDS
    assert sheet["A1"].font.bold
    rows = _expected(cfg)
    got = [tuple(v.date() if isinstance(v, dt.datetime) else v for v in row) for row in values[1:]]
    want = [tuple("" if v is None else v for v in _tuple(r)) for r in rows]
    # openpyxl reads an empty cell as None
    assert [tuple("" if v is None else v for v in row) for row in got] == want


def _tuple(row: export.ExportRow) -> tuple[object, ...]:
    return tuple(getattr(row, f) for f in export.FIELDS)


def test_jsonl_round_trips_every_field(run: Run, cfg: Config) -> None:
    code, out, _ = run("export", "--format", "jsonl", config=cfg.path)
    assert code == 0
    got = [json.loads(line) for line in out.splitlines()]
    want = [
        {f: (v.isoformat() if isinstance(v, dt.date) else v) for f, v in zip(
            export.FIELDS, _tuple(r), strict=True)}
        for r in _expected(cfg)
    ]  # fmt: skip
    assert got == want
    assert list(got[0]) == list(export.FIELDS)


def test_filters_by_publication_date(run: Run, cfg: Config) -> None:
    _, out, _ = run(
        "export", "--format", "jsonl", "--since", "2021-06-04", "--until", "2021-06-04",
        config=cfg.path,
    )  # fmt: skip
    rows = [json.loads(line) for line in out.splitlines()]
    assert rows and {r["date"] for r in rows} == {"2021-06-04"}


NOW = dt.datetime(2026, 11, 22, tzinfo=dt.UTC)


def _tricky(cfg: Config) -> None:
    """An article whose text looks like formulas and holds a control character."""
    with Store(cfg.state) as store:
        art = Article(
            0, '=HYPERLINK("http://x")城市更新', "-1 老旧小区\x07改造\n+2", byline="@记者"
        )
        m = Match("renewal", "v", 50.0, (("城市更新", 1),), (), "城市更新", "=1+1 城市更新", ())
        store.add_document(
            sha256="e" * 64, path="/x/e.txt", size=1, mtime_ns=1, encoding="utf-8",
            articles=[art], now=NOW, matches=[[m]],
        )  # fmt: skip


def test_formula_looking_text_stays_text(run: Run, cfg: Config, tmp_path: Path) -> None:
    _tricky(cfg)
    run("export", "--format", "xlsx", "-o", str(tmp_path / "m.xlsx"), config=cfg.path)
    sheet = openpyxl.load_workbook(tmp_path / "m.xlsx")["matches"]
    row = next(r for r in sheet.iter_rows() if r[0].value == "eeeeeeeeeeeeeeee-0")
    assert row[6].value == '=HYPERLINK("http://x")城市更新' and row[6].data_type == "s"
    assert row[9].value == "=1+1 城市更新" and row[9].data_type == "s"
    assert row[10].value == "-1 老旧小区\ufffd改造\n+2"  # XML cannot hold \x07
    run("export", "--format", "csv", "-o", str(tmp_path / "m.csv"), config=cfg.path)
    with (tmp_path / "m.csv").open(encoding="utf-8-sig", newline="") as fh:
        row2 = next(r for r in csv.reader(fh) if r[0] == "eeeeeeeeeeeeeeee-0")
    assert row2[6] == '\'=HYPERLINK("http://x")城市更新'
    assert row2[7] == "'@记者" and row2[9] == "'=1+1 城市更新"
    assert row2[10] == "'-1 老旧小区\x07改造\n+2"


def test_cells_longer_than_excel_holds_are_cut_and_counted(
    run: Run, cfg: Config, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(export, "EXCEL_CELL", 50)
    code, _, err = run("export", "--format", "xlsx", "-o", str(tmp_path / "m.xlsx"),
                       config=cfg.path)  # fmt: skip
    assert code == 0
    assert "cell(s) cut to Excel's 50 characters" in err
    sheet = openpyxl.load_workbook(tmp_path / "m.xlsx")["matches"]
    assert all(len(c.value) <= 50 for row in sheet.iter_rows(min_row=2) for c in row
               if isinstance(c.value, str))  # fmt: skip


def test_the_output_is_replaced_whole(run: Run, cfg: Config, tmp_path: Path) -> None:
    out = tmp_path / "m.jsonl"
    out.write_text("old\n")
    run("export", "--format", "jsonl", "-o", str(out), config=cfg.path)
    assert "old" not in out.read_text(encoding="utf-8")
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".m.jsonl")] == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--format", "xlsx"], "error: --format xlsx writes a binary file: give --output FILE.xlsx\n"),
        (["--format", "csv", "--topic", "renewl"],
         "error: no topic 'renewl'; did you mean 'renewal'? (topics: renewal, places)\n"),
        (["--format", "csv", "--since", "2022-02-02", "--until", "2022-01-01"],
         "error: --since 2022-02-02 is after --until 2022-01-01; swap them\n"),
        (["--format", "csv", "--output", "/nonexistent/dir/x.csv"],
         "error: cannot write /nonexistent/dir/x.csv: the folder /nonexistent/dir does not exist\n"),
    ],
)  # fmt: skip
def test_export_errors(run: Run, cfg: Config, args: list[str], message: str) -> None:
    code, out, err = run("export", *args, config=cfg.path)
    assert (code, out, err) == (1, "", message)


def test_bad_format_and_date(run: Run, cfg: Config) -> None:
    code, _, err = run("export", "--format", "pdf", config=cfg.path)
    assert (
        code == 1
        and "Invalid value for '--format': 'pdf' is not one of 'csv', 'xlsx', 'jsonl'." in err
    )
    code, _, err = run("export", "--format", "csv", "--since", "june", config=cfg.path)
    assert code == 1 and err.endswith("'june' is not a date; write it as YYYY-MM-DD\n")

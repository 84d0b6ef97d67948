"""Labels from analysts, end to end on a real store: `label`, `labels`, `try` with
precision and recall before and after an edit, and `tune`'s proposal; plus the pure
tuning functions."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import Run, dedent
from watcher import pipeline
from watcher.config import Config
from watcher.store import Store
from watcher.tuning import agreement, best_threshold, candidate_terms, proposed_edit

# A query-only topic, so the test does not move when the bundled topics are tuned.
SAFETY = dedent(
    """
    id: safety
    name: 安全生产检查
    query: 安全生产 AND 检查
    """
)


@pytest.fixture
def cfg(make_config: Callable[..., Config], seeded_inbox: Path) -> Config:
    cfg = make_config()
    (cfg.watchlists / "01-safety.yaml").write_text(SAFETY, encoding="utf-8")
    with Store(cfg.state) as store:
        pipeline.scan(cfg, store, topics=pipeline.load_topics(cfg))
    return cfg


def _ids(cfg: Config) -> dict[str, str]:
    """Headline prefix → article id, from `watcher articles --format jsonl`'s store."""
    with Store(cfg.state) as store:
        return {r.article.headline[:8]: r.id for r in store.articles()}


def test_label_labels_try_and_tune(run: Run, cfg: Config) -> None:
    ids = _ids(cfg)
    inspection = ids["毛伟明在湘潭暗访"]  # matched: 安全生产 and 检查
    visit = ids["沈晓明赴岳阳市调"]  # mentions 安全生产, no 检查: not matched
    renewal = ids["133大片区、2"]
    code, out, _ = run("label", inspection, "safety", "yes", config=cfg.path)
    assert (code, out) == (0, f"labelled {inspection} (毛伟明在湘潭暗访检查安全生产工作 穿透式监管 "
                               "闭环式整改 持续推动风险隐患动态清零) relevant to safety\n")  # fmt: skip
    assert run("label", visit, "safety", "yes", config=cfg.path)[0] == 0
    assert run("label", renewal, "safety", "no", config=cfg.path)[0] == 0
    # A second label of the same article and topic replaces the first.
    assert run("label", renewal, "safety", "no", config=cfg.path)[0] == 0

    code, out, _ = run("labels", "--format", "jsonl", config=cfg.path)
    rows = [json.loads(line) for line in out.splitlines()]
    assert [(r["id"], r["relevant"], r["matched"]) for r in rows] == [
        (inspection, True, True),
        (visit, True, False),
        (renewal, False, False),
    ]
    code, out, _ = run("labels", config=cfg.path)
    assert out.splitlines()[1].startswith(f"{visit}  safety  yes  DISAGREES  沈晓明")
    assert out.splitlines()[-1] == "3 labels"

    edited = cfg.path.parent / "safety-edit.yaml"
    edited.write_text(SAFETY.replace("安全生产 AND 检查", "安全生产"), encoding="utf-8")
    code, out, _ = run("try", str(edited), "--days", "100000", config=cfg.path)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("safety (安全生产检查, changed): +1 / −0 articles")
    assert any(f"{visit}  (labelled relevant)" in ln and ln.startswith("  + [") for ln in lines)
    assert "  labelled: 2 relevant, 1 not relevant" in lines
    assert "  before: P 1.00 R 0.50 (1 of 2 relevant found, 0 wrong)" in lines
    assert "  after:  P 1.00 R 1.00 (2 of 2 relevant found, 0 wrong)" in lines

    code, out, _ = run("tune", "safety", config=cfg.path)
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "safety (安全生产检查): 2 relevant, 1 not relevant labelled"
    assert lines[1].startswith("  now (min_score 0):") and lines[1].endswith(
        "P 1.00 R 0.50 (1 of 2 relevant found, 0 wrong)"
    )
    # Labels survive re-matching after a watchlist edit.
    (cfg.watchlists / "01-safety.yaml").write_text(edited.read_text(), encoding="utf-8")
    with Store(cfg.state) as store:
        pipeline.scan(cfg, store, topics=pipeline.load_topics(cfg))
        assert len(store.labels("safety")) == 3


def test_label_errors_name_the_fix(run: Run, cfg: Config) -> None:
    ident = next(iter(_ids(cfg).values()))
    code, _, err = run("label", ident, "safty", "yes", config=cfg.path)
    assert code == 1
    assert err == "error: no topic 'safty'; did you mean 'safety'? (topics: safety)\n"
    code, _, err = run("label", "0123456789abcdef-99", "safety", "yes", config=cfg.path)
    assert code == 1 and err == (
        "error: no stored article '0123456789abcdef-99'; ids look like a9c89bb65670a872-3 "
        "(see `watcher articles` or `watcher labels`)\n"
    )
    code, _, err = run("tune", "safety", config=cfg.path)
    assert code == 1 and err == (
        "error: no labels for safety yet: label articles first with "
        "`watcher label ID safety yes|no`\n"
    )


def test_articles_and_match_print_the_same_id(run: Run, cfg: Config) -> None:
    _, out, _ = run("articles", "--format", "jsonl", config=cfg.path)
    stored = {json.loads(line)["id"] for line in out.splitlines()}
    _, out, _ = run("match", str(cfg.inbox), "--format", "jsonl", config=cfg.path)
    matched = {json.loads(line)["id"] for line in out.splitlines()}
    assert len(stored) == 26 and stored == matched


def test_agreement_and_best_threshold() -> None:
    labels = {"a": True, "b": True, "c": False, "d": False}
    found = agreement({"a", "c"}, labels)
    assert (found.tp, found.fp, found.fn, found.tn) == (1, 1, 1, 1)
    assert found.summary() == "P 0.50 R 0.50 (1 of 2 relevant found, 1 wrong)"
    threshold, best = best_threshold({"a": 40.0, "b": 25.0, "c": 20.0}, labels)
    assert threshold == 25.0 and (best.tp, best.fp) == (2, 0)


def test_candidate_terms_prefer_words_of_missed_relevant_articles() -> None:
    missed = ["安委会督办隐患整改", "安委会部署督办", "安委会通报"]
    negatives = ["体育比赛结果", "部署体育工作"]
    found = candidate_terms(
        missed, negatives, lambda t: [t[i : i + 3] for i in range(len(t) - 2)], set()
    )
    assert found[0] == ("安委会", 3, 0)
    assert all(word != "部署体" for word, _, _ in found)


def test_proposed_edit_is_a_diff_of_the_watchlist() -> None:
    text = "id: safety\nquery: 安全生产\nmin_score: 5\ncontext: [暗访]\n"
    diff = proposed_edit(text, 12.0, ["安委会", "督办"], "01-safety.yaml")
    assert diff.splitlines()[2:] == [
        "@@ -1,4 +1,4 @@",
        " id: safety",
        " query: 安全生产",
        "-min_score: 5",
        "-context: [暗访]",
        "+min_score: 12",
        "+context: [暗访, 安委会, 督办]",
    ]
    assert proposed_edit("id: x\nquery: a\n", None, []) == ""
    block = proposed_edit("id: x\ncontext:\n  - 暴雨\nquery: a", None, ["水位"])
    assert "+  - 水位" in block.splitlines()

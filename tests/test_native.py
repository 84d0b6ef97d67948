"""The compiled matcher (setup.py builds matcher.py's copy with mypyc): the same
matches as the pure-Python one, and never a build of another matcher.py."""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import CORPUS, ROOT, SEEDS
from watcher import matcher
from watcher.models import Article
from watcher.pages import split_page
from watcher.readers import read_bytes
from watcher.segment import Segmenter
from watcher.watchlists import Topic, load_watchlists

needs_native = pytest.mark.skipif(
    not matcher.COMPILED,
    reason="the matcher is not compiled in this install (no mypyc or C compiler at "
    "build time, WATCHER_PURE set, or watcher/matcher.py edited since the build)",
)
pytestmark = needs_native


@pytest.fixture(scope="module")
def segmenter(tmp_path_factory: pytest.TempPathFactory) -> Segmenter:
    return Segmenter(tmp_path_factory.mktemp("jieba"))


def _articles(paths: list[Path]) -> list[Article]:
    out: list[Article] = []
    for path in paths:
        text = read_bytes(path, path.read_bytes())
        out += split_page(text.text, markup=text.markup)
    return out


def _vocabulary(articles: list[Article], segmenter: Segmenter, rng: random.Random) -> list[str]:
    words: set[str] = set()
    for a in rng.sample(articles, min(200, len(articles))):
        words.update(w for w in segmenter.cut(a.headline + a.body[:600]) if 2 <= len(w) <= 4)
    return sorted(w for w in words if w.isalpha() and not w.isascii())


def _random_topics(tmp: Path, words: list[str], n: int, seed: int) -> list[Topic]:
    """Topics of every kind the matcher knows, drawn at random: anchors and context
    (NEAR, title:, quoted phrases, nested words), written queries with AND/OR/NOT,
    exclusions, ignored words, boosts, regions, lead_context and min_score."""
    rng = random.Random(seed)

    def term() -> str:
        word = rng.choice(words)
        roll = rng.random()
        if roll < 0.08:
            return f"title:{word}"
        if roll < 0.14:
            return f'"{word}"'
        if roll < 0.22:
            return f"{word} NEAR {rng.choice(words)}"
        if roll < 0.26:
            return f"{word} NEAR/{rng.randint(1, 30)} {rng.choice(words)}"
        return word

    specs = []
    for i in range(n):
        spec: dict[str, object] = {"id": f"t{i:03d}"}
        if rng.random() < 0.8:
            anchors = [term() for _ in range(rng.randint(0, 5))]
            context = [term() for _ in range(rng.randint(0, 8))]
            if rng.random() < 0.2 and anchors:  # a word holding another (安全隐患, 隐患)
                word = rng.choice(words)
                anchors.append(word + rng.choice(words))
                context.append(word)
            anchors = list(dict.fromkeys(anchors))
            context = [t for t in dict.fromkeys(context) if t not in anchors]
            spec["anchors"] = anchors
            spec["context"] = context or [rng.choice([w for w in words if w not in anchors])]
            spec["lead_context"] = rng.random() < 0.6
        if rng.random() < 0.3 or "anchors" not in spec:
            a, b, c = (rng.choice(words) for _ in range(3))
            spec["query"] = rng.choice(
                [f"{a} OR {b}", f"({a} OR {b}) AND {c}", f"{a} AND NOT {b}", f"title:{a} OR {b}"]
            )
        if rng.random() < 0.4:
            spec["exclude"] = " OR ".join(rng.sample(words, rng.randint(1, 4)))
        if rng.random() < 0.1:
            spec["ignore"] = [rng.choice(words) + rng.choice(words)]
        if rng.random() < 0.1 and spec.get("anchors"):
            first = str(spec["anchors"][0])  # type: ignore[index]
            if " " not in first and ":" not in first and '"' not in first:
                spec["boost"] = {first: round(rng.uniform(0.5, 2.0), 1)}
        if rng.random() < 0.05:
            spec["regions"] = [rng.choice(["湖南省", "长沙", "株洲", "衡阳"])]
        spec["min_score"] = rng.choice([0, 0, 5, 10, 25])
        specs.append(spec)
    path = tmp / "random.yaml"
    path.write_text(yaml.safe_dump(specs, allow_unicode=True), encoding="utf-8")
    return load_watchlists(path)


def _differences(topics: list[Topic], articles: list[Article], segmenter: Segmenter) -> list[str]:
    compiled, pure = matcher.Matcher(topics, segmenter), matcher.PureMatcher(topics, segmenter)
    assert type(compiled) is not type(pure)
    out = []
    matched = 0
    for a in articles:
        ours, theirs = compiled.match(a), pure.match(a)
        matched += len(theirs)
        if ours != theirs:
            out.append(f"{a.headline!r}: compiled {ours!r}\n  pure {theirs!r}")
    assert matched > 0, "no topic matched: the comparison proved nothing"
    return out


def test_the_compiled_matcher_is_the_one_in_use() -> None:
    assert matcher.Matcher is not matcher.PureMatcher
    assert matcher.Matcher.__module__ == "watcher._native_matcher"


def test_compiled_and_pure_agree_on_the_seeds(tmp_path: Path, segmenter: Segmenter) -> None:
    articles = _articles(sorted(p for p in SEEDS.iterdir() if p.is_file()))
    bundled = load_watchlists(ROOT / "config" / "watchlists")
    words = _vocabulary(articles, segmenter, random.Random(3))
    for seed in (1, 2, 3):
        topics = bundled + _random_topics(tmp_path, words, 150, seed)
        assert _differences(topics, articles, segmenter) == []


@pytest.mark.corpus
@pytest.mark.skipif(
    not (CORPUS / "xwlb_cctv_news").is_dir(), reason=f"corpus not found at {CORPUS}"
)
def test_compiled_and_pure_agree_on_the_corpus(tmp_path: Path, segmenter: Segmenter) -> None:
    days = sorted((CORPUS / "xwlb_cctv_news").glob("*.md"))
    articles = _articles(random.Random(23).sample(days, 40))
    bundled = load_watchlists(ROOT / "config" / "watchlists")
    words = _vocabulary(articles, segmenter, random.Random(5))
    topics = bundled + _random_topics(tmp_path, words, 300, 9)
    assert _differences(topics, articles, segmenter) == []


def _which(package: Path, **env: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", "from watcher import matcher; print(matcher.Matcher.__module__)"],
        cwd=package.parent,
        env={**os.environ, "PYTHONPATH": str(package.parent), **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout.strip()


def test_a_build_of_another_matcher_py_is_not_used(tmp_path: Path) -> None:
    package = tmp_path / "watcher"
    shutil.copytree(ROOT / "watcher", package, ignore=shutil.ignore_patterns("__pycache__"))
    assert _which(package) == "watcher._native_matcher"
    assert _which(package, WATCHER_PURE="1") == "watcher.matcher"
    source = package / "matcher.py"
    source.write_text(source.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")
    assert _which(package) == "watcher.matcher"

"""The compiled matcher (setup.py builds matcher.py's copy with mypyc): the same
matches as the pure-Python one, and never a build of another matcher.py."""

from __future__ import annotations

import itertools
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
    not matcher.COMPILED, reason=f"the matcher runs as {matcher.RUNS} in this install"
)


def test_the_build_compiled_the_matcher_where_that_is_required() -> None:
    """CI sets WATCHER_REQUIRE_NATIVE (setup.py then fails rather than building a pure
    package): there, a matcher not compiled is a failure, not a skip."""
    if not os.environ.get("WATCHER_REQUIRE_NATIVE"):
        pytest.skip("WATCHER_REQUIRE_NATIVE is not set")
    assert matcher.COMPILED, matcher.RUNS


@pytest.fixture(scope="module")
def segmenter(tmp_path_factory: pytest.TempPathFactory) -> Segmenter:
    return Segmenter(tmp_path_factory.mktemp("jieba"))


def _articles(paths: list[Path]) -> list[Article]:
    out: list[Article] = []
    for path in paths:
        text = read_bytes(path, path.read_bytes())
        out += split_page(text.text, markup=text.markup)
    return out


def _vocabulary(
    articles: list[Article], segmenter: Segmenter, rng: random.Random
) -> tuple[list[str], list[str]]:
    """Words of a sample of the articles, and words made of two of them that occur
    (for ``ignore``: 招商银行 around 招商)."""
    words: set[str] = set()
    pairs: set[str] = set()
    for a in rng.sample(articles, min(200, len(articles))):
        cut = segmenter.cut(a.headline + a.body[:600])
        words.update(w for w in cut if 2 <= len(w) <= 4)
        pairs.update(x + y for x, y in itertools.pairwise(cut) if len(x + y) >= 4)
    plain = sorted(w for w in words if w.isalpha() and not w.isascii())
    return plain, sorted(p for p in pairs if p.isalpha() and not p.isascii())


def _random_topics(
    tmp: Path, vocabulary: tuple[list[str], list[str]], n: int, seed: int
) -> list[Topic]:
    """Topics of every kind the matcher knows, drawn at random: anchors and context
    (NEAR, title:, quoted phrases, nested words), written queries with AND/OR/NOT,
    exclusions, ignored words, boosts, regions, lead_context and min_score."""
    rng = random.Random(seed)
    words, pairs = vocabulary

    def query() -> str:
        """A written query or exclusion: NEAR, phrases, title: and groups in it too."""
        a, b, c, d = (rng.choice(words) for _ in range(4))
        return rng.choice(
            [
                f"{a} OR {b}",
                f"({a} OR {b}) AND {c}",
                f"{a} AND NOT {b}",
                f"title:{a} OR {b}",
                f"{a} NEAR {b} OR {c}",
                f'"{a}{b}" OR ({c} AND NOT {d})',
                f"({a} NEAR/20 {b}) AND ({c} OR title:{d})",
                f"{a} OR {b} OR {c} OR {d}",
            ]
        )

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
            spec["query"] = query()
        if rng.random() < 0.4:
            spec["exclude"] = (
                query() if rng.random() < 0.3 else " OR ".join(rng.sample(words, rng.randint(1, 4)))
            )
        if rng.random() < 0.15 and pairs:
            spec["ignore"] = rng.sample(pairs, 2)
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


def _differences(
    topics: list[Topic], articles: list[Article], segmenter: Segmenter, matched: set[str]
) -> list[str]:
    """Where the two matchers differ; ``matched`` gets the ids of the topics matched."""
    compiled, pure = matcher.Matcher(topics, segmenter), matcher.PureMatcher(topics, segmenter)
    assert type(compiled) is not type(pure)
    out = []
    for a in articles:
        ours, theirs = compiled.match(a), pure.match(a)
        matched.update(m.topic_id for m in theirs)
        if ours != theirs:
            out.append(f"{a.headline!r}: compiled {ours!r}\n  pure {theirs!r}")
    return out


# What a topic may hold, each of which some matched topic must have for the comparison
# to say anything about it.
FEATURES = {
    "a written query with NEAR": lambda t: t.written_query and "NEAR" in t.query_text,
    "a written query with a phrase": lambda t: t.written_query and '"' in t.query_text,
    "an exclusion": lambda t: t.exclude is not None,
    "ignored words": lambda t: bool(t.ignore),
    "boosts": lambda t: bool(t.boost),
    "lead_context: false": lambda t: not t.lead_context and bool(t.context),
    "min_score": lambda t: t.min_score > 0,
    "a NEAR entry": lambda t: any("NEAR" in matcher.entry_key(e) for e in t.context),
}


@needs_native
def test_the_compiled_matcher_is_the_one_in_use() -> None:
    assert matcher.Matcher is not matcher.PureMatcher
    assert matcher.Matcher.__module__ == "watcher._native_matcher"


@needs_native
def test_compiled_and_pure_agree_on_the_seeds(tmp_path: Path, segmenter: Segmenter) -> None:
    articles = _articles(sorted(p for p in SEEDS.iterdir() if p.is_file()))
    bundled = load_watchlists(ROOT / "config" / "watchlists")
    vocabulary = _vocabulary(articles, segmenter, random.Random(3))
    matched: set[str] = set()
    for seed in (1, 2, 3):
        topics = bundled + _random_topics(tmp_path, vocabulary, 150, seed)
        assert _differences(topics, articles, segmenter, matched) == []
    assert len(matched) > 50, matched


@needs_native
@pytest.mark.corpus
@pytest.mark.skipif(
    not (CORPUS / "xwlb_cctv_news").is_dir(), reason=f"corpus not found at {CORPUS}"
)
def test_compiled_and_pure_agree_on_the_corpus(tmp_path: Path, segmenter: Segmenter) -> None:
    days = sorted((CORPUS / "xwlb_cctv_news").glob("*.md"))
    articles = _articles(random.Random(23).sample(days, 40))
    bundled = load_watchlists(ROOT / "config" / "watchlists")
    vocabulary = _vocabulary(articles, segmenter, random.Random(5))
    topics = bundled + _random_topics(tmp_path, vocabulary, 400, 9)
    matched: set[str] = set()
    assert _differences(topics, articles, segmenter, matched) == []
    roundups = [a for a in articles if matcher.ROUNDUP.search(a.headline)]
    assert roundups, "no roundup (快讯) in the sample: sub-stories untested"
    held = {t.id for t in topics if t.id in matched}
    missing = [f for f, has in FEATURES.items() if not any(has(t) for t in topics if t.id in held)]
    assert not missing, f"no matched topic has {missing}: the comparison proved nothing there"


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


@needs_native
@pytest.mark.parametrize("edited", ["matcher.py", "rules.py", "models.py"])
def test_a_build_of_other_sources_is_not_used(tmp_path: Path, edited: str) -> None:
    """Not only matcher.py: mypyc builds the types of the modules it imports into the
    compiled code (a function of rules.py returning a tuple, not a list, would make
    the old build raise TypeError), so an edit of any module leaves the build unused."""
    package = tmp_path / "watcher"
    shutil.copytree(ROOT / "watcher", package, ignore=shutil.ignore_patterns("__pycache__"))
    assert _which(package) == "watcher._native_matcher"
    assert _which(package, WATCHER_PURE="1") == "watcher.matcher"
    source = package / edited
    source.write_text(source.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")
    assert _which(package) == "watcher.matcher"

"""Benchmark: the digest of a busy day — grouping, building, article pages, e-mail size.

    python bench/digest.py [--corpus ../shared/corpus] [--sizes 100,1000,3000] [--runs 3]

The matched articles are the first ones the bundled topics match in the 新闻联播
transcripts of the corpus (in date order, split and matched as the scan does),
plus one reprint in twenty made from them (cut to half, re-punctuated under a new
headline, or with a paragraph added, printed by another paper). Without the corpus
they are stories stitched from the seed pages' sentences, matched the same way.

For each size it prints, as the minimum of ``--runs`` runs, against a baseline
measured in the same run:

* grouping: ``digest.reprint_groups`` (exact prefix filtering) against the old
  grouping, kept below as the reference: every pair up to 400 texts, above that
  datasketch's MinHash LSH Ensemble proposing the pairs; and whether both give the
  same groups (and, up to 1,000 texts, the same as checking every pair exactly);
* build: ``digest.build_digest`` as it is, against the same with the old grouping;
* article pages: ``Renderer.articles`` (the digest cleaned once, every page
  rendered once) against the old way, ``Renderer.article`` per item, which cleans
  the whole digest for each page (timed on a sample of pages, scaled to all);
* archive: ``archive.write_archive`` of the day (every file rendered, written to
  a temporary file, fsynced and renamed), against the same with the old pages;
* the HTML e-mail of ``max_per_topic: 10``: its size in bytes against the old way
  (the whole stylesheet inlined into ``style=""``).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import hashlib
import importlib.util
import itertools
import random
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import TypeVar

import css_inline

from watcher import digest as digest_mod
from watcher import display
from watcher.archive import write_archive
from watcher.digest import Candidate, build_digest, reprint_groups
from watcher.matcher import Matcher
from watcher.models import Article, Digest, DigestItem, DigestStats
from watcher.pages import split_page
from watcher.readers import read_bytes
from watcher.render import Renderer
from watcher.segment import Segmenter
from watcher.watchlists import Topic, load_watchlists

ROOT = Path(__file__).resolve().parent.parent
T = TypeVar("T")
FOLDERS = ("xwlb_china_data_2017_2021", "xwlb_cctv_news")
DAY = dt.date(2026, 11, 21)
T0 = dt.datetime(2026, 11, 20, 22, 0, tzinfo=dt.UTC)


# ----------------------------------------------- the old grouping, as the reference

OLD_PUNCT = digest_mod.PUNCT
OLD_EXACT_UP_TO = 400
OLD_NUM_PERM = 128
# The old grouping's LSH needs datasketch, which watcher itself no longer does; without
# it the baseline checks every pair, as the old grouping did up to 400 texts.
HAVE_DATASKETCH = importlib.util.find_spec("datasketch") is not None


def old_shingles(text: str) -> set[str]:
    s = "".join(ch for ch in text if ch not in OLD_PUNCT)
    return {s[i : i + 4] for i in range(max(0, len(s) - 4 + 1))}


def old_reprint_groups(texts: Sequence[str]) -> list[list[int]]:
    """watcher.digest.reprint_groups before prefix filtering (commit 6f4a63a)."""
    sets = [old_shingles(t) if len(t) >= digest_mod.MIN_CHARS else set() for t in texts]
    parent = list(range(len(texts)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in _old_candidate_pairs(sets):
        if digest_mod.containment(sets[i], sets[j]) >= digest_mod.CONTAINMENT:
            parent[root(max(i, j))] = root(min(i, j))
    groups: dict[int, list[int]] = {}
    for i in range(len(texts)):
        groups.setdefault(root(i), []).append(i)
    return sorted(groups.values(), key=lambda g: g[0])


def _old_candidate_pairs(sets: Sequence[set[str]]) -> list[tuple[int, int]]:
    live = [i for i, s in enumerate(sets) if s]
    if len(live) <= OLD_EXACT_UP_TO or not HAVE_DATASKETCH:
        return [(a, b) for n, a in enumerate(live) for b in live[n + 1 :]]
    from datasketch import MinHash, MinHashLSHEnsemble

    hashes = {}
    for i in live:
        m = MinHash(num_perm=OLD_NUM_PERM, seed=1)
        m.update_batch([g.encode("utf-8") for g in sets[i]])
        hashes[i] = m
    ensemble = MinHashLSHEnsemble(
        threshold=digest_mod.CONTAINMENT, num_perm=OLD_NUM_PERM, num_part=16
    )
    ensemble.index([(str(i), hashes[i], len(sets[i])) for i in live])
    pairs = set()
    for i in live:
        for other in ensemble.query(hashes[i], len(sets[i])):
            j = int(other)
            if j != i:
                pairs.add((min(i, j), max(i, j)))
    return sorted(pairs)


def exact_groups(texts: Sequence[str]) -> list[list[int]]:
    """The definition: every pair checked exactly (slow; for checking only)."""
    sets = [digest_mod.shingles(t) if len(t) >= digest_mod.MIN_CHARS else set() for t in texts]
    parent = list(range(len(texts)))

    def root(i: int) -> int:
        while parent[i] != i:
            i = parent[i]
        return i

    live = [i for i, s in enumerate(sets) if s]
    for i, j in itertools.combinations(live, 2):
        if digest_mod.containment(sets[i], sets[j]) >= digest_mod.CONTAINMENT:
            a, b = root(i), root(j)
            parent[max(a, b)] = min(a, b)
    groups: dict[int, list[int]] = {}
    for i in range(len(texts)):
        groups.setdefault(root(i), []).append(i)
    return sorted(groups.values(), key=lambda g: g[0])


# ------------------------------------------------------------------------ inputs


def corpus_articles(corpus: Path, matcher: Matcher, wanted: int) -> list[tuple[str, Article]]:
    """The first ``wanted`` matched articles of the corpus, in date order."""
    out: list[tuple[str, Article]] = []
    for folder in FOLDERS:
        for path in sorted((corpus / folder).glob("*.md")):
            text = read_bytes(path, path.read_bytes())
            for a in split_page(text.text, markup=text.markup):
                if matcher.match(a):
                    out.append((path.name, a))
                    if len(out) >= wanted:
                        return out
    return out


def seed_articles(matcher: Matcher, wanted: int) -> list[tuple[str, Article]]:
    """Stories stitched from the seed pages' sentences, as many as match."""
    sentences = []
    for path in sorted((ROOT / "seeds").glob("*.txt")):
        for a in split_page(path.read_text(encoding="utf-8"), today=DAY):
            sentences += [s for s in a.body.split("。") if len(s) > 15]
    rnd = random.Random(3)
    out: list[tuple[str, Article]] = []
    n = 0
    while len(out) < wanted and n < wanted * 50:
        n += 1
        body = "。".join(rnd.sample(sentences, rnd.randint(3, 14))) + "。"
        a = Article(index=0, headline=body[:24], body=body, newspaper="湖南日报")
        if matcher.match(a):
            out.append((f"stitched-{n:05d}.txt", a))
    return out


def reprint(a: Article, kind: int) -> Article:
    if kind == 0:
        return dataclasses.replace(
            a, newspaper="株洲日报", page="A03", body=a.body[: len(a.body) // 2]
        )
    if kind == 1:
        return dataclasses.replace(
            a, newspaper="衡阳日报", headline="转载：" + a.headline, body=a.body.replace("，", ", ")
        )
    return dataclasses.replace(
        a, newspaper="三湘都市报", body=a.body + "\n记者了解到，相关工作正在推进。"
    )


def candidates(pool: list[tuple[str, Article]], n: int, matcher: Matcher) -> list[Candidate]:
    """``n`` matched articles: originals from the pool and one reprint in twenty."""
    originals = pool[: n - n // 20]
    rnd = random.Random(n)
    made = list(originals)
    for k in range(n // 20):
        name, a = rnd.choice(originals)
        made.append((f"reprint-{k}-{name}", reprint(a, k % 3)))
    out = []
    for i, (name, a) in enumerate(made):
        sha = hashlib.sha256(f"{name}/{i}".encode()).hexdigest()
        matches = tuple(matcher.match(a))
        if matches:
            out.append(Candidate(sha, name, a, T0 + dt.timedelta(seconds=i), matches))
    return out


def digest_of(cands: Sequence[Candidate], topics: Sequence[Topic]) -> Digest:
    return build_digest(
        day=DAY,
        timezone="Asia/Shanghai",
        produced_at=T0 + dt.timedelta(hours=9),
        since=None,
        topics=topics,
        candidates=cands,
        history={},
        stats=DigestStats(documents=len(cands), articles=len(cands), failures=()),
        max_per_topic=10,
    )


# ------------------------------------------------------------------------ timing


def best(fn: Callable[[], T], runs: int) -> tuple[float, T]:
    """The fastest of ``runs`` calls, and the result."""
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return min(times), result


def old_clean(text: str) -> str:
    """display.clean before its fast path: every character translated."""
    return text.translate(display._UNSAFE)


def old_article_pages(renderer: Renderer, d: Digest, items: Sequence[DigestItem]) -> list[str]:
    """Article pages the old way: the whole digest cleaned again for every page, every
    character of it translated."""
    pages = []
    real = display.clean
    display.clean = old_clean
    try:
        for item in items:
            renderer._cleaned = None  # no cleaned digest kept from the page before
            pages.append(renderer.article(d, item))
    finally:
        display.clean = real
    return pages


def old_email_bytes(renderer: Renderer, d: Digest) -> int:
    """The e-mail as it was made before: the whole stylesheet inlined into style=""."""
    ctx = renderer._context(d, email=True, here="x.html")
    html = renderer.env.get_template("email.html.j2").render(ctx)
    inliner = css_inline.CSSInliner(keep_at_rules=True, load_remote_stylesheets=False)
    return len(inliner.inline(html).encode("utf-8"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus")
    parser.add_argument("--sizes", default="100,1000,3000")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--page-sample", type=int, default=40)
    args = parser.parse_args()
    sizes = [int(x) for x in args.sizes.split(",")]

    topics = load_watchlists(ROOT / "config" / "watchlists")
    with tempfile.TemporaryDirectory() as tmpdir:
        matcher = Matcher(topics, Segmenter(Path(tmpdir) / "cache"))
        if all((args.corpus / f).is_dir() for f in FOLDERS):
            pool = corpus_articles(args.corpus, matcher, max(sizes))
            source = "新闻联播 corpus"
        else:
            pool = seed_articles(matcher, max(sizes))
            source = "seed sentences (corpus not found)"
        print(f"matched articles from the {source}; one reprint in twenty; min of {args.runs}")
        if not HAVE_DATASKETCH:
            print("datasketch not installed: the old grouping's baseline checks every pair")
        renderer = Renderer(base_url="https://reports.example.org/watcher")
        print(
            f"{'articles':>8} | {'what':<13} | {'now':>9} | {'baseline':>9} | {'ratio':>7} | notes"
        )
        for n in sizes:
            one_size(candidates(pool, n, matcher), topics, renderer, args.runs, args.page_sample)
    return 0


def one_size(
    cands: list[Candidate], topics: Sequence[Topic], renderer: Renderer, runs: int, sample: int
) -> None:
    """The rows of one window size."""
    n = len(cands)
    texts = [c.article.headline + "\n" + c.article.body for c in cands]
    new_s, new_g = best(partial(reprint_groups, texts), runs)
    old_s, old_g = best(partial(old_reprint_groups, texts), runs)
    same = "same groups as the old" if new_g == old_g else "GROUPS DIFFER from the old"
    if n <= 1000:
        same += ", as every pair" if new_g == exact_groups(texts) else ", NOT AS EVERY PAIR"
    joined = sum(len(g) - 1 for g in new_g)
    row(n, "grouping", new_s, old_s, f"{same}; {joined} reprints joined")

    build_s, d = best(partial(digest_of, cands, topics), runs)
    real = digest_mod.reprint_groups
    digest_mod.reprint_groups = old_reprint_groups
    try:
        old_build, _ = best(partial(digest_of, cands, topics), runs)
    finally:
        digest_mod.reprint_groups = real
    row(n, "build", build_s, old_build, f"{d.total} stories in {len(d.sections)} topics")

    pages_s, pages = best(partial(renderer.articles, d), runs)
    items = list({i.key: i for s in d.sections for i in s.items}.values())
    some = items[:sample]
    one, _ = best(partial(old_article_pages, renderer, d, some), 1)
    old_pages = one / len(some) * len(items)
    row(
        n,
        "article pages",
        pages_s,
        old_pages,
        f"{len(pages)} pages; old way on {len(some)}, scaled",
    )

    with tempfile.TemporaryDirectory() as out:
        write_s, written = best(partial(write_archive, d, renderer, Path(out), []), runs)
    note = f"write_archive: {len(written)} files, each fsynced; baseline with the old pages"
    row(n, "archive", write_s, old_pages + write_s - pages_s, note)

    html = renderer.email(d).html
    size, old_size = len(html.encode("utf-8")), old_email_bytes(renderer, d)
    listed = html.count('<td class="item"')
    print(
        f"{n:>8} | {'e-mail bytes':<13} | {size:>9,} | {old_size:>9,} | "
        f"{old_size / size:>6.2f}x | {listed} items listed"
    )


def row(n: int, what: str, now: float, base: float, note: str) -> None:
    print(f"{n:>8} | {what:<13} | {now:>8.3f}s | {base:>8.3f}s | {base / now:>6.1f}x | {note}")


if __name__ == "__main__":
    sys.exit(main())

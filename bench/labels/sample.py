"""Draw the items of the relevance benchmark from the 新闻联播 corpus (2022–2026).

    python bench/labels/sample.py [--corpus ../shared/corpus] > bench/labels/items.jsonl

Independent of watcher's own rules: items are cut at the corpus's ``### `` headings
and drawn by a seeded generator from two pools —

- ``random``: 224 items spread over the months of 2022–2026;
- ``broad:<topic>``: 60 items per bundled topic whose text contains any word of a
  deliberately wide vocabulary (much wider than the shipped watchlists), so the
  positives are not only the ones today's rules find.

Each line records where the item is (file, ordinal of its heading), its title and the
sha1 of its text, never the text itself: the corpus is not copied into the project.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FOLDER = "xwlb_cctv_news"
SEED = 20261201
RANDOM_ITEMS = 240
BROAD_ITEMS = 60

# Wide nets: any of these words puts an item in a topic's pool. Most pool items are
# not about the topic; the labels say which are.
BROAD = {
    "safety": (
        "安全生产 安全检查 隐患 事故 应急管理 矿山 煤矿 危化 "
        "危险化学品 消防 安委 督查 执法检查 燃气 安全监管 "
        "专项整治"
    ),
    "urban-renewal": (
        "城市更新 老旧小区 城中村 棚户区 棚改 旧改 街区 片区 "
        "更新改造 危旧房 老城 旧城 城市体检 完整社区 改造提升 "
        "加装电梯"
    ),
    "flood": ("防汛 汛 洪 暴雨 降雨 水位 堤 内涝 台风 水库 抢险 泄洪 山洪 救灾 排涝 水利"),
    "rural": ("乡村 农村 脱贫 扶贫 贫困 驻村 三农 农民 村集体 农田 农业 帮扶 返贫 村民 种粮"),
    "investment": (
        "招商 签约 投资 项目 融资 开工 合作协议 亿元 外资 产业园 落地 重大工程 集中开工 产业链"
    ),
}

TOPUP = {
    "safety": (
        (
            "安全生产 安委会 安委办 应急管理部 隐患排查 重大事故隐患 "
            "矿山安全 危化品 燃气安全 消防安全 事故调查 安全检查 "
            "安全防范 督办"
        ),
        90,
    ),
    "urban-renewal": (
        (
            "城市更新 老旧小区 城中村 棚户区 历史文化街区 危旧房 "
            "完整社区 城市体检 加装电梯 老旧管网 保障性住房 旧城改造 "
            "更新改造"
        ),
        90,
    ),
    "flood": (
        ("防汛 汛期 暴雨 洪水 洪涝 强降雨 山洪 堤防 险情 抗洪 内涝 防洪"),
        40,
    ),
}


def items(path: Path) -> list[tuple[int, str, str]]:
    """(ordinal, title, text) for every ``### `` item of one day's file."""
    out: list[tuple[int, str, str]] = []
    title: str | None = None
    lines: list[str] = []
    n = 0
    for line in [*path.read_text(encoding="utf-8").splitlines(), "### "]:
        if line.startswith("### "):
            if title is not None and "".join(lines).strip():
                out.append((n, title, "\n".join(lines).strip()))
            n += 1 if title is not None else 0
            title = line[4:].strip()
            lines = []
        elif title is not None:
            lines.append(line)
    return out


def sha1(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def draw(
    folder: Path,
    seed: int,
    *,
    random_items: int,
    broad_items: int,
    topup: dict[str, int],
    taken: frozenset[tuple[str, int]] = frozenset(),
    label: str = "",
) -> list[dict[str, object]]:
    """The records of one seeded draw: ``random_items`` spread over the months, then
    ``broad_items`` per topic from its wide net (``BROAD``), then ``topup[topic]`` more
    from its narrower one (``TOPUP``); never an item of ``taken`` (file, ordinal)."""
    rnd = random.Random(seed)
    by_month: dict[str, list[tuple[str, int, str, str]]] = defaultdict(list)
    every: list[tuple[str, int, str, str]] = []
    for path in sorted(folder.glob("2*.md")):
        for n, title, text in items(path):
            key = (f"{FOLDER}/{path.name}", n)
            if title.startswith("TITLE NOTFOUND") or key in taken:
                continue
            row = (key[0], n, title, text)
            by_month[path.name[:6]].append(row)
            every.append(row)
    chosen: dict[tuple[str, int], str] = {}
    months = sorted(by_month)
    per_month = max(1, random_items // len(months))
    for month in months:
        for row in rnd.sample(by_month[month], min(per_month, len(by_month[month]))):
            chosen.setdefault((row[0], row[1]), f"{label}random")
    nets = [(f"broad:{t}", words, broad_items) for t, words in BROAD.items()]
    nets += [(f"topup:{t}", TOPUP[t][0], n) for t, n in topup.items()]
    for pool_name, words, count in nets:
        vocab = words.split()
        pool = [
            r for r in every if (r[0], r[1]) not in chosen and any(w in r[2] + r[3] for w in vocab)
        ]
        for row in rnd.sample(pool, min(count, len(pool))):
            chosen[(row[0], row[1])] = label + pool_name
    rows = {(r[0], r[1]): r for r in every}
    out: list[dict[str, object]] = []
    for key in sorted(chosen):
        file, n, title, text = rows[key]
        out.append(
            {
                "id": f"{file.split('/')[1][:8]}-{n:02d}",
                "file": file,
                "item": n,
                "title": title,
                "sha1": sha1(text),
                "pool": chosen[key],
            }
        )
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus")
    args = ap.parse_args(argv)
    folder = args.corpus / FOLDER
    if not folder.is_dir():
        print(f"corpus not found: {folder}", file=sys.stderr)
        return 1
    # The second, narrower nets are for the topics the first draw left with few
    # positives (work safety and urban renewal are rare in a national programme).
    topup = {topic: n for topic, (_, n) in TOPUP.items()}
    for rec in draw(folder, SEED, random_items=RANDOM_ITEMS, broad_items=BROAD_ITEMS, topup=topup):
        print(json.dumps(rec, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())

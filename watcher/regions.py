"""Places inside places: Hunan's prefectures with their counties and districts.

A topic's ``regions: [湘潭]`` should also catch an article that only names
``湘乡`` or ``雨湖区``. The watchlists reject a name this table does not know
(:func:`is_known`): a misspelt place would match nothing, silently.
"""

from __future__ import annotations

import difflib

from watcher.segment import fold

# Prefecture-level divisions of Hunan and their county-level divisions (2024).
HUNAN: dict[str, tuple[str, ...]] = {
    "长沙": ("芙蓉区", "天心区", "岳麓区", "开福区", "雨花区", "望城区", "长沙县", "浏阳市",
             "宁乡市"),
    "株洲": ("荷塘区", "芦淞区", "石峰区", "天元区", "渌口区", "淥口区", "攸县", "茶陵县",
             "炎陵县", "醴陵市"),
    "湘潭": ("雨湖区", "岳塘区", "湘潭县", "湘乡市", "韶山市"),
    "衡阳": ("珠晖区", "雁峰区", "石鼓区", "蒸湘区", "南岳区", "衡阳县", "衡南县", "衡山县",
             "衡东县", "祁东县", "耒阳市", "常宁市"),
    "邵阳": ("双清区", "大祥区", "北塔区", "新邵县", "邵阳县", "隆回县", "洞口县", "绥宁县",
             "新宁县", "城步苗族自治县", "武冈市", "邵东市"),
    "岳阳": ("岳阳楼区", "云溪区", "君山区", "岳阳县", "华容县", "湘阴县", "平江县", "汨罗市",
             "临湘市"),
    "常德": ("武陵区", "鼎城区", "安乡县", "汉寿县", "澧县", "临澧县", "桃源县", "石门县",
             "津市市"),
    "张家界": ("永定区", "武陵源区", "慈利县", "桑植县"),
    "益阳": ("资阳区", "赫山区", "南县", "桃江县", "安化县", "沅江市"),
    "郴州": ("北湖区", "苏仙区", "桂阳县", "宜章县", "永兴县", "嘉禾县", "临武县", "汝城县",
             "桂东县", "安仁县", "资兴市"),
    "永州": ("零陵区", "冷水滩区", "东安县", "双牌县", "道县", "江永县", "宁远县", "蓝山县",
             "新田县", "江华瑶族自治县", "祁阳市"),
    "怀化": ("鹤城区", "中方县", "沅陵县", "辰溪县", "溆浦县", "会同县", "麻阳苗族自治县",
             "新晃侗族自治县", "芷江侗族自治县", "靖州苗族侗族自治县", "通道侗族自治县",
             "洪江市"),
    "娄底": ("娄星区", "双峰县", "新化县", "冷水江市", "涟源市"),
    "湘西": ("吉首市", "泸溪县", "凤凰县", "花垣县", "保靖县", "古丈县", "永顺县", "龙山县"),
}  # fmt: skip

ALIASES = {"湘西州": "湘西", "湘西土家族苗族自治州": "湘西", "湖南": "湖南省"}


def _short(name: str) -> str | None:
    """The everyday form of a county or county-level city: 浏阳市 → 浏阳, 茶陵县 → 茶陵.

    Districts keep their suffix: 天元, 荷塘 alone are ordinary words.
    """
    for suffix in ("苗族侗族自治县", "苗族自治县", "侗族自治县", "瑶族自治县", "市", "县"):
        if name.endswith(suffix) and len(name) - len(suffix) >= 2:
            return name[: -len(suffix)]
    return None


def _places() -> frozenset[str]:
    """Every spelling :func:`is_known` accepts (the table's are simplified already)."""
    names = {"湖南省", *ALIASES}
    for prefecture, counties in HUNAN.items():
        names.add(prefecture)
        if prefecture != "湘西":  # an autonomous prefecture: 湘西州, an alias
            names.add(prefecture + "市")
        for county in counties:
            names.add(county)
            short = _short(county)
            if short:
                names.add(short)
    return frozenset(names)


def is_known(name: str) -> bool:
    """Whether ``name`` (traditional characters too) is a place of the table."""
    return fold(name) in PLACES


def suggest(name: str) -> str | None:
    """The known place most like ``name``, or None when none is close or several are.

    Two-character names one character off are as close to several places
    (湘谭: 湘潭, 湘西, 湘乡 …); guessing one of them would mislead.
    """
    folded = fold(name)
    scored = sorted(
        ((difflib.SequenceMatcher(None, folded, place).ratio(), place) for place in PLACES),
        reverse=True,
    )
    best, place = scored[0]
    if best < 0.5 or (len(scored) > 1 and scored[1][0] == best):
        return None
    return place


def expand(names: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """The places a region list covers: each name, its 市/州 forms and what lies inside."""
    out: list[str] = []
    for raw in names:
        # Folded first, so 長沙 covers the counties of 长沙 as 长沙 does.
        folded = fold(raw)
        name = ALIASES.get(folded, folded)
        stem = name.removesuffix("市").removesuffix("州") if name not in HUNAN else name
        candidates = [raw, name]
        if stem in HUNAN:
            candidates += [stem, stem + "市", stem + "州"]
            for place in HUNAN[stem]:
                candidates.append(place)
                short = _short(place)
                if short:
                    candidates.append(short)
        elif name == "湖南省":
            candidates += ["湖南", *HUNAN]
        for c in candidates:
            if c not in out:
                out.append(c)
    return tuple(out)


PLACES = _places()

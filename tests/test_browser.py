"""The web page and the HTML e-mail in a real headless Chromium.

Skipped when no Chromium binary is found (Debian: ``apt-get install chromium``;
``WATCHER_CHROMIUM`` names another binary). Each check runs the browser as a
subprocess with a timeout: ``--dump-dom`` of a test harness that loads the
document in ``<iframe srcdoc>`` (same origin, so the harness may measure it)
at 375 and 1280 CSS pixels and writes ``scrollWidth`` into its own DOM. The
digest itself contains no script. ``WATCHER_UPDATE_GOLDEN=1`` also refreshes
``docs/screenshot-375.png`` and ``docs/screenshot-1280.png``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import html
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.test_render import BASE_URL, full_digest, seed_digest
from watcher.archive import TopicDay
from watcher.models import Digest
from watcher.render import Renderer

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
UPDATE = os.environ.get("WATCHER_UPDATE_GOLDEN") == "1"
TIMEOUT = 90  # seconds for one browser run; a cold start on a slow CI box takes a few


def find_chromium() -> str | None:
    named = os.environ.get("WATCHER_CHROMIUM")
    if named:
        return shutil.which(named) or (named if Path(named).is_file() else None)
    for name in ("/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


CHROMIUM = find_chromium()
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="no Chromium binary (tried /usr/bin/chromium, chromium, chromium-browser, "
    "google-chrome; apt-get install chromium, or set WATCHER_CHROMIUM)",
)

WIDTHS = (375, 1280)

# Measures each iframe's document after load: its scroll width against its
# viewport, and the first elements sticking out (for a useful failure message).
HARNESS = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><style>body{{margin:0}} iframe{{border:0;display:block}}</style></head>
<body>
{frames}
<pre id="out">pending</pre>
<script>
window.addEventListener("load", function () {{
  var results = [];
  document.querySelectorAll("iframe").forEach(function (f) {{
    var doc = f.contentDocument, root = doc.documentElement;
    var view = root.clientWidth, wide = [];
    doc.querySelectorAll("body *").forEach(function (el) {{
      var r = el.getBoundingClientRect();
      if ((r.right > view + 0.5 || el.scrollWidth > el.clientWidth + 1) && wide.length < 5) {{
        wide.push(el.tagName.toLowerCase() + "." + el.className + " right=" + Math.round(r.right));
      }}
    }});
    results.push({{
      width: +f.getAttribute("width"),
      view: view,
      scroll: Math.max(root.scrollWidth, doc.body.scrollWidth),
      text: doc.body.innerText.length,
      wide: wide
    }});
  }});
  document.getElementById("out").textContent = JSON.stringify(results);
}});
</script>
</body></html>
"""


def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    cmd = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        "--hide-scrollbars",
        "--run-all-compositor-stages-before-draw",
        "--virtual-time-budget=5000",
        f"--user-data-dir={tmp_path / 'profile'}",
        *args,
    ]
    try:
        return subprocess.run(
            cmd,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=TIMEOUT,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"chromium did not finish within {TIMEOUT}s: {' '.join(cmd)}")


def measure(tmp_path: Path, document: str) -> list[dict]:
    """Load ``document`` at each width in WIDTHS; return the harness's measurements."""
    frames = "\n".join(
        f'<iframe width="{w}" height="3000" srcdoc="{html.escape(document, quote=True)}"></iframe>'
        for w in WIDTHS
    )
    harness = tmp_path / "harness.html"
    harness.write_text(HARNESS.format(frames=frames), encoding="utf-8")
    run = chromium(tmp_path, "--window-size=1400,2000", "--dump-dom", harness.as_uri())
    m = re.search(r'<pre id="out">(.*?)</pre>', run.stdout, re.DOTALL)
    assert m, f"harness produced no DOM (exit {run.returncode}):\n{run.stderr[-2000:]}"
    assert m.group(1) != "pending", "the harness script did not run"
    return json.loads(html.unescape(m.group(1)))


def assert_no_overflow(results: list[dict], what: str) -> None:
    assert [r["width"] for r in results] == list(WIDTHS)
    for r in results:
        assert r["text"] > 200, f"{what} at {r['width']}px rendered almost nothing: {r}"
        assert r["scroll"] <= r["view"], (
            f"{what} overflows horizontally at {r['width']}px: scrollWidth {r['scroll']} > "
            f"{r['view']}; widest elements: {r['wide']}"
        )


def stress_digest() -> Digest:
    """The seed digest plus long unbroken Latin strings and URLs everywhere they can be."""
    base = seed_digest()
    url = "https://www.example.org/news/2026/11/21/" + "very-long-path-segment-" * 12 + "end.html"
    word = "Supercalifragilistic" * 8
    item = dataclasses.replace(
        base.sections[0].items[0],
        key="0123456789abcdef-9",
        headline=f"{word} {url}",
        kicker=url,
        byline=word,
        snippet=f"安全生产{url}{word}",
        marks=((0, 4),),
        also_in=(url,),
        other_topics=(word,),
        why=word,
        terms=((word, 3),),
    )
    first = dataclasses.replace(base.sections[0], items=(*base.sections[0].items, item))
    return dataclasses.replace(
        base,
        sections=(first, *base.sections[1:]),
        notices=(*base.notices, url),
        stats=dataclasses.replace(base.stats, failures=((url, word), *base.stats.failures)),
    )


@pytest.mark.parametrize("kind", ["page", "email"])
def test_no_horizontal_overflow(tmp_path: Path, kind: str) -> None:
    renderer = Renderer(base_url=BASE_URL)
    for name, digest in (("seed", seed_digest()), ("stress", stress_digest())):
        document = renderer.page(digest) if kind == "page" else renderer.email(digest).html
        assert "<script" not in document
        assert_no_overflow(measure(tmp_path, document), f"{kind} ({name} digest)")


def fifty_items() -> Digest:
    """Five topics of ten listed items each (the seed stories), as a busy day; the
    first item is the stress digest's, with its long unbroken strings."""
    base = seed_digest()
    kinds = [i for sec in base.sections for i in sec.items]
    stress = stress_digest().sections[0].items[-1]
    sections = tuple(
        dataclasses.replace(
            sec,
            items=tuple(
                stress
                if n == k == 0
                else dataclasses.replace(kinds[(n + k) % len(kinds)], key=f"{100 * n + k:016x}-{k}")
                for k in range(12)
            ),
            count=12,
            more=2,
        )
        for n, sec in enumerate(base.sections)
    )
    return dataclasses.replace(base, sections=sections)


def without_style_block(document: str) -> str:
    """The e-mail as a client that drops <style> shows it: inline styles only."""
    stripped, n = re.subn(r"<style>.*?</style>", "", document, flags=re.DOTALL)
    assert n == 1
    return stripped


@pytest.mark.parametrize("style", ["kept", "dropped"])
def test_the_email_fits_with_or_without_its_style_block(tmp_path: Path, style: str) -> None:
    renderer = Renderer(base_url=BASE_URL)
    for name, digest in (("fifty items", fifty_items()), ("full", full_digest())):
        document = renderer.email(digest).html
        assert len(document.encode("utf-8")) < 100_000, name
        if style == "dropped":
            document = without_style_block(document)
        assert_no_overflow(measure(tmp_path, document), f"e-mail ({name}, <style> {style})")


def test_topic_pages_fit(tmp_path: Path) -> None:
    renderer = Renderer()
    digest = full_digest()
    day = renderer.topic_day(digest, "urban-renewal")
    assert_no_overflow(measure(tmp_path, day), "topic page of a day")
    days = [TopicDay(digest.day, 3, True), TopicDay(dt.date(2026, 11, 19), 15, False)]
    history = renderer.topic("urban-renewal", "城市更新" * 12, "城市更新项目" * 20, days)
    results = measure(tmp_path, history)
    assert all(r["scroll"] <= r["view"] for r in results), results


def test_article_and_index_fit(tmp_path: Path) -> None:
    renderer = Renderer()
    digest = stress_digest()
    article = renderer.article(digest, digest.sections[0].items[-1])
    assert_no_overflow(measure(tmp_path, article), "article page")
    index = renderer.index([(digest.day, {s.name: s.count for s in digest.sections})])
    results = measure(tmp_path, index)
    assert all(r["scroll"] <= r["view"] for r in results), results


def test_page_loads_cleanly_and_screenshots(tmp_path: Path) -> None:
    """No console message at all (the digest has no script), and the screenshots."""
    renderer = Renderer(base_url=BASE_URL)
    page = tmp_path / "2026-11-21.html"
    page.write_text(renderer.page(seed_digest()), encoding="utf-8")
    email = tmp_path / "email.html"
    email.write_text(renderer.email(seed_digest()).html, encoding="utf-8")
    for doc in (page, email):
        run = chromium(tmp_path, "--enable-logging=stderr", "--v=0", "--dump-dom", doc.as_uri())
        assert "毛伟明在湘潭暗访检查安全生产工作" in run.stdout, run.stderr[-2000:]
        console = [
            line for line in run.stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line
        ]
        assert console == [], console

    for width, height in ((375, 1400), (1280, 1100)):
        shot = tmp_path / f"screenshot-{width}.png"
        run = chromium(
            tmp_path, f"--window-size={width},{height}", f"--screenshot={shot}", page.as_uri()
        )
        assert shot.is_file(), run.stderr[-2000:]
        data = shot.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        png_width = int.from_bytes(data[16:20], "big")
        assert png_width == width
        if UPDATE:
            DOCS.mkdir(exist_ok=True)
            shutil.copyfile(shot, DOCS / shot.name)

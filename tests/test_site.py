"""watcher init: the starter site loads, holds the bundled topics and overwrites nothing;
the wheel carries it (built, installed in a fresh virtualenv and run outside the checkout)."""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from tests.conftest import ROOT
from watcher import matcher, site
from watcher.config import load_config
from watcher.errors import WatcherError
from watcher.site import init_site, next_steps
from watcher.watchlists import load_watchlists

BUNDLED = ROOT / "config" / "watchlists"
BUNDLED_NAMES = sorted(p.name for p in BUNDLED.glob("*.yaml"))
STARTER_FILES = ["watcher.yaml", *(f"watchlists/{name}" for name in BUNDLED_NAMES)]


def test_init_writes_a_site_that_loads(tmp_path: Path) -> None:
    folder = tmp_path / "site"
    made = init_site(folder)
    assert made == [
        folder,
        folder / "watcher.yaml",
        folder / "watchlists",
        *(folder / "watchlists" / name for name in BUNDLED_NAMES),
        folder / "inbox",
        folder / "var",
    ]
    config = load_config(folder / "watcher.yaml")  # paths checked: inbox/ and watchlists/ exist
    assert config.inbox == folder / "inbox"
    assert config.state == folder / "var" / "watcher.db"
    assert config.watchlists == folder / "watchlists"
    assert config.digest.out_dir == folder / "var" / "reports"
    assert config.inbox.is_dir() and config.state.parent.is_dir()
    topics = load_watchlists(config.watchlists)
    assert len(topics) == 5
    assert [t.id for t in topics] == [t.id for t in load_watchlists(BUNDLED)]
    for name in BUNDLED_NAMES:
        assert (folder / "watchlists" / name).read_bytes() == (BUNDLED / name).read_bytes()


def test_the_starter_config_shows_the_defaults_with_site_paths(tmp_path: Path) -> None:
    """Its values are the built-in defaults (so its comments cannot drift), paths aside."""
    init_site(tmp_path)
    starter = load_config(tmp_path / "watcher.yaml")
    (tmp_path / "empty.yaml").write_text("", encoding="utf-8")
    defaults = load_config(tmp_path / "empty.yaml", check_paths=False)
    assert starter == dataclasses.replace(
        defaults,
        path=starter.path,
        inbox=tmp_path / "inbox",
        state=tmp_path / "var" / "watcher.db",
        watchlists=tmp_path / "watchlists",
        digest=dataclasses.replace(defaults.digest, out_dir=tmp_path / "var" / "reports"),
    )
    text = (tmp_path / "watcher.yaml").read_text(encoding="utf-8")
    assert text.startswith("# watcher configuration, written by `watcher init`.")
    assert "# password_env: WATCHER_SMTP_PASSWORD" in text


def test_a_site_moves_as_a_whole(tmp_path: Path) -> None:
    init_site(tmp_path / "a")
    shutil.move(tmp_path / "a", tmp_path / "b")
    config = load_config(tmp_path / "b" / "watcher.yaml")
    assert config.inbox == tmp_path / "b" / "inbox"
    assert len(load_watchlists(config.watchlists)) == 5


def test_init_refuses_to_overwrite_and_names_the_files(tmp_path: Path) -> None:
    init_site(tmp_path)
    with pytest.raises(WatcherError) as caught:
        init_site(tmp_path)
    assert str(caught.value) == (
        f"6 files of the starter site already exist in {tmp_path}: {', '.join(STARTER_FILES)}; "
        "watcher init does not overwrite them. Move them away, choose another folder, or "
        "pass --force to replace them (other files are left alone)."
    )


def test_one_existing_file_is_named_and_nothing_is_written(tmp_path: Path) -> None:
    mine = tmp_path / "watcher.yaml"
    mine.write_text("inbox: pages\n", encoding="utf-8")
    with pytest.raises(WatcherError) as caught:
        init_site(tmp_path)
    assert str(caught.value) == (
        f"{mine} already exists; watcher init does not overwrite it. Move it away, choose "
        "another folder, or pass --force to replace it."
    )
    assert mine.read_text(encoding="utf-8") == "inbox: pages\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["watcher.yaml"]


def test_force_replaces_the_starter_files_only(tmp_path: Path) -> None:
    init_site(tmp_path)
    (tmp_path / "watcher.yaml").write_text("inbox: pages\n", encoding="utf-8")
    (tmp_path / "watchlists" / "01-safety.yaml").write_text("id: edited\n", encoding="utf-8")
    (tmp_path / "watchlists" / "99-mine.yaml").write_text("id: mine\n", encoding="utf-8")
    (tmp_path / "inbox" / "page.txt").write_text("湖南日报\n", encoding="utf-8")
    made = init_site(tmp_path, force=True)
    assert made == [tmp_path / f for f in STARTER_FILES]
    assert (tmp_path / "watcher.yaml").read_bytes() == site.STARTER_CONFIG.read_bytes()
    assert (tmp_path / "watchlists" / "01-safety.yaml").read_bytes() == (
        BUNDLED / "01-safety.yaml"
    ).read_bytes()
    assert (tmp_path / "watchlists" / "99-mine.yaml").read_text(encoding="utf-8") == "id: mine\n"
    assert (tmp_path / "inbox" / "page.txt").exists()


def test_force_replaces_a_symbolic_link_instead_of_writing_through_it(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere.yaml"
    elsewhere.write_text("keep me\n", encoding="utf-8")
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "watcher.yaml").symlink_to(elsewhere)
    init_site(tmp_path / "site", force=True)
    assert elsewhere.read_text(encoding="utf-8") == "keep me\n"
    assert not (tmp_path / "site" / "watcher.yaml").is_symlink()


def test_a_file_in_place_of_the_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "site").write_text("", encoding="utf-8")
    with pytest.raises(WatcherError, match=r"site is a file; watcher init needs a folder$"):
        init_site(tmp_path / "site")


def test_next_steps_name_the_sites_paths(tmp_path: Path) -> None:
    init_site(tmp_path)
    text = next_steps(tmp_path)
    lines = text.splitlines()
    assert lines[0] == f"Wrote a watcher site to {tmp_path}:"
    assert f"       export WATCHER_CONFIG={tmp_path / 'watcher.yaml'}" in lines
    assert "       watcher check" in lines
    assert (
        f"  3. Copy newspaper pages into {tmp_path / 'inbox'}, then make today's digest:" in lines
    )
    assert f"     The reports are written to {tmp_path / 'var' / 'reports'}." in lines


def test_an_editable_install_reads_the_checkouts_watchlists(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The checkout has no watcher/data/watchlists/: only a built wheel has."""
    monkeypatch.setattr(site, "INSTALLED_WATCHLISTS", tmp_path / "absent")
    assert site.bundled_watchlists() == BUNDLED
    monkeypatch.setattr(site, "CHECKOUT_WATCHLISTS", tmp_path / "absent-too")
    with pytest.raises(WatcherError, match=r"the bundled watchlists are missing: neither .*absent"):
        site.bundled_watchlists()


# --------------------------------------------------------------- the wheel round trip

# pip's words when it cannot reach an index for the build's setuptools.
_OFFLINE = re.compile(
    r"No matching distribution|Could not find a version|NewConnectionError|"
    r"Temporary failure in name resolution|Network is unreachable|ProxyError",
)
_LEFT_OUT = {".venv", ".git", "var", "build", "dist", "__pycache__"}


def build_wheel(out: Path) -> Path:
    """Build the wheel from a copy of the working tree, as `pip wheel .` would.

    A copy, so that the build's build/ and egg-info never land in the shared
    checkout. Skips when pip cannot get the build's requirements (no network, nothing cached).
    """
    source = out / "source"
    shutil.copytree(
        ROOT,
        source,
        ignore=lambda _d, names: [
            n for n in names if n in _LEFT_OUT or n.endswith(("_cache", ".egg-info"))
        ],
    )
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(source)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if done.returncode != 0:
        if _OFFLINE.search(done.stdout + done.stderr):
            pytest.skip(
                "cannot build the wheel: pip could not get the build's requirements "
                "(setuptools and mypy, for mypyc: no network and none in pip's cache)"
            )
        raise AssertionError(f"pip wheel failed:\n{done.stdout}\n{done.stderr}")
    (wheel,) = out.glob("watcher-*.whl")
    return wheel


def fresh_venv(folder: Path, python: str | None = None, *, with_pip: bool = False) -> Path:
    """A new virtualenv whose dependencies come from this test run's environment.

    Installing the runtime dependencies (numpy and scipy among them) would take
    minutes and the network; a .pth line puts this environment's site-packages
    after the venv's own, so the venv's watcher is the wheel's and the rest is shared.
    The .pth files of that folder (the checkout's editable install) are not run.
    """
    base = python or sys._base_executable  # type: ignore[attr-defined]
    pip = [] if with_pip else ["--without-pip"]
    subprocess.run([base, "-m", "venv", *pip, str(folder)], check=True, timeout=120)
    (purelib,) = folder.glob("lib/python3*/site-packages")
    (purelib / "_watcher_test_deps.pth").write_text(
        sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8"
    )
    return folder


@pytest.mark.slow
def test_the_wheel_carries_the_starter_site(tmp_path: Path, built_wheel: Path) -> None:
    names = set(zipfile.ZipFile(built_wheel).namelist())
    for name in BUNDLED_NAMES:
        assert f"watcher/data/watchlists/{name}" in names
    assert "watcher/data/watcher.yaml" in names
    # Every file of the package is in the wheel (a sub-package missing from
    # pyproject.toml's explicit list would be left out).
    package = ROOT / "watcher"
    for path in package.rglob("*"):
        # (the compiled matcher's copy and builds: made by each build, checked below)
        native = path.name.startswith("_native_matcher")
        if path.is_file() and "__pycache__" not in path.parts and not native:
            name = f"watcher/{path.relative_to(package).as_posix()}"
            assert name in names, (
                f"{name} is not in the wheel: add its package to [tool.setuptools] packages, "
                "or its files to package-data, in pyproject.toml"
            )

    if matcher.COMPILED:  # this checkout's build compiled the matcher: so did the wheel's
        assert any(n.startswith("watcher/_native_matcher.") and n.endswith(".so") for n in names)
    venv = fresh_venv(tmp_path / "venv")
    python = str(venv / "bin" / "python")
    # Nothing of this run's Python path may make pip or the venv see another watcher.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "WATCHER_"))}
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            python,
            "install",
            "-q",
            "--no-deps",
            str(built_wheel),
        ],
        check=True,
        env=env,
        timeout=120,
    )
    elsewhere = tmp_path / "elsewhere"  # outside the checkout, and the working folder
    elsewhere.mkdir()
    script = (
        "import sys, watcher; from pathlib import Path; "
        "from watcher.site import init_site, next_steps, bundled_watchlists; "
        "from watcher import matcher; "
        "print(watcher.__file__); print(bundled_watchlists()); print(matcher.COMPILED); "
        "init_site(Path('site')); print(next_steps(Path('site')))"
    )
    done = subprocess.run(
        [python, "-c", script],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    module, watchlists, compiled = done.stdout.splitlines()[:3]
    assert compiled == str(matcher.COMPILED)  # the wheel's matcher.py is its build's
    assert Path(module).is_relative_to(venv)
    assert Path(watchlists).is_relative_to(venv)
    folder = elsewhere / "site"
    assert sorted(p.name for p in (folder / "watchlists").iterdir()) == BUNDLED_NAMES
    assert len(load_watchlists(load_config(folder / "watcher.yaml").watchlists)) == 5
    # The installed command reads the new site: config, topics and templates from the wheel.
    checked = subprocess.run(
        [str(venv / "bin" / "watcher"), "--config", str(folder / "watcher.yaml"), "check"],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert checked.returncode == 0, checked.stderr
    assert "  topics:     5: safety" in checked.stdout

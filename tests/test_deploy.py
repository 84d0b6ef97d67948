"""deploy/: the systemd unit verifies and is hardened, its numbers agree with the config,
and deploy/install.sh lays out a server in a scratch root that the service user can run.

systemd is not PID 1 where the tests run, so the unit is checked offline
(`systemd-analyze verify --root`, `systemd-analyze security --offline=yes`), and
the install runs with DESTDIR: the user and owners land in the scratch root.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT, seed_files
from tests.test_site import BUNDLED_NAMES, fresh_venv
from watcher.config import EmailConfig, ScanConfig, WebhookConfig, load_config
from watcher.site import STARTER_CONFIG
from watcher.watchlists import load_watchlists

DEPLOY = ROOT / "deploy"
UNIT = DEPLOY / "watcher.service"
ANALYZE = shutil.which("systemd-analyze") or "/usr/bin/systemd-analyze"
# Where a Debian system keeps its own units (verify needs the targets they define).
SYSTEM_UNITS = next(
    (p for p in (Path("/usr/lib/systemd/system"), Path("/lib/systemd/system")) if p.is_dir()),
    None,
)


def unit_settings(path: Path) -> dict[str, list[str]]:
    """``Section.Key`` → its values, in order (a key may be given several times)."""
    out: dict[str, list[str]] = {}
    section = ""
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        out.setdefault(f"{section}.{key.strip()}", []).append(value.strip())
    return out


def one(settings: dict[str, list[str]], key: str) -> str:
    (value,) = settings[key]
    return value


def need_analyze() -> None:
    if not os.access(ANALYZE, os.X_OK):
        pytest.skip(f"systemd-analyze is not installed ({ANALYZE})")


def scratch_unit_root(folder: Path, unit_text: str) -> Path:
    """A root holding the unit and the system's targets and slices it is ordered against.

    Copies of the regular files only: systemd chases symbolic links inside --root,
    so a link to the host's folder, or the host's own links, would loop.
    """
    if SYSTEM_UNITS is None:
        pytest.skip("no /usr/lib/systemd/system here: systemd's own units are missing")
    (folder / "etc" / "systemd" / "system").mkdir(parents=True, exist_ok=True)
    (folder / "etc" / "systemd" / "system" / "watcher.service").write_text(unit_text)
    units = folder / "usr" / "lib" / "systemd" / "system"
    units.mkdir(parents=True, exist_ok=True)
    for path in SYSTEM_UNITS.iterdir():
        if path.suffix in (".target", ".slice") and not path.is_symlink() and path.is_file():
            shutil.copy(path, units / path.name)
    return folder


def verify(root: Path, unit: str = "watcher.service") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [ANALYZE, "verify", "--man=no", f"--root={root}", unit],
        capture_output=True,
        text=True,
        timeout=60,
    )


# ------------------------------------------------------------------- the unit file


def test_the_unit_verifies(tmp_path: Path) -> None:
    need_analyze()
    settings = unit_settings(UNIT)
    binary = Path(one(settings, "Service.ExecStart").split()[0])
    root = scratch_unit_root(tmp_path, UNIT.read_text(encoding="utf-8"))
    # Is verify usable here at all? A unit that cannot be wrong says.
    (root / "etc" / "systemd" / "system" / "probe.service").write_text(
        "[Service]\nExecStart=/bin/true\n", encoding="utf-8"
    )
    (root / "bin").mkdir()
    shutil.copy("/bin/true", root / "bin" / "true")
    probe = verify(root, "probe.service")
    if probe.returncode != 0:
        pytest.skip(f"systemd-analyze verify cannot run offline here: {probe.stderr.strip()}")
    missing = verify(root)
    assert missing.returncode != 0
    assert f"Command {binary} is not executable" in missing.stderr
    (root / binary.relative_to("/")).parent.mkdir(parents=True)
    (root / binary.relative_to("/")).write_text("#!/bin/sh\n", encoding="utf-8")
    (root / binary.relative_to("/")).chmod(0o755)
    done = verify(root)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""


def test_the_unit_is_hardened() -> None:
    need_analyze()
    done = subprocess.run(
        [ANALYZE, "security", "--offline=yes", "--no-pager", str(UNIT)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if "--offline" in done.stderr and done.returncode != 0:
        pytest.skip(f"this systemd-analyze cannot rate a unit file offline: {done.stderr}")
    assert done.returncode == 0, done.stderr
    found = re.search(r"Overall exposure level for watcher\.service: (\d+\.\d+) (\w+)", done.stdout)
    assert found, done.stdout
    assert float(found[1]) <= 3.0, done.stdout
    assert found[2] == "OK"


def test_the_units_numbers_agree_with_the_config() -> None:
    settings = unit_settings(UNIT)
    assert one(settings, "Service.UMask") == "0027"
    assert one(settings, "Service.User") == "watcher"
    # Stopping: the reader child is stopped at once, so read_timeout does not count;
    # the delivery attempt in flight does, bounded by its timeout, plus time to commit.
    stop = float(one(settings, "Service.TimeoutStopSec"))
    email = EmailConfig().timeout
    webhook = next(f.default for f in dataclasses.fields(WebhookConfig) if f.name == "timeout")
    assert isinstance(webhook, float)
    assert stop >= max(email, webhook) + 10
    assert stop < ScanConfig().read_timeout
    assert one(settings, "Service.KillMode") == "mixed"
    # The paths: the site `watcher init` writes, its var/ the one folder written.
    site = Path(one(settings, "Service.WorkingDirectory"))
    command = one(settings, "Service.ExecStart").split()
    assert command[command.index("--config") + 1] == str(site / "watcher.yaml")
    assert command[-1] == "run"
    starter = load_config(STARTER_CONFIG, check_paths=False)
    here = starter.path.parent
    written = {site / p.relative_to(here) for p in (starter.state.parent, starter.digest.out_dir)}
    (allowed,) = settings["Service.ReadWritePaths"]
    assert all(p.is_relative_to(allowed) for p in written), (written, allowed)
    # The same folders in the tmpfiles and sysusers files.
    tmpfiles = (DEPLOY / "watcher.tmpfiles").read_text(encoding="utf-8")
    assert f"d {allowed} 0750 watcher watcher -" in tmpfiles
    assert f"d {site / 'inbox'} 2770 watcher watcher -" in tmpfiles
    sysusers = (DEPLOY / "watcher.sysusers").read_text(encoding="utf-8")
    assert f'u watcher - "watcher daemon" {site} /usr/sbin/nologin' in sysusers
    assert one(settings, "Service.EnvironmentFile") == "-/etc/watcher/secrets.env"
    assert "f /etc/watcher/secrets.env 0640 root watcher -" in tmpfiles


# ------------------------------------------------------- install.sh in a scratch root


def _same_python() -> str:
    """Debian's python3 when it is this one's version (its venvs can use our packages)."""
    debian = "/usr/bin/python3"
    probe = f"import ensurepip, sys; assert sys.version_info[:2] == {sys.version_info[:2]}"
    if os.access(debian, os.X_OK) and subprocess.run([debian, "-c", probe]).returncode == 0:
        return debian
    return sys._base_executable  # type: ignore[attr-defined]


@dataclasses.dataclass(frozen=True)
class Installed:
    root: Path
    wheel: Path
    uid: int
    gid: int
    output: str


def install(root: Path, wheel: Path) -> subprocess.CompletedProcess[str]:
    """deploy/install.sh WHEEL with DESTDIR=root, the dependencies left to fresh_venv."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "WATCHER_"))}
    env.update(DESTDIR=str(root), PYTHON=_same_python(), PIP_NO_DEPS="1", PIP_NO_INDEX="1")
    return subprocess.run(
        ["sh", str(DEPLOY / "install.sh"), str(wheel)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def installed(built_wheel: Path) -> Iterator[Installed]:
    """deploy/install.sh run with DESTDIR: a server laid out in a scratch root.

    The root is world-traversable (not under pytest's private tmp folder) so
    that the service user can reach it. The wheel is installed without its
    dependencies, which the venv takes from this test run's (see fresh_venv).
    """
    for tool in ("systemd-sysusers", "systemd-tmpfiles", "systemctl", "setpriv"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed")
    from watcher.cli import cli

    if "init" not in cli.commands:
        pytest.skip("cli.py has no `watcher init` command yet; install.sh runs it")
    root = Path(tempfile.mkdtemp(prefix="watcher-destdir-"))
    try:
        root.chmod(0o755)
        fresh_venv(root / "opt" / "watcher", _same_python(), with_pip=True)
        done = install(root, built_wheel)
        assert done.returncode == 0, done.stdout + done.stderr
        entry = next(
            line.split(":")
            for line in (root / "etc" / "passwd").read_text().splitlines()
            if line.startswith("watcher:")
        )
        yield Installed(root, built_wheel, int(entry[2]), int(entry[3]), done.stdout)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _owner(path: Path) -> tuple[int, int, int]:
    st = path.lstat()
    return st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)


@pytest.mark.slow
def test_install_lays_out_the_server(installed: Installed) -> None:
    root, uid, gid = installed.root, installed.uid, installed.gid
    passwd = (root / "etc" / "passwd").read_text()
    assert f"watcher:x:{uid}:{gid}:watcher daemon:/srv/watcher:/usr/sbin/nologin" in passwd
    site = root / "srv" / "watcher"
    assert _owner(site) == (0, 0, 0o755)
    assert _owner(site / "inbox") == (uid, gid, 0o2770)
    assert _owner(site / "var") == (uid, gid, 0o750)
    assert _owner(root / "etc" / "watcher") == (0, gid, 0o750)
    assert _owner(root / "etc" / "watcher" / "secrets.env") == (0, gid, 0o640)
    assert (root / "etc" / "watcher" / "secrets.env").read_text() == ""
    assert _owner(site / "watcher.yaml")[:2] == (0, 0)
    assert sorted(p.name for p in (site / "watchlists").iterdir()) == BUNDLED_NAMES
    config = load_config(site / "watcher.yaml")
    assert len(load_watchlists(config.watchlists)) == 5
    # The code belongs to root; the unit is installed and enabled.
    assert _owner(root / "opt" / "watcher" / "bin" / "watcher")[:2] == (0, 0)
    unit = root / "etc" / "systemd" / "system" / "watcher.service"
    assert unit.read_text() == UNIT.read_text()
    wants = root / "etc" / "systemd" / "system" / "multi-user.target.wants" / "watcher.service"
    assert os.readlink(wants) == "/etc/systemd/system/watcher.service"
    assert "watcher is installed and enabled, not started. Next:" in installed.output
    # The unit verifies against the installed tree: ExecStart is the real command.
    need_analyze()
    scratch_unit_root(root, UNIT.read_text(encoding="utf-8"))
    done = verify(root)
    assert done.returncode == 0, done.stderr


@pytest.mark.slow
def test_install_again_keeps_the_site_and_the_secrets(installed: Installed) -> None:
    config = installed.root / "srv" / "watcher" / "watcher.yaml"
    edited = config.read_text(encoding="utf-8") + "# edited by the analyst\n"
    config.write_text(edited, encoding="utf-8")
    secrets = installed.root / "etc" / "watcher" / "secrets.env"
    secrets.write_text("WATCHER_SMTP_PASSWORD=x\n", encoding="utf-8")
    done = install(installed.root, installed.wheel)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"    kept: {config} exists" in done.stdout
    assert config.read_text(encoding="utf-8") == edited
    assert secrets.read_text(encoding="utf-8") == "WATCHER_SMTP_PASSWORD=x\n"
    assert _owner(secrets) == (0, installed.gid, 0o640)


@pytest.mark.slow
def test_the_service_user_runs_the_site(installed: Installed) -> None:
    """As the unit would run it: the watcher user, UMask=0027; it writes var/ only."""
    root, uid, gid = installed.root, installed.uid, installed.gid
    site = root / "srv" / "watcher"
    as_watcher = ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups"]
    python = root / "opt" / "watcher" / "bin" / "python"
    if subprocess.run([*as_watcher, str(python), "-c", "import watcher.cli"]).returncode != 0:
        pytest.skip(f"the service user cannot run {python} here (its interpreter is private)")
    for page in seed_files():
        shutil.copy(page, site / "inbox" / page.name)  # as root; setgid: the group watcher's
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(site), "LANG": "C.UTF-8"}
    command = [str(root / "opt" / "watcher" / "bin" / "watcher"), "--config"]
    command += [str(site / "watcher.yaml"), "--log-level=WARNING", "run", "--once", "--digest-now"]
    done = subprocess.run(
        [*as_watcher, "sh", "-c", 'umask 0027 && exec "$@"', "sh", *command],
        cwd=site,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "scan: 5 new, 0 unchanged, 0 failed" in done.stdout
    (report,) = (site / "var" / "reports").glob("????-??-??.html")
    assert _owner(report) == (uid, gid, 0o640)
    assert _owner(site / "var" / "watcher.db") == (uid, gid, 0o640)
    # It cannot change its config, its topics or its code.
    for path in (site / "watcher.yaml", site / "watchlists", python.parent):
        assert subprocess.run([*as_watcher, "test", "-w", str(path)]).returncode == 1, path

"""``watcher init``: a site folder holding a whole installation, ready to edit.

A site is one folder: ``watcher.yaml`` (the commented starter config, every path
in it relative to the folder), ``watchlists/`` (copies of the bundled topics),
``inbox/`` and ``var/`` (state and reports). Moving the folder moves the site.

The starter config is package data (``watcher/data/watcher.yaml``). The bundled
watchlists are kept in the checkout's ``config/watchlists/``; pyproject.toml maps
that folder into the wheel as ``watcher/data/watchlists/``. An editable install
runs from the checkout, which has no such copy: there the checkout's folder is
read instead.
"""

from __future__ import annotations

import logging
import os
import shlex
from pathlib import Path

from watcher.config import Config, load_config
from watcher.errors import WatcherError
from watcher.paths import safe_text
from watcher.watchlists import watchlist_files

log = logging.getLogger(__name__)

DATA = Path(__file__).with_name("data")
STARTER_CONFIG = DATA / "watcher.yaml"
INSTALLED_WATCHLISTS = DATA / "watchlists"
CHECKOUT_WATCHLISTS = Path(__file__).resolve().parent.parent / "config" / "watchlists"
CONFIG_NAME = "watcher.yaml"
WATCHLISTS_NAME = "watchlists"


def bundled_watchlists() -> Path:
    """The folder of the bundled watchlists: the installed copy, else the checkout's."""
    for folder in (INSTALLED_WATCHLISTS, CHECKOUT_WATCHLISTS):
        if watchlist_files(folder):
            return folder
    raise WatcherError(
        f"the bundled watchlists are missing: neither {safe_text(INSTALLED_WATCHLISTS)} nor "
        f"{safe_text(CHECKOUT_WATCHLISTS)} holds any; reinstall watcher"
    )


def init_site(folder: Path, *, force: bool = False) -> list[Path]:
    """Write a starter site into ``folder``; return the files and folders it made.

    A starter file that already exists is an error naming it, unless ``force``
    (then it is replaced). Other files in ``folder`` are never touched, and
    folders that exist are kept as they are.
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise WatcherError(f"{safe_text(folder)} is a file; watcher init needs a folder")
    files = {folder / CONFIG_NAME: STARTER_CONFIG.read_bytes()}
    for source in watchlist_files(bundled_watchlists()):
        files[folder / WATCHLISTS_NAME / source.name] = source.read_bytes()
    existing = [p for p in files if os.path.lexists(p)]
    if existing and not force:
        raise WatcherError(_refusal(folder, existing))
    made: list[Path] = []
    for path, data in files.items():
        made += _make_folder(path.parent)
        if force and os.path.lexists(path):
            # Replaced, not written through: a symbolic link stays where it pointed.
            path.unlink()
        with path.open("xb") as f:  # "x": a file that appeared meanwhile is not overwritten
            f.write(data)
        made.append(path)
    config = _starter(folder)
    for needed in (config.inbox, config.state.parent):
        made += _make_folder(needed)
    log.info("wrote a watcher site to %s", safe_text(folder))
    return made


def next_steps(folder: Path) -> str:
    """What to do after :func:`init_site`, as ``watcher init`` prints it."""
    config = _starter(folder)
    here = config.path.parent
    env = shlex.quote(str(config.path))

    def rel(path: Path) -> str:
        return safe_text(path.relative_to(here) if path.is_relative_to(here) else path)

    return "\n".join(
        [
            f"Wrote a watcher site to {safe_text(here)}:",
            f"  {CONFIG_NAME:<14} the settings, commented: schedule, e-mail, chat bots",
            f"  {rel(config.watchlists) + '/':<14} the bundled topics, to edit, add to or remove",
            f"  {rel(config.inbox) + '/':<14} newspaper pages go here (PDF, DOCX, HTML, text)",
            f"  {rel(config.state.parent) + '/':<14} the state database and the report archive",
            "",
            "Next steps:",
            "  1. Point watcher at this site (or pass --config to each command):",
            f"       export WATCHER_CONFIG={env}",
            f"  2. Edit {CONFIG_NAME} (recipients, chat bots, digest time) and the topics",
            "     in watchlists/; passwords and webhook URLs come from environment",
            "     variables, never from the file. Then check everything:",
            "       watcher check",
            f"  3. Copy newspaper pages into {safe_text(config.inbox)}, then make today's digest:",
            "       watcher run --once --digest-now",
            f"     The reports are written to {safe_text(config.digest.out_dir)}.",
            "  4. Keep it running: `watcher run` (the daemon), or install it as a",
            "     systemd service (README: 'Installing on a server').",
        ]
    )


def _starter(folder: Path) -> Config:
    """The site's config, its paths resolved (they need not exist yet)."""
    return load_config(Path(folder) / CONFIG_NAME, check_paths=False)


def _make_folder(path: Path) -> list[Path]:
    """Create ``path`` and its missing parents; return those created, outermost first."""
    missing = [p for p in (path, *path.parents) if not p.exists()]
    path.mkdir(parents=True, exist_ok=True)
    return missing[::-1]


def _refusal(folder: Path, existing: list[Path]) -> str:
    if len(existing) == 1:
        return (
            f"{safe_text(existing[0])} already exists; watcher init does not overwrite it. "
            "Move it away, choose another folder, or pass --force to replace it."
        )
    names = ", ".join(safe_text(p.relative_to(folder)) for p in existing)
    return (
        f"{len(existing)} files of the starter site already exist in {safe_text(folder)}: "
        f"{names}; watcher init does not overwrite them. Move them away, choose another "
        "folder, or pass --force to replace them (other files are left alone)."
    )

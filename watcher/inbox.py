"""Listing the inbox: what is there, and which of it changed since the store last saw it.

A rescan of an unchanged inbox must cost little more than ``os.scandir`` and one
``stat`` per file. So the walk works on plain strings and tuples: a file's key (its
path as the store spells it, see ``paths.safe_text``) is the folder's key plus the
name, its ``(size, mtime_ns)`` is compared with the store's in one dict look-up, and
a :class:`~watcher.models.FileInfo` with its ``Path`` is made only for a file that
needs a decision (new, changed, failed before, a symbolic link that changed).

**Pruning** (``scan.prune_unchanged_folders``, for date-partitioned inboxes such as
``inbox/2026/12/01/…``): a folder whose every file was unchanged when it was last
listed is remembered (``Store.folders``) with its modification time. While that time
stays the same, no name was added, removed or renamed in it, so it is not listed
again: one ``stat`` of the folder stands for all its files, and its sub-folders are
visited from the remembered names (each checked by its own ``stat``). A folder holding
a file that is waiting (new, settling, changed while read) or failed (retried on a
backoff) is never remembered, so it is listed at every scan until all is settled.

What pruning can miss: an old file **edited in place** (written without a rename:
``cp`` over it, ``>>``, an editor saving in place, ``touch``) changes its own mtime but
not its folder's, so a pruned scan does not see it. Every folder is listed again
when its last real listing is ``scan.full_listing_every`` old (default 1 h), and that
listing reads the edited file. Also a folder whose mtime moved less than
:data:`SETTLE_NS` before the listing is not remembered (a name added in the same
clock tick as the listing would not move it again). Files of deleted folders and the
failures of deleted files are forgotten at a scan that listed every folder.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import logging
import os
import re
import stat
from collections.abc import Callable, Container, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from watcher.config import Config
from watcher.models import FileInfo
from watcher.paths import safe_text
from watcher.store import FolderState, Store

log = logging.getLogger(__name__)

Stamps = Mapping[str, tuple[int, int]]  # key -> (size, mtime_ns)

# A folder changed this recently is listed again next time rather than remembered.
SETTLE_NS = 2_000_000_000


@dataclass(frozen=True)
class Listing:
    """One pass over the inbox, compared with what the store knows.

    ``changed``: the files that need a decision, sorted by ``rel``; ``unchanged``: how
    many files matched the store (pruned folders' files included); ``present``: answers
    ``key in present`` for every file now in the inbox (those of pruned folders too);
    ``folders``: what to remember for the next pass; ``pruned``: folders not listed.
    """

    changed: list[FileInfo]
    unchanged: int
    present: Container[str]
    folders: dict[str, FolderState] = field(default_factory=dict)
    pruned: int = 0
    listed: int = 0

    @property
    def whole(self) -> bool:
        """Was every folder listed (nothing taken on trust)?"""
        return self.pruned == 0


@dataclass(frozen=True)
class _Present:
    """``key in present``: listed, or in a pruned folder (whose names did not change)."""

    keys: set[str]
    pruned: frozenset[str]

    def __contains__(self, key: object) -> bool:
        if key in self.keys:
            return True
        return isinstance(key, str) and key.rpartition("/")[0] in self.pruned


def ignorer(ignore: tuple[str, ...]) -> Callable[[str], object] | None:
    """One compiled test for all ``ignore`` globs (``fnmatch`` semantics, case kept as
    on POSIX), or None when nothing is ignored."""
    if not ignore:
        return None
    return re.compile("|".join(f"(?:{fnmatch.translate(p)})" for p in ignore)).match


def list_inbox(
    inbox: Path, ignore: tuple[str, ...], recursive: bool = True, *, strict: bool = False
) -> list[FileInfo]:
    """Every file under ``inbox`` with its size and mtime, sorted by path.

    Only ``stat`` is called: a rescan of an unchanged folder reads no file.
    Names matching an ``ignore`` glob (``*.part``, ``*.tmp``, ``*~``, dot
    files) are files still being written or not meant for us. ``strict``: an
    inbox that cannot be listed raises OSError instead of counting as empty.
    """
    return changes(inbox, ignore, recursive, lambda _key: {}, strict=strict).changed


def changes(
    inbox: Path,
    ignore: tuple[str, ...],
    recursive: bool,
    stamps: Callable[[str], Stamps],
    *,
    strict: bool = False,
    remembered: Mapping[str, FolderState] | None = None,
    now: dt.datetime | None = None,
    relist_after: float = 3600.0,
) -> Listing:
    """List ``inbox`` and compare each file with ``stamps(folder_key)`` (the store's
    ``(size, mtime_ns)`` by key, for that folder or more; asked only for folders that
    hold files). ``remembered`` (pruning on): folders not to list again while their
    mtime stays and their last listing is younger than ``relist_after`` seconds; the
    listing then says what to remember next (``now`` is the clock of the scan).
    """
    walk = _Walk(inbox, ignorer(ignore), recursive, stamps, remembered, now, relist_after)
    walk.folder(str(inbox), safe_text(inbox), "", root=True, strict=strict)
    walk.changed.sort(key=lambda f: f.rel)
    return Listing(
        changed=walk.changed,
        unchanged=walk.unchanged,
        present=_Present(walk.keys, frozenset(walk.pruned)) if walk.pruned else walk.keys,
        folders=walk.remember,
        pruned=len(walk.pruned),
        listed=walk.listed,
    )


class _Walk:
    """The state of one listing; see :func:`changes`."""

    def __init__(
        self,
        inbox: Path,
        ignored: Callable[[str], object] | None,
        recursive: bool,
        stamps: Callable[[str], Stamps],
        remembered: Mapping[str, FolderState] | None,
        now: dt.datetime | None,
        relist_after: float,
    ) -> None:
        self.inbox = inbox
        self.real_inbox = Path(os.path.realpath(inbox))
        self.ignored = ignored
        self.recursive = recursive
        self.stamps = stamps
        self.remembered = remembered
        self.now = now or dt.datetime.now(dt.UTC)
        self.now_ns = int(self.now.timestamp() * 1e9)
        self.relist_after = dt.timedelta(seconds=relist_after)
        self.changed: list[FileInfo] = []
        self.keys: set[str] = set()
        self.unchanged = 0
        self.pruned: list[str] = []
        self.listed = 0
        self.remember: dict[str, FolderState] = {}

    def folder(
        self, path: str, key: str, rel: str, *, root: bool = False, strict: bool = False
    ) -> None:
        """List one folder (or skip it, pruned) and go down into its sub-folders."""
        mtime_ns = None
        if self.remembered is not None:
            try:  # before listing: a name added meanwhile moves it past what we note
                st = os.stat(path) if root else os.lstat(path)
                mtime_ns = st.st_mtime_ns
            except OSError:
                mtime_ns = None
            known = self.remembered.get(key)
            if (
                known is not None
                and mtime_ns == known.mtime_ns
                and self.now - known.listed_at < self.relist_after
            ):
                self.pruned.append(key)
                self.unchanged += known.files
                self.remember[key] = known
                if self.recursive:
                    for sub in known.subdirs:
                        self.folder(f"{path}/{sub}", f"{key}/{sub}", f"{rel}{sub}/")
                return
        try:
            with os.scandir(path) as it:
                entries = list(it)
        except OSError as exc:
            if strict and root:
                raise
            log.warning("cannot list %s: %s", safe_text(path), exc.strerror or exc)
            return
        self.listed += 1
        ignored = self.ignored
        known_stamps: Stamps | None = None
        keys = self.keys
        subdirs: list[str] = []
        clean = True  # every file unchanged and every sub-folder name plain
        files = 0
        for entry in entries:
            name = entry.name
            if ignored is not None and ignored(name):
                continue
            plain = name.isprintable()  # then safe_text(name) == name
            try:
                if entry.is_symlink():
                    info: FileInfo | None = self._linked(entry, rel)
                    assert info is not None
                    size, mtime = info.size, info.mtime_ns
                elif entry.is_dir(follow_symlinks=False):
                    if self.recursive:
                        subdirs.append(name)
                        clean = clean and plain
                    continue
                elif not entry.is_file(follow_symlinks=False):
                    continue  # FIFOs, sockets, devices: never opened
                else:
                    st = entry.stat(follow_symlinks=False)
                    size, mtime, info = st.st_size, st.st_mtime_ns, None
            except OSError as exc:
                log.warning("cannot stat %s: %s", safe_text(entry.path), exc.strerror or exc)
                clean = False
                continue
            fkey = f"{key}/{name}" if plain else f"{key}/{safe_text(name)}"
            keys.add(fkey)
            if known_stamps is None:
                known_stamps = self.stamps(key)
            if known_stamps.get(fkey) == (size, mtime):
                self.unchanged += 1
                files += 1
                continue
            clean = False
            self.changed.append(info or FileInfo(Path(entry.path), rel + name, size, mtime))
        if (
            self.remembered is not None
            and clean
            and mtime_ns is not None
            and self.now_ns - mtime_ns >= SETTLE_NS
        ):
            self.remember[key] = FolderState(mtime_ns, files, tuple(subdirs), self.now)
        for sub in subdirs:
            self.folder(f"{path}/{sub}", f"{key}/{safe_text(sub)}", f"{rel}{sub}/")

    def _linked(self, entry: os.DirEntry[str], rel: str) -> FileInfo:
        """A symbolic link in the inbox: read as the file it names when that is a regular
        file inside the inbox; anything else (outside, a folder, a loop, dangling) is
        listed as ``outside`` and never opened."""
        path = Path(entry.path)
        rel = rel + entry.name
        target = Path(os.path.realpath(path))
        try:
            st = target.stat()
            regular = stat.S_ISREG(st.st_mode)
        except OSError:
            regular = False
        if regular and target.is_relative_to(self.real_inbox):
            return FileInfo(path, rel, st.st_size, st.st_mtime_ns)
        own = os.lstat(path)
        return FileInfo(path, rel, own.st_size, own.st_mtime_ns, outside=True)


def scan_listing(config: Config, store: Store, now: dt.datetime) -> Listing:
    """The listing a scan starts from: compared with every stored stamp at once, or,
    with ``scan.prune_unchanged_folders``, folder by folder, pruning the remembered
    unchanged ones (and remembering anew what this listing found unchanged)."""
    sc = config.scan
    if not sc.prune_unchanged_folders:
        if store.folders():  # pruning was switched off: what it remembered goes stale
            store.put_folders({})
        everything = store.file_stamps()
        return changes(config.inbox, sc.ignore, sc.recursive, lambda _key: everything)
    listing = changes(
        config.inbox,
        sc.ignore,
        sc.recursive,
        lambda key: store.file_stamps(under=key),
        remembered=store.folders(),
        now=now,
        relist_after=sc.full_listing_every,
    )
    store.put_folders(listing.folders)
    if listing.pruned:
        log.debug(
            "%s: %d folder(s) listed, %d unchanged ones not (scan.prune_unchanged_folders)",
            config.inbox,
            listing.listed,
            listing.pruned,
        )
    return listing

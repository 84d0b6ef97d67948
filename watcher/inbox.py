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
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from watcher.config import Config
from watcher.models import FileInfo
from watcher.paths import safe_text
from watcher.store import FolderState, Store

log = logging.getLogger(__name__)

Stamps = dict[str, tuple[int, int]]  # key -> (size, mtime_ns); a listing pops what it sees

# A folder changed this recently is listed again next time rather than remembered.
SETTLE_NS = 2_000_000_000


@dataclass(frozen=True)
class Listing:
    """One pass over the inbox, compared with what the store knows.

    ``changed``: the files that need a decision, sorted by ``rel``; ``unchanged``: how
    many files matched the store (pruned folders' files included); ``vanished``: keys
    the store knows that are no longer there; ``folders``: what to remember for the
    next pass; ``pruned`` folders were not listed, ``listed`` were.
    """

    changed: list[FileInfo]
    unchanged: int
    vanished: list[str]
    folders: dict[str, FolderState] = field(default_factory=dict)
    pruned: int = 0
    listed: int = 0


@dataclass(frozen=True)
class Ignore:
    """The ``ignore`` globs (``fnmatch`` semantics, case kept as on POSIX) as one test:
    ``*.part`` and ``.*`` become plain suffix and prefix tests, the rest one regular
    expression (a regular expression per name would cost a third of the stat)."""

    suffixes: tuple[str, ...]
    prefixes: tuple[str, ...]
    pattern: re.Pattern[str] | None

    @classmethod
    def of(cls, ignore: tuple[str, ...]) -> Ignore:
        suffixes: list[str] = []
        prefixes: list[str] = []
        rest: list[str] = []
        for p in ignore:
            if p[:1] == "*" and not _MAGIC.search(p[1:]):
                suffixes.append(p[1:])
            elif p[-1:] == "*" and not _MAGIC.search(p[:-1]):
                prefixes.append(p[:-1])
            else:
                rest.append(p)
        pattern = "|".join(f"(?:{fnmatch.translate(p)})" for p in rest)
        return cls(tuple(suffixes), tuple(prefixes), re.compile(pattern) if rest else None)

    def __call__(self, name: str) -> bool:
        if name.endswith(self.suffixes) or name.startswith(self.prefixes):
            return True
        return self.pattern is not None and self.pattern.match(name) is not None


_MAGIC = re.compile(r"[*?\[]")


def list_inbox(
    inbox: Path, ignore: tuple[str, ...], recursive: bool = True, *, strict: bool = False
) -> list[FileInfo]:
    """Every file under ``inbox`` with its size and mtime, sorted by path.

    Only ``stat`` is called: a rescan of an unchanged folder reads no file.
    Names matching an ``ignore`` glob (``*.part``, ``*.tmp``, ``*~``, dot
    files) are files still being written or not meant for us. ``strict``: an
    inbox that cannot be listed raises OSError instead of counting as empty.
    """
    nothing: Stamps = {}
    return changes(inbox, ignore, recursive, lambda _key: nothing, strict=strict).changed


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
    """List ``inbox`` and compare each file with ``stamps(folder_key)``: the store's
    ``(size, mtime_ns)`` by key for that folder's files (more is fine; one dict for
    all folders is fine), asked only for folders holding files, and emptied of what
    the listing saw. ``remembered`` (pruning on): folders not to list again while
    their mtime stays and their last listing is younger than ``relist_after``
    seconds; the listing then says what to remember next (``now``: the scan's clock).
    """
    walk = _Walk(inbox, Ignore.of(ignore), recursive, stamps, remembered, now, relist_after)
    return _listing(walk, strict)


def _listing(walk: _Walk, strict: bool = False) -> Listing:
    walk.folder(str(walk.inbox), safe_text(walk.inbox), "", root=True, strict=strict)
    walk.changed.sort(key=lambda f: f.rel)
    if walk.remembered is None:  # one dict for all: what is left was not seen
        walk.vanished += [k for d in walk.asked.values() for k in d]
    return Listing(
        changed=walk.changed,
        unchanged=walk.unchanged,
        vanished=walk.vanished,
        folders=walk.remember,
        pruned=walk.pruned,
        listed=walk.listed,
    )


class _Walk:
    """The state of one listing; see :func:`changes`."""

    def __init__(
        self,
        inbox: Path,
        ignored: Ignore,
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
        self.vanished: list[str] = []
        self.asked: dict[int, Stamps] = {}  # the stamp dicts handed out, by id
        self.unchanged = 0
        self.pruned = 0
        self.listed = 0
        self.visited: set[str] = set()
        self.remember: dict[str, FolderState] = {}

    def folder(
        self, path: str, key: str, rel: str, *, root: bool = False, strict: bool = False
    ) -> None:
        """List one folder (or skip it, pruned) and go down into its sub-folders."""
        self.visited.add(key)
        mtime_ns = None
        if self.remembered is not None:
            try:  # before listing: a name added meanwhile moves it past what we note
                mtime_ns = (os.stat(path) if root else os.lstat(path)).st_mtime_ns
            except OSError:
                mtime_ns = None
            known = self.remembered.get(key)
            if (
                known is not None
                and mtime_ns == known.mtime_ns
                and self.now - known.listed_at < self.relist_after
            ):
                self.pruned += 1
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
        suffixes, prefixes = self.ignored.suffixes, self.ignored.prefixes
        pattern = self.ignored.pattern
        known_stamps: Stamps | None = None
        plain_path = key == path  # then a plain name's key is the entry's own path
        subdirs: list[str] = []
        clean = True  # every file unchanged and every sub-folder name plain
        files = 0
        for entry in entries:
            name = entry.name
            if name.endswith(suffixes) or name.startswith(prefixes):
                continue  # what self.ignored(name) says, inline: this loop is the rescan
            if pattern is not None and pattern.match(name):
                continue
            plain = name.isprintable()  # then safe_text(name) == name
            info: FileInfo | None = None
            try:
                if entry.is_file(follow_symlinks=False):
                    st = entry.stat(follow_symlinks=False)
                    size, mtime = st.st_size, st.st_mtime_ns
                elif entry.is_dir(follow_symlinks=False):
                    if self.recursive:
                        subdirs.append(name)
                        clean = clean and plain
                    continue
                elif entry.is_symlink():
                    info = self._linked(entry, rel)
                    size, mtime = info.size, info.mtime_ns
                else:
                    continue  # FIFOs, sockets, devices: never opened
            except OSError as exc:
                log.warning("cannot stat %s: %s", safe_text(entry.path), exc.strerror or exc)
                clean = False
                continue
            if plain:
                fkey = entry.path if plain_path else f"{key}/{name}"
            else:
                fkey = f"{key}/{safe_text(name)}"
            if known_stamps is None:
                known_stamps = self.stamps(key)
                self.asked[id(known_stamps)] = known_stamps
            if known_stamps.pop(fkey, None) == (size, mtime):
                self.unchanged += 1
                files += 1
                continue
            clean = False
            self.changed.append(info or FileInfo(Path(entry.path), rel + name, size, mtime))
        if self.remembered is not None:
            if known_stamps is not None:  # this folder's own files the store knows, gone
                self.vanished += [k for k in known_stamps if k.rpartition("/")[0] == key]
            if clean and mtime_ns is not None and self.now_ns - mtime_ns >= SETTLE_NS:
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
    walk = _Walk(config.inbox, Ignore.of(sc.ignore), sc.recursive,
                 lambda key: store.file_stamps(under=key), store.folders(), now,
                 sc.full_listing_every)  # fmt: skip
    listing = _listing(walk)
    if not listing.pruned:  # every folder listed: also forget those of gone folders
        vanished = [k for k in store.file_stamps() if k.rpartition("/")[0] not in walk.visited]
        listing = replace(listing, vanished=listing.vanished + vanished)
    store.put_folders(listing.folders)
    if listing.pruned:
        log.debug(
            "%s: %d folder(s) listed, %d unchanged ones not (scan.prune_unchanged_folders)",
            config.inbox,
            listing.listed,
            listing.pruned,
        )
    return listing

"""Listing the inbox: the string-and-tuple walk, and pruning of unchanged folders."""

from __future__ import annotations

import datetime as dt
import fnmatch
import os
import shutil
import stat
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from tests.conftest import seed_files
from watcher import inbox, pipeline
from watcher.config import Config
from watcher.models import FileInfo
from watcher.paths import safe_text
from watcher.store import Store

OLD = 1_600_000_000  # an mtime long settled
IGNORE = ("*.part", "*.tmp", "*~", ".*")


def _put(path: Path, data: bytes = b"x", mtime: float = OLD) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    os.utime(path, (mtime, mtime))
    return path


def _settle_folders(root: Path, mtime: float = OLD) -> None:
    """Give every folder under ``root`` (and it) an old mtime, deepest first."""
    for folder, _dirs, _files in sorted(os.walk(root), key=lambda w: -len(w[0])):
        os.utime(folder, (mtime, mtime))


def _reference(root: Path, ignore: tuple[str, ...]) -> list[FileInfo]:
    """The listing as the code before the string walk made it, with Path objects."""
    real = Path(os.path.realpath(root))
    found: list[FileInfo] = []

    def walk(folder: Path) -> None:
        for entry in os.scandir(folder):
            if any(fnmatch.fnmatch(entry.name, p) for p in ignore):
                continue
            path = Path(entry.path)
            rel = path.relative_to(root).as_posix()
            if entry.is_symlink():
                target = Path(os.path.realpath(path))
                try:
                    st = target.stat()
                    regular = stat.S_ISREG(st.st_mode)
                except OSError:
                    regular = False
                if regular and target.is_relative_to(real):
                    found.append(FileInfo(path, rel, st.st_size, st.st_mtime_ns))
                else:
                    own = os.lstat(path)
                    found.append(FileInfo(path, rel, own.st_size, own.st_mtime_ns, outside=True))
            elif entry.is_dir(follow_symlinks=False):
                walk(path)
            elif entry.is_file(follow_symlinks=False):
                st = entry.stat(follow_symlinks=False)
                found.append(FileInfo(path, rel, st.st_size, st.st_mtime_ns))

    walk(root)
    return sorted(found, key=lambda f: f.rel)


@pytest.fixture
def hostile(tmp_path: Path) -> Path:
    """An inbox with nested folders, odd names, ignored names, links and a FIFO."""
    root = tmp_path / "inbox"
    _put(root / "a.txt")
    _put(root / "2026" / "12" / "01" / "page 1.txt", b"abc")
    _put(root / "2026" / "12" / "02" / "第二版.md", b"abcd")
    _put(Path(os.fsdecode(bytes(root) + b"/bad\xff.txt")))
    _put(Path(os.fsdecode(bytes(root) + b"/odd\xfe/in\nside.txt")))
    _put(root / "tab\tname.txt")
    for name in ("x.part", "y.tmp", "z~", ".hidden", ".dot/inner.txt"):
        _put(root / name)
    (root / "inside-link.txt").symlink_to(root / "a.txt")
    (root / "outside-link.txt").symlink_to("/etc/passwd")
    (root / "dangling.txt").symlink_to(root / "nowhere")
    (root / "folder-link").symlink_to(root / "2026")
    os.mkfifo(root / "fifo.txt")
    return root


def test_list_inbox_is_the_path_walk_it_replaced(hostile: Path) -> None:
    got = inbox.list_inbox(hostile, IGNORE)
    assert got == _reference(hostile, IGNORE)
    assert len(got) == 10  # 6 files, 4 links (one inside; three outside or broken)
    assert inbox.list_inbox(hostile, ()) == _reference(hostile, ())


def test_keys_are_spelt_as_the_store_spells_paths(hostile: Path) -> None:
    """The walk builds keys from strings; each must equal safe_text of the path."""
    listing = inbox.changes(hostile, IGNORE, True, lambda _key: {})
    assert [f.key for f in listing.changed] == [safe_text(f.path) for f in listing.changed]
    assert any("\\xff" in f.key for f in listing.changed)
    assert any("\\n" in f.key for f in listing.changed)


def test_only_changed_files_are_returned_and_vanished_keys_reported(hostile: Path) -> None:
    everything = inbox.list_inbox(hostile, IGNORE)
    stamps = {f.key: (f.size, f.mtime_ns) for f in everything}
    stamps[safe_text(hostile / "gone.txt")] = (1, OLD)  # known, deleted since
    _put(hostile / "a.txt", b"changed", mtime=OLD + 5)
    listing = inbox.changes(hostile, IGNORE, True, lambda _key: stamps)
    assert [f.rel for f in listing.changed] == ["a.txt", "inside-link.txt"]
    assert listing.unchanged == len(everything) - 2
    assert listing.vanished == [safe_text(hostile / "gone.txt")]


def test_a_failed_file_stamp_never_counts_as_unchanged(make_config: Callable[..., Config]) -> None:
    cfg = make_config()
    _put(cfg.inbox / "empty.txt", b"")
    with Store(cfg.state) as store:
        assert pipeline.scan(cfg, store).failed == 1
        assert store.file_stamps()[str(cfg.inbox / "empty.txt")] == (-1, -1)
        # Retried on its backoff only: the listing hands it on, the scan decides.
        assert [f.rel for f in inbox.scan_listing(cfg, store, pipeline.utc_now()).changed] == [
            "empty.txt"
        ]
        assert pipeline.scan(cfg, store).unchanged == 1


def test_ignore_globs_behave_as_fnmatch() -> None:
    patterns = ("*.part", "*~", ".*", "a?b*", "[ab]", "*ab]", "foo", "*")
    names = ["x.part", "x~", ".h", "aab.txt", "a", "b", "cab]", "foo", "fo", "z.txt", ""]
    for chosen in [patterns[:-1], patterns, (), ("[ab]", "*ab]"), ("*.part",)]:
        test = inbox.Ignore.of(chosen)
        for name in names:
            assert test(name) == any(fnmatch.fnmatch(name, p) for p in chosen), (chosen, name)


# --- pruning ------------------------------------------------------------------------


def _dated(cfg: Config, days: int = 3) -> list[Path]:
    """A date-partitioned inbox: one seed page and one unknown-type file a day."""
    folders = []
    seeds = seed_files()
    for i in range(days):
        folder = cfg.inbox / "2026" / "12" / f"{i + 1:02d}"
        folder.mkdir(parents=True)
        shutil.copy(seeds[i], folder / "page.txt")
        os.utime(folder / "page.txt", (OLD, OLD))
        _put(folder / "notes.dat")
        folders.append(folder)
    _settle_folders(cfg.inbox)
    return folders


@pytest.fixture
def pruned(make_config: Callable[..., Config]) -> Config:
    return make_config(scan={"prune_unchanged_folders": "true", "full_listing_every": "1h"})


def _scan(cfg: Config, at: dt.datetime | None = None) -> pipeline.ScanReport:
    with Store(cfg.state) as store:
        return pipeline.scan(cfg, store, clock=(lambda: at) if at else pipeline.utc_now)


def _listing(cfg: Config, at: dt.datetime | None = None) -> inbox.Listing:
    with Store(cfg.state) as store:
        return inbox.scan_listing(cfg, store, at or pipeline.utc_now())


def test_unchanged_folders_are_not_listed_again(pruned: Config) -> None:
    _dated(pruned)
    first = _scan(pruned)
    assert (first.new, first.skipped) == (3, 3)
    listing = _listing(pruned)  # the first found new files in the day folders: listed again
    assert (listing.pruned, listing.listed) == (3, 3)  # the inbox, 2026 and 12 were not
    again = _listing(pruned)  # the folders and their parents are now remembered
    assert (again.pruned, again.listed, again.unchanged, again.changed) == (6, 0, 6, [])
    report = _scan(pruned)
    assert (report.new, report.unchanged, report.skipped) == (0, 6, 0)


def test_a_new_file_moves_its_folder_and_is_read_at_once(pruned: Config) -> None:
    folders = _dated(pruned)
    _scan(pruned)
    _scan(pruned)
    shutil.copy(seed_files()[3], folders[1] / "extra.txt")
    os.utime(folders[1] / "extra.txt", (OLD, OLD))
    listing = _listing(pruned)
    assert [f.rel for f in listing.changed] == ["2026/12/02/extra.txt"]
    assert listing.listed == 1  # only the folder that moved
    assert _scan(pruned).new == 1


def test_pruning_misses_an_in_place_edit_until_the_full_listing(pruned: Config) -> None:
    """What pruning can miss, and when the safety net catches it (documented in
    watcher/inbox.py and the README)."""
    folders = _dated(pruned)
    _scan(pruned)
    _scan(pruned)
    page = folders[0] / "page.txt"
    before = os.stat(folders[0]).st_mtime_ns
    with page.open("r+b") as fh:  # edited in place: no new name, the folder keeps its mtime
        fh.seek(0)
        fh.write(seed_files()[4].read_bytes())
    os.utime(page, (OLD + 60, OLD + 60))
    assert os.stat(folders[0]).st_mtime_ns == before
    now = pipeline.utc_now()
    missed = _scan(pruned, now)
    assert (missed.new, missed.unchanged) == (0, 6)  # the miss
    soon = _scan(pruned, now + dt.timedelta(minutes=59))
    assert soon.new == 0  # still within scan.full_listing_every
    caught = _scan(pruned, now + dt.timedelta(hours=1, seconds=1))
    assert (caught.new, caught.unchanged) == (1, 5)  # the full listing read it
    with Store(pruned.state) as store:
        assert store.file_state(safe_text(page)).mtime_ns == (OLD + 60) * 10**9  # type: ignore[union-attr]


def test_without_pruning_the_in_place_edit_is_read_at_the_next_scan(
    make_config: Callable[..., Config],
) -> None:
    cfg = make_config()
    folders = _dated(cfg)
    _scan(cfg)
    page = folders[0] / "page.txt"
    page.write_bytes(seed_files()[4].read_bytes())
    os.utime(page, (OLD + 60, OLD + 60))
    assert _scan(cfg).new == 1


def test_folders_with_waiting_or_failed_files_are_always_listed(pruned: Config) -> None:
    folders = _dated(pruned)
    _put(folders[0] / "broken.txt", b"")  # fails: empty; retried on a backoff
    now = pipeline.utc_now()
    _put(folders[1] / "young.txt", b"being written", mtime=now.timestamp())  # settling
    _settle_folders(pruned.inbox)
    with Store(pruned.state) as store:
        cfg = replace(pruned, scan=replace(pruned.scan, settle_seconds=30.0))
        first = pipeline.scan(cfg, store)
        assert (first.failed, first.waiting) == (1, 1)
        for _ in range(2):
            listing = inbox.scan_listing(cfg, store, pipeline.utc_now())
            assert sorted(f.rel for f in listing.changed) == [
                "2026/12/01/broken.txt",
                "2026/12/02/young.txt",
            ]
            remembered = store.folders()
            assert safe_text(folders[0]) not in remembered
            assert safe_text(folders[1]) not in remembered
            assert safe_text(folders[2]) in remembered


def test_a_folder_that_just_changed_is_not_remembered(pruned: Config) -> None:
    folders = _dated(pruned)
    _scan(pruned)
    os.utime(folders[2], None)  # moved just now: a name may still land in this tick
    listing = _listing(pruned)
    assert safe_text(folders[2]) not in listing.folders
    assert safe_text(folders[1]) in listing.folders


def test_switching_pruning_off_forgets_the_folders(
    pruned: Config, make_config: Callable[..., Config]
) -> None:
    _dated(pruned)
    _scan(pruned)
    _scan(pruned)
    with Store(pruned.state) as store:
        assert store.folders()
    plain = make_config()
    _scan(plain)
    with Store(plain.state) as store:
        assert store.folders() == {}


def test_failures_of_deleted_files_are_forgotten_when_pruning(pruned: Config) -> None:
    folders = _dated(pruned)
    broken = _put(folders[0] / "broken.txt", b"")
    _settle_folders(pruned.inbox)
    assert _scan(pruned).failed == 1
    broken.unlink()
    _scan(pruned)
    with Store(pruned.state) as store:
        assert store.failures() == []
        assert safe_text(broken) not in store.file_stamps()


def test_pruning_on_either_store(make_config: Callable[..., Config], state: Path | str) -> None:
    """The stamps, folder rows and forgetting work alike on SQLite and PostgreSQL."""
    cfg = make_config(state=state, scan={"prune_unchanged_folders": "true"})
    folders = _dated(cfg)
    broken = _put(folders[0] / "broken.txt", b"")
    _settle_folders(cfg.inbox)
    assert _scan(cfg).failed == 1
    with Store(cfg.state) as store:
        assert store.file_stamps(under=safe_text(folders[0]))[safe_text(broken)] == (-1, -1)
        assert len(store.file_stamps(under=safe_text(folders[0]))) == 3
    broken.unlink()
    _settle_folders(cfg.inbox)
    assert _scan(cfg).unchanged == 6
    again = _listing(cfg)
    assert (again.pruned, again.listed, again.unchanged) == (6, 0, 6)
    with Store(cfg.state) as store:
        assert store.failures() == []
        assert set(store.folders()) == {safe_text(cfg.inbox), *(safe_text(f) for f in folders)} | {
            safe_text(cfg.inbox / "2026"),
            safe_text(cfg.inbox / "2026" / "12"),
        }

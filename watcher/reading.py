"""What every format reader shares: the bounds on reading a file, the failure messages
more than one reader gives, and the record of an optional package a reader needs.

It imports nothing of watcher's, so the registry (:mod:`watcher.readers`), the format
readers (:mod:`watcher.pdf`, :mod:`watcher.word`, …) and both sides of the reader process
(:mod:`watcher.sandbox`, :mod:`watcher.reader_process`) can use it without importing
each other.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass

EMPTY = "empty file"
NO_VISIBLE_TEXT = "no visible text"


@dataclass(frozen=True)
class Limits:
    """Bounds on reading one binary document (from the ``scan:`` config section)."""

    max_pdf_pages: int = 100
    max_unzipped_mb: float = 200.0
    memory_mb: int = 1024
    timeout: float = 120.0
    # Read PDF, DOCX and large HTML in a child process (see watcher.sandbox); off only in
    # tests of the parsers themselves.
    isolate: bool = True


DEFAULT_LIMITS = Limits()


@dataclass(frozen=True)
class Package:
    """An optional package a reader cannot work without, and the extra that installs it."""

    module: str  # what is imported: "pdfminer"
    name: str  # what pip installs: "pdfminer.six"
    extra: str  # watcher's extra that brings it: "pdf"
    kind: str  # the files it reads, for messages: "PDF"

    @property
    def install(self) -> str:
        """The command that installs it: ``pip install 'watcher[pdf]'``."""
        return f"pip install 'watcher[{self.extra}]'"

    @property
    def missing(self) -> str:
        """The failure reason of a file whose reader lacks this package."""
        return f"reading {self.kind} files needs the optional package {self.name}: {self.install}"

    def installed(self) -> bool:
        """Whether it can be found (looked up, not imported: that is the reader's job)."""
        return importlib.util.find_spec(self.module) is not None

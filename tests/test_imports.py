"""The shape of the package: no import cycles, and each outside system known by one
module only (jieba by segment, SQLite by store, APScheduler by schedule)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "watcher"


def _imports(path: Path) -> set[str]:
    """Every module name imported anywhere in a file (lazy imports inside functions
    too), except under ``if TYPE_CHECKING:``, which runs only for the type checker."""
    found: set[str] = set()

    class Visitor(ast.NodeVisitor):
        def visit_If(self, node: ast.If) -> None:
            test = node.test
            name = test.id if isinstance(test, ast.Name) else getattr(test, "attr", None)
            if name == "TYPE_CHECKING":
                for child in node.orelse:
                    self.visit(child)
                return
            self.generic_visit(node)

        def visit_Import(self, node: ast.Import) -> None:
            found.update(alias.name for alias in node.names)

        def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
            if node.module == "watcher":
                found.update(f"watcher.{alias.name}" for alias in node.names)
            elif node.module:
                found.add(node.module)

    Visitor().visit(ast.parse(path.read_text(encoding="utf-8")))
    return found


def _graph() -> dict[str, set[str]]:
    modules = {p.stem for p in PACKAGE.glob("*.py")}
    graph = {}
    for path in PACKAGE.glob("*.py"):
        deps = {
            name.split(".")[1]
            for name in _imports(path)
            if name.startswith("watcher.") and name.split(".")[1] in modules
        }
        graph[path.stem] = deps - {path.stem, "__init__"}
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle, or None (depth-first search with colours)."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == 1:
                return [*stack[stack.index(dep) :], dep]
            if dep not in state and (found := visit(dep)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_no_import_cycles() -> None:
    cycle = _cycle(_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_the_cycle_finder_finds_cycles() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_each_outside_system_is_known_by_one_module() -> None:
    owners: dict[str, set[str]] = {"jieba": set(), "sqlite3": set(), "apscheduler": set()}
    for path in PACKAGE.glob("*.py"):
        for name in _imports(path):
            top = name.split(".")[0]
            if top in owners:
                owners[top].add(path.stem)
    assert owners == {"jieba": {"segment"}, "sqlite3": {"store"}, "apscheduler": {"schedule"}}


# What the digest half and the senders bring in; scan and match run without it.
_DIGEST_ONLY = ("jinja2", "css_inline", "smtplib", "email.mime", "http.client", "ssl", "numpy")
_PROBE = """
import sys
from watcher.cli import cli
try:
    cli.main(args=sys.argv[1:], prog_name="watcher", standalone_mode=False)
except SystemExit:
    pass
print(" ".join(m for m in {mods!r} if m in sys.modules))
"""


def test_scan_and_match_do_not_import_the_digest_half(tmp_path: Path) -> None:
    import shutil
    import subprocess
    import sys

    root = PACKAGE.parent
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shutil.copy(root / "seeds" / sorted(p.name for p in (root / "seeds").glob("*.txt"))[0], inbox)
    config = tmp_path / "watcher.yaml"
    config.write_text(
        f"inbox: {inbox}\nstate: {tmp_path / 'state.db'}\n"
        f"watchlists: {root / 'config' / 'watchlists'}\nlog_level: WARNING\n"
        "scan:\n  settle_seconds: 0\n",
        encoding="utf-8",
    )
    probe = _PROBE.format(mods=_DIGEST_ONLY)
    for args in (["scan"], ["match", str(inbox)]):
        out = subprocess.run(
            [sys.executable, "-c", probe, "--config", str(config), *args],
            capture_output=True, text=True, timeout=120, check=True, cwd=tmp_path,
        ).stdout  # fmt: skip
        assert out.splitlines()[-1] == "", (args, out)

"""Draw which rooms of virtmodel import which: docs/import-graph.dot and .svg.

A room is a subpackage (``machine/kvm/``, ``machine/boards/virt/``, ...) or,
for ``machine/`` itself, its loose modules (the core). Every import counts,
function-level ones too; imports under ``if TYPE_CHECKING:`` do not, since
they never run. ``python docs/import_graph.py`` rewrites both files
(the SVG needs Graphviz's ``dot``).
"""

from __future__ import annotations

import ast
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: Most specific first. ``machine.cli.status`` is its own room: the module
#: the parser, the commands, the lab and the page all import, which imports
#: none of them (that is what keeps the command line free of cycles).
ROOMS = [
    "notifiers",
    "machine.kvm",
    "machine.fdt",
    "machine.qemu",
    "machine.lab",
    "machine.cli.status",
    "machine.cli",
    "machine.serve",
    "machine.boards.virt",
    "machine.boards",
    "machine",
    "devices",
]
LABELS = {"machine": "machine (core)"}


def room_of(module: str) -> str | None:
    """Return the room a dotted module name (without ``virtmodel.``) is in."""
    for room in ROOMS:
        if module == room or module.startswith(room + "."):
            return room
    return None


def _imports(tree: ast.AST) -> list[str]:
    found: list[str] = []

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                for other in child.orelse:
                    visit(other)
                continue
            if isinstance(child, ast.ImportFrom) and child.module:
                found.append(child.module)
                found.extend(f"{child.module}.{a.name}" for a in child.names)
            elif isinstance(child, ast.Import):
                found.extend(a.name for a in child.names)
            visit(child)

    visit(tree)
    return found


def edges() -> set[tuple[str, str]]:
    """Return (importer room, imported room) pairs across rooms."""
    pairs: set[tuple[str, str]] = set()
    for top in ("machine", "devices", "notifiers"):
        for path in sorted((ROOT / top).rglob("*.py")):
            module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            source = room_of(module.removesuffix(".__init__"))
            for name in _imports(ast.parse(path.read_text())):
                if not name.startswith("virtmodel."):
                    continue
                target = room_of(name.removeprefix("virtmodel."))
                if source and target and source != target:
                    pairs.add((source, target))
    return pairs


def to_dot(pairs: set[tuple[str, str]]) -> str:
    """Return the graph in DOT, rooms in a fixed order, edges sorted."""
    lines = ["digraph rooms {", "  rankdir=BT;", "  node [shape=box];"]
    lines += [f'  "{room}" [label="{LABELS.get(room, room)}"];' for room in ROOMS]
    lines += [f'  "{a}" -> "{b}";' for a, b in sorted(pairs)]
    lines.append("}")
    return "\n".join(lines) + "\n"


def render() -> None:
    """Write docs/import-graph.dot, and the SVG when Graphviz is installed."""
    dot_text = to_dot(edges())
    (ROOT / "docs" / "import-graph.dot").write_text(dot_text)
    dot = shutil.which("dot")
    if dot is not None:
        svg = subprocess.run(
            [dot, "-Tsvg"], input=dot_text.encode(), capture_output=True, check=True
        ).stdout
        (ROOT / "docs" / "import-graph.svg").write_bytes(svg)


if __name__ == "__main__":
    render()

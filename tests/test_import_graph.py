"""The rooms of the house import one way only, and the picture says so."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import networkx as nx

ROOT = Path(__file__).resolve().parent.parent


def _graph_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "docs_import_graph", ROOT / "docs" / "import_graph.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_rooms_import_each_other_without_a_cycle() -> None:
    graph: nx.DiGraph[str] = nx.DiGraph(_graph_module().edges())

    assert list(nx.simple_cycles(graph)) == []


def test_notifiers_import_nothing_of_ours_and_the_core_no_board_or_device() -> None:
    pairs = _graph_module().edges()

    assert [b for a, b in pairs if a == "notifiers"] == []
    assert sorted(b for a, b in pairs if a == "machine") == ["machine.kvm", "notifiers"]


def test_the_checked_in_picture_is_current() -> None:
    module = _graph_module()

    assert (ROOT / "docs" / "import-graph.dot").read_text() == module.to_dot(
        module.edges()
    )

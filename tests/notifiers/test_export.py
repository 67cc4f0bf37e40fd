from __future__ import annotations

import subprocess

import pytest

from tests.conftest import require_tool
from virtmodel.notifiers import CycleError, NotifierRegistry


def noop() -> None:
    pass


@pytest.fixture
def registry() -> NotifierRegistry[[]]:
    registry = NotifierRegistry[[]]("machine-init-done")
    registry.add("its", noop, after="kvm-set-addr", after_optional="kvm-absent")
    registry.add("kvm-set-addr", noop)
    registry.add('odd "name"', noop, before_optional="its")
    return registry


def test_dot_numbers_nodes_by_position_and_labels_edges_by_declarer(registry):
    text = registry.to_dot()

    lines = text.splitlines()
    assert lines[0] == 'digraph "machine-init-done" {'
    assert '  "kvm-set-addr" [label="1. kvm-set-addr"];' in lines
    assert '  "odd \\"name\\"" [label="2. odd \\"name\\""];' in lines
    assert '  "its" [label="3. its"];' in lines
    edge = next(line for line in lines if line.startswith('  "kvm-set-addr" -> "its"'))
    assert 'label="its"' in edge
    assert "style=dashed" not in edge
    dashed = next(line for line in lines if line.startswith('  "odd'))
    assert dashed.count("->") == 0  # the node line
    optional = next(line for line in lines if '-> "its"' in line and "odd" in line)
    assert "style=dashed" in optional
    assert any(
        line.startswith("  // dropped optional edge: 'its' after_optional='kvm-absent'")
        for line in lines
    )
    assert lines[-1] == "}"


def test_dot_is_accepted_by_graphviz(registry):
    dot = require_tool("dot", "graphviz")

    result = subprocess.run(
        [dot, "-Tsvg"], input=registry.to_dot(), capture_output=True, text=True
    )

    assert result.returncode == 0, result.stderr
    assert "<svg" in result.stdout


def test_mermaid_uses_positions_dashes_optional_edges_and_escapes_quotes(registry):
    text = registry.to_mermaid()

    lines = text.splitlines()
    assert lines[0] == "flowchart TD"
    assert '  n1["1. kvm-set-addr"]' in lines
    assert '  n2["2. odd #quot;name#quot;"]' in lines
    assert '  n1 -->|"its"| n3' in lines
    assert '  n2 -.->|"odd #quot;name#quot;"| n3' in lines
    assert lines[-1].startswith("  %% dropped optional edge: 'its'")


def test_exports_are_deterministic_text(registry):
    assert registry.to_dot() == registry.to_dot()
    assert registry.to_mermaid() == registry.to_mermaid()


def test_export_of_a_cyclic_registry_raises_cycle_error():
    registry = NotifierRegistry[[]]("loop")
    registry.add("a", noop, after="c")
    registry.add("b", noop, after="a")
    registry.add("c", noop, after="b")

    with pytest.raises(CycleError):
        registry.to_dot()
    with pytest.raises(CycleError):
        registry.to_mermaid()

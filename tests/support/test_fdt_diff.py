"""fdt_diff explains how two trees differ, one readable line each."""

from __future__ import annotations

from tests.support.fdt_diff import fdt_diff
from virtmodel.machine.fdt import Fdt


def tree(*, reg: int = 1, extra: bool = False, swap: bool = False) -> Fdt:
    fdt = Fdt()
    names = ["b", "a"] if swap else ["a", "b"]
    for name in names:
        fdt.add_subnode(f"/{name}")
    fdt.setprop_cells("/a", "reg", reg)
    if extra:
        fdt.setprop_string("/b", "status", "okay")
    return fdt


def test_equal_trees_have_no_differences() -> None:
    assert fdt_diff(tree(), tree()) == []


def test_a_changed_value_names_node_property_and_both_values() -> None:
    assert fdt_diff(tree(reg=1), tree(reg=2)) == [
        "node /a: property reg: <0x01> != <0x02>"
    ]


def test_properties_and_nodes_on_one_side_are_reported() -> None:
    a, b = tree(), tree(extra=True)
    b.add_subnode("/c")

    lines = fdt_diff(a, b)

    assert 'node /b: property status: only in b ("okay")' in lines
    assert "node /c: only in b" in lines
    assert any(line.startswith("strings block:") for line in lines)


def test_subnode_order_is_reported() -> None:
    assert fdt_diff(tree(), tree(swap=True)) == [
        "node /: subnode order: ['b', 'a'] != ['a', 'b']"
    ]

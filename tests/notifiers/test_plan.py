from __future__ import annotations

import pytest

from virtmodel.notifiers import NotifierRegistry, UnknownNotifierError


def noop() -> None:
    pass


def test_edges_group_by_keyword_in_registration_order():
    registry = NotifierRegistry[[]]("event")
    registry.add("c", noop, before_optional="a", after_optional="gone")
    registry.add("a", noop, before="b")
    registry.add("b", noop, after="c")

    assert list(registry.graph().edges) == [("c", "b"), ("c", "a"), ("a", "b")]
    assert [str(d) for d in registry.dropped_edges()] == [
        "'c' after_optional='gone' dropped: 'gone' is not registered "
        f"(declared at {registry.notifiers()[0].location})"
    ]


def test_unknown_before_is_found_after_all_afters_check_out():
    registry = NotifierRegistry[[]]("event")
    registry.add("a", noop, before="nope")
    registry.add("b", noop, after="a")

    with pytest.raises(UnknownNotifierError) as info:
        registry.order()

    assert (info.value.referrer, info.value.keyword) == ("a", "before")


def test_plan_edges_are_listed_once_each_even_if_declared_by_both_ends():
    registry = NotifierRegistry[[]]("event")
    registry.add("a", noop, before="b")
    registry.add("b", noop, after="a")

    text = registry.to_dot()

    assert text.count('"a" -> "b"') == 1
    assert 'label="b"' in text  # the hard after= of the later notifier wins


def test_graph_build_equals_networkx_add_edges_from_edge_order_included():
    import networkx as nx

    from virtmodel.notifiers.graph import build_graph, iter_edges

    registry = NotifierRegistry[[]]("event")
    registry.add("d", noop, after=("a", "b"), before_optional=("gone", "c"))
    registry.add("a", noop, before=("b", "c"), after_optional="gone")
    registry.add("b", noop, after="a", before="c")  # a -> b declared twice
    registry.add("c", noop, after_optional="a", before_optional="d2")
    registry.add("d2", noop, after_optional="b")
    notifiers = {record.name: record for record in registry.notifiers()}

    built, _ = build_graph("event", notifiers)
    reference: nx.DiGraph[str] = nx.DiGraph()
    reference.add_nodes_from(notifiers)
    reference.add_edges_from(iter_edges(notifiers))

    assert list(built.nodes(data=True)) == list(reference.nodes(data=True))
    assert list(built.edges(data=True)) == list(reference.edges(data=True))
    assert list(built.in_edges) == list(reference.in_edges)
    for u, v in built.edges:
        assert built.succ[u][v] is built.pred[v][u]  # one attribute mapping
    with pytest.raises(TypeError):  # shared and read-only: a write cannot leak
        built.edges["a", "b"]["weight"] = 1


@pytest.mark.parametrize("enabled", [True, False])
def test_gc_pause_restores_the_collector_as_it_found_it(enabled):
    import gc

    from virtmodel.notifiers.graph import gc_paused

    was = gc.isenabled()
    try:
        if not enabled:
            gc.disable()
        with gc_paused():
            assert not gc.isenabled()
        assert gc.isenabled() is enabled
        with pytest.raises(RuntimeError), gc_paused():
            raise RuntimeError
        assert gc.isenabled() is enabled
    finally:
        if was:
            gc.enable()


def test_unknown_target_is_found_past_notifiers_whose_targets_exist():
    registry = NotifierRegistry[[]]("event")
    registry.add("a", noop)
    registry.add("b", noop, after="a", before="c")
    registry.add("c", noop, after="zz")

    with pytest.raises(UnknownNotifierError) as info:
        registry.order()

    assert (info.value.name, info.value.referrer) == ("zz", "c")

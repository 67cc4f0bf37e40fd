"""Views of an order imposed from outside (QEMU's list) say what really runs."""

import pytest

from virtmodel.notifiers import InvalidOrderError, NotifierRegistry


def _registry():
    registry = NotifierRegistry[None]("init-done")
    registry.add("addr", lambda _: None, writes="its.addr")
    registry.add("init", lambda _: None, after="addr", reads="its.addr")
    registry.add("other", lambda _: None)
    return registry


LIFO = ["other", "init", "addr"]  # newest first, as QEMU's list runs them


def test_the_registry_own_order_breaks_nothing():
    registry = _registry()
    assert registry.order() == ["addr", "init", "other"]
    assert registry.violated_edges(registry.order()) == []
    assert registry.hazards() == []


def test_an_imposed_order_numbers_the_graph_as_it_runs_and_marks_broken_edges():
    registry = _registry()
    dot = registry.to_dot(order=LIFO)
    assert '"other" [label="1. other"]' in dot
    assert '"addr" [label="3. addr"]' in dot
    assert '"addr" -> "init" [label="init (violated)"' in dot
    assert "color=red" in dot
    mermaid = registry.to_mermaid(order=LIFO)
    assert 'n3 ==>|"init (violated)"| n2' in mermaid
    assert "linkStyle 0 stroke:red" in mermaid
    (edge,) = registry.violated_edges(LIFO)
    assert (edge.source, edge.target, edge.declared_by) == ("addr", "init", "init")


def test_explain_says_which_runs_first_and_names_the_broken_edge():
    registry = _registry()
    answer = registry.explain("addr", "init", order=LIFO, imposed_by="the list")
    assert (answer.earlier, answer.later) == ("init", "addr")
    assert answer.violated
    assert not answer.ordered
    assert str(answer).startswith(
        "'init' runs before 'addr' (positions 2 and 3): the list ignores the "
        "declarations, breaking 1 declared edge that puts 'addr' first:"
    )
    assert "'init' after='addr'" in str(answer)
    assert answer.as_dict()["violated"] is True

    unordered = registry.explain("other", "addr", order=LIFO, imposed_by="the list")
    assert unordered.summary.endswith("the list runs 'other' first")


def test_hazards_report_the_reader_that_runs_before_its_writer():
    (hazard,) = _registry().hazards(order=LIFO)
    assert hazard.kind == "runs-before-write"
    assert (hazard.resource, hazard.writer, hazard.other) == (
        "its.addr",
        "addr",
        "init",
    )
    assert "'init'" in str(hazard)
    assert "runs before writer 'addr'" in str(hazard)
    assert hazard.as_dict()["kind"] == "runs-before-write"


@pytest.mark.parametrize(
    ("order", "problem"),
    [
        (["other", "init"], "leaves out 'addr'"),
        (["other", "init", "addr", "addr"], "lists 'addr' twice"),
        (["other", "init", "nope"], "names 'nope'"),
    ],
)
def test_an_order_that_is_not_a_permutation_is_refused(order, problem):
    with pytest.raises(InvalidOrderError, match=problem):
        _registry().explain("addr", "init", order=order)


def test_an_imposed_order_that_keeps_a_declaration_says_it_is_luck():
    registry = _registry()
    answer = registry.explain("addr", "init", order=["addr", "init", "other"])
    assert answer.ordered
    assert answer.summary == (
        "'addr' runs before 'init' (positions 1 and 2): the order that runs "
        "decides, and here it happens to agree with 1 declared edge:"
    )


def test_a_longer_broken_chain_is_named_edge_by_edge():
    registry = NotifierRegistry[None]("chain")
    registry.add("a", lambda _: None)
    registry.add("b", lambda _: None, after="a")
    registry.add("c", lambda _: None, after="b")
    answer = registry.explain("a", "c", order=["c", "b", "a"])
    assert answer.violated
    assert "breaking 2 declared edges that put 'a' first:" in answer.summary
    assert [(e.source, e.target) for e in answer.chain] == [("a", "b"), ("b", "c")]

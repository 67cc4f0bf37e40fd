"""Tests written to kill the mutants that ``bench/mutation.py`` left alive.

Each pins an answer other tests reached without checking it whole: the
exact JSON shape of ``as_dict()``, every hazard of a resource with two
writers, the status of every step of a trace whose steps differ, an error's
attributes rather than a substring of its message.
"""

from __future__ import annotations

import inspect
import itertools
import xml.etree.ElementTree as ET
from collections.abc import Callable

import networkx as nx
import pytest

from virtmodel.notifiers import (
    NotifierFailedError,
    NotifierRegistry,
    Status,
    explore,
    notifier,
)
from virtmodel.notifiers.explore.culprit import shrink
from virtmodel.notifiers.explore.orders import Poset, apply_swaps, swap_path
from virtmodel.notifiers.explore.outcome import Failure, Outcome, canonical, observe
from virtmodel.notifiers.plan import Plan


def noop(log: list[str]) -> None:
    log.append("noop")


def failing(log: list[str]) -> None:
    raise ValueError("bad")


def hazards_of(
    registry: NotifierRegistry[[]], order: list[str] | None = None
) -> list[tuple[str, str, str]]:
    return [(h.kind, h.writer, h.other) for h in registry.hazards(order=order)]


def quiet() -> None:
    pass


# find_hazards(): with two writers a reader ordered after one of them is
# still an unordered read of the other (mutants: `continue` lost, `==` for
# `!=`, the write-write pair loop bounds).
def test_reader_after_one_of_two_ordered_writers_is_an_unordered_read_of_the_other() -> (
    None
):
    registry = NotifierRegistry[[]]("machine-init-done")
    registry.add("w1", quiet, writes="res")
    registry.add("w2", quiet, writes="res", after="w1")
    registry.add("rd", quiet, reads="res", after="w1")

    assert hazards_of(registry) == [("unordered-read", "w2", "rd")]


def test_reader_after_two_unordered_writers_leaves_only_the_write_write_pair() -> None:
    registry = NotifierRegistry[[]]("machine-init-done")
    registry.add("w1", quiet, writes="res")
    registry.add("w2", quiet, writes="res")
    registry.add("rd", quiet, reads="res", after=["w1", "w2"])

    assert hazards_of(registry) == [("write-write", "w1", "w2")]


def test_an_order_running_the_reader_between_two_writers_is_runs_before_write() -> None:
    registry = NotifierRegistry[[]]("machine-init-done")
    registry.add("w1", quiet, writes="res")
    registry.add("w2", quiet, writes="res")
    registry.add("rd", quiet, reads="res", after=["w1", "w2"])

    hazards = registry.hazards(order=["w1", "rd", "w2"])

    assert [(h.kind, h.writer, h.other) for h in hazards] == [
        ("runs-before-write", "w2", "rd"),
        ("write-write", "w1", "w2"),
    ]
    first = hazards[0]
    assert first.as_dict() == {
        "kind": "runs-before-write",
        "resource": "res",
        "writer": "w2",
        "other": "rd",
        "writer_location": first.writer_location,
        "other_location": first.other_location,
        "fix": first.fix,
    }
    assert first.writer_location != first.other_location


def test_three_writers_give_every_unordered_pair_once() -> None:
    registry = NotifierRegistry[[]]("machine-init-done")
    for name in ("w1", "w2", "w3"):
        registry.add(name, quiet, writes="res")

    assert hazards_of(registry) == [
        ("write-write", "w1", "w2"),
        ("write-write", "w1", "w3"),
        ("write-write", "w2", "w3"),
    ]


# Trace.ok / names() with mixed steps (mutants: `all` of `is RAN` turned
# around, statuses swapped).
def test_trace_with_ran_failed_and_skipped_steps_is_not_ok_and_names_each() -> None:
    registry = NotifierRegistry[list[str]]("machine-init-done", keep_going=True)
    registry.add("a", noop)
    registry.add("b", failing)
    registry.add("c", noop, after="b")

    with pytest.raises(NotifierFailedError) as info:
        registry.notify([])

    error = info.value
    trace = error.trace
    assert not trace.ok
    assert [step.status for step in trace.steps] == [
        Status.RAN,
        Status.FAILED,
        Status.SKIPPED,
    ]
    assert (trace.names("ran"), trace.names("failed"), trace.names("skipped")) == (
        ["a"],
        ["b"],
        ["c"],
    )
    assert trace.names(Status.NOT_RUN) == []
    assert (error.name, error.ran, error.skipped, error.not_run) == (
        "b",
        ["a"],
        ["c"],
        [],
    )
    steps = trace.as_dict()["steps"]
    assert [sorted(step) for step in steps] == [
        ["duration", "error", "late", "name", "status"],
        ["duration", "error", "late", "name", "status"],
        ["after", "duration", "error", "late", "name", "status"],
    ]
    assert steps[2]["error"] == "after failed 'b'"
    assert steps[2]["duration"] == 0.0


def test_trace_stopping_at_the_first_failure_marks_the_rest_not_run() -> None:
    registry = NotifierRegistry[list[str]]("machine-init-done")
    registry.add("a", noop)
    registry.add("b", failing)
    registry.add("c", noop)

    with pytest.raises(NotifierFailedError) as info:
        registry.notify([])

    trace = info.value.trace
    assert not trace.ok
    assert [step.status for step in trace.steps] == [
        Status.RAN,
        Status.FAILED,
        Status.NOT_RUN,
    ]
    assert info.value.not_run == ["c"]
    assert trace.steps[2].duration == 0.0


def test_trace_where_everything_ran_is_ok() -> None:
    registry = NotifierRegistry[list[str]]("machine-init-done")
    registry.add("a", noop)
    registry.add("b", noop)
    log: list[str] = []

    trace = registry.notify(log)

    assert trace.ok
    assert log == ["noop", "noop"]
    assert trace.names("ran") == ["a", "b"]


# plan_svg(): the layout's numbers (mutants: box height, gaps, margin, char
# widths, the centring arithmetic, the canvas size). Hand-checked: a label of
# n characters is 7.5 n + 16 px wide, layers are 28 + 56 px apart from a
# 16 px margin, a box sits centred under the mean centre of what it runs after
# and at least 24 px right of its left neighbour.
SVG_NS = "{http://www.w3.org/2000/svg}"
Row = tuple[str | None, ...]


def _diamond() -> NotifierRegistry[[]]:
    registry = NotifierRegistry[[]]("ev")
    registry.add("a", quiet)
    registry.add("bb", quiet, after="a")
    registry.add("c", quiet, after_optional="a")
    registry.add("d", quiet, after=["bb", "c"])
    registry.add("e", quiet)
    return registry


def _geometry(svg: str) -> tuple[dict[str, Row], dict[tuple[str, str], Row]]:
    root = ET.fromstring(svg)
    boxes: dict[str, Row] = {}
    edges: dict[tuple[str, str], Row] = {}
    for g in root.iter(f"{SVG_NS}g"):
        if g.get("class") == "node":
            rect, text = g.find(f"{SVG_NS}rect"), g.find(f"{SVG_NS}text")
            assert rect is not None
            assert text is not None
            boxes[g.get("data-name") or ""] = (
                rect.get("x"), rect.get("y"), rect.get("width"), rect.get("height"),
                rect.get("fill"), rect.get("stroke"), text.get("x"), text.get("y"),
            )  # fmt: skip
        elif (g.get("class") or "").startswith("edge"):
            line, text = g.find(f"{SVG_NS}line"), g.find(f"{SVG_NS}text")
            assert line is not None
            assert text is not None
            key = (g.get("data-source") or "", g.get("data-target") or "")
            edges[key] = (
                line.get("x1"), line.get("y1"), line.get("x2"), line.get("y2"),
                line.get("stroke-width"), line.get("stroke-dasharray"),
                text.get("x"), text.get("y"), text.text,
            )  # fmt: skip
    return boxes, edges


def test_svg_layout_numbers_of_a_diamond_with_statuses() -> None:
    svg = _diamond().to_svg(
        order=["a", "c", "bb", "e", "d"], status={"a": "ran", "c": "failed"}
    )

    root = ET.fromstring(svg)
    assert (root.get("width"), root.get("height")) == ("156", "228")
    assert root.get("viewBox") == "0 0 156 228"
    boxes, edges = _geometry(svg)
    assert boxes == {
        "a": ("16.0", "16.0", "46.0", "28", "#e3f4e1", "#345", "39.0", "34.0"),
        "e": ("86.0", "16.0", "46.0", "28", "#f5f7fb", "#345", "109.0", "34.0"),
        "c": ("16.0", "100.0", "46.0", "28", "#fbd5d5", "#c00", "39.0", "118.0"),
        "bb": ("86.0", "100.0", "53.5", "28", "#f5f7fb", "#345", "112.8", "118.0"),
        "d": ("52.9", "184.0", "46.0", "28", "#f5f7fb", "#345", "75.9", "202.0"),
    }
    assert edges == {
        ("a", "bb"): ("39.0", "44.0", "112.8", "100.0", "1.2", None, "79.9", "72.0", "bb"),
        ("a", "c"): ("39.0", "44.0", "39.0", "100.0", "1.2", "5,4", "43.0", "72.0", "c"),
        ("bb", "d"): ("112.8", "128.0", "75.9", "184.0", "1.2", None, "98.3", "156.0", "d"),
        ("c", "d"): ("39.0", "128.0", "75.9", "184.0", "1.2", None, "61.4", "156.0", "d"),
    }  # fmt: skip


def test_svg_violated_edges_are_thick_red_undashed_and_widen_the_canvas() -> None:
    svg = _diamond().to_svg(order=["d", "a", "bb", "c", "e"])

    root = ET.fromstring(svg)
    assert (root.get("width"), root.get("height")) == ("194", "228")
    _, edges = _geometry(svg)
    assert edges[("bb", "d")] == (
        "42.8", "128.0", "79.6", "184.0", "2.5", None, "65.2", "156.0", "d (violated)",
    )  # fmt: skip
    assert edges[("a", "c")][4:6] == ("1.2", "5,4")
    assert 'marker-end="url(#arrow-violated)"' in svg
    assert svg.count('class="edge violated"') == 2


def test_an_empty_registry_draws_an_empty_canvas_of_the_margins() -> None:
    root = ET.fromstring(NotifierRegistry[[]]("ev").to_svg())

    assert (root.get("width"), root.get("height")) == ("16", "32")


# canonical(): the exact key and text for every container kind (mutants: the
# one-element tuple comma, empty set text, sort keys, type tags).
@pytest.mark.parametrize(
    ("value", "key", "text"),
    [
        ((), ("tuple", ()), "()"),
        ((1,), ("tuple", (1,)), "(1,)"),
        ((1, 2), ("tuple", (1, 2)), "(1, 2)"),
        ([], ("list", ()), "[]"),
        ([1, (2,)], ("list", (1, ("tuple", (2,)))), "[1, (2,)]"),
        ({}, ("mapping", ()), "{}"),
        (set(), ("set", ()), "set()"),
        ({2, 1}, ("set", (1, 2)), "{1, 2}"),
        (frozenset({"b", "a"}), ("set", ("a", "b")), "{'a', 'b'}"),
        ({"b": 1, "a": [1]}, ("mapping", (("a", ("list", (1,))), ("b", 1))), "{'a': [1], 'b': 1}"),
        ({1: {2}}, ("mapping", ((1, ("set", (2,))),)), "{1: {2}}"),
        (bytearray(b"x"), ("repr", "bytearray(b'x')"), "bytearray(b'x')"),
    ],
)  # fmt: skip
def test_canonical_key_and_text_of_each_container_kind(
    value: object, key: object, text: str
) -> None:
    assert canonical(value) == (key, text)


def test_canonical_ignores_insertion_order_but_not_sequence_order() -> None:
    assert canonical({"a": 1, "b": 2}) == canonical({"b": 2, "a": 1})
    assert canonical([1, 2]) != canonical([2, 1])
    assert canonical([1]) != canonical((1,))


# Poset.covering(): a pair can conflict with the taken ones only through
# other pairs (and declared edges); the greedy batch must see it through
# the incrementally updated reachability, or the batch has a cycle.
def _free_poset(edges: list[tuple[str, str]] = []) -> Poset:  # noqa: B006
    graph: nx.DiGraph[str] = nx.DiGraph()
    graph.add_nodes_from("abcd")
    graph.add_edges_from(edges)
    return Poset(graph, list(nx.topological_sort(graph)))


def test_covering_a_cycle_of_pairs_needs_a_second_order() -> None:
    orders = _free_poset().covering([("a", "b"), ("b", "c"), ("c", "a")])

    assert orders == [("a", "b", "c", "d"), ("b", "c", "a", "d")]


def test_covering_a_chain_of_pairs_takes_them_all_in_one_order() -> None:
    orders = _free_poset().covering([("b", "a"), ("c", "b"), ("d", "c")])

    assert orders == [("d", "c", "b", "a")]


def test_covering_sees_a_conflict_through_the_later_pair_of_a_batch() -> None:
    orders = _free_poset().covering([("a", "b"), ("c", "d"), ("d", "a"), ("b", "c")])

    assert orders == [("c", "d", "a", "b"), ("a", "b", "c", "d")]


def test_covering_sees_a_conflict_through_a_declared_edge() -> None:
    orders = _free_poset([("a", "b")]).covering([("c", "a"), ("b", "d"), ("d", "c")])

    assert orders == [("c", "a", "b", "d"), ("a", "b", "d", "c")]


# culprit.shrink(), tested directly: a bisection over the swap path from the
# reference order to the other one. Along ('x','a','b','y') -> ('b','a','y',
# 'x') the state (a before b) changes at the first swap, the failure (y
# before x) only at the last one.
def _swap_path_run(order: tuple[str, ...]) -> Outcome:
    failed = order.index("y") < order.index("x")
    failures = (Failure("y", "ValueError", "late"),) if failed else ()
    return observe(failures, lambda: order.index("a") < order.index("b"), ())


def test_shrink_finds_the_first_swap_that_changes_the_whole_outcome() -> None:
    pair = shrink(_swap_path_run, ("x", "a", "b", "y"), ("b", "a", "y", "x"))

    assert pair == (("x", "a", "b", "y"), ("x", "b", "a", "y"))


def test_shrink_comparing_failures_only_finds_the_swap_that_makes_y_fail() -> None:
    pair = shrink(
        _swap_path_run,
        ("x", "a", "b", "y"),
        ("b", "a", "y", "x"),
        failures_only=True,
    )

    assert pair == (("b", "a", "x", "y"), ("b", "a", "y", "x"))


def test_failure_text_and_dict_carry_the_errno_name() -> None:
    failure = Failure("n", "OSError", "m", 6)

    assert str(failure) == "'n' raised OSError (ENXIO): m"
    assert str(Failure("n", "X", "")) == "'n' raised X"
    assert failure.as_dict() == {
        "notifier": "n",
        "type": "OSError",
        "message": "m",
        "errno": 6,
        "errno_name": "ENXIO",
    }


# The registry's plan cache: built once per version, dropped by add and
# remove, and never kept when the registry changed while it was being built.
def _counting_build_plan(
    monkeypatch: pytest.MonkeyPatch, during: list[object] | None = None
) -> list[str]:
    from virtmodel.notifiers.plan import build_plan as real

    built: list[str] = []

    def build(
        event: str,
        rows: dict[str, notifier.Row],
        callbacks: dict[str, Callable[..., object]],
    ) -> Plan:
        built.append(",".join(rows))
        if during:
            action = during.pop()
            assert callable(action)
            action()
        return real(event, rows, callbacks)

    monkeypatch.setattr("virtmodel.notifiers.store.build_plan", build)
    return built


def test_the_plan_is_built_once_until_add_or_remove(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    built = _counting_build_plan(monkeypatch)
    registry = NotifierRegistry[[]]("ev")
    registry.add("a", quiet)
    registry.add("b", quiet, after_optional="a")

    assert registry.order() == ["a", "b"]
    assert registry.hazards() == []
    assert registry.order() == ["a", "b"]
    assert built == ["a,b"]
    registry.remove("a")
    assert registry.order() == ["b"]
    assert built == ["a,b", "b"]
    registry.add("c", quiet, before="b")
    assert registry.order() == ["c", "b"]
    assert built == ["a,b", "b", "b,c"]


def test_a_plan_built_while_the_registry_changed_is_not_kept(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    registry = NotifierRegistry[[]]("ev")
    registry.add("a", quiet)
    built = _counting_build_plan(
        monkeypatch, during=[lambda: registry.add("late", quiet, before="a")]
    )

    assert registry.order() == ["a"]  # the snapshot it started from
    assert registry.order() == ["late", "a"]
    assert built == ["a", "a,late"]


# explore(limit=1) is the smallest allowed limit (mutant: `limit < 2`).
def test_explore_accepts_limit_one_exhaustive_for_one_notifier() -> None:
    def build() -> tuple[NotifierRegistry[[list[str]]], tuple[list[str]]]:
        registry = NotifierRegistry[[list[str]]]("one")
        registry.add("a", noop)
        return registry, ([],)

    result = explore(build, limit=1)

    assert (result.exhaustive, result.orders_run) == (True, 1)
    assert str(result).splitlines()[0] == (
        "explored 'one': the only valid order of 1 notifier (exhaustive)"
    )


# swap_path(): checked over every pair of orders of four names, not a sample
# (mutant: the neighbour index, wrong for a third of the pairs).
def test_swap_path_reaches_every_goal_by_exactly_the_inversions() -> None:
    names = ("a", "b", "c", "d")
    for start in itertools.permutations(names):
        for goal in itertools.permutations(names):
            swaps = swap_path(start, goal)
            inversions = sum(
                goal.index(x) > goal.index(y)
                for i, x in enumerate(start)
                for y in start[i + 1 :]
            )
            assert apply_swaps(start, swaps) == goal, (start, goal)
            assert len(swaps) == inversions, (start, goal)


# explore()'s documented default limit is 1,000 orders.
def test_explore_default_limit_is_one_thousand_orders() -> None:
    assert inspect.signature(explore).parameters["limit"].default == 1000

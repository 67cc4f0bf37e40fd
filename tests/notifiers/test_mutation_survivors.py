"""Tests for mutants that ``bench/mutation.py`` left alive on the notifiers branch.

Each pins a fact other tests used without checking it: the records an
exploration returns are frozen, a trace prints durations in milliseconds,
an exploration's elapsed time is a duration.
"""

from __future__ import annotations

import dataclasses
import errno
import inspect
import time
from collections.abc import Callable
from typing import Any

import pytest

from virtmodel.notifiers import (
    Constraints,
    DuplicateNotifierError,
    NotifierRegistry,
    Status,
    Step,
    Trace,
)
from virtmodel.notifiers.explore import Built, explore
from virtmodel.notifiers.explore.outcome import CheckFailed, observe

Kernel = dict[str, int]


def its_story() -> Built:
    """The 2016 ITS story, its edge not declared: the culprit pair is found."""
    kernel: Kernel = {}
    registry = NotifierRegistry[[Kernel]]("machine-init-done")

    def its_init(k: Kernel) -> None:
        if "its" not in k:
            raise OSError(errno.ENXIO, "its base address not set")
        k["its-ready"] = 1

    def set_its(k: Kernel) -> None:
        k["its"] = 1

    registry.add("its-ctrl-init", its_init, reads="kvm.its.addr")
    registry.add("kvm-set-addr:its", set_its, writes="kvm.its.addr")
    return registry, (kernel,)


def test_an_exploration_and_its_culprit_are_frozen_and_timed():
    before = time.perf_counter()
    exploration = explore(its_story)
    took = time.perf_counter() - before

    (culprit,) = exploration.culprits
    with pytest.raises(dataclasses.FrozenInstanceError):
        culprit.first = "x"  # type: ignore[misc]
    assert (culprit.first, culprit.second) == ("kvm-set-addr:its", "its-ctrl-init")
    assert 0.0 < exploration.elapsed <= took


def test_a_failed_check_is_a_frozen_fingerprint():
    def check(kernel: Kernel) -> object:
        raise KeyError("its")

    outcome = observe((), check, ({},))
    failed = CheckFailed("KeyError", "'its'")

    assert outcome.state_text == repr(failed) == "<check raised KeyError: 'its'>"
    with pytest.raises(dataclasses.FrozenInstanceError):
        failed.type = "ValueError"  # type: ignore[misc]


def test_a_trace_prints_each_duration_in_milliseconds():
    registry = NotifierRegistry[[]]("event")
    record = registry.add("a", lambda: None)

    text = str(Trace("event", [Step(record, Status.RAN, duration=0.0015)]))

    assert text.splitlines()[2].split()[:5] == ["1", "a", "ran", "1.500", "ms"]


def test_counting_classes_costs_exactly_its_work_and_stops_just_past_budget():
    # The work of counting this example's classes: 25 units (pairs looked
    # at, plus twice the closure per branching). A budget of exactly that
    # answers; one less is too costly (count then says "more than limit").
    from tests.notifiers.test_explore_classes import its_story as three_notifiers
    from virtmodel.notifiers.explore.classes import count
    from virtmodel.notifiers.explore.orders import Poset

    registry = three_notifiers()[0]
    reference = tuple(registry.order())
    poset = Poset(registry.graph(), reference)
    pairs = [("its-addr", "its-init"), ("dist", "its-init")]

    assert count(poset, reference, pairs, limit=10, budget=25) == 4
    assert count(poset, reference, pairs, limit=10, budget=24) == 11


def _needs() -> Built:
    """'a' needs 'c' first; 'b' needs 'a' to have been tried; nothing declared."""
    state: set[str] = set()
    registry = NotifierRegistry[[set[str]]]("phase")

    def a(s: set[str]) -> None:
        s.add("a-tried")
        if "c" not in s:
            raise RuntimeError("a needs c")

    def b(s: set[str]) -> None:
        if "a-tried" not in s:
            raise RuntimeError("b needs a")

    registry.add("a", a)
    registry.add("b", b)
    registry.add("c", lambda s: s.add("c"))
    return registry, (state,)


def test_an_order_that_makes_the_run_succeed_is_blamed_before_a_nearer_one():
    # The registration order (a, b, c) fails in 'a'. Swapping a and b (one
    # step away) changes which notifier fails; putting c first (two steps)
    # makes everything run. A change of success is the more telling one, so
    # the first culprit is (c, a), though (a, b) is nearer.
    exploration = explore(_needs)

    pairs = [(culprit.first, culprit.second) for culprit in exploration.culprits]
    assert pairs == [("c", "a"), ("a", "b")]
    assert exploration.culprits[0].outcome_first_then_second.ok


def _failing_and_logging() -> Built:
    """'f' always fails; 'g' fails unless 'h' ran; 'p' and 'q' log their order."""
    state: dict[str, Any] = {"log": [], "h": False}
    registry = NotifierRegistry[[dict[str, Any]]]("phase", keep_going=True)

    def f(st: dict[str, Any]) -> None:
        raise RuntimeError("f is broken")

    def g(st: dict[str, Any]) -> None:
        if not st["h"]:
            raise RuntimeError("g needs h")

    def h(st: dict[str, Any]) -> None:
        st["h"] = True

    registry.add("f", f)
    registry.add("g", g)
    registry.add("p", lambda st: st["log"].append("p"))
    registry.add("q", lambda st: st["log"].append("q"))
    registry.add("h", h)
    return registry, (state,)


def test_a_change_of_failures_is_blamed_before_a_change_of_state_alone():
    # Every order fails ('f'), so success never changes. Swapping p and q
    # changes only the logged state; orders that move 'g' change which
    # notifiers fail, or in what order: those are blamed first.
    exploration = explore(_failing_and_logging, check=lambda st: tuple(st["log"]))

    pairs = [(culprit.first, culprit.second) for culprit in exploration.culprits]
    assert pairs == [("f", "g"), ("g", "h"), ("p", "q")]


def test_an_outcome_is_frozen():
    outcome = next(iter(explore(_needs).outcomes))

    with pytest.raises(dataclasses.FrozenInstanceError):
        outcome.failures = ()  # type: ignore[misc]


def test_a_decorated_notifier_is_located_at_its_decorator():
    registry = NotifierRegistry[[]]("event")
    here = inspect.currentframe()
    assert here is not None
    line = here.f_lineno + 2

    @registry.register("x")
    def x() -> None:
        pass

    assert registry.notifiers()[0].location == f"{__file__}:{line}"


def test_a_list_notifier_added_twice_names_where_it_was_added_first():
    from virtmodel.notifiers import ListNotifier, NotifierList

    done = NotifierList[list[str]]("machine-init-done")
    notifier = ListNotifier[list[str]](lambda log: None, "a")
    here = inspect.currentframe()
    assert here is not None
    done.add(notifier)
    first = f"{__file__}:{here.f_lineno - 1}"

    with pytest.raises(DuplicateNotifierError) as info:
        done.add(notifier)

    assert info.value.location == first


def test_the_small_records_have_no_instance_dict():
    # Many of each at scale (one per add(), per run, per step): slots.
    registry = NotifierRegistry[[]]("event")
    record = registry.add("a", lambda: None)
    outcome = next(iter(explore(_needs).outcomes))

    for value in (
        Constraints(after="a"),
        record,
        Step(record, Status.RAN),
        outcome,
        CheckFailed("KeyError", "x"),
    ):
        assert not hasattr(value, "__dict__"), type(value).__name__


def test_the_registration_orders_outcome_alone_is_not_said_to_have_more():
    exploration = explore(its_story)

    text = str(exploration)

    assert "outcome 1 (the registration order): " in text
    assert "0 more" not in text


def test_an_explanation_is_frozen():
    registry = NotifierRegistry[[]]("event")
    registry.add("a", lambda: None)
    registry.add("b", lambda: None, after="a")

    explanation = registry.explain("a", "b")

    with pytest.raises(dataclasses.FrozenInstanceError):
        explanation.earlier = "b"  # type: ignore[misc]


def test_a_build_that_changes_its_notifiers_is_told_which():
    from virtmodel.notifiers.explore import ExploreError

    builds = iter([("a", "b"), ("a", "c"), ("a", "c")])

    def build() -> Built:
        registry = NotifierRegistry[[]]("phase")
        for name in next(builds):
            registry.add(name, lambda: None)
        return registry, ()

    with pytest.raises(ExploreError) as info:
        explore(build)

    assert "build() call 2 returned different notifiers" in str(info.value)
    assert "missing ['b'], extra ['c']" in str(info.value)


def test_a_refined_class_remembers_every_notifier_it_was_split_by():
    from tests.notifiers.test_explore_classes import its_story as three_notifiers
    from virtmodel.notifiers.explore.classes import ClassTree
    from virtmodel.notifiers.explore.orders import Poset

    registry = three_notifiers()[0]
    reference = tuple(registry.order())
    tree = ClassTree(Poset(registry.graph(), reference), reference, [])
    leaf = tree.next()
    assert leaf is not None
    assert leaf.refined == frozenset()

    assert tree.refine(leaf, reference, ["its-init"]) == 4
    first = tree.next()
    assert first is not None
    assert first.refined == {"its-init"}
    run = tree.representative(first)
    assert tree.refine(first, run, ["its-init"]) == 1  # nothing new: unsplit
    tree.refine(first, run, ["its-init", "dist"])
    second = tree.next()
    assert second is not None
    assert second.refined == {"its-init", "dist"}


def test_an_explorations_outcome_table_numbers_rows_from_one():
    import re

    html = explore(its_story)._repr_html_()

    cells = re.findall(r"<tr[^>]*><td[^>]*>(\d+)</td><td[^>]*>(\d+)</td>", html)
    assert cells == [("1", "1"), ("2", "1")]  # outcome number, orders giving it


def test_refining_a_class_replaces_it_by_its_parts_in_the_count():
    from tests.notifiers.test_explore_classes import its_story as three_notifiers
    from virtmodel.notifiers.explore.classes import ClassTree
    from virtmodel.notifiers.explore.orders import Poset

    registry = three_notifiers()[0]
    reference = tuple(registry.order())
    tree = ClassTree(Poset(registry.graph(), reference), reference, [])
    leaf = tree.next()
    assert leaf is not None
    assert tree.found == 1

    parts = tree.refine(leaf, reference, ["its-init"])

    assert tree.found == 0
    while tree.next() is not None:
        pass
    assert tree.found == parts == 4


def _pairs(count: int, extra: int = 0) -> Callable[[], Built]:
    """*count* reader/writer pairs (the reader registered first notes whether
    its writer ran) and *extra* notifiers that write a key of their own."""

    def build() -> Built:
        state: dict[str, int] = {}
        registry = NotifierRegistry[[dict[str, int]]]("phase")
        for index in range(count):

            def read(s: dict[str, int], key: str = f"w{index}") -> None:
                s[f"seen-{key}"] = int(key in s)

            def write(s: dict[str, int], key: str = f"w{index}") -> None:
                s[key] = 1

            registry.add(f"r{index}", read, reads=f"res{index}")
            registry.add(f"w{index}", write, writes=f"res{index}")
        for index in range(extra):

            def own(s: dict[str, int], key: str = f"x{index}") -> None:
                s[key] = 1

            registry.add(f"x{index}", own, writes=f"own{index}")
        return registry, (state,)

    return build


def _state(s: dict[str, int]) -> object:
    return sorted(s.items())


def test_explore_stops_after_five_culprits_and_says_so():
    exploration = explore(_pairs(6), check=_state)

    assert len(exploration.culprits) == 5
    text = str(exploration)
    assert "\nculprit 1: " in text
    assert "\nculprit 5: " in text
    assert "explore stops after 5 culprits: there may be more" in text


def test_an_example_order_shows_twelve_names_then_counts_the_rest():
    exploration = explore(_pairs(1, extra=11), check=_state)  # 13 notifiers

    example = next(line for line in str(exploration).splitlines() if "e.g." in line)
    shown = example.split("e.g. ")[1].split(")")[0]
    assert shown == "'w0', 'r0', " + ", ".join(f"'x{i}'" for i in range(10)) + (
        " and 1 more"
    )


def test_touches_and_explorations_are_frozen_records():
    from virtmodel.notifiers.conflicts import touches

    registry = NotifierRegistry[[]]("event")
    registry.add("w", lambda: None, writes="r")
    registry.add("rd", lambda: None, reads="r")
    (touch,) = touches(registry.notifiers())
    exploration = explore(its_story)

    with pytest.raises(dataclasses.FrozenInstanceError):
        touch.resource = "other"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        exploration.limit = 2  # type: ignore[misc]
    assert not hasattr(touch, "__dict__")


def test_a_trace_as_json_is_indented_by_two_spaces():
    registry = NotifierRegistry[[]]("event")
    registry.add("a", lambda: None)

    text = registry.notify().to_json()

    assert text.splitlines()[1] == '  "event": "event",'


def test_states_that_compare_equal_are_one_outcome_whatever_their_text():
    # A check answering 1 in one order and True in the other: equal
    # fingerprints, so the order does not matter (the text is not compared).
    def build() -> Built:
        state: list[str] = []
        registry = NotifierRegistry[[list[str]]]("phase")
        registry.add("a", lambda s: s.append("a"))
        registry.add("b", lambda s: s.append("b"))
        return registry, (state,)

    exploration = explore(build, check=lambda s: 1 if s[0] == "a" else True)

    assert exploration.orders_run == 2
    assert exploration.order_independent

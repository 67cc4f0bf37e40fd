"""Partial-order reduction: one run per class of equivalent orders, soundly."""

from __future__ import annotations

import errno
import functools
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from virtmodel.notifiers.explore import Built, ExploreError, explore
from virtmodel.notifiers.explore.classes import ClassTree, canonical, count
from virtmodel.notifiers.explore.orders import Poset
from virtmodel.notifiers.registry import NotifierRegistry

State = dict[str, str]


def put(key: str, state: State) -> None:
    state[key] = "set"


def needs(key: str, name: str, state: State) -> None:
    if key not in state:
        raise OSError(errno.ENXIO, f"{key} not set")
    state[name] = state[key]


def its_story() -> Built:
    """The 2016 story without its edge: init is registered before the address."""
    state: State = {}
    registry = NotifierRegistry[[State]]("machine-init-done")
    registry.add("dist", functools.partial(put, "dist"), writes="dist")
    registry.add(
        "its-init",
        functools.partial(needs, "its", "ready"),
        reads="its",
        writes="ready",
    )
    registry.add("its-addr", functools.partial(put, "its"), writes="its")
    return registry, (state,)


def test_a_failing_class_splits_by_what_ran_before_the_failure() -> None:
    result = explore(its_story, check=lambda state: state)

    # Two directions of (its-init, its-addr); the failing one splits by
    # whether 'dist' ran before the failure: 3 classes, 3 outcomes, as the
    # 6 orders of full enumeration give.
    assert (result.classes, result.orders_run, result.builds) == (3, 3, 3)
    assert result.exhaustive
    full = explore(its_story, check=lambda state: state, reduce=False)
    assert set(result.outcomes) == set(full.outcomes)
    (culprit,) = result.culprits
    assert culprit.pair == ("its-addr", "its-init")
    assert "3 classes give 3 different outcomes" in str(result)


def test_a_notifier_declaring_nothing_is_dependent_on_every_other() -> None:
    def build() -> Built:
        log: list[str] = []
        registry = NotifierRegistry[[list[str]]]("mixed")
        registry.add("a", lambda log: None, writes="x")
        registry.add("b", lambda log: None, writes="y")
        registry.add("silent", lambda log: log.append("silent"))
        return registry, (log,)

    result = explore(build, check=lambda log: log)

    # 'a' and 'b' commute, but 'silent' may touch anything: it runs first,
    # last, between a and b, or between b and a.
    assert (result.classes, result.orders_run) == (4, 4)


def test_no_declaration_at_all_falls_back_to_every_order() -> None:
    def build() -> Built:
        registry = NotifierRegistry[[]]("plain")
        for name in "abc":
            registry.add(name, lambda: None)
        return registry, ()

    result = explore(build)

    assert not result.reduced
    assert result.classes is None
    assert result.orders_run == 6
    assert "all 6 valid orders of 3 notifiers (exhaustive)" in str(result)


def test_more_classes_than_the_limit_fall_back_to_a_sample() -> None:
    def build() -> Built:
        registry = NotifierRegistry[[]]("busy")
        for name in "abcde":
            registry.add(name, lambda: None, writes="shared")
        return registry, ()

    result = explore(build, limit=10)

    assert not result.reduced
    assert not result.exhaustive
    assert "sampled orders of 5 notifiers" in str(result)


def test_refinement_past_the_limit_stops_and_says_it_is_not_exhaustive() -> None:
    result = explore(its_story, check=lambda state: state, limit=2)

    assert result.reduced
    assert not result.exhaustive
    assert result.orders_run == 2
    assert str(result).startswith(
        "explored 'machine-init-done': 2 runs of more than limit=2 classes of "
        "equivalent orders of 3 notifiers (not exhaustive)"
    )


def test_progress_hears_of_every_run_with_the_classes_known() -> None:
    heard: list[tuple[int, int]] = []

    explore(its_story, progress=lambda done, total: heard.append((done, total)))

    assert heard == [(1, 3), (2, 3), (3, 3)]
    unreduced: list[tuple[int, int]] = []
    explore(its_story, reduce=False, progress=lambda *args: unreduced.append(args))
    assert unreduced == [(i, 6) for i in range(1, 7)]


def test_uncallable_progress_is_refused_by_name() -> None:
    with pytest.raises(ExploreError, match="progress must be callable") as info:
        explore(its_story, progress=3)  # type: ignore[arg-type]

    assert info.value.argument == "progress"


def test_an_order_of_a_class_already_run_needs_no_build() -> None:
    builds = 0

    def build() -> Built:
        nonlocal builds
        builds += 1
        return its_story()

    result = explore(build, check=lambda state: state)

    # Shrinking walks through orders of classes already run: answered from
    # those runs, so the builds are the classes' runs and nothing more.
    assert builds == result.builds == result.orders_run


def test_class_tree_leaves_are_the_classes_and_the_first_is_the_reference() -> None:
    registry = its_story()[0]
    reference = tuple(registry.order())
    poset = Poset(registry.graph(), reference)
    pairs = [("its-addr", "its-init"), ("dist", "its-init")]
    tree = ClassTree(poset, reference, pairs)

    leaves = []
    while (leaf := tree.next()) is not None:
        leaves.append(tree.representative(leaf))

    assert leaves[0] == reference
    assert len(leaves) == len(set(leaves)) == 4 == tree.found
    assert count(poset, reference, pairs, limit=10) == 4
    assert count(poset, reference, pairs, limit=2) == 3  # stops past the limit
    assert count(poset, reference, pairs, limit=10, budget=2) == 11  # too costly
    swapped = ("its-init", "dist", "its-addr")
    assert canonical(poset, swapped, pairs) == swapped
    assert canonical(poset, ("dist", "its-addr", "its-init"), []) == reference


# -- soundness: the reduced exploration finds every outcome full enumeration finds


@st.composite
def declared_phases(
    draw: st.DrawFn,
) -> list[tuple[str, list[int], list[str], list[str], bool]]:
    """Draw notifiers: (name, after, reads, writes, fails without its reads)."""
    size = draw(st.integers(min_value=1, max_value=6))
    resources = ["r.a", "r.b", "r.c", "s"]
    spec = []
    for index in range(size):
        after = draw(
            st.lists(st.integers(0, max(index - 1, 0)), max_size=2, unique=True)
        )
        after = [a for a in after if a < index]
        reads = draw(
            st.lists(st.sampled_from([*resources, "r.*"]), max_size=2, unique=True)
        )
        writes = draw(st.lists(st.sampled_from(resources), max_size=2, unique=True))
        silent = draw(st.integers(0, 5)) == 0
        strict = draw(st.booleans())
        spec.append(
            (
                f"n{index}",
                after,
                [] if silent else reads,
                [] if silent else writes,
                strict,
            )
        )
    return spec


def phase(
    spec: list[tuple[str, list[int], list[str], list[str], bool]], keep_going: bool
) -> Callable[[], Built]:
    """Return a build() whose notifiers touch exactly what they declare."""

    def build() -> Built:
        state: State = {}
        registry = NotifierRegistry[[State]]("random", keep_going=keep_going)
        # Registered in reverse so ranks disagree with the edges.
        for name, after, reads, writes, strict in reversed(spec):
            callback = functools.partial(touch, name, reads, writes, strict)
            registry.add(
                name,
                callback,
                after=[f"n{a}" for a in after],
                reads=reads,
                writes=writes,
            )
        return registry, (state,)

    return build


def touch(
    name: str, reads: list[str], writes: list[str], strict: bool, state: State
) -> None:
    seen = []
    for resource in reads:
        if resource.endswith(".*"):
            keys = sorted(k for k in state if k.startswith(resource[:-1]))
            seen += [f"{k}={state[k]}" for k in keys]
        elif resource in state:
            seen.append(state[resource])
        elif strict:
            raise LookupError(f"{name} needs {resource}")
    for resource in writes:
        state[resource] = f"{name}({','.join(seen)})"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(declared_phases(), st.booleans())
def test_reduction_finds_every_outcome_full_enumeration_finds(spec, keep_going) -> None:
    build = phase(spec, keep_going)

    reduced = explore(build, check=lambda state: state, limit=5000)
    full = explore(build, check=lambda state: state, limit=5000, reduce=False)

    assert full.exhaustive
    assert reduced.exhaustive
    assert set(reduced.outcomes) == set(full.outcomes)
    assert reduced.orders_run <= full.orders_run
    assert reduced.order_independent == full.order_independent


def test_classes_with_one_outcome_are_a_proof_that_says_what_it_rests_on() -> None:
    def build() -> Built:
        state: State = {}
        registry = NotifierRegistry[[State]]("same")
        registry.add("a", functools.partial(put, "x"), writes="x")
        registry.add("b", functools.partial(put, "x"), writes="x")
        return registry, (state,)

    result = explore(build, check=lambda state: state)

    assert (result.classes, result.orders_run) == (2, 2)
    lines = str(result).splitlines()
    assert (
        lines[1]
        == "every one of 2 classes gives the same outcome: every notifier ran; state {'x': 'set'}"
    )
    assert lines[2].startswith(
        "(a proof if every notifier touches only what it declares"
    )


def test_shrinking_through_orders_of_classes_already_run_builds_nothing() -> None:
    builds = 0

    def build() -> Built:
        nonlocal builds
        builds += 1
        state: State = {}
        registry = NotifierRegistry[[State]]("walk")
        registry.add("a", lambda s: s.update(r="a"), writes="r")
        registry.add("c", functools.partial(put, "c"), writes="c")
        registry.add("d", functools.partial(put, "d"), writes="d")
        registry.add("b", lambda s: s.update(r="b"), writes="r")
        return registry, (state,)

    result = explore(build, check=lambda state: state)

    # Two classes: a before b ('a c d b') and b before a ('c d b a'). The
    # walk from one to the other passes 'c a d b' and 'c d a b', both in the
    # first class: answered from its run.
    assert (result.classes, result.orders_run) == (2, 2)
    assert builds == result.builds == 2
    (culprit,) = result.culprits
    assert set(culprit.pair) == {"a", "b"}

from __future__ import annotations

import errno
import functools
import itertools
import json
import os
import runpy
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import networkx as nx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from virtmodel.notifiers.errors import InvalidOrderError
from virtmodel.notifiers.explore import Built, ExploreError, explore
from virtmodel.notifiers.explore.orders import Order
from virtmodel.notifiers.registry import NotifierRegistry

Kernel = dict[str, int]
ITS_BASE = 0x08080000


def its_story(*, declared: bool) -> Callable[[], Built]:
    """Return a build() for the 2016 ITS story on a dict-backed fake kernel.

    'its-ctrl-init' maps the ITS at CTRL_INIT, so it fails with ENXIO unless
    'kvm-set-addr:its' already wrote the base address. It is registered
    before the address writer, so the tie-break runs it first.
    """

    def build() -> Built:
        kernel: Kernel = {}
        registry = NotifierRegistry[[Kernel]]("machine-init-done")

        def set_dist(k: Kernel) -> None:
            k["dist"] = 0x08000000

        def its_init(k: Kernel) -> None:
            if "its" not in k:
                raise OSError(errno.ENXIO, "its base address not set")
            k["its-ready"] = 1

        def set_its(k: Kernel) -> None:
            k["its"] = ITS_BASE

        registry.add("kvm-set-addr:dist", set_dist, writes="kvm.dist.addr")
        after = ("kvm-set-addr:its",) if declared else ()
        registry.add("its-ctrl-init", its_init, reads="kvm.its.addr", after=after)
        registry.add("kvm-set-addr:its", set_its, writes="kvm.its.addr")
        return registry, (kernel,)

    return build


def independent(size: int) -> Callable[[], Built]:
    """Return a build() of *size* unordered notifiers writing distinct keys."""

    def build() -> Built:
        state: dict[str, int] = {}
        registry = NotifierRegistry[[dict[str, int]]]("independent")
        for index in range(size):
            key = f"n{index}"
            registry.add(key, functools.partial(set_key, key), writes=key)
        return registry, (state,)

    return build


def set_key(key: str, state: dict[str, int]) -> None:
    state[key] = 1


def append(item: int, log: list[int]) -> None:
    log.append(item)


def all_orders(exploration: Any) -> list[Order]:
    return [order for orders in exploration.outcomes.values() for order in orders]


def test_distinct_resources_are_reported_order_independent() -> None:
    result = explore(independent(4), check=lambda state: state, reduce=False)

    assert result.order_independent
    assert result.exhaustive
    assert not result.reduced
    assert result.orders_run == 24
    assert result.culprits == ()
    assert "every one of 24 orders gives the same outcome" in str(result)


def test_independent_notifiers_are_one_class_proved_by_one_run() -> None:
    result = explore(independent(4), check=lambda state: state)

    assert result.order_independent
    assert result.exhaustive
    assert (result.classes, result.orders_run, result.builds) == (1, 1, 1)
    assert str(result).splitlines() == [
        "explored 'independent': 1 class of equivalent orders of 4 notifiers, "
        "1 run (exhaustive: orders differing only in independent notifiers, by "
        "their declared reads/writes, give the same outcome)",
        "every valid order is equivalent: every notifier ran; "
        "state {'n0': 1, 'n1': 1, 'n2': 1, 'n3': 1}",
        "(a proof if every notifier touches only what it declares: a strict "
        "machine checks that)",
    ]


def test_dict_state_compares_by_content_not_insertion_order() -> None:
    result = explore(independent(3), check=lambda state: state)

    (outcome,) = result.outcomes
    assert outcome.state_text == "{'n0': 1, 'n1': 1, 'n2': 1}"


def test_missing_after_is_found_as_the_culprit_pair_with_its_fix() -> None:
    result = explore(its_story(declared=False), check=lambda kernel: kernel)

    assert not result.order_independent
    (culprit,) = result.culprits
    assert culprit.pair == ("kvm-set-addr:its", "its-ctrl-init")
    assert culprit.outcome_first_then_second.ok
    (failure,) = culprit.outcome_second_then_first.failures
    assert (failure.notifier, failure.type, failure.errno) == (
        "its-ctrl-init",
        "OSError",
        errno.ENXIO,
    )
    assert not culprit.matches_reference
    assert "after='kvm-set-addr:its'" in culprit.fix
    assert culprit.fix.startswith("add('its-ctrl-init', ...")
    assert __file__ in culprit.location
    assert "add this declaration and explore again" in str(result)


def test_culprit_orders_are_one_adjacent_swap_apart() -> None:
    result = explore(its_story(declared=False))

    (culprit,) = result.culprits
    good, bad = culprit.order_first_then_second, culprit.order_second_then_first
    changed = [i for i, (a, b) in enumerate(zip(good, bad, strict=True)) if a != b]
    assert len(changed) == 2
    assert changed[1] == changed[0] + 1
    assert good[changed[0]] == "kvm-set-addr:its"


def test_culprit_names_the_shared_resource() -> None:
    result = explore(its_story(declared=False))

    (culprit,) = result.culprits
    assert culprit.conflict is not None
    assert culprit.conflict.resources == (("kvm.its.addr", "writes", "reads"),)
    assert "both touch 'kvm.its.addr'" in str(culprit)


def test_declared_after_makes_the_its_story_order_independent() -> None:
    result = explore(its_story(declared=True), check=lambda kernel: kernel)

    assert result.order_independent
    assert result.reference.ok
    assert (result.classes, result.orders_run) == (1, 1)
    assert explore(its_story(declared=True), reduce=False).orders_run == 3


def test_reference_outcome_comes_first_and_belongs_to_registration_order() -> None:
    result = explore(its_story(declared=False))

    first_outcome, orders = next(iter(result.outcomes.items()))
    assert orders[0] == result.reference_order
    assert result.reference_order == (
        "kvm-set-addr:dist",
        "its-ctrl-init",
        "kvm-set-addr:its",
    )
    assert first_outcome.failures[0].errno == errno.ENXIO


def test_state_difference_without_exception_is_detected() -> None:
    def build() -> Built:
        log: list[str] = []
        registry = NotifierRegistry[[list[str]]]("machine-reset", one_shot=False)
        registry.add("uart", lambda log: log.append("uart"))
        registry.add("clocks", lambda log: log.append("clocks"))
        return registry, (log,)

    result = explore(build, check=lambda log: log)

    assert len(result.outcomes) == 2
    (culprit,) = result.culprits
    assert culprit.pair == ("uart", "clocks")
    assert culprit.matches_reference
    assert culprit.outcome_first_then_second.ok
    assert culprit.outcome_first_then_second.state_text == "['uart', 'clocks']"


def test_independent_culprit_pairs_are_all_reported() -> None:
    def build() -> Built:
        log: list[str] = []
        registry = NotifierRegistry[[list[str]]]("two-pairs")
        registry.add("a", lambda log: log.append("a"), writes="x")
        registry.add("b", lambda log: log.append("b"), writes="x")
        registry.add("c", lambda log: log.append("c"), after=("a", "b"))
        registry.add("d", lambda log: log.append("d"), after="c")
        registry.add("e", lambda log: log.append("e"), after="c")
        return registry, (log,)

    result = explore(build, check=lambda log: log)

    assert sorted(culprit.pair for culprit in result.culprits) == [
        ("a", "b"),
        ("d", "e"),
    ]
    assert result.culprits[0].assumed == ()
    assert result.culprits[1].assumed == (result.culprits[0].pair,)
    assert "with the fixes above" in str(result.culprits[1])


def test_build_is_called_once_per_order_for_fresh_state() -> None:
    calls = 0
    inner = independent(3)

    def build() -> Built:
        nonlocal calls
        calls += 1
        return inner()

    result = explore(build, reduce=False)

    assert calls == result.builds == result.orders_run == 6


def test_build_with_kwargs_passes_them_to_every_callback() -> None:
    def build() -> Built:
        seen: list[str] = []
        registry = NotifierRegistry[...]("kw")

        def tagged(seen: list[str], *, tag: str) -> None:
            seen.append(tag)

        registry.add("a", tagged)
        return registry, (seen,), {"tag": "t"}

    result = explore(build, check=lambda seen: seen)

    assert result.reference.state_text == "['t']"


def test_shared_state_between_builds_is_refused() -> None:
    kernel: Kernel = {}

    def build() -> Built:
        registry = NotifierRegistry[[Kernel]]("shared")
        registry.add("a", lambda k: k.update(a=1))
        registry.add("b", lambda k: k.update(b=1))
        return registry, (kernel,)

    with pytest.raises(ExploreError, match="same dict object on calls 1 and 2") as info:
        explore(build)

    assert info.value.argument == "build"


def test_build_returning_other_notifiers_is_refused() -> None:
    sizes = iter([2, 3])

    def build() -> Built:
        return independent(next(sizes))()

    with pytest.raises(ExploreError, match=r"extra \['n2'\]"):
        explore(build, reduce=False)


def test_build_returning_other_edges_is_refused_when_an_order_breaks_them() -> None:
    calls = itertools.count()

    def build() -> Built:
        registry = NotifierRegistry[[]]("edges")
        registry.add("a", lambda: None)
        registry.add("b", lambda: None, after=() if next(calls) == 0 else "a")
        return registry, ()

    with pytest.raises(InvalidOrderError):
        explore(build)


@pytest.mark.parametrize(
    ("returned", "fragment"),
    [
        ([1, 2], "must return (registry, args)"),
        ((object(), ()), "must return a NotifierRegistry first"),
        ((NotifierRegistry[[]]("x"), [1]), "args as a tuple"),
        ((NotifierRegistry[[]]("x"), (), [1]), "kwargs as a mapping"),
    ],
)
def test_malformed_build_result_is_refused(returned: Any, fragment: str) -> None:
    with pytest.raises(
        ExploreError, match=fragment.replace("(", r"\(").replace(")", r"\)")
    ):
        explore(lambda: returned)


@pytest.mark.parametrize(
    ("keyword", "value", "fragment"),
    [
        ("limit", 0, "limit must be a positive int, got 0"),
        ("limit", True, "limit must be a positive int, got True"),
        ("seed", "x", "seed must be an int, got 'x'"),
        ("check", 3, "check must be callable or None, got int 3"),
    ],
)
def test_bad_arguments_are_refused_by_name(
    keyword: str, value: Any, fragment: str
) -> None:
    with pytest.raises(ExploreError, match=fragment) as info:
        explore(independent(1), **{keyword: value})

    assert info.value.argument == keyword


def test_uncallable_build_is_refused() -> None:
    with pytest.raises(ExploreError, match="build must be callable"):
        explore(3)  # type: ignore[arg-type]  # the point of the test


def test_failing_check_is_part_of_the_outcome() -> None:
    def check(log: list[str]) -> str:
        if log[0] == "b":
            raise ValueError("b ran first")
        return "fine"

    def build() -> Built:
        log: list[str] = []
        registry = NotifierRegistry[[list[str]]]("checked")
        registry.add("a", lambda log: log.append("a"))
        registry.add("b", lambda log: log.append("b"))
        return registry, (log,)

    result = explore(build, check=check)

    texts = sorted(outcome.state_text for outcome in result.outcomes)
    assert texts == ["'fine'", "<check raised ValueError: b ran first>"]


def test_small_limit_switches_to_a_sample_of_that_size() -> None:
    result = explore(independent(6), limit=20, reduce=False)

    assert not result.exhaustive
    assert result.orders_run == 20
    assert len(set(all_orders(result))) == 20
    assert "20 sampled orders of 6 notifiers" in str(result)
    assert "(more than limit=20 are valid; seed 0)" in str(result)


def conflicting(size: int) -> Callable[[], Built]:
    """Return a build() of a chain with two unordered conflicting pairs."""

    def build() -> Built:
        registry = NotifierRegistry[[]]("sampled")
        for index in range(size):
            registry.add(f"n{index}", lambda: None)
        registry.add("writer", lambda: None, writes="r")
        registry.add("reader", lambda: None, reads="r", after="n0")
        registry.add("other-writer", lambda: None, writes="r", before="n1")
        return registry, ()

    return build


def test_sample_holds_registration_reverse_tie_and_both_sides_of_each_conflict() -> (
    None
):
    build = conflicting(6)
    registry = build()[0]
    graph = registry.graph()
    rank = {name: i for i, name in enumerate(graph)}
    reverse = tuple(nx.lexicographical_topological_sort(graph, key=lambda n: -rank[n]))

    result = explore(build, limit=2)

    ran = all_orders(result)
    assert not result.exhaustive
    assert result.orders_run == 3  # the mandatory orders exceed the limit
    assert ran[0] == tuple(registry.order())
    assert reverse in ran
    for a, b in itertools.permutations(["writer", "reader", "other-writer"], 2):
        assert any(order.index(a) < order.index(b) for order in ran), (a, b)


def test_same_seed_gives_the_same_sample_and_another_seed_another() -> None:
    def summary(seed: int) -> list[Order]:
        return all_orders(explore(independent(7), limit=30, seed=seed, reduce=False))

    assert summary(3) == summary(3)
    assert summary(3) != summary(4)


def test_as_dict_is_json_and_mirrors_the_result() -> None:
    result = explore(its_story(declared=False), check=lambda kernel: kernel)

    data = json.loads(json.dumps(result.as_dict()))

    assert data["order_independent"] is False
    assert data["culprits"][0]["first"] == "kvm-set-addr:its"
    assert (
        data["culprits"][0]["outcome_second_then_first"]["failures"][0]["errno_name"]
        == "ENXIO"
    )
    assert sum(o["count"] for o in data["outcomes"]) == data["orders_run"] == 3
    assert data["classes"] == 3
    assert data["outcomes"][0]["example"] == list(result.reference_order)


@st.composite
def dags(draw: st.DrawFn) -> tuple[int, list[tuple[int, int]]]:
    """Draw a node count and edges u -> v with u < v (so always acyclic)."""
    size = draw(st.integers(min_value=1, max_value=7))
    pairs = [(u, v) for u in range(size) for v in range(u + 1, size)]
    if not pairs:
        return size, []
    return size, draw(st.lists(st.sampled_from(pairs), unique=True))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(dags(), st.integers(min_value=1, max_value=40), st.integers(0, 3))
def test_every_order_run_respects_every_declared_edge(
    dag: tuple[int, list[tuple[int, int]]], limit: int, seed: int
) -> None:
    size, edges = dag

    def build() -> Built:
        log: list[int] = []
        registry = NotifierRegistry[[list[int]]]("random")
        # Register in reverse so ranks disagree with the edge direction.
        for node in reversed(range(size)):
            after = [f"n{u}" for u, v in edges if v == node]
            registry.add(f"n{node}", functools.partial(append, node), after=after)
        return registry, (log,)

    result = explore(build, check=lambda log: log, limit=limit, seed=seed)

    ran = all_orders(result)
    ran += [c.order_first_then_second for c in result.culprits]
    ran += [c.order_second_then_first for c in result.culprits]
    for order in ran:
        for u, v in edges:
            assert order.index(f"n{u}") < order.index(f"n{v}")
    assert result.orders_run == len(set(all_orders(result)))


def test_outcomes_failing_alike_are_explained_in_the_text() -> None:
    result = explore(its_story(declared=False), check=lambda kernel: kernel)

    assert "(outcomes 1, 2 fail alike: a failure stops the phase" in str(result)
    unreduced = explore(its_story(declared=False), check=lambda k: k, reduce=False)
    assert "(outcomes 1, 3 fail alike: a failure stops the phase" in str(unreduced)


@pytest.mark.parametrize(
    ("example", "expected"),
    [
        ("05_explore_finds_the_bug.py", "after='kvm-set-addr:its') at "),
        ("06_hazards.py", "hazards: [] tie-break pairs: []"),
    ],
)
def test_examples_run_and_teach_the_fix(
    example: str, expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = Path(__file__).parents[2] / "examples" / example

    runpy.run_path(str(path), run_name="__main__")

    assert expected in capsys.readouterr().out


def test_sampled_mode_finds_a_planted_bug_among_many_notifiers() -> None:
    def build() -> Built:
        kernel: Kernel = {}
        registry = NotifierRegistry[[Kernel]]("big")
        for index in range(40):
            registry.add(f"n{index}", functools.partial(set_key, f"n{index}"))
        registry.add("its-ctrl-init", its_init, reads="kvm.its.addr")
        registry.add(
            "kvm-set-addr:its", functools.partial(set_key, "its"), writes="kvm.its.addr"
        )
        return registry, (kernel,)

    result = explore(build, check=lambda kernel: kernel, limit=10)

    assert not result.exhaustive
    assert [culprit.pair for culprit in result.culprits] == [
        ("kvm-set-addr:its", "its-ctrl-init")
    ]


def its_init(kernel: Kernel) -> None:
    if "its" not in kernel:
        raise OSError(errno.ENXIO, "its base address not set")


HASH_SCRIPT = """
from virtmodel.notifiers.explore import explore
from virtmodel.notifiers.registry import NotifierRegistry

def build():
    state = set()
    registry = NotifierRegistry("hash")
    for name in ("alpha", "beta", "gamma", "delta", "epsilon", "zeta"):
        registry.add(name, lambda s, name=name: s.add(name), writes="tags")
    registry.add("last", lambda s: s.discard("beta") if "gamma" in s else None)
    return registry, (state,)

result = explore(build, check=lambda s: s, limit=50, seed=5)
data = result.as_dict()
del data["elapsed"]
print(result)
print(data)
"""


def test_exploration_text_is_the_same_whatever_the_hash_seed() -> None:
    def run(seed: str) -> str:
        env = {**os.environ, "PYTHONHASHSEED": seed}
        done = subprocess.run(
            [sys.executable, "-c", HASH_SCRIPT],
            env=env,
            capture_output=True,
            text=True,
            check=True,
            cwd=Path(__file__).parents[2],
        )
        return done.stdout

    first, second = run("1"), run("2")

    assert "culprit 1:" in first
    assert first == second


def test_later_fixes_for_the_same_notifier_include_the_earlier_ones() -> None:
    def build() -> Built:
        log: list[str] = []
        registry = NotifierRegistry[[list[str]]]("cumulative")
        registry.add("gate", lambda log: log.append("gate"))
        registry.add("last", needs_x_and_y, after="gate")
        registry.add("x", lambda log: log.append("x"))
        registry.add("y", lambda log: log.append("y"))
        return registry, (log,)

    def needs_x_and_y(log: list[str]) -> None:
        if "x" not in log or "y" not in log:
            raise RuntimeError("x and y must run first")

    result = explore(build)

    fixes = [culprit.fix.split(" at ")[0] for culprit in result.culprits]
    assert fixes == [
        "add('last', ..., after=('gate', 'x'))",
        "add('last', ..., after=('gate', 'x', 'y'))",
    ]


def test_a_phase_with_one_valid_order_says_so() -> None:
    result = explore(independent(1), check=lambda state: state, reduce=False)

    assert result.order_independent
    assert str(result).splitlines() == [
        "explored 'independent': the only valid order of 1 notifier (exhaustive)",
        "one order, one outcome: every notifier ran; state {'n0': 1}",
    ]


def test_explore_stops_after_five_culprits_and_says_so() -> None:
    def build() -> Built:
        log: list[str] = []
        registry = NotifierRegistry[[list[str]]]("many")
        for index in range(6):
            registry.add(f"a{index}", functools.partial(log_name, f"a{index}"))
            registry.add(f"b{index}", functools.partial(log_name, f"b{index}"))
        return registry, (log,)

    def check(log: list[str]) -> tuple[bool, ...]:
        return tuple(log.index(f"a{i}") < log.index(f"b{i}") for i in range(6))

    result = explore(build, check=check, limit=50)

    assert len(result.culprits) == 5
    assert "(explore stops after 5 culprits: there may be more)" in str(result)


def log_name(name: str, log: list[str]) -> None:
    log.append(name)


def test_a_different_failure_is_blamed_on_the_pair_that_swaps_it() -> None:
    def build() -> Built:
        log: list[str] = []
        registry = NotifierRegistry[[list[str]]]("both-fail")
        registry.add("a", functools.partial(fails_after, "a", "b"))
        registry.add("b", functools.partial(fails_after, "b", "a"))
        return registry, (log,)

    result = explore(build)

    (culprit,) = result.culprits
    assert culprit.pair == ("a", "b")
    assert culprit.matches_reference
    assert culprit.outcome_first_then_second.failures[0].notifier == "b"
    assert culprit.outcome_second_then_first.failures[0].notifier == "a"


def fails_after(name: str, other: str, log: list[str]) -> None:
    if other in log:
        raise RuntimeError(f"{name} after {other}")
    log.append(name)


def test_text_counts_the_orders_sharing_the_reference_outcome() -> None:
    result = explore(its_story(declared=False), reduce=False)

    text = str(result)

    assert "outcome 1 (the registration order and 2 more): 'its-ctrl-init'" in text
    assert "fail alike" not in text

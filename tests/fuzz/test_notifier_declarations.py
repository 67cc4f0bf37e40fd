"""Fuzz notifier declarations: self-edges, unknown names, cycles, duplicates.

A random sequence of ``add``/``remove`` calls, some with non-callables or bad
names, runs against a registry. Every call either succeeds or raises a
``NotifierError`` and leaves the registry as it was; ``order()`` is then a
permutation that keeps every declared edge, or a ``CycleError`` whose loop is
made of declared edges, or an ``UnknownNotifierError`` naming an absent
target; ``notify()`` runs exactly ``order()``.
"""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass, field

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzz.harness import TALLY, examples
from virtmodel.notifiers import (
    CycleError,
    NotifierError,
    NotifierFailedError,
    NotifierRegistry,
    UnknownNotifierError,
)

POOL = ("a", "b", "c", "d", "e", "f")


@dataclass
class Run:
    """What the callbacks did during one notify."""

    ran: list[str] = field(default_factory=list)


def _callback(name: str) -> object:
    def callback(run: Run) -> None:
        run.ran.append(name)

    return callback


NON_CALLABLES: tuple[object, ...] = (None, 42, "not callable", [])

targets = st.one_of(
    st.just(()),
    st.just(()),
    st.lists(st.sampled_from((*POOL, "zz")), max_size=2).map(tuple),
)


@st.composite
def operations(draw: st.DrawFn) -> list[tuple[object, ...]]:
    """Return a list of ("add", name, callback_kind, edges...) / ("remove", name)."""
    ops: list[tuple[object, ...]] = []
    for _ in range(draw(st.integers(1, 14))):
        if draw(st.integers(0, 5)) == 0:
            ops.append(("remove", draw(st.sampled_from(POOL))))
            continue
        name = draw(st.sampled_from((*POOL, *POOL, "", 7)))
        callable_kind = draw(st.integers(0, 9))
        ops.append(
            (
                "add",
                name,
                callable_kind,
                draw(targets),
                draw(targets),
                draw(targets),
                draw(targets),
            )
        )
    return ops


def _snapshot(registry: NotifierRegistry[Run]) -> list[tuple[object, ...]]:
    return [
        (n.name, n.after, n.before, n.after_optional, n.before_optional)
        for n in registry.notifiers()
    ]


def _apply(registry: NotifierRegistry[Run], op: tuple[object, ...]) -> str:
    before = _snapshot(registry)
    try:
        if op[0] == "remove":
            registry.remove(str(op[1]))
        else:
            _, name, kind, after, before_, after_opt, before_opt = op
            assert isinstance(kind, int)
            callback = _callback(str(name)) if kind else NON_CALLABLES[kind % 4]
            registry.add(
                name,  # type: ignore[arg-type]  # a wrong type is part of the fuzz
                callback,  # type: ignore[arg-type]  # so is a non-callable
                after=after,  # type: ignore[arg-type]  # tuple[str, ...] at runtime
                before=before_,  # type: ignore[arg-type]  # idem
                after_optional=after_opt,  # type: ignore[arg-type]  # idem
                before_optional=before_opt,  # type: ignore[arg-type]  # idem
            )
    except NotifierError as exc:
        problem = str(exc)
    else:
        return "ok"
    assert _snapshot(registry) == before, f"{op} failed ({problem}) but changed it"
    assert "\n" not in problem
    return "rejected"


def _check_order(registry: NotifierRegistry[Run], order: list[str]) -> None:
    records = registry.notifiers()
    names = [n.name for n in records]
    assert sorted(order) == sorted(names)
    position = {name: i for i, name in enumerate(order)}
    for n in records:
        for target in (*n.after, *(t for t in n.after_optional if t in position)):
            assert position[target] < position[n.name], (n.name, "after", target)
        for target in (*n.before, *(t for t in n.before_optional if t in position)):
            assert position[n.name] < position[target], (n.name, "before", target)


def _check_cycle(registry: NotifierRegistry[Run], error: CycleError) -> None:
    records = {n.name: n for n in registry.notifiers()}
    edges: set[tuple[str, str]] = set()
    for n in records.values():
        for t in (*n.after, *n.after_optional):
            edges.add((t, n.name))
        for t in (*n.before, *n.before_optional):
            edges.add((n.name, t))
    cycle = error.cycle
    assert cycle[0] == cycle[-1]
    assert len(cycle) >= 2
    for pair in itertools.pairwise(cycle):
        assert pair in edges, (pair, cycle)


@settings(
    max_examples=examples(300),
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(ops=operations())
def test_random_declarations_give_a_valid_order_or_a_clear_error(
    ops: list[tuple[object, ...]],
) -> None:
    registry: NotifierRegistry[Run] = NotifierRegistry("fuzz")

    for op in ops:
        TALLY.record("notifier declarations", _apply(registry, op), op)
    error: NotifierError | None = None
    order: list[str] = []
    try:
        order = registry.order()
    except NotifierError as exc:
        error = exc

    if isinstance(error, CycleError):
        _check_cycle(registry, error)
    elif isinstance(error, UnknownNotifierError):
        assert error.name not in registry
        assert error.referrer in registry
    else:
        assert error is None, repr(error)
        _check_order(registry, order)
        run = Run()
        registry.notify(run)
        assert run.ran == order


def test_self_edge_is_refused_and_the_registry_is_unchanged() -> None:
    registry: NotifierRegistry[Run] = NotifierRegistry("fuzz")

    outcome = _apply(registry, ("add", "a", 1, ("a",), (), (), ()))

    assert outcome == "rejected"
    assert len(registry) == 0


def _raising(run: Run) -> None:
    raise RuntimeError("injected")


@st.composite
def one_shot_operations(draw: st.DrawFn) -> list[tuple[object, ...]]:
    """Return declarations with one or two ``("notify",)`` among them."""
    ops = draw(operations())
    for _ in range(draw(st.integers(1, 2))):
        ops.insert(draw(st.integers(0, len(ops))), ("notify",))
    return ops


@settings(
    max_examples=examples(200),
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(ops=one_shot_operations(), raising=st.sampled_from((*POOL, "")))
def test_late_registrations_on_a_one_shot_registry_fail_cleanly(
    ops: list[tuple[object, ...]], raising: str
) -> None:
    registry: NotifierRegistry[Run] = NotifierRegistry("fuzz-once")
    run = Run()
    added: Counter[str] = Counter()

    for op in ops:
        if op[0] == "notify":
            try:
                registry.notify(run)
            except NotifierError:
                TALLY.record("one-shot notify", "rejected", op)
            else:
                TALLY.record("one-shot notify", "ok", op)
            continue
        if op[0] == "add" and op[1] == raising:
            before = {n.name for n in registry.notifiers()}
            failed: NotifierError | None = None
            try:
                registry.add(raising, _raising)
            except NotifierError as exc:
                failed = exc
            if isinstance(failed, NotifierFailedError):
                # A late callback that raises stays registered (documented).
                assert failed.name == raising
                assert raising in registry
            elif failed is not None:
                assert {n.name for n in registry.notifiers()} == before
            kind = "ok" if failed is None else "rejected"
            if isinstance(failed, NotifierFailedError):
                kind = "failed"
            TALLY.record("one-shot notify", kind, op)
            continue
        outcome = _apply(registry, op)
        if op[0] == "add" and outcome == "ok":
            added[str(op[1])] += 1
        TALLY.record("one-shot notify", outcome, op)

    # A notifier runs at most once per registration (re-adding a removed
    # name registers it anew, and a late registration runs at once).
    assert all(n <= added[name] for name, n in Counter(run.ran).items()), run.ran

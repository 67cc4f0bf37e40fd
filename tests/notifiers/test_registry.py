from __future__ import annotations

import pytest

from virtmodel.notifiers import (
    AlreadyNotifiedError,
    CycleError,
    DuplicateNotifierError,
    InvalidNotifierError,
    InvalidOrderError,
    LateRegistrationError,
    NotifierFailedError,
    NotifierRegistry,
    Status,
    UnknownNotifierError,
)

Log = list[str]


def logger(text: str):
    def callback(log: Log) -> None:
        log.append(text)

    return callback


def failing(log: Log) -> None:
    log.append("boom")
    raise RuntimeError("boom")


@pytest.fixture
def registry() -> NotifierRegistry[Log]:
    return NotifierRegistry[Log]("machine-init-done")


def test_design_example_runs_its_init_after_the_address_it_needs(registry):
    registry.add("its-ctrl-init", logger("init"), after="kvm-set-addr:its")
    registry.add("kvm-set-addr:its", logger("set-addr"))
    log: Log = []

    trace = registry.notify(log)

    assert log == ["set-addr", "init"]
    assert trace.names("ran") == ["kvm-set-addr:its", "its-ctrl-init"]


def test_unconstrained_notifiers_run_in_registration_order_unlike_qemu(registry):
    for name in ["c", "a", "b"]:
        registry.add(name, logger(name))

    assert registry.order() == ["c", "a", "b"]


def test_style_guide_reset_example_orders_gic_clocks_uart():
    reset = NotifierRegistry[Log]("machine-reset", one_shot=False)

    @reset.register(after="clocks")
    def uart(log: Log) -> None:
        log.append("uart")

    @reset.register(before="uart")
    def gic(log: Log) -> None:
        log.append("gic")

    @reset.register()
    def clocks(log: Log) -> None:
        log.append("clocks")

    assert reset.order() == ["gic", "clocks", "uart"]
    assert uart.__name__ == "uart"


def test_register_uses_the_explicit_name_and_returns_the_function(registry):
    def pcie_done(log: Log) -> None:
        log.append("pcie")

    decorated = registry.register("pcie-bus-done")(pcie_done)

    assert decorated is pcie_done
    assert [n.name for n in registry.notifiers()] == ["pcie-bus-done"]


def test_register_without_parentheses_is_rejected_with_a_remedy(registry):
    with pytest.raises(InvalidNotifierError, match="with parentheses"):
        registry.register(logger("x"))


def test_register_of_a_nameless_callable_asks_for_a_name(registry):
    class Callable:
        def __call__(self, log: Log) -> None: ...

    with pytest.raises(InvalidNotifierError, match="must be a str, got NoneType"):
        registry.register()(Callable())


def test_notifier_record_keeps_declaration_and_call_site(registry):
    record = registry.add(
        "its",
        logger("its"),
        after=["a", "b"],
        before="c",
        after_optional="kvm",
        before_optional=("d",),
        reads={"y", "x"},
        writes="z",
    )

    assert record.after == ("a", "b")
    assert record.before == ("c",)
    assert record.after_optional == ("kvm",)
    assert record.before_optional == ("d",)
    assert record.reads == ("x", "y")
    assert record.writes == ("z",)
    assert record.location.endswith(f"test_registry.py:{_line_of('registry.add(')}")
    assert record.rank == 0


def _line_of(fragment: str) -> int:
    import inspect

    source, start = inspect.getsourcelines(
        test_notifier_record_keeps_declaration_and_call_site
    )
    return next(start + i for i, line in enumerate(source) if fragment in line)


def test_ranks_follow_registration_and_survive_removal(registry):
    registry.add("a", logger("a"))
    registry.add("b", logger("b"))
    registry.remove("a")
    registry.add("a", logger("a"))

    assert [(n.name, n.rank) for n in registry.notifiers()] == [("b", 1), ("a", 2)]
    assert registry.order() == ["b", "a"]


def test_duplicate_name_is_rejected_with_the_first_location(registry):
    first = registry.add("x", logger("x"))

    with pytest.raises(DuplicateNotifierError, match="already registered") as info:
        registry.add("x", logger("x"))

    assert info.value.name == "x"
    assert info.value.event == "machine-init-done"
    assert info.value.location == first.location
    assert str(info.value) == (
        "notifier 'x' is already registered for 'machine-init-done' "
        f"(at {first.location}); use another name, remove('x') first, or build a "
        "fresh registry (re-running a notebook cell? create the registry in that "
        "same cell)"
    )


def test_unknown_after_target_is_reported_at_order_time_with_a_hint(registry):
    registry.add("uart", logger("uart"), after="clocks")
    registry.add("clock", logger("clock"))

    with pytest.raises(UnknownNotifierError, match="did you mean 'clock'") as info:
        registry.order()

    assert (info.value.name, info.value.referrer, info.value.keyword) == (
        "clocks",
        "uart",
        "after",
    )
    assert info.value.hint == "clock"
    assert str(info.value).startswith(
        "notifier 'uart' is ordered against 'clocks' (after=), which is not "
        "registered for 'machine-init-done'"
    )


def test_unknown_before_target_stops_notify_before_any_callback(registry):
    log: Log = []
    registry.add("a", logger("a"))
    registry.add("b", logger("b"), before="zzz")

    with pytest.raises(UnknownNotifierError) as info:
        registry.notify(log)

    assert info.value.keyword == "before"
    assert info.value.hint is None
    assert log == []


def test_remove_of_unknown_name_suggests_the_closest(registry):
    registry.add("virt-machine-done", logger("v"))

    with pytest.raises(UnknownNotifierError) as info:
        registry.remove("virt-machine-dne")

    assert info.value.referrer is None
    assert str(info.value) == (
        "no notifier 'virt-machine-dne' is registered for 'machine-init-done'; "
        "did you mean 'virt-machine-done'?"
    )


def test_remove_returns_the_record_and_frees_its_edges(registry):
    registry.add("a", logger("a"))
    registry.add("b", logger("b"), after="a")

    removed = registry.remove("b")

    assert removed.name == "b"
    assert "b" not in registry
    assert len(registry) == 1
    registry.add("c", logger("c"), before="a")
    assert registry.order() == ["c", "a"]


def test_cycle_is_reported_when_the_order_is_computed_from_its_closing_add(registry):
    registry.add("a", logger("a"), after="c")
    registry.add("b", logger("b"), after="a")
    c = registry.add("c", logger("c"), after="b")  # add() stays cheap: no search
    log: Log = []

    with pytest.raises(CycleError, match="form a cycle") as info:
        registry.notify(log)

    # The loop starts at the notifier registered last: the add() that closed it.
    assert info.value.cycle == ["c", "a", "b", "c"]
    assert [e.declared_by for e in info.value.edges] == ["a", "b", "c"]
    assert info.value.edges[-1].location == c.location
    assert log == []


def test_loop_of_two_is_reported_by_order_from_the_notifier_that_closed_it(registry):
    # add() only stores; the bulk check when the order is computed finds the
    # loop, starting where the add() that closed it would have reported it.
    registry.add("a", logger("a"), after_optional="b")
    registry.add("b", logger("b"), after="a")
    log: Log = []

    with pytest.raises(CycleError) as info:
        registry.notify(log)

    assert info.value.cycle == ["b", "a", "b"]
    assert [e.keyword for e in info.value.edges] == ["after_optional", "after"]
    assert log == []
    registry.remove("b")
    assert registry.order() == ["a"]


def test_a_late_loop_of_two_is_refused_before_it_runs(registry):
    # After the event: the newcomer would run now, so a loop through a
    # notifier that already ran is refused at add() (its place has passed).
    registry.add("a", logger("a"), after_optional="late")
    log: Log = []
    registry.notify(log)

    with pytest.raises(LateRegistrationError) as info:
        registry.add("late", logger("late"), after="a")

    assert (info.value.target, info.value.reason) == ("a", "already ran")
    assert info.value.edge.keyword == "after_optional"
    assert log == ["a"]
    assert "late" not in registry


def test_cycle_message_names_each_edge_and_where_it_was_declared(registry):
    a = registry.add("a", logger("a"), before="b")
    b = registry.add("b", logger("b"), before="a")

    with pytest.raises(CycleError) as info:
        registry.order()

    assert str(info.value) == (
        "notifiers for 'machine-init-done' form a cycle: 'b' -> 'a' -> 'b'; "
        f"declared by 'b' before='a' (at {b.location}), "
        f"'a' before='b' (at {a.location})"
    )


def test_longer_cycle_is_caught_by_notify_before_any_callback(registry):
    registry.add("a", logger("a"), after="d")
    registry.add("b", logger("b"), after="a")
    registry.add("c", logger("c"), after="b")
    registry.add("d", logger("d"), after="c")
    log: Log = []

    with pytest.raises(CycleError) as info:
        registry.notify(log)

    assert info.value.cycle == ["d", "a", "b", "c", "d"]
    assert log == []


def test_self_edge_is_rejected(registry):
    with pytest.raises(InvalidNotifierError, match="ordered against itself"):
        registry.add("a", logger("a"), after="a")


def test_after_and_before_the_same_target_is_a_two_cycle(registry):
    with pytest.raises(CycleError) as info:
        registry.add("a", logger("a"), after="x", before="x")

    assert info.value.cycle == ["a", "x", "a"]


def test_non_callable_callback_is_rejected(registry):
    with pytest.raises(InvalidNotifierError, match="callback must be callable") as info:
        registry.add("a", 42)

    assert info.value.name == "a"


@pytest.mark.parametrize(
    ("name", "fragment"),
    [("", "must not be empty"), (3, "must be a str, got int 3"), (None, "NoneType")],
)
def test_bad_names_are_rejected(registry, name, fragment):
    with pytest.raises(InvalidNotifierError, match=fragment):
        registry.add(name, logger("x"))


def test_bad_event_name_is_rejected():
    with pytest.raises(InvalidNotifierError, match="event name must not be empty"):
        NotifierRegistry[Log]("")


def test_optional_edges_to_absent_targets_are_dropped_and_reported(registry):
    registry.add("gic", logger("gic"), after_optional="kvm-set-addr")
    registry.add("its", logger("its"), after="gic", before_optional="absent")

    trace = registry.notify([])

    assert registry.order() == ["gic", "its"]
    assert [(d.declared_by, d.target, d.keyword) for d in trace.dropped] == [
        ("gic", "kvm-set-addr", "after_optional"),
        ("its", "absent", "before_optional"),
    ]
    assert registry.dropped_edges() == trace.dropped


def test_optional_edges_to_present_targets_order_like_hard_ones(registry):
    registry.add("gic", logger("gic"), after_optional="kvm-set-addr")
    registry.add("kvm-set-addr", logger("kvm"))

    assert registry.order() == ["kvm-set-addr", "gic"]
    assert registry.dropped_edges() == ()


def test_order_is_cached_until_a_mutation(registry):
    registry.add("a", logger("a"))
    first = registry.order()
    first.append("tampered")

    assert registry.order() == ["a"]
    registry.add("b", logger("b"), before="a")
    assert registry.order() == ["b", "a"]


def test_a_trace_read_later_shows_the_notifiers_that_ran():
    # The plan shares the registry's tables until the next change (copy on
    # write); a trace builds its steps from the plan only when read.
    registry = NotifierRegistry[Log]("machine-reset", one_shot=False)
    registry.add("a", logger("a"))
    registry.add("b", logger("b"), after="a")
    trace = registry.notify([])

    registry.remove("b")
    registry.add("c", logger("c"), before="a")
    registry.add("b", logger("b2"), after_optional="zz")

    assert [(step.name, step.constraints) for step in trace.steps] == [
        ("a", "-"),
        ("b", "after='a'"),
    ]
    log: Log = []
    assert registry.order() == ["c", "a", "b"]
    assert registry.notify(log).names("ran") == ["c", "a", "b"]
    assert log == ["c", "a", "b2"]


def test_a_kept_trace_does_not_keep_the_order_graph_alive():
    import gc
    import weakref

    registry = NotifierRegistry[Log]("machine-reset", one_shot=False)
    registry.add("a", logger("a"))
    registry.add("b", logger("b"), after="a")
    trace = registry.notify([])
    graph = weakref.ref(registry._current_plan().graph)

    registry.add("c", logger("c"))  # the cached plan goes
    gc.collect()

    assert graph() is None
    assert [step.name for step in trace.steps] == ["a", "b"]


def test_graph_has_registration_ordered_nodes_and_edge_provenance(registry):
    registry.add("b", logger("b"), after="a")
    a = registry.add("a", logger("a"), before_optional="c")
    registry.add("c", logger("c"), after_optional="missing")

    graph = registry.graph()

    assert list(graph.nodes) == ["b", "a", "c"]
    assert graph.edges["a", "b"]["declared_by"] == "b"
    assert graph.edges["a", "b"]["optional"] is False
    assert graph.edges["a", "c"] == {
        "declared_by": "a",
        "location": a.location,
        "keyword": "before_optional",
        "optional": True,
    }
    assert graph.number_of_edges() == 2


def test_graph_is_fresh_and_tolerates_cycles(registry):
    registry.add("a", logger("a"), after="c")
    registry.add("b", logger("b"), after="a")
    registry.add("c", logger("c"), after="b")

    graph = registry.graph()
    graph.remove_node("a")

    assert set(registry.graph().edges) == {("c", "a"), ("a", "b"), ("b", "c")}


def test_stop_mode_failure_names_phase_ran_and_never_ran(registry):
    registry.add("a", logger("a"))
    registry.add("b", failing, after="a")
    registry.add("c", logger("c"), after="b")
    registry.add("d", logger("d"))
    log: Log = []

    with pytest.raises(NotifierFailedError) as info:
        registry.notify(log)

    error = info.value
    assert (error.name, error.event) == ("b", "machine-init-done")
    assert error.ran == ["a"]
    assert error.not_run == ["c", "d"]
    assert isinstance(error.__cause__, RuntimeError)
    assert [s.status for s in error.trace.steps] == [
        Status.RAN,
        Status.FAILED,
        Status.NOT_RUN,
        Status.NOT_RUN,
    ]
    assert log == ["a", "boom"]
    assert str(error) == (
        "notifier 'b' failed during 'machine-init-done': RuntimeError('boom'); "
        "ran: 'a'; never ran: 'c', 'd'"
    )


def test_keep_going_skips_only_dependents_and_reports_all_failures():
    registry = NotifierRegistry[Log]("machine-reset", keep_going=True, one_shot=False)
    registry.add("a", failing)
    registry.add("b", logger("b"), after="a")
    registry.add("c", logger("c"), after="b")
    registry.add("d", logger("d"))
    registry.add("e", failing)
    log: Log = []

    with pytest.raises(NotifierFailedError) as info:
        registry.notify(log)

    error = info.value
    assert [name for name, _ in error.failures] == ["a", "e"]
    assert error.skipped == ["b", "c"]
    assert error.ran == ["d"]
    assert error.not_run == []
    assert error.trace.steps[2].error == "after failed 'a'"
    assert log == ["boom", "d", "boom"]
    assert str(error).startswith(
        "2 notifiers failed during 'machine-reset': 'a' (RuntimeError('boom')), "
        "'e' (RuntimeError('boom')); ran: 'd'; skipped as dependents: 'b', 'c'"
    )


def test_notify_passes_positional_and_keyword_arguments():
    registry = NotifierRegistry[...]("event")
    seen: list[tuple[int, str]] = []

    def record(n: int, text: str) -> None:
        seen.append((n, text))

    registry.add("a", record)

    registry.notify(1, text="x")

    assert seen == [(1, "x")]


def test_one_shot_registry_refuses_a_second_notify_until_rearmed(registry):
    registry.add("a", logger("a"))
    registry.notify([])

    with pytest.raises(AlreadyNotifiedError, match="call rearm") as info:
        registry.notify([])

    assert info.value.notifying is False
    registry.rearm()
    assert registry.notify([]).names("ran") == ["a"]


def test_multi_shot_registry_notifies_every_time():
    reset = NotifierRegistry[Log]("reset", one_shot=False)
    reset.add("a", logger("a"))
    log: Log = []

    reset.notify(log)
    reset.add("b", logger("b"))
    reset.notify(log)

    assert log == ["a", "a", "b"]


def test_late_notifier_runs_at_once_with_the_original_arguments(registry):
    log: Log = []
    registry.add("gic", logger("gic"))
    registry.notify(log)

    registry.add("hotplug", logger("hotplug"), after="gic")

    assert log == ["gic", "hotplug"]
    trace = registry.last_trace
    assert trace is not None
    assert [(s.name, s.late) for s in trace.steps] == [
        ("gic", False),
        ("hotplug", True),
    ]


def test_late_notifier_an_earlier_one_declared_itself_before_runs_at_once(registry):
    log: Log = []
    registry.add("gic", logger("gic"), before_optional="late")
    registry.notify(log)

    record = registry.add("late", logger("late"), location="board.py:7")

    assert log == ["gic", "late"]
    assert record.location == "board.py:7"
    assert registry.order() == ["gic", "late"]


def test_late_notifier_before_something_that_ran_is_refused(registry):
    registry.add("gic", logger("gic"))
    registry.notify([])

    with pytest.raises(LateRegistrationError, match="already ran") as info:
        registry.add("early", logger("early"), before="gic")

    assert (info.value.name, info.value.target) == ("early", "gic")
    assert info.value.edge.keyword == "before"
    assert "early" not in registry


def test_late_notifier_whose_earlier_neighbour_declared_the_edge_is_refused(registry):
    registry.add("gic", logger("gic"), after_optional="late")
    registry.notify([])

    with pytest.raises(LateRegistrationError) as info:
        registry.add("late", logger("late"))

    assert info.value.edge.declared_by == "gic"
    assert str(info.value).endswith(
        f"but 'gic' after_optional='late' (at {info.value.edge.location}) and "
        "'gic' already ran"
    )


def test_late_notifier_after_a_failed_one_is_refused():
    registry = NotifierRegistry[Log]("init", keep_going=True)
    registry.add("bad", failing)
    with pytest.raises(NotifierFailedError):
        registry.notify([])

    with pytest.raises(LateRegistrationError) as info:
        registry.add("late", logger("late"), after="bad")

    assert info.value.reason == "failed"


def test_late_notifier_before_a_failed_one_is_refused():
    registry = NotifierRegistry[Log]("init")
    registry.add("bad", failing)
    with pytest.raises(NotifierFailedError):
        registry.notify([])

    with pytest.raises(LateRegistrationError) as info:
        registry.add("late", logger("late"), before="bad")

    assert info.value.reason == "already failed"


def test_late_notifier_after_one_that_never_ran_is_refused(registry):
    registry.add("bad", failing)
    registry.add("never", logger("never"))
    with pytest.raises(NotifierFailedError):
        registry.notify([])

    with pytest.raises(LateRegistrationError) as info:
        registry.add("late", logger("late"), after="never")

    assert info.value.reason == "did not run"


def test_late_notifier_with_unknown_target_is_refused_at_once(registry):
    registry.notify([])

    with pytest.raises(UnknownNotifierError):
        registry.add("late", logger("late"), after="nothing")


def test_late_notifier_that_fails_stays_registered_and_is_reported(registry):
    registry.notify([])

    with pytest.raises(NotifierFailedError) as info:
        registry.add("late", failing)

    assert info.value.name == "late"
    assert "late" in registry
    trace = registry.last_trace
    assert trace is not None
    assert [(s.status, s.late) for s in trace.steps] == [(Status.FAILED, True)]


def test_notifier_added_during_the_walk_runs_at_once_like_qemu_7_2(registry):
    log: Log = []

    def adder(log: Log) -> None:
        log.append("adder")
        registry.add("nested", logger("nested"), after="first", before="last")

    registry.add("first", logger("first"))
    registry.add("adder", adder)
    registry.add("last", logger("last"))

    trace = registry.notify(log)

    assert log == ["first", "adder", "nested", "last"]
    assert trace.names("ran") == ["first", "adder", "last"]


def test_notifier_added_during_the_walk_after_a_pending_one_is_refused(registry):
    errors: list[LateRegistrationError] = []

    def adder(log: Log) -> None:
        try:
            registry.add("nested", logger("nested"), after="last")
        except LateRegistrationError as error:
            errors.append(error)

    registry.add("adder", adder)
    registry.add("last", logger("last"))
    registry.notify([])

    assert [e.reason for e in errors] == ["has not run yet"]


def test_rearm_during_the_walk_is_refused(registry):
    errors: list[AlreadyNotifiedError] = []

    def rearm(log: Log) -> None:
        try:
            registry.rearm()
        except AlreadyNotifiedError as error:
            errors.append(error)

    registry.add("rearm", rearm)
    registry.notify([])

    assert [e.notifying for e in errors] == [True]
    assert "is being notified" in str(errors[0])


def test_multi_shot_notifier_added_during_the_walk_waits_for_next_time():
    reset = NotifierRegistry[Log]("reset", one_shot=False)

    def adder(log: Log) -> None:
        reset.add("new", logger("new"))

    reset.add("adder", adder)
    log: Log = []

    reset.notify(log)

    assert log == []
    assert reset.order() == ["adder", "new"]


def test_notify_in_order_runs_a_valid_alternative_order(registry):
    registry.add("a", logger("a"))
    registry.add("b", logger("b"))
    registry.add("c", logger("c"), after="a")
    log: Log = []

    trace = registry.notify_in_order(["b", "a", "c"], log)

    assert log == ["b", "a", "c"]
    assert trace.names("ran") == ["b", "a", "c"]
    registry.notify(log)  # the one-shot state was left alone


@pytest.mark.parametrize(
    ("order", "message"),
    [
        (["a", "a", "c"], "order for 'machine-init-done' lists 'a' twice"),
        (
            ["a", "x"],
            "order for 'machine-init-done' names 'x', which is not registered",
        ),
        (["a"], "order for 'machine-init-done' leaves out 'b', 'c'"),
    ],
)
def test_notify_in_order_rejects_a_non_permutation(registry, order, message):
    for name in "abc":
        registry.add(name, logger(name))

    with pytest.raises(InvalidOrderError) as info:
        registry.notify_in_order(order, [])

    assert str(info.value) == message
    assert info.value.edge is None


def test_notify_in_order_names_the_edge_it_breaks(registry):
    registry.add("a", logger("a"))
    c = registry.add("c", logger("c"), after="a")
    log: Log = []

    with pytest.raises(InvalidOrderError, match="runs 'c' before 'a'") as info:
        registry.notify_in_order(["c", "a"], log)

    assert info.value.edge is not None
    assert (info.value.edge.source, info.value.edge.target) == ("a", "c")
    assert str(info.value) == (
        f"order for 'machine-init-done' runs 'c' before 'a', breaking "
        f"'c' after='a' (at {c.location})"
    )
    assert log == []


def test_registry_repr_and_container_protocol(registry):
    registry.add("a", logger("a"))

    assert repr(registry) == (
        "<NotifierRegistry 'machine-init-done' one-shot 1 notifiers, armed>"
    )
    assert "a" in registry
    assert registry.last_trace is None
    assert repr(NotifierRegistry[Log]("r", one_shot=False)).startswith(
        "<NotifierRegistry 'r' multi-shot"
    )


def test_keyboard_interrupt_is_not_swallowed(registry):
    def interrupt(log: Log) -> None:
        raise KeyboardInterrupt

    registry.add("i", interrupt)

    with pytest.raises(KeyboardInterrupt):
        registry.notify([])


def test_removing_a_notifier_forgets_its_edges_for_the_cycle_check(registry):
    registry.add("a", logger("a"))
    registry.add("b", logger("b"), after="a")
    registry.add("c", logger("c"), after="b")

    registry.remove("b")
    registry.add("b", logger("b"))

    assert registry.order() == ["a", "b", "c"]
    assert set(registry.graph().edges) == {("b", "c")}
    registry.add("e", logger("e"), after="c", before="a")
    registry.add("d", logger("d"), after="c", before="b")
    with pytest.raises(CycleError) as info:
        registry.order()
    assert info.value.cycle == ["d", "b", "c", "d"]

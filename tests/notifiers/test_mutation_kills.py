"""Tests written to kill the mutants that ``bench/mutation.py`` left alive.

Each pins an answer other tests reached without checking it whole: the
exact JSON shape of ``as_dict()``, every hazard of a resource with two
writers, the status of every step of a trace whose steps differ, an error's
attributes rather than a substring of its message.
"""

from __future__ import annotations

import pytest

from virtmodel.notifiers import NotifierFailedError, NotifierRegistry, Status


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
